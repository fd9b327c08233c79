"""The i-vector extractor: the total-variability model, its EM training and i-vector extraction
(Kaldi's ``ivector-extractor-{init,acc-stats,est}`` and ``ivector-extract``).

Model. A frame of component c of an utterance with factor ``w ~ N(0, I_R)`` is
``x ~ N(m_c + o_c + T_c w, Sigma_c)``: ``m_c``, ``Sigma_c`` the UBM's means and covariances (kept
fixed), ``o_c`` an offset of the mean supervector (moved by the minimum-divergence step, zero at
the start) and ``T_c`` (D x R) the block of the total-variability matrix. The i-vector is the
posterior mean ``E[w]``.

Whitened coordinates. With ``L_c`` the Cholesky factor of the precision (``L_c L_c^T =
Sigma_c^{-1}``, ``FullGMM.precision_chol``), every quantity is stored and computed after
multiplying by ``L_c^T``: ``Th_c = L_c^T T_c``, ``oh_c = L_c^T o_c``, and from an utterance's
statistics ``N_c = sum_t gamma_tc``, ``F_c = sum_t gamma_tc x_t``:

    Fh0_c = L_c^T (F_c - N_c m_c),        Fh_c = Fh0_c - N_c oh_c.

In these coordinates the noise is white, so no ``Sigma^{-1}`` appears below.

E-step, per utterance (batched over utterances):

    P = I + sum_c N_c Th_c^T Th_c           (precision of w given the utterance)
    b = sum_c Th_c^T Fh_c
    E[w] = P^{-1} b,   E[w w^T] = P^{-1} + E[w] E[w]^T

``Th_c^T Th_c`` is precomputed for all c as one (C, R*R) matrix, so ``P`` for a batch is one
matrix product; ``b`` is another.

Objective (the log-likelihood of the statistics, up to a term that does not depend on the model;
Kaldi's "auxf"): integrating w out of the Gaussian frame likelihoods gives, per utterance,

    sum_c [oh_c . Fh0_c - 0.5 N_c |oh_c|^2] + 0.5 b^T P^{-1} b - 0.5 log|P|.

M-step: ``Th_c = C_c A_c^{-1}`` with ``C_c = sum_u Fh_uc E[w_u]^T`` and ``A_c = sum_u N_uc
E[w_u w_u^T]``. Minimum divergence (Kenny; Brummer): the same statistics' mean ``h`` and
covariance ``H = G G^T`` of the posteriors of w are the maximum-likelihood prior; re-expressing
``w = h + G w'`` with ``w' ~ N(0, I)`` moves ``oh_c += Th_c h`` and ``Th_c <- Th_c G``. Both
steps maximise the EM auxiliary function, so the objective never decreases.

Accumulators are sums over utterances (``dcase_tk.gmm.accumulators``), so parallel jobs'
statistics add up: ``utts``, ``frames``, ``objective``, ``A`` (C, R, R), ``C`` (C, D, R),
``w_sum`` (R,), ``ww_sum`` (R, R).
"""
import torch

from dcase_tk.gmm import accumulators
from dcase_tk.gmm.npz import NpzModel

FORMAT = "dcase_tk.gmm.IvectorExtractor/1"
INIT_SCALE = 0.1       # of the random T in whitened units, against the unit noise of a frame
MIN_OCCUPANCY = 1e-3   # components with less (over all utterances) keep their T block


class IvectorExtractor(NpzModel):
    """``means (C, D)``, ``prec_chol (C, D, D)`` (the UBM's), ``T (C, D, R)`` and ``offset (C, D)``
    (whitened): float64 tensors on ``device``."""

    FORMAT = FORMAT
    ARRAYS = ("means", "prec_chol", "T", "offset")

    def __init__(self, means, prec_chol, T, offset, device="cpu"):
        self.store((means, prec_chol, T, offset), device)
        C, D, R = self.T.shape
        if self.means.shape != (C, D) or self.prec_chol.shape != (C, D, D) or self.offset.shape != (C, D):
            raise ValueError(f"IvectorExtractor: means {tuple(self.means.shape)}, prec_chol "
                             f"{tuple(self.prec_chol.shape)}, T {(C, D, R)}, offset "
                             f"{tuple(self.offset.shape)} do not agree")
        self.TtT = torch.einsum("cdr,cds->crs", self.T, self.T).reshape(C, R * R)

    @classmethod
    def init(cls, ubm, dim, seed=0):
        """A random extractor of rank ``dim`` for a FullGMM ``ubm``."""
        if dim < 1:
            raise ValueError(f"i-vector dimension {dim}: must be at least 1")
        generator = torch.Generator().manual_seed(seed)
        C, D = ubm.means.shape
        T = INIT_SCALE * torch.randn(C, D, dim, generator=generator, dtype=torch.float64)
        return cls(ubm.means, ubm.precision_chol, T, torch.zeros(C, D, dtype=torch.float64), device=ubm.device)

    @property
    def n_components(self):
        return self.T.shape[0]

    @property
    def dim(self):
        """Feature dimension D."""
        return self.T.shape[1]

    @property
    def ivector_dim(self):
        return self.T.shape[2]

    @property
    def device(self):
        return self.T.device

    # ---- E-step ------------------------------------------------------------------------------
    def _whitened(self, N, F):
        """``(N (B, C), Fh0 (B, C, D), Fh (B, C, D))`` from raw statistics."""
        N = torch.as_tensor(N, dtype=torch.float64, device=self.device)
        F = torch.as_tensor(F, dtype=torch.float64, device=self.device)
        C, D = self.n_components, self.dim
        if N.ndim != 2 or N.shape[1] != C or F.shape != (N.shape[0], C, D):
            raise ValueError(f"statistics must be N (B, {C}) and F (B, {C}, {D}); got "
                             f"{tuple(N.shape)} and {tuple(F.shape)}")
        Fh0 = torch.einsum("bcd,cde->bce", F - N[..., None] * self.means, self.prec_chol)
        return N, Fh0, Fh0 - N[..., None] * self.offset

    def _posterior(self, N, Fh):
        """``(E[w] (B, R), Cholesky factor of P (B, R, R), b (B, R))``."""
        B, R = N.shape[0], self.ivector_dim
        P = (N @ self.TtT).view(B, R, R) + torch.eye(R, dtype=torch.float64, device=self.device)
        b = Fh.reshape(B, -1) @ self.T.reshape(-1, R)
        chol = torch.linalg.cholesky(P)
        return torch.cholesky_solve(b[..., None], chol)[..., 0], chol, b

    def extract(self, N, F):
        """``(B, R)`` float64 i-vectors (posterior means) of utterances with statistics N, F."""
        N, _, Fh = self._whitened(N, F)
        return self._posterior(N, Fh)[0].cpu().numpy()

    def accumulate(self, N, F, acc=None):
        """``acc`` plus the E-step statistics of a batch of utterances (see the module doc)."""
        N, Fh0, Fh = self._whitened(N, F)
        w, chol, b = self._posterior(N, Fh)
        ww = torch.cholesky_inverse(chol) + w[:, :, None] * w[:, None, :]
        C, D, R = self.T.shape
        log_det = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum()
        objective = ((self.offset * Fh0).sum() - 0.5 * (N * (self.offset ** 2).sum(1)).sum()
                     + 0.5 * (b * w).sum() - 0.5 * log_det)
        batch = {"utts": float(len(N)), "frames": float(N.sum()), "objective": float(objective),
                 "A": (N.T @ ww.reshape(-1, R * R)).view(C, R, R), "C": (Fh.reshape(len(N), -1).T @ w).view(C, D, R),
                 "w_sum": w.sum(0), "ww_sum": ww.sum(0)}
        return accumulators.add(acc, {k: v.cpu().numpy() if torch.is_tensor(v) else v for k, v in batch.items()})

    # ---- M-step ------------------------------------------------------------------------------
    def update(self, acc):
        """A new extractor from summed statistics: the M-step, then minimum divergence."""
        utts = float(acc["utts"])
        if utts < 1:
            raise ValueError("i-vector extractor update from statistics of no utterances")
        as64 = dict(dtype=torch.float64, device=self.device)
        A, Cacc = torch.as_tensor(acc["A"], **as64), torch.as_tensor(acc["C"], **as64)
        if A.shape != (self.n_components, self.ivector_dim, self.ivector_dim) or Cacc.shape != self.T.shape:
            raise ValueError(f"statistics of a {A.shape[0]} x {Cacc.shape[1]} x {A.shape[1]} extractor cannot "
                             f"update a {tuple(self.T.shape)} one")
        used = torch.diagonal(A, dim1=1, dim2=2).sum(1) > MIN_OCCUPANCY
        T = self.T.clone()
        T[used] = torch.linalg.solve(A[used], Cacc[used].transpose(1, 2)).transpose(1, 2)
        h = torch.as_tensor(acc["w_sum"], **as64) / utts
        H = torch.as_tensor(acc["ww_sum"], **as64) / utts - torch.outer(h, h)
        G = torch.linalg.cholesky(0.5 * (H + H.T))
        return IvectorExtractor(self.means, self.prec_chol, T @ G, self.offset + T @ h, device=self.device)
