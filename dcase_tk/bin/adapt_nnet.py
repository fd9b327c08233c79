"""Adapt a trained system to new recording devices without their labels: adversarial domain
adaptation (ADDA with the label classifier kept, Gharib et al.; dcase_tk/train/adversarial.py).

  python -m dcase_tk.bin.adapt_nnet --config conf/systems/adv_da.yaml --init exp/1b/baseline/final.pt \\
      dump/1b/logmel40_44k/train_deva_tr dump/1b/logmel40_44k/train_deva_cv \\
      dump/1b/logmel40_44k/train_target_tr dump/1b/logmel40_44k/train_target_cv exp/1b/adv_da \\
      [--adapt.epochs 50]

``--init`` is the source system's ``final.pt``; its exp dir gives the model, input, decoding and
classes (``config.yaml``) and the normalisation statistics (``cmvn.ark``), which the adapted model
keeps. The config's ``adapt:`` section holds the options (see AdaptConfig); ``adapt.from`` (the
source system's name, for the recipe) is recorded only. The dump dirs are: the labelled source
training and validation sets, the target training set (clips of ``adapt.target_devices`` by its
``utt2device``; its labels are never read) and the target validation set (held-out target clips
whose labels are read only to score each epoch and, with ``select_on: target``, to choose it).

Writes a normal exp dir, so steps/infer.sh uses it unchanged: config.yaml (the source's, with
this config's description, ``adapt:`` and ``published:``), classes.txt, cmvn.ark,
checkpoints/epoch_NNNN.pt, history.csv, curves.png, final.json (the kept epoch, its validation
figures and the unadapted model's) and final.pt (the state dict of the adapted model: M_T's
encoder with the kept classifier). A re-run resumes from the last checkpoint made with the same
inputs and config (adapt.epochs and adapt.patience may change).
"""
import copy
import logging
import os
import shutil

import torch
import tqdm

from dcase_tk import cli, config as cfg, stamp
from dcase_tk.decode.infer import DecodeConfig
from dcase_tk.features import cmvn
from dcase_tk.io.atomic import atomic_path
from dcase_tk.io.table import read_table, write_list
from dcase_tk.nnet import build_model
from dcase_tk.train.adversarial import RESUMABLE_CHANGES, AdaptConfig, AdversarialAdapter
from dcase_tk.train.data import FeatureSet, read_classes

log = logging.getLogger("dcase_tk.adapt_nnet")
RECIPE_KEYS = ("from", "init")  # adapt: keys recorded for people and the recipe, not the trainer


def read_source(init):
    """The source exp dir's resolved config and the paths of its weights and statistics."""
    if not os.path.isfile(init):
        raise cli.ToolError(f"--init {init}: no such file; train the source system first "
                            "(steps/train_nnet.sh, or the recipe's stage 6 with the source in --systems)")
    source_dir = os.path.dirname(os.path.abspath(init))
    paths = {name: os.path.join(source_dir, name) for name in ("config.yaml", "cmvn.ark")}
    for name, path in paths.items():
        if not os.path.isfile(path):
            raise cli.ToolError(f"--init {init}: {path} not found; --init must be the final.pt of a "
                                "system's exp dir (written by steps/train_nnet.sh)")
    source = cfg.load_yaml(paths["config.yaml"])
    for key in ("model", "input", "classes"):
        if key not in source:
            raise cli.ToolError(f"{paths['config.yaml']} has no '{key}:'; is it a trained system's config?")
    return source, paths["cmvn.ark"]


def read_adapt(args, system, source):
    section = system.get("adapt")
    if not isinstance(section, dict):
        raise cli.ToolError(f"the config needs an 'adapt:' section ({args.config})")
    options = {k: v for k, v in section.items() if k not in RECIPE_KEYS}
    try:
        adapt = AdaptConfig.from_dict(options)
        decode = DecodeConfig.from_dict(source.get("decode"))
    except ValueError as e:
        raise cli.ToolError(f"{args.config}: {e}") from None
    if system.get("features") and source.get("features") and system["features"] != source["features"]:
        raise cli.ToolError(f"{args.config} names features '{system['features']}', the source system "
                            f"(--init {args.init}) was trained on '{source['features']}'")
    return adapt, decode


def target_devices(target, feat_dir, adapt):
    """One list of clip indices per target device, from ``<feat_dir>/<adapt.device_table>``."""
    path = os.path.join(feat_dir, adapt.device_table)
    if not os.path.isfile(path):
        raise cli.ToolError(f"{path} not found: the target set needs each clip's device "
                            f"(adapt.device_table) to balance its batches over adapt.target_devices")
    table = read_table(path)
    devices = [[i for i, u in enumerate(target.utts) if table.get(u) == d] for d in adapt.target_devices]
    missing = [d for d, indices in zip(adapt.target_devices, devices) if not indices]
    if missing:
        found = sorted(set(table.get(u, "?") for u in target.utts))
        raise cli.ToolError(f"{feat_dir}: no clips of target device(s) {missing} "
                            f"(adapt.target_devices {adapt.target_devices}; its devices: {found})")
    return devices


def load_sets(args, source, stats, adapt):
    classes = source["classes"]
    frames, crop = source["input"]["frames"], source["input"].get("crop", "fixed")
    labels = source["input"].get("labels", "auto")
    for d in (args.source_train, args.source_valid, args.target_valid):
        if read_classes(d) != classes:
            raise cli.ToolError(f"classes.txt of {d} differs from the source system's classes")
    source_train = FeatureSet(args.source_train, stats, frames, crop).with_targets(classes, labels)
    source_valid = FeatureSet(args.source_valid, stats).with_targets(classes, labels)
    target_train = FeatureSet(args.target_train, stats, frames, crop)          # no labels read
    target_train.devices = target_devices(target_train, args.target_train, adapt)
    target_valid = FeatureSet(args.target_valid, stats).with_targets(classes, labels)
    for name, s in (("source_train", source_train), ("source_valid", source_valid),
                    ("target_train", target_train), ("target_valid", target_valid)):
        if not len(s):
            raise cli.ToolError(f"no clips in {getattr(args, name)}/feats.scp")
        if s.dim != source["input"]["dim"]:
            raise cli.ToolError(f"{getattr(args, name)}: features have {s.dim} dims, the source model "
                                f"was trained on {source['input']['dim']}; were they made with the same "
                                "feature config?")
    used = sum(len(d) for d in target_train.devices)
    if used < len(target_train):
        log.info("target set: %d of its %d clips are of devices %s", used, len(target_train),
                 " ".join(adapt.target_devices))
    return source_train, source_valid, target_train, target_valid


def save_exp_dir(args, system, source, source_cmvn):
    """The self-contained exp dir: the source's resolved config with this system's description,
    adapt: and published: sections; its classes and normalisation statistics."""
    os.makedirs(args.exp_dir, exist_ok=True)
    resolved = {k: copy.deepcopy(v) for k, v in source.items() if k not in ("mini_corpus", "published")}
    for key in ("description", "published"):
        if key in system:
            resolved[key] = copy.deepcopy(system[key])
    resolved["adapt"] = {**copy.deepcopy(system["adapt"]), "init": args.init}
    cfg.save(resolved, os.path.join(args.exp_dir, "config.yaml"))
    write_list(os.path.join(args.exp_dir, "classes.txt"), source["classes"])
    with atomic_path(os.path.join(args.exp_dir, "cmvn.ark")) as tmp:
        shutil.copyfile(source_cmvn, tmp)


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--init", required=True, help="the source system's final.pt (its exp dir holds "
                                                 "config.yaml and cmvn.ark)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("source_train")
    p.add_argument("source_valid")
    p.add_argument("target_train", help="unlabelled clips of the target devices (utt2device)")
    p.add_argument("target_valid", help="held-out labelled target clips: scored each epoch, and "
                                        "with adapt.select_on target they choose the kept epoch")
    p.add_argument("exp_dir")
    args, system = cli.parse(p, argv, with_config=True)
    torch.set_num_threads(cli.num_threads())
    source, source_cmvn = read_source(args.init)
    adapt, decode = read_adapt(args, system, source)
    stats = cmvn.read(source_cmvn)
    sets = load_sets(args, source, stats, adapt)
    device = cli.pick_device(args.device)
    log.info("source %d + %d clips, target %d + %d clips (devices %s), %s", len(sets[0]), len(sets[1]),
             len(sets[2]), len(sets[3]), " ".join(adapt.target_devices), device)
    save_exp_dir(args, system, source, source_cmvn)
    fixed = {k: v for k, v in system["adapt"].items() if k not in RESUMABLE_CHANGES}
    resume_key = stamp.inputs_hash([args.source_train, args.source_valid, args.target_train, args.target_valid,
                                    args.init, source_cmvn],
                                   {"adapt": fixed, "model": source["model"], "input": source["input"],
                                    "decode": source.get("decode")})
    frames = source["input"]["frames"]
    model = build_model(source["model"], source["input"]["dim"], len(source["classes"]), frames)
    try:
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    except RuntimeError as e:
        raise cli.ToolError(f"--init {args.init} does not fit the model of its config.yaml: "
                            f"{str(e).splitlines()[0]}") from None
    training = source.get("training") or {}
    loss = (training.get("loss", "cross_entropy"), training.get("loss_options") or {})

    def progress(items, desc, total):
        return tqdm.tqdm(items, desc=desc, total=total, leave=False) if args.show_progress else items

    example = sets[0][(0, 0)]["x"][None]
    try:
        adapter = AdversarialAdapter(model, adapt, args.exp_dir, resume_key, frames, decode, example, loss,
                                     device, progress)
    except ValueError as e:
        raise cli.ToolError(f"{args.init}: {e}") from None
    adapter.resume()
    adapter.fit(*sets)


if __name__ == "__main__":
    cli.run(main)
