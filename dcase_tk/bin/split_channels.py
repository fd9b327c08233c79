"""Make one utterance per channel of each clip of a multichannel data dir (dcase_tk/data/channels.py).

Example (Task 5, the 4 microphones of a node as separate examples):
  utils/split_channels.sh --channels 1,2,3,4 data/5/fold1_train data/5/fold1_train_ch

Clip ``X`` becomes ``X-ch1`` .. ``X-ch4`` with X's values in every per-utterance file, plus
``utt2channel`` and ``utt2clip``. Feature extraction then reads only channel N of ``X-chN``.
"""
from dcase_tk import cli
from dcase_tk.data.channels import parse_channels, split_channels
from dcase_tk.data.datadir import load


def main(argv=None):
    parser = cli.parser(__doc__, prog="split_channels.sh")
    parser.add_argument("--channels", required=True, help="comma-separated, 1-based, e.g. 1,2,3,4")
    parser.add_argument("src")
    parser.add_argument("dest")
    args = cli.parse(parser, argv)
    clips = load(args.src)
    split = split_channels(clips, parse_channels(args.channels), args.src)
    split.save(args.dest)
    print(f"{args.dest}: {len(split.utts)} channel utterances of {len(clips.utts)} clips")


if __name__ == "__main__":
    cli.run(main)
