"""Pooling heads (dcase_tk/nnet/pooling.py) on a tiny tensor with hand-set weights."""
import math

import pytest
import torch

from dcase_tk.nnet.pooling import HEADS, SINGLE_LEVEL_HEADS, make_pooling

# one clip, 2-d embeddings, 3 frames: dim 0 = [1, 2, 3], dim 1 = [0, 1, 0]
H = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]]])


def sig(v):
    return 1 / (1 + math.exp(-v))


def set_linear(layer, weight, bias):
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))


def head(name, **kw):
    """A 1-class head reading dim 0 (classifier) and, for attention, dim 1 (attention)."""
    h = make_pooling(name, 2, 1, **kw)
    for layer in (getattr(h, "fc", None), getattr(h, "cla", None)):
        if layer is not None:
            set_linear(layer, [[1.0, 0.0]], [0.0])
    if hasattr(h, "att"):
        set_linear(h.att, [[0.0, 1.0]], [0.0])
    return h


def frame_probs():
    return torch.tensor([sig(1), sig(2), sig(3)])


@pytest.mark.parametrize("name, expected", [("max", 3.0), ("avg", 2.0)])
def test_global_pooling_is_linear_layer_of_pooled_embedding(name, expected):
    h = head(name)
    with torch.no_grad():
        clip, frame = h(H)
    assert h.output == "logits"
    assert clip.shape == (1, 1) and clip.item() == pytest.approx(expected)
    assert frame.shape == (1, 3, 1)
    assert torch.allclose(frame[0, :, 0], frame_probs())


def test_global_max_pools_each_dimension_separately():
    h = make_pooling("max", 2, 1)
    set_linear(h.fc, [[0.0, 1.0]], [0.5])
    with torch.no_grad():
        clip, _ = h(H)
    assert clip.item() == pytest.approx(1.5)      # max of dim 1 is 1, plus the bias


def test_attention_softmax_over_time():
    h = head("attention")
    assert h.output == "probs"
    with torch.no_grad():
        w = h.attention_weights(H)[0, :, 0]
        clip, frame = h(H)
    e = math.e
    expected_w = torch.tensor([1 / (2 + e), e / (2 + e), 1 / (2 + e)])
    assert torch.allclose(w, expected_w) and w.sum().item() == pytest.approx(1.0)
    assert clip.item() == pytest.approx((expected_w * frame_probs()).sum().item(), rel=1e-6)
    assert torch.allclose(frame[0, :, 0], frame_probs())


def test_attention_sigmoid_weights_are_normalised_sigmoids():
    h = head("attention", attention="sigmoid")
    with torch.no_grad():
        w = h.attention_weights(H)[0, :, 0]
    a = torch.tensor([sig(0), sig(1), sig(0)])
    assert torch.allclose(w, a / a.sum())


def test_attention_class_softmax_normalises_over_time_after_softmax_over_classes():
    h = make_pooling("attention", 2, 2, attention="class_softmax")
    set_linear(h.att, [[1.0, 0.0], [0.0, 0.0]], [0.0, 0.0])   # class 0 logit = dim 0, class 1 = 0
    with torch.no_grad():
        w = h.attention_weights(H)[0]                          # (time, classes)
    v0 = torch.tensor([sig(1), sig(2), sig(3)])                # softmax of (x, 0) = sigmoid(x)
    assert torch.allclose(w[:, 0], v0 / v0.sum())
    assert torch.allclose(w[:, 1], (1 - v0) / (1 - v0).sum())
    assert torch.allclose(w.sum(0), torch.ones(2))


def test_attention_log_softmax_classifier_gives_logits():
    h = make_pooling("attention", 2, 2, attention="sigmoid", classifier="log_softmax")
    set_linear(h.cla, [[1.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    set_linear(h.att, [[0.0, 0.0], [0.0, 1.0]], [0.0, 0.0])
    assert h.output == "logits"
    with torch.no_grad():
        clip, frame = h(H)
    x = torch.tensor([1.0, 2.0, 3.0])
    log_p = torch.stack([x, torch.zeros(3)], 1).log_softmax(1)      # (time, classes)
    w0 = torch.full((3,), 1 / 3)                                   # class 0: equal sigmoid(0)
    a1 = torch.tensor([sig(0), sig(1), sig(0)])
    expected = torch.stack([(w0 * log_p[:, 0]).sum(), (a1 / a1.sum() * log_p[:, 1]).sum()])
    assert torch.allclose(clip[0], expected)
    assert torch.allclose(frame[0], log_p.exp()) and torch.allclose(frame.sum(2), torch.ones(1, 3))


@pytest.mark.parametrize("name, expected", [("mil_max", sig(3)), ("mil_min", sig(1)),
                                            ("mil_mean", (sig(1) + sig(2) + sig(3)) / 3)])
def test_mil_pooling_of_frame_probabilities(name, expected):
    h = head(name)
    with torch.no_grad():
        clip, frame = h(H)
    assert h.output == "probs"
    assert clip.item() == pytest.approx(expected)
    assert torch.allclose(frame[0, :, 0], frame_probs())


def test_multi_level_attention_concatenates_levels_then_sigmoid_layer():
    torch.manual_seed(0)
    h = make_pooling("multi_level_attention", [2, 4], 3)
    assert h.output == "probs"
    levels = [torch.randn(2, 2, 5), torch.randn(2, 4, 7)]          # levels may differ in time
    with torch.no_grad():
        clip, frame = h(levels)
        y = [module(level)[0] for module, level in zip(h.levels, levels)]
    assert frame is None and clip.shape == (2, 3)
    u = torch.cat(y, 1)
    assert u.shape == (2, 6) and u.min() >= 0 and u.max() <= 1
    assert torch.allclose(clip, torch.sigmoid(u @ h.fc.weight.T + h.fc.bias))
    assert all(m.attention == "class_softmax" for m in h.levels)   # Yu et al. Fig. 1


def test_multi_level_attention_wrong_number_of_levels():
    h = make_pooling("multi_level_attention", [2, 2], 3)
    with pytest.raises(ValueError, match="2 levels"):
        h([torch.randn(1, 2, 4)])


def test_every_head_maps_shapes_and_batch_of_one():
    torch.manual_seed(0)
    for name in SINGLE_LEVEL_HEADS:
        h = make_pooling(name, 4, 5).eval()
        clip, frame = h(torch.randn(1, 4, 6))
        assert clip.shape == (1, 5) and frame.shape == (1, 6, 5), name
        assert frame.min() >= 0 and frame.max() <= 1
        if h.output == "probs":
            assert clip.min() >= 0 and clip.max() <= 1
    assert set(HEADS) == set(SINGLE_LEVEL_HEADS) | {"multi_level_attention"}


@pytest.mark.parametrize("args, kw, message", [
    (("median", 4, 2), {}, "unknown pooling head"),
    (("max", 4, 2), {"attention": "softmax"}, "does not take options"),
    (("attention", 4, 2), {"attention": "tanh"}, "attention must be one of"),
    (("attention", 4, 2), {"classifier": "relu"}, "classifier must be one of"),
    (("multi_level_attention", 4, 2), {}, "list of the level sizes"),
    (("mil_max", [4, 4], 2), {}, "one embedding level"),
])
def test_bad_configuration(args, kw, message):
    with pytest.raises(ValueError, match=message):
        make_pooling(*args, **kw)
