"""Task 4 training-pass tools on hand-made decode dirs: clip pseudo-labels (pseudo_label),
smoothed frame targets (frame_targets), per-class model selection (merge_per_class) and SALR's
label-free choice of thresholds and medians (salr) with a stub model whose output is known."""
import json
import math

import kaldiio
import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
import torch
import yaml

from dcase_tk.bin import frame_targets, merge_per_class, postprocess_sed, pseudo_label, salr
from dcase_tk.cli import ToolError
from dcase_tk.decode.combine import EPS
from dcase_tk.errors import UserError
from dcase_tk.features import cmvn
from dcase_tk.io.scores import write_scores
from dcase_tk.nnet import MODELS, register
from dcase_tk.train.data import read_targets
from helpers import write_dump

H = 0.1          # frame shift of the hand-made clips


def make_dump(path, mats, classes, labels=None, extra=None):
    """A dump dir of ``mats`` with wav.scp, utt2num_frames, frame_shift and cmvn.ark, and
    utt2labels from ``labels`` when given."""
    tables = {"wav.scp": {u: f"/corpus/{u}.wav" for u in mats},
              "utt2num_frames": {u: len(m) for u, m in mats.items()}, **(extra or {})}
    d = write_dump(path, mats, labels or {}, classes, "utt2labels", tables)
    if labels is None:
        (d / "utt2labels").unlink()
    (d / "frame_shift").write_text(f"{H}\n")
    cmvn.write(str(d / "cmvn.ark"), cmvn.accumulate(list(mats.values())))
    return d


def make_decode(path, posteriors, scores, classes, shift=H):
    """A decode dir: posteriors.{ark,scp} ({utt: (T, C)}), score ({utt: (C,)}), classes.txt,
    frame_shift."""
    path.mkdir(parents=True)
    with kaldiio.WriteHelper(f"ark,scp:{path}/posteriors.ark,{path}/posteriors.scp") as w:
        for u in sorted(posteriors):
            w(u, np.asarray(posteriors[u], dtype=np.float32))
    write_scores(str(path / "score"), sorted(scores), [scores[u] for u in sorted(scores)])
    (path / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    (path / "frame_shift").write_text(f"{shift}\n")
    return path


def table(path):
    return dict((line.split(" ", 1) + [""])[:2] for line in path.read_text().splitlines())


# ---------------------------------------------------------------- pseudo_label

CLASSES = ["a", "b", "c"]
FEATS = {u: np.full((4, 2), i, dtype=np.float32) for i, u in enumerate(["u1", "u2", "u3"])}
SCORES = {"u1": [0.6, 0.5, 0.1], "u2": [0.2, 0.3, 0.4], "u3": [0.9, 0.1, 0.7]}


@pytest.fixture
def labelled(tmp_path):
    """A dump dir where only u3 has a (given) label line, and the decode dir of its clips."""
    feats = make_dump(tmp_path / "feats", FEATS, CLASSES, {"u3": "b"}, {"utt2dur": {u: 0.4 for u in FEATS}})
    decode = make_decode(tmp_path / "decode", {u: np.zeros((4, 3)) for u in FEATS}, SCORES, CLASSES)
    return feats, decode


def test_pseudo_labels_threshold_and_kept_labels(tmp_path, labelled):
    feats, decode = labelled
    out = tmp_path / "out"
    pseudo_label.main([str(decode), str(feats), str(out)])
    # >= 0.5: u1 a and b (0.5 itself is in), u2 none (a line with the utt alone), u3 keeps its b
    assert (out / "utt2labels").read_text() == "u1 a b\nu2\nu3 b\n"
    for name in ("feats.scp", "utt2num_frames", "frame_shift", "classes.txt", "wav.scp", "utt2dur"):
        assert (out / name).read_text() == (feats / name).read_text(), name
    assert (out / "cmvn.ark").read_bytes() == (feats / "cmvn.ark").read_bytes()
    targets = read_targets(str(out), ["u1", "u2", "u3"], CLASSES, "utt2labels")
    np.testing.assert_array_equal(targets, [[1, 1, 0], [0, 0, 0], [0, 1, 0]])   # empty -> all zero

    pseudo_label.main(["--keep_labels", "false", str(decode), str(feats), str(out)])
    assert table(out / "utt2labels")["u3"] == "a c"
    pseudo_label.main(["--threshold", "0.65", "--keep_labels", "false", str(decode), str(feats), str(out)])
    assert (out / "utt2labels").read_text() == "u1\nu2\nu3 a c\n"


def test_pseudo_label_errors(tmp_path, labelled):
    feats, decode = labelled
    other = make_decode(tmp_path / "other", {}, {**SCORES, "u4": [0, 0, 0]}, CLASSES)
    with pytest.raises(UserError, match=r"different clips \(0 not decoded.*1 not in the dump dir.*u4"):
        pseudo_label.main([str(other), str(feats), str(tmp_path / "out")])
    renamed = make_decode(tmp_path / "renamed", {}, SCORES, ["a", "b", "x"])
    with pytest.raises(UserError, match="classes.txt differ"):
        pseudo_label.main([str(renamed), str(feats), str(tmp_path / "out")])
    (decode / "score").unlink()
    with pytest.raises(ToolError, match="score does not exist"):
        pseudo_label.main([str(decode), str(feats), str(tmp_path / "out")])
    with pytest.raises(ToolError, match=r"--threshold must be a probability"):
        pseudo_label.main(["--threshold", "1.5", str(decode), str(feats), str(tmp_path / "out")])
    with pytest.raises(UserError, match="is the dump dir it copies"):
        pseudo_label.main([str(other), str(feats), str(feats)])


# ---------------------------------------------------------------- frame_targets

POST = {"u1": np.array([[0.0, 0.9], [1.0, 0.2], [0.0, 0.8], [0.0, 0.1],
                        [1.0, 0.7], [1.0, 0.6], [1.0, 0.3], [0.0, 0.4]]),
        "u2": np.linspace(0, 1, 12).reshape(6, 2)}
MATS = {u: np.zeros((len(p), 3), dtype=np.float32) for u, p in POST.items()}


def read_ark(path):
    return {k: v for k, v in kaldiio.load_scp(str(path)).items()}


def test_frame_targets_median_gaussian_and_clip_mask(tmp_path):
    feats = make_dump(tmp_path / "feats", MATS, ["a", "b"], {"u1": "a", "u2": "a b"})
    decode = make_decode(tmp_path / "decode", POST, {u: [1, 1] for u in POST}, ["a", "b"])
    out = tmp_path / "out"
    frame_targets.main(["--median", "0.3", "--clip_mask", "false", str(decode), str(feats), str(out)])
    targets = read_ark(out / "frame_targets.scp")
    assert sorted(targets) == ["u1", "u2"] and targets["u1"].dtype == np.float32
    # 0.3 s = 3 frames, zero padded: [0 1 0 0 1 1 1 0] -> [0 0 0 0 1 1 1 0]
    assert targets["u1"][:, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 0]
    for u, p in POST.items():
        expected = np.stack([scipy.signal.medfilt(col, 3) for col in p.T], axis=1)
        np.testing.assert_allclose(targets[u], expected, atol=1e-6)
    assert (out / "utt2labels").read_text() == (feats / "utt2labels").read_text()

    # Gaussian of 0.1 s = 1 frame after the median; u1 is labelled a only: b is zeroed
    frame_targets.main(["--median", "0.3", "--gaussian_sigma", "0.1", str(decode), str(feats), str(out)])
    targets = read_ark(out / "frame_targets.scp")
    for u, p in POST.items():
        expected = scipy.ndimage.gaussian_filter1d(
            np.stack([scipy.signal.medfilt(col, 3) for col in p.T], axis=1), 1.0, axis=0)
        if u == "u1":
            expected[:, 1] = 0
        np.testing.assert_allclose(targets[u], expected, atol=1e-6)
        assert targets[u].min() >= 0 and targets[u].max() <= 1

    # no median, no Gaussian: the posteriors themselves; a dump dir holding earlier frame
    # targets (the previous pass's output) gets new ones, not a copy of the old
    again = tmp_path / "again"
    frame_targets.main(["--median", "0", "--clip_mask", "false", str(decode), str(out), str(again)])
    targets = read_ark(again / "frame_targets.scp")
    assert str(again) in (again / "frame_targets.scp").read_text()
    for u, p in POST.items():
        np.testing.assert_allclose(targets[u], p, atol=1e-6)


def test_frame_targets_errors(tmp_path):
    feats = make_dump(tmp_path / "feats", MATS, ["a", "b"], {"u1": "a"})
    decode = make_decode(tmp_path / "decode", POST, {u: [1, 1] for u in POST}, ["a", "b"])
    out = str(tmp_path / "out")
    with pytest.raises(ToolError, match=r"utt2labels has no line for 1 clips.*u2.*--clip_mask false"):
        frame_targets.main([str(decode), str(feats), out])
    short = make_decode(tmp_path / "short", {**POST, "u2": POST["u2"][:5]}, {u: [1, 1] for u in POST}, ["a", "b"])
    with pytest.raises(UserError, match="'u2' has 5 frames.*utt2num_frames says 6"):
        frame_targets.main(["--clip_mask", "false", str(short), str(feats), out])
    fewer = make_decode(tmp_path / "fewer", {"u1": POST["u1"]}, {"u1": [1, 1]}, ["a", "b"])
    with pytest.raises(UserError, match=r"different clips \(1 not decoded, e.g. \['u2'\]"):
        frame_targets.main(["--clip_mask", "false", str(fewer), str(feats), out])
    shifted = make_decode(tmp_path / "shifted", POST, {u: [1, 1] for u in POST}, ["a", "b"], shift=0.02)
    with pytest.raises(ToolError, match="frame_shift is 0.02 s"):
        frame_targets.main(["--clip_mask", "false", str(shifted), str(feats), out])
    logits = make_decode(tmp_path / "logits", {u: p * 4 - 2 for u, p in POST.items()}, {u: [1, 1] for u in POST},
                         ["a", "b"])
    with pytest.raises(ToolError, match="'u1': posteriors outside"):
        frame_targets.main(["--clip_mask", "false", str(logits), str(feats), out])
    (decode / "posteriors.scp").unlink()
    with pytest.raises(UserError, match="posteriors.scp does not exist"):
        frame_targets.main([str(decode), str(feats), out])


# ---------------------------------------------------------------- merge_per_class

def scored(path, f1):
    path.mkdir(parents=True)
    result = {"classes": list(f1), "event_based": {"per_class": {c: {"f1": v} for c, v in f1.items()}}}
    (path / "result.json").write_text(json.dumps(result))
    return path


def test_merge_takes_each_class_from_its_best_model(tmp_path):
    classes = ["a", "b", "c", "d"]
    # a: A better; b: B better; c: A undefined (no reference), B 0.1; d: a tie -> the first (A)
    sel = [scored(tmp_path / "A_test", {"a": 0.5, "b": 0.2, "c": None, "d": 0.3}),
           scored(tmp_path / "B_test", {"a": 0.4, "b": 0.3, "c": 0.1, "d": 0.3})]
    rng = np.random.default_rng(0)
    posts = [{u: rng.random((n, 4)) for u, n in (("u1", 5), ("u2", 7))} for _ in range(2)]
    scores = [{u: rng.random(4) for u in ("u1", "u2")} for _ in range(2)]
    app = [make_decode(tmp_path / name, p, s, classes) for name, p, s in zip(("A_un", "B_un"), posts, scores)]
    out = tmp_path / "merged"
    merge_per_class.main(["--select_dirs", " ".join(map(str, sel)), "--apply_dirs", " ".join(map(str, app)),
                          str(out)])
    chosen = [0, 1, 1, 0]
    merged = read_ark(out / "posteriors.scp")
    for u in ("u1", "u2"):
        expected = np.stack([posts[k][u][:, c] for c, k in enumerate(chosen)], axis=1)
        np.testing.assert_allclose(merged[u], expected, rtol=1e-6)
    rows = [line.split() for line in (out / "score").read_text().splitlines()]
    for row in rows:
        expected = [scores[k][row[0]][c] for c, k in enumerate(chosen)]
        assert [float(v) for v in row[1:]] == pytest.approx(expected, abs=1e-6)
    assert (out / "classes.txt").read_text() == "a\nb\nc\nd\n"
    assert float((out / "frame_shift").read_text()) == H
    lines = [line.split("\t") for line in (out / "selection.tsv").read_text().splitlines()]
    assert lines[0] == ["class", "model", "select_dir", "apply_dir", "f1", str(sel[0]), str(sel[1])]
    assert lines[1] == ["a", "1", str(sel[0]), str(app[0]), "0.500000", "0.500000", "0.400000"]
    assert lines[3] == ["c", "2", str(sel[1]), str(app[1]), "0.100000", "", "0.100000"]
    assert [row[1] for row in lines[1:]] == ["1", "2", "2", "1"]


def test_merge_errors(tmp_path):
    classes = ["a", "b"]
    sel = [scored(tmp_path / "A_test", {"a": 0.5, "b": 0.2}), scored(tmp_path / "B_test", {"a": 0.1, "b": 0.3})]
    posts = {"u1": np.zeros((5, 2)), "u2": np.zeros((6, 2))}
    a = make_decode(tmp_path / "A_un", posts, {u: [0, 0] for u in posts}, classes)
    args = ["--select_dirs", f"{sel[0]} {sel[1]}"]

    def merge(b, select=args):
        merge_per_class.main([*select, "--apply_dirs", f"{a} {b}", str(tmp_path / "out")])

    b = make_decode(tmp_path / "B_short", {**posts, "u2": np.zeros((4, 2))}, {u: [0, 0] for u in posts}, classes)
    with pytest.raises(UserError, match="posteriors of 'u2' have different numbers of frames"):
        merge(b)
    b = make_decode(tmp_path / "B_fewer", {"u1": posts["u1"]}, {"u1": [0, 0]}, classes)
    with pytest.raises(UserError, match="list different clips"):
        merge(b)
    b = make_decode(tmp_path / "B_other", posts, {u: [0, 0] for u in posts}, ["a", "x"])
    with pytest.raises(UserError, match="classes.txt differs"):
        merge(b)
    with pytest.raises(ToolError, match="names 1 dirs and --apply_dirs 2"):
        merge(a, ["--select_dirs", str(sel[0])])
    with pytest.raises(UserError, match=r"result.json does not exist.*score_sed"):
        merge(a, ["--select_dirs", f"{sel[0]} {tmp_path / 'unscored'}"])
    scored(tmp_path / "C_test", {"a": 0.5, "x": 0.1})
    with pytest.raises(UserError, match="select among models of the same classes"):
        merge(a, ["--select_dirs", f"{sel[0]} {tmp_path / 'C_test'}"])


# ---------------------------------------------------------------- salr

class MeanColumns(torch.nn.Module):
    """A stub "trained model": the clip probability of class c is the mean of feature column c."""
    output = "probs"

    def __init__(self, n_in, n_classes, n_frames):
        super().__init__()
        self.n_classes = n_classes

    def forward(self, x):
        return x[:, :, :self.n_classes].mean(dim=1)


if "salr_test_mean" not in MODELS:
    register("salr_test_mean")(MeanColumns)


def identity_cmvn(dim):
    """Statistics of mean 0 and variance 1: the model sees the features as they are."""
    return np.array([[0.0] * dim + [10.0], [10.0] * dim + [0.0]])


@pytest.fixture
def salr_case(tmp_path):
    """Clip u1 (20 frames): class a truly on at frames 5..9 (feature column 0 is 1 there). Its
    posteriors of a: 0.7 on the event, 0.4 at frames 2-3, an isolated 0.6 at frame 15, 0.1
    elsewhere. u1 is tagged a (0.8), not b; u2 is tagged with nothing."""
    feats = np.zeros((20, 2), dtype=np.float32)
    feats[5:10, 0] = 1
    post = np.full((20, 2), 0.1)
    post[5:10, 0], post[2:4, 0], post[15, 0] = 0.7, 0.4, 0.6
    mats = {"u1": feats, "u2": np.zeros((8, 2), dtype=np.float32)}
    posts = {"u1": post, "u2": np.full((8, 2), 0.9)}
    dump = make_dump(tmp_path / "feats", mats, ["a", "b"], {"u1": "b", "u2": "b"})     # labels are not read
    decode = make_decode(tmp_path / "decode", posts, {"u1": [0.8, 0.2], "u2": [0.3, 0.1]}, ["a", "b"])
    exp = tmp_path / "exp"
    exp.mkdir()
    torch.save({}, exp / "final.pt")
    (exp / "config.yaml").write_text(yaml.safe_dump({
        "model": {"name": "salr_test_mean"}, "input": {"frames": 20, "dim": 2}, "classes": ["a", "b"],
        "training": {"loss": "bce"}}))
    cmvn.write(str(exp / "cmvn.ark"), identity_cmvn(2))
    conf = tmp_path / "salr.yaml"
    conf.write_text(yaml.safe_dump({"postprocess": {"method": "threshold", "threshold": 0.5, "median": 1.0},
                                    "salr": {"thresholds": [0.3, 0.5, 0.8], "medians": [0.0, 0.3]}}))
    return exp, dump, decode, conf


def test_salr_picks_the_candidate_that_cuts_the_true_events(tmp_path, salr_case):
    exp, dump, decode, conf = salr_case
    out = tmp_path / "salr"
    salr.main(["--config", str(conf), str(exp), str(dump), str(decode), str(out)])
    rows = [line.split("\t") for line in (out / "search.tsv").read_text().splitlines()]
    assert rows[0] == ["class", "threshold", "median", "samples", "loss", "chosen"]
    a = {(float(r[1]), float(r[2])): (int(r[3]), float(r[4]), r[5]) for r in rows[1:] if r[0] == "a"}
    miss, hit = -math.log(EPS), -math.log(1 - EPS)     # a sample's output 0 against target 1, 1 against 1
    # 0.3, no median: events 2-3 (mean 0), 5-9 (mean 1), 15 (mean 0, padded), the rest (mean 0, target 0)
    assert a[(0.3, 0.0)][:2] == (4, pytest.approx((2 * miss + 2 * hit) / 4, rel=1e-5))
    # 0.3, 3-frame median: the gap at 4 filled, frame 15 dropped: event 2-9 (mean 5/8) and the rest
    assert a[(0.3, 0.3)][:2] == (2, pytest.approx((-math.log(5 / 8) + hit) / 2, rel=1e-5))
    # 0.5, no median: 5-9, 15 and the rest
    assert a[(0.5, 0.0)][:2] == (3, pytest.approx((miss + 2 * hit) / 3, rel=1e-5))
    # 0.8: no event, the whole clip (mean 5/20) is the target-0 sample
    assert a[(0.8, 0.0)][:2] == a[(0.8, 0.3)][:2] == (1, pytest.approx(-math.log(0.75), rel=1e-5))
    # 0.5 with the median cuts exactly the true event: the lowest loss
    assert [k for k, v in a.items() if v[2] == "1"] == [(0.5, 0.3)]
    assert a[(0.5, 0.3)][:2] == (2, pytest.approx(0, abs=1e-6))
    # b tags no clip: no samples, base values kept
    assert all(r[3] == "0" and r[4] == "" and r[5] == "0" for r in rows[1:] if r[0] == "b")
    tuned = yaml.safe_load((out / "postprocess.yaml").read_text())["postprocess"]
    assert tuned["threshold"] == [0.5, 0.5] and tuned["median"] == [0.3, 1.0]
    assert yaml.safe_load((out / "config.yaml").read_text())["salr"]["medians"] == [0.0, 0.3]
    # the result is a config postprocess_sed takes
    events = tmp_path / "events"
    postprocess_sed.main(["--config", str(out / "postprocess.yaml"), str(decode), str(events)])
    assert (events / "events").read_text().splitlines()[0] == "u1 0.500 1.000 a"


def test_salr_errors(tmp_path, salr_case):
    exp, dump, decode, conf = salr_case
    out = str(tmp_path / "out")
    with pytest.raises(ToolError, match="method must be threshold for SALR"):
        salr.main(["--config", str(conf), "--postprocess.method", "hysteresis", str(exp), str(dump), str(decode), out])
    with pytest.raises(ToolError, match=r"salr.medians must be a non-empty list"):
        salr.main(["--config", str(conf), "--salr.medians", "[]", str(exp), str(dump), str(decode), out])
    with pytest.raises(ToolError, match="unknown option"):
        salr.main(["--config", str(conf), "--tune.rounds", "2", str(exp), str(dump), str(decode), out])
    fewer = make_decode(tmp_path / "fewer", {"u1": np.zeros((20, 2))}, {"u1": [0.8, 0.2]}, ["a", "b"])
    with pytest.raises(UserError, match=r"different clips \(1 not decoded, e.g. \['u2'\]"):
        salr.main(["--config", str(conf), str(exp), str(dump), str(fewer), out])
    short = make_decode(tmp_path / "short", {"u1": np.full((19, 2), 0.7), "u2": np.zeros((8, 2))},
                        {"u1": [0.8, 0.2], "u2": [0.1, 0.1]}, ["a", "b"])
    with pytest.raises(ToolError, match="clip 'u1' has 20 feature frames but 19 frames of posteriors"):
        salr.main(["--config", str(conf), str(exp), str(dump), str(short), out])
    config = yaml.safe_load((exp / "config.yaml").read_text())
    (exp / "config.yaml").write_text(yaml.safe_dump({**config, "training": {"loss": "cross_entropy"}}))
    with pytest.raises(ToolError, match="single-label system"):
        salr.main(["--config", str(conf), str(exp), str(dump), str(decode), out])
    (exp / "final.pt").unlink()
    with pytest.raises(ToolError, match="final.pt not found"):
        salr.main(["--config", str(conf), str(exp), str(dump), str(decode), out])
