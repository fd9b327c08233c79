"""How data-parallel training is launched on one or several nodes (dcase_tk.parallel.rendezvous);
tests/test_train_processes.py runs the launches for real."""
import pytest

from dcase_tk.cli import ToolError
from dcase_tk.parallel.rendezvous import expand_hostlist, launch_argv, static_rendezvous

SLURM = {"SLURM_JOB_ID": "123457", "SLURM_NNODES": "3", "SLURM_NODEID": "2",
         "SLURM_JOB_NODELIST": "gpu[09-11]"}


@pytest.mark.parametrize("hostlist, hosts", [
    ("node7", ["node7"]),
    ("gpu[01-03,07]", ["gpu01", "gpu02", "gpu03", "gpu07"]),
    ("a[8-10],login2,b[1,3]-ib", ["a8", "a9", "a10", "login2", "b1-ib", "b3-ib"]),
    ("rack[098-101]", ["rack098", "rack099", "rack100", "rack101"]),
])
def test_expand_hostlist(hostlist, hosts):
    assert expand_hostlist(hostlist) == hosts


def test_unreadable_hostlist_is_named():
    with pytest.raises(ToolError, match=r"'gpu\[a-b\]'.*'a-b' is not N or N-M"):
        expand_hostlist("gpu[a-b]")


def test_rendezvous_from_the_slurm_environment():
    # the port is derived from the job id, so that jobs sharing a first node differ
    assert static_rendezvous(3, SLURM) == (2, "gpu09", 20000 + 123457 % 10000)
    assert static_rendezvous(3, {**SLURM, "MASTER_PORT": "29400"}) == (2, "gpu09", 29400)


def test_options_override_the_environment():
    assert static_rendezvous(3, SLURM, node_rank=0, master_addr="10.0.0.5", master_port=1234) == \
        (0, "10.0.0.5", 1234)
    assert static_rendezvous(2, {}, node_rank=1, master_addr="h", master_port=5) == (1, "h", 5)


@pytest.mark.parametrize("env, nnodes, message", [
    (SLURM, 2, r"--nnodes 2 but this Slurm job has 3 nodes \(gpu\[09-11\]\): submit it with --num-nodes 2"),
    ({}, 2, r"needs the node rank: run it inside a Slurm job \(which sets SLURM_NODEID\) or give --node_rank"),
    ({**SLURM, "SLURM_NODEID": "3"}, 3, r"node rank 3 is outside 0..2"),
    ({"SLURM_NODEID": "0"}, 2, r"needs the master addr.*SLURM_JOB_NODELIST"),
])
def test_rendezvous_errors_say_what_is_missing(env, nnodes, message):
    with pytest.raises(ToolError, match=message):
        static_rendezvous(nnodes, env)


def test_launch_commands():
    args = ["-m", "dcase_tk.bin.train_nnet", "x"]
    assert launch_argv("py", "tr", 1, 1, args, SLURM) == ["py", *args]
    assert launch_argv("py", "tr", 1, 4, args, SLURM) == \
        ["tr", "--standalone", "--nnodes", "1", "--nproc_per_node", "4", *args]
    assert launch_argv("py", "tr", 3, 4, args, SLURM) == \
        ["tr", "--nnodes", "3", "--node_rank", "2", "--nproc_per_node", "4", "--master_addr", "gpu09",
         "--master_port", str(20000 + 123457 % 10000), *args]
    with pytest.raises(ToolError, match="at least 1"):
        launch_argv("py", "tr", 0, 1, args, {})
