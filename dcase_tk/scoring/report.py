"""Human-readable results: ``result.txt`` for one scored set and the recipe's RESULTS.md table."""
import glob
import json
import os

from dcase_tk import config as cfg
from dcase_tk.scoring.text import pct, text_table


def result_txt(result):
    """The table a person reads: class-wise accuracy overall and per device, then averages, and
    the F1 of each class (its average: the macro F1)."""
    devices = sorted(result.get("per_device", {}))
    header = ["class"] + ["all"] + [f"dev {d}" for d in devices]
    average = result.get("device_average")
    if average:
        header.append("avg " + "+".join(average["devices"]))
    header.append("F1")
    rows = []
    for c in result["classes"]:
        row = [c, pct(result["per_class"][c])]
        row += [pct(result["per_device"][d]["per_class"][c]) for d in devices]
        if average:
            row.append(pct(average["per_class"][c]))
        rows.append(row + [pct(result["per_class_f1"][c])])
    avg = ["class average", pct(result["class_avg_accuracy"])]
    avg += [pct(result["per_device"][d]["class_avg_accuracy"]) for d in devices]
    if average:
        avg.append(pct(average["class_avg_accuracy"]))
    avg.append(pct(result["macro_f1"]))
    overall = ["accuracy (all clips)", pct(result["accuracy"])]
    overall += [pct(result["per_device"][d]["accuracy"]) for d in devices]
    counts = ["clips", str(result["n_utts"])] + [str(result["per_device"][d]["n_utts"]) for d in devices]
    blanks = [""] * (len(header) - len(overall))
    return text_table([header] + rows, [avg, overall + blanks, counts + blanks])


def _results(result_paths, exp_root):
    """``(result, set name, system dir, subtask, system)`` of each
    ``exp/<subtask>/<system>/<set>/result.json``, sorted by path."""
    for path in sorted(result_paths):
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
        set_dir = os.path.dirname(path)
        system_dir = os.path.dirname(set_dir)
        parts = os.path.relpath(system_dir, exp_root).split(os.sep)
        subtask, system = (parts[0], "/".join(parts[1:])) if len(parts) > 1 else ("", parts[0])
        yield result, os.path.basename(set_dir), system_dir, subtask, system


def _published(system_dir, subtask, key=None):
    """The system config's ``published: {<subtask>: x}`` (or ``published[key]``), from the
    trained system's config.yaml (or its first fold's, for cross-validated systems)."""
    candidates = [os.path.join(system_dir, "config.yaml")]
    candidates += sorted(glob.glob(os.path.join(system_dir, "fold*", "config.yaml")))
    for path in candidates:
        if os.path.isfile(path):
            return str((cfg.load_yaml(path).get("published") or {}).get(key or subtask, "-"))
    return "-"


# The columns of the fold tables: (result.json key, header)
FOLD_METRICS = {
    "tagging": [("map3", "MAP@3 %"), ("accuracy", "accuracy %")],           # Task 2
    "activity": [("macro_f1", "macro F1 %"), ("accuracy", "accuracy %")],  # Task 5
}


def fold_results_markdown(result_paths, exp_root, metrics):
    """RESULTS.md rows of cross-validated systems: fold aggregates (``aggregate_folds``) show
    mean +- std over the folds, single sets their value; ``metrics`` as in FOLD_METRICS. The
    published figure is shown on the rows of the sets it is for (cv, test), not on variants
    such as cv_ch1 (one channel of a multichannel system)."""
    lines = ["| task | system | set | clips | " + " | ".join(h for _, h in metrics) + " | published |",
             "|---|---|---|---|" + "---|" * len(metrics) + "---|"]
    for result, set_name, system_dir, subtask, system in _results(result_paths, exp_root):
        if "metrics" in result:
            m = result["metrics"]
            cells = [f"{int(sum(m['n_utts']['per_fold']))} ({result['n_folds']} folds)"]
            cells += [f"{pct(m[k]['mean'])} +- {pct(m[k]['std'])}" for k, _ in metrics]
        else:
            cells = [str(result["n_utts"])] + [pct(result[k]) for k, _ in metrics]
        published = _published(system_dir, subtask) if set_name in ("cv", "test") else "-"
        lines.append(f"| {subtask} | {system} | {set_name} | {' | '.join(cells)} | {published} |")
    return "\n".join(lines) + "\n"


def detection_results_markdown(result_paths, exp_root):
    """RESULTS.md rows of detection results (Task 3, ``score_detection``): the AUC of each
    dataset, their harmonic mean, the AUC and accuracy of all clips pooled."""
    lines = ["| task | system | set | clips | AUC % per dataset | harmonic mean % | pooled AUC % | "
             "accuracy % | published |", "|---|---|---|---|---|---|---|---|---|"]
    for result, set_name, system_dir, subtask, system in _results(result_paths, exp_root):
        datasets = ", ".join(f"{d}: {pct(r['auc'])}" for d, r in result.get("per_dataset", {}).items()) or "-"
        lines.append(f"| {subtask} | {system} | {set_name} | {result['n_utts']} | {datasets} | "
                     f"{pct(result.get('auc_harmonic_mean'))} | {pct(result['auc'])} | "
                     f"{pct(result['accuracy'])} | {_published(system_dir, subtask)} |")
    return "\n".join(lines) + "\n"


def results_markdown(result_paths, exp_root):
    """RESULTS.md rows, one per ``exp/<subtask>/<system>/<set>/result.json``.

    The published figure comes from the system's ``config.yaml`` (``published: {<subtask>: x}``).
    """
    lines = ["| subtask | system | set | clips | class-avg accuracy % | per device % | device average % | published % |",
             "|---|---|---|---|---|---|---|---|"]
    for result, set_name, system_dir, subtask, system in _results(result_paths, exp_root):
        published = _published(system_dir, subtask)
        devices = ", ".join(f"{d}: {pct(r['class_avg_accuracy'])}"
                            for d, r in sorted(result.get("per_device", {}).items())) or "-"
        average = result.get("device_average")
        avg = f"{'+'.join(average['devices'])}: {pct(average['class_avg_accuracy'])}" if average else "-"
        lines.append(f"| {subtask} | {system} | {set_name} | {result['n_utts']} | "
                     f"{pct(result['class_avg_accuracy'])} | {devices} | {avg} | {published} |")
    return "\n".join(lines) + "\n"


def sed_results_markdown(result_paths, exp_root):
    """RESULTS.md rows of sound event detection results (Task 4, ``score_sed``): event-based macro
    F1 and ER, segment-based macro F1, clip tagging macro F1 and AUC. The published figure of the
    set ``test`` is the config's ``published: {<subtask>: x}``; a decoding's set (``test_sed2``)
    takes ``published: {test_sed2: x}``."""
    lines = ["| task | system | set | clips | event F1 % | event ER | segment F1 % | tagging F1 % | "
             "tagging AUC % | published F1 % |", "|---|---|---|---|---|---|---|---|---|---|"]
    for result, set_name, system_dir, subtask, system in _results(result_paths, exp_root):
        er = result["event_macro_er"]
        published = _published(system_dir, subtask, None if set_name == "test" else set_name)
        lines.append(f"| {subtask} | {system} | {set_name} | {result['n_utts']} | "
                     f"{pct(result['event_macro_f1'])} | {'-' if er is None else f'{er:.2f}'} | "
                     f"{pct(result['segment_macro_f1'])} | {pct(result.get('tagging_macro_f1'))} | "
                     f"{pct(result.get('tagging_macro_auc'))} | {published} |")
    return "\n".join(lines) + "\n"
