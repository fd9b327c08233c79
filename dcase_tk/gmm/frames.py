"""Feature frames for GMM training from a dump dir's ``feats.scp``: blocks of whole utterances
(bounded memory, one UBM call per block) and a seeded random sample of frames (the in-memory
initialisation), each utterance mean-normalised as the front end says.

Cepstral mean normalisation is the i-vector front end of Kaldi's recipes (``apply-cmvn-sliding
--norm-vars=false --center=true --cmn-window=300``): it removes the recording level and channel,
which would otherwise be the largest variability the total-variability model captures. On the
Task 1 mini corpus, whose clips get random levels, it takes the i-vector systems from about 30 %
to over 80 %.
"""
import os

import kaldiio
import numpy as np

from dcase_tk.errors import UserError
from dcase_tk.io.table import read_table


def feats_table(feat_dir):
    scp = os.path.join(feat_dir, "feats.scp")
    if not os.path.isfile(scp):
        raise UserError(f"{scp} not found: run the feature stage (steps/make_feats.sh) first")
    return read_table(scp)


def sliding_cmn(m, window):
    """``m`` minus, at each frame, the mean of the ``window`` frames centred on it (shifted to
    stay inside the utterance; the whole utterance when it is shorter), as Kaldi's
    ``apply-cmvn-sliding --center=true``."""
    T = len(m)
    if T <= window:
        return m - m.mean(axis=0)
    sums = np.concatenate([np.zeros((1, m.shape[1])), np.cumsum(m, axis=0, dtype=np.float64)])
    start = np.clip(np.arange(T) - window // 2, 0, T - window)
    return (m - (sums[start + window] - sums[start]) / window).astype(m.dtype)


def normalise(m, frontend):
    """One utterance's ``(T, D)`` float32 features after the front end's mean normalisation."""
    if frontend.cmn == "sliding":
        return sliding_cmn(m, frontend.cmn_window)
    if frontend.cmn == "utterance":
        return m - m.mean(axis=0)
    return m


def utterance_blocks(feat_dir, max_frames, frontend):
    """Yield ``(utts, matrices)``: consecutive utterances of ``feats.scp`` (in its order) with at
    most ``max_frames`` frames in all (an utterance longer than that is a block of its own),
    normalised by ``frontend``."""
    utts, mats, frames = [], [], 0
    for utt, entry in feats_table(feat_dir).items():
        m = normalise(np.asarray(kaldiio.load_mat(entry), dtype=np.float32), frontend)
        if utts and frames + len(m) > max_frames:
            yield utts, mats
            utts, mats, frames = [], [], 0
        utts.append(utt)
        mats.append(m)
        frames += len(m)
    if utts:
        yield utts, mats


def sample_frames(feat_dir, n, seed, frontend):
    """``(min(n, total), D)`` float32: frames drawn without replacement from all the utterances
    of ``feat_dir`` (normalised by ``frontend``), reproducibly from ``seed``. Reads ``utt2num_frames`` to draw the frame
    indices first, so only the drawn frames are kept in memory."""
    table = feats_table(feat_dir)
    lengths_file = os.path.join(feat_dir, "utt2num_frames")
    if not os.path.isfile(lengths_file):
        raise UserError(f"{lengths_file} not found: the feature stage (steps/make_feats.sh) writes it")
    lengths = read_table(lengths_file)
    missing = [u for u in table if u not in lengths]
    if missing:
        raise UserError(f"{lengths_file}: no frame count for '{missing[0]}' ({len(missing)} utterances)")
    counts = np.array([int(lengths[u]) for u in table])
    total = int(counts.sum())
    if total == 0:
        raise UserError(f"{feat_dir}/feats.scp has no frames")
    keep = np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))
    bounds = np.searchsorted(keep, np.concatenate([[0], np.cumsum(counts)]))
    start, parts = 0, []
    for (utt, entry), count, lo, hi in zip(table.items(), counts, bounds[:-1], bounds[1:]):
        if hi > lo:
            m = np.asarray(kaldiio.load_mat(entry), dtype=np.float32)
            if len(m) != count:
                raise UserError(f"{feat_dir}: '{utt}' has {len(m)} frames, utt2num_frames says {count}")
            parts.append(normalise(m, frontend)[keep[lo:hi] - start])
        start += count
    return np.concatenate(parts)
