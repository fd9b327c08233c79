#!/usr/bin/env python3
"""Task 3 data prep: the Bird Audio Detection 2018 release -> Kaldi-style data directories.

    prepare_data.py [--eval-root DIR] [--max-missing-fraction 0.05] <corpus_root> <data_root>

``<corpus_root>`` holds the three development datasets as released (DATA_FORMATS.md "Task 3"):
``ff1010bird_metadata_2018.csv``, ``warblrb10k_public_metadata_2018.csv`` and
``BirdVoxDCASE20k_csvpublic.csv`` (comma-separated, header ``itemid,datasetid,hasbird``, read
by column name, extra columns fine), with the clips ``<itemid>.wav`` in ``ff1010bird_wav/wav/``,
``warblrb10k_public_wav/wav/`` and ``BirdVox-DCASE-20k/wav/``: each zip of the release
(``ff1010bird_wav.zip``, ...) extracted into a folder named after it; a folder holding the clips
directly, without ``wav/``, is accepted too. Every row of one list must carry the same
``datasetid`` (the group key; one other than the 2018 release's is used with a warning), the
three lists different ones, and an ``itemid`` may be listed only once in all three lists;
``hasbird`` must be 0 or 1. A violation is an error naming the file and line.

Utterance ids are ``<datasetid>_<itemid>``, always (deterministic, unique across datasets, and
grouped by dataset in byte order); ``utt2itemid`` maps them back to the release's ``itemid`` for
the submission. Labels are the classes ``nobird`` (hasbird 0) and ``bird`` (hasbird 1), in that
order in classes.txt.

Writes under ``<data_root>`` (DESIGN.md section 4):

- ``dev``: every labelled clip: wav.scp, utt2spk (= datasetid, the group that never straddles a
  split), spk2utt, utt2dur (from the audio header), utt2label, utt2dataset, utt2itemid,
  classes.txt;
- ``fold<k>_train`` / ``fold<k>_test``, k = 1, 2, 3: leave one dataset out, holding out
  ff1010bird, warblrb10k and BirdVox-DCASE-20k in that order (the development protocol: train on
  two datasets, test on the third); ``folds.txt`` lists ``<k> <held-out datasetid>``. Each pair
  is validated to share no dataset;
- with ``--eval-root``: ``eval``, the unlabelled evaluation clips (no utt2label). Its lists are
  the ``*.csv`` files directly in ``DIR`` whose header has ``itemid`` and ``datasetid`` (other
  CSV files are skipped with a warning; a ``hasbird`` column, empty or absent there, is
  ignored, with a warning if it has values); the development lists' names are refused there. Each clip is the one file
  ``<itemid>.wav`` anywhere below ``DIR`` (found in two places: an error); one found nowhere is
  listed in ``missing`` as ``DIR/<itemid>.wav``.

Listed audio that is absent goes to ``<dir>/missing``, unreadable audio to ``<dir>/bad_utts``;
more than ``--max-missing-fraction`` of one dataset's clips lost that way is an error (per
dataset, since each is tested on its own; DATA_FORMATS.md general rules).
"""
import argparse
import csv
import dataclasses
import glob
import logging
import os
import sys

from bad2018 import (CLASSES, DATASETID, DEV_COLUMNS, DEV_DATASETS, DEV_DIR, EVAL_COLUMNS, EVAL_DIR,
                     FOLDS_FILE, HASBIRD, HASBIRD_CLASS, ITEMID, fold_dirs, utt_id)
from dcase_tk.data.corpus import check_audio, check_missing_fraction, corpus_root_for_paths, run_prep
from dcase_tk.data.datadir import DataDir
from dcase_tk.data.safety import DataDirError, check_key, check_path
from dcase_tk.data.validate import validate
from dcase_tk.io.table import sort_key, write_list

LOG = logging.getLogger("prepare_data")


@dataclasses.dataclass
class Clip:
    utt: str
    path: str
    itemid: str
    datasetid: str
    label: str = None


@dataclasses.dataclass
class Audio:
    """The clips of one dataset sorted by check_audio: ``[(clip, duration)]``, ``[clip]``,
    ``[(clip, reason)]``."""
    datasetid: str
    readable: list
    missing: list
    bad: list


# ---------------------------------------------------------------- reading the release's lists

def csv_header(path):
    """The column names of the header line of comma-separated ``path``."""
    if not os.path.isfile(path):
        raise DataDirError(f"{path} not found; is the release completely downloaded and extracted?")
    with open(path, encoding="utf-8-sig", newline="") as f:
        return [name.strip() for name in next(csv.reader(f), [])]


def read_csv(path, required):
    """Rows of a comma-separated file with a header, as ``(line_number, {column: value})``.

    Columns are found by name (extra columns are fine); blank lines are skipped; every other
    row must have the header's width.
    """
    header = csv_header(path)
    lacking = [name for name in required if name not in header]
    if lacking:
        raise DataDirError(f"{path}:1: header {','.join(header)!r} lacks column(s) {', '.join(lacking)}; "
                           f"expected a comma-separated header with at least {','.join(required)}")
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                raise DataDirError(f"{path}:{reader.line_num}: expected {len(header)} comma-separated fields "
                                   f"({','.join(header)}), got {len(fields)}: {','.join(fields)!r}")
            yield reader.line_num, {name: field.strip() for name, field in zip(header, fields)}


def check_itemid(itemid, where, seen):
    """``itemid`` as a safe key, listed nowhere before (``seen``: itemid -> where first listed)."""
    if not itemid:
        raise DataDirError(f"{where}: empty itemid; every row names its clip <itemid>.wav")
    check_key(itemid, where)
    if itemid in seen:
        raise DataDirError(f"{where}: itemid '{itemid}' is already listed at {seen[itemid]}; a clip must be "
                           "listed once, in one dataset's list: remove the repeated row")
    seen[itemid] = where
    return itemid


def check_hasbird(value, where):
    if value not in HASBIRD_CLASS:
        raise DataDirError(f"{where}: hasbird is '{value}'; it must be 0 (no bird) or 1 (bird): fix the row")
    return HASBIRD_CLASS[value]


def audio_folder(corpus_root, dataset):
    """The folder (relative to the root) holding ``dataset``'s clips."""
    for folder in dataset.audio_candidates:
        if os.path.isdir(os.path.join(corpus_root, folder)):
            return folder
    tried = " or ".join(os.path.join(corpus_root, folder) for folder in dataset.audio_candidates)
    raise DataDirError(f"no audio folder for {dataset.datasetid}: neither {tried} exists; extract the "
                       f"release's archive into a folder named after it (unzip {dataset.audio}.zip -d "
                       f"{os.path.join(corpus_root, dataset.audio)})")


def read_dev_list(corpus_root, root, dataset, seen):
    """``(line of the first row, datasetid, [Clip])`` of one development list; paths are under
    ``root``. ``seen``: itemid -> where listed, shared by the three lists.
    """
    path = os.path.join(corpus_root, dataset.csv)
    rows = list(read_csv(path, DEV_COLUMNS))
    folder = audio_folder(corpus_root, dataset)
    datasetid, first = None, None
    clips = []
    for number, row in rows:
        where = f"{path}:{number}"
        itemid = check_itemid(row[ITEMID], where, seen)
        if datasetid is None:
            datasetid, first = check_key(row[DATASETID], where), number
        elif row[DATASETID] != datasetid:
            raise DataDirError(f"{where}: datasetid '{row[DATASETID]}' differs from '{datasetid}' on line {first}; "
                               f"each list holds one dataset: move the row to its own dataset's list")
        clips.append(Clip(utt=check_key(utt_id(datasetid, itemid), where), itemid=itemid, datasetid=datasetid,
                          path=check_path(os.path.join(root, folder, itemid + ".wav"), where),
                          label=check_hasbird(row[HASBIRD], where)))
    if not clips:
        raise DataDirError(f"{path}: lists no clips")
    if datasetid != dataset.datasetid:
        LOG.warning("%s: datasetid is '%s', not '%s' as in the 2018 release; using it as listed",
                    path, datasetid, dataset.datasetid)
    return first, datasetid, clips


def development_clips(corpus_root, root):
    """``{datasetid: [Clip]}`` of the three lists, in fold order."""
    seen, owners, datasets = {}, {}, {}
    for dataset in DEV_DATASETS:
        first, datasetid, clips = read_dev_list(corpus_root, root, dataset, seen)
        where = f"{os.path.join(corpus_root, dataset.csv)}:{first}"
        if datasetid in owners:
            raise DataDirError(f"{where}: datasetid '{datasetid}' is also the dataset of {owners[datasetid]}; "
                               "the three development lists must be three different datasets "
                               "(is one list a copy of another?)")
        owners[datasetid] = where
        datasets[datasetid] = clips
    return datasets


def wav_index(root):
    """``{stem: [paths]}`` of every ``.wav`` file below ``root`` (hidden folders skipped)."""
    index = {}
    for directory, subdirs, files in os.walk(root, followlinks=True):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".wav"):
                index.setdefault(name[:-len(".wav")], []).append(os.path.join(directory, name))
    return index


def eval_lists(eval_root):
    """The ``*.csv`` files directly in ``eval_root`` that have the evaluation columns."""
    dev_names = {dataset.csv for dataset in DEV_DATASETS}
    found = sorted(glob.glob(os.path.join(glob.escape(eval_root), "*.csv")))
    lists = []
    for path in found:
        if os.path.basename(path) in dev_names:
            raise DataDirError(f"{path}: a development list in the --eval-root; point --eval-root at the "
                               "folder of the evaluation release, not the development one")
        header = csv_header(path)
        if all(name in header for name in EVAL_COLUMNS):
            lists.append(path)
        else:
            LOG.warning("%s: skipped, its header %r lacks %s", path, ",".join(header), " or ".join(EVAL_COLUMNS))
    if not lists:
        raise DataDirError(f"{eval_root}: no *.csv list with the columns {','.join(EVAL_COLUMNS)} "
                           f"(found: {', '.join(os.path.basename(p) for p in found) or 'no csv file'}); "
                           "is it the folder of the extracted evaluation release?")
    return lists


def evaluation_clips(eval_root, root):
    """``{datasetid: [Clip]}`` of the evaluation lists (unlabelled); paths are under ``root``."""
    index = wav_index(root)
    seen, datasets, ignored = {}, {}, 0
    for path in eval_lists(eval_root):
        for number, row in read_csv(path, EVAL_COLUMNS):
            where = f"{path}:{number}"
            itemid = check_itemid(row[ITEMID], where, seen)
            datasetid = check_key(row[DATASETID], where)
            ignored += bool(row.get(HASBIRD))
            found = index.get(itemid, [])
            if len(found) > 1:
                raise DataDirError(f"{where}: '{itemid}.wav' is in {len(found)} places below {eval_root} "
                                   f"({', '.join(found[:2])}); keep one copy")
            audio = found[0] if found else os.path.join(root, itemid + ".wav")
            datasets.setdefault(datasetid, []).append(
                Clip(utt=check_key(utt_id(datasetid, itemid), where), itemid=itemid, datasetid=datasetid,
                     path=check_path(audio, where)))
    if ignored:
        LOG.warning("%s: ignored %d hasbird values: the evaluation set is prepared unlabelled", eval_root, ignored)
    return datasets


# ---------------------------------------------------------------- writing the data dirs

def listing(pairs):
    """Bytes of ``<utt> <text>`` lines in byte order of utterance."""
    return "".join(f"{utt} {text}\n" for utt, text in sorted(pairs, key=lambda pair: sort_key(pair[0]))).encode()


def sort_audio(directory, datasets, max_missing_fraction):
    """``[Audio]``, one per dataset; the missing fraction is checked per dataset."""
    result = []
    for datasetid, clips in datasets.items():
        readable, missing, bad = check_audio(clips, f"{directory} (dataset {datasetid})", max_missing_fraction)
        result.append(Audio(datasetid, readable, missing, bad))
    return result


def data_dir(audio):
    """The DataDir of the datasets ``audio`` (a list of Audio)."""
    readable = [pair for a in audio for pair in a.readable]
    kept = [clip for clip, _ in readable]
    tables = {"wav.scp": {c.utt: c.path for c in kept},
              "utt2spk": {c.utt: c.datasetid for c in kept},
              "utt2dataset": {c.utt: c.datasetid for c in kept},
              "utt2itemid": {c.utt: c.itemid for c in kept},
              "utt2dur": {c.utt: f"{duration:.3f}" for c, duration in readable}}
    if all(c.label is not None for c in kept):
        tables["utt2label"] = {c.utt: c.label for c in kept}
    extras = {}
    missing = [c for a in audio for c in a.missing]
    bad = [pair for a in audio for pair in a.bad]
    if missing:
        extras["missing"] = listing((c.utt, c.path) for c in missing)
    if bad:
        extras["bad_utts"] = listing((c.utt, reason) for c, reason in bad)
    return DataDir(tables, classes=list(CLASSES), extras=extras)


def describe(name, audio):
    """One log line: utterances per dataset (with birds when labelled) and what was left out."""
    parts = []
    for a in audio:
        part = f"{a.datasetid} {len(a.readable)}"
        if a.readable and a.readable[0][0].label is not None:
            part += f" ({sum(clip.label == 'bird' for clip, _ in a.readable)} bird)"
        parts.append(part)
    line = f"{name}: {sum(len(a.readable) for a in audio)} utts: {', '.join(parts)}"
    missing, bad = sum(len(a.missing) for a in audio), sum(len(a.bad) for a in audio)
    if missing or bad:
        line += f"; left out {missing} missing, {bad} unreadable (see missing, bad_utts)"
    return line


def write_folds(data_root, audio):
    """Leave-one-dataset-out pairs ``fold<k>_{train,test}`` and folds.txt; return log lines."""
    lines, folds = [], []
    for k, held_out in enumerate(audio, start=1):
        train_name, test_name = fold_dirs(k)
        train_dir, test_dir = os.path.join(data_root, train_name), os.path.join(data_root, test_name)
        train = [a for a in audio if a is not held_out]
        data_dir(train).save(train_dir)
        data_dir([held_out]).save(test_dir)
        validate(train_dir)
        validate(test_dir, disjoint_with=[train_dir])
        folds.append(f"{k} {held_out.datasetid}")
        lines.append(f"fold{k}: test on {held_out.datasetid} ({len(held_out.readable)} utts), train on "
                     f"{' + '.join(a.datasetid for a in train)} ({sum(len(a.readable) for a in train)} utts)")
    write_list(os.path.join(data_root, FOLDS_FILE), folds)
    return lines


def prepare(corpus_root, data_root, eval_root=None, max_missing_fraction=0.05):
    """Write the data dirs under ``data_root``; return ``{name: summary line}`` (dev, fold<k>, eval)."""
    check_missing_fraction(max_missing_fraction)
    root = corpus_root_for_paths(corpus_root, data_root, "bad2018")
    dev = sort_audio(os.path.join(data_root, DEV_DIR), development_clips(corpus_root, root), max_missing_fraction)
    evaluation = None
    if eval_root:
        eval_paths_root = corpus_root_for_paths(eval_root, data_root, "bad2018_eval")
        evaluation = sort_audio(os.path.join(data_root, EVAL_DIR), evaluation_clips(eval_root, eval_paths_root),
                                max_missing_fraction)
    summaries = {}
    dev_dir = os.path.join(data_root, DEV_DIR)
    data_dir(dev).save(dev_dir)
    validate(dev_dir)
    summaries["dev"] = describe("dev", dev)
    for k, line in enumerate(write_folds(data_root, dev), start=1):
        summaries[f"fold{k}"] = line
    if evaluation is not None:
        eval_dir = os.path.join(data_root, EVAL_DIR)
        data_dir(evaluation).save(eval_dir)
        validate(eval_dir)
        summaries["eval"] = describe("eval", evaluation) + " (unlabelled)"
    for line in summaries.values():
        LOG.info(line)
    return summaries


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus_root", help="folder with the three development lists and audio folders")
    parser.add_argument("data_root", help="where the data dirs go (dev, fold<k>_train, fold<k>_test, eval)")
    parser.add_argument("--eval-root", help="folder of the evaluation release (*.csv lists with itemid,datasetid "
                                            "and <itemid>.wav files anywhere below it)")
    parser.add_argument("--max-missing-fraction", type=float, default=0.05,
                        help="fail if more than this fraction of a dataset's audio is missing or unreadable")
    args = parser.parse_args(argv)
    return run_prep(prepare, args.corpus_root, args.data_root, args.eval_root, args.max_missing_fraction)


if __name__ == "__main__":
    sys.exit(main())
