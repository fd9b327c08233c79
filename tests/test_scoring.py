"""Accuracy metrics, per-device results with the B+C average, report tables, score files."""
import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import f1_score

from dcase_tk.io.scores import read_scores, write_scores
from dcase_tk.io.table import TableError
from dcase_tk.scoring.classification import evaluate_decisions, summary
from dcase_tk.scoring.report import result_txt, results_markdown

CLASSES = ["bus", "park", "tram"]


def test_class_average_weighs_classes_equally():
    s = summary([0, 0, 0, 1], [0, 0, 0, 0], CLASSES)
    assert s["accuracy"] == 0.75
    assert s["class_avg_accuracy"] == 0.5            # bus 1.0, park 0.0; tram absent
    assert s["per_class"] == {"bus": 1.0, "park": 0.0, "tram": None}
    assert s["confusion"] == [[3, 0, 0], [1, 0, 0], [0, 0, 0]]


def test_macro_f1_by_hand_and_against_scikit_learn():
    s = summary([0, 0, 0, 1], [0, 0, 0, 0], CLASSES)
    # bus: TP 3, FP 1, FN 0 -> 6/7; park: TP 0, FN 1 -> 0; tram: in neither, left out
    assert s["per_class_f1"] == {"bus": pytest.approx(6 / 7), "park": 0.0, "tram": None}
    assert s["macro_f1"] == pytest.approx(3 / 7)
    rng = np.random.default_rng(0)
    for _ in range(5):
        y_true, y_pred = rng.integers(0, 9, 200), rng.integers(0, 9, 200)
        y_pred[:120] = y_true[:120]
        y_true[y_true == 4] = 5                       # a class only predicted, never true
        expected = f1_score(y_true, y_pred, average="macro")
        assert summary(y_true, y_pred, [str(c) for c in range(10)])["macro_f1"] == pytest.approx(expected, abs=1e-12)


def test_per_device_and_device_average():
    labels = {"u1-a": "bus", "u2-a": "park", "u1-b": "bus", "u2-b": "park", "u1-c": "bus", "u2-c": "park"}
    decision = {"u1-a": "bus", "u2-a": "park", "u1-b": "bus", "u2-b": "bus", "u1-c": "tram", "u2-c": "tram"}
    devices = {u: u[-1] for u in labels}
    r = evaluate_decisions(labels, decision, CLASSES, devices, ["b", "c"])
    assert r["per_device"]["a"]["class_avg_accuracy"] == 1.0
    assert r["per_device"]["b"]["class_avg_accuracy"] == 0.5
    assert r["per_device"]["c"]["class_avg_accuracy"] == 0.0
    assert r["device_average"]["class_avg_accuracy"] == 0.25
    assert r["device_average"]["per_class"] == {"bus": 0.5, "park": 0.0, "tram": None}
    table = result_txt(r)
    assert "avg b+c" in table and "25.0" in table
    with pytest.raises(ValueError, match="device"):
        evaluate_decisions(labels, decision, CLASSES, devices, ["d"])


def test_score_file_roundtrip_and_errors(tmp_path):
    write_scores(tmp_path / "score", ["z", "a"], np.array([[0.1, 0.9], [0.7, 0.3]]))
    assert (tmp_path / "score").read_text() == "a 0.700000 0.300000\nz 0.100000 0.900000\n"
    utts, m = read_scores(tmp_path / "score")
    assert utts == ["a", "z"] and m.shape == (2, 2)
    (tmp_path / "bad").write_text("a 0.1 0.9\nb 0.5\n")
    with pytest.raises(TableError, match="bad:2: 1 scores for 'b', expected 2"):
        read_scores(tmp_path / "bad")


def make_decode(tmp_path, decision):
    data, dec = tmp_path / "data", tmp_path / "exp" / "1b" / "sys" / "test"
    data.mkdir()
    dec.mkdir(parents=True)
    (data / "utt2label").write_text("u1-a bus\nu1-b bus\nu1-c park\n")
    (data / "utt2device").write_text("u1-a a\nu1-b b\nu1-c c\n")
    (dec / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (dec / "decision").write_text(decision)
    (dec.parent / "config.yaml").write_text("published:\n  1b: 45.6\n")
    return data, dec


def test_score_tool_writes_results_submission_and_table(tmp_path):
    data, dec = make_decode(tmp_path, "u1-a bus\nu1-b park\nu1-c park\n")
    r = subprocess.run([sys.executable, "-m", "dcase_tk.bin.score_classification", "--device_average", "b,c",
                        "--submission_key", "audio/{utt}.wav", str(data), str(dec)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    result = json.loads((dec / "result.json").read_text())
    assert result["device_average"]["class_avg_accuracy"] == 0.5
    assert (dec / "submission.txt").read_text() == "audio/u1-a.wav\tbus\naudio/u1-b.wav\tpark\naudio/u1-c.wav\tpark\n"
    assert (dec / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    md = results_markdown([str(dec / "result.json")], str(tmp_path / "exp"))
    row = md.splitlines()[2]
    assert row.startswith("| 1b | sys | test | 3 |") and "b+c: 50.0" in row and row.endswith("| 45.6 |")


def test_score_tool_refuses_missing_decisions(tmp_path):
    data, dec = make_decode(tmp_path, "u1-a bus\n")
    r = subprocess.run([sys.executable, "-m", "dcase_tk.bin.score_classification", str(data), str(dec)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "2 utterances without a decision" in r.stderr
    assert not (dec / "result.json").exists()
