"""Write the union of several data directories; utterance ids must not repeat across them.

Example: utils/combine_data.sh data/train_all data/train_a data/train_bc
"""
import argparse
import logging
import sys

from dcase_tk.data.safety import DataDirError
from dcase_tk.data.split import combine_data


def main(argv=None):
    parser = argparse.ArgumentParser(prog="combine_data.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest")
    parser.add_argument("srcs", nargs="+", metavar="src")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        combined = combine_data(args.dest, args.srcs)
    except DataDirError as e:
        sys.exit(str(e))
    print(f"{args.dest}: {len(combined.utts)} utterances from {len(args.srcs)} directories")


if __name__ == "__main__":
    main()
