"""The DCASE 2018 Task 2 official baseline CNN (Fonseca, Plakal, Font, Ellis et al.).

Sources: shared/published_systems/part2.md Paper 2, sections 3-4 (input: 0.25 s windows of 64
log-mel bins at a 10 ms hop, i.e. 25 x 64 patches; "three 2-D convolutional layers and
alternating max-pooling layers, followed by a softmax classifier layer"), and part2.md Paper 6 as
quoted there (filters 7x7, 5x5, 3x3; "around 658.1K" parameters). The widths and the pooling come
from the organisers' public release (the paper's footnote 9; DCASE-REPO dcase2018_baseline,
task2/model.py, read as reference): conv 7x7 (100) -> max-pool 3x3 stride 2 -> conv 5x5 (150)
-> max-pool 3x3 stride 2 -> conv 3x3 (200) -> max over time and frequency -> FC to the classes.
Convs are 'same' with ReLU, pools TensorFlow 'same' (output ceil(n / 2), the extra padding at
the end). The weights alone number 658,100 = the printed 658.1K (658,591 with the biases).

The global max makes the output independent of the input length (any number of frames >= 1);
the paper's clip prediction averages the predictions of 0.25 s windows every 0.125 s, which is
inference-side aggregation. Init as the release: truncated-normal weights (``init_std`` 1e-3,
cut at 2 standard deviations), zero biases. Outputs logits (softmax in the loss).
"""
import math

import torch.nn.functional as F
from torch import nn

from dcase_tk.nnet import register


def tf_same_max_pool(x, kernel, stride):
    """Max-pool ``x`` (batch, channels, H, W) as TensorFlow's 'SAME' padding: output
    ``ceil(n / stride)`` per axis, padding split with the larger half at the end."""
    pads = []
    for n in reversed(x.shape[2:]):
        total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=float("-inf")), kernel, stride)


@register("task2_baseline")
class Task2Baseline(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, filters=(100, 150, 200), kernels=(7, 5, 3),
                 pool=3, pool_stride=2, init_std=1e-3):
        super().__init__()
        if len(filters) != len(kernels) or not filters:
            raise ValueError(f"task2_baseline: one kernel per conv layer, got filters={list(filters)} "
                             f"kernels={list(kernels)}")
        if any(k < 1 or k % 2 == 0 for k in kernels):
            raise ValueError(f"task2_baseline: kernels must be odd ('same' padding), got {list(kernels)}")
        if init_std <= 0:
            raise ValueError(f"task2_baseline: init_std must be > 0, got {init_std}")
        self.pool, self.pool_stride = pool, pool_stride
        channels, convs = 1, []
        for c_out, k in zip(filters, kernels):
            convs.append(nn.Conv2d(channels, c_out, k, padding=k // 2))
            channels = c_out
        self.convs = nn.ModuleList(convs)
        self.classifier = nn.Linear(channels, n_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=init_std, a=-2 * init_std, b=2 * init_std)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """``x``: (batch, frames, n_in) -> (batch, n_classes) logits."""
        h = x.unsqueeze(1)
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = tf_same_max_pool(h, self.pool, self.pool_stride)
            h = F.relu(conv(h))
        return self.classifier(h.amax(dim=(2, 3)))
