"""Split a data directory into <dir>/split<N>/{1..N}, keeping each group (utt2spk value) whole.

Jobs are balanced by utterance count; re-running is a no-op while the split is newer than the
data. Example: utils/split_data.sh data/train 4
"""
import argparse
import logging
import sys

from dcase_tk.data.safety import DataDirError
from dcase_tk.data.split import split_data


def main(argv=None):
    parser = argparse.ArgumentParser(prog="split_data.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir")
    parser.add_argument("num_jobs", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        split_data(args.data_dir, args.num_jobs)
    except DataDirError as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
