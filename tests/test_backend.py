"""dcase_tk.backend: regularised LDA, length norm, class-mean cosine scoring, the saved pipeline."""
import math

import numpy as np
import pytest

from dcase_tk.backend.cosine import Backend, CosineClassMeans, posteriors
from dcase_tk.backend.lda import LDA, class_means, length_norm, scatter_matrices


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


def test_lda_of_a_hand_computed_2d_problem_is_the_discriminant_axis():
    X, labels = hand_2d()
    within, between = scatter_matrices(X - X.mean(0), labels)
    np.testing.assert_allclose(within, np.diag([1.0, 25.0]), atol=1e-12)
    np.testing.assert_allclose(between, np.diag([4.0, 0.0]), atol=1e-12)

    plain = LDA(reg=0, between_reg=0).fit(X, labels)          # the large-variance axis 1 is ignored
    np.testing.assert_allclose(plain.transform_matrix, [[1.0], [0.0]], atol=1e-12)
    np.testing.assert_allclose(plain.eigenvalues, [4.0])
    np.testing.assert_allclose(plain.transform([[3.0, 5.0], [-2.0, 7.0]]), [[3.0], [-2.0]], atol=1e-12)

    # regularised: alpha and beta scaled by trace(S_w) / D = 13
    rlda = LDA(dims=2, reg=0.001, between_reg=0.01).fit(X, labels)
    s = 13.0
    np.testing.assert_allclose(rlda.eigenvalues, [(4 + 0.01 * s) / (1 + 0.001 * s), 0.01 * s / (25 + 0.001 * s)])
    np.testing.assert_allclose(np.abs(rlda.transform_matrix),
                               np.diag([1 / math.sqrt(1 + 0.001 * s), 1 / math.sqrt(25 + 0.001 * s)]), atol=1e-12)


def test_lda_whitens_the_within_class_covariance_and_separates_three_classes():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((6, 6)) + 2 * np.eye(6)       # correlated, unequal variances
    # Mahalanobis distances 6, 6 and 8.5 between the class means
    means = [np.zeros(6), np.r_[6.0, 0, 0, 0, 0, 0] @ mixing, np.r_[0, 6.0, 0, 0, 0, 0] @ mixing]
    X, labels = gaussian_classes(rng, means, 2000, mixing)
    lda = LDA().fit(X + 50.0, labels)                          # a global offset is centred away
    assert lda.transform_matrix.shape == (6, 2)               # default dims: n_classes - 1

    fresh, fresh_labels = gaussian_classes(rng, means, 2000, mixing)
    Y = lda.transform(fresh + 50.0)
    within, _ = scatter_matrices(Y - Y.mean(0), fresh_labels)
    np.testing.assert_allclose(within, np.eye(2), atol=0.08)   # identity, up to sampling error
    centres = class_means(Y, fresh_labels, 3)
    distances = np.linalg.norm(Y[:, None, :] - centres[None], axis=2)
    assert np.mean(distances.argmin(axis=1) == fresh_labels) > 0.99         # Bayes error about 0.3 %
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    np.testing.assert_allclose(gaps, [6.0, 6.0, 6 * math.sqrt(2)], rtol=0.05)   # the Mahalanobis distances


def test_lda_state_round_trip_and_bad_configurations():
    X, labels = hand_2d()
    lda = LDA(dims=2).fit(X, labels)
    again = LDA.from_state_dict({k: v.copy() for k, v in lda.state_dict().items()})
    np.testing.assert_array_equal(again.transform(X), lda.transform(X))
    with pytest.raises(ValueError, match="exceeds the embedding dimension 2"):
        LDA(dims=3).fit(X, labels)
    with pytest.raises(ValueError, match="needs between_reg > 0"):
        LDA(dims=2, between_reg=0).fit(X, labels)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LDA().fit(X, np.zeros(8, dtype=int))
    with pytest.raises(ValueError, match="singular"):
        LDA(reg=0).fit(np.c_[X, X[:, :1]], labels)             # a duplicated dimension
    with pytest.raises(ValueError, match="8 integers, one per embedding"):
        LDA().fit(X, labels[:5])
    with pytest.raises(ValueError, match="not an LDA state: eigenvalues missing"):
        LDA.from_state_dict({k: v for k, v in lda.state_dict().items() if k != "eigenvalues"})


def test_length_norm_and_class_means():
    np.testing.assert_allclose(length_norm([[3.0, 4.0], [0.0, 0.0]]), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(class_means([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [1, 1, 0], 2),
                               [[5.0, 6.0], [2.0, 3.0]])
    with pytest.raises(ValueError, match=r"classes \[2\] have no training example"):
        class_means(np.ones((2, 2)), [0, 1], 3)
    with pytest.raises(ValueError, match="class indices 0 .. 1"):
        class_means(np.ones((2, 2)), [0, 2], 2)


def test_cosine_scores_and_posteriors_match_hand_computed_values():
    cosine = CosineClassMeans().fit([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]], [0, 0, 1, 1], 2)
    np.testing.assert_allclose(cosine.means, [[1.0, 0.0], [0.0, 1.0]])
    scores = cosine.score([[3.0, 4.0], [-1.0, 1.0]])
    np.testing.assert_allclose(scores, [[0.6, 0.8], [-1 / math.sqrt(2), 1 / math.sqrt(2)]])
    p = posteriors(scores, 10.0)
    np.testing.assert_allclose(p[0], [1 / (1 + math.e ** 2), math.e ** 2 / (1 + math.e ** 2)])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="scale 0: must be > 0"):
        posteriors(scores, 0)


def separable(rng, n, mixing):
    """4 classes in 16 dimensions: mean 5 e_c plus a large shared offset (without centring, every
    embedding would point the same way), noise of about 0.6 per dimension."""
    means = [5.0 * np.eye(16)[c] + 20.0 for c in range(4)]
    return gaussian_classes(rng, means, n, mixing)


@pytest.mark.parametrize("lda", [True, False])
def test_backend_classifies_a_separable_problem_and_round_trips(tmp_path, lda):
    rng = np.random.default_rng(1)
    mixing = 0.5 * np.eye(16) + 0.1 * rng.standard_normal((16, 16))
    X, labels = separable(rng, 100, mixing)
    backend = Backend(lda=lda).fit(X, labels, 4)
    test, test_labels = separable(rng, 200, mixing)
    scores = backend.score(test)
    assert scores.shape == (800, 4) and np.all(np.abs(scores) <= 1 + 1e-12)
    assert np.array_equal(scores.argmax(axis=1), test_labels)
    assert backend.embed(test).shape == (800, 3 if lda else 16)
    assert CosineClassMeans().fit(X, labels, 4).score(test).min() > 0.9    # uncentred: all alike

    backend.save(tmp_path / "backend.npz")
    lda_keys = {"lda.mean", "lda.transform", "lda.eigenvalues", "lda.reg", "lda.between_reg"}
    assert set(np.load(tmp_path / "backend.npz").files) == {"format", "mean", "class_means"} | (
        lda_keys if lda else set())
    loaded = Backend.load(tmp_path / "backend.npz")
    np.testing.assert_array_equal(loaded.score(test), scores)
    assert (loaded.lda is None) == (not lda)


def test_backend_rejects_bad_input_and_foreign_files(tmp_path):
    with pytest.raises(ValueError, match="before fit"):
        Backend().score(np.ones((1, 3)))
    X, labels = hand_2d()
    backend = Backend().fit(X, labels, 2)
    with pytest.raises(ValueError, match=r"must be \(N, 2\)"):
        backend.score(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"classes \[2\] have no training example"):
        Backend().fit(X, labels, 3)
    np.savez(tmp_path / "other.npz", mean=np.zeros(2))
    with pytest.raises(ValueError, match="not a back end written by"):
        Backend.load(tmp_path / "other.npz")
