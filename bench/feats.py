#!/usr/bin/env python3
"""Feature-step throughput: steps/make_feats.sh with nj=1 and nj=2 against a plain
single-process librosa loop computing the same log-mel features (what the reference baselines do).

Prints one JSON line. Every figure is wall-clock time of the whole thing a user would run
(process start-up, imports and, for librosa, its numba compilation included), measured in this
run on the same synthetic clips (10 s, 48 kHz, stereo, 24 bit, like Task 1A).

  python bench/feats.py [--clips 600]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import kaldiio
import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(ROOT, "egs", "dcase2018_task1", "conf", "feats", "logmel40_48k.yaml")

LIBROSA_LOOP = """
import sys, time, numpy as np, soundfile as sf, librosa
paths = [line.split()[1] for line in open(sys.argv[1])]
feats = {}
for p in paths:
    y, sr = sf.read(p, dtype="float32", always_2d=True)
    mel = librosa.feature.melspectrogram(y=y.mean(axis=1), sr=sr, n_fft=2048, hop_length=960, win_length=1920,
                                         window="hamming", power=1.0, n_mels=40, fmin=0, fmax=24000)
    feats[p.rsplit("/", 1)[1][:-4]] = np.log(mel + np.finfo(float).eps).T
np.savez(sys.argv[2], **feats)
"""


def make_clips(directory, n):
    rng = np.random.RandomState(0)
    os.makedirs(os.path.join(directory, "audio"))
    lines = []
    for i in range(n):
        path = os.path.join(directory, "audio", f"clip{i:04d}.wav")
        sf.write(path, (rng.randn(480000, 2) * 0.05).astype(np.float32), 48000, subtype="PCM_24")
        lines.append(f"clip{i:04d} {path}\n")
    data = os.path.join(directory, "data")
    os.makedirs(data)
    with open(os.path.join(data, "wav.scp"), "w") as f:
        f.writelines(sorted(lines))
    return data


def timed(cmd, env=None):
    t0 = time.time()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.time() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clips", type=int, default=600)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = make_clips(tmp, args.clips)
        seconds = {}
        for nj in (1, 2):
            out = os.path.join(tmp, f"dump_nj{nj}")
            step = f". {ROOT}/path.sh && make_feats.sh --nj {nj} --feat_config {CONF} {data} {out}"
            seconds[f"nj{nj}"] = timed(["bash", "-c", step])
        ref_out = os.path.join(tmp, "ref.npz")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        seconds["librosa"] = timed([sys.executable, "-c", LIBROSA_LOOP, os.path.join(data, "wav.scp"), ref_out], env)
        ref = np.load(ref_out)
        ours = kaldiio.load_scp(os.path.join(tmp, "dump_nj1", "feats.scp"))
        max_diff = max(float(np.abs(ours[u] - ref[u]).max()) for u in ours)
    rate = {k: args.clips / v for k, v in seconds.items()}
    print(json.dumps({
        "bench": "feats", "what": "Task 1A log-mel (40 bands, 40/20 ms, n_fft 2048), 10 s 48 kHz stereo clips",
        "clips": args.clips, "cores": os.cpu_count(),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "clips_per_s": {k: round(v, 1) for k, v in rate.items()},
        "ratio_vs_librosa": {"nj1": round(rate["nj1"] / rate["librosa"], 2), "nj2": round(rate["nj2"] / rate["librosa"], 2)},
        "max_abs_diff_vs_librosa": max_diff,
    }))


if __name__ == "__main__":
    main()
