#!/usr/bin/env python3
"""Task 4 data prep: the DCASE 2018 Task 4 release -> Kaldi-style data directories.

    prepare_data.py [--eval-root DIR] [--max-missing-fraction 0.1] <corpus_root> <data_root>

``<corpus_root>`` holds the release's ``dataset/`` folder (or is that folder): the tab-separated
lists ``dataset/metadata/train/{weak,unlabel_in_domain,unlabel_out_of_domain}.csv``,
``dataset/metadata/test/test.csv`` (+ the optional ``files_to_remove.csv``) and the clips under
``dataset/audio/train/{weak,unlabel_in_domain,unlabel_out_of_domain}/`` and
``dataset/audio/test/`` (DATA_FORMATS.md "Task 4"; sed2018.py reads the lists and says how).

Writes under ``<data_root>`` (DESIGN.md section 4), each with wav.scp, utt2spk (= the utterance:
the release has no grouping), spk2utt, utt2dur (from the audio header) and classes.txt (the 10
classes):

- ``weak``: + utt2labels, the clip's labels (sorted, in classes.txt order);
- ``unlabel_in_domain``, ``unlabel_out_of_domain``: no labels;
- ``test``: + events (``<utt> <onset> <offset> <label>``, %.3f, in list order) and utt2labels,
  the classes of its events. A clip the list gives without events stays (wav.scp, utt2dur, ...)
  with no events line and an empty utt2labels value (``<utt>`` alone on its line: an empty
  label set, which utt2labels allows, docs/data_dir.md; tagging targets it as all-zero). The
  clips of ``files_to_remove.csv`` (test clips that are also training clips, removed by the
  organisers in July 2018) are dropped and counted;
- ``eval``: like ``test``, from ``--eval-root`` (a folder with the evaluation release's
  ``dataset/metadata/eval/eval.csv`` and ``dataset/audio/eval/``), or from the corpus root when
  it has ``dataset/metadata/eval/eval.csv``. An ``eval.csv`` with a ``filename`` column only is
  prepared unlabelled (no events, no utt2labels). Without either, an ``eval`` dir of an earlier
  run is removed.

The utterance id is the file name without ``.wav`` (``Y--7jZxfzemI_13.000_23.000``): YouTube
names are shell-safe ids already, and the submission gets the name back as ``<utt>.wav``.

Audio: clips from YouTube are often missing in a download; listed files that are absent go to
``<dir>/missing``, unreadable ones to ``<dir>/bad_utts`` with the reason, and are counted in the
log; more than ``--max-missing-fraction`` of a set lost that way is an error (DATA_FORMATS.md
general rules). The default, 0.1, is above the few per cent a download of the release typically
lacks. An event that ends after its clip's audio (a downloaded clip shorter than the 10 s it
was annotated on) is cut at the audio's end, one that starts after it is dropped; both are
counted in the log (validate_data_dir requires offset <= utt2dur).

Every list is read and every audio file checked before anything is written, so a bad row leaves
the data dirs as they were; each written dir is checked with validate_data_dir.
"""
import argparse
import dataclasses
import logging
import os
import sys

from dcase_tk.data.corpus import (check_audio, check_missing_fraction, corpus_root_for_paths, remove_stale,
                                  run_prep)
from dcase_tk.data.datadir import DataDir
from dcase_tk.data.safety import DataDirError
from dcase_tk.data.validate import validate
from dcase_tk.io.table import sort_key
from sed2018 import CLASSES, DEV_SUBSETS, EVAL, TEST, WEAK_SET, read_files_to_remove, read_subset, release_dir

LOG = logging.getLogger("prepare_data")


@dataclasses.dataclass
class Prepared:
    """One data dir to write: the clips check_audio kept (``[(clip, duration)]``), lost
    (``missing``, ``[(clip, reason)]`` ``bad``), and what the log says about it."""
    name: str
    labelled: bool
    readable: list
    missing: list
    bad: list
    notes: list = dataclasses.field(default_factory=list)


# ---------------------------------------------------------------- reading the release

def remove_listed(test, root):
    """``(kept clips, note or None)``: ``test`` without the clips of files_to_remove.csv."""
    path, listed = read_files_to_remove(root)
    if not listed:
        return test, None
    kept = [clip for clip in test if clip.utt not in listed]
    if not kept:
        raise DataDirError(f"{path}: removes every clip of the test list; is it the release's own file?")
    unknown = [utt for utt in listed if utt not in {clip.utt for clip in test}]
    if unknown:
        LOG.warning("%s:%d: %d listed file(s) are not in the test list (e.g. %s.wav); nothing to remove for them",
                    path, listed[unknown[0]], len(unknown), unknown[0])
    return kept, f"{len(test) - len(kept)} removed by {os.path.basename(path)}"


def eval_source(corpus_root, eval_root):
    """The root whose release has the evaluation list, or None."""
    if eval_root:
        return eval_root
    try:
        found = os.path.isfile(os.path.join(corpus_root, release_dir(corpus_root), EVAL.csv))
    except DataDirError:
        return None
    return corpus_root if found else None


def read_release(corpus_root, data_root, eval_root):
    """``[(Subset, [Clip], [notes])]`` of every set to prepare, test clips of files_to_remove.csv out."""
    root = corpus_root_for_paths(corpus_root, data_root, "sed2018")
    sets = []
    for subset in DEV_SUBSETS:
        clips, notes = read_subset(corpus_root, subset, root), []
        if subset is TEST:
            clips, note = remove_listed(clips, corpus_root)
            notes += [note] if note else []
        sets.append((subset, clips, notes))
    source = eval_source(corpus_root, eval_root)
    if source is not None:
        paths_root = root if source == corpus_root else corpus_root_for_paths(source, data_root, "sed2018_eval")
        sets.append((EVAL, read_subset(source, EVAL, paths_root), []))
    return sets


def warn_overlap(sets):
    """Log test clips that are also weak training clips (files_to_remove.csv did not list them)."""
    clips = {subset.name: {clip.utt for clip in listed} for subset, listed, _ in sets}
    shared = sorted(clips[TEST.name] & clips[WEAK_SET.name], key=sort_key)
    if shared:
        LOG.warning("%d test clip(s) are also in the weak training list (e.g. %s.wav): the test figures are biased; "
                    "files_to_remove.csv of the release lists the ones the organisers found", len(shared), shared[0])


# ---------------------------------------------------------------- events and data dirs

def fit_events(name, readable):
    """Cut events at the end of their clip's audio (as utt2dur gives it), drop those starting
    after it; return the log notes. Sorts nothing: events stay in list order."""
    cut, dropped, example = 0, 0, None
    for clip, duration in readable:
        if not clip.events:
            continue
        end_ms = round(float(f"{duration:.3f}") * 1000)
        kept = []
        for event in clip.events:
            if event.offset_ms > end_ms:
                example = example or (f"{event.where}: ends at {event.offset_ms / 1000:.3f} s, "
                                      f"the audio at {end_ms / 1000:.3f} s")
                if event.onset_ms >= end_ms:
                    dropped += 1
                    continue
                cut += 1
                event = dataclasses.replace(event, offset_ms=end_ms)
            kept.append(event)
        clip.events = kept
        clip.labels = tuple(label for label in clip.labels if any(e.label == label for e in kept))
    if cut or dropped:
        LOG.warning("%s: %d event(s) cut at the end of their clip's audio, %d dropped as starting after it (%s)",
                    name, cut, dropped, example)
        return [f"{cut} event(s) cut and {dropped} dropped at the audio's end"]
    return []


def listing(pairs):
    """Bytes of ``<utt> <text>`` lines in byte order of utterance."""
    return "".join(f"{utt} {text}\n" for utt, text in sorted(pairs, key=lambda pair: sort_key(pair[0]))).encode()


def data_dir(prepared):
    """The DataDir of a Prepared set."""
    kept = [clip for clip, _ in prepared.readable]
    tables = {"wav.scp": {c.utt: c.path for c in kept},
              "utt2spk": {c.utt: c.utt for c in kept},
              "utt2dur": {c.utt: f"{duration:.3f}" for c, duration in prepared.readable}}
    if prepared.labelled:
        tables["utt2labels"] = {c.utt: list(c.labels) for c in kept}
    events = {c.utt: [event.line() for event in c.events] for c in kept if c.events}
    extras = {}
    if prepared.missing:
        extras["missing"] = listing((c.utt, c.path) for c in prepared.missing)
    if prepared.bad:
        extras["bad_utts"] = listing((c.utt, reason) for c, reason in prepared.bad)
    return DataDir(tables, events, list(CLASSES), extras)


def describe(prepared):
    """One log line: clips, labels or events, what was removed and what was left out."""
    kept = [clip for clip, _ in prepared.readable]
    line = f"{prepared.name}: {len(kept)} clips"
    if kept[0].events is not None:
        line += (f", {sum(len(c.events) for c in kept)} events, "
                 f"{sum(not c.events for c in kept)} clip(s) without events")
    elif prepared.labelled:
        line += (f", {sum(len(c.labels) for c in kept)} labels "
                 f"({sum(len(c.labels) > 1 for c in kept)} multi-label clips)")
    else:
        line += " (unlabelled)"
    line += "".join(f"; {note}" for note in prepared.notes)
    if prepared.missing or prepared.bad:
        line += (f"; left out {len(prepared.missing)} missing, {len(prepared.bad)} unreadable "
                 "(see missing, bad_utts)")
    return line


def prepare(corpus_root, data_root, eval_root=None, max_missing_fraction=0.1):
    """Write the data dirs under ``data_root``; return ``{name: summary line}``."""
    check_missing_fraction(max_missing_fraction)
    sets = read_release(corpus_root, data_root, eval_root)
    warn_overlap(sets)
    prepared = []
    for subset, clips, notes in sets:
        directory = os.path.join(data_root, subset.name)
        readable, missing, bad = check_audio(clips, directory, max_missing_fraction)
        labelled = clips[0].labels is not None
        if clips[0].events is not None:
            notes = notes + fit_events(subset.name, readable)
        prepared.append(Prepared(subset.name, labelled, readable, missing, bad, notes))
    if not any(p.name == EVAL.name for p in prepared):
        remove_stale(os.path.join(data_root, EVAL.name), "no evaluation list now")
    summaries = {}
    for p in prepared:
        directory = os.path.join(data_root, p.name)
        data_dir(p).save(directory)
        validate(directory)
        summaries[p.name] = describe(p)
        LOG.info(summaries[p.name])
    return summaries


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus_root", help="folder holding the release's dataset/ (metadata/ and audio/)")
    parser.add_argument("data_root", help="where the data dirs go (weak, unlabel_in_domain, unlabel_out_of_domain, "
                                          "test, eval)")
    parser.add_argument("--eval-root", help="folder holding the evaluation release's dataset/metadata/eval/eval.csv "
                                            "and dataset/audio/eval/ (default: the corpus root, when it has them)")
    parser.add_argument("--max-missing-fraction", type=float, default=0.1,
                        help="fail if more than this fraction of a set's audio is missing or unreadable")
    args = parser.parse_args(argv)
    return run_prep(prepare, args.corpus_root, args.data_root, args.eval_root, args.max_missing_fraction)


if __name__ == "__main__":
    sys.exit(main())
