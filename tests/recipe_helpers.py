"""Running a recipe in a scratch copy: tests must not write into the repository's egs/ dir."""
import os
import shutil
import subprocess
from pathlib import Path

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


def run_recipe(recipe, *args, env=None, timeout=900):
    return subprocess.run(["./run.sh", *map(str, args)], cwd=recipe, text=True, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env={**os.environ, **(env or {})})


def start_recipe(recipe, *args, env=None, log=None):
    """Start run.sh in its own process group (so a test can kill the whole tree)."""
    return subprocess.Popen(["./run.sh", *map(str, args)], cwd=recipe, start_new_session=True,
                            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
