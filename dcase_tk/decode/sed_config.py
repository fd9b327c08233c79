"""The ``postprocess:`` section of a config: :class:`PostprocessConfig`, checked on reading, and
its per-class values resolved against classes.txt (:class:`ClassParams`). What each option does is
in dcase_tk/decode/sed.py. For example (the Task 4 baseline, then a per-class variant)::

    postprocess: {method: threshold, threshold: 0.5, median: 1.0}

    postprocess:
      method: hysteresis                  # threshold | hysteresis | viterbi
      high: 0.8
      low: {Speech: 0.3, default: 0.2}    # per class, the others take the default
      median: [0.5, 1, 0.3, 0.3, 0.3, 2, 2, 1, 0.3, 2]   # seconds, in classes.txt order
      clip_tags: {Frying: whole_clip, Vacuum_cleaner: whole_clip, default: mask}
"""
import dataclasses
from typing import Any

import numpy as np

from dcase_tk.config import ConfigError, dataclass_from_dict

METHODS = ("threshold", "hysteresis", "viterbi")
MEDIAN_ON = ("decisions", "posteriors")
CLIP_TAGS = ("none", "mask", "whole_clip")
PER_CLASS = ("threshold", "high", "low", "switch_prob", "median", "min_length", "max_gap",
             "clip_tags", "tag_threshold")


def _probability(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1


def _seconds(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


CHECKS = {"threshold": (_probability, "a probability in [0, 1]"),
          "high": (_probability, "a probability in [0, 1]"),
          "low": (_probability, "a probability in [0, 1]"),
          "switch_prob": (lambda v: _probability(v) and 0 < v < 1, "a probability in (0, 1)"),
          "median": (_seconds, "seconds >= 0"),
          "min_length": (_seconds, "seconds >= 0"),
          "max_gap": (_seconds, "seconds >= 0"),
          "clip_tags": (lambda v: v in CLIP_TAGS, f"one of {CLIP_TAGS}"),
          "tag_threshold": (_probability, "a probability in [0, 1]")}


@dataclasses.dataclass
class PostprocessConfig:
    method: str = "threshold"
    threshold: Any = 0.5
    high: Any = 0.8
    low: Any = 0.2
    switch_prob: Any = 0.01
    median: Any = 0.0
    median_on: str = "decisions"
    min_length: Any = 0.0
    max_gap: Any = 0.0
    clip_tags: Any = "none"
    tag_threshold: Any = 0.5
    tag_top1: bool = False

    @classmethod
    def from_dict(cls, d):
        """The ``postprocess:`` section; ConfigError naming the key on any bad value."""
        c = dataclass_from_dict(cls, d or {}, "postprocess")
        if c.method not in METHODS:
            raise ConfigError(f"postprocess.method must be one of {METHODS}, got '{c.method}'")
        if c.median_on not in MEDIAN_ON:
            raise ConfigError(f"postprocess.median_on must be one of {MEDIAN_ON}, got '{c.median_on}'")
        if not isinstance(c.tag_top1, bool):
            raise ConfigError(f"postprocess.tag_top1 must be true or false, got {c.tag_top1!r}")
        for name in PER_CLASS:
            _check_values(name, getattr(c, name))
        return c

    def to_dict(self):
        return dataclasses.asdict(self)

    def uses_clip_scores(self):
        values = self.clip_tags
        values = values.values() if isinstance(values, dict) else values if isinstance(values, list) else [values]
        return any(v != "none" for v in values)

    def resolve(self, classes):
        """The per-class values as arrays in ``classes`` order (:class:`ClassParams`)."""
        values = {name: per_class(getattr(self, name), classes, name) for name in PER_CLASS}
        bad = [c for c, hi, lo in zip(classes, values["high"], values["low"]) if lo > hi]
        if self.method == "hysteresis" and bad:
            raise ConfigError(f"postprocess: low > high for classes {bad}; the low threshold of "
                              "hysteresis must not exceed the high one")
        arrays = {k: np.array(v, dtype=object if k == "clip_tags" else np.float64) for k, v in values.items()}
        return ClassParams(self.method, self.median_on, self.tag_top1, **arrays)


def _check_values(name, value):
    ok, what = CHECKS[name]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else [(None, value)]
    for key, v in items:
        if not ok(v):
            where = f"postprocess.{name}" + (f" [{key}]" if key is not None else "")
            raise ConfigError(f"{where} must be {what}, got {v!r}")


def per_class(value, classes, name="value"):
    """``value`` (one value, a list in ``classes`` order, or ``{class: value, default: value}``)
    as a list with one value per class; ConfigError on a wrong length or an unknown class."""
    if isinstance(value, list):
        if len(value) != len(classes):
            raise ConfigError(f"postprocess.{name} lists {len(value)} values but there are "
                              f"{len(classes)} classes ({', '.join(classes)}); give one per class")
        return list(value)
    if not isinstance(value, dict):
        return [value] * len(classes)
    unknown = sorted(set(value) - set(classes) - {"default"})
    if unknown:
        raise ConfigError(f"postprocess.{name}: unknown classes {unknown}; known: {list(classes)} "
                          "(and 'default')")
    missing = [c for c in classes if c not in value]
    if missing and "default" not in value:
        raise ConfigError(f"postprocess.{name}: no value for classes {missing}; add them or a "
                          "'default'")
    return [value.get(c, value.get("default")) for c in classes]


@dataclasses.dataclass
class ClassParams:
    """Resolved post-processing: the global options and one array entry per class."""
    method: str
    median_on: str
    tag_top1: bool
    threshold: np.ndarray
    high: np.ndarray
    low: np.ndarray
    switch_prob: np.ndarray
    median: np.ndarray
    min_length: np.ndarray
    max_gap: np.ndarray
    clip_tags: np.ndarray
    tag_threshold: np.ndarray

    def take(self, columns, **changes):
        """The parameters of ``columns`` only (e.g. ``[c]``), with ``changes`` (name: value) set."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out = {k: (v[columns].copy() if isinstance(v, np.ndarray) else v) for k, v in fields.items()}
        for k, v in changes.items():
            out[k][:] = v
        return ClassParams(**out)


def config_section(resolved, name, source):
    """The ``name:`` mapping of a resolved config (empty when absent)."""
    value = resolved.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: '{name}:' must be a mapping of option: value, got {value!r}")
    return value


def foreign_overrides(overrides, sections):
    """The ``--name`` of ``['--a.b', 'v', ...]`` overrides that set no key of ``sections``."""
    return [name for name in overrides[::2]
            if "." not in name or name[2:].replace("-", "_").split(".")[0] not in sections]
