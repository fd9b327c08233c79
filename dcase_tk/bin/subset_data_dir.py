"""Copy the selected utterances of a data directory to a new one.

Criteria combine (all must hold); --first applies last, in byte order of utterance id.
Examples:
  utils/subset_data_dir.sh --utt-list exp/x/utts data/train data/train_x
  utils/subset_data_dir.sh --filter utt2device a data/train data/train_a
  utils/subset_data_dir.sh --exclude utt2fold 1 data/train data/fold1_tr
  utils/subset_data_dir.sh --first 100 data/train data/train_100
"""

from dcase_tk import cli
from dcase_tk.data.split import subset_data_dir


def _by_file(pairs):
    """``[(file, value), ...]`` -> ``{file: [values]}``."""
    out = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def main(argv=None):
    parser = cli.parser(__doc__, prog="subset_data_dir.sh")
    parser.add_argument("src")
    parser.add_argument("dest")
    parser.add_argument("--utt-list", "--utt_list", metavar="FILE",
                        help="keep the utterances in the first column of FILE")
    parser.add_argument("--first", type=int, metavar="N", help="keep the first N utterances")
    parser.add_argument("--filter", nargs=2, action="append", default=[], metavar=("FILE", "VALUE"),
                        help="keep utterances whose value in per-utterance FILE is VALUE; repeat it to "
                             "allow several values of one file (or), or to filter on several files (and)")
    parser.add_argument("--exclude", nargs=2, action="append", default=[], metavar=("FILE", "VALUE"),
                        help="drop utterances whose value in per-utterance FILE is VALUE (repeatable)")
    args = cli.parse(parser, argv)
    n = subset_data_dir(args.src, args.dest, utt_list=args.utt_list, first=args.first,
                        filters=_by_file(args.filter), excludes=_by_file(args.exclude))
    print(f"{args.dest}: {n} utterances from {args.src}")


if __name__ == "__main__":
    cli.run(main)
