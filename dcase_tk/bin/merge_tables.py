"""Merge the per-job tables of a parallel step (e.g. ``ivector.1.scp`` .. ``ivector.4.scp``) into
one sorted table, written atomically; with ``--expect``, check the keys are exactly those of
another table (every utterance of the input, no more).

  python -m dcase_tk.bin.merge_tables --expect dump/x/test/feats.scp exp/x/ivectors_test/ivector.scp exp/x/ivectors_test/ivector.*.scp
"""
from dcase_tk import cli
from dcase_tk.io.table import read_table, write_table


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--expect", help="a table whose keys the merged one must have")
    p.add_argument("out")
    p.add_argument("tables", nargs="+")
    args = cli.parse(p, argv)
    merged, origin = {}, {}
    for path in args.tables:
        for key, value in read_table(path).items():
            if key in merged:
                raise cli.ToolError(f"'{key}' is in both {origin[key]} and {path}")
            merged[key], origin[key] = value, path
    if args.expect:
        expected = set(read_table(args.expect))
        missing, extra = sorted(expected - set(merged)), sorted(set(merged) - expected)
        if missing or extra:
            raise cli.ToolError(f"the merged tables have {len(missing)} key(s) of {args.expect} missing "
                                f"(e.g. {missing[:3]}) and {len(extra)} extra (e.g. {extra[:3]}); "
                                "were the jobs made from another split or did one fail?")
    write_table(args.out, merged)


if __name__ == "__main__":
    cli.run(main)
