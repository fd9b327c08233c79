"""What every task's data prep (``local/<task>/prepare_data.py``) does with a corpus release:
keep the paths written to wav.scp shell-safe, and sort the listed audio into readable, missing
and unreadable files, failing when more than an allowed fraction is lost (DATA_FORMATS.md,
general rules)."""
import logging
import os
import shutil

import soundfile

from dcase_tk.data.safety import DataDirError, check_path

LOG = logging.getLogger("dcase_tk.data.corpus")


def corpus_root_for_paths(root, data_root, name):
    """The root to write into wav.scp: ``root`` itself, or a link to it if its path is unsafe.

    The corpus root may contain spaces (a mounted drive, a home folder); wav.scp must not. A
    symlink ``<data_root>/.corpus_links/<name>`` keeps every written path shell-safe.
    """
    root = os.path.abspath(root)
    try:
        return check_path(root, "corpus root")
    except DataDirError:
        link = os.path.join(os.path.abspath(data_root), ".corpus_links", name)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.islink(link):
            os.unlink(link)
        os.symlink(root, link)
        LOG.info("corpus root '%s' has characters unsafe in wav.scp; using the link %s", root, link)
        return check_path(link, "corpus link (move data_root to a path without spaces)")


def check_audio(items, directory, max_missing_fraction):
    """Sort ``items`` (anything with a ``.path``) into ``([(item, duration)] readable, [item]
    missing, [(item, reason)] unreadable)``; DataDirError when nothing is readable or more than
    ``max_missing_fraction`` of them is lost (the data dir ``directory`` is named)."""
    if not items:
        raise DataDirError(f"{directory}: the corpus lists no audio files for it; check the list "
                           "files (and any list of files to remove) of the release")
    readable, missing, bad = [], [], []
    for item in items:
        if not os.path.isfile(item.path):
            missing.append(item)
            continue
        try:
            readable.append((item, soundfile.info(item.path).duration))
        except RuntimeError as error:  # soundfile.LibsndfileError
            bad.append((item, str(error).replace("\n", " ")))
    if not readable or len(missing) + len(bad) > max_missing_fraction * len(items):
        example = missing[0].path if missing else f"{bad[0][0].path} ({bad[0][1]})"
        raise DataDirError(
            f"{directory}: {len(missing)} missing and {len(bad)} unreadable of {len(items)} listed audio files "
            f"(allowed: {max_missing_fraction:.1%}), e.g. {example}; is the corpus completely downloaded "
            "and extracted?")
    return readable, missing, bad


def run_prep(prepare, *args):
    """A data prep's ``main``: ``prepare(*args)`` with INFO logging; a DataDirError (bad corpus,
    too much audio missing) is logged as one line and gives exit status 1, not a traceback."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        prepare(*args)
    except DataDirError as error:
        logging.getLogger("prepare_data").error("%s", error)
        return 1
    return 0


def move_into(tmp, root):
    """Move every entry of directory ``tmp`` into ``root``, replacing an entry of the same name
    (how a mini-corpus generator swaps a finished release in)."""
    for name in sorted(os.listdir(tmp)):
        target = os.path.join(root, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        os.replace(os.path.join(tmp, name), target)


def check_missing_fraction(max_missing_fraction):
    """DataDirError unless ``--max-missing-fraction`` lies in [0, 1)."""
    if not 0.0 <= max_missing_fraction < 1.0:
        raise DataDirError(f"--max-missing-fraction {max_missing_fraction}: must be in [0, 1)")


def remove_stale(directory, why):
    """Remove a data dir an earlier run wrote (it has a wav.scp) that this run does not: ``why``."""
    if os.path.isfile(os.path.join(directory, "wav.scp")):
        LOG.info("removing %s from an earlier run: %s", directory, why)
        shutil.rmtree(directory)
