"""Self-adaptive label refinement (SALR, Harb & Pernkopf, part2.md Paper 5): a choice of each
class's post-processing that needs no labels, only the trained model and the clips to adapt to.

For each class ``c`` and each candidate ``(threshold, median)`` of the ``salr:`` section
(:class:`SalrConfig`; thresholds outer, medians inner):

1. The clips tagged with ``c``: clip posterior ``>= tag_threshold[c]`` of the ``postprocess:``
   section (0.5 by default; ``tag_top1`` as there), dcase_tk/decode/sed.py ``clip_tags``.
2. Their frame posteriors of ``c`` become events with the ``postprocess:`` section, its
   ``threshold`` and ``median`` of ``c`` replaced by the candidate's (dcase_tk/decode/sed.py
   ``detect``: binarisation, median filter, gap merging, minimum length, clip tags); the method
   must be ``threshold``. An event ``[onset, offset)`` covers frames ``[onset / h, offset / h)``.
3. Each event's frames, cut out of the clip's (normalised) feature matrix, are a sample with
   target 1; the frames of the clip outside every event of ``c``, joined, are one sample with
   target 0 (none when the events cover the clip). A sample shorter than ``min_frames`` frames is
   repeat-padded to ``min_frames``.
4. The model scores every sample whole (one forward per sample, samples of one length batched,
   at most ``batch_size`` at a time); the candidate's loss is the mean binary cross-entropy of the
   clip output of ``c`` (clamped to ``[1e-7, 1 - 1e-7]``) against the targets, over all samples.

Each class gets the candidate with the lowest loss (ties: the first). A class that tags no clip
has no sample: it keeps the ``postprocess:`` section's threshold and median (a warning says so).
A sample is a set of frames of one clip and its output does not depend on the class or candidate
that cut it, so each distinct sample of a clip is scored once.
"""
import dataclasses
import logging
import math

import numpy as np
import torch

from dcase_tk.config import ConfigError, dataclass_from_dict
from dcase_tk.decode.combine import EPS
from dcase_tk.decode.infer import activate
from dcase_tk.decode.sed import PostprocessConfig, clip_tags, detect, length_groups
from dcase_tk.decode.sed_config import CHECKS
from dcase_tk.decode.sed_tune import GRID, TuneConfig
from dcase_tk.io.table import TableError
from dcase_tk.train.augment import fixed_crop

log = logging.getLogger("dcase_tk.salr")

TABLE_COLUMNS = ("class", "threshold", "median", "samples", "loss", "chosen")


@dataclasses.dataclass
class SalrConfig:
    thresholds: list = dataclasses.field(default_factory=lambda: list(GRID))
    medians: list = dataclasses.field(default_factory=lambda: list(TuneConfig().median))   # seconds
    min_frames: int = 5          # shorter samples are repeat-padded to this many frames
    batch_size: int = 64         # samples per forward

    @classmethod
    def from_dict(cls, d):
        c = dataclass_from_dict(cls, d or {}, "salr")
        for name, check in (("thresholds", "threshold"), ("medians", "median")):
            grid = getattr(c, name)
            ok, what = CHECKS[check]
            if not isinstance(grid, list) or not grid or not all(ok(v) for v in grid):
                raise ConfigError(f"salr.{name} must be a non-empty list of values, each {what}; "
                                  f"got {grid!r}")
        for name in ("min_frames", "batch_size"):
            value = getattr(c, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"salr.{name} must be a positive integer, got {value!r}")
        return c

    def candidates(self):
        """``[(threshold, median), ...]``, thresholds outer, medians inner."""
        return [(t, m) for t in self.thresholds for m in self.medians]


def model_forward(model, kind, device):
    """``forward(x)``: the (B, C) float64 clip probabilities of ``model`` for (B, frames, dim) ``x``
    (per-class sigmoids of logits, or the model's own probabilities)."""
    model.eval()

    def forward(x):
        with torch.no_grad():
            out = activate(model(torch.as_tensor(x).to(device)), kind, True)
        return out.float().cpu().numpy().astype(np.float64)
    return forward


def candidate_events(posteriors, frame_shift, params, tagged, candidates):
    """``runs[k][(n, c)]``: the events ``((start, end), ...)`` in frames of class ``c`` in clip
    ``n`` under candidate ``k``, for the tagged (clip, class) pairs (``tagged`` (N, C) bool);
    ``posteriors``: the clips' (T_n, C) arrays, ``params``: the resolved base section."""
    lengths = [len(p) for p in posteriors]
    runs = []
    for threshold, median in candidates:
        found = {(int(n), int(c)): [] for n, c in zip(*np.nonzero(tagged))}
        candidate = params.take(slice(None), threshold=threshold, median=median)
        for idx in length_groups(lengths):
            batch = np.stack([posteriors[i] for i in idx])
            events = detect(batch, frame_shift, candidate, tagged[idx])
            start = np.rint(events.onset / frame_shift).astype(np.int64)
            end = np.rint(events.offset / frame_shift).astype(np.int64)
            for n, c, s, e in zip(idx[events.clip], events.cls, start, end):
                if tagged[n, c]:
                    found[(int(n), int(c))].append((int(s), int(e)))
        runs.append({key: tuple(v) for key, v in found.items()})
    return runs


def _samples(runs, n, classes_of_clip, n_frames):
    """``{sample key: frame indices}`` of every distinct sample of clip ``n``: ``("on", s, e)``
    for an event, ``("off", events)`` for the frames outside ``events``."""
    samples = {}
    for by_pair in runs:
        for c in classes_of_clip:
            events = by_pair[(n, c)]
            for s, e in events:
                samples.setdefault(("on", s, e), np.arange(s, e))
            off = np.ones(n_frames, dtype=bool)
            for s, e in events:
                off[s:e] = False
            if off.any():
                samples.setdefault(("off", events), np.flatnonzero(off))
    return samples


def _score_samples(matrix, samples, forward, config):
    """``{key: (C,) clip probabilities}`` of the samples (frame indices) of one clip's ``matrix``."""
    inputs = {key: fixed_crop(matrix[frames], max(config.min_frames, len(frames)))
              for key, frames in samples.items()}
    keys = list(inputs)
    outputs = {}
    for idx in length_groups([len(inputs[k]) for k in keys], chunk=config.batch_size):
        probs = forward(np.stack([inputs[keys[i]] for i in idx]))
        outputs.update((keys[i], p) for i, p in zip(idx, probs))
    return outputs


def bce(p, target):
    """Binary cross-entropy of probability ``p`` (clamped to [EPS, 1 - EPS]) against 0 or 1."""
    p = min(max(float(p), EPS), 1 - EPS)
    return -math.log(p) if target else -math.log(1 - p)


def salr(utts, posteriors, clip_scores, frame_shift, classes, base, config, matrix, forward,
         progress=lambda x: x):
    """Choose each class's threshold and median (see the module docstring).

    ``utts``: the clips; ``posteriors`` and ``clip_scores``: ``{utt: (T, C)}`` and ``{utt: (C,)}``;
    ``base``: the PostprocessConfig; ``matrix(n)``: the normalised (T, dim) features of clip
    ``utts[n]``; ``forward``: :func:`model_forward`. Returns ``(tuned PostprocessConfig, rows)``,
    one row per class and candidate (the columns of TABLE_COLUMNS).
    """
    if base.method != "threshold":
        raise ConfigError(f"postprocess.method must be threshold for SALR (it searches thresholds "
                          f"and medians), got '{base.method}'")
    params = base.resolve(classes)
    tagged = clip_tags(np.stack([clip_scores[u] for u in utts]), params) if utts else \
        np.zeros((0, len(classes)), dtype=bool)
    candidates = config.candidates()
    post = [posteriors[u] for u in utts]
    runs = candidate_events(post, frame_shift, params, tagged, candidates)
    loss = np.zeros((len(classes), len(candidates)))
    count = np.zeros((len(classes), len(candidates)), dtype=np.int64)
    for n in progress(np.flatnonzero(tagged.any(axis=1))):
        features = matrix(n)
        if len(features) != len(post[n]):
            raise TableError(f"clip '{utts[n]}' has {len(features)} feature frames but "
                             f"{len(post[n])} frames of posteriors")
        tags = np.flatnonzero(tagged[n]).tolist()
        outputs = _score_samples(features, _samples(runs, n, tags, len(features)), forward, config)
        for k, by_pair in enumerate(runs):
            for c in tags:
                events = by_pair[(n, c)]
                for s, e in events:
                    loss[c, k] += bce(outputs[("on", s, e)][c], 1)
                if ("off", events) in outputs:
                    loss[c, k] += bce(outputs[("off", events)][c], 0)
                count[c, k] += len(events) + (("off", events) in outputs)
    mean = np.divide(loss, count, out=np.full_like(loss, np.nan), where=count > 0)
    return _tuned(base, params, classes, candidates, mean, count)


def _tuned(base, params, classes, candidates, mean, count):
    rows, thresholds, medians = [], params.threshold.tolist(), params.median.tolist()
    idle = [c for i, c in enumerate(classes) if not count[i].any()]
    if idle:
        log.warning("classes %s tag no clip: they keep the postprocess section's threshold and median",
                    idle)
    for i, c in enumerate(classes):
        best = int(np.argmin(np.where(count[i] > 0, mean[i], np.inf))) if count[i].any() else -1
        if best >= 0:
            thresholds[i], medians[i] = candidates[best]
        rows += [{"class": c, "threshold": t, "median": m, "samples": int(count[i, k]),
                  "loss": float(mean[i, k]), "chosen": int(k == best)}
                 for k, (t, m) in enumerate(candidates)]
    tuned = base.to_dict()
    tuned.update(threshold=thresholds, median=medians)
    return PostprocessConfig.from_dict(tuned), rows
