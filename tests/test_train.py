"""Baseline network shape, trainer behaviour, and bit-exact resumption from checkpoints."""
import csv

import pytest
import torch

from dcase_tk.nnet import build_model
from dcase_tk.train import checkpoint
from dcase_tk.train.trainer import Trainer, TrainConfig

torch.set_num_threads(1)
CLASSES = ["a", "b", "c"]
MODEL = {"name": "cnn_baseline", "filters": [4, 8], "kernel_size": 3, "pool_sizes": [[2, 2], [5, 25]],
         "hidden": 16, "dropout": 0.1}


def test_published_baseline_shape_and_size():
    model = build_model({"name": "cnn_baseline"}, n_in=40, n_classes=10, n_frames=500)
    assert model(torch.zeros(2, 500, 40)).shape == (2, 10)
    # conv 1x32x7x7+32, BN 2x32, conv 32x64x7x7+64, BN 2x64, dense 128x100+100, dense 100x10+10
    expected = (49 * 32 + 32) + 64 + (32 * 64 * 49 + 64) + 128 + (128 * 100 + 100) + (100 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_unknown_model_and_too_small_input():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        build_model({"name": "nope"}, 40, 10, 500)
    with pytest.raises(ValueError, match="too small"):
        build_model({"name": "cnn_baseline"}, 40, 10, 50)


def toy_data(n, seed):
    """Class k has a bright band k: learnable in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 50, 10, generator=g)
    for k in range(3):
        x[y == k, :, 3 * k:3 * k + 3] += 3.0
    return x, y


def train(outdir, epochs, **overrides):
    torch.manual_seed(0)
    model = build_model(MODEL, 10, 3, 50)
    cfg = TrainConfig.from_dict({"epochs": epochs, "batch_size": 8, "lr": 0.01, **overrides})
    trainer = Trainer(model, cfg, str(outdir), CLASSES, torch.device("cpu"), resume_key="k")
    trainer.resume()
    trainer.fit(*toy_data(48, 1), *toy_data(24, 2))
    return trainer


def test_learns_and_keeps_best_epoch(tmp_path):
    trainer = train(tmp_path, epochs=10)
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 11))
    best = max(rows, key=lambda r: float(r["valid_accuracy"]))
    assert float(best["valid_accuracy"]) > 0.8                    # chance is 1/3
    assert trainer.best["epoch"] == int(best["epoch"])            # first epoch reaching the max
    final = torch.load(tmp_path / "final.pt", weights_only=True)
    assert all(torch.equal(final[k], trainer.best["state"][k]) for k in final)
    assert checkpoint.epochs_saved(tmp_path / "checkpoints") == [9, 10]   # keep_checkpoints=2
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_resumed_run_equals_unbroken_run(tmp_path):
    train(tmp_path / "unbroken", epochs=5)
    train(tmp_path / "broken", epochs=2)              # "killed" after epoch 2
    resumed = train(tmp_path / "broken", epochs=5)    # re-run with the full number of epochs
    assert resumed.start_epoch == 3
    a = torch.load(tmp_path / "unbroken" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "broken" / "final.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "unbroken" / "history.csv").read_text().count("\n") == \
        (tmp_path / "broken" / "history.csv").read_text().count("\n")


def test_changed_inputs_start_over(tmp_path):
    train(tmp_path, epochs=2)
    torch.manual_seed(0)
    model = build_model(MODEL, 10, 3, 50)
    cfg = TrainConfig.from_dict({"epochs": 3, "batch_size": 8})
    trainer = Trainer(model, cfg, str(tmp_path), CLASSES, torch.device("cpu"), resume_key="other")
    trainer.resume()
    assert trainer.start_epoch == 1 and not (tmp_path / "checkpoints").exists()


def test_selection_delay_and_patience(tmp_path):
    trainer = train(tmp_path / "delay", epochs=4, select_after_epoch=10)
    assert trainer.best["epoch"] == 4          # no candidate before the end: the last epoch is kept
    trainer = train(tmp_path / "patience", epochs=30, patience=2, lr=0.0)
    assert len(trainer.history) == 3           # lr 0 never improves on epoch 1: stop after 2 more


def test_bad_training_options():
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="select_metric"):
        TrainConfig.from_dict({"select_metric": "f1"})
