"""Print one value of a YAML config, for shell recipes: ``config_value conf/systems/x.yaml features``.

Lists print one item per line; a missing key is an error unless ``--default`` is given.
``--as_options`` prints a section as the ``--dotted.key value`` overrides the Python tools take
(``config_value --as_options conf/systems/cnn8.yaml mini_corpus``); ``--keys`` prints the keys of a
section, one per line (nothing if it is missing).
"""
import json

from dcase_tk import cli, config as cfg

_MISSING = object()


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("config_file")
    p.add_argument("key", help="dotted key, e.g. training.epochs")
    p.add_argument("--default", default=None)
    p.add_argument("--as_options", action="store_true",
                   help="print a section as --key value overrides (nothing if it is missing)")
    p.add_argument("--prefix", default="", help="with --as_options: prepend this section to every "
                                                "key (--prefix decode: --decode.mode ...)")
    p.add_argument("--keys", action="store_true",
                   help="print the keys of a section, one per line (nothing if it is missing)")
    args = cli.parse(p, argv)
    if args.keys:
        print("\n".join(map(str, _section(args))))
        return
    if args.as_options:
        section = _section(args)
        prefix = f"{args.prefix}." if args.prefix else ""
        print(" ".join(f"--{k} {_as_word(v)}" for k, v in cfg.flatten(section, prefix).items()))
        return
    value = cfg.get_dotted(cfg.load_yaml(args.config_file), args.key, _MISSING)
    if value is _MISSING:
        if args.default is None:
            raise cli.ToolError(f"{args.config_file} has no '{args.key}'")
        value = args.default
    print("\n".join(map(str, value)) if isinstance(value, list) else value)


def _section(args):
    """The section ``args.key`` of the config ({} if it is missing)."""
    section = cfg.get_dotted(cfg.load_yaml(args.config_file), args.key, None) or {}
    if not isinstance(section, dict):
        raise cli.ToolError(f"{args.config_file}: '{args.key}' is not a section")
    return section


def _as_word(value):
    """A value as one shell word that parses back to it as YAML."""
    if isinstance(value, str) and value.split() == [value]:
        return value
    return json.dumps(value, separators=(",", ":"))


if __name__ == "__main__":
    cli.run(main)
