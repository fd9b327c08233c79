"""Full-covariance GMM, initialised from a diagonal one and trained on Gaussian-selected frames,
as Kaldi's ``gmm-global-to-fgmm`` + ``fgmm-global-acc-stats --gselect`` + ``fgmm-global-est``.

Gaussian selection: a frame's likelihood is evaluated exactly only for the ``top_n`` components
that the model's diagonal approximation (``to_diag``) ranks highest (Kaldi's ``gmm-gselect``,
20 by default); the other components get no posterior. That makes a frame cost
``top_n * D^2`` instead of ``C * D^2``. The exact likelihoods of the selected pairs are computed
component by component (``by_component``): the frames that selected component c, centred on its
mean, times the Cholesky factor of its precision. Everything here is float64.

Covariances are floored like Kaldi's: eigenvalues below ``var_floor`` times the mean global
variance are raised to it.
"""
import numpy as np
import torch

from dcase_tk.gmm import accumulators
from dcase_tk.gmm.diag import FORMAT as DIAG_FORMAT, DiagGMM, Mixture, global_variance

FORMAT = "dcase_tk.gmm.FullGMM/1"
LOG_2PI = float(np.log(2 * np.pi))


def by_component(index, n_components):
    """For a ``(T, K)`` tensor of selected components, yield ``(c, pairs)``: the flat positions
    (``t * K + k``) of the pairs that selected component ``c``, for each selected component."""
    flat = index.reshape(-1)
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=n_components).tolist()
    start = 0
    for c, count in enumerate(counts):
        if count:
            yield c, order[start:start + count]
            start += count


class FullGMM(Mixture):
    """``weights (C,)``, ``means (C, D)``, ``covariances (C, D, D)``: float64 tensors."""

    FORMAT = FORMAT
    ARRAYS = ("weights", "means", "covariances")

    def __init__(self, weights, means, covariances, device="cpu"):
        self.store((weights, means, covariances), device)
        C, D = self.means.shape
        if self.weights.shape != (C,) or self.covariances.shape != (C, D, D):
            raise ValueError(f"FullGMM: weights {tuple(self.weights.shape)}, means {(C, D)}, "
                             f"covariances {tuple(self.covariances.shape)} do not agree")
        try:
            chol = torch.linalg.cholesky(self.covariances)
        except torch.linalg.LinAlgError:
            raise ValueError("FullGMM: covariances must be symmetric positive definite") from None
        # L with L L^T = Sigma^{-1}: (x - mu)^T Sigma^{-1} (x - mu) = ||(x - mu) L||^2
        identity = torch.eye(D, dtype=torch.float64, device=device).expand(C, D, D)
        self.precision_chol = torch.linalg.solve_triangular(chol, identity, upper=False).transpose(1, 2)
        log_det = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
        self.constants = torch.log(self.weights) - 0.5 * (log_det + D * LOG_2PI)
        self.diag = DiagGMM(self.weights, self.means, torch.diagonal(self.covariances, dim1=1, dim2=2),
                            device=device)

    @classmethod
    def from_diag(cls, diag):
        return cls(diag.weights, diag.means, torch.diag_embed(diag.variances), device=diag.device)

    def select(self, x, top_n):
        """``(T, K)`` indices of the ``K = min(top_n, C)`` best components of each frame by the
        diagonal approximation (Kaldi's gselect)."""
        k = min(top_n, self.n_components)
        return torch.topk(self.diag.component_log_likelihoods(x), k, dim=1).indices

    def selected_log_likelihoods(self, x, index):
        """``(T, K)`` float64 ``log w_c + log N(x_t; mu_c, Sigma_c)`` for the selected ``index``."""
        x = torch.as_tensor(x, dtype=torch.float64, device=self.device)
        K = index.shape[1]
        out = torch.empty(index.numel(), dtype=torch.float64, device=self.device)
        for c, pairs in by_component(index, self.n_components):
            y = (x[pairs // K] - self.means[c]) @ self.precision_chol[c]
            out[pairs] = self.constants[c] - 0.5 * (y * y).sum(1)
        return out.view(index.shape)

    def sparse_posteriors(self, x, top_n=20):
        """``(index (T, K), posteriors (T, K) float64, frame log-likelihoods (T,))`` over the
        selected components."""
        index = self.select(x, top_n)
        ll = self.selected_log_likelihoods(x, index)
        frame_ll = torch.logsumexp(ll, dim=1)
        return index, torch.exp(ll - frame_ll[:, None]), frame_ll

    def accumulate(self, x, acc=None, top_n=20):
        """``acc`` plus the E-step statistics of frames ``x (T, D)``: ``frames``, ``loglik``,
        ``occupancy (C,)``, ``first (C, D)``, ``second (C, D, D)`` (sums of ``p x x^T``)."""
        x = torch.as_tensor(x, dtype=torch.float64, device=self.device)
        index, post, frame_ll = self.sparse_posteriors(x, top_n)
        C, D, K = self.n_components, self.dim, index.shape[1]
        occ = torch.zeros(C, dtype=torch.float64, device=self.device)
        first = torch.zeros(C, D, dtype=torch.float64, device=self.device)
        second = torch.zeros(C, D, D, dtype=torch.float64, device=self.device)
        flat_post = post.reshape(-1)
        for c, pairs in by_component(index, C):
            p, frames = flat_post[pairs], x[pairs // K]
            occ[c] = p.sum()
            first[c] = p @ frames
            second[c] = (frames * p[:, None]).T @ frames
        return accumulators.add(acc, {"frames": len(x), "loglik": float(frame_ll.sum()),
                                      "occupancy": occ.cpu().numpy(), "first": first.cpu().numpy(),
                                      "second": second.cpu().numpy()})

    def update(self, acc, var_floor=1e-3):
        """The M-step: a new FullGMM from summed statistics ``acc``."""
        weights, occ, keep = self.new_weights(acc)
        floor = var_floor * global_variance(acc).mean()
        safe = np.where(keep, 1.0, occ)
        means = acc["first"] / safe[:, None]
        covariances = acc["second"] / safe[:, None, None] - means[:, :, None] * means[:, None, :]
        values, vectors = np.linalg.eigh(0.5 * (covariances + covariances.transpose(0, 2, 1)))
        covariances = (vectors * np.maximum(values, floor)[:, None, :]) @ vectors.transpose(0, 2, 1)
        means[keep] = self.means.cpu().numpy()[keep]
        covariances[keep] = self.covariances.cpu().numpy()[keep]
        return FullGMM(weights, means, covariances, device=self.device)


def load_gmm(path, device="cpu"):
    """A DiagGMM or FullGMM, whichever ``path`` holds."""
    try:
        return FullGMM.load(path, device)
    except ValueError:
        pass
    try:
        return DiagGMM.load(path, device)
    except ValueError:
        raise ValueError(f"{path}: neither a {DIAG_FORMAT.split('/')[0]} nor a {FORMAT.split('/')[0]} "
                         "model file (written by steps/train_ubm.sh)") from None


def load_ubm(path, device="cpu"):
    """The full-covariance UBM in ``path`` (a diagonal one is converted): what the i-vector
    statistics are computed with."""
    gmm = load_gmm(path, device)
    return gmm if isinstance(gmm, FullGMM) else FullGMM.from_diag(gmm)
