"""Which clips each training step sees: the epoch's global batches, and each process's share.

Every process of a distributed run computes the same global plan from ``(seed, epoch)`` and
takes its own slice of every global batch, so N processes with batch B/N see exactly the
batches one process with batch B would (the equivalence the DDP test checks). Each item carries
a seed derived from its position in the epoch, which drives its random crop.
"""
import numpy as np
import torch

SAMPLERS = ("shuffle", "balanced")


def epoch_generator(seed, epoch, stream=0):
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 7919 + stream)


def balanced_weights(targets):
    """Per-clip sampling weights giving every class the same expected share of the draws: a clip
    weighs the mean of ``1 / count`` over its labels (clips without labels weigh the rarest)."""
    counts = targets.sum(axis=0)
    inverse = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    n_labels = targets.sum(axis=1)
    weights = (targets @ inverse) / np.maximum(n_labels, 1)
    weights[n_labels == 0] = inverse.max() if inverse.max() > 0 else 1.0
    return weights / weights.sum()


def epoch_order(n, epoch, seed, sampler="shuffle", steps=0, batch_size=1, weights=None):
    """Clip indices of one epoch, in order. ``steps`` > 0 fixes the epoch at ``steps`` batches
    (permutations are chained for ``shuffle``); ``balanced`` draws with replacement by
    ``weights`` (see :func:`balanced_weights`)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"training.sampler must be one of {SAMPLERS}, got '{sampler}'")
    g = epoch_generator(seed, epoch)
    total = steps * batch_size if steps else n
    if sampler == "balanced":
        return torch.multinomial(torch.as_tensor(weights, dtype=torch.float64), total,
                                 replacement=True, generator=g).tolist()
    order = []
    while len(order) < total:
        order += torch.randperm(n, generator=g).tolist()
    return order[:total]


def global_batches(order, batch_size, epoch, seed):
    """``order`` cut into batches of ``(index, item_seed)``; the last batch may be short."""
    items = [(index, (seed * 1_000_003 + epoch) * 100_003 + pos) for pos, index in enumerate(order)]
    return [items[i:i + batch_size] for i in range(0, len(items), batch_size)]


def rank_share(batch, rank, world):
    """This process's contiguous slice of a global batch (sizes differ by at most one)."""
    bounds = np.linspace(0, len(batch), world + 1).round().astype(int)
    return batch[bounds[rank]:bounds[rank + 1]]
