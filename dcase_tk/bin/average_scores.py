"""Average the posteriors of several decode dirs of the same clips (the fold models of a
cross-validated system on the test set, as Jeong & Lim's and Iqbal et al.'s fold ensembles).

  python -m dcase_tk.bin.average_scores --how mean exp/2/cnn8/test exp/2/cnn8/fold{1,2,3,4}/test

``--how mean`` (arithmetic), ``gmean`` (geometric, renormalised to sum to one per clip) or
``max``.
Writes ``score``, ``decision`` and ``classes.txt`` into ``<out-dir>``.
"""
import numpy as np
import torch

from dcase_tk import cli
from dcase_tk.decode.combine import AGGREGATES, aggregate
from dcase_tk.io.scores import read_decode_dir, write_decode_dir


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--how", default="mean", choices=AGGREGATES)
    p.add_argument("out_dir")
    p.add_argument("decode_dirs", nargs="+", metavar="decode_dir")
    args = cli.parse(p, argv)
    classes, utts, first = read_decode_dir(args.decode_dirs[0])
    matrices = [first]
    for d in args.decode_dirs[1:]:
        other_classes, other_utts, scores = read_decode_dir(d)
        if other_classes != classes:
            raise cli.ToolError(f"{d}/classes.txt differs from {args.decode_dirs[0]}/classes.txt")
        if set(other_utts) != set(utts):
            raise cli.ToolError(f"{d}/score and {args.decode_dirs[0]}/score list different clips; "
                                "decode the same data dir in each")
        row = {u: i for i, u in enumerate(other_utts)}
        matrices.append(scores[[row[u] for u in utts]])
    write_decode_dir(args.out_dir, utts, aggregate(torch.from_numpy(np.stack(matrices)), args.how).numpy(), classes)


if __name__ == "__main__":
    cli.run(main)
