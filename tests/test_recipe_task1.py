"""The Task 1 recipe end to end on its mini corpus: accuracy, skipping, kill and resume,
failing jobs, Slurm, and a custom stage (subtask B: test_recipe_task1b.py)."""
import json
import os
import signal
import subprocess
import sys
import time

import kaldiio
import numpy as np
import pytest
import torch

from helpers import copy_recipe, run_recipe, start_recipe

FEATS = "dump/1a/logmel40_48k"
CHANCE = 0.1


@pytest.fixture(scope="module")
def recipe_a(tmp_path_factory):
    """One unbroken run of subtask A on the mini corpus, shared by the tests below."""
    recipe = copy_recipe("dcase2018_task1", tmp_path_factory.mktemp("t1") / "recipe")
    result = run_recipe(recipe, "--nj", 2)
    assert result.returncode == 0, result.stdout[-5000:]
    return recipe, result.stdout


def read_result(recipe, subtask="1a", system="baseline"):
    return json.loads((recipe / "exp" / subtask / system / "test" / "result.json").read_text())


def test_mini_corpus_accuracy_well_above_chance(recipe_a):
    recipe, output = recipe_a
    assert "SYNTHETIC MINI CORPUS" in output
    result = read_result(recipe)
    assert result["n_utts"] == 60
    assert result["class_avg_accuracy"] >= 0.5, result["per_class"]      # chance is 0.1
    assert "class average" in output                                      # the table was printed
    row = [line for line in (recipe / "RESULTS.md").read_text().splitlines() if line.startswith("| 1a | baseline |")]
    assert row and f"| {100 * result['class_avg_accuracy']:.1f} |" in row[0] and row[0].endswith("| 59.7 |")
    classes = (recipe / "data/1a/test/classes.txt").read_text().split()
    submission = (recipe / "exp/1a/baseline/test/submission.txt").read_text().splitlines()
    test_utts = [line.split()[0] for line in (recipe / "data/1a/test/wav.scp").read_text().splitlines()]
    assert [s.split("\t")[0] for s in submission] == [f"audio/{u}.wav" for u in test_utts]
    assert all(s.split("\t")[1] in classes for s in submission)


def test_data_and_features_follow_the_contracts(recipe_a):
    recipe, _ = recipe_a
    groups = lambda d: {line.split()[1] for line in (recipe / d / "utt2spk").read_text().splitlines()}
    assert not groups("data/1a/train") & groups("data/1a/test")
    assert not groups("data/1a/train_tr") & groups("data/1a/train_cv")
    assert groups("data/1a/train_tr") | groups("data/1a/train_cv") == groups("data/1a/train")
    feats = kaldiio.load_scp(str(recipe / FEATS / "test" / "feats.scp"))
    assert len(feats) == 60 and all(feats[u].shape == (501, 40) for u in feats)
    assert (recipe / FEATS / "test" / "frame_shift").read_text().strip() == "0.02"
    stats = kaldiio.load_mat(str(recipe / FEATS / "train_tr" / "cmvn.ark"))
    assert stats.shape == (2, 41) and stats[0, -1] == 501 * len(
        (recipe / "data/1a/train_tr/wav.scp").read_text().splitlines())
    config = (recipe / "exp/1a/baseline/config.yaml").read_text()
    assert "epochs: 100" in config and "name: cnn_baseline" in config


def test_subtask_c_prepares_the_subtask_a_release(recipe_a):
    recipe, _ = recipe_a
    r = run_recipe(recipe, "--subtask", "c", "--stop_stage", 1)
    assert r.returncode == 0, r.stdout[-3000:]
    for name in ("train", "test"):
        assert (recipe / "data/1c" / name / "utt2label").read_text() == \
            (recipe / "data/1a" / name / "utt2label").read_text()


def external_clips(recipe, tmp_path, **changes):
    """A data dir of external labelled clips: a second mini corpus, recorded in other cities,
    prepared like the corpus (its train dir), with ``changes`` to its files."""
    python = [sys.executable]
    subprocess.run(python + ["local/make_mini_corpus.py", "--subtask", "a", "--seed", "3", "--cities", "lyon",
                             "--locations-per-class-city", "2", "--segments-per-location", "1", str(tmp_path / "ext")],
                   cwd=recipe, check=True, capture_output=True)
    release = next(p for p in (tmp_path / "ext").iterdir() if p.is_dir())
    subprocess.run(python + ["local/prepare_data.py", "--subtask", "a", str(release), str(tmp_path / "extdata")],
                   cwd=recipe, check=True, capture_output=True)
    for name, text in changes.items():
        (tmp_path / "extdata/train" / name).write_text(text)
    return tmp_path / "extdata/train"


def utts(path):
    return [line.split()[0] for line in path.read_text().splitlines()]


def test_subtask_c_adds_external_data_to_training_only(recipe_a, tmp_path):
    recipe, _ = recipe_a
    external = external_clips(recipe, tmp_path)
    added = utts(external / "wav.scp")
    r = run_recipe(recipe, "--subtask", "c", "--external_data", external, "--stop_stage", 3, "--nj", 2)
    assert r.returncode == 0, r.stdout[-3000:]
    data_a, data_c = recipe / "data/1a", recipe / "data/1c"
    # the validation split is the challenge's own clips, as in subtask A; the training part gains
    # every external clip
    assert utts(data_c / "train_cv/wav.scp") == utts(data_a / "train_cv/wav.scp")
    assert sorted(utts(data_c / "train_tr/wav.scp")) == sorted(utts(data_a / "train_tr/wav.scp") + added)
    feats = kaldiio.load_scp(str(recipe / "dump/1c/logmel40_48k/train_tr/feats.scp"))
    assert set(added) <= set(feats) and all(feats[u].shape == (501, 40) for u in added)
    stats = kaldiio.load_mat(str(recipe / "dump/1c/logmel40_48k/train_tr/cmvn.ark"))
    assert stats[0, -1] == 501 * len(feats)                      # the statistics count them too
    # external clips scored against other classes are refused, naming the file
    bad = external_clips(recipe, tmp_path / "bad", **{"classes.txt": "airport\nbeach\n"})
    r = run_recipe(recipe, "--subtask", "c", "--external_data", bad, "--stop_stage", 1)
    assert r.returncode != 0 and "classes.txt" in r.stdout
    r = run_recipe(recipe, "--subtask", "a", "--external_data", external, "--stop_stage", 1)
    assert r.returncode != 0 and "--external_data is for --subtask c" in r.stdout


def test_rerun_does_no_work_and_says_so(recipe_a):
    recipe, _ = recipe_a
    watched = [recipe / "exp/1a/baseline/final.pt", recipe / FEATS / "train/data/raw_feats.1.ark",
               recipe / "exp/1a/baseline/test/score", recipe / "data/1a/train/wav.scp"]
    before = [p.stat().st_mtime_ns for p in watched]
    result = run_recipe(recipe, "--nj", 2)
    assert result.returncode == 0, result.stdout[-3000:]
    skipped = [line for line in result.stdout.splitlines() if "up to date" in line]
    # corpus, data, train and test features, the tr/cv subsets, cmvn, training, inference, scoring
    assert len(skipped) == 10, result.stdout
    assert "computing features" not in result.stdout and "training exp" not in result.stdout
    assert [p.stat().st_mtime_ns for p in watched] == before


def wait_for(path, proc, timeout=300):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, f"run.sh ended (code {proc.returncode}) before {path} appeared"
        assert time.time() - t0 < timeout, f"{path} did not appear in {timeout} s"
        time.sleep(0.05)


SLURM_CMD = 'export train_cmd="slurm.py --config conf/slurm.conf"\n'
# few epochs: the kill-and-resume test below trains the same and compares with this run
SLURM_OPTS = ["--nj", 2, "--train_opts", "--training.epochs 6 --training.select_after_epoch 1"]


def squeue(slurm_cluster):
    return subprocess.run(["squeue", "-h", "-o", "%i %j %T"], env={**os.environ, **slurm_cluster},
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def slurm_recipe(recipe_a, slurm_cluster, tmp_path_factory):
    """The recipe run with cmd.sh set to the Slurm launcher, on recipe_a's corpus. The first run
    meets a feature job that fails (its ark path is a directory); the second, after the fix,
    re-submits only that array task and finishes stages 2-8."""
    reference, _ = recipe_a
    recipe = copy_recipe("dcase2018_task1", tmp_path_factory.mktemp("t1slurm") / "recipe")
    (recipe / "cmd.sh").write_text(SLURM_CMD)
    env = {**slurm_cluster, "TUT2018_DEV": str(reference / "corpus/mini/TUT-urban-acoustic-scenes-2018-development")}
    blocked = recipe / FEATS / "train/data/raw_feats.2.ark"
    blocked.mkdir(parents=True)
    failed = run_recipe(recipe, *SLURM_OPTS, env=env)
    assert failed.returncode != 0
    assert squeue(slurm_cluster) == ""
    blocked.rmdir()
    job1 = (recipe / FEATS / "train/log/make_feats.1.log").stat().st_mtime_ns
    result = run_recipe(recipe, *SLURM_OPTS, env=env)
    assert result.returncode == 0, result.stdout[-5000:]
    return recipe, env, failed.stdout, job1


def test_slurm_recipe_reruns_only_the_failed_feature_task(slurm_recipe):
    recipe, _, failed, job1 = slurm_recipe
    log = recipe / FEATS / "train/log/make_feats.2.log"
    assert "1 of 2 jobs failed" in failed and "IsADirectoryError" in failed
    assert f"{FEATS}/train/log/make_feats.2.log" in failed
    submitted = (recipe / FEATS / "train/log/q/make_feats.sh").read_text()
    assert "sbatch " in submitted and "--array=2 " in submitted          # job 2 alone, re-submitted
    assert (recipe / FEATS / "train/log/make_feats.1.log").stat().st_mtime_ns == job1
    assert "# Ended (code 0)" in log.read_text()


def test_slurm_recipe_features_are_byte_identical_to_local(recipe_a, slurm_recipe):
    reference, _ = recipe_a
    recipe = slurm_recipe[0]
    for subset in ("train", "test"):
        arks = sorted((reference / FEATS / subset / "data").glob("raw_feats.*.ark"))
        assert [a.name for a in arks] == ["raw_feats.1.ark", "raw_feats.2.ark"]
        for ark in arks:
            assert (recipe / FEATS / subset / "data" / ark.name).read_bytes() == ark.read_bytes()
    for subset in ("train", "train_tr", "train_cv", "test"):
        local = (reference / FEATS / subset / "feats.scp").read_text()
        assert (recipe / FEATS / subset / "feats.scp").read_text() == local.replace(str(reference), str(recipe))


def test_slurm_recipe_trains_and_scores_through_array_jobs(slurm_recipe):
    recipe = slurm_recipe[0]
    for script in (FEATS + "/test/log/q/make_feats.sh", "exp/1a/baseline/q/train.sh",
                   "exp/1a/baseline/test/q/infer.sh"):
        assert "sbatch --export=ALL" in (recipe / script).read_text(), script
    assert "# Ended (code 0)" in (recipe / "exp/1a/baseline/train.log").read_text()
    assert (recipe / "exp/1a/baseline/q/train.1.out").exists()           # slurmd ran it
    result = read_result(recipe)
    assert result["n_utts"] == 60 and result["class_avg_accuracy"] > CHANCE
    assert f"| 1a | baseline | test | 60 | {100 * result['class_avg_accuracy']:.1f} |" in \
        (recipe / "RESULTS.md").read_text()


def test_ctrl_c_cancels_the_slurm_training_job(slurm_recipe, slurm_cluster):
    recipe, env, _, _ = slurm_recipe
    proc = start_recipe(recipe, "--stage", 6, "--systems", "cnn4", env=env)
    started = recipe / "exp/1a/cnn4/train.log"          # written by the job, once running
    wait_for(started, proc)
    assert " train.sh RUNNING" in squeue(slurm_cluster)
    os.killpg(proc.pid, signal.SIGINT)                   # what Ctrl-C sends the terminal's group
    assert proc.wait(timeout=60) != 0
    assert squeue(slurm_cluster) == ""
    assert not (recipe / "exp/1a/cnn4/final.pt").exists()
    assert "# Ended" not in started.read_text()


def test_gpu_training_job_asks_slurm_for_a_gpu(slurm_recipe, slurm_cluster):
    """The test node has a GPU in Slurm's books only: the job is granted gres gpu:1 and then
    finds no CUDA device, which the trainer reports in one line."""
    recipe, env, _, _ = slurm_recipe
    step = (f". ./path.sh && steps/train_nnet.sh --cmd 'slurm.py --config conf/slurm.conf' --ngpu 1 "
            f"--system_config conf/systems/baseline.yaml {FEATS}/train_tr {FEATS}/train_cv exp/gpu")
    r = subprocess.run(["bash", "-c", step], cwd=recipe, capture_output=True, text=True, env={**os.environ, **env},
                       timeout=300)
    assert r.returncode != 0
    script = recipe / "exp/gpu/q/train.sh"
    assert "-p gpu --gres=gpu:1 " in script.read_text()
    jobs = subprocess.run(["scontrol", "-o", "show", "job"], env={**os.environ, **slurm_cluster},
                          capture_output=True, text=True, check=True).stdout.splitlines()
    record = [job for job in jobs if f"Command={script}" in job]
    assert len(record) == 1 and "Partition=gpu " in record[0] and "TresPerNode=gres:gpu:1" in record[0]
    log = (recipe / "exp/gpu/train.log").read_text()
    assert "--device cuda: no CUDA GPU is visible here" in log and "Run on a GPU node" in log
    assert "Traceback" not in log


def kill_tree(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_killed_during_features_and_training_resumes_to_same_outputs(recipe_a, slurm_recipe, tmp_path):
    """Killed in the feature step, then in training, the local run ends where the unbroken Slurm
    run of the same options ended (so this also shows Slurm and local training agree)."""
    reference = slurm_recipe[0]
    recipe = copy_recipe("dcase2018_task1", tmp_path / "recipe")
    corpus = recipe_a[0] / "corpus/mini/TUT-urban-acoustic-scenes-2018-development"
    env = {"TUT2018_DEV": str(corpus)}     # the same corpus, not built again

    proc = start_recipe(recipe, *SLURM_OPTS, env=env)
    wait_for(recipe / FEATS / "train/log/make_feats.1.log", proc)
    kill_tree(proc)
    assert not (recipe / FEATS / "train/.done").exists()
    for scp in (recipe / FEATS / "train/data").glob("*.scp"):       # whatever exists is whole
        assert all(m.shape == (501, 40) for m in kaldiio.load_scp(str(scp)).values())

    proc = start_recipe(recipe, *SLURM_OPTS, env=env)
    wait_for(recipe / "exp/1a/baseline/checkpoints/epoch_0002.pt", proc)
    kill_tree(proc)
    assert not (recipe / "exp/1a/baseline/final.pt").exists()

    result = run_recipe(recipe, *SLURM_OPTS, env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "resuming from" in (recipe / "exp/1a/baseline/train.log").read_text()
    a = torch.load(reference / "exp/1a/baseline/final.pt", weights_only=True)
    b = torch.load(recipe / "exp/1a/baseline/final.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (recipe / "exp/1a/baseline/test/score").read_text() == \
        (reference / "exp/1a/baseline/test/score").read_text()
    assert read_result(recipe) == read_result(reference)


def test_failed_feature_job_fails_the_step_with_its_log(recipe_a, tmp_path):
    recipe, _ = recipe_a
    out = tmp_path / "dump"
    (out / "data" / "raw_feats.2.ark").mkdir(parents=True)        # job 2 cannot write its ark
    step = ["bash", "-c", f". ./path.sh && steps/make_feats.sh --nj 2 --feat_config conf/feats/logmel40_48k.yaml "
                          f"data/1a/test {out}"]
    r = subprocess.run(step, cwd=recipe, capture_output=True, text=True)
    assert r.returncode != 0
    report = r.stdout + r.stderr
    assert "1 of 2 jobs failed" in report and f"{out}/log/make_feats.2.log" in report
    assert "IsADirectoryError" in report                              # the log's tail is shown
    assert not (out / "feats.scp").exists()
    job1 = (out / "log/make_feats.1.log").stat().st_mtime_ns
    (out / "data" / "raw_feats.2.ark").rmdir()
    r = subprocess.run(step, cwd=recipe, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "log/make_feats.1.log").stat().st_mtime_ns == job1      # only job 2 re-ran
    assert len((out / "feats.scp").read_text().splitlines()) == 60


MAJORITY_INFER = """#!/usr/bin/env bash
set -euo pipefail
while [[ $1 == --* ]]; do shift 2; done
dump=$2; out=$3
mkdir -p "$out"
cp "$dump/classes.txt" "$out/classes.txt"
label=$(cut -d' ' -f2 "$(dirname "$dump")/train_tr/utt2label" | sort | uniq -c | sort -rn | awk 'NR==1{print $2}')
awk -v l="$label" '{print $1, l}' "$dump/wav.scp" > "$out/decision"
"""


def test_custom_inference_stage(recipe_a):
    recipe, _ = recipe_a
    (recipe / "my_infer.sh").write_text(MAJORITY_INFER)
    (recipe / "my_infer.sh").chmod(0o755)
    (recipe / "conf/systems/majority.yaml").write_text("features: logmel40\n")
    r = run_recipe(recipe, "--stage", 7, "--systems", "majority", "--infer_script", "./my_infer.sh")
    assert r.returncode == 0, r.stdout[-3000:]
    assert read_result(recipe, system="majority")["class_avg_accuracy"] == pytest.approx(CHANCE)
    rows = (recipe / "RESULTS.md").read_text()
    assert "| 1a | baseline | test |" in rows and "| 1a | majority | test |" in rows


def test_unlabelled_evaluation_set_gets_a_submission(recipe_a):
    recipe, _ = recipe_a
    corpus = recipe / "corpus/mini/TUT-urban-acoustic-scenes-2018-development"
    r = run_recipe(recipe, "--stage", 1, "--nj", 2, env={"TUT2018_EVAL": str(corpus)})  # its fold1_test list
    assert r.returncode == 0, r.stdout[-3000:]
    assert not (recipe / "data/1a/evaluation/utt2label").exists()
    decode = recipe / "exp/1a/baseline/evaluation"
    submission = (decode / "submission.txt").read_text().splitlines()
    assert len(submission) == 60 and not (decode / "result.json").exists()
    # unlabelled, but the same clips as the test set: the same decisions
    test = dict(line.split("\t") for line in (recipe / "exp/1a/baseline/test/submission.txt").read_text().splitlines())
    assert dict(line.split("\t") for line in submission) == test


NEW_SYSTEMS = ("cnn4", "cnn8", "attention_cnn", "xception_focal", "xvector")


def test_published_systems_run_end_to_end(recipe_a):
    recipe, _ = recipe_a
    r = run_recipe(recipe, "--stage", 2, "--nj", 2, "--systems", " ".join(NEW_SYSTEMS))
    assert r.returncode == 0, r.stdout[-5000:]
    results = {s: read_result(recipe, system=s)["class_avg_accuracy"] for s in NEW_SYSTEMS}
    assert all(acc >= 3 * CHANCE for acc in results.values()), results
    # the mini corpus overrides reached the trained config; the published ones stay in the YAML
    config = (recipe / "exp/1a/cnn8/config.yaml").read_text()
    assert "channels: [16, 32, 64, 128]" in config and "frames: 64" in config
    # x-vectors: embeddings of the training and test sets, a back end trained on the former
    vectors = kaldiio.load_scp(str(recipe / "exp/1a/xvector/test/xvector.scp"))
    assert len(vectors) == 60 and all(vectors[u].shape == (128,) for u in vectors)
    backend = np.load(recipe / "exp/1a/xvector/backend/backend.npz", allow_pickle=False)
    assert backend["lda.transform"].shape == (128, 100)
    rows = (recipe / "RESULTS.md").read_text()
    assert "| 1a | cnn8 | test | 60 |" in rows and rows.count("| 1a |") >= 6


FUSIONS = {"mean": ("cnn4", "cnn8"), "weighted": ("baseline", "cnn8"), "logistic": ("baseline", "cnn8")}


def test_stage_9_fusion_scores_at_least_as_well_as_the_better_member(recipe_a):
    recipe, _ = recipe_a
    r = run_recipe(recipe, "--stage", 2, "--nj", 2, "--systems", "baseline cnn4 cnn8", "--fusions", " ".join(FUSIONS))
    assert r.returncode == 0, r.stdout[-5000:]
    accuracy = lambda system: read_result(recipe, system=system)["class_avg_accuracy"]
    # two CNNs of about the same accuracy: their mean is better than either (fixed seeds)
    assert accuracy("fusion_mean") >= max(accuracy(m) for m in FUSIONS["mean"])
    # fitted methods fit on the validation split's posteriors, which stage 9 decoded
    for fused in ("weighted", "logistic"):
        model = json.loads((recipe / f"exp/1a/fusion_{fused}/model/fusion.json").read_text())
        assert model["fit"]["set"] == "train_cv" and model["members"] == list(FUSIONS[fused])
        cv = [line.split()[0] for line in (recipe / "data/1a/train_cv/wav.scp").read_text().splitlines()]
        assert (recipe / f"exp/1a/fusion_{fused}/model/fit_utts").read_text().split() == cv
    weights = json.loads((recipe / "exp/1a/fusion_weighted/model/fusion.json").read_text())["state"]["weights"]
    assert weights[0] > weights[1]                  # the baseline, much the better on validation
    rows = (recipe / "RESULTS.md").read_text()
    assert all(f"| 1a | fusion_{f} | test | 60 |" in rows for f in FUSIONS)


def test_stage_9_refuses_to_fit_on_test_labels(recipe_a):
    recipe, _ = recipe_a
    (recipe / "conf/fusion/cheat.yaml").write_text("members: [baseline, cnn8]\nmethod: logistic\nfit_on: test\n")
    r = run_recipe(recipe, "--stage", 9, "--fusions", "cheat")
    assert r.returncode != 0
    assert "refusing to fit fusion weights on test labels" in r.stdout and "fit_on: cv" in r.stdout
    assert not (recipe / "exp/1a/fusion_cheat/test").exists()


IVECTOR_SYSTEMS = ("ivector", "ivector_svm")
IVECTORS = "exp/1a/ivector_mfcc60"


@pytest.fixture(scope="module")
def ivector_recipe(recipe_a):
    recipe, _ = recipe_a
    r = run_recipe(recipe, "--stage", 2, "--nj", 2, "--systems", " ".join(IVECTOR_SYSTEMS))
    assert r.returncode == 0, r.stdout[-5000:]
    return recipe, r.stdout


def test_ivector_systems_run_stages_4_to_8_well_above_chance(ivector_recipe):
    recipe, output = ivector_recipe
    for stage in ("Stage 4: UBM, i-vector extractor", "Stage 5: back end of ivector ", "Stage 8: scoring ivector_svm"):
        assert stage in output
    results = {s: read_result(recipe, system=s)["class_avg_accuracy"] for s in IVECTOR_SYSTEMS}
    assert all(acc >= 5 * CHANCE for acc in results.values()), results
    # the mini corpus's smaller model; one UBM, extractor and set of i-vectors shared by both systems
    ubm = np.load(recipe / IVECTORS / "ubm/final.npz", allow_pickle=False)
    assert ubm["variances"].shape == (64, 60)                  # Jung et al.'s diagonal UBM
    vectors = kaldiio.load_scp(str(recipe / IVECTORS / "ivectors_test/ivector.scp"))
    assert len(vectors) == 60 and all(v.shape == (20,) and v.dtype == np.float32 for v in vectors.values())
    assert sorted(p.name for p in (recipe / IVECTORS / "extractor").glob("[0-9]*.npz")) == [f"{i}.npz" for i in range(4)]
    assert os.readlink(recipe / IVECTORS / "extractor/final.npz") == "3.npz"
    # EM never lowered the objective (logged by every iteration's M-step)
    logs = sorted((recipe / IVECTORS / "extractor/log").glob("est.*.log"))
    objectives = [float(log.read_text().split("objective per frame ")[1].split()[0]) for log in logs]
    assert len(objectives) == 3 and objectives == sorted(objectives), objectives
    backend = np.load(recipe / "exp/1a/ivector_svm/backend/backend.npz", allow_pickle=False)
    assert backend["svm.support_vectors"].shape[1] == 20
    assert "| 1a | ivector | test | 60 |" in (recipe / "RESULTS.md").read_text()


def test_ivector_extractor_killed_mid_training_resumes_at_its_iteration(ivector_recipe, tmp_path):
    reference, _ = ivector_recipe
    recipe = copy_recipe("dcase2018_task1", tmp_path / "recipe")
    (recipe / "corpus/mini").mkdir(parents=True)     # the same mini corpus (and its overrides), not built again
    (recipe / "corpus/mini/TUT-urban-acoustic-scenes-2018-development").symlink_to(
        reference / "corpus/mini/TUT-urban-acoustic-scenes-2018-development")
    args = ["--nj", 2, "--systems", "ivector", "--stop_stage", 4]
    proc = start_recipe(recipe, *args)
    wait_for(recipe / IVECTORS / "extractor/2.npz", proc)
    kill_tree(proc)
    assert not (recipe / IVECTORS / "extractor/final.npz").exists()
    done = {p.name: p.stat().st_mtime_ns for p in (recipe / IVECTORS / "extractor").glob("[0-9]*.npz")}

    result = run_recipe(recipe, *args)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "EM iteration 1 of 3" not in result.stdout and "EM iteration 3 of 3" in result.stdout
    kept = {p.name: p.stat().st_mtime_ns for p in (recipe / IVECTORS / "extractor").glob("[0-9]*.npz")}
    assert all(kept[name] == mtime for name, mtime in done.items())   # finished iterations not redone
    a = np.load(reference / IVECTORS / "extractor/final.npz", allow_pickle=False)
    b = np.load(recipe / IVECTORS / "extractor/final.npz", allow_pickle=False)
    np.testing.assert_allclose(a["T"], b["T"], rtol=1e-6, atol=1e-9)
