"""training.objective: the loss on frame outputs (broadcast clip labels or frame_targets.scp cut
with the features' crop, averaged down to the model's output frame rate) and Cances et al.'s
multi-instance loss; refusals of models and options that cannot train on frames."""
import csv
import math

import kaldiio
import numpy as np
import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F

from dcase_tk.cli import ToolError
from dcase_tk.config import ConfigError
from dcase_tk.decode.infer import DecodeConfig
from dcase_tk.features import cmvn
from dcase_tk.train.data import FeatureSet, loader
from dcase_tk.train.losses import make_loss
from dcase_tk.train.objectives import frame_loss, mil_loss, pool_targets
from dcase_tk.train.trainer import Trainer, TrainConfig
from helpers import write_dump

torch.set_num_threads(1)
CLASSES = ["a", "b"]


class FrameModel(nn.Module):
    """Per-frame sigmoid of a linear layer, frames averaged in blocks of ``pool``; the clip
    output is the mean over frames (probs)."""
    output = "probs"

    def __init__(self, pool=1, n_in=4):
        super().__init__()
        self.pool = pool
        self.fc = nn.Linear(n_in, len(CLASSES))

    def frame_outputs(self, x):
        p = torch.sigmoid(self.fc(x))
        return p.unflatten(1, (-1, self.pool)).mean(dim=2) if self.pool > 1 else p

    def forward(self, x):
        return self.frame_outputs(x).mean(dim=1)


class ClipOnly(nn.Module):
    output = "logits"

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, len(CLASSES))

    def forward(self, x):
        return self.fc(x.mean(dim=1))


def one_sgd_step(model, batch, tmp_path, **training):
    cfg = TrainConfig.from_dict({"optimizer": "sgd", "momentum": 0.0, "lr": 0.5, "loss": "bce",
                                 "batch_size": len(batch["x"]), **training})
    trainer = Trainer(model, cfg, str(tmp_path), CLASSES, "k", 6, DecodeConfig(), True)
    trainer._step(batch, len(batch["x"]), torch.Generator().manual_seed(0))
    return model.fc.weight.detach().clone()


def expected_sgd_step(model, loss_of_model, lr=0.5):
    model.zero_grad()
    loss_of_model(model).backward()
    return (model.fc.weight - lr * model.fc.weight.grad).detach()


def test_mil_loss_equals_a_hand_computation():
    p = torch.tensor([[[0.9, 0.2], [0.5, 0.1], [0.1, 0.3]]])        # (1, 3 frames, 2 classes)
    y = torch.tensor([[1.0, 0.0]])
    # class a: max 0.9 vs 1, mean 0.5 vs 0.5, min 0.1 vs 0; class b: max 0.3, mean 0.2, min 0.1 vs 0
    class_a = -math.log(0.9) + math.log(2) - math.log(0.9)
    class_b = -math.log(0.7) - math.log(0.8) - math.log(0.9)
    assert mil_loss(p, y).item() == pytest.approx((class_a + class_b) / 2, rel=1e-6)
    # saturated probabilities are clamped, not infinite
    assert math.isfinite(mil_loss(torch.tensor([[[0.0, 1.0]]]), torch.tensor([[1.0, 0.0]])).item())


def test_frames_objective_with_broadcast_targets_is_bce_on_every_frame(tmp_path):
    x = torch.randn(3, 6, 4, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    torch.manual_seed(0)
    model = FrameModel()
    reference = FrameModel()
    reference.load_state_dict(model.state_dict())
    got = one_sgd_step(model, {"x": x, "y": y}, tmp_path, objective="frames")
    repeated = y[:, None, :].expand(3, 6, 2)
    want = expected_sgd_step(reference, lambda m: F.binary_cross_entropy(m.frame_outputs(x), repeated))
    torch.testing.assert_close(got, want)
    # not the clip loss: the mean over frames of a sigmoid is not the sigmoid of a mean
    clip = FrameModel()
    clip.load_state_dict(reference.state_dict())
    assert not torch.allclose(got, one_sgd_step(clip, {"x": x, "y": y}, tmp_path / "c"), atol=1e-4)


def test_mil_objective_step_follows_the_mil_loss(tmp_path):
    x = torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    torch.manual_seed(0)
    model, reference = FrameModel(), FrameModel()
    reference.load_state_dict(model.state_dict())
    got = one_sgd_step(model, {"x": x, "y": y}, tmp_path, objective="mil")
    torch.testing.assert_close(got, expected_sgd_step(reference, lambda m: mil_loss(m.frame_outputs(x), y)))


def test_targets_are_averaged_over_each_output_frames_inputs(tmp_path):
    ramp = torch.arange(6.0).reshape(1, 6, 1)
    assert pool_targets(ramp, 3).flatten().tolist() == [0.5, 2.5, 4.5]
    assert pool_targets(ramp, 4).flatten().tolist() == [0.0, 1.5, 3.0, 4.5]   # frames [0,1) [1,3) [3,4) [4,6)
    assert pool_targets(ramp, 6) is ramp
    with pytest.raises(ValueError, match="averaged down"):
        pool_targets(ramp, 7)
    # a model pooling time by 2 trains on the pairwise means of the frame targets
    x = torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(3))
    frame_y = torch.rand(2, 6, 2, generator=torch.Generator().manual_seed(4))
    y = torch.ones(2, 2)
    torch.manual_seed(0)
    model, reference = FrameModel(pool=2), FrameModel(pool=2)
    reference.load_state_dict(model.state_dict())
    got = one_sgd_step(model, {"x": x, "y": y, "frame_y": frame_y}, tmp_path, objective="frames")
    pairs = frame_y.unflatten(1, (3, 2)).mean(dim=2)
    torch.testing.assert_close(got, expected_sgd_step(
        reference, lambda m: F.binary_cross_entropy(m.frame_outputs(x), pairs)))
    bce = make_loss("bce")
    assert frame_loss(bce, reference.frame_outputs(x), y, frame_y).item() == pytest.approx(
        F.binary_cross_entropy(reference.frame_outputs(x), pairs).item(), rel=1e-5)


def write_frame_targets(directory, targets):
    with kaldiio.WriteHelper(f"ark,scp:{directory}/frame_targets.ark,{directory}/frame_targets.scp") as w:
        for utt in sorted(targets):
            w(utt, targets[utt])


def ramp_dump(directory, lengths):
    """Clips whose feature column 0 and frame target column 0 both count the frames (targets
    scaled to [0, 1]), so a crop of one can be checked against the crop of the other."""
    mats, targets, labels = {}, {}, {}
    for i, n in enumerate(lengths):
        utt = f"r{i}"
        ramp = np.arange(n, dtype=np.float32)
        mats[utt] = np.stack([ramp, np.full(n, i, np.float32), ramp * 0, ramp * 0], axis=1)
        targets[utt] = np.stack([ramp / 100.0, 1.0 - ramp / 100.0], axis=1)
        labels[utt] = "a"
    write_dump(directory, mats, labels, CLASSES, label_file="utt2labels")
    write_frame_targets(directory, targets)
    return directory


def test_frame_targets_are_cut_with_the_features_crop_window(tmp_path):
    directory = ramp_dump(tmp_path / "d", [40, 55, 7, 30])       # one shorter than the window
    data = FeatureSet(str(directory), None, 10, "random").with_frame_targets(CLASSES)
    items = [(i % 4, 1000 + i) for i in range(12)]
    batch = next(iter(loader(data, [items])))
    assert batch["x"].shape == (12, 10, 4) and batch["frame_y"].shape == (12, 10, 2)
    torch.testing.assert_close(batch["frame_y"][:, :, 0], batch["x"][:, :, 0] / 100.0)
    starts = batch["x"][:, 0, 0]
    assert len(set(starts.tolist())) > 3 and starts.max() > 0   # really random windows
    short = batch["x"][2, :, 0].tolist()                         # the 7-frame clip, repeat-padded
    assert short == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]
    fixed = FeatureSet(str(directory), None, 10, "fixed").with_frame_targets(CLASSES)
    item = fixed[(1, 0)]
    assert item["frame_y"][:, 0].tolist() == pytest.approx([f / 100.0 for f in range(10)])


def test_frame_targets_missing_a_clip_or_misshapen_are_refused(tmp_path):
    directory = ramp_dump(tmp_path / "d", [20, 20])
    write_frame_targets(directory, {"r0": np.zeros((20, 2), np.float32)})
    with pytest.raises(ToolError, match=r"frame_targets.scp: no frame targets for clip 'r1'"):
        FeatureSet(str(directory), None, 10).with_frame_targets(CLASSES)
    write_frame_targets(directory, {"r0": np.zeros((20, 2), np.float32), "r1": np.zeros((19, 2), np.float32)})
    data = FeatureSet(str(directory), None, 10).with_frame_targets(CLASSES)
    with pytest.raises(ToolError, match=r"clip 'r1' has a 19x2 matrix; expected 20 frames"):
        data[(1, 0)]
    write_frame_targets(directory, {u: np.full((20, 2), 2.0, np.float32) for u in ("r0", "r1")})
    with pytest.raises(ToolError, match="outside"):
        FeatureSet(str(directory), None, 10).with_frame_targets(CLASSES)[(0, 0)]


def test_a_model_without_frame_outputs_is_refused(tmp_path):
    cfg = TrainConfig.from_dict({"objective": "frames", "loss": "bce"})
    with pytest.raises(ConfigError, match="objective frames trains on frame outputs, but model "
                                          "ClipOnly has no frame_outputs"):
        Trainer(ClipOnly(), cfg, str(tmp_path), CLASSES, "k", 6, DecodeConfig(), True)


def test_options_that_cannot_follow_frame_targets_are_refused():
    with pytest.raises(ValueError, match="objective must be one of"):
        TrainConfig.from_dict({"objective": "strong"})
    with pytest.raises(ValueError, match="objective frames cannot use augment.mixup_alpha"):
        TrainConfig.from_dict({"objective": "frames", "augment": {"mixup_alpha": 0.2}})
    with pytest.raises(ValueError, match="objective mil is a per-class"):
        TrainConfig.from_dict({"objective": "mil", "loss": "cross_entropy"})
    with pytest.raises(ValueError, match="loss_mask .* is for objective clip"):
        TrainConfig.from_dict({"objective": "mil", "loss": "bce", "loss_mask": 0.8})
    TrainConfig.from_dict({"objective": "frames", "loss": "bce", "augment": {"time_masks": 1, "time_width": 2}})


CRNN = {"name": "crnn", "filters": [4], "freq_pools": [2], "rnn_units": 4, "dropout": 0.0,
        "rnn_dropout": 0.0, "pooling": "mil_mean"}


def test_train_nnet_trains_frames_on_frame_targets(tmp_path):
    """End to end: frame_targets.scp is read, training runs, validation stays clip-level."""
    rng = np.random.default_rng(0)
    mats, labels, targets = {}, {}, {}
    for i in range(12):
        x = rng.standard_normal((30, 4)).astype(np.float32)
        t = np.zeros((30, 2), np.float32)
        t[10:20, i % 2] = 1.0                                      # an event in the middle
        x[10:20, 2 * (i % 2)] += 3.0
        utt = f"c{i:02d}"
        mats[utt], labels[utt], targets[utt] = x, CLASSES[i % 2], t
    train_dir = write_dump(tmp_path / "train", mats, labels, CLASSES, label_file="utt2labels")
    write_frame_targets(train_dir, targets)
    stats = tmp_path / "cmvn.ark"
    cmvn.write(str(stats), cmvn.accumulate(list(mats.values())))
    system = {"model": CRNN, "input": {"frames": 20, "crop": "random"},
              "training": {"objective": "frames", "loss": "bce", "epochs": 2, "batch_size": 4,
                           "select_metric": "map"}}
    (tmp_path / "sys.yaml").write_text(yaml.safe_dump(system))
    from dcase_tk.bin import train_nnet
    train_nnet.main(["--config", str(tmp_path / "sys.yaml"), "--cmvn", str(stats), str(train_dir),
                     str(train_dir), str(tmp_path / "exp")])
    with open(tmp_path / "exp" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and "valid_map" in rows[0] and float(rows[0]["train_loss"]) > 0
    assert "train_vat" not in rows[0]
    # a model without frame outputs is refused before anything is written
    system["model"] = {"name": "cnn_baseline", "filters": [2], "kernel_size": 3, "pool_sizes": [[2, 2]],
                       "hidden": 4}
    (tmp_path / "sys.yaml").write_text(yaml.safe_dump(system))
    with pytest.raises(ConfigError, match="has no frame_outputs"):
        train_nnet.main(["--config", str(tmp_path / "sys.yaml"), "--cmvn", str(stats), str(train_dir),
                         str(train_dir), str(tmp_path / "exp2")])
    assert not (tmp_path / "exp2").exists()
