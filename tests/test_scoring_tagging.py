"""Task 2 scoring: MAP@3, top-k, verified-only evaluation, submission, fold aggregation, and the
score_tagging / aggregate_folds tools."""
import json
import subprocess
import sys

import numpy as np
import pytest

from dcase_tk import cli
from dcase_tk.bin import aggregate_folds as aggregate_tool, score_tagging
from dcase_tk.io.scores import write_scores
from dcase_tk.io.table import TableError
from dcase_tk.scoring.tagging import (aggregate_folds, average_precision_at_k, evaluate_tagging,
                                      map_at_k, submission_rows, top_k)

CLASSES = ["bark", "chime", "cough", "drum"]


def test_map3_hand_computed():
    labels = ["bark", "chime", "cough", "drum"]
    rankings = [["bark", "chime", "cough"], ["bark", "chime", "cough"],
                ["bark", "chime", "cough"], ["bark", "chime", "cough"]]
    assert map_at_k(labels, rankings) == pytest.approx((1 + 1 / 2 + 1 / 3 + 0) / 4)
    assert map_at_k(labels, [[y, "x", "z"] for y in labels]) == 1.0
    assert average_precision_at_k("drum", ["bark", "chime", "cough", "drum"]) == 0.0   # rank 4 > k
    assert average_precision_at_k("drum", ["bark", "chime", "cough", "drum"], k=4) == 0.25
    assert average_precision_at_k("bark", ["chime", "bark", "bark"]) == 0.5            # first hit only
    with pytest.raises(ValueError, match="2 labels but 1 rankings"):
        map_at_k(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="positive integer"):
        average_precision_at_k("a", ["a"], k=0)


def kaggle_apk(actual, predicted, k):
    """Kaggle's apk, written independently: precision at each new hit, over min(|actual|, k)."""
    predicted = predicted[:k]
    hits, total = 0, 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            hits += 1
            total += hits / (i + 1)
    return total / min(len(actual), k)


def test_map3_equals_kaggle_definition_on_random_data():
    rng = np.random.default_rng(0)
    labels = list(rng.choice(CLASSES, size=200))
    rankings = [list(rng.choice(CLASSES, size=3)) for _ in range(200)]     # repeats included
    expected = np.mean([kaggle_apk([y], p, 3) for y, p in zip(labels, rankings)])
    assert map_at_k(labels, rankings) == pytest.approx(expected)
    assert 0 < expected < 1


def test_top_k_order_and_ties():
    scores = np.array([[0.1, 0.4, 0.3, 0.2], [0.5, 0.5, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0]])
    assert top_k(scores, CLASSES) == [["chime", "cough", "drum"], ["bark", "chime", "drum"],
                                      ["cough", "bark", "chime"]]
    assert top_k(scores[:, :2], CLASSES[:2]) == [["chime", "bark"], ["bark", "chime"], ["bark", "chime"]]
    with pytest.raises(ValueError, match="expected \\(n_clips, 4\\)"):
        top_k(scores[:, :3], CLASSES)


SCORES = {"a": [0.9, 0.05, 0.03, 0.02],    # bark at rank 1
          "b": [0.5, 0.3, 0.2, 0.0],       # cough at rank 3
          "c": [0.1, 0.2, 0.3, 0.4],       # bark absent from the top 3
          "d": [0.1, 0.6, 0.2, 0.1]}       # chime at rank 1
LABELS = {"a": "bark", "b": "cough", "c": "bark", "d": "chime"}
VERIFIED = {"a": "1", "b": "1", "c": "0", "d": "1"}


def test_evaluate_tagging_verified_only():
    all_clips = evaluate_tagging(LABELS, SCORES, CLASSES, VERIFIED, verified_only=False)
    assert all_clips["map3"] == pytest.approx((1 + 1 / 3 + 0 + 1) / 4)
    assert all_clips["accuracy"] == 0.5 and all_clips["n_utts"] == 4
    assert all_clips["per_class"] == {"bark": 0.5, "chime": 1.0, "cough": 0.0, "drum": None}
    assert all_clips["class_avg_accuracy"] == pytest.approx(0.5)
    assert all_clips["per_class_map3"]["bark"] == 0.5 and all_clips["per_class_map3"]["drum"] is None
    verified = evaluate_tagging(LABELS, SCORES, CLASSES, VERIFIED)
    assert verified["map3"] == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert verified["accuracy"] == pytest.approx(2 / 3)
    assert verified["per_class"]["bark"] == 1.0
    assert verified["n_utts"] == 3 and verified["n_unverified_excluded"] == 1 and verified["verified_only"]
    assert evaluate_tagging(LABELS, SCORES, CLASSES)["n_utts"] == 4            # no table: all clips
    with pytest.raises(ValueError, match="'c' has no utt2verified entry"):
        evaluate_tagging(LABELS, SCORES, CLASSES, {"a": "1", "b": "1", "d": "1"})
    with pytest.raises(ValueError, match="no labelled clip has utt2verified = 1"):
        evaluate_tagging(LABELS, SCORES, CLASSES, dict.fromkeys(LABELS, "0"))
    with pytest.raises(ValueError, match="labels \\['siren'\\] are not in classes.txt"):
        evaluate_tagging({**LABELS, "e": "siren"}, SCORES, CLASSES)


def test_submission_rows_format():
    rows = submission_rows(["z1", "a1"], np.array([SCORES["c"], SCORES["b"]]), CLASSES)
    assert rows == ["fname,label", "a1.wav,bark chime cough", "z1.wav,drum cough chime"]
    assert submission_rows(["a1"], [SCORES["a"]], CLASSES, "audio_test/{utt}.wav")[1] == \
        "audio_test/a1.wav,bark chime cough"
    with pytest.raises(ValueError, match="comma or a space"):
        submission_rows(["a1"], [[0.1, 0.9]], ["bus stop", "park"])


def test_aggregate_folds_mean_std():
    folds = [{"classes": ["x", "y"], "map3": 0.8, "accuracy": 0.7, "n_utts": 10, "verified_only": True,
              "per_class": {"x": 0.5, "y": None}},
             {"classes": ["x", "y"], "map3": 0.9, "accuracy": 0.9, "n_utts": 20, "verified_only": True,
              "per_class": {"x": 1.0, "y": 0.4}}]
    agg = aggregate_folds(folds)
    assert agg["n_folds"] == 2 and set(agg["metrics"]) == {"map3", "accuracy", "n_utts"}
    assert agg["metrics"]["map3"]["mean"] == pytest.approx(0.85)
    assert agg["metrics"]["map3"]["std"] == pytest.approx(0.05)               # ddof=0
    assert agg["metrics"]["accuracy"]["per_fold"] == [0.7, 0.9]
    assert agg["per_class"]["x"]["mean"] == 0.75
    assert agg["per_class"]["y"] == {"mean": 0.4, "std": 0.0, "per_fold": [None, 0.4]}
    with pytest.raises(ValueError, match="different classes.txt"):
        aggregate_folds([folds[0], {**folds[1], "classes": ["x"]}])


def make_decode(tmp_path, name, utts, labels=None, verified=None):
    data, dec = tmp_path / name / "data", tmp_path / name / "decode"
    data.mkdir(parents=True)
    dec.mkdir()
    (dec / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    write_scores(str(dec / "score"), utts, np.array([SCORES[u] for u in utts]))
    if labels:
        (data / "utt2label").write_text("".join(f"{u} {labels[u]}\n" for u in sorted(labels)))
    if verified:
        (data / "utt2verified").write_text("".join(f"{u} {verified[u]}\n" for u in sorted(verified)))
    return data, dec


def run_tool(module, *args):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True)


def test_score_tagging_and_aggregate_folds_end_to_end(tmp_path):
    data, dec = make_decode(tmp_path, "fold1", list(SCORES), LABELS, VERIFIED)
    r = run_tool("dcase_tk.bin.score_tagging", data, dec)
    assert r.returncode == 0, r.stderr
    result = json.loads((dec / "result.json").read_text())
    assert result["map3"] == pytest.approx((1 + 1 / 3 + 1) / 3) and result["n_utts"] == 3
    assert (dec / "submission.csv").read_text().splitlines()[:2] == ["fname,label", "a.wav,bark chime cough"]
    assert "MAP@3 (verified clips)" in r.stdout and "77.8" in (dec / "result.txt").read_text()
    score_tagging.main(["--verbose", "0", "--verified_only", "false", str(data), str(dec)])
    fold2 = tmp_path / "fold2"
    fold2.mkdir()
    (fold2 / "result.json").write_text((dec / "result.json").read_text())
    r = run_tool("dcase_tk.bin.aggregate_folds", tmp_path / "cv", dec, fold2)
    assert r.returncode == 0, r.stderr
    agg = json.loads((tmp_path / "cv" / "result.json").read_text())
    assert agg["metrics"]["map3"]["mean"] == pytest.approx((1 + 1 / 3 + 0 + 1) / 4)
    assert agg["metrics"]["map3"]["std"] == 0.0 and agg["folds"] == [str(dec), str(fold2)]
    assert (tmp_path / "cv" / "result.txt").read_text().splitlines()[0].split() == \
        ["metric", "mean", "std", "fold", "1", "fold", "2"]
    r = run_tool("dcase_tk.bin.aggregate_folds", tmp_path / "cv2", dec, tmp_path / "fold3")
    assert r.returncode == 1 and f"fold {tmp_path / 'fold3'} has no result.json" in r.stderr


def test_score_tagging_unlabelled_set_gets_submission_only(tmp_path):
    data, dec = make_decode(tmp_path, "eval", ["b", "d"])
    score_tagging.main(["--verbose", "0", "--submission_key", "{utt}", str(data), str(dec)])
    assert (dec / "submission.csv").read_text() == "fname,label\nb,bark chime cough\nd,chime cough bark\n"
    assert not (dec / "result.json").exists()


def test_score_tagging_errors_name_file_and_line(tmp_path):
    data, dec = make_decode(tmp_path, "missing", ["a", "b"], LABELS)
    with pytest.raises(cli.ToolError, match=r"utt2label:3: 'c' has no row in .*score \(2 labelled"):
        score_tagging.main(["--verbose", "0", str(data), str(dec)])
    assert not (dec / "result.json").exists()
    data, dec = make_decode(tmp_path, "unknown", list(SCORES), {**LABELS, "c": "siren"})
    with pytest.raises(cli.ToolError, match="utt2label:3: label 'siren' of 'c' is not in"):
        score_tagging.main(["--verbose", "0", str(data), str(dec)])
    data, dec = make_decode(tmp_path, "extra", list(SCORES), {"a": "bark"})
    with pytest.raises(cli.ToolError, match="score has 3 utterances that are not in"):
        score_tagging.main(["--verbose", "0", str(data), str(dec)])
    with open(dec / "score", "a") as f:
        f.write("a 0.1 0.2 0.3 0.4\n")
    with pytest.raises(TableError, match="score:5: a second score row for 'a'"):
        score_tagging.main(["--verbose", "0", str(data), str(dec)])
    with pytest.raises(cli.ToolError, match="may use only \\{utt\\}"):
        score_tagging.main(["--verbose", "0", "--submission_key", "{name}", str(data), str(tmp_path / "missing" / "decode")])
    (dec / "result.json").write_text("{")
    with pytest.raises(cli.ToolError, match="not valid JSON"):
        aggregate_tool.main(["--verbose", "0", str(tmp_path / "cv"), str(dec)])
