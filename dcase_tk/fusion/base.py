"""What every fusion method shares: checked options, checked member posteriors and labels, the
refusal to fit on the wrong set, fitted state in plain files, and the two validation metrics.

A fusion method (a ``Fuser``) combines the posteriors of M member systems for the same N clips,
an ``(M, N, C)`` array in classes.txt column order, into one ``(N, C)`` matrix:

- ``fit(member_scores, labels, fit_set)`` learns the method's parameters from labelled clips
  (a no-op for the fixed rules). ``labels`` are ``(N,)`` class indices (single-label), or an
  ``(N, C)`` 0/1 matrix with the ``multi_label`` option. ``fit_set`` names the set the clips come
  from; guard.check_fit_set refuses a test/evaluation set or the members' training set.
- ``apply(member_scores)`` returns the fused ``(N, C)`` scores.
- ``state`` is what ``fit`` learnt: a dict whose keys ``STATE`` lists with their storage kind,
  ``json`` (numbers and lists, in fusion.json), ``array`` (in fusion.npz, loaded without
  pickle) or ``text`` (a text file of its own, e.g. a LightGBM model). store.py writes them.

Options are keyword arguments checked against ``OPTIONS`` (name -> default); an unknown name or
a bad value is a FusionError naming the method, the option and what would work.
"""
import abc
import numbers

import numpy as np

from dcase_tk.decode.combine import EPS
from dcase_tk.errors import UserError
from dcase_tk.fusion.guard import TEST_SETS, TRAIN_SETS, check_fit_set

RANGE_TOLERANCE = 1e-6      # score files hold 6 decimals


class FusionError(UserError, ValueError):
    """A fusion input, option or saved model that cannot work; the message says what to change."""


class Fuser(abc.ABC):
    """A fusion method (see the module doc). Subclasses set ``name``, ``OPTIONS``, ``FITTED``,
    ``MULTI_LABEL`` (whether the ``multi_label`` option may be true), ``STATE`` and define
    ``_apply(scores)`` and, when ``FITTED``, ``_fit(scores, labels) -> state``."""

    name = ""
    OPTIONS = {}            # option name -> default
    FITTED = False          # True: fit learns parameters from labelled clips
    MULTI_LABEL = False     # True: takes multi_label: true (independent per-class scores)
    STATE = {}              # state key -> "json" | "array" | "text"

    def __init__(self, **options):
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            known = ", ".join(f"{k} (default {v!r})" for k, v in self.OPTIONS.items()) or "none"
            raise FusionError(f"fusion method {self.name}: unknown option(s) {unknown}; known: {known}")
        self.options = {**self.OPTIONS, **options}
        if "multi_label" in self.options:
            self.check_bool("multi_label")
            if self.options["multi_label"] and not self.MULTI_LABEL:
                raise FusionError(f"fusion method {self.name} fuses single-label posteriors only; "
                                  "for multi-label scores use mean, gmean, rank, weighted or per_class")
        self.check_options()
        self.state = None

    @property
    def multi_label(self):
        return bool(self.options.get("multi_label", False))

    def check_options(self):
        """Raise FusionError for an option value that cannot work (subclasses check theirs)."""

    # fit and apply

    def fit(self, member_scores, labels, fit_set, test_sets=TEST_SETS, train_sets=TRAIN_SETS):
        """Learn the parameters from the posteriors ``(M, N, C)`` of the clips of ``fit_set`` and
        their ``labels``; refuses a test or training set (guard.check_fit_set). Returns self."""
        if not self.FITTED:
            return self
        check_fit_set(fit_set, test_sets=test_sets, train_sets=train_sets)
        scores = check_scores(member_scores)
        labels = check_labels(labels, scores.shape[1], scores.shape[2], self.multi_label)
        state = self._fit(scores, labels)
        self.state = {"n_members": scores.shape[0], "n_classes": scores.shape[2], **state}
        return self

    def apply(self, member_scores):
        """The fused ``(N, C)`` scores of the members' posteriors ``(M, N, C)``."""
        scores = check_scores(member_scores)
        if self.FITTED:
            if self.state is None:
                raise FusionError(f"fusion method {self.name} applied before fit (or load)")
            expected = (self.state["n_members"], self.state["n_classes"])
            if (scores.shape[0], scores.shape[2]) != expected:
                raise FusionError(f"fusion method {self.name} was fitted on {expected[0]} members x "
                                  f"{expected[1]} classes; got {scores.shape[0]} x {scores.shape[2]}")
        return self._apply(scores)

    # a FITTED subclass defines _fit(scores, labels) -> state; fit() calls it for those only

    @abc.abstractmethod
    def _apply(self, scores):
        """The fused ``(N, C)`` scores of checked ``(M, N, C)`` posteriors."""

    # option checks, each naming the option and a value that works

    def _bad(self, key, what):
        return FusionError(f"fusion method {self.name}: {key} = {self.options[key]!r} must be {what} "
                           f"(default {self.OPTIONS[key]!r})")

    def check_number(self, key, low, strict=True, integer=False, high=None):
        value = self.options[key]
        kind = numbers.Integral if integer else numbers.Real
        ok = (not isinstance(value, bool) and isinstance(value, kind)
              and (value > low if strict else value >= low) and (high is None or value <= high))
        if not ok:
            bound = f"{'>' if strict else '>='} {low}" + (f" and <= {high}" if high is not None else "")
            raise self._bad(key, f"{'an integer' if integer else 'a number'} {bound}")

    def check_bool(self, key):
        if not isinstance(self.options[key], bool):
            raise self._bad(key, "true or false")

    def check_choice(self, key, choices):
        if self.options[key] not in choices:
            raise self._bad(key, "one of " + ", ".join(choices))


def check_scores(member_scores):
    """``member_scores`` as a finite float64 ``(M, N, C)`` array of posteriors in [0, 1]."""
    scores = np.asarray(member_scores, dtype=np.float64)
    if scores.ndim != 3 or 0 in scores.shape:
        raise FusionError(f"member scores must be a non-empty (members, clips, classes) array; got "
                          f"shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise FusionError("member scores contain NaN or infinite values")
    low, high = scores.min(), scores.max()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise FusionError(f"member scores must be posteriors in [0, 1]; got values from {low:g} to "
                          f"{high:g} (logits? fuse the decode dirs' score files, which hold posteriors)")
    return np.clip(scores, 0.0, 1.0)


def check_labels(labels, n_clips, n_classes, multi_label):
    """``(N,)`` int class indices with every class present, or with ``multi_label`` an ``(N, C)``
    0/1 matrix; FusionError saying what is wrong otherwise."""
    labels = np.asarray(labels)
    if multi_label:
        if labels.shape != (n_clips, n_classes) or not np.isin(labels, (0, 1)).all():
            raise FusionError(f"multi-label labels must be a 0/1 matrix of {n_clips} clips x "
                              f"{n_classes} classes; got shape {labels.shape}")
        return labels.astype(np.int64)
    if labels.shape != (n_clips,) or not np.issubdtype(labels.dtype, np.integer):
        raise FusionError(f"labels must be {n_clips} integer class indices, one per clip; got shape "
                          f"{labels.shape}, dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise FusionError(f"labels must be class indices 0 .. {n_classes - 1}; got {labels.min()} .. "
                          f"{labels.max()}")
    return labels.astype(np.int64)


def require_every_class(fuser, labels, n_classes):
    """A learned meta-classifier needs an example of each class (it has no output for the others)."""
    empty = np.flatnonzero(np.bincount(labels, minlength=n_classes) == 0)
    if empty.size:
        raise FusionError(f"fusion method {fuser.name}: classes {empty.tolist()} (classes.txt order, "
                          "from 0) have no clip in the fit set; fit on a set that covers every class")


def log_loss(probs, labels, multi_label=False):
    """Mean cross-entropy of ``(N, C)`` probabilities clipped to [EPS, 1 - EPS]: of the labelled
    class (single-label), or the binary cross-entropy averaged over clips and classes."""
    probs = np.clip(probs, EPS, 1 - EPS)
    if multi_label:
        return float(-np.mean(labels * np.log(probs) + (1 - labels) * np.log(1 - probs)))
    return float(-np.mean(np.log(probs[np.arange(len(labels)), labels])))


def accuracy(probs, labels):
    """Fraction of clips whose most probable class (the first on a tie) is the labelled one."""
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def renormalise(scores):
    """Rows divided by their sum; an all-zero row becomes uniform."""
    sums = scores.sum(axis=1, keepdims=True)
    uniform = np.full_like(scores, 1.0 / scores.shape[1])
    return np.where(sums > 0, scores / np.where(sums > 0, sums, 1.0), uniform)


def log_features(scores, eps):
    """``(N, M * C)`` meta-features: the log of each member's posteriors clipped to [eps, 1],
    member 0's C columns first, then member 1's, and so on."""
    logs = np.log(np.clip(scores, eps, 1.0))
    return prob_features(logs)


def prob_features(scores):
    """``(N, M * C)``: the members' ``(M, N, C)`` columns side by side, in member order."""
    return np.concatenate(list(scores), axis=1)
