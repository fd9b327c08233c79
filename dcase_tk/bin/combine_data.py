"""Write the union of several data directories; utterance ids must not repeat across them.

Example: utils/combine_data.sh data/train_all data/train_a data/train_bc
"""

from dcase_tk import cli
from dcase_tk.data.split import combine_data


def main(argv=None):
    parser = cli.parser(__doc__, prog="combine_data.sh")
    parser.add_argument("dest")
    parser.add_argument("srcs", nargs="+", metavar="src")
    args = cli.parse(parser, argv)
    combined = combine_data(args.dest, args.srcs)
    print(f"{args.dest}: {len(combined.utts)} utterances from {len(args.srcs)} directories")


if __name__ == "__main__":
    cli.run(main)
