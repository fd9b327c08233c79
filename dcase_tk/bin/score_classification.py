"""Score single-label decisions against a data dir; write the challenge submission file.

  python -m dcase_tk.bin.score_classification --device_average b,c \\
      --submission_key 'audio/{utt}.wav' data/1b/test exp/1b/baseline/test

Reads ``<decode_dir>/decision``; writes there ``result.json`` (every metric, per class and per
device), ``result.txt`` (the table), ``confusion.png`` and ``submission.txt``
(``<key><TAB><label>``). A data dir without utt2label (evaluation sets) gets the submission only.
"""
import json
import os

from dcase_tk import cli
from dcase_tk.io.atomic import atomic_open, write_text
from dcase_tk.io.table import read_list, read_table
from dcase_tk.plots import plot_confusion
from dcase_tk.scoring.classification import evaluate_decisions
from dcase_tk.scoring.report import result_txt


def write_submission(path, decision, key_format):
    with atomic_open(path) as f:
        for utt in sorted(decision, key=lambda u: key_format.format(utt=u)):
            f.write(f"{key_format.format(utt=utt)}\t{decision[utt]}\n")


def check_coverage(data_dir, utts, decision, decode_dir):
    missing = sorted(set(utts) - set(decision))
    extra = sorted(set(decision) - set(utts))
    if missing or extra:
        raise cli.ToolError(
            f"{decode_dir}/decision does not match {data_dir}: {len(missing)} utterances without a "
            f"decision (e.g. {missing[:3]}), {len(extra)} not in the data dir (e.g. {extra[:3]}); "
            "re-run inference (stage 7) on this data dir")


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--device_average", default="",
                   help="comma-separated devices whose class-averaged accuracies are averaged "
                        "(Task 1B ranks on b,c)")
    p.add_argument("--submission_key", default="{utt}",
                   help="format of the first column of submission.txt, e.g. 'audio/{utt}.wav'")
    p.add_argument("data_dir")
    p.add_argument("decode_dir")
    args = cli.parse(p, argv)
    decision = read_table(os.path.join(args.decode_dir, "decision"))
    classes = read_list(os.path.join(args.decode_dir, "classes.txt"))
    write_submission(os.path.join(args.decode_dir, "submission.txt"), decision, args.submission_key)
    label_file = os.path.join(args.data_dir, "utt2label")
    if not os.path.isfile(label_file):
        print(f"{args.data_dir}: no utt2label; wrote {args.decode_dir}/submission.txt only")
        return
    utt2label = read_table(label_file)
    check_coverage(args.data_dir, list(utt2label), decision, args.decode_dir)
    unknown = sorted({lab for lab in utt2label.values() if lab not in classes})
    if unknown:
        raise cli.ToolError(f"{label_file}: labels {unknown} are not in the model's classes.txt")
    device_file = os.path.join(args.data_dir, "utt2device")
    utt2device = read_table(device_file) if os.path.isfile(device_file) else None
    average = [d for d in args.device_average.split(",") if d]
    try:
        result = evaluate_decisions(utt2label, decision, classes, utt2device, average)
    except ValueError as e:
        raise cli.ToolError(f"{args.decode_dir}: {e}") from None
    write_text(os.path.join(args.decode_dir, "result.json"), json.dumps(result, indent=1) + "\n")
    table = result_txt(result)
    write_text(os.path.join(args.decode_dir, "result.txt"), table)
    plot_confusion(result["confusion"], classes, os.path.join(args.decode_dir, "confusion.png"),
                   f"{args.decode_dir}: class-avg accuracy {100 * result['class_avg_accuracy']:.1f} %")
    print(table, end="")


if __name__ == "__main__":
    cli.run(main)
