"""Learning-rate schedules, built from the ``training.schedule`` section of a system YAML.

``make_scheduler(cfg, optimizer)`` returns a ``Schedule``; the trainer calls
``step_iteration()`` after every optimizer step and ``step_epoch(metric)`` after every validation
(with the validation metric), and checkpoints ``state_dict()``. The schedules, each a
``torch.optim.lr_scheduler`` class underneath:

- ``{name: none}`` (or no section): the optimizer's lr throughout.
- ``{name: step, every: 200, gamma: 0.9}``: lr x ``gamma`` every ``every`` units; Kong et al.'s
  cross-task baseline multiplies by 0.9 every 200 iterations (part4.md P4.12 section 5; their code
  uses every 100, a config change).
- ``{name: multistep, milestones: [150000, 250000], gamma: 0.1}``: lr x ``gamma`` at each
  milestone; Jeong & Lim go 1e-3 -> 1e-4 -> 1e-5 at 150k and 250k iterations (part4.md P4.8
  section 5); part2.md Paper 1 halves at epochs 30 and 60 (``unit: epoch, gamma: 0.5``).
- ``{name: linear, start: 100, end: 500}``: constant until ``start``, then linearly down to 0 at
  ``end`` (Dorfer et al.: "lr linearly decayed to zero from epoch 100" of 500, part4.md P4.4
  section 5). ``unit`` defaults to epoch here.
- ``{name: plateau, factor: 0.5, patience: 5, mode: max, threshold: 1e-4, min_lr: 0}``: on the
  validation metric after each validation. lr x ``factor`` once ``patience`` validations in a row
  have not improved on the best by more than ``threshold`` (absolute), as Keras'
  ``ReduceLROnPlateau`` that most systems used counts it (Yang et al.: x0.1 after 5 epochs
  without improvement, part1.md Paper 5 section 5; x0.5 after 3, min 1e-6, part1.md Paper 9).
  ``mode`` is ``max`` for accuracy-like metrics and ``min`` for a loss.
- ``{name: cyclic, base_lr: 0.001, max_lr: 0.333, step_size: 4, mode: triangular}``: Smith's
  cyclical lr, ``step_size`` iterations per half cycle, ``triangular2`` halving the amplitude
  every cycle (DeepSAGA's best genome, part3.md P10 section 4). It starts at ``base_lr``, whatever
  the optimizer's lr; momentum is not cycled.

``unit`` (step, multistep, linear) is ``iteration`` (counted by ``step_iteration``) or ``epoch``
(counted by ``step_epoch``, i.e. per validation). ``state_dict`` holds the scheduler's state and
the current learning rates, so loading it into a fresh schedule continues exactly.
"""
from torch.optim import lr_scheduler

REQUIRED = object()
SCHEDULES = {
    "none": {},
    "step": {"every": REQUIRED, "gamma": 0.1, "unit": "iteration"},
    "multistep": {"milestones": REQUIRED, "gamma": 0.1, "unit": "iteration"},
    "linear": {"start": REQUIRED, "end": REQUIRED, "unit": "epoch"},
    "plateau": {"factor": 0.1, "patience": 10, "mode": "max", "threshold": 1e-4, "min_lr": 0.0},
    "cyclic": {"base_lr": REQUIRED, "max_lr": REQUIRED, "step_size": REQUIRED,
               "mode": "triangular"},
}
UNITS = ("iteration", "epoch")


class Schedule:
    """A torch lr scheduler (or none) and when to step it: per ``iteration``, per ``epoch``, or on
    the validation ``metric``."""

    def __init__(self, name, optimizer, scheduler=None, unit=None):
        self.name, self.optimizer, self.scheduler, self.unit = name, optimizer, scheduler, unit

    @property
    def lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def step_iteration(self):
        if self.unit == "iteration":
            self.scheduler.step()

    def step_epoch(self, metric=None):
        if self.unit == "epoch":
            self.scheduler.step()
        elif self.unit == "metric":
            if metric is None:
                raise ValueError("the plateau schedule needs the validation metric: "
                                 "call step_epoch(metric)")
            self.scheduler.step(metric)

    def state_dict(self):
        state = {"name": self.name, "lrs": [g["lr"] for g in self.optimizer.param_groups]}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def load_state_dict(self, state):
        if state.get("name") != self.name:
            raise ValueError(f"checkpoint has a '{state.get('name')}' lr schedule but the config "
                             f"asks for '{self.name}'; start a fresh run to change the schedule")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for group, lr in zip(self.optimizer.param_groups, state["lrs"]):
            group["lr"] = lr


class LinearDecay:
    """lr factor: 1 up to ``start``, then linearly down to 0 at ``end`` (a LambdaLR rule whose
    state is plain data)."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def __call__(self, step):
        return min(1.0, max(0.0, (self.end - step) / (self.end - self.start)))


def make_scheduler(cfg, optimizer):
    """The ``Schedule`` that ``cfg`` (the ``training.schedule`` mapping, or None) describes."""
    cfg = dict(cfg or {"name": "none"})
    name = cfg.pop("name", None)
    if name not in SCHEDULES:
        raise ValueError(f"unknown training.schedule name '{name}'; choose one of "
                         f"{sorted(SCHEDULES)}")
    opts = _options(name, cfg)
    if name == "none":
        return Schedule(name, optimizer)
    if name == "plateau":
        return Schedule(name, optimizer, _plateau(optimizer, **opts), "metric")
    if name == "cyclic":
        return Schedule(name, optimizer, _cyclic(optimizer, **opts), "iteration")
    unit = opts.pop("unit")
    if unit not in UNITS:
        raise ValueError(f"training.schedule.unit must be one of {UNITS}, got {unit!r}")
    build = {"step": _step, "multistep": _multistep, "linear": _linear}[name]
    return Schedule(name, optimizer, build(optimizer, **opts), unit)


def _options(name, cfg):
    allowed = SCHEDULES[name]
    unknown = sorted(set(cfg) - set(allowed))
    if unknown:
        raise ValueError(f"training.schedule '{name}' got unknown option(s) {unknown}; "
                         f"allowed: {sorted(allowed) or 'none'}")
    opts = {**allowed, **cfg}
    missing = sorted(k for k, v in opts.items() if v is REQUIRED)
    if missing:
        raise ValueError(f"training.schedule '{name}' needs {missing}")
    return opts


def _positive(name, value, integer=False):
    kind = int if integer else (int, float)
    if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
        what = "a positive integer" if integer else "a positive number"
        raise ValueError(f"training.schedule.{name} must be {what}, got {value!r}")


def _step(optimizer, every, gamma):
    _positive("every", every, integer=True)
    _positive("gamma", gamma)
    return lr_scheduler.StepLR(optimizer, step_size=every, gamma=gamma)


def _multistep(optimizer, milestones, gamma):
    if not isinstance(milestones, (list, tuple)) or not milestones:
        raise ValueError(f"training.schedule.milestones must be a list of steps, "
                         f"got {milestones!r}")
    for m in milestones:
        _positive("milestones", m, integer=True)
    if list(milestones) != sorted(set(milestones)):
        raise ValueError(f"training.schedule.milestones must increase, got {milestones}")
    _positive("gamma", gamma)
    return lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)


def _linear(optimizer, start, end):
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
        raise ValueError(f"training.schedule linear needs integers 0 <= start < end, "
                         f"got start={start!r} end={end!r}")
    return lr_scheduler.LambdaLR(optimizer, LinearDecay(start, end))


def _plateau(optimizer, factor, patience, mode, threshold, min_lr):
    if not 0 < factor < 1:
        raise ValueError(f"training.schedule.factor must be in (0, 1), got {factor!r}")
    _positive("patience", patience, integer=True)
    if mode not in ("min", "max"):
        raise ValueError(f"training.schedule.mode must be 'max' (accuracy) or 'min' (loss), "
                         f"got {mode!r}")
    # torch reduces once more than `patience` epochs are bad; Keras (and the papers) once
    # `patience` are.
    return lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=factor,
                                          patience=patience - 1, threshold=threshold,
                                          threshold_mode="abs", min_lr=min_lr)


def _cyclic(optimizer, base_lr, max_lr, step_size, mode):
    _positive("base_lr", base_lr)
    _positive("max_lr", max_lr)
    _positive("step_size", step_size, integer=True)
    if max_lr < base_lr:
        raise ValueError(f"training.schedule.max_lr ({max_lr}) is below base_lr ({base_lr})")
    if mode not in ("triangular", "triangular2"):
        raise ValueError(f"training.schedule.mode must be triangular or triangular2 for cyclic, "
                         f"got {mode!r}")
    return lr_scheduler.CyclicLR(optimizer, base_lr=base_lr, max_lr=max_lr,
                                 step_size_up=step_size, mode=mode, cycle_momentum=False)
