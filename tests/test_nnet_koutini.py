"""R-CNNs of Koutini et al. and the SRU (dcase_tk/nnet/koutini.py; notes part4.md P4.3)."""
import pytest
import torch

from dcase_tk.nnet import build_model
from dcase_tk.nnet.koutini import BiSru, Sru, deep_block
from nnet_checks import check_forward, check_overfits, n_params

# small models on a busy 2-core machine: one torch thread (conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"rcnn_deep": {"filters": [8, 8, 8, 8], "bottleneck": 16, "sru_units": 16},
         "rcnn_shallow": {"filters": [8, 8, 8], "sru_units": 16}}


@pytest.mark.parametrize("n_in, hidden", [(3, 2), (2, 2)])
def test_sru_matches_a_hand_loop(n_in, hidden):
    torch.manual_seed(0)
    sru = Sru(n_in, hidden)
    with torch.no_grad():
        sru.bias.normal_()
        x = torch.randn(2, 4, n_in)
        out = sru(x)
        w = sru.w.weight                                  # (k * hidden, n_in): x~, f, r[, highway]
        b_f, b_r = sru.bias[:hidden], sru.bias[hidden:]
        c = torch.zeros(2, hidden)
        for t in range(4):
            x_t = x[:, t]
            x_tilde = x_t @ w[:hidden].T
            f = torch.sigmoid(x_t @ w[hidden:2 * hidden].T + b_f)
            r = torch.sigmoid(x_t @ w[2 * hidden:3 * hidden].T + b_r)
            highway = x_t @ w[3 * hidden:].T if n_in != hidden else x_t
            c = f * c + (1 - f) * x_tilde
            h = r * torch.tanh(c) + (1 - r) * highway
            torch.testing.assert_close(out[:, t], h)
    assert w.shape == ((4 if n_in != hidden else 3) * hidden, n_in)


def test_reverse_sru_is_the_forward_one_on_flipped_time():
    torch.manual_seed(0)
    fwd, bwd = Sru(3, 2), Sru(3, 2, reverse=True)
    bwd.load_state_dict(fwd.state_dict())
    x = torch.randn(1, 5, 3)
    with torch.no_grad():
        torch.testing.assert_close(bwd(x), fwd(x.flip(1)).flip(1))


def test_bidirectional_sru_backward_half_sees_the_future():
    torch.manual_seed(0)
    rnn = BiSru(3, 2)
    x = torch.randn(1, 5, 3)
    changed = x.clone()
    changed[:, -1] += 1.0
    with torch.no_grad():
        a, b = rnn(x), rnn(changed)
    assert a.shape == (1, 5, 4)
    torch.testing.assert_close(a[:, :4, :2], b[:, :4, :2])    # forward half: causal
    assert not torch.allclose(a[:, 0, 2:], b[:, 0, 2:])       # backward half at t=0 sees t=4


@pytest.mark.parametrize("name", ["rcnn_deep", "rcnn_shallow"])
def test_published_sizes_keep_frames_and_clip_is_the_frame_mean(name):
    model = build_model({"name": name}, 64, 10, 240).eval()
    x = torch.randn(2, 40, 64)
    with torch.no_grad():
        frames = model.frame_outputs(x)
        clip = model(x)
    assert model.output == "probs"
    assert frames.shape == (2, 40, 10) and clip.shape == (2, 10)
    torch.testing.assert_close(clip, frames.mean(1))          # global average pooling over time


def test_rcnn_shallow_parameter_count():
    # 3x3 convs without bias (BN follows): 1*9*64 + 2 * 64*9*64; BN gamma and beta: 3 * 2*64.
    # SRU per direction: input 64 != 128 hidden, so one (64 x 4*128) matrix (x~, f, r, highway)
    # and the biases b_f, b_r (2*128); two directions. 1x1 conv with bias: 2*128*10 + 10.
    conv = 1 * 9 * 64 + 2 * 64 * 9 * 64
    bn = 3 * 2 * 64
    sru = 2 * (64 * 4 * 128 + 2 * 128)
    head = 2 * 128 * 10 + 10
    assert conv + bn + sru + head == 143_306
    assert n_params(build_model({"name": "rcnn_shallow"}, 64, 10, 240)) == 143_306


def test_rcnn_deep_structure_and_parameter_count():
    model = build_model({"name": "rcnn_deep"}, 64, 10, 240)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(2, 2)] * 8 + [(1, 1)]
    assert all(c.bias is None and c.padding == (1, 1) for c in convs[:8])
    assert convs[8].out_channels == 256 and convs[8].bias is not None
    pools = [m.kernel_size for m in model.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert pools == [(1, 2)] * 4 + [(1, 4)]
    # 2x2 convs: 1*4*64 + 7 * 64*4*64; BN: 8 * 2*64; 1x1 conv 64*256 + 256; SRU from 256 to
    # 128 per direction: 256 * 4*128 + 2*128, twice; 1x1 conv to the classes 256*10 + 10.
    expected = (4 * 64 + 7 * 64 * 4 * 64) + 8 * 2 * 64 + (64 * 256 + 256) \
        + 2 * (256 * 4 * 128 + 2 * 128) + (256 * 10 + 10)
    assert n_params(model) == expected == 397_834


def test_deep_block_conv_pair_is_centred():
    """The two cropped 2x2 convs of a block see frames and bins t-1 .. t+1, as one 3x3 conv."""
    torch.manual_seed(0)
    block = deep_block(1, 2, freq_pool=1)
    convs_and_crops = torch.nn.Sequential(block[0], block[1], block[4], block[5])
    x = torch.zeros(1, 1, 9, 8, requires_grad=True)
    out = convs_and_crops(x)
    assert out.shape == (1, 2, 9, 8)
    out[0, :, 4, 3].sum().backward()
    rows, cols = x.grad[0, 0].nonzero(as_tuple=True)
    assert sorted(set(rows.tolist())) == [3, 4, 5] and sorted(set(cols.tolist())) == [2, 3, 4]


@pytest.mark.parametrize("name", ["rcnn_deep", "rcnn_shallow"])
def test_forward_and_overfit(name):
    config = {"name": name, **SMALL[name]}
    check_forward(config, 64, 3, 9, batch=1)
    check_forward(config, 64, 3, 12)
    check_overfits(config, 64, 3, 12)


def test_smaller_pools_flatten_the_bins_left_into_the_sru_input():
    model = check_forward({"name": "rcnn_shallow", **SMALL["rcnn_shallow"],
                           "freq_pools": [2, 2, 2]}, 40, 3, 7)
    assert model.rnn.fwd.w.in_features == 8 * (40 // 8)
    model = check_forward({"name": "rcnn_deep", **SMALL["rcnn_deep"], "bottleneck_pool": 1},
                          40, 3, 7)
    assert model.rnn.fwd.w.in_features == 16 * (40 // 16)


@pytest.mark.parametrize("config, message", [
    ({"name": "rcnn_deep"}, "fewer than the total frequency pooling 64"),
    ({"name": "rcnn_shallow"}, "fewer than the total frequency pooling 64"),
    ({"name": "rcnn_shallow", "freq_pools": [4, 4]}, "one value per conv block"),
    ({"name": "rcnn_deep", "filters": []}, "one value per conv block"),
    ({"name": "rcnn_shallow", "freq_pools": [2, 0, 2]}, "must be positive"),
    ({"name": "rcnn_deep", "freq_pools": [1, 1, 1, 1], "bottleneck": 0}, "must be positive"),
    ({"name": "rcnn_shallow", "pooling": "max"}, "unexpected keyword"),
])
def test_bad_configuration(config, message):
    with pytest.raises(ValueError, match=message):
        build_model(config, 40, 10, 240)
