"""Helpers shared by test modules: recipes run in scratch copies (tests never write into the
repository's egs/ dirs), local corpus scripts imported by path, waiting for jobs to start, and
checking a fused system against its saved fusion."""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dcase_tk import fusion
from dcase_tk.io.scores import read_decode_dir

ROOT = Path(__file__).resolve().parents[1]


def copy_recipe(name, dest):
    """A copy of ``egs/<name>`` at ``dest``: its own files copied, the shared dirs linked."""
    src = ROOT / "egs" / name
    dest = Path(dest)
    dest.mkdir(parents=True)
    for entry in src.iterdir():
        if entry.is_symlink():
            (dest / entry.name).symlink_to(entry.resolve())
        elif entry.is_dir():
            if entry.name not in ("data", "dump", "exp", "corpus", "downloads"):
                shutil.copytree(entry, dest / entry.name)
        else:
            shutil.copy2(entry, dest / entry.name)
    return dest


def recipe_args(args):
    """run.sh's arguments, with one thread per job unless the test says otherwise: make test's two
    workers share two cores, and a 2-thread torch job next to a busy core spins (half the CPU
    went to the kernel in a two-worker run)."""
    args = [str(a) for a in args]
    return args if "--num_threads" in args else [*args, "--num_threads", "1"]


def recipe_env(args, env):
    """run.sh's environment: the test's ``env`` over ours, and the threads of ``--num_threads`` for
    the steps that run outside the launcher too (back ends, fusion, scoring: torch and BLAS take
    every core by default, and spin next to a busy one; the Task 1 i-vector MLP back end took 70 s
    instead of 12 s under load). The launcher's jobs set these themselves."""
    threads = args[args.index("--num_threads") + 1]
    ours = {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return {**os.environ, **ours, **(env or {})}


def run_recipe(recipe, *args, env=None, timeout=900):
    args = recipe_args(args)
    return subprocess.run(["./run.sh", *args], cwd=recipe, text=True, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=recipe_env(args, env))


def start_recipe(recipe, *args, env=None, log=None):
    """Start run.sh in its own process group (so a test can kill the whole tree)."""
    args = recipe_args(args)
    return subprocess.Popen(["./run.sh", *args], cwd=recipe, start_new_session=True,
                            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            env=recipe_env(args, env))


def load_local(task, name):
    """Import ``local/<task>/<name>.py`` as module ``<task>_<name>`` (tasks share script names)."""
    directory = ROOT / "local" / task
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    spec = importlib.util.spec_from_file_location(f"{task}_{name}", directory / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def wait_for_pids(directory, n, timeout=20):
    """PIDs that jobs 1..n wrote to ``directory/pid.<i>``, once all have."""
    files = [Path(directory) / f"pid.{i}" for i in range(1, n + 1)]
    deadline = time.monotonic() + timeout
    while not all(p.exists() and p.read_text().strip() for p in files):
        assert time.monotonic() < deadline, "jobs did not start"
        time.sleep(0.05)
    return [int(p.read_text()) for p in files]


def signal_sleeping_jobs(launch, tool, directory, sig=signal.SIGTERM, env=None):
    """Start two sleeping jobs with ``utils/<tool>``, signal the launcher once both run, and
    check it exits 128+sig. Returns ``(stderr, job pids)`` for the caller's own checks."""
    proc = launch(tool, "JOB=1:2", "log/s.JOB.log", "echo", "$$", ">", "pid.JOB", "&&", "exec", "sleep", 60,
                  env=env, wait=False)
    pids = wait_for_pids(directory, 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    return err, pids


def write_dump(directory, matrices, labels, classes, label_file="utt2label", extra=None):
    """A minimal dump dir: ``feats.scp``/ark of ``matrices`` (utt -> (frames, dim) array),
    ``<label_file>`` from ``labels`` (utt -> label string), ``classes.txt``, other tables in
    ``extra`` (file name -> {utt: value}); returns the dir."""
    import kaldiio
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with kaldiio.WriteHelper(f"ark,scp:{directory}/feats.ark,{directory}/feats.scp") as writer:
        for utt in sorted(matrices):
            writer(utt, matrices[utt])
    tables = {label_file: labels, **(extra or {})}
    for name, table in tables.items():
        (directory / name).write_text("".join(f"{u} {table[u]}\n" for u in sorted(table)))
    (directory / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    return directory


def check_fused(exp, name, members, set_name, model_dir=None):
    """Assert that ``<exp>/<name>/<set_name>`` is the fusion saved in ``model_dir`` (default
    ``<exp>/<name>/model``) applied to the members' decode dirs of that set, and that it was not
    fitted on any of its clips; returns ``(fuser, info, fitted clips)``."""
    model_dir = Path(model_dir or Path(exp) / name / "model")
    fuser, info = fusion.load(model_dir)
    assert info["members"] == list(members)
    _, utts, fused = read_decode_dir(Path(exp) / name / set_name)
    scores = np.stack([read_decode_dir(Path(exp) / m / set_name)[2] for m in members])
    np.testing.assert_allclose(fused, fuser.apply(scores), atol=1e-5)
    fitted = (model_dir / "fit_utts").read_text().split()
    assert not set(fitted) & set(utts)
    return fuser, info, fitted


def clips(data_dir):
    """The utterance ids of a data dir's wav.scp, sorted."""
    return sorted(line.split()[0] for line in (Path(data_dir) / "wav.scp").read_text().splitlines())
