"""The raw-waveform 1-D CNN "cnn-audio" of Lederle & Wilhelm (DCASE 2018 Task 2).

Source: shared/published_systems/part4.md P4.10, section 4 (Table 1 of the paper) and the
proceedings text of its section 2.1.

Input: the toolkit's ``waveform`` feature type, a mono clip stored as (frames, D) consecutive,
non-overlapping samples (frame t holds samples t*D .. t*D+D-1), so ``n_in`` is D and the model
reads ``n_frames * n_in`` samples: ``forward`` reshapes (batch, frames, D) to (batch, 1,
frames * D) and runs the 1-D CNN. Table 1 (shapes for 1 / 2 / 3 s at 44.1 kHz):

    [conv1d 11, 32] x 2  max-pool 8 (1 s model) or 16   (44100|88200|132300) -> 5512|5512|8268
    [conv1d  9, 64] x 2  max-pool 16                                         -> 344|344|516
    [conv1d  7, 128] x 2 max-pool 16                                         -> 21|21|32
    [conv1d  5, 256] x 2 max-pool 16                                         -> 1|1|2
    dense 512, softmax 41

ReLU after every conv and the dense layer, batch normalisation "after each block and after the
dense layer" (so conv -> ReLU -> conv -> ReLU -> pool -> BN, and dense -> ReLU -> BN). Convs are
'same' (the lengths of Table 1), pools floor. The dense layer takes the flattened last map
(256 or 512 values), so the model takes exactly ``n_frames`` frames; the paper predicts long
clips from crops every 5120 samples combined by geometric mean, which is inference-side
aggregation. Defaults: the 2 s / 3 s model (first pool 16); ``pools: [8, 16, 16, 16]`` is the
1 s model. Outputs logits (softmax in the loss). Keras defaults, as the authors' Keras code:
Glorot-uniform weights, zero biases, BN epsilon 1e-3 and ``bn_momentum`` 0.99 (Keras' convention:
the weight of the old running statistics).

The paper's combined "cnn-comb" (this branch and a log-mel 2-D CNN, penultimate layers
concatenated into dense 512-256-256-128) needs a waveform and a log-mel spectrogram resized to
a different frame count at the same time; one feature matrix cannot carry both, so it is not
provided here.
"""
from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.weights import check_frames, keras_init_

TABLE1_BLOCKS = ((32, 11), (64, 9), (128, 7), (256, 5))
TABLE1_POOLS = (16, 16, 16, 16)


def keras_bn(channels, momentum):
    """Batch norm with Keras' epsilon; ``momentum`` is Keras' (the weight of the old running
    statistics), PyTorch's is one minus it."""
    return nn.BatchNorm1d(channels, momentum=1 - momentum, eps=1e-3)


def conv_block(c_in, c_out, kernel, pool, convs, bn_momentum):
    """``convs`` x ('same' conv -> ReLU), max-pool, BN."""
    layers = []
    for _ in range(convs):
        layers += [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU()]
        c_in = c_out
    return nn.Sequential(*layers, nn.MaxPool1d(pool), keras_bn(c_out, bn_momentum))


def check_config(blocks, pools, convs_per_block, bn_momentum):
    blocks = [tuple(b) for b in blocks]
    if not blocks or any(len(b) != 2 for b in blocks) or len(pools) != len(blocks):
        raise ValueError(f"rawwave: blocks must be [channels, kernel] pairs, one pool size each; got "
                         f"blocks={blocks}, pools={list(pools)}")
    if any(k < 1 or k % 2 == 0 for _, k in blocks):
        raise ValueError(f"rawwave: kernels must be odd ('same' padding), got {[k for _, k in blocks]}")
    if min(pools) < 1 or convs_per_block < 1:
        raise ValueError(f"rawwave: pools and convs_per_block must be >= 1, got {list(pools)}, "
                         f"{convs_per_block}")
    if not 0 <= bn_momentum < 1:
        raise ValueError(f"rawwave: bn_momentum must be in [0, 1), got {bn_momentum}")
    return blocks


@register("rawwave")
class RawWaveCNN(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, blocks=TABLE1_BLOCKS, pools=TABLE1_POOLS,
                 convs_per_block=2, dense=512, bn_momentum=0.99):
        super().__init__()
        blocks = check_config(blocks, pools, convs_per_block, bn_momentum)
        self.n_frames = n_frames
        layers, channels, length = [], 1, n_frames * n_in
        for (c_out, kernel), pool in zip(blocks, pools):
            layers.append(conv_block(channels, c_out, kernel, pool, convs_per_block, bn_momentum))
            channels, length = c_out, length // pool
        if length < 1:
            raise ValueError(f"rawwave: {n_frames} frames x {n_in} samples = {n_frames * n_in} samples "
                             f"are too few for pools {list(pools)}; use longer crops or smaller pools")
        self.blocks = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(channels * length, dense), nn.ReLU(),
                                        keras_bn(dense, bn_momentum), nn.Linear(dense, n_classes))
        keras_init_(self)

    def forward(self, x):
        """``x``: (batch, frames, samples per frame) -> (batch, n_classes) logits."""
        check_frames("rawwave", self.n_frames, x)
        return self.classifier(self.blocks(x.reshape(x.shape[0], 1, -1)))
