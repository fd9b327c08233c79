"""VGG-style CNNs: blocks of 3x3 conv -> BN -> ReLU with max pooling, a global pooling (or a
flatten), dropout and FC layers.

The default is the VGG-like network of Nguyen et al. (DCASE 2018 Task 2, team "Emilia NTU";
shared/published_systems/part1.md Paper 10, section 4, Table 1) for 128-frame x 96-mel patches:

    [3x3, 24] x 2, max-pool 2  -> 64 x 48      [3x3, 48] x 2, max-pool 2 -> 32 x 24
    [3x3, 48] x 2, max-pool 2  -> 16 x 12      [3x3, 64] x 2, max-pool 2 ->  8 x  6
    [1x1, 64]                  ->  8 x  6      flatten, dropout, FC 128, ReLU, dropout, FC classes

Every conv is followed by BN and ReLU ('same' padding). The FC layer takes the flattened
8 x 6 x 64 map: only that comes near the printed size, "5.48 x 10^5" parameters (global pooling
would leave ~1.6e5). The exact count here is 546,513 trainable parameters (547,377 with the BN
statistics that Keras counts), i.e. 5.47e5; nothing in the table accounts for the last 0.1%.
The dropout rate is not printed: 0.5 is assumed. With ``pooling: flatten`` the model takes exactly
``n_frames`` frames; the paper slides 128-frame patches over a clip (hop 8) and averages the
patch probabilities, which is clip aggregation at inference, outside the model.

Options:

- ``blocks``: a list of blocks, each ``{convs: [channels, ...], kernel: 3, pool: 2}``; ``convs``
  lists the output channels of the block's conv -> BN -> ReLU layers, ``kernel`` their (odd)
  square kernel, ``pool`` the max-pool after them (an int, ``[time, freq]``, or 1 for none).
- ``pooling``: ``flatten`` (Nguyen), ``avg`` or ``max`` (global over time and frequency; any
  input length of at least the product of the time pools).
- ``fc``: hidden FC widths (each dropout -> FC -> ReLU), then dropout -> the class layer.
- ``dropout``: the dropout rate before each FC layer.
- ``in_channels``: input maps stacked along the feature axis, channel-major, as the toolkit's
  multichannel features (``channels: [mid, side]`` gives ``n_in = 2 * n_mels``).

Mariotti et al.'s VGG (part2.md Paper 9: blocks of 2-3 convs with BN before the activation and a
max-pool, channels capped at 512, global average pooling, dropout before two FC layers; mono, L/R,
M/S or H/P inputs) is a config. The notes give neither the widths nor the FC size; with VGG's
64-128-256-512 widths, "VGG10" (8 convs + 2 FC) on M/S 128-mel features is::

    model: {name: vgg, in_channels: 2, pooling: avg, fc: [512], dropout: 0.5,
            blocks: [{convs: [64, 64]}, {convs: [128, 128]}, {convs: [256, 256]},
                     {convs: [512, 512]}]}

(4.96M parameters for 10 classes, near the paper's "5.3M", which it does not tie to one depth;
VGG8: drop the last block; VGG12: three convs in each of the last two blocks.)
Weight init: PyTorch defaults (not given by either paper).
"""
import math

from torch import nn

from dcase_tk.nnet import register

NGUYEN_BLOCKS = ({"convs": [24, 24]}, {"convs": [48, 48]}, {"convs": [48, 48]},
                 {"convs": [64, 64]}, {"convs": [64], "kernel": 1, "pool": 1})
BLOCK_KEYS = {"convs", "kernel", "pool"}
POOLINGS = ("flatten", "avg", "max")


def parse_block(block):
    """``(channels list, kernel, (time pool, freq pool))`` of one ``blocks`` entry."""
    if not isinstance(block, dict) or "convs" not in block or set(block) - BLOCK_KEYS:
        raise ValueError(f"vgg: each block must be a mapping with 'convs' (and optionally 'kernel', "
                         f"'pool'), got {block!r}")
    convs, kernel, pool = list(block["convs"]), block.get("kernel", 3), block.get("pool", 2)
    if not convs:
        raise ValueError(f"vgg: block {block!r} has no convs")
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"vgg: kernel must be odd ('same' padding), got {kernel}")
    pool = (pool, pool) if isinstance(pool, int) else tuple(pool)
    if len(pool) != 2 or min(pool) < 1:
        raise ValueError(f"vgg: pool must be an int or [time, freq] >= 1, got {block['pool']!r}")
    return convs, kernel, pool


def conv_block(c_in, convs, kernel, pool):
    layers = []
    for c_out in convs:
        layers += [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.BatchNorm2d(c_out), nn.ReLU()]
        c_in = c_out
    if pool != (1, 1):
        layers.append(nn.MaxPool2d(pool))
    return layers


def classifier(n_features, fc, n_classes, dropout):
    layers = []
    for width in fc:
        layers += [nn.Dropout(dropout), nn.Linear(n_features, width), nn.ReLU()]
        n_features = width
    return nn.Sequential(*layers, nn.Dropout(dropout), nn.Linear(n_features, n_classes))


@register("vgg")
class VGG(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, blocks=NGUYEN_BLOCKS, pooling="flatten", fc=(128,),
                 dropout=0.5, in_channels=1):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"vgg: pooling must be one of {POOLINGS}, got {pooling!r}")
        if in_channels < 1 or n_in % in_channels:
            raise ValueError(f"vgg: n_in={n_in} features do not split into in_channels={in_channels} "
                             "equal maps")
        parsed = [parse_block(b) for b in blocks]
        if not parsed:
            raise ValueError("vgg: blocks must list at least one block")
        self.in_channels, self.pooling, self.n_frames = in_channels, pooling, n_frames
        self.min_frames = math.prod(pool[0] for _, _, pool in parsed)
        layers, channels, frames, bands = [], in_channels, n_frames, n_in // in_channels
        for convs, kernel, pool in parsed:
            layers += conv_block(channels, convs, kernel, pool)
            channels, frames, bands = convs[-1], frames // pool[0], bands // pool[1]
        if bands < 1 or (pooling == "flatten" and frames < 1):
            raise ValueError(f"vgg: input {n_frames} frames x {n_in // in_channels} bands is too small "
                             f"for the pools of {list(blocks)}")
        self.features = nn.Sequential(*layers)
        n_features = channels * frames * bands if pooling == "flatten" else channels
        self.classifier = classifier(n_features, fc, n_classes, dropout)

    def check_frames(self, frames):
        if self.pooling == "flatten" and frames != self.n_frames:
            raise ValueError(f"vgg: built with pooling 'flatten' for {self.n_frames}-frame inputs, got "
                             f"{frames} frames; feed fixed-length patches or use pooling avg/max")
        if frames < self.min_frames:
            raise ValueError(f"vgg: needs at least {self.min_frames} frames for its pools, got {frames}")

    def forward(self, x):
        """``x``: (batch, frames, in_channels * bands) -> (batch, n_classes) logits."""
        batch, frames, _ = x.shape
        self.check_frames(frames)
        h = x.reshape(batch, frames, self.in_channels, -1).transpose(1, 2)
        h = self.features(h)
        if self.pooling == "flatten":
            h = h.flatten(1)
        else:
            h = h.amax(dim=(2, 3)) if self.pooling == "max" else h.mean(dim=(2, 3))
        return self.classifier(h)
