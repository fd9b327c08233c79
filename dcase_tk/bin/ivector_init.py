"""A new i-vector extractor for a UBM: the total-variability matrix drawn at random (seeded), of
rank ``extractor.ivector_dim`` (Kaldi's ``ivector-extractor-init``).

  python -m dcase_tk.bin.ivector_init --config exp/x/extractor/config.yaml exp/x/ubm/final.npz exp/x/extractor/0.npz
"""
from dcase_tk import cli
from dcase_tk.gmm.config import ExtractorConfig, section
from dcase_tk.gmm.full import load_ubm
from dcase_tk.gmm.extractor import IvectorExtractor


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("ubm")
    p.add_argument("out")
    args, config = cli.parse(p, argv, with_config=True)
    options = section(config, "extractor", ExtractorConfig)
    try:
        ubm = load_ubm(args.ubm)
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    IvectorExtractor.init(ubm, options.ivector_dim, options.seed).save(args.out)


if __name__ == "__main__":
    cli.run(main)
