"""dcase_tk.fusion: each method against a result worked out by hand on tiny arrays, saved models
that reload to identical outputs, the refusal to fit on test or training sets, and the
fuse_scores tool and steps/fuse.sh on tiny decode dirs."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from dcase_tk import fusion
from dcase_tk.bin import fuse_scores
from dcase_tk.cli import ToolError
from dcase_tk.fusion.base import log_features, log_loss
from dcase_tk.io.scores import read_decode_dir, write_decode_dir
from dcase_tk.io.table import write_list, write_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fit_apply(method, scores, labels=None, **options):
    fuser = fusion.build(method, options)
    if labels is not None:
        fuser.fit(scores, labels, "cv")
    return fuser, fuser.apply(scores)


def random_case(seed=0, M=3, N=40, C=3):
    """Members that are noisy copies of the truth, so that every learned method has signal."""
    rng = np.random.default_rng(seed)
    labels = np.arange(N) % C
    logits = 2.0 * np.eye(C)[labels][None] + rng.normal(size=(M, N, C))
    scores = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    return scores, labels


# ---------------------------------------------------------------- fixed rules

def test_mean_by_hand():
    A = [[0.8, 0.2], [0.4, 0.6]]
    B = [[0.6, 0.4], [0.0, 1.0]]
    # (0.8 + 0.6) / 2 = 0.7, (0.2 + 0.4) / 2 = 0.3; (0.4 + 0) / 2 = 0.2, (0.6 + 1) / 2 = 0.8
    _, fused = fit_apply("mean", np.array([A, B]))
    np.testing.assert_allclose(fused, [[0.7, 0.3], [0.2, 0.8]])


def test_gmean_by_hand_renormalised_or_per_class():
    A = [[0.5, 0.4, 0.1], [0.2, 0.2, 0.6]]
    B = [[0.5, 0.1, 0.4], [0.8, 0.05, 0.15]]
    # clip 1: sqrt(.5 * .5) = .5, sqrt(.4 * .1) = .2, sqrt(.1 * .4) = .2; sum .9 -> 5/9, 2/9, 2/9
    # clip 2: sqrt(.2 * .8) = .4, sqrt(.2 * .05) = .1, sqrt(.6 * .15) = .3; sum .8 -> .5, .125, .375
    _, fused = fit_apply("gmean", np.array([A, B]))
    np.testing.assert_allclose(fused, [[5 / 9, 2 / 9, 2 / 9], [0.5, 0.125, 0.375]], rtol=1e-6)
    # multi-label: each class alone, no renormalisation
    _, fused = fit_apply("gmean", np.array([A, B]), multi_label=True)
    np.testing.assert_allclose(fused, [[0.5, 0.2, 0.2], [0.4, 0.1, 0.3]], rtol=1e-6)


def test_rank_averages_ranks_with_ties_sharing_the_average_rank():
    A = [[0.1, 0.9], [0.5, 0.5], [0.5, 0.5], [0.9, 0.1]]
    B = [[0.3, 0.7], [0.2, 0.8], [0.8, 0.2], [0.1, 0.9]]
    # class 0: A's column .1 .5 .5 .9 -> ranks 1, 2.5, 2.5, 4 (the tie shares (2 + 3) / 2)
    #          -> (rank - 1) / 3 = 0, .5, .5, 1;  B's .3 .2 .8 .1 -> ranks 3 2 4 1 -> 2/3, 1/3, 1, 0
    #          mean: 1/3, 5/12, 3/4, 1/2
    # class 1: A's .9 .5 .5 .1 -> 1, .5, .5, 0;  B's .7 .8 .2 .9 -> ranks 2 3 1 4 -> 1/3, 2/3, 0, 1
    #          mean: 2/3, 7/12, 1/4, 1/2
    _, fused = fit_apply("rank", np.array([A, B]))
    np.testing.assert_allclose(fused, [[1 / 3, 2 / 3], [5 / 12, 7 / 12], [3 / 4, 1 / 4], [1 / 2, 1 / 2]])
    # one clip: no order to speak of, 0.5
    np.testing.assert_allclose(fit_apply("rank", np.array([A, B])[:, :1])[1], [[0.5, 0.5]])


def test_vote_counts_decisions_and_breaks_ties_by_summed_posteriors():
    A = [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]
    B = [[0.7, 0.3], [0.2, 0.8], [0.45, 0.55]]
    # M = 2: a = 1 / (2 (M + 1)) = 1/6; out = 5/6 * votes / 2 + 1/6 * mean posterior
    # clip 1: votes 2, 0; mean .8 .2 -> 5/6 + .8/6, .2/6
    # clip 2: a tie, 1 vote each; mean .4 .6 -> (2.5 + .4) / 6, (2.5 + .6) / 6: class 1, whose
    #         summed posterior (.4 + .8 = 1.2) beats class 0's (.6 + .2 = .8)
    # clip 3: votes 0, 2; mean .375 .625 -> .375 / 6, 5/6 + .625 / 6
    _, fused = fit_apply("vote", np.array([A, B]))
    np.testing.assert_allclose(fused, [[5.8 / 6, 0.2 / 6], [2.9 / 6, 3.1 / 6], [0.375 / 6, 5.625 / 6]])
    np.testing.assert_array_equal(fused.argmax(axis=1), [0, 1, 1])
    np.testing.assert_allclose(fused.sum(axis=1), 1.0)
    # a majority beats a confident minority: 2 votes for class 0 at .51, 1 for class 1 at 1.0
    # (summed posteriors 1.02 vs 1.98). M = 3, a = 1/8:
    # class 0: 7/8 * 2/3 + 1/8 * .34 = .625833; class 1: 7/8 * 1/3 + 1/8 * .66 = .374167
    scores = np.array([[[0.51, 0.49]], [[0.51, 0.49]], [[0.0, 1.0]]])
    np.testing.assert_allclose(fit_apply("vote", scores)[1], [[0.625833333, 0.374166667]])


# ---------------------------------------------------------------- fitted weights and selections

def test_weighted_puts_all_weight_on_a_perfect_member_over_an_uninformative_one():
    labels = np.array([0, 1, 1, 0])
    perfect = np.eye(2)[labels]
    uninformative = np.full((4, 2), 0.5)
    # loss(w) = -mean log(w * 1 + (1 - w) * .5), decreasing in w: the optimum is the bound w = 1
    fuser, fused = fit_apply("weighted", np.array([uninformative, perfect]), labels)
    np.testing.assert_allclose(fuser.state["weights"], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(fused, perfect, atol=1e-6)


def test_weighted_finds_the_interior_optimum_worked_out_by_hand():
    # A always says class 0, B always class 1; two clips are class 0, one is class 1.
    # With weight w on A: loss(w) = -(2 log w + log(1 - w)) / 3; d/dw: 2/w - 1/(1 - w) = 0
    # -> w = 2/3, and every fused row is (2/3, 1/3).
    labels = np.array([0, 0, 1])
    A, B = np.tile([1.0, 0.0], (3, 1)), np.tile([0.0, 1.0], (3, 1))
    fuser, fused = fit_apply("weighted", np.array([A, B]), labels)
    np.testing.assert_allclose(fuser.state["weights"], [2 / 3, 1 / 3], atol=1e-5)
    np.testing.assert_allclose(fused, np.tile([2 / 3, 1 / 3], (3, 1)), atol=1e-5)
    assert log_loss(fused, labels) == pytest.approx(-(2 * math.log(2 / 3) + math.log(1 / 3)) / 3, abs=1e-8)
    # the same as one multi-label class: binary cross-entropy -(2 log w + log(1 - w)) / 3
    multi = np.array([[[1.0]] * 3, [[0.0]] * 3])
    fuser, _ = fit_apply("weighted", multi, np.array([[1], [1], [0]]), multi_label=True)
    np.testing.assert_allclose(fuser.state["weights"], [2 / 3, 1 / 3], atol=1e-5)


GREEDY_LABELS = np.array([0, 0, 1, 1])
GREEDY_MEMBERS = np.array([
    [[0.9, 0.1], [0.6, 0.4], [0.6, 0.4], [0.2, 0.8]],   # A: decisions 0 0 0 1, accuracy 3/4
    [[0.4, 0.6], [0.8, 0.2], [0.1, 0.9], [0.3, 0.7]],   # B: decisions 1 0 1 1, accuracy 3/4
    [[0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.7, 0.3]],   # C: decisions 1 1 0 0, accuracy 0
])


def test_greedy_ensemble_selection_traced_by_hand():
    # Step 1 (best single member): A and B tie on accuracy; log loss breaks the tie:
    #   A: -(ln .9 + ln .6 + ln .4 + ln .8) / 4 = .4389;  B: -(ln .4 + ln .8 + ln .9 + ln .7) / 4 = .4004
    #   -> B.
    # Step 2, (B + X) / 2:  + A: .65 .7 .35 .25 (P(class 0)) -> all 4 right, accuracy 1
    #                       + B: accuracy 3/4;  + C: .35 .6 .35 .5 -> 2 right (a .5 tie goes to class 0)
    #   -> A.
    # Step 3, (B + A + X) / 3: every candidate is right on all 4 clips; log loss decides:
    #   + A: P(label) = 11/15, 2/3, 17/30, 23/30 -> .3873
    #   + B: P(label) = 17/30, 11/15, 11/15, 11/15 -> .3746
    #   + C: P(label) = 8/15, .6, 17/30, .6 -> .5546
    #   -> B.  Picks B, A, B: weights A 1/3, B 2/3, C 0.
    fuser, fused = fit_apply("greedy", GREEDY_MEMBERS, GREEDY_LABELS, steps=3)
    assert fuser.state["picks"] == [1, 0, 1]
    np.testing.assert_allclose(fuser.state["weights"], [1 / 3, 2 / 3, 0])
    np.testing.assert_allclose(fused[:, 1], [(0.1 + 1.2) / 3, (0.4 + 0.4) / 3, (0.4 + 1.8) / 3, (0.8 + 1.4) / 3])
    assert log_loss(fused, GREEDY_LABELS) == pytest.approx(
        -(math.log(17 / 30) + 3 * math.log(11 / 15)) / 4)
    # init_best 2: the two best single members (B, then A) start the bag; step 3 is as above
    fuser, _ = fit_apply("greedy", GREEDY_MEMBERS, GREEDY_LABELS, steps=3, init_best=2)
    assert fuser.state["picks"] == [1, 0, 1]
    # metric logloss: step 1 is B (log losses A .4389, B .4004, C 1.0601); step 2, (B + X) / 2:
    #   + A: P(label) .65 .7 .65 .75 -> .3765;  + B: .4004;  + C: .35 .6 .65 .5 -> .6711  -> A
    fuser, _ = fit_apply("greedy", GREEDY_MEMBERS, GREEDY_LABELS, steps=2, metric="logloss")
    assert fuser.state["picks"] == [1, 0]


PER_CLASS_LABELS = np.array([0, 0, 1, 1, 2, 2])
PER_CLASS_A = np.array([[0.8, 0.1, 0.1], [0.7, 0.1, 0.2], [0.2, 0.1, 0.7],
                        [0.1, 0.2, 0.7], [0.1, 0.5, 0.4], [0.2, 0.4, 0.4]])
PER_CLASS_B = np.array([[0.3, 0.1, 0.6], [0.4, 0.2, 0.4], [0.1, 0.8, 0.1],
                        [0.2, 0.7, 0.1], [0.5, 0.2, 0.3], [0.6, 0.1, 0.3]])


def test_per_class_takes_each_class_from_the_member_with_the_best_auc():
    # one-vs-rest AUC (pairs positive > negative, a tie counting 1/2, over 2 x 4 pairs):
    # A class 0: .8 .7 vs .2 .1 .1 .2 -> 8/8 = 1      B class 0: .3 .4 vs .1 .2 .5 .6 -> 4/8 = .5
    # A class 1: .1 .2 vs .1 .1 .5 .4 -> (1 + 2)/8    B class 1: .8 .7 vs .1 .2 .2 .1 -> 1
    # A class 2: .4 .4 vs .1 .2 .7 .7 -> 4/8 = .5     B class 2: .3 .3 vs .6 .4 .1 .1 -> 4/8 = .5
    # -> class 0 from A, class 1 from B, class 2 a tie: the lower index, A.
    fuser, fused = fit_apply("per_class", np.array([PER_CLASS_A, PER_CLASS_B]), PER_CLASS_LABELS)
    assert fuser.state["selection"] == [0, 1, 0]
    np.testing.assert_allclose(fuser.state["auc"], [[1, 0.375, 0.5], [0.5, 1, 0.5]])
    # columns (A0, B1, A2), then each row over its sum:
    # .8 .1 .1 (1.0); .7 .2 .2 (1.1); .2 .8 .7 (1.7); .1 .7 .7 (1.5); .1 .2 .4 (.7); .2 .1 .4 (.7)
    expected = np.array([[0.8, 0.1, 0.1], [0.7, 0.2, 0.2], [0.2, 0.8, 0.7],
                         [0.1, 0.7, 0.7], [0.1, 0.2, 0.4], [0.2, 0.1, 0.4]])
    np.testing.assert_allclose(fused, expected / expected.sum(axis=1, keepdims=True))
    # multi-label: the same selection, the columns as they are
    _, fused = fit_apply("per_class", np.array([PER_CLASS_A, PER_CLASS_B]),
                         np.eye(3, dtype=int)[PER_CLASS_LABELS], multi_label=True)
    np.testing.assert_allclose(fused, expected)


# ---------------------------------------------------------------- meta-classifiers

def test_logistic_features_are_clipped_log_posteriors_in_member_order():
    A, B = [[0.5, 0.5]], [[1.0, 0.0]]
    # member A's two columns, then B's: ln .5, ln .5, ln 1, ln(clip(0) = 1e-6)
    np.testing.assert_allclose(log_features(np.array([A, B]), 1e-6),
                               [[math.log(0.5), math.log(0.5), 0.0, math.log(1e-6)]])


def test_logistic_equals_scikit_learn_on_the_hand_built_features():
    scores, labels = random_case()
    X = np.hstack([np.log(np.clip(scores[m], 1e-6, 1)) for m in range(3)])     # (40, 3 x 3)
    direct = LogisticRegression(C=0.5, max_iter=1000).fit(X, labels).predict_proba(X)
    _, fused = fit_apply("logistic", scores, labels, C=0.5)
    np.testing.assert_allclose(fused, direct, atol=1e-6)
    # a separable case: member 0 knows the answer, member 1 is noise -> every clip right
    rng = np.random.default_rng(1)
    truth = np.array([0, 1, 2] * 6)
    separable = np.array([0.9 * np.eye(3)[truth] + 0.1 / 3, rng.dirichlet(np.ones(3), size=18)])
    _, fused = fit_apply("logistic", separable, truth, C=10.0)
    np.testing.assert_array_equal(fused.argmax(axis=1), truth)


def test_stacking_equals_a_scikit_learn_pca_and_logistic_pipeline():
    scores, labels = random_case(seed=2)
    X = np.hstack([scores[0], scores[1], scores[2]])          # posteriors side by side, member order
    direct = make_pipeline(PCA(n_components=4, svd_solver="full"),
                           LogisticRegression(C=0.5, max_iter=1000)).fit(X, labels).predict_proba(X)
    fuser, fused = fit_apply("stacking", scores, labels, n_components=4, C=0.5)
    np.testing.assert_allclose(fused, direct, atol=1e-6)
    assert fuser.state["pca_components"].shape == (4, 9)


@pytest.mark.parametrize("fit_set", ["test", "fold1/test", "eval", "evaluation", "train", "fold1_tr",
                                     "train_devb"])
def test_stacking_refuses_in_fold_and_test_sets(fit_set):
    scores, labels = random_case()
    with pytest.raises(fusion.FitSetError, match="refusing to fit fusion weights on"):
        fusion.build("stacking").fit(scores, labels, fit_set)


def test_gbm_separates_a_trivial_case_deterministically_and_reloads_identically(tmp_path):
    truth = np.array([0, 1, 2] * 10)
    rng = np.random.default_rng(3)
    scores = np.array([0.8 * np.eye(3)[truth] + 0.2 / 3, rng.dirichlet(np.ones(3), size=30)])
    fuser, fused = fit_apply("gbm", scores, truth)
    np.testing.assert_array_equal(fused.argmax(axis=1), truth)
    np.testing.assert_allclose(fused.sum(axis=1), 1.0)
    _, again = fit_apply("gbm", scores, truth)
    np.testing.assert_array_equal(fused, again)
    fusion.save(tmp_path, fuser)
    assert (tmp_path / "gbm_model.txt").read_text().startswith("tree")
    np.testing.assert_array_equal(fusion.load(tmp_path)[0].apply(scores), fused)
    # two classes: a binary booster, turned back into two columns
    _, fused = fit_apply("gbm", scores[:, :20, :2] / scores[:, :20, :2].sum(2, keepdims=True),
                         np.array([0, 1] * 10))
    assert fused.shape == (20, 2)


# ---------------------------------------------------------------- every method

@pytest.mark.parametrize("method", list(fusion.METHODS))
def test_a_saved_fusion_reloads_to_identical_outputs(method, tmp_path):
    scores, labels = random_case(seed=4)
    fuser = fusion.build(method).fit(scores[:, :30], labels[:30], "cv")
    fusion.save(tmp_path, fuser, {"members": ["a", "b", "c"]})
    loaded, info = fusion.load(tmp_path)
    assert info == {"members": ["a", "b", "c"]} and loaded.options == fuser.options
    np.testing.assert_array_equal(loaded.apply(scores[:, 30:]), fuser.apply(scores[:, 30:]))
    assert fuser.apply(scores[:, 30:]).shape == (10, 3)
    with open(tmp_path / "fusion.json") as f:
        assert json.load(f)["method"] == method


def test_fitted_methods_refuse_test_labels_and_fixed_rules_fit_nothing():
    scores, labels = random_case()
    for name, cls in fusion.METHODS.items():
        if cls.FITTED:
            with pytest.raises(fusion.FitSetError, match="refusing to fit fusion weights on test labels"):
                fusion.build(name).fit(scores, labels, "test")
        else:
            assert fusion.build(name).fit(scores, labels, "test").state is None


def test_the_refusal_rule_for_names_and_shared_clips():
    fusion.check_fit_set("cv")
    fusion.check_fit_set("train_cv")
    fusion.check_fit_set("fold2/cv")
    with pytest.raises(fusion.FitSetError, match="test set"):
        fusion.check_fit_set("my_eval", test_sets=["*_eval"])
    with pytest.raises(fusion.FitSetError, match="same set"):
        fusion.check_disjoint("cv", ["a"], {"cv": ["b"]})
    with pytest.raises(fusion.FitSetError, match="1 of its clips .*'a'.* are also in 'dev'"):
        fusion.check_disjoint("cv", ["a", "b"], {"dev": ["a", "c"]})


def test_bad_configs_and_inputs_say_what_to_write():
    ok = {"members": ["a", "b"], "method": "weighted", "fit_on": "cv"}
    assert fusion.FusionConfig.from_dict(ok).options == {"multi_label": False, "max_iter": 200, "tol": 1e-10}
    cases = [({**ok, "method": "median"}, "unknown fusion method 'median'; known: mean, gmean"),
             ({**ok, "options": {"C": 1}}, r"unknown option\(s\) \['C'\]; known: multi_label"),
             ({**ok, "options": {"max_iter": 0}}, "max_iter = 0 must be an integer >= 1"),
             ({**ok, "members": ["a"]}, "at least 2 system names"),
             ({**ok, "fit_on": ""}, "fit_on: cv"),
             ({**ok, "fits_on": "cv"}, r"unknown key\(s\) \['fits_on'\]"),
             ({**ok, "method": "logistic", "options": {"multi_label": True}}, "unknown option"),
             ({**ok, "method": "vote", "options": {"multi_label": True}}, "unknown option"),
             ({**ok, "method": "greedy", "options": {"metric": "f1"}}, "one of accuracy, logloss")]
    for values, message in cases:
        with pytest.raises(fusion.FusionError, match=message):
            fusion.FusionConfig.from_dict(values, where="conf/fusion/x.yaml")
    with pytest.raises(fusion.FusionError, match=r"posteriors in \[0, 1\]"):
        fusion.build("mean").apply(np.full((2, 3, 2), 3.0))
    scores, labels = random_case()
    with pytest.raises(fusion.FusionError, match="fitted on 3 members x 3 classes; got 2 x 3"):
        fusion.build("weighted").fit(scores, labels, "cv").apply(scores[:2])
    with pytest.raises(fusion.FusionError, match=r"classes \[2\] .* have no clip in the fit set"):
        fusion.build("logistic").fit(scores, labels % 2, "cv")


# ---------------------------------------------------------------- the tool and the step

CLASSES = ["bird", "car", "dog"]


def write_case(tmp_path, method="weighted", fit_on="cv"):
    """exp/{sysA,sysB}/{cv,test} decode dirs, data/cv labels and a fusion config."""
    scores, labels = random_case(seed=5, M=2, N=36, C=3)
    utts = [f"clip{i:02d}" for i in range(36)]
    for m, system in enumerate(["sysA", "sysB"]):
        write_decode_dir(tmp_path / "exp" / system / "cv", utts[:24], scores[m, :24], CLASSES)
        write_decode_dir(tmp_path / "exp" / system / "test", utts[24:], scores[m, 24:], CLASSES)
    data = tmp_path / "data" / "cv"
    data.mkdir(parents=True)
    write_table(data / "utt2label", {u: CLASSES[y] for u, y in zip(utts[:24], labels[:24])})
    write_list(data / "classes.txt", CLASSES)
    config = tmp_path / "fusion.yaml"
    config.write_text(yaml.safe_dump({"members": ["sysA", "sysB"], "method": method, "fit_on": fit_on}))
    return config


def tool(tmp_path, *args, config=None):
    argv = ["--verbose", "0", "--config", str(config or tmp_path / "fusion.yaml"), *map(str, args)]
    return fuse_scores.main([*argv, str(tmp_path / "exp"), str(tmp_path / "fusion")])


def test_the_tool_fits_on_cv_and_writes_a_scoreable_decode_dir_for_test(tmp_path):
    write_case(tmp_path)
    tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--apply_sets", "test")
    classes, utts, fused = read_decode_dir(tmp_path / "fusion" / "test")
    assert classes == CLASSES and utts == [f"clip{i}" for i in range(24, 36)]
    members = np.array([read_decode_dir(tmp_path / "exp" / s / "test")[2] for s in ("sysA", "sysB")])
    model, info = fusion.load(tmp_path / "fusion" / "model")
    assert info["members"] == ["sysA", "sysB"] and info["fit"]["set"] == "cv" and info["classes"] == CLASSES
    np.testing.assert_allclose(fused, model.apply(members), atol=1e-6)
    assert sum(model.state["weights"]) == pytest.approx(1.0)
    assert len((tmp_path / "fusion" / "test" / "decision").read_text().splitlines()) == 12
    assert yaml.safe_load((tmp_path / "fusion" / "model" / "config.yaml").read_text())["options"]["max_iter"] == 200
    assert not (tmp_path / "fusion" / "cv").exists()      # the fit set is never fused and scored
    # --mode apply from the saved model gives the same files
    before = (tmp_path / "fusion" / "test" / "score").read_text()
    (tmp_path / "fusion" / "test" / "score").unlink()
    fuse_scores.main(["--verbose", "0", "--mode", "apply", "--apply_sets", "test",
                      str(tmp_path / "exp"), str(tmp_path / "fusion")])
    assert (tmp_path / "fusion" / "test" / "score").read_text() == before
    # a config that disagrees with the saved model is refused in --mode apply
    with pytest.raises(ToolError, match="fit again"):
        tool(tmp_path, "--mode", "apply", "--apply_sets", "test", "--method", "greedy")


def test_the_tool_refuses_to_fit_on_test_labels(tmp_path):
    write_case(tmp_path, fit_on="test")
    (tmp_path / "data" / "test").mkdir()
    run = subprocess.run([sys.executable, "-m", "dcase_tk.bin.fuse_scores", "--config",
                          str(tmp_path / "fusion.yaml"), "--fit_data", str(tmp_path / "data" / "test"),
                          str(tmp_path / "exp"), str(tmp_path / "fusion")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1
    assert "fuse_scores: error: refusing to fit fusion weights on test labels" in run.stderr
    assert "evaluated on data it was tuned on" in run.stderr and "fit_on: cv" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "fusion" / "model").exists()


def test_the_tool_refuses_test_data_dirs_and_apply_sets_that_share_clips(tmp_path):
    write_case(tmp_path)
    # labels from a data dir named test
    with pytest.raises(ToolError, match="the fit data dir 'test' is a test set"):
        tool(tmp_path, "--fit_data", tmp_path / "data" / "test", "--apply_sets", "test")
    # applying to the fit set itself
    with pytest.raises(ToolError, match="apply them to the same set"):
        tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--apply_sets", "cv")
    # a set of another name holding the fit clips
    for system in ("sysA", "sysB"):
        classes, utts, scores = read_decode_dir(tmp_path / "exp" / system / "cv")
        write_decode_dir(tmp_path / "exp" / system / "dev", utts, scores, classes)
    with pytest.raises(ToolError, match="24 of its clips .* are also in 'dev'"):
        tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--apply_sets", "dev")
    # a fixed rule fits nothing, so it fuses any set
    tool(tmp_path, "--method", "mean", "--apply_sets", "cv test")
    assert read_decode_dir(tmp_path / "fusion" / "cv")[1][0] == "clip00"


def test_the_tool_fits_multi_label_weights_on_utt2labels(tmp_path):
    write_case(tmp_path)
    labels = {f"clip{i:02d}": " ".join(c for j, c in enumerate(CLASSES) if (i >> j) & 1) or "dog"
              for i in range(24)}
    write_table(tmp_path / "data" / "cv" / "utt2labels", labels)
    tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--apply_sets", "test",
         "--options.multi_label", "true")
    model, info = fusion.load(tmp_path / "fusion" / "model")
    assert model.multi_label and info["fit"]["n_clips"] == 24
    assert read_decode_dir(tmp_path / "fusion" / "test")[2].shape == (12, 3)


def test_the_tool_names_the_file_when_classes_or_clips_differ(tmp_path):
    write_case(tmp_path)
    cv = tmp_path / "data" / "cv"
    b_cv = tmp_path / "exp" / "sysB" / "cv"
    write_list(b_cv / "classes.txt", ["bird", "dog", "car"])
    with pytest.raises(ToolError, match=f"{b_cv}/classes.txt differs from .*sysA/cv/classes.txt"):
        tool(tmp_path, "--fit_data", cv)
    write_list(b_cv / "classes.txt", CLASSES)
    lines = (b_cv / "score").read_text().splitlines()
    (b_cv / "score").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(ToolError, match=rf"{b_cv}/score and .*sysA/cv/score list different clips "
                                        r"\(1 missing, e.g. \['clip00'\]"):
        tool(tmp_path, "--fit_data", cv)
    (b_cv / "score").write_text("\n".join(lines) + "\n")
    with open(cv / "utt2label", "a") as f:
        f.write("clip99 dog\n")
    with pytest.raises(ToolError, match=rf"{cv}/utt2label and .*sysA/cv/score list different clips"):
        tool(tmp_path, "--fit_data", cv)
    write_list(cv / "classes.txt", ["bird", "car", "cat"])
    with pytest.raises(ToolError, match=rf"{cv}/classes.txt differs"):
        tool(tmp_path, "--fit_data", cv)
    with pytest.raises(ToolError, match="decode set 'test' with member system 'sysC'"):
        tool(tmp_path, "--fit_data", cv, "--apply_sets", "test", "--members", "[sysA, sysC]")


def test_the_step_fuses_and_skips_a_rerun(tmp_path):
    config = write_case(tmp_path, method="greedy")
    command = (f". {ROOT}/path.sh && fuse.sh --fusion_config {config} --fusion_opts '--options.steps 5' "
               f"{tmp_path}/exp {tmp_path}/data/cv {tmp_path}/fusion")
    first = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(fusion.load(tmp_path / "fusion" / "model")[0].state["picks"]) == 5
    assert read_decode_dir(tmp_path / "fusion" / "test")[0] == CLASSES
    again = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_the_tool_pools_several_fit_sets_and_saves_to_a_model_dir(tmp_path):
    """Out-of-fold fitting for fold k: the held-out decode dirs of the other folds pooled, the
    fitted model kept per fold (--model_dir), the fold's own held-out set fused."""
    write_case(tmp_path)
    for system in ("sysA", "sysB"):
        classes, utts, scores = read_decode_dir(tmp_path / "exp" / system / "cv")
        for k, part in enumerate((slice(0, 8), slice(8, 16), slice(16, 24)), 1):
            write_decode_dir(tmp_path / "exp" / system / f"fold{k}" / "cv", utts[part], scores[part], classes)
    tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--fit_on", "fold1/cv fold2/cv fold3/cv",
         "--apply_sets", "test", "--model_dir", tmp_path / "fusion" / "all" / "model")
    pooled, info = fusion.load(tmp_path / "fusion" / "all" / "model")
    tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--apply_sets", "test")
    whole, _ = fusion.load(tmp_path / "fusion" / "model")
    # the three folds pooled are the 24 cv clips: the same fit as on cv itself
    assert info["fit"] == {"set": "fold1/cv fold2/cv fold3/cv", "data": str(tmp_path / "data" / "cv"),
                           "n_clips": 24}
    np.testing.assert_allclose(pooled.state["weights"], whole.state["weights"], atol=1e-6)
    # fold 3's clips fused by a model fitted on folds 1 and 2 only: labels of the data dir that
    # are not fitted on are not needed, but those of every fit clip are
    fold3 = yaml.safe_dump({"members": ["sysA", "sysB"], "method": "weighted", "fit_on": ["fold1/cv", "fold2/cv"]})
    (tmp_path / "fold3.yaml").write_text(fold3)
    with pytest.raises(ToolError, match="list different clips"):
        tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--apply_sets", "fold3/cv",
             "--model_dir", tmp_path / "fusion" / "fold3" / "model", config=tmp_path / "fold3.yaml")
    # pooled sets must be disjoint
    with pytest.raises(ToolError, match="clip 'clip00' is in both fit sets fold1/cv and cv"):
        tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--fit_on", "fold1/cv cv",
             "--apply_sets", "test")
    # and each of them is checked by the refusal rule
    with pytest.raises(ToolError, match="the fit set 'fold3/test' is a test set"):
        tool(tmp_path, "--fit_data", tmp_path / "data" / "cv", "--fit_on", "fold1/cv fold3/test")
