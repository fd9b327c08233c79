"""Training checkpoints with everything a resumed run needs to continue bit for bit:
model, optimizer and scheduler states, the RNG states, the epoch, the history and the best model.
"""
import csv
import glob
import os
import random
import re

import numpy as np
import torch

from dcase_tk.io.atomic import atomic_open, atomic_path

PATTERN = "epoch_{:04d}.pt"


def rng_state():
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path, obj):
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def epochs_saved(directory):
    """Epoch numbers of the checkpoints in ``directory``, ascending."""
    found = []
    for path in glob.glob(os.path.join(directory, "epoch_*.pt")):
        m = re.fullmatch(r"epoch_(\d+)\.pt", os.path.basename(path))
        if m:
            found.append(int(m.group(1)))
    return sorted(found)


def path_for(directory, epoch):
    return os.path.join(directory, PATTERN.format(epoch))


def load(path):
    # Our own checkpoints hold numpy/python RNG states, which weights_only loading refuses.
    return torch.load(path, map_location="cpu", weights_only=False)


def prune(directory, keep):
    """Keep the ``keep`` newest numbered checkpoints."""
    for epoch in epochs_saved(directory)[:-keep] if keep > 0 else []:
        os.unlink(path_for(directory, epoch))


def write_history(outdir, history):
    """``<outdir>/history.csv``: one row per epoch (the keys of the first row as columns)."""
    if not history:
        return
    with atomic_open(os.path.join(outdir, "history.csv")) as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
