"""Per-utterance Baum-Welch statistics for the i-vector extractor.

As Kaldi's ``fgmm-global-gselect-to-post --min-post=0.025``: each frame's posteriors over the
full UBM's ``top_n`` Gaussian-selected components, the ones below ``min_post`` pruned and the rest
renormalised to sum to 1. From them, the zeroth order statistics ``N_c = sum_t gamma_tc`` and the
raw first order statistics ``F_c = sum_t gamma_tc x_t``.

Several utterances are processed as one block of frames (one call of the UBM), then the
statistics are summed per (utterance, component) with ``index_add_``.
"""
import torch


def sparse_posteriors(ubm, x, top_n=20, min_post=0.025):
    """``(index (T, K), posteriors (T, K))``: Gaussian-selected posteriors of frames ``x``,
    pruned below ``min_post`` and renormalised (a frame keeps at least its best component)."""
    index, post, _ = ubm.sparse_posteriors(x, top_n)
    if min_post > 0:
        best = post.max(dim=1, keepdim=True).values
        post = torch.where((post >= min_post) | (post == best), post, torch.zeros_like(post))
        post = post / post.sum(dim=1, keepdim=True)
    return index, post


def utterance_stats(ubm, feats, top_n=20, min_post=0.025):
    """``(N (U, C), F (U, C, D))`` float64 tensors for a list of ``(T_u, D)`` feature matrices."""
    C, D = ubm.n_components, ubm.dim
    x = torch.cat([torch.as_tensor(f, dtype=torch.float64) for f in feats]).to(ubm.device)
    lengths = torch.tensor([len(f) for f in feats], device=ubm.device)
    utt = torch.repeat_interleave(torch.arange(len(feats), device=ubm.device), lengths)
    index, post = sparse_posteriors(ubm, x, top_n, min_post)
    rows = utt[:, None] * C + index                              # (utterance, component) of each pair
    N = torch.zeros(len(feats) * C, dtype=torch.float64, device=ubm.device)
    F = torch.zeros(len(feats) * C, D, dtype=torch.float64, device=ubm.device)
    N.index_add_(0, rows.reshape(-1), post.reshape(-1))
    for k in range(index.shape[1]):         # one selected rank at a time: (T, D) memory, not (T * K, D)
        F.index_add_(0, rows[:, k], x * post[:, k, None])
    return N.view(len(feats), C), F.view(len(feats), C, D)
