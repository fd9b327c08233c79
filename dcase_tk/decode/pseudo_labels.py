"""Pseudo-labels for the next training pass, from the decode dir of the current model.

- Clip (weak) pseudo-labels, :func:`clip_labels`: a clip is labelled with every class whose clip
  posterior is ``>= threshold``; a clip with no such class gets an empty label list (an all-zero
  target). This is the Task 4 baseline's pass 1 -> pass 2 step (threshold 0.5 on the unlabelled
  in-domain clips, part1.md Paper 3) and Koutini et al.'s pseudo weak labels (part4.md P4.3).
  Clips that already have labels may keep them (weak + pseudo-weak training sets).
- Frame (strong) pseudo-labels, :func:`smooth_frame_targets`: each class's frame posteriors
  median-filtered over ``median`` seconds (the odd window of dcase_tk/decode/sed.py
  ``median_frames``, zero padded as scipy ``medfilt``), then optionally Gaussian-smoothed with a
  standard deviation of ``gaussian_sigma`` seconds (scipy ``gaussian_filter1d``, its default
  ``reflect`` edges, truncated at 4 sigma), and, when the clip's weak labels are known, zeroed
  for the classes it is not labelled with (Koutini et al.'s smoothed pseudo-strong labels of
  passes 2..n).

The output of both is a copy of the dump dir the model will be trained on (:func:`read_dump`):
every table, ``classes.txt``, ``frame_shift``, ``cmvn.ark`` and other plain files, with the
pseudo-labels added. Frame targets of an earlier pass (``frame_targets.{ark,scp}``) are not
copied: they were made from another model's posteriors.
"""
import logging
import os

import numpy as np

from dcase_tk.data.datadir import CLASSES, FEATS_SCP, FRAME_TARGETS_SCP, load, problem
from dcase_tk.data.safety import DataDirError
from dcase_tk.decode.sed import median_filter, median_frames
from dcase_tk.io.table import TableError, sort_key

log = logging.getLogger("dcase_tk.pseudo_labels")

LABELS = "utt2labels"
# the ark of frame targets, under the dump dir copy; its scp (a per-utterance table of the data
# dir, FRAME_TARGETS_SCP) is what the trainer reads
FRAME_TARGETS_ARK = os.path.join("data", "frame_targets.ark")


def read_dump(feat_dir, out_dir):
    """The dump dir ``feat_dir`` (a :class:`DataDir` with feats.scp and classes.txt), to be
    copied to ``out_dir`` with pseudo-labels; without earlier frame targets."""
    if os.path.abspath(out_dir) == os.path.abspath(feat_dir):
        raise DataDirError(f"{out_dir}: the output dir is the dump dir it copies; write the "
                           "pseudo-labelled copy to a new dir")
    data = load(feat_dir)
    for name, present in ((FEATS_SCP, FEATS_SCP in data.tables), (CLASSES, data.classes is not None)):
        if not present:
            raise DataDirError(problem(feat_dir, name, None, "missing; pseudo-labels are made for a "
                                                             "dump dir (features and classes)"))
    if data.tables.pop(FRAME_TARGETS_SCP, None) is not None:
        log.info("%s: %s not copied (frame targets of an earlier pass)", feat_dir, FRAME_TARGETS_SCP)
    return data


def dump_utts(data):
    """The clips of a dump dir: its feats.scp keys, byte-order sorted."""
    return sorted(data.tables[FEATS_SCP], key=sort_key)


def check_decode_matches(decode_dir, decode_classes, decode_utts, feat_dir, data):
    """The decode dir scores exactly the clips of the dump dir's feats.scp, with its classes."""
    if decode_classes != data.classes:
        raise TableError(f"{decode_dir}/classes.txt and {feat_dir}/classes.txt differ "
                         f"({decode_classes} vs {data.classes}); decode with a model of this dump "
                         "dir's classes")
    check_same_clips(decode_dir, decode_utts, feat_dir, data.tables[FEATS_SCP])


def check_same_clips(decode_dir, decode_utts, feat_dir, feat_utts):
    """``decode_utts`` (of ``decode_dir``) are exactly ``feat_utts`` (of ``feat_dir``/feats.scp)."""
    wanted, decoded = set(feat_utts), set(decode_utts)
    missing = sorted((u for u in wanted if u not in decoded), key=sort_key)
    extra = sorted((u for u in decoded if u not in wanted), key=sort_key)
    if missing or extra:
        raise TableError(f"{decode_dir} and {feat_dir}/feats.scp list different clips ({len(missing)} "
                         f"not decoded, e.g. {missing[:3]}; {len(extra)} not in the dump dir, e.g. "
                         f"{extra[:3]}); decode exactly the clips of {feat_dir} "
                         "(dcase_tk.bin.infer_nnet)")


def clip_labels(utts, scores, classes, threshold, given=None):
    """``{utt: [labels in classes order]}``: the classes of ``scores`` (N, C) ``>= threshold``;
    a clip of ``given`` ({utt: "l1 l2 ..."}, e.g. the dump dir's utt2labels) keeps its labels."""
    given = given or {}
    tagged = np.asarray(scores) >= threshold
    return {u: given[u].split() if u in given else [c for c, on in zip(classes, row) if on]
            for u, row in zip(utts, tagged)}


def label_counts(labels, classes):
    """``{class: number of clips labelled with it}`` of ``{utt: [labels]}``."""
    counts = dict.fromkeys(classes, 0)
    for values in labels.values():
        for label in values:
            counts[label] += 1
    return counts


def check_frame_counts(posteriors, num_frames, decode_dir, feat_dir):
    """Each clip's posteriors have the frames of its features (``num_frames``: utt2num_frames)."""
    for utt, matrix in posteriors.items():
        if utt not in num_frames:
            raise TableError(f"{feat_dir}/utt2num_frames has no line for '{utt}'; re-run the feature "
                             "stage (steps/make_feats.sh)")
        if matrix.shape[0] != int(num_frames[utt]):
            raise TableError(f"{decode_dir}/posteriors.scp: '{utt}' has {matrix.shape[0]} frames, "
                             f"{feat_dir}/utt2num_frames says {num_frames[utt]}; decode this dump dir "
                             "with decode.frame_posteriors true (posteriors at the feature frame rate)")


def smooth_frame_targets(posteriors, frame_shift, median=0.0, gaussian_sigma=0.0, allowed=None):
    """The (T, C) float32 frame targets of a clip's posteriors (T, C) in [0, 1] at
    ``frame_shift`` seconds: median filter over ``median`` s, Gaussian of ``gaussian_sigma`` s,
    then the classes not in ``allowed`` ((C,) bool, or None: all) set to 0."""
    p = np.asarray(posteriors, dtype=np.float64)
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(f"posteriors outside [0, 1] (min {p.min():g}, max {p.max():g})")
    frames = median_frames(np.full(p.shape[1], median), frame_shift)
    smoothed = median_filter(p.T, frames).T
    if gaussian_sigma > 0:
        from scipy.ndimage import gaussian_filter1d
        smoothed = gaussian_filter1d(smoothed, gaussian_sigma / frame_shift, axis=0)
    if allowed is not None:
        smoothed = smoothed * np.asarray(allowed, dtype=bool)[None, :]
    return np.clip(smoothed, 0.0, 1.0).astype(np.float32)


def allowed_classes(labels, classes, path):
    """``{utt: (C,) bool}`` of the classes each clip of ``labels`` ({utt: "l1 l2"}, read from
    ``path``) is labelled with."""
    index = {c: i for i, c in enumerate(classes)}
    out = {}
    for utt, value in labels.items():
        row = np.zeros(len(classes), dtype=bool)
        for label in value.split():
            if label not in index:
                raise TableError(f"{path}: '{utt}' has label '{label}', which is not in "
                                 f"classes.txt ({', '.join(classes)})")
            row[index[label]] = True
        out[utt] = row
    return out
