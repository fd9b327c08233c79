"""Audio reading: soundfile for the decoding, polyphase resampling, channel selection."""
import math

import numpy as np
import soundfile as sf

from dcase_tk.errors import UserError


class AudioError(UserError, RuntimeError):
    """Audio that cannot be used; the message names the file and the reason."""


def read_audio(path, sample_rate=None):
    """Read ``path`` as float32 ``(samples, channels)``, resampled to ``sample_rate`` if given."""
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError) as e:
        raise AudioError(f"{path}: cannot read audio: {e}") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file has no samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: the audio contains NaN or infinite samples")
    if sample_rate and rate != sample_rate:
        from scipy.signal import resample_poly  # 0.5 s to import; most corpora need no resampling
        g = math.gcd(int(rate), int(sample_rate))
        data = resample_poly(data, sample_rate // g, rate // g, axis=0).astype(np.float32)
        rate = sample_rate
    return data, rate


def select_channels(data, specs):
    """Derive the requested channels from ``(samples, channels)`` audio.

    ``mono`` averages all channels; ``left``/``right`` pick channel 0/1; ``mid``/``side`` are
    (L+R)/2 and (L-R)/2. Mono input serves as both left and right (so ``side`` is silence).
    Returns ``(len(specs), samples)``.
    """
    left = data[:, 0]
    right = data[:, 1] if data.shape[1] > 1 else left
    derive = {
        # a matrix-vector product: numpy's mean over a short last axis is several times slower
        "mono": lambda: data @ np.full(data.shape[1], 1.0 / data.shape[1], dtype=data.dtype),
        "left": lambda: left,
        "right": lambda: right,
        "mid": lambda: 0.5 * (left + right),
        "side": lambda: 0.5 * (left - right),
    }
    return np.stack([derive[s]() for s in specs])
