"""Unsupervised adversarial domain adaptation of a trained classifier (ADDA with the label
classifier kept; Gharib et al., DCASE 2018 workshop, "AUDASC"; part3.md P6).

The trained source model splits into an encoder and a label classifier (the ``encode``/``classify``
contract of :mod:`dcase_tk.nnet`): M_S is its encoder, frozen; M_T starts as a copy of it (no
tying) and is the only part trained; the label classifier C is kept, frozen; a domain
discriminator D (one linear layer, the paper's choice for the DCASE model, or a small MLP) tells
M_S's source features from M_T's target features. Each iteration draws a mixed batch,
``source_batch`` labelled source clips and ``target_batch`` unlabelled target clips balanced
over the target devices (the paper's 10 + 3 B + 3 C), and

- every ``d_every`` iterations (the paper: 10) D takes one Adam step on
  ``L_D = BCE(D(M_S(x_s)), source) + BCE(D(M_T(x_t)), target)``, M_T's features detached;
- every iteration M_T takes one Adam step on
  ``L_T = BCE(D(M_T(x_t)), source) + cls_loss_w * CE(C(M_T(x_s)), y_s)``: fool D, and keep
  classifying the source (without the second term the adaptation "cannot work"; the authors'
  code weighs it by 10). ``map_loss_w`` weighs the first term (1; 0 is an ablation).

As in the authors' code, M_T runs in training mode on the whole mixed batch (its BatchNorm
layers see both domains), M_S and C in evaluation mode, and one epoch is one pass over the
source clips (the target clips are cycled). D is updated with the M_T features of the same
iteration, then M_T against the updated D. Target labels are never read for training.

Model selection: every epoch scores a held-out labelled target validation set (clips of the
target devices from locations outside the source training split) and the source validation set,
as inference would; ``select_on: target`` (the default, and what the authors do) keeps the epoch
with the best target ``select_metric``, so the target labels of that set choose the epoch and
nothing else; ``source`` keeps the best source-validation epoch (blind to the target domain: it
favours the least-adapted epoch); ``last`` keeps the last epoch, using no target label at all.
The unadapted model is scored once before the first epoch, for reference (never a candidate).

What the gain is made of: M_T trains in training mode on mixed batches, so its BatchNorm layers
normalise (and keep running statistics of) A and B/C clips together while the classification
term keeps C working on its output. On the Task 1B mini corpus, whose devices differ from A by a
per-band offset of the log-mel features, that alone gives the gain: ``map_loss_w: 0`` raises the
B/C accuracy as much as the full method (+20.2 vs +19.5 points, mean over 5 source models x 2
seeds: the adversarial term's effect is within the noise). Check the ablation on real data before
crediting the adversarial term.

A killed run resumes from its last epoch checkpoint (M_T, D, both optimizers, the RNG states,
the history, the best epoch) and ends with the same weights as an unbroken run: batches are
drawn from generators seeded by ``(seed, epoch)``. One process (CPU or one GPU).
"""
import copy
import dataclasses
import json
import logging
import math
import os
import shutil
import time

import numpy as np
import torch
from torch import nn

from dcase_tk.config import dataclass_from_dict
from dcase_tk.decode.infer import ClipScorer
from dcase_tk.io.atomic import write_text
from dcase_tk.nnet import output_kind
from dcase_tk.plots import plot_curves
from dcase_tk.train import checkpoint, sampling
from dcase_tk.train.data import loader
from dcase_tk.train.losses import make_loss
from dcase_tk.train.metrics import METRICS, validation_metrics

log = logging.getLogger(__name__)

SELECT_ON = ("target", "source", "last")
# options that may change between a run and its resumption
RESUMABLE_CHANGES = ("epochs", "patience", "keep_checkpoints", "num_workers")


@dataclasses.dataclass
class AdaptConfig:
    target_devices: list = dataclasses.field(default_factory=lambda: ["b", "c"])
    device_table: str = "utt2device"    # per-clip device of the target dump dir
    discriminator: dict = dataclasses.field(default_factory=dict)   # Discriminator options
    cls_loss_w: float = 10.0             # weight of the source classification term of L_T
    map_loss_w: float = 1.0              # weight of its adversarial (mapping) term; 0: an ablation
                                         # without D's signal (M_T still sees the mixed batches)
    d_every: int = 10                    # D is updated every d_every iterations
    source_batch: int = 10
    target_batch: int = 6                # split evenly over target_devices
    epochs: int = 300
    steps_per_epoch: int = 0             # 0: one pass over the source clips
    lr: float = 1e-4                     # Adam, M_T
    d_lr: float = 1e-4                   # Adam, D
    select_on: str = "target"            # target | source | last (see the module docstring)
    select_metric: str = "accuracy"      # on the validation set select_on names
    select_after_epoch: int = 1          # earlier epochs are not candidates
    patience: int = 0                    # epochs without improvement before stopping; 0: never
    seed: int = 0
    keep_checkpoints: int = 2
    num_workers: int = 0

    @classmethod
    def from_dict(cls, d):
        c = dataclass_from_dict(cls, d or {}, "adapt")
        if c.select_on not in SELECT_ON:
            raise ValueError(f"adapt.select_on must be one of {SELECT_ON}, got '{c.select_on}'")
        if c.select_metric not in METRICS:
            raise ValueError(f"adapt.select_metric must be one of {sorted(METRICS)}, got '{c.select_metric}'")
        if isinstance(c.target_devices, str):
            c.target_devices = c.target_devices.split()
        if not c.target_devices or len(set(map(str, c.target_devices))) != len(c.target_devices):
            raise ValueError(f"adapt.target_devices must be a list of distinct devices, got {c.target_devices}")
        c.target_devices = [str(d) for d in c.target_devices]
        for name in ("d_every", "source_batch", "target_batch", "epochs"):
            if not isinstance(getattr(c, name), int) or getattr(c, name) < 1:
                raise ValueError(f"adapt.{name} must be a positive integer, got {getattr(c, name)!r}")
        for name in ("cls_loss_w", "map_loss_w"):
            if getattr(c, name) < 0:
                raise ValueError(f"adapt.{name} must be >= 0, got {getattr(c, name)}")
        Discriminator.check_options(c.discriminator)
        return c


class Discriminator(nn.Module):
    """Source-vs-target classifier on the flattened encoder output: one linear layer
    (``hidden: []``, Gharib et al.'s D for the DCASE model) or an MLP with ReLU and dropout
    after each hidden layer. One logit: > 0 means "source"."""

    OPTIONS = ("hidden", "dropout")

    def __init__(self, n_in, hidden=(), dropout=0.0):
        super().__init__()
        layers, width = [nn.Flatten()], n_in
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    @classmethod
    def check_options(cls, options):
        unknown = sorted(set(options or {}) - set(cls.OPTIONS))
        if unknown:
            raise ValueError(f"adapt.discriminator: unknown option(s) {unknown}; known: {list(cls.OPTIONS)}")
        hidden = (options or {}).get("hidden", [])
        if not isinstance(hidden, (list, tuple)) or not all(isinstance(u, int) and u > 0 for u in hidden):
            raise ValueError(f"adapt.discriminator.hidden must be a list of layer widths ([] is one "
                             f"linear layer), got {hidden!r}")

    def forward(self, h):
        return self.net(h).squeeze(1)


def split_model(model, example):
    """``(classifier modules, encoder parameters, encoder output shape)`` of a model with the
    ``encode``/``classify`` split: the classifier is the submodules ``classify`` calls, the
    encoder every other parameter. Raises ``ValueError`` if the model has no split or the two
    parts share a module."""
    if not (callable(getattr(model, "encode", None)) and callable(getattr(model, "classify", None))):
        raise ValueError(f"model {type(model).__name__} has no encode(x)/classify(h) split (the "
                         "dcase_tk.nnet contract); adversarial adaptation needs one")
    called = {"encode": [], "classify": []}
    part = ["encode"]
    hooks = [m.register_forward_pre_hook(lambda m, _: called[part[0]].append(m))
             for m in model.modules() if m is not model]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            h = model.encode(example)
            part[0] = "classify"
            model.classify(h)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    encoder_ids = {id(p) for m in called["encode"] for p in m.parameters()}
    classifier = list({id(m): m for m in called["classify"]}.values())
    classifier_ids = {id(p) for m in classifier for p in m.parameters()}
    shared = encoder_ids & classifier_ids
    if shared:
        raise ValueError(f"{type(model).__name__}: encode and classify share {len(shared)} "
                         "parameter tensor(s); adversarial adaptation needs them apart")
    encoder = [p for p in model.parameters() if id(p) not in classifier_ids]
    return classifier, encoder, tuple(h.shape[1:])


def device_batches(devices, n_steps, per_batch, epoch, seed):
    """The target part of each of the epoch's ``n_steps`` batches: ``per_batch`` items
    ``(index, item_seed)`` taken from the devices in turn (so each batch has as many clips of
    each device as it can; 3 + 3 for 6 and two devices), each device's clips in chained random
    permutations. ``devices`` lists each device's clip indices."""
    g = sampling.epoch_generator(seed, epoch, stream=7)
    need = [0] * len(devices)
    for k in range(n_steps * per_batch):
        need[k % len(devices)] += 1
    streams = []
    for indices, n in zip(devices, need):
        order = []
        while len(order) < n:
            order += [indices[i] for i in torch.randperm(len(indices), generator=g).tolist()]
        streams.append(iter(order))
    base = ((seed * 1_000_003 + epoch) * 100_003 + 50_021) * 7
    batches = []
    for step in range(n_steps):
        batch = []
        for j in range(per_batch):
            k = step * per_batch + j
            batch.append((next(streams[k % len(devices)]), base + k))
        batches.append(batch)
    return batches


class AdversarialAdapter:
    """Adapts ``model`` (a trained source model with the encode/classify split), writing
    checkpoints, history and ``final.pt`` under ``outdir``; ``frames``/``decode`` say how
    validation clips are scored (as at inference), ``example`` is one model input ``(1, frames,
    dim)`` (to find the split and the encoder's output size), ``loss`` the source system's
    training loss (name, options) for the classification term."""

    def __init__(self, model, cfg, outdir, resume_key, frames, decode, example, loss=("cross_entropy", {}),
                 device=None, progress=None):
        self.cfg, self.outdir, self.resume_key = cfg, outdir, resume_key
        self.device = torch.device(device or "cpu")
        self.kind = output_kind(model)
        self.loss_fn = make_loss(loss[0], **(loss[1] or {}))
        self.multi_label = loss[0] in ("bce", "focal_bce")
        self.target = model.to(self.device)                       # M_T + C
        self.source = copy.deepcopy(model).eval()                 # M_S, frozen
        self.source.requires_grad_(False)
        self.classifier, encoder, h_shape = split_model(self.target, example.to(self.device))
        for m in self.classifier:
            m.requires_grad_(False)
        torch.manual_seed(cfg.seed)                                # D's initial weights
        self.discriminator = Discriminator(math.prod(h_shape), **cfg.discriminator).to(self.device)
        self.opt_t = torch.optim.Adam(encoder, lr=cfg.lr)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.d_lr)
        self.bce = nn.BCEWithLogitsLoss()
        self.scorer = ClipScorer(self.target, frames, decode, self.multi_label, self.device)
        self.ckpt_dir = os.path.join(outdir, "checkpoints")
        self.progress = progress or (lambda items, desc, total: items)
        self.history, self.best, self.unadapted = [], {"epoch": 0, "value": None, "state": None}, None
        self.start_epoch = 1
        log.info("encoder %d parameters (adapted), classifier %d (kept), discriminator %d on %s features",
                 sum(p.numel() for p in encoder), sum(p.numel() for m in self.classifier for p in m.parameters()),
                 sum(p.numel() for p in self.discriminator.parameters()), "x".join(map(str, h_shape)))

    # ------------------------------------------------------------------ resuming

    def resume(self):
        """Continue from the newest checkpoint made with the same inputs; else start afresh."""
        saved = checkpoint.epochs_saved(self.ckpt_dir)
        if not saved:
            return
        state = checkpoint.load(checkpoint.path_for(self.ckpt_dir, saved[-1]))
        if state.get("resume_key") != self.resume_key:
            log.warning("checkpoints in %s were made with other inputs or config; starting over", self.ckpt_dir)
            shutil.rmtree(self.ckpt_dir)
            return
        self.target.load_state_dict(state["model"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_t.load_state_dict(state["opt_t"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.history, self.best, self.unadapted = state["history"], state["best"], state["unadapted"]
        checkpoint.set_rng_state(state["rng"])
        self.start_epoch = state["epoch"] + 1
        log.info("resuming from %s (epoch %d)", self.ckpt_dir, state["epoch"])

    # ------------------------------------------------------------------ the loop

    def fit(self, source_train, source_valid, target_train, target_valid):
        """``target_train`` needs ``devices`` (one list of clip indices per target device);
        ``target_valid`` may be None unless ``select_on`` is ``target``."""
        cfg = self.cfg
        if target_valid is None and cfg.select_on == "target":
            raise ValueError("adapt.select_on is 'target' but no target validation set was given")
        if self.start_epoch == 1:
            torch.manual_seed(cfg.seed)
            self.unadapted = self._validate(source_valid, target_valid)
            log.info("unadapted model: %s", _fmt_row(self.unadapted))
        stale = len(self.history) - self.best["epoch"] if self.best["epoch"] else 0
        for epoch in range(self.start_epoch, cfg.epochs + 1):
            if cfg.patience and cfg.select_on != "last" and stale >= cfg.patience:
                log.info("no improvement in %d epochs: stopping early", stale)
                break
            t0 = time.time()
            train = self._train_epoch(source_train, target_train, epoch)
            valid = self._validate(source_valid, target_valid)
            row = {"epoch": epoch, **train, **valid, "seconds": time.time() - t0}
            self.history.append(row)
            stale = 0 if self._update_best(epoch, valid) else stale + 1
            log.info("epoch %d/%d  %s  (best %s @ %d)  %.1f s", epoch, cfg.epochs, _fmt_row(row),
                     _fmt(self.best["value"]), self.best["epoch"], row["seconds"])
            self._checkpoint(epoch)
        self._finish()

    def _modes(self):
        """M_T (and D) in training mode, the kept classifier in evaluation mode."""
        self.target.train()
        for m in self.classifier:
            m.eval()
        self.discriminator.train()

    def _train_epoch(self, source_train, target_train, epoch):
        cfg = self.cfg
        order = sampling.epoch_order(len(source_train), epoch, cfg.seed, "shuffle", cfg.steps_per_epoch,
                                     cfg.source_batch)
        source_batches = sampling.global_batches(order, cfg.source_batch, epoch, cfg.seed)
        target_batches = device_batches(target_train.devices, len(source_batches), cfg.target_batch,
                                        epoch, cfg.seed)
        steps_per_epoch = len(source_batches)
        self._modes()
        totals = np.zeros(7)   # L_T, mapping, classification, correct, source clips, L_D sum, D updates
        d_correct = d_seen = 0
        pairs = zip(loader(source_train, source_batches, cfg.num_workers),
                    loader(target_train, target_batches, cfg.num_workers))
        for step, (src, tgt) in enumerate(self.progress(pairs, f"epoch {epoch}", steps_per_epoch)):
            global_step = (epoch - 1) * steps_per_epoch + step
            out = self._step(src, tgt, (global_step + 1) % cfg.d_every == 0)
            totals[:5] += out["t_loss"], out["map_loss"], out["cls_loss"], out["correct"], out["n"]
            if "d_loss" in out:
                totals[5] += out["d_loss"]
                totals[6] += 1
                d_correct += out["d_correct"]
                d_seen += out["d_n"]
        steps = max(steps_per_epoch, 1)
        return {"train_loss": totals[0] / steps, "train_map_loss": totals[1] / steps,
                "train_cls_loss": totals[2] / steps, "train_accuracy": totals[3] / max(totals[4], 1),
                "train_d_loss": totals[5] / totals[6] if totals[6] else float("nan"),
                "train_d_accuracy": d_correct / d_seen if d_seen else float("nan")}

    def _step(self, src, tgt, update_d):
        xs, ys = src["x"].to(self.device), src["y"].to(self.device)
        xt = tgt["x"].to(self.device)
        ns, nt = len(xs), len(xt)
        h = self.target.encode(torch.cat([xs, xt]))                # M_T on the mixed batch
        h_src, h_tgt = h[:ns], h[ns:]
        ones, zeros = torch.ones(ns + nt, device=self.device), torch.zeros(nt, device=self.device)
        out = {}
        if update_d:
            with torch.no_grad():
                hs = self.source.encode(xs)                        # M_S: frozen, eval mode
            logits = self.discriminator(torch.cat([hs, h_tgt.detach()]))
            d_loss = self.bce(logits, torch.cat([ones[:ns], zeros]))
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            out.update(d_loss=d_loss.item(), d_n=ns + nt,
                       d_correct=((logits > 0).float() == torch.cat([ones[:ns], zeros])).sum().item())
        map_loss = self.bce(self.discriminator(h_tgt), ones[:nt])  # target features called "source"
        outputs = self.target.classify(h_src)
        cls_loss = self.loss_fn(outputs.float(), ys, kind=self.kind)
        loss = self.cfg.map_loss_w * map_loss + self.cfg.cls_loss_w * cls_loss
        self.opt_t.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_t.step()
        correct = (outputs.argmax(1) == ys.argmax(1)).sum().item() if not self.multi_label else 0
        out.update(t_loss=loss.item(), map_loss=map_loss.item(), cls_loss=cls_loss.item(),
                   correct=correct, n=ns)
        return out

    def _metrics(self, dataset):
        posts = self.scorer.score(dataset, list(range(len(dataset))))
        loss = self.loss_fn(torch.from_numpy(posts), torch.from_numpy(dataset.targets), kind="probs").item()
        return {"loss": loss, **validation_metrics(posts, dataset.targets, self.multi_label)}

    def _validate(self, source_valid, target_valid):
        """``valid_*``: the target validation set; ``source_valid_*``: the source one."""
        row = {f"source_valid_{k}": v for k, v in self._metrics(source_valid).items()}
        if target_valid is not None:
            row = {**{f"valid_{k}": v for k, v in self._metrics(target_valid).items()}, **row}
        return row

    def _update_best(self, epoch, valid):
        cfg = self.cfg
        last_epoch = epoch == cfg.epochs
        if cfg.select_on == "last":
            value = valid.get(f"valid_{cfg.select_metric}", valid[f"source_valid_{cfg.select_metric}"])
        else:
            if epoch < cfg.select_after_epoch and not (last_epoch and self.best["state"] is None):
                return False
            prefix = "valid_" if cfg.select_on == "target" else "source_valid_"
            value, best = valid[prefix + cfg.select_metric], self.best["value"]
            if best is not None and not (value > best if METRICS[cfg.select_metric] else value < best):
                return False
        self.best = {"epoch": epoch, "value": value,
                     "state": {k: v.detach().cpu().clone() for k, v in self.target.state_dict().items()}}
        return True

    # ------------------------------------------------------------------ files

    def _checkpoint(self, epoch):
        checkpoint.save(checkpoint.path_for(self.ckpt_dir, epoch), {
            "epoch": epoch, "model": self.target.state_dict(), "discriminator": self.discriminator.state_dict(),
            "opt_t": self.opt_t.state_dict(), "opt_d": self.opt_d.state_dict(), "rng": checkpoint.rng_state(),
            "history": self.history, "best": self.best, "unadapted": self.unadapted,
            "resume_key": self.resume_key})
        checkpoint.prune(self.ckpt_dir, self.cfg.keep_checkpoints)
        checkpoint.write_history(self.outdir, self.history)

    def _finish(self):
        if self.best["state"] is None:
            raise RuntimeError("no epoch was trained; is adapt.epochs >= 1?")
        checkpoint.save(os.path.join(self.outdir, "final.pt"), self.best["state"])
        checkpoint.write_history(self.outdir, self.history)
        row = next(r for r in self.history if r["epoch"] == self.best["epoch"])
        summary = {"epoch": self.best["epoch"], "select_on": self.cfg.select_on,
                   "select_metric": self.cfg.select_metric,
                   "valid": {k[len("valid_"):]: v for k, v in row.items() if k.startswith("valid_")},
                   "source_valid": {k[len("source_valid_"):]: v for k, v in row.items()
                                    if k.startswith("source_valid_")},
                   "unadapted": self.unadapted}
        write_text(os.path.join(self.outdir, "final.json"), json.dumps(summary, indent=1, default=float) + "\n")
        plot_curves(self.history, os.path.join(self.outdir, "curves.png"), self.best["epoch"],
                    "map" if self.multi_label else "accuracy")
        log.info("final.pt = epoch %d (select on %s %s: %s)", self.best["epoch"], self.cfg.select_on,
                 self.cfg.select_metric, _fmt(self.best["value"]))


def _fmt(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


KEY_METRICS = ("loss", "map_loss", "cls_loss", "d_loss", "d_accuracy", "accuracy", "class_avg_accuracy")


def _fmt_row(row):
    """The log line's figures: the losses, D's accuracy and the accuracies of each set."""
    shown = []
    for key, value in row.items():
        for prefix in ("train_", "valid_", "source_valid_"):
            if key.startswith(prefix) and key[len(prefix):] in KEY_METRICS:
                shown.append(f"{key} {_fmt(value)}")
                break
    return "  ".join(shown)
