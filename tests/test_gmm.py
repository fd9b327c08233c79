"""dcase_tk.gmm: diagonal and full-covariance GMMs (EM, growth, Gaussian selection), Baum-Welch
statistics and the EM accumulators that parallel jobs sum."""
import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.mixture import GaussianMixture

from dcase_tk.gmm import accumulators
from dcase_tk.gmm.diag import DiagGMM, kmeans_pp, train
from dcase_tk.gmm.full import FullGMM, load_gmm
from dcase_tk.gmm.stats import sparse_posteriors, utterance_stats


def draw(rng, means, weights, covariances, n):
    """``n`` frames of the GMM (full ``covariances``) and their components."""
    z = rng.choice(len(weights), n, p=weights)
    chol = np.linalg.cholesky(covariances)
    return means[z] + np.einsum("tij,tj->ti", chol[z], rng.standard_normal((n, means.shape[1]))), z


def known_gmm(rng, C=4, D=3, spread=8.0, offset=100.0):
    """Well separated components (means ``spread`` apart, unit-scale covariances) far from 0, as
    MFCC c0 is: the float32 likelihoods must cope with the offset."""
    means = offset + spread * rng.standard_normal((C, D))
    A = 0.6 * rng.standard_normal((C, D, D))
    covariances = A @ A.transpose(0, 2, 1) + 0.3 * np.eye(D)
    weights = rng.dirichlet(5 * np.ones(C))
    return means, weights, covariances


def matched(estimated, true):
    """Row order of ``estimated`` that matches ``true`` (closest means)."""
    cost = ((estimated[:, None] - true[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return rows[np.argsort(cols)]


def em(model, x, iters, **acc_options):
    lls = []
    for _ in range(iters):
        acc = model.accumulate(x, **acc_options)
        lls.append(float(acc["loglik"]) / float(acc["frames"]))
        model = model.update(acc, var_floor=0.0)
    return model, lls


pytestmark = pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")


@pytest.mark.parametrize("init", ["split", "kmeans++"])
def test_diag_gmm_recovers_the_means_and_weights_of_a_known_gmm(init):
    rng = np.random.default_rng(1)
    means, weights, covariances = known_gmm(rng)
    diag_covs = np.stack([np.diag(np.diag(c)) for c in covariances])
    x, _ = draw(rng, means, weights, diag_covs, 40000)
    gmm = train(x, 4, iters=30, init=init, seed=3)
    order = matched(gmm.means.numpy(), means)
    np.testing.assert_allclose(gmm.means.numpy()[order], means, atol=0.05)
    np.testing.assert_allclose(gmm.weights.numpy()[order], weights, atol=0.01)
    np.testing.assert_allclose(gmm.variances.numpy()[order], np.diagonal(covariances, axis1=1, axis2=2), rtol=0.06)


def test_split_growth_reaches_the_target_size_halfway_and_em_then_never_lowers_the_likelihood():
    rng = np.random.default_rng(2)
    x, _ = draw(rng, *known_gmm(rng, C=8, D=4), 20000)
    sizes, lls = [], []
    train(x, 8, iters=10, init="split", initial_fraction=0.25, seed=0,
          log=lambda it, n, ll: (sizes.append(n), lls.append(ll)))
    assert sizes == [2, 3, 4, 5, 6, 8, 8, 8, 8, 8]          # 2 + 6 (it + 1) // 5 after each of the first 5
    assert all(b >= a - 1e-7 for a, b in zip(lls[5:], lls[6:]))


def test_em_never_lowers_the_training_log_likelihood():
    rng = np.random.default_rng(3)
    means, weights, covariances = known_gmm(rng, C=5, D=3, spread=2.0)   # overlapping: slow EM
    x, _ = draw(rng, means, weights, covariances, 10000)
    start = kmeans_pp(torch.as_tensor(x), 5, torch.Generator().manual_seed(0), lloyd_iters=0)
    diag, lls = em(DiagGMM(*start), x, 15)
    assert lls[-1] > lls[0] + 0.05
    assert np.all(np.diff(lls) >= -1e-6), lls          # float32 likelihoods: 1e-6 per frame
    _, full_lls = em(FullGMM.from_diag(diag), x, 10, top_n=5)     # exact EM: every component
    assert full_lls[0] == pytest.approx(lls[-1], abs=1e-4) or full_lls[0] > lls[-1]
    assert np.all(np.diff(full_lls) >= -1e-10), full_lls
    assert full_lls[-1] > lls[-1] + 0.01               # full covariances fit correlated data better


def test_diag_gmm_matches_scikit_learn_from_the_same_start():
    rng = np.random.default_rng(4)
    means, weights, covariances = known_gmm(rng, C=4, D=3, spread=3.0)
    x, _ = draw(rng, means, weights, covariances, 20000)
    w0, m0, v0 = np.full(4, 0.25), x[rng.choice(len(x), 4, replace=False)], np.tile(x.var(0), (4, 1))
    ours, lls = em(DiagGMM(w0, m0, v0), x, 10)
    ref = GaussianMixture(4, covariance_type="diag", weights_init=w0, means_init=m0, precisions_init=1 / v0,
                          max_iter=10, tol=0, reg_covar=0).fit(x)
    assert lls[-1] == pytest.approx(ref.lower_bound_, abs=1e-5)
    np.testing.assert_allclose(ours.means.numpy(), ref.means_, atol=1e-3)
    np.testing.assert_allclose(ours.variances.numpy(), ref.covariances_, rtol=1e-3)
    np.testing.assert_allclose(ours.weights.numpy(), ref.weights_, atol=1e-4)


def test_full_gmm_matches_scikit_learn_from_the_same_start():
    rng = np.random.default_rng(5)
    means, weights, covariances = known_gmm(rng, C=3, D=4, spread=4.0)
    x, _ = draw(rng, means, weights, covariances, 10000)
    start = DiagGMM(np.full(3, 1 / 3), x[rng.choice(len(x), 3, replace=False)], np.tile(x.var(0), (3, 1)))
    ours, lls = em(FullGMM.from_diag(start), x, 8, top_n=3)
    ref = GaussianMixture(3, covariance_type="full", weights_init=start.weights.numpy(),
                          means_init=start.means.numpy(), precisions_init=np.stack([np.diag(1 / v) for v in start.variances.numpy()]),
                          max_iter=8, tol=0, reg_covar=0).fit(x)
    assert lls[-1] == pytest.approx(ref.lower_bound_, abs=1e-9)
    np.testing.assert_allclose(ours.means.numpy(), ref.means_, atol=1e-9)
    np.testing.assert_allclose(ours.covariances.numpy(), ref.covariances_, atol=1e-9)


def test_parallel_jobs_statistics_sum_to_the_whole_data_statistics(tmp_path):
    rng = np.random.default_rng(6)
    x, _ = draw(rng, *known_gmm(rng, C=4, D=3), 3000)
    diag = DiagGMM(*kmeans_pp(torch.as_tensor(x), 4, torch.Generator().manual_seed(0)))
    for gmm, options in ((diag, {}), (FullGMM.from_diag(diag), {"top_n": 2})):
        whole = gmm.accumulate(x, **options)
        for job, part in enumerate(np.array_split(x, 3)):
            accumulators.save(tmp_path / f"acc.{job}.npz", gmm.accumulate(part, **options))
        summed = accumulators.sum_files([tmp_path / f"acc.{job}.npz" for job in range(3)])
        assert set(summed) == set(whole)
        for key in whole:
            np.testing.assert_allclose(summed[key], whole[key], rtol=1e-6, atol=1e-6)


def test_models_and_accumulators_round_trip_through_plain_npz_files(tmp_path):
    rng = np.random.default_rng(7)
    x, _ = draw(rng, *known_gmm(rng, C=3, D=2), 2000)
    diag = train(x, 3, iters=3, init="kmeans++")
    full = FullGMM.from_diag(diag).update(FullGMM.from_diag(diag).accumulate(x, top_n=3))
    for gmm, cls in ((diag, DiagGMM), (full, FullGMM)):
        path = tmp_path / f"{cls.__name__}.npz"
        gmm.save(path)
        loaded = load_gmm(path)
        assert isinstance(loaded, cls)
        torch.testing.assert_close(loaded.log_likelihood(x) if cls is DiagGMM else loaded.sparse_posteriors(x, 3)[2],
                                   gmm.log_likelihood(x) if cls is DiagGMM else gmm.sparse_posteriors(x, 3)[2])
        with np.load(path, allow_pickle=False) as npz:
            assert all(npz[k].dtype != object for k in npz.files)
    accumulators.save(tmp_path / "acc.npz", {"frames": 3.0})
    with pytest.raises(ValueError, match="neither"):
        load_gmm(tmp_path / "acc.npz")
    with pytest.raises(ValueError, match="not an accumulator"):
        accumulators.load(tmp_path / "DiagGMM.npz")
    with pytest.raises(ValueError, match="different entries"):
        accumulators.add({"frames": 1.0}, {"loglik": 2.0})


def test_gaussian_selection_and_pruned_posteriors_give_per_utterance_statistics():
    rng = np.random.default_rng(8)
    means, weights, covariances = known_gmm(rng, C=6, D=3, spread=3.0)
    x, _ = draw(rng, means, weights, covariances, 600)
    ubm = FullGMM(weights, means, covariances)
    # with every component selected, the frame likelihoods are exact
    index, post, frame_ll = ubm.sparse_posteriors(x, top_n=6)
    exact = np.log(sum(w * _gauss(x, m, c) for w, m, c in zip(weights, means, covariances)))
    np.testing.assert_allclose(frame_ll.numpy(), exact, rtol=1e-10)
    # selection keeps the diagonal approximation's 2 best; pruning renormalises what is left
    index, post = sparse_posteriors(ubm, x, top_n=2, min_post=0.3)
    assert index.shape == (600, 2)
    np.testing.assert_allclose(post.sum(1).numpy(), 1.0)
    assert bool(((post == 0) | (post >= 0.3)).all()) and bool((post == 0).any())
    feats = [x[:100], x[100:101], x[101:]]
    N, F = utterance_stats(ubm, feats, top_n=2, min_post=0.3)
    assert N.shape == (3, 6) and F.shape == (3, 6, 3)
    np.testing.assert_allclose(N.sum(1).numpy(), [100, 1, 499])
    dense = torch.zeros(600, 6, dtype=torch.float64).scatter_(1, index, post)
    np.testing.assert_allclose(F[0].numpy(), (dense[:100].T @ torch.as_tensor(x[:100])).numpy(), rtol=1e-12)
    np.testing.assert_allclose(N[2].numpy(), dense[101:].sum(0).numpy(), rtol=1e-12)


def _gauss(x, mean, cov):
    d = x - mean
    quad = np.einsum("ti,ij,tj->t", d, np.linalg.inv(cov), d)
    return np.exp(-0.5 * quad) / np.sqrt(np.linalg.det(2 * np.pi * cov))


def test_bad_inputs_are_clear_errors():
    gmm = DiagGMM(np.ones(2) / 2, np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"frames must be \(T, 3\)"):
        gmm.log_likelihood(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="variances must be positive"):
        DiagGMM(np.ones(2) / 2, np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="positive definite"):
        FullGMM(np.ones(2) / 2, np.zeros((2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="5 frames cannot train 10 Gaussians"):
        train(np.random.default_rng(0).standard_normal((5, 3)), 10, init="split")
    with pytest.raises(ValueError, match="split .* or kmeans"):
        train(np.zeros((5, 3)), 2, init="random")
