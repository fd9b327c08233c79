"""The DCASE 2018 Task 1 official baseline CNN (Mesaros, Heittola, Virtanen 2018).

Two conv blocks (32 then 64 filters, 7x7, 'same'), each BN -> ReLU -> max-pool -> dropout, the
pools 5x5 then 4x100 so a 40 x 500 log-mel input ends as 64 x 2 x 1; then dense 100 (ReLU,
dropout) and the class layer. Keras defaults of the reference code are kept: Glorot-uniform
weights, zero biases, BatchNorm momentum 0.99 / epsilon 1e-3. Outputs logits (softmax is in the
loss and at inference).

The model splits into an encoder (the conv blocks) and a label classifier (the dense layers):
``encode``/``classify``, the split adversarial domain adaptation trains (Gharib et al.'s "DCASE
model", dcase_tk/train/adversarial.py).
"""
from torch import nn

from dcase_tk.nnet import register
from dcase_tk.nnet.weights import keras_init_


@register("cnn_baseline")
class CnnBaseline(nn.Module):
    def __init__(self, n_in, n_classes, n_frames, filters=(32, 64), kernel_size=7,
                 pool_sizes=((5, 5), (4, 100)), dropout=0.3, hidden=100):
        super().__init__()
        blocks, channels, size = [], 1, (n_in, n_frames)
        for n_filters, pool in zip(filters, pool_sizes):
            blocks += [nn.Conv2d(channels, n_filters, kernel_size, padding=kernel_size // 2),
                       nn.BatchNorm2d(n_filters, momentum=0.01, eps=1e-3),
                       nn.ReLU(),
                       nn.MaxPool2d(tuple(pool)),
                       nn.Dropout(dropout)]
            channels = n_filters
            size = (size[0] // pool[0], size[1] // pool[1])
        if min(size) < 1:
            raise ValueError(f"input {n_in} x {n_frames} is too small for pools {pool_sizes}")
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(channels * size[0] * size[1], hidden),
                                        nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))
        keras_init_(self)

    def encode(self, x):
        """``x``: (batch, frames, n_in) features -> the conv blocks' output (batch, filters, f, t)."""
        return self.features(x.transpose(1, 2).unsqueeze(1))

    def classify(self, h):
        """The encoder's output -> (batch, n_classes) logits (flatten and the dense layers)."""
        return self.classifier(h)

    def forward(self, x):
        """``x``: (batch, frames, n_in) features -> (batch, n_classes) logits."""
        return self.classify(self.encode(x))
