"""Xception with multi-scale feature fusion (Yang, Chen, Tao; DCASE 2018 Task 1A/1B).

Source: shared/published_systems/part1.md Paper 5, section 4, and the proceedings text of its
section 2. The paper's own figure of the network (Fig. 3) did not survive the text extraction;
what it states: "Xception ... 36 convolutional layers ... structured into 14 modules, all of which
have linear residual connections around them, except for the first and last modules", depthwise
separable convolutions (a depthwise 3x3 then a pointwise 1x1, no non-linearity in between, e.g.
3x3x16 + 16x32 = 656 parameters for 16 -> 32 channels), and the modification: the feature maps of
the 32nd, 34th and 36th layers, i.e. the outputs of the last three modules, are each globally
pooled, concatenated, and fused by an FC layer into the softmax.

The 14 modules follow Chollet's Xception (the network the paper names), widths as options:

1. ``stem``: conv 3x3 stride 2 (32), conv 3x3 (64), unpadded, each BN -> ReLU.
2. -4. ``entry`` (128, 256, 728): [ReLU] sepconv -> BN -> ReLU -> sepconv -> BN -> max-pool 3x3
   stride 2, plus a 1x1 stride-2 conv -> BN shortcut (module 2 has no leading ReLU: the stem
   ends with one).
5. -12. ``middle_blocks`` (8) x [ReLU -> sepconv -> BN] x 3 at ``entry[-1]`` channels, identity
   shortcut.
13. ``exit_module`` (728, 1024): ReLU -> sepconv -> BN -> ReLU -> sepconv -> BN -> max-pool,
    with a 1x1 stride-2 conv shortcut.
14. ``last_module`` (1536, 2048): sepconv -> BN -> ReLU -> sepconv -> BN -> ReLU, no shortcut.

Convolutions have no bias (BN follows each). ``scales``: how many of the last module outputs are
globally average-pooled and concatenated before the FC layer: 3 (default) is the paper's
multi-scale model (728 + 1024 + 2048 = 3800 features), 1 the plain Xception of its Table 2
"w/o multi-scale". "Global pooling" is not further specified: average, as Xception. "We fuse the
features through FC layer and use softmax layer" is read as one FC layer, the class layer (no
hidden layer is described; logits, the paper's focal loss is a training option). With the
default widths the 36 convolutions are 2 + 3 x 2 + 8 x 3 + 2 + 2, and the backbone has Keras'
Xception parameter count (for a 1-channel input). The spatial axes are (time, frequency); the
network downsamples by 32 (stem stride and four pools) and needs at least 7 frames and 7
features (the two unpadded stem convolutions). Weight init: PyTorch defaults (the notes say
nothing).
"""
import torch
from torch import nn

from dcase_tk.nnet import register

MIN_SIZE = 7


class SeparableConv2d(nn.Sequential):
    """Depthwise 3x3 ('same') then pointwise 1x1 convolution, no bias, no non-linearity."""

    def __init__(self, c_in, c_out):
        super().__init__(nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False))


def separable_layers(c_in, widths, lead_relu=True):
    """[ReLU ->] sepconv -> BN for each width (the first ReLU left out if ``lead_relu`` is False)."""
    layers = []
    for i, width in enumerate(widths):
        if i > 0 or lead_relu:
            layers.append(nn.ReLU())
        layers += [SeparableConv2d(c_in, width), nn.BatchNorm2d(width)]
        c_in = width
    return layers


class ResidualModule(nn.Module):
    """Separable layers with a linear shortcut: 1x1 stride-2 conv -> BN when the module ends with
    a stride-2 max-pool, else identity (the middle modules keep their width)."""

    def __init__(self, c_in, widths, downsample, lead_relu=True):
        super().__init__()
        layers = separable_layers(c_in, widths, lead_relu)
        if downsample:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, widths[-1], 1, stride=2, bias=False),
                                          nn.BatchNorm2d(widths[-1]))
        else:
            self.shortcut = nn.Identity()
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


def conv_bn_relu(c_in, c_out, stride):
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def check_widths(stem, entry, exit_module, last_module, middle_blocks, scales):
    for name, widths, size in (("stem", stem, 2), ("exit_module", exit_module, 2),
                               ("last_module", last_module, 2)):
        if len(widths) != size:
            raise ValueError(f"xception: {name} must list {size} widths, got {list(widths)}")
    if not entry:
        raise ValueError("xception: entry must list at least one module width (published: [128, 256, 728])")
    if middle_blocks < 0:
        raise ValueError(f"xception: middle_blocks must be >= 0, got {middle_blocks}")
    n_modules = 1 + len(entry) + middle_blocks + 2
    if not 1 <= scales <= n_modules:
        raise ValueError(f"xception: scales must be between 1 and the {n_modules} modules, got {scales}")


@register("xception")
class Xception(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, stem=(32, 64), entry=(128, 256, 728),
                 middle_blocks=8, exit_module=(728, 1024), last_module=(1536, 2048), scales=3):
        super().__init__()
        check_widths(stem, entry, exit_module, last_module, middle_blocks, scales)
        if n_in < MIN_SIZE:
            raise ValueError(f"xception: needs at least {MIN_SIZE} features per frame, got {n_in}")
        modules = [nn.Sequential(*conv_bn_relu(1, stem[0], 2), *conv_bn_relu(stem[0], stem[1], 1))]
        width = stem[1]
        for i, w in enumerate(entry):
            modules.append(ResidualModule(width, (w, w), downsample=True, lead_relu=i > 0))
            width = w
        modules += [ResidualModule(width, (width,) * 3, downsample=False) for _ in range(middle_blocks)]
        modules.append(ResidualModule(width, tuple(exit_module), downsample=True))
        modules.append(nn.Sequential(*separable_layers(exit_module[1], last_module, lead_relu=False),
                                     nn.ReLU()))
        self.stages = nn.ModuleList(modules)
        widths = [stem[1], *entry, *([entry[-1]] * middle_blocks), exit_module[1], last_module[1]]
        self.scales = scales
        self.classifier = nn.Linear(sum(widths[-scales:]), n_classes)

    def pooled_features(self, x):
        """``x``: (batch, frames, n_in) -> (batch, features): the global average of each of the
        last ``scales`` module outputs, concatenated (the multi-scale features)."""
        if x.shape[1] < MIN_SIZE:
            raise ValueError(f"xception: needs at least {MIN_SIZE} frames, got {x.shape[1]}")
        h = x.unsqueeze(1)
        pooled = []
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i >= len(self.stages) - self.scales:
                pooled.append(h.mean(dim=(2, 3)))
        return torch.cat(pooled, dim=1)

    def forward(self, x):
        """``x``: (batch, frames, n_in) -> (batch, n_classes) logits."""
        return self.classifier(self.pooled_features(x))
