"""Weight initialisations the reference implementations use, shared by the model families."""
import math

from torch import nn


def keras_init_(module):
    """Keras defaults: Glorot-uniform kernels, orthogonal recurrent kernels, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.GRU):
            for name, p in m.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(p)
                else:
                    nn.init.zeros_(p)


def he_uniform_(module):
    """Kong et al.'s init: He-uniform weights and zero biases for every conv and linear layer."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            bound = math.sqrt(2.0 / fan_in) * math.sqrt(3.0)
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def check_frames(name, expected, x):
    """Models whose dense layer takes the flattened map accept only their build length."""
    if x.shape[1] != expected:
        raise ValueError(f"{name}: built for {expected}-frame inputs (the dense layer takes the "
                         f"flattened map), got {x.shape[1]} frames")
