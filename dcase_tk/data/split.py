"""Make new data directories from old ones: split into jobs, subset, combine, hold out groups.

Every split respects the group of utt2spk (a recording location, dataset or session): a group
never straddles two jobs, nor train and validation. Without utt2spk each utterance is its own
group.
"""
import heapq
import logging
import math
import os
import random

from dcase_tk.data.datadir import CLASSES, WAV_SCP, DataDir, build_dir, data_files, load
from dcase_tk.data.safety import DataDirError
from dcase_tk.io.table import read_lines, sort_key

log = logging.getLogger(__name__)


def _group_utts(data, by_group=True):
    """``{group: [utts]}`` in byte order of utterance; every utterance its own group unless
    ``by_group``."""
    result = {}
    for utt, group in (data.groups() if by_group else {u: u for u in data.utts}).items():
        result.setdefault(group, []).append(utt)
    return result


def _is_up_to_date(src, out, n):
    """The split was built after the last change to any file of ``src`` (Kaldi's rule)."""
    if not all(os.path.isdir(os.path.join(out, str(j))) for j in range(1, n + 1)):
        return False
    newest = max((os.stat(os.path.join(src, name)).st_mtime_ns for name in data_files(src)), default=math.inf)
    return os.stat(out).st_mtime_ns >= newest


def split_data(path, n):
    """Split ``path`` into ``path/split{n}/{1..n}``, keeping groups whole; return the job dirs.

    Groups go largest first to the job with the fewest utterances so far, so jobs are balanced
    by utterance count. More jobs than groups is an error (a job would be empty or a group cut).
    Does nothing when the split directory is newer than every file of ``path``.
    """
    if n < 1:
        raise DataDirError(f"{path}: cannot split into {n} jobs; need at least 1")
    out = os.path.join(path, f"split{n}")
    jobs = [os.path.join(out, str(j)) for j in range(1, n + 1)]
    if _is_up_to_date(path, out, n):
        log.info("%s is up to date", out)
        return jobs
    data = load(path)
    groups = _group_utts(data)
    if n > len(groups):
        raise DataDirError(
            f"{path}: cannot split into {n} jobs: there are only {len(groups)} groups "
            "(utt2spk values; utterances where there is no utt2spk) "
            f"and a group must not straddle jobs; use at most {len(groups)} jobs")
    bins = [(0, j, []) for j in range(n)]
    for group in sorted(groups, key=lambda g: (-len(groups[g]), sort_key(g))):
        count, j, utts = heapq.heappop(bins)
        utts.extend(groups[group])
        heapq.heappush(bins, (count + len(groups[group]), j, utts))

    def write(tmp):
        for _, j, utts in bins:
            data.subset(utts).save(os.path.join(tmp, str(j + 1)))

    build_dir(out, write)
    return jobs


def subset_data_dir(src, dest, utt_list=None, first=None, filters=None, excludes=None):
    """Write the utterances of ``src`` selected by every given criterion to ``dest``.

    ``utt_list``: a file whose first column lists utterances (each must be in ``src``);
    ``filters``: ``{per-utt file: values}``, keep utterances whose value is one of ``values``
    (``{"utt2device": ["a"]}``: device A only); ``excludes``: likewise, drop those utterances
    (``{"utt2fold": ["1"]}``: the training side of fold 1); ``first``: then keep the first N in
    byte order.
    Returns the number of utterances kept.
    """
    if os.path.abspath(src) == os.path.abspath(dest):
        raise DataDirError(f"{dest}: the destination must differ from the source")
    data = load(src)
    utts = data.utts
    if utt_list is not None:
        wanted = {key for _, key, _ in read_lines(utt_list)}
        unknown = sorted(wanted - set(utts), key=sort_key)
        if unknown:
            raise DataDirError(f"{utt_list}: {len(unknown)} utterances are not in {src}/wav.scp, "
                               f"e.g. {', '.join(unknown[:3])}; is it the list of another data directory?")
        utts = [utt for utt in utts if utt in wanted]
    for keep, criteria in ((True, filters), (False, excludes)):
        for name, values in (criteria or {}).items():
            if name not in data.tables:
                raise DataDirError(f"{src}: no per-utterance file '{name}' to filter on "
                                   f"(has: {', '.join(sorted(data.tables))})")
            table, values = data.tables[name], set(values)
            utts = [utt for utt in utts if (table.get(utt) in values) == keep]
    if first is not None:
        utts = utts[:first]
    if not utts:
        raise DataDirError(f"{src}: the selection keeps no utterances; nothing written to {dest}")
    data.subset(utts).save(dest)
    return len(utts)


def combine_data(dest, srcs):
    """Write the union of data directories ``srcs`` to ``dest``; return the DataDir.

    Utterance ids must be unique across the sources. classes.txt and other plain files must
    be identical wherever present. A per-utterance file missing from some source is left out
    (as Kaldi does), with a warning, since the result would not have it for every utterance.
    """
    if not srcs:
        raise DataDirError(f"{dest}: nothing to combine")
    if any(os.path.abspath(src) == os.path.abspath(dest) for src in srcs):
        raise DataDirError(f"{dest}: the destination must not be one of the sources")
    datas = [load(src) for src in srcs]
    owner = {}
    for src, data in zip(srcs, datas):
        for utt in data.tables[WAV_SCP]:
            if utt in owner:
                raise DataDirError(f"utterance '{utt}' is in both {owner[utt]}/wav.scp and {src}/wav.scp; "
                                   "utterance ids must be unique across combined directories")
            owner[utt] = src
    names = sorted({name for data in datas for name in data.tables})
    combined = DataDir({})
    for name in names:
        lacking = [src for src, data in zip(srcs, datas) if name not in data.tables]
        if lacking:
            log.warning("%s: leaving out %s, which %s lack(s)", dest, name, ", ".join(lacking))
            continue
        combined.tables[name] = {k: v for data in datas for k, v in data.tables[name].items()}
    for data in datas:
        combined.events.update(data.events)
    combined.classes = _agreed(srcs, [d.classes for d in datas], CLASSES)
    for name in sorted({name for data in datas for name in data.extras}):
        combined.extras[name] = _agreed(srcs, [d.extras.get(name) for d in datas], name)
    combined.save(dest)
    return combined


def _agreed(srcs, values, name):
    """The one value that every source having ``name`` has; DataDirError if they differ."""
    present = [(src, value) for src, value in zip(srcs, values) if value is not None]
    for src, value in present[1:]:
        if value != present[0][1]:
            raise DataDirError(f"{name} differs between {present[0][0]} and {src}; "
                               "combined directories must agree on it")
    return present[0][1] if present else None


def split_validation(src, out_train, out_valid, fraction=0.3, seed=0, strata=("utt2label", "utt2city"),
                     by_group=True):
    """Hold out whole groups of ``src`` as a validation set, stratified; return (train, valid).

    ``by_group`` False holds out single utterances instead (Task 3, whose utt2spk is the
    dataset: the validation clips come from every training dataset).

    The stratum of an utterance is the tuple of its values in the ``strata`` files that ``src``
    has (absent ones are skipped); every group must lie in a single stratum. For each stratum
    (in byte order), its groups are shuffled with ``random.Random(seed)`` and visited in turn;
    a group moves to validation if that brings the stratum's validation utterance count closer
    to ``fraction`` of its utterances, as long as at least one group of the stratum stays in
    train. So each stratum gets about ``fraction`` (as close as whole groups allow; a stratum
    with one group gets none), and the same seed and data give the same split.
    """
    if not 0 < fraction < 1:
        raise DataDirError(f"--fraction must be between 0 and 1, got {fraction}")
    data = load(src)
    used = [name for name in strata if name in data.tables]
    log.info("%s: stratifying by %s", src, ", ".join(used) or "nothing (no strata files)")
    groups = _group_utts(data, by_group)
    by_stratum = {}
    for group, utts in groups.items():
        by_stratum.setdefault(_stratum_of(src, data, used, group, utts), []).append(group)
    rng = random.Random(seed)
    valid = []
    for stratum in sorted(by_stratum, key=lambda s: tuple(map(sort_key, s))):
        candidates = sorted(by_stratum[stratum], key=sort_key)
        rng.shuffle(candidates)
        target = fraction * sum(len(groups[g]) for g in candidates)
        taken, n_taken = 0, 0
        for group in candidates:
            if len(candidates) - n_taken <= 1:
                break
            if abs(taken + len(groups[group]) - target) < abs(taken - target):
                valid.extend(groups[group])
                taken, n_taken = taken + len(groups[group]), n_taken + 1
    valid = set(valid)
    train_data = data.subset(utt for utt in data.utts if utt not in valid)
    valid_data = data.subset(valid)
    train_data.save(out_train)
    valid_data.save(out_valid)
    return train_data, valid_data


def _stratum_of(src, data, used, group, utts):
    strata = {}
    for utt in utts:
        for name in used:
            if utt not in data.tables[name]:
                raise DataDirError(f"{src}: utterance '{utt}' has no line in {name}; "
                                   f"run utils/validate_data_dir.sh {src}")
        strata.setdefault(tuple(data.tables[name][utt] for name in used), utt)
    if len(strata) > 1:
        (s1, u1), (s2, u2) = list(strata.items())[:2]
        raise DataDirError(f"{src}: group '{group}' spans several strata: '{u1}' is {' '.join(s1)} but "
                           f"'{u2}' is {' '.join(s2)}; each group (utt2spk value) must have one value in "
                           f"{', '.join(used)}")
    return next(iter(strata))
