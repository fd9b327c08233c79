"""Per-dataset normalisation and CORAL (dcase_tk.features.domain, bin/domain_adapt, steps/domain_adapt.sh)."""
import os
import subprocess

import kaldiio
import numpy as np
import pytest

from dcase_tk import cli
from dcase_tk.bin import domain_adapt
from dcase_tk.features import domain

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gaussian(rng, n, mean, cov):
    return rng.multivariate_normal(mean, cov, size=n)


@pytest.fixture
def two_datasets():
    rng = np.random.default_rng(0)
    a = gaussian(rng, 3000, [5.0, -2.0, 1.0], [[4.0, 1.5, 0.0], [1.5, 2.0, 0.3], [0.0, 0.3, 0.5]])
    b = gaussian(rng, 2000, [-1.0, 3.0, 0.0], [[0.5, -0.2, 0.1], [-0.2, 3.0, 1.0], [0.1, 1.0, 1.5]])
    return {"a": a, "b": b}


# (a) the transforms on synthetic frames

def test_dataset_norm_gives_each_dataset_zero_mean_unit_std(two_datasets):
    stats = domain.dataset_stats(two_datasets)
    affines = domain.transforms(stats, "dataset_norm")
    for name, frames in two_datasets.items():
        out = domain.apply(frames, affines[name])
        np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-10)
        np.testing.assert_allclose(out.std(axis=0), 1, rtol=1e-10)
    assert not np.allclose(two_datasets["a"].mean(0), two_datasets["b"].mean(0))   # they did differ


def test_centred_coral_with_tiny_reg_matches_the_target_covariance_and_mean(two_datasets):
    stats = domain.dataset_stats(two_datasets)
    affine = domain.transforms(stats, "coral", target="b", reg=1e-9, center=True)["a"]
    out = domain.apply(two_datasets["a"], affine)
    np.testing.assert_allclose(np.cov(out, rowvar=False, bias=True), stats["b"].cov, atol=1e-7)
    np.testing.assert_allclose(out.mean(axis=0), stats["b"].mean, atol=1e-10)
    assert not np.allclose(stats["a"].cov, stats["b"].cov, atol=0.1)
    # the target's own frames are left as they are
    same = domain.transforms(stats, "coral", target="b", reg=1e-9, center=True)["b"]
    np.testing.assert_allclose(domain.apply(two_datasets["b"], same), two_datasets["b"], atol=1e-6)


def test_uncentred_coral_with_reg_one_matches_a_hand_computed_example():
    # Source frames: the four corners (±√3, ±√8) moved to mean (10, -5): covariance diag(3, 8).
    # Target frames: (±√15, 7): covariance diag(15, 0).
    # W = (C_s + I)^(-1/2) (C_t + I)^(1/2) = diag(1/2, 1/3) diag(4, 1) = diag(2, 1/3).
    s3, s8, s15 = np.sqrt(3), np.sqrt(8), np.sqrt(15)
    source = np.array([[x, y] for x in (s3, -s3) for y in (s8, -s8)]) + [10.0, -5.0]
    target = np.array([[s15, 7.0], [-s15, 7.0]])
    stats = domain.dataset_stats({"s": source, "t": target})
    np.testing.assert_allclose(stats["s"].cov, np.diag([3.0, 8.0]), atol=1e-12)
    np.testing.assert_allclose(stats["t"].cov, np.diag([15.0, 0.0]), atol=1e-12)
    np.testing.assert_allclose(domain.coral_matrix(stats["s"].cov, stats["t"].cov, 1.0),
                               np.diag([2.0, 1 / 3]), atol=1e-12)
    affine = domain.transforms(stats, "coral", target="t")["s"]          # defaults: reg 1, uncentred
    frames = np.array([[1.0, 3.0], [10.0 + s3, -5.0 + s8]])
    np.testing.assert_allclose(domain.apply(frames, affine), [[2.0, 1.0], [2 * (10 + s3), (-5 + s8) / 3]])
    # centred: (x - (10, -5)) W + (0, 7)
    centred = domain.transforms(stats, "coral", target="t", center=True)["s"]
    np.testing.assert_allclose(domain.apply(frames, centred), [[-18.0, 7 + 8 / 3], [2 * s3, 7 + s8 / 3]])


def test_psd_power_clips_rounding_negatives_and_refuses_singular_inverse():
    m = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-17]])            # rank 1; eigh may give -1e-17
    root = domain.psd_power(m, 0.5)
    assert np.isfinite(root).all()
    np.testing.assert_allclose(root @ root, m, atol=1e-12)
    with pytest.raises(np.linalg.LinAlgError):
        domain.psd_power(m, -0.5)


def test_apply_keeps_float32():
    stats = domain.dataset_stats({"a": np.arange(12, dtype=np.float32).reshape(6, 2)})
    out = domain.apply(np.ones((3, 2), np.float32), domain.standardiser(stats["a"]))
    assert out.dtype == np.float32


# (c) streaming statistics

def test_streamed_stats_equal_numpy_on_the_concatenation(two_datasets):
    rng = np.random.default_rng(1)
    acc = domain.StatsAccumulator()
    for name, frames in two_datasets.items():
        frames = frames + 1000.0            # a large mean: the shifted sums must not lose precision
        two_datasets[name] = frames
        cuts = np.sort(rng.choice(len(frames), size=20, replace=False))
        for chunk in np.split(frames, cuts):
            acc.add(name, chunk.astype(np.float32))
    stats = acc.result()
    assert list(stats) == ["a", "b"]
    for name, frames in two_datasets.items():
        frames = frames.astype(np.float32).astype(np.float64)
        assert stats[name].count == len(frames)
        np.testing.assert_allclose(stats[name].mean, frames.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(stats[name].cov, np.cov(frames, rowvar=False, bias=True), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="dimension"):
        acc.add("a", np.zeros((2, 4)))


# (b) the tool end to end on a tiny dump dir

def make_dump(directory, clips, write_dataset=True):
    """``clips``: {utt: (dataset, frames)} -> a dump dir with feats.scp, utt2dataset and friends."""
    directory.mkdir(parents=True)
    (directory / "data").mkdir()
    utts = sorted(clips)
    with kaldiio.WriteHelper(f"ark,scp:{directory}/data/raw.ark,{directory}/feats.scp") as w:
        for utt in utts:
            w(utt, clips[utt][1].astype(np.float32))
    (directory / "wav.scp").write_text("".join(f"{u} /audio/{u}.wav\n" for u in utts))
    (directory / "utt2spk").write_text("".join(f"{u} {clips[u][0]}\n" for u in utts))
    (directory / "utt2label").write_text("".join(f"{u} {'bird' if i % 2 else 'nobird'}\n" for i, u in enumerate(utts)))
    (directory / "utt2num_frames").write_text("".join(f"{u} {len(clips[u][1])}\n" for u in utts))
    (directory / "classes.txt").write_text("nobird\nbird\n")
    (directory / "frame_shift").write_text("0.014\n")
    (directory / "feats.yaml").write_text("n_mels: 4\n")
    spk2utt = {}
    for u in utts:
        spk2utt.setdefault(clips[u][0], []).append(u)
    (directory / "spk2utt").write_text("".join(f"{d} {' '.join(us)}\n" for d, us in sorted(spk2utt.items())))
    if write_dataset:
        (directory / "utt2dataset").write_text("".join(f"{u} {clips[u][0]}\n" for u in utts))


def clips_of(rng, dataset, n, mean, scale, dim=4):
    return {f"{dataset}_{i:02d}": (dataset, rng.normal(mean, scale, size=(int(rng.integers(20, 40)), dim)))
            for i in range(n)}


@pytest.fixture
def fold(tmp_path):
    """A leave-one-dataset-out fold: train = datasets ff and wb, test = dataset bv."""
    rng = np.random.default_rng(2)
    train = {**clips_of(rng, "ff", 4, 3.0, 2.0), **clips_of(rng, "wb", 3, -1.0, 0.5)}
    test = clips_of(rng, "bv", 3, 0.5, 1.5)
    make_dump(tmp_path / "train", train)
    make_dump(tmp_path / "test", test)
    return tmp_path, train, test


def read_feats(directory):
    return dict(kaldiio.load_scp_sequential(str(directory / "feats.scp")))


def test_tool_coral_towards_the_held_out_dataset(fold):
    tmp, train, test = fold
    out = tmp / "train_coral"
    domain_adapt.main(["--method", "coral", "--target", "bv", "--center", "true", "--reg", "1e-9",
                       "--stats_from", str(tmp / "test"), str(tmp / "train"), str(out)])
    for name in ("wav.scp", "utt2spk", "spk2utt", "utt2label", "utt2num_frames", "utt2dataset",
                 "classes.txt", "frame_shift", "feats.yaml"):
        assert (out / name).read_bytes() == (tmp / "train" / name).read_bytes(), name
    assert [line.split()[0] for line in (out / "feats.scp").read_text().splitlines()] == sorted(train)
    assert (out / "data" / "feats.ark").is_file() and not list(tmp.glob(".tmp.*"))
    feats = read_feats(out)
    for utt, (_, frames) in train.items():
        assert feats[utt].shape == frames.shape and feats[utt].dtype == np.float32
    # the source datasets now have the target's mean and covariance
    target = np.concatenate([f for _, f in test.values()])
    for dataset in ("ff", "wb"):
        moved = np.concatenate([feats[u] for u, (d, _) in train.items() if d == dataset]).astype(np.float64)
        np.testing.assert_allclose(moved.mean(0), target.mean(0), atol=1e-4)
        np.testing.assert_allclose(np.cov(moved, rowvar=False, bias=True),
                                   np.cov(target, rowvar=False, bias=True), atol=1e-4)
    saved = np.load(out / "domain_stats.npz")
    assert list(saved["datasets"]) == ["bv", "ff", "wb"]
    counts = {d: sum(len(f) for dd, f in {**train, **test}.values() if dd == d) for d in ("bv", "ff", "wb")}
    assert list(saved["count"]) == [counts["bv"], counts["ff"], counts["wb"]]
    assert saved["cov"].shape == (3, 4, 4) and str(saved["method"]) == "coral" and str(saved["target"]) == "bv"


def test_tool_dataset_norm_and_utterances_counted_once(fold):
    tmp, train, test = fold
    out = tmp / "test_norm"
    # the test dir given again in --stats_from: its utterances must not be counted twice
    domain_adapt.main(["--method", "dataset_norm", "--stats_from", str(tmp / "train"),
                       "--stats_from", str(tmp / "test"), str(tmp / "test"), str(out)])
    feats = read_feats(out)
    assert list(feats) == sorted(test)
    frames = np.concatenate(list(feats.values())).astype(np.float64)
    np.testing.assert_allclose(frames.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(frames.std(0), 1, atol=1e-5)
    saved = np.load(out / "domain_stats.npz")
    assert dict(zip(saved["datasets"], saved["count"])) == {
        d: sum(len(f) for dd, f in {**train, **test}.values() if dd == d) for d in ("bv", "ff", "wb")}


def test_tool_paper_default_is_uncentred_with_reg_one(fold):
    tmp, train, test = fold
    out = tmp / "uncentred"
    domain_adapt.main(["--method", "coral", "--target", "bv", "--stats_from", str(tmp / "test"),
                       str(tmp / "train"), str(out)])
    stats = domain.dataset_stats({"ff": [f for d, f in train.values() if d == "ff"],
                                  "bv": [f.astype(np.float32) for _, f in test.values()]})
    w = domain.coral_matrix(stats["ff"].cov, stats["bv"].cov, 1.0)
    utt = next(u for u, (d, _) in train.items() if d == "ff")
    expected = train[utt][1].astype(np.float32).astype(np.float64) @ w
    np.testing.assert_allclose(read_feats(out)[utt], expected, rtol=1e-4, atol=1e-4)


# (d) errors

def test_missing_utt2dataset_is_a_clear_error_and_writes_nothing(tmp_path):
    rng = np.random.default_rng(3)
    make_dump(tmp_path / "train", clips_of(rng, "ff", 2, 0.0, 1.0), write_dataset=False)
    with pytest.raises(cli.ToolError, match=r"train/utt2dataset is missing.*prepare_data\.py"):
        domain_adapt.main(["--method", "dataset_norm", str(tmp_path / "train"), str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_unknown_coral_target_lists_the_datasets_found(fold):
    tmp, _, _ = fold
    with pytest.raises(cli.ToolError, match=r"'warblrb10k' is not among the datasets found: bv, ff, wb"):
        domain_adapt.main(["--method", "coral", "--target", "warblrb10k", "--stats_from", str(tmp / "test"),
                           str(tmp / "train"), str(tmp / "out")])
    assert not (tmp / "out").exists() and not list(tmp.glob(".tmp.*"))


def test_failure_while_writing_leaves_no_output_dir(fold, monkeypatch):
    tmp, _, _ = fold

    def broken(frames, affine):
        raise RuntimeError("disk full")
    monkeypatch.setattr(domain, "apply", broken)
    with pytest.raises(RuntimeError):
        domain_adapt.main(["--method", "dataset_norm", str(tmp / "train"), str(tmp / "out")])
    assert not (tmp / "out").exists() and not list(tmp.glob(".tmp.*"))


def test_step_runs_once_then_skips(fold):
    tmp, _, _ = fold
    cmd = (f". {ROOT}/path.sh && domain_adapt.sh --method coral --target bv --stats_from '{tmp}/test' "
           f"{tmp}/train {tmp}/out")
    first = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert (tmp / "out" / "domain_stats.npz").is_file() and (tmp / "out" / ".done").is_file()
    again = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stderr
