"""``.done`` stamps: a step records a hash of its inputs and resolved config when it succeeds.

A re-run with the same inputs skips the step (and says so); changed inputs or config re-run it.
An input directory is hashed file by file (hidden files such as ``.done`` and temporaries
excluded), so a hand edit of ``data/train/utt2label`` re-runs every step that reads it. Big
binary files (ark, pt, npz, wav) are fingerprinted by size and modification time, text files
by content.
"""
import hashlib
import json
import os

from dcase_tk.io.atomic import write_text

DONE = ".done"
BINARY_SUFFIXES = (".ark", ".pt", ".npz", ".npy", ".wav", ".flac", ".zip", ".png")


def _hash_file(h, path):
    h.update(path.encode())
    if path.endswith(BINARY_SUFFIXES):
        st = os.stat(path)
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)


def _hash_dir(h, directory):
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                _hash_file(h, os.path.join(root, name))


def inputs_hash(inputs, config=None):
    """Hash of the listed files/directories (in the given order) and a JSON-able config."""
    h = hashlib.sha256()
    for path in inputs:
        h.update(b"\0" + path.encode())
        if os.path.isdir(path):
            _hash_dir(h, path)
        elif os.path.isfile(path):
            _hash_file(h, path)
        else:
            raise FileNotFoundError(f"input '{path}' of this step does not exist")
    if config is not None:
        h.update(json.dumps(config, sort_keys=True, default=str).encode())
    return h.hexdigest()


def is_done(outdir, digest):
    stamp = os.path.join(outdir, DONE)
    if not os.path.isfile(stamp):
        return False
    with open(stamp, encoding="utf-8") as f:
        return f.read().split()[:1] == [digest]


def mark_done(outdir, digest):
    write_text(os.path.join(outdir, DONE), digest + "\n")


def clear_done(outdir):
    try:
        os.unlink(os.path.join(outdir, DONE))
    except FileNotFoundError:
        pass
