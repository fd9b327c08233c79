"""Join decode dirs of disjoint clips into one (the held-out folds of a cross-validation, so that
every development clip is scored by the model that did not train on it).

  python -m dcase_tk.bin.combine_scores exp/3/cnn8/cv exp/3/cnn8/fold{1,2,3}/test

Writes ``score``, ``decision`` and ``classes.txt`` into ``<out-dir>``; the decode dirs must have
the same classes.txt and no clip in common.
"""
import numpy as np

from dcase_tk import cli
from dcase_tk.io.scores import read_decode_dir, write_decode_dir


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("out_dir")
    p.add_argument("decode_dirs", nargs="+", metavar="decode_dir")
    args = cli.parse(p, argv)
    classes, utts, first = read_decode_dir(args.decode_dirs[0])
    parts, seen = [first], {u: args.decode_dirs[0] for u in utts}
    for d in args.decode_dirs[1:]:
        other_classes, other_utts, scores = read_decode_dir(d)
        if other_classes != classes:
            raise cli.ToolError(f"{d}/classes.txt differs from {args.decode_dirs[0]}/classes.txt")
        shared = [u for u in other_utts if u in seen]
        if shared:
            raise cli.ToolError(f"'{shared[0]}' is scored in both {seen[shared[0]]} and {d} "
                                f"({len(shared)} clips in common); combine decode dirs of disjoint sets")
        seen.update((u, d) for u in other_utts)
        utts += other_utts
        parts.append(scores)
    write_decode_dir(args.out_dir, utts, np.concatenate(parts), classes)
    print(f"{args.out_dir}: {len(utts)} clips from {len(args.decode_dirs)} decode dirs")


if __name__ == "__main__":
    cli.run(main)
