"""Attention models: Ren et al.'s attention-pooling CNN (dcase_tk/nnet/attention_cnn.py; notes
part1.md Paper 7) and Yu et al.'s multi-level attention model (dcase_tk/nnet/mla.py; part4.md
P4.6)."""
import pytest
import torch

from dcase_tk.nnet import build_model
from nnet_checks import check_forward, check_overfits

SMALL_CNN = {"name": "attention_cnn", "channels": [4, 8, 8, 8]}
SMALL_MLA = {"name": "mla", "hidden": 16}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# --- attention_cnn -------------------------------------------------------------------------

def test_ren_backbone_is_stride2_5x5_without_max_pooling():
    model = build_model({"name": "attention_cnn"}, 64, 10, 320)
    convs = [m for m in model.features.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) and c.bias is None for c in convs)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    # CNN4 convs + BN, and two 1x1 "convs" (per-position linear layers) of 10 outputs
    assert n_params(model) == 4_302_400 + 1_920 + 2 * (512 * 10 + 10)


def test_ren_attention_pooling_eqs_3_4_on_the_4_by_20_map():
    torch.manual_seed(0)
    model = build_model({"name": "attention_cnn"}, 64, 10, 320).eval()
    assert model.output == "logits"
    x = torch.randn(2, 320, 64)
    with torch.no_grad():
        maps = model.feature_maps(x)
        assert maps.shape == (2, 512, 20, 4)
        p = model.attention_map(x)
        assert p.shape == (2, 10, 20, 4)
        assert torch.allclose(p.sum(dim=(2, 3)), torch.ones(2, 10), atol=1e-5)
        r = maps.permute(0, 2, 3, 1)                                 # (batch, time, freq, c)
        a = torch.sigmoid(model.head.att(r)).permute(0, 3, 1, 2)     # A = sigmoid(1x1 conv)
        assert torch.allclose(p, a / a.sum(dim=(2, 3), keepdim=True), atol=1e-6)
        c = torch.log_softmax(model.head.cla(r), dim=3).permute(0, 3, 1, 2)
        y = model(x)
        assert torch.allclose(y, (c * p).sum(dim=(2, 3)), atol=1e-5)
    assert (y <= 0).all()                    # weighted means of log-probabilities
    dist = torch.softmax(y, dim=1)           # what the loss and inference use
    assert torch.allclose(dist.sum(1), torch.ones(2))


@pytest.mark.parametrize("pooling, reduce", [("max", torch.amax), ("avg", torch.mean)])
def test_ren_max_and_average_pooling_eqs_1_2(pooling, reduce):
    model = build_model({**SMALL_CNN, "pooling": pooling}, 16, 3, 32).eval()
    x = torch.randn(2, 32, 16)
    with torch.no_grad():
        pooled = reduce(model.feature_maps(x), dim=(2, 3))
        assert torch.allclose(model(x), model.head.fc(pooled), atol=1e-6)
    with pytest.raises(ValueError, match="pooling='attention'"):
        model.attention_map(x)


@pytest.mark.parametrize("pooling", ["attention", "max", "avg"])
def test_attention_cnn_forward_and_overfit(pooling):
    config = {**SMALL_CNN, "pooling": pooling}
    model = check_forward(config, 16, 3, 32, batch=1)
    assert not hasattr(model, "frame_outputs")
    check_forward(config, 16, 3, 48)
    check_overfits(config, 16, 3, 32)


@pytest.mark.parametrize("config, n_in, message", [
    ({"pooling": "mil_max"}, 64, "pooling must be one of"),
    ({"channels": []}, 64, "at least one"),
    ({}, 8, "too few"),
])
def test_attention_cnn_bad_configuration(config, n_in, message):
    with pytest.raises(ValueError, match=message):
        build_model({"name": "attention_cnn", **config}, n_in, 10, 320)


# --- mla -------------------------------------------------------------------------------------

def test_mla_published_2A1A_structure():
    model = build_model({"name": "mla"}, 128, 527, 10)
    assert model.output == "probs" and model.levels == [2, 3]
    assert [layer[0].out_channels for layer in model.layers] == [600, 600, 600]
    assert [layer[3].p for layer in model.layers] == [0.4] * 3
    assert len(model.head.levels) == 2 and model.head.fc.in_features == 2 * 527
    fc = 128 * 600 + 600 + 2 * (600 * 600 + 600)
    bn = 3 * 2 * 600
    attention = 2 * 2 * (600 * 527 + 527)
    final = 2 * 527 * 527 + 527
    assert n_params(model) == fc + bn + attention + final


def test_mla_output_is_sigmoid_layer_of_level_attentions():
    torch.manual_seed(0)
    model = build_model({"name": "mla", "hidden": 8, "n_layers": 4, "levels": [1, 3, 4]},
                        6, 5, 10).eval()
    x = torch.randn(3, 10, 6)
    with torch.no_grad():
        h, ys = x.transpose(1, 2), []
        for number, layer in enumerate(model.layers, start=1):
            h = layer(h)
            if number in (1, 3, 4):
                ys.append(model.head.levels[len(ys)](h)[0])
        u = torch.cat(ys, 1)
        expected = torch.sigmoid(model.head.fc(u))
        assert torch.allclose(model(x), expected, atol=1e-6)
        assert model(torch.randn(3, 25, 6)).shape == (3, 5)       # any number of frames


def test_mla_single_level_is_kong_3A():
    model = build_model({"name": "mla", "levels": [3]}, 128, 10, 10)
    assert len(model.head.levels) == 1 and model.head.fc.in_features == 10


@pytest.mark.parametrize("config", [
    SMALL_MLA, {**SMALL_MLA, "levels": [1, 2, 3]}, {**SMALL_MLA, "attention": "softmax"}])
def test_mla_forward_and_overfit(config):
    check_forward(config, 8, 3, 10, batch=1)
    check_forward(config, 8, 3, 10)
    check_overfits({**config, "dropout": 0.0}, 8, 3, 10, steps=120, lr=1e-2)


@pytest.mark.parametrize("config", [
    {"levels": [3, 2]}, {"levels": [0, 3]}, {"levels": [2]}, {"levels": []},
    {"levels": [2, 2, 3]}, {"n_layers": 2}])
def test_mla_bad_levels(config):
    with pytest.raises(ValueError, match="levels"):
        build_model({"name": "mla", **config}, 128, 10, 10)


def test_mla_bad_attention():
    with pytest.raises(ValueError, match="attention must be one of"):
        build_model({"name": "mla", "attention": "tanh"}, 128, 10, 10)
