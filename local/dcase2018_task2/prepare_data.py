#!/usr/bin/env python3
"""Task 2 data prep: an FSDKaggle2018 release -> Kaldi-style data directories.

    prepare_data.py [--folds 4] [--seed 0] [--max-missing-fraction 0.05] <corpus_root> <data_root>

``<corpus_root>`` holds either naming of the release (DATA_FORMATS.md "Task 2"): the
post-competition one (``FSDKaggle2018.audio_{train,test}/``, ``FSDKaggle2018.meta/``, labelled
test clips) or the Kaggle one (``audio_{train,test}/``, ``train.csv``, ``sample_submission.csv``,
test labels unknown); the post-competition one is used when both are there. The comma-separated
lists are read by column name (extra columns are fine); a missing column, an unknown label or a
``manually_verified`` other than 0/1 is an error naming the file and line.

Writes ``<data_root>/train`` and ``<data_root>/test`` (DESIGN.md section 4): wav.scp, utt2spk
(= the utterance: FSDKaggle2018 has no grouping), utt2dur (from the audio header), classes.txt
(the 41 classes), utt2label (train; test only when labelled), utt2verified (train) and utt2fold
(train). Folds: the verified and the unverified clips are each split into folds 1..N, seeded
and stratified by label, as Dorfer & Widmer assemble their folds (part4.md P4.4 section 5). Fold
k validates on its verified clips only, as Kong et al. (published_systems part4.md P4.12 section
2: "4 validation folds; only the 3710 manually verified clips are used for validation"); its
unverified clips are held out of its training, so that a model trained on the other folds can
judge their labels without having learnt them (self-verification). Listed audio that is absent goes to
``<dir>/missing``, unreadable audio to ``<dir>/bad_utts``; more than the allowed fraction of
either is an error (DATA_FORMATS.md general rules).
"""
import argparse
import csv
import dataclasses
import logging
import os
import sys

import numpy as np

from dcase_tk.data.datadir import DataDir
from dcase_tk.data.corpus import check_audio, check_missing_fraction, corpus_root_for_paths, run_prep
from dcase_tk.data.safety import DataDirError, check_key, check_path
from dcase_tk.data.validate import validate
from dcase_tk.io.table import sort_key
from fsd2018 import CLASSES, NAMINGS

LOG = logging.getLogger("prepare_data")


@dataclasses.dataclass
class Clip:
    utt: str
    path: str
    label: str = None
    verified: int = None


# ---------------------------------------------------------------- reading the release's lists

def find_naming(root):
    """The naming whose train list exists under ``root``."""
    for naming in NAMINGS:
        if os.path.isfile(os.path.join(root, naming.train_csv)):
            return naming
    tried = ", ".join(os.path.join(root, naming.train_csv) for naming in NAMINGS)
    raise DataDirError(f"none of {tried} exists; is {root} the folder holding the extracted FSDKaggle2018 "
                       "release (FSDKaggle2018.audio_train/ and FSDKaggle2018.meta/, or audio_train/ and train.csv)?")


def read_csv(path, required):
    """Rows of a comma-separated file with a header, as ``(line_number, {column: value})``.

    Columns are found by name (extra columns are fine); every row must have the header's width.
    """
    if not os.path.isfile(path):
        raise DataDirError(f"{path} not found; is the release completely downloaded and extracted?")
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise DataDirError(f"{path}:1: header {header!r} lacks column(s) {missing}; expected a "
                               f"comma-separated header with at least {','.join(required)}")
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                raise DataDirError(f"{path}:{reader.line_num}: expected {len(header)} comma-separated fields "
                                   f"({','.join(header)}), got {len(fields)}: {fields!r}")
            yield reader.line_num, {name: field.strip() for name, field in zip(header, fields)}


def check_label(label, where):
    if label not in CLASSES:
        raise DataDirError(f"{where}: unknown label '{label}'; expected one of the 41 FSDKaggle2018 classes "
                           f"({', '.join(CLASSES)}); fix the line or use the release's own list")
    return label


def check_verified(flag, where):
    if flag not in ("0", "1"):
        raise DataDirError(f"{where}: manually_verified is '{flag}'; it must be 0 or 1")
    return int(flag)


def read_clips(root, list_name, audio_name, required, labelled, with_verified):
    """The clips of one list; paths are under ``root``/``audio_name``."""
    path = os.path.join(root, list_name)
    clips = {}
    for number, row in read_csv(path, required):
        where = f"{path}:{number}"
        fname = row["fname"]
        utt = check_key(os.path.splitext(fname)[0], where)
        if utt in clips:
            raise DataDirError(f"{where}: '{fname}' listed twice")
        clips[utt] = Clip(utt=utt, path=check_path(os.path.join(root, audio_name, fname), where),
                          label=check_label(row["label"], where) if labelled else None,
                          verified=check_verified(row["manually_verified"], where) if with_verified else None)
    return list(clips.values())


# ---------------------------------------------------------------- folds

def check_num_folds(num_folds):
    if num_folds < 2:
        raise DataDirError(f"--folds {num_folds}: need at least 2 folds for cross-validation")


def assign_folds(clips, num_folds, seed):
    """``{utt: fold}``: the verified clips, then the unverified ones, stratified by label into
    1..num_folds.

    Each class's clips of one kind, in a seeded random order, are dealt one per fold, starting
    with the folds that have the fewest clips of that kind so far: every class is spread over the
    folds as evenly as possible (counts differ by at most one) and so are the fold totals.
    """
    check_num_folds(num_folds)
    rng = np.random.default_rng(seed)
    verified = [clip for clip in clips if clip.verified]
    if len(verified) < num_folds:
        raise DataDirError(f"only {len(verified)} manually verified train clips for {num_folds} folds; "
                           "every fold needs validation clips: use fewer --folds")
    folds = {}
    for kind in (verified, [clip for clip in clips if not clip.verified]):
        ordered = sorted(kind, key=lambda clip: sort_key(clip.utt))
        sizes = [0] * num_folds
        for label in CLASSES:
            members = [clip.utt for clip in ordered if clip.label == label]
            order = sorted(range(num_folds), key=lambda fold: (sizes[fold], rng.random()))
            for position, index in enumerate(rng.permutation(len(members))):
                fold = order[position % num_folds]
                folds[members[index]] = fold + 1
                sizes[fold] += 1
    return folds


# ---------------------------------------------------------------- writing a data dir

def listing(pairs):
    """Bytes of ``<utt> <text>`` lines in byte order of utterance."""
    return "".join(f"{utt} {text}\n" for utt, text in sorted(pairs, key=lambda pair: sort_key(pair[0]))).encode()


def write_data_dir(directory, clips, max_missing_fraction, folds=None):
    """Write and validate one data dir; return ``(kept clips, missing count, unreadable count)``.

    ``folds``: ``(num_folds, seed)`` to write utt2fold (train only).
    """
    readable, missing, bad = check_audio(clips, directory, max_missing_fraction)
    kept = [clip for clip, _ in readable]
    tables = {"wav.scp": {c.utt: c.path for c in kept},
              "utt2spk": {c.utt: c.utt for c in kept},
              "utt2dur": {c.utt: f"{duration:.3f}" for c, duration in readable}}
    if kept[0].label is not None:
        tables["utt2label"] = {c.utt: c.label for c in kept}
    if kept[0].verified is not None:
        tables["utt2verified"] = {c.utt: str(c.verified) for c in kept}
    if folds is not None:
        tables["utt2fold"] = {utt: str(fold) for utt, fold in assign_folds(kept, *folds).items()}
    extras = {}
    if missing:
        extras["missing"] = listing((c.utt, c.path) for c in missing)
    if bad:
        extras["bad_utts"] = listing((c.utt, reason) for c, reason in bad)
    DataDir(tables, classes=list(CLASSES), extras=extras).save(directory)
    validate(directory)
    return kept, len(missing), len(bad)


def summary(name, kept, num_missing, num_bad):
    line = f"{name}: {len(kept)} utts"
    if kept[0].verified is not None:
        line += f", {sum(c.verified for c in kept)} manually verified"
    if kept[0].label is None:
        line += " (unlabelled)"
    if num_missing or num_bad:
        line += f"; left out {num_missing} missing, {num_bad} unreadable (see missing, bad_utts)"
    return line


def prepare(corpus_root, data_root, num_folds=4, seed=0, max_missing_fraction=0.05):
    """Write ``<data_root>/train`` and ``<data_root>/test``; return ``{set name: summary line}``."""
    check_num_folds(num_folds)
    check_missing_fraction(max_missing_fraction)
    naming = find_naming(corpus_root)
    LOG.info("reading the %s naming of FSDKaggle2018 in %s", naming.name, corpus_root)
    root = corpus_root_for_paths(corpus_root, data_root, "fsd2018")
    sets = {
        "train": (read_clips(root, naming.train_csv, naming.train_audio, naming.train_columns,
                             labelled=True, with_verified=True), (num_folds, seed)),
        "test": (read_clips(root, naming.test_csv, naming.test_audio, naming.test_columns,
                            labelled=naming.test_labelled, with_verified=False), None),
    }
    summaries = {}
    for name, (clips, folds) in sets.items():
        if not clips:
            raise DataDirError(f"{os.path.join(corpus_root, getattr(naming, name + '_csv'))}: lists no clips")
        result = write_data_dir(os.path.join(data_root, name), clips, max_missing_fraction, folds)
        summaries[name] = summary(name, *result)
        LOG.info(summaries[name])
    return summaries


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus_root", help="folder with the extracted release (either naming)")
    parser.add_argument("data_root", help="where the data dirs go (train, test)")
    parser.add_argument("--folds", type=int, default=4, help="cross-validation folds of the verified clips")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    parser.add_argument("--max-missing-fraction", type=float, default=0.05,
                        help="fail if more than this fraction of a set's audio is missing or unreadable")
    args = parser.parse_args(argv)
    return run_prep(prepare, args.corpus_root, args.data_root, args.folds, args.seed, args.max_missing_fraction)


if __name__ == "__main__":
    sys.exit(main())
