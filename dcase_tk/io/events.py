"""Event lists on disk: the ``events`` file of a data dir or a post-processing dir (one
``<utt> <onset> <offset> <label>`` line per event, seconds as ``%.3f``; a clip without events
has no line), and the Task 4 submission file.

The submission is the challenge's tab-separated ``filename<TAB>onset<TAB>offset<TAB>event_label``
with that header line (the header of the release's test.csv/eval.csv), one row per event, sorted
by file name (byte order), onset, offset, label. ``filename`` is the clip's wav name,
``key_format`` formatted with ``{utt}`` (``{utt}.wav``: Task 4 utterance ids are the file names
without ``.wav``). A clip with no event is left out by default, as the Task 4 baseline's own
output files do; the challenge's evaluation script evaluates every file of the reference list
and treats a file absent from the submission as one without events. ``empty="row"`` instead
writes it as one row with empty onset, offset and label, the way the release's reference csvs
list such clips; the evaluation script reads that as no event too.
"""
import math
import os

from dcase_tk.io.atomic import atomic_open
from dcase_tk.io.table import TableError, read_lines, read_list, read_table, sort_key

SUBMISSION_HEADER = "filename\tonset\toffset\tevent_label"
EMPTY = ("omit", "row")


def read_events(path, classes=None, classes_source="classes.txt", utts=None, utts_source="wav.scp"):
    """``{utt: [(onset, offset, label), ...]}`` of an events file, in file order; TableError
    naming the line for a malformed line, an onset that is negative or not before the offset, a
    label not in ``classes`` (when given) or a clip not in ``utts`` (when given)."""
    known = None if classes is None else set(classes)
    events = {}
    for number, utt, rest in read_lines(path):
        where = f"{path}:{number}"
        fields = rest.split()
        if len(fields) != 3:
            raise TableError(f"{where}: expected '<utt> <onset> <offset> <label>', got '{utt} {rest}'")
        try:
            onset, offset = float(fields[0]), float(fields[1])
        except ValueError:
            raise TableError(f"{where}: onset and offset of '{utt}' must be numbers of seconds, got "
                             f"'{fields[0]}' '{fields[1]}'") from None
        if not (math.isfinite(onset) and math.isfinite(offset)) or onset < 0 or onset >= offset:
            raise TableError(f"{where}: event of '{utt}' needs 0 <= onset < offset, got {fields[0]} "
                             f"{fields[1]}; fix the line or the step that wrote it")
        if known is not None and fields[2] not in known:
            raise TableError(f"{where}: label '{fields[2]}' of '{utt}' is not in {classes_source} "
                             f"(known: {', '.join(classes)}); use the class names of classes.txt")
        if utts is not None and utt not in utts:
            raise TableError(f"{where}: clip '{utt}' is not in {utts_source}; score the events of "
                             "the clips of this data dir (post-process its decode dir)")
        events.setdefault(utt, []).append((onset, offset, fields[2]))
    return events


def _rows(events):
    for utt in sorted(events, key=sort_key):
        for onset, offset, label in sorted(events[utt]):
            yield utt, onset, offset, label


def write_events(path, events):
    """Write ``{utt: [(onset, offset, label)]}`` as an events file, sorted by utt (byte order),
    onset, offset, label."""
    with atomic_open(path) as f:
        for utt, onset, offset, label in _rows(events):
            f.write(f"{utt} {onset:.3f} {offset:.3f} {label}\n")


def submission_lines(events, utts, key_format="{utt}.wav", empty="omit"):
    """The submission's lines (header first) for the clips ``utts``; see the module docstring."""
    if empty not in EMPTY:
        raise ValueError(f"empty must be one of {EMPTY}, got '{empty}'")
    try:
        names = {u: key_format.format(utt=u) for u in utts}
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(f"the file name format '{key_format}' cannot be formatted ({e!r}); it "
                         "may use only {utt}") from None
    bad = [n for n in names.values() if not n or any(ch.isspace() for ch in n)]
    if bad:
        raise ValueError(f"file names {bad[:3]} are empty or contain whitespace, which the "
                         "tab-separated submission cannot hold")
    rows = []
    for utt in utts:
        clip_events = events.get(utt, [])
        rows += [(names[utt], on, off, lab) for on, off, lab in clip_events]
        if not clip_events and empty == "row":
            rows.append((names[utt], None, None, ""))
    rows.sort(key=lambda r: (sort_key(r[0]), r[1] is not None, r[1] or 0, r[2] or 0, r[3]))
    return [SUBMISSION_HEADER] + [f"{n}\t\t\t" if on is None else f"{n}\t{on:.3f}\t{off:.3f}\t{lab}"
                                  for n, on, off, lab in rows]


def read_durations(data_dir):
    """``{utt: seconds}`` of ``<data_dir>/utt2dur``, or None without one."""
    path = os.path.join(data_dir, "utt2dur")
    if not os.path.isfile(path):
        return None
    durations = {}
    for number, utt, value in read_lines(path):
        try:
            durations[utt] = float(value)
        except ValueError:
            raise TableError(f"{path}:{number}: duration of '{utt}' is '{value}', not a number of "
                             "seconds") from None
    return durations


def read_reference(data_dir):
    """``(classes, utts, events, durations)`` of a data dir with strong labels: classes.txt, the
    clips of wav.scp (in file order), ``events`` checked against both (clips without events have
    no entry) and utt2dur (None without one)."""
    paths = {name: os.path.join(data_dir, name) for name in ("classes.txt", "wav.scp", "events")}
    for name, path in paths.items():
        if not os.path.isfile(path):
            what = "strong labels" if name == "events" else "this file"
            raise TableError(f"{path} does not exist: scoring event detection needs {what} "
                             "(written at data prep, stage 1)")
    classes = read_list(paths["classes.txt"])
    utts = list(read_table(paths["wav.scp"]))
    events = read_events(paths["events"], classes, paths["classes.txt"], set(utts), paths["wav.scp"])
    return classes, utts, events, read_durations(data_dir)
