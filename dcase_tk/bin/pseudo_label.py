"""Clip pseudo-labels (Task 4): label the clips of a dump dir with the classes a model tags them
with, for the next training pass.

  python -m dcase_tk.bin.pseudo_label --threshold 0.5 --keep_labels true \\
      exp/4/crnn/unlabel_in_domain dump/4/logmel64/unlabel_in_domain \\
      dump/4/logmel64/unlabel_in_domain_pseudo

``<decode_dir>``: dcase_tk.bin.infer_nnet's output for the dump dir (``score``: ``<utt> <p_1> ...
<p_C>`` clip posteriors, ``classes.txt``); it must score exactly the clips of
``<feat_dir>/feats.scp``, with the classes of ``<feat_dir>/classes.txt``.

Writes ``<out_dir>``: a copy of the dump dir ``<feat_dir>`` (feats.scp, utt2num_frames,
frame_shift, classes.txt, cmvn.ark when there, every other table) whose ``utt2labels`` lists,
per clip, the classes with a clip posterior ``>= --threshold`` in classes.txt order; a clip with
none is written as ``<utt>`` alone (an empty label list: an all-zero training target). With
``--keep_labels true`` a clip that has a line in ``<feat_dir>/utt2labels`` keeps its given labels
(weak plus pseudo-weak training sets); with ``false`` every clip is pseudo-labelled. Frame targets
of an earlier pass (frame_targets.{ark,scp}) are not copied. Logs the clips per class.
dcase_tk/decode/pseudo_labels.py describes the method (the Task 4 baseline's pass 1 -> pass 2,
Koutini et al.'s pseudo weak labels).
"""
import logging
import os

from dcase_tk import cli
from dcase_tk.decode.pseudo_labels import (LABELS, check_decode_matches, clip_labels, label_counts,
                                           read_dump)
from dcase_tk.io.scores import read_decode_dir

log = logging.getLogger("dcase_tk.pseudo_label")


def parse_args(argv):
    p = cli.parser(__doc__)
    p.add_argument("--threshold", type=float, default=0.5,
                   help="a clip is labelled with the classes whose clip posterior is >= this")
    p.add_argument("--keep_labels", default="true", choices=["true", "false"],
                   help="clips with a line in <feat_dir>/utt2labels keep their given labels")
    p.add_argument("decode_dir", help="dir with score and classes.txt of the dump dir's clips")
    p.add_argument("feat_dir", help="the dump dir to label")
    p.add_argument("out_dir", help="the labelled copy of the dump dir")
    args = cli.parse(p, argv)
    if not 0 <= args.threshold <= 1:
        raise cli.ToolError(f"--threshold must be a probability in [0, 1], got {args.threshold}")
    return args


def main(argv=None):
    args = parse_args(argv)
    data = read_dump(args.feat_dir, args.out_dir)
    if not os.path.isfile(os.path.join(args.decode_dir, "score")):
        raise cli.ToolError(f"{args.decode_dir}/score does not exist; run inference on {args.feat_dir} "
                            "first (dcase_tk.bin.infer_nnet)")
    classes, utts, scores = read_decode_dir(args.decode_dir)
    check_decode_matches(args.decode_dir, classes, utts, args.feat_dir, data)
    given = data.tables.get(LABELS, {}) if args.keep_labels == "true" else {}
    labels = clip_labels(utts, scores, classes, args.threshold, given)
    data.tables[LABELS] = labels
    data.save(args.out_dir)
    kept = sum(1 for u in utts if u in given)
    counts = label_counts({u: v for u, v in labels.items() if u not in given}, classes)
    empty = sum(1 for u, v in labels.items() if u not in given and not v)
    log.info("%s: %d clips, %d keep their labels, %d pseudo-labelled at threshold %g (%d with no "
             "class)", args.out_dir, len(utts), kept, len(utts) - kept, args.threshold, empty)
    log.info("pseudo-labelled clips per class: %s", ", ".join(f"{c} {n}" for c, n in counts.items()))


if __name__ == "__main__":
    cli.run(main)
