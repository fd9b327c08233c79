"""Inference: clip-level class posteriors, and frame-level posteriors for event detection.

How a clip meets a model trained on ``input.frames``-frame inputs is the system's ``decode``
section:

- ``mode: fixed``: the first ``frames`` frames, repeat-padded (the Task 1 baseline's whole clip);
- ``mode: segments``: windows of ``frames`` frames every ``hop`` frames over the whole clip, the
  window posteriors combined by ``aggregate`` (``mean``, ``gmean`` geometric mean, ``max``), as
  Kong et al. (Task 2 patches) and Nguyen & Pernkopf (1 s chunks of Task 1 clips);
- ``mode: whole``: the whole clip in one pass (fully convolutional models with global pooling);
- ``mode: crops``: ``crops`` random windows of ``frames`` frames, combined by ``aggregate``, as
  Dorfer & Widmer score the unverified clips in self-verification (K = 25 excerpts, part4.md
  P4.4 section 5). The windows of a clip are drawn from ``seed`` and the utterance id, so a clip
  gets the same windows whichever set or job it is scored in.

A clip shorter than ``frames`` is repeat-padded in every mode but ``whole``: a 0.3 s clip gives
one window, a 30 s clip many, and each clip one row of posteriors.

Posteriors are softmax outputs for single-label systems and per-class sigmoids for multi-label
ones (the loss decides which); a model that outputs probabilities is renormalised for
single-label systems.
"""
import dataclasses
import os
import zlib

import numpy as np
import torch

from dcase_tk import config as cfg
from dcase_tk.config import dataclass_from_dict
from dcase_tk.decode.combine import AGGREGATES, EPS, aggregate
from dcase_tk.features import cmvn
from dcase_tk.nnet import build_model, output_kind
from dcase_tk.train.augment import fixed_crop, random_crop, segments
from dcase_tk.train.data import FeatureSet

MODES = ("fixed", "segments", "whole", "crops")
MULTI_LABEL_LOSSES = ("bce", "focal_bce")


@dataclasses.dataclass
class DecodeConfig:
    mode: str = "fixed"
    hop: int = 0                    # segments: frames between windows; 0: half a window
    aggregate: str = "mean"
    crops: int = 25                 # crops: windows per clip
    seed: int = 0                   # crops: seed of the windows (with the utterance id)
    batch_size: int = 64
    frame_posteriors: bool = False  # also write frame-level posteriors (models with frame_outputs)

    @classmethod
    def from_dict(cls, d):
        c = dataclass_from_dict(cls, d or {}, "decode")
        if c.mode not in MODES:
            raise ValueError(f"decode.mode must be one of {MODES}, got '{c.mode}'")
        if c.aggregate not in AGGREGATES:
            raise ValueError(f"decode.aggregate must be one of {AGGREGATES}, got '{c.aggregate}'")
        if c.crops < 1:
            raise ValueError(f"decode.crops must be a positive number of windows, got {c.crops}")
        return c


def is_multi_label(system):
    return cfg.get_dotted(system, "training.loss", "cross_entropy") in MULTI_LABEL_LOSSES


def activate(outputs, kind, multi_label):
    """Model outputs -> posteriors (see the module docstring)."""
    if kind == "logits":
        return torch.sigmoid(outputs) if multi_label else torch.softmax(outputs, dim=1)
    if multi_label:
        return outputs
    p = outputs.clamp_min(EPS)
    return p / p.sum(dim=1, keepdim=True)


class ClipScorer:
    """Clip posteriors of ``model`` for clips of a :class:`FeatureSet` (whole matrices)."""

    def __init__(self, model, frames, decode, multi_label, device):
        self.model, self.frames, self.decode = model, frames, decode
        self.multi_label, self.device = multi_label, device
        self.kind = output_kind(model)

    def _run(self, x):
        with torch.no_grad():
            return activate(self.model(x.to(self.device)), self.kind, self.multi_label).float().cpu()

    def _inputs(self, matrix, utt=""):
        """The model inputs of clip ``utt``: ``(windows, frames, dim)``."""
        if self.decode.mode == "crops":
            generator = torch.Generator().manual_seed(self.decode.seed * 2 ** 32 + zlib.crc32(utt.encode()))
            return torch.stack([torch.as_tensor(random_crop(matrix, self.frames, generator))
                                for _ in range(self.decode.crops)])
        if self.decode.mode == "fixed":
            return torch.as_tensor(fixed_crop(matrix, self.frames))[None]
        if self.decode.mode == "whole":
            return torch.as_tensor(matrix)[None]
        return torch.as_tensor(np.asarray(segments(matrix, self.frames, self.decode.hop or max(1, self.frames // 2))))

    def score(self, dataset, indices, progress=lambda x: x):
        """``(len(indices), C)`` float32 posteriors, in the order of ``indices``."""
        self.model.eval()
        out, pending = [], []            # pending: the window stacks of clips not yet scored

        def flush():
            if pending:
                posts = self._run(torch.cat(pending))
                out.extend(aggregate(part, self.decode.aggregate, self.multi_label)
                           for part in posts.split([len(p) for p in pending]))
                pending.clear()

        for index in progress(indices):
            x = self._inputs(dataset.matrix(index), dataset.utts[index])
            if pending and (self.decode.mode == "whole" or
                            sum(len(p) for p in pending) + len(x) > self.decode.batch_size):
                flush()
            pending.append(x)
        flush()
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return torch.stack(out).numpy().astype(np.float32)

    def embedding(self, matrix):
        """``(dim,)`` embedding of a clip (``model.embed``), averaged over its windows."""
        with torch.no_grad():
            return self.model.embed(self._inputs(matrix).to(self.device)).float().mean(0).cpu().numpy()

    def frame_posteriors(self, matrix):
        """``(frames, C)`` posteriors of the whole clip at the input frame rate."""
        with torch.no_grad():
            p = self.model.frame_outputs(torch.as_tensor(matrix)[None].to(self.device))[0].float().cpu()
        factor = -(-matrix.shape[0] // p.shape[0])
        return p.repeat_interleave(factor, dim=0)[:matrix.shape[0]].numpy()


def load_trained(exp_dir, device):
    """``(model in eval mode, resolved config)`` from ``exp_dir/{config.yaml,final.pt}``."""
    config = cfg.load_yaml(os.path.join(exp_dir, "config.yaml"))
    model = build_model(config["model"], config["input"]["dim"], len(config["classes"]),
                        config["input"]["frames"])
    state = torch.load(os.path.join(exp_dir, "final.pt"), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval(), config


def scorer_for(exp_dir, feat_dir, device, overrides=()):
    """``(ClipScorer, FeatureSet of feat_dir, config)`` for a trained exp dir; ``overrides``
    (``['--decode.mode', 'crops', ...]``) change how clips are decoded."""
    model, config = load_trained(exp_dir, device)
    config = cfg.apply_overrides(config, list(overrides))
    dataset = FeatureSet(feat_dir, cmvn.read(os.path.join(exp_dir, "cmvn.ark")))
    if len(dataset) and dataset.dim != config["input"]["dim"]:
        raise ValueError(f"{feat_dir}: features have {dataset.dim} dims, the model in {exp_dir} "
                         f"was trained on {config['input']['dim']}; were they made with the same "
                         "feature config?")
    scorer = ClipScorer(model, config["input"]["frames"], DecodeConfig.from_dict(config.get("decode")),
                        is_multi_label(config), device)
    return scorer, dataset, config
