"""Task 3 (bird audio detection) scoring: ROC AUC, ROC curves, accuracy at 0.5, per-dataset
AUCs and their harmonic mean, and the submission lines.

The metric of the challenge is the area under the ROC curve of the clips' detection scores
(DATA_FORMATS.md "Task 3"; DESIGN.md: per held-out dataset, and the harmonic mean over
datasets). With ``P`` positive and ``N`` negative clips, the AUC is the Mann-Whitney statistic::

    AUC = (R_pos - P (P + 1) / 2) / (P N)

where ``R_pos`` is the sum of the positives' ranks among all scores in ascending order, tied
scores sharing the average of their ranks: the probability that a random positive clip scores
higher than a random negative one, a tie counting one half. This is the area under the ROC
curve whose tied scores form one step (a straight, diagonal segment), which is what
``sklearn.metrics.roc_auc_score`` integrates; the two agree up to float rounding.

The accuracy thresholds the score at 0.5: a clip is called positive when its score is strictly
above 0.5 (as scikit-learn's ``predict`` does, and as the most probable class does for the
two-class posteriors ``nobird bird`` when the positive class is the second column).

The harmonic mean of the per-dataset AUCs weighs the worst dataset most, the point of the task
(generalisation to every recording condition); it is undefined (None) when a dataset has one
class only, since that dataset's AUC is.
"""
import numpy as np

from dcase_tk.io.table import sort_key
from dcase_tk.scoring.text import pct, text_table

THRESHOLD = 0.5


def roc_auc(labels, scores):
    """ROC AUC of ``scores`` for the binary ``labels`` (0/1 or booleans, 1 = positive), ties
    counting one half. ValueError when the clips are all of one class."""
    y, s = _binary(labels, scores, "ROC AUC")
    ranks = _average_ranks(s)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve_points(labels, scores):
    """``(fpr, tpr)`` of the ROC curve, from (0, 0) to (1, 1): one point per distinct score,
    thresholds in descending order, so tied scores move both rates in one step. The trapezoid
    area under these points is :func:`roc_auc`."""
    y, s = _binary(labels, scores, "a ROC curve")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]      # last clip of each score
    tps = np.cumsum(y)[last]
    fps = last + 1 - tps
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]


def harmonic_mean(values):
    """``n / sum(1 / v)`` of non-negative ``values``; 0 when one of them is 0."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("harmonic_mean got no values; give at least one")
    if np.isnan(v).any() or (v < 0).any():
        raise ValueError(f"harmonic_mean needs non-negative numbers, got {v.tolist()}")
    if (v == 0).any():
        return 0.0
    return float(len(v) / np.sum(1.0 / v))


def evaluate_detection(utt2label, scores_by_utt, positive="bird", utt2dataset=None):
    """The ``result.json`` content of one scored set.

    ``utt2label``: utt -> class name, ``positive`` or one other class; ``scores_by_utt``: utt ->
    the detection score (the posterior of ``positive``); ``utt2dataset``: utt -> dataset.
    Returns positive, negative, threshold, n_utts, n_positive, auc, accuracy; with
    ``utt2dataset``, per_dataset {dataset: {n_utts, n_positive, auc (None with one class only),
    accuracy}} and, for more than one dataset, auc_harmonic_mean (None when a dataset's AUC is).
    """
    utts, y, s, negative = _labelled(utt2label, scores_by_utt, positive)
    result = {"positive": positive, "negative": negative, "threshold": THRESHOLD,
              **_metrics(y, s)}
    if result["auc"] is None:
        raise ValueError(f"every labelled clip is '{utt2label[utts[0]]}': ROC AUC needs both "
                         f"'{positive}' clips and others; score a set with both")
    if utt2dataset is None:
        return result
    groups = _by_dataset(utts, utt2dataset)
    result["per_dataset"] = {d: _metrics(y[idx], s[idx]) for d, idx in groups.items()}
    if len(groups) > 1:
        aucs = [r["auc"] for r in result["per_dataset"].values()]
        result["auc_harmonic_mean"] = None if None in aucs else harmonic_mean(aucs)
    return result


def roc_curves(utt2label, scores_by_utt, positive="bird", utt2dataset=None):
    """``{name: (fpr, tpr, auc)}`` for :func:`dcase_tk.plots.plot_roc`: ``all`` (every clip)
    and, with ``utt2dataset``, each dataset that has both classes."""
    utts, y, s, _ = _labelled(utt2label, scores_by_utt, positive)
    parts = {"all": np.arange(len(utts))}
    if utt2dataset is not None:
        parts.update((d, idx) for d, idx in _by_dataset(utts, utt2dataset).items()
                     if 0 < y[idx].sum() < len(idx))
    return {name: (*roc_curve_points(y[idx], s[idx]), roc_auc(y[idx], s[idx]))
            for name, idx in parts.items()}


def submission_lines(keys, scores):
    """The challenge submission: ``<key>,<probability>`` per clip, sorted by key (byte order),
    no header line. The probability is written in full (shortest round-trip decimal, no
    exponent), so that no two different scores become equal."""
    keys, scores = list(keys), np.asarray(scores, dtype=np.float64)
    if len(keys) != len(scores):
        raise ValueError(f"{len(keys)} keys but {len(scores)} scores")
    bad = [k for k in keys if not k or "," in k or any(ch.isspace() for ch in k)]
    if bad:
        raise ValueError(f"submission keys {bad[:3]} are empty or contain a comma or a space, which "
                         "the submission format (itemid,probability) cannot hold")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; re-run inference (the model diverged or the score "
                         "file is corrupt)")
    rows = sorted(zip(keys, scores), key=lambda row: sort_key(row[0]))
    repeated = sorted({a for (a, _), (b, _) in zip(rows, rows[1:]) if a == b})
    if repeated:
        raise ValueError(f"submission keys {repeated[:3]} occur more than once; each clip needs "
                         "its own key")
    return [f"{k},{np.format_float_positional(v, trim='-')}" for k, v in rows]


def detection_result_txt(result):
    """The table a person reads: clips, positives, AUC and accuracy per dataset, then overall
    and the harmonic mean of the dataset AUCs."""
    header = ["dataset", "clips", result["positive"], "AUC %",
              f"accuracy % (>{result['threshold']:g})"]
    rows = [[d, str(r["n_utts"]), str(r["n_positive"]), pct(r["auc"]), pct(r["accuracy"])]
            for d, r in result.get("per_dataset", {}).items()]
    footer = [["all clips", str(result["n_utts"]), str(result["n_positive"]), pct(result["auc"]),
               pct(result["accuracy"])]]
    if "auc_harmonic_mean" in result:
        footer.append(["harmonic mean of dataset AUCs", "", "", pct(result["auc_harmonic_mean"]), ""])
    return text_table([header] + rows, footer)


def _binary(labels, scores, what):
    """``(bool labels, float scores)`` checked: same length, 0/1 labels, no NaN, both classes."""
    y, s = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(f"{what} needs one score per label: got labels of shape {y.shape} and "
                         f"scores of shape {s.shape}")
    if y.dtype != bool:
        values = np.unique(y)
        if not np.isin(values, [0, 1]).all():
            raise ValueError(f"{what} needs labels 0/1 or booleans (1 = positive), got the values "
                             f"{values.tolist()[:5]}")
        y = y == 1
    if np.isnan(s).any():
        raise ValueError(f"{what}: the scores contain NaN; re-run inference (the model diverged "
                         "or the score file is corrupt)")
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        kind = "negative" if n_pos == 0 else "positive"
        raise ValueError(f"{what} is undefined with one class only: all {len(y)} clips are "
                         f"{kind}; score a set with both positive and negative clips")
    return y, s


def _average_ranks(x):
    """Ranks 1..n of ``x`` in ascending order, tied values sharing their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)]                 # group k holds sorted positions [start, end)
    group = np.repeat(np.arange(len(starts)), ends - starts)
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]  # mean of the ranks start+1 .. end
    return ranks


def _labelled(utt2label, scores_by_utt, positive):
    """``(utts, bool labels, scores, negative class)`` of the labelled clips, checked."""
    utts = sorted(utt2label, key=sort_key)
    if not utts:
        raise ValueError("no labelled clip to score; utt2label is empty")
    missing = [u for u in utts if u not in scores_by_utt]
    if missing:
        raise ValueError(f"{len(missing)} labelled clips have no score (e.g. {missing[:3]}); "
                         "re-run inference on this data dir")
    others = sorted({utt2label[u] for u in utts} - {positive})
    if len(others) > 1:
        raise ValueError(f"detection needs two classes, '{positive}' and one other, but the labels "
                         f"have {len(others)} others: {others[:5]}; fix utt2label or --positive")
    s = np.array([float(scores_by_utt[u]) for u in utts], dtype=np.float64)
    if np.isnan(s).any():
        nan = [u for u, v in zip(utts, s) if np.isnan(v)]
        raise ValueError(f"{len(nan)} clips have a NaN score (e.g. {nan[:3]}); re-run inference")
    y = np.array([utt2label[u] == positive for u in utts], dtype=bool)
    return utts, y, s, (others[0] if others else None)


def _by_dataset(utts, utt2dataset):
    missing = [u for u in utts if u not in utt2dataset]
    if missing:
        raise ValueError(f"{len(missing)} labelled clips have no utt2dataset entry (e.g. "
                         f"{missing[:3]}); give every clip its dataset")
    groups = {}
    for i, u in enumerate(utts):
        groups.setdefault(utt2dataset[u], []).append(i)
    return {d: np.array(groups[d]) for d in sorted(groups, key=sort_key)}


def _metrics(y, s):
    n_pos = int(y.sum())
    return {"n_utts": len(y), "n_positive": n_pos,
            "auc": roc_auc(y, s) if 0 < n_pos < len(y) else None,
            "accuracy": float(np.mean((s > THRESHOLD) == y))}
