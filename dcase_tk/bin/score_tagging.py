"""Score Task 2 tagging scores against a data dir (MAP@3, accuracy, per class); write the Kaggle
submission.

  python -m dcase_tk.bin.score_tagging --verified_only true data/2/dev exp/2/cnn8/dev

Reads ``<decode_dir>/score`` (``<utt> <p_1> ... <p_C>``) and ``<decode_dir>/classes.txt``,
``<data_dir>/utt2label`` and, when present, ``<data_dir>/utt2verified``. Writes in the decode dir
``result.json`` (every metric, per class), ``result.txt`` (the table) and ``submission.csv``
(``fname,label`` with the top three labels). A data dir without utt2label (the evaluation set)
gets the submission only. The metrics are defined in ``dcase_tk.scoring.tagging``.
"""
import json
import os

from dcase_tk import cli
from dcase_tk.io.atomic import write_text
from dcase_tk.io.scores import read_decode_dir
from dcase_tk.io.table import read_table
from dcase_tk.scoring.coverage import check_labels
from dcase_tk.scoring.tagging import evaluate_tagging, submission_rows, tagging_result_txt


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--verified_only", default="true", choices=["true", "false"],
                   help="score only clips with utt2verified 1 (when the data dir has utt2verified)")
    p.add_argument("--submission_key", default="{utt}.wav",
                   help="format of the fname column of submission.csv")
    p.add_argument("data_dir")
    p.add_argument("decode_dir")
    args = cli.parse(p, argv)
    classes, utts, scores = read_decode_dir(args.decode_dir)
    try:
        rows = submission_rows(utts, scores, classes, args.submission_key)
    except (ValueError, KeyError, IndexError) as e:
        raise cli.ToolError(f"{args.decode_dir}: cannot write submission.csv: {e} "
                            "(--submission_key may use only {utt})") from None
    write_text(os.path.join(args.decode_dir, "submission.csv"), "\n".join(rows) + "\n")
    label_file = os.path.join(args.data_dir, "utt2label")
    if not os.path.isfile(label_file):
        print(f"{args.data_dir}: no utt2label; wrote {args.decode_dir}/submission.csv only")
        return
    utt2label = check_labels(label_file, classes, utts, args.decode_dir)
    verified_file = os.path.join(args.data_dir, "utt2verified")
    utt2verified = read_table(verified_file) if os.path.isfile(verified_file) else None
    try:
        result = evaluate_tagging(utt2label, dict(zip(utts, scores)), classes, utt2verified,
                                  verified_only=args.verified_only == "true")
    except ValueError as e:
        raise cli.ToolError(f"{args.data_dir}: {e}") from None
    write_text(os.path.join(args.decode_dir, "result.json"), json.dumps(result, indent=1) + "\n")
    table = tagging_result_txt(result)
    write_text(os.path.join(args.decode_dir, "result.txt"), table)
    print(table, end="")


if __name__ == "__main__":
    cli.run(main)
