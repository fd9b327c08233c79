"""Score-level fusion of systems (docs/fusion.md): fit a fusion method on the members' decode dirs
of the validation or out-of-fold set, save it, and apply it to the members' decode dirs of other
sets, giving decode dirs that score like any other system's.

  python -m dcase_tk.bin.fuse_scores --config conf/fusion/weighted.yaml \\
      --fit_data data/1a/train_cv --apply_sets test exp/1a exp/1a/fusion_weighted

The config (conf/fusion/<name>.yaml; --key value overrides it: --method gmean, --options.C 0.5,
--fit_on cv) lists the members (systems under <exp-dir>), the method and its options, and
fit_on, the set fitted on. Member decode dirs are <exp-dir>/<member>/<set>/{score,classes.txt}.

Writes <fusion-dir>/config.yaml (the resolved config), <fusion-dir>/model/ (fusion.json, the
fitted arrays or text, fit_utts: the clips fitted on) and <fusion-dir>/<set>/{score,decision,
classes.txt} for each --apply_sets set. --mode fit only fits and saves (the apply sets are
still checked against the fit set); --mode apply loads <fusion-dir>/model and applies it (a
--config then has to agree with the model).

Fitting needs --fit_data: the data dir of the fit set (utt2label, or utt2labels with
options.multi_label true, and classes.txt), with exactly the clips of the decode dirs.
It is refused (dcase_tk/fusion/guard.py) when fit_on or the --fit_data dir's name matches
--test_sets or --train_sets, or the fit set is, or shares a clip with, an apply set: fit on
validation or out-of-fold predictions. The fixed rules (mean, gmean, rank, vote) fit nothing.
"""
import logging
import os

import numpy as np

from dcase_tk import cli, config as cfg
from dcase_tk.fusion import (TEST_SETS, TRAIN_SETS, FitSetError, FusionConfig, FusionError,
                             check_disjoint, check_fit_set, load, save)
from dcase_tk.io.scores import read_aligned_decode_dirs, write_decode_dir
from dcase_tk.io.table import TableError, read_list, read_table, write_list

log = logging.getLogger("dcase_tk.fuse_scores")
MODEL = "model"


def read_members(exp_dir, members, set_name):
    """``(classes, utts, (M, N, C) scores)`` of ``<exp_dir>/<member>/<set_name>`` for each member,
    rows in the first member's order; TableError naming the file when classes or clips differ."""
    dirs = [os.path.join(exp_dir, m, set_name) for m in members]
    for member, d in zip(members, dirs):
        if not os.path.isfile(os.path.join(d, "score")):
            raise cli.ToolError(f"{d}/score does not exist: decode set '{set_name}' with member "
                                f"system '{member}' first (inference, stage 7)")
    return read_aligned_decode_dirs(dirs)


def read_labels(data_dir, classes, utts, decode_dir, multi_label):
    """The labels of ``utts`` from ``data_dir``: ``(N,)`` class indices from utt2label, or with
    ``multi_label`` an ``(N, C)`` 0/1 matrix from utt2labels."""
    classes_file = os.path.join(data_dir, "classes.txt")
    if not os.path.isfile(classes_file):
        raise cli.ToolError(f"{classes_file} does not exist: the fit data dir needs the class list "
                            "(written at data prep, stage 1)")
    if read_list(classes_file) != classes:
        raise cli.ToolError(f"{classes_file} differs from {decode_dir}/classes.txt: the decode dirs "
                            "score other classes than the fit data dir's; decode that data dir")
    name = "utt2labels" if multi_label else "utt2label"
    path = os.path.join(data_dir, name)
    if not os.path.isfile(path):
        raise cli.ToolError(f"{path} does not exist: fitting needs the labels of the fit set")
    table = read_table(path)
    missing, extra = sorted(set(utts) - set(table)), sorted(set(table) - set(utts))
    if missing or extra:
        raise cli.ToolError(f"{path} and {decode_dir}/score list different clips ({len(missing)} "
                            f"without a label, e.g. {missing[:3]}; {len(extra)} not decoded, e.g. "
                            f"{extra[:3]}); decode exactly the clips of {data_dir}")
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({lab for u in utts for lab in table[u].split() if lab not in index})
    if unknown:
        raise cli.ToolError(f"{path}: labels {unknown[:5]} are not in {classes_file}")
    if not multi_label:
        return np.array([index[table[u]] for u in utts], dtype=np.int64)
    labels = np.zeros((len(utts), len(classes)), dtype=np.int64)
    for n, u in enumerate(utts):
        labels[n, [index[lab] for lab in table[u].split()]] = 1
    return labels


def check_set_names(names):
    for name in names:
        parts = os.path.normpath(name).split(os.sep)
        if os.path.isabs(name) or ".." in parts or parts[0] in (MODEL, "log"):
            raise cli.ToolError(f"set name '{name}': give a decode dir name under each member system, "
                                f"like test or fold1/test (not absolute, no '..', not '{MODEL}' or 'log')")


def read_fit_sets(exp_dir, config, test_sets, train_sets):
    """``(classes, utts, (M, N, C) scores)`` of the fit sets pooled (each checked by the refusal
    rule); TableError when they score different classes or share a clip."""
    pooled = []
    for set_name in config.fit_sets:
        check_fit_set(set_name, test_sets, train_sets)
        pooled.append((set_name, read_members(exp_dir, config.members, set_name)))
    (first, (classes, _, _)), seen = pooled[0], {}
    for set_name, (other_classes, utts, _) in pooled:
        if other_classes != classes:
            raise TableError(f"{exp_dir}/{config.members[0]}/{set_name}/classes.txt differs from "
                             f"that of {first}: pooled fit sets must score the same classes")
        for utt in utts:
            if seen.setdefault(utt, set_name) != set_name:
                raise TableError(f"clip '{utt}' is in both fit sets {seen[utt]} and {set_name}: "
                                 "pool disjoint sets (the held-out clips of different folds)")
    utts = [u for _, (_, set_utts, _) in pooled for u in set_utts]
    return classes, utts, np.concatenate([scores for _, (_, _, scores) in pooled], axis=1)


def fit(args, config, test_sets, train_sets, apply_data):
    """Fit ``config``'s method, save it to the model dir; returns the fitted fuser and info."""
    fuser = config.fuser()
    info = {"members": config.members, "classes": None, "fit": None}
    fit_utts = []
    if fuser.FITTED:
        if not config.fit_sets:
            check_fit_set(config.fit_on, test_sets, train_sets)
        if not args.fit_data:
            raise cli.ToolError(f"method {fuser.name} fits parameters: give --fit_data, the data dir "
                                f"of the fit set '{config.fit_on}' (its labels)")
        check_fit_set(os.path.basename(os.path.normpath(args.fit_data)), test_sets, train_sets,
                      what="fit data dir")
        classes, fit_utts, scores = read_fit_sets(args.exp_dir, config, test_sets, train_sets)
        check_disjoint(config.fit_on, fit_utts, {s: utts for s, (_, utts, _) in apply_data.items()})
        decode_dir = os.path.join(args.exp_dir, config.members[0], config.fit_sets[0])
        labels = read_labels(args.fit_data, classes, fit_utts, decode_dir, fuser.multi_label)
        log.info("fitting %s fusion of %s on %s (%d clips)", fuser.name, " ".join(config.members),
                 config.fit_on, len(fit_utts))
        fuser.fit(scores, labels, config.fit_on, test_sets, train_sets)
        info.update(classes=classes, fit={"set": config.fit_on, "data": args.fit_data,
                                          "n_clips": len(fit_utts)})
    save(args.model_dir, fuser, info)
    write_list(os.path.join(args.model_dir, "fit_utts"), fit_utts)
    cfg.save(config.to_dict(), os.path.join(args.model_dir, "config.yaml"))
    return fuser, info


def load_model(args, resolved):
    """The fitted fuser and its info from <fusion-dir>/model; a given config must agree with it."""
    model_dir = args.model_dir
    fuser, info = load(model_dir)
    if resolved:
        config = FusionConfig.from_dict(resolved, args.config or "the fusion config", require_fit_on=False)
        if (config.members, config.method, config.options) != (info.get("members"), fuser.name, fuser.options):
            raise cli.ToolError(f"{model_dir} was fitted with members {info.get('members')}, method "
                                f"{fuser.name} and options {fuser.options}, not those of the config; "
                                "fit again (--mode fit or both)")
    return fuser, info


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--mode", default="both", choices=["both", "fit", "apply"])
    p.add_argument("--fit_data", default="", help="data dir of the fit set: utt2label (or utt2labels) "
                                                  "and classes.txt")
    p.add_argument("--apply_sets", default="", help="space-separated decode dir names to fuse, e.g. 'test'")
    p.add_argument("--test_sets", default=" ".join(TEST_SETS),
                   help="set-name patterns never fitted on (shell-style, matched on the last component)")
    p.add_argument("--train_sets", default=" ".join(TRAIN_SETS),
                   help="set-name patterns of the members' training sets, never fitted on")
    p.add_argument("exp_dir", help="where the member systems are: <exp-dir>/<member>/<set>/score")
    p.add_argument("--model_dir", default="", help="where the fitted fusion is saved and loaded "
                                                   "from; default: <fusion-dir>/model")
    p.add_argument("fusion_dir", help="output: a decode dir per apply set (and model/)")
    args, resolved = cli.parse(p, argv, with_config=True)
    args.model_dir = args.model_dir or os.path.join(args.fusion_dir, MODEL)
    test_sets, train_sets = args.test_sets.split(), args.train_sets.split()
    apply_sets = args.apply_sets.split()
    check_set_names(apply_sets)
    try:
        if args.mode == "apply":
            fuser, info = load_model(args, resolved)
            apply_data = {s: read_members(args.exp_dir, info["members"], s) for s in apply_sets}
            if fuser.FITTED:
                fit_utts = read_list(os.path.join(args.model_dir, "fit_utts"))
                check_disjoint(info["fit"]["set"], fit_utts,
                               {s: utts for s, (_, utts, _) in apply_data.items()})
        else:
            config = FusionConfig.from_dict(resolved, args.config or "the fusion config")
            check_set_names(config.fit_sets)
            apply_data = {s: read_members(args.exp_dir, config.members, s) for s in apply_sets}
            fuser, info = fit(args, config, test_sets, train_sets, apply_data)
            if args.mode == "fit":
                return
        for set_name, (classes, utts, scores) in apply_data.items():
            if info["classes"] not in (None, classes):
                raise cli.ToolError(f"{args.exp_dir}/{info['members'][0]}/{set_name}/classes.txt "
                                    f"differs from the classes the fusion was fitted on "
                                    f"({args.model_dir}/fusion.json)")
            out = os.path.join(args.fusion_dir, set_name)
            write_decode_dir(out, utts, fuser.apply(scores), classes)
            log.info("%s fusion of %s on %s (%d clips) -> %s", fuser.name, " ".join(info["members"]),
                     set_name, len(utts), out)
    except (FitSetError, FusionError, TableError) as e:
        raise cli.ToolError(str(e)) from None


if __name__ == "__main__":
    cli.run(main)
