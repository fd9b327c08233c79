"""Offline pitch-shift / time-stretch copies of a data directory's audio (a data stage).

  python -m dcase_tk.bin.augment_data --check --pitch_shifts "-2 2" --time_stretches "0.9 1.1" \\
      data/train data/train_aug
  python -m dcase_tk.bin.augment_data --job 2 --num_jobs 4 [same options] data/train data/train_aug
  python -m dcase_tk.bin.augment_data --merge --num_jobs 4 [same options] data/train data/train_aug

steps/augment_data.sh runs the three modes: ``--check`` validates the options and that every
audio file exists; ``--job J`` writes the copies of the utterances ``i`` (byte order) with
``i % num_jobs == J - 1`` to ``<out>/wav/<new-utt>.wav``, then their durations to
``<out>/data/augment.J.dur``; ``--merge`` writes the data directory ``<out>``.

Each utterance ``<utt>`` yields ``<utt>-ps<semitones>`` per pitch shift (``a01-ps-2``, ``a01-ps2``)
and ``<utt>-ts<rate>`` per time-stretch rate (``a01-ts0.9``), in the group (utt2spk) of the
original, so grouped splits keep every copy with its original. The originals are not included:
add them with utils/combine_data.sh. Every per-utterance table is copied for the copies, except
wav.scp (the new files) and utt2dur (the new durations); the feature files of a dump dir
(feats.scp, utt2num_frames, frame_shift) describe the original audio and are left out. ``events``
keep their times under a pitch shift and are divided by the rate under a time stretch.

The copies are made per channel with librosa (``effects.pitch_shift``, ``effects.time_stretch``)
at the source sample rate, and written as 32-bit float WAV: a shifted signal can exceed full
scale, which PCM would clip. Each file appears under its final name only when complete
(dcase_tk.io.atomic), so a killed job leaves no half-written wav.

The factors follow the DCASE 2018 systems that used offline copies: pitch shifts of -2, -1, 1, 2
semitones and stretch rates 0.9 to 1.1 (Emilia NTU, task 2: published_systems/part1.md, paper 10,
whose recipe notes name the copies ``utt-ps+1``, ``utt-ts0.95``); the weak set of task 4 stretched
by 1.1 and 1.2 (part2.md, paper 3).
"""
import glob
import logging
import math
import os

import numpy as np
import soundfile as sf

from dcase_tk import cli
from dcase_tk.data import datadir
from dcase_tk.io.atomic import atomic_path
from dcase_tk.io.audio import AudioError
from dcase_tk.io.table import read_table, write_table

log = logging.getLogger("dcase_tk.augment_data")

WAV_DIR = "wav"
JOB_DIR = "data"
WAV_SUBTYPE = "FLOAT"


def parse_factors(text, option):
    """Space-separated numbers of ``option``; ValueError naming the option if one is not finite."""
    values = []
    for word in text.split():
        try:
            value = float(word)
        except ValueError:
            raise ValueError(f"--{option}: '{word}' is not a number; give space-separated numbers, "
                             f"e.g. --{option} \"-2 2\"") from None
        if not math.isfinite(value):
            raise ValueError(f"--{option}: '{word}' is not a finite number")
        values.append(value)
    return values


def plan_augmentations(pitch_shifts, time_stretches):
    """``[(suffix, kind, value)]`` for the options: ``("-ps-2", "ps", -2.0)``, ``("-ts0.9", "ts", 0.9)``.

    ValueError for a rate <= 0, a factor that changes nothing (shift 0, rate 1), a repeated
    factor, or no factor at all.
    """
    shifts = parse_factors(pitch_shifts, "pitch_shifts")
    rates = parse_factors(time_stretches, "time_stretches")
    for rate in rates:
        if rate <= 0:
            raise ValueError(f"--time_stretches: rate {rate:g} must be > 0 (0.9 makes a clip 11 % "
                             "longer, 1.1 makes it 9 % shorter)")
    if 0.0 in shifts or 1.0 in rates:
        raise ValueError("a pitch shift of 0 or a time-stretch rate of 1 makes an unchanged copy of "
                         "every clip; leave it out (the originals are added with utils/combine_data.sh)")
    plan = [(f"-ps{s:g}", "ps", s) for s in shifts] + [(f"-ts{r:g}", "ts", r) for r in rates]
    suffixes = [suffix for suffix, _, _ in plan]
    repeated = sorted({s for s in suffixes if suffixes.count(s) > 1})
    if repeated:
        raise ValueError(f"factors repeated (as copies {' '.join(repeated)}); give each once")
    if not plan:
        raise ValueError("nothing to do: give --pitch_shifts and/or --time_stretches")
    return plan


def check_jobs(job, num_jobs):
    """ValueError unless ``1 <= job <= num_jobs`` (``job`` None: only ``num_jobs >= 1``)."""
    if num_jobs < 1:
        raise ValueError(f"--num_jobs {num_jobs}: must be at least 1")
    if job is not None and not 1 <= job <= num_jobs:
        raise ValueError(f"--job {job}: must be between 1 and --num_jobs {num_jobs}")


def job_utts(utts, job, num_jobs):
    """The utterances of job ``job`` (1-based): every ``num_jobs``-th, starting at ``job - 1``."""
    check_jobs(job, num_jobs)
    return utts[job - 1::num_jobs]


def wav_path(out_dir, new_utt):
    return os.path.join(os.path.abspath(out_dir), WAV_DIR, new_utt + ".wav")


def job_table(out_dir, job):
    return os.path.join(out_dir, JOB_DIR, f"augment.{job}.dur")


def augment(audio, sample_rate, kind, value):
    """Pitch-shift (``ps``, semitones) or time-stretch (``ts``, rate) ``(samples, channels)``
    audio channel by channel; returns float32 ``(samples', channels)``."""
    import librosa  # 1 s to import; only the jobs need it
    if kind == "ps":
        channels = [librosa.effects.pitch_shift(c, sr=sample_rate, n_steps=value) for c in audio.T]
    else:
        channels = [librosa.effects.time_stretch(c, rate=value) for c in audio.T]
    return np.stack(channels, axis=1).astype(np.float32)


def read_entry(utt, entry):
    """Audio of a wav.scp entry; ToolError naming the utterance and the file (or command)."""
    from dcase_tk.features.extract import load_wav_entry  # imports torch; only the jobs need it
    try:
        return load_wav_entry(entry, None)
    except AudioError as e:
        raise cli.ToolError(f"utterance '{utt}': {e}") from None


def remove_stale_temporaries(path):
    """Temporaries of ``path`` left by a job that was killed while writing it."""
    directory, base = os.path.split(path)
    for tmp in glob.glob(os.path.join(glob.escape(directory), f".tmp.{glob.escape(base)}.*")):
        os.unlink(tmp)


def write_wav(path, audio, sample_rate):
    remove_stale_temporaries(path)
    with atomic_path(path) as tmp:
        sf.write(tmp, audio, sample_rate, subtype=WAV_SUBTYPE, format="WAV")


def run_job(source, out_dir, plan, job, num_jobs, progress):
    """Write the copies of this job's utterances, then ``augment.<job>.dur`` (their durations)."""
    durations = {}
    utts = job_utts(source.utts, job, num_jobs)
    for utt in progress(utts):
        audio, rate = read_entry(utt, source.tables[datadir.WAV_SCP][utt])
        for suffix, kind, value in plan:
            copy = augment(audio, rate, kind, value)
            write_wav(wav_path(out_dir, utt + suffix), copy, rate)
            durations[utt + suffix] = f"{copy.shape[0] / rate:.3f}"
    write_table(job_table(out_dir, job), durations)
    log.info("job %d of %d: %d utterances -> %d copies", job, num_jobs, len(utts), len(durations))


def check_inputs(source, data_dir):
    """ToolError naming the utterances whose audio file (not a ``command |``) does not exist."""
    missing = [(utt, entry) for utt, entry in source.tables[datadir.WAV_SCP].items()
               if not entry.endswith("|") and not os.path.isfile(entry)]
    if missing:
        shown = "\n".join(f"  utterance '{utt}': {entry}" for utt, entry in missing[:10])
        raise cli.ToolError(f"{len(missing)} audio files of {data_dir}/wav.scp do not exist:\n{shown}")


def scaled_events(events, rate, duration):
    """Event lines ``onset offset label`` with the times divided by ``rate``, within ``duration``."""
    scaled = []
    for line in events:
        onset, offset, label = line.split(maxsplit=2)
        scaled.append(f"{min(float(onset) / rate, duration):.3f} "
                      f"{min(float(offset) / rate, duration):.3f} {label}")
    return scaled


def merged_data_dir(source, out_dir, plan, durations):
    """The DataDir of the copies: every per-utterance table copied, wav.scp and utt2dur new,
    utt2spk the original's group, events scaled."""
    groups = source.groups()
    copied = {name: table for name, table in source.tables.items()
              if name not in datadir.FEATURE_FILES and name not in (datadir.WAV_SCP, "utt2dur")}
    tables = {name: {} for name in copied}
    tables.update({datadir.WAV_SCP: {}, datadir.UTT2SPK: {}})
    if "utt2dur" in source.tables:
        tables["utt2dur"] = {}
    events = {}
    for utt in source.utts:
        for suffix, kind, value in plan:
            new = utt + suffix
            for name, table in copied.items():
                tables[name][new] = table[utt]
            tables[datadir.WAV_SCP][new] = wav_path(out_dir, new)
            tables[datadir.UTT2SPK][new] = groups[utt]
            if "utt2dur" in tables:
                tables["utt2dur"][new] = durations[new]
            if utt in source.events:
                rate = value if kind == "ts" else 1.0
                events[new] = scaled_events(source.events[utt], rate, float(durations[new]))
    extras = {k: v for k, v in source.extras.items() if k not in datadir.FEATURE_FILES}
    return datadir.DataDir(tables, events, source.classes, extras)


def read_job_tables(out_dir, num_jobs):
    durations = {}
    for job in range(1, num_jobs + 1):
        path = job_table(out_dir, job)
        if not os.path.isfile(path):
            raise cli.ToolError(f"{path} is missing: job {job} of the augmentation did not finish; "
                                f"see {out_dir}/log/augment.{job}.log")
        durations.update(read_table(path))
    return durations


def merge(source, data_dir, out_dir, plan, num_jobs):
    durations = read_job_tables(out_dir, num_jobs)
    expected = [utt + suffix for utt in source.utts for suffix, _, _ in plan]
    lacking = [new for new in expected if new not in durations or not os.path.isfile(wav_path(out_dir, new))]
    if lacking:
        raise cli.ToolError(f"{len(lacking)} copies of {data_dir} have no wav under {out_dir}/{WAV_DIR} "
                            f"or no line in {out_dir}/{JOB_DIR}/augment.*.dur (e.g. {lacking[:3]}); "
                            "were the jobs run with other options or another --num_jobs? "
                            "Re-run the step with --force true")
    merged_data_dir(source, out_dir, plan, durations).save(out_dir)
    log.info("%s: %d copies of the %d utterances of %s", out_dir, len(expected), len(source.utts), data_dir)


def main(argv=None):
    p = cli.parser(__doc__)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="check the options and the input only")
    mode.add_argument("--job", type=int, help="write the copies of job JOB (1-based) of --num_jobs")
    mode.add_argument("--merge", action="store_true", help="write the data dir from the jobs' output")
    p.add_argument("--num_jobs", "--num-jobs", type=int, default=1)
    p.add_argument("--pitch_shifts", "--pitch-shifts", default="",
                   help="space-separated semitone shifts, e.g. \"-2 2\"")
    p.add_argument("--time_stretches", "--time-stretches", default="",
                   help="space-separated rates, e.g. \"0.9 1.1\" (> 1 is faster, so shorter)")
    p.add_argument("--inputs_hash", default="",
                   help="the step's input hash; recorded in the job log so that a resumed step "
                        "re-runs jobs whose inputs changed")
    p.add_argument("data_dir", help="source data dir (wav.scp)")
    p.add_argument("out_dir", help="output data dir; the audio goes to OUT_DIR/wav/")
    args = cli.parse(p, argv)
    try:
        plan = plan_augmentations(args.pitch_shifts, args.time_stretches)
        check_jobs(args.job, args.num_jobs)
    except ValueError as e:
        raise cli.ToolError(str(e)) from None
    source = datadir.load(args.data_dir)
    if args.check:
        check_inputs(source, args.data_dir)
        print(f"{args.data_dir}: {len(source.utts)} utterances -> {len(source.utts) * len(plan)} "
              f"copies ({' '.join(s.lstrip('-') for s, _, _ in plan)}) in {args.out_dir}")
    elif args.merge:
        merge(source, args.data_dir, args.out_dir, plan, args.num_jobs)
    else:
        run_job(source, args.out_dir, plan, args.job, args.num_jobs, cli.progress(args, "augment"))


if __name__ == "__main__":
    cli.run(main)
