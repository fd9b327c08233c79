"""Nearest-neighbour filtering (NNF) of a spectrogram, REPET-SIM style (Rafii & Pardo 2012), as
Nguyen & Pernkopf use it for acoustic scenes (DCASE 2018 Task 1; shared/published_systems/
part1.md Paper 6, section 3): every frame is replaced, band by band, by the median of its ``k``
most similar other frames. What repeats in a clip (the scene's texture) survives; a sound that
occurs once (a door, a voice) has no similar frames and is filtered out.

:func:`nn_filter` computes what librosa computes with

    rec = librosa.segment.recurrence_matrix(S.T, k=k, metric=metric, width=width, mode="distance")
    librosa.decompose.nn_filter(S.T, rec=rec, aggregate=np.median).T

(the ``k`` nearest frames of each frame, those fewer than ``width`` frames away, itself included,
left out; ``sym=False``); tests/test_features_nnf.py checks it. Note that
``librosa.decompose.nn_filter(S.T, k=k, aggregate=np.median)`` alone (connectivity mode, what a
paper calling it with ``k=5`` got) does not take the ``k`` nearest: see ``select`` in
:func:`neighbours`, whose ``select="librosa"`` reproduces it. librosa loops over the frames in
Python and imports numba (seconds per new feature process); this is a batched float64 distance
matrix, a top-k and a gather.

Cost: ``O(T^2 D)`` time for ``T`` frames of ``D`` bands and ``O(T min(T, block))`` memory for the
distances (rows in blocks of ``block``). A 10 s clip at a 20 ms hop with 128 mel bands
(501 x 128) takes about 6 ms on one CPU core here (librosa's nn_filter: about 190 ms), less than
the STFT and mel of the same clip take.
"""
import numpy as np
import torch

from dcase_tk.features.config import (NNF_AGGREGATES as AGGREGATES, NNF_METRICS as METRICS,
                                      NNF_SELECTS as SELECTS)


def _distances(rows, frames, metric):
    """``(..., R, T)`` distances between ``rows`` and ``frames`` (float64), squared for euclidean
    (the same ranking)."""
    if metric == "euclidean":
        sq_rows = (rows * rows).sum(-1)
        sq_frames = (frames * frames).sum(-1)
        return sq_rows[..., :, None] + sq_frames[..., None, :] - 2.0 * rows @ frames.transpose(-1, -2)
    # cosine distance 1 - cos; an all-zero frame is at distance 1 from everything (scikit-learn)
    unit = lambda x: x / x.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return 1.0 - unit(rows) @ unit(frames).transpose(-1, -2)


def _mask_band(d, start, width):
    """Set ``d[..., r, j]`` to inf where ``|start + r - j| < width`` (in place)."""
    rows, T = d.shape[-2], d.shape[-1]
    for offset in range(-width + 1, width):            # diagonal j = start + r + offset
        r = torch.arange(max(0, -start - offset), min(rows, T - start - offset))
        d[..., r, start + r + offset] = float("inf")
    return d


def neighbours(S, k=5, metric="euclidean", width=1, select="nearest", block=1024):
    """Indices ``(..., T, k')`` of the neighbours of every frame of ``S`` ``(..., T, D)``;
    ``None`` when a clip is too short to have ``k' = min(k, T - 2 width + 1)`` >= 1 of them.

    ``select``: ``nearest``, the ``k'`` nearest frames at least ``width`` frames away;
    ``librosa``, what ``librosa.segment.recurrence_matrix(mode="connectivity")`` (the default
    of ``nn_filter``) keeps: of the ``k + 2 width`` nearest other frames, those at least
    ``width`` away, and of these the ``k`` with the lowest frame index (its top-k step sorts
    the connectivity values, all ones, so the order is the frames', not the distances'). The
    same as librosa whenever ``k + 2 width <= 16`` (numpy sorts short arrays stably)."""
    if metric not in METRICS:
        raise ValueError(f"nnf metric must be one of {METRICS}, got {metric!r}")
    if select not in SELECTS:
        raise ValueError(f"nnf select must be one of {SELECTS}, got {select!r}")
    x = torch.as_tensor(np.asarray(S), dtype=torch.float64)
    T, width = x.shape[-2], int(width)
    k = min(int(k), T - 2 * width + 1)
    if k < 1:
        return None
    out = []
    for start in range(0, T, block):
        d = _distances(x[..., start:start + block, :], x, metric)
        if select == "nearest":
            out.append(torch.topk(_mask_band(d, start, width), k, dim=-1, largest=False).indices)
            continue
        near = torch.topk(_mask_band(d, start, 1), min(T - 1, k + 2 * width), dim=-1, largest=False).indices
        frame = torch.arange(start, start + d.shape[-2])[:, None]
        # frames within the band sort after every other frame; then the k lowest indices
        key = torch.where((near - frame).abs() < width, near + T, near)
        out.append(key.sort(dim=-1).values[..., :k])
    return torch.cat(out, dim=-2)


def nn_filter(S, k=5, metric="euclidean", aggregate="median", width=1, select="nearest"):
    """Nearest-neighbour filtered ``S`` ``(..., T, D)`` (frames, bands; leading axes e.g.
    channels are filtered independently), same shape and dtype. ``aggregate``: ``median`` (the
    REPET-SIM filter: numpy's median, the mean of the two middle values for an even ``k``) or
    ``mean``. ``select``: see :func:`neighbours`. A clip of fewer than ``2 width`` frames is
    returned unchanged."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"nnf aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    S = np.asarray(S)
    idx = neighbours(S, k, metric, width, select)
    if idx is None:
        return S.copy()
    x = torch.as_tensor(S)
    lead = x.shape[:-2]
    flat, flat_idx = x.reshape(-1, *x.shape[-2:]), idx.reshape(-1, *idx.shape[-2:])
    batch = torch.arange(flat.shape[0])[:, None, None]
    near = flat[batch, flat_idx]                               # (B, T, k, D)
    if aggregate == "mean":
        out = near.mean(dim=2)
    else:
        ordered = near.sort(dim=2).values
        n = ordered.shape[2]
        out = ordered[:, :, n // 2] if n % 2 else (ordered[:, :, n // 2 - 1] + ordered[:, :, n // 2]) / 2
    return out.reshape(*lead, *out.shape[-2:]).numpy()
