#!/usr/bin/env python3
"""Speed of the GMM/i-vector stage.

1. Seconds per EM iteration of the diagonal UBM (256 Gaussians, 200k frames of 40 dims by
   default): the toolkit (``DiagGMM.accumulate`` + ``update``) against scikit-learn's
   GaussianMixture(covariance_type="diag") from the same start, in the same run. scikit-learn's
   ``fit`` adds a final E-step to its iterations, so its time per iteration is
   ``(t(1 + n iterations) - t(1 iteration)) / n``.
2. i-vector extraction rate (utterances/s, from features: Gaussian selection, posteriors,
   statistics and the posterior mean) against the reference, the same model extracted one
   utterance at a time in numpy with the textbook formula in the original (unwhitened)
   coordinates.

Prints one JSON line per measurement (the GPU too, when there is one).

  python bench/gmm.py [--frames 200000] [--dim 40] [--gauss 256] [--iters 3]
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dcase_tk.cli import keep_freed_memory  # noqa: E402
from dcase_tk.gmm.diag import DiagGMM  # noqa: E402
from dcase_tk.gmm.extractor import IvectorExtractor  # noqa: E402
from dcase_tk.gmm.full import FullGMM  # noqa: E402
from dcase_tk.gmm.stats import utterance_stats  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def frames_and_start(n, dim, gauss):
    """Frames of a random GMM with an MFCC-like offset, and a start drawn from them."""
    rng = np.random.default_rng(0)
    means = 3 * rng.standard_normal((gauss, dim)) + 20
    x = means[rng.integers(gauss, size=n)] + rng.standard_normal((n, dim)) * rng.uniform(0.5, 2, dim)
    start = (np.full(gauss, 1 / gauss), x[rng.choice(n, gauss, replace=False)], np.tile(x.var(0), (gauss, 1)))
    return x.astype(np.float32), start


def toolkit_em_seconds(x, start, iters, device):
    gmm = DiagGMM(*start, device=device)
    frames = torch.from_numpy(x).to(device)
    gmm = gmm.update(gmm.accumulate(frames))          # warm-up
    sync(device)
    began = time.perf_counter()
    for _ in range(iters):
        gmm = gmm.update(gmm.accumulate(frames))
    sync(device)
    return (time.perf_counter() - began) / iters


def sklearn_em_seconds(x, start, iters):
    weights, means, variances = start
    x = x.astype(np.float64)

    def fit_seconds(n):
        model = GaussianMixture(len(weights), covariance_type="diag", weights_init=weights, means_init=means,
                                precisions_init=1 / variances, max_iter=n, tol=0, reg_covar=1e-6)
        began = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x)
        return time.perf_counter() - began

    return (fit_seconds(1 + iters) - fit_seconds(1)) / iters


def ivector_setup(gauss, dim, rank, utts, frames):
    """A random full UBM and extractor, and ``utts`` random utterances of ``frames`` frames."""
    rng = np.random.default_rng(1)
    A = 0.3 * rng.standard_normal((gauss, dim, dim))
    ubm = FullGMM(np.full(gauss, 1 / gauss), 3 * rng.standard_normal((gauss, dim)),
                  A @ A.transpose(0, 2, 1) + np.eye(dim))
    extractor = IvectorExtractor.init(ubm, rank, seed=0)
    feats = [(3 * rng.standard_normal((frames, dim))).astype(np.float32) for _ in range(utts)]
    return ubm, extractor, feats


def toolkit_ivectors_per_second(ubm, extractor, feats, batch):
    began = time.perf_counter()
    for start in range(0, len(feats), batch):
        N, F = utterance_stats(ubm, feats[start:start + batch])
        extractor.extract(N, F)
    return len(feats) / (time.perf_counter() - began)


def reference_ivectors_per_second(ubm, extractor, feats, top_n=20, min_post=0.025):
    """One utterance at a time in numpy: dense posteriors of the full UBM restricted to the
    top_n by the diagonal approximation, pruned, and the textbook i-vector formula with
    ``Sigma^-1`` in the original coordinates."""
    weights, means, cov = (t.numpy() for t in (ubm.weights, ubm.means, ubm.covariances))
    prec = np.linalg.inv(cov)
    log_det = np.linalg.slogdet(cov)[1]
    L = extractor.prec_chol.numpy()
    T = np.linalg.solve(L.transpose(0, 2, 1), extractor.T.numpy())          # unwhitened (C, D, R)
    TtSinv = np.einsum("cdr,cde->cre", T, prec)
    TtSinvT = np.einsum("cre,ces->crs", TtSinv, T)
    diag_var = np.diagonal(cov, axis1=1, axis2=2)
    began = time.perf_counter()
    for x in feats:
        x = x.astype(np.float64)
        diag_ll = -0.5 * (((x[:, None, :] - means) ** 2 / diag_var).sum(-1) + np.log(diag_var).sum(-1))
        top = np.argsort(-diag_ll, axis=1)[:, :top_n]
        d = x[:, None, :] - means[top]
        ll = np.log(weights[top]) - 0.5 * (np.einsum("tkd,tkde,tke->tk", d, prec[top], d) + log_det[top])
        post = np.exp(ll - ll.max(1, keepdims=True))
        post /= post.sum(1, keepdims=True)
        post = np.where(post >= min_post, post, 0)
        post /= post.sum(1, keepdims=True)
        N = np.zeros(len(means))
        F = np.zeros_like(means)
        np.add.at(N, top, post)
        np.add.at(F, top, post[..., None] * x[:, None, :])
        centred = F - N[:, None] * means
        P = np.eye(T.shape[2]) + np.einsum("c,crs->rs", N, TtSinvT)
        np.linalg.solve(P, np.einsum("cre,ce->r", TtSinv, centred))
    return len(feats) / (time.perf_counter() - began)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=200000)
    p.add_argument("--dim", type=int, default=40)
    p.add_argument("--gauss", type=int, default=256)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--ivector_gauss", type=int, default=256)
    p.add_argument("--ivector_dim", type=int, default=100)
    p.add_argument("--ivector_feat_dim", type=int, default=40)
    p.add_argument("--utts", type=int, default=32)
    p.add_argument("--utt_frames", type=int, default=1000)
    args = p.parse_args()
    keep_freed_memory()
    x, start = frames_and_start(args.frames, args.dim, args.gauss)
    reference = sklearn_em_seconds(x, start, args.iters)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        ours = toolkit_em_seconds(x, start, args.iters, device)
        print(json.dumps({"bench": "diag_ubm_em_iteration", "device": device.type, "frames": args.frames,
                          "dim": args.dim, "gaussians": args.gauss, "threads": torch.get_num_threads(),
                          "toolkit_s": round(ours, 4), "sklearn_s": round(reference, 4),
                          "speedup": round(reference / ours, 2)}), flush=True)
    ubm, extractor, feats = ivector_setup(args.ivector_gauss, args.ivector_feat_dim, args.ivector_dim,
                                          args.utts, args.utt_frames)
    reference = reference_ivectors_per_second(ubm, extractor, feats)
    for device in devices:
        ubm_d, extractor_d = ubm, extractor
        if device.type == "cuda":
            ubm_d = FullGMM(ubm.weights, ubm.means, ubm.covariances, device=device)
            extractor_d = IvectorExtractor(extractor.means, extractor.prec_chol, extractor.T, extractor.offset,
                                           device=device)
        toolkit_ivectors_per_second(ubm_d, extractor_d, feats[:2], 2)        # warm-up
        ours = toolkit_ivectors_per_second(ubm_d, extractor_d, feats, 16)
        print(json.dumps({"bench": "ivector_extraction", "device": device.type, "gaussians": args.ivector_gauss,
                          "feat_dim": args.ivector_feat_dim, "ivector_dim": args.ivector_dim,
                          "utterance_frames": args.utt_frames, "threads": torch.get_num_threads(),
                          "toolkit_utts_per_s": round(ours, 2), "reference_utts_per_s": round(reference, 2),
                          "speedup": round(ours / reference, 2)}), flush=True)


if __name__ == "__main__":
    main()
