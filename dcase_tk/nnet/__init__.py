"""Neural network models, registered by name so a system YAML can name one (``model.name``).

``dcase_tk.nnet`` knows nothing of files: a model is built from a config dict, the input
feature dimension and the number of classes. Every module of this package is imported when a
model is built, so a new family is a new file with ``@register("name")`` on its class.

The contract every model follows:

- ``__init__(self, n_in, n_classes, n_frames, **config)``: ``n_in`` features per frame,
  ``n_frames`` the training input length (a model that pools globally may ignore it).
- ``forward(x)``: ``x`` is ``(batch, frames, n_in)``; returns clip-level outputs
  ``(batch, n_classes)``.
- ``output``: ``"logits"`` (the default: softmax or sigmoid is applied by the loss and at
  inference) or ``"probs"`` (the model already returns probabilities in [0, 1], e.g. attention
  pooling of sigmoid frame outputs).
- Optional ``frame_outputs(x)``: frame-level class probabilities ``(batch, frames', n_classes)``
  for sound event detection; ``frames'`` may be ``frames`` divided by the model's time pooling
  (inference stretches it back to the input frame rate).
- Optional ``embed(x)``: a fixed-size embedding ``(batch, dim)`` per input (x-vectors).
- Optional encoder/classifier split, ``encode(x)`` and ``classify(h)`` with ``forward(x) ==
  classify(encode(x))``: ``encode`` maps ``(batch, frames, n_in)`` to a representation ``h``
  ``(batch, ...)`` (any shape; a consumer that needs vectors flattens it) and ``classify`` maps
  ``h`` to the outputs. The classifier is the submodules ``classify`` calls; it may not call a
  submodule ``encode`` calls. Adversarial domain adaptation (:mod:`dcase_tk.train.adversarial`)
  needs it: it adapts the encoder to a new domain and keeps the classifier. ``cnn_baseline``
  has it.
"""
import importlib
import pkgutil

MODELS = {}


def register(name):
    def wrap(cls):
        if name in MODELS:
            raise ValueError(f"model '{name}' registered twice")
        MODELS[name] = cls
        return cls
    return wrap


def _import_families():
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def build_model(config, n_in, n_classes, n_frames):
    """Build the model ``config['name']`` with the rest of ``config`` as keyword arguments."""
    _import_families()
    config = dict(config)
    name = config.pop("name", None)
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}'; registered: {sorted(MODELS)}")
    try:
        return MODELS[name](n_in=n_in, n_classes=n_classes, n_frames=n_frames, **config)
    except TypeError as e:
        raise ValueError(f"model '{name}': {e}") from None


def output_kind(model):
    """``"logits"`` or ``"probs"``: what ``model(x)`` returns (see the module docstring)."""
    kind = getattr(model, "output", "logits")
    if kind not in ("logits", "probs"):
        raise ValueError(f"{type(model).__name__}.output must be 'logits' or 'probs', got {kind!r}")
    return kind
