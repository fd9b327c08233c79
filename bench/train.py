#!/usr/bin/env python3
"""Training throughput of Kong et al.'s cnn8 (published size, 320 x 64 log-mel clips): the
toolkit's trainer, reading every batch from a Kaldi ark through the DataLoader, against the
reference, a bare PyTorch loop over the same clips held in memory as one tensor.

Prints one JSON line per device (the CPU, and the GPU when there is one) with clips/s of both
and the ratio; the first step of each is a warm-up and is not timed.

  python bench/train.py [--clips 64] [--batch_size 16] [--steps 4] [--gpu_batch_size 128] [--gpu_steps 20]
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dcase_tk.cli import keep_freed_memory  # noqa: E402
from dcase_tk.decode.infer import DecodeConfig  # noqa: E402
from dcase_tk.features import cmvn  # noqa: E402
from dcase_tk.io.ark import ark_scp_writer  # noqa: E402
from dcase_tk.io.table import write_list, write_table  # noqa: E402
from dcase_tk.nnet import build_model  # noqa: E402
from dcase_tk.train import distributed  # noqa: E402
from dcase_tk.train.data import FeatureSet  # noqa: E402
from dcase_tk.train.trainer import Trainer, TrainConfig  # noqa: E402

FRAMES, DIM, CLASSES = 320, 64, [f"c{i}" for i in range(10)]


def make_dump(directory, n):
    rng = np.random.default_rng(0)
    os.makedirs(directory)
    mats = {f"u{i:04d}": rng.standard_normal((FRAMES, DIM)).astype(np.float32) for i in range(n)}
    with ark_scp_writer(os.path.join(directory, "feats.ark")) as writer:
        for utt, m in mats.items():
            writer(utt, m)
    write_table(os.path.join(directory, "utt2label"), {u: CLASSES[i % 10] for i, u in enumerate(mats)})
    write_list(os.path.join(directory, "classes.txt"), CLASSES)
    return cmvn.accumulate(list(mats.values()))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def toolkit_rate(tmp, stats, device, batch, steps, amp, workdir):
    """clips/s of Trainer epochs of ``steps`` batches (validation on 1 clip, checkpoints included)."""
    train = FeatureSet(os.path.join(tmp, "dump"), stats, FRAMES).with_targets(CLASSES)
    valid = FeatureSet(os.path.join(tmp, "valid"), stats).with_targets(CLASSES)
    times = []
    # epoch 1 (one step) warms up; the second fit resumes from its checkpoint and times epoch 2
    for epochs in (1, 2):
        cfg = TrainConfig.from_dict({"batch_size": batch, "steps_per_epoch": 1 if epochs == 1 else steps,
                                     "epochs": epochs, "amp": amp})
        torch.manual_seed(0)
        trainer = Trainer(build_model({"name": "cnn8"}, DIM, 10, FRAMES), cfg, workdir, CLASSES, "k",
                          FRAMES, DecodeConfig(), False, ctx=distributed.Context(device=device))
        trainer.resume()
        sync(device)
        t0 = time.perf_counter()
        trainer.fit(train, valid)
        sync(device)
        times.append(time.perf_counter() - t0)
    return batch * steps / times[-1]


def reference_rate(device, batch, steps, amp):
    """clips/s of a bare loop: in-memory tensor, Adam, cross-entropy, no checkpoints."""
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((batch, FRAMES, DIM)).astype(np.float32)).to(device)
    y = torch.arange(batch, device=device) % 10
    torch.manual_seed(0)
    model = build_model({"name": "cnn8"}, DIM, 10, FRAMES).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    t0 = 0.0
    for step in range(steps + 1):
        if step == 1:
            sync(device)
            t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    sync(device)
    return batch * steps / (time.perf_counter() - t0)


def describe(device):
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def main():
    keep_freed_memory()                      # as every dcase_tk tool does (see dcase_tk/cli.py)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--gpu_batch_size", type=int, default=128)
    p.add_argument("--gpu_steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    runs = [(torch.device("cpu"), args.batch_size, args.steps, False)]
    if torch.cuda.is_available():
        runs += [(torch.device("cuda"), args.gpu_batch_size, args.gpu_steps, amp) for amp in (False, True)]
    with tempfile.TemporaryDirectory() as tmp:
        clips = max(args.clips, args.gpu_batch_size if torch.cuda.is_available() else 0)
        stats = make_dump(os.path.join(tmp, "dump"), clips)
        make_dump(os.path.join(tmp, "valid"), 1)
        for i, (device, batch, steps, amp) in enumerate(runs):
            ours = toolkit_rate(tmp, stats, device, batch, steps, amp, os.path.join(tmp, f"exp{i}"))
            ref = reference_rate(device, batch, steps, amp)
            print(json.dumps({"bench": "train_cnn8", "device": describe(device), "amp": amp,
                              "input": f"{FRAMES}x{DIM}", "batch_size": batch, "steps": steps,
                              "clips_per_s": round(ours, 2), "reference_bare_loop_clips_per_s": round(ref, 2),
                              "ratio_to_reference": round(ours / ref, 3)}), flush=True)


if __name__ == "__main__":
    main()
