#!/usr/bin/env python3
"""Scaling of the feature and training stages with corpus size: is the cost per clip flat?

The corpus is the Task 1A mini corpus, made as stage 0 of egs/dcase2018_task1 makes it
(utils/make_mini_corpus.sh running local/dcase2018_task1/make_mini_corpus.py: 240 synthetic
10 s, 48 kHz, stereo, 24-bit clips), prepared as stage 1 does (local/dcase2018_task1/
prepare_data.py, utils/split_validation.sh: train = 180 clips, 120 train_tr + 60 train_cv), then
replicated: at scale k the training set is k copies of ``train``, copy NN holding the same clips
under new utterance ids ``<utt>-rNN`` with every per-utterance table (wav.scp, utt2spk,
utt2label, ...) replicated (a clip's copies keep its utt2spk group, the recording location).
Each copy's wav.scp names its own symbolic link to the original file (see ``replicate``). The
dirs are written with dcase_tk.data.datadir and checked with utils/validate_data_dir.sh. The
reference measured in the same run is the 1x run.

Every step runs --repeat times per size, the passes going round the sizes (every other pass
backwards) so that a slow spell of other load falls on all sizes alike, and the fastest run
counts (on a shared machine the fastest run is the one least disturbed by others).

features   ``steps/make_feats.sh --nj NJ --cmd run.py --feat_config conf/feats/logmel40_48k.yaml``
           on the replicated ``train`` dir, wall clock of the whole step (validation, split, NJ
           compute_feats jobs, merge, validation of the dump dir, stamps), in a fresh dump dir
           each time. The step has a fixed cost that does not depend on the corpus (a dozen
           Python start-ups, ~2 s of imports in every job), larger at 1x than the feature work
           itself. Inside each run the jobs' extraction span is read off the file system: from
           the first job's opening its ark (after its imports and set-up) to the last job's last
           write (birth and modification times of dump/data/raw_feats.*.ark). fixed_seconds =
           the 1x step minus its extraction span, and seconds_per_clip = (seconds -
           fixed_seconds) / clips: at 1x the extraction span per clip; at k, everything the
           step spends beyond the 1x fixed part, so per-clip costs outside the jobs (split,
           merge, validation) count too. Also given: extraction_seconds (the span itself),
           raw_seconds_per_clip = seconds / clips (nothing subtracted), cpu_seconds (CPU time of
           the step's processes, from getrusage of the waited-for children, run.py's jobs
           included). Where the file system keeps no birth times nothing is subtracted.
training   ``steps/train_nnet.sh --cmd run.py --num_threads THREADS`` with
           conf/systems/baseline.yaml (40 x 500 log-mel input, batch 16) and ``--train_opts
           "--training.epochs EPOCHS"``, from scratch each time, on the replicated train_tr /
           train_cv parts (subset from the features as stage 2 does, with the statistics of
           steps/compute_global_cmvn.sh; neither is timed). seconds = the trainer's own time of
           one epoch (``seconds`` in history.csv: the training pass over train_tr plus the
           scoring of train_cv, which grows with it; not the checkpoint), the median over epochs
           2..EPOCHS; epoch 1, with the first-batch warm-up, is left out. seconds_per_clip =
           seconds / train_tr clips. startup_seconds = wall time of the step minus all its
           epochs (Python/torch imports, model build, checkpoints, final.pt, curves.png).

ratio_to_1x = seconds_per_clip at scale k / seconds_per_clip at 1x. Prints one JSON line per
(stage, scale), then a summary line with each stage's worst ratio (the one furthest from 1) and
"flat": true when both are within --tolerance (20 %) of 1.

  python bench/scale.py [--scales 1,4,16] [--workdir DIR] [--keep] [--nj 2] [--epochs 2]
                        [--repeat 3] [--threads 2] [--tolerance 0.2]
                        [--locations-per-class-city 4] [--segments-per-location 3]

Without --workdir the work goes to a temporary dir, removed at the end unless --keep; a
--workdir is always kept. Every step's output is in <workdir>/scale.log.
"""
import argparse
import csv
import glob
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from dcase_tk.data import datadir  # noqa: E402

RECIPE = os.path.join(ROOT, "egs", "dcase2018_task1")
LOCAL = os.path.join(ROOT, "local", "dcase2018_task1")
FEAT_CONF = os.path.join(RECIPE, "conf", "feats", "logmel40_48k.yaml")
SYSTEM_CONF = os.path.join(RECIPE, "conf", "systems", "baseline.yaml")
RELEASE = "TUT-urban-acoustic-scenes-2018-development"


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sh(command, cwd, log):
    """Run ``command`` under path.sh in ``cwd``, output appended to ``log``; returns its
    (wall seconds, CPU seconds of it and all its waited-for descendants)."""
    with open(log, "a") as f:
        f.write(f"### {command}\n")
        f.flush()
        t0, c0 = time.perf_counter(), children_cpu()
        done = subprocess.run(["bash", "-c", f". {shlex.quote(os.path.join(ROOT, 'path.sh'))} && {command}"],
                              cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
        seconds, cpu = time.perf_counter() - t0, children_cpu() - c0
    if done.returncode:
        sys.exit(f"scale.py: failed ({done.returncode}): {command}\n  see {log}")
    return seconds, cpu


def replicate(src, copies, dest, links):
    """``dest``: ``copies`` copies of data dir ``src`` under ids <utt>-rNN; returns their number.

    Copy NN's wav.scp names ``<links>/rNN/<file>``, a symbolic link to the original audio: the
    bytes are shared (one page-cache copy), the wav.scp entries are not. With one shared entry
    the replicas of a clip would sit next to each other in sorted order and the feature
    extractor's one-entry audio cache (meant for the channel utterances of one clip,
    dcase_tk/features/extract.py) would decode each file once for all of its copies.
    """
    data = datadir.load(src)
    suffixes = [f"-r{i:02d}" for i in range(copies)]
    tables = {name: {utt + s: value for s in suffixes for utt, value in table.items()}
              for name, table in data.tables.items() if name != datadir.WAV_SCP}
    wav_scp = {}
    for s in suffixes:
        folder = os.path.join(links, s[1:])
        os.makedirs(folder, exist_ok=True)
        for utt, path in data.tables[datadir.WAV_SCP].items():
            link = os.path.join(folder, os.path.basename(path))
            if not os.path.lexists(link):
                os.symlink(path, link)
            wav_scp[utt + s] = link
    tables[datadir.WAV_SCP] = wav_scp
    events = {utt + s: value for s in suffixes for utt, value in data.events.items()}
    datadir.DataDir(tables, events, data.classes, data.extras).save(dest)
    return len(wav_scp)


def epoch_seconds(exp):
    with open(os.path.join(exp, "history.csv")) as f:
        return [float(row["seconds"]) for row in csv.DictReader(f)]


def emit(record):
    print(json.dumps(record), flush=True)


def ratio(values, k):
    return round(values[k] / values[1], 3) if values[1] > 0 else None


def worst(values):
    """The ratio to 1x furthest from 1 over the scales other than 1."""
    ratios = [v / values[1] for k, v in values.items() if k != 1 and values[1] > 0] or [1.0]
    return round(max(ratios, key=lambda r: abs(r - 1)), 3)


def rounds(items, repeat):
    """``repeat`` passes over ``items``, every other one backwards, so that a slow spell of
    other load on the machine falls on all of them alike, whichever time of the run it hits."""
    for r in range(repeat):
        yield from (items if r % 2 == 0 else items[::-1])


def prepare(args, work, log):
    """Stages 0 and 1 of the recipe: the mini corpus, data/train, data/train_{tr,cv}."""
    q = shlex.quote
    corpus = os.path.join(work, "corpus", RELEASE)
    sh(f"make_mini_corpus.sh {q(corpus)} {q(LOCAL)}/make_mini_corpus.py --subtask a "
       f"--locations-per-class-city {args.locations_per_class_city} "
       f"--segments-per-location {args.segments_per_location} corpus", work, log)
    sh(f"{q(LOCAL)}/prepare_data.py --subtask a {q(corpus)} data && "
       "split_validation.sh --fraction 0.3 --strata 'utt2label utt2city' data/train data/train_tr data/train_cv && "
       "validate_data_dir.sh data/train_tr --disjoint-with data/train_cv", work, log)


def extraction_span(dump_dir):
    """Seconds from the first feature job's opening its ark to the last job's last write: birth
    and modification times of ``<dump>/data/raw_feats.*.ark`` (the ark is opened after the job's
    imports and set-up, and renamed into place, which keeps both times). None where the file
    system keeps no birth time."""
    arks = sorted(glob.glob(os.path.join(dump_dir, "data", "raw_feats.*.ark")))
    out = subprocess.run(["stat", "-c", "%.9W %.9Y", *arks], capture_output=True, text=True)
    times = [tuple(float(t) for t in line.split()) for line in out.stdout.split("\n") if line.strip()]
    if out.returncode or len(times) != len(arks) or not times or any(born <= 0 for born, _ in times):
        return None
    return max(m for _, m in times) - min(b for b, _ in times)


def features(args, scales, work, log):
    """Time make_feats.sh on every size; returns {"wall": {scale: s per clip}, "raw": ...}."""
    base, links = os.path.join(work, "data", "train"), os.path.join(work, "audio_links")
    sizes = {}
    for k in scales:
        sizes[k] = replicate(base, k, os.path.join(work, "data", f"train_x{k}"), links)
        sh(f"validate_data_dir.sh data/train_x{k}", work, log)

    def make_feats(k):
        # a fresh dump dir each time: on a re-run the launcher would keep the finished jobs
        dump = os.path.join("dump", f"train_x{k}")
        shutil.rmtree(os.path.join(work, dump), ignore_errors=True)
        wall, cpu = sh(f"make_feats.sh --nj {args.nj} --cmd run.py --feat_config {shlex.quote(FEAT_CONF)} "
                       f"data/train_x{k} {dump}", work, log)
        return wall, cpu, extraction_span(os.path.join(work, dump))

    runs = {k: [] for k in scales}
    for k in rounds(scales, args.repeat):
        runs[k].append(make_feats(k))
    best = {k: min(runs[k]) for k in scales}           # the fastest run of each size
    wall_1x, cpu_1x, span_1x = best[1]
    # the fixed part: the 1x step outside its jobs' extraction span
    fixed = wall_1x - span_1x if span_1x is not None else 0.0
    per_clip = {"wall": {}, "raw": {}, "span": {}}
    for k in scales:
        wall, cpu, span = best[k]
        n = sizes[k]
        per_clip["wall"][k], per_clip["raw"][k] = (wall - fixed) / n, wall / n
        record = {"bench": "scale", "stage": "features", "scale": k, "clips": n, "nj": args.nj,
                  "seconds": round(wall, 2), "fixed_seconds": round(fixed, 2),
                  "seconds_per_clip": round(per_clip["wall"][k], 5), "ratio_to_1x": ratio(per_clip["wall"], k),
                  "raw_seconds_per_clip": round(wall / n, 5), "raw_ratio_to_1x": ratio(per_clip["raw"], k)}
        if span is not None:
            per_clip["span"][k] = span / n
            record.update({"extraction_seconds": round(span, 2), "outside_extraction_seconds": round(wall - span, 2),
                           "extraction_seconds_per_clip": round(span / n, 5),
                           "extraction_ratio_to_1x": ratio(per_clip["span"], k)})
        else:
            record["note"] = "no file birth times here: fixed cost not separated (fixed_seconds 0)"
        record.update({"cpu_seconds": round(cpu, 2), "runs_seconds": [round(r[0], 2) for r in runs[k]]})
        emit(record)
    return per_clip


def training(args, scales, work, log):
    """Time train_nnet.sh on every size; returns {scale: seconds per clip}."""
    tr_utts = datadir.load(os.path.join(work, "data", "train_tr")).utts
    cv_utts = datadir.load(os.path.join(work, "data", "train_cv")).utts
    for k in scales:
        dump = f"dump/train_x{k}"
        # stage 2's tr/cv parts of the features and stage 3's statistics (not timed)
        for part, utts in (("tr", tr_utts), ("cv", cv_utts)):
            with open(os.path.join(work, f"utts_x{k}_{part}"), "w") as f:
                f.writelines(f"{u}-r{i:02d}\n" for i in range(k) for u in utts)
            sh(f"subset_data_dir.sh --utt-list utts_x{k}_{part} {dump} {dump}_{part}", work, log)
        sh(f"compute_global_cmvn.sh {dump}_tr", work, log)
    per_clip, runs = {}, {k: [] for k in scales}
    for r, k in enumerate(rounds(scales, args.repeat)):
        dump, exp = f"dump/train_x{k}", f"exp/baseline_x{k}.{r}"
        wall, _ = sh(f"train_nnet.sh --cmd run.py --num_threads {args.threads} "
                     f"--system_config {shlex.quote(SYSTEM_CONF)} --train_opts '--training.epochs {args.epochs}' "
                     f"{dump}_tr {dump}_cv {exp}", work, log)
        seconds = epoch_seconds(os.path.join(work, exp))
        runs[k].append((statistics.median(seconds[1:]), seconds, wall))
    for k in scales:
        epoch, seconds, wall = min(runs[k])
        n_tr, n_cv = len(tr_utts) * k, len(cv_utts) * k
        per_clip[k] = epoch / n_tr
        emit({"bench": "scale", "stage": "training", "scale": k, "clips": n_tr, "valid_clips": n_cv,
              "system": "baseline", "threads": args.threads, "epochs": args.epochs,
              "seconds": round(epoch, 2), "seconds_per_clip": round(per_clip[k], 5),
              "ratio_to_1x": ratio(per_clip, k),
              "epoch_seconds": [round(t, 2) for t in seconds], "wall_seconds": round(wall, 2),
              "startup_seconds": round(wall - sum(seconds), 2),
              "runs_seconds": [round(run[0], 2) for run in runs[k]]})
    return per_clip


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", default="1,4,16", help="comma-separated replication factors; 1 is always run")
    p.add_argument("--workdir", default="", help="default: a temporary dir, removed at the end unless --keep")
    p.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    p.add_argument("--nj", type=int, default=2, help="jobs of the feature step")
    p.add_argument("--epochs", type=int, default=2, help="training epochs, at least 2 (epoch 1 is not timed)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each step per size (the fastest counts)")
    p.add_argument("--threads", type=int, default=2, help="threads of the training job")
    p.add_argument("--tolerance", type=float, default=0.2, help="flat: every ratio within 1 +- this")
    p.add_argument("--locations-per-class-city", type=int, default=4, help="mini corpus size (generator option)")
    p.add_argument("--segments-per-location", type=int, default=3, help="mini corpus size (generator option)")
    args = p.parse_args()
    if args.epochs < 2 or args.repeat < 1 or args.nj < 1:
        p.error("--epochs must be at least 2, --repeat and --nj at least 1")
    scales = sorted({1} | {int(s) for s in args.scales.split(",") if s.strip()})
    start = time.perf_counter()
    work = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="dcase_tk_scale.")
    os.makedirs(work, exist_ok=True)
    log = os.path.join(work, "scale.log")
    try:
        prepare(args, work, log)
        feats = features(args, scales, work, log)
        train = training(args, scales, work, log)
        worst_ratio = {"features": worst(feats["wall"]), "training": worst(train)}
        emit({"bench": "scale", "summary": True, "scales": scales, "cores": os.cpu_count(),
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "worst_ratio_to_1x": worst_ratio, "tolerance": args.tolerance,
              "flat": all(abs(r - 1) <= args.tolerance for r in worst_ratio.values()),
              "total_seconds": round(time.perf_counter() - start, 1)})
    finally:
        if args.keep or args.workdir:
            print(f"scale.py: work dir kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
