"""Self-adaptive label refinement (Task 4, Harb & Pernkopf's SALR): choose each class's
threshold and median filter without labels, from how the trained model scores the events they cut.

  python -m dcase_tk.bin.salr --config conf/postprocess/salr.yaml \\
      exp/4/gcrnn dump/4/logmel64/eval exp/4/gcrnn/eval exp/4/gcrnn/salr_eval

``<exp_dir>``: the trained system (``config.yaml``, ``final.pt``, ``cmvn.ark``; a multi-label
model, loss bce or focal_bce); ``<feat_dir>``: the dump dir of the clips to adapt to (features
only: no labels are read); ``<decode_dir>``: that model's decode dir of the same clips
(dcase_tk.bin.infer_nnet with ``decode.frame_posteriors: true``: ``posteriors.scp``, ``score``,
``frame_shift``, ``classes.txt``), with the model's classes and exactly the clips of
``<feat_dir>/feats.scp``.

The config's ``postprocess:`` section is the base post-processing (``method: threshold``; its
``tag_threshold`` decides which clips a class is present in, its ``min_length``, ``max_gap`` and
``clip_tags`` are kept); its ``salr:`` section the search: ``thresholds`` and ``medians``
(seconds) lists, ``min_frames`` (5: shorter samples are repeat-padded) and ``batch_size`` (64).
``--postprocess.<key>`` and ``--salr.<key>`` override them. dcase_tk/decode/salr.py describes
the search.

Writes in ``<out_dir>``: ``postprocess.yaml`` (the base section with per-class ``threshold`` and
``median`` lists in classes.txt order: give it to dcase_tk.bin.postprocess_sed as --config),
``search.tsv`` (class, threshold, median, samples, loss, chosen: every candidate of every class;
an empty loss where a class tags no clip) and ``config.yaml`` (the resolved input config).
"""
import logging
import math
import os

import torch

from dcase_tk import cli, config as cfg
from dcase_tk.bin.tune_postprocess import parse_search
from dcase_tk.decode.infer import is_multi_label, scorer_for
from dcase_tk.decode.pseudo_labels import check_same_clips
from dcase_tk.decode.salr import TABLE_COLUMNS, SalrConfig, model_forward, salr
from dcase_tk.io.atomic import write_text
from dcase_tk.io.posteriors import read_clip_scores, read_frame_posteriors
from dcase_tk.io.table import TableError

log = logging.getLogger("dcase_tk.salr")


def parse_args(argv):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("exp_dir", help="trained system: config.yaml, final.pt, cmvn.ark")
    p.add_argument("feat_dir", help="dump dir of the clips to adapt to")
    p.add_argument("decode_dir", help="the model's decode dir of those clips (frame posteriors, score)")
    p.add_argument("out_dir")
    return parse_search(p, argv, "salr", SalrConfig)


def load_model(args):
    """``(ClipScorer, FeatureSet, system config)`` of the exp dir on the feat dir."""
    for name in ("config.yaml", "final.pt", "cmvn.ark"):
        if not os.path.isfile(os.path.join(args.exp_dir, name)):
            raise cli.ToolError(f"{args.exp_dir}/{name} not found: train the system first (stage 6)")
    try:
        scorer, dataset, config = scorer_for(args.exp_dir, args.feat_dir, cli.pick_device(args.device))
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    if not is_multi_label(config):
        raise cli.ToolError(f"{args.exp_dir} is a single-label system (training.loss "
                            f"{cfg.get_dotted(config, 'training.loss', 'cross_entropy')}); SALR needs "
                            "per-class clip probabilities (loss bce or focal_bce)")
    return scorer, dataset, config


def search_tsv(rows):
    lines = ["\t".join(TABLE_COLUMNS)]
    for r in rows:
        loss = "" if math.isnan(r["loss"]) else f"{r['loss']:.6f}"
        lines.append("\t".join([r["class"], str(r["threshold"]), str(r["median"]), str(r["samples"]),
                                loss, str(r["chosen"])]))
    return "\n".join(lines) + "\n"


def main(argv=None):
    args, resolved, base, search = parse_args(argv)
    torch.set_num_threads(cli.num_threads())
    scorer, dataset, config = load_model(args)
    classes, shift, posteriors = read_frame_posteriors(args.decode_dir)
    if classes != list(config["classes"]):
        raise cli.ToolError(f"{args.decode_dir}/classes.txt and the classes of {args.exp_dir}/config.yaml "
                            "differ; decode the clips with this model")
    check_same_clips(args.decode_dir, list(posteriors), args.feat_dir, dataset.utts)
    clip_scores = read_clip_scores(args.decode_dir, classes)
    if clip_scores is None or any(u not in clip_scores for u in dataset.utts):
        raise cli.ToolError(f"{args.decode_dir}/score is missing or lacks clips; SALR takes the clips a "
                            "class is present in from the clip scores: re-run inference")
    forward = model_forward(scorer.model, scorer.kind, scorer.device)
    try:
        tuned, rows = salr(dataset.utts, posteriors, clip_scores, shift, classes, base, search,
                           dataset.matrix, forward, cli.progress(args, "clips"))
    except cfg.ConfigError as e:
        raise cli.ToolError(f"{args.config or 'the command line'}: {e}") from None
    except TableError as e:
        raise cli.ToolError(f"{args.decode_dir}/posteriors.scp and {args.feat_dir}/feats.scp: {e}; "
                            "decode this dump dir with decode.frame_posteriors true") from None
    os.makedirs(args.out_dir, exist_ok=True)
    cfg.save(resolved, os.path.join(args.out_dir, "config.yaml"))
    write_text(os.path.join(args.out_dir, "search.tsv"), search_tsv(rows))
    cfg.save({"postprocess": tuned.to_dict()}, os.path.join(args.out_dir, "postprocess.yaml"))
    for c, threshold, median in zip(classes, tuned.threshold, tuned.median):
        chosen = [r for r in rows if r["class"] == c and r["chosen"]]
        log.info("%s: threshold %g, median %g s%s", c, threshold, median,
                 f" (loss {chosen[0]['loss']:.4f} on {chosen[0]['samples']} samples)" if chosen else
                 " (no tagged clip: base values)")


if __name__ == "__main__":
    cli.run(main)
