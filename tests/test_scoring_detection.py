"""Task 3 scoring: ROC AUC (against scikit-learn, with ties), ROC curve points, harmonic mean,
per-dataset evaluation, the submission, and the score_detection tool."""
import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread
from sklearn.metrics import roc_auc_score, roc_curve

from dcase_tk import cli
from dcase_tk.bin import score_detection
from dcase_tk.io.scores import write_scores
from dcase_tk.scoring.detection import (detection_result_txt, evaluate_detection, harmonic_mean,
                                        roc_auc, roc_curve_points, submission_lines)


def test_auc_hand_computed():
    # labels [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8]. Pairs (positive, negative):
    # (0.35, 0.1) 1, (0.35, 0.4) 0, (0.8, 0.1) 1, (0.8, 0.4) 1 -> 3 / 4.
    # By ranks: 0.1 -> 1, 0.35 -> 2, 0.4 -> 3, 0.8 -> 4; positives 2 + 4 = 6; U = 6 - 2*3/2 = 3;
    # AUC = U / (2 * 2) = 0.75.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # Ties count one half: labels [1, 0, 1, 0], scores [0.6, 0.6, 0.3, 0.2]. Pairs:
    # (0.6, 0.6) 1/2, (0.6, 0.2) 1, (0.3, 0.6) 0, (0.3, 0.2) 1 -> 2.5 / 4.
    assert roc_auc([True, False, True, False], [0.6, 0.6, 0.3, 0.2]) == 0.625
    assert roc_auc([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert roc_auc([0, 1], [np.inf, -np.inf]) == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_auc_equals_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]                                      # both classes
    scores = np.round(rng.random(n) + 0.3 * labels, 1)     # few distinct values: many ties
    assert len(np.unique(scores)) < n
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), rel=0, abs=1e-12)
    fpr, tpr = roc_curve_points(labels, scores)
    ref_fpr, ref_tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(tpr, ref_tpr, rtol=0, atol=1e-15)
    assert np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2) == pytest.approx(roc_auc(labels, scores))


def test_roc_curve_points_group_ties():
    # descending thresholds 0.8 | 0.6 (a positive and a negative) | 0.2
    fpr, tpr = roc_curve_points([1, 1, 0, 0], [0.8, 0.6, 0.6, 0.2])
    assert fpr.tolist() == [0.0, 0.0, 0.5, 1.0] and tpr.tolist() == [0.0, 0.5, 1.0, 1.0]


def test_one_class_and_bad_inputs_are_errors():
    with pytest.raises(ValueError, match="one class only: all 3 clips are positive"):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="one class only: all 2 clips are negative"):
        roc_curve_points([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="labels 0/1 or booleans"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="one score per label"):
        roc_auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1], [0.1, np.nan])


def test_harmonic_mean_hand_computed():
    # 3 / (1/0.5 + 1/0.8 + 1/1.0) = 3 / (2 + 1.25 + 1) = 3 / 4.25
    assert harmonic_mean([0.5, 0.8, 1.0]) == pytest.approx(3 / 4.25)
    assert harmonic_mean([0.75, 0.25]) == pytest.approx(0.375)      # 2 / (4/3 + 4) = 2 / (16/3)
    assert harmonic_mean([0.9]) == pytest.approx(0.9)
    assert harmonic_mean([0.7, 0.0]) == 0.0
    with pytest.raises(ValueError, match="no values"):
        harmonic_mean([])
    with pytest.raises(ValueError, match="non-negative"):
        harmonic_mean([0.5, -0.1])


# Dataset A: labels [no, no, yes, yes], scores [0.1, 0.4, 0.35, 0.8]: AUC 0.75 (above);
#   decisions (> 0.5) [no, no, no, yes]: accuracy 3/4.
# Dataset B: labels [yes, no, yes], scores [0.6, 0.6, 0.3]: pairs (0.6, 0.6) 1/2, (0.3, 0.6) 0
#   -> AUC 0.25; decisions [yes, yes, no]: accuracy 1/3.
# All 7: positives 0.35, 0.8, 0.6, 0.3 vs negatives 0.1, 0.4, 0.6: wins 0.35: 1, 0.8: 3,
#   0.6: 2.5 (one tie), 0.3: 1 -> 7.5 / 12 = 0.625; accuracy (3 + 1) / 7.
# Harmonic mean of the dataset AUCs: 2 / (1/0.75 + 1/0.25) = 0.375.
CLIPS = {"A_a1": ("nobird", 0.1, "z1"), "A_a2": ("nobird", 0.4, "y2"), "A_a3": ("bird", 0.35, "x3"),
         "A_a4": ("bird", 0.8, "w4"), "B_b1": ("bird", 0.6, "c1"), "B_b2": ("nobird", 0.6, "b2"),
         "B_b3": ("bird", 0.3, "a3")}
LABELS = {u: c[0] for u, c in CLIPS.items()}
SCORES = {u: c[1] for u, c in CLIPS.items()}
ITEMIDS = {u: c[2] for u, c in CLIPS.items()}
DATASETS = {u: u.split("_")[0] for u in CLIPS}


def test_evaluate_detection_per_dataset():
    r = evaluate_detection(LABELS, SCORES, "bird", DATASETS)
    assert (r["n_utts"], r["n_positive"], r["positive"], r["negative"]) == (7, 4, "bird", "nobird")
    assert r["auc"] == pytest.approx(0.625) and r["accuracy"] == pytest.approx(4 / 7)
    assert r["per_dataset"]["A"] == {"n_utts": 4, "n_positive": 2, "auc": 0.75, "accuracy": 0.75}
    assert r["per_dataset"]["B"]["auc"] == pytest.approx(0.25)
    assert r["per_dataset"]["B"]["accuracy"] == pytest.approx(1 / 3)
    assert r["auc_harmonic_mean"] == pytest.approx(0.375)
    table = detection_result_txt(r)
    assert "62.5" in table and "37.5" in table and "harmonic mean" in table
    alone = evaluate_detection(LABELS, SCORES, "bird")
    assert "per_dataset" not in alone and alone["auc"] == r["auc"]
    one = evaluate_detection(LABELS, SCORES, "bird", dict.fromkeys(CLIPS, "A"))
    assert list(one["per_dataset"]) == ["A"] and "auc_harmonic_mean" not in one
    # a dataset with one class only: its AUC and the harmonic mean are undefined
    c = evaluate_detection({**LABELS, "C_c1": "bird"}, {**SCORES, "C_c1": 0.7}, "bird",
                           {**DATASETS, "C_c1": "C"})
    assert c["per_dataset"]["C"] == {"n_utts": 1, "n_positive": 1, "auc": None, "accuracy": 1.0}
    assert c["auc_harmonic_mean"] is None and "-" in detection_result_txt(c)


def test_evaluate_detection_errors():
    with pytest.raises(ValueError, match="every labelled clip is 'bird'"):
        evaluate_detection({"a": "bird", "b": "bird"}, {"a": 0.1, "b": 0.2})
    with pytest.raises(ValueError, match="1 labelled clips have no score"):
        evaluate_detection(LABELS, {u: s for u, s in SCORES.items() if u != "A_a1"})
    with pytest.raises(ValueError, match="two classes, 'bird' and one other"):
        evaluate_detection({**LABELS, "x": "birb"}, {**SCORES, "x": 0.5})
    with pytest.raises(ValueError, match="no utt2dataset entry"):
        evaluate_detection(LABELS, SCORES, "bird", {"A_a1": "A"})


def test_submission_lines():
    assert submission_lines(["b", "a", "c"], [0.25, 1.0, 1e-7]) == ["a,1", "b,0.25", "c,0.0000001"]
    with pytest.raises(ValueError, match="more than once"):
        submission_lines(["a", "a"], [0.1, 0.2])
    with pytest.raises(ValueError, match="comma or a space"):
        submission_lines(["a,b"], [0.1])


def make_dirs(tmp_path, name, clips=CLIPS, scored=None, labels=True, classes=("nobird", "bird")):
    data, dec = tmp_path / name / "data", tmp_path / name / "decode"
    data.mkdir(parents=True)
    dec.mkdir()
    (dec / "classes.txt").write_text("\n".join(classes) + "\n")
    utts = sorted(clips if scored is None else scored)
    p = np.array([clips[u][1] for u in utts])
    write_scores(str(dec / "score"), utts, np.stack([1 - p, p], axis=1))
    if labels:
        (data / "utt2label").write_text("".join(f"{u} {clips[u][0]}\n" for u in sorted(clips)))
    (data / "utt2dataset").write_text("".join(f"{u} {u.split('_')[0]}\n" for u in sorted(clips)))
    (data / "utt2itemid").write_text("".join(f"{u} {clips[u][2]}\n" for u in sorted(clips)))
    return data, dec


def test_score_detection_end_to_end(tmp_path):
    data, dec = make_dirs(tmp_path, "fold1")
    r = subprocess.run([sys.executable, "-m", "dcase_tk.bin.score_detection", str(data), str(dec)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    result = json.loads((dec / "result.json").read_text())
    assert result["auc"] == pytest.approx(0.625) and result["n_utts"] == 7
    assert result["per_dataset"]["A"]["auc"] == pytest.approx(0.75)
    assert result["auc_harmonic_mean"] == pytest.approx(0.375)
    assert "harmonic mean of dataset AUCs" in r.stdout and "62.5" in (dec / "result.txt").read_text()
    # keyed by item id, sorted by it, no header
    assert (dec / "submission.csv").read_text().splitlines() == [
        "a3,0.3", "b2,0.6", "c1,0.6", "w4,0.8", "x3,0.35", "y2,0.4", "z1,0.1"]
    png = (dec / "roc.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
    image = imread(dec / "roc.png")
    assert image.shape == (500, 500, 4)
    # other scores draw other curves
    other = {u: (c[0], 1 - c[1], c[2]) for u, c in CLIPS.items()}
    data2, dec2 = make_dirs(tmp_path, "other", other)
    score_detection.main(["--verbose", "0", "--submission_key", "{utt}", str(data2), str(dec2)])
    assert json.loads((dec2 / "result.json").read_text())["auc"] == pytest.approx(1 - 0.625)
    assert not np.array_equal(imread(dec2 / "roc.png"), image)
    assert (dec2 / "submission.csv").read_text().splitlines()[0] == "A_a1,0.9"


def test_score_detection_unlabelled_set_gets_submission_only(tmp_path):
    data, dec = make_dirs(tmp_path, "eval", labels=False)
    score_detection.main(["--verbose", "0", str(data), str(dec)])
    assert (dec / "submission.csv").read_text().splitlines()[:2] == ["a3,0.3", "b2,0.6"]
    assert not (dec / "result.json").exists() and not (dec / "roc.png").exists()


def test_score_detection_errors(tmp_path):
    data, dec = make_dirs(tmp_path, "classes", classes=("nobird", "birds"))
    with pytest.raises(cli.ToolError, match="classes.txt has no class 'bird' .*pass --positive"):
        score_detection.main(["--verbose", "0", str(data), str(dec)])
    r = subprocess.run([sys.executable, "-m", "dcase_tk.bin.score_detection", "--positive", "dog",
                        str(data), str(dec)], capture_output=True, text=True)
    assert r.returncode == 1 and "score_detection: error:" in r.stderr and "no class 'dog'" in r.stderr
    scored = [u for u in CLIPS if u != "A_a3"]
    data, dec = make_dirs(tmp_path, "unscored", scored=scored)
    with pytest.raises(cli.ToolError, match=r"utt2itemid:3: 'A_a3' has no row in .*score \(1 clips"):
        score_detection.main(["--verbose", "0", str(data), str(dec)])
    (data / "utt2itemid").unlink()
    with pytest.raises(cli.ToolError, match=r"utt2label:3: 'A_a3' has no row in .*score \(1 labelled"):
        score_detection.main(["--verbose", "0", str(data), str(dec)])
    assert not (dec / "result.json").exists()
    (data / "utt2label").write_text("A_a1 nobird\n")
    with pytest.raises(cli.ToolError, match="score has 5 utterances that are not in"):
        score_detection.main(["--verbose", "0", str(data), str(dec)])
    (data / "utt2label").write_text("".join(f"{u} {'bird' if u == 'A_a4' else 'nobird'}\n" for u in scored)
                                    .replace("B_b2 nobird", "B_b2 birb"))
    with pytest.raises(cli.ToolError, match="utt2label:5: label 'birb' of 'B_b2' is not in"):
        score_detection.main(["--verbose", "0", str(data), str(dec)])
    (data / "utt2label").write_text("".join(f"{u} bird\n" for u in scored))
    with pytest.raises(cli.ToolError, match="every labelled clip is 'bird'"):
        score_detection.main(["--verbose", "0", str(data), str(dec)])
    with pytest.raises(cli.ToolError, match=r"may use \{utt\} and, when the data dir has utt2itemid"):
        score_detection.main(["--verbose", "0", "--submission_key", "{itemid}", str(data), str(dec)])
