"""Kaldi-style text tables: one record per line, key first, byte-order sorted, unique keys.

``read_table`` keeps the line numbers so that every error names the file and the line.
"""
from dcase_tk.errors import UserError
from dcase_tk.io.atomic import atomic_open


class TableError(UserError, ValueError):
    """A malformed table file; the message names the file, the line and what to do."""


def sort_key(key):
    """Byte-order (C locale) sort key, independent of the shell's locale."""
    return key.encode("utf-8")


def read_lines(path):
    """Yield ``(line_number, key, rest)`` for each non-empty line; ``rest`` may be ''."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            key = parts[0]
            rest = parts[1].strip() if len(parts) > 1 else ""
            yield number, key, rest


def read_table(path, allow_duplicates=False):
    """Read ``path`` into an insertion-ordered dict ``key -> rest of the line``.

    Raises TableError on a duplicate key (naming both lines) unless ``allow_duplicates``,
    in which case the values of a key are collected into a list.
    """
    table = {}
    first_line = {}
    for number, key, rest in read_lines(path):
        if allow_duplicates:
            table.setdefault(key, []).append(rest)
            continue
        if key in table:
            raise TableError(
                f"{path}:{number}: duplicate key '{key}' (first seen on line {first_line[key]}); "
                "keys must be unique")
        table[key] = rest
        first_line[key] = number
    return table


def write_table(path, table, sort=True):
    """Write ``key value`` lines atomically, byte-order sorted by key unless ``sort`` is False.

    Values may be strings, numbers or sequences (joined by single spaces).
    """
    keys = sorted(table, key=sort_key) if sort else list(table)
    with atomic_open(path) as f:
        for key in keys:
            value = table[key]
            if isinstance(value, (list, tuple)):
                value = " ".join(str(v) for v in value)
            f.write(f"{key} {value}\n" if value != "" else f"{key}\n")


def read_list(path):
    """Read a one-item-per-line file (e.g. classes.txt), keeping order, skipping blank lines."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def write_list(path, items):
    with atomic_open(path) as f:
        for item in items:
            f.write(f"{item}\n")

