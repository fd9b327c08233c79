"""The 1-D CNN x-vector network of BUT (Zeinali, Burget, Cernocky; DCASE 2018 Task 1A).

Source: shared/published_systems/part4.md P4.9, section 4 (Table 2 of the paper) and the
proceedings text of section 4.2.

- Frame level: 1-D convolutions over time, the ``n_in`` features (80 log-mel or CQT bins) as
  input channels. Table 2: kernels 3, 3, 5, 1, 1 with 128, 128, 128, 128, 256 filters, each
  Conv1D -> ReLU -> BN (that order, as printed), dropout 0.15 after every layer but the last.
  Table 2 prints "pad=1" for every layer, which is 'same' only for kernel 3 (it would shorten a
  kernel-5 output and add two all-padding frames to a kernel-1 output, and those would enter the
  statistics); all layers here are 'same' (padding ``k // 2``), so a layer keeps the frame count
  and any clip of >= 1 frame is accepted.
- Statistics pooling: mean and standard deviation of each channel over frames
  (:func:`statistics_pooling`).
- Segment level: Dense-128 -> ReLU -> BN (the x-vector layer), dropout 0.15, Dense-128 -> ReLU ->
  BN, then the class layer (softmax in the loss: the model returns logits).
- ``embed(x)``: the x-vector, "extracted at the output of the first affine transform after the
  pooling" (proceedings section 4.2), i.e. the first Dense layer before its ReLU and BN.
  Table 2 labels the whole "Dense-128-ReLU-BN" row "(x-vector)"; the text is the more precise
  statement and matches Kaldi x-vectors, so the affine output is used. The back end (RLDA to 100
  dims, class means, cosine scoring) belongs to the back-end stage, not to this module.

Weight initialisation is not given in the notes: PyTorch defaults. BN uses PyTorch defaults.
"""
import torch
from torch import nn

from dcase_tk.nnet import register

TABLE2_FRAME_LAYERS = ((128, 3), (128, 3), (128, 5), (128, 1), (256, 1))


def statistics_pooling(h, var_floor=1e-10):
    """``(batch, channels, frames)`` -> ``(batch, 2 * channels)``: the mean of each channel over
    frames, then its standard deviation (population, divided by the frame count).

    A variance at or below ``var_floor`` (one frame, or constant frames) gives a standard
    deviation of exactly 0 with a zero gradient, never NaN (the square root is not differentiable
    at 0)."""
    mean = h.mean(dim=2)
    var = (h - mean.unsqueeze(2)).pow(2).mean(dim=2)
    above = var > var_floor
    std = torch.where(above, var.clamp_min(var_floor).sqrt(), torch.zeros_like(var))
    return torch.cat([mean, std], dim=1)


def frame_layer(c_in, c_out, kernel):
    """'Same' Conv1D -> ReLU -> BN (one row of Table 2)."""
    return [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU(), nn.BatchNorm1d(c_out)]


def check_frame_layers(frame_layers):
    layers = [tuple(layer) for layer in frame_layers]
    if not layers or any(len(layer) != 2 for layer in layers):
        raise ValueError(f"xvector: frame_layers must be a non-empty list of [channels, kernel] "
                         f"pairs, got {frame_layers!r}")
    even = [k for _, k in layers if k % 2 == 0 or k < 1]
    if even:
        raise ValueError(f"xvector: frame-layer kernels must be odd ('same' padding keeps the frame "
                         f"count), got {even}")
    return layers


@register("xvector")
class XVector(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, frame_layers=TABLE2_FRAME_LAYERS, embed_dim=128,
                 hidden=128, dropout=0.15):
        super().__init__()
        layers = check_frame_layers(frame_layers)
        blocks, channels = [], n_in
        for i, (c_out, kernel) in enumerate(layers):
            blocks += frame_layer(channels, c_out, kernel)
            if i < len(layers) - 1:
                blocks.append(nn.Dropout(dropout))
            channels = c_out
        self.frame_level = nn.Sequential(*blocks)
        self.embedding = nn.Linear(2 * channels, embed_dim)
        self.segment_level = nn.Sequential(nn.ReLU(), nn.BatchNorm1d(embed_dim), nn.Dropout(dropout),
                                           nn.Linear(embed_dim, hidden), nn.ReLU(),
                                           nn.BatchNorm1d(hidden), nn.Linear(hidden, n_classes))

    def pooled(self, x):
        """``x``: (batch, frames, n_in) -> (batch, 2 * channels) frame-level statistics."""
        return statistics_pooling(self.frame_level(x.transpose(1, 2)))

    def embed(self, x):
        """The x-vector: output of the first affine layer after pooling, (batch, embed_dim)."""
        return self.embedding(self.pooled(x))

    def forward(self, x):
        """``x``: (batch, frames, n_in) -> (batch, n_classes) logits."""
        return self.segment_level(self.embed(x))
