"""``.done`` stamps: a step records a hash of its inputs and resolved config when it succeeds.

A re-run with the same inputs skips the step (and says so); changed inputs or config re-run it.
An input directory stands for its top-level files, hashed one by one (hidden files such as
``.done`` and temporaries excluded), so a hand edit of ``data/train/utt2label`` re-runs every
step that reads it, while derived sub-directories (``split4/``, ``log/``, the ark folder behind
``feats.scp``) do not make a finished step look stale. Big
binary files (ark, pt, npz, wav) are fingerprinted by size and modification time, text files
by content.
"""
import hashlib
import json
import os
import shutil

from dcase_tk.errors import UserError
from dcase_tk.io.atomic import write_text

DONE = ".done"
STARTED = ".started"     # the inputs hash of a resumable step's work in progress
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
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.startswith(".") and os.path.isfile(path):
            _hash_file(h, path)


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


def is_done(outdir, digest, name=DONE):
    stamp = os.path.join(outdir, name)
    if not os.path.isfile(stamp):
        return False
    with open(stamp, encoding="utf-8") as f:
        return f.read().split()[:1] == [digest]


def mark_done(outdir, digest, name=DONE):
    write_text(os.path.join(outdir, name), digest + "\n")


def start(outdir, digest, force=False):
    """Get ``outdir`` ready for a resumable step (one that keeps per-iteration files): what is
    there is kept if it was started from the same inputs, else removed, so that a resumed run
    never mixes in files made from other inputs or options. A non-empty directory this function
    did not start is refused rather than emptied."""
    if os.path.isdir(outdir) and os.listdir(outdir):
        if not os.path.isfile(os.path.join(outdir, STARTED)):
            raise UserError(f"{outdir} exists and was not made by this step; remove it or choose another dir")
        if force or not is_done(outdir, digest, STARTED):
            shutil.rmtree(outdir)
    os.makedirs(outdir, exist_ok=True)
    mark_done(outdir, digest, STARTED)
