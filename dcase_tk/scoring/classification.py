"""Single-label classification metrics: accuracy, class-averaged accuracy, confusion matrix.

The DCASE Task 1 metric is the class-averaged accuracy (the mean of per-class recalls), which
weighs every scene equally whatever its number of test clips.
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


def summary(y_true, y_pred, classes):
    """Accuracy, class-averaged accuracy (over classes present), per-class accuracy, confusion."""
    conf = confusion(y_true, y_pred, len(classes))
    per_class = per_class_accuracy(conf)
    n = int(conf.sum())
    return {
        "n_utts": n,
        "accuracy": float(np.trace(conf) / n) if n else float("nan"),
        "class_avg_accuracy": float(np.nanmean(per_class)) if n else float("nan"),
        "per_class": {c: (None if np.isnan(a) else float(a)) for c, a in zip(classes, per_class)},
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
