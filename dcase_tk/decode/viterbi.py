"""Two-state (off/on) Viterbi binarisation of frame posteriors, one HMM per row (class of a clip).

The model (Lim et al., DCASE 2018 Task 4: Viterbi decoding of each class's frame
probabilities before the median filter):

- states 0 (off) and 1 (on), both equally likely at the first frame;
- emissions: the network's posterior as the scaled likelihood, ``log(1 - p_t)`` off and
  ``log p_t`` on (``p`` clipped to ``[EPS, 1 - EPS]``);
- transitions: ``1 - s`` to stay, ``s`` to switch, ``s = switch_prob`` of the row. A path pays
  ``log((1 - s) / s)`` for every onset and offset; ``s = 0.5`` makes every frame independent,
  which is thresholding at 0.5.

The most likely path is found without a loop over frames. The forward recursion
``delta_t(j) = max_i delta_{t-1}(i) + log A(i, j) + log e_t(j)`` is a product of 2 x 2 matrices
in the max-plus semiring, which is associative, so all ``delta_t`` come out of a prefix scan
(Hillis-Steele: log2(T) vectorised steps). Backtracking ``s_{t-1} = psi_t(s_t)`` composes maps of
{0, 1} onto itself, also associative, so the same kind of scan gives every state at once. Ties go
to staying in the same state (no switch), and to ``off`` at the last frame.
"""
import numpy as np

EPS = 1e-7
CHUNK = 512          # rows decoded together (memory: a few CHUNK x T arrays)


def _prefix_maxplus(m00, m01, m10, m11):
    """Inclusive prefix products along axis 1 of 2 x 2 max-plus matrices given by their entries
    (each (S, L)): ``out[:, t] = m[:, 0] x m[:, 1] x ... x m[:, t]``."""
    step, length = 1, m00.shape[1]
    while step < length:
        x00, x01, x10, x11 = (a[:, :-step] for a in (m00, m01, m10, m11))
        y00, y01, y10, y11 = (a[:, step:] for a in (m00, m01, m10, m11))
        products = (np.maximum(x00 + y00, x01 + y10), np.maximum(x00 + y01, x01 + y11),
                    np.maximum(x10 + y00, x11 + y10), np.maximum(x10 + y01, x11 + y11))
        m00, m01, m10, m11 = (np.concatenate([a[:, :step], b], axis=1)
                              for a, b in zip((m00, m01, m10, m11), products))
        step *= 2
    return m00, m01, m10, m11


def _suffix_compose(f0, f1):
    """``g[:, t] = f[:, t] o f[:, t + 1] o ... o f[:, -1]`` for maps ``f`` of {0, 1} onto itself
    given by their values ``f0 = f(0)``, ``f1 = f(1)`` (each (S, L)); returns ``(g(0), g(1))``."""
    r0, r1 = f0[:, ::-1], f1[:, ::-1]             # reversed: out[k] = r[k] o r[k-1] o ... o r[0]
    step, length = 1, r0.shape[1]
    while step < length:
        inner0, inner1, outer0, outer1 = r0[:, :-step], r1[:, :-step], r0[:, step:], r1[:, step:]
        r0 = np.concatenate([r0[:, :step], np.where(inner0 == 0, outer0, outer1)], axis=1)
        r1 = np.concatenate([r1[:, :step], np.where(inner1 == 0, outer0, outer1)], axis=1)
        step *= 2
    return r0[:, ::-1], r1[:, ::-1]


def _decode(p, switch):
    off = np.log(np.clip(1 - p, EPS, 1 - EPS))            # (S, T) emission scores
    on = np.log(np.clip(p, EPS, 1 - EPS))
    stay, move = np.log1p(-switch)[:, None], np.log(switch)[:, None]
    if p.shape[1] == 1:
        return on > off
    # step t (t = 1..T-1): m[i, j] = log A(i, j) + log e_t(j)
    m = _prefix_maxplus(stay + off[:, 1:], move + on[:, 1:], move + off[:, 1:], stay + on[:, 1:])
    d0, d1 = off[:, :1], on[:, :1]                        # delta_0
    delta0 = np.concatenate([d0, np.maximum(d0 + m[0], d1 + m[2])], axis=1)   # delta_t(off)
    delta1 = np.concatenate([d1, np.maximum(d0 + m[1], d1 + m[3])], axis=1)   # delta_t(on)
    prev0, prev1 = delta0[:, :-1], delta1[:, :-1]         # delta_{t-1}, t = 1..T-1
    into0 = np.where(prev0 + stay >= prev1 + move, 0, 1)  # psi_t(off): ties stay
    into1 = np.where(prev1 + stay >= prev0 + move, 1, 0)  # psi_t(on)
    last = delta1[:, -1] > delta0[:, -1]                  # ties: off
    from0, from1 = _suffix_compose(into0, into1)          # s_{T-1} -> s_{t-1}
    earlier = np.where(last[:, None], from1, from0)
    return np.concatenate([earlier, last[:, None]], axis=1).astype(bool)


def viterbi_binarize(posteriors, switch_prob):
    """The Viterbi path (bool, True = on) of each row of ``posteriors`` (S, T), ``switch_prob``
    a number or one per row, in (0, 1)."""
    p = np.asarray(posteriors, dtype=np.float64)
    switch = np.broadcast_to(np.asarray(switch_prob, dtype=np.float64), (p.shape[0],))
    if np.any((switch <= 0) | (switch >= 1)):
        raise ValueError(f"switch_prob must lie in (0, 1), got {np.unique(switch).tolist()}")
    out = np.zeros(p.shape, dtype=bool)
    if p.shape[1] == 0:
        return out
    for first in range(0, p.shape[0], CHUNK):
        rows = slice(first, first + CHUNK)
        out[rows] = _decode(p[rows], switch[rows])
    return out
