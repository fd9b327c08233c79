"""Clip datasets read from a dump dir on demand, so memory stays bounded by the batch, not the corpus.

A :class:`FeatureSet` holds only the ``feats.scp`` index, the targets and the normalisation;
each matrix is read from its ark when a batch needs it (the OS page cache keeps a corpus that
fits in memory fast after the first epoch). Batches are drawn through a ``torch`` DataLoader, so
``num_workers`` processes can read ahead; every random choice inside an item (the crop) is
seeded by the item's position in the epoch, not by the worker, so results do not depend on the
number of workers and a resumed run reads exactly the same data.
"""
import functools
import os

import kaldiio
import numpy as np
import torch

from dcase_tk.cli import ToolError
from dcase_tk.data.datadir import FRAME_TARGETS_SCP
from dcase_tk.features import cmvn
from dcase_tk.io.table import read_list, read_table
from dcase_tk.train.augment import fixed_crop, random_crop

LABEL_FILES = ("utt2label", "utt2labels")


def read_classes(feat_dir):
    path = os.path.join(feat_dir, "classes.txt")
    if not os.path.isfile(path):
        raise ToolError(f"{path} not found: the data dir needs classes.txt (written at data prep)")
    return read_list(path)


def label_file(feat_dir, name="auto"):
    """The label table to train on: ``utt2label`` (one class per clip) or ``utt2labels`` (any
    number); ``auto`` takes whichever exists, ``utt2label`` first."""
    if name != "auto":
        if name not in LABEL_FILES:
            raise ToolError(f"input.labels must be auto or one of {LABEL_FILES}, got '{name}'")
        return name
    for candidate in LABEL_FILES:
        if os.path.isfile(os.path.join(feat_dir, candidate)):
            return candidate
    raise ToolError(f"{feat_dir} has neither utt2label nor utt2labels: nothing to train on")


def read_targets(feat_dir, utts, classes, labels):
    """Dense ``(N, C)`` float32 targets (one-hot or multi-hot) from ``feat_dir/<labels>``."""
    path = os.path.join(feat_dir, labels)
    if not os.path.isfile(path):
        raise ToolError(f"{path} not found; training needs labels for every clip")
    table = read_table(path)
    index = {c: i for i, c in enumerate(classes)}
    targets = np.zeros((len(utts), len(classes)), dtype=np.float32)
    for row, utt in enumerate(utts):
        if utt not in table:
            raise ToolError(f"{path}: no line for utterance '{utt}' of feats.scp; run "
                            f"utils/fix_data_dir.sh {feat_dir}")
        for label in table[utt].split():
            if label not in index:
                raise ToolError(f"{path}: utterance '{utt}' has label '{label}', which is not in "
                                f"classes.txt ({', '.join(classes)})")
            targets[row, index[label]] = 1.0
    return targets


def read_clip_values(feat_dir, utts, table_name, values, default, option):
    """Per-clip numbers ``values[table[utt]]`` from a table of the dump dir, ``default`` for
    other values: label-smoothing strengths (``utt2verified`` with ``{"0": 0.2, "1": 0.0}``) or
    the clips the loss mask trusts (``{"1": 1.0}``). ``option`` names the setting in errors."""
    path = os.path.join(feat_dir, table_name)
    if not os.path.isfile(path):
        raise ToolError(f"training.{option}: {path} not found")
    table = read_table(path)
    return np.array([float(values.get(str(table.get(u, "")), default)) for u in utts], dtype=np.float32)


class FeatureSet(torch.utils.data.Dataset):
    """The clips of one dump dir. Item ``(index, seed)``: the normalised matrix of clip ``index``
    cut to ``frames`` frames (a random window when ``crop='random'``, drawn from ``seed``; the
    first frames, repeat-padded, when ``crop='fixed'``; the whole clip when ``frames`` is None).
    With frame targets (:meth:`with_frame_targets`) the item's ``frame_y`` is cut with the very
    same window."""

    def __init__(self, feat_dir, stats=None, frames=None, crop="fixed"):
        scp = os.path.join(feat_dir, "feats.scp")
        if not os.path.isfile(scp):
            raise ToolError(f"{scp} not found: run the feature stage (steps/make_feats.sh) first")
        if crop not in ("fixed", "random"):
            raise ToolError(f"input.crop must be fixed or random, got '{crop}'")
        entries = read_table(scp)
        self.feat_dir, self.frames, self.crop = feat_dir, frames, crop
        self.utts = list(entries)
        self.entries = [entries[u] for u in self.utts]
        self.mean, self.std = cmvn.mean_std(stats) if stats is not None else (None, None)
        self.targets = None          # (N, C) float32, set by with_targets
        self.smoothing = None        # (N,) float32 or None
        self.trusted = None          # (N,) float32 1/0 or None: clips the loss mask never drops
        self.frame_entries = None    # frame_targets.scp entries in utts order, set by with_frame_targets
        self.n_classes = None

    def with_targets(self, classes, labels="auto"):
        self.targets = read_targets(self.feat_dir, self.utts, classes, label_file(self.feat_dir, labels))
        return self

    def with_frame_targets(self, classes):
        """Read ``frame_targets.scp`` (frames x classes matrices of values in [0, 1], at the
        feature frame rate, one per clip of feats.scp) for ``training.objective frames``."""
        path = os.path.join(self.feat_dir, FRAME_TARGETS_SCP)
        table = read_table(path)
        missing = [u for u in self.utts if u not in table]
        if missing:
            raise ToolError(f"{path}: no frame targets for clip '{missing[0]}' of feats.scp "
                            f"({len(missing)} clip(s) missing); write one matrix per clip")
        self.frame_entries = [table[u] for u in self.utts]
        self.n_classes = len(classes)
        return self

    def __len__(self):
        return len(self.utts)

    @functools.cached_property
    def dim(self):
        """Features per frame (read from the first clip, once)."""
        return self.matrix(0).shape[1]

    def matrix(self, index):
        """The whole normalised ``(frames, dim)`` float32 matrix of clip ``index``."""
        m = np.array(kaldiio.load_mat(self.entries[index]), dtype=np.float32)
        if self.mean is not None:
            if m.shape[1] != len(self.mean):
                raise ToolError(f"{self.feat_dir}: clip '{self.utts[index]}' has {m.shape[1]} dims, "
                                f"the normalisation statistics {len(self.mean)}")
            m = (m - self.mean) / self.std
        return m

    def frame_targets(self, index, frames):
        """The ``(frames, classes)`` float32 frame targets of clip ``index``, checked against its
        ``frames`` feature frames."""
        t = np.array(kaldiio.load_mat(self.frame_entries[index]), dtype=np.float32)
        where = f"{os.path.join(self.feat_dir, FRAME_TARGETS_SCP)}: clip '{self.utts[index]}'"
        if t.ndim != 2 or t.shape != (frames, self.n_classes):
            raise ToolError(f"{where} has a {'x'.join(map(str, t.shape))} matrix; expected {frames} "
                            f"frames (as its features) x {self.n_classes} classes")
        if t.size and (t.min() < 0 or t.max() > 1):
            raise ToolError(f"{where} has values outside [0, 1]")
        return t

    def __getitem__(self, item):
        index, seed = item
        m = self.matrix(index)
        dim = m.shape[1]
        if self.frame_entries is not None:          # crop features and targets as one matrix
            m = np.concatenate([m, self.frame_targets(index, m.shape[0])], axis=1)
        if self.frames is not None:
            if self.crop == "random":
                m = random_crop(m, self.frames, torch.Generator().manual_seed(seed))
            else:
                m = fixed_crop(m, self.frames)
        m, frame_targets = m[:, :dim], m[:, dim:]
        out = {"x": torch.as_tensor(np.ascontiguousarray(m)), "index": index}
        if self.frame_entries is not None:
            out["frame_y"] = torch.as_tensor(np.ascontiguousarray(frame_targets))
        if self.targets is not None:
            out["y"] = torch.from_numpy(self.targets[index])
        if self.smoothing is not None:
            out["smoothing"] = torch.tensor(self.smoothing[index])
        if self.trusted is not None:
            out["trusted"] = torch.tensor(self.trusted[index])
        return out


def collate(items):
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]}


def loader(dataset, batches, num_workers=0):
    """A DataLoader over ``batches``: lists of ``(index, seed)`` items."""
    return torch.utils.data.DataLoader(dataset, batch_sampler=batches, collate_fn=collate,
                                       num_workers=num_workers)
