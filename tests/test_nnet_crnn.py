"""Task 4 baseline CRNN, the GLU-gated CRNN and the GCRNN (dcase_tk/nnet/crnn.py; notes part1.md
Paper 3, part2.md Papers 4-5)."""
import pytest
import torch
import torch.nn.functional as F

from dcase_tk.nnet import build_model
from dcase_tk.nnet.crnn import ConvBlock
from dcase_tk.nnet.pooling import SINGLE_LEVEL_HEADS, AttentionPooling, MilPooling
from nnet_checks import check_forward, check_overfits, n_params

# small models on a busy 2-core machine: one torch thread (conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"filters": [8, 8, 8], "rnn_units": 16}


def test_baseline_structure_and_parameter_count():
    model = build_model({"name": "crnn"}, 64, 10, 500)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in model.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert [c.out_channels for c in convs] == [64, 64, 64] and convs[0].kernel_size == (3, 3)
    assert all(p.kernel_size == (1, 4) for p in pools)
    assert model.rnn.bidirectional and model.rnn.hidden_size == 64 and model.rnn.input_size == 64
    assert model.rnn_dropout.p == 0.3
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.3] * 4
    conv = (9 + 1) * 64 + 2 * (64 * 64 * 9 + 64)
    bn = 3 * 2 * 64
    gru = 2 * 3 * (64 * 64 + 64 * 64 + 2 * 64)        # torch GRU: input and hidden biases
    dense = 128 * 10 + 10
    assert n_params(model) == conv + bn + gru + dense


def test_baseline_frames_at_input_rate_and_clip_is_their_mean():
    model = build_model({"name": "crnn"}, 64, 10, 500).eval()
    x = torch.randn(2, 500, 64)
    with torch.no_grad():
        frames = model.frame_outputs(x)
        clip = model(x)
    assert model.output == "probs"
    assert frames.shape == (2, 500, 10)
    assert torch.allclose(clip, frames.mean(1), atol=1e-6)     # GlobalAveragePooling1D


def test_glu_crnn_published_structure_and_clip_is_frame_max():
    model = build_model({"name": "glu_crnn"}, 64, 10, 240).eval()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and all(c.out_channels == 256 for c in convs)   # 128 gated maps
    assert sum(isinstance(m, torch.nn.GLU) for m in model.modules()) == 6
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert model.rnn.hidden_size == 128 and model.rnn.input_size == 128
    x = torch.randn(1, 24, 64)
    with torch.no_grad():
        frames = model.frame_outputs(x)
        assert frames.shape == (1, 24, 10)
        assert torch.allclose(model(x), frames.amax(1))             # GMP of Hou et al.


def test_gcrnn_published_structure_and_parameter_count():
    model = build_model({"name": "gcrnn"}, 64, 10, 240)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and all(c.out_channels == 128 for c in convs)    # 64 gated maps
    assert sum(isinstance(m, torch.nn.GLU) for m in model.modules()) == 6
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert model.rnn.bidirectional and model.rnn.hidden_size == 64 and model.rnn.input_size == 64
    assert isinstance(model.head, AttentionPooling) and model.head.attention == "class_softmax"
    assert model.output == "probs"
    # gated 3x3 convs with bias (two maps per output): (1*9 + 1) * 128, then five of
    # (64*9 + 1) * 128; torch GRU 2 directions * 3 gates * (64*64 + 64*64 + 2*64);
    # classification and attention layers (128*10 + 10) each.
    conv = (9 + 1) * 128 + 5 * (64 * 9 + 1) * 128
    gru = 2 * 3 * (64 * 64 + 64 * 64 + 2 * 64)
    heads = 2 * (128 * 10 + 10)
    assert n_params(model) == conv + gru + heads == 423_060


def test_gcrnn_clip_is_harb_and_pernkopf_attention_formula():
    """y_c = sum_t cla_c(t) att_c(t) / sum_t att_c(t): cla a sigmoid per class and frame, att a
    softmax over the classes at each frame (AttentionPooling, attention="class_softmax")."""
    torch.manual_seed(0)
    model = build_model({"name": "gcrnn"}, 64, 10, 240).eval()
    x = torch.randn(2, 40, 64)
    with torch.no_grad():
        clip, frames = model(x), model.frame_outputs(x)
        h = model.embeddings(x).transpose(1, 2)                     # (batch, frames, 128)
        cla = torch.sigmoid(model.head.cla(h))
        att = torch.softmax(model.head.att(h), dim=2)
    assert clip.shape == (2, 10) and frames.shape == (2, 40, 10)
    torch.testing.assert_close(frames, cla)
    torch.testing.assert_close(clip, (cla * att).sum(1) / att.sum(1))


def test_pooling_options_reach_the_head():
    crnn = build_model({"name": "crnn", **SMALL, "pooling": "attention",
                        "pooling_options": {"attention": "sigmoid"}}, 64, 3, 20)
    assert crnn.head.attention == "sigmoid"
    assert build_model({"name": "crnn", **SMALL, "pooling": "attention"}, 64, 3, 20) \
        .head.attention == "softmax"                                # the head's own default
    gcrnn = build_model({"name": "gcrnn", **SMALL, "pooling_options": {"attention": "softmax"}},
                        64, 3, 20)
    assert gcrnn.head.attention == "softmax"
    mil = build_model({"name": "gcrnn", **SMALL, "pooling": "mil_max"}, 64, 3, 20)
    assert isinstance(mil.head, MilPooling)                  # no class_softmax forced on it


def test_gated_conv_is_conv_a_times_sigmoid_conv_b():
    torch.manual_seed(0)
    block = ConvBlock(1, 2, n_convs=1, freq_pool=1, dropout=0.0, gated=True, batch_norm=False)
    conv = block[0]
    x = torch.randn(1, 1, 5, 6)
    with torch.no_grad():
        a = F.conv2d(x, conv.weight[:2], conv.bias[:2], padding=1)
        b = F.conv2d(x, conv.weight[2:], conv.bias[2:], padding=1)
        assert torch.allclose(block(x), a * torch.sigmoid(b), atol=1e-6)


def test_relu_block_pools_frequency_only():
    block = ConvBlock(1, 3, n_convs=2, freq_pool=4, dropout=0.0, gated=False, batch_norm=True)
    out = block.eval()(torch.randn(2, 1, 7, 16))
    assert out.shape == (2, 3, 7, 4) and out.min() >= 0


def test_keras_init():
    model = build_model({"name": "crnn"}, 64, 10, 500)
    w_hh = model.rnn.weight_hh_l0                       # (3H, H) orthogonal columns
    assert torch.allclose(w_hh.T @ w_hh, torch.eye(64), atol=1e-4)
    assert all(torch.all(p == 0) for n, p in model.rnn.named_parameters() if "bias" in n)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bn.eps == 1e-3 and bn.momentum == 0.01


@pytest.mark.parametrize("pooling", SINGLE_LEVEL_HEADS)
def test_every_head(pooling):
    model = check_forward({"name": "crnn", **SMALL, "pooling": pooling}, 64, 3, 20)
    assert model.output == model.head.output
    with torch.no_grad():
        assert model.frame_outputs(torch.randn(2, 20, 64)).shape == (2, 20, 3)


@pytest.mark.parametrize("name", ["crnn", "glu_crnn", "gcrnn"])
def test_forward_and_overfit(name):
    config = {"name": name, **SMALL}
    check_forward(config, 64, 3, 20, batch=1)
    check_forward(config, 64, 3, 20)
    # the attention head of gcrnn (either attention) needs more than 60 Adam steps on this batch
    check_overfits({**config, "dropout": 0.0, "rnn_dropout": 0.0}, 64, 3, 20,
                   steps=100 if name == "gcrnn" else 60)


def test_other_input_sizes():
    model = check_forward({"name": "glu_crnn", **SMALL, "freq_pools": [4, 2, 2],
                           "convs_per_block": 1, "batch_norm": True}, 40, 3, 9)
    assert model.rnn.input_size == 8 * (40 // 16)


@pytest.mark.parametrize("config, message", [
    ({"freq_pools": [4, 4]}, "one value per conv block"),
    ({"freq_pools": [4, 4, 8]}, "fewer than the total frequency pooling"),
    ({"convs_per_block": 0}, "convs_per_block"),
    ({"pooling": "multi_level_attention"}, "model 'mla'"),
    ({"pooling": "gap"}, "pooling must be one of"),
    ({"pooling": "mil_mean", "pooling_options": {"attention": "sigmoid"}}, "does not take options"),
    ({"pooling": "attention", "pooling_options": {"attention": "tanh"}},
     "attention must be one of"),
    ({"pooling": "attention", "pooling_options": ["sigmoid"]}, "pooling_options must be a mapping"),
])
def test_bad_configuration(config, message):
    for name in ("crnn", "glu_crnn", "gcrnn"):
        with pytest.raises(ValueError, match=message):
            build_model({"name": name, **config}, 64, 10, 500)
