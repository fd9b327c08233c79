"""Per-class model selection, Koutini et al.'s "Merge" (part4.md P4.3): for each class, take the
predictions of the model that detects that class best.

Each candidate model ``k`` comes as a pair of dirs: a scored dir (dcase_tk.bin.score_sed's
``result.json``, on a set with strong labels) that says how well it detects each class, and a
decode dir (dcase_tk.bin.infer_nnet with ``decode.frame_posteriors: true``) of the set to merge.
Class ``c`` goes to the model with the highest event-based F1 of ``c``
(``event_based.per_class.<c>.f1``); an undefined F1 (null: no reference event of ``c`` in the
scored set) ranks below every defined one, and ties go to the model listed first. The merged
decode dir has, for each class, the chosen model's column of the frame posteriors and of the clip
scores; it is read like any decode dir (post-processing, pseudo-labels of the next pass).
"""
import json
import math
import os

import kaldiio
import numpy as np

from dcase_tk.io.ark import ark_scp_writer
from dcase_tk.io.atomic import write_text
from dcase_tk.io.posteriors import read_frame_shift
from dcase_tk.io.scores import read_aligned_decode_dirs, write_decode_dir
from dcase_tk.io.table import TableError, read_table

SCORE_SED = "dcase_tk.bin.score_sed"


def read_class_f1(select_dirs):
    """``(classes, (K, C) event-based F1)`` of the scored dirs' result.json, NaN where undefined."""
    classes, rows = None, []
    for d in select_dirs:
        path = os.path.join(d, "result.json")
        if not os.path.isfile(path):
            raise TableError(f"{path} does not exist; score the model's post-processed events first "
                             f"({SCORE_SED})")
        with open(path, encoding="utf-8") as f:
            try:
                result = json.load(f)
                these = list(result["classes"])
                per_class = result["event_based"]["per_class"]
                row = [per_class[c]["f1"] for c in these]
            except (ValueError, KeyError, TypeError) as e:
                raise TableError(f"{path}: not a {SCORE_SED} result.json (no event-based per-class "
                                 f"F1: {e!r}); re-score the dir") from None
        if classes is None:
            classes = these
        elif these != classes:
            raise TableError(f"{path} scores the classes {these}, {select_dirs[0]}/result.json "
                             f"{classes}; select among models of the same classes")
        rows.append([math.nan if v is None else float(v) for v in row])
    return classes, np.array(rows, dtype=np.float64)


def choose(f1):
    """``(C,)`` index of the chosen model of each class from ``f1`` (K, C) (see the module docstring)."""
    return np.where(np.isnan(f1), -np.inf, f1).argmax(axis=0)


def selection_tsv(classes, f1, chosen, select_dirs, apply_dirs):
    """``selection.tsv``: per class the chosen model (1-based), its dirs and F1, then every
    candidate's F1 in a column named by its scored dir (empty cells for undefined F1)."""
    def cell(v):
        return "" if math.isnan(v) else f"{v:.6f}"
    lines = ["\t".join(["class", "model", "select_dir", "apply_dir", "f1", *select_dirs])]
    for c, cls in enumerate(classes):
        k = chosen[c]
        lines.append("\t".join([cls, str(k + 1), select_dirs[k], apply_dirs[k], cell(f1[k, c]),
                                *(cell(v) for v in f1[:, c])]))
    return "\n".join(lines) + "\n"


def _posterior_tables(apply_dirs, utts):
    """``{utt: location}`` of each decode dir's posteriors.scp, checked to hold exactly ``utts``."""
    tables = []
    for d in apply_dirs:
        path = os.path.join(d, "posteriors.scp")
        if not os.path.isfile(path):
            raise TableError(f"{path} does not exist; decode with decode.frame_posteriors true "
                             "(dcase_tk.bin.infer_nnet)")
        table = read_table(path)
        missing = [u for u in utts if u not in table]
        extra = sorted(set(table) - set(utts))
        if missing or extra:
            raise TableError(f"{path} and {d}/score list different clips ({len(missing)} without "
                             f"posteriors, e.g. {missing[:3]}; {len(extra)} without scores, e.g. "
                             f"{extra[:3]}); re-run inference")
        tables.append(table)
    return tables


def merge_decode_dirs(apply_dirs, chosen, classes, out_dir, progress=lambda x: x):
    """Write the merged decode dir ``out_dir`` (posteriors.{ark,scp}, score, decision,
    classes.txt, frame_shift): class ``c`` from ``apply_dirs[chosen[c]]``. The decode dirs must
    score ``classes`` on the same clips at one frame shift, and the chosen models' posteriors of
    a clip must have the same frames; the clips are read one at a time."""
    score_classes, utts, scores = read_aligned_decode_dirs(apply_dirs)
    if score_classes != list(classes):
        raise TableError(f"{apply_dirs[0]}/classes.txt lists {score_classes}, the scored dirs "
                         f"{list(classes)}; select and apply with the same models")
    shifts = [read_frame_shift(d) for d in apply_dirs]
    for d, shift in zip(apply_dirs[1:], shifts[1:]):
        if abs(shift - shifts[0]) > 1e-9:
            raise TableError(f"{d}/frame_shift is {shift} s, {apply_dirs[0]}/frame_shift {shifts[0]} s; "
                             "merge decode dirs of the same features")
    tables = _posterior_tables(apply_dirs, utts)
    columns = np.arange(len(classes))
    used = sorted(set(chosen.tolist()))
    os.makedirs(out_dir, exist_ok=True)
    with ark_scp_writer(os.path.join(out_dir, "posteriors.ark")) as write:
        for utt in progress(utts):
            mats = {k: _load_posteriors(apply_dirs[k], tables[k][utt], utt, len(classes)) for k in used}
            lengths = {apply_dirs[k]: len(m) for k, m in mats.items()}
            if len(set(lengths.values())) > 1:
                raise TableError(f"the posteriors of '{utt}' have different numbers of frames in the "
                                 f"merged decode dirs ({lengths}); decode the same features")
            merged = np.empty_like(mats[used[0]])
            for k in used:
                merged[:, chosen == k] = mats[k][:, chosen == k]
            write(utt, merged)
    write_decode_dir(out_dir, utts, scores[chosen, :, columns].T, classes)
    write_text(os.path.join(out_dir, "frame_shift"), f"{shifts[0]}\n")


def _load_posteriors(decode_dir, location, utt, n_classes):
    matrix = np.asarray(kaldiio.load_mat(location), dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != n_classes:
        raise TableError(f"{decode_dir}/posteriors.scp: the posteriors of '{utt}' have shape "
                         f"{matrix.shape}, expected (frames, {n_classes})")
    return matrix
