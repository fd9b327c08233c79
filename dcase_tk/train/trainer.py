"""Epoch loop shared by every neural system: train, validate, keep the best epoch, checkpoint.

One code path serves a single CPU process, a GPU, and ``torchrun`` data-parallel runs: every
process draws the same global batches (:mod:`dcase_tk.train.sampling`), trains on its share, and
scales its loss by its share of the global batch, so the averaged gradient is the gradient of the
global batch's mean loss. Validation is sharded and gathered, so every process takes the same
early-stopping decision; only process 0 writes files.

A killed run, re-started with the same inputs, resumes from its last checkpoint and ends with the
same weights as an unbroken run: batches, crops and augmentation are drawn from generators
seeded by ``(seed, epoch, step)`` and the global RNG states (dropout) are restored.

``training.objective`` chooses what the loss sees (:mod:`dcase_tk.train.objectives`: clip
outputs, frame outputs, or the multi-instance loss); ``training.vat`` adds virtual adversarial
training on the labelled clips and, given an unlabelled set, as many unlabelled clips per step
(:mod:`dcase_tk.train.vat`). Validation is clip-level in every case.
"""
import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import time

import numpy as np
import torch

from dcase_tk.config import dataclass_from_dict
from dcase_tk.decode.infer import MULTI_LABEL_LOSSES, ClipScorer
from dcase_tk.io.atomic import write_text
from dcase_tk.nnet import output_kind
from dcase_tk.plots import plot_curves
from dcase_tk.train import checkpoint, distributed, objectives, sampling
from dcase_tk.train.augment import AugmentConfig, apply_batch
from dcase_tk.train.data import loader
from dcase_tk.train.losses import loss_mask, make_loss
from dcase_tk.train.metrics import METRICS, validation_metrics
from dcase_tk.train.schedule import make_scheduler
from dcase_tk.train.vat import VatConfig, unlabelled_shares

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainConfig:
    optimizer: str = "adam"              # adam | sgd
    lr: float = 0.001
    weight_decay: float = 0.0
    momentum: float = 0.9                # sgd
    nesterov: bool = False               # sgd
    batch_size: int = 16                 # global: split over the processes of a DDP run
    epochs: int = 200
    steps_per_epoch: int = 0             # 0: one pass over the data; else batches per epoch
    sampler: str = "shuffle"             # shuffle | balanced (every class equally likely)
    loss: str = "cross_entropy"          # see dcase_tk.train.losses
    loss_options: dict = dataclasses.field(default_factory=dict)
    label_smoothing: float = 0.0
    smoothing_table: str = ""            # per-clip smoothing from a table, e.g. utt2verified
    smoothing_values: dict = dataclasses.field(default_factory=dict)   # table value -> strength
    loss_mask: float = 0.0               # Jeong & Lim's batch-wise loss masking: alpha (0.8); 0: off
    loss_mask_table: str = "utt2verified"   # clips whose value there is 1 are never masked
    objective: str = "clip"              # clip | frames (loss on model.frame_outputs; targets from
                                         # frame_targets.scp, else the clip labels on every frame)
                                         # | mil (Cances et al.'s max/mean/min loss); objectives.py
    vat: dict = None                     # virtual adversarial training: {weight: 0 (off), eps: 1.0,
                                         # xi: 1.0e-6, iterations: 1}; see dcase_tk.train.vat
    unlabelled_batch_size: int = 0       # VAT: global unlabelled clips per step (train_nnet
                                         # --unlabelled_dir); 0: batch_size, an equal share
    schedule: dict = None                # see dcase_tk.train.schedule
    augment: dict = None                 # see dcase_tk.train.augment.AugmentConfig
    grad_clip: float = 0.0               # max gradient norm; 0: off
    amp: bool = False                    # mixed precision (GPU only)
    sync_batchnorm: bool = False         # DDP on GPUs: BatchNorm statistics over all processes
    num_workers: int = 0                 # DataLoader processes reading features ahead
    patience: int = 0                    # epochs without improvement before stopping; 0: never
    select_metric: str = "accuracy"      # on the validation set
    select_after_epoch: int = 0          # earlier epochs are not candidates (Keras initial_delay)
    seed: int = 0
    keep_checkpoints: int = 2

    @classmethod
    def from_dict(cls, d):
        c = dataclass_from_dict(cls, d, "training")
        if c.select_metric not in METRICS:
            raise ValueError(f"select_metric must be one of {sorted(METRICS)}, got {c.select_metric}")
        if c.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be adam or sgd, got {c.optimizer}")
        if c.sampler not in sampling.SAMPLERS:
            raise ValueError(f"sampler must be one of {sampling.SAMPLERS}, got {c.sampler}")
        if not 0.0 <= c.loss_mask <= 1.0:
            raise ValueError(f"loss_mask must be in [0, 1] (Jeong & Lim use 0.8; 0: off), got {c.loss_mask}")
        augment = AugmentConfig.from_dict(c.augment or {})     # fail now on a bad augment or loss config
        make_loss(c.loss, **c.loss_options)
        VatConfig.from_dict(c.vat)
        if c.unlabelled_batch_size < 0:
            raise ValueError(f"unlabelled_batch_size must be >= 0 (0: batch_size), got {c.unlabelled_batch_size}")
        c._check_objective(augment)
        return c

    def _check_objective(self, augment):
        if self.objective not in objectives.OBJECTIVES:
            raise ValueError(f"objective must be one of {objectives.OBJECTIVES}, got '{self.objective}'")
        if self.objective == "clip":
            return
        if augment.mixup_alpha > 0:
            raise ValueError(f"objective {self.objective} cannot use augment.mixup_alpha: mixup "
                             f"mixes clip labels, which frame targets and the MIL loss cannot follow; "
                             f"set it to 0 or use objective clip")
        if self.loss_mask:
            raise ValueError(f"loss_mask drops whole clips by their clip-level loss; it is for "
                             f"objective clip, not {self.objective}")
        if self.objective == "mil" and self.loss not in MULTI_LABEL_LOSSES:
            raise ValueError(f"objective mil is a per-class (multi-label) loss; set loss to one of "
                             f"{MULTI_LABEL_LOSSES} (it decides validation's sigmoid posteriors), not {self.loss}")


def make_optimizer(cfg, params):
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                           weight_decay=cfg.weight_decay)


class Trainer:
    """Trains ``model`` on :class:`FeatureSet` s, writing everything under ``outdir``.

    ``frames``/``decode``/``multi_label`` say how validation clips are scored (as at inference);
    ``ctx`` is the :class:`distributed.Context` (a single process by default).
    """

    def __init__(self, model, cfg, outdir, classes, resume_key, frames, decode, multi_label,
                 ctx=None, progress=None):
        self.ctx = ctx or distributed.Context()
        objectives.check_model(model, cfg.objective)
        self.model = model.to(self.ctx.device)
        self.cfg, self.outdir, self.classes, self.resume_key = cfg, outdir, classes, resume_key
        self.kind, self.multi_label = output_kind(model), multi_label
        self.vat = VatConfig.from_dict(cfg.vat)
        self.net = distributed.wrap(objectives.TrainingForward(self.model, cfg.objective, self.vat, self.kind,
                                                               multi_label), self.ctx, cfg.sync_batchnorm,
                                    find_unused_parameters=cfg.objective != "clip")
        self.loss_fn = make_loss(cfg.loss, **cfg.loss_options)
        self.augment = AugmentConfig.from_dict(cfg.augment or {})
        self.scorer = ClipScorer(self.model, frames, decode, multi_label, self.ctx.device)
        self.ckpt_dir = os.path.join(outdir, "checkpoints")
        self.optimizer = make_optimizer(cfg, self.model.parameters())
        self.scheduler = make_scheduler(cfg.schedule, self.optimizer)
        self.amp = cfg.amp and self.ctx.device.type == "cuda"
        if cfg.amp and not self.amp:
            log.info("training.amp is for GPUs; training in float32 on %s", self.ctx.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.progress = progress or (lambda items, desc, total: items)
        self.history, self.best = [], {"epoch": 0, "value": None, "state": None}
        self.start_epoch = 1

    def resume(self):
        """Continue from the newest checkpoint made with the same inputs; else start afresh."""
        saved = checkpoint.epochs_saved(self.ckpt_dir)
        if not saved:
            return
        state = checkpoint.load(checkpoint.path_for(self.ckpt_dir, saved[-1]))
        if state["resume_key"] != self.resume_key:
            if self.ctx.is_main:
                log.warning("checkpoints in %s were made with other inputs or config; starting "
                            "over", self.ckpt_dir)
                shutil.rmtree(self.ckpt_dir)
            distributed.barrier(self.ctx)
            return
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.history, self.best = state["history"], state["best"]
        rng = state["rng"]
        if len(rng) == self.ctx.world:
            checkpoint.set_rng_state(rng[self.ctx.rank])
        else:
            log.warning("checkpoint made with %d processes, resuming with %d: dropout draws "
                        "differ from an unbroken run", len(rng), self.ctx.world)
            torch.manual_seed(self.cfg.seed + 1000 * state["epoch"] + self.ctx.rank)
        self.start_epoch = state["epoch"] + 1
        log.info("resuming from %s (epoch %d)", self.ckpt_dir, state["epoch"])

    def fit(self, train_set, valid_set, unlabelled_set=None):
        """Train; ``unlabelled_set`` (a :class:`FeatureSet` without targets) adds its clips to the
        VAT term (``training.vat``), which needs it on."""
        cfg = self.cfg
        if unlabelled_set is not None and not self.vat.on:
            raise ValueError("an unlabelled set is only used by VAT, and training.vat.weight is 0")
        if self.vat.on and unlabelled_set is None:
            log.info("VAT (training.vat.weight %g) on the labelled clips only: no unlabelled set",
                     self.vat.weight)
        if self.start_epoch == 1:
            torch.manual_seed(cfg.seed + self.ctx.rank)
        weights = (sampling.balanced_weights(train_set.targets) if cfg.sampler == "balanced" else None)
        stale = self._epochs_without_improvement()
        for epoch in range(self.start_epoch, cfg.epochs + 1):
            if cfg.patience and stale >= cfg.patience:
                log.info("no improvement in %d epochs: stopping early", stale)
                break
            t0 = time.time()
            train = self._train_epoch(train_set, epoch, weights, unlabelled_set)
            valid = self._validate(valid_set)
            self.scheduler.step_epoch(valid[cfg.select_metric])
            row = {"epoch": epoch, **{f"train_{k}": v for k, v in train.items()},
                   **{f"valid_{k}": v for k, v in valid.items()}, "lr": self.scheduler.lr,
                   "seconds": time.time() - t0}
            self.history.append(row)
            stale = 0 if self._update_best(epoch, valid) else stale + 1
            log.info("epoch %d/%d  %s  (best %s @ %d)  %.1f s", epoch, cfg.epochs,
                     "  ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k.startswith(("train", "valid"))),
                     _fmt(self.best["value"]), self.best["epoch"], row["seconds"])
            self._checkpoint(epoch)
        self._finish()

    def _batches(self, train_set, epoch, weights):
        cfg, ctx = self.cfg, self.ctx
        order = sampling.epoch_order(len(train_set), epoch, cfg.seed, cfg.sampler, cfg.steps_per_epoch,
                                     cfg.batch_size, weights)
        batches = [b for b in sampling.global_batches(order, cfg.batch_size, epoch, cfg.seed)
                   if len(b) >= ctx.world]
        return [sampling.rank_share(b, ctx.rank, ctx.world) for b in batches], [len(b) for b in batches]

    def _unlabelled_batches(self, unlabelled_set, epoch, steps):
        """``(batches of this process's unlabelled clips, global unlabelled batch size)`` of each
        step, or ``([None] * steps, 0)`` without an unlabelled set."""
        if unlabelled_set is None:
            return [None] * steps, 0
        cfg, ctx = self.cfg, self.ctx
        size = cfg.unlabelled_batch_size or cfg.batch_size
        if size < ctx.world:
            raise ValueError(f"unlabelled_batch_size {size} is smaller than the {ctx.world} processes "
                             f"that share it; raise it")
        shares = unlabelled_shares(len(unlabelled_set), steps, size, epoch, cfg.seed, ctx.rank, ctx.world)
        return loader(unlabelled_set, shares, cfg.num_workers), size

    def _train_epoch(self, train_set, epoch, weights, unlabelled_set=None):
        """One epoch; returns the mean training loss (and accuracy for single-label systems, and
        the mean LDS ``vat`` with VAT on)."""
        shares, sizes = self._batches(train_set, epoch, weights)
        unlabelled, unlabelled_size = self._unlabelled_batches(unlabelled_set, epoch, len(shares))
        self.net.train()
        total = np.zeros(5)                       # loss sum, correct, examples, LDS sum, LDS examples
        batches = loader(train_set, shares, self.cfg.num_workers)
        steps = zip(self.progress(batches, f"epoch {epoch}", len(shares)), unlabelled, strict=True)
        for step, (batch, extra) in enumerate(steps):
            generator = sampling.epoch_generator(self.cfg.seed, epoch, stream=1 + step * 4099 + self.ctx.rank)
            total += self._step(batch, sizes[step], generator, extra, sizes[step] + unlabelled_size)
        total = sum(distributed.gather(total, self.ctx))
        n = max(total[2], 1)
        out = {"loss": total[0] / n} if self.multi_label else {"loss": total[0] / n, "accuracy": total[1] / n}
        if self.vat.on:
            out["vat"] = total[3] / max(total[4], 1)
        return out

    def _autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=torch.float16)

    def _step(self, batch, global_size, generator, unlabelled=None, global_vat_size=0):
        """One optimizer step on this process's share; returns (loss sum, correct, examples,
        LDS sum, LDS examples). With VAT on, the LDS covers the labelled share and the
        ``unlabelled`` batch, ``global_vat_size`` clips over all processes."""
        cfg, device = self.cfg, self.ctx.device
        x, y = batch["x"].to(device, non_blocking=True), batch["y"].to(device, non_blocking=True)
        x, y = apply_batch(self.augment, x, y, generator)
        smoothing = batch["smoothing"].to(device) if "smoothing" in batch else cfg.label_smoothing
        x_vat = directions = None
        if self.vat.on:
            x_vat = x if unlabelled is None else torch.cat([x, unlabelled["x"].to(device, non_blocking=True)])
            directions = torch.randn(x_vat.shape, generator=generator, device=generator.device).to(device)
        with self._autocast():
            out, lds = self.net(x, x_vat, directions)
        if cfg.objective == "clip":
            weights = None
            if cfg.loss_mask:
                # drop this share's unverified examples whose loss is near the largest (losses.loss_mask)
                per_example = self.loss_fn.per_example(out.float(), y, kind=self.kind, smoothing=smoothing)
                weights = loss_mask(per_example, batch["trusted"].to(device), cfg.loss_mask)
            loss = self.loss_fn(out.float(), y, kind=self.kind, smoothing=smoothing, weights=weights)
        elif cfg.objective == "frames":
            frame_y = batch["frame_y"].to(device) if "frame_y" in batch else None
            loss = objectives.frame_loss(self.loss_fn, out, y, frame_y, smoothing)
            out = out.mean(dim=1)                 # clip scores for the training accuracy
        else:
            loss = objectives.mil_loss(out, y, smoothing)
        # sum of this share's losses over the global batch size, times the number of processes
        # (DDP averages gradients over processes): the global batch's mean-loss gradient
        scaled = loss * (len(x) * self.ctx.world / global_size)
        if lds is not None:
            scaled = scaled + self.vat.weight * lds.sum() * (self.ctx.world / global_vat_size)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(scaled).backward()
        if cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step_iteration()
        correct = (out.argmax(1) == y.argmax(1)).sum().item() if not self.multi_label else 0
        vat_sum, vat_n = (lds.sum().item(), len(lds)) if lds is not None else (0.0, 0)
        return loss.item() * len(x), correct, len(x), vat_sum, vat_n

    def _validate(self, valid_set):
        """Metrics of the whole validation set; every process scores a shard and gets all."""
        mine = list(range(self.ctx.rank, len(valid_set), self.ctx.world))
        posts = self.scorer.score(valid_set, mine)
        parts = distributed.gather((mine, posts), self.ctx)
        order = np.concatenate([np.asarray(i, dtype=int) for i, _ in parts])
        scores = np.concatenate([p for _, p in parts if len(p)])[np.argsort(order)]
        targets = valid_set.targets
        loss = self.loss_fn(torch.from_numpy(scores), torch.from_numpy(targets), kind="probs").item()
        return {"loss": loss, **validation_metrics(scores, targets, self.multi_label)}

    def _update_best(self, epoch, valid):
        """Record ``epoch`` as best if it is a candidate and improves; returns whether it did."""
        cfg = self.cfg
        last_epoch = epoch == cfg.epochs
        if epoch < cfg.select_after_epoch and not (last_epoch and self.best["state"] is None):
            return False
        value, best = valid[cfg.select_metric], self.best["value"]
        if best is not None and not (value > best if METRICS[cfg.select_metric] else value < best):
            return False
        self.best = {"epoch": epoch, "value": value,
                     "state": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}}
        return True

    def _epochs_without_improvement(self):
        return len(self.history) - self.best["epoch"] if self.best["epoch"] else 0

    def _checkpoint(self, epoch):
        rng = distributed.gather(checkpoint.rng_state(), self.ctx)
        if self.ctx.is_main:
            checkpoint.save(checkpoint.path_for(self.ckpt_dir, epoch), {
                "epoch": epoch, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "rng": rng, "history": self.history,
                "best": self.best, "resume_key": self.resume_key})
            checkpoint.prune(self.ckpt_dir, self.cfg.keep_checkpoints)
            checkpoint.write_history(self.outdir, self.history)
        distributed.barrier(self.ctx)

    def _write_final_summary(self):
        """``final.json``: which epoch final.pt is and its validation metrics, so later steps
        (choosing among label-refinement rounds) need not re-read the history."""
        row = next(r for r in self.history if r["epoch"] == self.best["epoch"])
        summary = {"epoch": self.best["epoch"], "select_metric": self.cfg.select_metric,
                   "valid": {k[len("valid_"):]: v for k, v in row.items() if k.startswith("valid_")}}
        write_text(os.path.join(self.outdir, "final.json"), json.dumps(summary, indent=1) + "\n")

    def _finish(self):
        if self.best["state"] is None:
            raise RuntimeError("no epoch was trained; is training.epochs >= 1?")
        if self.ctx.is_main:
            checkpoint.save(os.path.join(self.outdir, "final.pt"), self.best["state"])
            checkpoint.write_history(self.outdir, self.history)
            self._write_final_summary()
            metric = self.cfg.select_metric
            if metric == "loss":
                metric = "map" if self.multi_label else "accuracy"
            plot_curves(self.history, os.path.join(self.outdir, "curves.png"), self.best["epoch"], metric)
            log.info("final.pt = epoch %d (valid %s %s)", self.best["epoch"], self.cfg.select_metric,
                     _fmt(self.best["value"]))
        distributed.barrier(self.ctx)


def _fmt(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
