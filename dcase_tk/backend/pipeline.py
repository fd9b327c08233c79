"""A back end as configured in a system's ``backend:`` section: transforms, then a classifier.

    backend:
      transforms: [center, lda, length_norm]       # any of center|lda|wccn|length_norm, in order
      lda: {dims: 100, reg: 0.001, between_reg: 0.01}   # options of a listed transform
      classifier: {name: cosine, scale: 10.0}       # the classifier and its options

That example is BUT's x-vector back end (published_systems/part4.md, P4.9 §4); Jung et al.'s
i-vector back ends (part3.md, P2 §4) are ``transforms: []`` with an ``svm``, ``gaussian`` or
``mlp`` classifier. The components are in transforms.py, lda.py, cosine.py, plda.py,
gaussian.py, logistic.py, svm.py and mlp.py; docs/backends.md lists them with their options.

A trained pipeline is a directory of plain files, written atomically:

- ``backend.npz``: every component's fitted arrays, keys prefixed by the component's name
  (``lda.transform``, ``cosine.means``; a transform listed twice gets ``center#2.`` and so on for
  its later occurrences), and a ``format`` tag. Loaded with ``allow_pickle=False``: nothing in
  it can run code.
- ``backend.yaml``: the resolved section (every option with its value, defaults included), from
  which ``load`` rebuilds the components.
- ``classes.txt``: the classes in score-column order.
"""
import os

import numpy as np

from dcase_tk import config as cfg
from dcase_tk.backend.base import training_data
from dcase_tk.backend.cosine import Cosine
from dcase_tk.backend.gaussian import Gaussian
from dcase_tk.backend.lda import LDA
from dcase_tk.backend.logistic import Logistic
from dcase_tk.backend.mlp import MLP
from dcase_tk.backend.plda import PLDA
from dcase_tk.backend.svm import SVM
from dcase_tk.backend.transforms import WCCN, Center, LengthNorm
from dcase_tk.io.atomic import atomic_open
from dcase_tk.io.table import read_list, write_list

TRANSFORMS = {c.name: c for c in (Center, LDA, WCCN, LengthNorm)}
CLASSIFIERS = {c.name: c for c in (Cosine, PLDA, Gaussian, Logistic, SVM, MLP)}
FORMAT = "dcase_tk.backend.pipeline/1"
FILES = ("backend.npz", "backend.yaml", "classes.txt")


def _known(names):
    return ", ".join(sorted(names))


def _options(section, what):
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ValueError(f"backend {what}: options must be a mapping (e.g. {{reg: 0.001}}); got {section!r}")
    return dict(section)


def _prefixes(names):
    """``name.`` for each component's first occurrence, ``name#k.`` for its k-th."""
    seen = {}
    prefixes = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        prefixes.append(f"{name}." if seen[name] == 1 else f"{name}#{seen[name]}.")
    return prefixes


class Pipeline:
    """Transforms applied in order, then a classifier: ``fit``, ``posteriors``, ``save``, ``load``."""

    def __init__(self, transforms, classifier):
        self.transforms = list(transforms)
        self.classifier = classifier

    @classmethod
    def from_config(cls, section):
        """A pipeline from a ``backend:`` section (see the module doc); ValueError naming the
        known names for an unknown key, transform, classifier or option."""
        if not isinstance(section, dict):
            raise ValueError(f"the backend section must be a mapping; got {section!r}")
        names = section.get("transforms") or []
        if not isinstance(names, list):
            raise ValueError(f"backend transforms must be a list, e.g. [center, lda, length_norm]; got {names!r}")
        unknown = [n for n in names if n not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown backend transform(s) {unknown}; known: {_known(TRANSFORMS)}")
        keys = set(section) - {"transforms", "classifier"}
        unknown = sorted(keys - set(TRANSFORMS))
        if unknown:
            raise ValueError(f"unknown backend key(s) {unknown}; known: transforms, classifier and "
                             f"the options of a listed transform ({_known(TRANSFORMS)})")
        unused = sorted(keys - set(names))
        if unused:
            raise ValueError(f"backend options for {unused}, which the transforms list {names} does "
                             "not include; add them to transforms or remove their options")
        transforms = [TRANSFORMS[n](**_options(section.get(n), n)) for n in names]
        return cls(transforms, _classifier(section.get("classifier")))

    def config(self):
        """The resolved ``backend:`` section: every option with its value."""
        section = {"transforms": [t.name for t in self.transforms]}
        for transform in self.transforms:
            if transform.OPTIONS:
                section[transform.name] = dict(transform.options)
        section["classifier"] = {"name": self.classifier.name, **self.classifier.options}
        return section

    def fit(self, X, labels, n_classes):
        """Fit every component in turn on training embeddings ``(N, D)`` with class indices
        ``labels`` in ``0 .. n_classes - 1``."""
        X, labels = training_data(X, labels, n_classes)
        for transform in self.transforms:
            X = transform.fit(X, labels, n_classes).transform(X)
        self.classifier.fit(X, labels, n_classes)
        return self

    def transform(self, X):
        """The embeddings the classifier sees."""
        for transform in self.transforms:
            X = transform.transform(X)
        return X

    def scores(self, X):
        """The classifier's raw ``(N, C)`` scores of embeddings ``(N, D)``."""
        return self.classifier.scores(self.transform(X))

    def posteriors(self, X):
        """``(N, C)`` class posteriors of embeddings ``(N, D)``; every row sums to 1."""
        return self.classifier.posteriors(self.transform(X))

    def components(self):
        """``(prefix, component)`` of each transform, then of the classifier."""
        parts = [*self.transforms, self.classifier]
        return list(zip(_prefixes([p.name for p in parts]), parts))

    def save(self, directory, classes):
        """Write ``backend.npz``, ``backend.yaml`` and ``classes.txt`` (module doc) to ``directory``."""
        classes = list(classes)
        if self.classifier.state is None:
            raise ValueError("backend pipeline: save before fit")
        if len(classes) != self.classifier.n_classes:
            raise ValueError(f"{len(classes)} class names for a back end of {self.classifier.n_classes} classes")
        arrays = {"format": np.array(FORMAT)}
        for prefix, component in self.components():
            arrays.update({prefix + key: np.asarray(value) for key, value in component.state_dict().items()})
        objects = [key for key, value in arrays.items() if value.dtype == object]
        if objects:
            raise ValueError(f"backend state {objects} is not plain numbers (a bug in that component)")
        os.makedirs(directory, exist_ok=True)
        with atomic_open(os.path.join(directory, "backend.npz"), "wb") as f:
            np.savez(f, **arrays)
        cfg.save(self.config(), os.path.join(directory, "backend.yaml"))
        write_list(os.path.join(directory, "classes.txt"), classes)

    @classmethod
    def load(cls, directory):
        """``(pipeline, classes)`` from a directory written by ``save``."""
        missing = [name for name in FILES if not os.path.isfile(os.path.join(directory, name))]
        if missing:
            raise FileNotFoundError(f"{directory}: no {', '.join(missing)}; not a trained back end "
                                    "(train one with steps/train_backend.sh)")
        configured = cls.from_config(cfg.load_yaml(os.path.join(directory, "backend.yaml")))
        with np.load(os.path.join(directory, "backend.npz"), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        if arrays.get("format") != FORMAT:
            raise ValueError(f"{directory}/backend.npz: not a back end written by "
                             "dcase_tk.backend.pipeline.Pipeline.save")
        parts = []
        for prefix, component in configured.components():
            state = {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}
            parts.append(type(component).from_state_dict(state, component.options))
        pipeline = cls(parts[:-1], parts[-1])
        classes = read_list(os.path.join(directory, "classes.txt"))
        if len(classes) != pipeline.classifier.n_classes:
            raise ValueError(f"{directory}: classes.txt has {len(classes)} classes, the back end "
                             f"{pipeline.classifier.n_classes}")
        return pipeline, classes


def _classifier(section):
    if not isinstance(section, dict) or "name" not in section:
        raise ValueError("the backend section needs classifier: {name: ..., <options>} with a name "
                         f"from: {_known(CLASSIFIERS)}")
    options = dict(section)
    name = options.pop("name")
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown backend classifier '{name}'; known: {_known(CLASSIFIERS)}")
    return CLASSIFIERS[name](**options)
