"""CNN4 / CNN8 of Kong et al. (dcase_tk/nnet/kong.py; notes part4.md P4.12)."""
import math

import pytest
import torch

from dcase_tk.nnet import build_model
from dcase_tk.nnet.pooling import SINGLE_LEVEL_HEADS
from nnet_checks import check_forward, check_overfits

SMALL = [4, 8, 8, 8]


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, n_classes, expected", [
    ("cnn4", 10, 4_309_450), ("cnn8", 10, 4_691_274),
    ("cnn4", 41, 4_325_353), ("cnn8", 41, 4_707_177)])
def test_published_parameter_counts(name, n_classes, expected):
    assert n_params(build_model({"name": name}, 64, n_classes, 320)) == expected


def test_cnn4_stride_variant_has_the_same_count_and_map_size():
    paper = build_model({"name": "cnn4"}, 64, 10, 320)
    code = build_model({"name": "cnn4", "downsample": "stride"}, 64, 10, 320)
    assert n_params(code) == n_params(paper)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in code.modules())
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in paper.modules()) == 4
    with torch.no_grad():
        assert code.feature_maps(torch.randn(1, 96, 64)).shape == (1, 512, 6, 4)


@pytest.mark.parametrize("name", ["cnn4", "cnn8"])
def test_published_maps_are_T16_by_4_before_global_max_pooling(name):
    model = build_model({"name": name}, 64, 10, 320).eval()
    x = torch.randn(2, 320, 64)
    with torch.no_grad():
        maps = model.feature_maps(x)
        assert maps.shape == (2, 512, 320 // 16, 4)
        # the default head is GMP over time and frequency, then the FC layer
        gmp = maps.amax(dim=(2, 3))
        assert torch.allclose(model(x), model.head.fc(gmp), atol=1e-5)
        assert model.frame_outputs(x).shape == (2, 20, 10)
    assert model.output == "logits"


def test_convs_are_bias_free_and_he_uniform():
    model = build_model({"name": "cnn8"}, 64, 10, 320)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 8 and all(c.bias is None for c in convs)
    w = convs[-1].weight                              # fan_in 512 * 3 * 3
    bound = math.sqrt(2 / (512 * 9)) * math.sqrt(3)
    assert w.abs().max().item() <= bound
    assert w.std().item() == pytest.approx(math.sqrt(2 / (512 * 9)), rel=0.02)
    assert torch.all(model.head.fc.bias == 0)


@pytest.mark.parametrize("name", ["cnn4", "cnn8"])
def test_freq_pool_only_keeps_time_resolution(name):
    model = build_model({"name": name, "channels": SMALL, "freq_pool_only": True,
                         "pooling": "avg"}, 16, 3, 12).eval()
    x = torch.randn(2, 37, 16)                        # longer than n_frames: whole-clip inference
    with torch.no_grad():
        assert model.feature_maps(x).shape == (2, 8, 37, 1)
        frames = model.frame_outputs(x)
        assert frames.shape == (2, 37, 3)
        # avg head: the clip logits are the mean over time of the per-frame logits
        assert torch.allclose(torch.sigmoid(model(x)), torch.sigmoid(
            torch.logit(frames.double()).mean(1)).float(), atol=1e-4)


def test_cnn4_task4_channels_option():
    model = build_model({"name": "cnn4", "channels": [64, 128, 128, 128],
                         "freq_pool_only": True}, 64, 10, 240)
    assert n_params(model) == 25 * (64 + 64 * 128 + 2 * 128 * 128) + 2 * (64 + 3 * 128) + 128 * 10 + 10


@pytest.mark.parametrize("pooling", SINGLE_LEVEL_HEADS)
def test_every_head_sets_output_and_frame_outputs(pooling):
    model = check_forward({"name": "cnn4", "channels": SMALL, "pooling": pooling}, 16, 3, 32)
    assert model.output == model.head.output
    assert model.output == ("logits" if pooling in ("max", "avg") else "probs")
    with torch.no_grad():
        assert model.frame_outputs(torch.randn(1, 32, 16)).shape == (1, 2, 3)


@pytest.mark.parametrize("config", [
    {"name": "cnn4", "channels": SMALL},
    {"name": "cnn4", "channels": SMALL, "downsample": "stride", "dropout": 0.1},
    {"name": "cnn8", "channels": SMALL},
    {"name": "cnn8", "channels": SMALL, "freq_pool_only": True, "pooling": "attention"},
])
def test_forward_and_overfit(config):
    check_forward(config, 16, 3, 32, batch=1)
    check_forward(config, 16, 3, 32)
    check_overfits(config, 16, 3, 32)


@pytest.mark.parametrize("config, n_in, n_frames, message", [
    ({"name": "cnn4"}, 8, 320, "too few"),
    ({"name": "cnn8"}, 64, 8, "too short"),
    ({"name": "cnn4", "downsample": "conv"}, 64, 320, "downsample must be"),
    ({"name": "cnn8", "pooling": "multi_level_attention"}, 64, 320, "model 'mla'"),
    ({"name": "cnn8", "pooling": "mean"}, 64, 320, "pooling must be one of"),
    ({"name": "cnn8", "channels": []}, 64, 320, "at least one"),
    ({"name": "cnn8", "kernel": 5}, 64, 320, "kernel"),
])
def test_bad_configuration(config, n_in, n_frames, message):
    with pytest.raises(ValueError, match=message):
        build_model(config, n_in, 10, n_frames)


def test_freq_pool_only_accepts_short_inputs():
    model = build_model({"name": "cnn8", "channels": SMALL, "freq_pool_only": True}, 16, 2, 4)
    assert model(torch.randn(1, 4, 16)).shape == (1, 2)
