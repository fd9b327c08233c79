"""Single-block DenseNet with squeeze-and-excitation and a multi-head softmax (Jeong & Lim,
Cochlear.ai; DCASE 2018 Task 2).

Source: shared/published_systems/part4.md P4.8, sections 3-4, and the proceedings text of the
paper's section 3.2 (Fig. 2 describes the modules).

- Low-level module (Fig. 2a), in-network input normalisation included. ``frontend: logmel``
  (default): the input is a log-mel matrix (the paper computes it in the network with kapre:
  window 1024, hop 128, 64 mel, i.e. a ``conf/feats`` log-mel config); it is batch-normalised per
  mel bin (the paper's "BN + Reshape" after the log-mel layer: Keras BN over the frequency axis),
  laid out as a 1-channel (frequency, time) image, and a 3x3 conv with ``low_level`` (15) filters
  is concatenated to it. The paper's BN on the waveform before its log-mel layer cannot act on
  precomputed features and is left out: its gain only adds a constant to every log-mel bin,
  which the per-bin BN removes (its offset is a DC term). ``frontend: waveform``: the input is the toolkit's ``waveform``
  feature (frames x samples-per-frame, mono), read as one (1 x samples) image, batch-normalised
  (one channel), and a 1x3 conv with ``low_level`` (1) filter is concatenated to it.
- DenseNet-k modules (Fig. 2b), all in one dense block: BN -> ReLU -> 1x1 conv (k) -> BN -> ReLU ->
  3x3 conv (k) -> SE -> concatenated to the module input -> 2x2 max-pool (1x3 conv and 1x2 pool
  for the waveform). ``growth`` lists k per module. Pools round up ('same'), so 64 mel bins
  survive the 8 pools of the log-mel model (64 -> ... -> 1 -> 1 -> 1).
- SE (squeeze-and-excitation on the k new maps): global average -> FC (k / ``se_ratio``) ->
  ReLU -> FC (k) -> sigmoid -> rescale. The ratio is not printed; only 3 and 4 round both
  published sizes right, and ``se_ratio: 4`` is the default: 10.65M parameters for the log-mel
  model ("about 11M") and 15.55M for the waveform model ("about 16M"), 41 classes. (2 gives
  16.5M for the waveform model, the SE paper's 16 gives 10.3M and 14.8M.)
- n-head classifier (Fig. 2c): ``heads`` (8) parallel Dense layers, each global-average-pooled
  and softmaxed, and the softmax outputs averaged. The heads are part of the model, so
  ``output = "probs"``: ``forward`` returns the averaged class probabilities (rows sum to 1).
  Dense and global average pooling commute; pooling first is cheaper. 7 extra heads add ~0.6M
  parameters, as printed.

Published configurations (defaults per frontend): log-mel: ``low_level: 15``, ``growth: [16, 32,
64, 128, 256, 512, 512, 512]``, 8 heads; waveform: ``low_level: 1``, ``growth: [2, 4, ..., 512]``
then 512 up to 15 modules, 8 heads. Both take any input length (global average pooling); the
paper trains on 64,000-sample crops and feeds whole recordings at inference. Keras defaults, as
the authors' Keras code: Glorot-uniform weights, zero biases, BN epsilon 1e-3 and
``bn_momentum`` 0.99 (Keras' convention: the weight of the old running statistics).
"""
import torch
from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.weights import keras_init_

FRONTENDS = {
    "logmel": {"low_level": 15, "growth": (16, 32, 64, 128, 256, 512, 512, 512),
               "kernel": (3, 3), "pool": (2, 2)},
    "waveform": {"low_level": 1, "growth": tuple(2 ** i for i in range(1, 10)) + (512,) * 6,
                 "kernel": (1, 3), "pool": (1, 2)},
}


def keras_bn(channels, momentum, dims=2):
    """Batch norm with Keras' epsilon; ``momentum`` is Keras' (the weight of the old running
    statistics), PyTorch's is one minus it."""
    return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(channels, momentum=1 - momentum, eps=1e-3)


def same_conv(c_in, c_out, kernel):
    return nn.Conv2d(c_in, c_out, kernel, padding=(kernel[0] // 2, kernel[1] // 2))


class SqueezeExcite(nn.Module):
    def __init__(self, channels, ratio):
        super().__init__()
        hidden = max(1, channels // ratio)
        self.gate = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels),
                                  nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x.mean(dim=(2, 3)))[:, :, None, None]


class DenseModule(nn.Module):
    """One DenseNet-k module: bottleneck and conv to ``k`` new maps, SE, concatenation, pool."""

    def __init__(self, c_in, k, kernel, pool, se_ratio, bn_momentum):
        super().__init__()
        self.new_maps = nn.Sequential(keras_bn(c_in, bn_momentum), nn.ReLU(), nn.Conv2d(c_in, k, 1),
                                      keras_bn(k, bn_momentum), nn.ReLU(), same_conv(k, k, kernel),
                                      SqueezeExcite(k, se_ratio))
        self.pool = nn.MaxPool2d(pool, ceil_mode=True)

    def forward(self, x):
        return self.pool(torch.cat([x, self.new_maps(x)], dim=1))


@register("densenet")
class DenseNet(nn.Module):
    output = "probs"

    def __init__(self, n_in, n_classes, n_frames, frontend="logmel", low_level=None, growth=None,
                 heads=8, se_ratio=4, bn_momentum=0.99):
        super().__init__()
        if frontend not in FRONTENDS:
            raise ValueError(f"densenet: frontend must be one of {sorted(FRONTENDS)}, got {frontend!r}")
        spec = FRONTENDS[frontend]
        low_level = spec["low_level"] if low_level is None else low_level
        growth = spec["growth"] if growth is None else tuple(growth)
        if low_level < 1 or not growth or min(growth) < 1 or heads < 1 or se_ratio < 1:
            raise ValueError(f"densenet: low_level, every growth k, heads and se_ratio must be >= 1, "
                             f"got {low_level}, {list(growth)}, {heads}, {se_ratio}")
        if not 0 <= bn_momentum < 1:
            raise ValueError(f"densenet: bn_momentum must be in [0, 1), got {bn_momentum}")
        self.frontend, self.n_classes, self.heads = frontend, n_classes, heads
        self.input_norm = keras_bn(n_in if frontend == "logmel" else 1, bn_momentum,
                                   dims=1 if frontend == "logmel" else 2)
        self.low_level = same_conv(1, low_level, spec["kernel"])
        modules, channels = [], 1 + low_level
        for k in growth:
            modules.append(DenseModule(channels, k, spec["kernel"], spec["pool"], se_ratio, bn_momentum))
            channels += k
        self.dense_block = nn.Sequential(*modules)
        self.head_layers = nn.Linear(channels, heads * n_classes)    # the n Dense heads, stacked
        keras_init_(self)
        for head in self.head_layers.weight.data.split(n_classes):   # Glorot per head, as n layers
            nn.init.xavier_uniform_(head)

    def image(self, x):
        """Normalised input as a 1-channel image: (freq, time) or (1, samples)."""
        if self.frontend == "logmel":
            return self.input_norm(x.transpose(1, 2)).unsqueeze(1)
        return self.input_norm(x.reshape(x.shape[0], 1, 1, -1))

    def head_probs(self, x):
        """``x``: (batch, frames, n_in) -> (batch, heads, n_classes) softmax of every head."""
        h = self.image(x)
        h = self.dense_block(torch.cat([h, self.low_level(h)], dim=1))
        logits = self.head_layers(h.mean(dim=(2, 3)))
        return logits.view(-1, self.heads, self.n_classes).softmax(dim=2)

    def forward(self, x):
        """``x``: (batch, frames, n_in) -> (batch, n_classes) head-averaged probabilities."""
        return self.head_probs(x).mean(dim=1)
