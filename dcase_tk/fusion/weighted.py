"""``weighted``: a weighted mean of the members' posteriors, ``sum_m w_m P_m``, with weights
``w_m >= 0`` that sum to one, fitted on the fit set by minimising the log loss (cross-entropy)
of the fused posteriors with ``scipy.optimize.minimize(method="SLSQP")``: bounds [0, 1] per
weight, one equality constraint (the sum), the analytic gradient, uniform weights to start.

Single-label: the loss is the mean of ``-log p(labelled class)``; with ``multi_label: true``,
the binary cross-entropy averaged over clips and classes (labels an ``(N, C)`` 0/1 matrix).
Probabilities are clipped to [1e-7, 1 - 1e-7] in the loss, so a member that is certain and
wrong costs a large but finite amount. The weights are saved in fusion.json.
"""
import logging

import numpy as np
from scipy.optimize import minimize

from dcase_tk.decode.combine import EPS
from dcase_tk.fusion.base import Fuser, log_loss

log = logging.getLogger(__name__)


def weighted_mean(scores, weights):
    """``sum_m weights[m] * scores[m]`` of an ``(M, N, C)`` stack."""
    return np.tensordot(np.asarray(weights, dtype=np.float64), scores, axes=1)


def _loss_and_gradient(weights, scores, labels, multi_label):
    fused = weighted_mean(scores, weights)
    clipped = np.clip(fused, EPS, 1 - EPS)
    inside = ((fused > EPS) & (fused < 1 - EPS)).astype(np.float64)   # the clip: no gradient outside
    if multi_label:
        d_fused = -(labels / clipped - (1 - labels) / (1 - clipped)) * inside / labels.size
    else:
        d_fused = np.zeros_like(fused)
        rows = np.arange(len(labels))
        d_fused[rows, labels] = -inside[rows, labels] / clipped[rows, labels] / len(labels)
    gradient = np.einsum("mnc,nc->m", scores, d_fused)
    return log_loss(fused, labels, multi_label), gradient


class Weighted(Fuser):
    name = "weighted"
    OPTIONS = {"multi_label": False, "max_iter": 200, "tol": 1e-10}
    FITTED = True
    MULTI_LABEL = True
    STATE = {"weights": "json"}

    def check_options(self):
        self.check_number("max_iter", 1, strict=False, integer=True)
        self.check_number("tol", 0, strict=True)

    def _fit(self, scores, labels):
        M = scores.shape[0]
        result = minimize(_loss_and_gradient, np.full(M, 1.0 / M), jac=True, method="SLSQP",
                          args=(scores, labels, self.multi_label), bounds=[(0.0, 1.0)] * M,
                          constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0,
                                        "jac": lambda w: np.ones_like(w)}],
                          tol=self.options["tol"], options={"maxiter": self.options["max_iter"]})
        if not result.success:
            log.warning("weighted fusion: SLSQP stopped early (%s); using its last weights",
                        result.message)
        weights = np.clip(result.x, 0.0, None)
        weights = weights / weights.sum()
        log.info("weighted fusion: weights %s, log loss %.4f (uniform: %.4f)",
                 np.round(weights, 4).tolist(), log_loss(weighted_mean(scores, weights), labels, self.multi_label),
                 log_loss(scores.mean(axis=0), labels, self.multi_label))
        return {"weights": weights.tolist()}

    def _apply(self, scores):
        return weighted_mean(scores, self.state["weights"])
