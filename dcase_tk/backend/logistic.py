"""Multinomial logistic regression on embeddings: the ``logistic`` classifier.

A linear back end in the family of those the DCASE 2018 systems use: BUT fuse their systems'
scores with multiclass logistic regression (FoCal, published_systems/part4.md, P4.9 §7), and
DESIGN.md §2 lists logistic regression among the embedding back ends. Fitted with scikit-learn's
``LogisticRegression`` (lbfgs, multinomial, L2 penalty with inverse strength ``C``, at most
``max_iter`` iterations); only its weights are kept, ``coef`` (C, D) and ``intercept`` (C,), and
``posteriors`` = softmax(X coef^T + intercept) is computed in numpy, equal to scikit-learn's
``predict_proba``. With two classes scikit-learn fits one weight vector w (the logit of class 1);
we store it as the pair (-w/2, +w/2), whose softmax is the same sigmoid.
"""
import numpy as np
from sklearn.linear_model import LogisticRegression

from dcase_tk.backend.base import Classifier, training_data


class Logistic(Classifier):
    """Multinomial logistic regression (scikit-learn fit, numpy scoring); options ``C``,
    ``max_iter``."""

    name = "logistic"
    OPTIONS = {"C": 1.0, "max_iter": 1000}
    STATE = ("coef", "intercept")

    def check_options(self):
        self.check_number("C", 0, strict=True)
        self.check_number("max_iter", 1, strict=False, integer=True)

    @property
    def input_dim(self):
        return self.state["coef"].shape[1]

    @property
    def n_classes(self):
        return self.state["coef"].shape[0]

    def fit(self, X, labels, n_classes):
        X, labels = training_data(X, labels, n_classes)
        model = LogisticRegression(C=self.options["C"], max_iter=self.options["max_iter"]).fit(X, labels)
        coef, intercept = model.coef_, model.intercept_
        if n_classes == 2:
            coef, intercept = np.concatenate([-coef, coef]) / 2, np.concatenate([-intercept, intercept]) / 2
        self.state = {"coef": coef, "intercept": intercept}
        return self

    def scores(self, X):
        """``(N, C)`` logits ``X coef^T + intercept``."""
        return self.checked_input(X) @ self.state["coef"].T + self.state["intercept"]
