"""Split a data directory into <dir>/split<N>/{1..N}, keeping each group (utt2spk value) whole.

Jobs are balanced by utterance count; re-running is a no-op while the split is newer than the
data. Example: utils/split_data.sh data/train 4
"""

from dcase_tk import cli
from dcase_tk.data.split import split_data


def main(argv=None):
    parser = cli.parser(__doc__, prog="split_data.sh")
    parser.add_argument("data_dir")
    parser.add_argument("num_jobs", type=int)
    args = cli.parse(parser, argv)
    split_data(args.data_dir, args.num_jobs)


if __name__ == "__main__":
    cli.run(main)
