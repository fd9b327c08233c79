"""One Gaussian per class: the ``gaussian`` classifier.

Jung et al. (published_systems/part3.md, P2 §4) score their i-vector and embedding back ends with
"single Gaussian with diagonal covariance" and "single Gaussian with full covariance" models
(scikit-learn), next to two SVMs; the single-Gaussian back end was their best on the raw-waveform
embeddings (67.91 % against 66.56 % for the SVM, §8). ``covariance`` picks the model:

- ``diag``: per class, the variance of each dimension;
- ``full``: per class, a full covariance matrix;
- ``shared``: one pooled full within-class covariance for all classes, i.e. linear
  discriminant analysis used as a classifier (our addition, the stable choice when a class has
  fewer examples than dimensions).

Maximum-likelihood estimates (divided by the class size, or by N for ``shared``), plus ``reg``
times the mean within-class variance of all the data (``trace / D`` of the pooled covariance,
the relative regularisation of lda.py) on the diagonal. ``scores`` are the log-likelihoods of
each class; ``posteriors`` their softmax (equal class priors, as the paper's confidences).
State: ``means`` (C, D) and ``covariances``: (C, D) variances (diag), (C, D, D) (full) or
(D, D) (shared).
"""
import numpy as np

from dcase_tk.backend.base import (LOG_2PI, ClassMeansClassifier, class_stats, gaussian_logpdf, require_positive_definite,
                                   training_data)

COVARIANCES = ("diag", "full", "shared")


class Gaussian(ClassMeansClassifier):
    """A Gaussian per class, ``covariance`` diag | full | shared, ridge ``reg`` (module doc)."""

    name = "gaussian"
    OPTIONS = {"covariance": "full", "reg": 1e-3}
    STATE = ("means", "covariances")

    def check_options(self):
        self.check_choice("covariance", COVARIANCES)
        self.check_number("reg", 0, strict=False)

    def fit(self, X, labels, n_classes):
        X, labels = training_data(X, labels, n_classes)
        counts, sums = class_stats(X, labels, n_classes)
        means = sums / counts[:, None]
        deviations = X - means[labels]
        pooled = deviations.T @ deviations / len(X)
        ridge = self.options["reg"] * np.trace(pooled) / X.shape[1]
        kind = self.options["covariance"]
        if kind == "shared":
            covariances = pooled + ridge * np.eye(X.shape[1])
        elif kind == "diag":
            squares = np.zeros_like(means)
            np.add.at(squares, labels, deviations ** 2)
            covariances = squares / counts[:, None] + ridge
        else:
            covariances = np.stack([d.T @ d / len(d) + ridge * np.eye(X.shape[1])
                                    for d in (deviations[labels == c] for c in range(n_classes))])
        require_positive_definite(covariances[..., None, None] if kind == "diag" else covariances, (
            f"gaussian {kind}: a singular covariance (a class with fewer distinct examples than "
            "dimensions?); set gaussian reg > 0 (e.g. 0.001) or use covariance: shared"))
        self.state = {"means": means, "covariances": covariances}
        return self

    def scores(self, X):
        """``(N, C)`` log-likelihood of each row under each class's Gaussian."""
        X = self.checked_input(X)
        means, covariances = self.state["means"], self.state["covariances"]
        kind = self.options["covariance"]
        if kind == "diag":
            squares = (X[:, None, :] - means[None]) ** 2 / covariances[None]
            return -0.5 * (squares.sum(axis=2) + np.log(covariances).sum(axis=1) + X.shape[1] * LOG_2PI)
        if kind == "shared":
            covariances = [covariances] * len(means)
        return np.stack([gaussian_logpdf(X - m, c) for m, c in zip(means, covariances)], axis=1)
