"""The Task 2 recipe end to end on its mini corpus: two folds (--folds 2, half the training of
the default four; the split itself is tested in test_task2_corpus.py), MAP@3 scoring, the
label-noise systems against naive cnn8 with 20 % of the unverified labels wrong, a failing fold,
skipping, out-of-fold fusion (stage 9)."""
import csv
import json

import pytest

from helpers import check_fused, clips, copy_recipe, run_recipe

SYSTEMS = "cnn8 self_verification noisy_label"
FOLDS = 2
OPTS = ("--systems", SYSTEMS, "--nj", 2, "--num_threads", 1, "--folds", FOLDS)
FOLD_IDS = range(1, FOLDS + 1)
FEATS = "dump/2/logmel64_32k"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    recipe = copy_recipe("dcase2018_task2", tmp_path_factory.mktemp("t2") / "recipe")
    result = run_recipe(recipe, *OPTS)
    assert result.returncode == 0, result.stdout[-5000:]
    return recipe


def table(path):
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def cv_result(recipe, system):
    return json.loads((recipe / "exp/2" / system / "cv/result.json").read_text())


def truth(recipe):
    with open(recipe / "corpus/mini/FSDKaggle2018/mini_truth.csv", encoding="utf-8") as f:
        return {row["fname"].removesuffix(".wav"): row["label"] for row in csv.DictReader(f)}


def test_label_noise_systems_beat_naive_cnn8(recipe):
    true = truth(recipe)
    labels, verified = table(recipe / "data/2/train/utt2label"), table(recipe / "data/2/train/utt2verified")
    unverified = [u for u in labels if verified[u] == "0"]
    wrong = [u for u in unverified if labels[u] != true[u]]
    assert len(wrong) == round(0.2 * len(unverified)) > 5
    assert all(labels[u] == true[u] for u in labels if verified[u] == "1")
    naive = cv_result(recipe, "cnn8")["metrics"]["map3"]["mean"]
    robust = {s: cv_result(recipe, s)["metrics"]["map3"]["mean"] for s in ("self_verification", "noisy_label")}
    assert max(robust.values()) > naive, (naive, robust)
    # self-verification promotes held-out clips whose given label is right, not wrongly labelled ones
    promoted = []
    for k in FOLD_IDS:
        fold = recipe / f"exp/2/self_verification/fold{k}"
        last = max(fold.glob("round*/data/utt2promoted"), key=lambda p: int(p.parent.parent.name[5:]))
        promoted += [u for u, r in table(last).items() if r != "0"]
        assert sum(line.startswith("*") for line in (fold / "rounds.txt").read_text().splitlines()) == 1
    correct = sum(labels[u] == true[u] for u in promoted) / len(promoted)
    assert len(promoted) >= 8 and correct >= 0.95 > 1 - len(wrong) / len(unverified), (len(promoted), correct)


def test_folds_scores_and_submission(recipe):
    verified = table(recipe / "data/2/train/utt2verified")
    fold_of = table(recipe / "data/2/train/utt2fold")
    assert sorted(set(fold_of.values())) == [str(k) for k in FOLD_IDS]
    per_fold = []
    for k in FOLD_IDS:
        cv = table(recipe / f"data/2/fold{k}_cv/utt2fold")
        uv = table(recipe / f"data/2/fold{k}_uv/utt2fold")
        tr = table(recipe / f"data/2/fold{k}_tr/utt2fold")
        held_out = {u for u, f in fold_of.items() if f == str(k)}
        assert set(cv) == {u for u in held_out if verified[u] == "1"}
        assert set(uv) == {u for u in held_out if verified[u] == "0"} and uv
        assert set(tr) == set(fold_of) - held_out
        result = json.loads((recipe / f"exp/2/cnn8/fold{k}/cv/result.json").read_text())
        assert result["n_utts"] == len(cv) and result["verified_only"]
        per_fold.append(result["map3"])
    aggregated = cv_result(recipe, "cnn8")["metrics"]["map3"]
    assert aggregated["per_fold"] == pytest.approx(per_fold)
    assert aggregated["mean"] == pytest.approx(sum(per_fold) / FOLDS)
    test_utts = table(recipe / "data/2/test/wav.scp")
    classes = set((recipe / "data/2/test/classes.txt").read_text().split())
    rows = (recipe / "exp/2/self_verification/test/submission.csv").read_text().splitlines()
    assert rows[0] == "fname,label" and len(rows) == len(test_utts) + 1
    for row in rows[1:]:
        fname, labels = row.split(",")
        assert fname.removesuffix(".wav") in test_utts
        assert len(labels.split()) == 3 and set(labels.split()) <= classes
    results = (recipe / "RESULTS.md").read_text()
    mean = 100 * aggregated["mean"]
    assert f"| 2 | cnn8 | cv | 40 ({FOLDS} folds) | {mean:.1f} +- " in results and "| 0.928 |" in results


def test_a_failing_fold_fails_the_stage_with_its_log_and_finished_folds_are_skipped(recipe):
    finals = {k: recipe / f"exp/2/cnn8/fold{k}/final.pt" for k in FOLD_IDS}
    before = {k: p.stat().st_mtime_ns for k, p in finals.items()}
    score = (recipe / "exp/2/cnn8/fold2/cv/score").read_text()
    stats = recipe / FEATS / "fold2_tr/cmvn.ark"
    stats.rename(stats.with_suffix(".moved"))
    (recipe / "exp/2/cnn8/fold2/.done.fold").unlink()
    failed = run_recipe(recipe, *OPTS[2:], "--systems", "cnn8", "--stage", 5, "--stop_stage", 5)
    assert failed.returncode != 0
    assert "exp/2/cnn8/log/train_fold.2.log" in failed.stdout and "cmvn.ark" in failed.stdout
    assert [k for k in FOLD_IDS if "is trained" in fold_log(recipe, "cnn8", k)] == [1]
    stats.with_suffix(".moved").rename(stats)
    rerun = run_recipe(recipe, *OPTS[2:], "--systems", "cnn8", "--stage", 5)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    after = {k: p.stat().st_mtime_ns for k, p in finals.items()}
    assert {k for k in after if after[k] != before[k]} == set()    # fold 2's model was still there
    assert (recipe / "exp/2/cnn8/fold2/cv/score").read_text() == score
    again = run_recipe(recipe, *OPTS)
    assert again.returncode == 0, again.stdout[-3000:]
    assert all("is trained" in fold_log(recipe, s, k) for s in SYSTEMS.split() for k in FOLD_IDS)
    assert {k: p.stat().st_mtime_ns for k, p in finals.items()} == before


def fold_log(recipe, system, k):
    return (recipe / f"exp/2/{system}/log/train_fold.{k}.log").read_text()


def test_stage_9_fits_each_fold_fusion_out_of_fold_and_the_test_fusion_on_every_fold(recipe):
    r = run_recipe(recipe, "--stage", 9, "--fusions", "greedy", *OPTS)
    assert r.returncode == 0, r.stdout[-5000:]
    exp, members = recipe / "exp/2", SYSTEMS.split()
    per_fold = []
    for k in FOLD_IDS:
        # fold k's validation clips fused by a selection made on the other folds' only
        fuser, info, fitted = check_fused(exp, "fusion_greedy", members, f"fold{k}/cv",
                                          exp / f"fusion_greedy/fold{k}/model")
        others = [clip for j in FOLD_IDS if j != k for clip in clips(recipe / f"data/2/fold{j}_cv")]
        assert sorted(fitted) == sorted(others) and len(fuser.state["picks"]) == 10
        assert info["fit"]["set"] == " ".join(f"fold{j}/cv" for j in FOLD_IDS if j != k)
        per_fold.append(json.loads((exp / f"fusion_greedy/fold{k}/cv/result.json").read_text())["map3"])
    _, _, fitted = check_fused(exp, "fusion_greedy", members, "test")
    assert sorted(fitted) == clips(recipe / "data/2/oof") == sorted(
        clip for k in FOLD_IDS for clip in clips(recipe / f"data/2/fold{k}_cv"))
    aggregated = cv_result(recipe, "fusion_greedy")["metrics"]["map3"]
    assert aggregated["per_fold"] == pytest.approx(per_fold)
    results = (recipe / "RESULTS.md").read_text()
    assert f"| 2 | fusion_greedy | cv | 40 ({FOLDS} folds) | {100 * aggregated['mean']:.1f} +- " in results
    assert "| 2 | fusion_greedy | test | 32 |" in results
