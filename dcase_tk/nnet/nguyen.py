"""The CNNs of Nguyen & Pernkopf's ensemble for DCASE 2018 Task 1 (shared/published_systems/
part1.md Paper 6, section 4, Table 1), on 1 s chunks (50 frames) of 128 log-mel bands and of
their nearest-neighbour filtered version (dcase_tk/features/nnf.py).

- ``inputs: si`` (single input): one branch on the log-mel; ``mi`` (multi input): two identical
  branches, one on the log-mel and one on the NNF log-mel, their pooled outputs concatenated
  before the FC layers. The input is the ``output: stack`` feature, ``[log-mel, log-NNF]`` per
  frame: MI splits it in halves; SI takes the first half (``si_input: first``) or, for a plain
  log-mel feature, all of it (``si_input: all``).
- ``block: s`` (single) or ``db`` (double: two conv layers with the same filters).
- ``blocks``: 2, 3 or 4, with filters 32-256, 32-64-256, 32-64-128-256 (``filters`` overrides).
- Conv layer: 1x1 zero padding -> BN (of the padded input) -> conv 3x3 (valid, so the map keeps
  its size) -> ReLU, the order of the paper. Every block but the last is followed by max
  pooling (``pool``) and dropout (``dropout``; the paper's "D" variants, 0 for "NoD"); the last
  by global average pooling. ``pool``: an int or ``[time, freq]``.
- Then a dense layer of ``hidden`` units with ReLU and the class layer (logits). The paper's
  text names only "the FC layer"; its parameter counts need a 512-unit hidden layer: for every
  depth, MI = 2 x SI - 5,642 in Table 1, and two branches (512 pooled values) into 512 units
  then 10 classes against one branch (256) is ``2 (256 x 512 + 512 + 5,130) - (512 x 512 + 512
  + 5,130) = 11 x 512 + 10 = 5,642``. ``hidden: 0`` puts the class layer on the pooled values.
- Not in the notes (Fig. 2 was not extracted), assumed: 3x3 kernels, 2x2 max pooling, dropout
  0.3 (the Task 1 baseline's, whose code the authors started from). With them the trainable
  parameters of all 12 variants (128-band inputs, 10 classes) are 0.02-0.3 % (238 to 1,564)
  below Table 1's counts (tests/test_nnet_nguyen.py); the notes do not say where the rest is.
- Init: Glorot-uniform kernels, zero biases (Keras; the paper says Glorot-uniform).
- ``encode``/``classify``: the conv branches (pooled, concatenated) and the dense layers, the
  encoder/classifier split of the model contract.
"""
import torch
from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.weights import keras_init_

TABLE1_FILTERS = {2: (32, 256), 3: (32, 64, 256), 4: (32, 64, 128, 256)}
INPUTS = ("si", "mi")
BLOCKS = ("s", "db")
SI_INPUTS = ("first", "all")


def conv_layer(c_in, c_out):
    """1x1 zero padding -> BN -> conv 3x3 -> ReLU (one conv layer of Table 1)."""
    return [nn.ZeroPad2d(1), nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3), nn.ReLU()]


def branch(filters, convs_per_block, pool, dropout):
    """The conv blocks of one input, ending in global average pooling: ``(B, 1, T, F)`` ->
    ``(B, filters[-1])``."""
    layers, c_in = [], 1
    for i, c_out in enumerate(filters):
        for _ in range(convs_per_block):
            layers += conv_layer(c_in, c_out)
            c_in = c_out
        if i < len(filters) - 1:
            layers += [nn.MaxPool2d(pool), nn.Dropout(dropout)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


@register("nguyen_cnn")
class NguyenCnn(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, inputs="si", block="s", blocks=2, filters=None,
                 hidden=512, dropout=0.3, pool=2, si_input="first"):
        super().__init__()
        for key, value, allowed in (("inputs", inputs, INPUTS), ("block", block, BLOCKS),
                                    ("si_input", si_input, SI_INPUTS)):
            if value not in allowed:
                raise ValueError(f"nguyen_cnn: {key} must be one of {list(allowed)}, got {value!r}")
        if filters is None:
            if blocks not in TABLE1_FILTERS:
                raise ValueError(f"nguyen_cnn: blocks must be one of {sorted(TABLE1_FILTERS)} (Table 1), "
                                 f"got {blocks!r}; or give filters: [...]")
            filters = TABLE1_FILTERS[blocks]
        filters = [int(f) for f in filters]
        if not filters or min(filters) < 1:
            raise ValueError(f"nguyen_cnn: filters must list at least one positive width, got {filters}")
        halves = inputs == "mi" or si_input == "first"
        if halves and n_in % 2:
            raise ValueError(f"nguyen_cnn: n_in={n_in} is odd, but inputs {inputs!r}"
                             f"{' with si_input first' if inputs == 'si' else ''} splits each frame into "
                             "[log-mel, log-NNF] halves (a feature config with nnf output: stack); "
                             "for a plain log-mel use inputs: si, si_input: all")
        pool = (pool, pool) if isinstance(pool, int) else tuple(int(p) for p in pool)
        if len(pool) != 2 or min(pool) < 1:
            raise ValueError(f"nguyen_cnn: pool must be an int or [time, freq] >= 1, got {pool!r}")
        self.inputs, self.si_input = inputs, si_input
        self.bands = n_in // 2 if halves else n_in
        self.min_frames, min_bands = (p ** (len(filters) - 1) for p in pool)
        if self.bands < min_bands:
            raise ValueError(f"nguyen_cnn: {self.bands} bands per input are too few for the "
                             f"{len(filters) - 1} max-poolings of {pool[1]}; need at least {min_bands}")
        convs = 2 if block == "db" else 1
        n_branches = 2 if inputs == "mi" else 1
        self.branches = nn.ModuleList(branch(filters, convs, pool, dropout) for _ in range(n_branches))
        width = n_branches * filters[-1]
        head = [nn.Linear(width, hidden), nn.ReLU()] if hidden else []
        self.classifier = nn.Sequential(*head, nn.Linear(hidden or width, n_classes))
        keras_init_(self)

    def split(self, x):
        """The branch inputs of ``x`` ``(batch, frames, n_in)``, each ``(batch, 1, frames, bands)``."""
        if self.inputs == "mi":
            parts = (x[..., :self.bands], x[..., self.bands:])
        else:
            parts = (x[..., :self.bands] if self.si_input == "first" else x,)
        return [p.unsqueeze(1) for p in parts]

    def encode(self, x):
        """``(batch, frames, n_in)`` -> the branches' pooled maps, concatenated ``(batch, width)``."""
        if x.shape[1] < self.min_frames:
            raise ValueError(f"nguyen_cnn: needs at least {self.min_frames} frames for its pools, got {x.shape[1]}")
        return torch.cat([net(part) for net, part in zip(self.branches, self.split(x))], dim=1)

    def classify(self, h):
        """The dense layers: ``(batch, width)`` -> ``(batch, n_classes)`` logits."""
        return self.classifier(h)

    def forward(self, x):
        """``(batch, frames, n_in)`` -> ``(batch, n_classes)`` logits."""
        return self.classify(self.encode(x))
