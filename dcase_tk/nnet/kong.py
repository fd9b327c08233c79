"""CNN4 and CNN8 of the DCASE 2018 Surrey cross-task baseline (Kong, Iqbal, Xu, Wang, Plumbley).

Source: shared/published_systems/part4.md P4.12, section 4 (Table 1 and the [code] notes).

- Input: a ``T x 64`` log-mel map (any ``n_in`` and ``T`` of at least ``2**stages``).
- CNN4 (AlexNet-like): 4 stages of conv 5x5 -> BN -> ReLU -> 2x2 max pooling, channels
  64-128-256-512. The authors' Task 1 code replaces each max pooling by a stride-2 convolution
  with the same parameter count: ``downsample="stride"`` selects it, the paper's
  ``"maxpool"`` is the default.
- CNN8 (VGG-like): 4 stages of [conv 3x3 -> BN -> ReLU] x 2 -> 2x2 max pooling, channels
  64-128-256-512.
- Convolutions have no bias (BN follows each of them); one FC layer with bias makes the clip
  outputs. That reproduces the printed parameter counts exactly: 4,309,450 (CNN4) and 4,691,274
  (CNN8) for 10 classes. For 320 x 64 inputs the last feature maps are 512 x T/16 x 4.
- Weight init as the authors' code: He-uniform (``U(-s, s)``, ``s = sqrt(2 / fan_in) * sqrt(3)``)
  for every conv and linear layer, zero biases; BN gamma 1, beta 0.

Options:

- ``pooling``: ``"max"`` (default) is global max pooling over time and frequency then FC
  (logits). Any single-level head of :mod:`dcase_tk.nnet.pooling` may be named instead; the
  feature maps are max-pooled over frequency first and the head pools over time.
  (``multi_level_attention`` pools several embedding levels and belongs to model ``mla``.)
- ``freq_pool_only``: the Task 4 SED variant of the authors' code: every stage pools (or strides)
  by (1, 2), along frequency only, so the time resolution of the input is kept and
  ``frame_outputs`` is per input frame. The authors' Task 4 code trains it with the mean over
  time (``pooling: avg``), and its CNN4 uses channels 64-128-128-128
  (``channels: [64, 128, 128, 128]``); the defaults stay those of Table 1.
- ``channels``: the output channels of the stages (Table 1 by default); the number of stages is
  its length. ``dropout``: dropout after every stage (default 0, as published).

``frame_outputs(x)`` gives the head's frame probabilities, ``(batch, T / 2**stages, classes)``
(``T`` with ``freq_pool_only``); ``output`` is the head's.
"""

from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.pooling import SINGLE_LEVEL_HEADS, make_pooling
from dcase_tk.nnet.weights import he_uniform_

TABLE1_CHANNELS = (64, 128, 256, 512)


def conv_bn_relu(c_in, c_out, kernel, stride=1):
    """Bias-free 'same' convolution, batch norm, ReLU (one row of Table 1)."""
    return [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU()]


def cnn4_stage(c_in, c_out, pool, downsample="maxpool"):
    """Conv 5x5 -> BN -> ReLU, downsampled by ``pool`` with max pooling or the conv's stride."""
    if downsample == "stride":
        return nn.Sequential(*conv_bn_relu(c_in, c_out, 5, stride=pool))
    return nn.Sequential(*conv_bn_relu(c_in, c_out, 5), nn.MaxPool2d(pool))


def cnn8_stage(c_in, c_out, pool):
    """[Conv 3x3 -> BN -> ReLU] x 2 -> max pooling by ``pool``."""
    return nn.Sequential(*conv_bn_relu(c_in, c_out, 3), *conv_bn_relu(c_out, c_out, 3),
                         nn.MaxPool2d(pool))


def check_input_size(name, n_in, n_frames, n_stages, freq_pool_only=False):
    """Raise ValueError when ``n_stages`` halvings do not fit the input."""
    need = 2 ** n_stages
    if n_in < need:
        raise ValueError(f"{name}: n_in={n_in} features are too few for {n_stages} pooling stages "
                         f"that halve frequency; use at least {need} mel bins or fewer channels")
    if not freq_pool_only and n_frames < need:
        raise ValueError(f"{name}: n_frames={n_frames} is too short for {n_stages} stages that "
                         f"halve time; use at least {need} frames or freq_pool_only: true")


class KongCnn(nn.Module):
    """Stages from ``make_stage(c_in, c_out, pool)``, max over frequency, then a pooling head."""

    def __init__(self, name, n_in, n_classes, n_frames, make_stage, channels, pooling,
                 freq_pool_only, dropout):
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels:
            raise ValueError(f"{name}: channels must list at least one stage width")
        if pooling not in SINGLE_LEVEL_HEADS:
            raise ValueError(f"{name}: pooling must be one of {list(SINGLE_LEVEL_HEADS)}, got "
                             f"{pooling!r} (multi_level_attention is model 'mla')")
        check_input_size(name, n_in, n_frames, len(channels), freq_pool_only)
        pool = (1, 2) if freq_pool_only else (2, 2)
        stages, c_in = [], 1
        for c_out in channels:
            stages += [make_stage(c_in, c_out, pool), nn.Dropout(dropout)]
            c_in = c_out
        self.features = nn.Sequential(*stages)
        self.head = make_pooling(pooling, c_in, n_classes)
        self.output = self.head.output
        he_uniform_(self)

    def feature_maps(self, x):
        """``(batch, frames, n_in)`` -> last conv maps ``(batch, channels, time', freq')``."""
        return self.features(x.unsqueeze(1))

    def _pool(self, x):
        return self.head(self.feature_maps(x).amax(dim=3))

    def forward(self, x):
        """``(batch, frames, n_in)`` -> clip outputs ``(batch, n_classes)`` (see ``output``)."""
        return self._pool(x)[0]

    def frame_outputs(self, x):
        """Frame probabilities ``(batch, time', n_classes)`` of the head."""
        return self._pool(x)[1]


@register("cnn4")
class Cnn4(KongCnn):
    def __init__(self, n_in, n_classes, n_frames, channels=TABLE1_CHANNELS, pooling="max",
                 freq_pool_only=False, dropout=0.0, downsample="maxpool"):
        if downsample not in ("maxpool", "stride"):
            raise ValueError(f"cnn4: downsample must be 'maxpool' (paper, Table 1) or 'stride' "
                             f"(authors' code), got {downsample!r}")

        def stage(c_in, c_out, pool):
            return cnn4_stage(c_in, c_out, pool, downsample)

        super().__init__("cnn4", n_in, n_classes, n_frames, stage, channels, pooling,
                         freq_pool_only, dropout)


@register("cnn8")
class Cnn8(KongCnn):
    def __init__(self, n_in, n_classes, n_frames, channels=TABLE1_CHANNELS, pooling="max",
                 freq_pool_only=False, dropout=0.0):
        super().__init__("cnn8", n_in, n_classes, n_frames, cnn8_stage, channels, pooling,
                         freq_pool_only, dropout)

