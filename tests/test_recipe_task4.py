"""The Task 4 recipe end to end on its mini corpus: the baseline's two passes (pseudo-labels of
the unlabelled clips), cnn8_sed's SED1/SED2 decodings, post-processing tuned on test_tune,
event-based F1 as sed_eval gives it, event rolls, submissions, skipping and resuming; then the
other published systems, trained briefly on the same features: mil (the multi-instance
objective), gcrnn_vat (VAT with unlabelled clips, SALR) and distillation (pseudo weak labels,
smoothed frame targets, per-class merge)."""
import csv
import json
import os
import shutil
import signal
import time

import kaldiio
import numpy as np
import pytest
import sed_eval
import torch
import yaml

from dcase_tk.io.posteriors import read_frame_posteriors
from dcase_tk.io.scores import read_decode_dir
from helpers import clips, copy_recipe, run_recipe, start_recipe

SYSTEMS = "baseline cnn8_sed"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    recipe = copy_recipe("dcase2018_task4", tmp_path_factory.mktemp("t4") / "recipe")
    # no system trains on out-of-domain clips: a few, for data prep
    result = run_recipe(recipe, "--systems", SYSTEMS, "--nj", 2, "--mini_corpus_opts",
                        "--eval-clips 6 --unlabel-out-of-domain 4")
    assert result.returncode == 0, result.stdout[-5000:]
    return recipe


def result(recipe, system, set_name):
    return json.loads((recipe / "exp/4" / system / set_name / "result.json").read_text())


def lines(path):
    return path.read_text().splitlines()


def test_splits_partition_the_weak_and_the_test_clips(recipe):
    data = recipe / "data/4"
    for whole, parts in (("weak", ("weak_tr", "weak_cv")), ("test", ("test_tune", "test_rest"))):
        a, b = (set(clips(data / p)) for p in parts)
        assert a and b and not a & b and a | b == set(clips(data / whole))
    assert len(clips(data / "weak_cv")) == 20 and len(clips(data / "test_tune")) == 20


def test_baseline_event_f1_beats_sed1_decoding_of_the_same_model(recipe):
    frames, sed1 = result(recipe, "baseline", "test"), result(recipe, "baseline", "test_sed1")
    assert frames["event_macro_f1"] > sed1["event_macro_f1"], (frames["event_macro_f1"], sed1["event_macro_f1"])
    # the same model: both decodings read the same posteriors, whose clip scores give the same tags
    assert frames["tagging_macro_auc"] == sed1["tagging_macro_auc"]
    assert frames["event_macro_f1"] > 0.05          # 9.5 % at the last measurement


def test_second_pass_learns_the_first_pass_tags_of_the_unlabelled_clips(recipe):
    exp = recipe / "exp/4/baseline"
    _, utts, scores = read_decode_dir(exp / "pass2/decode_unlabel_in_domain")
    classes = lines(exp / "classes.txt")
    expected = [" ".join([u] + [c for c, p in zip(classes, row) if p >= 0.5]) for u, row in zip(utts, scores)]
    assert lines(exp / "pass2/data_unlabel_in_domain/utt2labels") == expected
    assert sum(len(line.split()) > 1 for line in expected) > len(expected) // 2     # most clips tagged
    assert "objective: frames" in (exp / "pass2/system.yaml").read_text()
    assert os.path.realpath(exp / "final.pt") == str((exp / "pass2/final.pt").resolve())
    assert "train 60 clips" in (exp / "pass2/train.log").read_text()


def sed_eval_f1(reference, estimated, utts, classes):
    """Event-based macro F1 of sed_eval itself on the recipe's event files, a class without
    estimated events scoring 0 (``zero_score``, as the Task 4 baseline's evaluation)."""
    metric = sed_eval.sound_event.EventBasedMetrics(classes, t_collar=0.2, percentage_of_length=0.2,
                                                    empty_system_output_handling="zero_score")

    def events(path, utt):
        return [{"filename": utt, "onset": float(on), "offset": float(off), "event_label": label}
                for u, on, off, label in (line.split() for line in lines(path)) if u == utt]

    for utt in utts:
        metric.evaluate(events(reference, utt), events(estimated, utt))
    return metric.results_class_wise_average_metrics()["f_measure"]["f_measure"]


def test_event_f1_is_sed_eval_s(recipe):
    data, classes = recipe / "data/4/test", lines(recipe / "data/4/test/classes.txt")
    for system, set_name in (("baseline", "test"), ("cnn8_sed", "test_sed2")):
        got = result(recipe, system, set_name)["event_macro_f1"]
        expected = sed_eval_f1(data / "events", recipe / "exp/4" / system / set_name / "events", clips(data), classes)
        assert got == pytest.approx(expected, abs=1e-9)


def test_cnn8_sed1_and_sed2_decodings(recipe):
    exp = recipe / "exp/4/cnn8_sed"
    sed1 = [line.split() for line in lines(exp / "test/events")]
    assert sed1 and all(float(on) == 0.0 and float(off) == 4.0 for _, on, off, _ in sed1)   # whole clips
    sed2 = [line.split() for line in lines(exp / "test_sed2/events")]
    assert any(float(off) - float(on) < 3.0 for _, on, off, _ in sed2)
    rows = (recipe / "RESULTS.md").read_text()
    assert "| 4 | cnn8_sed | test | 40 |" in rows and "| 20.8 |" in rows and "| 9.8 |" in rows


def test_submission_and_event_rolls(recipe):
    out = recipe / "exp/4/baseline/test"
    header, *submission = lines(out / "submission.csv")
    events = [line.split() for line in lines(out / "events")]
    assert header.split("\t") == ["filename", "onset", "offset", "event_label"]
    assert [row.split("\t") for row in submission] == [[f"{u}.wav", on, off, c] for u, on, off, c in events]
    plots = sorted((out / "plots").glob("*.png"))
    assert len(plots) == 4 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)


def test_evaluation_set_gets_events_a_submission_and_scores(recipe):
    eval_clips = clips(recipe / "data/4/eval")
    assert len(eval_clips) == 6
    for system in SYSTEMS.split():
        out = recipe / "exp/4" / system / "eval"
        assert sorted(lines(out / "utts")) == sorted(eval_clips)
        submitted = {row.split("\t")[0] for row in lines(out / "submission.csv")[1:]}     # after the header
        assert submitted <= {f"{c}.wav" for c in eval_clips}
        assert result(recipe, system, "eval")["n_utts"] == 6


def test_post_processing_tuned_on_test_tune_and_scored_on_test_rest(recipe):
    exp = recipe / "exp/4/baseline"
    tuned = (exp / "tune/postprocess.yaml").read_text()
    assert "threshold:" in tuned and "Vacuum_cleaner" in tuned
    rest = clips(recipe / "data/4/test_rest")
    for name in ("test_rest", "test_rest_tuned"):
        assert result(recipe, "baseline", name)["n_utts"] == len(rest)
    assert sorted(lines(exp / "test_rest_tuned/utts")) == sorted(rest)
    rows = (recipe / "RESULTS.md").read_text()
    assert "| 4 | baseline | test_rest_tuned | 20 |" in rows and "| 14.06 |" in rows


def test_rerun_skips_finished_work(recipe):
    stamp = (recipe / "exp/4/baseline/pass2/final.pt").stat().st_mtime_ns
    t0 = time.monotonic()
    r = run_recipe(recipe, "--systems", SYSTEMS, "--nj", 2, "--stage", 1)
    assert r.returncode == 0, r.stdout[-3000:]
    assert (recipe / "exp/4/baseline/pass2/final.pt").stat().st_mtime_ns == stamp
    assert "computing features" not in r.stdout
    log = (recipe / "exp/4/baseline/log/train_sed.log").read_text()
    assert "training exp" not in log and "pass1: up to date" in log and "pass2: up to date" in log
    assert time.monotonic() - t0 < 120


def wait_for(path, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"run.sh ended ({proc.returncode}) before {path} appeared"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


def test_killed_pseudo_labelling_pass_resumes(recipe, tmp_path):
    """Kill the baseline while its second pass trains; the re-run skips the first pass and the
    pseudo-labels, resumes the second pass's training and ends with the unbroken run's weights."""
    copy = tmp_path / "recipe"
    shutil.copytree(recipe, copy, symlinks=True)
    pass2 = copy / "exp/4/baseline/pass2"
    shutil.rmtree(pass2 / "checkpoints")
    for name in ("final.pt", ".done", "train.log"):
        (pass2 / name).unlink()
    proc = start_recipe(copy, "--systems", "baseline", "--stage", 5, "--stop_stage", 5)
    wait_for(pass2 / "checkpoints/epoch_0002.pt", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (pass2 / "final.pt").exists()
    r = run_recipe(copy, "--systems", "baseline", "--stage", 5, "--stop_stage", 5)
    assert r.returncode == 0, r.stdout[-3000:]
    log = (copy / "exp/4/baseline/log/train_sed.log").read_text()
    assert "resuming from" in (pass2 / "train.log").read_text()
    assert "exp/4/baseline/pass1: up to date" in log and "pass2/data_unlabel_in_domain: up to date" in log
    unbroken = torch.load(recipe / "exp/4/baseline/pass2/final.pt", weights_only=True)
    resumed = torch.load(pass2 / "final.pt", weights_only=True)
    for key in unbroken:
        np.testing.assert_array_equal(resumed[key].numpy(), unbroken[key].numpy())


@pytest.fixture(scope="module")
def others(recipe):
    """mil and distillation, 2 epochs of 4 steps a training (the tests check what they train on
    and how their outputs are made, not how well), and gcrnn_vat as its mini_corpus section
    trains it (SALR needs clips it tags to adapt to; half of that training tags 2 classes, the
    whole 7), in the recipe of the tests above."""
    brief = ["--train_opts", "--training.epochs 2 --training.steps_per_epoch 4"]
    for systems, opts in (("mil distillation", brief), ("gcrnn_vat", [])):
        result = run_recipe(recipe, "--systems", systems, "--nj", 2, *opts)
        assert result.returncode == 0, result.stdout[-5000:]
    return recipe


def test_every_system_is_scored_on_the_test_clips(others):
    rows = (others / "RESULTS.md").read_text()
    for system, sets in (("mil", ("test", "test_rest", "test_rest_tuned")), ("gcrnn_vat", ("test", "test_salr")),
                         ("distillation", ("test", "test_rest"))):
        for set_name in sets:
            result = json.loads((others / "exp/4" / system / set_name / "result.json").read_text())
            scored = "test_rest" if set_name.startswith("test_rest") else "test"
            assert result["n_utts"] == len(clips(others / "data/4" / scored))
            assert f"| 4 | {system} | {set_name} |" in rows


def test_mil_trains_on_the_multi_instance_objective(others):
    config = (others / "exp/4/mil/config.yaml").read_text()
    assert "objective: mil" in config and "pooling: mil_max" in config


def test_gcrnn_vat_uses_the_unlabelled_clips_and_salr_picks_per_class_values(others):
    exp = others / "exp/4/gcrnn_vat"
    assert "unlabelled 60 clips" in (exp / "vat/train.log").read_text()
    with open(exp / "vat/history.csv") as f:
        history = list(csv.DictReader(f))
    assert all(float(row["train_vat"]) > 0 for row in history)
    classes = lines(exp / "classes.txt")
    with open(exp / "salr/search.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    tuned = yaml.safe_load((exp / "salr/postprocess.yaml").read_text())["postprocess"]
    adapted = 0
    for i, c in enumerate(classes):
        candidates = [r for r in rows if r["class"] == c and r["loss"]]
        chosen = [r for r in rows if r["class"] == c and r["chosen"] == "1"]
        if candidates:          # a class the model tags in some test clip: its lowest loss wins
            adapted += 1
            assert len(chosen) == 1 and float(chosen[0]["loss"]) == min(float(r["loss"]) for r in candidates)
            assert (tuned["threshold"][i], tuned["median"][i]) == (float(chosen[0]["threshold"]),
                                                                   float(chosen[0]["median"]))
        else:                   # no sample to judge by: the postprocess: section's values
            assert not chosen and (tuned["threshold"][i], tuned["median"][i]) == (0.5, 0.0)
    assert adapted >= 3


def test_distillation_students_learn_smoothed_frame_targets_and_merge_per_class(others):
    exp = others / "exp/4/distillation"
    # pass1 trains on the weak clips and the in-domain clips the tagger tagged
    pseudo = lines(exp / "pass1/data_unlabel_in_domain/utt2labels")
    assert len(pseudo) == len(clips(others / "data/4/unlabel_in_domain"))
    assert "train 140 clips" in (exp / "pass1/train.log").read_text()
    # each student trains on pass1's frame posteriors, smoothed and masked by the clip's labels
    for student in ("deep2", "shallow2"):
        assert "frame targets from" in (exp / student / "train.log").read_text()
    classes, _, posteriors = read_frame_posteriors(exp / "deep2/decode_unlabel_in_domain")
    labels = {line.split()[0]: set(line.split()[1:]) for line in pseudo}
    targets = kaldiio.load_scp(str(exp / "deep2/data_unlabel_in_domain/frame_targets.scp"))
    for utt, matrix in posteriors.items():
        masked = [i for i, c in enumerate(classes) if c not in labels[utt]]
        assert not np.any(targets[utt][:, masked])
        assert targets[utt].shape == matrix.shape
    # per class, the merged posteriors are the member's with the best test_tune F1
    with open(exp / "decode/test/selection.tsv") as f:
        selection = list(csv.DictReader(f, delimiter="\t"))
    assert [row["class"] for row in selection] == classes
    merged = read_frame_posteriors(exp / "decode/test")[2]
    members = {m: read_frame_posteriors(exp / "merge" / m / "decode/test")[2] for m in ("deep2", "shallow2")}
    for c, row in enumerate(selection):
        member = "deep2" if "deep2" in row["apply_dir"] else "shallow2"
        f1 = {m: json.loads((exp / "merge" / m / "test_tune/result.json").read_text())
              ["event_based"]["per_class"][classes[c]]["f1"] for m in members}
        assert (f1[member] or 0) >= max(v or 0 for v in f1.values())
        for utt, matrix in merged.items():
            np.testing.assert_allclose(matrix[:, c], members[member][utt][:, c], atol=1e-6)
