#!/usr/bin/env python3
"""Task 1 data prep: a TUT Urban Acoustic Scenes 2018 release -> Kaldi-style data directories.

    prepare_data.py --subtask a|b|c <dev_root> <data_root> [--eval-root DIR]
                    [--leaderboard-root DIR] [--max-missing-fraction 0.05]

``<dev_root>`` is the release folder holding ``meta.csv`` and ``evaluation_setup/``. Writes
``<data_root>/train`` (fold1_train) and ``<data_root>/test`` (fold1_evaluate) with wav.scp,
utt2label, utt2spk (= location identifier, the group that never straddles the split), spk2utt,
utt2device, utt2city, utt2dur and classes.txt; and, when given, the unlabelled
``<data_root>/evaluation`` and ``<data_root>/leaderboard`` (wav.scp, utt2spk = utt, utt2dur,
classes.txt). Subtask c uses the subtask a release. Audio listed but absent goes to
``<dir>/missing``, unreadable audio to ``<dir>/bad_utts``; more than the allowed fraction of
either is an error.
"""
import argparse
import collections
import dataclasses
import logging
import os
import sys

from dcase_tk.data.corpus import check_audio, corpus_root_for_paths, run_prep
from dcase_tk.data.safety import DataDirError, check_key, check_path
from dcase_tk.io.table import write_list, write_table
from tut2018 import DEVICES, SCENES

LOG = logging.getLogger("prepare_data")
FOLD = "fold1"


@dataclasses.dataclass
class Utt:
    utt: str
    path: str
    group: str
    label: str = None
    device: str = None
    city: str = None


# ---------------------------------------------------------------- reading the release's lists

def _lines(path):
    """Yield ``(line_number, fields)`` of a tab-separated file, skipping blank lines."""
    with open(path, encoding="utf-8", newline="") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line.split("\t")


def read_with_header(path, required):
    """Rows of a tab-separated file with a header line, as ``(line_number, {column: value})``.

    Columns are found by name (extra columns are fine); every row must have the header's width.
    """
    rows = _lines(path)
    header_line, header = next(rows, (1, []))
    missing = [c for c in required if c not in header]
    if missing:
        raise DataDirError(
            f"{path}:{header_line}: header {header!r} lacks column(s) {missing}; expected a "
            f"tab-separated header with at least {'<TAB>'.join(required)}")
    for number, fields in rows:
        if len(fields) != len(header):
            raise DataDirError(
                f"{path}:{number}: expected {len(header)} tab-separated fields "
                f"({'<TAB>'.join(header)}), got {len(fields)}: {fields!r}")
        yield number, dict(zip(header, fields))


def read_without_header(path, min_fields):
    """Rows of a headerless tab-separated list; each needs at least ``min_fields`` fields."""
    for number, fields in _lines(path):
        if len(fields) < min_fields:
            raise DataDirError(
                f"{path}:{number}: expected at least {min_fields} tab-separated field(s) "
                f"(audio/<file>.wav{'<TAB><scene_label>' if min_fields > 1 else ''}), got {fields!r}")
        yield number, fields


def read_file_list(candidates, labelled):
    """``(path, [(line, filename, label or None)])`` from the first of ``candidates`` that exists.

    Each candidate is ``(path, has_header)``: ``.txt`` lists have no header, ``.csv`` lists a
    ``filename<TAB>scene_label`` header (both variants exist across releases).
    """
    for path, has_header in candidates:
        if not os.path.isfile(path):
            continue
        if has_header:
            required = ["filename", "scene_label"] if labelled else ["filename"]
            rows = [(n, row["filename"], row["scene_label"] if labelled else None)
                    for n, row in read_with_header(path, required)]
        else:
            rows = [(n, fields[0], fields[1] if labelled else None)
                    for n, fields in read_without_header(path, 2 if labelled else 1)]
        return path, rows
    tried = ", ".join(path for path, _ in candidates)
    raise DataDirError(f"none of {tried} exists; is the corpus root the release folder "
                       "(the one holding meta.csv and evaluation_setup/)?")


def setup_candidates(root, names):
    setup = os.path.join(root, "evaluation_setup")
    return ([(os.path.join(setup, f"{name}.txt"), False) for name in names]
            + [(os.path.join(setup, f"{name}.csv"), True) for name in names])


def parse_filename(filename):
    """``audio/<scene>-<city>-<location>-<segment>-<device>.wav`` -> (identifier, device)."""
    parts = os.path.splitext(os.path.basename(filename))[0].split("-")
    if len(parts) != 5:
        return None, None
    return f"{parts[1]}-{parts[2]}", parts[4]


def read_meta(root):
    """meta.csv as ``filename -> (line, scene, identifier, device)``.

    ``identifier`` and ``source_label`` are read when present, else taken from the file name.
    """
    path = os.path.join(root, "meta.csv")
    if not os.path.isfile(path):
        raise DataDirError(f"{path} not found; is {root} the release folder (with meta.csv and "
                           "evaluation_setup/)?")
    meta = {}
    for number, row in read_with_header(path, ["filename", "scene_label"]):
        filename, scene = row["filename"], row["scene_label"]
        if scene not in SCENES:
            raise DataDirError(f"{path}:{number}: unknown scene_label '{scene}'; expected one of {', '.join(SCENES)}")
        identifier, device = parse_filename(filename)
        identifier = row.get("identifier") or identifier
        device = row.get("source_label") or device
        if not identifier or not device:
            raise DataDirError(f"{path}:{number}: no identifier/source_label column and file name '{filename}' "
                               "is not <scene>-<city>-<location>-<segment>-<device>.wav")
        if filename in meta:
            raise DataDirError(f"{path}:{number}: '{filename}' listed twice (first on line {meta[filename][0]})")
        meta[filename] = (number, scene, identifier, device)
    return meta


# ---------------------------------------------------------------- building the sets

def utterance(root, filename, where, **fields):
    utt = check_key(os.path.splitext(os.path.basename(filename))[0], where)
    path = check_path(os.path.join(root, filename), where)
    return Utt(utt=utt, path=path, group=fields.pop("group", utt), **fields)


def development_sets(dev_root, data_root, subtask):
    """``{"train": [Utt], "test": [Utt]}`` from meta.csv and the fold-1 train/evaluate lists."""
    meta = read_meta(dev_root)
    meta_path = os.path.join(dev_root, "meta.csv")
    root = corpus_root_for_paths(dev_root, data_root, "development")
    sets = {}
    for part, set_name in (("train", "train"), ("evaluate", "test")):
        list_path, rows = read_file_list(setup_candidates(dev_root, [f"{FOLD}_{part}"]), labelled=True)
        utts = {}
        for number, filename, label in rows:
            where = f"{list_path}:{number}"
            if filename not in meta:
                raise DataDirError(f"{where}: '{filename}' is not in {meta_path}")
            meta_line, scene, identifier, device = meta[filename]
            if label != scene:
                raise DataDirError(f"{where}: label '{label}' disagrees with {meta_path}:{meta_line} ('{scene}')")
            if device not in DEVICES[subtask]:
                raise DataDirError(
                    f"{meta_path}:{meta_line}: device '{device}' is not part of subtask {subtask} "
                    f"(devices {', '.join(DEVICES[subtask])}); the Mobile release is subtask b")
            item = utterance(root, filename, where, group=check_key(identifier, where), label=scene,
                             device=device, city=identifier.rsplit("-", 1)[0])
            if item.utt in utts:
                raise DataDirError(f"{where}: utterance '{item.utt}' listed twice")
            utts[item.utt] = item
        sets[set_name] = list(utts.values())
    return sets


def unlabelled_set(eval_root, data_root, name):
    """An evaluation or leaderboard set: the file list of its release, no labels.

    Releases list their files in ``evaluation_setup/fold1_test.txt`` or ``test.txt`` (or the
    ``.csv`` variants with a header), or only in ``meta.csv``; the first that exists is used.
    """
    candidates = setup_candidates(eval_root, [f"{FOLD}_test", "test"]) + [(os.path.join(eval_root, "meta.csv"), True)]
    list_path, rows = read_file_list(candidates, labelled=False)
    root = corpus_root_for_paths(eval_root, data_root, name)
    utts = {}
    for number, filename, _ in rows:
        item = utterance(root, filename, f"{list_path}:{number}")
        if item.utt in utts:
            raise DataDirError(f"{list_path}:{number}: utterance '{item.utt}' listed twice")
        utts[item.utt] = item
    return list(utts.values())


# ---------------------------------------------------------------- writing a data dir

def write_optional(path, table):
    """Write ``table`` if it has rows, else remove a stale file from an earlier run."""
    if table:
        write_table(path, table)
    elif os.path.exists(path):
        os.unlink(path)


def write_data_dir(directory, utts, max_missing_fraction):
    """Write one data dir; return ``(kept utts, missing count, unreadable count)``."""
    readable, missing, bad = check_audio(utts, directory, max_missing_fraction)
    os.makedirs(directory, exist_ok=True)
    kept = [item for item, _ in readable]
    write_table(os.path.join(directory, "wav.scp"), {u.utt: u.path for u in kept})
    write_table(os.path.join(directory, "utt2spk"), {u.utt: u.group for u in kept})
    spk2utt = collections.defaultdict(list)
    for u in sorted(kept, key=lambda u: u.utt.encode("utf-8")):
        spk2utt[u.group].append(u.utt)
    write_table(os.path.join(directory, "spk2utt"), spk2utt)
    write_table(os.path.join(directory, "utt2dur"), {u.utt: f"{duration:.3f}" for u, duration in readable})
    for name, attribute in (("utt2label", "label"), ("utt2device", "device"), ("utt2city", "city")):
        write_optional(os.path.join(directory, name), {u.utt: getattr(u, attribute) for u in kept
                                                       if getattr(u, attribute) is not None})
    write_list(os.path.join(directory, "classes.txt"), SCENES)
    write_optional(os.path.join(directory, "missing"), {u.utt: u.path for u in missing})
    write_optional(os.path.join(directory, "bad_utts"), {u.utt: reason for u, reason in bad})
    return kept, len(missing), len(bad)


def summary(name, kept, num_missing, num_bad):
    line = f"{name}: {len(kept)} utts"
    if any(u.label for u in kept):
        line += f", {len({u.group for u in kept})} locations, devices {','.join(sorted({u.device for u in kept}))}"
    else:
        line += " (unlabelled)"
    if num_missing or num_bad:
        line += f"; left out {num_missing} missing, {num_bad} unreadable (see missing, bad_utts)"
    return line


def prepare(subtask, dev_root, data_root, eval_root=None, leaderboard_root=None, max_missing_fraction=0.05):
    """Write every data dir; return ``{set name: summary line}``."""
    if subtask not in DEVICES:
        raise DataDirError(f"unknown subtask '{subtask}'; expected one of {', '.join(DEVICES)}")
    sets = development_sets(dev_root, data_root, subtask)
    for name, root in (("evaluation", eval_root), ("leaderboard", leaderboard_root)):
        if root:
            sets[name] = unlabelled_set(root, data_root, name)
    summaries = {}
    for name, utts in sets.items():
        summaries[name] = summary(name, *write_data_dir(os.path.join(data_root, name), utts, max_missing_fraction))
        LOG.info(summaries[name])
    return summaries


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subtask", choices=sorted(DEVICES), required=True)
    parser.add_argument("dev_root", help="release folder with meta.csv and evaluation_setup/")
    parser.add_argument("data_root", help="where the data dirs go (train, test, ...)")
    parser.add_argument("--eval-root", help="evaluation release folder (unlabelled)")
    parser.add_argument("--leaderboard-root", help="leaderboard release folder (unlabelled)")
    parser.add_argument("--max-missing-fraction", type=float, default=0.05,
                        help="fail if more than this fraction of a set's audio is missing or unreadable")
    args = parser.parse_args(argv)
    return run_prep(prepare, args.subtask, args.dev_root, args.data_root, args.eval_root, args.leaderboard_root, args.max_missing_fraction)


if __name__ == "__main__":
    sys.exit(main())
