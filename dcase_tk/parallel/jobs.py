"""The jobs of one launcher call: the JOB range, each job's log path and shell command.

Kaldi semantics: ``JOB=1:N log/name.JOB.log cmd args``; every occurrence of the range variable's
name (``JOB``, or whatever precedes ``=``) in the log path and the command is replaced by the job
index. Arguments without whitespace are passed raw, so ``|``, ``>`` and ``&&`` act as shell
operators; arguments with whitespace (or empty ones) are quoted.
"""
import os
import re
import shlex
from dataclasses import dataclass

_RANGE = re.compile(r"([A-Za-z_]\w*)=([^/]*)")


class UsageError(Exception):
    """A misused launcher command line or config: reported in one line, exit status 2."""


@dataclass(frozen=True)
class Job:
    index: int
    log: str
    command: str


@dataclass(frozen=True)
class JobArray:
    var: str | None  # None: the single-job form, ``<launcher> log/x.log cmd ...``
    start: int
    end: int
    log_template: str
    command_template: str

    def jobs(self):
        return [self.job(i) for i in range(self.start, self.end + 1)]

    def job(self, index):
        if self.var is None:
            return Job(index, self.log_template, self.command_template)
        sub = lambda text: text.replace(self.var, str(index))  # noqa: E731
        return Job(index, sub(self.log_template), sub(self.command_template))

    @property
    def name(self):
        """The log's base name without the JOB part or extension: names the files under q/."""
        base = os.path.splitext(os.path.basename(self.log_template))[0]
        if self.var:
            base = re.sub(r"[._-]?" + re.escape(self.var), "", base)
        return base or "job"


def shell_join(args):
    """One shell command line from ``args``: raw where they have no whitespace, else quoted."""
    return " ".join(a if re.fullmatch(r"\S+", a) else shlex.quote(a) for a in args)


def is_range(arg):
    return _RANGE.fullmatch(arg) is not None


def parse_job_array(args):
    """``[VAR=A:B] log command ...`` -> JobArray, or UsageError with a one-line reason."""
    var, start, end = None, 1, 1
    if args and is_range(args[0]):
        var, spec = _RANGE.fullmatch(args[0]).groups()
        bounds = re.fullmatch(r"(\d+)(?::(\d+))?", spec)
        if not bounds:
            raise UsageError(f"invalid job range '{args[0]}': expected {var}=START:END with integers")
        start = int(bounds[1])
        end = int(bounds[2] or start)
        if start < 1:
            raise UsageError(f"invalid job range '{args[0]}': job indices start at 1")
        if start > end:
            raise UsageError(f"invalid job range '{args[0]}': start {start} > end {end}")
        args = args[1:]
    if not args:
        raise UsageError("no log file given")
    log, command = args[0], args[1:]
    if not command or not "".join(command).strip():
        raise UsageError(f"no command given after the log file '{log}'")
    if var and end > start and var not in log:
        raise UsageError(f"log file '{log}' does not contain {var}: every job would write the same log")
    return JobArray(var, start, end, log, shell_join(command))
