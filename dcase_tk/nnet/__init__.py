"""Neural network models, registered by name so a system YAML can name one (``model.name``).

``dcase_tk.nnet`` knows nothing of files: a model is built from a config dict, the input
feature dimension and the number of classes.
"""
import importlib

MODELS = {}
_MODULES = ("dcase_tk.nnet.cnn_baseline",)


def register(name):
    def wrap(cls):
        if name in MODELS:
            raise ValueError(f"model '{name}' registered twice")
        MODELS[name] = cls
        return cls
    return wrap


def build_model(config, n_in, n_classes, n_frames):
    """Build the model ``config['name']`` with the rest of ``config`` as keyword arguments."""
    for module in _MODULES:
        importlib.import_module(module)
    config = dict(config)
    name = config.pop("name", None)
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}'; registered: {sorted(MODELS)}")
    return MODELS[name](n_in=n_in, n_classes=n_classes, n_frames=n_frames, **config)
