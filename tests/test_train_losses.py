"""Training losses: hand-computed values, probs/logits agreement, smoothing, weights, gradients."""
import math

import pytest
import torch

from dcase_tk.train.losses import loss_mask, make_loss, smooth_targets

# two examples, three classes: a one-hot and a soft target
LOGITS = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
TARGETS = [[0.0, 1.0, 0.0], [0.2, 0.0, 0.8]]


def tensors():
    return torch.tensor(LOGITS, dtype=torch.float64), torch.tensor(TARGETS, dtype=torch.float64)


def softmax(z):
    total = sum(math.exp(v) for v in z)
    return [math.exp(v) / total for v in z]


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def hand_ce(z, t):
    return -sum(tc * math.log(pc) for tc, pc in zip(t, softmax(z)))


def hand_focal(z, t, gamma, alpha):
    return -sum(tc * a * (1 - pc) ** gamma * math.log(pc)
                for tc, pc, a in zip(t, softmax(z), alpha))


def hand_bce(z, t):
    return sum(-(tc * math.log(sigmoid(v)) + (1 - tc) * math.log(1 - sigmoid(v)))
               for v, tc in zip(z, t)) / len(z)


def hand_focal_bce(z, t, gamma):
    return sum(-(tc * (1 - sigmoid(v)) ** gamma * math.log(sigmoid(v))
                 + (1 - tc) * sigmoid(v) ** gamma * math.log(1 - sigmoid(v)))
               for v, tc in zip(z, t)) / len(z)


def mean_over(fn, *args):
    return sum(fn(z, t, *args) for z, t in zip(LOGITS, TARGETS)) / len(LOGITS)


def test_cross_entropy_by_hand():
    z, t = tensors()
    # example 1: -log p_2 = log(e^1 + e^2 + e^0.5) - 2
    first = math.log(math.exp(1) + math.exp(2) + math.exp(0.5)) - 2.0
    assert hand_ce(LOGITS[0], TARGETS[0]) == pytest.approx(first)
    assert make_loss("cross_entropy")(z, t).item() == pytest.approx(mean_over(hand_ce))


def test_bce_by_hand():
    z, t = tensors()
    assert make_loss("bce")(z, t).item() == pytest.approx(mean_over(hand_bce))


def test_focal_gamma_zero_is_cross_entropy_and_gamma_two_by_hand():
    z, t = tensors()
    ce = make_loss("cross_entropy")(z, t).item()
    assert make_loss("focal", gamma=0)(z, t).item() == pytest.approx(ce)
    expected = mean_over(hand_focal, 2.0, [1.0, 1.0, 1.0])
    assert make_loss("focal")(z, t).item() == pytest.approx(expected)
    assert expected < ce                       # down-weights the well-classified examples
    per_class = mean_over(hand_focal, 2.0, [0.5, 1.0, 2.0])
    assert make_loss("focal", alpha=[0.5, 1.0, 2.0])(z, t).item() == pytest.approx(per_class)
    assert make_loss("focal", alpha=0.25)(z, t).item() == pytest.approx(0.25 * expected)


def test_focal_bce_by_hand():
    z, t = tensors()
    assert make_loss("focal_bce", gamma=0)(z, t).item() == pytest.approx(mean_over(hand_bce))
    expected = mean_over(hand_focal_bce, 2.0)
    assert make_loss("focal_bce")(z, t).item() == pytest.approx(expected)
    assert make_loss("focal_bce", gamma=2, alpha=3)(z, t).item() == pytest.approx(3 * expected)


@pytest.mark.parametrize("name", ["cross_entropy", "focal"])
def test_softmax_losses_agree_on_probs_and_logits(name):
    z, t = tensors()
    loss = make_loss(name)
    probs = torch.softmax(z, dim=1)
    assert loss(probs, t, kind="probs").item() == pytest.approx(loss(z, t).item(), rel=1e-9)
    # probabilities that do not sum to 1 are renormalised first
    assert loss(3 * probs, t, kind="probs").item() == pytest.approx(loss(z, t).item(), rel=1e-9)


@pytest.mark.parametrize("name", ["bce", "focal_bce"])
def test_binary_losses_agree_on_probs_and_logits(name):
    z, t = tensors()
    loss = make_loss(name)
    probs = torch.sigmoid(z)
    assert loss(probs, t, kind="probs").item() == pytest.approx(loss(z, t).item(), rel=1e-9)


def test_smooth_targets():
    t = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    # Nguyen et al.: eps/k on the non-targets, 1 - (k-1)/k eps on the target
    single, binary = smooth_targets(t, 0.2, binary=False), smooth_targets(t, 0.2, binary=True)
    assert single[0].tolist() == pytest.approx([0.05, 0.85, 0.05, 0.05])
    assert binary[0].tolist() == pytest.approx([0.1, 0.9, 0.1, 0.1])
    assert smooth_targets(t, None, binary=False) is t
    assert smooth_targets(t, 0, binary=False) is t
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        smooth_targets(t, 1.5, binary=False)
    with pytest.raises(ValueError, match="per-example"):
        smooth_targets(t, torch.tensor([0.1, 0.2]), binary=False)


def test_per_example_smoothing_only_touches_its_examples():
    z, t = tensors()
    loss = make_loss("cross_entropy")
    smoothed = [[0.7 * v + 0.3 / 3 for v in TARGETS[1]]]
    expected = (hand_ce(LOGITS[0], TARGETS[0]) + hand_ce(LOGITS[1], smoothed[0])) / 2
    got = loss(z, t, smoothing=torch.tensor([0.0, 0.3])).item()
    assert got == pytest.approx(expected)
    everywhere = (hand_ce(LOGITS[0], [0.7 * v + 0.1 for v in TARGETS[0]])
                  + hand_ce(LOGITS[1], smoothed[0])) / 2
    assert loss(z, t, smoothing=0.3).item() == pytest.approx(everywhere)


def test_binary_smoothing_uses_one_half():
    z, t = tensors()
    expected = mean_over(lambda zz, tt: hand_bce(zz, [0.8 * v + 0.1 for v in tt]))
    assert make_loss("bce")(z, t, smoothing=0.2).item() == pytest.approx(expected)


def test_weights_give_a_weighted_mean_over_examples():
    z, t = tensors()
    loss = make_loss("cross_entropy")
    first, second = hand_ce(LOGITS[0], TARGETS[0]), hand_ce(LOGITS[1], TARGETS[1])
    assert loss(z, t, weights=torch.tensor([1.0, 0.0])).item() == pytest.approx(first)
    assert loss(z, t, weights=torch.tensor([1.0, 3.0])).item() == pytest.approx(
        (first + 3 * second) / 4)
    assert loss.per_example(z, t).tolist() == pytest.approx([first, second])
    with pytest.raises(ValueError, match="negative"):
        loss(z, t, weights=torch.tensor([1.0, -1.0]))


def test_loss_mask_drops_high_loss_unverified_examples():
    losses = torch.tensor([1.0, 5.0, 4.5, 0.5])
    verified = torch.tensor([False, False, True, False])
    # mu = 0.8 * 5 = 4: example 1 (5.0, unverified) goes; example 2 is over mu but verified
    assert loss_mask(losses, verified).tolist() == [1.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("name", ["cross_entropy", "bce", "focal", "focal_bce"])
def test_gradients_finite_at_extremes(name):
    loss = make_loss(name, gamma=0.5) if name.startswith("focal") else make_loss(name)
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    logits = torch.tensor([[100.0, -100.0, 0.0], [-100.0, 100.0, 50.0]], requires_grad=True)
    value = loss(logits, targets)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    probs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], requires_grad=True)
    value = loss(probs, targets, kind="probs", smoothing=0.1)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(probs.grad).all()
    assert value.item() > 1.0      # confidently wrong on example 2 costs a lot


def test_bad_configuration_raises():
    z, t = tensors()
    with pytest.raises(ValueError, match="choose one of.*focal_bce"):
        make_loss("hinge")
    with pytest.raises(ValueError, match="allowed: none"):
        make_loss("cross_entropy", gamma=2)
    with pytest.raises(ValueError, match="allowed: gamma, alpha"):
        make_loss("focal", beta=1)
    with pytest.raises(ValueError, match="gamma"):
        make_loss("focal", gamma=-1)
    with pytest.raises(ValueError, match="alpha"):
        make_loss("focal", alpha=[1.0, 0.0])
    with pytest.raises(ValueError, match="2 values but the model has 3 classes"):
        make_loss("focal", alpha=[1.0, 2.0])(z, t)
    with pytest.raises(ValueError, match="one-hot"):
        make_loss("cross_entropy")(z, torch.tensor([[0, 1, 0], [1, 0, 0]]))
    with pytest.raises(ValueError, match="outputs and targets"):
        make_loss("bce")(z, t[:, :2])
    with pytest.raises(ValueError, match="kind"):
        make_loss("bce")(z, t, kind="softmax")
