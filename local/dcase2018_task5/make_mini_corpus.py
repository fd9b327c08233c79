#!/usr/bin/env python3
"""Build a small synthetic SINS (DCASE 2018 Task 5) development release in the exact layout.

    make_mini_corpus.py [--sessions-per-class 3] [--clips-per-session 3] [--nodes-per-session 2]
                        [--seed 0] [--duration 10] [--sensor-noise-db -54] <outdir>

Writes ``<outdir>/DCASE2018-task5-dev/``: ``audio/DevNode<n>_ex<session>_<segment>.wav``
(4 channels, 16 kHz, 16 bit, ``--duration`` seconds), ``meta.txt`` and
``evaluation_setup/fold{1..4}_{train,test,evaluate}.txt``, formatted as sins2018.py and
DATA_FORMATS.md "Task 5" describe the release. No evaluation release is generated.

Sessions. Each of the 9 activities has ``--sessions-per-class`` sessions, numbered ``ex1..exN``
in a seeded order (the number does not give the activity away); meta.txt's session id is
``<activity>_<number>``. As in SINS, several nodes record a session at the same time: each
session is heard by ``--nodes-per-session`` of DevNode1..4 (seeded choice), and segment ``s``
of a session is one stretch of sound captured by each of them (``DevNode1_ex7_2`` and
``DevNode3_ex7_2`` share the source, not the capture). Every session is in the test list of
exactly one fold: each activity's sessions are dealt to the folds with the fewest test sessions
so far, so folds are balanced and every activity is spread over them (with 3 sessions per
activity, each fold's test lacks some activities; 4 or more cover all). ``fold<k>_train.txt``
(file, activity, session) holds every other session; ``fold<k>_test.txt`` lists the test files
only; ``fold<k>_evaluate.txt`` lists the same files with their activity, as the release does.

Sound. Each activity has its own sources (levels are RMS at the source, before the node):

- absence: mains hum and a faint distant rumble, about -62 dBFS: near silence;
- cooking: dense high-band sizzle crackle, extractor-fan rumble and hum, an occasional pot clank;
- dishwashing: running water (a 0.5-4 kHz noise band, slowly modulated) and frequent clinks;
- eating: sparse high cutlery taps, soft low chewing bursts, sometimes quiet speech;
- other: footsteps (low thumps at a walking pace) and high rustling;
- social_activity: 2-3 overlapping speech-like talkers (harmonics of a moving pitch through
  changing vowel formants, syllables at 4-5.5 Hz), full band;
- vacuum_cleaner: loud broadband noise, a motor tone with harmonics and a high whine;
- watching_tv: one talker band-limited to 300-3400 Hz (a TV loudspeaker) over music chords;
- working: bouts of keyboard clicks at 6-10 per second, mouse clicks, computer-fan hum.

Each session draws its own pitch, rates, carriers and level (+-3 dB); each clip its own events
and level (+-2 dB), so clips of a class are alike but never identical.

Capture. A node is a linear array of 4 microphones 5 cm apart with a fixed colouring (its
position and housing). Per session and node: a distance loss (0 to -9 dB) and a source
direction, giving inter-microphone delays of up to 2.3 samples (5 cm at 343 m/s) on the
direct path; per channel: a fixed sensitivity mismatch (+-1.5 dB), one wall reflection (1.5-12 ms
later, 0.2-0.5 as loud, its own per channel) and the microphone's own noise, independent of the
other channels: hiss at ``--sensor-noise-db`` (default -54 dBFS; each microphone +-3 dB, each
clip +-3 dB, wandering slowly within the clip) with occasional electrical crackles, over a room
tone common to the node's channels. So the 4 channels of a clip differ in delay, gain,
colouring and noise, and averaging per-channel posteriors has independent errors to average
out. At the defaults a linear model on log-mel statistics of one channel is right on 93-100 %
of the test clips of a fold (2 s clips; more at 10 s); ``--sensor-noise-db -44`` drops single
channels to 79-100 %, and averaging the 4 channels' posteriors wins back most of that.

The release folder is built in a temporary folder and renamed into place (replacing an earlier
one), so an interrupted run never leaves a half-written release. The same seed gives the same
bytes. The defaults (9 x 3 sessions x 2 nodes x 3 segments = 162 clips, 10 s each, 1.28 MB a
clip) take about 200 MB.
"""
import argparse
import dataclasses
import logging
import math
import os
import sys

import numpy as np
import soundfile
from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

from dcase_tk.data.datadir import build_dir
from dcase_tk.io.synth import coloured_noise, db_to_amplitude, equalise, harmonic_tone, rms, spectral_gain_db
from sins2018 import (AUDIO_DIR, CHANNELS, CLASSES, CLIP_SECONDS, DEV_RELEASE, FOLDS, META, MIC_SPACING_M,
                      NUM_NODES, SAMPLE_RATE, SETUP_DIR, clip_file, setup_list)

SR = SAMPLE_RATE
SPEED_OF_SOUND = 343.0
PAD = 512                      # samples rendered before the clip and dropped: room for delays up to 32 ms
SOURCE_LEVEL_DB = {"absence": -62.0, "cooking": -34.0, "dishwashing": -32.0, "eating": -40.0, "other": -41.0,
                   "social_activity": -30.0, "vacuum_cleaner": -22.0, "watching_tv": -32.0, "working": -40.0}
ROOM_TONE_DB = -68.0
SENSOR_NOISE_DB = -54.0
SENSOR_WANDER_DB = 3.0         # RMS of the slow level wander of a microphone's noise
SENSOR_CRACKLE_HZ = 0.5        # electrical crackles per second and channel
SENSOR_CRACKLE_DB = 12.0       # their level above the channel's noise
# (F1, F2, F3) of a few vowels, Hz
VOWELS = np.array([(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
                   (570, 840, 2410), (440, 1020, 2240), (660, 1720, 2410)], dtype=float)
FORMANT_BANDWIDTHS = np.array([90.0, 110.0, 170.0])
SCALE_HZ = 220.0 * 2.0 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16, 19, 21]) / 12.0)   # pentatonic, 220-740 Hz


def _hardware():
    """Fixed per-node facts (the same in every corpus): colouring, channel sensitivities, self-noise."""
    rng = np.random.default_rng(2018)
    nodes = {}
    for node in range(1, NUM_NODES + 1):
        nodes[node] = {
            "shape": {"tilt_db_per_octave": float(rng.uniform(-2.0, 1.0)),
                      "bumps": ((float(rng.uniform(800.0, 4000.0)), float(rng.uniform(-5.0, 5.0)), 0.6),),
                      "highpass_hz": float(rng.uniform(60.0, 120.0))},
            "channel_gain_db": rng.uniform(-1.5, 1.5, CHANNELS),
            "sensor_offset_db": rng.uniform(-3.0, 3.0, CHANNELS),
        }
    return nodes


HARDWARE = _hardware()


@dataclasses.dataclass(frozen=True)
class Session:
    number: int                 # the ex<number> of the file names
    label: str
    nodes: tuple                # node numbers that record it
    test_fold: int

    @property
    def session_id(self):
        return f"{self.label}_{self.number}"


# ---------------------------------------------------------------- plan

def check_options(sessions_per_class, clips_per_session, nodes_per_session, duration):
    if sessions_per_class < 1 or clips_per_session < 1:
        raise ValueError("--sessions-per-class and --clips-per-session must be at least 1")
    if not 1 <= nodes_per_session <= NUM_NODES:
        raise ValueError(f"--nodes-per-session {nodes_per_session}: must be 1..{NUM_NODES}")
    if not 0.1 <= duration <= 60.0:
        raise ValueError(f"--duration {duration}: must be 0.1..60 seconds")


def plan_sessions(seed, sessions_per_class=3, nodes_per_session=2):
    """Every session, in activity order; each is in the test list of exactly one fold."""
    rng = np.random.default_rng(seed)
    numbers = iter(int(n) + 1 for n in rng.permutation(len(CLASSES) * sessions_per_class))
    tests = [0] * len(FOLDS)
    sessions = []
    for label in CLASSES:
        order = sorted(range(len(FOLDS)), key=lambda fold: (tests[fold], rng.random()))
        for k in range(sessions_per_class):
            fold = order[k % len(FOLDS)]
            tests[fold] += 1
            nodes = tuple(sorted(int(n) + 1 for n in rng.choice(NUM_NODES, nodes_per_session, replace=False)))
            sessions.append(Session(next(numbers), label, nodes, FOLDS[fold]))
    return sessions


# ---------------------------------------------------------------- sound sources

def noise(rng, n, **shape):
    """Unit-RMS coloured noise (``spectral_gain_db(**shape)``), shaped at a fast FFT length."""
    return coloured_noise(rng, next_fast_len(n), SR, **shape)[0, :n]


def events(rng, n, rate_hz, template):
    """Sum of ``template(rng)`` arrays starting at Poisson times (``rate_hz`` per second)."""
    out = np.zeros(n)
    for start in np.sort(rng.integers(0, n, rng.poisson(rate_hz * n / SR))):
        event = template(rng)
        stop = min(n, start + len(event))
        out[start:stop] += event[:stop - start]
    return out


def decay(seconds, length_s):
    return np.exp(-np.arange(int(length_s * SR)) / (seconds * SR))


def crackle(rng, n, rate_hz, decay_s, low_hz, high_hz):
    """Band noise gated by exponentially decaying envelopes at Poisson times: clicks, taps, sizzle."""
    envelope = events(rng, n, rate_hz, lambda r: r.uniform(0.3, 1.0) * decay(decay_s * r.uniform(0.7, 1.3),
                                                                             6 * decay_s))
    return noise(rng, n, highpass_hz=low_hz, lowpass_hz=high_hz, order=4) * envelope


def clink(centre_hz, decay_s):
    """A struck object: three inharmonic partials decaying together."""
    def template(rng):
        f = centre_hz * rng.uniform(0.85, 1.15)
        t = np.arange(int(5 * decay_s * SR)) / SR
        partials = sum(a * np.sin(2 * np.pi * f * ratio * t + rng.uniform(0, 6.3))
                       for ratio, a in ((1.0, 1.0), (2.76, 0.5), (5.40, 0.25)) if f * ratio < 0.45 * SR)
        return rng.uniform(0.4, 1.0) * partials * np.exp(-t / decay_s)
    return template


def thump(low_hz, high_hz, decay_s):
    def template(rng):
        t = np.arange(int(5 * decay_s * SR)) / SR
        return rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(low_hz, high_hz) * t) * np.exp(-t / decay_s)
    return template


def smooth(x, width):
    """Moving average of ``width`` samples along the last axis (same length, edges averaged over
    what there is)."""
    x = np.atleast_2d(x)
    padded = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=-1)], axis=-1)
    n = x.shape[-1]
    hi = np.minimum(np.arange(n) + width // 2 + 1, n)
    lo = np.maximum(np.arange(n) - (width - 1) // 2, 0)
    return (padded[:, hi] - padded[:, lo]) / (hi - lo)


def speech(rng, n, f0_hz, syllable_hz=4.5, pause=0.25, top_hz=4000.0, hop=32):
    """Speech-like babble: harmonics of a moving pitch through changing vowel formants,
    syllable by syllable, with pauses. Formant gains are computed every ``hop`` samples."""
    frames = -(-n // hop)
    formants = np.zeros((3, frames))
    envelope = np.zeros(frames)
    start = 0
    while start < frames:
        stop = min(frames, start + int(SR / hop * rng.uniform(0.6, 1.4) / syllable_hz))
        formants[:, start:stop] = (VOWELS[rng.integers(len(VOWELS))] * rng.uniform(0.92, 1.08))[:, None]
        if rng.random() > pause:
            envelope[start:stop] = np.sin(np.pi * np.linspace(0.0, 1.0, stop - start)) ** 0.6
        start = stop
    formants = smooth(formants, int(0.03 * SR / hop))
    t = np.arange(n) / SR
    f0 = f0_hz * (1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.3, 0.9) * t + rng.uniform(0, 6.3))
                  + 0.04 * np.sin(2 * np.pi * rng.uniform(2.0, 4.0) * t + rng.uniform(0, 6.3)))
    f0_frames = f0[::hop]
    phase = 2 * np.pi * np.cumsum(f0) / SR
    # sin(k phase) by the recurrence sin(k x) = 2 cos(x) sin((k-1) x) - sin((k-2) x)
    two_cos, previous, current = 2 * np.cos(phase), np.zeros(n), np.sin(phase)
    out = np.zeros(n)
    for k in range(1, int(top_hz / (1.1 * f0_hz)) + 1):
        frequency = k * f0_frames
        gain = sum(weight * np.exp(-0.5 * ((frequency - formants[i]) / FORMANT_BANDWIDTHS[i]) ** 2)
                   for i, weight in enumerate((1.0, 0.6, 0.3)))
        out += np.repeat((gain + 0.03) * envelope / k ** 0.5, hop)[:n] * current
        previous, current = current, two_cos * current - previous
    return out


def music(rng, n):
    """Chords of three harmonic tones from a pentatonic scale, changing every 0.4-1.2 s."""
    out = np.zeros(n)
    start = 0
    while start < n:
        stop = min(n, start + int(SR * rng.uniform(0.4, 1.2)))
        length = stop - start
        envelope = np.minimum(1.0, np.arange(length) / (0.02 * SR)) * np.exp(-np.arange(length) / (0.6 * SR))
        for note in rng.choice(SCALE_HZ, 3, replace=False):
            out[start:stop] += envelope * harmonic_tone(length, SR, note, {1: 1.0, 2: 0.5, 3: 0.3, 4: 0.2},
                                                        phase=rng.uniform(0, 6.3))
        start = stop
    return out


def unit(x):
    return x / max(rms(x), 1e-12)


def session_parameters(seed, session):
    """What stays the same through a session: pitches, rates, carriers, level."""
    rng = np.random.default_rng((seed, session.number))
    return {
        "level_db": SOURCE_LEVEL_DB[session.label] + rng.uniform(-3.0, 3.0),
        "hum_hz": rng.uniform(49.5, 50.5),
        "fan_hz": rng.uniform(95.0, 140.0),
        "rate": rng.uniform(0.8, 1.25),                # scales every event rate of the session
        "carrier": rng.uniform(0.85, 1.15),            # scales clink, whine and motor frequencies
        "talkers": [rng.choice([rng.uniform(95, 135), rng.uniform(175, 240)]) for _ in range(3)],
        "num_talkers": int(rng.integers(2, 4)),
        "syllable_hz": rng.uniform(4.0, 5.5),
    }


def activity(label, p, rng, n):
    """Unit-RMS sound of one activity, ``n`` samples."""
    rate, carrier = p["rate"], p["carrier"]
    t = np.arange(n) / SR
    if label == "absence":
        hum = harmonic_tone(n, SR, p["hum_hz"], {1: 1.0, 2: 0.5, 3: 0.3}, phase=rng.uniform(0, 6.3))
        rumble = noise(rng, n, lowpass_hz=300.0, order=2) * (1 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))
        return unit(unit(hum) + 0.7 * unit(rumble))
    if label == "cooking":
        sizzle = crackle(rng, n, 50.0 * rate, 0.003, 2000.0, 7000.0)
        fan = noise(rng, n, lowpass_hz=400.0, order=2) + 0.5 * unit(harmonic_tone(n, SR, p["fan_hz"], {1: 1.0, 2: 0.4}))
        clank = events(rng, n, 0.3 * rate, clink(450.0 * carrier, 0.08))
        return unit(unit(sizzle) + 0.6 * unit(fan) + 0.8 * clank)
    if label == "dishwashing":
        water = noise(rng, n, highpass_hz=500.0, lowpass_hz=4000.0, order=3)
        water *= 1.0 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * rate * t + rng.uniform(0, 6.3))
        clinks = events(rng, n, 3.5 * rate, clink(2500.0 * carrier, 0.06))
        return unit(unit(water) + 1.5 * unit(clinks))
    if label == "eating":
        taps = events(rng, n, 1.0 * rate, clink(4200.0 * carrier, 0.02))
        chewing = crackle(rng, n, 2.0 * rate, 0.08, 150.0, 900.0)
        mix = unit(taps) + 0.7 * unit(chewing)
        if rng.random() < 0.5:
            mix += 0.4 * unit(speech(rng, n, p["talkers"][0], p["syllable_hz"], pause=0.5))
        return unit(mix)
    if label == "other":
        walking = np.zeros(n)
        start = int(rng.integers(0, max(1, n // 2)))
        stop = min(n, start + int(rng.uniform(0.3, 1.0) * n))
        walking[start:stop] = events(rng, stop - start, 1.9 * rate, thump(70.0, 140.0, 0.05))
        rustle = noise(rng, n, highpass_hz=2500.0, lowpass_hz=6500.0, order=3)
        rustle *= smooth(np.maximum(0.0, rng.standard_normal(n // 400 + 1).repeat(400)[:n]), int(0.1 * SR))[0]
        return unit(unit(walking) + 0.6 * unit(rustle))
    if label == "social_activity":
        talkers = [rng.uniform(0.5, 1.0) * unit(speech(rng, n, f0, p["syllable_hz"] * rng.uniform(0.9, 1.1),
                                                       pause=0.3, top_hz=6000.0))
                   for f0 in p["talkers"][:p["num_talkers"]]]
        return unit(sum(talkers))
    if label == "vacuum_cleaner":
        broadband = noise(rng, n, tilt_db_per_octave=-1.5, highpass_hz=80.0)
        f0 = 200.0 * carrier * (1.0 + 0.02 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3)))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        motor = sum(np.sin(k * phase) / k for k in range(1, 7))
        whine = np.sin(2 * np.pi * 4000.0 * carrier * t + rng.uniform(0, 6.3))
        return unit(unit(broadband) + 0.7 * unit(motor) + 0.3 * whine)
    if label == "watching_tv":
        voice = equalise(speech(rng, n, p["talkers"][0], p["syllable_hz"], pause=0.2), SR,
                         highpass_hz=300.0, lowpass_hz=3400.0, order=4)
        return unit(unit(voice) + rng.uniform(0.4, 0.9) * unit(music(rng, n)))
    if label == "working":
        typing = np.zeros(n)
        start = 0
        while start < n:
            bout = min(n - start, int(SR * rng.uniform(1.0, 3.0)))
            typing[start:start + bout] = crackle(rng, bout, rng.uniform(6.0, 10.0) * rate, 0.004, 1500.0, 6000.0)
            start += bout + int(SR * rng.uniform(0.3, 1.5))
        mouse = events(rng, n, 0.3 * rate, clink(3000.0 * carrier, 0.003))
        fan = harmonic_tone(n, SR, p["fan_hz"] * 1.2, {1: 1.0, 2: 0.3}) + 0.5 * noise(rng, n, lowpass_hz=500.0)
        return unit(unit(typing) + 0.4 * unit(mouse) + 0.25 * unit(fan))
    raise ValueError(f"unknown activity {label}")


def render_source(seed, session, segment, num_samples):
    """The sound of one segment of a session (``PAD + num_samples``), shared by every node."""
    p = session_parameters(seed, session)
    rng = np.random.default_rng((seed, session.number, segment, 0))
    level = db_to_amplitude(p["level_db"] + rng.uniform(-2.0, 2.0))
    return level * activity(session.label, p, rng, PAD + num_samples)


# ---------------------------------------------------------------- capture by a node

def capture(seed, session, segment, node, source, num_samples, sensor_noise_db=SENSOR_NOISE_DB):
    """``(num_samples, 4)`` float audio of ``source`` as microphone array ``node`` records it."""
    hardware = HARDWARE[node]
    geometry = np.random.default_rng((seed, session.number, 0, node))     # per session and node
    rng = np.random.default_rng((seed, session.number, segment, node))    # per clip
    length = next_fast_len(len(source))
    freqs = rfftfreq(length, 1.0 / SR)
    spectrum = rfft(source, n=length) * db_to_amplitude(spectral_gain_db(freqs, **hardware["shape"])
                                                        + geometry.uniform(-9.0, 0.0))
    spacing = MIC_SPACING_M * math.sin(math.radians(geometry.uniform(-75.0, 75.0))) / SPEED_OF_SOUND * SR
    direct = 4.0 + spacing * np.arange(CHANNELS) - min(0.0, spacing * (CHANNELS - 1))
    gains = db_to_amplitude(hardware["channel_gain_db"] + geometry.uniform(-0.5, 0.5, CHANNELS))
    reflections = geometry.uniform(0.0015, 0.012, CHANNELS) * SR
    reflection_gains = geometry.uniform(0.2, 0.5, CHANNELS)
    shift = -2j * np.pi * freqs / SR
    responses = (gains[:, None] * np.exp(shift * direct[:, None])
                 + reflection_gains[:, None] * np.exp(shift * reflections[:, None]))
    channels = irfft(spectrum[None, :] * responses, n=length, axis=-1)[:, PAD:PAD + num_samples]
    room = db_to_amplitude(ROOM_TONE_DB) * noise(rng, num_samples, tilt_db_per_octave=-3.0, highpass_hz=40.0)
    sensor = np.stack([sensor_noise(rng, num_samples, sensor_noise_db + offset_db)
                       for offset_db in hardware["sensor_offset_db"]])
    return np.clip((channels + room + sensor).T, -0.99, 0.99)


def sensor_noise(rng, n, level_db):
    """One microphone's own noise: hiss whose level wanders (+-3 dB per clip, a slow random
    envelope within it) and occasional electrical crackles, independent of the other channels."""
    hiss = noise(rng, n, tilt_db_per_octave=-1.0)
    wander = smooth(rng.standard_normal(n // 800 + 1).repeat(800)[:n], int(0.5 * SR))[0]
    hiss *= db_to_amplitude(level_db + rng.uniform(-3.0, 3.0) + SENSOR_WANDER_DB * wander / max(rms(wander), 1e-12))
    bursts = events(rng, n, SENSOR_CRACKLE_HZ, lambda r: r.uniform(0.5, 1.0) * np.ones(int(r.uniform(0.02, 0.1) * SR)))
    crackle_db = level_db + SENSOR_CRACKLE_DB
    return hiss + db_to_amplitude(crackle_db) * bursts * noise(rng, n, highpass_hz=300.0)


# ---------------------------------------------------------------- writing the release

def clip_sort_key(session, node, segment):
    return (node, session.number, segment)


def write_lists(release, sessions, clips_per_session):
    """meta.txt and the fold lists, rows in (node, session number, segment) order."""
    rows = sorted(((node, s.number, segment), clip_file(node, s.number, segment), s)
                  for s in sessions for node in s.nodes for segment in range(1, clips_per_session + 1))

    def write(name, lines):
        path = os.path.join(release, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)

    write(META, [f"{name}\t{s.label}\t{s.session_id}\n" for _, name, s in rows])
    for fold in FOLDS:
        write(setup_list(fold, "train"),
              [f"{name}\t{s.label}\t{s.session_id}\n" for _, name, s in rows if s.test_fold != fold])
        write(setup_list(fold, "test"), [f"{name}\n" for _, name, s in rows if s.test_fold == fold])
        write(setup_list(fold, "evaluate"), [f"{name}\t{s.label}\n" for _, name, s in rows if s.test_fold == fold])


def make_corpus(outdir, seed=0, sessions_per_class=3, clips_per_session=3, nodes_per_session=2,
                duration=CLIP_SECONDS, sensor_noise_db=SENSOR_NOISE_DB):
    """Write ``<outdir>/DCASE2018-task5-dev``; return its path."""
    check_options(sessions_per_class, clips_per_session, nodes_per_session, duration)
    sessions = plan_sessions(seed, sessions_per_class, nodes_per_session)
    num_samples = int(round(duration * SR))

    def write(release):
        os.makedirs(os.path.join(release, AUDIO_DIR))
        os.makedirs(os.path.join(release, SETUP_DIR))
        for session in sessions:
            for segment in range(1, clips_per_session + 1):
                source = render_source(seed, session, segment, num_samples)
                for node in session.nodes:
                    soundfile.write(os.path.join(release, clip_file(node, session.number, segment)),
                                    capture(seed, session, segment, node, source, num_samples, sensor_noise_db), SR,
                                    subtype="PCM_16")
        write_lists(release, sessions, clips_per_session)

    release = os.path.join(os.path.abspath(outdir), DEV_RELEASE)
    build_dir(release, write)
    return release


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", help=f"where {DEV_RELEASE}/ is written")
    parser.add_argument("--sessions-per-class", type=int, default=3)
    parser.add_argument("--clips-per-session", type=int, default=3, help="10 s segments per session and node")
    parser.add_argument("--nodes-per-session", type=int, default=2, help="nodes recording each session (1-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=CLIP_SECONDS, help="seconds per clip")
    parser.add_argument("--sensor-noise-db", type=float, default=SENSOR_NOISE_DB,
                        help="level of each microphone's own noise, dBFS (higher: quiet activities get harder "
                             "and fusing the channels matters more)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        check_options(args.sessions_per_class, args.clips_per_session, args.nodes_per_session, args.duration)
    except ValueError as error:
        parser.error(str(error))
    release = make_corpus(args.outdir, args.seed, args.sessions_per_class, args.clips_per_session,
                          args.nodes_per_session, args.duration, args.sensor_noise_db)
    clips = len(CLASSES) * args.sessions_per_class * args.nodes_per_session * args.clips_per_session
    logging.warning("*** SYNTHETIC mini corpus (not real data, not SINS audio): %d activities, %d sessions, %d "
                    "clips of %g s in %s", len(CLASSES), len(CLASSES) * args.sessions_per_class, clips,
                    args.duration, release)
    return 0


if __name__ == "__main__":
    sys.exit(main())
