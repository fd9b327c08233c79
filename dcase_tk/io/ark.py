"""Kaldi ark/scp pairs written atomically: neither file appears under its final name until both
are complete, and the scp names the final ark (not the temporary one it was written to)."""
import contextlib
import os

import kaldiio
import numpy as np

from dcase_tk.io.atomic import atomic_path
from dcase_tk.io.table import read_table


@contextlib.contextmanager
def ark_scp_writer(ark_path):
    """``with ark_scp_writer("x/feats.1.ark") as write: write(key, matrix)`` writes
    ``x/feats.1.ark`` and ``x/feats.1.scp``; the scp names the ark by its absolute path, so it
    can be read from any directory."""
    scp_path = os.path.splitext(ark_path)[0] + ".scp"
    with atomic_path(ark_path) as tmp_ark, atomic_path(scp_path) as tmp_scp:
        with kaldiio.WriteHelper(f"ark,scp:{tmp_ark},{tmp_scp}") as writer:
            yield writer
        _repoint_scp(tmp_scp, tmp_ark, os.path.abspath(ark_path))


def read_vectors(scp_path):
    """``(utts, (N, D) float64 array)`` of the vectors an scp names (e.g. ``xvector.scp``)."""
    table = read_table(scp_path)
    utts = list(table)
    return utts, np.stack([kaldiio.load_mat(table[u]) for u in utts]).astype(np.float64)


def _repoint_scp(scp, old_ark, new_ark):
    with open(scp, encoding="utf-8") as f:
        lines = f.read().replace(f" {old_ark}:", f" {new_ark}:")
    with open(scp, "w", encoding="utf-8") as f:
        f.write(lines)
