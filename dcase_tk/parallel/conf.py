"""Kaldi-style scheduler config files (the format of slurm.pl's and queue.pl's ``--config``).

    command sbatch --export=ALL          # the submit command and its fixed flags
    option mem=* --mem-per-cpu $0        # --mem VALUE adds these flags, $0 being VALUE
    option mem=0                         # an exact value wins over '*'; no flags: add nothing
    default gpu=0                        # as if --gpu 0 were given, unless it is

A launcher option that no ``option`` line describes, or a value that neither an exact line nor
``name=*`` allows, is an error naming the config. Text after `` #`` is a comment.
"""
import re
import shlex
from dataclasses import dataclass, field

from dcase_tk.parallel.jobs import UsageError

_OPTION = re.compile(r"(\w+)=(\S+)(?:\s+(.*))?")


@dataclass
class SchedulerConfig:
    source: str  # a path, or a description such as "the built-in Slurm config"
    command: list = field(default_factory=list)
    options: dict = field(default_factory=dict)  # name -> {value or '*': flags text}
    defaults: dict = field(default_factory=dict)

    def flags(self, given):
        """The submit command's flags for the options ``given`` (name -> value) plus defaults."""
        values = {**self.defaults, **given}
        unknown = [name for name in values if name not in self.options]
        if unknown:
            raise UsageError(f"option --{unknown[0].replace('_', '-')} is not described in"
                             f" {self.source} (it has: {', '.join(self.options)})")
        flags = []
        for name, table in self.options.items():  # in the config's order
            if name not in values:
                continue
            value = values[name]
            if value in table:
                text = table[value]
            elif "*" in table:
                text = table["*"].replace("$0", value)
            else:
                raise UsageError(f"--{name.replace('_', '-')} {value} is not allowed by"
                                 f" {self.source} (values: {', '.join(table)})")
            flags += shlex.split(text)
        return flags


def parse_config(text, source):
    conf = SchedulerConfig(source)
    default_lines = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        where = f"{source}:{number}"
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        if keyword == "command" and rest:
            conf.command = shlex.split(rest)
            continue
        match = _OPTION.fullmatch(rest)
        if keyword == "option" and match:
            name, value, flags = match.groups()
            conf.options.setdefault(name, {})[value] = flags or ""
        elif keyword == "default" and match and not match[3]:
            conf.defaults[match[1]] = match[2]
            default_lines[match[1]] = where
        else:
            raise UsageError(f"{where}: cannot parse '{raw.strip()}': expected 'command <program"
                             " flags>', 'option name=value|* [flags]' or 'default name=value'")
    if not conf.command:
        raise UsageError(f"{source}: no 'command' line")
    for name, where in default_lines.items():
        if name not in conf.options:
            raise UsageError(f"{where}: default for '{name}', which no 'option' line describes")
    return conf


def load_config(path, builtin_text, builtin_source):
    """The config at ``path``, or the launcher's built-in one when ``path`` is None."""
    if path is None:
        return parse_config(builtin_text, builtin_source)
    try:
        with open(path, encoding="utf-8") as f:
            return parse_config(f.read(), path)
    except OSError as e:
        raise UsageError(f"cannot read --config {path}: {e.strerror}") from None
