"""Regularised linear discriminant analysis (RLDA), the ``lda`` transform of a back end.

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

from dcase_tk.backend.base import Component, class_stats, training_data


def scatter_matrices(X, labels, n_classes):
    """Class-balanced within- and between-class scatter of centred ``X`` (see the module doc)."""
    counts, sums = class_stats(X, labels, n_classes)
    means = sums / counts[:, None]
    deviations = X - means[labels]
    weights = 1.0 / (n_classes * counts[labels])
    within = (deviations * weights[:, None]).T @ deviations
    between = means.T @ means / n_classes
    return within, between


class LDA(Component):
    """Regularised LDA: ``transform(X) = (X - mean) @ transform`` -> ``(N, dims)``.

    ``dims``: output dimensions; None keeps ``min(n_classes - 1, D)``. More than
    ``n_classes - 1`` needs ``between_reg > 0`` (the extra directions are otherwise arbitrary).
    ``reg``, ``between_reg``: alpha and beta of the module doc, relative to the mean
    within-class variance. State: ``mean`` (D,), ``transform`` (D, dims), ``eigenvalues`` (dims,).
    """

    name = "lda"
    OPTIONS = {"dims": None, "reg": 1e-3, "between_reg": 1e-2}
    STATE = ("mean", "transform", "eigenvalues")

    def check_options(self):
        if self.options["dims"] is not None:
            self.check_number("dims", 1, strict=False, integer=True)
        self.check_number("reg", 0, strict=False)
        self.check_number("between_reg", 0, strict=False)

    @property
    def input_dim(self):
        return self.state["mean"].shape[0]

    def fit(self, X, labels, n_classes):
        X, labels = training_data(X, labels, n_classes)
        dims = self._output_dims(n_classes, X.shape[1])
        mean = X.mean(axis=0)
        within, between = scatter_matrices(X - mean, labels, n_classes)
        scale = np.trace(within) / X.shape[1]
        if scale <= 0:
            raise ValueError("every class is a single repeated point: no within-class variance to "
                             "normalise by; LDA needs several distinct embeddings per class")
        identity = np.eye(X.shape[1])
        try:
            values, vectors = scipy.linalg.eigh(between + self.options["between_reg"] * scale * identity,
                                                within + self.options["reg"] * scale * identity)
        except np.linalg.LinAlgError:
            raise ValueError(f"the within-class scatter is singular ({X.shape[1]} dimensions, "
                             f"{X.shape[0]} embeddings); set lda reg > 0 (e.g. 0.001)") from None
        order = np.argsort(values)[::-1][:dims]
        vectors = vectors[:, order]
        signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(dims)])
        self.state = {"mean": mean, "transform": vectors * signs, "eigenvalues": values[order]}
        return self

    def _output_dims(self, n_classes, dim):
        dims = self.options["dims"]
        if n_classes < 2:
            raise ValueError(f"LDA needs at least 2 classes; the labels have {n_classes}")
        if dims is None:
            return min(n_classes - 1, dim)
        if dims > dim:
            raise ValueError(f"lda dims {dims} exceeds the embedding dimension {dim}; "
                             f"set dims <= {dim}")
        if dims > n_classes - 1 and self.options["between_reg"] == 0:
            raise ValueError(f"lda dims {dims} > n_classes - 1 = {n_classes - 1} needs "
                             "between_reg > 0 (BUT use 0.01), else the extra directions are arbitrary")
        return dims

    def transform(self, X):
        """Project ``(N, D)`` embeddings -> ``(N, dims)``."""
        X = self.checked_input(X)
        return (X - self.state["mean"]) @ self.state["transform"]
