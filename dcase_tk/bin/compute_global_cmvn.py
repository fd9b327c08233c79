"""Global mean/variance statistics (Kaldi ``compute-cmvn-stats`` format) of a feats.scp.

  python -m dcase_tk.bin.compute_global_cmvn dump/1a/logmel40_48k/train_tr/feats.scp \\
      dump/1a/logmel40_48k/train_tr/cmvn.ark
"""
import logging

import kaldiio

from dcase_tk import cli
from dcase_tk.features import cmvn

log = logging.getLogger("dcase_tk.compute_global_cmvn")


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("feats_scp")
    p.add_argument("cmvn_ark")
    args = cli.parse(p, argv)
    reader = kaldiio.load_scp(args.feats_scp)
    try:
        stats = cmvn.accumulate(reader[u] for u in cli.progress(args, "stats")(list(reader.keys())))
    except ValueError as e:
        raise cli.ToolError(f"{args.feats_scp}: {e}") from None
    cmvn.write(args.cmvn_ark, stats)
    mean, std = cmvn.mean_std(stats)
    log.info("%s: %d frames, %d dims; mean in [%.2f, %.2f], std in [%.2f, %.2f]", args.cmvn_ark,
             int(stats[0, -1]), len(mean), mean.min(), mean.max(), std.min(), std.max())


if __name__ == "__main__":
    cli.run(main)
