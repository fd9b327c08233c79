#!/usr/bin/env python3
"""Task 5 data prep: the SINS (DCASE2018-task5-dev) release -> Kaldi-style data directories.

    prepare_data.py [--max-missing-fraction 0.05] [--eval-root DIR] <corpus_root> <data_root>

``<corpus_root>`` is the ``DCASE2018-task5-dev`` folder: ``audio/``, ``meta.txt`` and
``evaluation_setup/fold{1..4}_{train,test,evaluate}.txt`` (DATA_FORMATS.md "Task 5"; every list
tab-separated without a header; trailing tabs, blank lines and CRLF line ends are tolerated).

Writes (DESIGN.md section 4):

- ``<data_root>/dev``: every clip of meta.txt;
- ``<data_root>/fold<k>_train`` and ``fold<k>_test`` for k = 1..4, the clips of the fold's
  lists; ``fold<k>_evaluate`` when the release has a non-empty ``fold<k>_evaluate.txt``. The
  release's readme defines that list as "same as fold<k>_test.txt but with additional reference
  information" (the labelled copy of the test list, read by the official baseline's scoring):
  it is a test set, not a validation set; a validation set comes out of ``fold<k>_train``,
  split by session (the official baseline holds out 30 % of the training data).

Each holds wav.scp (the 4-channel file: channels are split later, by the feature stage),
utt2spk = utt2session (the session of meta.txt: the group that never straddles a split),
utt2label, utt2node (``DevNode<n>``, from the file name), utt2dur, utt2channels (4) and
classes.txt (the 9 activities). The utterance id is the file name without ``audio/`` and
``.wav`` (``DevNode1_ex1_1``). Labels and sessions always come from meta.txt; a fold list that
names a file meta.txt lacks, gives it another label or session, lists it twice, or puts a
session on both the train side and the test (or evaluate) side of a fold is an error naming the
list and line.

Audio: listed files that are absent go to ``<dir>/missing``, unreadable ones to
``<dir>/bad_utts`` with the reason; more than ``--max-missing-fraction`` of a set is an error
(DATA_FORMATS.md general rules). A readable file that is not 4 channels at 16 kHz is an error
naming the file and its meta.txt line: the release is uniform, so such a file means a converted
or mixed-up copy, and dropping it silently would hide that.

``--eval-root``: the ``DCASE2018-task5-eval`` folder; the files of its
``evaluation_setup/test.txt`` (first column; ``audio/<id>.wav``) go to ``<data_root>/eval``
without labels, nodes or sessions (utt2spk = the utterance), format checked as above.
"""
import argparse
import dataclasses
import logging
import os
import posixpath
import sys

import soundfile

from dcase_tk.data.corpus import (check_audio, check_missing_fraction, corpus_root_for_paths, remove_stale,
                                  run_prep)
from dcase_tk.data.datadir import DataDir
from dcase_tk.data.safety import DataDirError, check_key, check_path
from dcase_tk.data.validate import validate
from sins2018 import (CHANNELS, CLASSES, DEV_RELEASE, EVAL_RELEASE, EVAL_TEST_LIST, FOLDS, META, NODE_NAME,
                      PARTS, SAMPLE_RATE, setup_list)

LOG = logging.getLogger("prepare_data")


@dataclasses.dataclass
class Clip:
    utt: str
    path: str           # absolute, shell-safe
    filename: str       # as listed: audio/<utt>.wav
    where: str          # "<list>:<line>" that defines it (meta.txt for development clips)
    label: str = None
    session: str = None
    node: str = None


# ---------------------------------------------------------------- reading the release's lists

def read_tsv(path, hint):
    """``[(line number, fields)]`` of a headerless tab-separated list.

    Fields are stripped; trailing empty fields (``audio/x.wav<TAB>``) and blank lines are
    dropped. ``hint`` says what to check when the file is absent.
    """
    if not os.path.isfile(path):
        raise DataDirError(f"{path} not found; {hint}")
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for number, line in enumerate(f, start=1):
            fields = [field.strip() for field in line.rstrip("\r\n").split("\t")]
            while fields and not fields[-1]:
                fields.pop()
            if fields:
                rows.append((number, fields))
    return rows


def utt_of(filename, where):
    """The utterance id of a listed ``audio/<name>.wav``: ``<name>``, checked safe."""
    name = posixpath.basename(filename)
    if (not name.lower().endswith(".wav") or filename.startswith("/")
            or ".." in filename.split("/")):
        raise DataDirError(f"{where}: '{filename}' is not a .wav file relative to the release folder "
                           "(expected audio/<name>.wav)")
    return check_key(name[:-len(".wav")], where)


def read_meta(dev_root, root):
    """``(meta.txt path, {listed filename: Clip})``; paths are under ``root``."""
    path = os.path.join(dev_root, META)
    clips, first = {}, {}
    for number, fields in read_tsv(path, f"is {dev_root} the {DEV_RELEASE} folder "
                                         "(with audio/, meta.txt and evaluation_setup/)?"):
        where = f"{path}:{number}"
        if len(fields) != 3:
            raise DataDirError(f"{where}: expected 3 tab-separated fields "
                               f"(audio/<file>.wav<TAB><activity><TAB><session>), got {len(fields)}: {fields!r}")
        filename, label, session = fields
        utt = utt_of(filename, where)
        if label not in CLASSES:
            raise DataDirError(f"{where}: unknown activity '{label}'; expected one of {', '.join(CLASSES)}")
        check_key(session, f"{where}: session")
        node = NODE_NAME.match(utt)
        if not node:
            raise DataDirError(f"{where}: file name '{filename}' is not DevNode<n>_ex<session>_<segment>.wav; "
                               "the node is read from it")
        if utt in first:
            raise DataDirError(f"{where}: '{filename}' listed twice (first on line {first[utt]})")
        first[utt] = number
        clips[filename] = Clip(utt=utt, path=check_path(os.path.join(root, filename), where), filename=filename,
                               where=where, label=label, session=session, node=node.group(1))
    if not clips:
        raise DataDirError(f"{path}: lists no clips")
    return path, clips


def read_fold_list(dev_root, fold, part, meta_path, meta):
    """``(path, [(line, Clip)])`` of one fold list, ``None`` rows when the file does not exist.

    Each line is ``<file>[<TAB><activity>[<TAB><session>]]``; the clip is meta.txt's, and the
    optional columns must agree with it.
    """
    path = os.path.join(dev_root, setup_list(fold, part))
    if not os.path.isfile(path):
        return path, None
    rows, first = [], {}
    for number, fields in read_tsv(path, ""):
        where = f"{path}:{number}"
        if len(fields) > 3:
            raise DataDirError(f"{where}: expected at most 3 tab-separated fields "
                               f"(audio/<file>.wav[<TAB><activity>[<TAB><session>]]), got {len(fields)}: {fields!r}")
        filename = fields[0]
        clip = meta.get(filename)
        if clip is None:
            raise DataDirError(
                f"{where}: '{filename}' is not in {meta_path} ({len(meta)} clips); a fold list may only name "
                f"clips of meta.txt: take evaluation_setup/ and meta.txt from the same release (re-extract "
                f"{DEV_RELEASE}.meta.zip) or delete the line")
        for column, listed, expected in (("activity", fields[1:2], clip.label),
                                         ("session", fields[2:3], clip.session)):
            if listed and listed[0] != expected:
                raise DataDirError(f"{where}: {column} '{listed[0]}' of '{filename}' disagrees with {clip.where} "
                                   f"('{expected}'); meta.txt is the reference: fix the list or use the "
                                   "release's own files")
        if filename in first:
            raise DataDirError(f"{where}: '{filename}' listed twice (first on line {first[filename]})")
        first[filename] = number
        rows.append((number, clip))
    return path, rows


def check_split_by_session(fold, train, other):
    """No session of ``train`` in ``other``; both are ``(path, [(line, Clip)])``."""
    (train_path, train_rows), (other_path, other_rows) = train, other
    in_train = {}
    for number, clip in train_rows:
        in_train.setdefault(clip.session, (number, clip))
    leaks = [(number, clip) for number, clip in other_rows if clip.session in in_train]
    if leaks:
        number, clip = leaks[0]
        train_line, train_clip = in_train[clip.session]
        sessions = len({c.session for _, c in leaks})
        raise DataDirError(
            f"{other_path}:{number}: session '{clip.session}' of '{clip.filename}' is also in "
            f"{train_path}:{train_line} ('{train_clip.filename}'); fold {fold} must split by session, every "
            f"clip of a session (all nodes, all segments) on one side ({sessions} session(s), {len(leaks)} "
            "clip(s) here straddle): restore the release's evaluation_setup/ or move whole sessions")


def fold_sets(dev_root, meta_path, meta):
    """``[(set name, [Clip], set names it must be session-disjoint from)]`` for every fold.

    ``fold<k>_test`` falls back to ``fold<k>_evaluate.txt`` when the release has no test list.
    """
    sets = []
    for fold in FOLDS:
        lists = {part: read_fold_list(dev_root, fold, part, meta_path, meta) for part in PARTS}
        if lists["train"][1] is None:
            raise DataDirError(f"{lists['train'][0]} not found; is {dev_root} the {DEV_RELEASE} folder with its "
                               "evaluation_setup/ (from the .meta.zip of the release)?")
        if lists["test"][1] is None:
            if lists["evaluate"][1] is None:
                raise DataDirError(f"neither {lists['test'][0]} nor {lists['evaluate'][0]} exists; fold {fold} "
                                   "has no test list")
            LOG.warning("%s not found; fold%d_test uses %s", lists["test"][0], fold, lists["evaluate"][0])
            lists["test"] = lists["evaluate"]
        for part in ("train", "test"):
            if not lists[part][1]:
                raise DataDirError(f"{lists[part][0]}: lists no clips")
        names = []
        for part in PARTS:
            path, rows = lists[part]
            name = f"fold{fold}_{part}"
            if not rows:
                LOG.info("%s: %s; no %s data dir", name, "not in the release" if rows is None else "empty list", name)
                continue
            if part != "train":
                check_split_by_session(fold, lists["train"], lists[part])
            clips = [clip for _, clip in rows]
            if part == "evaluate" and {c.utt for c in clips} == {c.utt for _, c in lists["test"][1]}:
                LOG.info("%s lists the same %d clips as fold%d_test (the release's labelled copy of the test list)",
                         name, len(clips), fold)
            sets.append((name, clips, list(names) if part == "train" else []))
            names.append(name)
    return sets


def eval_clips(eval_root, root):
    """The clips of the evaluation release's ``evaluation_setup/test.txt`` (first column only)."""
    path = os.path.join(eval_root, EVAL_TEST_LIST)
    clips, first = [], {}
    for number, fields in read_tsv(path, f"is {eval_root} the {EVAL_RELEASE} folder (with audio/ and "
                                         "evaluation_setup/)?"):
        where = f"{path}:{number}"
        filename = fields[0]
        utt = utt_of(filename, where)
        if utt in first:
            raise DataDirError(f"{where}: '{filename}' listed twice (first on line {first[utt]})")
        first[utt] = number
        clips.append(Clip(utt=utt, path=check_path(os.path.join(root, filename), where), filename=filename,
                          where=where))
    if not clips:
        raise DataDirError(f"{path}: lists no clips")
    return clips


# ---------------------------------------------------------------- audio and data dirs

def check_format(readable):
    """DataDirError unless every ``(Clip, duration)`` is 4 channels at 16 kHz."""
    wrong = []
    for clip, _ in readable:
        info = soundfile.info(clip.path)
        if (info.channels, info.samplerate) != (CHANNELS, SAMPLE_RATE):
            wrong.append((clip, info))
    if wrong:
        clip, info = wrong[0]
        raise DataDirError(
            f"{clip.where}: {clip.path} has {info.channels} channel(s) at {info.samplerate} Hz, but every SINS clip "
            f"has {CHANNELS} channels at {SAMPLE_RATE} Hz ({len(wrong)} of {len(readable)} readable files differ); "
            "use the original release audio, not a converted copy (re-extract the audio zips)")


def write_data_dir(directory, clips, max_missing_fraction, disjoint_with=(), format_check=False):
    """Write and validate one data dir; return ``(kept clips, missing count, unreadable count)``."""
    readable, missing, bad = check_audio(clips, directory, max_missing_fraction)
    if format_check:
        check_format(readable)
    kept = [clip for clip, _ in readable]
    tables = {"wav.scp": {c.utt: c.path for c in kept},
              "utt2spk": {c.utt: c.session or c.utt for c in kept},
              "utt2dur": {c.utt: f"{duration:.3f}" for c, duration in readable},
              "utt2channels": {c.utt: str(CHANNELS) for c in kept}}
    if kept[0].label is not None:
        tables.update({"utt2label": {c.utt: c.label for c in kept},
                       "utt2session": {c.utt: c.session for c in kept},
                       "utt2node": {c.utt: c.node for c in kept}})
    # missing and bad_utts are keyed by utterance but are not per-utterance tables of the kept
    # clips (validate does not check them against wav.scp); DataDir writes them sorted like any table.
    if missing:
        tables["missing"] = {c.utt: c.path for c in missing}
    if bad:
        tables["bad_utts"] = {c.utt: reason for c, reason in bad}
    DataDir(tables, classes=list(CLASSES)).save(directory)
    validate(directory, disjoint_with=disjoint_with)
    return kept, len(missing), len(bad)


def summary(name, kept, num_missing, num_bad):
    line = f"{name}: {len(kept)} clips"
    if kept[0].label is not None:
        line += (f", {len({c.session for c in kept})} sessions, {len({c.label for c in kept})} activities, "
                 f"nodes {','.join(sorted({c.node for c in kept}))}")
    else:
        line += " (unlabelled)"
    if num_missing or num_bad:
        line += f"; left out {num_missing} missing, {num_bad} unreadable (see missing, bad_utts)"
    return line


def prepare(dev_root, data_root, eval_root=None, max_missing_fraction=0.05):
    """Write every data dir; return ``{set name: summary line}``."""
    check_missing_fraction(max_missing_fraction)
    root = corpus_root_for_paths(dev_root, data_root, "sins2018-dev")
    meta_path, meta = read_meta(dev_root, root)
    folds = fold_sets(dev_root, meta_path, meta)
    eval_set = None
    if eval_root:
        eval_set = eval_clips(eval_root, corpus_root_for_paths(eval_root, data_root, "sins2018-eval"))
    summaries = {}

    def write(name, clips, disjoint_with=(), format_check=False):
        result = write_data_dir(os.path.join(data_root, name), clips, max_missing_fraction,
                                [os.path.join(data_root, other) for other in disjoint_with], format_check)
        summaries[name] = summary(name, *result)
        LOG.info(summaries[name])

    # Every clip of a fold is in dev, whose files are format checked once.
    write("dev", list(meta.values()), format_check=True)
    written = {name for name, _, _ in folds}
    for fold in FOLDS:
        for part in PARTS:
            if f"fold{fold}_{part}" not in written:
                remove_stale(os.path.join(data_root, f"fold{fold}_{part}"), "its list is absent or empty now")
    for name, clips, disjoint_with in folds:
        write(name, clips, disjoint_with)
    if eval_set:
        write("eval", eval_set, format_check=True)
    return summaries


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus_root", help=f"the {DEV_RELEASE} folder (audio/, meta.txt, evaluation_setup/)")
    parser.add_argument("data_root", help="where the data dirs go (dev, fold<k>_{train,test,evaluate}, eval)")
    parser.add_argument("--eval-root", help=f"the {EVAL_RELEASE} folder (audio/, evaluation_setup/test.txt); "
                                            "written to <data_root>/eval without labels")
    parser.add_argument("--max-missing-fraction", type=float, default=0.05,
                        help="fail if more than this fraction of a set's audio is missing or unreadable")
    args = parser.parse_args(argv)
    return run_prep(prepare, args.corpus_root, args.data_root, args.eval_root, args.max_missing_fraction)


if __name__ == "__main__":
    sys.exit(main())
