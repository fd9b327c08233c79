"""Score Task 3 bird detection scores against a data dir (ROC AUC overall, per dataset and their
harmonic mean); write the challenge submission.

  python -m dcase_tk.bin.score_detection data/3/fold1_test exp/3/cnn/fold1_test

Reads ``<decode_dir>/score`` (``<utt> <p_1> ... <p_C>``) and ``<decode_dir>/classes.txt``: the
detection score of a clip is its column of the ``--positive`` class. Reads ``<data_dir>/utt2label``
(labels are classes of classes.txt: the positive one and one other) and, when present,
``<data_dir>/utt2dataset`` (per-dataset AUCs) and ``<data_dir>/utt2itemid``. Writes in the decode
dir ``result.json`` (every metric, per dataset), ``result.txt`` (the table), ``roc.png`` (the ROC
curve of all clips and of each dataset) and ``submission.csv``. A data dir without utt2label (the
evaluation set) gets the submission only. The metrics are defined in
``dcase_tk.scoring.detection``.

``submission.csv`` is the challenge format ``<itemid>,<probability>``: one line per scored clip,
comma-separated, sorted by the key, and no header line (the Bird Audio Detection task
specification lists ``filename,decision`` rows only). The key is ``--submission_key`` formatted
with ``{utt}`` and, when the data dir has utt2itemid, ``{itemid}``; ``auto`` is ``{itemid}``
then (Task 3 utterance ids are ``<datasetid>_<itemid>``; the challenge knows the item id),
``{utt}`` otherwise. The probability is written as read, not rounded; a score outside [0, 1]
(e.g. a logit) is warned about, since the challenge expects probabilities.
"""
import json
import logging
import os

import numpy as np

from dcase_tk import cli
from dcase_tk.io.atomic import write_text
from dcase_tk.io.scores import read_decode_dir
from dcase_tk.io.table import read_table
from dcase_tk.plots import plot_roc
from dcase_tk.scoring.coverage import check_coverage, check_labels
from dcase_tk.scoring.detection import (detection_result_txt, evaluate_detection, roc_curves,
                                        submission_lines)

log = logging.getLogger("dcase_tk.score_detection")


def detection_scores(decode_dir, classes, scores, positive):
    """The column of ``positive`` in the (N, C) ``scores``."""
    if positive not in classes:
        raise cli.ToolError(f"{decode_dir}/classes.txt has no class '{positive}' (it has "
                            f"{', '.join(classes)}); pass --positive with the class whose posterior "
                            "is the detection score")
    column = scores[:, classes.index(positive)]
    nan = np.flatnonzero(np.isnan(column))
    if len(nan):
        raise cli.ToolError(f"{decode_dir}/score: {len(nan)} NaN scores of '{positive}'; re-run "
                            "inference (the model diverged or the score file is corrupt)")
    outside = np.flatnonzero((column < 0) | (column > 1))
    if len(outside):
        log.warning("%s/score: %d scores of '%s' lie outside [0, 1] (from %g to %g); the challenge "
                    "expects probabilities", decode_dir, len(outside), positive, column.min(), column.max())
    return column


def read_itemids(data_dir, utts, decode_dir):
    """utt -> itemid from ``<data_dir>/utt2itemid`` (None without one); every scored utterance
    has one and every listed one is scored, so that the submission covers the data dir."""
    path = os.path.join(data_dir, "utt2itemid")
    if not os.path.isfile(path):
        return None

    def non_empty(number, utt, itemid):
        if not itemid:
            raise cli.ToolError(f"{path}:{number}: '{utt}' has no item id; write '<utt> <itemid>'")
    return check_coverage(path, utts, decode_dir, "clips of the data dir (the submission would miss them)",
                          non_empty)


def submission_keys(utts, key_format, utt2itemid):
    if key_format == "auto":
        key_format = "{utt}" if utt2itemid is None else "{itemid}"
    fields = [{"utt": u} if utt2itemid is None else {"utt": u, "itemid": utt2itemid[u]} for u in utts]
    try:
        return [key_format.format(**f) for f in fields]
    except (KeyError, IndexError, ValueError) as e:
        raise cli.ToolError(f"--submission_key '{key_format}' cannot be formatted ({e!r}); it may use "
                            "{utt} and, when the data dir has utt2itemid, {itemid}") from None


def short_name(decode_dir):
    """The last two components of the decode dir (``<system>/<set>``), for a figure title."""
    parts = os.path.normpath(decode_dir).split(os.sep)
    return "/".join(parts[-2:])


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--positive", default="bird",
                   help="the class (of classes.txt) whose posterior is the detection score")
    p.add_argument("--submission_key", default="auto",
                   help="format of the key column of submission.csv: {utt}, {itemid}, or auto "
                        "({itemid} when the data dir has utt2itemid, else {utt})")
    p.add_argument("data_dir")
    p.add_argument("decode_dir")
    args = cli.parse(p, argv)
    classes, utts, scores = read_decode_dir(args.decode_dir)
    detection = detection_scores(args.decode_dir, classes, scores, args.positive)
    utt2itemid = read_itemids(args.data_dir, utts, args.decode_dir)
    try:
        rows = submission_lines(submission_keys(utts, args.submission_key, utt2itemid), detection)
    except ValueError as e:
        raise cli.ToolError(f"{args.decode_dir}: cannot write submission.csv: {e}") from None
    write_text(os.path.join(args.decode_dir, "submission.csv"), "".join(r + "\n" for r in rows))
    label_file = os.path.join(args.data_dir, "utt2label")
    if not os.path.isfile(label_file):
        print(f"{args.data_dir}: no utt2label; wrote {args.decode_dir}/submission.csv only")
        return
    utt2label = check_labels(label_file, classes, utts, args.decode_dir)
    dataset_file = os.path.join(args.data_dir, "utt2dataset")
    utt2dataset = read_table(dataset_file) if os.path.isfile(dataset_file) else None
    scores_by_utt = dict(zip(utts, detection))
    try:
        result = evaluate_detection(utt2label, scores_by_utt, args.positive, utt2dataset)
        curves = roc_curves(utt2label, scores_by_utt, args.positive, utt2dataset)
    except ValueError as e:
        raise cli.ToolError(f"{args.data_dir}: {e}") from None
    write_text(os.path.join(args.decode_dir, "result.json"), json.dumps(result, indent=1) + "\n")
    table = detection_result_txt(result)
    write_text(os.path.join(args.decode_dir, "result.txt"), table)
    plot_roc(curves, os.path.join(args.decode_dir, "roc.png"),
             f"{short_name(args.decode_dir)}: ROC AUC {100 * result['auc']:.1f} %")
    print(table, end="")


if __name__ == "__main__":
    cli.run(main)
