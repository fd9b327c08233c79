"""Turn frame posteriors into sound events (Task 4): binarise, smooth, write events and the
challenge submission.

  python -m dcase_tk.bin.postprocess_sed --config conf/postprocess/baseline.yaml \\
      --data_dir data/4/test exp/4/crnn/test exp/4/crnn/test

Reads ``<decode_dir>/{posteriors.scp,frame_shift,classes.txt}`` (dcase_tk.bin.infer_nnet with
``decode.frame_posteriors: true``) and, when a class uses ``clip_tags``, ``<decode_dir>/score``.
The config's ``postprocess:`` section says how (dcase_tk/decode/sed.py; a tuned one is
dcase_tk.bin.tune_postprocess's postprocess.yaml); ``--postprocess.<key> <value>`` overrides it.
With ``--data_dir``, the clips must be those of its wav.scp and offsets are cut at its utt2dur.

Writes in ``out_dir``: ``events`` (``<utt> <onset> <offset> <label>``, what dcase_tk.bin.score_sed
scores), ``utts`` (every post-processed clip, also those without events), ``submission.csv`` (the
challenge format, dcase_tk/io/events.py) and ``postprocess.yaml`` (the resolved section).
"""
import logging
import os

from dcase_tk import cli, config as cfg
from dcase_tk.decode.sed import PostprocessConfig, postprocess
from dcase_tk.decode.sed_config import config_section, foreign_overrides
from dcase_tk.io.atomic import write_text
from dcase_tk.io.events import EMPTY, read_durations, submission_lines, write_events
from dcase_tk.io.posteriors import read_clip_scores, read_frame_posteriors
from dcase_tk.io.table import read_table, sort_key, write_list

log = logging.getLogger("dcase_tk.postprocess_sed")


def check_clips(data_dir, utts, decode_dir):
    """The decode dir's clips are exactly those of ``<data_dir>/wav.scp``."""
    wav = os.path.join(data_dir, "wav.scp")
    listed = list(read_table(wav))
    missing = [u for u in listed if u not in utts]
    extra = sorted(set(utts) - set(listed))
    if missing or extra:
        raise cli.ToolError(f"{decode_dir}/posteriors.scp and {wav} list different clips ({len(missing)} "
                            f"without posteriors, e.g. {missing[:3]}; {len(extra)} not in wav.scp, e.g. "
                            f"{extra[:3]}); run inference on exactly the clips of {data_dir}")


def parse_args(argv):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--data_dir", default="", help="data dir of the clips: check the clip list, cut "
                                                  "offsets at utt2dur")
    p.add_argument("--submission_key", default="{utt}.wav", help="the filename column of submission.csv")
    p.add_argument("--submission_empty", default="omit", choices=EMPTY,
                   help="a clip without events: left out, or one row with empty fields")
    p.add_argument("decode_dir", help="dir with posteriors.scp, frame_shift, classes.txt")
    p.add_argument("out_dir")
    bad = foreign_overrides(cli.split_overrides(p, cli.argv_list(argv))[1], ("postprocess",))
    if bad:
        raise cli.ToolError(f"unknown option(s) {' '.join(bad)}: only --postprocess.<key> <value> "
                            "overrides are accepted")
    args, resolved = cli.parse(p, argv, with_config=True)
    section = config_section(resolved, "postprocess", args.config or "the config")
    try:
        return args, PostprocessConfig.from_dict(section)
    except cfg.ConfigError as e:
        raise cli.ToolError(f"{args.config or 'the command line'}: {e}") from None


def main(argv=None):
    args, config = parse_args(argv)
    classes, shift, posteriors = read_frame_posteriors(args.decode_dir)
    try:
        config.resolve(classes)
    except cfg.ConfigError as e:
        raise cli.ToolError(f"{args.config or 'the command line'}: {e}") from None
    durations = None
    if args.data_dir:
        check_clips(args.data_dir, posteriors, args.decode_dir)
        durations = read_durations(args.data_dir)
    clip_scores = read_clip_scores(args.decode_dir, classes) if config.uses_clip_scores() else None
    if config.uses_clip_scores():
        missing = [u for u in posteriors if clip_scores is None or u not in clip_scores]
        if missing:
            raise cli.ToolError(f"postprocess.clip_tags needs clip scores, but {args.decode_dir}/score "
                                f"has none for {len(missing)} clips (e.g. {missing[:3]}); run inference "
                                "(stage 7) with clip-level outputs")
    events = postprocess(posteriors, shift, config, classes, clip_scores, durations)
    utts = sorted(posteriors, key=sort_key)
    try:
        lines = submission_lines(events, utts, args.submission_key, args.submission_empty)
    except ValueError as e:
        raise cli.ToolError(f"--submission_key: {e}") from None
    os.makedirs(args.out_dir, exist_ok=True)
    cfg.save({"postprocess": config.to_dict()}, os.path.join(args.out_dir, "postprocess.yaml"))
    write_events(os.path.join(args.out_dir, "events"), events)
    write_list(os.path.join(args.out_dir, "utts"), utts)
    write_text(os.path.join(args.out_dir, "submission.csv"), "\n".join(lines) + "\n")
    n_events = sum(len(v) for v in events.values())
    log.info("%s: %d events in %d of %d clips (%s, frame shift %g s)", args.out_dir, n_events,
             sum(1 for v in events.values() if v), len(utts), config.method, shift)


if __name__ == "__main__":
    cli.run(main)
