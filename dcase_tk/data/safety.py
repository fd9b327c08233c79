"""Keys and paths that would break a shell pipeline are rejected at data prep, not later.

Kaldi-style steps splice utterance ids and paths into command lines and whitespace-separated
files; one space or ``;`` in an id corrupts every file after it. We refuse them up front with
a message that says which id or path and how to fix it.
"""
import re

from dcase_tk.errors import UserError

SAFE_KEY = re.compile(r"^[A-Za-z0-9_.+@=,:-][A-Za-z0-9_.+@=,:/-]*$")
UNSAFE_PATH_CHARS = set(" \t\n\r;|&$`\\\"'<>(){}*?[]!#~")


class DataDirError(UserError, ValueError):
    """A data directory (or the corpus feeding it) is malformed; the message says where and how to fix."""


def check_key(key, where):
    """Raise DataDirError if ``key`` (an utterance or group id) is not shell- and Kaldi-safe."""
    if not SAFE_KEY.match(key):
        raise DataDirError(
            f"{where}: id '{key}' contains characters that break Kaldi-style files or shell commands "
            "(allowed: letters, digits and _ . + @ = , : - /, not starting with /); "
            "rename the file or map it to a safe id in the data-prep script")
    return key


def check_path(path, where):
    """Raise DataDirError if ``path`` contains whitespace or shell metacharacters."""
    bad = sorted(set(path) & UNSAFE_PATH_CHARS)
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise DataDirError(
            f"{where}: path '{path}' contains {shown}, which would break wav.scp or a shell command; "
            "move or link the corpus to a path without spaces or shell metacharacters "
            "(e.g. ln -s '<corpus dir>' /data/tut2018) and point db.sh at the link")
    return path
