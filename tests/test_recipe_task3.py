"""The Task 3 recipe end to end on its mini corpus: leave-one-dataset-out folds, domain-adapted
features, the fusion of bulbul variants, the held-out datasets' AUCs (checked against
scikit-learn), their harmonic mean, the submission file; stage 9 fusion per fold."""
import json

import kaldiio
import matplotlib.image
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from helpers import check_fused, clips, copy_recipe, run_recipe

SYSTEMS = ("baseline", "domain_tuning")     # domain_tuning fuses baseline, bulbul_dataset_norm, bulbul_coral
MEMBERS = ("baseline", "bulbul_dataset_norm", "bulbul_coral")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    recipe = copy_recipe("dcase2018_task3", tmp_path_factory.mktemp("t3") / "recipe")
    result = run_recipe(recipe, "--nj", 2, "--num_threads", 1, "--systems", " ".join(SYSTEMS))
    assert result.returncode == 0, result.stdout[-5000:]
    return recipe


def table(path):
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_each_fold_tests_one_unseen_dataset(recipe):
    data = recipe / "data/3"
    held_out = dict(line.split() for line in (data / "folds.txt").read_text().splitlines())
    assert sorted(held_out.values()) == sorted(set(table(data / "dev/utt2dataset").values()))
    for k, dataset in held_out.items():
        test = set(table(data / f"fold{k}_test/utt2dataset").values())
        train = set(table(data / f"fold{k}_tr/utt2dataset").values())
        valid = set(table(data / f"fold{k}_cv/utt2dataset").values())
        assert test == {dataset} and dataset not in train and valid == train and len(train) == 2
        assert not set(table(data / f"fold{k}_tr/wav.scp")) & set(table(data / f"fold{k}_cv/wav.scp"))


@pytest.mark.parametrize("system", SYSTEMS)
def test_pooled_folds_give_per_dataset_auc_and_harmonic_mean(recipe, system):
    cv = recipe / "exp/3" / system / "cv"
    result = json.loads((cv / "result.json").read_text())
    labels = table(recipe / "data/3/dev/utt2label")
    dataset = table(recipe / "data/3/dev/utt2dataset")
    bird = {u: float(row.split()[1]) for u, row in table(cv / "score").items()}
    assert sorted(bird) == sorted(labels)                 # every clip scored by its held-out fold
    aucs = {}
    for name in sorted(set(dataset.values())):
        clips = [u for u in labels if dataset[u] == name]
        aucs[name] = roc_auc_score([labels[u] == "bird" for u in clips], [bird[u] for u in clips])
        assert result["per_dataset"][name]["auc"] == pytest.approx(aucs[name], abs=1e-12)
    harmonic = len(aucs) / sum(1 / a for a in aucs.values())
    assert result["auc_harmonic_mean"] == pytest.approx(harmonic, abs=1e-12)
    assert harmonic > 0.55, aucs                          # above chance across datasets
    assert matplotlib.image.imread(cv / "roc.png").shape[2] in (3, 4)
    rows = (recipe / "RESULTS.md").read_text()
    assert f"| 3 | {system} | cv | {len(labels)} | " in rows and f"| {100 * harmonic:.1f} |" in rows


def test_domain_tuning_averages_its_members_on_adapted_features(recipe):
    for k in (1, 2, 3):
        scores = [table(recipe / f"exp/3/{m}/fold{k}/test/score") for m in MEMBERS]
        fused = table(recipe / f"exp/3/domain_tuning/fold{k}/test/score")
        assert sorted(fused) == sorted(scores[0])
        for utt, row in fused.items():
            mean = np.mean([[float(v) for v in s[utt].split()] for s in scores], axis=0)
            assert [float(v) for v in row.split()] == pytest.approx(list(mean), abs=2e-6)
    # per-dataset normalisation: in every fold part each dataset's frames have mean 0 in every band
    adapted = recipe / "dump/3/logmel80_bulbul_dataset_norm/fold2_tr"
    feats = kaldiio.load_scp(str(adapted / "feats.scp"))
    dataset = table(adapted / "utt2dataset")
    stats = np.load(adapted / "domain_stats.npz")
    assert sorted(stats["datasets"]) == sorted(set(table(recipe / "data/3/dev/utt2dataset").values()))
    for name in set(dataset.values()):
        frames = np.concatenate([feats[u] for u in feats if dataset[u] == name])
        assert np.abs(frames.mean(0)).max() < 0.3          # tr is most, not all, of the fold's clips


def test_submission_uses_item_ids(recipe):
    decode = recipe / "exp/3/baseline/fold2/test"
    item = table(recipe / "data/3/fold2_test/utt2itemid")
    bird = {u: float(row.split()[1]) for u, row in table(decode / "score").items()}
    lines = (decode / "submission.csv").read_text().splitlines()
    by_key = dict(line.split(",") for line in lines)
    assert len(lines) == len(item) and set(by_key) == set(item.values())      # no header line
    assert [line.split(",")[0].encode() for line in lines] == sorted(k.encode() for k in by_key)
    for utt, key in item.items():
        assert float(by_key[key]) == pytest.approx(bird[utt], abs=1e-6)


def test_stage_9_fuses_each_held_out_dataset_with_a_fusion_fitted_on_the_fold_validation_clips(recipe):
    r = run_recipe(recipe, "--stage", 9, "--fusions", "logistic rank", "--nj", 2, "--num_threads", 1)
    assert r.returncode == 0, r.stdout[-5000:]
    exp = recipe / "exp/3"
    for k in range(1, 4):
        fuser, info, fitted = check_fused(exp, "fusion_logistic", ("baseline", "bulbul_coral"), f"fold{k}/test",
                                          exp / f"fusion_logistic/fold{k}/model")
        assert sorted(fitted) == clips(recipe / f"data/3/fold{k}_cv") and info["fit"]["set"] == f"fold{k}/cv"
        assert fuser.name == "logistic"
        check_fused(exp, "fusion_rank", MEMBERS, f"fold{k}/test", exp / f"fusion_rank/fold{k}/model")
    for fusion in ("fusion_logistic", "fusion_rank"):
        # the held-out datasets pooled and scored like any system's
        result = json.loads((exp / fusion / "cv/result.json").read_text())
        scores, labels = table(exp / fusion / "cv/score"), table(recipe / "data/3/dev/utt2label")
        assert sorted(scores) == sorted(labels)
        bird = [float(scores[u].split()[1]) for u in sorted(labels)]
        auc = roc_auc_score([labels[u] == "bird" for u in sorted(labels)], bird)
        assert result["auc"] == pytest.approx(auc, abs=1e-9)
        assert f"| 3 | {fusion} | cv | 72 |" in (recipe / "RESULTS.md").read_text()
