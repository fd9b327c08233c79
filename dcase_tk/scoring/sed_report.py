"""What a person reads of a Task 4 result: ``result.txt`` (per-class table, then the macro and
micro averages) and ``per_class.tsv`` (the same per-class figures, tab-separated, for tools)."""
from dcase_tk.scoring.text import pct, text_table

PER_CLASS_COLUMNS = ("class", "ref_events", "est_events", "event_f1", "event_precision",
                     "event_recall", "event_er", "segment_f1", "segment_er", "tagging_f1", "tagging_auc")


def _er(value):
    return "-" if value is None else f"{value:.2f}"


def _per_class_values(result, c):
    event = result["event_based"]["per_class"][c]
    segment = result["segment_based"]["per_class"][c]
    tagging = result.get("tagging", {}).get("per_class", {}).get(c, {})
    return [event["n_ref"], event["n_sys"], event["f1"], event["precision"], event["recall"],
            event["error_rate"], segment["f1"], segment["error_rate"], tagging.get("f1"),
            tagging.get("auc")]


def sed_result_txt(result):
    """Per class: reference and estimated events, event-based F1/P/R %, ER, segment-based F1 %
    and ER, tagging F1 % and AUC %; then the macro (class average) and micro (pooled) rows."""
    event, segment = result["event_based"], result["segment_based"]
    tagging = result.get("tagging")
    header = ["class", "ref", "est", "event F1 %", "P %", "R %", "ER", "segment F1 %", "seg ER",
              "tag F1 %", "AUC %"]
    rows = [header]
    for c in result["classes"]:
        n_ref, n_sys, f1, p, r, er, seg_f1, seg_er, tag_f1, auc = _per_class_values(result, c)
        rows.append([c, str(n_ref), str(n_sys), pct(f1), pct(p), pct(r), _er(er), pct(seg_f1),
                     _er(seg_er), pct(tag_f1), pct(auc)])
    macro, micro = event["macro"], event["micro"]
    footer = [["macro (class average)", "", "", pct(macro["f1"]), pct(macro["precision"]),
               pct(macro["recall"]), _er(macro["error_rate"]), pct(segment["macro"]["f1"]),
               _er(segment["macro"]["error_rate"]), pct(tagging and tagging["macro_f1"]),
               pct(tagging and tagging["macro_auc"])],
              ["micro (pooled)", str(result["n_reference_events"]), str(result["n_estimated_events"]),
               pct(micro["f1"]), pct(micro["precision"]), pct(micro["recall"]), _er(micro["error_rate"]),
               pct(segment["micro"]["f1"]), _er(segment["micro"]["error_rate"]),
               pct(tagging and tagging["micro_f1"]), ""]]
    note = (f"{result['n_utts']} clips ({result['n_utts_without_reference_events']} without reference "
            f"events); event-based: onset collar {event['t_collar']:g} s, offset max({event['t_collar']:g} s, "
            f"{100 * event['percentage_of_length']:g} % of the length); segments of {segment['segment']:g} s")
    if tagging:
        note += f"; tags: clip score >= {tagging['threshold']:g}"
    return text_table(rows, footer) + note + "\n"


def per_class_tsv(result):
    """``per_class.tsv``: a header, then one row per class (empty cells for undefined figures)."""
    lines = ["\t".join(PER_CLASS_COLUMNS)]
    for c in result["classes"]:
        values = _per_class_values(result, c)
        lines.append("\t".join([c] + ["" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
                                      for v in values]))
    return "\n".join(lines) + "\n"
