"""Shared fixtures: a real single-node Slurm cluster, and running the job launchers."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dcase_tk.cli import keep_freed_memory

keep_freed_memory()          # in-process training in the tests runs as the tools do
if os.environ.get("PYTEST_XDIST_WORKER"):
    # make test runs two workers on two cores: one torch thread each, as the tools they start
    # use by default. (Not OMP_NUM_THREADS: nproc reads it, and the test clusters size their
    # node with nproc.)
    import torch
    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SLURM_SCRIPTS = ROOT / "tests" / "slurm"


CLUSTER_FIXTURES = ("slurm_cluster", "sge_cluster")


def pytest_configure(config):
    config.addinivalue_line("markers", "cluster: needs the real single-node Slurm or Grid Engine "
                            "that the session fixtures start (root and apt-get)")
    version = tuple(int(part) for part in pytest.__version__.split(".")[:2])
    if getattr(config.option, "dist", "no") == "loadgroup" and version >= (9, 2):
        # xdist 3.8 groups by renaming item._nodeid, which pytest 9.2 ignores: each worker
        # would start its own test cluster and run the module fixtures again
        raise pytest.UsageError(f"--dist loadgroup needs pytest < 9.2 (this is {pytest.__version__}); "
                                "pip install 'pytest<9.2' (setup.py's test extras pin it)")


# Run first, longest first, so that two xdist workers (make test) end together: the modules
# that run whole recipes (a module-scoped fixture each) take minutes, every other one seconds.
LONG_MODULES = ("test_recipe_task1", "test_recipe_task2", "test_recipe_task3", "test_recipe_task4",
                "test_recipe_task5", "test_recipe_task1b", "test_recipe_task1_nnf")
# The modules with tests that start a test cluster share one xdist worker (one Slurm and one
# Grid Engine per machine); every other module is a group of its own (module-scoped fixtures
# run once).
CLUSTER_MODULES = ("test_parallel_slurm", "test_parallel_sge", "test_recipe_task1")


def pytest_itemcollected(item):
    """Each test's xdist group (read by xdist while the items are still being collected)."""
    module = item.module.__name__
    item.add_marker(pytest.mark.xdist_group("cluster" if module in CLUSTER_MODULES else module))


def pytest_collection_modifyitems(items):
    """Mark the tests that need a test cluster, check their modules share the cluster group, and
    order the long modules first."""
    for item in items:
        if any(name in CLUSTER_FIXTURES for name in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cluster)
            if item.module.__name__ not in CLUSTER_MODULES:
                raise pytest.UsageError(f"{item.nodeid} starts a test cluster: add its module to "
                                        "CLUSTER_MODULES in tests/conftest.py")
    rank = {name: i for i, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))


def cluster_unavailable(reason):
    """A test cluster cannot run here (not root, or no package manager to install it).

    That is a failure, never a silent skip: a run that passes has run the real Slurm and Grid
    Engine tests. Where they cannot run, leave them out by name with ``-m 'not cluster'``.
    """
    pytest.fail(f"{reason}. The launcher tests need a real cluster: run them as root with apt-get "
                "available (as CI does), or leave them out explicitly: pytest -m 'not cluster'")


@pytest.fixture(scope="session")
def slurm_cluster():
    """A single-node Slurm cluster started by tests/slurm/start_slurm.sh for this session and
    stopped (by PID) at its end, whatever the tests did.

    Yields the environment its client commands need, ``{"SLURM_CONF": path}``: add it to the
    environment of anything that runs sbatch/squeue/srun or utils/slurm.py. Unavailable only where
    Slurm cannot run (not root, or not installed and no apt-get): see cluster_unavailable.
    """
    # Not under pytest's basetemp: that is mode 0700, and munged (user munge) must reach its socket.
    directory = tempfile.mkdtemp(prefix="dcase-tk-slurm-")
    try:
        started = subprocess.run([SLURM_SCRIPTS / "start_slurm.sh", directory],
                                 capture_output=True, text=True, timeout=600)
        if started.returncode == 3:
            cluster_unavailable(f"no test Slurm cluster: {started.stderr.strip()}")
        if started.returncode != 0:
            pytest.fail(f"start_slurm.sh failed:\n{started.stderr}")
        yield {"SLURM_CONF": os.path.join(directory, "slurm.conf")}
    finally:
        subprocess.run([SLURM_SCRIPTS / "stop_slurm.sh", directory], timeout=60)
        shutil.rmtree(directory, ignore_errors=True)


SGE_ENV = {"SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default"}
SGE_BIN = Path("/usr/lib/gridengine")
SGE_QUEUE = """qname all.q
hostlist {host}
seq_no 0
load_thresholds NONE
suspend_thresholds NONE
nsuspend 1
suspend_interval 00:05:00
priority 0
min_cpu_interval 00:05:00
processors UNDEFINED
qtype BATCH INTERACTIVE
ckpt_list NONE
pe_list make
rerun FALSE
slots {slots}
tmpdir /tmp
shell /bin/bash
prolog NONE
epilog NONE
shell_start_mode unix_behavior
starter_method NONE
suspend_method NONE
resume_method NONE
terminate_method NONE
notify 00:00:60
owner_list NONE
user_lists NONE
xuser_lists NONE
subordinate_list NONE
complex_values NONE
projects NONE
xprojects NONE
calendar NONE
initial_state default
""" + "".join(f"{limit} INFINITY\n" for limit in (
    "s_rt h_rt s_cpu h_cpu s_fsize h_fsize s_data h_data s_stack h_stack s_core h_core s_rss h_rss"
    " s_vmem h_vmem").split())


def _sge(*args, check=True):
    return subprocess.run(args, env={**os.environ, **SGE_ENV}, capture_output=True, text=True,
                          check=check, timeout=60)


def _wait_for(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Grid Engine: {what} within {timeout} s")
        time.sleep(0.2)


def _running_pid(*pid_file_patterns):
    """The PID in the first of the pid files matching the patterns whose process runs, or None."""
    for pid_file in (p for pattern in pid_file_patterns for p in glob.glob(pattern)):
        try:
            pid = int(Path(pid_file).read_text())
        except (FileNotFoundError, ValueError):
            continue
        if not _process_gone(pid, within=0):
            return pid
    return None


# sge_execd writes its pid file into its spool directory, named as it resolved its host name.
QMASTER_PID = "/var/spool/gridengine/qmaster/qmaster.pid"
EXECD_PIDS = ("/run/gridengine/execd.pid", "/var/spool/gridengine/execd/*/execd.pid")


def _install_sge(host):
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        cluster_unavailable("no test Grid Engine: gridengine is not installed and we cannot install it"
                    " (not root, or no apt-get)")
    answers = {"gridenginemaster": f"string {host}", "gridenginecell": "string default",
               "gridengineconfig": "boolean true"}
    preseed = "".join(f"{pkg} shared/{key} {value}\n" for key, value in answers.items()
                      for pkg in ("gridengine-common", "gridengine-master", "gridengine-client"))
    subprocess.run(["debconf-set-selections"], input=preseed, text=True, check=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "gridengine-master",
                    "gridengine-exec", "gridengine-client"], env=env, check=True, capture_output=True)


@pytest.fixture(scope="session")
def sge_cluster(tmp_path_factory):
    """A single-node Grid Engine: Debian's gridengine packages (installed with apt-get where
    missing), cell 'default', one queue all.q with a slot per core, configured to run root's jobs
    and to schedule every second. Daemons this fixture starts are stopped (by PID) at the end;
    ones already running are reused and left running. Yields the environment its client commands
    need (SGE_ROOT, SGE_CELL). Fails where it cannot be installed (not root, no apt-get).

    Unlike the Slurm cluster, Grid Engine's cell is machine-wide (/var/lib/gridengine,
    /var/spool/gridengine), so this changes the machine's Grid Engine configuration.
    """
    host = subprocess.run(["hostname", "-s"], capture_output=True, text=True, check=True).stdout.strip()
    cell = Path(SGE_ENV["SGE_ROOT"]) / SGE_ENV["SGE_CELL"] / "common"
    if not (cell / "act_qmaster").exists() or not shutil.which("qsub"):
        _install_sge(host)
    if os.geteuid() != 0:
        cluster_unavailable("no test Grid Engine: must be root to start sge_qmaster and sge_execd")
    # Where the host name resolves to a loopback address, clients connecting from 127.0.0.1
    # appear as "localhost": declare it an alias of the host.
    aliases = cell / "host_aliases"
    if f"{host} localhost\n" not in (aliases.read_text() if aliases.exists() else ""):
        with open(aliases, "a") as f:
            f.write(f"{host} localhost\n")
    started = []
    try:
        if _sge("qconf", "-sh", check=False).returncode != 0:
            _sge(SGE_BIN / "sge_qmaster")
            _wait_for(lambda: _sge("qconf", "-sh", check=False).returncode == 0, "qmaster not up")
            started.append(_running_pid(QMASTER_PID))
        conf_dir = tmp_path_factory.mktemp("sge")
        _sge("qconf", "-as", host, check=False)  # "already exists" is fine
        if _sge("qconf", "-se", host, check=False).returncode != 0:
            (conf_dir / "exechost").write_text(f"hostname {host}\n")
            _sge("qconf", "-Ae", conf_dir / "exechost")
        if _sge("qconf", "-sq", "all.q", check=False).returncode != 0:
            (conf_dir / "queue").write_text(SGE_QUEUE.format(host=host, slots=os.cpu_count()))
            _sge("qconf", "-Aq", conf_dir / "queue")
        (conf_dir / "global").write_text(  # the file's name names the configuration
            re.sub(r"(?m)^(min_uid|min_gid)\s.*$", r"\1 0", _sge("qconf", "-sconf", "global").stdout))
        _sge("qconf", "-Mconf", conf_dir / "global")
        (conf_dir / "sched").write_text(re.sub(
            r"(?m)^(schedule_interval|flush_submit_sec|flush_finish_sec)\s.*$",
            lambda m: f"{m[1]} {'0:0:1' if m[1] == 'schedule_interval' else 1}",
            _sge("qconf", "-ssconf").stdout))
        _sge("qconf", "-Msconf", conf_dir / "sched")
        if not _running_pid(*EXECD_PIDS):
            _sge(SGE_BIN / "sge_execd")
            _wait_for(lambda: _running_pid(*EXECD_PIDS), "sge_execd not up")
            started.append(_running_pid(*EXECD_PIDS))
        _sge("qmod", "-c", "all.q", check=False)  # clear an error state left by earlier runs

        def queue_ready():
            lines = _sge("qstat", "-f", "-q", "all.q").stdout.splitlines()
            return any(line.startswith(f"all.q@{host}") and len(line.split()) == 5 for line in lines)
        _wait_for(queue_ready, f"queue all.q@{host} not ready (no states)")
        yield dict(SGE_ENV)
    finally:
        for pid in filter(None, started):
            os.kill(pid, signal.SIGTERM)
            if not _process_gone(pid, within=30):  # sge_qmaster takes ~7 s to shut down
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def launch(tmp_path):
    """launch(tool, *args, env=None, wait=True): run utils/<tool> in tmp_path with the extra
    environment ``env``; a CompletedProcess (text), or the Popen when ``wait`` is False."""
    def launch(tool, *args, env=None, wait=True, timeout=60):
        argv = [sys.executable, str(ROOT / "utils" / tool), *map(str, args)]
        kwargs = dict(cwd=tmp_path, env={**os.environ, **(env or {})}, text=True,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if not wait:
            return subprocess.Popen(argv, **kwargs)
        return subprocess.run(argv, timeout=timeout, **kwargs)
    return launch


JOB_SH = """\
i=$1
echo "$i" >> runs.txt
date +%s.%N > "times.$i"
sleep "${2:-0}"
date +%s.%N >> "times.$i"
echo "job $i threads $OMP_NUM_THREADS $MKL_NUM_THREADS $OPENBLAS_NUM_THREADS $DCASE_TK_NUM_THREADS"
if [ -e "fail.$i" ]; then echo "boom $i"; exit 3; fi
"""


class JobScript:
    """``bash job.sh INDEX [SLEEP]`` in a test directory: appends INDEX to runs.txt, records its
    start and end times, prints its thread variables, and fails (exit 3) while fail.INDEX exists."""

    def __init__(self, directory):
        self.dir = Path(directory)
        (self.dir / "job.sh").write_text(JOB_SH)

    def fail(self, *indices):
        for i in indices:
            (self.dir / f"fail.{i}").touch()

    def heal(self):
        for path in self.dir.glob("fail.*"):
            path.unlink()

    def runs(self):
        path = self.dir / "runs.txt"
        return [int(x) for x in path.read_text().split()] if path.exists() else []

    def max_overlap(self):
        """The most jobs that were running at the same moment."""
        events = []
        for path in self.dir.glob("times.*"):
            start, end = map(float, path.read_text().split())
            events += [(start, 1), (end, -1)]
        running = peak = 0
        for _, step in sorted(events):  # at equal times an end (-1) sorts before a start
            running += step
            peak = max(peak, running)
        return peak


@pytest.fixture
def job_sh(tmp_path):
    return JobScript(tmp_path)


def _process_gone(pid, within=2.0):
    """True if process ``pid`` is gone within ``within`` seconds (a zombie counts as gone)."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


@pytest.fixture
def process_gone():
    return _process_gone



@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module, as under xdist: on a busy 2-core machine two threads make
    small models many times slower (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
