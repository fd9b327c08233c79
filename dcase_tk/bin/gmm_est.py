"""The M-step of a (diagonal or full) GMM from the summed statistics of the parallel jobs
(Kaldi's ``gmm-global-sum-accs`` + ``gmm-global-est``).

  python -m dcase_tk.bin.gmm_est --config exp/x/ubm/config.yaml exp/x/ubm/diag.3.npz exp/x/ubm/diag.4.npz \\
      exp/x/ubm/acc.diag.3.*.npz

Variances are floored at ``ubm.var_floor`` times the global variance.

Logs the log-likelihood per frame of the iteration's data under the old model (EM never lowers it).
"""
import logging

from dcase_tk import cli
from dcase_tk.gmm import accumulators
from dcase_tk.gmm.config import UbmConfig, section
from dcase_tk.gmm.full import load_gmm

log = logging.getLogger("dcase_tk.gmm_est")


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("accs", nargs="+")
    args, config = cli.parse(p, argv, with_config=True)
    var_floor = section(config, "ubm", UbmConfig).var_floor
    try:
        gmm = load_gmm(args.model)
        acc = accumulators.sum_files(args.accs)
        new = gmm.update(acc, var_floor)
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    log.info("%s: log-likelihood per frame %.5f over %d frames (%d jobs); %d Gaussians", args.model,
             float(acc["loglik"]) / float(acc["frames"]), int(acc["frames"]), len(args.accs), gmm.n_components)
    new.save(args.out)


if __name__ == "__main__":
    cli.run(main)
