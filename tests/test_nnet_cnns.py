"""CNN families: Xception (part1.md Paper 5), VGG (part1.md Paper 10, part2.md Paper 9), DenseNet
(part4.md P4.8), bulbul (part4.md P4.1, part3.md P5) and the Task 2 baseline (part2.md Paper 2):
published shapes and parameter counts, options, and the contract checks with small widths."""
import pytest
import torch

from dcase_tk.nnet import build_model
from dcase_tk.nnet.task2_baseline import tf_same_max_pool
from dcase_tk.nnet.xception import SeparableConv2d
from nnet_checks import check_forward, check_overfits


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def n_bn_statistics(model):
    """Running means and variances: Keras counts them as (non-trainable) parameters."""
    return sum(b.numel() for name, b in model.named_buffers() if "running" in name)


# ---------------------------------------------------------------- Xception (Yang et al.)

XCEPTION_SMALL = {"name": "xception", "stem": [4, 8], "entry": [8, 16], "middle_blocks": 0,
                  "exit_module": [16, 16], "last_module": [16, 24]}


def xception_backbone_count():
    """Chollet's Xception on a 1-channel input, counted by hand (no biases; BN: 2 per channel)."""
    def sep(c_in, c_out):
        return 9 * c_in + c_in * c_out

    def entry(c_in, w):
        return sep(c_in, w) + sep(w, w) + c_in * w + 3 * 2 * w
    stem = 9 * 32 + 2 * 32 + 9 * 32 * 64 + 2 * 64
    entries = entry(64, 128) + entry(128, 256) + entry(256, 728)
    middle = 8 * 3 * (sep(728, 728) + 2 * 728)
    exit_module = sep(728, 728) + 2 * 728 + sep(728, 1024) + 728 * 1024 + 2 * 2 * 1024
    last = sep(1024, 1536) + 2 * 1536 + sep(1536, 2048) + 2 * 2048
    return stem + entries + middle + exit_module + last


def test_separable_conv_parameter_example():
    # the paper's example: 3x3 depthwise on 16 channels + 1x1 to 32 channels = 656 parameters
    assert n_params(SeparableConv2d(16, 32)) == 3 * 3 * 16 + 16 * 32 == 656


def test_xception_published_network():
    # 128 mel; 10 s at hop 1024 and 48 kHz is 469 frames (derived, not printed)
    model = build_model({"name": "xception"}, n_in=128, n_classes=10, n_frames=469).eval()
    assert len(model.stages) == 14
    assert model.classifier.in_features == 728 + 1024 + 2048        # modules 12, 13, 14 pooled
    backbone = n_params(model) - (3800 * 10 + 10)
    assert backbone == xception_backbone_count()
    # Keras' Xception(include_top=False) counts 20,861,480 for a 3-channel input, BN statistics
    # included; a 1-channel stem has 3*3*2*32 = 576 fewer weights
    assert backbone + n_bn_statistics(model) == 20_861_480 - 576
    with torch.no_grad():
        assert model(torch.randn(1, 469, 128)).shape == (1, 10)


def test_xception_single_scale_and_errors():
    model = build_model({**XCEPTION_SMALL, "scales": 1}, n_in=16, n_classes=3, n_frames=24)
    assert model.classifier.in_features == 24
    assert build_model(XCEPTION_SMALL, 16, 3, 24).classifier.in_features == 16 + 16 + 24
    with pytest.raises(ValueError, match="at least 7 frames"):
        model.eval()(torch.randn(1, 6, 16))
    with pytest.raises(ValueError, match="at least 7 features"):
        build_model(XCEPTION_SMALL, n_in=6, n_classes=3, n_frames=24)
    with pytest.raises(ValueError, match="scales"):
        build_model({**XCEPTION_SMALL, "scales": 6}, 16, 3, 24)
    with pytest.raises(ValueError, match="exit_module"):
        build_model({**XCEPTION_SMALL, "exit_module": [16]}, 16, 3, 24)


def test_xception_contract():
    check_forward(XCEPTION_SMALL, n_in=16, n_classes=4, frames=24)
    check_overfits(XCEPTION_SMALL, n_in=16, n_classes=4, frames=24)


# ---------------------------------------------------------------- VGG (Nguyen et al., Mariotti et al.)

VGG_SMALL = {"name": "vgg", "blocks": [{"convs": [4, 4]}, {"convs": [8], "kernel": 1, "pool": 1}],
             "fc": [16], "dropout": 0.1}
VGG_MS = {"name": "vgg", "blocks": [{"convs": [8, 8]}, {"convs": [16]}], "pooling": "avg", "fc": [16],
          "in_channels": 2, "dropout": 0.1}


def test_vgg_default_is_nguyen_table1():
    model = build_model({"name": "vgg"}, n_in=96, n_classes=41, n_frames=128).eval()
    x = torch.randn(2, 128, 96)
    with torch.no_grad():
        assert model.features(x.unsqueeze(1)).shape == (2, 64, 8, 6)    # Conv5 output 8 x 6
        assert model(x).shape == (2, 41)
    convs = [(1, 24, 3), (24, 24, 3), (24, 48, 3), (48, 48, 3), (48, 48, 3), (48, 48, 3), (48, 64, 3),
             (64, 64, 3), (64, 64, 1)]
    expected = sum(k * k * a * b + b + 2 * b for a, b, k in convs) \
        + (8 * 6 * 64 * 128 + 128) + (128 * 41 + 41)
    assert n_params(model) == expected == 546_513
    # printed "5.48 x 10^5": the table gives 5.47e5 (5.474e5 counting BN statistics as Keras does)
    assert abs(n_params(model) + n_bn_statistics(model) - 5.48e5) / 5.48e5 < 0.002


def test_vgg_flatten_needs_the_training_length():
    model = build_model({"name": "vgg"}, n_in=96, n_classes=41, n_frames=128).eval()
    with pytest.raises(ValueError, match="128-frame inputs, got 171"):
        model(torch.randn(1, 171, 96))


def test_vgg_multichannel_global_pooling():
    model = build_model(VGG_MS, n_in=16, n_classes=3, n_frames=12).eval()
    assert model.features[0].weight.shape == (8, 2, 3, 3)              # 2 input maps of 8 bands
    x = torch.randn(2, 12, 16)
    with torch.no_grad():
        assert model(torch.randn(2, 40, 16)).shape == (2, 3)           # longer inputs: global pooling
        swapped = torch.cat([x[:, :, 8:], x[:, :, :8]], dim=2)         # swap the two maps
        assert not torch.allclose(model(x), model(swapped))
    with pytest.raises(ValueError, match="at least 4 frames"):
        model(torch.randn(1, 3, 16))


def test_vgg_bad_config():
    with pytest.raises(ValueError, match="in_channels=3"):
        build_model({**VGG_MS, "in_channels": 3}, 16, 3, 12)
    with pytest.raises(ValueError, match="pooling"):
        build_model({**VGG_MS, "pooling": "mean"}, 16, 3, 12)
    with pytest.raises(ValueError, match="'convs'"):
        build_model({**VGG_MS, "blocks": [{"convs": [4], "stride": 2}]}, 16, 3, 12)
    with pytest.raises(ValueError, match="too small"):
        build_model({"name": "vgg"}, n_in=96, n_classes=41, n_frames=8)


@pytest.mark.parametrize("config, n_in", [(VGG_SMALL, 8), (VGG_MS, 16)])
def test_vgg_contract(config, n_in):
    check_forward(config, n_in=n_in, n_classes=4, frames=12)
    check_overfits(config, n_in=n_in, n_classes=4, frames=12)


# ---------------------------------------------------------------- DenseNet (Jeong & Lim)

DENSENET_SMALL = {"name": "densenet", "low_level": 4, "growth": [8, 8, 16], "heads": 2, "bn_momentum": 0.9}
DENSENET_WAVE = {"name": "densenet", "frontend": "waveform", "low_level": 2, "growth": [4, 8, 8, 16],
                 "heads": 2, "bn_momentum": 0.9}


def test_densenet_logmel_published_size():
    model = build_model({"name": "densenet"}, n_in=64, n_classes=41, n_frames=501).eval()
    assert model.head_layers.in_features == 1 + 15 + 16 + 32 + 64 + 128 + 256 + 3 * 512
    assert 10.5e6 <= n_params(model) < 11.5e6                           # "about 11M"
    one_head = build_model({"name": "densenet", "heads": 1}, n_in=64, n_classes=41, n_frames=501)
    extra = n_params(model) - n_params(one_head)
    assert 0.55e6 <= extra < 0.65e6                                     # 7 heads "around 0.6M"
    assert 0.055 <= extra / n_params(one_head) < 0.065                  # "only 6% of n = 1"
    with torch.no_grad():                                               # 64,000 samples at hop 128
        probs = model(torch.randn(1, 501, 64))
    assert probs.shape == (1, 41) and torch.allclose(probs.sum(1), torch.ones(1))


def test_densenet_waveform_published_size():
    model = build_model({"name": "densenet", "frontend": "waveform"}, n_in=160, n_classes=41,
                        n_frames=400).eval()
    assert len(model.dense_block) == 15
    assert 15.5e6 <= n_params(model) < 16.5e6                           # "about 16M"
    with torch.no_grad():                                               # 64,000 samples
        assert model(torch.randn(1, 400, 160)).shape == (1, 41)


def test_densenet_heads_are_averaged_softmaxes():
    model = build_model({**DENSENET_SMALL, "heads": 3}, n_in=8, n_classes=5, n_frames=16).eval()
    x = torch.randn(2, 16, 8)
    with torch.no_grad():
        heads = model.head_probs(x)
        assert heads.shape == (2, 3, 5)
        assert torch.allclose(heads.sum(2), torch.ones(2, 3))
        assert torch.allclose(model(x), heads.mean(1))
        assert model(torch.randn(2, 1, 8)).shape == (2, 5)             # any length: global pooling


def test_densenet_normalises_each_mel_bin_in_the_network():
    model = build_model(DENSENET_SMALL, n_in=8, n_classes=4, n_frames=16).train()
    x = torch.randn(4, 16, 8)
    offsets = torch.linspace(-20, 20, 8)                                # a different level per bin
    torch.testing.assert_close(model(x), model(x + offsets), atol=1e-4, rtol=1e-4)


def test_densenet_bad_config():
    with pytest.raises(ValueError, match="frontend"):
        build_model({"name": "densenet", "frontend": "cqt"}, 8, 4, 16)
    with pytest.raises(ValueError, match=">= 1"):
        build_model({**DENSENET_SMALL, "heads": 0}, 8, 4, 16)


@pytest.mark.parametrize("config", [DENSENET_SMALL, DENSENET_WAVE])
def test_densenet_contract(config):
    check_forward(config, n_in=8, n_classes=4, frames=16)
    check_overfits(config, n_in=8, n_classes=4, frames=16)


# ---------------------------------------------------------------- bulbul (Task 3 baseline)

BULBUL_SMALL = {"name": "bulbul", "filters": 4, "kernels": [[3, 3], [3, 3]], "pools": [[2, 2], [2, 1]],
                "dense": [16, 8], "dropout": 0.1}


def test_bulbul_figure1_shapes():
    model = build_model({"name": "bulbul"}, n_in=80, n_classes=1, n_frames=700).eval()
    h, shapes = torch.zeros(1, 1, 700, 80), []
    with torch.no_grad():
        for layer in model.features:
            h = layer(h)
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.MaxPool2d)):
                shapes.append(tuple(h.shape[1:]))
    assert shapes == [(16, 698, 78), (16, 232, 26), (16, 230, 24), (16, 76, 8),
                      (16, 74, 6), (16, 24, 6), (16, 22, 4), (16, 7, 4)]
    convs = 9 * 16 + 16 + 3 * (9 * 16 * 16 + 16) + 4 * 2 * 16
    dense = (7 * 4 * 16 * 256 + 256) + (256 * 32 + 32) + (32 + 1)
    assert n_params(model) == convs + dense
    with torch.no_grad():
        assert model(torch.randn(2, 700, 80)).shape == (2, 1)
    two = build_model({"name": "bulbul"}, n_in=80, n_classes=2, n_frames=700).eval()
    with torch.no_grad():
        assert two(torch.randn(2, 700, 80)).shape == (2, 2)


def test_bulbul_single_logit_learns_with_binary_cross_entropy():
    torch.manual_seed(0)
    model = build_model(BULBUL_SMALL, n_in=10, n_classes=1, n_frames=20).train()
    x, y = torch.randn(4, 20, 10), torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert ((model.eval()(x) > 0).float() == y).all()


def test_bulbul_errors():
    with pytest.raises(ValueError, match="n_classes 1"):
        build_model({"name": "bulbul"}, 80, 3, 700)
    with pytest.raises(ValueError, match="too small"):
        build_model({"name": "bulbul"}, 80, 1, 100)
    model = build_model({"name": "bulbul"}, 80, 1, 700).eval()
    with pytest.raises(ValueError, match="700-frame inputs .* got 1000 frames"):
        model(torch.randn(1, 1000, 80))


@pytest.mark.parametrize("n_classes", [1, 2])
def test_bulbul_contract(n_classes):
    check_forward(BULBUL_SMALL, n_in=10, n_classes=n_classes, frames=20)
    if n_classes == 2:                  # one class has no cross-entropy to overfit: see above
        check_overfits(BULBUL_SMALL, n_in=10, n_classes=2, frames=20)


# ---------------------------------------------------------------- Task 2 baseline (Fonseca et al.)

TASK2_SMALL = {"name": "task2_baseline", "filters": [8, 12, 16], "init_std": 0.1}


def test_task2_baseline_published_size():
    model = build_model({"name": "task2_baseline"}, n_in=64, n_classes=41, n_frames=25).eval()
    weights = 7 * 7 * 1 * 100 + 5 * 5 * 100 * 150 + 3 * 3 * 150 * 200 + 200 * 41
    assert weights == 658_100                                           # "around 658.1K"
    assert sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight")) == weights
    assert n_params(model) == weights + 100 + 150 + 200 + 41
    with torch.no_grad():
        assert model(torch.randn(3, 25, 64)).shape == (3, 41)           # 0.25 s patch, 64 mel
        assert model(torch.randn(3, 1000, 64)).shape == (3, 41)         # global max: any length
        assert model(torch.randn(3, 1, 64)).shape == (3, 41)


def test_task2_baseline_init():
    model = build_model({"name": "task2_baseline"}, n_in=64, n_classes=41, n_frames=25)
    w = model.convs[1].weight
    assert w.abs().max() <= 2e-3 and 0.5e-3 < w.std() < 1e-3            # truncated normal, std 1e-3
    assert all((m.bias == 0).all() for m in [*model.convs, model.classifier])


def test_tf_same_max_pool_pads_at_the_end():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    # TF 'SAME', kernel 3 stride 2: 2 outputs, one pad at the end -> windows [1 2 3], [3 4 pad]
    assert tf_same_max_pool(x, 3, 2).flatten().tolist() == [3.0, 4.0]
    assert tf_same_max_pool(torch.zeros(1, 1, 25, 64), 3, 2).shape == (1, 1, 13, 32)


def test_task2_baseline_contract():
    check_forward(TASK2_SMALL, n_in=8, n_classes=4, frames=10)
    check_overfits(TASK2_SMALL, n_in=8, n_classes=4, frames=10)
    with pytest.raises(ValueError, match="one kernel per conv"):
        build_model({"name": "task2_baseline", "kernels": [7, 5]}, 64, 41, 25)


# ---------------------------------------------------------------------------- cnn_baseline

BASELINE_SMALL = {"name": "cnn_baseline", "filters": [4, 8], "kernel_size": 3,
                  "pool_sizes": [[2, 2], [2, 5]], "hidden": 16, "dropout": 0.0}


def test_cnn_baseline_contract():
    check_forward(BASELINE_SMALL, n_in=8, n_classes=4, frames=20)
    check_overfits(BASELINE_SMALL, n_in=8, n_classes=4, frames=20)


# ---------------------------------------------------------------- Task 5 baseline (Dekkers et al.)

def test_sins_baseline_published_shapes():
    model = build_model({"name": "sins_baseline"}, n_in=40, n_classes=9, n_frames=501).eval()
    # conv 40x5 (32) + BN, conv 1x3 (64) + BN, dense 64, dense 9 (weights and biases)
    expected = (40 * 5 * 32 + 32 + 2 * 32) + (32 * 3 * 64 + 64 + 2 * 64) + (64 * 64 + 64) + (64 * 9 + 9)
    assert n_params(model) == expected
    std = (2 / (40 * 5)) ** 0.5
    w = model.conv1.weight
    assert w.abs().max() <= 2 * std + 1e-6 and 0.7 * std < w.std() < std           # truncated He-normal
    assert model.hidden.weight.abs().max() <= 0.05
    with torch.no_grad():
        assert model(torch.randn(2, 501, 40)).shape == (2, 9)
        assert model(torch.randn(2, 19, 40)).shape == (2, 9)                       # the shortest input
    with pytest.raises(ValueError, match="at least 19 frames"):
        model(torch.randn(2, 18, 40))


def test_sins_baseline_contract():
    small = {"name": "sins_baseline", "filters": [8, 16], "dense": 16, "dropout": 0.0}
    check_forward(small, n_in=8, n_classes=4, frames=40)
    check_overfits(small, n_in=8, n_classes=4, frames=40)
