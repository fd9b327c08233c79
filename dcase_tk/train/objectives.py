"""What the training loss is computed on (``training.objective``), and the one forward call a
training step makes.

- ``clip`` (the default): the loss on the clip outputs ``model(x)`` ``(batch, C)``.
- ``frames``: the loss (``training.loss``, e.g. ``bce``) on the frame probabilities
  ``model.frame_outputs(x)`` ``(batch, T', C)``, flattened to ``(batch * T', C)``. The targets
  are the training dump dir's ``frame_targets.scp`` (frames x C soft values at the feature frame
  rate, cut with the features' crop window) when it has one, else the clip targets copied to
  every frame: the second pass of the DCASE 2018 Task 4 baseline, trained on the pass-1
  predicted labels "copied to all 500 frames". When the model pools time (``T' < T``), each
  output frame's target is the mean of the targets of its input frames (:func:`pool_targets`).
- ``mil``: the multi-instance loss of Cances, Pellegrini and Guyot (DCASE 2018 workshop, eq. 3),
  their K-class form of Morfi & Stowell's MMM loss, on the frame probabilities (:func:`mil_loss`).

Validation is clip-level whatever the objective (:class:`dcase_tk.decode.infer.ClipScorer`).
"""
import torch
from torch import nn

from dcase_tk.config import ConfigError
from dcase_tk.train import vat
from dcase_tk.train.losses import BinaryCrossEntropy, smooth_targets

OBJECTIVES = ("clip", "frames", "mil")


def check_model(model, objective):
    """Refuse a frame-level objective for a model without ``frame_outputs``."""
    if objective != "clip" and not callable(getattr(model, "frame_outputs", None)):
        raise ConfigError(f"training.objective {objective} trains on frame outputs, but model "
                          f"{type(model).__name__} has no frame_outputs(x); use a model with "
                          f"frame-level outputs (e.g. crnn) or training.objective clip")


def pool_targets(targets, frames_out):
    """Frame targets ``(batch, T, C)`` at the input frame rate -> ``(batch, T', C)``: output frame
    ``j`` gets the mean over input frames ``[floor(j T / T'), floor((j + 1) T / T'))``, i.e. over
    blocks of ``T / T'`` frames when the model pools time by a factor dividing ``T``."""
    frames_in = targets.shape[1]
    if frames_out == frames_in:
        return targets
    if frames_out > frames_in:
        raise ValueError(f"the model gives {frames_out} output frames for {frames_in} input frames; "
                         f"frame targets can only be averaged down to fewer frames")
    edges = torch.arange(frames_out + 1, device=targets.device) * frames_in // frames_out
    cumulative = torch.cat([torch.zeros_like(targets[:, :1]), targets], dim=1).double().cumsum(dim=1)
    sums = cumulative[:, edges[1:]] - cumulative[:, edges[:-1]]
    return (sums / (edges[1:] - edges[:-1])[None, :, None]).to(targets.dtype)


def _frame_probs(outputs):
    if outputs is None or outputs.dim() != 3:
        raise ValueError("training.objective frames/mil needs frame probabilities (batch, frames, "
                         "classes) from model.frame_outputs(x); this model's pooling head gives none")
    return outputs.float()


def frame_loss(loss_fn, probs, clip_targets, frame_targets=None, smoothing=None):
    """``training.objective frames``: ``loss_fn`` on every output frame of ``probs``
    ``(batch, T', C)``; targets ``frame_targets`` ``(batch, T, C)`` pooled to ``T'``, or the
    clip targets ``(batch, C)`` copied to every frame. Per-example smoothing strengths apply to
    all frames of their example."""
    probs = _frame_probs(probs)
    batch, frames_out, n_classes = probs.shape
    if frame_targets is None:
        targets = clip_targets[:, None, :].expand(batch, frames_out, n_classes)
    else:
        targets = pool_targets(frame_targets, frames_out)
    if torch.is_tensor(smoothing):
        smoothing = smoothing.repeat_interleave(frames_out)
    return loss_fn(probs.reshape(-1, n_classes), targets.reshape(-1, n_classes), kind="probs",
                   smoothing=smoothing)


def mil_loss(probs, targets, smoothing=None):
    """The multi-instance loss of Cances et al. (eq. 3) on frame probabilities ``p``
    ``(batch, T', C)`` and clip targets ``y`` ``(batch, C)``:

        per class  bce(y, max_t p) + bce(y / 2, mean_t p) + bce(0, min_t p)

    (``bce(t, q) = -t log q - (1 - t) log(1 - q)``, ``q`` clamped to ``[EPS, 1 - EPS]`` as the bce loss does): the
    loudest frame carries the clip label, the mean half of it, and the quietest frame is
    background. Summed over the three terms, averaged over classes and examples (Cances et al.
    sum over classes: a factor ``C``; Morfi & Stowell's MMM loss, one class, averages the three
    terms: a factor 1/3). Label smoothing, if any, applies to ``y``.
    """
    probs = _frame_probs(probs)
    targets = smooth_targets(targets, smoothing, binary=True)
    bce = BinaryCrossEntropy()          # each term: the mean over classes and examples
    return (bce(probs.amax(dim=1), targets, kind="probs") + bce(probs.mean(dim=1), targets / 2, kind="probs")
            + bce(probs.amin(dim=1), torch.zeros_like(targets), kind="probs"))


class TrainingForward(nn.Module):
    """Everything a training step computes with the model's weights, in one forward call, so
    that DistributedDataParallel (which must see each step's use of the weights in a single
    forward) wraps it: the objective's outputs (``model(x)`` or ``model.frame_outputs(x)``) and,
    with VAT on, the per-example LDS of ``x_vat`` (:func:`dcase_tk.train.vat.lds`), in float32
    even under autocast. ``forward(x)`` alone is ``(model(x), None)`` for the clip objective."""

    def __init__(self, model, objective, vat_cfg, kind, multi_label):
        super().__init__()
        self.model, self.objective, self.vat_cfg = model, objective, vat_cfg
        self.kind, self.multi_label = kind, multi_label

    def forward(self, x, x_vat=None, directions=None):
        out = self.model(x) if self.objective == "clip" else self.model.frame_outputs(x)
        if x_vat is None:
            return out, None
        with torch.autocast(x_vat.device.type, enabled=False):
            lds = vat.lds(self.model, x_vat.float(), directions, self.vat_cfg, self.kind, self.multi_label)
        return out, lds
