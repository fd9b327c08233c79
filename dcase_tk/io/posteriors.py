"""Frame-level posteriors of a decode dir, as ``dcase_tk.bin.infer_nnet`` writes them with
``decode.frame_posteriors: true``: ``posteriors.scp``/``posteriors.ark`` (one float32 matrix of
frames x classes per clip, kaldiio), ``frame_shift`` (seconds, one number) and ``classes.txt``
(the column order); the clip-level ``score`` file next to them when present."""
import math
import os

import kaldiio
import numpy as np

from dcase_tk.io.scores import read_decode_dir
from dcase_tk.io.table import TableError, read_list, read_table

INFERENCE = "stage 7 (inference: dcase_tk.bin.infer_nnet with decode.frame_posteriors: true)"


def _required(decode_dir, name):
    path = os.path.join(decode_dir, name)
    if not os.path.isfile(path):
        raise TableError(f"{path} does not exist; frame posteriors come from {INFERENCE}")
    return path


def read_frame_shift(decode_dir):
    path = _required(decode_dir, "frame_shift")
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    try:
        shift = float(text)
    except ValueError:
        shift = math.nan
    if not math.isfinite(shift) or shift <= 0:
        raise TableError(f"{path}: '{text}' is not a positive number of seconds (the hop of the "
                         "features, e.g. 0.02)")
    return shift


def read_frame_posteriors(decode_dir):
    """``(classes, frame_shift, {utt: (frames, C) float64 array})``; TableError naming the file
    for a missing file, a matrix with the wrong number of columns, or a non-finite value."""
    classes = read_list(_required(decode_dir, "classes.txt"))
    shift = read_frame_shift(decode_dir)
    scp = _required(decode_dir, "posteriors.scp")
    posteriors = {}
    for utt, location in read_table(scp).items():
        matrix = np.asarray(kaldiio.load_mat(location), dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(classes):
            raise TableError(f"{scp}: the posteriors of '{utt}' have shape {matrix.shape}, expected "
                             f"(frames, {len(classes)}): one column per line of classes.txt")
        if not np.isfinite(matrix).all():
            raise TableError(f"{scp}: the posteriors of '{utt}' contain NaN or inf; re-run inference "
                             "(the model diverged or the ark is corrupt)")
        posteriors[utt] = matrix
    return classes, shift, posteriors


def read_clip_scores(decode_dir, classes):
    """``{utt: (C,) scores}`` of ``<decode_dir>/score``, or None without one."""
    if not os.path.isfile(os.path.join(decode_dir, "score")):
        return None
    score_classes, utts, scores = read_decode_dir(decode_dir)
    if score_classes != list(classes):
        raise TableError(f"{decode_dir}/classes.txt does not match the classes {list(classes)}")
    return dict(zip(utts, scores))
