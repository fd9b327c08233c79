"""Event-based true positives of one class, vectorised, as sed_eval counts them; for the many
evaluations of a post-processing search (dcase_tk/decode/sed_tune.py), where building sed_eval's
event containers for every candidate would dominate.

sed_eval's ``EventBasedMetrics`` (class-wise, ``event_matching_type='optimal'``) pairs, within
each clip, a reference event ``r`` and an estimated event ``e`` of the class when

    |on_r - on_e| <= t_collar   and   |off_r - off_e| <= max(t_collar, percentage_of_length * (off_r - on_r))

and counts as true positives the size of a maximum matching of these pairs. Here the pairs are
found with numpy; where every event of a clip has at most one pair the matching is the pairs
themselves, and only clips with an event in two pairs go through sed_eval's own
``bipartite_match``. The counts equal sed_eval's (tests/test_scoring_sed.py checks them on
random event lists).
"""
import numpy as np


def _pairs(ref_clip, est_clip):
    """``(ref index, est index)`` of every reference/estimate pair in the same clip."""
    order = np.argsort(est_clip, kind="stable")
    sorted_clip = est_clip[order]
    lo = np.searchsorted(sorted_clip, ref_clip, side="left")
    hi = np.searchsorted(sorted_clip, ref_clip, side="right")
    counts = hi - lo
    ref = np.repeat(np.arange(len(ref_clip)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return ref, order[np.repeat(lo, counts) + within]


def true_positives(ref, est, t_collar=0.2, percentage_of_length=0.2):
    """Matched events of one class; ``ref`` and ``est`` are ``(clip, onset, offset)`` arrays."""
    ref_clip, ref_on, ref_off = (np.asarray(a) for a in ref)
    est_clip, est_on, est_off = (np.asarray(a) for a in est)
    if not len(ref_clip) or not len(est_clip):
        return 0
    r, e = _pairs(ref_clip, est_clip)
    tolerance = np.maximum(t_collar, percentage_of_length * (ref_off[r] - ref_on[r]))
    hit = (np.abs(ref_on[r] - est_on[e]) <= t_collar) & (np.abs(ref_off[r] - est_off[e]) <= tolerance)
    r, e = r[hit], e[hit]
    ref_degree = np.bincount(r, minlength=len(ref_clip))
    est_degree = np.bincount(e, minlength=len(est_clip))
    shared = np.union1d(ref_clip[ref_degree > 1], est_clip[est_degree > 1])
    if not len(shared):
        return len(r)
    simple = ~np.isin(ref_clip[r], shared)
    return int(simple.sum()) + sum(_max_matching(r[ref_clip[r] == c], e[ref_clip[r] == c])
                                   for c in shared)


def _max_matching(r, e):
    from dcase_tk.scoring.sed import sed_eval_module
    graph = {}
    for ref_i, est_i in zip(r.tolist(), e.tolist()):
        graph.setdefault(est_i, []).append(ref_i)
    return len(sed_eval_module().util.bipartite_match(graph))


def class_counts(ref, est, t_collar=0.2, percentage_of_length=0.2):
    """``(tp, fp, fn)`` of one class."""
    tp = true_positives(ref, est, t_collar, percentage_of_length)
    return tp, len(est[0]) - tp, len(ref[0]) - tp


def f1(tp, fp, fn):
    """``2 tp / (2 tp + fp + fn)``; 1.0 when there is nothing to find and nothing was found."""
    denominator = 2 * tp + fp + fn
    return 1.0 if denominator == 0 else 2 * tp / denominator
