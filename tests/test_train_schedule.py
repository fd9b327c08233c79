"""Learning-rate schedules: closed-form values, plateau counting, exact resumption."""
import io

import pytest
import torch

from dcase_tk.train.schedule import make_scheduler


def optimizer(lr=0.001):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr, momentum=0.9)


def iterate(schedule, opt, n):
    lrs = []
    for _ in range(n):
        opt.step()
        schedule.step_iteration()
        lrs.append(schedule.lr)
    return lrs


def test_none_keeps_the_optimizer_lr():
    for cfg in (None, {"name": "none"}):
        opt = optimizer(0.01)
        schedule = make_scheduler(cfg, opt)
        iterate(schedule, opt, 5)
        schedule.step_epoch(0.3)
        assert schedule.lr == 0.01


def test_step_matches_kong_closed_form():
    opt = optimizer()
    schedule = make_scheduler({"name": "step", "every": 200, "gamma": 0.9}, opt)
    lrs = iterate(schedule, opt, 1000)
    for k in (1, 199, 200, 201, 399, 400, 777, 1000):
        assert lrs[k - 1] == pytest.approx(0.001 * 0.9 ** (k // 200), rel=1e-12)
    schedule.step_epoch(0.5)                       # iteration unit: epochs do not count
    assert schedule.lr == lrs[-1]


def test_multistep_and_linear_per_epoch():
    opt = optimizer(1.0)
    schedule = make_scheduler({"name": "multistep", "milestones": [2, 4], "gamma": 0.5,
                               "unit": "epoch"}, opt)
    iterate(schedule, opt, 10)
    lrs = []
    for _ in range(5):
        schedule.step_epoch(None)
        lrs.append(schedule.lr)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt = optimizer(1.0)
    schedule = make_scheduler({"name": "linear", "start": 2, "end": 6}, opt)
    lrs = []
    for _ in range(8):
        opt.step()
        schedule.step_epoch(None)
        lrs.append(schedule.lr)
    assert lrs == pytest.approx([1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0])


def test_plateau_reduces_after_patience_epochs_without_improvement():
    opt = optimizer(1.0)
    schedule = make_scheduler({"name": "plateau", "factor": 0.5, "patience": 3, "mode": "max"},
                              opt)
    iterate(schedule, opt, 3)
    lrs = []
    # best 0.6 at epoch 2; epochs 3, 4, 5 do not beat it (0.60005 is within the threshold)
    for metric in [0.5, 0.6, 0.6, 0.59, 0.60005, 0.55, 0.55, 0.55, 0.7, 0.6]:
        schedule.step_epoch(metric)
        lrs.append(schedule.lr)
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    opt = optimizer(1.0)
    schedule = make_scheduler({"name": "plateau", "factor": 0.1, "patience": 1, "mode": "min",
                               "min_lr": 0.05}, opt)
    for loss in [1.0, 0.9, 0.95, 0.95]:
        schedule.step_epoch(loss)
    assert schedule.lr == pytest.approx(0.05)                 # 1 -> 0.1 -> floor 0.05
    with pytest.raises(ValueError, match="validation metric"):
        schedule.step_epoch()


def triangle(i, base, peak, step, halve=False):
    """Smith's triangular cyclical lr at iteration i, written out by hand."""
    cycle = i // (2 * step)
    position = i - 2 * step * cycle                            # 0 .. 2 step
    height = position / step if position <= step else 2 - position / step
    scale = 0.5 ** cycle if halve else 1.0
    return base + (peak - base) * height * scale


def test_cyclic_triangular_by_hand():
    opt = optimizer()
    schedule = make_scheduler({"name": "cyclic", "base_lr": 0.001, "max_lr": 0.005,
                               "step_size": 4}, opt)
    assert schedule.lr == pytest.approx(0.001)
    lrs = [schedule.lr] + iterate(schedule, opt, 16)
    assert lrs[2] == pytest.approx(0.003) and lrs[4] == pytest.approx(0.005)
    assert lrs[6] == pytest.approx(0.003) and lrs[8] == pytest.approx(0.001)
    assert lrs == pytest.approx([triangle(i, 0.001, 0.005, 4) for i in range(17)])
    opt = optimizer()
    schedule = make_scheduler({"name": "cyclic", "base_lr": 0.001, "max_lr": 0.005,
                               "step_size": 4, "mode": "triangular2"}, opt)
    lrs = [schedule.lr] + iterate(schedule, opt, 24)
    assert lrs[12] == pytest.approx(0.003) and lrs[20] == pytest.approx(0.002)
    assert lrs == pytest.approx([triangle(i, 0.001, 0.005, 4, halve=True) for i in range(25)])


CONFIGS = [
    {"name": "step", "every": 3, "gamma": 0.5},
    {"name": "multistep", "milestones": [4, 9], "gamma": 0.1},
    {"name": "linear", "start": 1, "end": 5},
    {"name": "plateau", "factor": 0.5, "patience": 2},
    {"name": "cyclic", "base_lr": 0.001, "max_lr": 0.01, "step_size": 3, "mode": "triangular2"},
]
METRICS = [0.1, 0.3, 0.2, 0.2, 0.25, 0.4, 0.1, 0.1, 0.1, 0.1]


def run(schedule, opt, epochs):
    """Per epoch: 4 iterations then a validation; returns the lr after each step."""
    lrs = []
    for epoch in epochs:
        lrs += iterate(schedule, opt, 4)
        schedule.step_epoch(METRICS[epoch])
        lrs.append(schedule.lr)
    return lrs


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c["name"] for c in CONFIGS])
def test_state_dict_round_trip_continues_identically(cfg):
    opt = optimizer(0.01)
    unbroken = run(make_scheduler(cfg, opt), opt, range(10))
    opt = optimizer(0.01)
    schedule = make_scheduler(cfg, opt)
    first = run(schedule, opt, range(4))
    buffer = io.BytesIO()
    torch.save({"schedule": schedule.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)              # plain data only
    opt = optimizer(0.01)
    opt.load_state_dict(saved["optimizer"])
    schedule = make_scheduler(cfg, opt)
    schedule.load_state_dict(saved["schedule"])
    resumed = first + run(schedule, opt, range(4, 10))
    assert resumed == unbroken
    assert len(set(unbroken)) > 1                              # the schedule did move


def test_loading_restores_the_lr_even_without_the_optimizer_state():
    opt = optimizer(0.01)
    schedule = make_scheduler({"name": "step", "every": 2, "gamma": 0.5}, opt)
    iterate(schedule, opt, 5)
    state = schedule.state_dict()
    opt = optimizer(0.01)
    fresh = make_scheduler({"name": "step", "every": 2, "gamma": 0.5}, opt)
    fresh.load_state_dict(state)
    assert fresh.lr == pytest.approx(0.0025)
    assert iterate(fresh, opt, 1) == pytest.approx([0.00125])


def test_bad_configuration_raises():
    opt = optimizer()
    cases = [
        ({"name": "exponential"}, "choose one of"),
        ({"name": "step", "gamma": 0.9}, r"needs \['every'\]"),
        ({"name": "step", "every": 200, "step_size": 3}, "unknown option"),
        ({"name": "step", "every": 0}, "positive integer"),
        ({"name": "step", "every": 5, "unit": "batch"}, "unit"),
        ({"name": "multistep", "milestones": [5, 3]}, "increase"),
        ({"name": "linear", "start": 5, "end": 5}, "start < end"),
        ({"name": "plateau", "patience": 0}, "patience"),
        ({"name": "plateau", "factor": 2}, "factor"),
        ({"name": "plateau", "mode": "up"}, "mode"),
        ({"name": "cyclic", "base_lr": 0.1, "max_lr": 0.01, "step_size": 2}, "below base_lr"),
        ({"name": "cyclic", "base_lr": 0.01, "max_lr": 0.1, "step_size": 2, "mode": "exp"},
         "triangular"),
    ]
    for cfg, message in cases:
        with pytest.raises(ValueError, match=message):
            make_scheduler(cfg, opt)
    schedule = make_scheduler({"name": "step", "every": 2}, opt)
    other = make_scheduler({"name": "plateau"}, optimizer())
    with pytest.raises(ValueError, match="'plateau' lr schedule but the config asks for 'step'"):
        schedule.load_state_dict(other.state_dict())
