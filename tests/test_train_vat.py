"""Virtual adversarial training: the KL terms, the power iteration's direction, BatchNorm left
alone, the unlabelled batches' plan, training with an unlabelled dump dir (train_vat logged, a
resumed run equal to an unbroken one) and steps/train_nnet.sh --unlabelled in the stamp."""
import csv
import logging
import subprocess

import numpy as np
import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F

from dcase_tk.bin import train_nnet
from dcase_tk.cli import ToolError
from dcase_tk.features import cmvn
from dcase_tk.train import sampling
from dcase_tk.train.trainer import TrainConfig
from dcase_tk.train.vat import (VatConfig, adversarial_perturbation, divergence, lds, log_probs, unit,
                                unlabelled_shares)
from helpers import ROOT, write_dump

torch.set_num_threads(1)
CLASSES = ["a", "b", "c"]


def mlp(batch_norm=False):
    torch.manual_seed(0)
    layers = [nn.Flatten(), nn.Linear(12, 16)]
    layers += [nn.BatchNorm1d(16)] if batch_norm else []
    return nn.Sequential(*layers, nn.Tanh(), nn.Linear(16, 3)).double()


def test_kl_terms_are_binary_per_class_or_categorical():
    p_logits, q_logits = torch.tensor([[0.3, -1.0, 2.0]]), torch.tensor([[1.0, 0.5, -0.5]])
    p, q = torch.sigmoid(p_logits), torch.sigmoid(q_logits)
    binary = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).sum()
    clean = log_probs(p_logits, "logits", True)
    assert divergence(clean, q_logits, "logits", True).item() == pytest.approx(binary.item(), rel=1e-5)
    assert divergence(log_probs(p, "probs", True), q, "probs", True).item() == pytest.approx(binary.item(), rel=1e-4)
    categorical = F.kl_div(F.log_softmax(q_logits, 1), F.log_softmax(p_logits, 1), log_target=True,
                           reduction="sum")
    got = divergence(log_probs(p_logits, "logits", False), q_logits, "logits", False)
    assert got.item() == pytest.approx(categorical.item(), rel=1e-5)
    d = torch.randn(5, 3, 4, generator=torch.Generator().manual_seed(0)) * 1e-20
    assert unit(d).flatten(1).norm(dim=1).tolist() == pytest.approx([1.0] * 5, rel=1e-5)


@pytest.mark.parametrize("multi_label", [True, False])
def test_power_iteration_direction_raises_the_kl_more_than_random_ones(multi_label):
    """In float64, so that xi = 1e-6 is far above rounding (see the vat module docstring)."""
    model = mlp()
    x = torch.randn(6, 3, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        clean = log_probs(model(x), "logits", multi_label)
    start = torch.randn(x.shape, generator=g, dtype=torch.float64)

    def kl(r):
        with torch.no_grad():
            return divergence(clean, model(x + r), "logits", multi_label)

    randoms = torch.stack([kl(0.3 * unit(torch.randn(x.shape, generator=g, dtype=torch.float64)))
                           for _ in range(30)])
    one = adversarial_perturbation(model, x, clean, start, VatConfig(weight=1.0, eps=0.3), "logits", multi_label)
    assert one.flatten(1).norm(dim=1).tolist() == pytest.approx([0.3] * 6, rel=1e-4)
    assert bool((kl(one) > 2 * randoms.mean(dim=0)).all())          # one iteration, as by default
    cfg = VatConfig(weight=1.0, eps=0.3, iterations=10)
    converged = adversarial_perturbation(model, x, clean, start, cfg, "logits", multi_label)
    assert bool((kl(converged) > randoms.max(dim=0).values).all())
    assert bool((kl(converged) >= kl(one) * 0.999).all())
    adversarial = kl(converged)
    # lds is that KL, and differentiable w.r.t. the weights
    value = lds(model, x, start, cfg, "logits", multi_label)
    torch.testing.assert_close(value.detach(), adversarial)
    value.sum().backward()
    assert model[1].weight.grad.abs().sum() > 0


def test_vat_passes_leave_batchnorm_running_statistics_alone():
    model = mlp(batch_norm=True).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(8, 3, 4, dtype=torch.float64)
    lds(model, x, torch.randn(x.shape, dtype=torch.float64), VatConfig(weight=1.0, xi=1e-3), "logits", True)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model[2].track_running_stats and model.training
    model(x)                                             # an ordinary pass still updates them
    assert not torch.equal(before["2.running_mean"], model.state_dict()["2.running_mean"])


def test_unlabelled_plan_is_fixed_by_seed_and_epoch_and_split_over_ranks():
    plan = unlabelled_shares(10, 4, 6, epoch=3, seed=1, rank=0, world=1)
    assert [len(b) for b in plan] == [6] * 4
    assert plan == unlabelled_shares(10, 4, 6, epoch=3, seed=1, rank=0, world=1)
    assert plan != unlabelled_shares(10, 4, 6, epoch=4, seed=1, rank=0, world=1)
    indices = [i for b in plan for i, _ in b]
    assert sorted(indices[:10]) == list(range(10))       # a permutation before any clip repeats
    ranks = [unlabelled_shares(10, 4, 6, epoch=3, seed=1, rank=r, world=2) for r in (0, 1)]
    assert [a + b for a, b in zip(*ranks)] == plan
    labelled = sampling.global_batches(sampling.epoch_order(10, 3, 1), 6, 3, 1)
    assert [i for i, _ in labelled[0]] != [i for i, _ in plan[0]]   # not the labelled order


def test_bad_vat_options():
    with pytest.raises(ValueError, match="unknown training.vat option"):
        TrainConfig.from_dict({"vat": {"lambda": 1.0}})
    with pytest.raises(ValueError, match="training.vat.iterations"):
        TrainConfig.from_dict({"vat": {"weight": 1.0, "iterations": 0}})
    with pytest.raises(ValueError, match="training.vat.eps and xi must be > 0"):
        TrainConfig.from_dict({"vat": {"weight": 1.0, "xi": 0}})


MODEL = {"name": "cnn_baseline", "filters": [4, 8], "kernel_size": 3, "pool_sizes": [[2, 2], [5, 25]],
         "hidden": 16, "dropout": 0.1}


def toy_clips(n, seed, prefix):
    rng = np.random.default_rng(seed)
    mats, labels = {}, {}
    for i in range(n):
        x = rng.standard_normal((50, 10)).astype(np.float32)
        x[:, 3 * (i % 3):3 * (i % 3) + 3] += 3.0
        mats[f"{prefix}{i:03d}"], labels[f"{prefix}{i:03d}"] = x, CLASSES[i % 3]
    return mats, labels


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    root = tmp_path_factory.mktemp("vat")
    mats, labels = toy_clips(16, 1, "l")
    train_dir = write_dump(root / "train", mats, labels, CLASSES)
    cmvn.write(str(train_dir / "cmvn.ark"), cmvn.accumulate(list(mats.values())))
    valid_dir = write_dump(root / "valid", *toy_clips(9, 2, "v"), CLASSES)
    unlabelled = write_dump(root / "unlabelled", toy_clips(20, 3, "u")[0], {}, CLASSES)
    (unlabelled / "utt2label").unlink()                  # unlabelled clips need no labels
    return train_dir, valid_dir, unlabelled


def train(tmp_path, dumps, exp, epochs, unlabelled=True, **training):
    system = {"model": MODEL, "input": {"frames": 50},
              "training": {"epochs": epochs, "batch_size": 8, "lr": 0.01, "keep_checkpoints": 5,
                           "vat": {"weight": 1.0, "xi": 0.01, "eps": 2.0}, **training}}
    path = tmp_path / f"{exp}.yaml"
    path.write_text(yaml.safe_dump(system))
    extra = ["--unlabelled_dir", str(dumps[2])] if unlabelled else []
    train_nnet.main(["--config", str(path), "--cmvn", str(dumps[0] / "cmvn.ark"), *extra,
                     str(dumps[0]), str(dumps[1]), str(tmp_path / exp)])
    with open(tmp_path / exp / "history.csv") as f:
        rows = [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]
    return rows, torch.load(tmp_path / exp / "final.pt", weights_only=True)


def test_vat_with_unlabelled_clips_logs_and_resumes_like_an_unbroken_run(tmp_path, dumps, caplog):
    caplog.set_level(logging.INFO)
    rows, unbroken = train(tmp_path, dumps, "unbroken", 2)
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[0]["train_vat"]) > 0
    train(tmp_path, dumps, "broken", 1)                                  # "killed" after epoch 1
    rows_resumed, resumed = train(tmp_path, dumps, "broken", 2)
    assert "resuming from" in caplog.text
    assert rows_resumed == rows
    assert all(torch.equal(unbroken[k], resumed[k]) for k in unbroken)
    caplog.clear()
    train(tmp_path, (dumps[0], dumps[1], dumps[1]), "broken", 2)        # other unlabelled clips
    assert "made with other inputs or config; starting over" in caplog.text
    caplog.clear()
    rows_labelled, labelled_only = train(tmp_path, dumps, "labelled_only", 2, unlabelled=False)
    assert "on the labelled clips only: no unlabelled set" in caplog.text
    assert rows_labelled[0]["train_vat"] != rows[0]["train_vat"]
    assert not all(torch.equal(unbroken[k], labelled_only[k]) for k in unbroken)


def test_unlabelled_dir_without_vat_is_refused(tmp_path, dumps):
    with pytest.raises(ToolError, match="--unlabelled_dir .* is unused: .* training.vat.weight is 0"):
        train(tmp_path, dumps, "off", 1, vat={"weight": 0.0})
    assert not (tmp_path / "off").exists()


def test_train_step_reruns_when_the_unlabelled_dir_changes(tmp_path, dumps):
    system = tmp_path / "sys.yaml"
    system.write_text(yaml.safe_dump({"model": MODEL, "input": {"frames": 50},
                                      "training": {"epochs": 1, "batch_size": 8, "vat": {"weight": 1.0}}}))
    unlabelled = write_dump(tmp_path / "unlabelled", toy_clips(8, 4, "u")[0], {}, CLASSES)

    def step():
        result = subprocess.run(
            ["bash", "-c", f". ./path.sh && steps/train_nnet.sh --system_config {system} --unlabelled "
                           f"{unlabelled} --cmvn {dumps[0]}/cmvn.ark {dumps[0]} {dumps[1]} {tmp_path}/exp"],
            cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert "training" in step()
    assert "--unlabelled_dir" in (tmp_path / "exp" / "train.log").read_text()
    assert "up to date" in step()
    write_dump(unlabelled, toy_clips(9, 4, "u")[0], {}, CLASSES)       # one more unlabelled clip
    assert "training" in step()
