"""In-memory clip datasets: features read through kaldiio, normalised, cut to a fixed length."""
import os

import kaldiio
import numpy as np
import torch

from dcase_tk.cli import ToolError
from dcase_tk.features import cmvn
from dcase_tk.io.table import read_list, read_table


def fix_length(matrix, frames):
    """First ``frames`` frames; shorter clips are padded by repeating themselves."""
    if matrix.shape[0] >= frames:
        return matrix[:frames]
    reps = -(-frames // matrix.shape[0])
    return np.concatenate([matrix] * reps)[:frames]


def load_clips(feat_dir, stats, frames, classes=None):
    """``(features (N, frames, D), labels (N,) or None, utts)`` for every utt of ``feat_dir``.

    Features are normalised with the global ``stats`` (Kaldi cmvn matrix). Labels come from
    ``utt2label`` mapped through ``classes`` when ``classes`` is given.
    """
    feats_scp = os.path.join(feat_dir, "feats.scp")
    if not os.path.isfile(feats_scp):
        raise ToolError(f"{feats_scp} not found: run the feature stage (steps/make_feats.sh) first")
    mean, std = cmvn.mean_std(stats)
    reader = kaldiio.load_scp(feats_scp)
    utts = list(reader.keys())
    x = np.stack([(fix_length(np.asarray(reader[u]), frames) - mean) / std for u in utts])
    labels = None
    if classes is not None:
        utt2label = read_table(os.path.join(feat_dir, "utt2label"))
        index = {c: i for i, c in enumerate(classes)}
        try:
            labels = torch.tensor([index[utt2label[u]] for u in utts])
        except KeyError as e:
            raise ToolError(f"{feat_dir}: utterance or label {e} missing from utt2label or "
                            "classes.txt; run utils/validate_data_dir.sh on it") from None
    return torch.from_numpy(x.astype(np.float32)), labels, utts


def read_classes(feat_dir):
    path = os.path.join(feat_dir, "classes.txt")
    if not os.path.isfile(path):
        raise ToolError(f"{path} not found: the data dir needs classes.txt (written at data prep)")
    return read_list(path)
