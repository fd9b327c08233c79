"""Aggregate the results of a system's cross-validation folds: mean, std and per-fold values.

  python -m dcase_tk.bin.aggregate_folds exp/2/cnn8/cv exp/2/cnn8/fold{1,2,3,4}/dev

Reads ``<fold_dir>/result.json`` of each fold (written by score_tagging or score_classification)
and writes ``<out_dir>/result.json`` (``n_folds``, ``folds``, ``metrics``: each number's mean,
std with ddof=0 and per-fold values, ``per_class`` likewise) and ``<out_dir>/result.txt``.
"""
import json
import os

from dcase_tk import cli
from dcase_tk.io.atomic import write_text
from dcase_tk.scoring.tagging import aggregate_folds, folds_result_txt


def read_result(fold_dir):
    path = os.path.join(fold_dir, "result.json")
    if not os.path.isfile(path):
        raise cli.ToolError(f"fold {fold_dir} has no result.json; score it first "
                            "(steps/score.sh or dcase_tk.bin.score_tagging)")
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise cli.ToolError(f"{path}: not valid JSON ({e}); re-score fold {fold_dir}") from None


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("out_dir")
    p.add_argument("fold_dirs", nargs="+", metavar="fold_dir")
    args = cli.parse(p, argv)
    results = [read_result(d) for d in args.fold_dirs]
    try:
        aggregated = aggregate_folds(results)
    except ValueError as e:
        raise cli.ToolError(f"{' '.join(args.fold_dirs)}: {e}") from None
    aggregated["folds"] = list(args.fold_dirs)
    os.makedirs(args.out_dir, exist_ok=True)
    write_text(os.path.join(args.out_dir, "result.json"), json.dumps(aggregated, indent=1) + "\n")
    table = folds_result_txt(aggregated, [f"fold {i}" for i in range(1, len(results) + 1)])
    write_text(os.path.join(args.out_dir, "result.txt"), table)
    print(table, end="")


if __name__ == "__main__":
    cli.run(main)
