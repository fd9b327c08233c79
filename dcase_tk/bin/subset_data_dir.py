"""Copy the selected utterances of a data directory to a new one.

Criteria combine (all must hold); --first applies last, in byte order of utterance id.
Examples:
  utils/subset_data_dir.sh --utt-list exp/x/utts data/train data/train_x
  utils/subset_data_dir.sh --filter utt2device a data/train data/train_a
  utils/subset_data_dir.sh --first 100 data/train data/train_100
"""
import argparse
import logging
import sys

from dcase_tk.data.safety import DataDirError
from dcase_tk.data.split import subset_data_dir


def main(argv=None):
    parser = argparse.ArgumentParser(prog="subset_data_dir.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src")
    parser.add_argument("dest")
    parser.add_argument("--utt-list", "--utt_list", metavar="FILE",
                        help="keep the utterances in the first column of FILE")
    parser.add_argument("--first", type=int, metavar="N", help="keep the first N utterances")
    parser.add_argument("--filter", nargs=2, action="append", default=[], metavar=("FILE", "VALUE"),
                        help="keep utterances whose value in per-utterance FILE is VALUE; repeat it to "
                             "allow several values of one file (or), or to filter on several files (and)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    filters = {}
    for name, value in args.filter:
        filters.setdefault(name, []).append(value)
    try:
        n = subset_data_dir(args.src, args.dest, utt_list=args.utt_list, first=args.first, filters=filters)
    except DataDirError as e:
        sys.exit(str(e))
    print(f"{args.dest}: {n} utterances from {args.src}")


if __name__ == "__main__":
    main()
