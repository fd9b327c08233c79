"""Resolve an i-vector config (``conf/ivector/<name>.yaml`` plus ``--frontend.x``, ``--ubm.x``,
``--extractor.x`` overrides) into the complete, checked config the UBM and extractor steps read, every default
written out.

  python -m dcase_tk.bin.ivector_config --config conf/ivector/mfcc60.yaml --ubm.num_gauss 64 exp/x/ubm/config.yaml
"""
import dataclasses

from dcase_tk import cli, config as cfg
from dcase_tk.gmm.config import ExtractorConfig, FrontendConfig, UbmConfig, section

SECTIONS = {"frontend": FrontendConfig, "ubm": UbmConfig, "extractor": ExtractorConfig}


def main(argv=None):
    p = cli.parser(__doc__)
    cli.add_config_args(p)
    p.add_argument("out")
    args, config = cli.parse(p, argv, with_config=True)
    try:
        resolved = {name: dataclasses.asdict(section(config, name, cls)) for name, cls in SECTIONS.items()}
    except cfg.ConfigError as e:
        raise cli.ToolError(f"{args.config}: {e}") from None
    cfg.save({key: value for key, value in config.items() if key not in SECTIONS} | resolved, args.out)


if __name__ == "__main__":
    cli.run(main)
