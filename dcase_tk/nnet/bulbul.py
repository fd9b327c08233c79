"""The DCASE 2018 Task 3 (bird audio detection) official baseline CNN, "bulbul".

Sources: shared/published_systems/part4.md P4.1, sections 3-4 (Liaqat et al. print the network
as distributed by the organisers, with every shape, Figure 1), and part3.md P5, section 4
(Nolasco & Benetos describe the same network in words).

Figure 1 for a 700-frame x 80-mel input (time x frequency; unpadded convs, pools floor):

    conv 3x3 (16) -> 698 x 78    pool 3x3 -> 232 x 26
    conv 3x3 (16) -> 230 x 24    pool 3x3 ->  76 x  8
    conv 3x3 (16) ->  74 x  6    pool 3x1 ->  24 x  6
    conv 3x3 (16) ->  22 x  4    pool 3x1 ->   7 x  4
    dense 256, dense 32, dense 1 (sigmoid)

Leaky-ReLU activations everywhere but the output; dropout 0.5 on the inputs of the three dense
layers (P5: "applied to the last three layers"); batch normalisation (P4.1), placed after each
conv before its activation (the notes do not say where). P5's text calls the last two convs
"3 x 1"; the shapes of Figure 1 need 3x3 there, so 3x3 is the default and ``kernels`` can give
P5's reading. The leak is not printed: 0.01, Lasagne's leaky rectifier of the original bulbul.
P4.1's L2 penalty (0.01) is a training option. Init: Glorot-uniform weights and zero biases (the
default of both Lasagne and Keras, in which bulbul was written and ported).

Output: ``n_classes: 1`` gives one logit (bird presence; sigmoid / binary cross-entropy, as
published), ``n_classes: 2`` two logits (softmax over absent/present). The dense layer takes the
flattened last map, so the model takes exactly ``n_frames`` frames; other clip lengths are
cropped or padded to it, or averaged over excerpts at inference (P5).
"""
from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.weights import check_frames, keras_init_

FIGURE1_KERNELS = ((3, 3), (3, 3), (3, 3), (3, 3))
FIGURE1_POOLS = ((3, 3), (3, 3), (3, 1), (3, 1))


def pairs(name, values):
    values = [tuple(v) for v in values]
    if any(len(v) != 2 or min(v) < 1 for v in values):
        raise ValueError(f"bulbul: {name} must be [time, freq] pairs >= 1, got {values}")
    return values


@register("bulbul")
class Bulbul(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, filters=16, kernels=FIGURE1_KERNELS,
                 pools=FIGURE1_POOLS, dense=(256, 32), dropout=0.5, leak=0.01, batch_norm=True):
        super().__init__()
        if n_classes not in (1, 2):
            raise ValueError(f"bulbul: a bird detector has n_classes 1 (one logit) or 2 (absent/present), "
                             f"got {n_classes}")
        kernels, pools = pairs("kernels", kernels), pairs("pools", pools)
        if len(kernels) != len(pools):
            raise ValueError(f"bulbul: one pool per conv, got {len(kernels)} kernels and {len(pools)} pools")
        self.n_frames = n_frames
        layers, channels, size = [], 1, (n_frames, n_in)
        for kernel, pool in zip(kernels, pools):
            layers.append(nn.Conv2d(channels, filters, kernel))
            if batch_norm:
                layers.append(nn.BatchNorm2d(filters))
            layers += [nn.LeakyReLU(leak), nn.MaxPool2d(pool)]
            channels = filters
            size = tuple((s - k + 1) // p for s, k, p in zip(size, kernel, pool))
        if min(size) < 1:
            raise ValueError(f"bulbul: input {n_frames} frames x {n_in} bands is too small for the conv/pool "
                             f"stack (Figure 1 needs 700 x 80)")
        self.features = nn.Sequential(*layers)
        head, width = [nn.Flatten()], channels * size[0] * size[1]
        for units in dense:
            head += [nn.Dropout(dropout), nn.Linear(width, units), nn.LeakyReLU(leak)]
            width = units
        self.classifier = nn.Sequential(*head, nn.Dropout(dropout), nn.Linear(width, n_classes))
        keras_init_(self)

    def forward(self, x):
        """``x``: (batch, frames, n_in) -> (batch, n_classes) logits."""
        check_frames("bulbul", self.n_frames, x)
        return self.classifier(self.features(x.unsqueeze(1)))
