"""Tuning the post-processing of frame posteriors on a validation set with strong labels.

The search (the ``tune:`` section, :class:`TuneConfig`; the start values and ``method`` come
from the ``postprocess:`` section):

- Objective: the event-based F1 of each class on the validation clips, as sed_eval counts it
  (onset collar ``t_collar`` 0.2 s, offset ``max(t_collar, percentage_of_length x length)``, 20 %;
  dcase_tk/scoring/sed_counts.py), so that the tuned macro F1 is the challenge's metric. A class
  without reference events in the validation set scores 1 when nothing is detected and 0
  otherwise: the search then only avoids false positives (a warning names such classes).
- Per class: the events of class ``c`` depend only on its posteriors, its own parameters and its
  clip tags, and its F1 only on its events, so each class is searched on its own and the macro
  F1 is maximised by maximising each class's F1.
- Coordinate search: the binarisation parameters of ``method`` (``threshold``; ``high`` then
  ``low``; ``switch_prob``), then ``median``, then ``min_length`` and ``max_gap``; a parameter
  whose grid is empty is not searched. Each step scores every value of the parameter's grid (and
  the current value, when the grid lacks it) with the other parameters at their current values,
  and keeps the best F1. Ties keep the current value when it is among the best, else the
  earliest value of the grid: grids are listed simplest first (no median filter, no gap merging,
  no minimum length first; thresholds in ascending order). Hysteresis values with
  ``low > high`` are skipped. The whole sequence is repeated up to ``rounds`` times and stops
  after a round that changed nothing. The search is deterministic: no random restarts.
- Result: the ``postprocess:`` section with every searched parameter as a ``{class: value}``
  mapping, and the search table: one row per scored candidate (round, class, parameter, value,
  tp, fp, fn, f1, chosen), round 0 holding each class's start values.
"""
import dataclasses
import logging

import numpy as np

from dcase_tk.config import ConfigError, dataclass_from_dict
from dcase_tk.decode.sed import (PostprocessConfig, binary_decisions, clip_tags, detect,
                                 length_groups)
from dcase_tk.decode.sed_config import CHECKS
from dcase_tk.scoring.sed_counts import class_counts, f1

log = logging.getLogger("dcase_tk.sed_tune")

BINARISATION = {"threshold": ("threshold",), "hysteresis": ("high", "low"), "viterbi": ("switch_prob",)}
SMOOTHING = ("median", "min_length", "max_gap")
GRID = [round(0.1 * i, 1) for i in range(1, 10)]
TABLE_COLUMNS = ("round", "class", "parameter", "value", "tp", "fp", "fn", "f1", "chosen")


@dataclasses.dataclass
class TuneConfig:
    rounds: int = 2
    threshold: list = dataclasses.field(default_factory=lambda: list(GRID))
    high: list = dataclasses.field(default_factory=lambda: GRID[4:])
    low: list = dataclasses.field(default_factory=lambda: GRID[:5])
    switch_prob: list = dataclasses.field(default_factory=lambda: [0.5, 0.1, 0.01, 1e-3, 1e-4, 1e-5])
    median: list = dataclasses.field(default_factory=lambda: [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0])
    min_length: list = dataclasses.field(default_factory=list)
    max_gap: list = dataclasses.field(default_factory=list)
    t_collar: float = 0.2
    percentage_of_length: float = 0.2

    @classmethod
    def from_dict(cls, d):
        c = dataclass_from_dict(cls, d or {}, "tune")
        if not isinstance(c.rounds, int) or c.rounds < 1:
            raise ConfigError(f"tune.rounds must be a positive integer, got {c.rounds!r}")
        for name in ("threshold", "high", "low", "switch_prob") + SMOOTHING:
            grid = getattr(c, name)
            ok, what = CHECKS[name]
            if not isinstance(grid, list) or not all(ok(v) for v in grid):
                raise ConfigError(f"tune.{name} must be a list of values, each {what}; got {grid!r}")
        return c

    def parameters(self, method):
        """The searched parameters of ``method``, in search order."""
        return [p for p in BINARISATION[method] + SMOOTHING if getattr(self, p)]


class _ClassSearch:
    """Scores candidate values of one class's parameters on the validation clips."""

    def __init__(self, groups, frame_shift, params, column, reference, tagged, durations, tune):
        self.groups, self.frame_shift, self.column = groups, frame_shift, column
        self.params, self.reference, self.tune = params, reference, tune
        self.tagged, self.durations = tagged, durations
        self.cache = {}

    def _binary_key(self, values):
        names = BINARISATION[self.params.method] + (("median",) if self.params.median_on == "posteriors" else ())
        return tuple(values[n] for n in names)

    def counts(self, values):
        params = self.params.take([self.column], **values)
        key = self._binary_key(values)
        clips, onsets, offsets = [], [], []
        for g, (idx, batch) in enumerate(self.groups):
            post = batch[:, :, [self.column]]
            if (g, key) not in self.cache:
                self.cache[(g, key)] = binary_decisions(post, self.frame_shift, params)
            tagged = None if self.tagged is None else self.tagged[idx][:, [self.column]]
            durations = None if self.durations is None else self.durations[idx]
            events = detect(post, self.frame_shift, params, tagged, durations, binary=self.cache[(g, key)])
            clips.append(idx[events.clip])
            onsets.append(events.onset)
            offsets.append(events.offset)
        estimated = tuple(np.concatenate(a) if a else np.zeros(0) for a in (clips, onsets, offsets))
        return class_counts(self.reference, estimated, self.tune.t_collar, self.tune.percentage_of_length)


def _reference_arrays(reference, utts, classes):
    """``{class: (clip index, onset, offset)}`` arrays of the reference events."""
    rows = {c: ([], [], []) for c in classes}
    for n, u in enumerate(utts):
        for onset, offset, label in reference.get(u, []):
            for column, value in zip(rows[label], (n, onset, offset)):
                column.append(value)
    return {c: tuple(np.asarray(a, dtype=np.int64 if i == 0 else np.float64) for i, a in enumerate(v))
            for c, v in rows.items()}


def tune(posteriors, frame_shift, classes, reference, base, tune_config=None, clip_scores=None,
         durations=None):
    """Search the post-processing of ``posteriors`` ({utt: (T, C)}) against ``reference``
    ({utt: [(onset, offset, label)]}; clips without events may be missing); ``base`` is the
    PostprocessConfig to start from. Returns ``(tuned PostprocessConfig, table rows)``."""
    tune_config = tune_config or TuneConfig()
    utts = list(posteriors)
    params = base.resolve(classes)
    tagged = None
    if base.uses_clip_scores():
        if clip_scores is None:
            raise ValueError("postprocess.clip_tags needs the clip-level scores (the decode dir's score file)")
        tagged = clip_tags(np.stack([clip_scores[u] for u in utts]), params)
    dur = None if durations is None else np.array([durations[u] for u in utts], dtype=np.float64)
    groups = [(idx, np.stack([posteriors[utts[i]] for i in idx]))
              for idx in length_groups([len(posteriors[u]) for u in utts], chunk=len(utts) or 1)]
    references = _reference_arrays(reference, utts, classes)
    empty = [c for c in classes if not len(references[c][0])]
    if empty:
        log.warning("classes %s have no reference event in the validation set: their tuning only "
                    "avoids false positives", empty)
    names = tune_config.parameters(base.method)
    rows, chosen = [], {}
    for column, c in enumerate(classes):
        search = _ClassSearch(groups, frame_shift, params, column, references[c], tagged, dur, tune_config)
        current = {n: getattr(params, n)[column].item() for n in BINARISATION[base.method] + SMOOTHING}
        tp, fp, fn = search.counts(current)
        rows.append(_row(0, c, "start", "-", tp, fp, fn, True))
        for round_number in range(1, tune_config.rounds + 1):
            changed = False
            for name in names:
                value = _step(search, current, name, getattr(tune_config, name), round_number, c, rows)
                changed |= value != current[name]
                current[name] = value
            if not changed:
                break
        chosen[c] = current
    config = base.to_dict()
    for name in names:
        config[name] = {c: chosen[c][name] for c in classes}
    return PostprocessConfig.from_dict(config), rows


def _step(search, current, name, grid, round_number, cls, rows):
    candidates = list(grid) + ([current[name]] if current[name] not in grid else [])
    scored = []
    for value in candidates:
        values = {**current, name: value}
        if search.params.method == "hysteresis" and values["low"] > values["high"]:
            continue
        tp, fp, fn = search.counts(values)
        scored.append((value, tp, fp, fn, f1(tp, fp, fn)))
    best = max(s[4] for s in scored)
    tied = [s[0] for s in scored if s[4] == best]
    choice = current[name] if current[name] in tied else tied[0]
    rows += [_row(round_number, cls, name, v, tp, fp, fn, v == choice) for v, tp, fp, fn, _ in scored]
    return choice


def _row(round_number, cls, name, value, tp, fp, fn, chosen):
    return {"round": round_number, "class": cls, "parameter": name, "value": value,
            "tp": int(tp), "fp": int(fp), "fn": int(fn), "f1": f1(tp, fp, fn), "chosen": int(chosen)}
