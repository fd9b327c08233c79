"""Clip-level training losses on dense targets, with label smoothing and per-example weights.

Targets are always dense float tensors ``(batch, n_classes)``: one-hot for single-label tasks,
multi-hot for multi-label ones, soft after mixup or label smoothing. ``outputs`` are what the
model returns and ``kind`` says what they are, ``"logits"`` or ``"probs"`` (the model contract in
``dcase_tk/nnet/__init__.py``).

Losses (``make_loss(name, **options)``):

- ``cross_entropy``: softmax cross-entropy with soft targets, ``-sum_c t_c log p_c``. For
  ``kind="probs"`` the outputs are renormalised to sum to 1 and clamped to ``[EPS, 1]`` before the
  log (Yang et al. put "a small epsilon inside the log", part1.md Paper 5 section 5).
- ``bce``: binary cross-entropy per class, mean over classes. Logits go through ``logsigmoid``
  (numerically stable for any logit), probabilities are clamped to ``[EPS, 1 - EPS]``.
- ``focal``: the multi-class softmax focal loss of Lin et al. as used by Yang et al. for Task 1
  (part1.md Paper 5 section 5: gamma 3 for subtask A, 1 for subtask B),
  ``-sum_c t_c * alpha_c * (1 - p_c)^gamma * log p_c``. ``gamma=0, alpha=1`` is cross-entropy.
- ``focal_bce``: the binary focal loss per class, mean over classes,
  ``-alpha_c * [t (1 - p)^gamma log p + (1 - t) p^gamma log(1 - p)]``. Here ``alpha`` is a class
  weight applied to both terms, not Lin et al.'s positive/negative balance ``alpha``/``1 - alpha``
  (which with the default ``alpha=1`` would silence every negative).

``alpha`` (focal losses) is one positive number or a list of one per class.

A loss is called as ``loss(outputs, targets, kind="logits", smoothing=None, weights=None)`` and
returns a scalar:

- ``smoothing``: label smoothing strength, ``None``/0, a float or a ``(batch,)`` tensor of
  per-example strengths, e.g. smoothing only the unverified Task 2 clips with ``eps ~ U(0.1, 0.3)``
  (Nguyen et al., part1.md Paper 10 section 5). See ``smooth_targets``.
- ``weights``: per-example weights ``(batch,)``; the loss is their weighted mean over the batch.
  With the 0/1 mask of ``loss_mask`` this is the batch-wise loss masking of Jeong & Lim
  (part4.md P4.8 section 5), normalised by the number of kept examples instead of the paper's
  plain sum so that the loss scale does not depend on how many were dropped.
"""
import numbers

import torch
from torch.nn import functional as F

EPS = 1e-7
KINDS = ("logits", "probs")


def smooth_targets(targets, smoothing, binary):
    """Label-smoothed targets ``t' = (1 - eps_i) t + eps_i / K``.

    ``K`` is the number of classes for single-label losses (Nguyen et al.: ``eps/k`` on the
    non-targets and ``1 - (k-1)/k eps`` on the target, part1.md Paper 10 section 5) and 2 for
    binary (per-class sigmoid) losses, whose every class is its own two-way decision.
    ``smoothing`` is ``None``, a number or a ``(batch,)`` tensor, each strength in ``[0, 1]``.
    """
    if smoothing is None:
        return targets
    floor = 0.5 if binary else 1.0 / targets.shape[1]
    if isinstance(smoothing, numbers.Number) and not isinstance(smoothing, bool):
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")
        if smoothing == 0:
            return targets
        return (1.0 - smoothing) * targets + smoothing * floor
    if not torch.is_tensor(smoothing) or smoothing.shape != targets.shape[:1]:
        raise ValueError(f"smoothing must be None, a number or a ({targets.shape[0]},) tensor of "
                         f"per-example strengths, got {smoothing!r}")
    if bool(((smoothing < 0) | (smoothing > 1)).any()):
        raise ValueError("per-example smoothing strengths must all be in [0, 1]")
    eps = smoothing.to(dtype=targets.dtype, device=targets.device).unsqueeze(1)
    return (1.0 - eps) * targets + eps * floor


def loss_mask(per_example_losses, verified, alpha=0.8):
    """Jeong & Lim's batch-wise loss mask (part4.md P4.8 section 5): 0/1 weights ``(batch,)``.

    An example is kept if it is verified or its loss is below ``alpha`` times the largest loss
    in the batch, so the highest-loss unverified examples of each batch are dropped (alpha 0.8 in
    the paper). Pass the result as ``weights`` to a loss.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"loss mask alpha must be in (0, 1], got {alpha}")
    losses = per_example_losses.detach()
    keep = verified.to(torch.bool) | (losses < alpha * losses.max())
    return keep.to(losses.dtype)


def _softmax_log_probs(outputs, kind):
    if kind == "logits":
        return F.log_softmax(outputs, dim=1)
    probs = outputs / outputs.sum(dim=1, keepdim=True).clamp_min(EPS)
    return probs.clamp(EPS, 1.0).log()


def _sigmoid_log_probs(outputs, kind):
    """``(log p, log(1 - p))`` per class."""
    if kind == "logits":
        return F.logsigmoid(outputs), F.logsigmoid(-outputs)
    probs = outputs.clamp(EPS, 1.0 - EPS)
    return probs.log(), (1.0 - probs).log()


def _power(base, gamma):
    """``base ** gamma`` for the focal modulating factor, with ``base`` clamped to ``[EPS, 1]``:
    the derivative of ``x ** gamma`` is infinite at 0 for ``gamma < 1`` (0 * inf at ``gamma = 0``).
    """
    return base.clamp(EPS, 1.0) ** gamma


class Loss:
    """A clip-level loss; subclasses give ``_class_losses`` ``(batch, n_classes)``."""

    name = None
    binary = False
    options = ()

    def per_example(self, outputs, targets, kind="logits", smoothing=None):
        """The loss of each example, ``(batch,)`` (summed over classes for single-label losses,
        averaged over classes for binary ones)."""
        _check_inputs(outputs, targets, kind)
        targets = smooth_targets(targets, smoothing, self.binary)
        per_class = self._class_losses(outputs, targets, kind)
        return per_class.mean(dim=1) if self.binary else per_class.sum(dim=1)

    def __call__(self, outputs, targets, kind="logits", smoothing=None, weights=None):
        losses = self.per_example(outputs, targets, kind, smoothing)
        if weights is None:
            return losses.mean()
        if not torch.is_tensor(weights) or weights.shape != losses.shape:
            raise ValueError(f"weights must be a ({losses.shape[0]},) tensor, got {weights!r}")
        if bool((weights < 0).any()):
            raise ValueError("per-example loss weights must not be negative")
        weights = weights.to(dtype=losses.dtype, device=losses.device)
        return (weights * losses).sum() / weights.sum().clamp_min(EPS)

    def __repr__(self):
        opts = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.options)
        return f"{type(self).__name__}({opts})"


class CrossEntropy(Loss):
    name = "cross_entropy"

    def _class_losses(self, outputs, targets, kind):
        return -targets * _softmax_log_probs(outputs, kind)


class BinaryCrossEntropy(Loss):
    name = "bce"
    binary = True

    def _class_losses(self, outputs, targets, kind):
        log_p, log_not_p = _sigmoid_log_probs(outputs, kind)
        return -(targets * log_p + (1.0 - targets) * log_not_p)


class _FocalOptions(Loss):
    options = ("gamma", "alpha")

    def __init__(self, gamma=2.0, alpha=1.0):
        if not isinstance(gamma, numbers.Real) or isinstance(gamma, bool) or gamma < 0:
            raise ValueError(f"{self.name}: gamma must be a number >= 0, got {gamma!r}")
        values = alpha if isinstance(alpha, (list, tuple)) else [alpha]
        if not values or not all(isinstance(a, numbers.Real) and not isinstance(a, bool) and a > 0
                                 for a in values):
            raise ValueError(f"{self.name}: alpha must be a positive number or a list of one "
                             f"positive number per class, got {alpha!r}")
        self.gamma, self.alpha = float(gamma), alpha

    def _alpha(self, like):
        """``alpha`` as a tensor broadcastable to ``like`` ``(batch, n_classes)``."""
        alpha = torch.as_tensor(self.alpha, dtype=like.dtype, device=like.device)
        if alpha.dim() == 1 and alpha.shape[0] != like.shape[1]:
            raise ValueError(f"{self.name}: alpha has {alpha.shape[0]} values but the model has "
                             f"{like.shape[1]} classes; give one per class or a single number")
        return alpha


class Focal(_FocalOptions):
    name = "focal"

    def _class_losses(self, outputs, targets, kind):
        log_p = _softmax_log_probs(outputs, kind)
        modulator = _power(-torch.expm1(log_p), self.gamma)
        return -targets * self._alpha(log_p) * modulator * log_p


class FocalBinary(_FocalOptions):
    name = "focal_bce"
    binary = True

    def _class_losses(self, outputs, targets, kind):
        log_p, log_not_p = _sigmoid_log_probs(outputs, kind)
        positive = targets * _power(log_not_p.exp(), self.gamma) * log_p
        negative = (1.0 - targets) * _power(log_p.exp(), self.gamma) * log_not_p
        return -self._alpha(log_p) * (positive + negative)


LOSSES = {cls.name: cls for cls in (CrossEntropy, BinaryCrossEntropy, Focal, FocalBinary)}


def make_loss(name, **options):
    """The loss ``name`` (one of ``LOSSES``) with its options (``gamma``, ``alpha`` for focal)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss '{name}'; choose one of {sorted(LOSSES)}")
    cls = LOSSES[name]
    unknown = sorted(set(options) - set(cls.options))
    if unknown:
        allowed = ", ".join(cls.options) if cls.options else "none"
        raise ValueError(f"loss '{name}' got unknown option(s) {unknown}; allowed: {allowed}")
    return cls(**options)


def _check_inputs(outputs, targets, kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if outputs.dim() != 2 or targets.shape != outputs.shape:
        raise ValueError(f"outputs and targets must both be (batch, n_classes); got outputs "
                         f"{tuple(outputs.shape)} and targets {tuple(targets.shape)}")
    if not targets.is_floating_point():
        raise ValueError("targets must be dense float (batch, n_classes) tensors: one-hot encode "
                         "class indices first")
