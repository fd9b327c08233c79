"""Task 2 (FSDKaggle2018 general-purpose audio tagging) scoring: MAP@3, top-1 accuracy,
per-class accuracy, verified-only evaluation, fold aggregation and the Kaggle submission.

MAP@3 is the metric of the Freesound General-Purpose Audio Tagging Challenge (DATA_FORMATS.md
"Task 2"; every Task 2 paper in /work/shared/published_systems/ reports it). Each clip has one
true label ``y`` and a ranked list of up to three predicted labels ``p_1, p_2, p_3``::

    AP@3(y, p) = 1 / r   where r is the first rank with p_r == y (r <= 3), else 0
    MAP@3      = (1 / U) * sum over the U clips of AP@3

This is Kaggle's ``apk``/``mapk`` (precision at each rank holding a correct label, summed and
divided by ``min(#true labels, k)``) with one true label per clip: only the first correct rank
counts, so a repeated label earns nothing more.

Validation uses manually verified clips only (``utt2verified`` = 1), as Kaggle's test labels and
the local validation of CP-JKU, Jeong & Lim and Kong et al. do (published_systems/part2.md,
"validation: only manually verified examples"; part4.md P4.4 "model selection on verified
validation data only").

Fold aggregation reports the mean and the population standard deviation (``ddof=0``, numpy's
default) over folds, with every fold's value, for the k-fold setups of P4.4 (4 folds) and
P4.7/P4.8 (5 folds) in part4.md.
"""
import numpy as np

from dcase_tk.scoring.text import pct, text_table

from dcase_tk.scoring.classification import summary

SUBMISSION_HEADER = "fname,label"


def average_precision_at_k(actual, predicted, k=3):
    """AP@k of one clip with the single true label ``actual``: 1/rank of its first occurrence in
    ``predicted[:k]``, 0 if it is not there."""
    _check_k(k)
    for rank, label in enumerate(list(predicted)[:k], start=1):
        if label == actual:
            return 1.0 / rank
    return 0.0


def map_at_k(labels, rankings, k=3):
    """MAP@k: the mean AP@k over clips; ``labels[i]`` is clip i's true label, ``rankings[i]``
    its predicted labels, best first."""
    labels, rankings = list(labels), list(rankings)
    if len(labels) != len(rankings):
        raise ValueError(f"map_at_k got {len(labels)} labels but {len(rankings)} rankings; "
                         "give one ranking per labelled clip")
    if not labels:
        raise ValueError("map_at_k got no clips; score at least one labelled clip")
    return float(np.mean([average_precision_at_k(y, p, k) for y, p in zip(labels, rankings)]))


def top_k(scores, classes, k=3):
    """The ``k`` best labels of each row of ``scores`` (N, C), best first; equal scores keep
    classes.txt order. Fewer than ``k`` classes give all of them."""
    _check_k(k)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(classes):
        raise ValueError(f"scores have shape {scores.shape}, expected (n_clips, {len(classes)}): "
                         "one column per line of classes.txt")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; re-run inference (the model diverged or the "
                         "score file is corrupt)")
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[classes[j] for j in row] for row in order]


def evaluate_tagging(utt2label, scores_by_utt, classes, utt2verified=None, verified_only=True):
    """The ``result.json`` content of one scored set.

    ``utt2label``: utt -> class name; ``scores_by_utt``: utt -> the C scores in ``classes``
    order; ``utt2verified``: utt -> 0/1. With ``verified_only`` and ``utt2verified`` given, only
    clips verified = 1 are scored. Returns map3, accuracy (top-1), class_avg_accuracy, per_class
    (top-1 accuracy of each class, None when absent), per_class_map3, confusion, n_utts,
    n_unverified_excluded, verified_only (whether the filter was applied) and classes.
    """
    utts = sorted(utt2label)
    _check_labels(utts, utt2label, scores_by_utt, classes)
    filtered = verified_only and utt2verified is not None
    if filtered:
        utts = [u for u in utts if _is_verified(u, utt2verified)]
        if not utts:
            raise ValueError("no labelled clip has utt2verified = 1; score all clips with "
                             "verified_only false")
    rankings = top_k(np.array([scores_by_utt[u] for u in utts]), classes, k=3)
    index = {c: i for i, c in enumerate(classes)}
    labels = [utt2label[u] for u in utts]
    return {"classes": list(classes), "map3": map_at_k(labels, rankings, k=3),
            **summary([index[y] for y in labels], [index[r[0]] for r in rankings], classes),
            "per_class_map3": _per_class_map3(labels, rankings, classes),
            "verified_only": filtered,
            "n_unverified_excluded": len(utt2label) - len(utts)}


def aggregate_folds(results):
    """Mean, std (ddof=0) and per-fold values of every number the fold results share
    (map3, accuracy, class_avg_accuracy, macro_f1, n_utts...), and per class of ``per_class``
    (accuracy) and ``per_class_f1`` where the folds have them."""
    if not results:
        raise ValueError("aggregate_folds got no fold results; give at least one")
    classes = results[0].get("classes")
    if any(r.get("classes") != classes for r in results):
        raise ValueError("the folds were scored with different classes.txt; aggregate folds of "
                         "one system only")
    names = [k for k, v in results[0].items() if _is_number(v)
             and all(_is_number(r.get(k)) for r in results)]
    aggregated = {"n_folds": len(results), "classes": classes,
                  "metrics": {k: _stats([r[k] for r in results]) for k in names}}
    for name in ("per_class", "per_class_f1"):
        if classes and all(name in r for r in results):
            aggregated[name] = {c: _stats([r[name][c] for r in results]) for c in classes}
    return aggregated


def submission_rows(utts, scores, classes, key_format="{utt}.wav"):
    """The Kaggle submission lines: header ``fname,label``, then ``<fname>,<l1> <l2> <l3>``
    (top three labels, best first), sorted by fname."""
    bad = [c for c in classes if "," in c or any(ch.isspace() for ch in c)]
    if bad:
        raise ValueError(f"class names {bad} contain a comma or a space, which the submission "
                         "format (fname,label1 label2 label3) cannot hold; rename them")
    if len(utts) != len(scores):
        raise ValueError(f"{len(utts)} utterances but {len(scores)} score rows")
    ranked = top_k(scores, classes, k=3) if len(utts) else []
    rows = sorted(((key_format.format(utt=u), " ".join(r)) for u, r in zip(utts, ranked)),
                  key=lambda row: row[0].encode("utf-8"))
    return [SUBMISSION_HEADER] + [f"{fname},{labels}" for fname, labels in rows]


def tagging_result_txt(result):
    """The table a person reads for one scored set: per-class accuracy and MAP@3, then totals."""
    counts = np.asarray(result["confusion"]).sum(axis=1)
    rows = [["class", "clips", "accuracy %", "MAP@3 %"]]
    rows += [[c, str(int(n)), pct(result["per_class"][c]), pct(result["per_class_map3"][c])]
             for c, n in zip(result["classes"], counts)]
    subset = "verified clips" if result["verified_only"] else "all clips"
    footer = [[f"MAP@3 ({subset})", str(result["n_utts"]), "", pct(result["map3"])],
              ["accuracy (top-1)", "", pct(result["accuracy"]), ""],
              ["class average", "", pct(result["class_avg_accuracy"]), ""]]
    return text_table(rows, footer)


def folds_result_txt(aggregated, fold_names):
    """The fold table: one row per metric with mean, std and each fold's value."""
    rows = [["metric", "mean", "std"] + list(fold_names)]
    for name, stats in aggregated["metrics"].items():
        fmt = _count if name.startswith("n_") else pct
        rows.append([name, fmt(stats["mean"]), fmt(stats["std"])] + [fmt(v) for v in stats["per_fold"]])
    footer = [[f"{c} {what}", pct(s["mean"]), pct(s["std"])] + [pct(v) for v in s["per_fold"]]
              for name, what in (("per_class", "accuracy"), ("per_class_f1", "F1"))
              for c, s in aggregated.get(name, {}).items()]
    return text_table(rows, footer)


def _check_k(k):
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r} (the challenge uses k=3)")


def _check_labels(utts, utt2label, scores_by_utt, classes):
    if not utts:
        raise ValueError("no labelled clip to score; utt2label is empty")
    unknown = sorted({utt2label[u] for u in utts} - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown} are not in classes.txt; score with the model "
                         "trained on these classes")
    missing = [u for u in utts if u not in scores_by_utt]
    if missing:
        raise ValueError(f"{len(missing)} labelled clips have no scores (e.g. {missing[:3]}); "
                         "re-run inference on this data dir")


def _is_verified(utt, utt2verified):
    if utt not in utt2verified:
        raise ValueError(f"clip '{utt}' has no utt2verified entry; give every labelled clip "
                         "0 or 1, or score with verified_only false")
    value = str(utt2verified[utt]).strip()
    if value not in ("0", "1"):
        raise ValueError(f"utt2verified of '{utt}' is '{value}', expected 0 or 1")
    return value == "1"


def _per_class_map3(labels, rankings, classes):
    by_class = {c: [] for c in classes}
    for y, r in zip(labels, rankings):
        by_class[y].append(average_precision_at_k(y, r, 3))
    return {c: (float(np.mean(v)) if v else None) for c, v in by_class.items()}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _stats(values):
    present = [float(v) for v in values if v is not None]
    return {"mean": float(np.mean(present)) if present else None,
            "std": float(np.std(present)) if present else None,
            "per_fold": [None if v is None else float(v) for v in values]}


def _count(value):
    return "-" if value is None else f"{value:g}"
