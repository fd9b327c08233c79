"""The Task 5 recipe end to end on its mini corpus: session-disjoint folds, the baseline trained
on each microphone channel and fused at test time, cnn8 on the mono downmix, macro F1 per fold
and over the folds; stage 9 fusion per fold."""
import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from dcase_tk.io.scores import read_decode_dir
from helpers import check_fused, clips, copy_recipe, run_recipe


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    recipe = copy_recipe("dcase2018_task5", tmp_path_factory.mktemp("t5") / "recipe")
    result = run_recipe(recipe, "--nj", 2, "--num_threads", 1)
    assert result.returncode == 0, result.stdout[-5000:]
    return recipe


def table(path):
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def macro_f1(recipe, system, set_name="cv"):
    return json.loads((recipe / "exp/5" / system / set_name / "result.json").read_text())["metrics"]["macro_f1"]


def test_folds_keep_sessions_apart_and_channels_together(recipe):
    data = recipe / "data/5"
    tested = []
    for k in range(1, 5):
        sessions = {part: set(table(data / f"fold{k}_{part}/utt2spk").values()) for part in ("tr", "cv", "test")}
        assert not sessions["tr"] & sessions["cv"] and not sessions["tr"] & sessions["test"]
        assert not sessions["cv"] & sessions["test"]
        tested += sorted(sessions["test"])
        clips = table(data / f"fold{k}_test/wav.scp")
        clip_of = table(data / f"fold{k}_test_ch/utt2clip")
        assert sorted(clip_of) == sorted(f"{c}-ch{n}" for c in clips for n in range(1, 5))
    assert len(tested) == len(set(tested)) == len(set(table(data / "dev/utt2spk").values()))


def test_channel_fusion_and_both_systems_above_chance(recipe):
    fused = macro_f1(recipe, "baseline")
    singles = [macro_f1(recipe, "baseline", f"cv_ch{n}")["mean"] for n in range(1, 5)]
    assert fused["mean"] >= np.mean(singles), (fused, singles)
    assert len(fused["per_fold"]) == 4
    assert fused["mean"] > 0.6 and macro_f1(recipe, "cnn8")["mean"] > 0.4      # chance: 1/9
    rows = (recipe / "RESULTS.md").read_text()
    assert f"| 5 | baseline | cv | 216 (4 folds) | {100 * fused['mean']:.1f} +- " in rows and "| 84.5 |" in rows


def test_macro_f1_and_submission_of_a_fold(recipe):
    decode = recipe / "exp/5/baseline/fold2/test"
    labels = table(recipe / "data/5/fold2_test/utt2label")
    decision = table(decode / "decision")
    result = json.loads((decode / "result.json").read_text())
    clips = sorted(labels)
    assert sorted(decision) == clips and result["n_utts"] == len(clips)
    expected = f1_score([labels[c] for c in clips], [decision[c] for c in clips], average="macro")
    assert result["macro_f1"] == pytest.approx(expected, abs=1e-12)
    scores = [line.split()[1:] for line in (decode / "score").read_text().splitlines()]
    assert len(scores) == len(clips) and all(abs(sum(map(float, row)) - 1) < 1e-4 for row in scores)
    submission = (decode / "submission.txt").read_text().splitlines()
    assert submission == [f"audio/{c}.wav\t{decision[c]}" for c in clips]


def test_stage_9_fuses_each_fold_with_a_fusion_fitted_on_its_validation_clips(recipe):
    r = run_recipe(recipe, "--stage", 9, "--fusions", "weighted mean", "--nj", 2, "--num_threads", 1)
    assert r.returncode == 0, r.stdout[-5000:]
    exp, members = recipe / "exp/5", ("baseline", "cnn8")
    for k in range(1, 5):
        _, info, fitted = check_fused(exp, "fusion_weighted", members, f"fold{k}/test",
                                      exp / f"fusion_weighted/fold{k}/model")
        assert sorted(fitted) == clips(recipe / f"data/5/fold{k}_cv") and info["fit"]["set"] == f"fold{k}/cv"
        # the mean of a channel system's clip posteriors (itself the mean of 4 channels) and cnn8's
        mean = np.mean([read_decode_dir(exp / m / f"fold{k}/test")[2] for m in members], axis=0)
        np.testing.assert_allclose(read_decode_dir(exp / f"fusion_mean/fold{k}/test")[2], mean, atol=2e-6)
    for fusion in ("fusion_weighted", "fusion_mean"):
        f1 = macro_f1(recipe, fusion)
        per_fold = [json.loads((exp / fusion / f"fold{k}/test/result.json").read_text())["macro_f1"] for k in range(1, 5)]
        assert f1["mean"] == pytest.approx(np.mean(per_fold))
        assert f"| 5 | {fusion} | cv | 216 (4 folds) | {100 * f1['mean']:.1f} +- " in (recipe / "RESULTS.md").read_text()
