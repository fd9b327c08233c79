"""Regularised linear discriminant analysis (RLDA), length normalisation and class means.

The x-vector back end of BUT for task 1A (Zeinali et al., published_systems/part4.md, P4.9 §4)
projects embeddings with a regularised LDA before class-mean cosine scoring:

    S_w = alpha I + (1/C) sum_c (1/N_c) sum_n (w_n^c - m_c)(w_n^c - m_c)^T
    S_b = beta  I + (1/C) sum_c (m_c - m)(m_c - m)^T

with alpha = 0.001, beta = 0.01, and 128 -> 100 dimensions. As in those formulas every class
weighs the same in both scatters, whatever its size, and ``m`` is the global mean (the data are
centred on it first). The beta term gives S_b full rank, so, unlike plain LDA (at most C - 1
useful directions), RLDA may keep more dimensions than classes: BUT keep 100 with C = 10.

One choice of ours: ``reg`` (alpha) and ``between_reg`` (beta) are relative, multiplied by
``trace(S_w) / D``, the mean within-class variance. The projection then does not depend on the
scale of the embeddings, and for embeddings whose within-class variance is about 1 per dimension
(batch-normalised x-vectors, as BUT's are) the values are BUT's absolute ones.

The directions solve the generalised eigenproblem ``S_b v = lambda S_w v`` (scipy.linalg.eigh),
largest lambda first, scaled so that ``v^T S_w v = 1``: the projected within-class covariance is
the identity (less the regularisation). Each direction's sign makes its largest entry positive,
so that refitting the same data gives the same projection.
"""
import numpy as np
import scipy.linalg

STATE_KEYS = ("mean", "transform", "eigenvalues", "reg", "between_reg")


def fitted_input(X, fitted, dim, what):
    """``X`` as a float64 ``(N, dim)`` array, after checking ``what`` has been fitted."""
    if fitted is None:
        raise ValueError(f"{what} used before fit (or load)")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != dim:
        raise ValueError(f"embeddings must be (N, {dim}); got shape {X.shape}")
    return X


def length_norm(X):
    """Rows of ``X`` scaled to unit Euclidean length (rows of zeros stay zero). Centre first."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=-1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def class_means(X, labels, n_classes):
    """``(n_classes, D)`` mean of the rows of ``X`` with each label ``0 .. n_classes - 1``.

    ValueError if a label is out of range or a class has no row (its mean is undefined).
    """
    X, labels = check_data(X, labels)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must be class indices 0 .. {n_classes - 1}; "
                         f"got {labels.min()} .. {labels.max()}")
    counts = np.bincount(labels, minlength=n_classes)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(f"classes {empty.tolist()} have no training example, so no mean; "
                         "train on data that covers every class (or drop the class)")
    sums = np.zeros((n_classes, X.shape[1]))
    np.add.at(sums, labels, X)
    return sums / counts[:, None]


def check_data(X, labels):
    """``X`` as a finite float64 ``(N, D)`` array and ``labels`` as an int ``(N,)`` array."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"embeddings must be a non-empty (N, D) array; got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("embeddings contain NaN or infinite values")
    if labels.shape != (X.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {X.shape[0]} integers, one per embedding; "
                         f"got shape {labels.shape}, dtype {labels.dtype}")
    return X, labels


def scatter_matrices(X, labels):
    """Class-balanced within- and between-class scatter of centred ``X`` (see the module doc)."""
    classes, index = np.unique(labels, return_inverse=True)
    means = class_means(X, index, len(classes))
    deviations = X - means[index]
    counts = np.bincount(index)
    weights = 1.0 / (len(classes) * counts[index])
    within = (deviations * weights[:, None]).T @ deviations
    between = means.T @ means / len(classes)
    return within, between


class LDA:
    """Regularised LDA: ``fit(X, labels)``, then ``transform(X)`` -> ``(N, dims)``.

    ``dims``: output dimensions; None keeps ``min(n_classes - 1, D)``. More than
    ``n_classes - 1`` needs ``between_reg > 0`` (the extra directions are otherwise arbitrary).
    ``reg``, ``between_reg``: alpha and beta of the module doc, relative to the mean
    within-class variance.
    """

    def __init__(self, dims=None, reg=1e-3, between_reg=1e-2):
        if dims is not None and dims < 1:
            raise ValueError(f"LDA dims {dims}: must be at least 1 (or None for n_classes - 1)")
        if reg < 0 or between_reg < 0:
            raise ValueError(f"LDA reg {reg}, between_reg {between_reg}: must be >= 0 "
                             "(BUT use reg 0.001, between_reg 0.01)")
        self.dims = dims
        self.reg = float(reg)
        self.between_reg = float(between_reg)
        self.mean = self.transform_matrix = self.eigenvalues = None

    def fit(self, X, labels):
        X, labels = check_data(X, labels)
        n_classes, dim = len(np.unique(labels)), X.shape[1]
        dims = self._output_dims(n_classes, dim)
        self.mean = X.mean(axis=0)
        within, between = scatter_matrices(X - self.mean, labels)
        scale = np.trace(within) / dim
        if scale <= 0:
            raise ValueError("every class is a single repeated point: no within-class variance to "
                             "normalise by; LDA needs several distinct embeddings per class")
        identity = np.eye(dim)
        try:
            values, vectors = scipy.linalg.eigh(between + self.between_reg * scale * identity,
                                                within + self.reg * scale * identity)
        except np.linalg.LinAlgError:
            raise ValueError(f"the within-class scatter is singular ({dim} dimensions, "
                             f"{X.shape[0]} embeddings); set reg > 0 (e.g. 0.001)") from None
        order = np.argsort(values)[::-1][:dims]
        vectors = vectors[:, order]
        signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(dims)])
        self.transform_matrix = vectors * signs
        self.eigenvalues = values[order]
        return self

    def _output_dims(self, n_classes, dim):
        if n_classes < 2:
            raise ValueError(f"LDA needs at least 2 classes; the labels have {n_classes}")
        if self.dims is None:
            return min(n_classes - 1, dim)
        if self.dims > dim:
            raise ValueError(f"LDA dims {self.dims} exceeds the embedding dimension {dim}")
        if self.dims > n_classes - 1 and self.between_reg == 0:
            raise ValueError(f"LDA dims {self.dims} > n_classes - 1 = {n_classes - 1} needs "
                             "between_reg > 0 (BUT use 0.01), else the extra directions are arbitrary")
        return self.dims

    def transform(self, X):
        """Project ``(N, D)`` embeddings: ``(X - mean) @ transform_matrix`` -> ``(N, dims)``."""
        dim = None if self.mean is None else self.mean.shape[0]
        X = fitted_input(X, self.transform_matrix, dim, "LDA")
        return (X - self.mean) @ self.transform_matrix

    def state_dict(self):
        """Plain numpy arrays (``STATE_KEYS``), e.g. for ``numpy.savez``."""
        return {"mean": self.mean, "transform": self.transform_matrix, "eigenvalues": self.eigenvalues,
                "reg": np.array(self.reg), "between_reg": np.array(self.between_reg)}

    @classmethod
    def from_state_dict(cls, state):
        missing = [key for key in STATE_KEYS if key not in state]
        if missing:
            raise ValueError(f"not an LDA state: {', '.join(missing)} missing")
        transform = np.asarray(state["transform"], dtype=np.float64)
        lda = cls(dims=transform.shape[1], reg=float(state["reg"]), between_reg=float(state["between_reg"]))
        lda.mean = np.asarray(state["mean"], dtype=np.float64)
        lda.transform_matrix = transform
        lda.eigenvalues = np.asarray(state["eigenvalues"], dtype=np.float64)
        return lda
