"""Global mean/variance statistics in Kaldi's format, accumulated on the training set only.

``cmvn.ark`` is the 2 x (D+1) double matrix of Kaldi's ``compute-cmvn-stats``: row 0 holds the
per-dimension sums and the frame count, row 1 the sums of squares. Kaldi's ``apply-cmvn`` and
``copy-matrix`` read it as is.
"""
import kaldiio
import numpy as np

from dcase_tk.io.atomic import atomic_path


def accumulate(matrices):
    """Stats over an iterable of ``(frames, D)`` matrices, accumulated in float64 chunks."""
    stats = None
    for m in matrices:
        m = np.asarray(m, dtype=np.float64)
        if stats is None:
            stats = np.zeros((2, m.shape[1] + 1))
        elif m.shape[1] != stats.shape[1] - 1:
            raise ValueError(f"feature dimension {m.shape[1]} differs from {stats.shape[1] - 1} of earlier matrices")
        stats[0, :-1] += m.sum(axis=0)
        stats[1, :-1] += np.einsum("ij,ij->j", m, m)
        stats[0, -1] += m.shape[0]
    if stats is None:
        raise ValueError("no features to accumulate statistics from")
    return stats


def mean_std(stats, floor=1e-10):
    count = stats[0, -1]
    mean = stats[0, :-1] / count
    var = np.maximum(stats[1, :-1] / count - mean ** 2, floor)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


def write(path, stats):
    with atomic_path(path) as tmp:
        kaldiio.save_mat(tmp, stats)


def read(path):
    stats = np.asarray(kaldiio.load_mat(path), dtype=np.float64)
    if stats.ndim != 2 or stats.shape[0] != 2:
        raise ValueError(f"{path}: not a global CMVN stats matrix (2 x D+1), shape {stats.shape}")
    return stats
