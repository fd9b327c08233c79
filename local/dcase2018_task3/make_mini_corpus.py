#!/usr/bin/env python3
"""Build a small synthetic Bird Audio Detection 2018 corpus in the exact release layout.

    make_mini_corpus.py [--per-dataset 24] [--eval-per-dataset 0] [--seed 0] [--duration 10] <outdir>

Writes, under ``<outdir>`` (the corpus root), the three development datasets as released
(DATA_FORMATS.md "Task 3"): ``ff1010bird_metadata_2018.csv``,
``warblrb10k_public_metadata_2018.csv`` and ``BirdVoxDCASE20k_csvpublic.csv`` (comma-separated,
header ``itemid,datasetid,hasbird``, rows in itemid order) and the clips
``ff1010bird_wav/wav/<itemid>.wav``, ``warblrb10k_public_wav/wav/<itemid>.wav`` and
``BirdVox-DCASE-20k/wav/<itemid>.wav``: 44.1 kHz mono 16-bit, ``--duration`` seconds (10 as
released). Item ids look like the release's: integers for ff1010bird, UUIDs for the others. The
lists are the ground truth (every label is true).

The datasets differ as their recording projects do, so that training on two and testing on the
third really tests generalisation across conditions:

- ff1010bird (freefield recordings): pink background, low-pass colouring, mid level; songs and
  trills; about 3/8 of the clips have birds;
- warblrb10k (smartphones in gardens): brown background with 50 Hz mains hum, a phone-like
  high-pass with a presence peak, loud; songs and trills; about 5/8 with birds;
- BirdVox-DCASE-20k (night flight-call monitoring): white background, band-limited 1-11 kHz,
  quiet; only short flight calls (40-150 ms), one to three a clip; half with birds.

Birds are frequency-modulated notes between 2 and 9 kHz at random times: trills (fast repeated
downward sweeps), songs (phrases of vibrato notes) and flight calls (one short sweep). Every clip,
bird or not, may also hold distractors that are not birds (a passing engine, broadband clicks,
wind rumble, a stridulating insect at 3.5-6.5 kHz), drawn independently of the label with
per-dataset probabilities, so that neither loudness nor energy in the bird band alone answers.

``--eval-per-dataset N`` also writes an unlabelled evaluation release under ``<outdir>/eval/``
(not part of the development layout; its list names are invented, since prepare_data.py reads
any ``*.csv`` there): ``warblrb10k_test_wav/wav/`` (warblrb10k conditions, as the real
evaluation set has), ``Chernobyl/wav/`` (windy, unseen conditions) and ``PolandNFC/wav/`` (night
flight calls in rain-like noise), lists ``<name>_metadata.csv`` with header
``itemid,datasetid,hasbird`` and hasbird empty. Their true labels are in
``<outdir>/mini_eval_truth.csv`` (``datasetid,itemid,hasbird``), outside the release folders.

Seeded and deterministic: the same options give the same bytes.
"""
import argparse
import csv
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import uuid

import numpy as np
import soundfile
from scipy.fft import next_fast_len

from bad2018 import BIRDVOX, FF1010BIRD, SAMPLE_RATE, WARBLRB10K
from dcase_tk.data.corpus import move_into
from dcase_tk.io.synth import coloured_noise, db_to_amplitude, equalise, harmonic_tone, rms

EDGE_SECONDS = 0.1            # no event starts or ends closer than this to a clip's edges
MIN_SECONDS = 1.0
EVAL_FOLDER = "eval"
EVAL_TRUTH = "mini_eval_truth.csv"
DISTRACTORS = ("engine", "clicks", "wind", "insect")
BIRD_BAND_HZ = (2000.0, 9000.0)


@dataclasses.dataclass(frozen=True)
class Style:
    """Recording conditions of one dataset.

    ``background``: shape of the background noise (``spectral_gain_db`` options) at
    ``level_db`` dBFS RMS; ``colour``: the recording chain's response, applied to the whole mix;
    ``birds``: the bird sounds drawn from; ``events``: how many per bird clip; ``snr_db``: bird
    event RMS over background RMS; ``distractors``: probability of each in any clip.
    """
    background: dict
    level_db: tuple
    colour: dict
    birds: tuple
    events: tuple
    snr_db: tuple
    bird_fraction: float
    distractors: dict
    hum_hz: float = None
    gusts: bool = False


@dataclasses.dataclass(frozen=True)
class Release:
    """Where one dataset of the mini corpus goes (paths relative to the root)."""
    datasetid: str
    csv: str
    audio: str                # the folder holding the wav files
    ids: str                  # "int" or "uuid"
    style: Style
    labelled: bool = True


STYLES = {
    "ff1010bird": Style(
        background=dict(tilt_db_per_octave=-3.0), level_db=(-34.0, -28.0),
        colour=dict(lowpass_hz=7000.0, highpass_hz=60.0, order=2),
        birds=("song", "trill"), events=(2, 5), snr_db=(2.0, 10.0), bird_fraction=0.375,
        distractors=dict(engine=0.2, clicks=0.35, wind=0.4, insect=0.45)),
    "warblrb10k": Style(
        background=dict(tilt_db_per_octave=-6.0), level_db=(-24.0, -18.0),
        colour=dict(highpass_hz=400.0, order=3, bumps=((3000.0, 5.0, 0.5),)),
        birds=("song", "trill"), events=(2, 5), snr_db=(3.0, 12.0), bird_fraction=0.625,
        distractors=dict(engine=0.5, clicks=0.3, wind=0.2, insect=0.1), hum_hz=50.0),
    "BirdVox-DCASE-20k": Style(
        background=dict(tilt_db_per_octave=0.0), level_db=(-46.0, -40.0),
        colour=dict(highpass_hz=1000.0, lowpass_hz=11000.0, order=4),
        birds=("call",), events=(1, 3), snr_db=(8.0, 16.0), bird_fraction=0.5,
        distractors=dict(engine=0.3, clicks=0.4, wind=0.1, insect=0.3)),
    "Chernobyl": Style(
        background=dict(tilt_db_per_octave=-4.5, lowpass_hz=9000.0), level_db=(-30.0, -24.0),
        colour=dict(highpass_hz=150.0, order=2, bumps=((800.0, -4.0, 1.0),)),
        birds=("song", "trill", "call"), events=(1, 4), snr_db=(3.0, 12.0), bird_fraction=0.5,
        distractors=dict(engine=0.1, clicks=0.2, wind=0.6, insect=0.3), gusts=True),
    "PolandNFC": Style(
        background=dict(tilt_db_per_octave=-1.5, highpass_hz=500.0), level_db=(-40.0, -34.0),
        colour=dict(highpass_hz=700.0, lowpass_hz=12000.0, order=3),
        birds=("call",), events=(1, 3), snr_db=(6.0, 14.0), bird_fraction=0.3,
        distractors=dict(engine=0.2, clicks=0.7, wind=0.2, insect=0.2)),
}

DEV_RELEASES = (
    Release(FF1010BIRD.datasetid, FF1010BIRD.csv, f"{FF1010BIRD.audio}/wav", "int", STYLES["ff1010bird"]),
    Release(WARBLRB10K.datasetid, WARBLRB10K.csv, f"{WARBLRB10K.audio}/wav", "uuid", STYLES["warblrb10k"]),
    Release(BIRDVOX.datasetid, BIRDVOX.csv, f"{BIRDVOX.audio}/wav", "uuid", STYLES["BirdVox-DCASE-20k"]),
)
EVAL_RELEASES = (
    Release("warblrb10k", f"{EVAL_FOLDER}/warblrb10k_test_metadata.csv", f"{EVAL_FOLDER}/warblrb10k_test_wav/wav",
            "uuid", STYLES["warblrb10k"], labelled=False),
    Release("Chernobyl", f"{EVAL_FOLDER}/Chernobyl_metadata.csv", f"{EVAL_FOLDER}/Chernobyl/wav", "uuid",
            STYLES["Chernobyl"], labelled=False),
    Release("PolandNFC", f"{EVAL_FOLDER}/PolandNFC_metadata.csv", f"{EVAL_FOLDER}/PolandNFC/wav", "uuid",
            STYLES["PolandNFC"], labelled=False),
)


@dataclasses.dataclass(frozen=True)
class Clip:
    itemid: str
    release: Release
    hasbird: int
    seed: tuple


# ---------------------------------------------------------------- sounds

def sweep(rng, seconds, f_start, f_end, exponential=True):
    """One note: a sine gliding from ``f_start`` to ``f_end`` Hz with a weak 2nd harmonic and a
    smooth (sin^2) envelope; peak about 1."""
    n = max(int(seconds * SAMPLE_RATE), 8)
    t = np.linspace(0.0, 1.0, n)
    frequency = f_start * (f_end / f_start) ** t if exponential else f_start + (f_end - f_start) * t
    phase = 2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE + rng.uniform(0, 2 * np.pi)
    return (np.sin(phase) + 0.2 * np.sin(2 * phase)) * np.sin(np.pi * t) ** 2


def trill(rng):
    """6-14 fast downward sweeps (25-50 ms) from 5-8 kHz, one every 60-110 ms."""
    f_high = rng.uniform(5000.0, 8000.0)
    f_low = f_high * rng.uniform(0.45, 0.7)
    note_s, period_s = rng.uniform(0.025, 0.05), rng.uniform(0.06, 0.11)
    count = int(rng.integers(6, 15))
    out = np.zeros(int((count * period_s + note_s) * SAMPLE_RATE) + 1)
    for k in range(count):
        note = sweep(rng, note_s * rng.uniform(0.9, 1.1), f_high * rng.uniform(0.97, 1.03), f_low)
        start = int(k * period_s * SAMPLE_RATE)
        out[start:start + note.size] += note
    return out


def song(rng):
    """A phrase of 3-7 vibrato notes (80-250 ms, 2.5-6 kHz, 200-900 Hz deep at 8-30 Hz)."""
    parts = []
    for _ in range(int(rng.integers(3, 8))):
        n = int(rng.uniform(0.08, 0.25) * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        centre, depth, rate = rng.uniform(2500.0, 6000.0), rng.uniform(200.0, 900.0), rng.uniform(8.0, 30.0)
        frequency = centre + depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
        phase = 2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE
        parts.append((np.sin(phase) + 0.3 * np.sin(2 * phase)) * np.sin(np.pi * np.arange(n) / n) ** 2)
        parts.append(np.zeros(int(rng.uniform(0.03, 0.15) * SAMPLE_RATE)))
    return np.concatenate(parts)


def call(rng):
    """A flight call: one 40-150 ms sweep, up or down by 0.5-2.5 kHz, within 2-9 kHz."""
    f_start = rng.uniform(2500.0, 8000.0)
    f_end = float(np.clip(f_start + rng.choice([-1, 1]) * rng.uniform(500.0, 2500.0), 2000.0, 9000.0))
    return sweep(rng, rng.uniform(0.04, 0.15), f_start, f_end, exponential=False)


BIRDS = {"trill": trill, "song": song, "call": call}


def place(mix, rng, sound, level):
    """Add ``sound`` scaled to RMS ``level`` (over its own span) at a random time inside ``mix``."""
    sound = sound[: mix.size - 2 * int(EDGE_SECONDS * SAMPLE_RATE)]
    start = int(rng.integers(int(EDGE_SECONDS * SAMPLE_RATE), mix.size - int(EDGE_SECONDS * SAMPLE_RATE)
                             - sound.size + 1))
    mix[start:start + sound.size] += sound * (level / max(rms(sound), 1e-12))


def distractor(rng, kind, num_samples):
    """A non-bird sound of about unit RMS where present, as long as the clip (zero elsewhere)."""
    t = np.arange(num_samples) / SAMPLE_RATE
    seconds = num_samples / SAMPLE_RATE
    if kind == "engine":           # a vehicle passing: 40-140 Hz harmonics under a Gaussian envelope
        f0 = rng.uniform(40.0, 140.0)
        tone = harmonic_tone(num_samples, SAMPLE_RATE, f0, {k: 1.0 / k for k in range(1, 13)},
                             phase=rng.uniform(0, 2 * np.pi))
        centre, width = rng.uniform(0.2, 0.8) * seconds, rng.uniform(0.15, 0.4) * seconds
        return tone / rms(tone) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    if kind == "clicks":           # 3-12 broadband decaying bursts (1-4 ms)
        out = np.zeros(num_samples)
        for _ in range(int(rng.integers(3, 13))):
            length = int(0.03 * SAMPLE_RATE)
            start = int(rng.integers(0, num_samples - length))
            decay = np.exp(-np.arange(length) / (rng.uniform(0.001, 0.004) * SAMPLE_RATE))
            out[start:start + length] += rng.standard_normal(length) * decay * rng.uniform(0.5, 1.0)
        return out
    if kind == "wind":             # low rumble (< 400 Hz) in slow gusts
        rumble = coloured_noise(rng, num_samples, SAMPLE_RATE, lowpass_hz=400.0, order=3)[0]
        gust = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 2 * np.pi))
        return rumble * gust
    # a stridulating insect: a steady 3.5-6.5 kHz carrier pulsed at 20-50 Hz, through most of the clip
    carrier = np.sin(2 * np.pi * rng.uniform(3500.0, 6500.0) * t + rng.uniform(0, 2 * np.pi))
    pulses = (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(20.0, 50.0) * t)) ** 4
    on = (t > rng.uniform(0.0, 0.3) * seconds) & (t < rng.uniform(0.7, 1.0) * seconds)
    return carrier * pulses * on * 2.0


# level of each distractor over the background RMS (clicks: of the bursts' envelope peak)
DISTRACTOR_DB = {"engine": (0.0, 10.0), "clicks": (6.0, 16.0), "wind": (3.0, 10.0), "insect": (-3.0, 6.0)}


def render(clip, seconds):
    """Audio of one clip, deterministic in its seed.

    Levels are set before the recording chain's colouring: distractors relative to the
    background's RMS, birds relative to its RMS in the bird band (BIRD_BAND_HZ), so that the
    birds are as detectable whatever the background's tilt. After colouring, the clip is scaled
    so that its background alone is ``level_db`` dBFS, and down to a peak of 0.99 where louder
    (a recorder's gain control, not clipping).
    """
    style = clip.release.style
    rng = np.random.default_rng(clip.seed)
    num_samples = int(round(seconds * SAMPLE_RATE))
    length = next_fast_len(num_samples)         # shaped and filtered at a fast FFT length, cut at the end
    t = np.arange(length) / SAMPLE_RATE
    background = coloured_noise(rng, length, SAMPLE_RATE, **style.background)[0]
    if style.gusts:
        background *= 0.7 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t)
    in_band = rms(equalise(background, SAMPLE_RATE, highpass_hz=BIRD_BAND_HZ[0], lowpass_hz=BIRD_BAND_HZ[1],
                           order=4)[:num_samples])
    if style.hum_hz:
        hum = harmonic_tone(length, SAMPLE_RATE, style.hum_hz * rng.uniform(0.998, 1.002),
                            {1: 1.0, 2: 0.5, 3: 0.35, 4: 0.15, 5: 0.1}, phase=rng.uniform(0, 2 * np.pi))
        background += hum / rms(hum) * db_to_amplitude(rng.uniform(-6.0, 0.0))
    sounds = np.zeros(length)
    for kind in DISTRACTORS:
        if rng.random() < style.distractors[kind]:
            gain = db_to_amplitude(rng.uniform(*DISTRACTOR_DB[kind]))
            sounds[:num_samples] += distractor(rng, kind, num_samples) * gain
    if clip.hasbird:
        for _ in range(int(rng.integers(style.events[0], style.events[1] + 1))):
            sound = BIRDS[style.birds[int(rng.integers(len(style.birds)))]](rng)
            place(sounds[:num_samples], rng, sound, in_band * db_to_amplitude(rng.uniform(*style.snr_db)))
    background = equalise(background, SAMPLE_RATE, **style.colour)[:num_samples]
    mix = background + equalise(sounds, SAMPLE_RATE, **style.colour)[:num_samples]
    mix *= db_to_amplitude(rng.uniform(*style.level_db)) / rms(background)
    peak = float(np.max(np.abs(mix)))
    return mix * (0.99 / peak) if peak > 0.99 else mix


# ---------------------------------------------------------------- the corpus

def item_ids(rng, kind, count):
    if kind == "int":
        return [str(int(i)) for i in rng.choice(200000, size=count, replace=False)]
    return [str(uuid.UUID(bytes=rng.integers(0, 256, 16, dtype=np.uint8).tobytes(), version=4))
            for _ in range(count)]


def bird_count(fraction, count):
    """Clips with birds: about ``fraction``, and at least one of each class when possible."""
    return min(max(round(fraction * count), 1), count - 1) if count >= 2 else round(fraction * count)


def plan_clips(seed, per_dataset=24, eval_per_dataset=0):
    """Every clip of the corpus: development datasets, then evaluation ones."""
    if per_dataset < 2:
        raise ValueError(f"--per-dataset {per_dataset}: need at least 2 (a bird and a nobird clip) per dataset")
    if eval_per_dataset < 0:
        raise ValueError(f"--eval-per-dataset {eval_per_dataset}: must be 0 or more")
    clips = []
    releases = [(r, per_dataset) for r in DEV_RELEASES] + [(r, eval_per_dataset) for r in EVAL_RELEASES]
    for number, (release, count) in enumerate(releases):
        if not count:
            continue
        rng = np.random.default_rng((seed, number))
        ids = item_ids(rng, release.ids, count)
        birds = set(rng.permutation(count)[:bird_count(release.style.bird_fraction, count)].tolist())
        clips.extend(Clip(itemid, release, int(k in birds), (seed, number, k)) for k, itemid in enumerate(ids))
    return clips


def write_csv(path, header, rows):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_release(tmp, clips, seconds):
    for release in DEV_RELEASES + EVAL_RELEASES:
        members = sorted((c for c in clips if c.release is release), key=lambda c: c.itemid)
        if not members:
            continue
        os.makedirs(os.path.join(tmp, release.audio))
        for clip in members:
            soundfile.write(os.path.join(tmp, release.audio, clip.itemid + ".wav"), render(clip, seconds),
                            SAMPLE_RATE, subtype="PCM_16")
        write_csv(os.path.join(tmp, release.csv), ["itemid", "datasetid", "hasbird"],
                  [(c.itemid, c.release.datasetid, c.hasbird if release.labelled else "") for c in members])
    hidden = [c for c in clips if not c.release.labelled]
    if hidden:
        write_csv(os.path.join(tmp, EVAL_TRUTH), ["datasetid", "itemid", "hasbird"],
                  sorted((c.release.datasetid, c.itemid, c.hasbird) for c in hidden))


def make_corpus(outdir, seed=0, per_dataset=24, seconds=10.0, eval_per_dataset=0):
    """Write the corpus with ``outdir`` as its root; return the root.

    Everything is written to a temporary folder inside ``outdir`` first and moved into place at
    the end (replacing the entries of an earlier run), so an interrupted run never leaves a
    half-written release folder.
    """
    if seconds < MIN_SECONDS:
        raise ValueError(f"--duration {seconds}: must be at least {MIN_SECONDS} s")
    clips = plan_clips(seed, per_dataset, eval_per_dataset)
    root = os.path.abspath(outdir)
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp.mini.", dir=root)
    try:
        write_release(tmp, clips, seconds)
        move_into(tmp, root)
        if not eval_per_dataset:               # an earlier run's evaluation release would be stale
            shutil.rmtree(os.path.join(root, EVAL_FOLDER), ignore_errors=True)
            if os.path.exists(os.path.join(root, EVAL_TRUTH)):
                os.unlink(os.path.join(root, EVAL_TRUTH))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", help="the corpus root to write")
    parser.add_argument("--per-dataset", type=int, default=24, help="clips per development dataset")
    parser.add_argument("--eval-per-dataset", type=int, default=0,
                        help="also write an unlabelled evaluation release (3 datasets) under <outdir>/eval")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per clip (10 as released)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    root = make_corpus(args.outdir, args.seed, args.per_dataset, args.duration, args.eval_per_dataset)
    logging.warning("*** SYNTHETIC mini corpus (not real data, not the Bird Audio Detection audio): 3 x %d "
                    "development clips%s of %g s in %s", args.per_dataset,
                    f" and 3 x {args.eval_per_dataset} evaluation clips" if args.eval_per_dataset else "",
                    args.duration, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
