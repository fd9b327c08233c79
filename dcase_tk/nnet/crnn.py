"""Convolutional recurrent networks for weakly-labelled sound event detection (DCASE 2018 Task 4).

``crnn``: the Task 4 baseline (part1.md Paper 3 section 4, the proceedings text plus the
baseline's ``task4_crnn.yaml``): 3 blocks of conv 64 filters 3x3 -> BN -> ReLU -> max pooling
(1, 4) along frequency only -> dropout 0.3; a bidirectional GRU of 64 units per direction with
30 % dropout on its input; a time-distributed dense layer with sigmoid; global average pooling of
the frame probabilities over time for the clip output (``pooling="mil_mean"``). A 500 x 64 log-mel
input ends as 64 channels x 1 frequency bin per frame, so ``frame_outputs`` is at the input frame
rate. The reference is Keras, so its defaults are kept: Glorot-uniform conv/dense/GRU input
weights, orthogonal recurrent weights, zero biases, BN momentum 0.99 (torch 0.01) and epsilon 1e-3.

``glu_crnn``: the same network with gated linear units instead of ReLU,
``out = conv_a(x) * sigmoid(conv_b(x))`` (both with bias), as Hou et al.'s GLU-CRNN
(part2.md Paper 4, Fig. 3) and Harb & Pernkopf's GCRNN (part2.md Paper 5; its block internals
are not in the notes). Defaults are Hou et al.'s, the fully described one: 3 blocks of
[conv 3x3 128 filters, GLU] x 2 -> max pooling (1, 4) -> dropout 0.2, no batch norm (none is
shown in their Fig. 3), a BGRU of 128 units per direction ("128 units (concat)" read as 128 per
direction, concatenated), time-distributed sigmoid dense, and global max pooling of the frame
probabilities (``pooling="mil_max"``, their best non-CTC head). The CTC head of that paper is a
loss, not a pooling head.

``gcrnn``: Harb & Pernkopf's GCRNN (part2.md Paper 5, section 4), ``glu_crnn`` with their
published facts as defaults: 3 gated (GLU) conv blocks, a BGRU of 64 units per direction
(concatenated), and two per-frame layers, a classification layer (sigmoid per class) and an
attention layer (softmax over classes), pooled to ``y_c = sum_t cla_c(t) att_c(t) / sum_t
att_c(t)``: the ``attention`` head with ``attention="class_softmax"`` (probs; it clamps the
attention weights at 1e-7 before normalising). Their block internals (Fig. 1) are not in the
notes; our choices: 64 filters, 2 convs per block, frequency pooling (4, 4, 4), no batch norm,
dropout 0.2 after each block, none on the GRU input, and the Keras initialisation of the other
two models (they used TensorFlow; their initialisers are not given).

All three take the same options (only the defaults differ): ``filters`` (one width per block),
``convs_per_block``, ``freq_pools`` (frequency pooling of each block), ``dropout``,
``batch_norm``, ``rnn_units``, ``rnn_dropout``, ``pooling`` (any single-level head of
:mod:`dcase_tk.nnet.pooling`; ``output`` follows the head) and ``pooling_options`` (a dict of the
head's options, e.g. ``{attention: sigmoid}`` for the ``attention`` head; default none, and for
``gcrnn`` ``{attention: class_softmax}`` when ``pooling`` is ``attention``).
"""
import math

from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.pooling import SINGLE_LEVEL_HEADS, make_pooling
from dcase_tk.nnet.weights import keras_init_


def keras_batch_norm(channels):
    return nn.BatchNorm2d(channels, momentum=0.01, eps=1e-3)


class ConvBlock(nn.Sequential):
    """``n_convs`` x [conv 3x3 'same' (-> BN) -> ReLU or GLU] -> max pooling along frequency ->
    dropout. Gated: one conv makes ``2 * c_out`` maps, ``nn.GLU`` returns
    ``first_half * sigmoid(second_half)``, i.e. ``conv_a(x) * sigmoid(conv_b(x))``."""

    def __init__(self, c_in, c_out, n_convs, freq_pool, dropout, gated, batch_norm):
        layers = []
        for _ in range(n_convs):
            width = 2 * c_out if gated else c_out
            layers.append(nn.Conv2d(c_in, width, 3, padding=1))
            if batch_norm:
                layers.append(keras_batch_norm(width))
            layers.append(nn.GLU(dim=1) if gated else nn.ReLU())
            c_in = c_out
        layers += [nn.MaxPool2d((1, freq_pool)), nn.Dropout(dropout)]
        super().__init__(*layers)


class _Crnn(nn.Module):
    """Conv blocks (frequency pooling only) -> BiGRU -> per-frame head."""

    def __init__(self, name, n_in, n_classes, *, gated, filters, convs_per_block, freq_pools,
                 dropout, batch_norm, rnn_units, rnn_dropout, pooling, pooling_options):
        super().__init__()
        filters, freq_pools = [int(f) for f in filters], [int(p) for p in freq_pools]
        if not filters or len(filters) != len(freq_pools):
            raise ValueError(f"{name}: filters {filters} and freq_pools {freq_pools} must list one "
                             f"value per conv block (same non-zero length)")
        if convs_per_block < 1:
            raise ValueError(f"{name}: convs_per_block must be >= 1, got {convs_per_block}")
        freq_out = n_in // math.prod(freq_pools)
        if freq_out < 1:
            raise ValueError(f"{name}: n_in={n_in} features are fewer than the total frequency "
                             f"pooling {math.prod(freq_pools)} of freq_pools {freq_pools}; use "
                             f"smaller pools or more mel bins")
        if pooling_options is not None and not isinstance(pooling_options, dict):
            raise ValueError(f"{name}: pooling_options must be a mapping of the head's options, "
                             f"e.g. {{'attention': 'class_softmax'}}, got {pooling_options!r}")
        if pooling not in SINGLE_LEVEL_HEADS:
            raise ValueError(f"{name}: pooling must be one of {list(SINGLE_LEVEL_HEADS)}, got "
                             f"{pooling!r} (multi_level_attention is model 'mla')")
        blocks, c_in = [], 1
        for c_out, pool in zip(filters, freq_pools):
            blocks.append(ConvBlock(c_in, c_out, convs_per_block, pool, dropout, gated, batch_norm))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.rnn_dropout = nn.Dropout(rnn_dropout)
        self.rnn = nn.GRU(c_in * freq_out, rnn_units, batch_first=True, bidirectional=True)
        self.head = make_pooling(pooling, 2 * rnn_units, n_classes, **(pooling_options or {}))
        self.output = self.head.output
        keras_init_(self)

    def embeddings(self, x):
        """``(batch, frames, n_in)`` -> BiGRU outputs ``(batch, 2 * rnn_units, frames)``."""
        maps = self.blocks(x.unsqueeze(1))                     # (batch, channels, frames, freq')
        seq = maps.permute(0, 2, 1, 3).flatten(2)              # (batch, frames, channels * freq')
        out, _ = self.rnn(self.rnn_dropout(seq))
        return out.transpose(1, 2)

    def forward(self, x):
        """``(batch, frames, n_in)`` -> clip outputs ``(batch, n_classes)`` (see ``output``)."""
        return self.head(self.embeddings(x))[0]

    def frame_outputs(self, x):
        """Frame probabilities ``(batch, frames, n_classes)`` at the input frame rate."""
        return self.head(self.embeddings(x))[1]


@register("crnn")
class Crnn(_Crnn):
    def __init__(self, n_in, n_classes, n_frames, filters=(64, 64, 64), convs_per_block=1,
                 freq_pools=(4, 4, 4), dropout=0.3, batch_norm=True, rnn_units=64, rnn_dropout=0.3,
                 pooling="mil_mean", pooling_options=None):
        super().__init__("crnn", n_in, n_classes, gated=False, filters=filters,
                         convs_per_block=convs_per_block, freq_pools=freq_pools, dropout=dropout,
                         batch_norm=batch_norm, rnn_units=rnn_units, rnn_dropout=rnn_dropout,
                         pooling=pooling, pooling_options=pooling_options)


@register("glu_crnn")
class GluCrnn(_Crnn):
    def __init__(self, n_in, n_classes, n_frames, filters=(128, 128, 128), convs_per_block=2,
                 freq_pools=(4, 4, 4), dropout=0.2, batch_norm=False, rnn_units=128,
                 rnn_dropout=0.0, pooling="mil_max", pooling_options=None):
        super().__init__("glu_crnn", n_in, n_classes, gated=True, filters=filters,
                         convs_per_block=convs_per_block, freq_pools=freq_pools, dropout=dropout,
                         batch_norm=batch_norm, rnn_units=rnn_units, rnn_dropout=rnn_dropout,
                         pooling=pooling, pooling_options=pooling_options)


@register("gcrnn")
class Gcrnn(_Crnn):
    def __init__(self, n_in, n_classes, n_frames, filters=(64, 64, 64), convs_per_block=2,
                 freq_pools=(4, 4, 4), dropout=0.2, batch_norm=False, rnn_units=64,
                 rnn_dropout=0.0, pooling="attention", pooling_options=None):
        if pooling_options is None and pooling == "attention":
            pooling_options = {"attention": "class_softmax"}
        super().__init__("gcrnn", n_in, n_classes, gated=True, filters=filters,
                         convs_per_block=convs_per_block, freq_pools=freq_pools, dropout=dropout,
                         batch_norm=batch_norm, rnn_units=rnn_units, rnn_dropout=rnn_dropout,
                         pooling=pooling, pooling_options=pooling_options)
