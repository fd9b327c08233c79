"""Validation metrics a system can select its best epoch on (``training.select_metric``)."""
import numpy as np
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from dcase_tk.scoring.classification import summary
from dcase_tk.scoring.tagging import map_at_k, top_k

# metric -> True if higher is better; map3 is Task 2's MAP@3; macro_f1 is Task 5's metric for
# single-label systems and, for multi-label ones, the macro F1 of the clip tags at 0.5 (the Task 4
# baseline's early-stopping metric, val_macro_f_measure)
METRICS = {"accuracy": True, "class_avg_accuracy": True, "loss": False, "map": True, "auc": True,
           "map3": True, "macro_f1": True}
SINGLE_LABEL_METRICS = ("accuracy", "class_avg_accuracy", "map3")


TAG_THRESHOLD = 0.5


def _macro(metric, scores, targets):
    """Mean of a per-class ranking metric over the classes that have positives and negatives."""
    keep = [c for c in range(targets.shape[1]) if 0 < targets[:, c].sum() < len(targets)]
    if not keep:
        return float("nan")
    return float(np.mean([metric(targets[:, c], scores[:, c]) for c in keep]))


def validation_metrics(scores, targets, multi_label):
    """Metrics of ``(N, C)`` posteriors against ``(N, C)`` 0/1 targets."""
    out = {"map": _macro(average_precision_score, scores, targets),
           "auc": _macro(roc_auc_score, scores, targets)}
    if multi_label:
        out["macro_f1"] = float(f1_score(targets > 0.5, scores >= TAG_THRESHOLD, average="macro", zero_division=0))
    else:
        classes = [str(c) for c in range(targets.shape[1])]
        s = summary(targets.argmax(1), scores.argmax(1), classes)
        out.update(accuracy=s["accuracy"], class_avg_accuracy=s["class_avg_accuracy"], macro_f1=s["macro_f1"],
                   map3=map_at_k(targets.argmax(1), top_k(scores, range(targets.shape[1]))))
    return out
