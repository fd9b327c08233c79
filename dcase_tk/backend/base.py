"""What every back-end component shares: checked options, checked data, fitted state as plain
arrays, and the small numerical helpers (class statistics, length norm, Gaussian densities).

A component is a transform (``center``, ``lda``, ``wccn``, ``length_norm``) or a classifier
(``cosine``, ``plda``, ``gaussian``, ``logistic``, ``svm``, ``mlp``); dcase_tk.backend.pipeline
chains them from a system config's ``backend:`` section (docs/backends.md). Each one

- takes its options as keyword arguments, checked against ``OPTIONS`` (name -> default): an
  unknown name or a bad value is a ValueError that says what to write instead;
- is fitted by ``fit(X, labels, n_classes)`` on float64 ``(N, D)`` embeddings and class indices
  ``0 .. n_classes - 1``, every class present (a class without examples has no mean, no model);
- keeps what it learnt in ``self.state``, a dict of numpy arrays (None before fit), saved as is
  and restored by ``from_state_dict(state, options)``: no pickled objects, so loading a back end
  runs no code (the design rule of DESIGN.md §5: plain state dicts).
"""
import numbers

import numpy as np
import scipy.linalg
from scipy.special import softmax

LOG_2PI = np.log(2 * np.pi)
MIN_EIGENVALUE_RATIO = 1e-12       # smallest / largest eigenvalue of a usable covariance


class Component:
    """A back-end step with checked ``options`` and a fitted ``state`` of arrays (see module doc).

    Subclasses define ``fit(X, labels, n_classes)``, the ``input_dim`` property (the embedding
    dimension they take once fitted), and ``transform(X)`` (transforms) or ``scores(X)`` and
    ``n_classes`` (classifiers).
    """

    name = ""
    OPTIONS = {}        # option name -> default
    STATE = ()          # keys of ``state`` once fitted

    def __init__(self, **options):
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            known = ", ".join(sorted(self.OPTIONS)) or "none"
            raise ValueError(f"backend {self.name}: unknown option(s) {unknown}; known: {known}")
        self.options = {**self.OPTIONS, **options}
        self.check_options()
        self.state = None

    def check_options(self):
        """Raise ValueError for an option value that cannot work (subclasses check theirs)."""

    def state_dict(self):
        """The fitted arrays, keyed as in ``STATE``; ValueError before fit."""
        self.require_fitted()
        return dict(self.state)

    @classmethod
    def from_state_dict(cls, state, options):
        """A fitted component from ``state_dict()``'s arrays and the options it was built with."""
        component = cls(**options)
        component.state = component.checked_state(state)
        return component

    def checked_state(self, state):
        missing = [key for key in self.STATE if key not in state]
        if missing:
            raise ValueError(f"not a saved backend {self.name}: {', '.join(missing)} missing; "
                             "retrain it with steps/train_backend.sh")
        return {key: np.asarray(state[key]) for key in self.STATE}

    def require_fitted(self):
        if self.state is None:
            raise ValueError(f"backend {self.name} used before fit (or load)")

    def checked_input(self, X):
        """``X`` as a float64 ``(N, input_dim)`` array, after checking the component is fitted."""
        self.require_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"backend {self.name}: embeddings must be (N, {self.input_dim}); "
                             f"got shape {X.shape} (embeddings of another extractor?)")
        return X

    # option checks, each naming the option and a value that works

    def check_number(self, key, low, strict, integer=False):
        value = self.options[key]
        kind = int if integer else numbers.Real
        if (isinstance(value, bool) or not isinstance(value, kind)
                or (value <= low if strict else value < low)):
            what = "an integer" if integer else "a number"
            raise ValueError(f"backend {self.name}: {key} = {value!r} must be {what} "
                             f"{'>' if strict else '>='} {low} (default {self.OPTIONS[key]!r})")

    def check_choice(self, key, choices):
        value = self.options[key]
        if value not in choices:
            raise ValueError(f"backend {self.name}: {key} = {value!r}; known: {', '.join(choices)}")


class Classifier(Component):
    """A component that scores classes: ``scores(X) -> (N, C)`` (subclasses), and
    ``posteriors(X)``, rows that sum to 1."""

    def posteriors(self, X):
        """Softmax of the scores (log-likelihoods or logits): equal class priors."""
        return softmax(self.scores(X), axis=1)


class ClassMeansClassifier(Classifier):
    """A classifier whose state holds one mean per class, ``means (C, D)``."""

    @property
    def input_dim(self):
        return self.state["means"].shape[1]

    @property
    def n_classes(self):
        return self.state["means"].shape[0]


def training_data(X, labels, n_classes):
    """``X`` as a finite float64 ``(N, D)`` array and ``labels`` as int class indices with every
    class ``0 .. n_classes - 1`` present; ValueError saying what is wrong otherwise."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"embeddings must be a non-empty (N, D) array; got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("embeddings contain NaN or infinite values")
    if labels.shape != (X.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {X.shape[0]} integers, one per embedding; "
                         f"got shape {labels.shape}, dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must be class indices 0 .. {n_classes - 1}; "
                         f"got {labels.min()} .. {labels.max()}")
    empty = np.flatnonzero(np.bincount(labels, minlength=n_classes) == 0)
    if empty.size:
        raise ValueError(f"classes {empty.tolist()} have no training example; train on data that "
                         "covers every class (or drop the class from classes.txt)")
    return X, labels


def class_stats(X, labels, n_classes):
    """``(counts (C,), sums (C, D))`` of the rows of ``X`` per class."""
    sums = np.zeros((n_classes, X.shape[1]))
    np.add.at(sums, labels, X)
    return np.bincount(labels, minlength=n_classes).astype(np.float64), sums


def class_means(X, labels, n_classes):
    """``(n_classes, D)`` mean embedding of each class (checked as in ``training_data``)."""
    X, labels = training_data(X, labels, n_classes)
    counts, sums = class_stats(X, labels, n_classes)
    return sums / counts[:, None]


def length_norm(X):
    """Rows of ``X`` scaled to unit Euclidean length (rows of zeros stay zero)."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=-1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def relative_ridge(covariance, reg):
    """``covariance + reg * trace(covariance) / D * I``: a ridge in units of the mean variance,
    so that ``reg`` does not depend on the scale of the embeddings (as the LDA's, lda.py)."""
    dim = covariance.shape[0]
    return covariance + reg * np.trace(covariance) / dim * np.eye(dim)


def require_positive_definite(matrices, message):
    """ValueError(``message``) unless ``matrices`` (one symmetric matrix, or a stack) are
    positive definite, with eigenvalues above ``MIN_EIGENVALUE_RATIO`` times their largest (a
    Cholesky factorisation alone lets rounding errors pass for a tiny positive pivot)."""
    values = np.linalg.eigvalsh(matrices)
    if np.any(values[..., 0] <= MIN_EIGENVALUE_RATIO * values[..., -1]):
        raise ValueError(message)


def gaussian_logpdf(residuals, covariance):
    """``log N(r; 0, covariance)`` of each row ``r`` of ``residuals``; ValueError if the
    covariance is not positive definite."""
    try:
        chol = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise ValueError("a covariance matrix is singular: too few embeddings per dimension; "
                         "raise the component's reg option (e.g. 0.01)") from None
    z = scipy.linalg.solve_triangular(chol, residuals.T, lower=True)
    dim = covariance.shape[0]
    return -0.5 * (np.sum(z ** 2, axis=0) + dim * LOG_2PI) - np.sum(np.log(np.diag(chol)))
