"""YAML configs with command-line overrides, the way every ``dcase_tk.bin`` tool takes them.

``--config conf/x.yaml`` gives the defaults, then ``--key value`` pairs override them; a dotted
key reaches into a nested section (``--training.epochs 5``). Values are parsed as YAML scalars,
so ``5`` is an int, ``true`` a bool, ``[5, 5]`` a list. YAML is always read with safe loading.
"""
import copy
import dataclasses

import yaml

from dcase_tk.errors import UserError
from dcase_tk.io.atomic import write_text


class ConfigError(UserError, ValueError):
    pass


def load_yaml(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of option: value")
    return data


def parse_value(text):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def set_dotted(config, dotted_key, value, known_only=False):
    """Set ``a.b.c`` in a nested dict; with ``known_only`` the key must already exist."""
    parts = dotted_key.split(".")
    node = config
    for i, part in enumerate(parts[:-1]):
        if part not in node or not isinstance(node[part], dict):
            if known_only:
                raise ConfigError(f"unknown option --{dotted_key}: no section '{'.'.join(parts[:i + 1])}'")
            node[part] = {}
        node = node[part]
    if known_only and parts[-1] not in node:
        raise ConfigError(f"unknown option --{dotted_key}; known: "
                          + ", ".join(sorted(f"--{k}" for k in flatten(config))))
    node[parts[-1]] = value


def get_dotted(config, dotted_key, default=None):
    node = config
    for part in dotted_key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def flatten(config, prefix=""):
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}``."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def apply_overrides(config, overrides, known_only=False):
    """Apply ``['--a.b', '3', '--c', 'x']`` to a copy of ``config``."""
    config = copy.deepcopy(config)
    if len(overrides) % 2:
        raise ConfigError(f"options must come in '--name value' pairs, got: {' '.join(overrides)}")
    for name, value in zip(overrides[::2], overrides[1::2]):
        if not name.startswith("--"):
            raise ConfigError(f"expected an option '--name', got '{name}'")
        set_dotted(config, name[2:].replace("-", "_"), parse_value(value), known_only=known_only)
    return config


def dump(config):
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=None)


def save(config, path):
    write_text(path, dump(config))


def dataclass_from_dict(cls, values, what):
    """``cls(**values)`` after checking every key is one of the dataclass's fields."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {what} option(s) {unknown}; known: {sorted(known)}")
    return cls(**values)
