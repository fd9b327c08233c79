"""One label-refinement step (the ``refine`` section of a system; dcase_tk/train/refine.py).

  python -m dcase_tk.bin.refine_labels --config exp/2/self_verification/fold1/system.yaml \\
      --round 1 --report exp/2/self_verification/fold1/round1/refine.json \\
      dump/2/logmel64_32k/fold1_tr exp/2/self_verification/fold1/round1/scores \\
      exp/2/self_verification/fold1/round1/data

``<data-dir>``: the training clips with their current ``utt2label`` and ``utt2verified`` (and
``utt2promoted`` after round 1); ``<scores-dir>``: the posteriors (``score``, ``classes.txt``) of
its unverified clips. Writes ``<out-dir>``: the same clips with revised ``utt2label`` and
``utt2verified``, and ``utt2promoted`` (the round a clip was promoted in, 0 for the others);
``--report``: what changed, per class.
"""
import json

from dcase_tk import cli, config as cfg
from dcase_tk.data.datadir import load
from dcase_tk.io.atomic import write_text
from dcase_tk.io.scores import read_decode_dir
from dcase_tk.train.refine import RefineConfig, revise

PROMOTED = "utt2promoted"


def read_state(data_dir):
    data = load(data_dir)
    for name in ("utt2label", "utt2verified"):
        if name not in data.tables:
            raise cli.ToolError(f"{data_dir} has no {name}; label refinement needs labels and "
                                "verified flags (Task 2 data prep writes both)")
    promoted = data.tables.get(PROMOTED, {})
    return data, {u: int(r) for u, r in promoted.items() if r != "0"}


def check_candidates(data, scores_dir, utts):
    """Every scored clip is an unverified clip of the data dir, and every unverified one is scored."""
    verified = data.tables["utt2verified"]
    unknown = [u for u in utts if verified.get(u) != "0"]
    if unknown:
        raise cli.ToolError(f"{scores_dir}/score scores {len(unknown)} clips that are not unverified "
                            f"training clips (e.g. {unknown[:3]}); score the candidates of this round")
    missing = sorted(set(u for u, v in verified.items() if v == "0") - set(utts))
    if missing:
        raise cli.ToolError(f"{scores_dir}/score has no row for {len(missing)} unverified clips "
                            f"(e.g. {missing[:3]}); re-run inference on the candidates")


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--config", required=True, help="the system config (its refine: section)")
    p.add_argument("--round", type=int, required=True, help="the round being prepared (1, 2, ...)")
    p.add_argument("--report", help="write what changed here (JSON)")
    p.add_argument("data_dir")
    p.add_argument("scores_dir")
    p.add_argument("out_dir")
    args = cli.parse(p, argv)
    try:
        refine = RefineConfig.from_dict(cfg.load_yaml(args.config).get("refine"))
    except ValueError as e:
        raise cli.ToolError(f"{args.config}: {e}") from None
    data, already = read_state(args.data_dir)
    classes, utts, scores = read_decode_dir(args.scores_dir)
    if data.classes is not None and data.classes != classes:
        raise cli.ToolError(f"{args.scores_dir}/classes.txt differs from {args.data_dir}/classes.txt")
    check_candidates(data, args.scores_dir, utts)
    labels = data.tables["utt2label"]
    revision = revise(refine, labels, already, utts, scores, classes)
    for utt in revision.promoted:
        data.tables["utt2verified"][utt] = "1"
        already[utt] = args.round
    for utt, (_, new) in revision.relabelled.items():
        labels[utt] = new
    data.tables[PROMOTED] = {u: str(already.get(u, 0)) for u in data.utts}
    data.save(args.out_dir)
    summary = {"round": args.round, "candidates": len(utts), "promoted": len(revision.promoted),
               "promoted_total": len(already), "relabelled": len(revision.relabelled),
               "capped": revision.capped,
               "promoted_per_class": {c: sum(1 for v in revision.promoted.values() if v == c) for c in classes},
               "relabelled_clips": {u: list(pair) for u, pair in sorted(revision.relabelled.items())}}
    if args.report:
        write_text(args.report, json.dumps(summary, indent=1) + "\n")
    print(f"{args.out_dir}: round {args.round}: {len(utts)} unverified clips scored, "
          f"{summary['promoted']} promoted ({summary['promoted_total']} in all), "
          f"{summary['relabelled']} relabelled, {revision.capped} over the per-class cap")


if __name__ == "__main__":
    cli.run(main)
