"""Inference: posteriors from model outputs, window aggregation by hand, and the files
infer_nnet writes (clip scores, frame-level posteriors for event detection)."""
import math

import kaldiio
import numpy as np
import pytest
import torch
import yaml

from dcase_tk.bin import infer_nnet
from dcase_tk.cli import ToolError
from dcase_tk.decode.infer import ClipScorer, DecodeConfig, activate, aggregate
from dcase_tk.features import cmvn
from dcase_tk.nnet import build_model
from dcase_tk.train.data import FeatureSet
from helpers import write_dump


def test_activation_by_output_kind():
    logits = torch.tensor([[0.0, math.log(3.0)]])
    assert activate(logits, "logits", False)[0].tolist() == pytest.approx([0.25, 0.75])
    assert activate(logits, "logits", True)[0].tolist() == pytest.approx([0.5, 0.75])
    probs = torch.tensor([[0.2, 0.6]])
    assert activate(probs, "probs", False)[0].tolist() == pytest.approx([0.25, 0.75])
    assert activate(probs, "probs", True)[0].tolist() == pytest.approx([0.2, 0.6])


def test_window_aggregation_by_hand():
    p = torch.tensor([[0.8, 0.2], [0.2, 0.8], [0.5, 0.5]])
    assert aggregate(p, "mean", False).tolist() == pytest.approx([0.5, 0.5])
    assert aggregate(p, "max", True).tolist() == pytest.approx([0.8, 0.8])
    g = [(0.8 * 0.2 * 0.5) ** (1 / 3), (0.2 * 0.8 * 0.5) ** (1 / 3)]
    assert aggregate(p, "gmean", True).tolist() == pytest.approx(g)
    assert aggregate(torch.tensor([[0.9, 0.1], [0.6, 0.4]]), "gmean", False).tolist() == pytest.approx(
        [0.54 ** 0.5 / (0.54 ** 0.5 + 0.04 ** 0.5), 0.04 ** 0.5 / (0.54 ** 0.5 + 0.04 ** 0.5)])


class MeanFirstDim(torch.nn.Module):
    """Logits (m, -m) where m is the mean of feature 0 over the input frames."""
    output = "logits"

    def forward(self, x):
        m = x[:, :, 0].mean(1)
        return torch.stack([m, -m], dim=1)


def test_segments_cover_the_clip_and_are_combined(tmp_path):
    clip = np.zeros((10, 2), dtype=np.float32)
    clip[:, 0] = np.arange(10)
    write_dump(tmp_path, {"u": clip}, {"u": "a"}, ["a", "b"])
    dataset = FeatureSet(str(tmp_path))
    decode = DecodeConfig.from_dict({"mode": "segments", "hop": 3, "aggregate": "mean"})
    scores = ClipScorer(MeanFirstDim(), 4, decode, False, torch.device("cpu")).score(dataset, [0])
    # windows start at 0, 3, 6 (the last aligned to the end): means 1.5, 4.5, 7.5
    expected = np.mean([[1 / (1 + math.exp(-2 * m)), 1 / (1 + math.exp(2 * m))] for m in (1.5, 4.5, 7.5)], axis=0)
    assert scores[0] == pytest.approx(expected, rel=1e-5)
    fixed = ClipScorer(MeanFirstDim(), 4, DecodeConfig(), False, torch.device("cpu")).score(dataset, [0])
    assert fixed[0] == pytest.approx([1 / (1 + math.exp(-3)), 1 / (1 + math.exp(3))], rel=1e-5)


def test_infer_nnet_writes_clip_scores_and_frame_posteriors(tmp_path):
    rng = np.random.default_rng(0)
    mats = {f"c{i}": rng.standard_normal((37 + i, 16)).astype(np.float32) for i in range(3)}
    feats = write_dump(tmp_path / "feats", mats, {u: "a" for u in mats}, ["a", "b", "c"])
    (feats / "frame_shift").write_text("0.02\n")
    exp = tmp_path / "exp"
    exp.mkdir()
    model_cfg = {"name": "crnn", "filters": [4, 4], "freq_pools": [4, 4], "rnn_units": 4}
    torch.manual_seed(0)
    torch.save(build_model(model_cfg, 16, 3, 40).state_dict(), exp / "final.pt")
    (exp / "config.yaml").write_text(yaml.safe_dump({
        "model": model_cfg, "input": {"frames": 40, "dim": 16}, "classes": ["a", "b", "c"],
        "training": {"loss": "bce"}, "decode": {"mode": "whole", "frame_posteriors": True}}))
    cmvn.write(str(exp / "cmvn.ark"), cmvn.accumulate(list(mats.values())))
    out = tmp_path / "out"
    infer_nnet.main([str(exp), str(feats), str(out)])
    posts = kaldiio.load_scp(str(out / "posteriors.scp"))
    assert sorted(posts) == sorted(mats)
    for utt, m in mats.items():
        assert posts[utt].shape == (m.shape[0], 3)                     # the input frame rate
        assert posts[utt].min() >= 0 and posts[utt].max() <= 1
    assert (out / "frame_shift").read_text() == "0.02\n"
    rows = [line.split() for line in (out / "score").read_text().splitlines()]
    assert [r[0] for r in rows] == sorted(mats) and all(len(r) == 4 for r in rows)
    # multi-label (bce) and a model that outputs probabilities: the scores are its clip outputs
    mean, std = cmvn.mean_std(cmvn.read(str(exp / "cmvn.ark")))
    x = torch.from_numpy(((mats["c0"] - mean) / std).astype(np.float32))
    model = build_model(model_cfg, 16, 3, 40)
    model.load_state_dict(torch.load(exp / "final.pt", weights_only=True))
    with torch.no_grad():
        expected = model.eval()(x[None])[0].numpy()
    assert [float(v) for v in rows[0][1:]] == pytest.approx(expected.tolist(), abs=1e-5)


def tagging_exp(tmp_path, mats, decode):
    """An exp dir of a cnn8 at random init for 64-frame inputs, scored as ``decode`` says."""
    exp = tmp_path / "exp"
    exp.mkdir()
    model_cfg = {"name": "cnn8", "channels": [4, 4, 4, 4]}
    torch.manual_seed(0)
    torch.save(build_model(model_cfg, 16, 3, 64).state_dict(), exp / "final.pt")
    (exp / "config.yaml").write_text(yaml.safe_dump({
        "model": model_cfg, "input": {"frames": 64, "dim": 16}, "classes": ["a", "b", "c"],
        "training": {"loss": "cross_entropy"}, "decode": decode}))
    cmvn.write(str(exp / "cmvn.ark"), cmvn.accumulate(list(mats.values())))
    return exp


@pytest.mark.parametrize("decode", [{"mode": "segments", "hop": 16, "aggregate": "gmean"},
                                    {"mode": "crops", "crops": 5}])
def test_a_30_s_clip_and_a_0_3_s_clip_each_get_one_score_row(tmp_path, decode):
    # Task 2 clips at 32 ms frames: 30 s = 938 frames (many windows), 0.3 s = 10 (one, repeated)
    rng = np.random.default_rng(0)
    mats = {"long": rng.standard_normal((938, 16)).astype(np.float32),
            "short": rng.standard_normal((10, 16)).astype(np.float32)}
    feats = write_dump(tmp_path / "feats", mats, {u: "a" for u in mats}, ["a", "b", "c"])
    exp = tagging_exp(tmp_path, mats, decode)
    infer_nnet.main([str(exp), str(feats), str(tmp_path / "out")])
    rows = [line.split() for line in (tmp_path / "out" / "score").read_text().splitlines()]
    assert [r[0] for r in rows] == ["long", "short"]
    for row in rows:
        assert len(row) == 4 and sum(map(float, row[1:])) == pytest.approx(1.0, abs=1e-4)


def test_crops_are_fixed_by_seed_and_utterance_and_overridable(tmp_path):
    rng = np.random.default_rng(1)
    mats = {"x": rng.standard_normal((300, 16)).astype(np.float32)}
    feats = write_dump(tmp_path / "feats", mats, {"x": "a"}, ["a", "b", "c"])
    exp = tagging_exp(tmp_path, mats, {"mode": "fixed"})

    def scores(name, *opts):
        infer_nnet.main([*opts, str(exp), str(feats), str(tmp_path / name)])
        return (tmp_path / name / "score").read_text()

    fixed = scores("fixed")
    crops = scores("crops", "--decode.mode", "crops", "--decode.crops", "7")
    assert crops == scores("again", "--decode.mode", "crops", "--decode.crops", "7")
    assert crops != fixed != scores("seed1", "--decode.mode", "crops", "--decode.crops", "7",
                                    "--decode.seed", "1")
    with pytest.raises(ToolError, match="only --decode"):
        infer_nnet.main(["--training.lr", "1", str(exp), str(feats), str(tmp_path / "bad")])
