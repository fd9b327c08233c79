"""Check a data directory and report every problem at once, each naming file, line and stage.

``find_problems`` returns the list; ``validate`` raises DataDirError with all of them. The checks
(docs/data_dir.md has the full table): byte-order sorting, unique keys, the key set of every
per-utterance file equal to wav.scp's, events only for utterances of wav.scp, spk2utt derived
from utt2spk, labels in classes.txt, events with 0 <= onset < offset <= utt2dur, numbers that
parse, shell-safe ids and paths, and (``disjoint_with``) no group in two directories.
"""
import math
import os

from dcase_tk.data.datadir import (CLASSES, EVENTS, SPK2UTT, UTT2SPK, WAV_SCP, data_files, is_per_utt,
                                   load, problem)
from dcase_tk.data.safety import DataDirError, check_key, check_path
from dcase_tk.io.table import read_lines, sort_key

NUMERIC = {"utt2dur": float, "utt2num_frames": int, "utt2channels": int, "utt2verified": int}
LABEL_FILES = ("utt2label", "utt2labels")
# events are written with %.3f, so an offset may exceed a duration read from the audio by rounding
DURATION_TOLERANCE = 0.0005
SHOWN = 3  # examples per problem kind; the rest are counted


def _examples(items):
    items = list(items)
    shown = ", ".join(str(item) for item in items[:SHOWN])
    return shown + (f", ... ({len(items)} in all)" if len(items) > SHOWN else "")


class _Checker:
    """Reads the directory once, line numbers kept, and collects problems."""

    def __init__(self, path):
        self.path = path
        self.problems = []
        self.lines = {}  # file name -> [(line, key, rest)]
        self.first_line = {}  # file name -> {key: line of first occurrence}

    def add(self, name, line, text):
        self.problems.append(problem(self.path, name, line, text))

    def add_each(self, name, found, what):
        """``found``: [(line, text)] of one kind; report the first few, count the rest."""
        for line, text in found[:SHOWN]:
            self.add(name, line, text)
        if len(found) > SHOWN:
            self.add(name, None, f"{len(found) - SHOWN} more line(s) with {what}")

    def read(self, name):
        try:
            self.lines[name] = list(read_lines(os.path.join(self.path, name)))
        except UnicodeDecodeError as e:
            self.add(name, None, f"not UTF-8 text ({e.reason})")
            return False
        return True

    def check_order(self, name, unique=True):
        """Byte-order sorted by key; unique keys unless ``unique`` is False (events)."""
        lines = self.lines[name]
        first = self.first_line[name] = {}
        for (prev_line, prev, _), (line, key, _) in zip(lines, lines[1:]):
            if sort_key(key) < sort_key(prev):
                self.add(name, line, f"not byte-order sorted: key '{key}' comes after '{prev}' "
                                     f"(line {prev_line}); re-sort it (utils/fix_data_dir.sh {self.path})")
                break
        duplicates = []
        for line, key, _ in lines:
            if key in first and unique:
                duplicates.append((line, f"duplicate key '{key}' (first on line {first[key]}); "
                                         "keys must be unique"))
            first.setdefault(key, line)
        self.add_each(name, duplicates, "duplicate keys")

    def check_values(self, name):
        parse = NUMERIC.get(name)
        found = []
        for line, key, rest in self.lines[name]:
            if not rest and name != "utt2labels":
                found.append((line, f"utterance '{key}' has no value"))
            elif name == "utt2label" and len(rest.split()) > 1:
                found.append((line, f"'{rest}' is more than one label; multi-label data goes in utt2labels"))
            elif parse and not _parses(parse, rest):
                found.append((line, f"'{rest}' is not a finite {parse.__name__} (utterance '{key}')"))
            elif name == WAV_SCP and not rest.endswith("|"):
                found.extend(_unsafe(check_path, rest, line))
        self.add_each(name, found, "bad values")

    def check_ids(self):
        for name, what in ((WAV_SCP, "utterance"), (UTT2SPK, "group")):
            if name in self.lines:
                found = [p for line, key, rest in self.lines[name]
                         for p in _unsafe(check_key, key if name == WAV_SCP else rest, line)]
                self.add_each(name, found, f"unsafe {what} ids")

    def check_key_set(self, name, utts):
        keys = self.first_line[name]
        missing = [utt for utt in utts if utt not in keys]
        extra = [f"'{key}' (line {line})" for key, line in keys.items() if key not in utts]
        if missing:
            shown = _examples(f"'{utt}' (wav.scp line {utts[utt]})" for utt in missing)
            self.add(name, None, f"{len(missing)} of {len(utts)} utterances of wav.scp have no line here: "
                                 f"{shown}; re-run the stage that writes it, or keep the intersection "
                                 f"with utils/fix_data_dir.sh {self.path}")
        if extra:
            self.add(name, None, f"{len(extra)} keys not in wav.scp: {_examples(extra)}; "
                                 f"utils/fix_data_dir.sh {self.path} drops them")

    def check_spk2utt(self):
        if UTT2SPK not in self.lines:
            if SPK2UTT in self.lines:
                self.add(SPK2UTT, None, "present without utt2spk; remove it or write utt2spk")
            return
        expected = {}
        for _, utt, group in self.lines[UTT2SPK]:
            expected.setdefault(group, set()).add(utt)
        if SPK2UTT not in self.lines:
            self.add(SPK2UTT, None, f"missing although utt2spk exists; "
                                    f"utils/fix_data_dir.sh {self.path} writes it")
            return
        found = []
        for line, group, rest in self.lines[SPK2UTT]:
            if set(rest.split()) != expected.get(group, set()):
                found.append((line, f"utterances of group '{group}' differ from utt2spk"))
        missing = [group for group in expected if group not in self.first_line[SPK2UTT]]
        if missing:
            found.append((None, f"groups of utt2spk with no line here: {_examples(missing)}"))
        if found:
            found[0] = (found[0][0], found[0][1] + f"; spk2utt is derived from utt2spk: "
                                                   f"utils/fix_data_dir.sh {self.path} rewrites it")
        self.add_each(SPK2UTT, found, "groups that differ from utt2spk")

    def check_labels(self, classes):
        known = set(classes)
        for name in LABEL_FILES:
            if name in self.lines:
                found = [(line, f"label '{label}' of '{key}' is not in classes.txt")
                         for line, key, rest in self.lines[name]
                         for label in rest.split() if label not in known]
                self.add_each(name, found, "labels not in classes.txt")

    def check_events(self, classes):
        durations = {key: float(rest) for _, key, rest in self.lines.get("utt2dur", ())
                     if _parses(float, rest)}
        found = []
        for line, key, rest in self.lines[EVENTS]:
            fields = rest.split()
            if len(fields) != 3 or not all(_parses(float, f) for f in fields[:2]):
                found.append((line, f"expected '<utt> <onset> <offset> <label>' with numeric times, "
                                    f"got '{key} {rest}'"))
                continue
            onset, offset, label = float(fields[0]), float(fields[1]), fields[2]
            duration = durations.get(key)
            if not 0 <= onset < offset:
                found.append((line, f"event of '{key}' needs 0 <= onset < offset, "
                                    f"got {fields[0]} {fields[1]}"))
            elif duration is not None and offset > duration + DURATION_TOLERANCE:
                found.append((line, f"event of '{key}' ends at {fields[1]} s, after the clip's end "
                                    f"({duration:g} s in utt2dur)"))
            if classes is not None and label not in classes:
                found.append((line, f"label '{label}' of '{key}' is not in classes.txt"))
        self.add_each(EVENTS, found, "bad events")

    def check_classes(self):
        """Check classes.txt (one unique name per line) and return its classes."""
        with open(os.path.join(self.path, CLASSES), encoding="utf-8", errors="replace") as f:
            numbered = [(n, line.strip()) for n, line in enumerate(f, start=1) if line.strip()]
        seen = {}
        for line, label in numbered:
            if len(label.split()) > 1:
                self.add(CLASSES, line, f"'{label}' has whitespace; one class name per line")
            elif label in seen:
                self.add(CLASSES, line, f"class '{label}' repeated (first on line {seen[label]})")
            seen.setdefault(label, line)
        if not numbered:
            self.add(CLASSES, None, "empty")
        return list(seen)

    def check_frame_shift(self):
        with open(os.path.join(self.path, "frame_shift"), encoding="utf-8", errors="replace") as f:
            text = f.read().strip()
        if not _parses(float, text) or float(text) <= 0:
            self.add("frame_shift", 1, f"'{text}' is not a positive number of seconds")


def _parses(parse, text):
    try:
        return math.isfinite(parse(text))
    except ValueError:
        return False


def _unsafe(check, text, line):
    """[(line, message)] if ``check`` (a safety check) rejects ``text``, else []."""
    try:
        check(text, f"line {line}")
    except DataDirError as e:
        return [(line, str(e).removeprefix(f"line {line}: "))]
    return []


def find_problems(path, disjoint_with=()):
    """Every problem of data directory ``path`` (empty list: valid)."""
    if not os.path.isdir(path):
        return [f"{path}: no such data directory"]
    c = _Checker(path)
    names = data_files(path)
    if WAV_SCP not in names:
        c.add(WAV_SCP, None, "missing; every data directory needs one")
        return c.problems
    for name in names:
        if (is_per_utt(name) or name in (EVENTS, SPK2UTT)) and c.read(name):
            c.check_order(name, unique=name != EVENTS)
            if is_per_utt(name):
                c.check_values(name)
    if WAV_SCP not in c.lines:
        return c.problems
    c.check_ids()
    utts = c.first_line[WAV_SCP]
    for name in c.lines:
        if is_per_utt(name) and name != WAV_SCP:
            c.check_key_set(name, utts)
    if EVENTS in c.lines:
        extra = [f"'{key}' (line {line})" for key, line in c.first_line[EVENTS].items() if key not in utts]
        if extra:
            c.add(EVENTS, None, f"events for {len(extra)} utterances not in wav.scp: {_examples(extra)}; "
                                f"utils/fix_data_dir.sh {path} drops them")
    c.check_spk2utt()
    classes = c.check_classes() if CLASSES in names else None
    if classes is not None:
        c.check_labels(classes)
    elif any(name in c.lines for name in (*LABEL_FILES, EVENTS)):
        c.add(CLASSES, None, "missing, but the directory has labels; it gives the class order of score files")
    if EVENTS in c.lines:
        c.check_events(classes)
    if "frame_shift" in names:
        c.check_frame_shift()
    for other in disjoint_with or ():
        _check_disjoint(c, other)
    return c.problems


def _group_lines(path):
    """``{group: (utt, line, file)}`` of the first utterance of each group in directory ``path``."""
    name = UTT2SPK if os.path.isfile(os.path.join(path, UTT2SPK)) else WAV_SCP
    groups = {}
    for line, utt, rest in read_lines(os.path.join(path, name)):
        groups.setdefault(rest if name == UTT2SPK else utt, (utt, line, name))
    return groups


def _check_disjoint(c, other):
    if not os.path.isfile(os.path.join(other, WAV_SCP)):
        c.problems.append(f"{other}: no data directory with a wav.scp to check disjointness against")
        return
    ours, theirs = _group_lines(c.path), _group_lines(other)
    shared = [group for group in ours if group in theirs]
    for group in shared[:SHOWN]:
        (utt, line, name), (other_utt, other_line, other_name) = ours[group], theirs[group]
        c.add(name, line, f"group '{group}' (utterance '{utt}') is also in {other} (utterance '{other_utt}', "
                          f"{other_name} line {other_line}); a group must not straddle train and test, "
                          f"split by group")
    if len(shared) > SHOWN:
        c.add(ours[shared[0]][2], None, f"{len(shared) - SHOWN} more groups also in {other}")


def validate(path, disjoint_with=()):
    """Raise DataDirError listing every problem of ``path``; return the loaded DataDir if none."""
    problems = find_problems(path, disjoint_with)
    if problems:
        raise DataDirError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return load(path)
