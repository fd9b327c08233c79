"""Task 1 subtask B (mismatched devices) end to end on its mini corpus, run once: per-device
figures and the B+C average, the target-domain data dirs, and adversarial domain adaptation
(adv_da) of the device-A baseline to devices B and C, whose recordings the mini corpus colours
differently from A's (local/dcase2018_task1/make_mini_corpus.py, DEVICE_COLOURING)."""
import json

import pytest
import torch
import yaml

from helpers import copy_recipe, run_recipe

# The source model, cheaper than the baseline's mini-corpus configuration (100 epochs of 500
# frames) so that the module fits CI's time: the first 250 frames, fewer epochs, a larger step
# and less dropout. adv_da adapts it with its own mini_corpus: overrides (conf/systems/adv_da.yaml).
SOURCE_OPTS = ("--training.epochs 30 --training.select_after_epoch 10 --training.lr 0.002 --model.dropout 0.1 "
               "--input.frames 250 --model.pool_sizes [[5,5],[4,50]]")


@pytest.fixture(scope="module")
def recipe_b(tmp_path_factory):
    recipe = copy_recipe("dcase2018_task1", tmp_path_factory.mktemp("t1b") / "recipe")
    r = run_recipe(recipe, "--subtask", "b", "--nj", 2, "--systems", "baseline adv_da", "--train_opts", SOURCE_OPTS)
    assert r.returncode == 0, r.stdout[-5000:]
    return recipe, r.stdout


def read_result(recipe, system):
    return json.loads((recipe / "exp/1b" / system / "test/result.json").read_text())


def table(path):
    """``{key: first value}`` of a Kaldi table."""
    return dict(line.split()[:2] for line in path.read_text().splitlines())


def test_subtask_b_reports_devices_and_bc_average(recipe_b):
    recipe, _ = recipe_b
    result = read_result(recipe, "baseline")
    assert set(result["per_device"]) == {"a", "b", "c"}
    bc = [result["per_device"][d]["class_avg_accuracy"] for d in ("b", "c")]
    assert result["device_average"]["devices"] == ["b", "c"]
    assert result["device_average"]["class_avg_accuracy"] == pytest.approx(sum(bc) / 2)
    text = (recipe / "exp/1b/baseline/test/result.txt").read_text()
    assert "dev a" in text and "dev b" in text and "dev c" in text and "avg b+c" in text
    train_devices = set(table(recipe / "data/1b/train_deva_tr/utt2device").values())
    assert train_devices == {"a"}                                  # the baseline trains on device A only
    assert "| 1b | baseline | test |" in (recipe / "RESULTS.md").read_text()


def test_target_domain_is_the_other_devices_split_by_the_source_locations(recipe_b):
    recipe, _ = recipe_b
    data = recipe / "data/1b"
    groups = lambda d: set(table(data / d / "utt2spk").values())
    for part, source in (("train_target_tr", "train_deva_tr"), ("train_target_cv", "train_deva_cv")):
        devices = table(data / part / "utt2device")
        assert set(devices.values()) == {"b", "c"}
        assert groups(part) <= groups(source)                     # no validation location in training
        feats = table(recipe / "dump/1b/logmel40_44k" / part / "feats.scp")
        assert set(feats) == set(devices)
    assert not groups("train_target_cv") & groups("train_deva_tr")
    assert not (groups("train_target_tr") | groups("train_target_cv")) & groups("test")
    every = set(table(data / "train/utt2device")) - set(table(data / "train_deva/utt2device"))
    assert set(table(data / "train_target_tr/utt2device")) | set(table(data / "train_target_cv/utt2device")) == every


def test_adv_da_raises_bc_accuracy_over_the_unadapted_baseline(recipe_b):
    recipe, output = recipe_b
    assert "Stage 6: adversarial adaptation of baseline" in output
    baseline, adapted = read_result(recipe, "baseline"), read_result(recipe, "adv_da")
    before = baseline["device_average"]["class_avg_accuracy"]
    after = adapted["device_average"]["class_avg_accuracy"]
    assert after > before, (before, after, adapted["per_device"])
    # the adapted model is the source's architecture, its label classifier kept as trained
    config = yaml.safe_load((recipe / "exp/1b/adv_da/config.yaml").read_text())
    source = yaml.safe_load((recipe / "exp/1b/baseline/config.yaml").read_text())
    assert config["model"] == source["model"] and config["input"] == source["input"]
    assert config["adapt"]["from"] == "baseline" and config["adapt"]["init"] == "exp/1b/baseline/final.pt"
    a = torch.load(recipe / "exp/1b/adv_da/final.pt", weights_only=True)
    b = torch.load(recipe / "exp/1b/baseline/final.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) == k.startswith("classifier.") for k in a if k.endswith("weight"))
    summary = json.loads((recipe / "exp/1b/adv_da/final.json").read_text())
    assert summary["select_on"] == "target" and "valid_accuracy" in summary["unadapted"]
    rows = (recipe / "RESULTS.md").read_text()
    assert f"| 1b | adv_da | test | 100 | {100 * adapted['class_avg_accuracy']:.1f} |" in rows
    assert [line for line in rows.splitlines() if line.startswith("| 1b | adv_da |")][0].endswith("| 25.3 |")


def test_adaptation_systems_say_what_they_need(recipe_b):
    recipe, _ = recipe_b
    r = run_recipe(recipe, "--stage", 6, "--systems", "adv_da")             # subtask a
    assert r.returncode != 0 and "adv_da adapts baseline to other devices: it is for --subtask b" in r.stdout
    (recipe / "conf/systems/fresh.yaml").write_text((recipe / "conf/systems/baseline.yaml").read_text())
    (recipe / "conf/systems/adv_fresh.yaml").write_text(
        (recipe / "conf/systems/adv_da.yaml").read_text().replace("from: baseline", "from: fresh"))
    r = run_recipe(recipe, "--subtask", "b", "--stage", 6, "--stop_stage", 6, "--systems", "adv_fresh")
    assert r.returncode != 0
    assert "adv_fresh adapts fresh, which is not trained" in r.stdout and '--systems "fresh adv_fresh"' in r.stdout
