"""Log-mel and MFCC features computed with ``torch.stft`` and librosa's mel filterbank.

``torch.stft`` matches ``librosa.stft`` (same centring, zero padding and window placement) to
float precision but avoids librosa's numba compilation, which costs ~3 s per new process and
30+ s per new venv; every parallel feature job is a new process (see bench/feats.py).

With an ``nnf:`` section the mel energies (before the log) are also nearest-neighbour filtered
(dcase_tk.features.nnf) and go through the same log, DCT and deltas: ``output: nnf`` gives those
features alone, ``output: stack`` ``[features, NNF features]`` per frame.
"""
import librosa
import numpy as np
import torch

from dcase_tk.features.nnf import nn_filter

WINDOW_FUNCTIONS = {"hamming": torch.hamming_window, "hann": torch.hann_window,
                    "blackman": torch.blackman_window}


class FeatureExtractor:
    """Turns ``(channels, samples)`` audio into a ``(frames, dim)`` float32 matrix."""

    def __init__(self, config):
        self.config = c = config
        if c.type == "waveform":
            return
        self.window = WINDOW_FUNCTIONS[c.window](c.win_samples, periodic=True, dtype=torch.float32)
        mel = librosa.filters.mel(sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin,
                                  fmax=c.fmax, htk=c.htk,
                                  norm=None if c.mel_norm == "none" else "slaney", dtype=np.float32)
        self.mel = torch.from_numpy(mel)
        self.dct = torch.from_numpy(_dct_matrix(c.n_mels, c.n_mfcc).astype(np.float32)) if c.type == "mfcc" else None

    def mel_energies(self, signals):
        """``(channels, samples)`` -> ``(channels, frames, n_mels)`` mel energies (``power``)."""
        c = self.config
        x = torch.as_tensor(np.ascontiguousarray(signals), dtype=torch.float32)
        spec = torch.stft(x, n_fft=c.n_fft, hop_length=c.hop_samples, win_length=c.win_samples,
                          window=self.window, center=True, pad_mode="constant", return_complex=True)
        magnitude = spec.abs() ** c.power                      # (channels, bins, frames)
        return torch.matmul(self.mel, magnitude).transpose(1, 2)

    def log_mel(self, signals):
        """``(channels, samples)`` -> ``(channels, frames, n_mels)`` natural-log mel energies."""
        return torch.log(self.mel_energies(signals) + self.config.log_offset)

    def _features(self, mel):
        """``(channels, frames, n_mels)`` mel energies -> ``(frames, dim)`` features."""
        feats = torch.log(mel + self.config.log_offset)
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

    def __call__(self, signals):
        c = self.config
        if c.type == "waveform":
            return frame_waveform(signals, c.hop_samples)
        mel = self.mel_energies(signals)
        if c.nnf is None:
            return self._features(mel)
        filtered = torch.from_numpy(nn_filter(mel.numpy(), c.nnf.k, c.nnf.metric, c.nnf.aggregate, c.nnf.width,
                                               c.nnf.select))
        if c.nnf.output == "nnf":
            return self._features(filtered)
        return np.concatenate([self._features(mel), self._features(filtered)], axis=1)


def frame_waveform(signals, frame_samples):
    """Raw audio as a ``(frames, channels * frame_samples)`` matrix for raw-waveform models:
    frame ``t`` of a channel holds samples ``t * frame_samples`` onwards, without overlap, so the
    ark/scp pipeline (crops, CMVN, batching) carries waveforms like any other feature. A trailing
    partial frame is dropped."""
    x = np.asarray(signals, dtype=np.float32)
    frames = x.shape[1] // frame_samples
    if frames == 0:
        raise ValueError(f"audio of {x.shape[1]} samples is shorter than one frame ({frame_samples})")
    blocks = x[:, :frames * frame_samples].reshape(x.shape[0], frames, frame_samples)
    return np.ascontiguousarray(blocks.transpose(1, 0, 2).reshape(frames, -1))


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
