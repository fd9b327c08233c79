"""What the three launchers share around running jobs: the command line, choosing the jobs to
run (``--rerun-failed``), signals, and the final verdict and exit status.

    <launcher> [--mem 4G] [--num-threads N] [--max-jobs-run K] [--gpu G] [--time T]
               [--config conf/x.conf] [--rerun-failed true|false]
               [JOB=1:N] exp/x/log/name.JOB.log command arg ... JOB ...

Exit status: 0 every job succeeded; 1 some job failed (the failures are reported on stderr);
2 misuse (one line on stderr); 128+signal when interrupted (running jobs are stopped first).
"""
import os
import re
import signal
import sys
from dataclasses import dataclass, field

from dcase_tk.parallel import logs
from dcase_tk.parallel.jobs import UsageError, parse_job_array

COMMON_OPTIONS = ("mem", "num_threads", "max_jobs_run", "gpu", "time", "config", "rerun_failed")
# Options the launcher handles itself; the rest are mapped to scheduler flags by a config file.
LAUNCHER_OPTIONS = ("max_jobs_run", "config", "rerun_failed")
_MEM_UNITS = {"K": 2**-10, "M": 1, "G": 2**10, "T": 2**20}


@dataclass
class Request:
    """A parsed launcher command line."""
    array: object  # jobs.JobArray
    options: dict = field(default_factory=dict)  # every --name value given, name with '_'
    num_threads: int = 1
    max_jobs_run: int | None = None
    mem_mb: float | None = None
    rerun_failed: bool = False

    @property
    def scheduler_options(self):
        """The given options a scheduler config maps to flags (mem, num_threads, gpu, time...)."""
        return {k: v for k, v in self.options.items() if k not in LAUNCHER_OPTIONS}


class LaunchError(Exception):
    """The jobs could not be run or followed (a failed submission, an unreachable scheduler)."""


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def parse_mem(value):
    """'500M', '4G', '2g', '1.5T', '4096' (megabytes, as Slurm) -> megabytes."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTkmgt]?)[Bb]?", value)
    if not m:
        raise UsageError(f"invalid --mem '{value}': expected e.g. 500M, 4G")
    return float(m[1]) * _MEM_UNITS[(m[2] or "M").upper()]


def _int_option(name, value, minimum=1):
    if not re.fullmatch(r"\d+", value) or int(value) < minimum:
        raise UsageError(f"invalid --{name.replace('_', '-')} '{value}': expected an integer >= {minimum}")
    return int(value)


def parse_command_line(argv):
    """argv (without the program name) -> Request; UsageError on misuse."""
    options = {}
    args = list(argv)
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if not re.fullmatch(r"--[A-Za-z][\w-]*", flag):
            raise UsageError(f"invalid option '{flag}': options are --name value")
        if not args:
            raise UsageError(f"option {flag} needs a value")
        options[flag[2:].replace("-", "_")] = args.pop(0)
    req = Request(parse_job_array(args), options)
    if "num_threads" in options:
        req.num_threads = _int_option("num_threads", options["num_threads"])
    if "max_jobs_run" in options:
        req.max_jobs_run = _int_option("max_jobs_run", options["max_jobs_run"])
    if "gpu" in options:
        _int_option("gpu", options["gpu"], minimum=0)
    if "mem" in options:
        req.mem_mb = parse_mem(options["mem"])
    if options.get("rerun_failed", "false") not in ("true", "false"):
        raise UsageError(f"invalid --rerun-failed '{options['rerun_failed']}': expected true or false")
    req.rerun_failed = options.get("rerun_failed") == "true"
    return req


def reject_unknown_options(req, known):
    unknown = [name for name in req.options if name not in known]
    if unknown:
        known_flags = " ".join("--" + k.replace("_", "-") for k in known)
        raise UsageError(f"unknown option --{unknown[0].replace('_', '-')} (known: {known_flags})")


def select_jobs(req):
    """The jobs to run: all, or with --rerun-failed those not already done with this command.
    Their old logs are removed, so a log without a footer can only mean an unfinished job."""
    jobs = req.array.jobs()
    if req.rerun_failed:
        jobs = [job for job in jobs if not logs.is_done(job)]
    for job in jobs:
        try:
            os.unlink(job.log)
        except FileNotFoundError:
            pass
    return jobs


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def main(prog, argv, prepare):
    """The launcher's whole run; returns its exit status.

    ``prepare(req)`` checks the request against what the launcher supports (UsageError) and
    returns ``run(jobs)``, which runs the jobs to completion and returns a function explaining a
    job whose log has no footer. On Interrupted, ``run`` stops the jobs and re-raises.
    """
    try:
        req = parse_command_line(argv)
        run = prepare(req)
    except UsageError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    jobs = select_jobs(req)
    total = req.array.end - req.array.start + 1
    if not jobs:
        print(f"{prog}: all {total} jobs already done, nothing to re-run", file=sys.stderr)
        return 0
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    try:
        missing_footer_reason = run(jobs)
    except Interrupted as e:
        print(f"{prog}: interrupted by {e}; unfinished jobs were stopped, their logs have no"
              " '# Ended' line; re-run with --rerun-failed true to resume", file=sys.stderr)
        return 128 + e.signum
    except LaunchError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    failures = logs.judge(jobs, missing_footer_reason)
    if failures:
        print(logs.failure_report(prog, failures, len(jobs), total - len(jobs)), file=sys.stderr)
        return 1
    return 0
