"""The R-CNNs of Koutini, Eghbal-zadeh & Widmer (CP-JKU, DCASE 2018 Task 4), with a small SRU.

Source: shared/published_systems/part4.md P4.3 ("Iterative Knowledge Distillation in R-CNNs for
Weakly-Labeled Semi-Supervised Sound Event Detection"), section 4, Tables 2 and 3. Both models
pool along frequency only, so ``frame_outputs`` is at the input frame rate; the clip output is the
global average over time of the frame probabilities (``output = "probs"``, the ``mil_mean`` head
of :mod:`dcase_tk.nnet.pooling`: a 1x1 convolution with bias over a sequence is a per-frame
linear layer).

Published (Tables 2 and 3; input 240 x 64 log-mel):

- ``rcnn_deep``: 4 blocks of [2x2 conv (padding 1, stride 1) 64 -> BN -> ReLU] x 2 -> max pooling
  (1, 2) over frequency; a 1x1 conv of 256 filters with bias -> ReLU -> max pooling (1, 4); a
  bidirectional SRU of 128 hidden units; a 1x1 conv to the classes with bias and a sigmoid; the
  mean over time.
- ``rcnn_shallow``: 3 blocks of 3x3 conv (padding 1) 64 -> BN -> ReLU -> max pooling (1, 4); a
  bidirectional SRU of 128; a 1x1 conv to the classes with bias and a sigmoid; the mean over time.

Our choices (not in the notes):

- The tables write "BIAS" only on the 1x1 convolutions: the 2x2 and 3x3 convolutions, each
  followed by batch norm, have no bias.
- A 2x2 convolution with padding 1 grows each axis by one. We crop it back to the input size,
  alternately: the first conv of a block drops the last row and column, the second the first,
  so each pair sees frames ``t-1 .. t+1`` (as one 3x3 conv does) and no shift builds up along
  the 8 convolutions. Frames stay at ``T`` and the frequency axis at ``n_in`` until it is pooled.
- "128 hidden units" is read as 128 per direction, the two directions concatenated (256).
- The SRU is that of :class:`Sru`: gates from the input only, ``g = tanh``, biases 0; the
  other weights use torch's default initialisations; no dropout (none is published).

Options (so a mini corpus can shrink the networks): ``filters`` (one width per block),
``freq_pools`` (the frequency pooling of each block), ``sru_units`` (per direction) and for
``rcnn_deep`` ``bottleneck`` (the 1x1 conv width) and ``bottleneck_pool`` (its frequency pooling).
The frequency axis left after pooling is flattened with the channels into the SRU input. Time is
never pooled: any number of frames works (``n_frames`` is not used).
"""
import math

import torch
from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.pooling import make_pooling


class Sru(nn.Module):
    """One direction of a Simple Recurrent Unit (Lei, Zhang, Wang, Dai & Artzi, "Simple Recurrent
    Units for Highly Parallelizable Recurrence", EMNLP 2018; arXiv:1709.02755).

    One matrix product maps every frame ``x_t`` to ``x~_t = W x_t``, ``f_t = sigmoid(W_f x_t +
    b_f)``, ``r_t = sigmoid(W_r x_t + b_r)`` (and ``W_h x_t`` for the highway when the input size
    differs from ``hidden``; otherwise ``x_t`` itself). Then the only sequential part, elementwise:
    ``c_t = f_t * c_{t-1} + (1 - f_t) * x~_t`` from ``c_0 = 0``, and the highway output
    ``h_t = r_t * g(c_t) + (1 - r_t) * x_t`` (``W_h x_t`` in place of ``x_t`` when projected).
    Our choices: ``g = tanh``; the gates depend on ``x_t`` only, as in the first arXiv version
    (the EMNLP version adds ``v * c_{t-1}`` terms to them); biases start at 0.

    ``forward``: ``(batch, time, n_in)`` -> ``(batch, time, hidden)``; ``reverse=True`` runs from
    the last frame to the first.
    """

    def __init__(self, n_in, hidden, reverse=False):
        super().__init__()
        self.hidden = hidden
        self.reverse = reverse
        self.project = n_in != hidden
        self.w = nn.Linear(n_in, (4 if self.project else 3) * hidden, bias=False)
        self.bias = nn.Parameter(torch.zeros(2 * hidden))       # b_f, b_r

    def forward(self, x):
        if self.reverse:
            x = x.flip(1)
        u = self.w(x).split(self.hidden, dim=2)
        x_tilde = u[0]
        b_f, b_r = self.bias.split(self.hidden)
        f = torch.sigmoid(u[1] + b_f)
        r = torch.sigmoid(u[2] + b_r)
        highway = u[3] if self.project else x
        c = x.new_zeros(x.shape[0], self.hidden)
        cells = []
        for t in range(x.shape[1]):
            c = f[:, t] * c + (1 - f[:, t]) * x_tilde[:, t]
            cells.append(c)
        h = r * torch.tanh(torch.stack(cells, dim=1)) + (1 - r) * highway
        return h.flip(1) if self.reverse else h


class BiSru(nn.Module):
    """Bidirectional SRU: a forward and a backward :class:`Sru`, outputs concatenated,
    ``(batch, time, n_in)`` -> ``(batch, time, 2 * hidden)``."""

    def __init__(self, n_in, hidden):
        super().__init__()
        self.fwd = Sru(n_in, hidden)
        self.bwd = Sru(n_in, hidden, reverse=True)

    def forward(self, x):
        return torch.cat([self.fwd(x), self.bwd(x)], dim=2)


class Crop(nn.Module):
    """Drop the first (``side="first"``) or last row and column of ``(batch, c, time, freq)``."""

    def __init__(self, side):
        super().__init__()
        self.side = side

    def forward(self, x):
        return x[:, :, 1:, 1:] if self.side == "first" else x[:, :, :-1, :-1]


def deep_block(c_in, c_out, freq_pool):
    """[2x2 conv (padding 1, no bias) -> crop -> BN -> ReLU] x 2 -> max pooling (1, ``freq_pool``);
    the first conv drops its last row and column, the second its first."""
    layers = []
    for side in ("last", "first"):
        layers += [nn.Conv2d(c_in, c_out, 2, padding=1, bias=False), Crop(side),
                   nn.BatchNorm2d(c_out), nn.ReLU()]
        c_in = c_out
    return nn.Sequential(*layers, nn.MaxPool2d((1, freq_pool)))


def shallow_block(c_in, c_out, freq_pool):
    """3x3 conv (padding 1, no bias) -> BN -> ReLU -> max pooling (1, ``freq_pool``)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(), nn.MaxPool2d((1, freq_pool)))


class _Rcnn(nn.Module):
    """Conv blocks (frequency pooling only) -> BiSRU -> per-frame sigmoid -> mean over time."""

    def __init__(self, name, n_in, n_classes, make_block, filters, freq_pools, sru_units,
                 tail=None, tail_pool=1):
        super().__init__()
        filters, freq_pools = [int(f) for f in filters], [int(p) for p in freq_pools]
        if not filters or len(filters) != len(freq_pools):
            raise ValueError(f"{name}: filters {filters} and freq_pools {freq_pools} must list one "
                             f"value per conv block (same non-zero length)")
        if min(freq_pools) < 1 or min(filters) < 1 or sru_units < 1:
            raise ValueError(f"{name}: filters, freq_pools and sru_units must be positive, got "
                             f"{filters}, {freq_pools}, {sru_units}")
        total_pool = math.prod(freq_pools) * tail_pool
        freq_out = n_in // total_pool
        if freq_out < 1:
            raise ValueError(f"{name}: n_in={n_in} features are fewer than the total frequency "
                             f"pooling {total_pool}; use smaller pools or more mel bins")
        layers, c_in = [], 1
        for c_out, pool in zip(filters, freq_pools):
            layers.append(make_block(c_in, c_out, pool))
            c_in = c_out
        if tail is not None:
            layers += [nn.Conv2d(c_in, tail, 1), nn.ReLU(), nn.MaxPool2d((1, tail_pool))]
            c_in = tail
        self.features = nn.Sequential(*layers)
        self.rnn = BiSru(c_in * freq_out, int(sru_units))
        self.head = make_pooling("mil_mean", 2 * int(sru_units), n_classes)
        self.output = self.head.output

    def _pool(self, x):
        maps = self.features(x.unsqueeze(1))                   # (batch, channels, frames, freq')
        seq = maps.permute(0, 2, 1, 3).flatten(2)              # (batch, frames, channels * freq')
        return self.head(self.rnn(seq).transpose(1, 2))

    def forward(self, x):
        """``(batch, frames, n_in)`` -> clip probabilities ``(batch, n_classes)``: the mean over
        time of the frame outputs."""
        return self._pool(x)[0]

    def frame_outputs(self, x):
        """Frame probabilities ``(batch, frames, n_classes)`` at the input frame rate."""
        return self._pool(x)[1]


@register("rcnn_deep")
class RcnnDeep(_Rcnn):
    """Table 2 of Koutini et al. (see the module docstring)."""

    def __init__(self, n_in, n_classes, n_frames, filters=(64, 64, 64, 64),
                 freq_pools=(2, 2, 2, 2), bottleneck=256, bottleneck_pool=4, sru_units=128):
        if bottleneck < 1 or bottleneck_pool < 1:
            raise ValueError(f"rcnn_deep: bottleneck and bottleneck_pool must be positive, got "
                             f"{bottleneck}, {bottleneck_pool}")
        super().__init__("rcnn_deep", n_in, n_classes, deep_block, filters, freq_pools, sru_units,
                         tail=int(bottleneck), tail_pool=int(bottleneck_pool))


@register("rcnn_shallow")
class RcnnShallow(_Rcnn):
    """Table 3 of Koutini et al. (see the module docstring)."""

    def __init__(self, n_in, n_classes, n_frames, filters=(64, 64, 64), freq_pools=(4, 4, 4),
                 sru_units=128):
        super().__init__("rcnn_shallow", n_in, n_classes, shallow_block, filters, freq_pools,
                         sru_units)
