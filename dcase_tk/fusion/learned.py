"""Meta-classifiers fitted on the members' posteriors: ``logistic``, ``stacking``, ``gbm``.

All three learn a classifier whose input is every member's posteriors for a clip, so they need
clips the members did not train on: the validation set, or the out-of-fold predictions of a
cross-validation (each development clip scored by the fold model that did not train on it,
the pooled ``cv`` decode dirs); guard.py refuses test and training sets. Single-label only, and
every class needs at least one clip in the fit set.

- ``logistic``: multinomial logistic regression on log-probabilities (linear fusion and
  calibration in one, as BUT's FoCal-style fusion). Features: ``log(clip(P_m, eps, 1))`` of the
  members concatenated in member order, ``(N, M * C)``; ``eps`` defaults to 1e-6, the resolution
  of score files. The classifier is dcase_tk.backend.logistic.Logistic (scikit-learn
  ``LogisticRegression``, lbfgs, L2 penalty of inverse strength ``C``); saved are its ``coef``
  and ``intercept``.
- ``stacking``: stacked generalisation (Wolpert 1992) with a linear meta-learner: the members'
  posteriors concatenated, ``(N, M * C)``, projected by a PCA fitted on those meta-features
  (``n_components``: an integer keeps that many components, a number in (0, 1) the fewest that
  explain that fraction of the variance; members agree a lot, so their columns are strongly
  correlated), then an L2 logistic regression. It must be fitted on OUT-OF-FOLD predictions
  (or a validation set): the meta-features of a clip have to come from models that did not
  train on it, else the meta-learner learns to trust overconfident members. Saved are the PCA
  ``pca_mean`` and ``pca_components`` and the regression's ``coef`` and ``intercept``.
- ``gbm``: a gradient-boosted tree meta-learner, LightGBM's ``LGBMClassifier`` on the
  concatenated posteriors, with small defaults for small fit sets (50 trees of at most 7 leaves,
  at least 5 clips a leaf, learning rate 0.1), ``deterministic=True``, one thread and a fixed
  ``seed``, so the same data give the same model. Saved as LightGBM's own model text
  (``Booster.model_to_string``, reloaded with ``Booster(model_str=...)``): no pickle. LightGBM
  rather than XGBoost because LightGBM's CPU wheel is a few MB, while current XGBoost wheels
  bundle CUDA/NCCL libraries (hundreds of MB), which this project's install policy avoids (the
  same policy that installs the CPU torch wheel).
"""
import logging

import numpy as np
from sklearn.decomposition import PCA

from dcase_tk.backend.logistic import Logistic as LogisticClassifier
from dcase_tk.fusion.base import (Fuser, FusionError, log_features, log_loss, prob_features,
                                  require_every_class)

log = logging.getLogger(__name__)


def _classifier(options, coef=None, intercept=None):
    classifier = LogisticClassifier(C=options["C"], max_iter=options["max_iter"])
    if coef is not None:
        classifier.state = {"coef": np.asarray(coef), "intercept": np.asarray(intercept)}
    return classifier


class _MetaClassifier(Fuser):
    """What the three share: single-label labels with every class present, and a log line."""

    FITTED = True

    def _fit(self, scores, labels):
        C = scores.shape[2]
        if C < 2:
            raise FusionError(f"fusion method {self.name} needs at least 2 classes; got {C}")
        require_every_class(self, labels, C)
        state = self._fit_model(scores, labels)
        self.state = {"n_members": scores.shape[0], "n_classes": C, **state}   # for _apply's report
        log.info("%s fusion: log loss on the fit set %.4f", self.name,
                 log_loss(self._apply(scores), labels))
        return state


class Logistic(_MetaClassifier):
    name = "logistic"
    OPTIONS = {"C": 1.0, "max_iter": 1000, "eps": 1e-6}
    STATE = {"coef": "array", "intercept": "array"}

    def check_options(self):
        self.check_number("C", 0, strict=True)
        self.check_number("max_iter", 1, strict=False, integer=True)
        self.check_number("eps", 0, strict=True, high=0.5)

    def features(self, scores):
        return log_features(scores, self.options["eps"])

    def _fit_model(self, scores, labels):
        classifier = _classifier(self.options).fit(self.features(scores), labels, scores.shape[2])
        return dict(classifier.state)

    def _apply(self, scores):
        classifier = _classifier(self.options, self.state["coef"], self.state["intercept"])
        return classifier.posteriors(self.features(scores))


class Stacking(_MetaClassifier):
    name = "stacking"
    OPTIONS = {"n_components": 0.95, "C": 1.0, "max_iter": 1000}
    STATE = {"pca_mean": "array", "pca_components": "array", "coef": "array", "intercept": "array"}

    def check_options(self):
        self.check_number("C", 0, strict=True)
        self.check_number("max_iter", 1, strict=False, integer=True)
        n = self.options["n_components"]
        if isinstance(n, bool) or not isinstance(n, (int, float)) or n <= 0 or (isinstance(n, float) and n >= 1):
            raise self._bad("n_components", "an integer >= 1 (components kept) or a number in (0, 1) "
                                            "(fraction of the variance kept)")

    def _fit_model(self, scores, labels):
        X = prob_features(scores)
        n = self.options["n_components"]
        if isinstance(n, int) and n > min(X.shape):
            raise FusionError(f"fusion method stacking: n_components = {n} but the meta-features have "
                              f"only {min(X.shape)} dimensions ({X.shape[0]} clips x {X.shape[1]} "
                              "member columns); use fewer components or a variance fraction like 0.95")
        pca = PCA(n_components=n, svd_solver="full").fit(X)
        Z = (X - pca.mean_) @ pca.components_.T
        classifier = _classifier(self.options).fit(Z, labels, scores.shape[2])
        log.info("stacking fusion: %d PCA components of %d meta-features", pca.n_components_, X.shape[1])
        return {"pca_mean": pca.mean_, "pca_components": pca.components_, **classifier.state}

    def _apply(self, scores):
        Z = (prob_features(scores) - self.state["pca_mean"]) @ np.asarray(self.state["pca_components"]).T
        classifier = _classifier(self.options, self.state["coef"], self.state["intercept"])
        return classifier.posteriors(Z)


class GBM(_MetaClassifier):
    name = "gbm"
    OPTIONS = {"n_estimators": 50, "num_leaves": 7, "learning_rate": 0.1, "min_child_samples": 5,
               "seed": 0}
    STATE = {"model": "text"}

    def check_options(self):
        self.check_number("n_estimators", 1, strict=False, integer=True)
        self.check_number("num_leaves", 2, strict=False, integer=True)
        self.check_number("learning_rate", 0, strict=True)
        self.check_number("min_child_samples", 1, strict=False, integer=True)
        self.check_number("seed", 0, strict=False, integer=True)

    def _fit_model(self, scores, labels):
        import lightgbm
        o = self.options
        model = lightgbm.LGBMClassifier(
            n_estimators=o["n_estimators"], num_leaves=o["num_leaves"], learning_rate=o["learning_rate"],
            min_child_samples=o["min_child_samples"], random_state=o["seed"], deterministic=True,
            force_col_wise=True, n_jobs=1, verbose=-1)
        model.fit(prob_features(scores), labels)
        return {"model": model.booster_.model_to_string()}

    def _apply(self, scores):
        import lightgbm
        booster = lightgbm.Booster(model_str=self.state["model"])
        p = booster.predict(prob_features(scores))
        return np.stack([1 - p, p], axis=1) if p.ndim == 1 else p
