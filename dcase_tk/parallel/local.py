"""The local launcher (Kaldi's run.pl): runs the jobs on this machine, several at a time.

Concurrency is the smallest of --max-jobs-run, the cores divided by --num-threads, and the
available memory divided by --mem (each at least 1), so jobs x threads stays within the cores.
--gpu, --time and --config are accepted and ignored, so a recipe's cmd.sh can switch between
launchers by name alone. Each job runs in its own process group; on SIGINT/SIGTERM/SIGHUP the
running groups are terminated (then killed) before the launcher exits.
"""
import os
import signal
import subprocess
import sys
import time

from dcase_tk.parallel import cli, logs

STOP_GRACE_S = 5


def available_memory_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    raise OSError("no MemAvailable in /proc/meminfo")


def concurrency(req, njobs):
    cores = len(os.sched_getaffinity(0))
    limits = [njobs, max(1, cores // req.num_threads)]
    if req.max_jobs_run:
        limits.append(req.max_jobs_run)
    if req.mem_mb:
        limits.append(max(1, int(available_memory_mb() // req.mem_mb)))
    return min(limits)


# A job has its own process group, so a launcher killed with SIGKILL (or with its caller's whole
# group) would leave it running, still writing outputs that a re-run writes too. Each job
# therefore watches its launcher and kills its own group within a second of the launcher's end.
WATCHDOG = """launcher=$1; shift
( while kill -0 "$launcher" 2>/dev/null; do sleep 1; done; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &
watchdog=$!
run_job "$@"
code=$?
kill "$watchdog" 2>/dev/null
exit "$code"
"""


def _start(job, threads):
    return subprocess.Popen(
        ["bash", "-c", logs.RUN_JOB + "\n" + WATCHDOG, "run_job", str(os.getpid()),
         job.log, logs.header(job.command), job.command, str(threads)],
        start_new_session=True)


def _stop(procs):
    """SIGTERM every job's process group, SIGKILL what is left after STOP_GRACE_S."""
    for p in procs:
        _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        _signal_group(p, signal.SIGKILL)
        p.wait()


def _signal_group(proc, signum):
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass


def run(req, jobs):
    queue = list(jobs)
    running = {}  # Popen -> Job
    codes = {}  # job index -> the wrapper's return code (negative: killed by that signal)
    slots = concurrency(req, len(jobs))
    try:
        while queue or running:
            while queue and len(running) < slots:
                job = queue.pop(0)
                running[_start(job, req.num_threads)] = job
            # Block until some child has exited, without reaping it: Popen.poll reaps it below.
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
            for proc in [p for p in running if p.poll() is not None]:
                codes[running.pop(proc).index] = proc.returncode
    except cli.Interrupted:
        _stop(list(running))
        raise

    def missing_footer_reason(job):
        code = codes[job.index]
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"{how} before writing the '# Ended' line"
    return missing_footer_reason


def prepare(req):
    cli.reject_unknown_options(req, cli.COMMON_OPTIONS)
    return lambda jobs: run(req, jobs)


def main(argv=None):
    sys.exit(cli.main("run.py", sys.argv[1:] if argv is None else argv, prepare))
