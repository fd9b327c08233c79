"""Signal building blocks for the synthetic mini corpora (coloured noise, tones, device colouring).

Everything is shaped in the frequency domain on whole clips: one rfft/irfft per signal is both
the simplest way to get an exact magnitude response and fast enough for thousands of 10 s clips.
All functions take an explicit ``numpy.random.Generator`` so corpora are deterministic by seed.
"""
import math

import numpy as np
from scipy.signal import resample_poly


def db_to_amplitude(db):
    return 10.0 ** (np.asarray(db, dtype=float) / 20.0)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def spectral_gain_db(freqs, tilt_db_per_octave=0.0, bumps=(), highpass_hz=None, lowpass_hz=None,
                     order=2):
    """Magnitude response in dB at ``freqs`` (Hz).

    ``tilt_db_per_octave`` is a straight line in log frequency through 0 dB at 1 kHz;
    ``bumps`` are ``(centre_hz, gain_db, width_octaves)`` Gaussian peaks/notches in log frequency;
    ``highpass_hz``/``lowpass_hz`` add Butterworth-like skirts of the given ``order``.
    """
    f = np.maximum(np.asarray(freqs, dtype=float), 20.0)   # keep DC and sub-audio finite
    octaves = np.log2(f / 1000.0)
    gain = tilt_db_per_octave * octaves
    for centre_hz, gain_db, width_octaves in bumps:
        gain = gain + gain_db * np.exp(-0.5 * ((octaves - math.log2(centre_hz / 1000.0)) / width_octaves) ** 2)
    if highpass_hz:
        gain = gain - 10.0 * np.log10(1.0 + (highpass_hz / f) ** (2 * order))
    if lowpass_hz:
        gain = gain - 10.0 * np.log10(1.0 + (f / lowpass_hz) ** (2 * order))
    return gain


def coloured_noise(rng, num_samples, sample_rate, channels=1, **shape):
    """Gaussian noise of unit RMS per channel, shaped by ``spectral_gain_db(**shape)``.

    Returns an array of shape ``(channels, num_samples)``.
    """
    freqs = np.fft.rfftfreq(num_samples, 1.0 / sample_rate)
    spectrum = rng.standard_normal((channels, freqs.size)) + 1j * rng.standard_normal((channels, freqs.size))
    spectrum *= db_to_amplitude(spectral_gain_db(freqs, **shape))
    noise = np.fft.irfft(spectrum, n=num_samples, axis=-1)
    return noise / np.sqrt(np.mean(np.square(noise), axis=-1, keepdims=True))


def equalise(x, sample_rate, **shape):
    """Filter ``x`` (last axis is time) with the zero-phase response ``spectral_gain_db(**shape)``."""
    num_samples = x.shape[-1]
    freqs = np.fft.rfftfreq(num_samples, 1.0 / sample_rate)
    spectrum = np.fft.rfft(x, axis=-1) * db_to_amplitude(spectral_gain_db(freqs, **shape))
    return np.fft.irfft(spectrum, n=num_samples, axis=-1)


def harmonic_tone(num_samples, sample_rate, f0_hz, harmonics, phase=0.0):
    """Sum of sines at ``k * f0_hz`` with amplitudes ``harmonics[k]`` (a dict ``k -> amplitude``)."""
    t = np.arange(num_samples) / sample_rate
    return sum(amplitude * np.sin(2 * np.pi * k * f0_hz * t + k * phase)
               for k, amplitude in harmonics.items())


def am_envelope(num_samples, sample_rate, rate_hz, depth, phase=0.0):
    """Sinusoidal amplitude envelope ``1 + depth * sin(2 pi rate t + phase)``, ``0 <= depth < 1``."""
    t = np.arange(num_samples) / sample_rate
    return 1.0 + depth * np.sin(2 * np.pi * rate_hz * t + phase)


def resample(x, sample_rate_in, sample_rate_out):
    """Polyphase resampling along the last axis (e.g. 48 kHz -> 44.1 kHz is 147/160)."""
    common = math.gcd(sample_rate_in, sample_rate_out)
    return resample_poly(x, sample_rate_out // common, sample_rate_in // common, axis=-1)
