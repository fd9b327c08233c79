"""The local launcher utils/run.py, and the command line and log format all launchers share."""
import os
import signal

import pytest

from helpers import signal_sleeping_jobs, wait_for_pids
from dcase_tk.parallel import cli, local, logs
from dcase_tk.parallel.jobs import UsageError, parse_job_array


def read(tmp_path, name):
    return (tmp_path / name).read_text()


def test_jobs_get_their_index_header_footer_and_thread_variables(launch, tmp_path, job_sh):
    result = launch("run.py", "--num-threads", 1, "JOB=1:3", "log/x.JOB.log", "bash", "job.sh", "JOB")
    assert result.returncode == 0, result.stderr
    for i in (1, 2, 3):
        lines = read(tmp_path, f"log/x.{i}.log").splitlines()
        assert lines[0] == f"# bash job.sh {i}"
        assert lines[1].startswith("# Started at ")
        assert f"job {i} threads 1 1 1 1" in lines
        assert lines[-2] == "# Accounting: time=0 threads=1"
        assert lines[-1].startswith("# Ended (code 0) at ")
        assert lines[-1].endswith(", elapsed time 0 seconds")
    assert sorted(job_sh.runs()) == [1, 2, 3]


def test_raw_args_are_shell_operators_and_args_with_spaces_are_quoted(launch, tmp_path):
    result = launch("run.py", "TASK=1:2", "log/t.TASK.log",
                    "echo", "TASK", "a  b", "'>'", ">", "out.TASK", "&&", "echo", "$((TASK*10))")
    assert result.returncode == 0, result.stderr
    assert read(tmp_path, "out.2") == "2 a  b >\n"
    assert "\n20\n" in read(tmp_path, "log/t.2.log")
    assert read(tmp_path, "log/t.2.log").startswith("# echo 2 'a  b' '>' > out.2 && echo $((2*10))\n")


def test_pipefail_makes_a_failing_pipeline_fail(launch, tmp_path):
    result = launch("run.py", "log/p.log", "false", "|", "cat")
    assert result.returncode == 1
    assert logs.exit_code(str(tmp_path / "log/p.log")) == 1


def test_single_job_forms(launch, tmp_path):
    assert launch("run.py", "log/one.log", "echo", "only").returncode == 0
    assert "only" in read(tmp_path, "log/one.log")
    assert launch("run.py", "JOB=3:3", "log/j.JOB.log", "echo", "JOB").returncode == 0
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["j.3.log", "one.log"]
    assert "\n3\n" in read(tmp_path, "log/j.3.log")


def test_failure_names_failed_logs_and_shows_their_tails(launch, job_sh):
    job_sh.fail(2, 4)
    result = launch("run.py", "JOB=1:4", "log/x.JOB.log", "bash", "job.sh", "JOB")
    assert result.returncode == 1
    err = result.stderr
    assert "2 of 4 jobs failed" in err
    assert "job 2: log/x.2.log: exit code 3" in err and "job 4: log/x.4.log: exit code 3" in err
    assert "==> last 10 lines of log/x.2.log <==" in err
    assert "  boom 2" in err and "  boom 4" in err
    assert "log/x.1.log" not in err and "log/x.3.log" not in err


def test_at_most_three_tails_are_shown(launch, job_sh):
    job_sh.fail(1, 2, 3, 4, 5)
    result = launch("run.py", "JOB=1:5", "log/x.JOB.log", "bash", "job.sh", "JOB")
    assert result.returncode == 1
    assert "5 of 5 jobs failed" in result.stderr
    assert result.stderr.count("==> last 10 lines of") == 3
    assert "job 5: log/x.5.log: exit code 3" in result.stderr
    assert "boom 5" not in result.stderr
    assert "2 more failed logs listed above" in result.stderr


def test_job_killed_without_footer_is_a_failure(launch):
    result = launch("run.py", "JOB=1:2", "log/k.JOB.log", "test", "JOB", "=", "1", "||", "kill", "-9", "$PPID")
    assert result.returncode == 1
    assert "1 of 2 jobs failed" in result.stderr
    assert "job 2: log/k.2.log: killed by signal 9 before writing the '# Ended' line" in result.stderr


def test_rerun_failed_runs_only_the_failed_jobs(launch, job_sh):
    args = ["JOB=1:4", "log/x.JOB.log", "bash", "job.sh", "JOB"]
    job_sh.fail(2, 3)
    assert launch("run.py", *args).returncode == 1
    assert sorted(job_sh.runs()) == [1, 2, 3, 4]
    job_sh.heal()
    result = launch("run.py", "--rerun-failed", "true", *args)
    assert result.returncode == 0, result.stderr
    assert sorted(job_sh.runs()[4:]) == [2, 3]
    result = launch("run.py", "--rerun-failed", "true", *args)
    assert result.returncode == 0 and "all 4 jobs already done" in result.stderr
    assert len(job_sh.runs()) == 6
    # A different command (here: an extra argument) is not "done": every job re-runs.
    assert launch("run.py", "--rerun-failed", "true", *args, "0").returncode == 0
    assert len(job_sh.runs()) == 10
    # Without --rerun-failed, everything runs again.
    assert launch("run.py", *args, "0").returncode == 0
    assert len(job_sh.runs()) == 14


def test_rerun_failed_reruns_a_job_whose_log_has_no_footer(launch, tmp_path, job_sh):
    args = ["JOB=1:2", "log/x.JOB.log", "bash", "job.sh", "JOB"]
    assert launch("run.py", *args).returncode == 0
    log = tmp_path / "log/x.1.log"
    log.write_text("\n".join(log.read_text().splitlines()[:-1]) + "\n")  # as if killed
    assert launch("run.py", "--rerun-failed", "true", *args).returncode == 0
    assert sorted(job_sh.runs()[:2]) == [1, 2] and job_sh.runs()[2:] == [1]
    assert logs.exit_code(str(log)) == 0


def test_max_jobs_run_caps_concurrency(launch, job_sh):
    result = launch("run.py", "--max-jobs-run", 2, "JOB=1:4", "log/x.JOB.log", "bash", "job.sh", "JOB", 0.4)
    assert result.returncode == 0, result.stderr
    assert job_sh.max_overlap() == min(2, len(os.sched_getaffinity(0)))


def test_num_threads_caps_concurrency_by_cores(launch, tmp_path, job_sh):
    cores = len(os.sched_getaffinity(0))
    result = launch("run.py", "--num-threads", cores, "JOB=1:3", "log/x.JOB.log", "bash", "job.sh", "JOB", 0.3)
    assert result.returncode == 0, result.stderr
    assert job_sh.max_overlap() == 1
    assert f"job 1 threads {cores} {cores} {cores} {cores}" in read(tmp_path, "log/x.1.log")


def test_mem_caps_concurrency_by_available_memory(launch, job_sh):
    mem = f"{int(local.available_memory_mb() * 0.6)}M"  # room for one job only
    result = launch("run.py", "--mem", mem, "JOB=1:3", "log/x.JOB.log", "bash", "job.sh", "JOB", 0.3)
    assert result.returncode == 0, result.stderr
    assert job_sh.max_overlap() == 1


def test_concurrency_is_the_smallest_limit(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(local, "available_memory_mb", lambda: 10 * 1024)

    def concurrency(*options, njobs=100):
        return local.concurrency(cli.parse_command_line([*options, "x", "true"]), njobs)
    assert concurrency() == 8
    assert concurrency(njobs=3) == 3
    assert concurrency("--num-threads", "3") == 2
    assert concurrency("--num-threads", "16") == 1
    assert concurrency("--max-jobs-run", "5") == 5
    assert concurrency("--mem", "4G") == 2
    assert concurrency("--mem", "500m") == 8
    assert concurrency("--mem", "64G") == 1


@pytest.mark.parametrize("value, mb", [("500M", 500), ("4G", 4096), ("2g", 2048), ("1.5T", 1.5 * 2**20),
                                       ("4096", 4096), ("512K", 0.5), ("8GB", 8192)])
def test_parse_mem(value, mb):
    assert cli.parse_mem(value) == mb


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_running_jobs(launch, tmp_path, sig, process_gone):
    err, pids = signal_sleeping_jobs(launch, "run.py", tmp_path, sig)
    assert f"interrupted by {sig.name}" in err
    for pid in pids:
        assert process_gone(pid), f"job process {pid} survived"
    assert logs.exit_code(str(tmp_path / "log/s.1.log")) is None


@pytest.mark.parametrize("args, message", [
    (["JOB=1:2", "log/x.log", "true"], "log file 'log/x.log' does not contain JOB"),
    (["JOB=0:2", "log/x.JOB.log", "true"], "job indices start at 1"),
    (["JOB=3:2", "log/x.JOB.log", "true"], "start 3 > end 2"),
    (["JOB=1:n", "log/x.JOB.log", "true"], "invalid job range 'JOB=1:n'"),
    (["JOB=1:2", "log/x.JOB.log"], "no command given"),
    (["JOB=1:2", "log/x.JOB.log", ""], "no command given"),
    ([], "no log file given"),
    (["--frobnicate", "1", "log/x.log", "true"], "unknown option --frobnicate"),
    (["--mem"], "option --mem needs a value"),
    (["--mem", "lots", "log/x.log", "true"], "invalid --mem 'lots'"),
    (["--num-threads", "0", "log/x.log", "true"], "invalid --num-threads '0'"),
    (["--rerun-failed", "yes", "log/x.log", "true"], "invalid --rerun-failed 'yes'"),
])
def test_misuse_is_one_line_and_exit_2(launch, tmp_path, args, message):
    result = launch("run.py", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("run.py: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "log").exists()


def test_job_array_names_and_substitution():
    array = parse_job_array(["TASK=2:3", "exp/x/log/make_feats.TASK.log", "cmd", "--n", "TASK"])
    assert [(j.index, j.log, j.command) for j in array.jobs()] == [
        (2, "exp/x/log/make_feats.2.log", "cmd --n 2"), (3, "exp/x/log/make_feats.3.log", "cmd --n 3")]
    assert array.name == "make_feats"
    assert parse_job_array(["log/train.log", "cmd"]).name == "train"
    with pytest.raises(UsageError):
        parse_job_array(["JOB=1:x", "log", "cmd"])


def test_jobs_die_with_a_launcher_killed_by_sigkill(launch, tmp_path, process_gone):
    proc = launch("run.py", "JOB=1:2", "log/x.JOB.log", "echo", "$$", ">", "pid.JOB;", "sleep", "60",
                  wait=False)
    pids = wait_for_pids(tmp_path, 2)
    proc.kill()                                   # SIGKILL: the launcher cannot clean up
    proc.wait()
    for pid in pids:
        assert process_gone(pid, within=5), f"job process {pid} outlived its killed launcher"
