"""Features: torch log-mel/MFCC against librosa, channel handling, deltas, the job tool, CMVN."""
import os
import subprocess
import sys

import kaldiio
import librosa
import numpy as np
import pytest
import scipy.fft
import soundfile as sf
import yaml

from dcase_tk.features import cmvn
from dcase_tk.features.config import FeatureConfig, FeatureConfigError
from dcase_tk.features.spectral import FeatureExtractor, deltas
from dcase_tk.io.audio import read_audio, select_channels


@pytest.fixture(scope="module")
def noise():
    return np.random.RandomState(0).randn(48000).astype(np.float32) * 0.1


def test_logmel_matches_librosa(noise):
    cfg = FeatureConfig.from_dict({"sample_rate": 48000, "n_mels": 40})
    ours = FeatureExtractor(cfg)(noise[None])
    ref = librosa.feature.melspectrogram(y=noise, sr=48000, n_fft=2048, hop_length=960, win_length=1920,
                                         window="hamming", power=1.0, n_mels=40)
    ref = np.log(ref + cfg.log_offset).T
    assert ours.shape == (1 + len(noise) // 960, 40)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_mfcc_with_deltas_and_two_channels(noise):
    cfg = FeatureConfig.from_dict({"sample_rate": 48000, "type": "mfcc", "n_mfcc": 13, "deltas": 2,
                                   "channels": ["left", "right"]})
    stereo = np.stack([noise, 0.5 * noise], axis=1)
    feats = FeatureExtractor(cfg)(select_channels(stereo, cfg.channels))
    assert feats.shape[1] == cfg.dim == 2 * 13 * 3
    logmel = FeatureExtractor(FeatureConfig.from_dict({"sample_rate": 48000}))(noise[None])
    ref_mfcc = scipy.fft.dct(logmel, type=2, norm="ortho", axis=1)[:, :13]
    np.testing.assert_allclose(feats[:, :13], ref_mfcc, atol=1e-3)
    ref_delta = librosa.feature.delta(ref_mfcc.T, width=5, mode="nearest").T
    np.testing.assert_allclose(feats[:, 13:26], ref_delta, atol=1e-3)
    # the right channel is the left at half amplitude: log-mel shifted by log(0.5), so c0 differs
    assert not np.allclose(feats[:, 0], feats[:, 39])


def test_waveform_features_are_the_samples_in_blocks():
    cfg = FeatureConfig.from_dict({"type": "waveform", "sample_rate": 1000, "hop_length_s": 0.004,
                                   "channels": ["left", "right"]})
    audio = np.stack([np.arange(10), 100 + np.arange(10)]).astype(np.float32)   # 2 channels
    feats = FeatureExtractor(cfg)(audio)
    assert cfg.dim == 8 and feats.shape == (2, 8)             # 2 whole blocks of 4; 2 samples dropped
    assert feats[1].tolist() == [4, 5, 6, 7, 104, 105, 106, 107]


def test_channel_derivation():
    stereo = np.array([[1.0, 3.0], [2.0, -2.0]], dtype=np.float32)
    out = select_channels(stereo, ("mono", "left", "right", "mid", "side"))
    np.testing.assert_allclose(out, [[2, 0], [1, 2], [3, -2], [2, 0], [-1, 2]])
    mono = select_channels(stereo[:, :1], ("left", "right", "side"))
    np.testing.assert_allclose(mono, [[1, 2], [1, 2], [0, 0]])


def test_deltas_of_a_ramp_are_its_slope():
    ramp = np.arange(20, dtype=np.float64)[:, None] * 3.0
    d = deltas(ramp)
    np.testing.assert_allclose(d[2:-2, 0], 3.0)


def test_resampling_on_read(tmp_path, noise):
    path = tmp_path / "x.wav"
    sf.write(path, noise[:44100], 44100, subtype="PCM_24")
    audio, rate = read_audio(str(path), 48000)
    assert rate == 48000 and audio.shape == (48000, 1)


@pytest.mark.parametrize("bad, message", [
    ({"type": "plp"}, "type must be"),
    ({"channels": ["front"]}, "channels must be"),
    ({"win_length_s": 0.1}, "longer than n_fft"),
    ({"n_mel": 40}, "unknown feature option"),
])
def test_bad_feature_config(bad, message):
    with pytest.raises(FeatureConfigError, match=message):
        FeatureConfig.from_dict(bad)


def test_compute_feats_tool_lists_unreadable_audio(tmp_path, noise):
    sf.write(tmp_path / "good.wav", noise, 48000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "wav.scp").write_text(
        f"broken {tmp_path}/broken.wav\ngood {tmp_path}/good.wav\npiped cat {tmp_path}/good.wav |\n")
    (tmp_path / "f.yaml").write_text("sample_rate: 48000\nn_mels: 20\n")
    ark = tmp_path / "out" / "raw.1.ark"
    subprocess.run([sys.executable, "-m", "dcase_tk.bin.compute_feats", "--config", str(tmp_path / "f.yaml"),
                    "--n_mels", "24", str(tmp_path / "data"), str(ark)], check=True, capture_output=True)
    feats = kaldiio.load_scp(str(tmp_path / "out" / "raw.1.scp"))
    assert sorted(feats) == ["good", "piped"]
    assert feats["good"].shape == (51, 24)          # the command-line override won
    np.testing.assert_array_equal(feats["good"], feats["piped"])
    bad = (tmp_path / "out" / "raw.1.bad").read_text()
    assert bad.startswith("broken ") and "broken.wav" in bad
    assert (tmp_path / "out" / "raw.1.num_frames").read_text() == "good 51\npiped 51\n"
    assert not list((tmp_path / "out").glob(".tmp.*"))


def test_cmvn_is_kaldi_format_and_matches_numpy(tmp_path):
    rng = np.random.RandomState(1)
    mats = [rng.randn(n, 5) * 3 + 7 for n in (10, 30, 17)]
    stats = cmvn.accumulate(mats)
    cmvn.write(str(tmp_path / "cmvn.ark"), stats)
    back = kaldiio.load_mat(str(tmp_path / "cmvn.ark"))      # what Kaldi's tools would read
    assert back.shape == (2, 6) and back[0, -1] == 57
    mean, std = cmvn.mean_std(cmvn.read(str(tmp_path / "cmvn.ark")))
    allf = np.concatenate(mats)
    np.testing.assert_allclose(mean, allf.mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, allf.std(0), rtol=1e-5)
    with pytest.raises(ValueError, match="dimension"):
        cmvn.accumulate([np.zeros((2, 3)), np.zeros((2, 4))])


def test_feature_step_fails_above_the_bad_audio_fraction(tmp_path, noise):
    sf.write(tmp_path / "good.wav", noise, 48000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really")
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text(f"a {tmp_path}/broken.wav\nb {tmp_path}/good.wav\n")
    (data / "utt2label").write_text("a x\nb y\n")
    (data / "classes.txt").write_text("x\ny\n")
    (tmp_path / "f.yaml").write_text("sample_rate: 48000\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def step(fraction):
        cmd = (f". {root}/path.sh && make_feats.sh --nj 2 --max_bad_fraction {fraction} "
               f"--feat_config {tmp_path}/f.yaml {data} {tmp_path}/dump")
        return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)

    r = step(0.1)
    assert r.returncode != 0 and "1 of 2 utterances" in r.stderr and "broken.wav" in r.stderr
    assert not (tmp_path / "dump" / "feats.scp").exists()
    r = step(0.5)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dump" / "feats.scp").read_text().split()[0] == "b"
    assert (tmp_path / "dump" / "utt2label").read_text() == "b y\n"          # the dump dir is consistent
    assert (tmp_path / "dump" / "bad_utts").read_text().startswith("a ")


def test_silence_trimming_cuts_leading_and_trailing_silence(tmp_path):
    rate = 16000
    t = np.arange(rate // 2) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    quiet = 1e-4 * np.random.default_rng(0).standard_normal(rate)       # 1 s, 74 dB below the tone
    audio = np.concatenate([quiet, tone, quiet]).astype(np.float32)
    sf.write(tmp_path / "clip.wav", audio, rate)
    base = {"sample_rate": rate, "win_length_s": 0.025, "hop_length_s": 0.01, "n_fft": 512, "n_mels": 20}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "wav.scp").write_text(f"clip {tmp_path}/clip.wav\nsilent {tmp_path}/silent.wav\n")
    sf.write(tmp_path / "silent.wav", np.zeros(rate // 4, dtype=np.float32), rate)
    frames = {}
    for name, trim in (("plain", 0), ("trimmed", 40)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**base, "trim_db": trim}))
        subprocess.run([sys.executable, "-m", "dcase_tk.bin.compute_feats", "--config", str(tmp_path / f"{name}.yaml"),
                        str(tmp_path / "data"), str(tmp_path / name / "raw.1.ark")], check=True, capture_output=True)
        frames[name] = kaldiio.load_scp(str(tmp_path / name / "raw.1.scp"))
    assert frames["plain"]["clip"].shape[0] == 251
    assert 50 <= frames["trimmed"]["clip"].shape[0] <= 56          # the 0.5 s tone, within a window or two
    assert frames["trimmed"]["silent"].shape == frames["plain"]["silent"].shape    # all silent: kept whole
    with pytest.raises(FeatureConfigError, match="trim_db"):
        FeatureConfig.from_dict({"trim_db": -3})


def test_global_cmvn_step_follows_re_extracted_features(tmp_path, noise):
    """Features re-extracted with another config can leave feats.scp word for word the same: the
    statistics step must still see new arks, and recompute a cmvn.ark that went missing."""
    sf.write(tmp_path / "a.wav", noise, 48000)
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text(f"a {tmp_path}/a.wav\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dump = tmp_path / "dump"

    def run(step):
        r = subprocess.run(["bash", "-c", f". {root}/path.sh && {step}"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    def stats():
        return kaldiio.load_mat(str(dump / "cmvn.ark"))

    for fmin in (0, 500):
        (tmp_path / f"f{fmin}.yaml").write_text(f"sample_rate: 48000\nfmin: {fmin}\n")
    run(f"make_feats.sh --nj 1 --feat_config {tmp_path}/f0.yaml {data} {dump} && compute_global_cmvn.sh {dump}")
    first, scp = stats(), (dump / "feats.scp").read_text()
    run(f"make_feats.sh --nj 1 --feat_config {tmp_path}/f500.yaml {data} {dump} && compute_global_cmvn.sh {dump}")
    assert (dump / "feats.scp").read_text() == scp and not np.allclose(stats(), first)
    second = stats()
    (dump / "cmvn.ark").unlink()
    run(f"compute_global_cmvn.sh {dump}")
    np.testing.assert_array_equal(stats(), second)
