"""Training as the recipes run it, in real processes: a run killed mid-epoch resumes from its
last checkpoint and ends where an unbroken run ends; and a 2-process torchrun (gloo, CPU) data
parallel run takes the same steps as one process with the same global batch."""
import csv
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from dcase_tk.features import cmvn
from helpers import ROOT, write_dump

CLASSES = ["a", "b", "c"]


def toy_dump(directory, n, seed, frames=40, dim=16):
    rng = np.random.default_rng(seed)
    mats, labels = {}, {}
    for i in range(n):
        x = rng.standard_normal((frames, dim)).astype(np.float32)
        x[:, 4 * (i % 3):4 * (i % 3) + 4] += 2.0
        mats[f"s{seed}_{i:03d}"], labels[f"s{seed}_{i:03d}"] = x, CLASSES[i % 3]
    write_dump(directory, mats, labels, CLASSES)
    cmvn.write(str(directory / "cmvn.ark"), cmvn.accumulate(list(mats.values())))
    return directory


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    root = tmp_path_factory.mktemp("proc")
    return toy_dump(root / "train", 96, 1), toy_dump(root / "valid", 30, 2)


def system_file(path, model, **training):
    system = {"input": {"frames": 40}, "model": model,
              "training": {"batch_size": 16, "lr": 0.003, "seed": 3, "keep_checkpoints": 50, **training}}
    path.write_text(yaml.safe_dump(system))
    return path


def command(system, dumps, exp, nproc=1):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DCASE_TK_NUM_THREADS": "1"}
    tool = ["-m", "dcase_tk.bin.train_nnet", "--config", str(system), "--cmvn",
            str(dumps[0] / "cmvn.ark"), "--device", "cpu", str(dumps[0]), str(dumps[1]), str(exp)]
    if nproc == 1:
        return [sys.executable, *tool], env
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    return [torchrun, "--standalone", "--nnodes", "1", "--nproc_per_node", str(nproc), *tool], env


def run(system, dumps, exp, nproc=1):
    cmd, env = command(system, dumps, exp, nproc)
    result = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def history_without_times(exp):
    with open(exp / "history.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_killed_mid_epoch_resumes_to_the_same_result(tmp_path, dumps):
    model = {"name": "cnn_baseline", "filters": [8, 16], "kernel_size": 3,
             "pool_sizes": [[2, 2], [4, 10]], "hidden": 32, "dropout": 0.2}
    # many small batches: an epoch lasts about a second, long enough to be killed inside it
    system = system_file(tmp_path / "sys.yaml", model, epochs=4, batch_size=4, steps_per_epoch=300)
    run(system, dumps, tmp_path / "unbroken")

    cmd, env = command(system, dumps, tmp_path / "broken")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = tmp_path / "broken" / "checkpoints" / "epoch_0002.pt"
    deadline = time.monotonic() + 120
    while not second.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)                    # early in epoch 3
    proc.wait()
    saved = sorted(p.name for p in (tmp_path / "broken" / "checkpoints").glob("epoch_*.pt"))
    assert saved[-1] == "epoch_0002.pt", saved
    assert not (tmp_path / "broken" / "final.pt").exists()

    result = run(system, dumps, tmp_path / "broken")
    assert "resuming from" in result.stderr
    assert history_without_times(tmp_path / "broken") == history_without_times(tmp_path / "unbroken")
    a = torch.load(tmp_path / "unbroken" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "broken" / "final.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


# no BatchNorm (per-process statistics) and no dropout (per-process draws): what is left of a
# data-parallel run must be the same arithmetic as one process, up to the order of sums
NO_BN_MODEL = {"name": "crnn", "filters": [8, 8], "freq_pools": [2, 2], "batch_norm": False,
               "dropout": 0.0, "rnn_units": 8, "rnn_dropout": 0.0, "pooling": "max"}


@pytest.fixture(scope="module")
def ddp_system(tmp_path_factory):
    # plain SGD: unlike Adam it is not blind to a wrongly scaled gradient
    return system_file(tmp_path_factory.mktemp("ddp") / "sys.yaml", NO_BN_MODEL, epochs=2, batch_size=16,
                       lr=0.2, optimizer="sgd", momentum=0.0, schedule={"name": "step", "every": 3, "gamma": 0.5})


@pytest.fixture(scope="module")
def one_process(ddp_system, dumps):
    """The reference of the data-parallel tests: one process with the global batch."""
    exp = ddp_system.parent / "one"
    run(ddp_system, dumps, exp)
    return exp


def assert_same_training(one, parallel, world):
    first = torch.load(one / "checkpoints" / "epoch_0002.pt", weights_only=False)
    other = torch.load(parallel / "checkpoints" / "epoch_0002.pt", weights_only=False)
    start = torch.load(one / "checkpoints" / "epoch_0001.pt", weights_only=False)
    for name, value in first["model"].items():
        assert torch.allclose(value, other["model"][name], atol=1e-5, rtol=1e-4), name
    # 12 steps of training moved the weights far more than the tolerance
    assert max((v - start["model"][k]).abs().max().item() for k, v in first["model"].items()) > 1e-2
    assert len(other["rng"]) == world            # each process's RNG state, for resumption
    for r1, r2 in zip(history_without_times(one), history_without_times(parallel), strict=True):
        assert float(r1["valid_loss"]) == pytest.approx(float(r2["valid_loss"]), rel=1e-4)
        assert r1["valid_accuracy"] == r2["valid_accuracy"]


def test_two_process_ddp_matches_one_process_with_the_global_batch(tmp_path, dumps, ddp_system, one_process):
    result = run(ddp_system, dumps, tmp_path / "two", nproc=2)
    assert "process 1 of 2" in result.stderr and "(gloo)" in result.stderr
    assert_same_training(one_process, tmp_path / "two", 2)


def test_two_process_ddp_trains_frame_objectives_of_an_attention_model(tmp_path, dumps):
    """A frame-level objective leaves an attention head's attention branch without a gradient;
    DDP is told to look for such weights, and takes the same steps as one process."""
    model = {**NO_BN_MODEL, "name": "gcrnn", "pooling": "attention"}
    system = system_file(tmp_path / "sys.yaml", model, epochs=2, lr=0.2, optimizer="sgd", momentum=0.0,
                         loss="bce", objective="frames", select_metric="auc")
    bad = system_file(tmp_path / "bad.yaml", model, loss="bce")
    refused = subprocess.run(command(bad, dumps, tmp_path / "bad")[0], capture_output=True, text=True)
    assert refused.returncode != 0 and "select_metric accuracy is for single-label systems" in refused.stderr
    run(system, dumps, tmp_path / "one")
    run(system, dumps, tmp_path / "two", nproc=2)
    first = torch.load(tmp_path / "one/checkpoints/epoch_0002.pt", weights_only=False)["model"]
    other = torch.load(tmp_path / "two/checkpoints/epoch_0002.pt", weights_only=False)["model"]
    for name, value in first.items():
        assert torch.allclose(value, other[name], atol=1e-5, rtol=1e-4), name


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_rendezvous_from_the_slurm_environment(tmp_path, dumps, ddp_system, one_process):
    """Two "nodes" on this machine, each started as srun starts them in a 2-node Slurm job: the
    same launch_ddp command, told apart only by SLURM_NODEID."""
    tool, env = command(ddp_system, dumps, tmp_path / "nodes")
    env = {**env, "SLURM_JOB_ID": "4242", "SLURM_NNODES": "2", "SLURM_JOB_NODELIST": "localhost",
           "MASTER_PORT": str(free_port())}
    launch = [sys.executable, "-m", "dcase_tk.bin.launch_ddp", "--nnodes", "2", "--nproc_per_node", "1",
              "--", *tool[1:]]
    nodes = [subprocess.Popen(launch, env={**env, "SLURM_NODEID": str(rank)}, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for rank in (0, 1)]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    for rank, out in enumerate(outputs):
        assert f"--nnodes 2 --node_rank {rank} --nproc_per_node 1 --master_addr localhost" in out
    assert "process 1 of 2" in outputs[1]
    assert_same_training(one_process, tmp_path / "nodes", 2)


def test_train_step_runs_torchrun_with_nproc(tmp_path, dumps):
    system = system_file(tmp_path / "sys.yaml", NO_BN_MODEL, epochs=2)
    result = subprocess.run(
        ["bash", "-c", f". ./path.sh && steps/train_nnet.sh --nproc 2 --system_config {system} "
                       f"--cmvn {dumps[0]}/cmvn.ark {dumps[0]} {dumps[1]} {tmp_path}/exp"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on 2 process(es)" in result.stdout
    log = (tmp_path / "exp" / "train.log").read_text()
    assert "torchrun" in log and "process 1 of 2" in log and "# Ended (code 0)" in log
    assert len(history_without_times(tmp_path / "exp")) == 2
