"""A data directory in memory: ``load`` it, take a ``subset``, ``save`` it.

Which files are what (see docs/data_dir.md):

- per-utterance tables, one ``<utt> <value>`` line per utterance: ``wav.scp``, ``feats.scp`` and
  every ``utt2*`` file (utt2spk, utt2label, utt2labels, utt2dur, utt2device, ...);
- ``events``: strong labels, several ``<utt> <onset> <offset> <label>`` lines per utterance;
- ``classes.txt``: one class per line, in a fixed (not sorted) order;
- ``spk2utt``: derived from utt2spk, never read, always rewritten on save;
- anything else that is a plain file (``frame_shift``, ``missing``, ``bad_utts``) is copied
  through byte for byte. Hidden entries (``.backup/``, ``.done``) and sub-directories
  (``split4/``) are not part of the data and are left alone.

Error messages name the file, the line, and the stage that writes the file, so that whoever
reads them knows which program to fix or re-run (``problem`` formats them).
"""
import contextlib
import os
import shutil
import tempfile

from dcase_tk.data.safety import DataDirError
from dcase_tk.io.atomic import atomic_open
from dcase_tk.io.table import TableError, read_list, read_table, sort_key, write_list, write_table

WAV_SCP = "wav.scp"
FEATS_SCP = "feats.scp"
FRAME_TARGETS_SCP = "frame_targets.scp"   # frame-level training targets (dcase_tk.bin.frame_targets)
UTT2SPK = "utt2spk"
SPK2UTT = "spk2utt"
EVENTS = "events"
CLASSES = "classes.txt"

STAGE_DATA_PREP = "stage 1 (data prep: local/<task>/prepare_data.py)"
STAGE_FEATURES = "stage 2 (steps/make_feats.sh)"
FEATURE_FILES = (FEATS_SCP, "utt2num_frames", "frame_shift")


def is_per_utt(name):
    """True for the files that must have exactly one line per utterance of wav.scp."""
    return name in (WAV_SCP, FEATS_SCP, FRAME_TARGETS_SCP) or name.startswith("utt2")


def written_by(name):
    """Which recipe stage writes data-dir file ``name``."""
    return STAGE_FEATURES if name in FEATURE_FILES else STAGE_DATA_PREP


def problem(directory, name, line, text):
    """``<dir>/<file>:<line>: <text> [written by <stage>]``; ``line`` may be None."""
    where = os.path.join(directory, name) + (f":{line}" if line is not None else "")
    return f"{where}: {text} [written by {written_by(name)}]"


def data_files(directory):
    """Names of the top-level, non-hidden plain files of ``directory``, sorted."""
    return sorted(name for name in os.listdir(directory)
                  if not name.startswith(".") and os.path.isfile(os.path.join(directory, name)))


def build_dir(dest, write):
    """Create directory ``dest`` all at once: ``write(tmp)`` fills a temporary directory next
    to it, which is then renamed to ``dest`` (an existing ``dest`` is swapped out and removed).
    An interrupted build leaves only a hidden ``.tmp.*`` directory behind."""
    parent, base = os.path.split(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp.{base}.", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a data dir is as readable as mkdir makes it
    try:
        write(tmp)
        if os.path.exists(dest):
            old = tempfile.mkdtemp(prefix=f".tmp.{base}.old.", dir=parent)
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class DataDir:
    """The files of one data directory.

    ``tables``: per-utterance file name -> ``{utt: value}`` (value is the rest of the line);
    ``events``: ``{utt: ["onset offset label", ...]}``; ``classes``: list or None;
    ``extras``: other plain file name -> bytes.
    """

    def __init__(self, tables, events=None, classes=None, extras=None):
        self.tables = tables
        self.events = events or {}
        self.classes = classes
        self.extras = extras or {}

    @property
    def utts(self):
        """Utterance ids of wav.scp, byte-order sorted."""
        return sorted(self.tables[WAV_SCP], key=sort_key)

    def groups(self):
        """``{utt: group}`` from utt2spk; without utt2spk every utterance is its own group."""
        utt2spk = self.tables.get(UTT2SPK)
        if utt2spk is None:
            return {utt: utt for utt in self.utts}
        lacking = [utt for utt in self.utts if utt not in utt2spk]
        if lacking:
            raise DataDirError(f"utt2spk has no group for {len(lacking)} utterances of wav.scp "
                               f"(e.g. '{lacking[0]}'); run utils/validate_data_dir.sh on the directory")
        return {utt: utt2spk[utt] for utt in self.utts}

    def spk2utt(self):
        """``{group: [utts, byte-order sorted]}`` derived from utt2spk (empty without it)."""
        result = {}
        for utt, group in sorted(self.tables.get(UTT2SPK, {}).items(), key=lambda kv: sort_key(kv[0])):
            result.setdefault(group, []).append(utt)
        return result

    def subset(self, utts):
        """A new DataDir with only ``utts`` in every per-utterance table and in events."""
        keep = set(utts)
        tables = {name: {k: v for k, v in table.items() if k in keep} for name, table in self.tables.items()}
        events = {k: v for k, v in self.events.items() if k in keep}
        return DataDir(tables, events, self.classes, dict(self.extras))

    def save(self, path):
        """Write the directory: byte-order sorted tables, final newlines, spk2utt from utt2spk.

        A new ``path`` is built in a temporary directory and renamed into place (all or
        nothing). An existing ``path`` keeps its hidden entries and sub-directories: each file
        is replaced atomically, files this DataDir does not have are removed first, and spk2utt
        goes last. An interrupted rewrite thus leaves whole files from either version; a mix of
        versions shows up in validate_data_dir as key sets (or spk2utt) that disagree.
        """
        if not os.path.exists(path):
            build_dir(path, self._write)
            return
        names = set(self.tables) | set(self.extras)
        for name, present in ((SPK2UTT, UTT2SPK in self.tables), (EVENTS, bool(self.events)),
                              (CLASSES, self.classes is not None)):
            if present:
                names.add(name)
        for name in data_files(path):
            if name not in names:
                os.unlink(os.path.join(path, name))
        self._write(path)

    def _write(self, directory):
        for name, table in sorted(self.tables.items()):
            write_table(os.path.join(directory, name), table)
        if self.events:
            with atomic_open(os.path.join(directory, EVENTS)) as f:
                for utt in sorted(self.events, key=sort_key):
                    f.writelines(f"{utt} {event}\n" for event in self.events[utt])
        if self.classes is not None:
            write_list(os.path.join(directory, CLASSES), self.classes)
        for name, data in sorted(self.extras.items()):
            with atomic_open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        if UTT2SPK in self.tables:
            write_table(os.path.join(directory, SPK2UTT), self.spk2utt())


def load(path):
    """Read data directory ``path``; DataDirError if it, or its wav.scp, is missing or a table
    is unreadable (duplicate key, not UTF-8). Sorting and key sets are not checked here:
    that is validate's job, and fix relies on loading a directory that fails them."""
    if not os.path.isdir(path):
        raise DataDirError(f"{path}: no such data directory")
    if not os.path.isfile(os.path.join(path, WAV_SCP)):
        raise DataDirError(problem(path, WAV_SCP, None, "missing; every data directory needs one"))
    data = DataDir({})
    for name in data_files(path):
        full = os.path.join(path, name)
        with _as_data_dir_error(path, name):
            if is_per_utt(name):
                data.tables[name] = read_table(full)
            elif name == EVENTS:
                data.events = read_table(full, allow_duplicates=True)
            elif name == CLASSES:
                data.classes = read_list(full)
            elif name != SPK2UTT:
                with open(full, "rb") as f:
                    data.extras[name] = f.read()
    return data


@contextlib.contextmanager
def _as_data_dir_error(directory, name):
    try:
        yield
    except TableError as e:
        raise DataDirError(f"{e} [written by {written_by(name)}]") from None
    except UnicodeDecodeError as e:
        raise DataDirError(problem(directory, name, None, f"not UTF-8 text ({e.reason})")) from None
