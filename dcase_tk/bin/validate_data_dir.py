"""Check a data directory; print '<dir>: OK (N utterances, G groups)' or every problem and exit 1.

Example: utils/validate_data_dir.sh data/train --disjoint-with data/test
"""

from dcase_tk import cli
from dcase_tk.data.validate import validate


def main(argv=None):
    parser = cli.parser(__doc__, prog="validate_data_dir.sh")
    parser.add_argument("data_dir")
    parser.add_argument("--disjoint-with", "--disjoint_with", action="append", default=[], metavar="DIR",
                        help="a data dir that must share no group (utt2spk value) with data_dir; repeatable")
    args = cli.parse(parser, argv)
    data = validate(args.data_dir, args.disjoint_with)
    print(f"{args.data_dir}: OK ({len(data.utts)} utterances, {len(set(data.groups().values()))} groups)")


if __name__ == "__main__":
    cli.run(main)
