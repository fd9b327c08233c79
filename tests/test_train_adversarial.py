"""Adversarial domain adaptation (dcase_tk.train.adversarial, bin/adapt_nnet, steps/adapt_nnet.sh):
the encode/classify split, the D/M_T update schedule, what stays frozen, balanced target
batches, model selection, bit-exact resumption, and the tool's exp dir and errors."""
import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from dcase_tk.cli import ToolError
from dcase_tk.decode.infer import DecodeConfig, load_trained, scorer_for
from dcase_tk.nnet import build_model
from dcase_tk.train.adversarial import AdaptConfig, AdversarialAdapter, device_batches, split_model
from dcase_tk.train.data import FeatureSet
from helpers import write_dump

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["a", "b", "c"]
MODEL = {"name": "cnn_baseline", "filters": [4, 8], "kernel_size": 3, "pool_sizes": [[2, 2], [5, 25]],
         "hidden": 16, "dropout": 0.2}
OFFSETS = {"a": 0.0, "b": 2.0, "c": -1.5}        # the "device colouring": a per-band offset


def toy_clips(n, seed, devices=("a",), frames=50, dim=10):
    """Class k has a bright band k; device d adds its offset to the upper bands."""
    rng = np.random.default_rng(seed)
    mats, labels, utt2device = {}, {}, {}
    for i in range(n):
        k, device = i % 3, devices[(i // 3) % len(devices)]
        x = rng.standard_normal((frames, dim)).astype(np.float32)
        x[:, 3 * k:3 * k + 3] += 3.0
        x[:, 5:] += OFFSETS[device]
        utt = f"u{seed}_{i:03d}_{device}"
        mats[utt], labels[utt], utt2device[utt] = x, CLASSES[k], device
    return mats, labels, utt2device


def dump(directory, n, seed, devices=("a",), labelled=True):
    mats, labels, utt2device = toy_clips(n, seed, devices)
    if labelled:
        return write_dump(directory, mats, labels, CLASSES, extra={"utt2device": utt2device})
    write_dump(directory, mats, labels, CLASSES, extra={"utt2device": utt2device})
    os.unlink(directory / "utt2label")            # the target's labels are not even there
    return directory


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    root = tmp_path_factory.mktemp("adv")
    return {"source_train": dump(root / "source_train", 48, 1),
            "source_valid": dump(root / "source_valid", 24, 2),
            "target_train": dump(root / "target_train", 24, 3, ("b", "c"), labelled=False),
            "target_valid": dump(root / "target_valid", 18, 4, ("b", "c"))}


def sets(dumps, frames=50):
    target_train = FeatureSet(str(dumps["target_train"]), None, frames)
    devices = [line.split()[1] for line in (dumps["target_train"] / "utt2device").read_text().splitlines()]
    target_train.devices = [[i for i, d in enumerate(devices) if d == dev] for dev in ("b", "c")]
    return (FeatureSet(str(dumps["source_train"]), None, frames).with_targets(CLASSES),
            FeatureSet(str(dumps["source_valid"])).with_targets(CLASSES),
            target_train,
            FeatureSet(str(dumps["target_valid"])).with_targets(CLASSES))


def source_model(seed=0):
    torch.manual_seed(seed)
    return build_model(MODEL, 10, 3, 50)


def adapter(outdir, resume_key="k", model=None, **options):
    cfg = AdaptConfig.from_dict({"source_batch": 8, "target_batch": 4, "lr": 0.003, "d_lr": 0.003,
                                 "d_every": 2, "epochs": 2, **options})
    return AdversarialAdapter(model or source_model(), cfg, str(outdir), resume_key, 50, DecodeConfig(),
                              torch.zeros(1, 50, 10))


def history(directory):
    with open(directory / "history.csv") as f:
        return list(csv.DictReader(f))


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_encode_then_classify_is_forward():
    model = source_model()
    x = torch.randn(3, 50, 10)
    model.eval()
    assert torch.equal(model(x), model.classify(model.encode(x)))
    model.train()                                 # dropout: the same draws give the same outputs
    torch.manual_seed(5)
    y = model(x)
    torch.manual_seed(5)
    assert torch.equal(y, model.classify(model.encode(x)))


def test_split_model_names_classifier_and_encoder():
    model = source_model()
    classifier, encoder, shape = split_model(model, torch.zeros(1, 50, 10))
    assert model.classifier in classifier and model.features not in classifier
    assert {id(p) for p in encoder} == {id(p) for p in model.features.parameters()}
    assert shape == (8, 1, 1)

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(10, 10)

        def encode(self, x):
            return self.lin(x).mean(1)

        def classify(self, h):
            return self.lin(h)

    with pytest.raises(ValueError, match="share"):
        split_model(Shared(), torch.zeros(1, 50, 10))
    with pytest.raises(ValueError, match="no encode"):
        split_model(nn.Linear(10, 3), torch.zeros(1, 50, 10))


def test_target_batches_are_balanced_over_devices_and_seeded():
    devices = [list(range(5)), list(range(10, 20))]
    batches = device_batches(devices, 5, 6, epoch=1, seed=0)
    assert [len(b) for b in batches] == [6] * 5
    for batch in batches:
        assert sum(i < 10 for i, _ in batch) == 3 and sum(i >= 10 for i, _ in batch) == 3
    drawn = [i for batch in batches for i, _ in batch]
    assert all(drawn.count(i) == 3 for i in range(5))           # 15 draws: every clip 3 times
    assert len({s for batch in batches for _, s in batch}) == 30   # distinct item (crop) seeds
    assert batches == device_batches(devices, 5, 6, epoch=1, seed=0)
    assert batches != device_batches(devices, 5, 6, epoch=2, seed=0)
    odd = device_batches(devices, 2, 5, epoch=1, seed=0)       # 5 per batch: 3 + 2, then 2 + 3
    assert [sum(i < 10 for i, _ in b) for b in odd] == [3, 2]


def test_d_every_n_iterations_m_t_every_iteration_source_and_classifier_frozen(tmp_path, dumps):
    model = source_model()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    ad = adapter(tmp_path, model=model, d_every=3, epochs=1)
    source_before = {k: v.clone() for k, v in ad.source.state_dict().items()}
    events = []
    for name, opt in (("D", ad.opt_d), ("T", ad.opt_t)):
        step = opt.step
        opt.step = lambda *a, _step=step, _name=name, **k: (events.append(_name), _step(*a, **k))[1]
    ad.fit(*sets(dumps))
    # 48 source clips in batches of 8: 6 iterations; D before M_T in the 3rd and the 6th
    assert "".join(events) == "TTDTTTDT"
    assert all(not p.requires_grad for p in ad.source.parameters())
    assert states_equal(ad.source.state_dict(), source_before)           # M_S: not a bit changed
    after = ad.target.state_dict()
    classifier = [k for k in after if k.startswith("classifier.")]
    encoder = [k for k in after if k.startswith("features.") and k.endswith("weight")]
    assert classifier and all(torch.equal(after[k], initial[k]) for k in classifier)   # C kept
    assert all(not torch.equal(after[k], initial[k]) for k in encoder)                 # M_T trained
    # M_T's BatchNorm statistics moved (it runs in training mode on the mixed batches)
    assert not torch.equal(after["features.1.running_mean"], initial["features.1.running_mean"])
    row = history(tmp_path)[0]
    assert float(row["train_d_accuracy"]) >= 0 and "valid_accuracy" in row and "source_valid_accuracy" in row


def test_map_loss_w_zero_cuts_the_discriminator_out_of_m_t(tmp_path, dumps):
    final = {}
    for name, d_lr, weight in (("a", 0.003, 0.0), ("b", 0.03, 0.0), ("c", 0.03, 1.0)):
        adapter(tmp_path / name, epochs=1, d_lr=d_lr, map_loss_w=weight).fit(*sets(dumps))
        final[name] = torch.load(tmp_path / name / "final.pt", weights_only=True)
    assert states_equal(final["a"], final["b"])           # D (trained differently) had no say
    assert not states_equal(final["b"], final["c"])


def test_resumed_run_equals_unbroken_run(tmp_path, dumps):
    adapter(tmp_path / "unbroken", epochs=4).fit(*sets(dumps))
    adapter(tmp_path / "broken", epochs=2).fit(*sets(dumps))          # "killed" after epoch 2
    resumed = adapter(tmp_path / "broken", epochs=4)
    resumed.resume()
    assert resumed.start_epoch == 3
    resumed.fit(*sets(dumps))
    a = torch.load(tmp_path / "unbroken" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "broken" / "final.pt", weights_only=True)
    assert states_equal(a, b)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(history(tmp_path / "unbroken")) == strip(history(tmp_path / "broken"))
    last = lambda d: torch.load(d / "checkpoints" / "epoch_0004.pt", weights_only=False)
    assert states_equal(last(tmp_path / "unbroken")["discriminator"], last(tmp_path / "broken")["discriminator"])


def test_other_inputs_start_over(tmp_path, dumps):
    adapter(tmp_path, epochs=1).fit(*sets(dumps))
    again = adapter(tmp_path, resume_key="other", epochs=2)
    again.resume()
    assert again.start_epoch == 1 and not (tmp_path / "checkpoints").exists()


def test_selection_on_target_validation_or_last_epoch(tmp_path, dumps):
    target = adapter(tmp_path / "target", epochs=4)
    target.fit(*sets(dumps))
    rows = history(tmp_path / "target")
    best = max(float(r["valid_accuracy"]) for r in rows)
    kept = json.loads((tmp_path / "target" / "final.json").read_text())
    assert kept["select_on"] == "target" and kept["valid"]["accuracy"] == best
    assert kept["epoch"] == next(int(r["epoch"]) for r in rows if float(r["valid_accuracy"]) == best)
    assert set(kept["unadapted"]) >= {"valid_accuracy", "source_valid_accuracy"}
    last = adapter(tmp_path / "last", epochs=3, select_on="last")
    last.fit(*sets(dumps))
    assert json.loads((tmp_path / "last" / "final.json").read_text())["epoch"] == 3


def test_bad_adapt_options():
    for options, message in [({"select_on": "test"}, "select_on"), ({"d_every": 0}, "d_every"),
                             ({"target_devices": []}, "target_devices"), ({"cls_loss_w": -1}, "cls_loss_w"),
                             ({"map_loss_w": -1}, "map_loss_w"), ({"gamma": 1}, "unknown adapt"),
                             ({"discriminator": {"layers": 2}}, "unknown option"),
                             ({"discriminator": {"hidden": 64}}, "hidden")]:
        with pytest.raises(ValueError, match=message):
            AdaptConfig.from_dict(options)
    assert AdaptConfig.from_dict({"target_devices": "b c"}).target_devices == ["b", "c"]


# ---------------------------------------------------------------- the tool and the step

@pytest.fixture(scope="module")
def source_exp(tmp_path_factory, dumps):
    """A trained source system's exp dir (steps/train_nnet.sh's files), 3 epochs."""
    from dcase_tk.bin import train_nnet
    from dcase_tk.features import cmvn
    root = tmp_path_factory.mktemp("source")
    stats = root / "cmvn.ark"
    cmvn.write(str(stats), cmvn.accumulate([np.zeros((2, 10), dtype=np.float32), np.ones((2, 10), dtype=np.float32)]))
    system = {"features": "toy", "input": {"frames": 50}, "model": MODEL,
              "training": {"epochs": 3, "batch_size": 8, "lr": 0.01}, "published": {"1b": 45.6},
              "mini_corpus": {"training": {"epochs": 1}}}
    (root / "sys.yaml").write_text(yaml.safe_dump(system))
    train_nnet.main(["--verbose", "0", "--config", str(root / "sys.yaml"), "--cmvn", str(stats),
                     str(dumps["source_train"]), str(dumps["source_valid"]), str(root / "exp")])
    return root / "exp"


ADAPT_SYSTEM = {"description": "toy adaptation", "features": "toy",
                "adapt": {"from": "toy_source", "target_devices": ["b", "c"], "source_batch": 8, "target_batch": 4,
                          "d_every": 2, "epochs": 2, "lr": 0.001, "d_lr": 0.001},
                "published": {"1b": 25.3}}


def adapt_args(dumps, source_exp, config, out):
    return ["--verbose", "0", "--config", str(config), "--init", str(source_exp / "final.pt"),
            *(str(dumps[k]) for k in ("source_train", "source_valid", "target_train", "target_valid")), str(out)]


def test_adapt_nnet_writes_an_exp_dir_that_infer_uses(tmp_path, dumps, source_exp):
    from dcase_tk.bin import adapt_nnet
    config = tmp_path / "adv.yaml"
    config.write_text(yaml.safe_dump(ADAPT_SYSTEM))
    out = tmp_path / "exp"
    adapt_nnet.main(adapt_args(dumps, source_exp, config, out))
    for name in ("final.pt", "final.json", "history.csv", "curves.png", "classes.txt", "cmvn.ark"):
        assert (out / name).is_file(), name
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["model"] == MODEL and resolved["input"]["dim"] == 10 and resolved["classes"] == CLASSES
    assert resolved["published"] == {"1b": 25.3} and "mini_corpus" not in resolved
    assert resolved["adapt"]["from"] == "toy_source" and resolved["adapt"]["init"].endswith("final.pt")
    assert (out / "cmvn.ark").read_bytes() == (source_exp / "cmvn.ark").read_bytes()
    model, _ = load_trained(str(out), "cpu")
    adapted = torch.load(out / "final.pt", weights_only=True)
    source = torch.load(source_exp / "final.pt", weights_only=True)
    assert all(torch.equal(adapted[k], source[k]) for k in adapted if k.startswith("classifier."))
    assert not torch.equal(adapted["features.0.weight"], source["features.0.weight"])
    scorer, dataset, _ = scorer_for(str(out), str(dumps["target_valid"]), "cpu")
    assert scorer.score(dataset, range(len(dataset))).shape == (18, 3)
    # more epochs later: the run goes on from its checkpoint (a changed option starts over)
    first = history(out)
    adapt_nnet.main(adapt_args(dumps, source_exp, config, out) + ["--adapt.epochs", "3"])
    assert history(out)[:2] == first and len(history(out)) == 3


def test_adapt_nnet_errors_are_clear(tmp_path, dumps, source_exp):
    from dcase_tk.bin import adapt_nnet
    config = tmp_path / "adv.yaml"

    def fails(system, message, init=None, target=None):
        config.write_text(yaml.safe_dump(system))
        args = adapt_args(dumps, source_exp, config, tmp_path / "exp")
        if init:
            args[args.index("--init") + 1] = str(init)
        if target:
            args[-3] = str(target)
        with pytest.raises(ToolError, match=message):
            adapt_nnet.main(args)

    fails({"description": "x"}, "needs an 'adapt:' section")
    fails({**ADAPT_SYSTEM, "features": "other"}, "names features 'other'")
    fails({**ADAPT_SYSTEM, "adapt": {**ADAPT_SYSTEM["adapt"], "target_devices": ["b", "z"]}},
          r"no clips of target device\(s\) \['z'\]")
    fails(ADAPT_SYSTEM, "no such file; train the source system first", init=tmp_path / "none" / "final.pt")
    no_devices = tmp_path / "no_devices"
    no_devices.mkdir()
    for name in ("feats.scp", "classes.txt"):
        (no_devices / name).write_text((dumps["target_train"] / name).read_text())
    fails(ADAPT_SYSTEM, "utt2device not found", target=no_devices)
    # a source model without the encode/classify split
    other = tmp_path / "other"
    other.mkdir()
    for name in ("cmvn.ark", "classes.txt"):
        (other / name).write_bytes((source_exp / name).read_bytes())
    resolved = yaml.safe_load((source_exp / "config.yaml").read_text())
    resolved["model"] = {"name": "sins_baseline"}
    (other / "config.yaml").write_text(yaml.safe_dump(resolved))
    torch.save(build_model(resolved["model"], 10, 3, 50).state_dict(), other / "final.pt")
    fails(ADAPT_SYSTEM, "no encode.*classify.* split", init=other / "final.pt")


def test_step_runs_once_then_skips(tmp_path, dumps, source_exp):
    config = tmp_path / "adv.yaml"
    config.write_text(yaml.safe_dump(ADAPT_SYSTEM))
    paths = " ".join(str(dumps[k]) for k in ("source_train", "source_valid", "target_train", "target_valid"))
    cmd = (f". {ROOT}/path.sh && adapt_nnet.sh --system_config {config} --init {source_exp}/final.pt "
           f"--adapt_opts '--adapt.epochs 1' {paths} {tmp_path}/exp")
    first = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    log = (tmp_path / "exp" / "train.log").read_text()
    assert "--adapt.epochs 1" in log and "# Ended (code 0)" in log
    assert len(history(tmp_path / "exp")) == 1
    again = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    missing = subprocess.run(["bash", "-c", cmd.replace(f"{source_exp}/final.pt", f"{tmp_path}/none/final.pt")],
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "train it first" in missing.stderr

