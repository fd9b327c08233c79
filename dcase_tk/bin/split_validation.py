"""Hold out whole groups (utt2spk values, e.g. recording locations) as a validation set.

About --fraction of each stratum (the combination of the --strata files' values) goes to
validation, at least one group of each stratum stays in train, and the same --seed gives the
same split. Example:
  utils/split_validation.sh --fraction 0.3 --strata "utt2label utt2city" data/train data/tr data/cv
"""
import argparse
import logging
import sys

from dcase_tk.data.safety import DataDirError
from dcase_tk.data.split import split_validation


def main(argv=None):
    parser = argparse.ArgumentParser(prog="split_validation.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src")
    parser.add_argument("out_train")
    parser.add_argument("out_valid")
    parser.add_argument("--fraction", type=float, default=0.3, help="(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument("--strata", type=str.split, default=["utt2label", "utt2city"],
                        help="space-separated per-utterance files; those src lacks are skipped "
                             "(default: 'utt2label utt2city')")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        train, valid = split_validation(args.src, args.out_train, args.out_valid,
                                        fraction=args.fraction, seed=args.seed, strata=args.strata)
    except DataDirError as e:
        sys.exit(str(e))
    print(f"{args.out_train}: {len(train.utts)} utterances; {args.out_valid}: {len(valid.utts)} utterances")


if __name__ == "__main__":
    main()
