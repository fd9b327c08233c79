"""Nearest-neighbour filtered (NNF) features (dcase_tk/features/nnf.py; Nguyen & Pernkopf, Task 1):
the filter against librosa, a case whose result is known by hand, and the feature config's
``nnf:`` section (stacked [log-mel, log-NNF] output)."""
import librosa
import numpy as np
import pytest

from dcase_tk.features.config import FeatureConfig, FeatureConfigError
from dcase_tk.features.nnf import neighbours, nn_filter
from dcase_tk.features.spectral import FeatureExtractor

SR = 16000
BASE = {"sample_rate": SR, "win_length_s": 0.025, "hop_length_s": 0.01, "n_fft": 512, "n_mels": 24,
        "power": 2.0}


@pytest.fixture(scope="module")
def scene():
    """2 s of a steady background (noise and a hum) with a 4 ms tone burst at 1 s: an event that
    occurs once, in the 3 frames whose 25 ms windows overlap it (fewer than k / 2 + 1)."""
    rng = np.random.RandomState(0)
    t = np.arange(2 * SR) / SR
    y = 0.05 * rng.randn(len(t)) + 0.1 * np.sin(2 * np.pi * 220 * t)
    burst = (t >= 1.0) & (t < 1.004)
    y[burst] += 2.0 * np.sin(2 * np.pi * 3000 * t[burst])
    return y.astype(np.float32)


def librosa_nnf(mel, k=5, metric="euclidean", aggregate=np.median, width=1):
    """The k-nearest-neighbour median filter of ``mel`` (bands x frames) with librosa: the
    neighbour graph of recurrence_matrix in distance mode (its top-k step then sorts distances).
    In float64, as our distances: scikit-learn's cosine distances of float32 frames are float32,
    and near-ties can then fall the other way."""
    mel = mel.astype(np.float64)
    rec = librosa.segment.recurrence_matrix(mel, k=k, metric=metric, width=width, mode="distance", sparse=True)
    return librosa.decompose.nn_filter(mel, rec=rec, aggregate=aggregate)


@pytest.mark.parametrize("k, metric, width", [(5, "euclidean", 1), (4, "euclidean", 3), (5, "cosine", 1)])
def test_filter_is_librosas_on_the_same_mel(scene, k, metric, width):
    mel = FeatureExtractor(FeatureConfig.from_dict(BASE)).mel_energies(scene[None]).numpy()   # (1, T, 24)
    ours = nn_filter(mel, k=k, metric=metric, width=width)
    assert ours.shape == mel.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours[0], librosa_nnf(mel[0].T, k, metric, width=width).T, rtol=1e-6)
    mean = nn_filter(mel, k=k, metric=metric, aggregate="mean", width=width)[0]
    np.testing.assert_allclose(mean, librosa_nnf(mel[0].T, k, metric, np.mean, width).T, rtol=1e-6)


def test_stacked_features_against_a_direct_librosa_computation(scene):
    config = FeatureConfig.from_dict({**BASE, "nnf": {"k": 5, "output": "stack"}})
    feats = FeatureExtractor(config)(scene[None])
    assert feats.shape == (1 + len(scene) // 160, 48) and config.dim == 48
    mel = librosa.feature.melspectrogram(y=scene, sr=SR, n_fft=512, hop_length=160, win_length=400,
                                         window="hamming", power=2.0, n_mels=24)
    plain = FeatureExtractor(FeatureConfig.from_dict(BASE))(scene[None])
    np.testing.assert_array_equal(feats[:, :24], plain)                      # first half: the log-mel
    np.testing.assert_allclose(feats[:, :24], np.log(mel + config.log_offset).T, atol=1e-3)
    np.testing.assert_allclose(feats[:, 24:], np.log(librosa_nnf(mel) + config.log_offset).T, atol=1e-3)
    # the burst is a one-off: the filter takes it out of the 3 kHz band
    band = np.argmin(np.abs(librosa.mel_frequencies(26, fmax=SR / 2)[1:-1] - 3000))
    burst = np.flatnonzero(feats[:, band] > np.median(feats[:, band]) + 3)
    assert 2 <= len(burst) <= 3 and abs(burst.mean() - 100) <= 1.5           # frames 99-101 (centred)
    background = np.setdiff1d(np.arange(len(feats)), burst)
    # log-NNF: each burst frame takes, in that band, the value of one of the background frames
    # (a median of 5 neighbours of which at most 2 are burst frames)
    assert np.isin(feats[burst, 24 + band], feats[background, band]).all()
    assert (feats[burst, band] - feats[burst, 24 + band]).min() > 2
    only = FeatureExtractor(FeatureConfig.from_dict({**BASE, "nnf": {"k": 5}}))(scene[None])
    np.testing.assert_array_equal(only, feats[:, 24:])                       # output: nnf alone


def test_a_one_off_frame_in_a_repeating_pattern_becomes_the_median_of_its_neighbours():
    rng = np.random.RandomState(1)
    patterns = rng.uniform(1, 100, size=(4, 6))
    S = np.tile(patterns, (10, 1)).astype(np.float32)                       # A B C D A B C D ... (40 x 6)
    clean = S.copy()
    S[13, 2] += 5.0                                                          # a click on one B frame
    # exact repeats: every frame's 5 nearest are copies of its own pattern, so the click is gone
    np.testing.assert_array_equal(nn_filter(S, k=5), clean)
    # with jitter, the clicked frame is the band-wise median of the 5 nearest other frames
    S = S + rng.uniform(0, 0.5, size=S.shape).astype(np.float32)
    d = ((S - S[13]) ** 2).sum(1)
    d[13] = np.inf
    nearest = np.argsort(d)[:5]
    assert all(i % 4 == 1 for i in nearest)                                  # other B frames
    np.testing.assert_array_equal(nn_filter(S, k=5)[13], np.median(S[nearest], axis=0))
    assert sorted(neighbours(S, k=5)[13].tolist()) == sorted(nearest.tolist())


def test_librosa_select_reproduces_nn_filter_with_k(scene):
    """librosa.decompose.nn_filter(S, k=5) alone keeps 5 of the 7 nearest frames, by frame order."""
    mel = FeatureExtractor(FeatureConfig.from_dict(BASE)).mel_energies(scene[None]).numpy()[0]
    ref = librosa.decompose.nn_filter(mel.T, k=5, aggregate=np.median, metric="euclidean").T
    np.testing.assert_array_equal(nn_filter(mel, k=5, select="librosa"), ref)
    nearest = neighbours(mel, k=5).sort(dim=-1).values
    picked = neighbours(mel, k=5, select="librosa")
    assert (nearest != picked).any(dim=1).float().mean() > 0.3                # often not the 5 nearest


def test_width_and_short_clips():
    S = np.random.RandomState(2).rand(30, 4).astype(np.float32)
    idx = neighbours(S, k=3, width=4).numpy()
    assert (np.abs(idx - np.arange(30)[:, None]) >= 4).all()
    for select in ("nearest", "librosa"):                                   # distances in row blocks
        assert (neighbours(S, k=3, width=2, select=select, block=7) ==
                neighbours(S, k=3, width=2, select=select)).all()
    np.testing.assert_array_equal(nn_filter(S[:1], k=5), S[:1])              # no neighbours: unchanged
    assert neighbours(S[:3], k=5).shape == (3, 2)                            # k capped at T - 1


def test_feature_config_nnf_section():
    config = FeatureConfig.from_dict({"n_mels": 128, "deltas": 1, "nnf": {"output": "stack"}})
    assert config.dim == 2 * 128 * 2 and config.nnf.k == 5 and config.nnf.metric == "euclidean"
    assert FeatureConfig.from_dict({"n_mels": 128, "nnf": {}}).dim == 128
    assert FeatureConfig.from_dict({"n_mels": 128, "nnf": None}).nnf is None
    for bad, message in [({"nnf": {"k": 0}}, "nnf.k"), ({"nnf": {"metric": "manhattan"}}, "nnf.metric"),
                         ({"nnf": {"output": "both"}}, "nnf.output"), ({"nnf": {"K": 5}}, "unknown nnf"),
                         ({"nnf": {"select": "first"}}, "nnf.select"), ({"nnf": 5}, "nnf must be a mapping"),
                         ({"type": "waveform", "nnf": {}}, "not waveform")]:
        with pytest.raises(FeatureConfigError, match=message):
            FeatureConfig.from_dict(bad)
