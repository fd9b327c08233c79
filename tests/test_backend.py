"""dcase_tk.backend: transforms (RLDA, WCCN, centring, length norm), cosine scoring, the configured
pipeline and its saved files, the embedding dirs, and the train/score_backend tools and steps."""
import math
import os
import subprocess

import kaldiio
import numpy as np
import pytest
import yaml

from dcase_tk.backend.base import class_means, length_norm
from dcase_tk.backend.cosine import Cosine
from dcase_tk.backend.lda import LDA, scatter_matrices
from dcase_tk.backend.pipeline import CLASSIFIERS, TRANSFORMS, Pipeline
from dcase_tk.backend.store import EmbeddingsError, read_embeddings
from dcase_tk.backend.transforms import WCCN, Center, LengthNorm
from dcase_tk.bin import score_backend, train_backend
from dcase_tk.cli import ToolError
from dcase_tk.io.scores import read_scores
from dcase_tk.io.table import read_list, read_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# small options for every classifier, so that a test can build any of them quickly
SMALL_CLASSIFIERS = {
    "cosine": {"name": "cosine"},
    "plda": {"name": "plda", "em_iters": 3},
    "gaussian_diag": {"name": "gaussian", "covariance": "diag"},
    "gaussian_full": {"name": "gaussian", "covariance": "full"},
    "gaussian_shared": {"name": "gaussian", "covariance": "shared"},
    "logistic": {"name": "logistic"},
    "svm_rbf": {"name": "svm", "kernel": "rbf"},
    "svm_sigmoid": {"name": "svm", "kernel": "sigmoid"},
    "svm_linear": {"name": "svm", "kernel": "linear"},
    "mlp": {"name": "mlp", "hidden": [16, 16], "epochs": 3, "dropout": 0.1},
}


def gaussian_classes(rng, means, n, mixing):
    """``n`` samples per class: ``mean + z @ mixing`` (within-class covariance mixing^T mixing)."""
    X = np.concatenate([m + rng.standard_normal((n, len(m))) @ mixing for m in means])
    return X, np.repeat(np.arange(len(means)), n)


def hand_2d():
    """Two classes with means (-2, 0) and (2, 0); within each the offsets (+-1, +-5): within-class
    covariance diag(1, 25) exactly, between-class scatter diag(4, 0)."""
    offsets = np.array([[1, 5], [1, -5], [-1, 5], [-1, -5]], dtype=float)
    X = np.concatenate([offsets + [-2, 0], offsets + [2, 0]])
    return X, np.repeat([0, 1], 4)


def separable(rng, n, mixing):
    """4 classes in 16 dimensions: mean 5 e_c plus a large shared offset (without centring, every
    embedding would point the same way), noise of about 0.6 per dimension."""
    means = [5.0 * np.eye(16)[c] + 20.0 for c in range(4)]
    return gaussian_classes(rng, means, n, mixing)


def test_lda_of_a_hand_computed_2d_problem_is_the_discriminant_axis():
    X, labels = hand_2d()
    within, between = scatter_matrices(X - X.mean(0), labels, 2)
    np.testing.assert_allclose(within, np.diag([1.0, 25.0]), atol=1e-12)
    np.testing.assert_allclose(between, np.diag([4.0, 0.0]), atol=1e-12)

    plain = LDA(reg=0, between_reg=0).fit(X, labels, 2)       # the large-variance axis 1 is ignored
    np.testing.assert_allclose(plain.state["transform"], [[1.0], [0.0]], atol=1e-12)
    np.testing.assert_allclose(plain.state["eigenvalues"], [4.0])
    np.testing.assert_allclose(plain.transform([[3.0, 5.0], [-2.0, 7.0]]), [[3.0], [-2.0]], atol=1e-12)

    # regularised: alpha and beta scaled by trace(S_w) / D = 13
    rlda = LDA(dims=2, reg=0.001, between_reg=0.01).fit(X, labels, 2)
    s = 13.0
    np.testing.assert_allclose(rlda.state["eigenvalues"],
                               [(4 + 0.01 * s) / (1 + 0.001 * s), 0.01 * s / (25 + 0.001 * s)])
    np.testing.assert_allclose(np.abs(rlda.state["transform"]),
                               np.diag([1 / math.sqrt(1 + 0.001 * s), 1 / math.sqrt(25 + 0.001 * s)]), atol=1e-12)


def test_lda_whitens_the_within_class_covariance_and_separates_three_classes():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((6, 6)) + 2 * np.eye(6)       # correlated, unequal variances
    # Mahalanobis distances 6, 6 and 8.5 between the class means
    means = [np.zeros(6), np.r_[6.0, 0, 0, 0, 0, 0] @ mixing, np.r_[0, 6.0, 0, 0, 0, 0] @ mixing]
    X, labels = gaussian_classes(rng, means, 2000, mixing)
    lda = LDA().fit(X + 50.0, labels, 3)                       # a global offset is centred away
    assert lda.state["transform"].shape == (6, 2)             # default dims: n_classes - 1

    fresh, fresh_labels = gaussian_classes(rng, means, 2000, mixing)
    Y = lda.transform(fresh + 50.0)
    within, _ = scatter_matrices(Y - Y.mean(0), fresh_labels, 3)
    np.testing.assert_allclose(within, np.eye(2), atol=0.08)   # identity, up to sampling error
    centres = class_means(Y, fresh_labels, 3)
    distances = np.linalg.norm(Y[:, None, :] - centres[None], axis=2)
    assert np.mean(distances.argmin(axis=1) == fresh_labels) > 0.99         # Bayes error about 0.3 %
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    np.testing.assert_allclose(gaps, [6.0, 6.0, 6 * math.sqrt(2)], rtol=0.05)   # the Mahalanobis distances


def test_lda_bad_configurations():
    X, labels = hand_2d()
    with pytest.raises(ValueError, match="exceeds the embedding dimension 2"):
        LDA(dims=3).fit(X, labels, 2)
    with pytest.raises(ValueError, match="needs between_reg > 0"):
        LDA(dims=2, between_reg=0).fit(X, labels, 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LDA().fit(X, np.zeros(8, dtype=int), 1)
    with pytest.raises(ValueError, match="singular"):
        LDA(reg=0).fit(np.c_[X, X[:, :1]], labels, 2)          # a duplicated dimension
    with pytest.raises(ValueError, match="8 integers, one per embedding"):
        LDA().fit(X, labels[:5], 2)
    with pytest.raises(ValueError, match=r"dims = 0 must be an integer >= 1 \(default None\)"):
        LDA(dims=0)
    with pytest.raises(ValueError, match=r"reg = -1 must be a number >= 0"):
        LDA(reg=-1)


def test_wccn_makes_the_within_class_covariance_the_identity_on_fresh_data():
    rng = np.random.default_rng(2)
    mixing = rng.standard_normal((5, 5)) + 2 * np.eye(5)
    means = [rng.standard_normal(5) * 4 for _ in range(3)]
    X, labels = gaussian_classes(rng, means, 2000, mixing)
    wccn = WCCN(reg=0).fit(X, labels, 3)
    B = wccn.state["B"]
    np.testing.assert_allclose(B @ B.T, np.linalg.inv(scatter_matrices(X - X.mean(0), labels, 3)[0]),
                               rtol=1e-10)
    fresh, fresh_labels = gaussian_classes(rng, means, 2000, mixing)
    Y = wccn.transform(fresh)
    within, _ = scatter_matrices(Y - Y.mean(0), fresh_labels, 3)
    np.testing.assert_allclose(within, np.eye(5), atol=0.08)
    raw, _ = scatter_matrices(fresh - fresh.mean(0), fresh_labels, 3)
    assert np.abs(raw - np.eye(5)).max() > 1.0                  # it was far from it before
    with pytest.raises(ValueError, match="set wccn reg > 0"):
        WCCN(reg=0).fit(np.c_[X, X[:, :1]], labels, 3)


def test_center_length_norm_and_class_means():
    X = np.array([[3.0, 4.0], [1.0, 0.0], [2.0, 2.0]])
    labels = np.array([1, 1, 0])
    np.testing.assert_allclose(Center().fit(X, labels, 2).transform([[2.0, 2.0]]), [[0.0, 0.0]])
    np.testing.assert_allclose(LengthNorm().fit(X, labels, 2).transform([[3.0, 4.0], [0.0, 0.0]]),
                               [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(length_norm([[0.0, -2.0]]), [[0.0, -1.0]])
    np.testing.assert_allclose(class_means(X, labels, 2), [[2.0, 2.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match=r"classes \[2\] have no training example"):
        class_means(np.ones((2, 2)), [0, 1], 3)
    with pytest.raises(ValueError, match="class indices 0 .. 1"):
        class_means(np.ones((2, 2)), [0, 2], 2)


def test_cosine_scores_and_posteriors_match_hand_computed_values():
    cosine = Cosine(scale=10.0).fit([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]], [0, 0, 1, 1], 2)
    np.testing.assert_allclose(cosine.state["means"], [[1.0, 0.0], [0.0, 1.0]])
    scores = cosine.scores([[3.0, 4.0], [-1.0, 1.0]])
    np.testing.assert_allclose(scores, [[0.6, 0.8], [-1 / math.sqrt(2), 1 / math.sqrt(2)]])
    p = cosine.posteriors([[3.0, 4.0], [-1.0, 1.0]])
    np.testing.assert_allclose(p[0], [1 / (1 + math.e ** 2), math.e ** 2 / (1 + math.e ** 2)])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match=r"scale = 0 must be a number > 0 \(default 10.0\)"):
        Cosine(scale=0)


def but_pipeline():
    """BUT's x-vector back end, as in conf/systems/xvector.yaml (smaller LDA)."""
    return Pipeline.from_config({"transforms": ["center", "lda", "length_norm"],
                                 "lda": {"dims": 3, "reg": 0.001, "between_reg": 0.01},
                                 "classifier": {"name": "cosine", "scale": 10.0}})


def test_the_xvector_system_config_builds_buts_pipeline():
    with open(os.path.join(ROOT, "egs/dcase2018_task1/conf/systems/xvector.yaml")) as f:
        pipeline = Pipeline.from_config(yaml.safe_load(f)["backend"])
    assert [t.name for t in pipeline.transforms] == ["center", "lda", "length_norm"]
    assert pipeline.transforms[1].options == {"dims": 100, "reg": 0.001, "between_reg": 0.01}
    assert pipeline.classifier.name == "cosine" and pipeline.classifier.options == {"scale": 10.0}


def test_centred_cosine_pipeline_classifies_a_separable_problem():
    rng = np.random.default_rng(1)
    mixing = 0.5 * np.eye(16) + 0.1 * rng.standard_normal((16, 16))
    X, labels = separable(rng, 100, mixing)
    pipeline = but_pipeline().fit(X, labels, 4)
    test, test_labels = separable(rng, 200, mixing)
    scores = pipeline.scores(test)
    assert scores.shape == (800, 4) and np.all(np.abs(scores) <= 1 + 1e-12)
    assert np.array_equal(scores.argmax(axis=1), test_labels)
    assert pipeline.transform(test).shape == (800, 3)
    assert Cosine().fit(X, labels, 4).scores(test).min() > 0.9    # uncentred: all alike


def all_transforms_pipeline(classifier):
    return Pipeline.from_config({"transforms": ["center", "wccn", "lda", "length_norm"],
                                 "lda": {"dims": 3}, "wccn": {"reg": 0.01}, "classifier": classifier})


@pytest.mark.parametrize("case", sorted(SMALL_CLASSIFIERS))
def test_save_load_gives_identical_posteriors_from_plain_arrays(tmp_path, case):
    rng = np.random.default_rng(3)
    mixing = 0.5 * np.eye(16) + 0.1 * rng.standard_normal((16, 16))
    X, labels = separable(rng, 30, mixing)
    pipeline = all_transforms_pipeline(SMALL_CLASSIFIERS[case]).fit(X, labels, 4)
    test, _ = separable(rng, 10, mixing)
    pipeline.save(tmp_path / "backend", ["a", "b", "c", "d"])

    assert sorted(os.listdir(tmp_path / "backend")) == ["backend.npz", "backend.yaml", "classes.txt"]
    with np.load(tmp_path / "backend" / "backend.npz", allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    assert all(value.dtype != object for value in arrays.values())
    assert {"center.mean", "wccn.B", "lda.transform", "length_norm.dim"} <= set(arrays)
    name = SMALL_CLASSIFIERS[case]["name"]
    assert all(key.split(".")[0] in ("format", "center", "wccn", "lda", "length_norm", name) for key in arrays)

    loaded, classes = Pipeline.load(tmp_path / "backend")
    assert classes == ["a", "b", "c", "d"]
    assert loaded.config() == pipeline.config()
    np.testing.assert_array_equal(loaded.posteriors(test), pipeline.posteriors(test))
    np.testing.assert_allclose(pipeline.posteriors(test).sum(axis=1), 1.0)
    # every component alone, through its own state dict
    Y = test
    for original in pipeline.transforms:
        again = type(original).from_state_dict(original.state_dict(), original.options)
        np.testing.assert_array_equal(again.transform(Y), original.transform(Y))
        Y = original.transform(Y)
    classifier = pipeline.classifier
    again = type(classifier).from_state_dict(classifier.state_dict(), classifier.options)
    np.testing.assert_array_equal(again.posteriors(Y), classifier.posteriors(Y))


def test_a_transform_listed_twice_is_saved_under_two_names(tmp_path):
    X, labels = hand_2d()
    pipeline = Pipeline.from_config({"transforms": ["center", "length_norm", "center"],
                                     "classifier": {"name": "cosine"}}).fit(X + 3.0, labels, 2)
    pipeline.save(tmp_path, ["x", "y"])
    with np.load(tmp_path / "backend.npz", allow_pickle=False) as npz:
        assert {"center.mean", "center#2.mean", "length_norm.dim", "cosine.means"} <= set(npz.files)
        second_mean = npz["center#2.mean"]
    np.testing.assert_allclose(second_mean, length_norm(X - X.mean(0)).mean(0), atol=1e-12)
    loaded, _ = Pipeline.load(tmp_path)
    np.testing.assert_array_equal(loaded.posteriors(X), pipeline.posteriors(X))


@pytest.mark.parametrize("name", [*sorted(TRANSFORMS), *sorted(SMALL_CLASSIFIERS)])
def test_components_refuse_use_before_fit_and_wrong_dimensions(name):
    options = dict(SMALL_CLASSIFIERS.get(name, {"name": name}))
    cls = {**TRANSFORMS, **CLASSIFIERS}[options.pop("name")]
    component = cls(**options)
    apply = component.transform if name in TRANSFORMS else component.scores
    with pytest.raises(ValueError, match="used before fit"):
        apply(np.ones((1, 4)))
    with pytest.raises(ValueError, match="used before fit"):
        component.state_dict()
    rng = np.random.default_rng(4)
    X, labels = rng.standard_normal((30, 4)), np.repeat([0, 1, 2], 10)
    component.fit(X + 2 * np.eye(4)[labels], labels, 3)
    apply = component.transform if name in TRANSFORMS else component.scores
    with pytest.raises(ValueError, match=r"must be \(N, 4\); got shape \(2, 5\)"):
        apply(np.ones((2, 5)))
    with pytest.raises(ValueError, match="missing; retrain it"):
        cls.from_state_dict({}, options)


@pytest.mark.parametrize("section, message", [
    ({"transforms": ["center", "pca"], "classifier": {"name": "cosine"}},
     "unknown backend transform.*'pca'.*known: center, lda, length_norm, wccn"),
    ({"classifier": {"name": "knn"}},
     "unknown backend classifier 'knn'; known: cosine, gaussian, logistic, mlp, plda, svm"),
    ({"transforms": [], "classifier": {"name": "svm", "kernal": "rbf"}},
     r"backend svm: unknown option\(s\) \['kernal'\]; known: C, coef0, gamma, kernel, scale"),
    ({"transforms": ["lda"], "lda": {"dim": 3}, "classifier": {"name": "cosine"}},
     r"backend lda: unknown option\(s\) \['dim'\]; known: between_reg, dims, reg"),
    ({"transforms": ["center"], "center": {"scale": 2}, "classifier": {"name": "cosine"}},
     r"backend center: unknown option\(s\) \['scale'\]; known: none"),
    ({"transforms": [], "scale": 10, "classifier": {"name": "cosine"}},
     r"unknown backend key\(s\) \['scale'\]; known: transforms, classifier"),
    ({"transforms": ["center"], "lda": {"dims": 3}, "classifier": {"name": "cosine"}},
     r"backend options for \['lda'\], which the transforms list"),
    ({"transforms": ["center"]}, "needs classifier: .*cosine, gaussian, logistic, mlp, plda, svm"),
    ({"transforms": "center", "classifier": {"name": "cosine"}}, "transforms must be a list"),
    ({"classifier": {"name": "gaussian", "covariance": "spherical"}},
     "covariance = 'spherical'; known: diag, full, shared"),
    ({"classifier": {"name": "svm", "gamma": "fast"}}, "gamma = 'fast' must be a number > 0"),
    ({"classifier": {"name": "mlp", "hidden": 512}}, "hidden = 512 must be a list of layer widths"),
    ({"classifier": {"name": "mlp", "dropout": 1.0}}, "dropout = 1.0 must be below 1"),
    ({"classifier": {"name": "plda", "em_iters": 2.5}}, "em_iters = 2.5 must be an integer >= 0"),
])
def test_bad_configurations_name_the_known_choices(section, message):
    with pytest.raises(ValueError, match=message):
        Pipeline.from_config(section)


def test_pipeline_save_and_load_errors(tmp_path):
    X, labels = hand_2d()
    with pytest.raises(ValueError, match="save before fit"):
        but_pipeline().save(tmp_path / "a", ["x", "y"])
    pipeline = Pipeline.from_config({"classifier": {"name": "cosine"}}).fit(X, labels, 2)
    with pytest.raises(ValueError, match="3 class names for a back end of 2 classes"):
        pipeline.save(tmp_path / "a", ["x", "y", "z"])
    with pytest.raises(FileNotFoundError, match="not a trained back end"):
        Pipeline.load(tmp_path / "a")
    pipeline.save(tmp_path / "a", ["x", "y"])
    np.savez(tmp_path / "a" / "backend.npz", mean=np.zeros(2))
    with pytest.raises(ValueError, match="not a back end written by"):
        Pipeline.load(tmp_path / "a")


# the tools and the steps


def write_vectors(directory, name, vectors):
    directory.mkdir(parents=True, exist_ok=True)
    with kaldiio.WriteHelper(f"ark,scp:{directory / name}.ark,{directory / name}.scp") as writer:
        for utt, vector in vectors.items():
            writer(utt, vector.astype(np.float32))


def tiny_task(tmp_path):
    """Embeddings of 3 classes in 8 dimensions: 12 training clips per class as i-vectors in
    ``emb/train``, 4 test clips per class as x-vectors in ``emb/test``; a data dir with the
    training labels; a system config with BUT's back end."""
    rng = np.random.default_rng(5)
    classes = ["bus", "park", "tram"]
    centres = 3.0 * np.eye(8)[:3] + 10.0
    data = tmp_path / "data"
    data.mkdir()
    for part, n in (("train", 12), ("test", 4)):
        vectors = {f"{part}-{c}-{i:02d}": centres[k] + 0.5 * rng.standard_normal(8)
                   for k, c in enumerate(classes) for i in range(n)}
        write_vectors(tmp_path / "emb" / part, "ivector" if part == "train" else "xvector", vectors)
        if part == "train":
            (data / "utt2label").write_text("".join(f"{u} {u.split('-')[1]}\n" for u in sorted(vectors)))
    (data / "classes.txt").write_text("".join(c + "\n" for c in classes))
    config = tmp_path / "system.yaml"
    config.write_text("backend:\n  transforms: [center, lda, length_norm]\n"
                      "  lda: {dims: 2}\n  classifier: {name: cosine, scale: 10.0}\n")
    return config, data, classes


def check_decode_dir(directory, classes):
    utts, scores = read_scores(directory / "score", len(classes))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    decisions = read_table(directory / "decision")
    assert [decisions[u] for u in utts] == [classes[i] for i in scores.argmax(axis=1)]
    assert [decisions[u] for u in utts] == [u.split("-")[1] for u in utts]     # all right
    assert read_list(directory / "classes.txt") == classes
    assert len(utts) == 12


def test_train_and_score_backend_tools_end_to_end(tmp_path):
    config, data, classes = tiny_task(tmp_path)
    emb = tmp_path / "emb"
    train_backend.main(["--config", str(config), str(emb / "train"), str(data), str(tmp_path / "backend")])
    saved = yaml.safe_load((tmp_path / "backend" / "backend.yaml").read_text())
    assert saved == {"transforms": ["center", "lda", "length_norm"],
                     "lda": {"dims": 2, "reg": 0.001, "between_reg": 0.01},
                     "classifier": {"name": "cosine", "scale": 10.0}}
    score_backend.main([str(tmp_path / "backend"), str(emb / "test"), str(tmp_path / "decode")])
    check_decode_dir(tmp_path / "decode", classes)
    assert not (emb / "test" / "score").exists()                # the out-dir, not the emb dir

    # a config override reaches the back end; a bad one is a ToolError naming the choices
    train_backend.main(["--config", str(config), "--backend.classifier.scale", "5",
                        str(emb / "train"), str(data), str(tmp_path / "scale5")])
    assert "scale: 5" in (tmp_path / "scale5" / "backend.yaml").read_text()
    with pytest.raises(ToolError, match="unknown backend classifier 'knn'"):
        train_backend.main(["--config", str(config), "--backend.classifier.name", "knn",
                            str(emb / "train"), str(data), str(tmp_path / "knn")])


def test_missing_or_ambiguous_embeddings_say_which_step_writes_them(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmbeddingsError, match=r"ivector.scp \(steps/extract_ivectors.sh\) or "
                                              r"xvector.scp \(steps/infer.sh --embeddings true\)"):
        read_embeddings(tmp_path / "empty")
    write_vectors(tmp_path / "both", "ivector", {"u1": np.ones(3)})
    write_vectors(tmp_path / "both", "xvector", {"u1": np.ones(3)})
    with pytest.raises(EmbeddingsError, match="both ivector.scp and xvector.scp"):
        read_embeddings(tmp_path / "both")
    config, data, _ = tiny_task(tmp_path)
    with pytest.raises(EmbeddingsError, match="no embeddings"):
        train_backend.main(["--config", str(config), str(tmp_path / "empty"), str(data), str(tmp_path / "b")])


def step(*args):
    command = f". {ROOT}/path.sh && " + " ".join(str(a) for a in args)
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True)


def test_steps_train_and_score_a_back_end_and_skip_a_rerun(tmp_path):
    config, data, classes = tiny_task(tmp_path)
    emb, backend, decode = tmp_path / "emb", tmp_path / "backend", tmp_path / "decode"
    trained = step("train_backend.sh --system_config", config, emb / "train", data, backend)
    assert trained.returncode == 0, trained.stderr
    scored = step("score_backend.sh", backend, emb / "test", decode)
    assert scored.returncode == 0, scored.stderr
    check_decode_dir(decode, classes)
    again = step("score_backend.sh", backend, emb / "test", decode)
    assert again.returncode == 0 and "up to date" in again.stdout
    missing = step("score_backend.sh", backend, tmp_path, decode)
    assert missing.returncode == 1 and "steps/infer.sh --embeddings true" in missing.stderr
