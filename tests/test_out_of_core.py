"""Out-of-core data: features are written to and read from ark/scp one utterance at a time, so
no step holds the corpus in memory. Each test makes features several times larger than a memory
cap, runs the real tools on them in a child process under that cap, enforced by the kernel, and
checks that the child's peak resident memory stays under the cap.

The kernel enforces the cap with ``RLIMIT_DATA`` (private writable memory: the heap and the
anonymous mappings, where matrices read from an ark live): an allocation past it fails, so a tool
that kept the corpus dies with a MemoryError. ``RLIMIT_AS`` cannot be used: torch's libraries
reserve far more address space than they touch (train_nnet: ~930 MB virtual for ~450 MB
resident; a 600 MB ``RLIMIT_AS`` fails while importing torch), and ``RLIMIT_RSS`` is not
enforced by Linux. The peak is ``ru_maxrss`` from ``wait4`` on the child: the largest resident
set of the child and of each descendant it waited for, so DataLoader workers are covered (each
process of the tree is under the cap, which RLIMIT_DATA, inherited, also enforces per process).

The caps are measured, not fixed, so the tests hold for other torch builds: a run on a small
corpus gives the baseline peak, the cap is that plus a margin, and the large corpus is at least
twice the cap. Measured here (2 CPUs, torch 2.13 CPU build):

- train_nnet: baseline 447-449 MiB (32 clips); cap 512-513 MiB; corpus 1024-1026 MiB (clips of
  1 MiB); peak 451-458 MiB with num_workers 0 and with 2; compute_global_cmvn on it: 40 MiB.
  Keeping every matrix read (in FeatureSet, only in validation, or only in the workers) fails
  with a MemoryError under the cap; without the cap such runs peak at 860-1540 MiB.
- compute_feats: 240 MiB for 40 clips (146 MiB ark) and for 164 clips (601 MiB ark, sized to
  2.2 caps); cap 272 MiB. The baseline was 300 MiB late in a full CI run, hence the sizing.
  Keeping the features of every utterance: 819 MiB without the cap.

16-24 s on 2 shared CPUs; the large arks are deleted at the end.
"""
import json
import math
import os
import shutil
import subprocess
import sys

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import yaml

from helpers import ROOT

MiB = 1 << 20
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "DCASE_TK_NUM_THREADS": "1"}

CLASSES = ["a", "b"]
CLIP_FRAMES, DIM = 4096, 64          # 1 MiB of float32 features a clip
CROP = 64                            # the training input: a random window of 64 frames
BATCH = 16                           # clips per training batch and per validation batch
# Memory that depends on the batch (whole clips read for one batch) is in the baseline, whose
# corpus holds two batches; what is left to the margin is allocator noise (6 MiB measured).
TRAIN_MARGIN = 64 * MiB
# a tiny CNN on 64 x 64 crops: reading a clip costs more than training on it
SYSTEM = {
    "input": {"frames": CROP, "crop": "random"},
    "model": {"name": "cnn_baseline", "filters": [4, 8], "kernel_size": 3,
              "pool_sizes": [[4, 4], [4, 4]], "hidden": 16, "dropout": 0.0},
    "training": {"batch_size": BATCH, "epochs": 1, "lr": 0.01, "seed": 0},
    "decode": {"mode": "fixed", "batch_size": BATCH},
}


# Runs the tool and reports its peak. It must be a fresh process, not the pytest process itself:
# Linux carries a process's high-water RSS across exec, so a tool forked straight from pytest
# would report pytest's own resident set (770 MiB late in a full run) as its peak. This small
# process forks the tool instead, and the tool's peak is then its own.
MEASURE = """
import json, os, resource, subprocess, sys
out, cap, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def limit():
    if cap:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
proc = subprocess.Popen(cmd, preexec_fn=limit)
_, status, usage = os.wait4(proc.pid, 0)
with open(out, "w") as f:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024], f)  # KiB on Linux
"""


def run_capped(cmd, log, cap=None, timeout=300):
    """Run ``cmd`` in the repository root, output to ``log``, its private writable memory
    limited to ``cap`` bytes (none if None); returns ``(exit code, peak RSS in bytes of it and
    its waited-for descendants)``."""
    result = f"{log}.peak.json"
    with open(log, "w") as out:
        subprocess.run([sys.executable, "-c", MEASURE, result, str(cap or 0), *cmd], cwd=ROOT, env=ENV,
                       stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=True)
    with open(result) as f:
        code, peak = json.load(f)
    return code, peak


def rounded_cap(peak, margin):
    return math.ceil((peak + margin) / MiB) * MiB


def mib(n):
    return f"{n / MiB:.0f} MiB"


# ------------------------------------------------------------------------------------- training

def write_dump(directory, n_clips, seed=0):
    """A dump dir of ``n_clips`` clips of CLIP_FRAMES x DIM, written one clip at a time: windows
    of one random block, the class adding 1 to 8 of the dims (something to learn). Returns the
    size of the ark in bytes."""
    directory.mkdir(parents=True)
    block = np.random.default_rng(seed).standard_normal((CLIP_FRAMES + n_clips, DIM)).astype(np.float32)
    labels = {}
    with kaldiio.WriteHelper(f"ark,scp:{directory}/feats.ark,{directory}/feats.scp") as writer:
        for i in range(n_clips):
            utt, label = f"clip{i:05d}", i % len(CLASSES)
            clip = block[i:i + CLIP_FRAMES].copy()
            clip[:, 8 * label:8 * label + 8] += 1.0
            writer(utt, clip)
            labels[utt] = CLASSES[label]
    (directory / "utt2label").write_text("".join(f"{u} {c}\n" for u, c in labels.items()))
    (directory / "classes.txt").write_text("".join(f"{c}\n" for c in CLASSES))
    return os.path.getsize(directory / "feats.ark")


def same_clips(train, directory):
    """A dump dir naming the same clips (the same ark), as the validation set: validation reads
    the whole corpus too."""
    if not directory.exists():
        directory.mkdir()
        for name in ("feats.scp", "utt2label", "classes.txt"):
            shutil.copy(train / name, directory / name)
    return directory


def cmvn_cmd(dump):
    return [sys.executable, "-m", "dcase_tk.bin.compute_global_cmvn", str(dump / "feats.scp"),
            str(dump / "cmvn.ark")]


def train_cmd(system, train, valid, exp):
    return [sys.executable, "-m", "dcase_tk.bin.train_nnet", "--config", str(system), "--cmvn",
            str(train / "cmvn.ark"), "--device", "cpu", str(train), str(valid), str(exp)]


def system_file(path, workers):
    path.write_text(yaml.safe_dump({**SYSTEM, "training": {**SYSTEM["training"], "num_workers": workers}}))
    return path


@pytest.fixture(scope="module")
def capped_corpus(tmp_path_factory):
    """``(root, cap, corpus bytes)``: the cap from a training run on two batches of clips, and a
    corpus of at least twice the cap with its global CMVN stats (computed under the cap)."""
    root = tmp_path_factory.mktemp("ooc")
    big = root / "big"
    try:
        small = root / "small"
        write_dump(small, 2 * BATCH)
        assert run_capped(cmvn_cmd(small), root / "small_cmvn.log")[0] == 0
        code, baseline = run_capped(train_cmd(system_file(root / "small.yaml", 0), small,
                                              same_clips(small, root / "small_cv"), root / "small_exp"),
                                    root / "small_train.log")
        assert code == 0, (root / "small_train.log").read_text()[-3000:]
        cap = rounded_cap(baseline, TRAIN_MARGIN)
        corpus = write_dump(big, math.ceil(2 * cap / (CLIP_FRAMES * DIM * 4)))
        code, peak = run_capped(cmvn_cmd(big), root / "big_cmvn.log", cap)
        assert code == 0, (root / "big_cmvn.log").read_text()[-3000:]
        assert peak < cap, f"compute_global_cmvn peaked at {mib(peak)}, over the cap {mib(cap)}"
        print(f"train_nnet baseline {mib(baseline)}, cap {mib(cap)}, corpus {mib(corpus)}; "
              f"compute_global_cmvn {mib(peak)}")
        yield root, cap, corpus
    finally:
        shutil.rmtree(big, ignore_errors=True)


@pytest.mark.parametrize("workers", [0, 2])
def test_training_streams_a_corpus_larger_than_its_memory_cap(capped_corpus, workers):
    root, cap, corpus = capped_corpus
    assert corpus >= 2 * cap
    train = root / "big"
    valid = same_clips(train, root / "big_cv")
    exp, log = root / f"exp_w{workers}", root / f"train_w{workers}.log"
    code, peak = run_capped(train_cmd(system_file(root / f"w{workers}.yaml", workers), train, valid, exp),
                            log, cap)
    text = log.read_text()
    print(f"num_workers {workers}: peak {mib(peak)}, cap {mib(cap)}, corpus {mib(corpus)}")
    assert code == 0, text[-3000:]
    n = len((train / "feats.scp").read_text().splitlines())
    assert f"train {n} clips, valid {n} clips, input {CROP} x {DIM}" in text
    assert "epoch 1/1" in text and "final.pt = epoch 1" in text
    assert (exp / "final.pt").is_file()
    assert yaml.safe_load((exp / "config.yaml").read_text())["training"]["num_workers"] == workers
    # one pass over the corpus learns the class (8 shifted dims): the data read was the data
    assert json.loads((exp / "final.json").read_text())["valid"]["accuracy"] > 0.9
    assert peak < cap, f"train_nnet peaked at {mib(peak)}, over the cap {mib(cap)}"


# ---------------------------------------------------------------------------- feature dumping

def test_feature_dumping_memory_does_not_grow_with_the_corpus(tmp_path):
    # Raw-waveform features: each audio sample becomes 4 bytes of features with no spectral work,
    # so a big ark costs little time. 8 files of 60 s at 16 kHz, 3.7 MiB of features each, named
    # in turn (consecutive utterances read different files).
    rng = np.random.default_rng(0)
    wavs = [tmp_path / f"w{k}.wav" for k in range(8)]
    for wav in wavs:
        sf.write(wav, 0.1 * rng.standard_normal(60 * 16000), 16000, subtype="PCM_16")
    config = tmp_path / "feats.yaml"
    config.write_text("type: waveform\nsample_rate: 16000\nhop_length_s: 0.004\n")

    def compute(clips, cap=None):
        """``(peak RSS, ark bytes)`` of compute_feats on ``clips`` utterances."""
        data = tmp_path / f"data{clips}"
        data.mkdir()
        (data / "wav.scp").write_text("".join(f"utt{i:04d} {wavs[i % 8]}\n" for i in range(clips)))
        ark, log = tmp_path / f"dump{clips}" / "raw_feats.1.ark", tmp_path / f"feats{clips}.log"
        code, peak = run_capped([sys.executable, "-m", "dcase_tk.bin.compute_feats", "--config",
                                 str(config), str(data), str(ark)], log, cap)
        assert code == 0, log.read_text()[-3000:]
        assert f"{clips} utterances, {clips * 15000} frames, 0 unusable" in log.read_text()
        size = os.path.getsize(ark)
        ark.unlink()
        return peak, size

    small_peak, small_ark = compute(40)
    cap = rounded_cap(small_peak, 32 * MiB)
    # enough clips for an ark of 2.2 caps: the baseline peak, and so the cap, differs between
    # machines and runs (240 MiB alone here, 300 MiB in a full CI run)
    clips = math.ceil(2.2 * cap / (small_ark / 40))
    peak, ark = compute(clips, cap)
    print(f"compute_feats: 40 clips {mib(small_peak)} (ark {mib(small_ark)}), {clips} clips "
          f"{mib(peak)} (ark {mib(ark)}), cap {mib(cap)}")
    assert peak < cap, f"compute_feats peaked at {mib(peak)}, over the cap {mib(cap)} (40 clips: {mib(small_peak)})"
    assert ark > 2 * cap
