"""Atomic file writes: write under a temporary name in the same directory, rename on success.

A killed process leaves at most a ``.tmp.*`` file behind, never a half-written file under its
final name, so a re-run can trust every final name it finds.
"""
import contextlib
import os
import tempfile


def tmp_path_for(path):
    """A fresh temporary name next to ``path`` (same filesystem, so the rename is atomic)."""
    directory, base = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp.{base}.", dir=directory)
    os.close(fd)
    # mkstemp makes the file private (0600); give it the mode a plain open() would, so that
    # data dirs and models stay readable by the other users of a shared cluster.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path; on success it is renamed to ``path``, on error it is removed."""
    tmp = tmp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode="w", encoding="utf-8"):
    """Open a temporary file for writing; it becomes ``path`` only when the block succeeds."""
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": "\n"}
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_text(path, text):
    with atomic_open(path) as f:
        f.write(text)
