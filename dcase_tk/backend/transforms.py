"""The simple transforms of a back end: ``center``, ``wccn`` and ``length_norm``
(the fourth, ``lda``, is in lda.py).

They are the usual pre-processing of speaker-recognition back ends that the DCASE 2018 embedding
systems borrow: BUT centre, project (RLDA) and length-normalise x-vectors before cosine scoring
(published_systems/part4.md, P4.9 §4); Jung et al. feed raw i-vectors, "no length normalisation
and no LDA" (part3.md, P2 §3), so every transform is optional and the list may be empty.

- ``center``: subtract the training mean (state ``mean``).
- ``wccn``: within-class covariance normalisation (Hatch et al.'s WCCN, one of the back-end
  pieces DESIGN.md §2 lists; not used by a DCASE 2018 paper): ``x -> B^T x`` with
  ``B B^T = W^-1``, W the class-averaged within-class covariance of lda.py (every class weighs
  the same), plus ``reg`` relative to ``trace(W) / D`` as the LDA's alpha. Afterwards the
  within-class covariance is the identity. ``B = L^-T`` with ``L L^T = W`` the Cholesky factor
  of W (state ``B``, upper triangular); a W that is not (numerically) positive definite is an error.
- ``length_norm``: scale every embedding to unit length (state ``dim``, the input dimension,
  so that a wrong input is caught as for the others).
"""
import numpy as np
import scipy.linalg

from dcase_tk.backend.base import Component, length_norm, relative_ridge, require_positive_definite, training_data
from dcase_tk.backend.lda import scatter_matrices


class Center(Component):
    """Mean subtraction: ``X - mean`` (the training mean)."""

    name = "center"
    STATE = ("mean",)

    @property
    def input_dim(self):
        return self.state["mean"].shape[0]

    def fit(self, X, labels, n_classes):
        X, _ = training_data(X, labels, n_classes)
        self.state = {"mean": X.mean(axis=0)}
        return self

    def transform(self, X):
        return self.checked_input(X) - self.state["mean"]


class WCCN(Component):
    """Within-class covariance normalisation: ``X @ B`` (see the module doc)."""

    name = "wccn"
    OPTIONS = {"reg": 1e-3}
    STATE = ("B",)

    def check_options(self):
        self.check_number("reg", 0, strict=False)

    @property
    def input_dim(self):
        return self.state["B"].shape[0]

    def fit(self, X, labels, n_classes):
        X, labels = training_data(X, labels, n_classes)
        within, _ = scatter_matrices(X - X.mean(axis=0), labels, n_classes)
        within = relative_ridge(within, self.options["reg"])
        require_positive_definite(within, (
            f"wccn: the within-class covariance is singular ({X.shape[1]} dimensions, "
            f"{X.shape[0]} embeddings); set wccn reg > 0 (e.g. 0.001)"))
        chol = np.linalg.cholesky(within)
        inverse = scipy.linalg.solve_triangular(chol, np.eye(len(chol)), lower=True)
        self.state = {"B": inverse.T}
        return self

    def transform(self, X):
        return self.checked_input(X) @ self.state["B"]


class LengthNorm(Component):
    """Every embedding scaled to unit Euclidean length."""

    name = "length_norm"
    STATE = ("dim",)

    @property
    def input_dim(self):
        return int(self.state["dim"])

    def fit(self, X, labels, n_classes):
        X, _ = training_data(X, labels, n_classes)
        self.state = {"dim": np.array(X.shape[1])}
        return self

    def transform(self, X):
        return length_norm(self.checked_input(X))
