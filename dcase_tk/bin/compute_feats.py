"""Compute features for one data dir (typically one split job) into an ark/scp pair.

  python -m dcase_tk.bin.compute_feats --config conf/feats/logmel40_48k.yaml data/train/split4/2 \\
      dump/logmel40_48k/train/data/raw_feats.2.ark

A data dir with ``utt2channel`` (utils/split_channels.sh) gets the features of that channel
of each utterance's audio. Also writes ``raw_feats.2.num_frames`` and ``raw_feats.2.bad`` (unusable audio with the reason).
"""
import logging
import os

import torch

from dcase_tk import cli
from dcase_tk.data.channels import UTT2CHANNEL
from dcase_tk.features.extract import extract
from dcase_tk.features.config import FeatureConfig
from dcase_tk.io.table import read_table

log = logging.getLogger("dcase_tk.compute_feats")


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("data_dir", help="data dir with wav.scp")
    p.add_argument("ark", help="output ark path")
    p.add_argument("--inputs_hash", default="",
                   help="the step's input hash; recorded in the job log so that a resumed step "
                        "re-runs jobs whose inputs changed")
    args, resolved = cli.parse(p, argv, with_config=True)
    torch.set_num_threads(cli.num_threads())
    config = FeatureConfig.from_dict(resolved)
    wav_scp = read_table(os.path.join(args.data_dir, "wav.scp"))
    channel_file = os.path.join(args.data_dir, UTT2CHANNEL)
    utt2channel = read_table(channel_file) if os.path.isfile(channel_file) else None
    # feats.scp names the ark by absolute path, as Kaldi does, so any directory can read it
    ark = os.path.abspath(args.ark)
    num_frames, bad = extract(wav_scp, config, ark, cli.progress(args, "features"), utt2channel)
    log.info("%s: %d utterances, %d frames, %d unusable", ark, len(num_frames),
             sum(num_frames.values()), len(bad))


if __name__ == "__main__":
    cli.run(main)
