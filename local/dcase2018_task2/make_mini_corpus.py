#!/usr/bin/env python3
"""Build a small synthetic FSDKaggle2018 corpus in the exact release layout.

    make_mini_corpus.py <outdir> [--kaggle-naming] [--classes 8] [--train-per-class 12]
                        [--test-per-class 4] [--verified-fraction 0.4]
                        [--wrong-label-fraction 0.2] [--seed 0] [--snr-db -5 5]

Writes, under ``<outdir>`` (the corpus root), the post-competition naming
(``FSDKaggle2018.audio_train/``, ``FSDKaggle2018.audio_test/``,
``FSDKaggle2018.meta/train_post_competition.csv`` and ``test_post_competition_scoring_clips.csv``)
or, with ``--kaggle-naming``, the Kaggle naming instead (``audio_train/``, ``audio_test/``,
``train.csv``, ``sample_submission.csv``): DATA_FORMATS.md "Task 2". The same seed gives the
same clips, names and labels in both. Clips are 44.1 kHz mono 16-bit, 0.3-30 s long
(log-uniform, so most are short), named like the release's ``<8 hex digits>.wav``.

Classes are the first ``--classes`` of the 41; class ``i`` is one of 5 patterns (steady
harmonic tone, tone pulsed at 8 Hz, repeated upward chirp, 1/3-octave noise band, train of
noise clicks) at one of 9 carriers (200 Hz to 6.4 kHz, 5/8 octave apart), so that the first
few classes already differ in both pattern and carrier, over a coloured background;
each clip jitters the carrier (+-3 %), level and background. The class sound lies ``--snr-db``
(default -5 to 5 dB) from the background: hard enough that the wrong labels cost a model that
trusts them, so the label-noise systems have something to win. About ``--verified-fraction`` of each class's train clips are
``manually_verified`` = 1; of the unverified train clips, ``--wrong-label-fraction`` carry a
deliberately wrong label in the list (the real corpus has noisy unverified labels: part4.md
P4.12 section 2, part1.md paper 10). The true label of every clip is in
``<outdir>/mini_truth.csv`` (``fname,split,label``), outside the release folders.
"""
import argparse
import csv
import dataclasses
import logging
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import soundfile
from scipy.fft import next_fast_len

from dcase_tk.data.corpus import move_into
from dcase_tk.io.synth import am_envelope, coloured_noise, db_to_amplitude, equalise, harmonic_tone, rms
from fsd2018 import CLASSES, KAGGLE, MAX_SECONDS, MIN_SECONDS, POST_COMPETITION, SAMPLE_RATE

PATTERNS = ("tone", "pulsed", "chirp", "noise_band", "clicks")
CARRIERS_HZ = tuple(float(f) for f in np.geomspace(200.0, 6400.0, 9))     # 5/8 octave apart
FADE_SECONDS = 0.01
LICENSES = ("Attribution", "Creative Commons 0", "Attribution-NonCommercial")
PUBLIC_SHARE = 0.19            # of the scoring clips on Kaggle's public leaderboard (part1.md paper 4)
SAMPLE_SUBMISSION_LABEL = "Laughter Hi-hat Flute"


@dataclasses.dataclass(frozen=True)
class Clip:
    fname: str
    split: str                  # train or test
    label: str                  # the true label
    listed_label: str           # the label written to the list (wrong for some unverified clips)
    verified: int
    seconds: float
    seed: tuple


def class_sound(index):
    """(pattern, carrier Hz) of class ``index`` of CLASSES: 41 distinct pairs."""
    pattern = PATTERNS[index % len(PATTERNS)]
    step = index // len(PATTERNS)
    return pattern, CARRIERS_HZ[(step + 3 * (index % len(PATTERNS))) % len(CARRIERS_HZ)]


def chirp(num_samples, carrier_hz, period_s=0.25):
    """Upward one-octave sweeps from ``carrier_hz``, repeated every ``period_s``."""
    t = np.arange(num_samples) / SAMPLE_RATE
    frequency = carrier_hz * 2.0 ** ((t / period_s) % 1.0)
    return np.sin(2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE)


def clicks(rng, num_samples, carrier_hz, rate_hz=6.0, decay_s=0.015):
    """Exponentially decaying noise bursts, one-octave band around ``carrier_hz``, at ``rate_hz``."""
    t = np.arange(num_samples) / SAMPLE_RATE
    envelope = np.exp(-((t * rate_hz) % 1.0) / (rate_hz * decay_s))
    band = equalise(rng.standard_normal(next_fast_len(num_samples)), SAMPLE_RATE,
                    highpass_hz=carrier_hz / math.sqrt(2), lowpass_hz=carrier_hz * math.sqrt(2), order=4)
    return band[:num_samples] * envelope


def noise(rng, num_samples, **shape):
    """Coloured noise (``spectral_gain_db(**shape)``), shaped at a fast FFT length and cut to size.

    Clip lengths are arbitrary sample counts, often with large prime factors, where an FFT of
    exactly that length is tens of times slower.
    """
    return coloured_noise(rng, next_fast_len(num_samples), SAMPLE_RATE, **shape)[0, :num_samples]


def foreground(rng, pattern, carrier_hz, num_samples):
    """Unit-RMS signal of one pattern."""
    if pattern == "tone":
        signal = harmonic_tone(num_samples, SAMPLE_RATE, carrier_hz, {1: 1.0, 2: 0.4}, phase=rng.uniform(0, 6.3))
    elif pattern == "pulsed":
        signal = (harmonic_tone(num_samples, SAMPLE_RATE, carrier_hz, {1: 1.0, 2: 0.4}, phase=rng.uniform(0, 6.3))
                  * am_envelope(num_samples, SAMPLE_RATE, 8.0, 0.95, phase=rng.uniform(0, 6.3)))
    elif pattern == "chirp":
        signal = chirp(num_samples, carrier_hz)
    elif pattern == "noise_band":
        third = 2 ** (1 / 6)
        signal = noise(rng, num_samples, highpass_hz=carrier_hz / third, lowpass_hz=carrier_hz * third, order=4)
    else:
        signal = clicks(rng, num_samples, carrier_hz)
    return signal / rms(signal)


def render(clip, snr_db=(-5.0, 5.0)):
    """Audio of one clip, deterministic in its seed; peak below 1; the class sound stands
    ``U(snr_db)`` dB above the background."""
    rng = np.random.default_rng(clip.seed)
    num_samples = int(round(clip.seconds * SAMPLE_RATE))
    pattern, carrier_hz = class_sound(CLASSES.index(clip.label))
    signal = foreground(rng, pattern, carrier_hz * rng.uniform(0.97, 1.03), num_samples)
    background = noise(rng, num_samples, tilt_db_per_octave=rng.uniform(-3.0, -1.0))
    mix = signal + background * db_to_amplitude(-rng.uniform(*snr_db))
    fade = min(int(FADE_SECONDS * SAMPLE_RATE), num_samples // 2)
    ramp = np.linspace(0.0, 1.0, fade)
    mix[:fade] *= ramp
    mix[num_samples - fade:] *= ramp[::-1]
    mix *= db_to_amplitude(rng.uniform(-26.0, -20.0)) / rms(mix)
    return np.clip(mix, -0.99, 0.99)


def draw_seconds(rng):
    """Log-uniform in [MIN_SECONDS, MAX_SECONDS], rounded to whole samples inside the range."""
    seconds = math.exp(rng.uniform(math.log(MIN_SECONDS), math.log(MAX_SECONDS)))
    samples = min(max(round(seconds * SAMPLE_RATE), math.ceil(MIN_SECONDS * SAMPLE_RATE)),
                  math.floor(MAX_SECONDS * SAMPLE_RATE))
    return samples / SAMPLE_RATE


def check_options(num_classes, train_per_class, test_per_class, verified_fraction, wrong_label_fraction):
    if not 2 <= num_classes <= len(CLASSES):
        raise ValueError(f"--classes {num_classes}: must be 2..{len(CLASSES)} (a wrong label needs another class)")
    if train_per_class < 1 or test_per_class < 1:
        raise ValueError("--train-per-class and --test-per-class must be at least 1")
    if not 0.0 <= verified_fraction <= 1.0 or not 0.0 <= wrong_label_fraction <= 1.0:
        raise ValueError("--verified-fraction and --wrong-label-fraction must be in [0, 1]")


def plan_clips(seed, num_classes=8, train_per_class=12, test_per_class=4, verified_fraction=0.4,
               wrong_label_fraction=0.2):
    """Every clip of the corpus, train then test.

    ``round(verified_fraction * train_per_class)`` train clips of each class are verified;
    exactly ``round(wrong_label_fraction * unverified)`` unverified clips get a wrong listed label.
    """
    check_options(num_classes, train_per_class, test_per_class, verified_fraction, wrong_label_fraction)
    rng = np.random.default_rng(seed)
    classes = CLASSES[:num_classes]
    names = rng.choice(16 ** 8, size=num_classes * (train_per_class + test_per_class), replace=False)
    fnames = iter(f"{int(name):08x}.wav" for name in names)
    verified_per_class = round(verified_fraction * train_per_class)
    planned = []
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        for label in classes:
            for k in range(per_class):
                verified = 1 if split == "test" or k < verified_per_class else 0
                planned.append([next(fnames), split, label, label, verified, draw_seconds(rng)])
    unverified = [row for row in planned if not row[4]]
    for index in rng.choice(len(unverified), size=round(wrong_label_fraction * len(unverified)), replace=False):
        row = unverified[index]
        row[3] = rng.choice([c for c in classes if c != row[2]])
    return [Clip(fname, split, label, str(listed), verified, seconds, (seed, number))
            for number, (fname, split, label, listed, verified, seconds) in enumerate(planned)]


def write_csv(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(sorted(rows))


def write_lists(root, clips, kaggle_naming, rng):
    """The release's lists (rows sorted by fname, as released) and mini_truth.csv."""
    train = [c for c in clips if c.split == "train"]
    test = [c for c in clips if c.split == "test"]
    if kaggle_naming:
        write_csv(os.path.join(root, KAGGLE.train_csv), ["fname", "label", "manually_verified"],
                  [(c.fname, c.listed_label, c.verified) for c in train])
        write_csv(os.path.join(root, KAGGLE.test_csv), ["fname", "label"],
                  [(c.fname, SAMPLE_SUBMISSION_LABEL) for c in test])
    else:
        write_csv(os.path.join(root, POST_COMPETITION.train_csv),
                  ["fname", "label", "manually_verified", "freesound_id", "license"],
                  [(c.fname, c.listed_label, c.verified, int(rng.integers(1000, 400000)), rng.choice(LICENSES))
                   for c in train])
        write_csv(os.path.join(root, POST_COMPETITION.test_csv),
                  ["fname", "label", "usage", "freesound_id", "license"],
                  [(c.fname, c.label, "Public" if rng.random() < PUBLIC_SHARE else "Private",
                    int(rng.integers(1000, 400000)), rng.choice(LICENSES)) for c in test])
    write_csv(os.path.join(root, "mini_truth.csv"), ["fname", "split", "label"],
              [(c.fname, c.split, c.label) for c in clips])


def make_corpus(outdir, kaggle_naming=False, seed=0, num_classes=8, train_per_class=12, test_per_class=4,
                verified_fraction=0.4, wrong_label_fraction=0.2, snr_db=(-5.0, 5.0)):
    """Write the corpus with ``outdir`` as its root; return the root.

    Everything is written to a temporary folder inside ``outdir`` first and moved into place
    at the end (replacing the entries of an earlier run), so an interrupted run never leaves a
    half-written release folder.
    """
    clips = plan_clips(seed, num_classes, train_per_class, test_per_class, verified_fraction,
                       wrong_label_fraction)
    naming = KAGGLE if kaggle_naming else POST_COMPETITION
    root = os.path.abspath(outdir)
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp.mini.", dir=root)
    try:
        for split, audio in (("train", naming.train_audio), ("test", naming.test_audio)):
            os.makedirs(os.path.join(tmp, audio))
            for clip in clips:
                if clip.split == split:
                    soundfile.write(os.path.join(tmp, audio, clip.fname), render(clip, snr_db), SAMPLE_RATE,
                                    subtype="PCM_16")
        write_lists(tmp, clips, kaggle_naming, np.random.default_rng((seed, 1)))
        move_into(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", help="the corpus root to write")
    parser.add_argument("--kaggle-naming", action="store_true",
                        help="write the Kaggle naming (audio_train/, train.csv, ...) instead of the post-competition one")
    parser.add_argument("--classes", type=int, default=8, help="use the first N of the 41 classes")
    parser.add_argument("--train-per-class", type=int, default=12)
    parser.add_argument("--test-per-class", type=int, default=4)
    parser.add_argument("--verified-fraction", type=float, default=0.4)
    parser.add_argument("--wrong-label-fraction", type=float, default=0.2,
                        help="share of the unverified train clips listed with a wrong label")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--snr-db", type=float, nargs=2, default=(-5.0, 5.0), metavar=("LOW", "HIGH"),
                        help="class sound to background ratio, uniform in [LOW, HIGH] dB per clip "
                             "(lower: harder classes)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    root = make_corpus(args.outdir, args.kaggle_naming, args.seed, args.classes, args.train_per_class,
                       args.test_per_class, args.verified_fraction, args.wrong_label_fraction,
                       tuple(args.snr_db))
    logging.warning("*** SYNTHETIC mini corpus (not real data, not FSDKaggle2018 audio): %d classes, %d train and "
                    "%d test clips in %s", args.classes, args.classes * args.train_per_class,
                    args.classes * args.test_per_class, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
