"""The DCASE 2018 Task 5 official baseline network (Dekkers et al., SINS; the organisers'
dcase2018_baseline task5.yaml, read as reference; its figure: 84.5 % macro F1 on the 4
development folds, part4.md P4.12 Table 6).

Each microphone channel is a separate example (dcase_tk/data/channels.py); the input is 40
log-mel bands x 501 frames (10 s at a 20 ms hop):

    conv 40x5 (32), i.e. a 1-D conv over time across all bands, valid -> BN -> ReLU
    -> max-pool 5 over time -> dropout 0.2
    -> conv 1x3 (64), valid -> BN -> ReLU -> max over time -> dropout 0.2
    -> dense 64, ReLU -> dropout 0.2 -> dense 9 (softmax in the loss)

Init as the release (Keras 2.1): He-normal conv kernels (normal truncated at two standard
deviations, std sqrt(2 / fan_in)), uniform(-0.05, 0.05) dense kernels (Keras' ``uniform``),
zero biases. The global max makes the model take any clip of at least ``pool x kernel2 +
kernel1 - 1`` frames (19 by default); the baseline feeds whole 10 s clips.
"""
import math

import torch.nn.functional as F
from torch import nn

from dcase_tk.nnet import register


@register("sins_baseline")
class SinsBaseline(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, filters=(32, 64), kernels=(5, 3), pool=5,
                 dense=64, dropout=0.2):
        super().__init__()
        if len(filters) != 2 or len(kernels) != 2:
            raise ValueError(f"sins_baseline: two conv layers, got filters={list(filters)} "
                             f"kernels={list(kernels)}")
        self.min_frames = pool * kernels[1] + kernels[0] - 1
        self.conv1 = nn.Conv1d(n_in, filters[0], kernels[0])
        self.bn1 = nn.BatchNorm1d(filters[0])
        self.conv2 = nn.Conv1d(filters[0], filters[1], kernels[1])
        self.bn2 = nn.BatchNorm1d(filters[1])
        self.pool = pool
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(filters[1], dense)
        self.classifier = nn.Linear(dense, n_classes)
        for conv in (self.conv1, self.conv2):
            std = math.sqrt(2.0 / conv.weight[0].numel())
            nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
            nn.init.zeros_(conv.bias)
        for linear in (self.hidden, self.classifier):
            nn.init.uniform_(linear.weight, -0.05, 0.05)
            nn.init.zeros_(linear.bias)

    def forward(self, x):
        """``x``: (batch, frames, n_in) -> (batch, n_classes) logits."""
        if x.shape[1] < self.min_frames:
            raise ValueError(f"sins_baseline: needs at least {self.min_frames} frames, got {x.shape[1]}")
        h = F.relu(self.bn1(self.conv1(x.transpose(1, 2))))
        h = self.dropout(F.max_pool1d(h, self.pool))
        h = self.dropout(F.relu(self.bn2(self.conv2(h))).amax(dim=2))
        return self.classifier(self.dropout(F.relu(self.hidden(h))))
