"""Single-label classification metrics: accuracy, class-averaged accuracy, F1, confusion matrix.

The DCASE Task 1 metric is the class-averaged accuracy (the mean of per-class recalls), which
weighs every scene equally whatever its number of test clips. The Task 5 metric is the macro F1:
the mean of per-class F1 over the classes that occur in the reference or the decisions (as
``sklearn.metrics.f1_score(average="macro")``; a class that is neither scores nothing).
"""
import numpy as np


def confusion(y_true, y_pred, n_classes):
    """``(n_classes, n_classes)`` counts, rows = reference, columns = prediction."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def per_class_accuracy(conf):
    """Recall of each class; NaN for a class with no reference clip."""
    totals = conf.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(conf) / np.maximum(totals, 1), np.nan)


def per_class_f1(conf):
    """F1 of each class, ``2 TP / (2 TP + FP + FN)``; NaN for a class absent from both the
    reference and the decisions."""
    tp = np.diag(conf).astype(np.float64)
    denominator = conf.sum(axis=0) + conf.sum(axis=1)          # 2 TP + FP + FN
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), np.nan)


def summary(y_true, y_pred, classes):
    """Accuracy, class-averaged accuracy (over classes present), macro F1, per-class accuracy
    and F1, confusion."""
    conf = confusion(y_true, y_pred, len(classes))
    per_class = per_class_accuracy(conf)
    f1 = per_class_f1(conf)
    n = int(conf.sum())
    return {
        "n_utts": n,
        "accuracy": float(np.trace(conf) / n) if n else float("nan"),
        "class_avg_accuracy": float(np.nanmean(per_class)) if n else float("nan"),
        "macro_f1": float(np.nanmean(f1)) if n else float("nan"),
        "per_class": {c: (None if np.isnan(a) else float(a)) for c, a in zip(classes, per_class)},
        "per_class_f1": {c: (None if np.isnan(v) else float(v)) for c, v in zip(classes, f1)},
        "confusion": conf.tolist(),
    }


def evaluate_decisions(utt2label, decision, classes, utt2device=None, device_average=()):
    """The ``result.json`` content: overall, per device, and the average over ``device_average``.

    ``utt2label`` and ``decision`` map utt -> class name; every labelled utt must be decided.
    """
    index = {c: i for i, c in enumerate(classes)}
    utts = sorted(utt2label)
    y_true = [index[utt2label[u]] for u in utts]
    y_pred = [index[decision[u]] for u in utts]
    result = {"classes": list(classes), **summary(y_true, y_pred, classes)}
    if utt2device:
        by_device = {}
        for i, u in enumerate(utts):
            by_device.setdefault(utt2device[u], []).append(i)
        result["per_device"] = {
            d: summary([y_true[i] for i in idx], [y_pred[i] for i in idx], classes)
            for d, idx in sorted(by_device.items())}
    if device_average:
        missing = [d for d in device_average if d not in result.get("per_device", {})]
        if missing:
            raise ValueError(f"no scored clip from device(s) {missing} to average over")
        parts = [result["per_device"][d] for d in device_average]
        per_class = {}
        for c in classes:
            values = [p["per_class"][c] for p in parts if p["per_class"][c] is not None]
            per_class[c] = float(np.mean(values)) if values else None
        result["device_average"] = {
            "devices": list(device_average),
            "class_avg_accuracy": float(np.mean([p["class_avg_accuracy"] for p in parts])),
            "per_class": per_class}
    return result
