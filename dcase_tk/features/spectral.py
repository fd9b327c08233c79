"""Log-mel and MFCC features computed with ``torch.stft`` and librosa's mel filterbank.

``torch.stft`` matches ``librosa.stft`` (same centring, zero padding and window placement) to
float precision but avoids librosa's numba compilation, which costs ~3 s per new process and
30+ s per new venv; every parallel feature job is a new process (see bench/feats.py).
"""
import dataclasses

import librosa
import numpy as np
import torch

from dcase_tk.config import ConfigError, dataclass_from_dict
from dcase_tk.io.audio import CHANNEL_SPECS

WINDOWS = {"hamming": torch.hamming_window, "hann": torch.hann_window,
           "blackman": torch.blackman_window}


class FeatureConfigError(ConfigError):
    pass


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Everything that defines a feature type; read from ``conf/feats/<name>.yaml``."""
    type: str = "logmel"              # logmel | mfcc
    sample_rate: int = 48000          # audio is resampled to this rate
    channels: tuple = ("mono",)       # stacked along the feature axis, channel-major
    win_length_s: float = 0.04
    hop_length_s: float = 0.02
    n_fft: int = 2048
    window: str = "hamming"           # periodic ("asymmetric") window, as librosa/scipy
    n_mels: int = 40
    fmin: float = 0.0
    fmax: float = None                # None: sample_rate / 2
    htk: bool = False
    mel_norm: str = "slaney"          # slaney | none
    power: float = 1.0                # 1: magnitude (the Task 1 baseline), 2: power
    log_offset: float = 2.220446049250313e-16  # log(mel + offset); the baseline's numpy eps
    n_mfcc: int = 20                  # mfcc only
    deltas: int = 0                   # 0, 1 (+delta) or 2 (+delta+delta-delta)
    delta_width: int = 2              # regression half-width N, as Kaldi's add-deltas

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        if "channels" in d:
            ch = d["channels"]
            d["channels"] = tuple([ch] if isinstance(ch, str) else ch)
        try:
            cfg = dataclass_from_dict(cls, d, "feature")
        except ConfigError as e:
            raise FeatureConfigError(str(e)) from None
        cfg.check()
        return cfg

    def check(self):
        if self.type not in ("logmel", "mfcc"):
            raise FeatureConfigError(f"type must be logmel or mfcc, got '{self.type}'")
        bad = [c for c in self.channels if c not in CHANNEL_SPECS]
        if bad or not self.channels:
            raise FeatureConfigError(f"channels must be a list from {CHANNEL_SPECS}, got {list(self.channels)}")
        if self.window not in WINDOWS:
            raise FeatureConfigError(f"window must be one of {sorted(WINDOWS)}, got '{self.window}'")
        if self.win_samples > self.n_fft:
            raise FeatureConfigError(
                f"window of {self.win_samples} samples ({self.win_length_s} s at {self.sample_rate} Hz) "
                f"is longer than n_fft={self.n_fft}")
        if self.deltas not in (0, 1, 2):
            raise FeatureConfigError(f"deltas must be 0, 1 or 2, got {self.deltas}")
        if self.mel_norm not in ("slaney", "none"):
            raise FeatureConfigError(f"mel_norm must be slaney or none, got {self.mel_norm}")

    @property
    def win_samples(self):
        return int(round(self.win_length_s * self.sample_rate))

    @property
    def hop_samples(self):
        return int(round(self.hop_length_s * self.sample_rate))

    @property
    def base_dim(self):
        return self.n_mfcc if self.type == "mfcc" else self.n_mels

    @property
    def dim(self):
        return self.base_dim * (1 + self.deltas) * len(self.channels)


class FeatureExtractor:
    """Turns ``(channels, samples)`` audio into a ``(frames, dim)`` float32 matrix."""

    def __init__(self, config):
        self.config = c = config
        self.window = WINDOWS[c.window](c.win_samples, periodic=True, dtype=torch.float64)
        mel = librosa.filters.mel(sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin,
                                  fmax=c.fmax, htk=c.htk,
                                  norm=None if c.mel_norm == "none" else "slaney", dtype=np.float64)
        self.mel = torch.from_numpy(mel)
        self.dct = torch.from_numpy(_dct_matrix(c.n_mels, c.n_mfcc)) if c.type == "mfcc" else None

    def log_mel(self, signals):
        """``(channels, samples)`` -> ``(channels, frames, n_mels)`` natural-log mel energies."""
        c = self.config
        x = torch.as_tensor(np.ascontiguousarray(signals), dtype=torch.float64)
        spec = torch.stft(x, n_fft=c.n_fft, hop_length=c.hop_samples, win_length=c.win_samples,
                          window=self.window, center=True, pad_mode="constant", return_complex=True)
        magnitude = spec.abs() ** c.power                      # (channels, bins, frames)
        mel = torch.matmul(self.mel, magnitude)                # (channels, n_mels, frames)
        return torch.log(mel + c.log_offset).transpose(1, 2)

    def __call__(self, signals):
        feats = self.log_mel(signals)
        if self.dct is not None:
            feats = feats @ self.dct
        feats = feats.numpy()
        blocks = [feats]
        for _ in range(self.config.deltas):
            blocks.append(deltas(blocks[-1], self.config.delta_width))
        # (channels, frames, dim*(1+deltas)) -> (frames, channels*dim*(1+deltas)), channel-major
        stacked = np.concatenate(blocks, axis=2)
        return np.ascontiguousarray(stacked.transpose(1, 0, 2).reshape(stacked.shape[1], -1),
                                    dtype=np.float32)


def _dct_matrix(n_in, n_out):
    """Orthonormal DCT-II basis ``(n_in, n_out)``, as ``scipy.fft.dct(type=2, norm='ortho')``."""
    n = np.arange(n_in)
    k = np.arange(n_out)
    basis = np.cos(np.pi / n_in * (n[:, None] + 0.5) * k[None, :]) * np.sqrt(2.0 / n_in)
    basis[:, 0] /= np.sqrt(2.0)
    return basis


def deltas(feats, width=2):
    """Regression deltas over the frame axis (axis -2), edges replicated, as Kaldi's add-deltas."""
    frames = feats.shape[-2]
    padded = np.concatenate([np.repeat(feats[..., :1, :], width, axis=-2), feats,
                             np.repeat(feats[..., -1:, :], width, axis=-2)], axis=-2)
    num = sum(t * (padded[..., width + t:width + t + frames, :] - padded[..., width - t:width - t + frames, :])
              for t in range(1, width + 1))
    return num / (2 * sum(t * t for t in range(1, width + 1)))
