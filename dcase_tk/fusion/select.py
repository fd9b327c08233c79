"""Fusion by selecting members, fitted on the fit set.

- ``greedy``: ensemble selection with replacement (Caruana, Niculescu-Mizil, Crew, Ksikes,
  "Ensemble selection from libraries of models", ICML 2004). The ensemble is a bag of ``steps``
  picks whose fused output is the mean of the picked members' posteriors. It starts with the
  ``init_best`` best single members (Caruana's sorted initialisation; 1, the default, is the
  same as a first greedy step); every further step adds, with replacement, the member whose
  addition gives the best running mean on the fit set, even when no addition improves it.
  "Best" is the higher accuracy, then the lower log loss, then the lower member index
  (``metric: accuracy``, the default), or the lower log loss, then the higher accuracy, then the
  lower index (``metric: logloss``). The fused posteriors are the weighted mean with weights
  ``counts / steps``; fusion.json keeps the picks in order and the weights.
- ``per_class``: per-class best-system selection. For each class c, the member whose scores
  for c rank the fit set's clips best: the highest one-vs-rest ROC AUC
  (``sklearn.metrics.roc_auc_score`` of "is class c" against that member's column c; the lower
  member index on a tie). AUC rather than per-class F1 because it judges the column on its own,
  with no threshold and without the other classes' columns, which decide the F1 of an argmax.
  The fused column c is the selected member's column c; single-label rows are then
  renormalised to sum to one (multi-label columns are kept as they are). A class without both
  positive and negative clips in the fit set has no AUC: it takes the member with the best mean
  AUC over the other classes (and says so). fusion.json keeps the selection and the AUCs.
"""
import logging

import numpy as np
from sklearn.metrics import roc_auc_score

from dcase_tk.fusion.base import Fuser, FusionError, accuracy, log_loss, renormalise
from dcase_tk.fusion.weighted import weighted_mean

log = logging.getLogger(__name__)


class Greedy(Fuser):
    name = "greedy"
    OPTIONS = {"steps": 20, "init_best": 1, "metric": "accuracy"}
    FITTED = True
    STATE = {"picks": "json", "weights": "json"}

    def check_options(self):
        self.check_number("steps", 1, strict=False, integer=True)
        self.check_number("init_best", 1, strict=False, integer=True, high=self.options["steps"])
        self.check_choice("metric", ("accuracy", "logloss"))

    def _rank_key(self, probs, labels):
        """Smaller is better: the comparison of the module doc, member index aside."""
        acc, loss = accuracy(probs, labels), log_loss(probs, labels)
        return (-acc, loss) if self.options["metric"] == "accuracy" else (loss, -acc)

    def _fit(self, scores, labels):
        M = scores.shape[0]
        steps, init = self.options["steps"], self.options["init_best"]
        if init > M:
            raise FusionError(f"fusion method greedy: init_best = {init} but there are only {M} members")
        singles = sorted(range(M), key=lambda m: (self._rank_key(scores[m], labels), m))
        picks = singles[:init]
        total = scores[picks].sum(axis=0)
        while len(picks) < steps:
            n = len(picks) + 1
            best = min(range(M), key=lambda m: (self._rank_key((total + scores[m]) / n, labels), m))
            picks.append(best)
            total += scores[best]
        weights = np.bincount(picks, minlength=M) / steps
        log.info("greedy fusion: picks %s, weights %s, accuracy %.4f", picks,
                 np.round(weights, 4).tolist(), accuracy(total / steps, labels))
        return {"picks": [int(m) for m in picks], "weights": weights.tolist()}

    def _apply(self, scores):
        return weighted_mean(scores, self.state["weights"])


def per_class_auc(scores, targets):
    """``(M, C)`` one-vs-rest ROC AUC of each member's column for each class; NaN for a class
    without both positive and negative clips."""
    M, _, C = scores.shape
    auc = np.full((M, C), np.nan)
    for c in range(C):
        if 0 < targets[:, c].sum() < len(targets):
            auc[:, c] = [roc_auc_score(targets[:, c], scores[m, :, c]) for m in range(M)]
    return auc


class PerClass(Fuser):
    name = "per_class"
    OPTIONS = {"multi_label": False}
    FITTED = True
    MULTI_LABEL = True
    STATE = {"selection": "json", "auc": "json"}

    def _fit(self, scores, labels):
        M, _, C = scores.shape
        targets = labels if self.multi_label else np.eye(C, dtype=np.int64)[labels]
        auc = per_class_auc(scores, targets)
        defined = ~np.isnan(auc[0])
        if not defined.any():
            raise FusionError("fusion method per_class: no class has both positive and negative "
                              "clips in the fit set, so no member can be judged; fit on more clips")
        fallback = int(np.argmax(np.nanmean(auc[:, defined], axis=1)))
        selection = [int(np.argmax(auc[:, c])) if defined[c] else fallback for c in range(C)]
        if not defined.all():
            log.warning("per_class fusion: classes %s have no AUC on the fit set (all or no clips "
                        "positive); they take member %d, the best on mean AUC",
                        np.flatnonzero(~defined).tolist(), fallback)
        log.info("per_class fusion: member of each class %s", selection)
        return {"selection": selection,
                "auc": [[None if np.isnan(v) else float(v) for v in row] for row in auc]}

    def _apply(self, scores):
        selection = self.state["selection"]
        fused = np.stack([scores[m, :, c] for c, m in enumerate(selection)], axis=1)
        return fused if self.multi_label else renormalise(fused)
