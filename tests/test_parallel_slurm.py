"""utils/slurm.py against a real single-node Slurm (the slurm_cluster fixture), and the Kaldi-style
scheduler config files."""
import os
import subprocess
from pathlib import Path

import pytest

from helpers import signal_sleeping_jobs
from dcase_tk.parallel import cli, grid, logs
from dcase_tk.parallel.conf import load_config, parse_config
from dcase_tk.parallel.jobs import UsageError
from dcase_tk.parallel.slurm import BUILTIN_CONFIG, Slurm, array_spec

ROOT = Path(__file__).resolve().parents[1]
EGS_CONF = ROOT / "egs" / "dcase2018_task1" / "conf"


def submitted(tmp_path, name):
    """The sbatch command line recorded in the array script q/<name>.sh."""
    return (tmp_path / "log" / "q" / f"{name}.sh").read_text().splitlines()[2]


def test_array_runs_every_job_as_one_submission(slurm_cluster, launch, tmp_path, job_sh):
    result = launch("slurm.py", "JOB=1:3", "log/x.JOB.log", "bash", "job.sh", "JOB", "&&",
                    "echo", "task", "$SLURM_ARRAY_TASK_ID", env=slurm_cluster)
    assert result.returncode == 0, result.stderr
    for i in (1, 2, 3):
        lines = (tmp_path / f"log/x.{i}.log").read_text().splitlines()
        assert lines[0] == f"# bash job.sh {i} && echo task $SLURM_ARRAY_TASK_ID"
        assert f"job {i} threads 1 1 1 1" in lines and f"task {i}" in lines
        assert lines[-1].startswith("# Ended (code 0) at ")
        assert (tmp_path / f"log/q/x.{i}.out").exists()
    assert "--array=1-3 " in submitted(tmp_path, "x")
    assert sorted(job_sh.runs()) == [1, 2, 3]


def test_failure_report_and_rerun_of_only_the_failed_jobs(slurm_cluster, launch, tmp_path, job_sh):
    args = ["JOB=1:4", "log/x.JOB.log", "bash", "job.sh", "JOB"]
    job_sh.fail(2, 4)
    result = launch("slurm.py", *args, env=slurm_cluster)
    assert result.returncode == 1
    assert "2 of 4 jobs failed" in result.stderr
    assert "job 2: log/x.2.log: exit code 3" in result.stderr
    assert "==> last 10 lines of log/x.4.log <==" in result.stderr and "  boom 4" in result.stderr
    job_sh.heal()
    result = launch("slurm.py", "--rerun-failed", "true", *args, env=slurm_cluster)
    assert result.returncode == 0, result.stderr
    assert "--array=2,4 " in submitted(tmp_path, "x")
    assert sorted(job_sh.runs()[:4]) == [1, 2, 3, 4] and sorted(job_sh.runs()[4:]) == [2, 4]
    assert all(logs.exit_code(str(tmp_path / f"log/x.{i}.log")) == 0 for i in (1, 2, 3, 4))


def test_max_jobs_run_throttles_the_array(slurm_cluster, launch, tmp_path, job_sh):
    result = launch("slurm.py", "--max-jobs-run", 1, "JOB=1:3", "log/x.JOB.log", "bash", "job.sh", "JOB", 0.3,
                    env=slurm_cluster)
    assert result.returncode == 0, result.stderr
    assert "--array=1-3%1 " in submitted(tmp_path, "x")
    assert job_sh.max_overlap() == 1


def test_options_reach_the_job_as_sbatch_flags(slurm_cluster, launch, tmp_path):
    result = launch("slurm.py", "--num-threads", 2, "--mem", "100M", "--time", 5, "log/e.log",
                    "echo", "$SLURM_CPUS_PER_TASK", "$SLURM_MEM_PER_CPU", "$OMP_NUM_THREADS", env=slurm_cluster)
    assert result.returncode == 0, result.stderr
    assert "\n2 100 2\n" in (tmp_path / "log/e.log").read_text()
    assert "--time 5 --mem-per-cpu 100M --cpus-per-task 2 --array=1 " in submitted(tmp_path, "e")


def test_task_killed_before_its_footer_is_reported(slurm_cluster, launch, tmp_path):
    result = launch("slurm.py", "JOB=1:2", "log/k.JOB.log", "test", "JOB", "=", "1", "||", "kill", "-9", "$PPID",
                    env=slurm_cluster)
    assert result.returncode == 1
    err = result.stderr
    assert "1 of 2 jobs failed" in err
    assert "job 2: log/k.2.log: killed, cancelled or node failure (squeue: State=" in err
    assert f"no '# Ended' line; see {tmp_path}/log/q/k.2.out" in err


def test_sigterm_cancels_the_array(slurm_cluster, launch, tmp_path, process_gone):
    err, pids = signal_sleeping_jobs(launch, "slurm.py", tmp_path, env=slurm_cluster)
    assert "interrupted by SIGTERM" in err
    queue = subprocess.run(["squeue", "-h", "-n", "s.sh"], env={**os.environ, **slurm_cluster},
                           capture_output=True, text=True, check=True)
    assert queue.stdout == ""
    for pid in pids:
        assert process_gone(pid), f"job process {pid} survived"


def test_rejected_submission_is_reported(slurm_cluster, launch):
    result = launch("slurm.py", "--gpu", 2, "log/g.log", "true", env=slurm_cluster)  # the node has 1
    assert result.returncode == 1
    assert "submission failed" in result.stderr and "--gres=gpu:2" in result.stderr


def request(*args):
    return cli.parse_command_line([*args, "JOB=1:2", "log/x.JOB.log", "true"])


def flags(*args):
    return grid.submit_command(request(*args), Slurm())


def test_builtin_config_maps_options_to_flags():
    base = ["sbatch", "--export=ALL", "--ntasks-per-node=1"]
    assert flags() == base
    assert flags("--num-threads", "1", "--mem", "0") == base + ["--cpus-per-task", "1"]
    assert flags("--time", "1:00:00", "--gpu", "2", "--mem", "4G", "--num-threads", "4") == base + [
        "--time", "1:00:00", "--mem-per-cpu", "4G", "--cpus-per-task", "4", "-p", "gpu", "--gres=gpu:2"]
    assert flags("--max-jobs-run", "3", "--rerun-failed", "true") == base


def test_egs_slurm_conf_is_the_builtin_config():
    egs = load_config(str(EGS_CONF / "slurm.conf"), None, None)
    builtin = parse_config(BUILTIN_CONFIG, "builtin")
    assert (egs.command, egs.options, egs.defaults) == (builtin.command, builtin.options, builtin.defaults)


def test_config_file_options_and_errors(tmp_path):
    conf = tmp_path / "my.conf"
    conf.write_text("# site config\ncommand sbatch -A proj  # account\n"
                    "option partition=* -p $0\noption partition=short -p short --qos short\n"
                    "default partition=long\n")
    assert flags("--config", conf) == ["sbatch", "-A", "proj", "-p", "long"]
    assert flags("--config", conf, "--partition", "short") == ["sbatch", "-A", "proj", "-p", "short", "--qos", "short"]
    with pytest.raises(UsageError, match=f"option --num-threads is not described in {conf}"):
        flags("--config", conf, "--num-threads", "2")
    conf.write_text("command sbatch\noption gpu=0\n")
    with pytest.raises(UsageError, match=f"--gpu 1 is not allowed by {conf}"):
        flags("--config", conf, "--gpu", "1")
    conf.write_text("command sbatch\noptoin mem=* --mem $0\n")
    with pytest.raises(UsageError, match=f"{conf}:2: cannot parse 'optoin mem=\\* --mem \\$0'"):
        flags("--config", conf)
    conf.write_text("option mem=* --mem $0\n")
    with pytest.raises(UsageError, match="no 'command' line"):
        flags("--config", conf)
    conf.write_text("command sbatch\ndefault gpu=0\n")
    with pytest.raises(UsageError, match=f"{conf}:2: default for 'gpu'"):
        flags("--config", conf)


def test_config_errors_exit_2_before_anything_runs(launch, tmp_path):
    (tmp_path / "bad.conf").write_text("command sbatch\nbogus line\n")
    result = launch("slurm.py", "--config", "bad.conf", "JOB=1:2", "log/x.JOB.log", "true")
    assert result.returncode == 2
    assert result.stderr == "slurm.py: bad.conf:2: cannot parse 'bogus line': expected 'command <program flags>'," \
        " 'option name=value|* [flags]' or 'default name=value'\n"
    result = launch("slurm.py", "--config", "missing.conf", "JOB=1:2", "log/x.JOB.log", "true")
    assert result.returncode == 2 and "cannot read --config missing.conf" in result.stderr
    assert not (tmp_path / "log").exists()


def test_array_spec():
    assert array_spec([1, 2, 3]) == "1-3"
    assert array_spec([7, 2, 5]) == "2,5,7"
    assert array_spec([1, 2, 3, 5, 7, 8]) == "1-3,5,7-8"
