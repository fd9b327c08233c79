"""Initialise a diagonal UBM on a random sample of training frames (Kaldi's
``gmm-global-init-from-feats``): ``ubm.num_iters_init`` in-memory EM iterations, growing from
``ubm.initial_fraction`` of ``ubm.num_gauss`` components by splitting (``ubm.init: split``) or
starting from k-means++ (``ubm.init: kmeans++``).

  python -m dcase_tk.bin.gmm_init --config conf/ivector/mfcc60.yaml dump/1a/mfcc60_48k/train_tr exp/1a/ivector_mfcc60/ubm/diag.0.npz

Options come from the config's ``frontend:`` and ``ubm:`` sections; ``--ubm.num_gauss 64`` etc.
override them.
"""
import logging

import torch

from dcase_tk import cli
from dcase_tk.gmm import diag
from dcase_tk.gmm.config import FrontendConfig, UbmConfig, section
from dcase_tk.gmm.frames import sample_frames

log = logging.getLogger("dcase_tk.gmm_init")


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("feat_dir")
    p.add_argument("out")
    args, config = cli.parse(p, argv, with_config=True)
    options = section(config, "ubm", UbmConfig)
    torch.set_num_threads(cli.num_threads())
    frames = sample_frames(args.feat_dir, options.num_frames, options.seed,
                           section(config, "frontend", FrontendConfig))
    log.info("initialising %d Gaussians (%s) on %d frames of %d dims", options.num_gauss, options.init,
             *frames.shape)

    def report(iteration, n_components, loglik):
        log.info("iteration %d: %d Gaussians, log-likelihood per frame %.4f", iteration, n_components, loglik)

    try:
        gmm = diag.train(frames, options.num_gauss, iters=options.num_iters_init, init=options.init,
                         initial_fraction=options.initial_fraction, var_floor=options.var_floor,
                         seed=options.seed, device=cli.pick_device(args.device), log=report)
    except ValueError as e:
        raise cli.ToolError(f"{args.feat_dir}: {e} (ubm.num_gauss, ubm.num_frames)") from None
    gmm.save(args.out)


if __name__ == "__main__":
    cli.run(main)
