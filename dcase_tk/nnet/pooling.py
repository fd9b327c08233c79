"""Pooling heads: frame embeddings -> clip-level class outputs (and frame-level probabilities).

A head takes frame embeddings ``h`` of shape ``(batch, dim, time)`` and returns ``(clip, frame)``:
``clip`` is ``(batch, n_classes)``, ``frame`` is ``(batch, time, n_classes)`` probabilities, or
``None`` for a head with no frame-level output. ``head.output`` says what ``clip`` is:
``"logits"`` (sigmoid/softmax left to the loss) or ``"probs"`` (already in [0, 1]). Build one by
name with :func:`make_pooling`; any model may use any single-level head on its time axis (or on
a flattened time-frequency axis, as the attention CNN of Ren et al. does).

Heads (the notes in ``shared/published_systems/`` give the sources):

- ``max`` / ``avg``: global max / mean of the embeddings over time, then one linear layer
  (logits). Frame output: the same linear layer with a sigmoid at every frame. ``max`` is the
  global max pooling of Kong et al.'s CNN4/CNN8 (part4.md P4.12 section 4); ``avg`` is their
  Task 4 SED head (mean over time for training, per-frame sigmoid at inference), and since the
  layer is linear, ``fc(mean_t h) = mean_t fc(h)``.
- ``attention``: the attention pooling of Kong et al.: a classification branch
  ``cla_t = sigmoid(W_c h_t)`` and an attention branch ``w_t`` normalised over time per class;
  ``clip = sum_t w_t * cla_t`` (probs), frame = ``cla``. Options:
  ``attention="softmax"`` (default: softmax over time of ``W_a h_t``), ``"class_softmax"``
  (softmax over classes, then normalised over time: Fig. 1 of Yu et al., part4.md P4.6, and the
  attention layer of Harb & Pernkopf, part2.md Paper 5) or ``"sigmoid"`` (sigmoid, then normalised
  over time: Eq. 3 of Ren et al., part1.md Paper 7). ``classifier="log_softmax"`` replaces the
  sigmoid branch by a log-softmax over classes (Ren et al. Eq. 4); ``clip`` is then a
  weighted average of log-probabilities and the head's output is ``"logits"`` (a softmax over
  classes turns it into a distribution). The normalised variants clamp the weights at 1e-7
  before normalising, as Kong's attention code does, so no class divides by zero.
- ``mil_max`` / ``mil_mean`` / ``mil_min``: multiple-instance pooling of the frame sigmoid
  probabilities (max / mean / min over time; probs), frame = the frame probabilities. The three
  terms of the MMM loss of Morfi & Stowell (part3.md P3) and its K-class form by Cances et al.
  (part2.md Paper 1); ``mil_mean`` is the DCASE 2018 Task 4 baseline's global average pooling
  of its time-distributed sigmoid layer (part1.md Paper 3 section 4) and ``mil_max`` the GMP of
  Hou et al.'s GLU-CRNN (part2.md Paper 4).
- ``multi_level_attention``: Yu et al.'s multi-level attention (part4.md P4.6; part1.md Paper 4).
  Its input is a LIST of embeddings, one ``(batch, dim_i, time_i)`` tensor per level, and its
  ``in_dim`` a list of the ``dim_i``. One attention module (``attention="class_softmax"`` by
  default, as Yu et al.'s Fig. 1) pools each level to ``y_l`` in [0, 1]^K; the ``y_l`` are
  concatenated and ``z = sigmoid(W u + b)`` (probs). No frame output.
"""
import torch
from torch import nn

ATTENTIONS = ("softmax", "class_softmax", "sigmoid")
CLASSIFIERS = ("sigmoid", "log_softmax")
_EPS = 1e-7


def _per_frame(layer, h):
    """Apply a linear layer at every frame: ``(batch, dim, time)`` -> ``(batch, time, out)``."""
    return layer(h.transpose(1, 2))


class GlobalPooling(nn.Module):
    """``max`` / ``avg``: pool the embeddings over time, then a linear layer (logits)."""

    output = "logits"

    def __init__(self, in_dim, n_classes, mode):
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"global pooling mode must be 'max' or 'avg', got {mode!r}")
        self.mode = mode
        self.fc = nn.Linear(in_dim, n_classes)

    def forward(self, h):
        pooled = h.amax(dim=2) if self.mode == "max" else h.mean(dim=2)
        return self.fc(pooled), torch.sigmoid(_per_frame(self.fc, h))


class AttentionPooling(nn.Module):
    """Kong et al. attention pooling: ``clip = sum_t w_t * cla_t`` with ``sum_t w_t = 1``."""

    def __init__(self, in_dim, n_classes, attention="softmax", classifier="sigmoid"):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")
        self.attention = attention
        self.classifier = classifier
        self.output = "probs" if classifier == "sigmoid" else "logits"
        self.cla = nn.Linear(in_dim, n_classes)
        self.att = nn.Linear(in_dim, n_classes)

    def attention_weights(self, h):
        """``(batch, time, n_classes)`` weights; they sum to 1 over time for every class."""
        a = _per_frame(self.att, h)
        if self.attention == "softmax":
            return torch.softmax(a, dim=1)
        a = torch.softmax(a, dim=2) if self.attention == "class_softmax" else torch.sigmoid(a)
        a = a.clamp(min=_EPS)
        return a / a.sum(dim=1, keepdim=True)

    def forward(self, h):
        c = _per_frame(self.cla, h)
        if self.classifier == "sigmoid":
            cla = torch.sigmoid(c)
            frame = cla
        else:
            cla = torch.log_softmax(c, dim=2)
            frame = cla.exp()
        clip = (self.attention_weights(h) * cla).sum(dim=1)
        return clip, frame


class MilPooling(nn.Module):
    """``mil_max`` / ``mil_mean`` / ``mil_min`` of the frame sigmoid probabilities (probs)."""

    output = "probs"

    def __init__(self, in_dim, n_classes, mode):
        super().__init__()
        if mode not in ("max", "mean", "min"):
            raise ValueError(f"MIL pooling mode must be 'max', 'mean' or 'min', got {mode!r}")
        self.mode = mode
        self.fc = nn.Linear(in_dim, n_classes)

    def forward(self, h):
        frame = torch.sigmoid(_per_frame(self.fc, h))
        if self.mode == "max":
            clip = frame.amax(dim=1)
        elif self.mode == "min":
            clip = frame.amin(dim=1)
        else:
            clip = frame.mean(dim=1)
        return clip, frame


class MultiLevelAttention(nn.Module):
    """Yu et al.: one attention module per level, concatenated, then ``sigmoid(W u + b)``.

    ``in_dims``: the embedding size of each level. ``forward`` takes a list with one
    ``(batch, dim_i, time_i)`` tensor per level (the levels may differ in time length).
    """

    output = "probs"

    def __init__(self, in_dims, n_classes, attention="class_softmax"):
        super().__init__()
        in_dims = list(in_dims)
        if not in_dims:
            raise ValueError("multi_level_attention needs at least one level: in_dim=[dim_1, ...]")
        self.levels = nn.ModuleList(AttentionPooling(d, n_classes, attention=attention)
                                    for d in in_dims)
        self.fc = nn.Linear(n_classes * len(in_dims), n_classes)

    def forward(self, hs):
        if len(hs) != len(self.levels):
            raise ValueError(f"multi_level_attention was built for {len(self.levels)} levels, "
                             f"got {len(hs)} embedding tensors")
        u = torch.cat([level(h)[0] for level, h in zip(self.levels, hs)], dim=1)
        return torch.sigmoid(self.fc(u)), None


_HEADS = {
    "max": lambda d, k: GlobalPooling(d, k, "max"),
    "avg": lambda d, k: GlobalPooling(d, k, "avg"),
    "attention": AttentionPooling,
    "mil_max": lambda d, k: MilPooling(d, k, "max"),
    "mil_mean": lambda d, k: MilPooling(d, k, "mean"),
    "mil_min": lambda d, k: MilPooling(d, k, "min"),
    "multi_level_attention": MultiLevelAttention,
}
HEADS = tuple(_HEADS)
SINGLE_LEVEL_HEADS = tuple(name for name in HEADS if name != "multi_level_attention")


def make_pooling(name, in_dim, n_classes, **kw):
    """The head ``name`` (one of :data:`HEADS`) for ``in_dim``-dimensional embeddings.

    ``in_dim`` is an int, or for ``multi_level_attention`` a list of ints (one per level).
    ``kw`` are the head's options (``attention``/``classifier`` for ``attention``,
    ``attention`` for ``multi_level_attention``); the other heads take none.
    """
    if name not in _HEADS:
        raise ValueError(f"unknown pooling head {name!r}; choose one of {list(HEADS)}")
    if name == "multi_level_attention":
        if isinstance(in_dim, int):
            raise ValueError("multi_level_attention pools several embedding levels: give in_dim as "
                             "a list of the level sizes")
    elif not isinstance(in_dim, int):
        raise ValueError(f"pooling head {name!r} takes one embedding level: in_dim must be an int, "
                         f"got {in_dim!r}")
    try:
        return _HEADS[name](in_dim, n_classes, **kw)
    except TypeError as e:
        raise ValueError(f"pooling head {name!r} does not take options {sorted(kw)}: {e}") from None
