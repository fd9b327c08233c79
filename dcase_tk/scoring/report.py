"""Human-readable results: ``result.txt`` for one scored set and the recipe's RESULTS.md table."""
import glob
import json
import os

from dcase_tk import config as cfg


def _pct(value):
    return "-" if value is None else f"{100 * value:.1f}"


def result_txt(result):
    """The table a person reads: class-wise accuracy overall and per device, then averages."""
    devices = sorted(result.get("per_device", {}))
    header = ["class"] + ["all"] + [f"dev {d}" for d in devices]
    average = result.get("device_average")
    if average:
        header.append("avg " + "+".join(average["devices"]))
    rows = []
    for c in result["classes"]:
        row = [c, _pct(result["per_class"][c])]
        row += [_pct(result["per_device"][d]["per_class"][c]) for d in devices]
        if average:
            row.append(_pct(average["per_class"][c]))
        rows.append(row)
    avg = ["class average", _pct(result["class_avg_accuracy"])]
    avg += [_pct(result["per_device"][d]["class_avg_accuracy"]) for d in devices]
    if average:
        avg.append(_pct(average["class_avg_accuracy"]))
    overall = ["accuracy (all clips)", _pct(result["accuracy"])]
    overall += [_pct(result["per_device"][d]["accuracy"]) for d in devices]
    if average:
        overall.append("")
    counts = ["clips", str(result["n_utts"])] + [str(result["per_device"][d]["n_utts"]) for d in devices]
    if average:
        counts.append("")
    return _table([header] + rows + [avg, overall, counts])


def _table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                       enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 3, "-" * len(lines[0]))
    return "\n".join(lines) + "\n"


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


def _published(system_dir, subtask):
    """The system config's ``published: {<subtask>: x}``, from the trained system's config.yaml
    (or its first fold's, for cross-validated systems)."""
    candidates = [os.path.join(system_dir, "config.yaml")]
    candidates += sorted(glob.glob(os.path.join(system_dir, "fold*", "config.yaml")))
    for path in candidates:
        if os.path.isfile(path):
            return str((cfg.load_yaml(path).get("published") or {}).get(subtask, "-"))
    return "-"


def tagging_results_markdown(result_paths, exp_root):
    """RESULTS.md rows of tagging results (Task 2): fold aggregates (``aggregate_folds``) show
    mean +- std over the folds, single sets their value."""
    lines = ["| task | system | set | clips | MAP@3 % | accuracy % | published |",
             "|---|---|---|---|---|---|---|"]
    for result, set_name, system_dir, subtask, system in _results(result_paths, exp_root):
        if "metrics" in result:
            m = result["metrics"]
            cells = [f"{int(sum(m['n_utts']['per_fold']))} ({result['n_folds']} folds)",
                     f"{_pct(m['map3']['mean'])} +- {_pct(m['map3']['std'])}",
                     f"{_pct(m['accuracy']['mean'])} +- {_pct(m['accuracy']['std'])}"]
        else:
            cells = [str(result["n_utts"]), _pct(result["map3"]), _pct(result["accuracy"])]
        lines.append(f"| {subtask} | {system} | {set_name} | {' | '.join(cells)} | "
                     f"{_published(system_dir, subtask)} |")
    return "\n".join(lines) + "\n"


def results_markdown(result_paths, exp_root):
    """RESULTS.md rows, one per ``exp/<subtask>/<system>/<set>/result.json``.

    The published figure comes from the system's ``config.yaml`` (``published: {<subtask>: x}``).
    """
    lines = ["| subtask | system | set | clips | class-avg accuracy % | per device % | device average % | published % |",
             "|---|---|---|---|---|---|---|---|"]
    for result, set_name, system_dir, subtask, system in _results(result_paths, exp_root):
        published = _published(system_dir, subtask)
        devices = ", ".join(f"{d}: {_pct(r['class_avg_accuracy'])}"
                            for d, r in sorted(result.get("per_device", {}).items())) or "-"
        average = result.get("device_average")
        avg = f"{'+'.join(average['devices'])}: {_pct(average['class_avg_accuracy'])}" if average else "-"
        lines.append(f"| {subtask} | {system} | {set_name} | {result['n_utts']} | "
                     f"{_pct(result['class_avg_accuracy'])} | {devices} | {avg} | {published} |")
    return "\n".join(lines) + "\n"
