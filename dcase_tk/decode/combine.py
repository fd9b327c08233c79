"""Combining posteriors of the same clip: over the windows of a clip (decode), over the fold
models of a system (``average_scores``) and over the channels of a multichannel clip
(``fuse_channels``)."""
import torch

AGGREGATES = ("mean", "gmean", "max")
EPS = 1e-7


def aggregate(posteriors, how, multi_label=False):
    """Combine a ``(K, ..., C)`` stack of posteriors over its first axis into ``(..., C)``.

    ``gmean`` is the geometric mean, renormalised to sum to one over the classes for
    single-label posteriors (for per-class sigmoids each class stands alone).
    """
    if how not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got '{how}'")
    if how == "mean":
        return posteriors.mean(0)
    if how == "max":
        return posteriors.max(0).values
    g = torch.exp(torch.log(posteriors.clamp_min(EPS)).mean(0))
    return g if multi_label else g / g.sum(-1, keepdim=True)
