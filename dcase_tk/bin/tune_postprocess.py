"""Tune the post-processing of frame posteriors on a validation set with strong labels (Task 4).

  python -m dcase_tk.bin.tune_postprocess --config conf/postprocess/tune.yaml \\
      exp/4/crnn/valid data/4/valid exp/4/crnn/tune

Reads the validation decode dir (``posteriors.scp``, ``frame_shift``, ``classes.txt``; ``score``
when a class uses ``clip_tags``) and the validation data dir (``wav.scp``, ``classes.txt``,
``events``, optional ``utt2dur``); the decode dir must hold exactly the data dir's clips. The
config's ``postprocess:`` section gives the method and the start values, its ``tune:`` section
the grids and the number of rounds (dcase_tk/decode/sed_tune.py describes the search);
``--postprocess.<key>`` and ``--tune.<key>`` override them.

Writes in ``out_dir``: ``postprocess.yaml`` (the tuned ``postprocess:`` section, per-class
values: give it to dcase_tk.bin.postprocess_sed as --config), ``search.tsv`` (every scored
candidate), ``config.yaml`` (the resolved input config), and prints each class's start and tuned
validation F1.
"""
import logging
import os

from dcase_tk import cli, config as cfg
from dcase_tk.decode.sed import PostprocessConfig
from dcase_tk.decode.sed_config import config_section, foreign_overrides
from dcase_tk.decode.sed_tune import TABLE_COLUMNS, TuneConfig, tune
from dcase_tk.io.atomic import write_text
from dcase_tk.io.events import read_reference
from dcase_tk.io.posteriors import read_clip_scores, read_frame_posteriors
from dcase_tk.scoring.text import pct, text_table

log = logging.getLogger("dcase_tk.tune_postprocess")


def parse_args(argv):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("decode_dir", help="validation decode dir with posteriors.scp, frame_shift, classes.txt")
    p.add_argument("data_dir", help="validation data dir with events")
    p.add_argument("out_dir")
    return parse_search(p, argv, "tune", TuneConfig)


def parse_search(p, argv, name, search_class):
    """``(args, resolved config, PostprocessConfig, search_class)`` of a tool whose config has a
    ``postprocess:`` section and a ``<name>:`` section of search grids (here ``tune``, SALR's
    ``salr``); only ``--postprocess.<key>`` and ``--<name>.<key>`` overrides are accepted."""
    bad = foreign_overrides(cli.split_overrides(p, cli.argv_list(argv))[1], ("postprocess", name))
    if bad:
        raise cli.ToolError(f"unknown option(s) {' '.join(bad)}: only --postprocess.<key> and "
                            f"--{name}.<key> overrides are accepted")
    args, resolved = cli.parse(p, argv, with_config=True)
    source = args.config or "the command line"
    try:
        base = PostprocessConfig.from_dict(config_section(resolved, "postprocess", source))
        search = search_class.from_dict(config_section(resolved, name, source))
    except cfg.ConfigError as e:
        raise cli.ToolError(f"{source}: {e}") from None
    return args, resolved, base, search


def search_tsv(rows):
    lines = ["\t".join(TABLE_COLUMNS)]
    for r in rows:
        lines.append("\t".join(f"{r[k]:.6f}" if k == "f1" else str(r[k]) for k in TABLE_COLUMNS))
    return "\n".join(lines) + "\n"


def summary(rows, classes):
    """Each class's start and tuned F1 (its last chosen row), and their class averages."""
    start = {r["class"]: r["f1"] for r in rows if r["round"] == 0}
    final = {r["class"]: r["f1"] for r in rows if r["chosen"]}
    table = [["class", "start F1 %", "tuned F1 %"]] + [[c, pct(start[c]), pct(final[c])] for c in classes]
    mean = [sum(d[c] for c in classes) / len(classes) for d in (start, final)]
    return text_table(table, [["class average", pct(mean[0]), pct(mean[1])]])


def main(argv=None):
    args, resolved, base, search = parse_args(argv)
    classes, shift, posteriors = read_frame_posteriors(args.decode_dir)
    ref_classes, utts, reference, durations = read_reference(args.data_dir)
    if ref_classes != classes:
        raise cli.ToolError(f"{args.decode_dir}/classes.txt and {args.data_dir}/classes.txt differ; "
                            "decode the validation set with a model of these classes")
    missing = [u for u in utts if u not in posteriors]
    extra = sorted(set(posteriors) - set(utts))
    if missing or extra:
        raise cli.ToolError(f"{args.decode_dir}/posteriors.scp and {args.data_dir}/wav.scp list "
                            f"different clips ({len(missing)} without posteriors, e.g. {missing[:3]}; "
                            f"{len(extra)} not in the data dir, e.g. {extra[:3]}); decode exactly the "
                            "validation data dir")
    try:
        base.resolve(classes)
    except cfg.ConfigError as e:
        raise cli.ToolError(f"{args.config or 'the command line'}: {e}") from None
    clip_scores = read_clip_scores(args.decode_dir, classes) if base.uses_clip_scores() else None
    if base.uses_clip_scores() and (clip_scores is None or any(u not in clip_scores for u in utts)):
        raise cli.ToolError(f"postprocess.clip_tags needs {args.decode_dir}/score with every clip; "
                            "run inference (stage 7) with clip-level outputs")
    ordered = {u: posteriors[u] for u in utts}
    tuned, rows = tune(ordered, shift, classes, reference, base, search, clip_scores, durations)
    os.makedirs(args.out_dir, exist_ok=True)
    cfg.save(resolved, os.path.join(args.out_dir, "config.yaml"))
    write_text(os.path.join(args.out_dir, "search.tsv"), search_tsv(rows))
    cfg.save({"postprocess": tuned.to_dict()}, os.path.join(args.out_dir, "postprocess.yaml"))
    table = summary(rows, classes)
    log.info("%s: tuned %s on %d validation clips, %d candidates scored", args.out_dir, base.method,
             len(utts), len(rows))
    print(table, end="")


if __name__ == "__main__":
    cli.run(main)
