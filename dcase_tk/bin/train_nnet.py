"""Train a clip classifier from a system config.

  python -m dcase_tk.bin.train_nnet --config conf/systems/baseline.yaml \\
      --cmvn dump/1a/logmel40_48k/train_tr/cmvn.ark \\
      dump/1a/logmel40_48k/train_tr dump/1a/logmel40_48k/train_cv exp/1a/baseline [--training.epochs 30]

Writes into the exp dir: config.yaml (resolved, with classes and input size), classes.txt,
cmvn.ark (so the dir is self-contained for inference), checkpoints/epoch_NNNN.pt, history.csv,
curves.png and final.pt (the state dict of the kept epoch). A re-run resumes from the last
checkpoint made with the same inputs and config (the number of epochs and the patience may change).
"""
import copy
import logging
import os
import shutil

import torch

from dcase_tk import cli, config as cfg, stamp
from dcase_tk.features import cmvn
from dcase_tk.io.table import write_list
from dcase_tk.nnet import build_model
from dcase_tk.train.data import load_clips, read_classes
from dcase_tk.train.trainer import Trainer, TrainConfig

log = logging.getLogger("dcase_tk.train_nnet")

# training options that may change between a run and its resumption
RESUMABLE_CHANGES = ("epochs", "patience", "keep_checkpoints")


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--cmvn", required=True, help="global stats (Kaldi cmvn.ark) of the training set")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("train_dir")
    p.add_argument("valid_dir")
    p.add_argument("exp_dir")
    args, system = cli.parse(p, argv, with_config=True)
    torch.set_num_threads(cli.num_threads())
    for key in ("model", "training"):
        if not isinstance(system.get(key), dict):
            raise cli.ToolError(f"the system config needs a '{key}:' section ({args.config})")
    try:
        train_cfg = TrainConfig.from_dict(system["training"])
    except ValueError as e:
        raise cli.ToolError(f"{args.config}: {e}") from None
    frames = int(cfg.get_dotted(system, "input.frames", 500))

    classes = read_classes(args.train_dir)
    if read_classes(args.valid_dir) != classes:
        raise cli.ToolError(f"classes.txt of {args.train_dir} and {args.valid_dir} differ")
    stats = cmvn.read(args.cmvn)
    x_train, y_train, _ = load_clips(args.train_dir, stats, frames, classes)
    x_valid, y_valid, _ = load_clips(args.valid_dir, stats, frames, classes)
    log.info("train %d clips, valid %d clips, input %d x %d, %d classes", len(x_train),
             len(x_valid), frames, x_train.shape[2], len(classes))

    os.makedirs(args.exp_dir, exist_ok=True)
    resolved = copy.deepcopy(system)
    resolved["input"] = {**system.get("input", {}), "frames": frames, "dim": int(x_train.shape[2])}
    resolved["classes"] = classes
    cfg.save(resolved, os.path.join(args.exp_dir, "config.yaml"))
    write_list(os.path.join(args.exp_dir, "classes.txt"), classes)
    shutil.copyfile(args.cmvn, os.path.join(args.exp_dir, "cmvn.ark"))

    fixed = {k: v for k, v in system["training"].items() if k not in RESUMABLE_CHANGES}
    resume_key = stamp.inputs_hash([args.train_dir, args.valid_dir, args.cmvn],
                                   {"model": system["model"], "input": resolved["input"], "training": fixed})
    device = cli.pick_device(args.device)
    torch.manual_seed(train_cfg.seed)
    model = build_model(system["model"], x_train.shape[2], len(classes), frames)
    log.info("model %s: %d parameters, device %s", system["model"]["name"],
             sum(p.numel() for p in model.parameters()), device)
    trainer = Trainer(model, train_cfg, args.exp_dir, classes, device, resume_key)
    trainer.resume()
    trainer.fit(x_train, y_train, x_valid, y_valid)


if __name__ == "__main__":
    cli.run(main)
