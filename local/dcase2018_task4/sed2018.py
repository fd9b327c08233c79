"""The DCASE 2018 Task 4 release (weakly labelled semi-supervised SED in domestic environments):
its facts, and a reader of its lists shared by the Task 4 corpus scripts.

Layout after /work/shared/DATA_FORMATS.md "Task 4" and the release's readme
(DCASE-REPO/dcase2018_baseline, task4/dataset/readme.md); paths are relative to the ``dataset``
folder of the release (the corpus root holds ``dataset/``; the ``dataset`` folder itself is
accepted as the root too)::

    metadata/train/weak.csv                 filename<TAB>event_labels      1578 clips
    metadata/train/unlabel_in_domain.csv    filename                       14412 clips
    metadata/train/unlabel_out_of_domain.csv  filename                     39999 clips
    metadata/test/test.csv                  filename<TAB>onset<TAB>offset<TAB>event_label
    metadata/test/files_to_remove.csv       filename (test clips also in the training sets)
    metadata/eval/eval.csv                  as test.csv (or filename only, unlabelled)
    audio/train/weak/  audio/train/unlabel_in_domain/  audio/train/unlabel_out_of_domain/
    audio/test/  audio/eval/

Every list is tab-separated with a header; columns are found by name (extra columns are fine),
never by position. The weak labels of a clip are joined by commas in the release's file, by
semicolons in its readme: both are accepted, also mixed in one row. A strong list has one row per
event; a clip without any event is one row with empty onset, offset and label, and is kept (in
wav.scp, without events). Times are written by pandas (``0.28600000000000003``): they are read as
floats and kept to the millisecond, as the data dir writes them (``%.3f``).

File names are the YouTube clip names, ``Y<11-character video id>_<start>_<end>.wav``; the
video id may contain ``-`` and ``_`` (``Y--7jZxfzemI_13.000_23.000.wav``). The utterance id is the
name without ``.wav``: every character of a YouTube name is allowed in an id
(``dcase_tk.data.safety``), the submission needs the name back (``<utt>.wav``), and an id that
is not safe is refused with the list's file and line, as by every other task.

A bad row (unknown class, non-numeric time, onset not before offset, a clip listed twice in a
weak or unlabelled list, ...) is a DataDirError naming the list, the line and what to fix.
"""
import dataclasses
import logging
import math
import os
import re

from dcase_tk.data.safety import DataDirError, check_key, check_path

LOG = logging.getLogger("sed2018")

# classes.txt order (fixed, DATA_FORMATS.md; alphabetical as the release's labels): the column
# order of every Task 4 score file.
CLASSES = ("Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush", "Frying",
           "Running_water", "Speech", "Vacuum_cleaner")

SAMPLE_RATE = 44100
CLIP_SECONDS = 10.0

DATASET_DIR = "dataset"
METADATA_DIR = "metadata"

# The columns, by name.
FILENAME, EVENT_LABELS, ONSET, OFFSET, EVENT_LABEL = "filename", "event_labels", "onset", "offset", "event_label"
STRONG_COLUMNS = (FILENAME, ONSET, OFFSET, EVENT_LABEL)
LABEL_SEPARATORS = re.compile(r"[,;]")

WEAK, STRONG, UNLABELLED = "weak", "strong", "unlabelled"


@dataclasses.dataclass(frozen=True)
class Subset:
    """One list of the release and its audio folder (paths relative to the ``dataset`` folder).

    ``name``: the data dir it becomes; ``kind``: WEAK (clip labels), STRONG (events; an eval
    list may be unlabelled, with a ``filename`` column only) or UNLABELLED.
    """
    name: str
    csv: str
    audio: str
    kind: str
    clips: int                # in the real release (0: unknown)


WEAK_SET = Subset("weak", "metadata/train/weak.csv", "audio/train/weak", WEAK, 1578)
UNLABEL_IN_DOMAIN = Subset("unlabel_in_domain", "metadata/train/unlabel_in_domain.csv",
                           "audio/train/unlabel_in_domain", UNLABELLED, 14412)
UNLABEL_OUT_OF_DOMAIN = Subset("unlabel_out_of_domain", "metadata/train/unlabel_out_of_domain.csv",
                               "audio/train/unlabel_out_of_domain", UNLABELLED, 39999)
TEST = Subset("test", "metadata/test/test.csv", "audio/test", STRONG, 288)
EVAL = Subset("eval", "metadata/eval/eval.csv", "audio/eval", STRONG, 0)
FILES_TO_REMOVE = "metadata/test/files_to_remove.csv"

# The development lists, in the order they are read and written; EVAL comes with the evaluation release.
DEV_SUBSETS = (WEAK_SET, UNLABEL_IN_DOMAIN, UNLABEL_OUT_OF_DOMAIN, TEST)


@dataclasses.dataclass(frozen=True)
class Event:
    """One strong label, times in whole milliseconds (as %.3f writes them)."""
    onset_ms: int
    offset_ms: int
    label: str
    where: str

    def line(self):
        """The data dir's ``<onset> <offset> <label>`` (after the utterance id)."""
        return f"{self.onset_ms / 1000:.3f} {self.offset_ms / 1000:.3f} {self.label}"


@dataclasses.dataclass
class Clip:
    """A listed clip. ``labels``: sorted in CLASSES order (weak lists, and strong lists: the
    classes of its events); None when unlabelled. ``events``: None unless from a strong list."""
    utt: str
    filename: str
    path: str
    where: str                # "<list>:<line>" of its (first) row
    labels: tuple = None
    events: list = None


# ---------------------------------------------------------------- where the release is

def release_dir(root):
    """Where the release's ``metadata/`` and ``audio/`` are, relative to ``root``: ``dataset``,
    or ``''`` when ``root`` is the ``dataset`` folder itself."""
    for relative in (DATASET_DIR, ""):
        if os.path.isdir(os.path.join(root, relative, METADATA_DIR)):
            return relative
    raise DataDirError(f"neither {os.path.join(root, DATASET_DIR, METADATA_DIR)} nor "
                       f"{os.path.join(root, METADATA_DIR)} exists; is it the folder of the DCASE 2018 Task 4 "
                       "release (the one holding dataset/, with dataset/metadata/ and dataset/audio/)?")


# ---------------------------------------------------------------- reading the lists

def _field(text):
    """A field stripped of spaces and of one pair of enclosing double quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text


def read_tsv(path, required, hint="is the release completely downloaded and extracted?"):
    """``(header, [(line number, {column: value})])`` of a tab-separated list with a header.

    Columns are found by name (extra columns are fine). Blank lines are skipped; a row shorter
    than the header has its missing trailing fields empty (an event-less clip may be written
    ``<file>`` or ``<file><TAB><TAB><TAB>``); a row with more non-empty fields than the header is
    an error.
    """
    if not os.path.isfile(path):
        raise DataDirError(f"{path} not found; {hint}")
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = [line.rstrip("\r\n") for line in f]
    if not lines or not lines[0].strip():
        raise DataDirError(f"{path}:1: empty header; expected a tab-separated header with {', '.join(required)}")
    header = [_field(name) for name in lines[0].split("\t")]
    lacking = [name for name in required if name not in header]
    if lacking:
        raise DataDirError(f"{path}:1: header {lines[0]!r} lacks column(s) {', '.join(lacking)}; expected a "
                           f"tab-separated header with at least {'<TAB>'.join(required)} (is the file "
                           "comma-separated? the release's lists are tab-separated)")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [_field(field) for field in line.split("\t")]
        while len(fields) > len(header) and not fields[-1]:
            fields.pop()
        if len(fields) < len(header) and ("," in line or ";" in line):
            raise DataDirError(f"{path}:{number}: {len(fields)} tab-separated field(s) for the header's {len(header)} "
                               f"({', '.join(header)}), and a ',' or ';' in {line!r}: the lists are tab-separated "
                               "(labels of one clip are joined by ',' or ';'); fix the row")
        if len(fields) > len(header):
            raise DataDirError(f"{path}:{number}: {len(fields)} tab-separated fields, but the header has "
                               f"{len(header)} ({', '.join(header)}): {line!r}; fix the row")
        fields += [""] * (len(header) - len(fields))
        rows.append((number, dict(zip(header, fields))))
    return header, rows


def utt_of(filename, where):
    """The utterance id of a listed ``<name>.wav``: ``<name>``, checked safe."""
    if not filename:
        raise DataDirError(f"{where}: empty filename; every row names its clip <name>.wav")
    if not filename.endswith(".wav") or "/" in filename or "\\" in filename:
        raise DataDirError(f"{where}: '{filename}' is not a .wav file name (expected Y<video id>_<start>_<end>.wav, "
                           "without a folder)")
    return check_key(filename[:-len(".wav")], where)


def check_label(label, where):
    if label not in CLASSES:
        raise DataDirError(f"{where}: unknown label '{label}'; expected one of the 10 Task 4 classes "
                           f"({', '.join(CLASSES)}): fix the row (labels are case-sensitive)")
    return label


def sorted_labels(labels):
    """Unique labels in CLASSES order."""
    return tuple(sorted(set(labels), key=CLASSES.index))


def split_labels(text, where):
    """The labels of a weak row: joined by ``,`` or ``;`` (both, also mixed), at least one."""
    labels = [label.strip() for label in LABEL_SEPARATORS.split(text) if label.strip()]
    if not labels:
        raise DataDirError(f"{where}: no event_labels; every weakly labelled clip has at least one label "
                           f"(e.g. Alarm_bell_ringing,Speech): fill it in or delete the row")
    return sorted_labels(check_label(label, where) for label in labels)


def parse_time(text, column, where):
    """Seconds as whole milliseconds; DataDirError unless a finite number >= 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds >= 0):
        raise DataDirError(f"{where}: {column} '{text}' is not a time in seconds >= 0; fix the row")
    return round(seconds * 1000)


def _clip(subset, filename, where, paths_root, seen):
    """A new Clip of ``subset`` (its audio under ``paths_root``); a name listed before is an error."""
    utt = utt_of(filename, where)
    if utt in seen:
        raise DataDirError(f"{where}: '{filename}' is already listed on line {seen[utt]}; a clip is listed once "
                           "in this list: delete the repeated row")
    seen[utt] = where.rsplit(":", 1)[1]
    return Clip(utt=utt, filename=filename, where=where,
                path=check_path(os.path.join(paths_root, subset.audio, filename), where))


def read_weak(path, subset, paths_root):
    """The clips of a weak list, with their labels."""
    clips, seen = [], {}
    for number, row in read_tsv(path, (FILENAME, EVENT_LABELS))[1]:
        where = f"{path}:{number}"
        clip = _clip(subset, row[FILENAME], where, paths_root, seen)
        clip.labels = split_labels(row[EVENT_LABELS], where)
        clips.append(clip)
    return clips


def read_unlabelled(path, subset, paths_root):
    """The clips of an unlabelled list (the ``filename`` column only is read)."""
    seen = {}
    return [_clip(subset, row[FILENAME], f"{path}:{number}", paths_root, seen)
            for number, row in read_tsv(path, (FILENAME,))[1]]


def strong_event(row, where):
    """The Event of a strong row, or None for an event-less clip's row (all three fields empty)."""
    values = [row[ONSET], row[OFFSET], row[EVENT_LABEL]]
    if not any(values):
        return None
    if not all(values):
        empty = [name for name, value in zip((ONSET, OFFSET, EVENT_LABEL), values) if not value]
        raise DataDirError(f"{where}: {', '.join(empty)} empty but not the rest of onset, offset, event_label; "
                           "an event needs all three, a clip without events has all three empty: fix the row")
    onset, offset = parse_time(row[ONSET], ONSET, where), parse_time(row[OFFSET], OFFSET, where)
    if onset >= offset:
        raise DataDirError(f"{where}: onset {row[ONSET]} is not before offset {row[OFFSET]} (to the millisecond); "
                           "an event needs onset < offset: fix or delete the row")
    return Event(onset, offset, check_label(row[EVENT_LABEL], where), where)


def read_strong(path, subset, paths_root):
    """The clips of a strong list (one row per event), with their events in list order.

    A list with a ``filename`` column only (an evaluation list published before its labels) gives
    unlabelled clips, each listed once. Clips keep the order of their first row.
    """
    header, rows = read_tsv(path, (FILENAME,))
    present = [name for name in STRONG_COLUMNS[1:] if name in header]
    lacking = [name for name in STRONG_COLUMNS[1:] if name not in header]
    if present and lacking:
        raise DataDirError(f"{path}:1: header has {', '.join(present)} but lacks {', '.join(lacking)}; expected "
                           f"{'<TAB>'.join(STRONG_COLUMNS)} (or {FILENAME} only, unlabelled)")
    clips, seen, empty_rows, duplicates = {}, {}, {}, 0
    for number, row in rows:
        where = f"{path}:{number}"
        if not present:
            clip = _clip(subset, row[FILENAME], where, paths_root, seen)
            clips[clip.utt] = clip
            continue
        utt = utt_of(row[FILENAME], where)
        if utt not in clips:
            clips[utt] = _clip(subset, row[FILENAME], where, paths_root, seen)
            clips[utt].events = []
        event = strong_event(row, where)
        if event is None:
            empty_rows.setdefault(utt, where)
        elif any(e.line() == event.line() for e in clips[utt].events):
            duplicates += 1
        else:
            clips[utt].events.append(event)
    mixed = [utt for utt in empty_rows if clips[utt].events]
    if mixed:
        LOG.warning("%s: %d clip(s) have a row without an event and rows with events (e.g. %s); keeping their events",
                    empty_rows[mixed[0]], len(mixed), clips[mixed[0]].filename)
    if duplicates:
        LOG.warning("%s: dropped %d repeated event row(s) (same clip, onset, offset and label)", path, duplicates)
    if present:
        for clip in clips.values():
            clip.labels = sorted_labels(event.label for event in clip.events)
    return list(clips.values())


def read_subset(root, subset, paths_root):
    """The clips of ``subset`` listed in the release at ``root`` (paths written under
    ``paths_root``, the same release through a shell-safe path)."""
    relative = release_dir(root)
    path = os.path.join(root, relative, subset.csv)
    reader = {WEAK: read_weak, STRONG: read_strong, UNLABELLED: read_unlabelled}[subset.kind]
    clips = reader(path, subset, os.path.join(paths_root, relative))
    if not clips:
        raise DataDirError(f"{path}: lists no clips")
    return clips


def read_files_to_remove(root):
    """``(path, {utt: line})`` of the release's files_to_remove.csv; an empty dict without it."""
    path = os.path.join(root, release_dir(root), FILES_TO_REMOVE)
    if not os.path.isfile(path):
        return path, {}
    listed = {}
    for number, row in read_tsv(path, (FILENAME,))[1]:
        name = row[FILENAME]
        listed.setdefault(utt_of(name if name.endswith(".wav") else name + ".wav", f"{path}:{number}"), number)
    return path, listed
