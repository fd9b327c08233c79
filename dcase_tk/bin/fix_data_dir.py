"""Keep the utterances present in wav.scp and every per-utterance file, re-sort, rewrite spk2utt.

The old files go to <dir>/.backup/. Refuses, changing nothing, to drop more than
--max-drop-fraction of wav.scp's utterances. Example: utils/fix_data_dir.sh data/train
"""

from dcase_tk.data.fix import fix
from dcase_tk import cli


def main(argv=None):
    parser = cli.parser(__doc__, prog="fix_data_dir.sh")
    parser.add_argument("data_dir")
    parser.add_argument("--max-drop-fraction", "--max_drop_fraction", type=float, default=0.1,
                        help="most of wav.scp's utterances it may drop")
    args = cli.parse(parser, argv)
    dropped = fix(args.data_dir, args.max_drop_fraction)
    print(f"{args.data_dir}: fixed, {len(dropped)} utterances dropped; old files in {args.data_dir}/.backup")


if __name__ == "__main__":
    cli.run(main)
