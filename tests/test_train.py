"""Trainer behaviour: learning, best-epoch selection, bit-exact resumption, sampling, schedules,
per-example label smoothing, and reading features from arks with DataLoader workers."""
import csv

import numpy as np
import pytest
import torch
import yaml

from dcase_tk.decode.infer import DecodeConfig
from dcase_tk.features import cmvn
from dcase_tk.nnet import build_model
from dcase_tk.train import checkpoint, sampling
from dcase_tk.train.data import FeatureSet
from dcase_tk.train.trainer import Trainer, TrainConfig
from helpers import write_dump

CLASSES = ["a", "b", "c"]
MODEL = {"name": "cnn_baseline", "filters": [4, 8], "kernel_size": 3, "pool_sizes": [[2, 2], [5, 25]],
         "hidden": 16, "dropout": 0.1}
CROP_MODEL = {**MODEL, "pool_sizes": [[2, 2], [5, 5]]}      # for 30-frame crops


def toy_clips(n, seed, frames=50, dim=10):
    """Class k has a bright band k: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    mats, labels = {}, {}
    for i in range(n):
        k = i % 3
        x = rng.standard_normal((frames, dim)).astype(np.float32)
        x[:, 3 * k:3 * k + 3] += 3.0
        mats[f"u{seed}_{i:03d}"], labels[f"u{seed}_{i:03d}"] = x, CLASSES[k]
    return mats, labels


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    root = tmp_path_factory.mktemp("dumps")
    train_dir = write_dump(root / "train", *toy_clips(48, 1), CLASSES,
                           extra={"utt2verified": {f"u1_{i:03d}": i % 2 for i in range(48)}})
    valid_dir = write_dump(root / "valid", *toy_clips(24, 2), CLASSES)
    return train_dir, valid_dir


def datasets(dumps, frames=50, crop="fixed"):
    train = FeatureSet(str(dumps[0]), None, frames, crop).with_targets(CLASSES)
    valid = FeatureSet(str(dumps[1])).with_targets(CLASSES)
    return train, valid


def train(outdir, dumps, epochs, model=MODEL, frames=50, crop="fixed", decode=None, **overrides):
    torch.manual_seed(0)
    net = build_model(model, 10, 3, frames)
    cfg = TrainConfig.from_dict({"epochs": epochs, "batch_size": 8, "lr": 0.01, **overrides})
    trainer = Trainer(net, cfg, str(outdir), CLASSES, "k", frames, DecodeConfig.from_dict(decode), False)
    trainer.resume()
    trainer.fit(*datasets(dumps, frames, crop))
    return trainer


def history(path):
    with open(path / "history.csv") as f:
        return list(csv.DictReader(f))


def test_learns_and_keeps_best_epoch(tmp_path, dumps):
    trainer = train(tmp_path, dumps, epochs=16)
    rows = history(tmp_path)
    assert [int(r["epoch"]) for r in rows] == list(range(1, 17))
    best = max(rows, key=lambda r: float(r["valid_accuracy"]))
    assert float(best["valid_accuracy"]) > 0.8                    # chance is 1/3
    assert trainer.best["epoch"] == int(best["epoch"])            # first epoch reaching the max
    final = torch.load(tmp_path / "final.pt", weights_only=True)
    assert all(torch.equal(final[k], trainer.best["state"][k]) for k in final)
    assert checkpoint.epochs_saved(tmp_path / "checkpoints") == [15, 16]   # keep_checkpoints=2
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_resumed_run_equals_unbroken_run(tmp_path, dumps):
    # random crops, mixup and masking all draw randomness that must replay identically
    opts = dict(model=CROP_MODEL, frames=30, crop="random", decode={"mode": "segments", "hop": 10},
                augment={"mixup_alpha": 0.4, "time_masks": 1, "time_width": 4},
                schedule={"name": "step", "every": 5, "gamma": 0.5})
    train(tmp_path / "unbroken", dumps, epochs=5, **opts)
    train(tmp_path / "broken", dumps, epochs=2, **opts)          # "killed" after epoch 2
    resumed = train(tmp_path / "broken", dumps, epochs=5, **opts)
    assert resumed.start_epoch == 3
    a = torch.load(tmp_path / "unbroken" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "broken" / "final.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert history(tmp_path / "unbroken") == [
        {**r, "seconds": u["seconds"]} for r, u in zip(history(tmp_path / "broken"), history(tmp_path / "unbroken"))]


def test_changed_inputs_start_over(tmp_path, dumps):
    train(tmp_path, dumps, epochs=2)
    torch.manual_seed(0)
    cfg = TrainConfig.from_dict({"epochs": 3, "batch_size": 8})
    trainer = Trainer(build_model(MODEL, 10, 3, 50), cfg, str(tmp_path), CLASSES, "other", 50,
                      DecodeConfig(), False)
    trainer.resume()
    assert trainer.start_epoch == 1 and not (tmp_path / "checkpoints").exists()


def test_selection_delay_and_patience(tmp_path, dumps):
    trainer = train(tmp_path / "delay", dumps, epochs=4, select_after_epoch=10)
    assert trainer.best["epoch"] == 4          # no candidate before the end: the last epoch is kept
    trainer = train(tmp_path / "patience", dumps, epochs=30, patience=2, lr=0.0)
    assert len(trainer.history) == 3           # lr 0 never improves on epoch 1: stop after 2 more


def test_steps_per_epoch_and_step_schedule(tmp_path, dumps):
    train(tmp_path, dumps, epochs=3, steps_per_epoch=4, schedule={"name": "step", "every": 4, "gamma": 0.5})
    lrs = [float(r["lr"]) for r in history(tmp_path)]
    assert lrs == pytest.approx([0.005, 0.0025, 0.00125])   # halved every 4 iterations = every epoch


def test_workers_read_the_same_batches(tmp_path, dumps):
    opts = dict(model=CROP_MODEL, frames=30, crop="random", epochs=2)
    train(tmp_path / "w0", dumps, **opts)
    train(tmp_path / "w2", dumps, num_workers=2, **opts)
    a = torch.load(tmp_path / "w0" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "w2" / "final.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_balanced_sampler_evens_out_classes():
    targets = np.zeros((100, 3), dtype=np.float32)
    targets[:80, 0] = targets[80:95, 1] = targets[95:, 2] = 1          # 80 / 15 / 5 clips
    order = sampling.epoch_order(100, 1, 0, "balanced", steps=300, batch_size=10,
                                 weights=sampling.balanced_weights(targets))
    shares = targets[order].sum(0) / len(order)
    assert shares == pytest.approx([1 / 3] * 3, abs=0.03)
    plain = sampling.epoch_order(100, 1, 0, "shuffle")
    assert sorted(plain) == list(range(100))                           # one pass, each clip once


def test_rank_shares_partition_the_global_batch():
    batch = list(range(7))
    shares = [sampling.rank_share(batch, r, 3) for r in range(3)]
    assert sum(shares, []) == batch and sorted(map(len, shares)) == [2, 2, 3]


def test_per_example_smoothing_from_a_table(dumps):
    from dcase_tk.train.data import read_clip_values
    train_set = datasets(dumps)[0]
    s = read_clip_values(str(dumps[0]), train_set.utts, "utt2verified", {"0": 0.3, "1": 0.0}, 0.1, "smoothing_table")
    assert s.tolist() == pytest.approx([0.3 if int(u[-3:]) % 2 == 0 else 0.0 for u in train_set.utts])
    item = train_set[(0, 0)]
    assert item["x"].shape == (50, 10) and item["y"].tolist() == [1.0, 0.0, 0.0]


class MeanLinear(torch.nn.Module):
    """No batch statistics (unlike BatchNorm), so a batch's examples do not affect each other."""
    output = "logits"

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(10, 3)

    def forward(self, x):
        return self.fc(x.mean(dim=1))


def test_loss_mask_step_equals_a_step_without_the_dropped_unverified_example(tmp_path):
    """Jeong & Lim's mask (alpha 0.8): an unverified clip with a wrong label has by far the largest
    loss and is dropped; a verified clip with a wrong label is kept."""
    x = 0.1 * torch.randn(6, 5, 10, generator=torch.Generator().manual_seed(0))
    x[:, :, 0] += 4.0                                 # the initial model's logits: (mean of feature 0, 0, 0)
    y = torch.eye(3)[[0, 1, 2, 0, 1, 2]]
    trusted = torch.tensor([1.0, 1, 0, 0, 1, 0])

    def one_step(batch, mask, outdir):
        torch.manual_seed(0)
        net = MeanLinear()
        with torch.no_grad():
            net.fc.weight.zero_()
            net.fc.weight[0, 0] = 1.0                 # feature 0 is high everywhere: "a" predicted
        cfg = TrainConfig.from_dict({"lr": 0.1, "loss_mask": mask, "batch_size": len(batch["x"])})
        trainer = Trainer(net, cfg, str(outdir), CLASSES, "k", 5, DecodeConfig.from_dict(None), False)
        trainer._step(batch, len(batch["x"]), torch.Generator().manual_seed(0))
        return net.fc.weight.detach().clone()

    logits = torch.zeros(6, 3)
    logits[:, 0] = x[:, :, 0].mean(dim=1)
    losses = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    assert losses[[2, 5]].min() >= 0.8 * losses.max() > losses[3]     # the unverified "c"s go, the "a" stays
    masked = one_step({"x": x, "y": y, "trusted": trusted}, 0.8, tmp_path / "a")
    keep = [0, 1, 3, 4]
    without = one_step({"x": x[keep], "y": y[keep], "trusted": trusted[keep]}, 0.0, tmp_path / "b")
    plain = one_step({"x": x, "y": y, "trusted": trusted}, 0.0, tmp_path / "c")
    torch.testing.assert_close(masked, without)
    assert not torch.allclose(masked, plain)


def test_bad_training_options():
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="select_metric"):
        TrainConfig.from_dict({"select_metric": "f1"})
    with pytest.raises(ValueError, match="sampler"):
        TrainConfig.from_dict({"sampler": "uniform"})
    with pytest.raises(ValueError, match="loss_mask must be in"):
        TrainConfig.from_dict({"loss_mask": 1.5})


def test_multi_label_training_selects_on_map(tmp_path):
    """utt2labels, binary cross-entropy, balanced sampling, curves of the map."""
    rng = np.random.default_rng(3)
    mats, labels = {}, {}
    for i in range(36):
        present = [k for k in range(3) if (i >> k) & 1] or [i % 3]
        x = rng.standard_normal((50, 10)).astype(np.float32)
        for k in present:
            x[:, 3 * k:3 * k + 3] += 3.0
        mats[f"m{i:02d}"], labels[f"m{i:02d}"] = x, " ".join(CLASSES[k] for k in present)
    train_dir = write_dump(tmp_path / "train", mats, labels, CLASSES, label_file="utt2labels")
    train_set = FeatureSet(str(train_dir), None, 50).with_targets(CLASSES)
    assert train_set.targets[7].tolist() == [1, 1, 1] and train_set.targets[1].tolist() == [1, 0, 0]
    valid_set = FeatureSet(str(train_dir)).with_targets(CLASSES)
    torch.manual_seed(0)
    cfg = TrainConfig.from_dict({"epochs": 8, "batch_size": 6, "lr": 0.01, "loss": "bce",
                                 "select_metric": "map", "sampler": "balanced", "steps_per_epoch": 6})
    trainer = Trainer(build_model(MODEL, 10, 3, 50), cfg, str(tmp_path / "exp"), CLASSES, "k", 50,
                      DecodeConfig(), True)
    trainer.fit(train_set, valid_set)
    rows = history(tmp_path / "exp")
    assert "train_accuracy" not in rows[0] and float(rows[-1]["valid_map"]) > 0.9
    assert (tmp_path / "exp" / "curves.png").stat().st_size > 1000


def test_train_nnet_rejects_bad_system_configs(tmp_path, dumps):
    from dcase_tk.bin import train_nnet
    from dcase_tk.cli import ToolError
    stats = tmp_path / "cmvn.ark"
    cmvn.write(str(stats), cmvn.accumulate([np.zeros((2, 10), dtype=np.float32)]))
    cases = [({"model": MODEL, "training": {}, "input": {}}, "input.frames"),
             ({"model": MODEL, "training": {"optimiser": "adam"}, "input": {"frames": 50}}, "unknown training option"),
             ({"model": MODEL, "training": {}, "input": {"frames": 50}, "decode": {"mode": "all"}}, "decode.mode"),
             ({"model": MODEL, "training": {"loss": "hinge"}, "input": {"frames": 50}}, "hinge"),
             ({"model": MODEL, "training": {"loss_mask": 0.8, "loss_mask_table": "utt2trusted"},
               "input": {"frames": 50}}, "training.loss_mask_table: .*utt2trusted not found")]
    for system, message in cases:
        path = tmp_path / "sys.yaml"
        path.write_text(yaml.safe_dump(system))
        with pytest.raises(ToolError, match=message):
            train_nnet.main(["--config", str(path), "--cmvn", str(stats), str(dumps[0]), str(dumps[1]),
                             str(tmp_path / "exp")])
    assert not (tmp_path / "exp").exists()                 # nothing written for a bad config
