"""Diagonal-covariance GMM trained by EM, as Kaldi's diagonal UBM.

Likelihoods. ``log w_c N(x; mu_c, diag(v_c))`` for all components at once is one matrix product:
with ``y = x - centre``, it is ``bias_c + y . (mu'_c / v_c) - 0.5 y^2 . (1 / v_c)`` where
``mu' = mu - centre``. The product runs in float32 (twice as fast as float64 on CPU, and the
default dtype of GPUs); centring on the mean of the component means keeps the ``y^2`` terms at
the scale of the variances, so float32 loses nothing that matters (MFCC c0 is in the hundreds,
its square would not be). The statistics (occupancies, first and second moments) are summed in
float64.

Initialisation (``train``), two ways:
- ``split`` (Kaldi's ``gmm-global-init-from-feats``): means at random frames, every variance the
  global variance, ``initial_fraction`` of the target size; during the first half of the iterations
  the size grows linearly to the target by splitting the heaviest components (``split``: means
  moved by +-``perturb`` standard deviations in a random direction, weight halved).
- ``kmeans++``: means seeded by k-means++ (D^2 sampling), a few Lloyd iterations, variances and
  weights from the clusters; the full size from the start.

EM: ``accumulate`` (E-step statistics of a batch, additive across batches and parallel jobs, see
``dcase_tk.gmm.accumulators``) and ``update`` (M-step). Variances are floored at ``var_floor``
times the global variance of the data (from the same statistics); a component with almost no
occupancy keeps its previous mean and variance.
"""
import numpy as np
import torch

from dcase_tk.gmm import accumulators
from dcase_tk.gmm.npz import NpzModel

FORMAT = "dcase_tk.gmm.DiagGMM/1"
LOG_2PI = float(np.log(2 * np.pi))
MIN_OCCUPANCY = 1e-3      # components below it keep their parameters in the M-step
MIN_WEIGHT = 1e-10


class Mixture(NpzModel):
    """What diagonal and full-covariance GMMs share: ``weights (C,)`` and ``means (C, D)``."""

    @property
    def n_components(self):
        return self.means.shape[0]

    @property
    def dim(self):
        return self.means.shape[1]

    @property
    def device(self):
        return self.means.device

    def new_weights(self, acc):
        """The M-step's weights, and ``(occupancy (C,), rarely (C,) bool)``: the components with
        too little occupancy to re-estimate (they keep their means and covariances)."""
        occ = np.asarray(acc["occupancy"], dtype=np.float64)
        frames = float(acc["frames"])
        if frames <= 0:
            raise ValueError("GMM update from statistics of no frames")
        if occ.shape != (self.n_components,):
            raise ValueError(f"statistics of {occ.shape[0]} components cannot update a GMM of {self.n_components}")
        weights = np.maximum(occ / frames, MIN_WEIGHT)
        return weights / weights.sum(), occ, occ < MIN_OCCUPANCY


class DiagGMM(Mixture):
    """``weights (C,)``, ``means (C, D)``, ``variances (C, D)``: float64 tensors on ``device``."""

    FORMAT = FORMAT
    ARRAYS = ("weights", "means", "variances")

    def __init__(self, weights, means, variances, device="cpu"):
        self.store((weights, means, variances), device)
        C, D = self.means.shape
        if self.weights.shape != (C,) or self.variances.shape != (C, D):
            raise ValueError(f"DiagGMM: weights {tuple(self.weights.shape)}, means {(C, D)}, "
                             f"variances {tuple(self.variances.shape)} do not agree")
        if not bool((self.variances > 0).all()):
            raise ValueError("DiagGMM: variances must be positive")
        self._linear = None

    # ---- likelihoods -------------------------------------------------------------------------
    def _linear_form(self):
        """``(centre, W (2D, C) float32, bias (C,) float32)``: see the module doc."""
        if self._linear is None:
            centre = self.means.mean(dim=0)
            shifted = self.means - centre
            precision = 1.0 / self.variances
            bias = (torch.log(self.weights) - 0.5 * (torch.log(self.variances).sum(1) + self.dim * LOG_2PI)
                    - 0.5 * (shifted ** 2 * precision).sum(1))
            W = torch.cat([shifted * precision, -0.5 * precision], dim=1).T
            self._linear = (centre, W.float().contiguous(), bias.float())
        return self._linear

    def component_log_likelihoods(self, x):
        """``(T, C)`` float32 ``log w_c + log N(x_t; mu_c, v_c)`` of frames ``x (T, D)``."""
        return self._expanded(x)[1]

    def _expanded(self, x):
        """``([y, y^2] (T, 2D), log-likelihoods (T, C))`` in float32, ``y`` the centred frames."""
        centre, W, bias = self._linear_form()
        y = (self._frames(x) - centre).float()
        expanded = torch.cat([y, y * y], dim=1)
        return expanded, torch.addmm(bias, expanded, W)

    def log_likelihood(self, x):
        """``(T,)`` float64 per-frame log-likelihood."""
        return torch.logsumexp(self.component_log_likelihoods(x), dim=1).double()

    def posteriors(self, x):
        """``(T, C)`` float32 component posteriors."""
        return torch.softmax(self.component_log_likelihoods(x), dim=1)

    def _frames(self, x):
        x = torch.as_tensor(x, device=self.device)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"frames must be (T, {self.dim}); got {tuple(x.shape)}")
        return x

    # ---- EM ----------------------------------------------------------------------------------
    def accumulate(self, x, acc=None):
        """``acc`` plus the E-step statistics of frames ``x (T, D)`` (``acc`` None: just those):
        ``frames``, ``loglik`` (sums), ``occupancy (C,)``, ``first (C, D)``, ``second (C, D)``."""
        centre = self._linear_form()[0]
        expanded, ll = self._expanded(x)
        frame_ll = torch.logsumexp(ll, dim=1, keepdim=True)
        post = torch.exp(ll - frame_ll)
        occ = post.sum(0).double()
        moments = (post.T @ expanded).double()
        first_y, second_y = moments[:, :self.dim], moments[:, self.dim:]
        batch = {
            "frames": torch.tensor(float(len(ll)), dtype=torch.float64),
            "loglik": frame_ll.double().sum(),
            "occupancy": occ,
            # raw moments: sum p x = sum p y + occ c, sum p x^2 = sum p y^2 + 2 c sum p y + occ c^2
            "first": first_y + occ[:, None] * centre,
            "second": second_y + 2 * centre * first_y + occ[:, None] * centre ** 2,
        }
        return accumulators.add(acc, {k: v.cpu().numpy() for k, v in batch.items()})

    def update(self, acc, var_floor=1e-3):
        """The M-step: a new DiagGMM from summed statistics ``acc``."""
        weights, occ, keep = self.new_weights(acc)
        floor = var_floor * global_variance(acc)
        safe = np.where(keep, 1.0, occ)[:, None]
        means = acc["first"] / safe
        variances = np.maximum(acc["second"] / safe - means ** 2, floor)
        old_means, old_vars = self.means.cpu().numpy(), self.variances.cpu().numpy()
        means[keep], variances[keep] = old_means[keep], old_vars[keep]
        return DiagGMM(weights, means, variances, device=self.device)

    def split(self, target, generator, perturb=0.01):
        """Grow to ``target`` components by splitting the heaviest one, repeatedly."""
        if target < self.n_components:
            raise ValueError(f"cannot split {self.n_components} components down to {target}")
        weights, means, variances = (t.cpu().numpy().copy() for t in (self.weights, self.means, self.variances))
        while len(weights) < target:
            c = int(np.argmax(weights))
            step = perturb * torch.randn(self.dim, generator=generator, dtype=torch.float64).numpy()
            step *= np.sqrt(variances[c])
            weights = np.append(weights, weights[c] / 2)
            weights[c] /= 2
            means = np.vstack([means, means[c] + step])
            means[c] -= step
            variances = np.vstack([variances, variances[c]])
        return DiagGMM(weights, means, variances, device=self.device)


def global_variance(acc):
    """Per-dimension variance of all the frames behind ``acc`` (sums over components)."""
    frames = float(acc["frames"])
    mean = np.sum(acc["first"], axis=0) / frames
    second = np.sum(acc["second"], axis=0) / frames
    if np.ndim(second) == 2:           # full-covariance statistics: the diagonal
        second = np.diag(second)
    return np.maximum(second - mean ** 2, 1e-12)


def kmeans_pp(x, n, generator, lloyd_iters=5):
    """``(weights, means, variances)`` of ``n`` clusters of ``x (T, D)`` float64: k-means++
    seeding, then ``lloyd_iters`` Lloyd iterations."""
    T = len(x)
    means = [x[torch.randint(T, (1,), generator=generator)].squeeze(0)]
    dist = ((x - means[0]) ** 2).sum(1)
    for _ in range(1, n):
        pick = torch.multinomial(dist / dist.sum(), 1, generator=generator)
        means.append(x[pick].squeeze(0))
        dist = torch.minimum(dist, ((x - means[-1]) ** 2).sum(1))
    means = torch.stack(means)
    for _ in range(lloyd_iters + 1):
        assign = torch.cdist(x, means).argmin(1)
        counts = torch.bincount(assign, minlength=n).double()
        sums = torch.zeros_like(means).index_add_(0, assign, x)
        filled = counts > 0
        means[filled] = sums[filled] / counts[filled, None]
    global_var = x.var(0)
    sq = torch.zeros_like(means).index_add_(0, assign, x * x)
    safe = counts.clamp(min=1)[:, None]
    variances = torch.maximum(sq / safe - means ** 2, 1e-3 * global_var)
    variances[~filled] = global_var
    weights = (counts + 1e-3) / (counts + 1e-3).sum()
    return weights, means, variances


def init_from_frames(x, n, generator):
    """Kaldi's start: means at ``n`` distinct random frames, every variance the global one."""
    pick = torch.randperm(len(x), generator=generator)[:n]
    return torch.full((n,), 1.0 / n, dtype=torch.float64), x[pick].clone(), x.var(0).expand(n, -1).clone()


def train(x, n_components, iters=20, init="split", initial_fraction=0.5, var_floor=1e-3, seed=0,
          device="cpu", batch_frames=100000, log=None):
    """Train a DiagGMM on in-memory frames ``x (T, D)`` (e.g. a random subset of the training
    frames, as Kaldi's init stage). ``log(iteration, n_components, loglik_per_frame)`` is called
    after each E-step. Returns the model after ``iters`` EM iterations."""
    if init not in ("split", "kmeans++"):
        raise ValueError(f"GMM init '{init}': use split (Kaldi's growth) or kmeans++")
    if not 0 < initial_fraction <= 1:
        raise ValueError(f"initial_fraction {initial_fraction}: must be in (0, 1]")
    generator = torch.Generator().manual_seed(seed)
    x64 = torch.as_tensor(x, dtype=torch.float64)
    if len(x64) < n_components:
        raise ValueError(f"{len(x64)} frames cannot train {n_components} Gaussians: use more data or fewer Gaussians")
    if init == "kmeans++":
        start = n_components
        params = kmeans_pp(x64, n_components, generator)
    else:
        start = max(1, int(n_components * initial_fraction))
        params = init_from_frames(x64, start, generator)
    gmm = DiagGMM(*params, device=device)
    x = x64.to(device)
    grow_iters = max(1, iters // 2)
    for it in range(iters):
        acc = None
        for begin in range(0, len(x), batch_frames):
            acc = gmm.accumulate(x[begin:begin + batch_frames], acc)
        if log is not None:
            log(it, gmm.n_components, float(acc["loglik"]) / float(acc["frames"]))
        gmm = gmm.update(acc, var_floor)
        if gmm.n_components < n_components and it < grow_iters:
            target = start + (n_components - start) * (it + 1) // grow_iters
            gmm = gmm.split(target, generator)
    return gmm
