"""Support vector machines on embeddings, one against the rest: the ``svm`` classifier.

Jung et al. (published_systems/part3.md, P2 §4) score their i-vector and embedding back ends
with scikit-learn SVMs with an RBF and with a sigmoid kernel (besides single Gaussians). We fit,
for every class, a binary scikit-learn ``SVC`` of that class against all others (``kernel``
rbf | sigmoid | linear, ``C``, ``gamma``, ``coef0`` as in scikit-learn; ``gamma: scale`` is
resolved at fit time to ``1 / (D * var(X))``, ``auto`` to ``1 / D``, as scikit-learn does), and
keep only arrays: the union of the support vectors of all classes (S, D), a (C, S) matrix of
dual coefficients (zero where a vector does not support that class) and the (C,) intercepts.
The decision values ``K(X, SV) @ dual^T + intercept`` are computed in numpy and equal each
SVC's ``decision_function``. ``posteriors`` = softmax(``scale`` * decision values): the paper
uses the scores as confidences on a 0-1 scale without saying how; ``scale`` is our calibration
temperature, as the cosine classifier's.
"""
import numpy as np
from scipy.special import softmax
from sklearn.svm import SVC

from dcase_tk.backend.base import Classifier, training_data

KERNELS = ("rbf", "sigmoid", "linear")
GAMMAS = ("scale", "auto")


def kernel_matrix(X, Y, kernel, gamma, coef0):
    """scikit-learn's kernels between the rows of ``X`` (N, D) and ``Y`` (S, D) -> (N, S)."""
    products = X @ Y.T
    if kernel == "linear":
        return products
    if kernel == "sigmoid":
        return np.tanh(gamma * products + coef0)
    squared = np.sum(X ** 2, axis=1)[:, None] + np.sum(Y ** 2, axis=1)[None] - 2 * products
    return np.exp(-gamma * np.maximum(squared, 0.0))


def resolve_gamma(gamma, X):
    """The number scikit-learn uses for ``gamma`` (``scale``, ``auto`` or a number) on data ``X``."""
    if gamma == "auto":
        return 1.0 / X.shape[1]
    if gamma == "scale":
        variance = X.var()
        return 1.0 / (X.shape[1] * variance) if variance > 0 else 1.0
    return float(gamma)


class SVM(Classifier):
    """One-against-the-rest SVMs (scikit-learn fit, numpy decision values); see the module doc."""

    name = "svm"
    OPTIONS = {"kernel": "rbf", "C": 1.0, "gamma": "scale", "coef0": 0.0, "scale": 1.0}
    STATE = ("support_vectors", "dual_coef", "intercept", "gamma")

    def check_options(self):
        self.check_choice("kernel", KERNELS)
        self.check_number("C", 0, strict=True)
        if self.options["gamma"] not in GAMMAS:
            self.check_number("gamma", 0, strict=True)
        self.check_number("coef0", float("-inf"), strict=False)
        self.check_number("scale", 0, strict=True)

    @property
    def input_dim(self):
        return self.state["support_vectors"].shape[1]

    @property
    def n_classes(self):
        return self.state["intercept"].shape[0]

    def fit(self, X, labels, n_classes):
        X, labels = training_data(X, labels, n_classes)
        if n_classes < 2:
            raise ValueError(f"svm needs at least 2 classes; got {n_classes}")
        gamma = resolve_gamma(self.options["gamma"], X)
        models = [SVC(kernel=self.options["kernel"], C=self.options["C"], gamma=gamma,
                      coef0=self.options["coef0"]).fit(X, labels == c) for c in range(n_classes)]
        support = np.unique(np.concatenate([m.support_ for m in models]))
        dual = np.zeros((n_classes, len(support)))
        for c, model in enumerate(models):
            dual[c, np.searchsorted(support, model.support_)] = model.dual_coef_[0]
        self.state = {"support_vectors": X[support], "dual_coef": dual,
                      "intercept": np.array([m.intercept_[0] for m in models]), "gamma": np.array(gamma)}
        return self

    def scores(self, X):
        """``(N, C)`` decision values, positive on the class's side of its SVM."""
        kernel = kernel_matrix(self.checked_input(X), self.state["support_vectors"], self.options["kernel"],
                               float(self.state["gamma"]), self.options["coef0"])
        return kernel @ self.state["dual_coef"].T + self.state["intercept"]

    def posteriors(self, X):
        return softmax(self.options["scale"] * self.scores(X), axis=1)
