"""Human-readable results: ``result.txt`` for one scored set and the recipe's RESULTS.md table."""
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


def results_markdown(result_paths, exp_root):
    """RESULTS.md rows, one per ``exp/<subtask>/<system>/<set>/result.json``.

    The published figure comes from the system's ``config.yaml`` (``published: {<subtask>: x}``).
    """
    lines = ["| subtask | system | set | clips | class-avg accuracy % | per device % | device average % | published % |",
             "|---|---|---|---|---|---|---|---|"]
    for path in sorted(result_paths):
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
        set_dir = os.path.dirname(path)
        system_dir = os.path.dirname(set_dir)
        parts = os.path.relpath(system_dir, exp_root).split(os.sep)
        subtask, system = (parts[0], "/".join(parts[1:])) if len(parts) > 1 else ("", parts[0])
        published = "-"
        config_path = os.path.join(system_dir, "config.yaml")
        if os.path.isfile(config_path):
            published = str((cfg.load_yaml(config_path).get("published") or {}).get(subtask, "-"))
        devices = ", ".join(f"{d}: {_pct(r['class_avg_accuracy'])}"
                            for d, r in sorted(result.get("per_device", {}).items())) or "-"
        average = result.get("device_average")
        avg = f"{'+'.join(average['devices'])}: {_pct(average['class_avg_accuracy'])}" if average else "-"
        lines.append(f"| {subtask} | {system} | {os.path.basename(set_dir)} | {result['n_utts']} | "
                     f"{_pct(result['class_avg_accuracy'])} | {devices} | {avg} | {published} |")
    return "\n".join(lines) + "\n"
