#!/usr/bin/env python3
"""Build a small synthetic DCASE 2018 Task 4 corpus in the exact release layout.

    make_mini_corpus.py <outdir> [--weak-per-class 10] [--unlabel-in-domain 60]
                        [--unlabel-out-of-domain 20] [--test-clips 40] [--eval-clips 0]
                        [--seed 0] [--sample-rate 16000] [--duration 4] [--snr-db 10 24]

Writes ``<outdir>/dataset/`` as the release has it (DATA_FORMATS.md "Task 4", sed2018.py):
``metadata/train/{weak,unlabel_in_domain,unlabel_out_of_domain}.csv``,
``metadata/test/{test,files_to_remove}.csv``, with ``--eval-clips N`` also
``metadata/eval/eval.csv``, and the clips under ``audio/train/{weak,unlabel_in_domain,
unlabel_out_of_domain}/``, ``audio/test/`` (and ``audio/eval/``). Every list is tab-separated
with the release's header; rows are in file-name order. Clips are mono 16-bit WAV at
``--sample-rate`` (16 kHz; the release has 44.1 kHz) and ``--duration`` seconds (4; the release
has 10), short to keep tests and the mini recipe fast. They are named like the release's
``Y<11-character video id>_<start>_<end>.wav``, some ids starting with ``-`` (``Y-...``, ``Y--...``).

Each clip is a low-level coloured background noise plus events of 0.3-2 s at known onsets and
offsets (whole milliseconds), each event ``--snr-db`` above the background. The 10 classes have
distinct, learnable timbres (see SOUNDS): a struck bell (Alarm_bell_ringing), a sawtooth motor
with hiss (Blender), a meow glide (Cat), clinks of decaying high partials (Dishes), short
harmonic barks (Dog), an odd-harmonic buzz (Electric_shaver_toothbrush), dense crackle (Frying),
bubbling band noise (Running_water), formant syllables (Speech) and a broadband roar with a
whine (Vacuum_cleaner). Events of one class in a clip keep 150 ms apart (the release's
annotators merged closer ones); events of different classes may overlap.

- weak: ``--weak-per-class`` clips for each class, holding it and, in 40 % of them, one or two
  other classes; 1-3 events. ``event_labels`` is the clip's label set (sed2018 order), joined by
  commas, by semicolons in every 4th multi-label row (the release's file has commas, its readme
  semicolons). Every weak clip has a label, as in the release.
- unlabel_in_domain: the same class distribution; unlabel_out_of_domain: 1-3 other sounds
  (rumble, bird-like chirps, engine, knocks, a steady whistle), none of the classes.
- test (and eval): strong labels, 1-3 events, classes in turn; about 10 % of the clips (at
  least one) have no event and are listed with empty onset, offset and label. One weak clip is
  also listed (and its audio copied) in test, and ``files_to_remove.csv`` lists it, as the
  release does for the test clips it found in the training set.

Times in the strong lists are written as the release's (pandas) are, ``0.28600000000000003``.
The truth of every clip of every set is in ``<outdir>/mini_truth.csv``
(``filename<TAB>set<TAB>onset<TAB>offset<TAB>event_label``, times %.3f; other sounds named
``other:<kind>``; an event-less clip one row with empty times and label), outside ``dataset/``.

Seeded and deterministic: the same options give the same bytes.
"""
import argparse
import dataclasses
import logging
import os
import shutil
import sys
import tempfile

import numpy as np
import soundfile
from scipy.fft import next_fast_len

from dcase_tk.data.corpus import move_into
from dcase_tk.io.synth import am_envelope, coloured_noise, db_to_amplitude, equalise, harmonic_tone, rms
from sed2018 import (CLASSES, DATASET_DIR, EVAL, FILES_TO_REMOVE, TEST, UNLABEL_IN_DOMAIN, UNLABEL_OUT_OF_DOMAIN,
                     WEAK_SET)

TRUTH = "mini_truth.csv"
MIN_SECONDS = 2.0
MIN_SAMPLE_RATE = 16000        # every sound stays below 7.5 kHz
EVENT_MS = (300, 2000)
SAME_CLASS_GAP_MS = 150
FADE_SECONDS = 0.01
EXTRA_LABELS_P = (0.6, 0.3, 0.1)          # 0, 1, 2 classes besides the clip's own
EMPTY_TEST_FRACTION = 0.1
BACKGROUND_DB = (-50.0, -40.0)            # dBFS RMS
YOUTUBE_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SUBSETS = (WEAK_SET, UNLABEL_IN_DOMAIN, UNLABEL_OUT_OF_DOMAIN, TEST, EVAL)     # the order of plan and lists


# ---------------------------------------------------------------- sounds

def _t(n, sr):
    return np.arange(n) / sr


def _band_noise(rng, n, sr, low_hz, high_hz, order=4):
    """White noise band-limited to ``low_hz``-``high_hz`` (shaped at a fast FFT length)."""
    length = next_fast_len(n)
    return equalise(rng.standard_normal(length), sr, highpass_hz=low_hz, lowpass_hz=high_hz, order=order)[:n]


def _glide(f_hz, sr):
    """Phase of an instantaneous frequency track."""
    return 2 * np.pi * np.cumsum(f_hz) / sr


def alarm_bell(rng, n, sr):
    """A bell (2 kHz and its 2.76x partial) struck by a hammer 16-22 times a second."""
    t = _t(n, sr)
    f0 = rng.uniform(1800.0, 2200.0)
    tone = np.sin(2 * np.pi * f0 * t) + 0.4 * np.sin(2 * np.pi * 2.76 * f0 * t)
    strikes = np.exp(-((t * rng.uniform(16.0, 22.0)) % 1.0) * 4.0)
    return tone * strikes


def blender(rng, n, sr):
    """A motor: sawtooth-like harmonics of 90-130 Hz up to 4 kHz, plus 2-5 kHz hiss."""
    f0 = rng.uniform(90.0, 130.0)
    tone = harmonic_tone(n, sr, f0, {k: 1.0 / k for k in range(1, int(4000 / f0))}, phase=rng.uniform(0, 6.3))
    hiss = _band_noise(rng, n, sr, 2000.0, 5000.0)
    return tone / rms(tone) + 0.5 * hiss / max(rms(hiss), 1e-12)


def cat(rng, n, sr):
    """A meow: harmonics of a pitch that glides up from 450 Hz to 700-800 Hz and back down."""
    x = np.linspace(0.0, 1.0, n)
    f0 = rng.uniform(420.0, 480.0) + rng.uniform(250.0, 330.0) * np.sin(np.pi * x) ** 2
    phase = _glide(f0, sr)
    tone = sum(np.sin(k * phase) / k for k in range(1, 7))
    return tone * np.sin(np.pi * x) ** 0.5


def dishes(rng, n, sr):
    """Clinks: 5-9 a second, each 2-3 decaying partials between 2.5 and 6.5 kHz."""
    out = np.zeros(n)
    rate = rng.uniform(5.0, 9.0)
    starts = [0]
    while True:
        gap = int(rng.exponential(1.0 / rate) * sr) + int(0.04 * sr)
        if starts[-1] + gap >= n:
            break
        starts.append(starts[-1] + gap)
    for start in starts:
        length = min(int(0.15 * sr), n - start)
        t = _t(length, sr)
        decay = np.exp(-t / rng.uniform(0.02, 0.05))
        clink = sum(np.sin(2 * np.pi * rng.uniform(2500.0, 6500.0) * t) for _ in range(int(rng.integers(2, 4))))
        out[start:start + length] += clink * decay
    return out


def dog(rng, n, sr):
    """Barks: 120-180 ms harmonic bursts (250-400 Hz, roughened by noise) every 0.3-0.45 s."""
    out = np.zeros(n)
    period = int(rng.uniform(0.3, 0.45) * sr)
    for start in range(0, n, period):
        length = min(int(rng.uniform(0.12, 0.18) * sr), n - start)
        x = np.linspace(0.0, 1.0, length)
        f0 = rng.uniform(250.0, 400.0) * (1.0 + 0.3 * x * (1 - x))
        phase = _glide(f0, sr)
        bark = sum(np.sin(k * phase) / k ** 0.7 for k in range(1, 9))
        rough = _band_noise(rng, length, sr, 300.0, 3000.0)
        bark = bark + 0.5 * rough / max(rms(rough), 1e-12)
        out[start:start + length] += bark * np.minimum(x / 0.1, 1.0) * np.exp(-3.0 * x)
    return out


def shaver(rng, n, sr):
    """A steady buzz: odd harmonics (1/k) of 240-320 Hz up to 7 kHz, square-wave-like."""
    f0 = rng.uniform(240.0, 320.0)
    return harmonic_tone(n, sr, f0, {k: 1.0 / k for k in range(1, int(7000 / f0), 2)}, phase=rng.uniform(0, 6.3))


def frying(rng, n, sr):
    """Crackle: 120-200 tiny high-passed clicks a second over a faint 3-7 kHz hiss."""
    clicks = np.zeros(n)
    count = max(int(rng.uniform(120.0, 200.0) * n / sr), 1)
    clicks[rng.integers(0, n, count)] = rng.choice([-1.0, 1.0], count) * rng.uniform(0.3, 1.0, count)
    crackle = equalise(np.pad(clicks, (0, next_fast_len(n) - n)), sr, highpass_hz=2500.0, order=4)[:n]
    hiss = _band_noise(rng, n, sr, 3000.0, 7000.0)
    return crackle / max(rms(crackle), 1e-12) + 0.3 * hiss / max(rms(hiss), 1e-12)


def running_water(rng, n, sr):
    """Bubbling: 300-3000 Hz noise under a fast random envelope (noise below 25 Hz)."""
    band = _band_noise(rng, n, sr, 300.0, 3000.0, order=2)
    envelope = _band_noise(rng, n, sr, 2.0, 25.0, order=2)
    return band * (1.0 + 1.5 * envelope / max(rms(envelope), 1e-12)).clip(0.0, None)


VOWELS = ((700.0, 1200.0), (300.0, 2300.0), (500.0, 900.0), (400.0, 2000.0), (600.0, 1700.0))


def speech(rng, n, sr):
    """Syllables: harmonics of a 100-220 Hz voice with intonation, shaped by the two formants of
    a vowel that changes every 150-250 ms, at a syllable rhythm."""
    t = _t(n, sr)
    f0 = rng.uniform(100.0, 220.0) * (1.0 + 0.12 * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t + rng.uniform(0, 6.3)))
    phase = _glide(f0, sr)
    out = np.zeros(n)
    syllable = int(rng.uniform(0.15, 0.25) * sr)
    for start in range(0, n, syllable):
        stop = min(start + syllable, n)
        f1, f2 = VOWELS[int(rng.integers(len(VOWELS)))]
        seg = slice(start, stop)
        for k in range(1, 40):
            fk = k * f0[seg]
            gain = np.exp(-0.5 * ((fk - f1) / 120.0) ** 2) + 0.6 * np.exp(-0.5 * ((fk - f2) / 180.0) ** 2)
            out[seg] += gain * np.sin(k * phase[seg]) * (fk < 4000.0)
        out[seg] *= np.sin(np.pi * np.linspace(0.0, 1.0, stop - start)) ** 0.6
    return out


def vacuum_cleaner(rng, n, sr):
    """A roar (0.8-6 kHz noise) with a 1.0-1.4 kHz whine and a 100 Hz hum."""
    roar = _band_noise(rng, n, sr, 800.0, 6000.0, order=2)
    whine = harmonic_tone(n, sr, rng.uniform(1000.0, 1400.0), {1: 1.0, 2: 0.4}, phase=rng.uniform(0, 6.3))
    hum = harmonic_tone(n, sr, 100.0, {1: 1.0, 2: 0.5}, phase=rng.uniform(0, 6.3))
    return roar / max(rms(roar), 1e-12) + 0.5 * whine / rms(whine) + 0.3 * hum / rms(hum)


SOUNDS = {"Alarm_bell_ringing": alarm_bell, "Blender": blender, "Cat": cat, "Dishes": dishes, "Dog": dog,
          "Electric_shaver_toothbrush": shaver, "Frying": frying, "Running_water": running_water,
          "Speech": speech, "Vacuum_cleaner": vacuum_cleaner}


def rumble(rng, n, sr):
    return _band_noise(rng, n, sr, 20.0, 250.0)


def chirps(rng, n, sr):
    """Bird-like fast upward sweeps between 3 and 6 kHz, 8-14 a second."""
    t = _t(n, sr)
    rate = rng.uniform(8.0, 14.0)
    position = (t * rate) % 1.0
    f = rng.uniform(3000.0, 3500.0) + 2500.0 * position
    return np.sin(_glide(f, sr)) * (position < 0.6) * np.sin(np.pi * np.minimum(position / 0.6, 1.0))


def engine(rng, n, sr):
    f0 = rng.uniform(35.0, 70.0)
    tone = harmonic_tone(n, sr, f0, {k: 1.0 / k for k in range(1, 10)}, phase=rng.uniform(0, 6.3))
    return tone * am_envelope(n, sr, rng.uniform(1.0, 3.0), 0.5, phase=rng.uniform(0, 6.3))


def knocks(rng, n, sr):
    """Low thuds (100-300 Hz, 60 ms decay) 2-4 a second."""
    t = _t(n, sr)
    rate = rng.uniform(2.0, 4.0)
    return np.sin(2 * np.pi * rng.uniform(100.0, 300.0) * t) * np.exp(-((t * rate) % 1.0) / rate / 0.06)


def whistle(rng, n, sr):
    return np.sin(2 * np.pi * rng.uniform(600.0, 900.0) * _t(n, sr))


OTHER_SOUNDS = {"rumble": rumble, "chirps": chirps, "engine": engine, "knocks": knocks, "whistle": whistle}


# ---------------------------------------------------------------- planning the clips

@dataclasses.dataclass(frozen=True)
class Clip:
    """One clip: its file name, set, events ``((onset_ms, offset_ms, sound), ...)`` (a class of
    CLASSES, or a kind of OTHER_SOUNDS for out-of-domain clips) and the seed of its audio."""
    filename: str
    subset: str
    events: tuple
    seed: tuple

    @property
    def labels(self):
        """The clip's classes (CLASSES order)."""
        return tuple(c for c in CLASSES if any(sound == c for _, _, sound in self.events))


def youtube_name(rng, taken, seconds, prefix=""):
    """A new ``Y<id>_<start>_<end>.wav`` name (its id not in ``taken``, then added), the id
    starting with ``prefix`` and no further ``-``s (``--``, ``-``: as some of the release's do)."""
    while True:
        video = "".join(YOUTUBE_ID_CHARS[i] for i in rng.integers(0, len(YOUTUBE_ID_CHARS), 11))
        if prefix:
            video = prefix + video[len(prefix):].lstrip("-").rjust(11 - len(prefix), "x")
        if video not in taken:
            taken.add(video)
            start = int(rng.integers(0, 300))
            return f"Y{video}_{start:.3f}_{start + seconds:.3f}.wav"


def place_events(rng, sounds, clip_ms):
    """``((onset_ms, offset_ms, sound), ...)`` sorted by onset: one event per sound where it
    fits (same sounds at least SAME_CLASS_GAP_MS apart), durations in EVENT_MS."""
    placed = []
    for sound in sounds:
        for _ in range(50):
            length = int(rng.integers(EVENT_MS[0], min(EVENT_MS[1], clip_ms) + 1))
            onset = int(rng.integers(0, clip_ms - length + 1))
            if all(s != sound or onset >= off + SAME_CLASS_GAP_MS or onset + length + SAME_CLASS_GAP_MS <= on
                   for on, off, s in placed):
                placed.append((onset, onset + length, sound))
                break
    return tuple(sorted(placed))


def class_sounds(rng, primary):
    """The event sounds of an in-domain clip: its class, 0-2 other classes (EXTRA_LABELS_P),
    and, in a third of the clips with room, a second event of one of them (3 events at most)."""
    others = [c for c in CLASSES if c != primary]
    extra = int(rng.choice(len(EXTRA_LABELS_P), p=EXTRA_LABELS_P))
    sounds = [primary] + [others[i] for i in rng.choice(len(others), extra, replace=False)]
    if len(sounds) < 3 and rng.random() < 1 / 3:
        sounds.append(sounds[int(rng.integers(len(sounds)))])
    return sounds


def check_options(weak_per_class, in_domain, out_of_domain, test_clips, eval_clips, sample_rate, seconds, snr_db):
    if weak_per_class < 1 or in_domain < 1 or out_of_domain < 1:
        raise ValueError("--weak-per-class, --unlabel-in-domain and --unlabel-out-of-domain must be at least 1")
    if test_clips < 2 or (eval_clips != 0 and eval_clips < 2):
        raise ValueError("--test-clips (and --eval-clips, unless 0) must be at least 2: a clip without events "
                         "and one with")
    if sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(f"--sample-rate {sample_rate}: must be at least {MIN_SAMPLE_RATE} Hz")
    if seconds < MIN_SECONDS:
        raise ValueError(f"--duration {seconds}: must be at least {MIN_SECONDS} s (events last up to 2 s)")
    if snr_db[0] > snr_db[1]:
        raise ValueError(f"--snr-db {snr_db[0]} {snr_db[1]}: LOW must not exceed HIGH")


def plan_clips(seed, weak_per_class=10, in_domain=60, out_of_domain=20, test_clips=40, eval_clips=0, seconds=4.0):
    """``(clips, overlap)``: every clip, set by set (weak, in-domain, out-of-domain, test, eval),
    and the weak clip that test.csv lists too (files_to_remove.csv). Each set draws from its own
    seeded stream, so that the size of one (``--eval-clips``) leaves the others as they are."""
    clip_ms = int(round(seconds * 1000))
    taken, clips = set(), []

    def add(rng, subset, events, prefix=""):
        number = sum(c.subset == subset for c in clips)
        clips.append(Clip(youtube_name(rng, taken, seconds, prefix), subset, events,
                          (seed, [s.name for s in SUBSETS].index(subset), number)))

    rng = np.random.default_rng((seed, 0))
    for index, primary in enumerate(c for c in CLASSES for _ in range(weak_per_class)):
        sounds = class_sounds(rng, primary)
        if index in (0, weak_per_class) and len(set(sounds)) == 1:     # at least two multi-label rows
            sounds.append(CLASSES[(CLASSES.index(primary) + 3) % len(CLASSES)])
        add(rng, WEAK_SET.name, place_events(rng, sounds, clip_ms), {0: "--", 1: "-"}.get(index, ""))
    rng = np.random.default_rng((seed, 1))
    for _ in range(in_domain):
        primary = CLASSES[int(rng.integers(len(CLASSES)))]
        add(rng, UNLABEL_IN_DOMAIN.name, place_events(rng, class_sounds(rng, primary), clip_ms))
    rng = np.random.default_rng((seed, 2))
    kinds = sorted(OTHER_SOUNDS)
    for _ in range(out_of_domain):
        sounds = [kinds[int(i)] for i in rng.integers(0, len(kinds), int(rng.integers(1, 4)))]
        add(rng, UNLABEL_OUT_OF_DOMAIN.name, place_events(rng, sounds, clip_ms))
    for number, (subset, count) in enumerate(((TEST.name, test_clips), (EVAL.name, eval_clips)), start=3):
        rng = np.random.default_rng((seed, number))
        empty = set(rng.choice(count, max(1, round(EMPTY_TEST_FRACTION * count)), replace=False).tolist()) \
            if count else set()
        for k in range(count):
            sounds = [] if k in empty else class_sounds(rng, CLASSES[k % len(CLASSES)])
            add(rng, subset, place_events(rng, sounds, clip_ms))
    weak = [clip for clip in clips if clip.subset == WEAK_SET.name]
    overlap = weak[int(np.random.default_rng((seed, 5)).integers(len(weak)))]
    return clips, overlap


# ---------------------------------------------------------------- audio

def fade(signal, sr):
    length = min(int(FADE_SECONDS * sr), signal.size // 2)
    ramp = np.sin(0.5 * np.pi * np.linspace(0.0, 1.0, length)) ** 2
    signal[:length] *= ramp
    signal[signal.size - length:] *= ramp[::-1]
    return signal


def render(clip, sr, seconds, snr_db):
    """Audio of one clip, deterministic in its seed: background at BACKGROUND_DB dBFS, each
    event ``U(snr_db)`` dB above it (RMS over the event), exactly between its onset and offset
    samples; scaled down to a peak of 0.99 where louder."""
    rng = np.random.default_rng(clip.seed)
    n = int(round(seconds * sr))
    background = coloured_noise(rng, next_fast_len(n), sr, tilt_db_per_octave=rng.uniform(-4.5, -1.5))[0, :n]
    background *= db_to_amplitude(rng.uniform(*BACKGROUND_DB)) / rms(background)
    mix = background.copy()
    for onset_ms, offset_ms, sound in clip.events:
        start, stop = round(onset_ms * sr / 1000), min(round(offset_ms * sr / 1000), n)
        make = SOUNDS.get(sound) or OTHER_SOUNDS[sound]
        signal = make(rng, stop - start, sr)
        signal = fade(signal / max(rms(signal), 1e-12), sr)
        mix[start:stop] += signal * rms(background) * db_to_amplitude(rng.uniform(*snr_db))
    peak = float(np.max(np.abs(mix)))
    return mix * (0.99 / peak) if peak > 0.99 else mix


# ---------------------------------------------------------------- the release

def pandas_time(ms):
    """Seconds as the release's lists (pandas) write them: ``0.28600000000000003``, ``10.0``."""
    return repr(ms * 0.001)


def write_tsv(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        for row in [header, *rows]:
            f.write("\t".join(row) + "\n")


def weak_rows(clips):
    """``filename<TAB>labels`` rows: commas, and a semicolon in every 4th multi-label row (from the 2nd)."""
    rows, multi = [], 0
    for clip in clips:
        separator = ","
        if len(clip.labels) > 1:
            separator = ";" if multi % 4 == 1 else ","
            multi += 1
        rows.append((clip.filename, separator.join(clip.labels)))
    return rows


def strong_rows(clips):
    """One ``filename onset offset event_label`` row per event, an empty one for a clip without."""
    rows = []
    for clip in clips:
        rows += [(clip.filename, pandas_time(on), pandas_time(off), label) for on, off, label in clip.events]
        rows += [(clip.filename, "", "", "")] if not clip.events else []
    return rows


def truth_rows(members):
    """mini_truth.csv rows of ``members`` (``{set name: [Clip]}``), set by set."""
    rows = []
    for subset in SUBSETS:
        for clip in members[subset.name]:
            for on, off, sound in clip.events:
                rows.append((clip.filename, subset.name, f"{on / 1000:.3f}", f"{off / 1000:.3f}",
                             sound if sound in CLASSES else f"other:{sound}"))
            if not clip.events:
                rows.append((clip.filename, subset.name, "", "", ""))
    return rows


def write_release(tmp, clips, overlap, sr, seconds, snr_db):
    """The ``dataset/`` folder and mini_truth.csv under ``tmp``."""
    dataset = os.path.join(tmp, DATASET_DIR)
    members = {subset.name: sorted((c for c in clips if c.subset == subset.name), key=lambda c: c.filename)
               for subset in SUBSETS}
    members[TEST.name] = sorted(members[TEST.name] + [overlap], key=lambda c: c.filename)
    for subset in SUBSETS:
        listed = members[subset.name]
        if not listed:
            continue
        os.makedirs(os.path.join(dataset, subset.audio))
        for clip in listed:
            soundfile.write(os.path.join(dataset, subset.audio, clip.filename), render(clip, sr, seconds, snr_db), sr,
                            subtype="PCM_16")
        path = os.path.join(dataset, subset.csv)
        if subset is WEAK_SET:
            write_tsv(path, ("filename", "event_labels"), weak_rows(listed))
        elif subset in (TEST, EVAL):
            write_tsv(path, ("filename", "onset", "offset", "event_label"), strong_rows(listed))
        else:
            write_tsv(path, ("filename",), [(clip.filename,) for clip in listed])
    write_tsv(os.path.join(dataset, FILES_TO_REMOVE), ("filename",), [(overlap.filename,)])
    write_tsv(os.path.join(tmp, TRUTH), ("filename", "set", "onset", "offset", "event_label"),
              truth_rows(members))


def make_corpus(outdir, seed=0, weak_per_class=10, in_domain=60, out_of_domain=20, test_clips=40, eval_clips=0,
                sample_rate=16000, seconds=4.0, snr_db=(10.0, 24.0)):
    """Write the corpus with ``outdir`` as its root; return the root.

    Everything is written to a temporary folder inside ``outdir`` first and moved into place at
    the end (replacing ``dataset/`` and mini_truth.csv of an earlier run, an evaluation part
    included), so an interrupted run never leaves a half-written release.
    """
    check_options(weak_per_class, in_domain, out_of_domain, test_clips, eval_clips, sample_rate, seconds, snr_db)
    clips, overlap = plan_clips(seed, weak_per_class, in_domain, out_of_domain, test_clips, eval_clips, seconds)
    root = os.path.abspath(outdir)
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp.mini.", dir=root)
    try:
        write_release(tmp, clips, overlap, sample_rate, seconds, tuple(snr_db))
        move_into(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", help="the corpus root to write (dataset/ goes under it)")
    parser.add_argument("--weak-per-class", type=int, default=10, help="weakly labelled clips holding each class")
    parser.add_argument("--unlabel-in-domain", type=int, default=60, help="unlabelled clips of the 10 classes")
    parser.add_argument("--unlabel-out-of-domain", type=int, default=20, help="unlabelled clips of other sounds")
    parser.add_argument("--test-clips", type=int, default=40, help="strongly labelled test clips (+1 listed in "
                                                                   "files_to_remove.csv)")
    parser.add_argument("--eval-clips", type=int, default=0,
                        help="also write an evaluation list and audio (dataset/metadata/eval/eval.csv)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-rate", type=int, default=16000, help="Hz (the release has 44100)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per clip (the release has 10)")
    parser.add_argument("--snr-db", type=float, nargs=2, default=(10.0, 24.0), metavar=("LOW", "HIGH"),
                        help="event to background level, uniform in [LOW, HIGH] dB per event")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        root = make_corpus(args.outdir, args.seed, args.weak_per_class, args.unlabel_in_domain,
                           args.unlabel_out_of_domain, args.test_clips, args.eval_clips, args.sample_rate,
                           args.duration, tuple(args.snr_db))
    except ValueError as error:
        parser.error(str(error))
    logging.warning("*** SYNTHETIC mini corpus (not real data, not the DCASE 2018 Task 4 audio): %d weak, %d + %d "
                    "unlabelled, %d test%s clips of %g s at %d Hz in %s", 10 * args.weak_per_class,
                    args.unlabel_in_domain, args.unlabel_out_of_domain, args.test_clips,
                    f" and {args.eval_clips} eval" if args.eval_clips else "", args.duration, args.sample_rate, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
