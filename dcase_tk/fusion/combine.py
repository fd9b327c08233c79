"""The fixed fusion rules: nothing is fitted, so they need no labels and no fit set.

- ``mean``: the arithmetic mean of the members' posteriors.
- ``gmean``: the geometric mean (of posteriors clipped to 1e-7), renormalised to sum to one per
  clip for single-label posteriors; with ``multi_label: true`` each class stands alone.
  Both are dcase_tk.decode.combine.aggregate, the rule that averages fold models and windows.
- ``rank``: rank averaging. For each member and class, the clips are ranked by that member's
  score for the class (1 = lowest; tied scores share the average of their ranks, as
  ``scipy.stats.rankdata(method="average")``), scaled to [0, 1] by ``(rank - 1) / (N - 1)``
  (0.5 when there is one clip), and averaged over the members. The result orders clips, not
  classes: rows do not sum to one, and it depends on which clips are fused together (a set's
  scores are ranked within that set). Good for a per-class ranking metric (AUC), where members
  with differently calibrated scores count equally.
- ``vote``: majority vote of the members' decisions (each member's most probable class). The
  output is posterior-like: ``(1 - a) * votes / M + a * mean posterior`` with
  ``a = 1 / (2 (M + 1))``: the vote fractions, nudged by the mean posterior just enough to break
  ties. A class with more votes always stays ahead (one vote is worth ``(1 - a) / M > a``, more
  than any posterior difference can add), and among classes tied on votes the one with the
  larger summed posterior wins. Rows sum to one when the members' rows do.
"""
import numpy as np
import torch
from scipy.stats import rankdata

from dcase_tk.decode.combine import aggregate
from dcase_tk.fusion.base import Fuser


class Mean(Fuser):
    name = "mean"
    OPTIONS = {"multi_label": False}
    MULTI_LABEL = True

    def _apply(self, scores):
        return aggregate(torch.from_numpy(scores), "mean").numpy()


class GMean(Fuser):
    name = "gmean"
    OPTIONS = {"multi_label": False}
    MULTI_LABEL = True

    def _apply(self, scores):
        return aggregate(torch.from_numpy(scores), "gmean", multi_label=self.multi_label).numpy()


def scaled_ranks(column):
    """Average ranks of ``column`` (ties share them) scaled to [0, 1]; 0.5 for a single clip."""
    if len(column) == 1:
        return np.full(1, 0.5)
    return (rankdata(column, method="average") - 1) / (len(column) - 1)


class Rank(Fuser):
    name = "rank"
    OPTIONS = {"multi_label": False}
    MULTI_LABEL = True

    def _apply(self, scores):
        M, _, C = scores.shape
        return np.mean([np.stack([scaled_ranks(scores[m, :, c]) for c in range(C)], axis=1)
                        for m in range(M)], axis=0)


class Vote(Fuser):
    name = "vote"

    def _apply(self, scores):
        M, N, C = scores.shape
        votes = np.zeros((N, C))
        for decisions in scores.argmax(axis=2):
            votes[np.arange(N), decisions] += 1
        a = 1.0 / (2 * (M + 1))
        return (1 - a) * votes / M + a * scores.mean(axis=0)
