"""Attention-pooling CNN for acoustic scene classification (Ren, Kong, Qian, Plumbley, Schuller).

Source: shared/published_systems/part1.md Paper 7 (Task 1 A/B), Table 1 "our CNN" and Eqs. 1-4.

- Backbone ("our CNN"): 4 x [conv 5x5, stride 2 -> BN -> ReLU], channels 64-128-256-512, no max
  pooling anywhere, so a 320 x 64 log-mel map ends as 512 x 20 x 4 (the paper's 4 x 20 heat
  maps). That is CNN4 of the Surrey baseline code (part4.md P4.12, ``downsample="stride"``), so
  the stages, the bias-free convolutions and the He-uniform init come from
  :mod:`dcase_tk.nnet.kong` (the paper gives no init; both papers are from the same group).
- ``pooling="attention"`` (default, Eqs. 3-4): two parallel 1x1 convolutions with one output per
  class on the maps R; the attention map ``A = sigmoid(.)`` is normalised over all time-frequency
  positions, ``P = A / sum A``, the classification map is ``C = log_softmax(.)`` over classes,
  and ``y = sum P * C`` over the positions. A 1x1 conv is a per-position linear layer, so this is
  the ``attention`` head of :mod:`dcase_tk.nnet.pooling` (``attention="sigmoid"``,
  ``classifier="log_softmax"``) over the flattened time-frequency positions.
- Making ``y`` a class distribution: each ``y_k`` is a weighted mean of the log-probabilities of
  class ``k``, so it is <= 0, but with a different attention map per class the ``exp(y_k)`` do not
  sum to one. The model therefore declares ``output = "logits"``: the softmax of the
  cross-entropy loss and of inference renormalises ``y`` over classes, ``p = softmax(y)``, a
  proper distribution for single-label scene classification.
- ``pooling="max"`` / ``"avg"`` are the paper's Eq. 1 / Eq. 2 baselines (max / mean over time and
  frequency, then a linear layer; logits).
- ``channels``: the stage widths (Table 1 by default).
"""
from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.kong import TABLE1_CHANNELS, check_input_size, cnn4_stage
from dcase_tk.nnet.pooling import make_pooling
from dcase_tk.nnet.weights import he_uniform_

POOLINGS = ("attention", "max", "avg")


@register("attention_cnn")
class AttentionCnn(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, channels=TABLE1_CHANNELS, pooling="attention"):
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels:
            raise ValueError("attention_cnn: channels must list at least one stage width")
        if pooling not in POOLINGS:
            raise ValueError(f"attention_cnn: pooling must be one of {list(POOLINGS)} (Ren et al. "
                             f"Eqs. 1-4), got {pooling!r}")
        check_input_size("attention_cnn", n_in, n_frames, len(channels))
        stages, c_in = [], 1
        for c_out in channels:
            stages.append(cnn4_stage(c_in, c_out, (2, 2), downsample="stride"))
            c_in = c_out
        self.features = nn.Sequential(*stages)
        head_options = {"attention": "sigmoid", "classifier": "log_softmax"} \
            if pooling == "attention" else {}
        self.head = make_pooling(pooling, c_in, n_classes, **head_options)
        self.output = self.head.output
        he_uniform_(self)

    def feature_maps(self, x):
        """``(batch, frames, n_in)`` -> maps R ``(batch, channels, time', freq')``."""
        return self.features(x.unsqueeze(1))

    def forward(self, x):
        """``(batch, frames, n_in)`` -> ``(batch, n_classes)`` logits (softmax gives the scene
        distribution)."""
        return self.head(self.feature_maps(x).flatten(2))[0]

    def attention_map(self, x):
        """The normalised attention P ``(batch, n_classes, time', freq')``, summing to 1 over the
        positions for every class (the paper's heat maps). Only with ``pooling="attention"``."""
        if not hasattr(self.head, "attention_weights"):
            raise ValueError("attention_map needs pooling='attention'")
        maps = self.feature_maps(x)
        weights = self.head.attention_weights(maps.flatten(2))      # (batch, positions, classes)
        return weights.transpose(1, 2).reshape(maps.shape[0], -1, *maps.shape[2:])
