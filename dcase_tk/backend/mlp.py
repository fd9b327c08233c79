"""A multi-layer perceptron on embeddings: the ``mlp`` classifier.

Jung et al.'s i-vector model (published_systems/part3.md, P2 §4): four fully connected layers of
512 units, L2 regularisation, softmax output trained with categorical cross-entropy. The paper
gives no optimiser, learning rate, epochs or batch size (§5), so those are options with our
defaults (Adam, lr 0.001, 50 epochs, batches of 64). Our choices besides:

- ReLU hidden units, He-uniform weights and zero biases;
- inputs standardised by the training mean and standard deviation (part of the state), since
  i-vectors are not scaled for a network;
- the L2 penalty is ``weight_decay`` in Adam (added to the gradient, like Keras's L2 kernel
  regulariser on the loss) and applies to every weight and bias;
- ``dropout`` after each hidden layer (0 by default; the paper mentions none).

Training is deterministic given ``seed``: one ``torch.Generator`` draws the initial weights, the
batch order and the dropout masks, and the global torch random state is not touched. The state
is plain arrays: ``mean``, ``std`` and ``weight.<i>``, ``bias.<i>`` of the i-th linear layer;
``scores`` are the logits of the network in eval mode, ``posteriors`` their softmax.
"""
import logging
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from dcase_tk.backend.base import Classifier, training_data

log = logging.getLogger("dcase_tk")


class SeededDropout(torch.nn.Module):
    """Dropout whose masks come from ``generator`` (torch's own uses the global random state)."""

    def __init__(self, p, generator):
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x):
        if not self.training:
            return x
        keep = torch.rand(x.shape, generator=self.generator) >= self.p
        return x * keep / (1 - self.p)


def build_network(sizes, dropout=0.0, generator=None):
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ReLU (and dropout) between them;
    parameters left uninitialised (``skip_init``: no draw from the global random state)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(torch.nn.ReLU())
            if dropout > 0:
                layers.append(SeededDropout(dropout, generator))
        layers.append(torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out))
    return torch.nn.Sequential(*layers)


def linear_layers(network):
    return [layer for layer in network if isinstance(layer, torch.nn.Linear)]


class MLP(Classifier):
    """Jung et al.'s i-vector MLP (see the module doc)."""

    name = "mlp"
    OPTIONS = {"hidden": [512, 512, 512, 512], "lr": 1e-3, "weight_decay": 1e-4, "epochs": 50,
               "batch_size": 64, "dropout": 0.0, "seed": 0}
    STATE = ("mean", "std")

    def check_options(self):
        hidden = self.options["hidden"]
        if not isinstance(hidden, (list, tuple)) or not all(
                isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in hidden):
            raise ValueError(f"backend mlp: hidden = {hidden!r} must be a list of layer widths, "
                             "e.g. [512, 512, 512, 512] (or [] for none)")
        self.options["hidden"] = [int(n) for n in hidden]
        self.check_number("lr", 0, strict=True)
        self.check_number("weight_decay", 0, strict=False)
        self.check_number("epochs", 1, strict=False, integer=True)
        self.check_number("batch_size", 1, strict=False, integer=True)
        self.check_number("dropout", 0, strict=False)
        if self.options["dropout"] >= 1:
            raise ValueError(f"backend mlp: dropout = {self.options['dropout']} must be below 1")
        self.check_number("seed", 0, strict=False, integer=True)

    @property
    def input_dim(self):
        return self.state["mean"].shape[0]

    @property
    def n_classes(self):
        return self.state[f"bias.{len(self.options['hidden'])}"].shape[0]

    def fit(self, X, labels, n_classes):
        X, labels = training_data(X, labels, n_classes)
        mean, std = X.mean(axis=0), X.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        generator = torch.Generator().manual_seed(self.options["seed"])
        network = build_network([X.shape[1], *self.options["hidden"], n_classes], self.options["dropout"],
                                generator)
        for layer in linear_layers(network):
            torch.nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu", generator=generator)
            torch.nn.init.zeros_(layer.bias)
        inputs = torch.as_tensor((X - mean) / std, dtype=torch.float32)
        self._train(network, inputs, torch.as_tensor(labels), generator)
        self.state = {"mean": mean, "std": std}
        for i, layer in enumerate(linear_layers(network)):
            self.state[f"weight.{i}"] = layer.weight.detach().numpy().copy()
            self.state[f"bias.{i}"] = layer.bias.detach().numpy().copy()
        return self

    def _train(self, network, inputs, targets, generator):
        options = self.options
        optimizer = torch.optim.Adam(network.parameters(), lr=options["lr"],
                                     weight_decay=options["weight_decay"])
        network.train()
        for epoch in range(options["epochs"]):
            order = torch.randperm(len(inputs), generator=generator)
            total = 0.0
            for start in range(0, len(inputs), options["batch_size"]):
                batch = order[start:start + options["batch_size"]]
                loss = F.cross_entropy(network(inputs[batch]), targets[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            log.debug("mlp epoch %d: training loss %.4f", epoch + 1, total / len(inputs))
        log.info("mlp: %d epochs, last epoch's training loss %.4f", options["epochs"], total / len(inputs))

    def checked_state(self, state):
        """The base checks, plus ``weight.<i>``/``bias.<i>`` for exactly the layers ``hidden``
        says, of matching shapes."""
        checked = super().checked_state(state)
        hidden = self.options["hidden"]
        keys = [f"{kind}.{i}" for i in range(len(hidden) + 1) for kind in ("weight", "bias")]
        layer_keys = sorted(k for k in state if k.startswith(("weight.", "bias.")))
        if layer_keys != sorted(keys):
            raise ValueError(f"not a saved backend mlp with hidden {hidden}: it has layers "
                             f"{layer_keys}; retrain it with steps/train_backend.sh")
        checked.update({key: np.asarray(state[key]) for key in keys})
        inputs = checked["mean"].shape[0]
        for i, outputs in enumerate([*hidden, None]):
            weight, bias = checked[f"weight.{i}"], checked[f"bias.{i}"]
            if (weight.ndim != 2 or weight.shape[1] != inputs or outputs not in (None, weight.shape[0])
                    or bias.shape != weight.shape[:1]):
                raise ValueError(f"saved backend mlp: layer {i} has weight {weight.shape} and bias "
                                 f"{bias.shape}, not a layer of {inputs} inputs and hidden {hidden}")
            inputs = weight.shape[0]
        return checked

    def network(self):
        """The fitted network, in eval mode."""
        self.require_fitted()
        sizes = [self.input_dim, *self.options["hidden"], self.n_classes]
        network = build_network(sizes)
        with torch.no_grad():
            for i, layer in enumerate(linear_layers(network)):
                layer.weight.copy_(torch.as_tensor(self.state[f"weight.{i}"]))
                layer.bias.copy_(torch.as_tensor(self.state[f"bias.{i}"]))
        return network.eval()

    def scores(self, X):
        """``(N, C)`` logits of the standardised embeddings."""
        X = self.checked_input(X)
        inputs = torch.as_tensor((X - self.state["mean"]) / self.state["std"], dtype=torch.float32)
        with torch.no_grad():
            return self.network()(inputs).double().numpy()
