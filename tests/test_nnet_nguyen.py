"""Nguyen & Pernkopf's single- and multi-input CNNs (part1.md Paper 6, Table 1): sizes, the split
of a stacked [log-mel, log-NNF] input, and the zoo's forward and overfit checks."""
import math

import pytest
import torch
from torch import nn

from dcase_tk.nnet import build_model
from nnet_checks import check_forward, check_overfits

# Table 1: (inputs, block, blocks) -> parameters, for 128 x 50 inputs and 10 classes
TABLE1 = {("si", "s", 2): 211_718, ("si", "s", 3): 304_010, ("si", "s", 4): 525_350,
          ("si", "db", 2): 811_770, ("si", "db", 3): 941_074, ("si", "db", 4): 1_310_042,
          ("mi", "s", 2): 417_794, ("mi", "s", 3): 602_378, ("mi", "s", 4): 1_045_058,
          ("mi", "db", 2): 1_617_898, ("mi", "db", 3): 1_876_506, ("mi", "db", 4): 2_614_442}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def published(inputs, block, blocks):
    return build_model({"name": "nguyen_cnn", "inputs": inputs, "block": block, "blocks": blocks},
                       n_in=256, n_classes=10, n_frames=50)


@pytest.mark.parametrize("variant", sorted(TABLE1))
def test_published_sizes_are_near_table1(variant):
    model = published(*variant)
    assert 0 < TABLE1[variant] - n_params(model) <= 0.0035 * TABLE1[variant]
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 50, 256)).shape == (2, 10)


@pytest.mark.parametrize("block, blocks", [("s", 2), ("db", 4)])
def test_two_branches_and_the_512_unit_layer_explain_table1s_mi_minus_si(block, blocks):
    # Table 1 has MI = 2 SI - 5,642 at every depth: two branches, one 512-unit layer, one class layer
    assert 2 * TABLE1[("si", block, blocks)] - TABLE1[("mi", block, blocks)] == 5_642
    assert 2 * n_params(published("si", block, blocks)) - n_params(published("mi", block, blocks)) == 5_642


def test_conv_layers_pad_normalise_convolve_and_are_glorot_uniform():
    model = published("si", "db", 3)
    layers = list(model.branches[0])
    assert [type(m) for m in layers[:4]] == [nn.ZeroPad2d, nn.BatchNorm2d, nn.Conv2d, nn.ReLU]
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 32), (32, 32), (32, 64), (64, 64),
                                                              (64, 256), (256, 256)]
    assert sum(isinstance(m, nn.MaxPool2d) for m in layers) == 2           # none after the last block
    for layer in [*convs, *[m for m in model.classifier if isinstance(m, nn.Linear)]]:
        fan_in, fan_out = layer.weight[0].numel(), layer.weight.shape[0] * layer.weight[0, 0].numel()
        assert layer.weight.abs().max() <= math.sqrt(6 / (fan_in + fan_out)) and (layer.bias == 0).all()


def test_single_input_ignores_the_nnf_half_and_multi_input_uses_both():
    x = torch.randn(3, 20, 16)
    changed_nnf, changed_mel = x.clone(), x.clone()
    changed_nnf[..., 8:] += torch.randn(3, 20, 8)
    changed_mel[..., :8] += torch.randn(3, 20, 8)
    si = build_model(SMALL["si_s"], n_in=16, n_classes=4, n_frames=20).eval()
    mi = build_model(SMALL["mi_db"], n_in=16, n_classes=4, n_frames=20).eval()
    with torch.no_grad():
        torch.testing.assert_close(si(changed_nnf), si(x))
        assert not torch.allclose(si(changed_mel), si(x))
        assert not torch.allclose(mi(changed_nnf), mi(x))
        assert not torch.allclose(mi(changed_mel), mi(x))
        # the NNF branch sees the second half: feeding it the first half changes the output
        assert not torch.allclose(mi(torch.cat([x[..., :8], x[..., :8]], 2)), mi(x))


def test_single_input_on_a_plain_log_mel():
    model = build_model({**SMALL["si_s"], "si_input": "all"}, n_in=9, n_classes=4, n_frames=20).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 20, 9)).shape == (2, 4)
        assert model(torch.randn(2, 73, 9)).shape == (2, 4)                 # global pooling: any length


@pytest.mark.parametrize("config, message", [
    ({"inputs": "mi"}, "n_in=9 is odd"),
    ({"inputs": "si"}, "n_in=9 is odd"),
    ({"inputs": "both"}, "inputs must be one of"),
    ({"block": "triple"}, "block must be one of"),
    ({"blocks": 5}, "blocks must be one of"),
    ({"filters": []}, "at least one positive width"),
])
def test_bad_configuration(config, message):
    with pytest.raises(ValueError, match=message):
        build_model({"name": "nguyen_cnn", **config}, n_in=9, n_classes=4, n_frames=50)


def test_too_small_inputs():
    with pytest.raises(ValueError, match="too few"):
        build_model({"name": "nguyen_cnn", "blocks": 4}, n_in=8, n_classes=4, n_frames=50)
    model = build_model({"name": "nguyen_cnn", "blocks": 4}, n_in=32, n_classes=4, n_frames=50).eval()
    with pytest.raises(ValueError, match="at least 8 frames"):
        model(torch.randn(1, 7, 32))


SMALL = {
    "si_s": {"name": "nguyen_cnn", "inputs": "si", "block": "s", "filters": [8, 16], "hidden": 16, "dropout": 0.1},
    "si_db": {"name": "nguyen_cnn", "inputs": "si", "block": "db", "filters": [4, 8, 16], "hidden": 16},
    "mi_s": {"name": "nguyen_cnn", "inputs": "mi", "block": "s", "filters": [8, 16, 16], "hidden": 0},
    "mi_db": {"name": "nguyen_cnn", "inputs": "mi", "block": "db", "filters": [4, 8], "hidden": 16,
              "dropout": 0.1},
    "mi_db4": {"name": "nguyen_cnn", "inputs": "mi", "block": "db", "filters": [4, 8, 8, 16], "hidden": 16},
}
# (n_in, frames) of each contract check: 4 blocks on random noise overfit in train mode, but few
# small 4-block nets pass the check's eval-mode test after its 60 steps (BN statistics lag)
CONTRACT_SIZES = {"mi_db4": (32, 16)}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_contract(name):
    n_in, frames = CONTRACT_SIZES.get(name, (32, 24))
    check_forward(SMALL[name], n_in=n_in, n_classes=4, frames=frames)
    check_overfits(SMALL[name], n_in=n_in, n_classes=4, frames=frames)
