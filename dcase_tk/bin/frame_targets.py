"""Smoothed strong pseudo-labels (Task 4, Koutini et al.'s passes 2..n): frame targets for
training, made from a model's frame posteriors.

  python -m dcase_tk.bin.frame_targets --median 0.5 --gaussian_sigma 0.1 --clip_mask true \\
      exp/4/pass1/unlabel_in_domain dump/4/logmel64/unlabel_in_domain_pseudo \\
      dump/4/logmel64/unlabel_in_domain_pass2

``<decode_dir>``: dcase_tk.bin.infer_nnet's output for the dump dir with
``decode.frame_posteriors: true`` (``posteriors.scp``/``.ark``: frames x C probabilities per
clip at the feature frame rate, ``frame_shift``, ``classes.txt``); it must hold exactly the clips
of ``<feat_dir>/feats.scp``, each with the frames ``<feat_dir>/utt2num_frames`` gives, and the
classes and frame shift of the dump dir.

Per clip and class, the posteriors are median-filtered over ``--median`` seconds (the odd number
of frames of dcase_tk/decode/sed.py, zero padded; 0: none), then Gaussian-smoothed with a
standard deviation of ``--gaussian_sigma`` seconds (0: none); with ``--clip_mask true`` and a
``<feat_dir>/utt2labels`` (weak or pseudo-weak labels, dcase_tk.bin.pseudo_label), the classes
a clip is not labelled with are set to 0. dcase_tk/decode/pseudo_labels.py has the details.

Writes ``<out_dir>``: a copy of the dump dir (every table, classes.txt, frame_shift, cmvn.ark
when there) plus ``frame_targets.scp`` (a per-utterance table, like feats.scp) and its ark
``data/frame_targets.ark``: one float32 matrix of frames x C targets in [0, 1] per clip (kaldiio),
what the trainer reads as frame-level targets. Frame targets of an earlier pass in ``<feat_dir>`` are not copied.
"""
import logging
import os

from dcase_tk import cli
from dcase_tk.data.datadir import FRAME_TARGETS_SCP, problem
from dcase_tk.decode.pseudo_labels import (FRAME_TARGETS_ARK, LABELS, allowed_classes,
                                           check_decode_matches, check_frame_counts, dump_utts,
                                           read_dump, smooth_frame_targets)
from dcase_tk.io.ark import ark_scp_writer
from dcase_tk.io.posteriors import read_frame_posteriors, read_frame_shift

log = logging.getLogger("dcase_tk.frame_targets")
SHIFT_TOLERANCE = 1e-6     # seconds


def parse_args(argv):
    p = cli.parser(__doc__)
    p.add_argument("--median", type=float, default=0.5, help="median filter window, seconds (0: none)")
    p.add_argument("--gaussian_sigma", type=float, default=0.0,
                   help="standard deviation of the Gaussian smoothing, seconds (0: none)")
    p.add_argument("--clip_mask", default="true", choices=["true", "false"],
                   help="zero the classes a clip is not labelled with in <feat_dir>/utt2labels")
    p.add_argument("decode_dir", help="dir with posteriors.scp, frame_shift, classes.txt")
    p.add_argument("feat_dir", help="the dump dir the targets are for")
    p.add_argument("out_dir", help="the copy of the dump dir with frame_targets.{ark,scp}")
    args = cli.parse(p, argv)
    for name in ("median", "gaussian_sigma"):
        if not getattr(args, name) >= 0:
            raise cli.ToolError(f"--{name} must be a number of seconds >= 0, got {getattr(args, name)}")
    return args


def clip_masks(args, data, classes):
    """``{utt: (C,) bool}`` allowed classes, or None when nothing is masked."""
    if args.clip_mask == "false":
        return None
    labels = data.tables.get(LABELS)
    if labels is None:
        log.warning("%s has no utt2labels: the frame targets are not masked by clip labels", args.feat_dir)
        return None
    path = os.path.join(args.feat_dir, LABELS)
    missing = [u for u in dump_utts(data) if u not in labels]
    if missing:
        raise cli.ToolError(f"{path} has no line for {len(missing)} clips of feats.scp (e.g. "
                            f"{missing[:3]}); label every clip (dcase_tk.bin.pseudo_label) or use "
                            "--clip_mask false")
    return allowed_classes(labels, classes, path)


def main(argv=None):
    args = parse_args(argv)
    data = read_dump(args.feat_dir, args.out_dir)
    classes, shift, posteriors = read_frame_posteriors(args.decode_dir)
    check_decode_matches(args.decode_dir, classes, list(posteriors), args.feat_dir, data)
    if "utt2num_frames" not in data.tables:
        raise cli.ToolError(problem(args.feat_dir, "utt2num_frames", None, "missing; frame targets "
                                    "are checked against the feature frame counts"))
    check_frame_counts(posteriors, data.tables["utt2num_frames"], args.decode_dir, args.feat_dir)
    if os.path.isfile(os.path.join(args.feat_dir, "frame_shift")):
        feat_shift = read_frame_shift(args.feat_dir)
        if abs(feat_shift - shift) > SHIFT_TOLERANCE:
            raise cli.ToolError(f"{args.decode_dir}/frame_shift is {shift} s, {args.feat_dir}/frame_shift "
                                f"{feat_shift} s; decode this dump dir's features")
    masks = clip_masks(args, data, classes)
    targets = {}
    for utt in cli.progress(args, "clips")(dump_utts(data)):
        try:
            targets[utt] = smooth_frame_targets(posteriors[utt], shift, args.median, args.gaussian_sigma,
                                                None if masks is None else masks[utt])
        except ValueError as e:
            raise cli.ToolError(f"{args.decode_dir}/posteriors.scp: '{utt}': {e}; frame targets are "
                                "made from probabilities (a model with sigmoid frame outputs)") from None
    data.save(args.out_dir)
    ark = os.path.join(args.out_dir, FRAME_TARGETS_ARK)
    os.makedirs(os.path.dirname(ark), exist_ok=True)
    with ark_scp_writer(ark) as write:
        for utt, matrix in targets.items():
            write(utt, matrix)
    # the scp (absolute ark paths) joins the dir's tables, so subsets and combinations keep it
    os.replace(os.path.splitext(ark)[0] + ".scp", os.path.join(args.out_dir, FRAME_TARGETS_SCP))
    log.info("%s: frame targets of %d clips (median %g s, Gaussian sigma %g s, %s)", args.out_dir,
             len(targets), args.median, args.gaussian_sigma,
             "masked by utt2labels" if masks is not None else "not masked")


if __name__ == "__main__":
    cli.run(main)
