"""Feature-level domain adaptation across datasets (Liaqat et al., DCASE 2018 Task 3).

Two transforms, both affine per dataset, ``x' = (x - sub) @ matrix + add`` on each frame ``x``
(a row of a ``(frames, D)`` matrix):

- **per-dataset normalisation** (``standardiser``): each dataset's frames get mean 0 and
  standard deviation 1 in every dimension, using the statistics of that dataset's own frames;
- **CORAL** (Sun et al. 2016; P4.1 applies it frame-wise to 80-dim log-mel vectors):
  ``A' = A (C_s + reg I)^(-1/2) (C_t + reg I)^(1/2)``, C the D x D covariance of the frames of
  the source dataset (the utterance's own) and of the target dataset. With ``center=True`` the
  source mean is subtracted first and the target mean added after, so that mean and covariance
  both match the target's; the paper's formula has no mean terms, hence ``center=False`` is the
  default.

Transductive, label-free: the statistics of a dataset come from its frames only, never from its
labels, so estimating those of the held-out test dataset of a leave-one-dataset-out fold on its
own (unlabelled) test frames is legitimate unsupervised adaptation; no test label is used.

Statistics stream (``StatsAccumulator``): per dataset, a frame count, the sum and the sum of
outer products, in float64, one utterance at a time, so the corpus need not fit in memory.
"""
from collections import namedtuple

import numpy as np

Stats = namedtuple("Stats", "count mean cov")           # cov: population covariance (divided by count)
Affine = namedtuple("Affine", "sub matrix add")         # x' = (x - sub) @ matrix + add; a 1-D matrix scales per dim

METHODS = ("dataset_norm", "coral")
VAR_FLOOR = 1e-10


class StatsAccumulator:
    """Per-dataset count, sum and sum of outer products of frames, added one matrix at a time.

    The sums are taken around the mean of the first matrix seen for each dataset (the
    shifted-data algorithm), so the covariance loses no precision to cancellation when the mean
    is large compared with the spread (log-mel energies).
    """

    def __init__(self):
        self._acc = {}          # dataset -> [count, shift, sum, sum of outer products]
        self.dim = None

    def add(self, dataset, frames):
        x = np.asarray(frames, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"expected a (frames, dim) matrix, got shape {x.shape}")
        if self.dim is None:
            self.dim = x.shape[1]
        elif x.shape[1] != self.dim:
            raise ValueError(f"feature dimension {x.shape[1]} differs from {self.dim} of earlier matrices")
        if len(x) == 0:
            return
        if dataset not in self._acc:
            self._acc[dataset] = [0, x.mean(axis=0), np.zeros(self.dim), np.zeros((self.dim, self.dim))]
        acc = self._acc[dataset]
        d = x - acc[1]
        acc[0] += len(x)
        acc[2] += d.sum(axis=0)
        acc[3] += d.T @ d

    def result(self):
        """``{dataset: Stats(count, mean, cov)}``, datasets sorted."""
        out = {}
        for dataset in sorted(self._acc):
            count, shift, total, outer = self._acc[dataset]
            m = total / count
            cov = outer / count - np.outer(m, m)
            out[dataset] = Stats(count, shift + m, (cov + cov.T) / 2)
        return out


def dataset_stats(frames_by_dataset):
    """``{dataset: Stats}`` of ``{dataset: matrix or iterable of (frames, D) matrices}``."""
    acc = StatsAccumulator()
    for dataset, frames in frames_by_dataset.items():
        for m in ([frames] if isinstance(frames, np.ndarray) else frames):
            acc.add(dataset, m)
    return acc.result()


def standardiser(stats):
    """Affine map giving the frames of ``stats`` mean 0 and standard deviation 1 per dimension
    (variances floored at 1e-10: a constant dimension becomes 0)."""
    std = np.sqrt(np.maximum(np.diag(stats.cov), VAR_FLOOR))
    return Affine(stats.mean, 1.0 / std, np.zeros_like(stats.mean))


def psd_power(matrix, power):
    """``matrix ** power`` of a symmetric positive semi-definite matrix, by symmetric
    eigendecomposition in float64; tiny negative eigenvalues (rounding) are clipped to 0."""
    values, vectors = np.linalg.eigh(np.asarray(matrix, dtype=np.float64))
    values = np.clip(values, 0.0, None)
    if power < 0 and values.min() <= 1e-12 * max(values.max(), 1e-300):
        raise np.linalg.LinAlgError("matrix is singular; cannot take a negative power")
    return (vectors * values ** power) @ vectors.T


def coral_matrix(cov_source, cov_target, reg=1.0):
    """``(C_s + reg I)^(-1/2) (C_t + reg I)^(1/2)``: right-multiplying source frames (rows) by it
    gives them covariance ``C_t`` (exactly as reg -> 0)."""
    eye = np.eye(len(cov_source))
    return psd_power(cov_source + reg * eye, -0.5) @ psd_power(cov_target + reg * eye, 0.5)


def coral(source, target, reg=1.0, center=False):
    """Affine CORAL map from the frames of ``source`` to ``target`` (both Stats); uncentred
    (the paper's ``A' = A W``) unless ``center``: ``A' = (A - mean_s) W + mean_t``."""
    matrix = coral_matrix(source.cov, target.cov, reg)
    if center:
        return Affine(source.mean, matrix, target.mean)
    zero = np.zeros_like(source.mean)
    return Affine(zero, matrix, zero)


def transforms(stats, method, target=None, reg=1.0, center=False):
    """``{dataset: Affine}`` for every dataset of ``stats`` (``{dataset: Stats}``)."""
    if method == "dataset_norm":
        return {d: standardiser(s) for d, s in stats.items()}
    if method == "coral":
        if target not in stats:
            raise ValueError(f"CORAL target dataset '{target}' is not among the datasets found: "
                             f"{', '.join(stats) or '(none)'}")
        return {d: coral(s, stats[target], reg, center) for d, s in stats.items()}
    raise ValueError(f"unknown method '{method}' (one of {', '.join(METHODS)})")


def apply(frames, affine):
    """``(frames - sub) @ matrix + add``, computed in float64, returned in the frames' dtype."""
    frames = np.asarray(frames)
    x = frames.astype(np.float64) - affine.sub
    x = x * affine.matrix if affine.matrix.ndim == 1 else x @ affine.matrix
    return (x + affine.add).astype(frames.dtype if frames.dtype.kind == "f" else np.float32)
