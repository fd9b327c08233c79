"""utils/queue.py (SGE): the qsub command line and the array script it submits, then the launcher
against a real single-node Grid Engine (the sge_cluster fixture)."""
import os
import subprocess
from pathlib import Path

from helpers import signal_sleeping_jobs
from dcase_tk.parallel import cli, grid, logs
from dcase_tk.parallel.conf import load_config, parse_config
from dcase_tk.parallel.sge import BUILTIN_CONFIG, Sge

ROOT = Path(__file__).resolve().parents[1]


def plan(tmp_path, monkeypatch, *args, indices=None):
    monkeypatch.chdir(tmp_path)
    req = cli.parse_command_line(list(args))
    jobs = [j for j in req.array.jobs() if indices is None or j.index in indices]
    return grid.plan(req, jobs, Sge(), grid.submit_command(req, Sge()))


def run_task(submission, index):
    """Run the array script as SGE runs task ``index`` (cwd and environment aside)."""
    return subprocess.run(["bash", submission.script_path], cwd="/",
                          env={**os.environ, "SGE_TASK_ID": str(index)}).returncode


def test_qsub_command_line(tmp_path, monkeypatch):
    sub = plan(tmp_path, monkeypatch, "--num-threads", "2", "--mem", "2G", "--time", "1:00:00",
               "--max-jobs-run", "2", "JOB=1:4", "exp/log/make_feats.JOB.log", "bash", "job.sh", "JOB")
    q = tmp_path / "exp/log/q"
    assert sub.argv == [
        "qsub", "-V", "-cwd", "-S", "/bin/bash", "-j", "y",
        "-l", "h_rt=1:00:00", "-l", "mem_free=2G,ram_free=2G", "-pe", "smp", "2",
        "-t", "1:4", "-tc", "2", "-o", f"{q}/make_feats.$TASK_ID.out", "-terse", f"{q}/make_feats.sh"]
    assert sub.script_path == f"{q}/make_feats.sh"
    assert plan(tmp_path, monkeypatch, "--gpu", "1", "log/x.log", "true").argv[7:11] == ["-l", "gpu=1", "-q", "g.q"]


def test_array_script_runs_each_task_as_its_job_and_footers_judge_it(tmp_path, monkeypatch, job_sh):
    job_sh.fail(3)
    sub = plan(tmp_path, monkeypatch, "--num-threads", "2", "JOB=1:3", "log/x.JOB.log", "bash", "job.sh", "JOB")
    grid.write_script(sub)
    assert [run_task(sub, i) for i in (1, 2, 3)] == [0, 0, 3]
    log1 = (tmp_path / "log/x.1.log").read_text().splitlines()
    assert log1[0] == "# bash job.sh 1" and "job 1 threads 2 2 2 2" in log1
    assert log1[-1].startswith("# Ended (code 0) at ")
    jobs = cli.parse_command_line(["JOB=1:3", "log/x.JOB.log", "bash", "job.sh", "JOB"]).array.jobs()
    failures = logs.judge(jobs, lambda job: "no footer")
    assert [(f.job.index, f.reason) for f in failures] == [(3, "exit code 3")]


def test_rerun_array_spans_the_selected_jobs_and_skips_done_ones(tmp_path, monkeypatch, job_sh):
    sub = plan(tmp_path, monkeypatch, "JOB=1:5", "log/x.JOB.log", "bash", "job.sh", "JOB", indices={2, 4})
    assert sub.argv[sub.argv.index("-t") + 1] == "2:4"
    grid.write_script(sub)
    assert [run_task(sub, i) for i in (2, 3, 4)] == [0, 0, 0]
    assert sorted(job_sh.runs()) == [2, 4]
    assert not (tmp_path / "log/x.3.log").exists()


def test_task_output_path_and_job_id():
    assert Sge().output_file("/e/log/q", "x", 3) == "/e/log/q/x.3.out"
    assert Sge().parse_job_id("4711.1-4:1\n") == "4711"


def test_egs_queue_conf_is_the_builtin_config():
    egs = load_config(str(ROOT / "egs/dcase2018_task1/conf/queue.conf"), None, None)
    builtin = parse_config(BUILTIN_CONFIG, "builtin")
    assert (egs.command, egs.options, egs.defaults) == (builtin.command, builtin.options, builtin.defaults)


def test_queue_py_without_qsub_says_so(launch, tmp_path):
    result = launch("queue.py", "JOB=1:2", "log/x.JOB.log", "true", env={"PATH": "/nonexistent"})
    assert result.returncode == 1
    assert "'qsub' not found" in result.stderr


def submitted(tmp_path, name):
    """The qsub command line recorded in the array script q/<name>.sh."""
    return (tmp_path / "log" / "q" / f"{name}.sh").read_text().splitlines()[2]


def test_real_sge_failure_then_rerun_of_only_the_failed_jobs(sge_cluster, launch, tmp_path, job_sh):
    args = ["JOB=1:4", "log/x.JOB.log", "bash", "job.sh", "JOB", "&&", "echo", "task", "$SGE_TASK_ID"]
    job_sh.fail(2, 4)
    result = launch("queue.py", *args, env=sge_cluster)
    assert result.returncode == 1
    assert "2 of 4 jobs failed" in result.stderr
    assert "job 4: log/x.4.log: exit code 3" in result.stderr and "  boom 4" in result.stderr
    assert "task 1" in (tmp_path / "log/x.1.log").read_text()
    job_sh.heal()
    result = launch("queue.py", "--rerun-failed", "true", *args, env=sge_cluster)
    assert result.returncode == 0, result.stderr
    assert " -t 2:4 " in submitted(tmp_path, "x")
    assert sorted(job_sh.runs()[:4]) == [1, 2, 3, 4] and sorted(job_sh.runs()[4:]) == [2, 4]


def test_real_sge_task_killed_before_its_footer(sge_cluster, launch, tmp_path):
    result = launch("queue.py", "JOB=1:2", "log/k.JOB.log", "test", "JOB", "=", "1", "||", "kill", "-9", "$PPID",
                    env=sge_cluster)
    assert result.returncode == 1
    assert (f"job 2: log/k.2.log: killed, cancelled or node failure: no '# Ended' line;"
            f" see {tmp_path}/log/q/k.2.out") in result.stderr


def test_real_sge_sigterm_deletes_the_job(sge_cluster, launch, tmp_path, process_gone):
    _, pids = signal_sleeping_jobs(launch, "queue.py", tmp_path, env=sge_cluster)
    queue = subprocess.run(["qstat"], env={**os.environ, **sge_cluster}, capture_output=True, text=True, check=True)
    assert "s.sh" not in queue.stdout
    for pid in pids:
        assert process_gone(pid, within=10), f"job process {pid} survived"
