"""The job log format, shared by every launcher: written by one bash function, read back here.

A log is ``# <command>`` (one ``# `` line per line of the command), ``# Started at <date>``, the
job's output, then ``# Accounting: time=S threads=T`` and ``# Ended (code N) at <date>, elapsed
time S seconds`` (Kaldi's footer). The footer is what says a job finished and how: a log without
one belongs to a job that was killed, cancelled or lost with its node.

The same bash function runs each job locally and on a batch system, so the format is written in
one place only.
"""
import os
import re
from dataclasses import dataclass

# run_job <log> <header> <command> <threads>: write the header, run the command under
# `bash -o pipefail -c` with its output appended to the log, then write the footer.
RUN_JOB = r'''run_job() {
  local log=$1 header=$2 command=$3 threads=$4 code elapsed
  export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
    DCASE_TK_NUM_THREADS=$threads
  mkdir -p -- "$(dirname -- "$log")" && printf '%s# Started at %s\n' "$header" "$(date)" > "$log" \
    || return 1
  SECONDS=0
  bash -o pipefail -c "$command" < /dev/null >> "$log" 2>&1
  code=$?
  elapsed=$SECONDS
  printf '# Accounting: time=%d threads=%d\n# Ended (code %d) at %s, elapsed time %d seconds\n' \
    "$elapsed" "$threads" "$code" "$(date)" "$elapsed" >> "$log"
  return "$code"
}'''

_FOOTER = re.compile(r"# Ended \(code (\d+)\) at .*, elapsed time \d+ seconds")
TAIL_LINES = 10
MAX_TAILS = 3


def header(command):
    return "".join(f"# {line}\n" for line in command.split("\n"))


def _read_end(path, size=65536):
    """The last ``size`` bytes of ``path`` as text; '' if it does not exist."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - size))
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def exit_code(log):
    """The code in the log's ``# Ended (code N)`` footer, or None when there is no footer."""
    lines = _read_end(log, 4096).rstrip("\n").split("\n")
    match = _FOOTER.fullmatch(lines[-1])
    return int(match[1]) if match else None


def is_done(job):
    """True if ``job``'s log is from this same command and ended with code 0."""
    want = header(job.command)
    try:
        with open(job.log, encoding="utf-8", errors="replace") as f:
            same_command = f.read(len(want)) == want
    except FileNotFoundError:
        return False
    return same_command and exit_code(job.log) == 0


def tail(log, n=TAIL_LINES):
    text = _read_end(log).rstrip("\n")
    return text.split("\n")[-n:] if text else []


@dataclass(frozen=True)
class Failure:
    job: object  # jobs.Job
    reason: str


def judge(jobs, missing_footer_reason):
    """Failures among ``jobs`` by their log footers; ``missing_footer_reason(job)`` explains a
    job whose log has no footer (the launcher knows best: a signal, a cancelled task...)."""
    failures = []
    for job in jobs:
        code = exit_code(job.log)
        if code is None:
            failures.append(Failure(job, missing_footer_reason(job)))
        elif code != 0:
            failures.append(Failure(job, f"exit code {code}"))
    return failures


def failure_report(prog, failures, total, skipped=0):
    """What a launcher prints when jobs failed: count, each failed log, the first logs' tails."""
    done = f" ({skipped} more were already done)" if skipped else ""
    lines = [f"{prog}: {len(failures)} of {total} jobs failed{done}:"]
    lines += [f"  job {f.job.index}: {f.job.log}: {f.reason}" for f in failures]
    for f in failures[:MAX_TAILS]:
        lines.append(f"==> last {TAIL_LINES} lines of {f.job.log} <==")
        lines += [f"  {line}" for line in tail(f.job.log) or ["(empty or missing)"]]
    if len(failures) > MAX_TAILS:
        lines.append(f"({len(failures) - MAX_TAILS} more failed logs listed above, tails not shown)")
    return "\n".join(lines)
