"""Per-class model selection (Task 4, Koutini et al.'s "Merge"): for each class, the frame
posteriors and clip scores of the model that detects it best.

  python -m dcase_tk.bin.merge_per_class \\
      --select_dirs "exp/4/pass2_deep/test exp/4/pass2_shallow/test" \\
      --apply_dirs "exp/4/pass2_deep/unlabel_in_domain exp/4/pass2_shallow/unlabel_in_domain" \\
      exp/4/pass2_merge/unlabel_in_domain

``--select_dirs``: one scored dir per candidate model (``result.json`` of dcase_tk.bin.score_sed);
class ``c`` is taken from the model with the best event-based F1 of ``c`` there (an undefined F1
ranks last, ties go to the model listed first). ``--apply_dirs``: the same models' decode dirs
of the set to merge (dcase_tk.bin.infer_nnet with ``decode.frame_posteriors: true``:
``posteriors.scp``, ``score``, ``classes.txt``, ``frame_shift``), in the same order; they must
share classes, clips, frame shift and, for the chosen models, each clip's number of frames.
Both lists are space-separated.

Writes ``<out_dir>``: a decode dir (``posteriors.ark``/``posteriors.scp``, ``score``,
``decision``, ``classes.txt``, ``frame_shift``) with class ``c``'s column taken from its chosen
model, and ``selection.tsv``: per class the chosen model (1-based), its scored and decode dirs,
its F1, and the F1 of every candidate (one column per scored dir). dcase_tk/decode/merge.py has
the details.
"""
import logging
import os

from dcase_tk import cli
from dcase_tk.decode.merge import choose, merge_decode_dirs, read_class_f1, selection_tsv
from dcase_tk.io.atomic import write_text

log = logging.getLogger("dcase_tk.merge_per_class")


def parse_args(argv):
    p = cli.parser(__doc__)
    p.add_argument("--select_dirs", required=True, help="scored dirs (result.json), space-separated")
    p.add_argument("--apply_dirs", required=True,
                   help="decode dirs of the same models, in the same order, space-separated")
    p.add_argument("out_dir", help="the merged decode dir")
    args = cli.parse(p, argv)
    args.select_dirs, args.apply_dirs = args.select_dirs.split(), args.apply_dirs.split()
    if not args.select_dirs or len(args.select_dirs) != len(args.apply_dirs):
        raise cli.ToolError(f"--select_dirs names {len(args.select_dirs)} dirs and --apply_dirs "
                            f"{len(args.apply_dirs)}; give one scored dir and one decode dir per model, "
                            "in the same order")
    return args


def main(argv=None):
    args = parse_args(argv)
    classes, f1 = read_class_f1(args.select_dirs)
    chosen = choose(f1)
    merge_decode_dirs(args.apply_dirs, chosen, classes, args.out_dir, cli.progress(args, "clips"))
    write_text(os.path.join(args.out_dir, "selection.tsv"),
               selection_tsv(classes, f1, chosen, args.select_dirs, args.apply_dirs))
    for c, cls in enumerate(classes):
        log.info("%s: %s (event F1 %.4f)", cls, args.apply_dirs[chosen[c]], f1[chosen[c], c])


if __name__ == "__main__":
    cli.run(main)
