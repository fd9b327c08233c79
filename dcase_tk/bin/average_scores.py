"""Average the posteriors of several decode dirs of the same clips (the fold models of a
cross-validated system on the test set, as Jeong & Lim's and Iqbal et al.'s fold ensembles).

  python -m dcase_tk.bin.average_scores --how mean exp/2/cnn8/test exp/2/cnn8/fold{1,2,3,4}/test

``--how mean`` (arithmetic), ``gmean`` (geometric, renormalised to sum to one per clip) or
``max``.
Writes ``score``, ``decision`` and ``classes.txt`` into ``<out-dir>``.
"""
import torch

from dcase_tk import cli
from dcase_tk.decode.combine import AGGREGATES, aggregate
from dcase_tk.io.scores import read_aligned_decode_dirs, write_decode_dir
from dcase_tk.io.table import TableError


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--how", default="mean", choices=AGGREGATES)
    p.add_argument("out_dir")
    p.add_argument("decode_dirs", nargs="+", metavar="decode_dir")
    args = cli.parse(p, argv)
    try:
        classes, utts, scores = read_aligned_decode_dirs(args.decode_dirs)
    except TableError as e:
        raise cli.ToolError(str(e)) from None
    write_decode_dir(args.out_dir, utts, aggregate(torch.from_numpy(scores), args.how).numpy(), classes)


if __name__ == "__main__":
    cli.run(main)
