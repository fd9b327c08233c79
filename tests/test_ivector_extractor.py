"""dcase_tk.gmm.extractor: the total-variability model, its EM (with minimum divergence) and
i-vector extraction, on statistics drawn from the model itself."""
import numpy as np
import pytest
import scipy.linalg
from scipy.stats import multivariate_normal
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score

from dcase_tk.backend.cosine import cosine_pairs
from dcase_tk.backend.lda import LDA
from dcase_tk.backend.plda import PLDA
from dcase_tk.gmm import accumulators
from dcase_tk.gmm.extractor import IvectorExtractor
from dcase_tk.gmm.full import FullGMM


def random_ubm(rng, C, D):
    A = 0.5 * rng.standard_normal((C, D, D))
    return FullGMM(np.full(C, 1 / C), 3 * rng.standard_normal((C, D)), A @ A.transpose(0, 2, 1) + np.eye(D))


def draw_stats(rng, ubm, supervector_offsets, frames=(100, 300)):
    """Hard-assigned Baum-Welch statistics of utterances whose frames of component c are drawn
    from ``N(m_c + offset_uc, Sigma_c)``: ``offsets (U, C, D)`` -> ``N (U, C), F (U, C, D)``."""
    means, cov = ubm.means.numpy(), ubm.covariances.numpy()
    chol = np.linalg.cholesky(cov)
    U, C, D = supervector_offsets.shape
    N, F = np.zeros((U, C)), np.zeros((U, C, D))
    for u in range(U):
        z = rng.integers(C, size=rng.integers(*frames))
        x = means[z] + supervector_offsets[u, z] + np.einsum("tij,tj->ti", chol[z], rng.standard_normal((len(z), D)))
        np.add.at(N[u], z, 1)
        np.add.at(F[u], z, x)
    return N, F


def train(extractor, N, F, iters):
    objectives = []
    for _ in range(iters):
        acc = extractor.accumulate(N, F)
        objectives.append(float(acc["objective"]) / float(acc["frames"]))
        extractor = extractor.update(acc)
    return extractor, objectives


@pytest.fixture(scope="module")
def model_data():
    """300 utterances of a rank-3 total-variability model (8 components, 5 dims)."""
    rng = np.random.default_rng(0)
    ubm = random_ubm(rng, 8, 5)
    T = rng.standard_normal((8, 5, 3))
    w = rng.standard_normal((300, 3))
    N, F = draw_stats(rng, ubm, np.einsum("cdr,ur->ucd", T, w))
    return ubm, w, N, F


def test_extraction_equals_the_textbook_formula_in_original_coordinates():
    rng = np.random.default_rng(1)
    ubm = random_ubm(rng, 4, 3)
    extractor = IvectorExtractor.init(ubm, 2, seed=5)
    extractor = IvectorExtractor(extractor.means, extractor.prec_chol, extractor.T,
                                 0.3 * rng.standard_normal((4, 3)))       # a non-zero offset too
    N, F = draw_stats(rng, ubm, 0.5 * rng.standard_normal((6, 4, 3)), frames=(5, 40))
    # unwhiten: T_c = L_c^-T Th_c, o_c = L_c^-T oh_c; w = (I + sum N T^T S^-1 T)^-1 sum T^T S^-1 (F - N (m + o))
    L = extractor.prec_chol.numpy()
    T = np.linalg.solve(L.transpose(0, 2, 1), extractor.T.numpy())
    o = np.linalg.solve(L.transpose(0, 2, 1), extractor.offset.numpy()[..., None])[..., 0]
    S_inv = np.linalg.inv(ubm.covariances.numpy())
    for u in range(6):
        P = np.eye(2) + sum(N[u, c] * T[c].T @ S_inv[c] @ T[c] for c in range(4))
        b = sum(T[c].T @ S_inv[c] @ (F[u, c] - N[u, c] * (ubm.means.numpy()[c] + o[c])) for c in range(4))
        np.testing.assert_allclose(extractor.extract(N[u:u + 1], F[u:u + 1])[0], np.linalg.solve(P, b),
                                   rtol=1e-9, atol=1e-12)


def test_objective_is_the_marginal_log_likelihood_of_the_frames_up_to_a_constant():
    """Frames of one utterance stacked into one vector are Gaussian once w is integrated out:
    mean ``m_z + o_z``, covariance ``blockdiag(Sigma_z) + T_z T_z^T``. The objectives of two
    different models must differ exactly as these log-likelihoods do."""
    rng = np.random.default_rng(4)
    C, D, R = 2, 2, 1
    ubm = random_ubm(rng, C, D)
    means, cov, L = ubm.means.numpy(), ubm.covariances.numpy(), ubm.precision_chol.numpy()
    utterances = [(rng.integers(C, size=n), rng.standard_normal((n, D)) + 1) for n in (4, 7, 5)]
    N = np.stack([np.bincount(z, minlength=C) for z, _ in utterances]).astype(float)
    F = np.stack([np.stack([x[z == c].sum(0) for c in range(C)]) for z, x in utterances])

    def exact_log_likelihood(T, offset):
        total = 0.0
        for z, x in utterances:
            Tz = T[z].reshape(-1, R)
            total += multivariate_normal.logpdf(x.ravel(), (means + offset)[z].ravel(),
                                                scipy.linalg.block_diag(*cov[z]) + Tz @ Tz.T)
        return total

    models = [(rng.standard_normal((C, D, R)), rng.standard_normal((C, D))) for _ in range(2)]
    whitened = [IvectorExtractor(means, L, np.einsum("cde,cdr->cer", L, T), np.einsum("cde,cd->ce", L, o))
                for T, o in models]
    objectives = [float(extractor.accumulate(N, F)["objective"]) for extractor in whitened]
    exact = [exact_log_likelihood(T, o) for T, o in models]
    assert abs(objectives[0] - objectives[1]) > 1           # the models really differ
    assert objectives[0] - objectives[1] == pytest.approx(exact[0] - exact[1], abs=1e-9)


def test_em_never_lowers_the_objective_and_recovers_the_factors(model_data):
    ubm, w, N, F = model_data
    extractor, objectives = train(IvectorExtractor.init(ubm, 3, seed=0), N, F, 10)
    assert objectives[-1] > objectives[0] + 1.0
    assert np.all(np.diff(objectives) >= -1e-9 * np.abs(objectives[1:])), objectives
    ivectors = extractor.extract(N, F)
    assert LinearRegression().fit(ivectors, w).score(ivectors, w) > 0.95     # w up to a linear map
    # minimum divergence: the posteriors of w average to the standard normal prior
    acc = extractor.accumulate(N, F)
    np.testing.assert_allclose(acc["w_sum"] / acc["utts"], np.zeros(3), atol=1e-3)
    np.testing.assert_allclose(acc["ww_sum"] / acc["utts"], np.eye(3), atol=1e-3)


def test_parallel_jobs_statistics_sum_to_the_whole_data_statistics(model_data, tmp_path):
    ubm, _, N, F = model_data
    extractor = IvectorExtractor.init(ubm, 3, seed=0)
    whole = extractor.accumulate(N, F)
    for job, rows in enumerate(np.array_split(np.arange(len(N)), 3)):
        acc = None
        for row in rows:                                    # any batch size, down to one utterance
            acc = extractor.accumulate(N[row:row + 1], F[row:row + 1], acc)
        accumulators.save(tmp_path / f"acc.{job}.npz", acc)
    summed = accumulators.sum_files([tmp_path / f"acc.{job}.npz" for job in range(3)])
    for key in whole:
        np.testing.assert_allclose(summed[key], whole[key], rtol=1e-10, atol=1e-10)
    updated = extractor.update(summed)
    np.testing.assert_allclose(updated.T.numpy(), extractor.update(whole).T.numpy(), rtol=1e-9, atol=1e-12)


def test_ivectors_of_classes_with_a_low_rank_offset_separate_and_score_pairs():
    rng = np.random.default_rng(2)
    ubm = random_ubm(rng, 8, 5)
    T = rng.standard_normal((8, 5, 6))                      # nuisance variability of every utterance
    basis = rng.standard_normal((2, 8, 5))                  # the classes differ in a rank-2 subspace
    class_offsets = np.einsum("kr,rcd->kcd", 0.6 * rng.standard_normal((5, 2)), basis)
    labels = np.repeat(np.arange(5), 80)
    offsets = class_offsets[labels] + np.einsum("cdr,ur->ucd", T, rng.standard_normal((400, 6)))
    N, F = draw_stats(rng, ubm, offsets, frames=(50, 150))
    train_rows, test_rows = np.arange(400) % 4 != 0, np.arange(400) % 4 == 0
    extractor, _ = train(IvectorExtractor.init(ubm, 10, seed=0), N[train_rows], F[train_rows], 6)
    ivectors = extractor.extract(N, F)
    classifier = LogisticRegression(max_iter=2000).fit(ivectors[train_rows], labels[train_rows])
    assert classifier.score(ivectors[test_rows], labels[test_rows]) > 0.8        # chance: 0.2

    plda = PLDA().fit(ivectors[train_rows], labels[train_rows], 5)
    test, test_labels = ivectors[test_rows], labels[test_rows]
    first, second = np.triu_indices(len(test), k=1)
    same = test_labels[first] == test_labels[second]
    assert roc_auc_score(same, plda.llr(test[first], test[second])) > 0.9
    projected = LDA().fit(ivectors[train_rows], labels[train_rows], 5).transform(test)   # Dehak's cosine
    assert roc_auc_score(same, cosine_pairs(projected[first], projected[second])) > 0.9


def test_the_model_round_trips_through_a_plain_npz_and_bad_input_is_refused(model_data, tmp_path):
    ubm, _, N, F = model_data
    extractor, _ = train(IvectorExtractor.init(ubm, 3, seed=0), N, F, 2)
    extractor.save(tmp_path / "final.npz")
    loaded = IvectorExtractor.load(tmp_path / "final.npz")
    np.testing.assert_array_equal(loaded.extract(N, F), extractor.extract(N, F))
    with np.load(tmp_path / "final.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["T", "format", "means", "offset", "prec_chol"]
    ubm.save(tmp_path / "ubm.npz")
    with pytest.raises(ValueError, match="not a dcase_tk.gmm.IvectorExtractor model"):
        IvectorExtractor.load(tmp_path / "ubm.npz")
    with pytest.raises(ValueError, match=r"statistics must be N \(B, 8\) and F \(B, 8, 5\)"):
        extractor.extract(N[:, :4], F[:, :4])
    with pytest.raises(ValueError, match="cannot update"):
        IvectorExtractor.init(ubm, 2).update(extractor.accumulate(N, F))
