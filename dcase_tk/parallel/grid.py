"""Running a launcher's jobs as one array job on a batch system (Slurm, SGE).

One submission runs every selected job as an array task. The submitted bash script (kept as
``<logdir>/q/<name>.sh``, with the submit command in a comment) maps the task id to the job and
runs it with the same ``run_job`` function as the local launcher, so each job writes its own log,
header and footer. The launcher then polls the queue until the array has left it, and judges
each job by its log footer: the scheduler's own accounting is optional (many sites, and the test
cluster, have none) and is only quoted to explain a job that left no footer. SIGINT/SIGTERM
cancel the array.
"""
import abc
import functools
import os
import shlex
import subprocess
import time
from dataclasses import dataclass

from dcase_tk.io.atomic import write_text
from dcase_tk.parallel import cli, logs
from dcase_tk.parallel.conf import load_config
from dcase_tk.parallel.jobs import shell_join

POLL_FIRST_S = 0.5  # queue polling starts at this interval and grows 1.5x per poll ...
POLL_MAX_S = 5.0  # ... up to this cap
MAX_POLL_FAILURES = 30  # consecutive failed polls before giving up on following the array
CANCEL_WAIT_S = 15  # how long to watch a cancelled array leave the queue


class Scheduler(abc.ABC):
    """What differs between batch systems; subclasses fill it in (slurm.Slurm, sge.Sge)."""
    prog = None  # the launcher's name in messages
    task_var = None  # the environment variable holding the array task id
    builtin_config = None  # the config used without --config ...
    builtin_config_source = None  # ... and how messages name it

    @abc.abstractmethod
    def array_flags(self, indices, max_jobs_run, name, qdir):
        """Submit flags for an array of tasks ``indices`` with outputs under ``qdir``."""

    @abc.abstractmethod
    def output_file(self, qdir, name, index):
        """Where task ``index``'s own stdout/stderr go (the scheduler writes it)."""

    @abc.abstractmethod
    def parse_job_id(self, submit_stdout):
        """The job id in the submit command's output."""

    @abc.abstractmethod
    def in_queue(self, job_id):
        """True while any task of the array is pending or running; LaunchError if unknown."""

    @abc.abstractmethod
    def cancel(self, job_id):
        """Cancel every task of the array."""

    @abc.abstractmethod
    def task_states(self, job_id):
        """{task index: 'State=... ...'} from the scheduler's records, {} where it has none."""


@dataclass(frozen=True)
class Submission:
    argv: list
    script_path: str
    script: str


def run_command(argv):
    """Run a scheduler client command; LaunchError if it is not installed."""
    try:
        return subprocess.run(argv, capture_output=True, text=True)
    except FileNotFoundError:
        raise cli.LaunchError(f"'{argv[0]}' not found: is this a submit host of the cluster?") from None


def submit_command(req, scheduler):
    """The submit command and the flags the config maps the options to (UsageError if it
    does not allow them)."""
    config = load_config(req.options.get("config"), scheduler.builtin_config,
                         scheduler.builtin_config_source)
    return config.command + config.flags(req.scheduler_options)


def plan(req, jobs, scheduler, command):
    """The submission of ``jobs`` with ``command`` (from submit_command): the full submit
    command line and the array script. Nothing is written or run."""
    name = req.array.name
    qdir = os.path.join(os.path.abspath(os.path.dirname(req.array.log_template)), "q")
    script_path = os.path.join(qdir, f"{name}.sh")
    argv = (command
            + scheduler.array_flags([job.index for job in jobs], req.max_jobs_run, name, qdir)
            + [script_path])
    cases = "".join(
        f"  {job.index}) run_job {shlex.quote(job.log)} {shlex.quote(logs.header(job.command))}"
        f" {shlex.quote(job.command)} {req.num_threads} ;;\n" for job in jobs)
    var = scheduler.task_var
    script = (
        "#!/usr/bin/env bash\n"
        f"# Written by {scheduler.prog}; submitted as:\n#   {shell_join(argv)}\n"
        f"# Array task ${var} runs job ${var}, which writes its own log (see run_job).\n"
        f"cd {shlex.quote(os.getcwd())} || exit 1\n"
        f"{logs.RUN_JOB}\n"
        f'case "${var}" in\n{cases}'
        f"  *) exit 0 ;;  # not a selected job (an SGE -t range may span done ones)\n"
        "esac\n")
    return Submission(argv, script_path, script)


def write_script(submission):
    write_text(submission.script_path, submission.script)
    os.chmod(submission.script_path, 0o755)


def submit(submission, scheduler):
    write_script(submission)
    result = run_command(submission.argv)
    if result.returncode != 0:
        raise cli.LaunchError(f"submission failed (exit {result.returncode}):"
                              f" {shell_join(submission.argv)}\n{result.stderr.strip()}")
    return scheduler.parse_job_id(result.stdout)


def wait(scheduler, job_id):
    delay, failures = POLL_FIRST_S, 0
    while True:
        try:
            if not scheduler.in_queue(job_id):
                return
            failures = 0
        except cli.LaunchError as e:
            failures += 1
            if failures >= MAX_POLL_FAILURES:
                raise cli.LaunchError(f"{e} ({failures} polls in a row); job {job_id} may still"
                                      " be queued or running") from None
        time.sleep(delay)
        delay = min(delay * 1.5, POLL_MAX_S)


def cancel(scheduler, job_id):
    """Cancel the array and watch it leave the queue (for at most CANCEL_WAIT_S)."""
    scheduler.cancel(job_id)
    deadline = time.monotonic() + CANCEL_WAIT_S
    while time.monotonic() < deadline:
        try:
            if not scheduler.in_queue(job_id):
                return
        except cli.LaunchError:
            pass
        time.sleep(0.2)


def run(req, jobs, scheduler, command):
    submission = plan(req, jobs, scheduler, command)
    job_id = submit(submission, scheduler)
    try:
        wait(scheduler, job_id)
    except cli.Interrupted:
        cancel(scheduler, job_id)
        raise
    qdir = os.path.dirname(submission.script_path)
    states = functools.cache(lambda: scheduler.task_states(job_id))

    def missing_footer_reason(job):
        where = scheduler.output_file(qdir, req.array.name, job.index)
        state = f" ({states()[job.index]})" if job.index in states() else ""
        return f"killed, cancelled or node failure{state}: no '# Ended' line; see {where}"
    return missing_footer_reason


def prepare(req, scheduler):
    command = submit_command(req, scheduler)
    return lambda jobs: run(req, jobs, scheduler, command)
