"""Task 4 (sound event detection) scoring with sed_eval, the challenge's own metric tool, and
clip-level tagging scores.

- Event-based (``sed_eval.sound_event.EventBasedMetrics``): an estimated event matches a
  reference event of the same class and clip when its onset is within ``t_collar`` (0.2 s) of
  the reference onset and its offset within ``max(t_collar, percentage_of_length x reference
  length)`` (20 %); the matching is sed_eval's optimal (maximum bipartite) one. F1, precision,
  recall and error rate (ER = (S + D + I) / N_ref) are given per class, macro-averaged over
  classes (sed_eval's class-wise average; the challenge ranks on the macro F1) and micro
  (sed_eval's overall figures, events of all classes pooled). ``empty_system_output_handling``
  is ``zero_score``, as in the Task 4 baseline's evaluation: a class with no estimated event
  scores precision 0, F1 0, not NaN.
- Segment-based (``SegmentBasedMetrics``, 1 s segments): the same figures on segment activity.
  Each clip is evaluated over its duration (utt2dur) when known, else up to its last reference
  or estimated offset (sed_eval's default). The same ``zero_score`` handling is used.
- Every clip of the data dir is evaluated, with its reference events (none for clips that have
  no line in ``events``) and its estimated events (none when it has none), so that events
  estimated in a clip without reference events count as insertions (false positives).
- Figures sed_eval leaves undefined (NaN: the recall of a class without reference events, and so
  its F1) are ``null`` in result.json and left out of the macro averages (sed_eval's
  ``nanmean``). The class-wise ER divides by N_ref + eps: for a class without reference events
  it is huge, and so is the macro ER; a warning names such classes.
- Tagging, from the clip-level scores: a clip is tagged with a class when its score is
  ``>= tag_threshold`` (0.5); its reference tags are the classes of its reference events. F1 per
  class, ``2 TP / (2 TP + FP + FN)`` (undefined, null, for a class neither in the reference nor
  tagged), macro (over the defined ones) and micro (counts pooled); ROC AUC per class with
  ``sklearn.metrics.roc_auc_score``, macro over the classes with both positive and negative
  clips.
"""
import dataclasses
import logging
import math
import warnings

import numpy as np

from dcase_tk.config import ConfigError, dataclass_from_dict

log = logging.getLogger("dcase_tk.scoring.sed")


@dataclasses.dataclass
class ScoringConfig:
    t_collar: float = 0.2
    percentage_of_length: float = 0.2
    segment: float = 1.0            # seconds, segment-based metrics
    tag_threshold: float = 0.5

    @classmethod
    def from_dict(cls, d):
        c = dataclass_from_dict(cls, d or {}, "scoring")
        for name in ("t_collar", "segment"):
            if not isinstance(getattr(c, name), (int, float)) or getattr(c, name) <= 0:
                raise ConfigError(f"scoring.{name} must be a positive number of seconds, got "
                                  f"{getattr(c, name)!r}")
        for name in ("percentage_of_length", "tag_threshold"):
            if not isinstance(getattr(c, name), (int, float)) or not 0 <= getattr(c, name) <= 1:
                raise ConfigError(f"scoring.{name} must lie in [0, 1], got {getattr(c, name)!r}")
        return c


def sed_eval_module():
    """``sed_eval``, imported without dcase_util's deprecation warnings (pkg_resources)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import sed_eval
    return sed_eval


def _value(x):
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _event_list(utt, events):
    return [{"filename": utt, "event_label": label, "onset": float(onset), "offset": float(offset)}
            for onset, offset, label in events]


def _metrics(metric, classes):
    """micro / macro / per-class figures of a filled sed_eval metric object."""
    micro = {**metric.overall_f_measure(), **metric.overall_error_rate()}
    average = metric.results_class_wise_average_metrics()
    macro = {**average["f_measure"], **average["error_rate"]}
    per_class = {}
    for c in classes:
        counts = metric.class_wise[c]
        per_class[c] = {**metric.class_wise_f_measure(c), **metric.class_wise_error_rate(c),
                        "n_ref": int(counts["Nref"]), "n_sys": int(counts["Nsys"]),
                        "tp": int(counts["Ntp"]), "fp": int(counts["Nfp"]), "fn": int(counts["Nfn"])}

    def rename(d):
        return {("f1" if k == "f_measure" else k): (v if isinstance(v, int) else _value(v))
                for k, v in d.items()}
    return {"micro": rename(micro), "macro": rename(macro),
            "per_class": {c: rename(v) for c, v in per_class.items()}}


def event_segment_metrics(reference, estimated, utts, classes, config, durations=None):
    """``(event_based, segment_based)`` result dicts (see the module docstring)."""
    sed_eval = sed_eval_module()
    event = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=list(classes), t_collar=float(config.t_collar),
        percentage_of_length=float(config.percentage_of_length),
        empty_system_output_handling="zero_score")
    segment = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=list(classes),
                                                       time_resolution=float(config.segment))
    segment.empty_system_output_handling = "zero_score"
    for utt in utts:
        ref = _event_list(utt, reference.get(utt, []))
        est = _event_list(utt, estimated.get(utt, []))
        event.evaluate(reference_event_list=ref, estimated_event_list=est)
        length = None if durations is None else float(durations[utt])
        if length is not None or ref or est:
            segment.evaluate(reference_event_list=ref, estimated_event_list=est,
                             evaluated_length_seconds=length)
    return ({"t_collar": config.t_collar, "percentage_of_length": config.percentage_of_length,
             **_metrics(event, classes)},
            {"segment": config.segment, **_metrics(segment, classes)})


def tagging_metrics(reference, utts, classes, clip_scores, threshold=0.5):
    """Clip-level F1 (per class, macro, micro) and ROC AUC of ``clip_scores`` ({utt: (C,)})."""
    from sklearn.metrics import roc_auc_score
    index = {c: i for i, c in enumerate(classes)}
    truth = np.zeros((len(utts), len(classes)), dtype=bool)
    for n, u in enumerate(utts):
        for _, _, label in reference.get(u, []):
            truth[n, index[label]] = True
    scores = np.stack([np.asarray(clip_scores[u], dtype=np.float64) for u in utts])
    tagged = scores >= threshold
    tp = (tagged & truth).sum(axis=0)
    fp = (tagged & ~truth).sum(axis=0)
    fn = (~tagged & truth).sum(axis=0)
    per_class = {}
    for i, c in enumerate(classes):
        denominator = 2 * tp[i] + fp[i] + fn[i]
        both = 0 < truth[:, i].sum() < len(utts)
        per_class[c] = {"f1": float(2 * tp[i] / denominator) if denominator else None,
                        "auc": float(roc_auc_score(truth[:, i], scores[:, i])) if both else None,
                        "n_positive": int(truth[:, i].sum()), "n_tagged": int(tagged[:, i].sum()),
                        "tp": int(tp[i]), "fp": int(fp[i]), "fn": int(fn[i])}
    f1s = [v["f1"] for v in per_class.values() if v["f1"] is not None]
    aucs = [v["auc"] for v in per_class.values() if v["auc"] is not None]
    micro_denominator = 2 * tp.sum() + fp.sum() + fn.sum()
    return {"threshold": threshold,
            "macro_f1": float(np.mean(f1s)) if f1s else None,
            "micro_f1": float(2 * tp.sum() / micro_denominator) if micro_denominator else None,
            "macro_auc": float(np.mean(aucs)) if aucs else None,
            "per_class": per_class}


def evaluate_sed(reference, estimated, utts, classes, config=None, durations=None, clip_scores=None):
    """The ``result.json`` content of one scored set.

    ``reference`` and ``estimated``: {utt: [(onset, offset, label), ...]} (a clip without events
    may be missing); ``utts``: every clip of the set; ``durations``: {utt: seconds} or None;
    ``clip_scores``: {utt: (C,) scores} or None (no tagging figures).
    """
    config = config or ScoringConfig()
    no_reference = [c for c in classes if not any(lab == c for u in utts for _, _, lab in reference.get(u, []))]
    if no_reference:
        log.warning("classes %s have no reference event: their F1 is undefined and their ER is "
                    "N_sys / eps (so is the macro ER); score a set with every class", no_reference)
    event, segment = event_segment_metrics(reference, estimated, utts, classes, config, durations)
    result = {"classes": list(classes), "n_utts": len(utts),
              "n_utts_without_reference_events": sum(1 for u in utts if not reference.get(u)),
              "n_reference_events": sum(len(reference.get(u, [])) for u in utts),
              "n_estimated_events": sum(len(estimated.get(u, [])) for u in utts),
              "classes_without_reference_events": no_reference,
              "event_macro_f1": event["macro"]["f1"], "event_macro_er": event["macro"]["error_rate"],
              "event_micro_f1": event["micro"]["f1"], "event_micro_er": event["micro"]["error_rate"],
              "segment_macro_f1": segment["macro"]["f1"],
              "segment_micro_f1": segment["micro"]["f1"],
              "segment_micro_er": segment["micro"]["error_rate"],
              "event_based": event, "segment_based": segment}
    if clip_scores is not None:
        tagging = tagging_metrics(reference, utts, classes, clip_scores, config.tag_threshold)
        result.update(tagging_macro_f1=tagging["macro_f1"], tagging_macro_auc=tagging["macro_auc"],
                      tagging=tagging)
    return result
