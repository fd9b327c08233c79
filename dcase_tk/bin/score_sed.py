"""Score sound events (Task 4) against a data dir with sed_eval: event-based and segment-based
F1/ER (macro and micro, per class), clip-level tagging F1 and AUC; draw event rolls.

  python -m dcase_tk.bin.score_sed --plot_clips 4 data/4/test exp/4/crnn/test

Reads ``<data_dir>/{wav.scp,classes.txt,events}`` (+ ``utt2dur``): every clip of wav.scp is
scored, those without a line in ``events`` as clips without events. Reads ``<pred_dir>/events``
(dcase_tk.bin.postprocess_sed; a clip without a line has no estimated event) and, when present,
``<pred_dir>/utts`` (the clips that were post-processed: they must be exactly the data dir's).
Clip scores (``score``) for the tagging figures and frame posteriors for the plots are taken
from ``--decode_dir`` (default: the pred dir) when it has them. The metrics are defined in
dcase_tk/scoring/sed.py; the config's ``scoring:`` section (``--scoring.<key> <value>``) sets
t_collar (0.2), percentage_of_length (0.2), segment (1.0 s) and tag_threshold (0.5).

Writes in the pred dir: ``result.json`` (every metric, per class), ``result.txt`` (the table),
``per_class.tsv``, ``scoring.yaml`` (the resolved section) and ``plots/<utt>.png`` for
``--plot_utts`` (comma-separated) or the first ``--plot_clips`` clips (byte order) that have a
reference or estimated event.
"""
import dataclasses
import json
import logging
import os

from dcase_tk import cli, config as cfg
from dcase_tk.decode.sed_config import config_section, foreign_overrides
from dcase_tk.io.atomic import write_text
from dcase_tk.io.events import read_events, read_reference
from dcase_tk.io.posteriors import read_clip_scores, read_frame_posteriors
from dcase_tk.io.table import read_list, sort_key
from dcase_tk.scoring.sed import ScoringConfig, evaluate_sed
from dcase_tk.scoring.sed_plot import plot_event_roll
from dcase_tk.scoring.sed_report import per_class_tsv, sed_result_txt

log = logging.getLogger("dcase_tk.score_sed")


def parse_args(argv):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--decode_dir", default="", help="dir with score / posteriors.scp (default: pred_dir)")
    p.add_argument("--plot_clips", type=int, default=0, help="event rolls of this many clips")
    p.add_argument("--plot_utts", default="", help="event rolls of these clips (comma-separated)")
    p.add_argument("data_dir", help="data dir with wav.scp, classes.txt, events")
    p.add_argument("pred_dir", help="dir with the estimated events (and utts)")
    bad = foreign_overrides(cli.split_overrides(p, cli.argv_list(argv))[1], ("scoring",))
    if bad:
        raise cli.ToolError(f"unknown option(s) {' '.join(bad)}: only --scoring.<key> <value> "
                            "overrides are accepted")
    args, resolved = cli.parse(p, argv, with_config=True)
    try:
        return args, ScoringConfig.from_dict(config_section(resolved, "scoring", args.config or "the config"))
    except cfg.ConfigError as e:
        raise cli.ToolError(f"{args.config or 'the command line'}: {e}") from None


def read_estimated(pred_dir, classes, utts, data_dir):
    path = os.path.join(pred_dir, "events")
    if not os.path.isfile(path):
        raise cli.ToolError(f"{path} does not exist: post-process the decode dir first "
                            "(dcase_tk.bin.postprocess_sed)")
    estimated = read_events(path, classes, os.path.join(data_dir, "classes.txt"), set(utts),
                            os.path.join(data_dir, "wav.scp"))
    listed = os.path.join(pred_dir, "utts")
    if os.path.isfile(listed):
        done = read_list(listed)
        missing = [u for u in utts if u not in set(done)]
        extra = sorted(set(done) - set(utts))
        if missing or extra:
            raise cli.ToolError(f"{listed} and {data_dir}/wav.scp list different clips ({len(missing)} "
                                f"not post-processed, e.g. {missing[:3]}; {len(extra)} not in the data "
                                f"dir, e.g. {extra[:3]}); post-process the decode dir of exactly this data dir")
    else:
        log.warning("%s has no utts list: the clips without a line in events are taken as clips "
                    "without events", pred_dir)
    return estimated


def clip_scores_for(decode_dir, classes, utts):
    scores = read_clip_scores(decode_dir, classes) if os.path.isfile(os.path.join(decode_dir, "classes.txt")) else None
    if scores is None:
        log.info("%s has no score file: no tagging figures", decode_dir)
        return None
    missing = [u for u in utts if u not in scores]
    if missing:
        raise cli.ToolError(f"{decode_dir}/score has no row for {len(missing)} clips (e.g. {missing[:3]}); "
                            "re-run inference on this data dir")
    return scores


def plot_clips(args, utts, classes, reference, estimated, durations):
    if args.plot_utts:
        chosen = [u.strip() for u in args.plot_utts.split(",") if u.strip()]
        unknown = [u for u in chosen if u not in set(utts)]
        if unknown:
            raise cli.ToolError(f"--plot_utts: {unknown} are not clips of {args.data_dir}/wav.scp")
    else:
        chosen = [u for u in sorted(utts, key=sort_key) if reference.get(u) or estimated.get(u)]
        chosen = chosen[:max(0, args.plot_clips)]
    if not chosen:
        return
    decode_dir = args.decode_dir or args.pred_dir
    posteriors, shift = None, None
    if os.path.isfile(os.path.join(decode_dir, "posteriors.scp")):
        _, shift, posteriors = read_frame_posteriors(decode_dir)
    for u in chosen:
        post = None if posteriors is None else posteriors.get(u)
        ends = [off for _, off, _ in reference.get(u, []) + estimated.get(u, [])]
        duration = durations[u] if durations else max(ends + [len(post) * shift if post is not None else 10.0])
        plot_event_roll(os.path.join(args.pred_dir, "plots", f"{u}.png"), u, classes,
                        reference.get(u, []), estimated.get(u, []), duration, post, shift)


def main(argv=None):
    args, config = parse_args(argv)
    classes, utts, reference, durations = read_reference(args.data_dir)
    if durations is not None and any(u not in durations for u in utts):
        raise cli.ToolError(f"{args.data_dir}/utt2dur lacks clips of wav.scp; run utils/fix_data_dir.sh "
                            "or remove utt2dur")
    estimated = read_estimated(args.pred_dir, classes, utts, args.data_dir)
    clip_scores = clip_scores_for(args.decode_dir or args.pred_dir, classes, utts)
    result = evaluate_sed(reference, estimated, utts, classes, config, durations, clip_scores)
    cfg.save({"scoring": dataclasses.asdict(config)}, os.path.join(args.pred_dir, "scoring.yaml"))
    write_text(os.path.join(args.pred_dir, "result.json"), json.dumps(result, indent=1) + "\n")
    table = sed_result_txt(result)
    write_text(os.path.join(args.pred_dir, "result.txt"), table)
    write_text(os.path.join(args.pred_dir, "per_class.tsv"), per_class_tsv(result))
    plot_clips(args, utts, classes, reference, estimated, durations)
    print(table, end="")


if __name__ == "__main__":
    cli.run(main)
