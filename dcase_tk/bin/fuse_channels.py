"""Fuse the channel posteriors of each clip into one row (the Task 5 protocol: the posteriors of
the 4 microphones of a node are averaged).

  python -m dcase_tk.bin.fuse_channels --how mean dump/5/logmel40/fold1_test_ch \\
      exp/5/baseline/fold1/test_ch exp/5/baseline/fold1/test

``<channel-data-dir>``: the data (or dump) dir made by utils/split_channels.sh, whose
``utt2clip`` and ``utt2channel`` say which clip and channel each scored utterance is;
``<decode-dir>``: its ``score`` and ``classes.txt``. Writes ``score``, ``decision`` and
``classes.txt`` of the clips into ``<out-dir>``. ``--channels 2`` keeps channel 2 only: the
single-channel result to compare the fusion with; ``--each_channel true`` writes, besides the
fusion, every channel alone into ``<out-dir>_ch<N>``. Every clip must have the same channels
scored.
"""
import os

import numpy as np
import torch

from dcase_tk import cli
from dcase_tk.data.channels import UTT2CHANNEL, UTT2CLIP, parse_channels
from dcase_tk.decode.combine import AGGREGATES, aggregate
from dcase_tk.io.scores import read_decode_dir, write_decode_dir
from dcase_tk.io.table import read_table


def fuse(utts, scores, utt2clip, utt2channel, channels, how, where):
    """``(clips, (N, C) fused scores)`` of the rows of ``utts`` whose channel is in ``channels``
    (all when None)."""
    rows = {}
    for i, utt in enumerate(utts):
        if utt not in utt2clip or utt not in utt2channel:
            raise cli.ToolError(f"{where}: '{utt}' is not a channel utterance of the data dir "
                                "(no utt2clip/utt2channel entry); fuse the decode dir of that data dir")
        channel = int(utt2channel[utt])
        if channels is None or channel in channels:
            rows.setdefault(utt2clip[utt], {})[channel] = i
    if not rows:
        raise cli.ToolError(f"{where}: no scored utterance of channels {channels}")
    clips = sorted(rows)
    expected = sorted(set(channels) if channels else set().union(*rows.values()))
    for clip in clips:
        if sorted(rows[clip]) != expected:
            raise cli.ToolError(f"{where}: clip '{clip}' has channels {sorted(rows[clip])} scored, "
                                f"expected {expected}; was a channel's audio unusable (see the "
                                "dump dir's bad_utts)? Fuse the same channels of every clip")
    stack = np.stack([scores[[rows[clip][c] for clip in clips]] for c in expected])
    return clips, aggregate(torch.from_numpy(stack), how).numpy()


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--how", default="mean", choices=AGGREGATES)
    p.add_argument("--channels", help="comma-separated channels to fuse (default: all)")
    p.add_argument("--each_channel", default="false", choices=["true", "false"],
                   help="also write each channel alone into <out-dir>_ch<N>")
    p.add_argument("channel_data_dir")
    p.add_argument("decode_dir")
    p.add_argument("out_dir")
    args = cli.parse(p, argv)
    utt2clip = read_table(os.path.join(args.channel_data_dir, UTT2CLIP))
    utt2channel = read_table(os.path.join(args.channel_data_dir, UTT2CHANNEL))
    classes, utts, scores = read_decode_dir(args.decode_dir)
    channels = parse_channels(args.channels) if args.channels else None
    where = os.path.join(args.decode_dir, "score")
    clips, fused = fuse(utts, scores, utt2clip, utt2channel, channels, args.how, where)
    write_decode_dir(args.out_dir, clips, fused, classes)
    print(f"{args.out_dir}: {len(clips)} clips, channels {args.channels or 'all'} fused by {args.how}")
    if args.each_channel == "true":
        for channel in channels or sorted({int(utt2channel[u]) for u in utts}):
            write_decode_dir(f"{args.out_dir}_ch{channel}",
                             *fuse(utts, scores, utt2clip, utt2channel, [channel], args.how, where), classes)


if __name__ == "__main__":
    cli.run(main)
