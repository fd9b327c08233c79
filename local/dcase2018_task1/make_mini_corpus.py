#!/usr/bin/env python3
"""Build a small synthetic TUT Urban Acoustic Scenes 2018 corpus in the exact release layout.

    make_mini_corpus.py <outdir> [--subtask a|b] [--seed 0] [--cities barcelona helsinki]
                        [--locations-per-class-city 4] [--segments-per-location 3] [--jobs 2]

Writes ``<outdir>/TUT-urban-acoustic-scenes-2018-development`` (subtask a: device a, 48 kHz,
24 bit, binaural) or ``<outdir>/TUT-urban-acoustic-scenes-2018-mobile-development`` (subtask b:
device a resampled to 44.1 kHz mono, plus parallel devices b and c, 44.1 kHz mono), each with
``audio/``, ``meta.csv`` and ``evaluation_setup/fold1_{train,evaluate,test}.txt``.

How the audio encodes the scene: each scene is one of 5 carrier frequencies (a tone with its
3rd harmonic) times one of 2 temporal patterns (steady, or amplitude-modulated at about 4 Hz),
over a coloured background noise. The pulsed tone has the steady tone's mean log-energy, and
every clip gets a random level of +-3 dB, so the energy in any one mel band says at most which
carrier (2 of the 10 scenes), never which pattern: a classifier has to look at how a band
changes from frame to frame. Each location jitters the carrier (+-4 %), the pulse rate
(+-10 %), the tone-to-background ratio and the background's colour and level, so train and
test (disjoint locations) differ.

The default corpus (2 cities x 10 scenes x 4 locations x 3 segments = 240 clips, fold 1:
180 train / 60 test) is written in about 10 s on 2 cores.
"""
import argparse
import concurrent.futures
import dataclasses
import functools
import logging
import math
import os
import shutil
import sys

import numpy as np
import soundfile

from dcase_tk.io.synth import (am_envelope, coloured_noise, db_to_amplitude, equalise, harmonic_tone,
                               resample, rms)
from tut2018 import RELEASE_NAMES, SCENES

SAMPLE_RATE_A = 48000
SAMPLE_RATE_MOBILE = 44100
CLIP_SECONDS = 10.0
TEST_FRACTION = 0.3            # of the locations of each (scene, city), as in the real split

# Carriers are about an octave apart; with odd harmonics only, a 3rd harmonic falls between
# two carriers, so no mel band holds parts of two different carriers.
CARRIERS_HZ = (300.0, 630.0, 1340.0, 2830.0, 6000.0)
HARMONICS = {1: 1.0, 3: 0.3}
PULSE_RATE_HZ = 4.0
PULSE_DEPTH = 0.7
# Gain of the modulated tone relative to the steady one. Log-mel features see mean log-energy,
# so that is what it matches: 2 / (1 + sqrt(1 - m^2)) is exp(-E[log(1 + m sin)]). Mean power is
# then 10 log10((1 + m^2 / 2) * gain^2), about 2.3 dB higher, inside the +-3 dB clip level.
PULSE_GAIN = 2.0 / (1.0 + math.sqrt(1.0 - PULSE_DEPTH ** 2))

# Mobile devices: a fixed colouring (filter) and gain per device, plus its own self-noise.
DEVICE_COLOURING = {
    "b": {"shape": {"highpass_hz": 250.0, "lowpass_hz": 9000.0, "order": 3,
                    "bumps": ((2500.0, 5.0, 0.5),)},
          "gain_db": -2.0, "noise_dbfs": -62.0},
    "c": {"shape": {"highpass_hz": 500.0, "lowpass_hz": 14000.0, "order": 2, "tilt_db_per_octave": 1.5,
                    "bumps": ((1200.0, -6.0, 0.7),)},
          "gain_db": 1.0, "noise_dbfs": -56.0},
}
MOBILE_SEGMENTS_PER_LOCATION = 1   # devices b and c record this many segments of each location


@dataclasses.dataclass(frozen=True)
class Location:
    """One recording location: everything about its sound that stays the same across segments."""
    scene: str
    city: str
    number: int
    test: bool
    seed: tuple
    carrier_hz: float
    pulsed: bool
    pulse_rate_hz: float
    tone_db: float              # tone RMS relative to background RMS
    background_dbfs: float
    background_shape: dict      # arguments of spectral_gain_db
    itd_samples: int            # interaural time and level differences of the tone
    ild_db: float

    @property
    def identifier(self):
        return f"{self.city}-{self.number}"


@dataclasses.dataclass(frozen=True)
class Clip:
    location: Location
    segment: int
    devices: tuple              # devices that recorded this segment: ('a',) or ('a', 'b', 'c')

    def filename(self, device):
        return f"audio/{self.location.scene}-{self.location.identifier}-{self.segment}-{device}.wav"


def scene_sound(scene):
    """(carrier index, pulsed) for a scene: consecutive scenes share a carrier, differ in pattern."""
    index = SCENES.index(scene)
    return index // 2, bool(index % 2)


def plan_locations(rng, seed, cities, locations_per_class_city):
    """Draw every location's parameters and its train/test side (by location, as the real split)."""
    if locations_per_class_city < 2:
        raise ValueError("--locations-per-class-city must be at least 2 (one train and one test location)")
    num_test = max(1, round(TEST_FRACTION * locations_per_class_city))
    locations = []
    for city in cities:
        for scene_index, scene in enumerate(SCENES):
            test_slots = set(rng.choice(locations_per_class_city, size=num_test, replace=False).tolist())
            carrier, pulsed = scene_sound(scene)
            for slot in range(locations_per_class_city):
                number = scene_index * locations_per_class_city + slot   # unique within a city
                locations.append(Location(
                    scene=scene, city=city, number=number, test=slot in test_slots,
                    seed=(seed, cities.index(city), number),
                    carrier_hz=CARRIERS_HZ[carrier] * rng.uniform(0.96, 1.04),
                    pulsed=pulsed,
                    pulse_rate_hz=PULSE_RATE_HZ * rng.uniform(0.9, 1.1),
                    tone_db=rng.uniform(0.0, 6.0),
                    background_dbfs=rng.uniform(-32.0, -28.0),
                    background_shape={
                        "tilt_db_per_octave": rng.uniform(-2.5, -1.0),
                        "bumps": tuple((float(np.exp(rng.uniform(np.log(150.0), np.log(12000.0)))),
                                        rng.uniform(-3.0, 3.0), rng.uniform(0.3, 1.0)) for _ in range(3)),
                    },
                    itd_samples=int(rng.integers(-20, 21)),
                    ild_db=rng.uniform(-2.0, 2.0),
                ))
    return locations


def plan_clips(rng, locations, segments_per_location, subtask):
    clips = []
    for location in locations:
        mobile = set()
        if subtask == "b":
            mobile = set(rng.choice(segments_per_location, size=MOBILE_SEGMENTS_PER_LOCATION,
                                    replace=False).tolist())
        for segment in range(segments_per_location):
            clips.append(Clip(location, segment, ("a", "b", "c") if segment in mobile else ("a",)))
    return clips


def render_binaural(clip, sample_rate=SAMPLE_RATE_A):
    """Device-a audio of one clip, shape (2, samples), deterministic in the clip's seed."""
    location = clip.location
    rng = np.random.default_rng(location.seed + (clip.segment,))
    num_samples = int(CLIP_SECONDS * sample_rate)
    # Each segment tilts the location's background and changes the tone level a little, so that
    # clips of one location are not copies of each other in any band (the +-3 dB clip level
    # moves all bands together).
    shape = dict(location.background_shape)
    shape["tilt_db_per_octave"] += rng.uniform(-0.75, 0.75)
    background = coloured_noise(rng, num_samples, sample_rate, channels=2, **shape)
    background[1] = 0.8 * background[0] + 0.6 * background[1]      # partly diffuse, partly common
    tone = harmonic_tone(num_samples, sample_rate, location.carrier_hz, HARMONICS,
                         phase=rng.uniform(0, 2 * np.pi))
    tone /= rms(tone)
    if location.pulsed:
        tone *= PULSE_GAIN * am_envelope(num_samples, sample_rate, location.pulse_rate_hz, PULSE_DEPTH,
                                         phase=rng.uniform(0, 2 * np.pi))
    tone *= db_to_amplitude(location.tone_db + rng.uniform(-2.0, 2.0))
    binaural_tone = np.stack([tone, np.roll(tone, location.itd_samples) * db_to_amplitude(location.ild_db)])
    clip_level_db = location.background_dbfs + rng.uniform(-3.0, 3.0)
    return (background + binaural_tone) * db_to_amplitude(clip_level_db)


def render_mobile(binaural, clip):
    """Device a as in the Mobile release (mono, 44.1 kHz) and the parallel devices' recordings."""
    mono = resample(binaural.mean(axis=0), SAMPLE_RATE_A, SAMPLE_RATE_MOBILE)
    signals = {"a": mono}
    for index, device in enumerate(d for d in clip.devices if d != "a"):
        spec = DEVICE_COLOURING[device]
        rng = np.random.default_rng(clip.location.seed + (clip.segment, index + 1))
        coloured = equalise(mono, SAMPLE_RATE_MOBILE, **spec["shape"]) * db_to_amplitude(spec["gain_db"])
        noise = rng.standard_normal(mono.size) * db_to_amplitude(spec["noise_dbfs"])
        signals[device] = coloured + noise
    return signals


def write_clip(release_root, clip, subtask):
    """Render and write every device's file of one clip."""
    binaural = render_binaural(clip)
    if subtask == "a":
        signals, sample_rate = {"a": binaural}, SAMPLE_RATE_A
    else:
        signals, sample_rate = render_mobile(binaural, clip), SAMPLE_RATE_MOBILE
    for device, signal in signals.items():
        peak = float(np.max(np.abs(signal)))
        if peak >= 1.0:
            raise RuntimeError(f"{clip.filename(device)}: synthetic signal clips (peak {peak:.2f})")
        path = os.path.join(release_root, clip.filename(device))
        soundfile.write(path, signal.T, sample_rate, subtype="PCM_24")


def write_lists(release_root, clips):
    """meta.csv (header, tab-separated) and the fold-1 setup lists (no header), as released."""
    meta, train, evaluate, test = [], [], [], []
    for clip in clips:
        location = clip.location
        for device in clip.devices:
            filename = clip.filename(device)
            meta.append(f"{filename}\t{location.scene}\t{location.identifier}\t{device}")
            if location.test:
                evaluate.append(f"{filename}\t{location.scene}")
                test.append(filename)
            else:
                train.append(f"{filename}\t{location.scene}")
    setup = os.path.join(release_root, "evaluation_setup")
    os.makedirs(setup, exist_ok=True)
    files = {os.path.join(release_root, "meta.csv"): ["filename\tscene_label\tidentifier\tsource_label"]
             + sorted(meta),
             os.path.join(setup, "fold1_train.txt"): sorted(train),
             os.path.join(setup, "fold1_evaluate.txt"): sorted(evaluate),
             os.path.join(setup, "fold1_test.txt"): sorted(test)}
    for path, lines in files.items():
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(line + "\n" for line in lines)


def make_corpus(outdir, subtask="a", seed=0, cities=("barcelona", "helsinki"), locations_per_class_city=4,
                segments_per_location=3, jobs=1):
    """Write the corpus under ``outdir`` and return its release root.

    The corpus is built in a temporary sibling directory and renamed into place at the end, so
    an interrupted run never leaves a half-written corpus under the release name.
    """
    if subtask not in RELEASE_NAMES:
        raise ValueError(f"subtask must be one of {sorted(RELEASE_NAMES)}, got {subtask!r}")
    cities = list(cities)
    for city in cities:
        if not city.isalpha() or not city.islower():
            raise ValueError(f"city names are lower-case letters only (they are part of file names), got {city!r}")
    rng = np.random.default_rng(seed)
    clips = plan_clips(rng, plan_locations(rng, seed, cities, locations_per_class_city),
                       segments_per_location, subtask)
    release_root = os.path.join(os.path.abspath(outdir), RELEASE_NAMES[subtask])
    tmp_root = release_root + ".tmp"
    shutil.rmtree(tmp_root, ignore_errors=True)
    os.makedirs(os.path.join(tmp_root, "audio"))
    render = functools.partial(write_clip, tmp_root, subtask=subtask)
    if jobs > 1:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(render, clips, chunksize=8))
    else:
        for clip in clips:
            render(clip)
    write_lists(tmp_root, clips)
    shutil.rmtree(release_root, ignore_errors=True)
    os.replace(tmp_root, release_root)
    return release_root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--subtask", choices=sorted(RELEASE_NAMES), default="a")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cities", nargs="+", default=["barcelona", "helsinki"])
    parser.add_argument("--locations-per-class-city", type=int, default=4)
    parser.add_argument("--segments-per-location", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="parallel processes rendering audio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    root = make_corpus(args.outdir, args.subtask, args.seed, args.cities, args.locations_per_class_city,
                       args.segments_per_location, args.jobs)
    num_files = len(os.listdir(os.path.join(root, "audio")))
    logging.info("SYNTHETIC mini corpus (not real data): %d files in %s", num_files, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
