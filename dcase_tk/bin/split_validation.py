"""Hold out whole groups (utt2spk values, e.g. recording locations) as a validation set.

About --fraction of each stratum (the combination of the --strata files' values) goes to
validation, at least one group of each stratum stays in train, and the same --seed gives the
same split. --groups utt holds out single utterances whatever their group (Task 3, whose
groups are whole datasets). Example:
  utils/split_validation.sh --fraction 0.3 --strata "utt2label utt2city" data/train data/tr data/cv
"""

from dcase_tk import cli
from dcase_tk.data.split import split_validation


def main(argv=None):
    parser = cli.parser(__doc__, prog="split_validation.sh")
    parser.add_argument("src")
    parser.add_argument("out_train")
    parser.add_argument("out_valid")
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strata", type=str.split, default=["utt2label", "utt2city"],
                        help="space-separated per-utterance files; those src lacks are skipped")
    parser.add_argument("--groups", default="utt2spk", choices=["utt2spk", "utt"],
                        help="what is held out whole: the utt2spk groups or single utterances")
    args = cli.parse(parser, argv)
    train, valid = split_validation(args.src, args.out_train, args.out_valid, fraction=args.fraction,
                                    seed=args.seed, strata=args.strata, by_group=args.groups == "utt2spk")
    print(f"{args.out_train}: {len(train.utts)} utterances; {args.out_valid}: {len(valid.utts)} utterances")


if __name__ == "__main__":
    cli.run(main)
