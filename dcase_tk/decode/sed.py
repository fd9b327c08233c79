"""Sound event detection post-processing: frame posteriors (frames x classes) -> events.

The ``postprocess:`` section of a YAML config (:class:`PostprocessConfig`) says how. Per clip and
class ``c``, with posteriors ``p[t]`` at frame shift ``h`` seconds:

1. ``median_on: posteriors``: median filter of ``p`` (window below).
2. Binarisation, ``method``:
   - ``threshold``: frame on where ``p[t] >= threshold[c]`` (dcase_util's ``ProbabilityEncoder``
     as the Task 4 baseline uses it, global 0.5).
   - ``hysteresis``: frame on where it lies in a run of ``p >= low[c]`` frames that holds at
     least one ``p >= high[c]`` frame (Kong et al.'s SED2: high 0.8, low 0.2; their code seeds
     with ``p > high``; ``>=`` here so that ``high == low == t`` is the threshold method).
   - ``viterbi``: the most likely path of a two-state (off/on) HMM per class, the posterior
     as the emission (``log p`` on, ``log(1 - p)`` off) and ``switch_prob[c]`` the probability of
     changing state between frames, so that every onset or offset costs
     ``log((1 - s) / s)``; ``s = 0.5`` is thresholding at 0.5 (Lim et al.; dcase_tk/decode/viterbi.py).
3. ``median_on: decisions`` (the default): median filter of the 0/1 decisions. This is what the
   Task 4 baseline does: binarise at 0.5, then dcase_util ``process_activity`` (scipy
   ``medfilt``, ``window_length: 51`` frames at 20 ms) on the decisions; Lim et al. also filter
   after binarising. With ``method: threshold`` (above 0) both placements give the same
   decisions (a median filter commutes with a threshold); they differ for hysteresis and viterbi.
4. Runs of ``on`` frames ``[a, b)`` become events ``[a h, b h)`` (dcase_util
   ``find_contiguous_regions`` and the baseline's frame index x hop), rounded to the millisecond.
5. ``max_gap``: two events of a class whose gap (``gap_frames x h``) is at most ``max_gap`` s
   become one (Cances et al.: 200 ms; Kong et al.: one frame).
6. ``min_length``: events shorter than ``min_length`` s (``frames x h``) are dropped; after the
   gap merging, as Kong et al.'s ``n_smooth`` then ``n_salt``.
7. ``clip_tags`` (per class): ``none``; ``mask``: keep the class's events only in clips tagged
   with it, the tag being the clip posterior ``>= tag_threshold[c]`` (Guo et al.'s correction);
   ``whole_clip``: a tagged clip gets one event of the class over the whole clip and the frame
   decisions are ignored (Kong et al.'s SED1). ``tag_top1: true`` tags a clip's most probable
   class when no class reaches its threshold (Kong et al.'s code).
8. Offsets are cut at the clip's duration when it is known (utt2dur).

The median window of ``median`` seconds is ``n = round(median / h)`` frames, made odd (``n + 1``
when even), so 1 s at 20 ms gives the baseline's 51; 0 (or under 1.5 frames) is no filter. Both
filters pad the clip with zeros (scipy ``medfilt``); on 0/1 decisions the median is "more than
half of the window is on", computed with a running sum.

``threshold``, ``high``, ``low``, ``switch_prob``, ``median``, ``min_length``, ``max_gap``,
``clip_tags`` and ``tag_threshold`` take one value for every class, a list in classes.txt
order, or a mapping ``{class: value}`` with an optional ``default`` for the classes it leaves out.
"""
import dataclasses

import numpy as np

from dcase_tk.decode.sed_config import (CLIP_TAGS, METHODS, PER_CLASS, ClassParams,
                                        PostprocessConfig, per_class)
from dcase_tk.decode.viterbi import viterbi_binarize

__all__ = ["CLIP_TAGS", "METHODS", "PER_CLASS", "ClassParams", "PostprocessConfig", "per_class",
           "Events", "binary_decisions", "clip_tags", "detect", "length_groups", "median_frames",
           "median_filter", "postprocess"]
TOLERANCE = 1e-6           # frames: seconds / frame shift is compared with this slack


@dataclasses.dataclass
class Events:
    """Events of a batch of clips: clip index, class index, onset and offset (seconds)."""
    clip: np.ndarray
    cls: np.ndarray
    onset: np.ndarray
    offset: np.ndarray


def median_frames(seconds, frame_shift):
    """The odd median window, in frames, of ``seconds`` (array) at ``frame_shift``."""
    n = np.rint(np.asarray(seconds, dtype=np.float64) / frame_shift).astype(np.int64)
    return np.maximum(n + (n % 2 == 0), 1)


def median_filter(x, frames):
    """Median over ``frames[s]`` (odd) frames along axis 1 of ``x`` (S, T), zero padded; a bool
    ``x`` is filtered as 0/1 decisions with a running sum."""
    from scipy.ndimage import median_filter as nd_median
    out = x.copy()
    for k in np.unique(frames):
        if k <= 1:
            continue
        rows = np.flatnonzero(frames == k)
        if x.dtype == bool:
            half = k // 2
            padded = np.zeros((len(rows), x.shape[1] + k), dtype=np.int32)
            padded[:, half + 1:half + 1 + x.shape[1]] = x[rows]
            sums = np.cumsum(padded, axis=1)
            out[rows] = (sums[:, k:] - sums[:, :-k]) > half
        else:
            out[rows] = nd_median(x[rows], size=(1, int(k)), mode="constant", cval=0.0)
    return out


def runs(mask):
    """``(row, start, end)`` of every maximal run of True in the rows of ``mask`` (S, T), end
    exclusive, ordered by row then start."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    row, start = np.nonzero(d == 1)
    _, end = np.nonzero(d == -1)
    return row, start, end


def fill(shape, row, start, end):
    """The (S, T) bool mask that is True on the given runs (the inverse of :func:`runs`)."""
    d = np.zeros((shape[0], shape[1] + 1), dtype=np.int32)
    np.add.at(d, (row, start), 1)
    np.add.at(d, (row, end), -1)
    return np.cumsum(d, axis=1)[:, :shape[1]] > 0


def hysteresis(p, high, low):
    """On where a run of ``p >= low`` holds a frame with ``p >= high``; ``high``/``low`` per row."""
    row, start, end = runs(p >= low[:, None])
    seeds = np.zeros((p.shape[0], p.shape[1] + 1), dtype=np.int64)
    seeds[:, 1:] = np.cumsum(p >= high[:, None], axis=1)
    keep = seeds[row, end] > seeds[row, start]
    return fill(p.shape, row[keep], start[keep], end[keep])


def binarize(p, params, cls):
    """0/1 decisions of the rows of ``p`` (S, T); row ``s`` is of class ``cls[s]``."""
    if params.method == "threshold":
        return p >= params.threshold[cls][:, None]
    if params.method == "hysteresis":
        return hysteresis(p, params.high[cls], params.low[cls])
    return viterbi_binarize(p, params.switch_prob[cls])


def clip_tags(clip_scores, params):
    """(N, C) bool: the clips' tags, ``clip_scores >= tag_threshold`` (with ``tag_top1``, the best
    class of a clip that has no tag)."""
    scores = np.asarray(clip_scores, dtype=np.float64)
    tagged = scores >= params.tag_threshold[None, :]
    if params.tag_top1 and scores.size:
        none = ~tagged.any(axis=1)
        tagged[np.flatnonzero(none), scores[none].argmax(axis=1)] = True
    return tagged


def binary_decisions(posteriors, frame_shift, params):
    """Steps 1-2: the (N * C, T) 0/1 decisions of ``posteriors`` (N, T, C), row ``n * C + c``
    for clip ``n`` and class ``c``, before the median filter of the decisions."""
    post = np.asarray(posteriors, dtype=np.float64)
    n_clips, n_frames, n_classes = post.shape
    seq = post.transpose(0, 2, 1).reshape(n_clips * n_classes, n_frames)
    cls = np.tile(np.arange(n_classes), n_clips)
    if params.median_on == "posteriors":
        seq = median_filter(seq, median_frames(params.median, frame_shift)[cls])
    return binarize(seq, params, cls)


def detect(posteriors, frame_shift, params, tagged=None, durations=None, binary=None):
    """Events of clips of one length: ``posteriors`` (N, T, C), ``params`` for the C columns,
    ``tagged`` (N, C) bool clip tags (needed when a class uses ``clip_tags``), ``durations``
    (N,) seconds or None; ``binary``: :func:`binary_decisions` when already computed. See the
    module docstring for the steps."""
    n_clips, n_frames, n_classes = np.shape(posteriors)
    on = binary_decisions(posteriors, frame_shift, params) if binary is None else binary
    cls = np.tile(np.arange(n_classes), n_clips)
    if params.median_on == "decisions":
        on = median_filter(on, median_frames(params.median, frame_shift)[cls])
    row, start, end = runs(on)
    row, start, end = merge_gaps(row, start, end, params.max_gap[cls[row]] / frame_shift + TOLERANCE)
    keep = end - start >= params.min_length[cls[row]] / frame_shift - TOLERANCE
    row, start, end = row[keep], start[keep], end[keep]
    modes = params.clip_tags[cls]
    if (modes != "none").any():
        if tagged is None:
            raise ValueError("clip_tags needs the clips' tags (clip-level scores)")
        tag = np.asarray(tagged, dtype=bool).reshape(-1)
        frames = (modes[row] == "none") | ((modes[row] == "mask") & tag[row])
        whole = np.flatnonzero((modes == "whole_clip") & tag)
        order = np.argsort(np.r_[row[frames], whole], kind="stable")
        row = np.r_[row[frames], whole][order]
        start = np.r_[start[frames], np.zeros(len(whole), dtype=np.int64)][order]
        end = np.r_[end[frames], np.full(len(whole), n_frames, dtype=np.int64)][order]
    onset = np.round(start * frame_shift, 3)
    offset = np.round(end * frame_shift, 3)
    clip = row // n_classes
    if durations is not None:
        offset = np.minimum(offset, np.round(np.asarray(durations, dtype=np.float64)[clip], 3))
    keep = onset < offset
    return Events(clip[keep], cls[row][keep], onset[keep], offset[keep])


def merge_gaps(row, start, end, max_gap_frames):
    """Join consecutive runs of a row whose gap is at most ``max_gap_frames[i]`` (per run)."""
    if len(row) < 2:
        return row, start, end
    join = (row[1:] == row[:-1]) & (start[1:] - end[:-1] <= max_gap_frames[:-1])
    first = np.r_[True, ~join]
    last = np.r_[~join, True]
    return row[first], start[first], end[last]


def length_groups(lengths, chunk=256):
    """Index arrays of clips of equal length, at most ``chunk`` clips each, in a fixed order."""
    lengths = np.asarray(lengths)
    for length in np.unique(lengths):
        idx = np.flatnonzero(lengths == length)
        for first in range(0, len(idx), chunk):
            yield idx[first:first + chunk]


def postprocess(posteriors, frame_shift, config, classes, clip_scores=None, durations=None):
    """``{utt: [(onset, offset, label), ...]}`` for every clip of ``posteriors`` ({utt: (T, C)}
    array), each list sorted by onset, offset, label; ``clip_scores`` ({utt: (C,)}) is needed when
    a class uses ``clip_tags``, ``durations`` ({utt: seconds}) cuts offsets at the clip's end."""
    params = config.resolve(classes)
    utts = list(posteriors)
    tagged = None
    if config.uses_clip_scores():
        if clip_scores is None:
            raise ValueError("postprocess.clip_tags needs the clip-level scores (the decode dir's "
                             "score file)")
        tagged = clip_tags(np.stack([clip_scores[u] for u in utts]), params)
    out = {u: [] for u in utts}
    for idx in length_groups([len(posteriors[u]) for u in utts]):
        batch = np.stack([posteriors[utts[i]] for i in idx])
        dur = None if durations is None else np.array([durations[utts[i]] for i in idx])
        events = detect(batch, frame_shift, params, None if tagged is None else tagged[idx], dur)
        for n, c, onset, offset in zip(events.clip, events.cls, events.onset, events.offset):
            out[utts[idx[n]]].append((float(onset), float(offset), classes[c]))
    for u in utts:
        out[u].sort()
    return out
