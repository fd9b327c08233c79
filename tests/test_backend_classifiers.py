"""dcase_tk.backend classifiers: PLDA (EM, predictive scoring, pair LLRs), Gaussians, logistic
regression and SVMs against scikit-learn, the MLP, and all of them on held-out synthetic data."""
import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC

from dcase_tk.backend.base import length_norm
from dcase_tk.backend.cosine import Cosine, cosine_pairs
from dcase_tk.backend.gaussian import Gaussian
from dcase_tk.backend.logistic import Logistic
from dcase_tk.backend.mlp import MLP
from dcase_tk.backend.pipeline import Pipeline
from dcase_tk.backend.plda import PLDA
from dcase_tk.backend.svm import SVM


def relative_error(estimate, truth):
    return np.linalg.norm(estimate - truth) / np.linalg.norm(truth)


class TwoCovariance:
    """Draws from the PLDA model y ~ N(mu, B), x | y ~ N(y, W) in 10 dimensions."""

    def __init__(self, rng, dim=10):
        self.rng = rng
        a, m = rng.standard_normal((dim, dim)), rng.standard_normal((dim, dim))
        self.between = 4 * a @ a.T / dim + 2.0 * np.eye(dim)
        self.within = m @ m.T / dim + 0.2 * np.eye(dim)
        self.mean = 3 * rng.standard_normal(dim)

    def draw(self, n_classes, per_class):
        """``(X, labels, centres)``: ``per_class`` embeddings of each of ``n_classes`` new classes."""
        centres = self.rng.multivariate_normal(self.mean, self.between, size=n_classes)
        noise = self.rng.multivariate_normal(np.zeros(len(self.mean)), self.within, size=n_classes * per_class)
        return np.repeat(centres, per_class, axis=0) + noise, np.repeat(np.arange(n_classes), per_class), centres


def test_plda_em_recovers_the_covariances_and_never_lowers_the_likelihood():
    model = TwoCovariance(np.random.default_rng(0))
    X, labels, centres = model.draw(200, 20)
    iterations = [0, 1, 2, 3, 5, 10, 20]
    fits = [PLDA(em_iters=k, reg=1e-3).fit(X, labels, 200) for k in iterations]
    likelihoods = np.array([plda.log_likelihood(X, labels, 200) for plda in fits])
    assert np.all(np.diff(likelihoods) >= -1e-9 * np.abs(likelihoods[:-1]))
    assert likelihoods[-1] > likelihoods[0] + 1.0                   # EM does move
    plda = fits[-1]
    # B against the covariance of the centres actually drawn (200 draws leave ~10 % sampling error
    # against the true B); W against the truth (4000 draws)
    drawn = centres - centres.mean(axis=0)
    assert relative_error(plda.state["between"], drawn.T @ drawn / 200) < 0.06
    assert relative_error(plda.state["within"], model.within) < 0.06
    assert relative_error(fits[0].state["within"], model.within) > relative_error(plda.state["within"], model.within)
    np.testing.assert_allclose(plda.state["mean"], centres.mean(axis=0), atol=0.05)


def test_plda_log_likelihood_equals_the_joint_gaussian_of_a_class():
    """The shortcut of plda.py (Bayes' rule at y = m_c) against the (n D)-dimensional Gaussian of
    a class's stacked embeddings, covariance I (x) W + 11^T (x) B."""
    rng = np.random.default_rng(1)
    model = TwoCovariance(rng, dim=3)
    X, labels, _ = model.draw(2, 3)
    plda = PLDA(em_iters=2).fit(X, labels, 2)
    B, W, mu = plda.state["between"], plda.state["within"], plda.state["mean"]
    joint = np.kron(np.eye(3), W) + np.kron(np.ones((3, 3)), B)
    expected = sum(scipy.stats.multivariate_normal(np.tile(mu, 3), joint).logpdf(X[labels == c].ravel())
                   for c in range(2))
    assert plda.log_likelihood(X, labels, 2) == pytest.approx(expected, rel=1e-10)


def pair_trials(rng, model, n_pairs):
    """``(enrol, test, same)``: pairs of new classes' embeddings, half of one class."""
    X, _, _ = model.draw(n_pairs, 2)
    enrol, test = X[0::2], X[1::2]
    different = np.roll(test, 1, axis=0)                       # the next pair's class
    return (np.concatenate([enrol, enrol]), np.concatenate([test, different]),
            np.r_[np.ones(n_pairs), np.zeros(n_pairs)])


def test_plda_llr_and_cosine_pairs_rank_same_class_pairs_first():
    rng = np.random.default_rng(2)
    model = TwoCovariance(rng)
    X, labels, _ = model.draw(100, 10)
    plda = PLDA().fit(X, labels, 100)
    enrol, test, same = pair_trials(rng, model, 200)
    llr = plda.llr(enrol, test)
    assert roc_auc_score(same, llr) > 0.95
    centre = X.mean(axis=0)
    cosine = cosine_pairs(length_norm(enrol - centre), length_norm(test - centre))
    assert roc_auc_score(same, cosine) > 0.95
    assert roc_auc_score(same, llr) > roc_auc_score(same, cosine)   # the model's own scoring wins
    # LLR = log p(test | enrol) - log p(test), by hand for the first pair
    inv_b, inv_w = np.linalg.inv(plda.state["between"]), np.linalg.inv(plda.state["within"])
    cov = np.linalg.inv(inv_b + inv_w)
    mean = cov @ (inv_b @ plda.state["mean"] + inv_w @ enrol[0])
    expected = (scipy.stats.multivariate_normal(mean, plda.state["within"] + cov).logpdf(test[0])
                - scipy.stats.multivariate_normal(plda.state["mean"], plda.state["within"]
                                                  + plda.state["between"]).logpdf(test[0]))
    assert llr[0] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(cosine_pairs([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0], [-1.0, 0.0]]),
                               [1.0, -1 / np.sqrt(2)])


def blobs(rng, n, n_classes=4, dim=6):
    """Gaussian classes around well-separated, rng-drawn means, with a shared correlated noise."""
    means = np.random.default_rng(100).standard_normal((n_classes, dim)) * 2.0 + 5.0
    mixing = np.random.default_rng(101).standard_normal((dim, dim)) * 0.3 + 0.6 * np.eye(dim)
    X = np.repeat(means, n, axis=0) + rng.standard_normal((n_classes * n, dim)) @ mixing
    return X, np.repeat(np.arange(n_classes), n)


CLASSIFIERS = [
    {"name": "cosine"}, {"name": "plda"}, {"name": "gaussian", "covariance": "diag"},
    {"name": "gaussian", "covariance": "full"}, {"name": "gaussian", "covariance": "shared"},
    {"name": "logistic"}, {"name": "svm", "kernel": "rbf"}, {"name": "svm", "kernel": "sigmoid"},
    {"name": "svm", "kernel": "linear"}, {"name": "mlp", "hidden": [32, 32], "epochs": 30, "batch_size": 32},
]


@pytest.mark.parametrize("classifier", CLASSIFIERS, ids=lambda c: "-".join(map(str, c.values())))
def test_every_classifier_classifies_held_out_data_well_above_chance(classifier):
    rng = np.random.default_rng(3)
    X, labels = blobs(rng, 60)
    test, test_labels = blobs(rng, 100)
    pipeline = Pipeline.from_config({"transforms": ["center"], "classifier": classifier}).fit(X, labels, 4)
    posteriors = pipeline.posteriors(test)
    assert posteriors.shape == (400, 4)
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0)
    assert np.mean(posteriors.argmax(axis=1) == test_labels) > 0.85        # chance: 0.25


def test_gaussian_models_match_hand_computed_estimates_and_scipy_densities():
    rng = np.random.default_rng(4)
    X, labels = blobs(rng, 20, n_classes=3, dim=3)
    test = rng.standard_normal((5, 3)) + 5.0
    parts = [X[labels == c] for c in range(3)]
    means = np.array([p.mean(axis=0) for p in parts])
    pooled = sum((p - p.mean(0)).T @ (p - p.mean(0)) for p in parts) / len(X)
    covariances = {
        "full": [np.cov(p.T, bias=True) for p in parts],
        "diag": [np.diag(p.var(axis=0)) for p in parts],
        "shared": [pooled] * 3,
    }
    for kind, expected in covariances.items():
        gaussian = Gaussian(covariance=kind, reg=0).fit(X, labels, 3)
        np.testing.assert_allclose(gaussian.state["means"], means)
        densities = np.stack([scipy.stats.multivariate_normal(m, c).logpdf(test)
                              for m, c in zip(means, expected)], axis=1)
        np.testing.assert_allclose(gaussian.scores(test), densities, rtol=1e-10)
    ridged = Gaussian(covariance="diag", reg=0.5).fit(X, labels, 3)
    np.testing.assert_allclose(ridged.state["covariances"],
                               np.array([p.var(axis=0) for p in parts]) + 0.5 * np.trace(pooled) / 3)
    with pytest.raises(ValueError, match="set gaussian reg > 0"):
        Gaussian(covariance="full", reg=0).fit(np.c_[X, X[:, 0]], labels, 3)


@pytest.mark.parametrize("n_classes", [4, 2])
def test_logistic_posteriors_equal_sklearns_predict_proba(n_classes):
    rng = np.random.default_rng(5)
    X, labels = blobs(rng, 30, n_classes=n_classes)
    test, _ = blobs(rng, 10, n_classes=n_classes)
    logistic = Logistic(C=0.5).fit(X, labels, n_classes)
    reference = LogisticRegression(C=0.5, max_iter=1000).fit(X, labels)
    assert logistic.state["coef"].shape == (n_classes, 6)
    np.testing.assert_allclose(logistic.posteriors(test), reference.predict_proba(test), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("kernel", ["rbf", "sigmoid", "linear"])
def test_svm_decision_values_equal_each_sklearn_svc(kernel):
    rng = np.random.default_rng(6)
    X, labels = blobs(rng, 25, n_classes=3)
    X = X - X.mean(axis=0)
    test = rng.standard_normal((15, 6))
    svm = SVM(kernel=kernel, C=2.0, coef0=0.5 if kernel == "sigmoid" else 0.0).fit(X, labels, 3)
    gamma = float(svm.state["gamma"])
    assert gamma == pytest.approx(1.0 / (6 * X.var()))            # gamma: scale, resolved
    for c in range(3):
        reference = SVC(kernel=kernel, C=2.0, gamma=gamma, coef0=svm.options["coef0"]).fit(X, labels == c)
        np.testing.assert_allclose(svm.scores(test)[:, c], reference.decision_function(test), rtol=0, atol=1e-8)
    assert len(svm.state["support_vectors"]) < len(X)              # only support vectors are kept
    scaled = SVM(kernel=kernel, C=2.0, coef0=svm.options["coef0"], scale=3.0).fit(X, labels, 3)
    decision = svm.scores(test)
    expected = np.exp(3 * decision) / np.exp(3 * decision).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scaled.posteriors(test), expected)


def test_mlp_is_deterministic_given_its_seed_and_leaves_the_global_rng_alone():
    rng = np.random.default_rng(7)
    X, labels = blobs(rng, 20)
    options = {"hidden": [8, 8], "epochs": 3, "batch_size": 16, "dropout": 0.2}
    before = torch.get_rng_state()
    first = MLP(**options, seed=1).fit(X, labels, 4)
    assert torch.equal(torch.get_rng_state(), before)
    again = MLP(**options, seed=1).fit(X, labels, 4)
    other = MLP(**options, seed=2).fit(X, labels, 4)
    assert set(first.state) == {"mean", "std", "weight.0", "bias.0", "weight.1", "bias.1", "weight.2", "bias.2"}
    assert first.state["weight.0"].shape == (8, 6) and first.state["weight.2"].shape == (4, 8)
    for key in first.state:
        np.testing.assert_array_equal(first.state[key], again.state[key])
    assert not np.array_equal(first.state["weight.0"], other.state["weight.0"])
    np.testing.assert_allclose(first.state["mean"], X.mean(axis=0))
    # eval mode: no dropout at scoring, so two calls agree
    np.testing.assert_array_equal(first.posteriors(X), first.posteriors(X))
    with pytest.raises(ValueError, match=r"not a saved backend mlp with hidden \[8\]: it has layers"):
        MLP.from_state_dict(first.state_dict(), {**options, "hidden": [8]})
    with pytest.raises(ValueError, match=r"layer 1 has weight \(8, 8\) and bias \(8,\), not a layer of 8 "
                                         r"inputs and hidden \[8, 4\]"):
        MLP.from_state_dict(first.state_dict(), {**options, "hidden": [8, 4]})


def test_cosine_and_plda_refuse_a_class_without_examples():
    X, labels = blobs(np.random.default_rng(8), 5, n_classes=2)
    for classifier in (Cosine(), PLDA()):
        with pytest.raises(ValueError, match=r"classes \[2\] have no training example"):
            classifier.fit(X, labels, 3)
