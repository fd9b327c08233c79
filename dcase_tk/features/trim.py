"""Silence trimming before feature extraction (feature config ``trim_db``).

Task 2 clips often carry long leading or trailing silence that a crop of a few seconds may land
in: Dorfer & Widmer cut it with SoX (part4.md P4.4 section 3), Iqbal et al. with an RMS energy
threshold (P4.11 section 3). Here the audio before the first and after the last frame whose RMS
is within ``top_db`` of the clip's loudest frame is cut (``librosa.effects.trim``), measured on
the channel average with the feature's own window and hop. A clip that is silent throughout is
kept whole, so no clip loses all its frames.
"""
import librosa
import numpy as np


def trim_silence(audio, top_db, frame_length, hop_length):
    """``(samples, channels)`` audio without its leading and trailing silence."""
    mono = np.ascontiguousarray(audio.mean(axis=1), dtype=np.float32)
    if not np.any(mono):
        return audio
    _, (start, end) = librosa.effects.trim(mono, top_db=top_db, frame_length=frame_length,
                                           hop_length=hop_length)
    return audio[start:end] if end > start else audio
