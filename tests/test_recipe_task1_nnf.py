"""Task 1, Nguyen & Pernkopf's system end to end on the mini corpus (subtask A): nearest-neighbour
filtered features, three of their CNNs on 1 s chunks, and their ensemble selection fitted in
stage 9 on the validation split."""
import json

import kaldiio
import numpy as np
import pytest
import torch
import yaml

from dcase_tk.features.config import FeatureConfig
from dcase_tk.features.extract import load_wav_entry
from dcase_tk.features.spectral import FeatureExtractor
from dcase_tk.fusion.base import accuracy as fusion_accuracy, log_loss
from dcase_tk.io.audio import select_channels
from dcase_tk.io.scores import read_decode_dir
from dcase_tk.io.table import read_table
from helpers import check_fused, clips, copy_recipe, run_recipe

MEMBERS = ("nnf_si_db2", "nnf_mi_s2", "nnf_mi_db4")
FEATS = "dump/1a/logmel128nnf_48k"
CHANCE = 0.1


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    recipe = copy_recipe("dcase2018_task1", tmp_path_factory.mktemp("t1nnf") / "recipe")
    r = run_recipe(recipe, "--nj", 2, "--systems", " ".join(MEMBERS), "--fusions", "nnf_ensemble")
    assert r.returncode == 0, r.stdout[-5000:]
    return recipe


def accuracy(recipe, system):
    return json.loads((recipe / "exp/1a" / system / "test/result.json").read_text())["class_avg_accuracy"]


def test_features_are_log_mel_and_its_nearest_neighbour_filtered_version(recipe):
    feats = kaldiio.load_scp(str(recipe / FEATS / "test/feats.scp"))
    assert len(feats) == 60 and all(feats[u].shape == (501, 256) for u in feats)
    for utt in list(feats)[:5]:
        mel, nnf = feats[utt][:, :128], feats[utt][:, 128:]
        # each NNF value is the median of 5 frames' values in its band: one of the log-mel's
        assert all(np.isin(nnf[:, b], mel[:, b]).all() for b in range(128))
        assert not np.array_equal(nnf, mel)
        # repeated frames survive and one-off ones do not: the filtered bands vary less in time
        assert np.diff(nnf, axis=0).std() < np.diff(mel, axis=0).std()
    # exactly what the feature config computes from the audio (in one thread, as the feature jobs)
    config = FeatureConfig.from_dict(yaml.safe_load((recipe / FEATS / "test/feats.yaml").read_text()))
    assert config.nnf.k == 5 and config.nnf.output == "stack" and config.dim == 256
    utt, entry = (recipe / "data/1a/test/wav.scp").read_text().splitlines()[0].split(maxsplit=1)
    audio = load_wav_entry(entry, config.sample_rate)[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ours = FeatureExtractor(config)(select_channels(audio, config.channels))
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(ours, feats[utt])


def test_members_train_on_1s_chunks_and_beat_chance(recipe):
    results = {m: accuracy(recipe, m) for m in MEMBERS}
    assert all(acc >= 2 * CHANCE for acc in results.values()), results
    config = (recipe / "exp/1a/nnf_mi_db4/config.yaml").read_text()
    assert "frames: 50" in config and "mode: segments" in config and "hop: 50" in config
    assert "dim: 256" in config and "inputs: mi" in config


def test_ensemble_selection_is_fitted_on_the_validation_split(recipe):
    exp = recipe / "exp/1a"
    fuser, info, fitted = check_fused(exp, "fusion_nnf_ensemble", MEMBERS, "test")
    assert info["fit"]["set"] == "train_cv" and fitted == clips(recipe / "data/1a/train_cv")
    picks, weights = fuser.state["picks"], np.array(fuser.state["weights"])
    assert len(picks) == 200 and np.allclose(weights * 200, np.bincount(picks, minlength=3))
    # the first pick is the member best on the validation split (init_best 1): accuracy, then log loss
    classes, utts, _ = read_decode_dir(exp / MEMBERS[0] / "train_cv")
    labels = read_table(recipe / "data/1a/train_cv/utt2label")
    y = np.array([classes.index(labels[u]) for u in utts])
    valid = [read_decode_dir(exp / m / "train_cv")[2] for m in MEMBERS]
    assert picks[0] == min(range(3), key=lambda m: (-fusion_accuracy(valid[m], y), log_loss(valid[m], y)))
    members = [accuracy(recipe, m) for m in MEMBERS]
    fused = accuracy(recipe, "fusion_nnf_ensemble")
    assert fused >= np.mean(members), (fused, members)
    rows = (recipe / "RESULTS.md").read_text().splitlines()
    assert any(row.startswith("| 1a | fusion_nnf_ensemble | test | 60 |") for row in rows)
    assert any(row.startswith("| 1a | nnf_si_db2 | test | 60 |") and row.endswith("| 64.5 |") for row in rows)
