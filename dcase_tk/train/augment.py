"""On-line data augmentation of feature batches, and cropping clips into fixed-length inputs.

Every random draw comes from an explicit ``torch.Generator`` argument, so a run is reproducible
and, with the generator's state checkpointed, resumable. Draws are made on the generator's device
and moved to the data's, so a CPU generator serves GPU batches too.

Batches are ``(batch, frames, dims)`` feature tensors (the model input of ``dcase_tk.nnet``) and
``targets`` dense float ``(batch, n_classes)`` (see ``dcase_tk.train.losses``).

- ``mixup`` (Zhang et al.): ``x' = lam x + (1 - lam) x[perm]``, targets likewise, with
  ``lam ~ Beta(alpha, alpha)`` and ``perm`` a random permutation of the batch, so partners are
  drawn regardless of label (part1.md "Cross-paper synthesis", part2.md Paper 6 section 5; alpha
  0.2 best in part1.md Paper 4, 1 in Paper 8, 0.2-0.3 in part2.md Paper 6, 0.3 in part4.md P4.4,
  ``Beta(3, 3)`` in P4.7).
  torch cannot draw Beta (or Gamma) variates from a given generator, so ``sample_beta`` draws one
  64-bit seed from the torch generator and samples with a numpy ``Generator`` seeded by it: the
  draw is fixed by the torch generator's state and advances it.
- ``spec_augment``: time and frequency masking (``time_masks`` bands of width ``U{0..time_width}``
  frames at a uniform start, the same for dims), the "Cutout / SpecAugment-like masking" of
  part1.md Papers 8 and 10.
- ``random_erasing`` (Zhong et al.): per example with probability ``p`` one rectangle of the
  (frames, dims) plane, area fraction ``U(area)`` and aspect ratio (frames : dims extent)
  ``U(aspect)``, is set to uniform noise in the example's value range or to a constant (Task 2
  systems: part1.md Papers 9 and 10, part2.md Paper 6; the notes on Lasseck's Task 3 system,
  part3.md P7, list time-interval dropout but not random erasing).
  Zhong et al. redraw until the rectangle fits; here ``ERASE_TRIES`` candidates are drawn at once
  and the first that fits (after rounding to whole cells, still inside the area range) is used;
  an example with none is left unchanged.
- ``random_crop`` / ``fixed_crop`` / ``segments`` cut a ``(T, D)`` clip into model inputs of a
  fixed number of frames. A clip shorter than that is repeated (tiled), not zero-padded, as Kong
  et al. do for Task 2 (part4.md P4.12 section 3) and Nguyen et al. found better (part1.md Paper
  10 section 3).

``AugmentConfig`` is the ``augment`` section of a system YAML; ``apply_batch`` applies it.
"""
import dataclasses
import math
import numbers

import numpy as np
import torch

from dcase_tk.config import dataclass_from_dict

ERASE_TRIES = 10


def _uniform(generator, *shape):
    return torch.rand(*shape, generator=generator, device=generator.device)


def _randint(generator, high, *shape):
    return torch.randint(0, high, shape, generator=generator, device=generator.device)


# ---------------------------------------------------------------------------------------- mixup

def sample_beta(alpha, generator, size=None):
    """``Beta(alpha, alpha)`` draws (a float, or a float64 array of ``size``), fixed by the state of
    ``generator``: a numpy generator seeded from one torch draw samples them."""
    seed = int(_randint(generator, 2 ** 62))
    return np.random.default_rng(seed).beta(alpha, alpha, size)


def mix(x, targets, lam, perm):
    """``(lam x + (1 - lam) x[perm], lam t + (1 - lam) t[perm])``; ``lam`` is a number or a
    ``(batch,)`` tensor of one weight per example."""
    def blend(values):
        weight = lam
        if torch.is_tensor(lam):
            shape = (-1,) + (1,) * (values.dim() - 1)
            weight = lam.to(dtype=values.dtype, device=values.device).reshape(shape)
        return weight * values + (1 - weight) * values[perm.to(values.device)]
    return blend(x), blend(targets)


def mixup(x, targets, alpha, generator, per_example=False):
    """Mixup of a batch with a random permutation of itself -> ``(x, targets, lam)``.

    ``lam`` is a float (one per batch) or, with ``per_example``, a ``(batch,)`` tensor.
    ``alpha <= 0`` returns the inputs themselves and ``lam = 1.0``.
    """
    if alpha <= 0:
        return x, targets, 1.0
    if not targets.is_floating_point():
        raise ValueError("mixup needs dense float targets (batch, n_classes): one-hot encode first")
    n = x.shape[0]
    if per_example:
        lam = torch.as_tensor(sample_beta(alpha, generator, n), dtype=x.dtype, device=x.device)
    else:
        lam = float(sample_beta(alpha, generator))
    perm = torch.randperm(n, generator=generator, device=generator.device)
    x_mixed, targets_mixed = mix(x, targets, lam, perm)
    return x_mixed, targets_mixed, lam


# ------------------------------------------------------------------------------------- masking

def draw_bands(generator, batch, count, max_width, length):
    """``count`` bands per example: widths ``U{0..max_width}``, starts ``U{0..length - width}``.

    Returns ``(starts, widths)``, each ``(batch, count)`` int64 on the generator's device.
    """
    if count and max_width > length:
        raise ValueError(f"mask width {max_width} is larger than the {length} frames/dims of the "
                         f"input; lower time_width/freq_width")
    widths = _randint(generator, max_width + 1, batch, count)
    starts = (_uniform(generator, batch, count) * (length - widths + 1)).long()
    return starts, widths


def band_mask(starts, widths, length):
    """Boolean ``(batch, length)``: True inside any of the ``[start, start + width)`` bands."""
    positions = torch.arange(length, device=starts.device)
    inside = (positions >= starts[..., None]) & (positions < (starts + widths)[..., None])
    return inside.any(dim=1)


def spec_augment(x, generator, time_masks=0, time_width=0, freq_masks=0, freq_width=0, value=0.0):
    """Time and frequency masking of ``(batch, frames, dims)``; a new tensor (time bands drawn
    first, then frequency bands)."""
    _check_batch(x)
    batch, frames, dims = x.shape
    time = band_mask(*draw_bands(generator, batch, time_masks, time_width, frames), frames)
    freq = band_mask(*draw_bands(generator, batch, freq_masks, freq_width, dims), dims)
    mask = time.to(x.device)[:, :, None] | freq.to(x.device)[:, None, :]
    return x.masked_fill(mask, value)


def random_erasing(x, generator, p=0.5, area=(0.02, 0.4), aspect=(0.3, 3.3), value="random"):
    """Random erasing (Zhong et al.) of one rectangle per example with probability ``p``.

    ``value`` is ``"random"`` (uniform noise between the example's min and max) or a number.
    Returns a new tensor.
    """
    _check_batch(x)
    _check_erasing(p, area, aspect)
    if value != "random" and (not isinstance(value, numbers.Real) or isinstance(value, bool)):
        raise ValueError(f"random erasing value must be 'random' or a number, got {value!r}")
    batch, frames, dims = x.shape
    chosen = _uniform(generator, batch) < p
    fraction = area[0] + (area[1] - area[0]) * _uniform(generator, batch, ERASE_TRIES)
    ratio = aspect[0] + (aspect[1] - aspect[0]) * _uniform(generator, batch, ERASE_TRIES)
    heights = torch.round(torch.sqrt(fraction * frames * dims * ratio)).long()
    widths = torch.round(torch.sqrt(fraction * frames * dims / ratio)).long()
    cells = heights * widths
    fits = ((heights >= 1) & (heights <= frames) & (widths >= 1) & (widths <= dims)
            & (cells >= area[0] * frames * dims) & (cells <= area[1] * frames * dims))
    first = fits.long().argmax(dim=1, keepdim=True)
    height = heights.gather(1, first).clamp(1, frames)
    width = widths.gather(1, first).clamp(1, dims)
    top = (_uniform(generator, batch, 1) * (frames - height + 1)).long()
    left = (_uniform(generator, batch, 1) * (dims - width + 1)).long()
    rows = band_mask(top, height, frames)
    cols = band_mask(left, width, dims)
    erase = (chosen & fits.any(dim=1))[:, None, None] & rows[:, :, None] & cols[:, None, :]
    erase = erase.to(x.device)
    if value != "random":
        return x.masked_fill(erase, value)
    low = x.amin(dim=(1, 2), keepdim=True)
    high = x.amax(dim=(1, 2), keepdim=True)
    noise = low + (high - low) * _uniform(generator, *x.shape).to(device=x.device, dtype=x.dtype)
    return torch.where(erase, noise, x)


def _check_batch(x):
    if x.dim() != 3:
        raise ValueError(f"augmentation expects a (batch, frames, dims) batch, got shape "
                         f"{tuple(x.shape)}")


def _check_erasing(p, area, aspect):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random erasing probability must be in [0, 1], got {p}")
    if len(area) != 2 or not 0.0 < area[0] <= area[1] <= 1.0:
        raise ValueError(f"random erasing area must be [low, high] fractions with "
                         f"0 < low <= high <= 1, got {area}")
    if len(aspect) != 2 or not 0.0 < aspect[0] <= aspect[1]:
        raise ValueError(f"random erasing aspect must be [low, high] with 0 < low <= high, "
                         f"got {aspect}")


# ------------------------------------------------------------------------------------- cropping

def _repeat_pad(matrix, frames):
    """``matrix`` itself if it has at least ``frames`` rows, else tiled and cut to ``frames``."""
    if not isinstance(frames, numbers.Integral) or frames < 1:
        raise ValueError(f"frames must be a positive integer, got {frames!r}")
    length = matrix.shape[0]
    if length == 0:
        raise ValueError("cannot crop a clip with no frames")
    if length >= frames:
        return matrix
    reps = math.ceil(frames / length)
    if torch.is_tensor(matrix):
        tiled = matrix.repeat(reps, *([1] * (matrix.dim() - 1)))
    else:
        tiled = np.tile(matrix, (reps,) + (1,) * (matrix.ndim - 1))
    return tiled[:frames]


def random_crop(matrix, frames, generator):
    """A window of ``frames`` rows of a ``(T, D)`` numpy array or tensor at a uniform start
    (after repeat-padding a shorter clip)."""
    matrix = _repeat_pad(matrix, frames)
    start = int(_randint(generator, matrix.shape[0] - frames + 1))
    return matrix[start:start + frames]


def fixed_crop(matrix, frames):
    """The first ``frames`` rows (after repeat-padding a shorter clip)."""
    return _repeat_pad(matrix, frames)[:frames]


def segments(matrix, frames, hop):
    """All windows of ``frames`` rows for inference, stacked ``(n, frames, D)``.

    Windows start at ``0, hop, 2 hop, ...``; if the last of them stops short of the clip's end, one
    more window aligned to the end is added, so every frame is covered. A clip shorter than
    ``frames`` is repeat-padded to a single window. Same type (numpy or torch) as ``matrix``.
    """
    if not isinstance(hop, numbers.Integral) or hop < 1:
        raise ValueError(f"segment hop must be a positive integer, got {hop!r}")
    matrix = _repeat_pad(matrix, frames)
    last = matrix.shape[0] - frames
    starts = list(range(0, last + 1, hop))
    if starts[-1] != last:
        starts.append(last)
    windows = [matrix[s:s + frames] for s in starts]
    return torch.stack(windows) if torch.is_tensor(matrix) else np.stack(windows)


# ------------------------------------------------------------------------------------- config

@dataclasses.dataclass
class AugmentConfig:
    """The ``augment`` section of a system YAML; everything off by default."""

    mixup_alpha: float = 0.0
    mixup_per_example: bool = False
    time_masks: int = 0
    time_width: int = 0
    freq_masks: int = 0
    freq_width: int = 0
    erase_p: float = 0.0
    erase_area: tuple = (0.02, 0.4)
    erase_aspect: tuple = (0.3, 3.3)

    def __post_init__(self):
        self.erase_area, self.erase_aspect = tuple(self.erase_area), tuple(self.erase_aspect)
        if self.mixup_alpha < 0:
            raise ValueError(f"augment.mixup_alpha must be >= 0 (0: off), got {self.mixup_alpha}")
        for name in ("time_masks", "time_width", "freq_masks", "freq_width"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"augment.{name} must be an integer >= 0, got {value!r}")
        for axis in ("time", "freq"):
            if getattr(self, f"{axis}_masks") and not getattr(self, f"{axis}_width"):
                raise ValueError(f"augment.{axis}_masks is set but {axis}_width is 0: give the "
                                 f"largest mask width")
        _check_erasing(self.erase_p, self.erase_area, self.erase_aspect)

    @classmethod
    def from_dict(cls, d):
        return dataclass_from_dict(cls, d or {}, "augment")


def apply_batch(cfg, x, targets, generator):
    """Masking, then random erasing, then mixup, as ``cfg`` enables them -> ``(x, targets)``.

    With everything off the very same objects come back and the generator is not touched.
    """
    if cfg.time_masks or cfg.freq_masks:
        x = spec_augment(x, generator, cfg.time_masks, cfg.time_width, cfg.freq_masks,
                         cfg.freq_width)
    if cfg.erase_p > 0:
        x = random_erasing(x, generator, cfg.erase_p, cfg.erase_area, cfg.erase_aspect)
    if cfg.mixup_alpha > 0:
        x, targets, _ = mixup(x, targets, cfg.mixup_alpha, generator, cfg.mixup_per_example)
    return x, targets
