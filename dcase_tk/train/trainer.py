"""Epoch loop for clip classifiers: train, validate, keep the best epoch, checkpoint every epoch.

A killed run, re-started with the same inputs, resumes from its last checkpoint and ends with
the same weights as an unbroken run: batch order is drawn from a generator seeded by
``(seed, epoch)`` and the RNG states (dropout) are restored from the checkpoint.
"""
import csv
import dataclasses
import logging
import math
import os
import shutil
import time

import torch
from torch import nn

from dcase_tk.config import dataclass_from_dict
from dcase_tk.io.atomic import atomic_open
from dcase_tk.plots import plot_curves
from dcase_tk.scoring.classification import summary
from dcase_tk.train import checkpoint

log = logging.getLogger(__name__)

# validation metric -> True if higher is better
METRICS = {"accuracy": True, "class_avg_accuracy": True, "loss": False}


@dataclasses.dataclass
class TrainConfig:
    optimizer: str = "adam"
    lr: float = 0.001
    weight_decay: float = 0.0
    batch_size: int = 16
    epochs: int = 200
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
        return c


def make_optimizer(cfg, params):
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def evaluate(model, x, y, classes, device, batch_size=64):
    model.eval()
    losses, preds = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size].to(device))
            losses.append(nn.functional.cross_entropy(logits, y[i:i + batch_size].to(device),
                                                      reduction="sum").item())
            preds.append(logits.argmax(1).cpu())
    s = summary(y.numpy(), torch.cat(preds).numpy(), classes)
    return {"loss": sum(losses) / len(x), "accuracy": s["accuracy"],
            "class_avg_accuracy": s["class_avg_accuracy"]}


class Trainer:
    """Trains ``model`` on in-memory tensors, writing everything under ``outdir``."""

    def __init__(self, model, cfg, outdir, classes, device, resume_key):
        self.model, self.cfg, self.outdir = model.to(device), cfg, outdir
        self.classes, self.device, self.resume_key = classes, device, resume_key
        self.ckpt_dir = os.path.join(outdir, "checkpoints")
        self.optimizer = make_optimizer(cfg, self.model.parameters())
        self.history, self.best = [], {"epoch": 0, "value": None, "state": None}
        self.start_epoch = 1

    def resume(self):
        """Continue from the newest checkpoint made with the same inputs; else start afresh."""
        saved = checkpoint.epochs_saved(self.ckpt_dir)
        if not saved:
            return
        state = checkpoint.load(checkpoint.path_for(self.ckpt_dir, saved[-1]))
        if state["resume_key"] != self.resume_key:
            log.warning("checkpoints in %s were made with other inputs or config; starting over",
                        self.ckpt_dir)
            shutil.rmtree(self.ckpt_dir)
            return
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.history, self.best = state["history"], state["best"]
        checkpoint.set_rng_state(state["rng"])
        self.start_epoch = state["epoch"] + 1
        log.info("resuming from %s (epoch %d)", self.ckpt_dir, state["epoch"])

    def fit(self, x_train, y_train, x_valid, y_valid):
        cfg = self.cfg
        if self.start_epoch == 1:
            torch.manual_seed(cfg.seed)
        stale = self._epochs_without_improvement()
        for epoch in range(self.start_epoch, cfg.epochs + 1):
            if cfg.patience and stale >= cfg.patience:
                log.info("no improvement in %d epochs: stopping early", stale)
                break
            t0 = time.time()
            train_loss, train_acc = self._train_epoch(x_train, y_train, epoch)
            valid = evaluate(self.model, x_valid, y_valid, self.classes, self.device)
            row = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                   **{f"valid_{k}": v for k, v in valid.items()}, "seconds": time.time() - t0}
            self.history.append(row)
            stale = 0 if self._update_best(epoch, valid) else stale + 1
            log.info("epoch %d/%d  train loss %.4f acc %.3f  valid loss %.4f acc %.3f "
                     "class-avg %.3f  (best %s @ %d)  %.1f s", epoch, cfg.epochs, train_loss,
                     train_acc, valid["loss"], valid["accuracy"], valid["class_avg_accuracy"],
                     _fmt(self.best["value"]), self.best["epoch"], row["seconds"])
            self._checkpoint(epoch)
        self._finish()

    def _train_epoch(self, x, y, epoch):
        self.model.train()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(
            self.cfg.seed * 100003 + epoch))
        total_loss, correct = 0.0, 0
        for i in range(0, len(x), self.cfg.batch_size):
            idx = order[i:i + self.cfg.batch_size]
            xb, yb = x[idx].to(self.device), y[idx].to(self.device)
            logits = self.model(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        return total_loss / len(x), correct / len(x)

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
        checkpoint.save(checkpoint.path_for(self.ckpt_dir, epoch), {
            "epoch": epoch, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "rng": checkpoint.rng_state(), "history": self.history, "best": self.best,
            "resume_key": self.resume_key})
        checkpoint.prune(self.ckpt_dir, self.cfg.keep_checkpoints)
        self._write_history()

    def _write_history(self):
        if not self.history:
            return
        with atomic_open(os.path.join(self.outdir, "history.csv")) as f:
            writer = csv.DictWriter(f, fieldnames=list(self.history[0]))
            writer.writeheader()
            writer.writerows(self.history)

    def _finish(self):
        if self.best["state"] is None:
            raise RuntimeError("no epoch was trained; is training.epochs >= 1?")
        checkpoint.save(os.path.join(self.outdir, "final.pt"), self.best["state"])
        self._write_history()
        plot_curves(self.history, os.path.join(self.outdir, "curves.png"), self.best["epoch"])
        log.info("final.pt = epoch %d (valid %s %s)", self.best["epoch"], self.cfg.select_metric,
                 _fmt(self.best["value"]))


def _fmt(value):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
