"""Multi-level attention model for weakly-labelled audio tagging (Yu, Barsim, Kong, Yang).

Source: shared/published_systems/part4.md P4.6 (AudioSet: 10 x 128 embeddings per clip, one per
second) and its use for Task 2 by Xu et al. (part1.md Paper 4, "Multi-level attention", on
6 x 128 VGGish embeddings).

- Input: ``(batch, frames, n_in)``, e.g. one 128-d embedding per second.
- Embedding mapping: ``n_layers`` fully connected layers of ``hidden`` units applied to every
  frame, each FC -> batch norm -> ReLU -> dropout ("600 hidden units followed by ReLU ...
  dropout rate of 0.4 ... batch normalization"; the order within a layer is not printed, this is
  the usual Keras order of the authors' group).
- Attention modules after the FC layers listed in ``levels`` (1-based). The default ``(2, 3)`` is
  the paper's best model "2-A-1-A" (attention after the 2nd and 3rd FC layers, AudioSet mAP
  0.360); ``n_layers=3, levels=(3,)`` is the single-level model "3-A" of Kong et al.
- Each module is Fig. 1's attention: ``v = softmax over classes`` normalised along time,
  ``f = sigmoid``; the module outputs are concatenated and ``z = sigmoid(W u + b)``
  (the ``multi_level_attention`` head of :mod:`dcase_tk.nnet.pooling`). ``output = "probs"``.
- The reference is Keras 2.0.8, so its defaults are kept: Glorot-uniform weights, zero biases,
  BN momentum 0.99 (torch 0.01), epsilon 1e-3.
"""
from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.pooling import make_pooling
from dcase_tk.nnet.weights import keras_init_


def fc_layer(d_in, d_out, dropout):
    """A fully connected layer applied at every frame of ``(batch, dim, time)``, BN, ReLU,
    dropout."""
    return nn.Sequential(nn.Conv1d(d_in, d_out, 1), nn.BatchNorm1d(d_out, momentum=0.01, eps=1e-3),
                         nn.ReLU(), nn.Dropout(dropout))


@register("mla")
class MultiLevelAttentionModel(nn.Module):
    output = "probs"

    def __init__(self, n_in, n_classes, n_frames, hidden=600, n_layers=3, levels=(2, 3),
                 dropout=0.4, attention="class_softmax"):
        super().__init__()
        levels = [int(level) for level in levels]
        if not levels or levels != sorted(set(levels)) or levels[0] < 1 or levels[-1] != n_layers:
            raise ValueError(f"mla: levels {levels} must be increasing FC layer numbers from 1 to "
                             f"n_layers={n_layers}, ending with n_layers (the last layer is always "
                             f"attended), e.g. [2, 3] for '2-A-1-A'")
        dims = [n_in] + [hidden] * n_layers
        self.layers = nn.ModuleList(fc_layer(a, b, dropout) for a, b in zip(dims, dims[1:]))
        self.levels = levels
        self.head = make_pooling("multi_level_attention", [hidden] * len(levels), n_classes,
                                 attention=attention)
        keras_init_(self)

    def forward(self, x):
        """``(batch, frames, n_in)`` -> clip probabilities ``(batch, n_classes)``."""
        h, hs = x.transpose(1, 2), []
        for number, layer in enumerate(self.layers, start=1):
            h = layer(h)
            if number in self.levels:
                hs.append(h)
        return self.head(hs)[0]
