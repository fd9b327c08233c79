"""A full-covariance GMM from a diagonal one (Kaldi's ``gmm-global-to-fgmm``): same weights and
means, the variances on the diagonal.

  python -m dcase_tk.bin.gmm_to_full exp/x/ubm/diag.final.npz exp/x/ubm/full.0.npz
"""
from dcase_tk import cli
from dcase_tk.gmm.diag import DiagGMM
from dcase_tk.gmm.full import FullGMM


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("diag_model")
    p.add_argument("out")
    args = cli.parse(p, argv)
    try:
        FullGMM.from_diag(DiagGMM.load(args.diag_model)).save(args.out)
    except ValueError as e:
        raise cli.ToolError(str(e)) from None


if __name__ == "__main__":
    cli.run(main)
