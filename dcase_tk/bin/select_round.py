"""Keep the best of a system's training rounds: link its model files into the fold's exp dir.

  python -m dcase_tk.bin.select_round --metric loss exp/2/self_verification/fold1 \\
      exp/2/self_verification/fold1/round{0,1,2}

Reads each round's ``final.json`` (written with its final.pt: the kept epoch's validation
metrics), picks the round whose ``--metric`` is best (the earliest on a tie), and makes
``final.pt``, ``config.yaml``, ``cmvn.ark``, ``classes.txt`` and ``final.json`` of ``<exp-dir>``
relative links to that round's, so inference reads ``<exp-dir>`` like any trained system. Writes
``<exp-dir>/rounds.txt`` (every round's value, the kept one marked).
"""
import json
import math
import os

from dcase_tk import cli
from dcase_tk.io.atomic import write_text
from dcase_tk.train.metrics import METRICS

LINKED = ("final.pt", "config.yaml", "cmvn.ark", "classes.txt", "final.json")


def round_value(round_dir, metric):
    path = os.path.join(round_dir, "final.json")
    if not os.path.isfile(path):
        raise cli.ToolError(f"{path} not found: round {round_dir} has not finished training")
    with open(path, encoding="utf-8") as f:
        valid = json.load(f)["valid"]
    value = valid.get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise cli.ToolError(f"{path}: no validation {metric} (has {', '.join(sorted(valid))})")
    return value


def best_round(values, metric):
    """Index of the best value (the first of equal ones)."""
    sign = 1 if METRICS[metric] else -1
    return max(range(len(values)), key=lambda i: (sign * values[i], -i))


def link(target, name):
    """``name`` -> ``target`` (relative), replaced atomically."""
    tmp = f"{name}.tmp{os.getpid()}"
    os.symlink(os.path.relpath(target, os.path.dirname(name)), tmp)
    os.replace(tmp, name)


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--metric", default="loss", choices=sorted(METRICS))
    p.add_argument("exp_dir")
    p.add_argument("round_dirs", nargs="+", metavar="round_dir")
    args = cli.parse(p, argv)
    values = [round_value(d, args.metric) for d in args.round_dirs]
    best = best_round(values, args.metric)
    for name in LINKED:
        link(os.path.join(args.round_dirs[best], name), os.path.join(args.exp_dir, name))
    lines = [f"{'*' if i == best else ' '} {d} valid {args.metric} {v:.4f}"
             for i, (d, v) in enumerate(zip(args.round_dirs, values))]
    write_text(os.path.join(args.exp_dir, "rounds.txt"), "\n".join(lines) + "\n")
    print(f"{args.exp_dir}: kept {args.round_dirs[best]} (valid {args.metric} {values[best]:.4f})")


if __name__ == "__main__":
    cli.run(main)
