"""Train a neural network system from its config (conf/systems/<name>.yaml).

  python -m dcase_tk.bin.train_nnet --config conf/systems/cnn8.yaml \\
      --cmvn dump/1a/logmel64/train_tr/cmvn.ark \\
      dump/1a/logmel64/train_tr dump/1a/logmel64/train_cv exp/1a/cnn8 [--training.epochs 30]

Data parallel on N processes (gloo on CPU, nccl on GPUs), the global batch split among them:

  torchrun --standalone --nproc_per_node N -m dcase_tk.bin.train_nnet ...

Writes into the exp dir: config.yaml (resolved, with classes and input size), classes.txt,
cmvn.ark (so the dir is self-contained for inference), checkpoints/epoch_NNNN.pt, history.csv,
curves.png and final.pt (the state dict of the kept epoch). A re-run resumes from the last
checkpoint made with the same inputs and config (the number of epochs and the patience may change).
Features are read from their arks batch by batch, so memory does not grow with the corpus.
``--init <final.pt>`` starts from trained weights (fine-tuning, e.g. a label-refinement round);
final.json records the kept epoch and its validation metrics.

Weakly labelled sound event detection (DCASE 2018 Task 4): ``training.objective frames`` trains
the model's frame outputs (``frame_outputs``) on the training dir's ``frame_targets.scp`` (frames
x classes in [0, 1], cut with the features' crop), or on the clip labels copied to every frame
when it has none; ``training.objective mil`` uses the max/mean/min multi-instance loss of Cances
et al. Validation stays clip-level. ``training.vat: {weight: W}`` (W > 0) adds virtual
adversarial training, ``W * KL(p(y|x) || p(y|x + r_adv))``, on the labelled clips and, with
``--unlabelled_dir <dump dir>`` (same features, normalised with ``--cmvn``, cropped to
input.frames, no labels needed), on ``training.unlabelled_batch_size`` unlabelled clips per step
(default: as many as the labelled ones); history.csv gets its mean as ``train_vat``. The
unlabelled dir is part of the resume key. See dcase_tk/train/objectives.py and vat.py.
"""
import copy
import logging
import os
import shutil

import torch
import tqdm

from dcase_tk import cli, config as cfg, stamp
from dcase_tk.decode.infer import DecodeConfig, is_multi_label
from dcase_tk.features import cmvn
from dcase_tk.io.table import write_list
from dcase_tk.nnet import build_model
from dcase_tk.train import distributed
from dcase_tk.data.datadir import FRAME_TARGETS_SCP
from dcase_tk.train.data import FeatureSet, read_classes, read_clip_values
from dcase_tk.train.metrics import METRICS, SINGLE_LABEL_METRICS
from dcase_tk.train.trainer import Trainer, TrainConfig
from dcase_tk.train.vat import VatConfig

log = logging.getLogger("dcase_tk.train_nnet")

# training options that may change between a run and its resumption
RESUMABLE_CHANGES = ("epochs", "patience", "keep_checkpoints", "num_workers")


def read_system(args, system):
    for key in ("model", "training", "input"):
        if not isinstance(system.get(key), dict):
            raise cli.ToolError(f"the system config needs an '{key}:' section ({args.config})")
    try:
        train_cfg = TrainConfig.from_dict(system["training"])
        decode = DecodeConfig.from_dict(system.get("decode"))
    except ValueError as e:
        raise cli.ToolError(f"{args.config}: {e}") from None
    if is_multi_label(system) and train_cfg.select_metric in SINGLE_LABEL_METRICS:
        raise cli.ToolError(f"{args.config}: training.select_metric {train_cfg.select_metric} is for "
                            f"single-label systems; a {train_cfg.loss} system selects on one of "
                            f"{sorted(set(METRICS) - set(SINGLE_LABEL_METRICS))}")
    frames = system["input"].get("frames")
    if not isinstance(frames, int) or frames < 1:
        raise cli.ToolError(f"{args.config}: input.frames (the training input length) must be a "
                            f"positive integer, got {frames!r}")
    return train_cfg, decode, frames


def load_sets(args, system, frames, train_cfg):
    classes = read_classes(args.train_dir)
    if read_classes(args.valid_dir) != classes:
        raise cli.ToolError(f"classes.txt of {args.train_dir} and {args.valid_dir} differ")
    stats = cmvn.read(args.cmvn)
    labels = system["input"].get("labels", "auto")
    train = FeatureSet(args.train_dir, stats, frames, system["input"].get("crop", "fixed"))
    train.with_targets(classes, labels)
    valid = FeatureSet(args.valid_dir, stats).with_targets(classes, labels)
    if train_cfg.smoothing_table:
        train.smoothing = read_clip_values(args.train_dir, train.utts, train_cfg.smoothing_table,
                                           train_cfg.smoothing_values, train_cfg.label_smoothing,
                                           "smoothing_table")
    if train_cfg.loss_mask:
        train.trusted = read_clip_values(args.train_dir, train.utts, train_cfg.loss_mask_table, {"1": 1.0}, 0.0,
                                         "loss_mask_table")
    if train_cfg.objective == "frames" and os.path.isfile(os.path.join(args.train_dir, FRAME_TARGETS_SCP)):
        train.with_frame_targets(classes)
        log.info("frame targets from %s/%s", args.train_dir, FRAME_TARGETS_SCP)
    if not len(train) or not len(valid):
        raise cli.ToolError(f"no clips in {args.train_dir if not len(train) else args.valid_dir}/feats.scp")
    return classes, train, valid


def load_unlabelled(args, system, frames, train_cfg, train):
    """The ``--unlabelled_dir`` clips for VAT (None without one); refused when VAT is off."""
    if not args.unlabelled_dir:
        return None
    if not VatConfig.from_dict(train_cfg.vat).on:
        raise cli.ToolError(f"--unlabelled_dir {args.unlabelled_dir} is unused: only virtual "
                            f"adversarial training reads unlabelled clips, and training.vat.weight is "
                            f"0; set it (e.g. --training.vat.weight 1.0) or drop --unlabelled_dir")
    unlabelled = FeatureSet(args.unlabelled_dir, cmvn.read(args.cmvn), frames,
                            system["input"].get("crop", "fixed"))
    if not len(unlabelled):
        raise cli.ToolError(f"no clips in {args.unlabelled_dir}/feats.scp")
    if unlabelled.dim != train.dim:
        raise cli.ToolError(f"--unlabelled_dir {args.unlabelled_dir} has {unlabelled.dim}-dim features, "
                            f"{args.train_dir} {train.dim}; make both with the same feature config")
    return unlabelled


def save_exp_dir(args, system, classes, input_section):
    """The self-contained exp dir: resolved config, classes, normalisation statistics."""
    os.makedirs(args.exp_dir, exist_ok=True)
    resolved = {**copy.deepcopy(system), "input": input_section, "classes": classes}
    cfg.save(resolved, os.path.join(args.exp_dir, "config.yaml"))
    write_list(os.path.join(args.exp_dir, "classes.txt"), classes)
    shutil.copyfile(args.cmvn, os.path.join(args.exp_dir, "cmvn.ark"))


def load_init(model, path):
    if not os.path.isfile(path):
        raise cli.ToolError(f"--init {path}: no such file")
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise cli.ToolError(f"--init {path} does not fit the model of this config: "
                            f"{str(e).splitlines()[0]}") from None
    log.info("initialised from %s", path)


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--cmvn", required=True, help="global stats (Kaldi cmvn.ark) of the training set")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--init", default="", help="start from these weights (a final.pt of the same "
                                             "model): fine-tuning, e.g. a label-refinement round")
    p.add_argument("--unlabelled_dir", default="", help="dump dir of unlabelled clips for virtual "
                                                        "adversarial training (training.vat)")
    p.add_argument("train_dir")
    p.add_argument("valid_dir")
    p.add_argument("exp_dir")
    args, system = cli.parse(p, argv, with_config=True)
    torch.set_num_threads(cli.num_threads())
    train_cfg, decode, frames = read_system(args, system)
    classes, train, valid = load_sets(args, system, frames, train_cfg)
    unlabelled = load_unlabelled(args, system, frames, train_cfg, train)
    ctx = distributed.setup(cli.pick_device(args.device))
    log.info("train %d clips, valid %d clips, input %d x %d, %d classes, %d process(es)",
             len(train), len(valid), frames, train.dim, len(classes), ctx.world)
    if unlabelled is not None:
        log.info("unlabelled %d clips (%s) for VAT", len(unlabelled), args.unlabelled_dir)
    input_section = {**system["input"], "frames": frames, "dim": train.dim}
    fixed = {k: v for k, v in system["training"].items() if k not in RESUMABLE_CHANGES}
    optional = [path for path in (args.init, args.unlabelled_dir) if path]
    resume_key = stamp.inputs_hash([args.train_dir, args.valid_dir, args.cmvn] + optional,
                                   {"model": system["model"], "input": input_section,
                                    "training": fixed, "decode": system.get("decode")})
    torch.manual_seed(train_cfg.seed)
    model = build_model(system["model"], train.dim, len(classes), frames)
    if args.init:
        load_init(model, args.init)
    log.info("model %s: %d parameters, device %s", system["model"]["name"],
             sum(p.numel() for p in model.parameters()), ctx.device)

    def progress(items, desc, total):
        if not (args.show_progress and ctx.is_main):
            return items
        return tqdm.tqdm(items, desc=desc, total=total, leave=False)

    trainer = Trainer(model, train_cfg, args.exp_dir, classes, resume_key, frames, decode,
                      is_multi_label(system), ctx, progress)
    if ctx.is_main:
        save_exp_dir(args, system, classes, input_section)
    trainer.resume()
    try:
        trainer.fit(train, valid, unlabelled)
    finally:
        distributed.teardown(ctx)


if __name__ == "__main__":
    cli.run(main)
