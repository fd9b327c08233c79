"""EM statistics of a (diagonal or full) GMM on the frames of a dump dir, for one parallel job
(Kaldi's ``gmm-global-acc-stats`` / ``fgmm-global-acc-stats``); ``gmm_est`` sums the jobs'.

  python -m dcase_tk.bin.gmm_acc_stats --config exp/x/ubm/config.yaml exp/x/ubm/diag.3.npz \\
      dump/x/train_tr/split4/2 exp/x/ubm/acc.diag.3.2.npz

The config's ``frontend:`` section normalises the features, ``ubm.top_n`` is the Gaussian
selection of a full-covariance GMM.
"""
import numpy as np
import torch

from dcase_tk import cli
from dcase_tk.gmm import accumulators
from dcase_tk.gmm.config import FrontendConfig, UbmConfig, section
from dcase_tk.gmm.frames import utterance_blocks
from dcase_tk.gmm.full import FullGMM, load_gmm


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--batch_frames", type=int, default=50000,
                   help="frames per block (memory: a few float32 frames x Gaussians matrices)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("model")
    p.add_argument("feat_dir")
    p.add_argument("acc")
    args, config = cli.parse(p, argv, with_config=True)
    frontend = section(config, "frontend", FrontendConfig)
    top_n = section(config, "ubm", UbmConfig).top_n
    torch.set_num_threads(cli.num_threads())
    try:
        gmm = load_gmm(args.model, cli.pick_device(args.device))
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    options = {"top_n": top_n} if isinstance(gmm, FullGMM) else {}
    acc = None
    for _, mats in utterance_blocks(args.feat_dir, args.batch_frames, frontend):
        x = torch.from_numpy(np.concatenate(mats))
        if x.shape[1] != gmm.dim:
            raise cli.ToolError(f"{args.feat_dir}: features of {x.shape[1]} dims, {args.model} has {gmm.dim}")
        acc = gmm.accumulate(x, acc, **options)
    if acc is None:
        raise cli.ToolError(f"{args.feat_dir}/feats.scp is empty")
    accumulators.save(args.acc, acc)


if __name__ == "__main__":
    cli.run(main)
