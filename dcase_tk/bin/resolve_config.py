"""Write a config with ``--key value`` overrides applied, for steps that read the result.

  python -m dcase_tk.bin.resolve_config conf/systems/cnn8.yaml exp/2/cnn8/fold1/system.yaml \\
      --training.epochs 5

The output is rewritten (atomically) only when its content changes, so the steps that take it
as an input see it as unchanged on a re-run.
"""
import os

from dcase_tk import cli, config as cfg
from dcase_tk.io.atomic import write_text


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("config_file")
    p.add_argument("output")
    own, overrides = cli.split_overrides(p, cli.argv_list(argv))
    args = cli.parse(p, own)
    try:
        text = cfg.dump(cfg.apply_overrides(cfg.load_yaml(args.config_file), overrides))
    except ValueError as e:
        raise cli.ToolError(f"{args.config_file}: {e}") from None
    if os.path.isfile(args.output):
        with open(args.output, encoding="utf-8") as f:
            if f.read() == text:
                return
    write_text(args.output, text)


if __name__ == "__main__":
    cli.run(main)
