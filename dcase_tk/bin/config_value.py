"""Print one value of a YAML config, for shell recipes: ``config_value conf/systems/x.yaml features``.

Lists print one item per line; a missing key is an error unless ``--default`` is given.
"""
from dcase_tk import cli, config as cfg

_MISSING = object()


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("config_file")
    p.add_argument("key", help="dotted key, e.g. training.epochs")
    p.add_argument("--default", default=None)
    args = cli.parse(p, argv)
    value = cfg.get_dotted(cfg.load_yaml(args.config_file), args.key, _MISSING)
    if value is _MISSING:
        if args.default is None:
            raise cli.ToolError(f"{args.config_file} has no '{args.key}'")
        value = args.default
    print("\n".join(map(str, value)) if isinstance(value, list) else value)


if __name__ == "__main__":
    cli.run(main)
