"""Virtual adversarial training (Miyato, Maeda, Koyama, Ishii, "Virtual adversarial training: a
regularization method for supervised and semi-supervised learning", TPAMI 2018), as Harb &
Pernkopf use it for DCASE 2018 Task 4 (part2.md Paper 5): the weak-label loss plus
``weight * LDS`` on labelled and unlabelled in-domain clips, each batch an equal share of both.

The local distributional smoothness of an input ``x`` is

    LDS(x) = KL( p(y|x) || p(y|x + r_adv) ),   r_adv ~ argmax_{||r|| <= eps} KL( p(y|x) || p(y|x + r) )

with ``p(y|x)`` held fixed (no gradient). ``r_adv`` comes from ``iterations`` power iterations:
from a random Gaussian direction ``d``, ``d <- grad_r KL(p(y|x) || p(y|x + r))`` at
``r = xi * unit(d)``; then ``r_adv = eps * unit(d)``, where ``unit`` normalises each example to
L2 norm 1 over all its frames and dims. For multi-label (per-class sigmoid) outputs the KL is the
sum over classes of the binary KL; for single-label ones the categorical KL over classes.

As in Miyato et al.'s code, the model stays in training mode for these passes (dropout active)
but they leave the BatchNorm running statistics alone (their ``update_batch_stats=False``): only
the supervised forward updates them. The passes run in float32 even under ``training.amp``:
with ``xi = 1e-6`` a float16 input would round the perturbation away. Even in float32 the
power iteration's gradient, ``~ xi H d`` (``H`` the KL's Hessian at ``r = 0``), competes with
rounding noise of the probabilities (~1e-7) and, with dropout, with the difference between the
passes' dropout masks: in a check on the small network of tests/test_train_vat.py, float32
probabilities with ``xi = 1e-6`` missed the top direction that float64 (or ``xi = 1e-3``) finds. A larger ``xi`` (e.g. 1e-3 to
1e-2) is worth trying; no value has been tuned on Task 4 data here. The random directions
come from the training step's own generator, seeded by ``(seed, epoch, step, rank)``, never
from the global RNG, so a resumed run draws the same ones as an unbroken run.

``training.vat``: ``weight`` (lambda; 0: off), ``eps`` (the perturbation's L2 norm per example,
in normalised feature units), ``xi`` (the power iteration's finite-difference step),
``iterations`` (power iterations).
"""
import contextlib
import dataclasses
import numbers

import torch
from torch import nn

from dcase_tk.config import dataclass_from_dict
from dcase_tk.train import sampling
from dcase_tk.train.losses import _sigmoid_log_probs, _softmax_log_probs

# the epoch_generator stream of the unlabelled batches: the trainer's step streams are positive
UNLABELLED_STREAM = -1


@dataclasses.dataclass
class VatConfig:
    """The ``training.vat`` section; off unless ``weight > 0``."""

    weight: float = 0.0
    eps: float = 1.0
    xi: float = 1.0e-6
    iterations: int = 1

    def __post_init__(self):
        for name in ("weight", "eps", "xi"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
                raise ValueError(f"training.vat.{name} must be a number >= 0, got {value!r}")
        if self.weight and not (self.eps > 0 and self.xi > 0):
            raise ValueError(f"training.vat.eps and xi must be > 0 when vat.weight is set, got "
                             f"eps {self.eps}, xi {self.xi}")
        if not isinstance(self.iterations, numbers.Integral) or self.iterations < 1:
            raise ValueError(f"training.vat.iterations (power iterations) must be an integer >= 1, "
                             f"got {self.iterations!r}")

    @classmethod
    def from_dict(cls, d):
        return dataclass_from_dict(cls, d or {}, "training.vat")

    @property
    def on(self):
        return self.weight > 0


def unit(d):
    """``d`` normalised to L2 norm 1 per example (over all but the first axis); an all-zero
    example stays zero. As Miyato et al.'s ``get_normalized_vector``, divided by its largest
    magnitude first, so that a tiny gradient does not underflow when squared."""
    dims = tuple(range(1, d.dim()))
    tiny = torch.finfo(d.dtype).tiny
    d = d / d.abs().amax(dim=dims, keepdim=True).clamp_min(tiny)
    return d / d.square().sum(dim=dims, keepdim=True).sqrt().clamp_min(tiny)


def log_probs(outputs, kind, multi_label):
    """The log-probabilities of every outcome: ``(log p, log(1 - p))`` per class for
    multi-label outputs, ``(log p,)`` over the classes for single-label ones."""
    if multi_label:
        return _sigmoid_log_probs(outputs, kind)
    return (_softmax_log_probs(outputs, kind),)


def divergence(clean, outputs, kind, multi_label):
    """Per-example ``KL(p || q)`` ``(batch,)``: ``clean`` is :func:`log_probs` of ``p``,
    ``outputs`` the model outputs giving ``q``."""
    perturbed = log_probs(outputs, kind, multi_label)
    return sum((p.exp() * (p - q)).sum(dim=1) for p, q in zip(clean, perturbed, strict=True))


@contextlib.contextmanager
def frozen_batchnorm_stats(model):
    """BatchNorm layers normalise with batch statistics (in training mode) but do not update
    their running statistics inside the block."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.track_running_stats for m in layers]
    for m in layers:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m, track in zip(layers, saved):
            m.track_running_stats = track


def adversarial_perturbation(model, x, clean, directions, cfg, kind, multi_label):
    """``r_adv`` for inputs ``x`` from the random ``directions`` (same shape) by power iteration
    (module docstring); ``clean`` is :func:`log_probs` of the model's outputs for ``x``."""
    d = directions
    for _ in range(cfg.iterations):
        r = (cfg.xi * unit(d)).detach().requires_grad_()
        kl = divergence(clean, model(x + r), kind, multi_label).sum()
        d, = torch.autograd.grad(kl, r)
    return cfg.eps * unit(d)


def lds(model, x, directions, cfg, kind, multi_label):
    """Per-example LDS ``(batch,)`` of inputs ``x``; differentiable w.r.t. the model's weights
    through the perturbed pass only."""
    with frozen_batchnorm_stats(model):
        with torch.no_grad():
            clean = log_probs(model(x), kind, multi_label)
        r_adv = adversarial_perturbation(model, x, clean, directions, cfg, kind, multi_label)
        return divergence(clean, model(x + r_adv), kind, multi_label)


def unlabelled_shares(n, steps, batch_size, epoch, seed, rank, world):
    """This process's share of the unlabelled clips of each of an epoch's ``steps`` steps:
    global batches of ``batch_size`` ``(index, crop seed)`` items drawn from ``(seed, epoch)``
    on a generator stream of their own (chained permutations of the ``n`` clips, as
    :func:`sampling.epoch_order`), cut as the labelled batches are (:func:`sampling.rank_share`)."""
    generator = sampling.epoch_generator(seed, epoch, stream=UNLABELLED_STREAM)
    total = steps * batch_size
    order = []
    while len(order) < total:
        order += torch.randperm(n, generator=generator).tolist()
    items = list(zip(order[:total], torch.randint(2 ** 62, (total,), generator=generator).tolist()))
    return [sampling.rank_share(items[i:i + batch_size], rank, world) for i in range(0, total, batch_size)]
