"""Multichannel clips as one utterance per channel: the split data dir, per-channel features
through the real feature step, and fusing channel posteriors back into clip rows."""
import os
import subprocess

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from dcase_tk.bin import fuse_channels, split_channels
from dcase_tk.cli import ToolError
from dcase_tk.data.datadir import load
from dcase_tk.data.safety import DataDirError
from dcase_tk.io.scores import write_scores

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 16000


def four_channel_clip(path, seed):
    """Each channel a different tone, so that the features tell the channels apart."""
    t = np.arange(RATE) / RATE
    noise = 0.01 * np.random.default_rng(seed).standard_normal((RATE, 4))
    tones = np.stack([0.3 * np.sin(2 * np.pi * f * t) for f in (300, 900, 2700, 5000)], axis=1)
    sf.write(path, (tones + noise).astype(np.float32), RATE)


def make_data(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for clip in ("s1_a", "s2_b"):
        four_channel_clip(tmp_path / f"{clip}.wav", seed=len(clip))
    (data / "wav.scp").write_text(f"s1_a {tmp_path}/s1_a.wav\ns2_b {tmp_path}/s2_b.wav\n")
    (data / "utt2label").write_text("s1_a cooking\ns2_b eating\n")
    (data / "utt2spk").write_text("s1_a session1\ns2_b session2\n")
    (data / "classes.txt").write_text("cooking\neating\n")
    return data


def test_split_channels_and_per_channel_features(tmp_path):
    data = make_data(tmp_path)
    split_channels.main(["--verbose", "0", "--channels", "1,2,3,4", str(data), str(tmp_path / "ch")])
    ch = load(tmp_path / "ch")
    assert ch.utts == [f"{c}-ch{k}" for c in ("s1_a", "s2_b") for k in range(1, 5)]
    assert ch.tables["utt2label"]["s2_b-ch3"] == "eating" and ch.tables["utt2spk"]["s1_a-ch4"] == "session1"
    assert ch.tables["utt2channel"]["s2_b-ch3"] == "3" and ch.tables["utt2clip"]["s2_b-ch3"] == "s2_b"
    assert ch.spk2utt()["session2"] == [f"s2_b-ch{k}" for k in range(1, 5)]     # a clip stays in one group
    with pytest.raises(DataDirError, match="already has utt2channel"):
        split_channels.main(["--verbose", "0", "--channels", "1", str(tmp_path / "ch"), str(tmp_path / "again")])
    with pytest.raises(DataDirError, match="comma-separated"):
        split_channels.main(["--verbose", "0", "--channels", "1-4", str(data), str(tmp_path / "bad")])

    (tmp_path / "f.yaml").write_text(f"sample_rate: {RATE}\nwin_length_s: 0.04\nhop_length_s: 0.02\n"
                                     "n_fft: 1024\nn_mels: 40\n")
    cmd = (f". {ROOT}/path.sh && make_feats.sh --nj 2 --feat_config {tmp_path}/f.yaml "
           f"{tmp_path}/ch {tmp_path}/dump")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    feats = kaldiio.load_scp(str(tmp_path / "dump" / "feats.scp"))
    assert sorted(feats) == ch.utts and (tmp_path / "dump" / "utt2clip").read_text() == (tmp_path / "ch" / "utt2clip").read_text()
    # channel k of the clip, written as a mono file, gives the same features as <clip>-chk
    audio, _ = sf.read(tmp_path / "s1_a.wav", dtype="float32")
    mono = tmp_path / "mono"
    mono.mkdir()
    for k in range(4):
        sf.write(mono / f"c{k + 1}.wav", audio[:, k], RATE)
    (mono / "wav.scp").write_text("".join(f"c{k} {mono}/c{k}.wav\n" for k in range(1, 5)))
    subprocess.run(["bash", "-c", f". {ROOT}/path.sh && python -m dcase_tk.bin.compute_feats --config "
                    f"{tmp_path}/f.yaml {mono} {tmp_path}/mono.ark"], check=True, capture_output=True)
    reference = kaldiio.load_scp(str(tmp_path / "mono.scp"))
    for k in range(1, 5):
        np.testing.assert_allclose(feats[f"s1_a-ch{k}"], reference[f"c{k}"], rtol=1e-5, atol=1e-5)
    peaks = [feats[f"s1_a-ch{k}"].mean(0).argmax() for k in range(1, 5)]
    assert peaks == sorted(peaks) and len(set(peaks)) == 4          # each channel has its own tone


def test_a_channel_the_audio_lacks_is_a_bad_utterance(tmp_path):
    data = make_data(tmp_path)
    split_channels.main(["--verbose", "0", "--channels", "4,5", str(data), str(tmp_path / "ch")])
    (tmp_path / "f.yaml").write_text(f"sample_rate: {RATE}\nn_fft: 1024\n")
    subprocess.run(["bash", "-c", f". {ROOT}/path.sh && python -m dcase_tk.bin.compute_feats --config "
                    f"{tmp_path}/f.yaml {tmp_path}/ch {tmp_path}/raw.ark"], check=True, capture_output=True)
    bad = dict(line.split(" ", 1) for line in (tmp_path / "raw.bad").read_text().splitlines())
    assert sorted(bad) == ["s1_a-ch5", "s2_b-ch5"] and "asks for channel 5, the audio has 4" in bad["s1_a-ch5"]


def test_fusing_channel_posteriors(tmp_path):
    ch = tmp_path / "ch"
    ch.mkdir()
    utts = [f"{c}-ch{k}" for c in ("x", "y") for k in (1, 2)]
    (ch / "utt2clip").write_text("".join(f"{u} {u[0]}\n" for u in utts))
    (ch / "utt2channel").write_text("".join(f"{u} {u[-1]}\n" for u in utts))
    dec = tmp_path / "dec"
    dec.mkdir()
    (dec / "classes.txt").write_text("a\nb\n")
    write_scores(dec / "score", utts, [[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6]])
    fuse_channels.main(["--verbose", "0", str(ch), str(dec), str(tmp_path / "mean")])
    assert (tmp_path / "mean" / "score").read_text() == "x 0.600000 0.400000\ny 0.300000 0.700000\n"
    assert (tmp_path / "mean" / "decision").read_text() == "x a\ny b\n"
    fuse_channels.main(["--verbose", "0", "--channels", "2", str(ch), str(dec), str(tmp_path / "ch2")])
    assert (tmp_path / "ch2" / "score").read_text() == "x 0.300000 0.700000\ny 0.400000 0.600000\n"
    fuse_channels.main(["--verbose", "0", "--each_channel", "true", str(ch), str(dec), str(tmp_path / "f")])
    assert (tmp_path / "f_ch2" / "score").read_text() == (tmp_path / "ch2" / "score").read_text()
    assert (tmp_path / "f_ch1" / "decision").read_text() == "x a\ny b\n"
    assert (tmp_path / "f" / "score").read_text() == (tmp_path / "mean" / "score").read_text()
    fuse_channels.main(["--verbose", "0", "--how", "gmean", str(ch), str(dec), str(tmp_path / "g")])
    x = np.sqrt([0.9 * 0.3, 0.1 * 0.7])
    row = [float(v) for v in (tmp_path / "g" / "score").read_text().split()[1:3]]
    assert row == pytest.approx(list(x / x.sum()), abs=1e-6)
    write_scores(dec / "score", utts[:3], [[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    with pytest.raises(ToolError, match=r"clip 'y' has channels \[1\] scored, expected \[1, 2\]"):
        fuse_channels.main(["--verbose", "0", str(ch), str(dec), str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()
