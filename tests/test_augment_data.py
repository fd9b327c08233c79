"""steps/augment_data.sh and dcase_tk.bin.augment_data: pitch-shift / time-stretch copies of a
data dir, run through the local launcher as a recipe would."""
import os
import subprocess

import numpy as np
import pytest
import soundfile as sf

from dcase_tk import cli
from dcase_tk.bin import augment_data
from dcase_tk.data.datadir import DataDir
from dcase_tk.io.synth import harmonic_tone
from dcase_tk.io.table import read_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 16000
TONE_HZ = 1000.0
SAMPLES = RATE // 2                                    # 0.5 s
NEW_UTTS = ["a01-ps-2", "a01-ps2", "a01-ts0.9", "a01-ts1.1", "a02-ps-2", "a02-ps2", "a02-ts0.9",
            "a02-ts1.1", "b01-ps-2", "b01-ps2", "b01-ts0.9", "b01-ts1.1"]


def tone_dir(path):
    """Three 0.5 s, 16 kHz clips of a 1 kHz tone (b01 stereo); a01 and a02 share group g1."""
    path.mkdir()
    tone = harmonic_tone(SAMPLES, RATE, TONE_HZ, {1: 0.5}).astype(np.float32)
    channels = {"a01": 1, "a02": 1, "b01": 2}
    for utt, n in channels.items():
        sf.write(path / f"{utt}.wav", np.stack([tone] * n, axis=1), RATE, subtype="PCM_16")
    tables = {
        "wav.scp": {u: str(path / f"{u}.wav") for u in channels},
        "utt2spk": {"a01": "g1", "a02": "g1", "b01": "g2"},
        "utt2label": {"a01": "tone", "a02": "tone", "b01": "hum"},
        "utt2device": {"a01": "a", "a02": "b", "b01": "a"},
        "utt2channels": {u: str(n) for u, n in channels.items()},
        "utt2dur": {u: "0.500" for u in channels},
    }
    events = {"a01": ["0.100 0.400 tone"], "b01": ["0.000 0.500 hum", "0.200 0.300 tone"]}
    DataDir(tables, events, classes=["tone", "hum"], extras={"missing": b"x1\n"}).save(str(path / "data"))
    return path / "data"


def step(data, out, *options):
    command = (f". {ROOT}/path.sh && augment_data.sh --nj 2 {' '.join(options)} {data} {out}")
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True)


def peak_hz(path):
    """Frequency of the largest spectral peak of the first channel (Hann window, 8x zero padding)."""
    audio, rate = sf.read(path, always_2d=True)
    x = audio[:, 0] * np.hanning(len(audio))
    spectrum = np.abs(np.fft.rfft(x, n=8 * len(x)))
    return np.argmax(spectrum) * rate / (8 * len(x))


def test_step_writes_copies_with_tables_events_groups_and_skips_a_rerun(tmp_path):
    data = tone_dir(tmp_path / "src")
    out = tmp_path / "aug"
    first = step(data, out, "--pitch_shifts", "'-2 2'", "--time_stretches", "'0.9 1.1'")
    assert first.returncode == 0, first.stdout + first.stderr

    wav_scp = read_table(out / "wav.scp")
    assert list(wav_scp) == NEW_UTTS                                   # byte order, originals left out
    assert all(path == str(out / "wav" / f"{u}.wav") for u, path in wav_scp.items())
    assert read_table(out / "utt2spk") == {u: "g2" if u.startswith("b") else "g1" for u in NEW_UTTS}
    assert (out / "spk2utt").read_text().splitlines()[1] == "g2 b01-ps-2 b01-ps2 b01-ts0.9 b01-ts1.1"
    assert read_table(out / "utt2device")["a02-ts1.1"] == "b"
    assert read_table(out / "utt2label")["b01-ps2"] == "hum"
    assert (out / "classes.txt").read_text() == "tone\nhum\n"
    assert (out / "missing").read_text() == "x1\n"                     # other files copied through

    durations = {u: float(d) for u, d in read_table(out / "utt2dur").items()}
    for utt, path in wav_scp.items():
        info = sf.info(path)
        assert info.samplerate == RATE and info.channels == (2 if utt.startswith("b") else 1)
        rate = float(utt.split("-ts")[1]) if "-ts" in utt else 1.0
        assert abs(info.frames - SAMPLES / rate) <= 512                # within a frame
        assert durations[utt] == pytest.approx(info.frames / RATE, abs=1e-3)
    assert durations["a01-ts0.9"] == pytest.approx(0.5 / 0.9, abs=1e-3)

    for shift in (-2, 2):
        assert peak_hz(wav_scp[f"a01-ps{shift}"]) == pytest.approx(TONE_HZ * 2 ** (shift / 12), rel=0.02)
    assert peak_hz(wav_scp["a01-ts0.9"]) == pytest.approx(TONE_HZ, rel=0.02)   # stretching keeps pitch

    events = (out / "events").read_text().splitlines()
    assert "a01-ts0.9 0.111 0.444 tone" in events and "a01-ts1.1 0.091 0.364 tone" in events
    assert "a01-ps2 0.100 0.400 tone" in events
    assert [e for e in events if e.startswith("b01-ts1.1 ")] == ["b01-ts1.1 0.000 0.455 hum",
                                                                 "b01-ts1.1 0.182 0.273 tone"]
    assert not any(e.startswith("a02") for e in events)

    valid = subprocess.run(["bash", "-c", f". {ROOT}/path.sh && validate_data_dir.sh {out}"],
                           capture_output=True, text=True)
    assert valid.returncode == 0 and valid.stdout == f"{out}: OK (12 utterances, 2 groups)\n", valid.stderr

    mtimes = {p: p.stat().st_mtime_ns for p in (out / "wav").iterdir()}
    again = step(data, out, "--pitch_shifts", "'-2 2'", "--time_stretches", "'0.9 1.1'")
    assert again.returncode == 0 and "up to date (inputs unchanged); skipping" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (out / "wav").iterdir()} == mtimes
    (out / "wav" / ".tmp.a02-ps3.wav.x1y2").write_bytes(b"RIFF half")      # left by a killed job
    changed = step(data, out, "--pitch_shifts", "3", "--time_stretches", "''")
    assert changed.returncode == 0, changed.stderr
    assert not [p.name for p in (out / "wav").iterdir() if p.name.startswith(".tmp")]
    assert sf.info(out / "wav" / "a02-ps3.wav").frames == SAMPLES
    assert list(read_table(out / "wav.scp")) == ["a01-ps3", "a02-ps3", "b01-ps3"]
    assert not (out / "utt2dur").read_text().count("ts")


def test_step_names_the_utterance_and_file_of_bad_audio(tmp_path):
    data = tone_dir(tmp_path / "src")
    (tmp_path / "src" / "b01.wav").write_bytes(b"RIFF not really")
    broken = step(data, tmp_path / "aug", "--time_stretches", "1.1", "--pitch_shifts", "''")
    assert broken.returncode != 0
    assert "utterance 'b01'" in broken.stderr and f"{tmp_path}/src/b01.wav" in broken.stderr
    assert not (tmp_path / "aug" / "wav.scp").exists()
    assert not [p for p in (tmp_path / "aug" / "wav").iterdir() if p.name.startswith(".tmp")]

    (tmp_path / "src" / "a02.wav").unlink()
    missing = step(data, tmp_path / "aug", "--time_stretches", "1.1")
    assert missing.returncode != 0
    assert f"utterance 'a02': {tmp_path}/src/a02.wav" in missing.stderr


@pytest.mark.parametrize("options, message", [
    (["--time_stretches", "0.9 0"], "--time_stretches: rate 0 must be > 0"),
    (["--time_stretches", "-1.1"], "rate -1.1 must be > 0"),
    (["--pitch_shifts", "2 x"], "--pitch_shifts: 'x' is not a number"),
    (["--pitch_shifts", "0"], "unchanged copy"),
    (["--pitch_shifts", "2 2.0"], "factors repeated (as copies -ps2)"),
    ([], "nothing to do"),
    (["--pitch_shifts", "2", "--job", "3", "--num_jobs", "2"], "--job 3: must be between 1 and --num_jobs 2"),
])
def test_bad_options_are_one_clear_error(tmp_path, options, message):
    argv = (options if "--job" in options else ["--check", *options]) + [str(tmp_path), str(tmp_path / "o")]
    with pytest.raises(cli.ToolError) as error:
        augment_data.main(argv)
    assert message in str(error.value)


def test_job_split_covers_every_utterance_once():
    utts = [f"u{i}" for i in range(7)]
    jobs = [augment_data.job_utts(utts, j, 3) for j in (1, 2, 3)]
    assert jobs == [["u0", "u3", "u6"], ["u1", "u4"], ["u2", "u5"]]


def test_events_scale_by_the_inverse_rate_and_stay_within_the_clip():
    scaled = augment_data.scaled_events(["1.000 2.000 Dog", "8.000 10.000 Cat"], 1.25, 8.0)
    assert scaled == ["0.800 1.600 Dog", "6.400 8.000 Cat"]
