"""Task 2 mini corpus (layout, noisy labels, learnability) and FSDKaggle2018 data prep on both namings."""
import collections
import csv
import os
import re
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers import load_local
from dcase_tk.data.safety import DataDirError
from dcase_tk.data.validate import validate
from dcase_tk.io.table import read_list, read_table

mini = load_local("dcase2018_task2", "make_mini_corpus")
prep = load_local("dcase2018_task2", "prepare_data")
fsd = load_local("dcase2018_task2", "fsd2018")
CLASSES8 = list(fsd.CLASSES[:8])
FNAME = re.compile(r"^[0-9a-f]{8}\.wav$")
POST_TRAIN_CSV = "FSDKaggle2018.meta/train_post_competition.csv"
POST_TEST_CSV = "FSDKaggle2018.meta/test_post_competition_scoring_clips.csv"


@pytest.fixture(scope="module")
def post(tmp_path_factory):
    """The default mini corpus, post-competition naming, and its data dirs."""
    root = mini.make_corpus(str(tmp_path_factory.mktemp("post")), seed=0)
    data = str(tmp_path_factory.mktemp("post_data"))
    prep.prepare(root, data)
    return root, data


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory):
    """The same corpus (same seed) in the Kaggle naming, and its data dirs."""
    root = mini.make_corpus(str(tmp_path_factory.mktemp("kaggle")), kaggle_naming=True, seed=0)
    data = str(tmp_path_factory.mktemp("kaggle_data"))
    prep.prepare(root, data)
    return root, data


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]


def truth(root):
    return {row["fname"]: row for row in read_csv(os.path.join(root, "mini_truth.csv"))[1]}


# ---------------------------------------------------------------- corpus layout

def test_post_competition_layout(post):
    root, _ = post
    assert sorted(os.listdir(root)) == ["FSDKaggle2018.audio_test", "FSDKaggle2018.audio_train",
                                        "FSDKaggle2018.meta", "mini_truth.csv"]
    assert sorted(os.listdir(os.path.join(root, "FSDKaggle2018.meta"))) == [
        "test_post_competition_scoring_clips.csv", "train_post_competition.csv"]
    train_header, train = read_csv(os.path.join(root, POST_TRAIN_CSV))
    test_header, test = read_csv(os.path.join(root, POST_TEST_CSV))
    assert train_header == ["fname", "label", "manually_verified", "freesound_id", "license"]
    assert test_header == ["fname", "label", "usage", "freesound_id", "license"]
    assert len(train) == 96 and len(test) == 32
    assert [r["fname"] for r in train] == sorted(r["fname"] for r in train)
    assert {r["usage"] for r in test} <= {"Public", "Private"}
    labels = truth(root)
    assert collections.Counter(labels[r["fname"]]["label"] for r in train) == {c: 12 for c in CLASSES8}
    assert collections.Counter(r["label"] for r in test) == {c: 4 for c in CLASSES8}
    durations = []
    for folder, rows in (("FSDKaggle2018.audio_train", train), ("FSDKaggle2018.audio_test", test)):
        assert sorted(os.listdir(os.path.join(root, folder))) == sorted(r["fname"] for r in rows)
        for row in rows:
            assert FNAME.match(row["fname"])
            info = soundfile.info(os.path.join(root, folder, row["fname"]))
            assert (info.samplerate, info.channels, info.subtype) == (44100, 1, "PCM_16")
            durations.append(info.duration)
    assert 0.3 <= min(durations) and max(durations) <= 30.0
    # log-uniform over 0.3-30 s: median near 3 s, a few long clips
    assert 1.5 < np.median(durations) < 6.0 and max(durations) > 10.0 and min(durations) < 0.6


def test_kaggle_layout_has_the_same_clips(post, kaggle):
    root, post_root = kaggle[0], post[0]
    assert sorted(os.listdir(root)) == ["audio_test", "audio_train", "mini_truth.csv", "sample_submission.csv",
                                        "train.csv"]
    header, train = read_csv(os.path.join(root, "train.csv"))
    assert header == ["fname", "label", "manually_verified"]
    header, test = read_csv(os.path.join(root, "sample_submission.csv"))
    assert header == ["fname", "label"] and all(len(r["label"].split()) == 3 for r in test)
    post_train = read_csv(os.path.join(post_root, POST_TRAIN_CSV))[1]
    assert [(r["fname"], r["label"], r["manually_verified"]) for r in train] == \
        [(r["fname"], r["label"], r["manually_verified"]) for r in post_train]
    for row in train[::9]:
        assert Path(root, "audio_train", row["fname"]).read_bytes() == \
            Path(post_root, "FSDKaggle2018.audio_train", row["fname"]).read_bytes()


def test_wrong_labels_only_among_unverified(post):
    root, _ = post
    labels = truth(root)
    train = read_csv(os.path.join(root, POST_TRAIN_CSV))[1]
    verified = [r for r in train if r["manually_verified"] == "1"]
    unverified = [r for r in train if r["manually_verified"] == "0"]
    assert len(verified) + len(unverified) == len(train)
    # round(0.4 * 12) = 5 verified clips per class
    assert collections.Counter(labels[r["fname"]]["label"] for r in verified) == {c: 5 for c in CLASSES8}
    assert all(r["label"] == labels[r["fname"]]["label"] for r in verified)
    wrong = [r for r in unverified if r["label"] != labels[r["fname"]]["label"]]
    assert len(wrong) == round(0.2 * 56) == 11
    assert all(r["label"] in CLASSES8 for r in wrong)


def test_wrong_label_fraction_option():
    clips = mini.plan_clips(3, num_classes=4, train_per_class=10, wrong_label_fraction=0.5)
    unverified = [c for c in clips if c.split == "train" and not c.verified]
    assert len(unverified) == 24
    assert sum(c.listed_label != c.label for c in unverified) == 12
    assert all(c.listed_label == c.label for c in clips if c.verified)
    with pytest.raises(ValueError, match="--classes"):
        mini.plan_clips(0, num_classes=42)


def test_classes_are_learnable(post):
    """Mean and spread of 40 log-mel bands tell the classes of the test clips apart."""
    root, _ = post
    labels = truth(root)

    def features(folder, names):
        rows = []
        for name in names:
            signal, rate = soundfile.read(os.path.join(root, folder, name), dtype="float32")
            mel = np.log(librosa.feature.melspectrogram(y=signal, sr=rate, n_fft=2048, hop_length=1024,
                                                        n_mels=40) + 1e-10)
            rows.append(np.concatenate([mel.mean(axis=1), np.diff(mel, axis=1).std(axis=1)]))
        return np.array(rows)

    train = [r["fname"] for r in read_csv(os.path.join(root, POST_TRAIN_CSV))[1] if r["manually_verified"] == "1"]
    test = [r["fname"] for r in read_csv(os.path.join(root, POST_TEST_CSV))[1]]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(features("FSDKaggle2018.audio_train", train), [labels[f]["label"] for f in train])
    predicted = model.predict(features("FSDKaggle2018.audio_test", test))
    assert np.mean(predicted == np.array([labels[f]["label"] for f in test])) >= 0.9


# ---------------------------------------------------------------- data prep

def test_prepared_dirs(post):
    root, data = post
    labels = truth(root)
    listed = {r["fname"]: r for r in read_csv(os.path.join(root, POST_TRAIN_CSV))[1]}
    train = validate(os.path.join(data, "train"))
    test = validate(os.path.join(data, "test"))
    assert train.classes == list(fsd.CLASSES) == test.classes and len(train.classes) == 41
    assert set(train.tables) == {"wav.scp", "utt2spk", "utt2dur", "utt2label", "utt2verified", "utt2fold"}
    assert set(test.tables) == {"wav.scp", "utt2spk", "utt2dur", "utt2label"}
    assert train.tables["utt2spk"] == {utt: utt for utt in train.utts}
    assert train.tables["utt2label"] == {f[:-4]: r["label"] for f, r in listed.items()}
    assert train.tables["utt2verified"] == {f[:-4]: r["manually_verified"] for f, r in listed.items()}
    assert test.tables["utt2label"] == {f[:-4]: r["label"] for f, r in labels.items() if r["split"] == "test"}
    utt, path = next(iter(train.tables["wav.scp"].items()))
    assert path == os.path.join(root, "FSDKaggle2018.audio_train", utt + ".wav")
    assert float(train.tables["utt2dur"][utt]) == pytest.approx(soundfile.info(path).duration, abs=5e-4)


def test_both_namings_give_the_same_data(post, kaggle):
    post_dirs = {name: validate(os.path.join(post[1], name)) for name in ("train", "test")}
    kaggle_dirs = {name: validate(os.path.join(kaggle[1], name)) for name in ("train", "test")}
    for name in ("utt2label", "utt2verified", "utt2fold", "utt2dur", "utt2spk"):
        assert post_dirs["train"].tables[name] == kaggle_dirs["train"].tables[name]
    assert post_dirs["test"].utts == kaggle_dirs["test"].utts
    assert "utt2label" not in kaggle_dirs["test"].tables     # Kaggle's test labels are unknown
    assert read_list(os.path.join(kaggle[1], "test", "classes.txt")) == list(fsd.CLASSES)


def test_folds_stratify_verified_and_unverified_clips(post, tmp_path):
    root, data = post
    tables = {name: read_table(os.path.join(data, "train", name)) for name in ("utt2fold", "utt2verified", "utt2label")}
    folds, verified, label = tables["utt2fold"], tables["utt2verified"], tables["utt2label"]
    for kind in ("1", "0"):
        per_class = collections.defaultdict(collections.Counter)
        for utt, fold in folds.items():
            if verified[utt] == kind:
                per_class[label[utt]][int(fold)] += 1
        sizes = collections.Counter()
        for counter in per_class.values():
            assert set(counter) <= {1, 2, 3, 4}
            counts = [counter[f] for f in range(1, 5)]
            assert max(counts) - min(counts) <= 1                        # each class spread evenly
            sizes.update(counter)
        assert max(sizes.values()) - min(sizes.values()) <= 1, (kind, sizes)
        if kind == "1":
            assert sorted(sizes.values()) == [10, 10, 10, 10]            # 40 verified clips
    prep.prepare(root, str(tmp_path / "same"), seed=0)
    prep.prepare(root, str(tmp_path / "other"), seed=1)
    assert read_table(str(tmp_path / "same" / "train" / "utt2fold")) == folds
    assert read_table(str(tmp_path / "other" / "train" / "utt2fold")) != folds


def test_assign_folds_by_hand():
    clips = ([prep.Clip(f"a{i}", "-", "Bark", 1) for i in range(6)] + [prep.Clip(f"b{i}", "-", "Bus", 1) for i in range(2)]
             + [prep.Clip("u", "-", "Bark", 0)])
    folds = prep.assign_folds(clips, 3, seed=0)
    assert folds["u"] in (1, 2, 3)                   # unverified clips are dealt into folds too
    assert sorted(collections.Counter(folds[f"a{i}"] for i in range(6)).values()) == [2, 2, 2]
    # the two Bus clips go to two different folds, and the three folds end with 3, 3, 2 verified clips
    assert folds["b0"] != folds["b1"]
    assert sorted(collections.Counter(v for u, v in folds.items() if u != "u").values()) == [2, 3, 3]
    with pytest.raises(ValueError, match="at least 2 folds"):
        prep.assign_folds(clips, 1, seed=0)
    with pytest.raises(ValueError, match="fewer --folds"):
        prep.assign_folds(clips, 9, seed=0)


# ---------------------------------------------------------------- bad corpora

def linked_corpus(root, tmp_path, train_rows=None, drop_audio=()):
    """A post-competition corpus linking to ``root``'s audio, with ``train_rows`` as its train list."""
    copy = tmp_path / "corpus"
    (copy / "FSDKaggle2018.meta").mkdir(parents=True)
    os.symlink(os.path.join(root, "FSDKaggle2018.audio_test"), copy / "FSDKaggle2018.audio_test")
    train_audio = copy / "FSDKaggle2018.audio_train"
    train_audio.mkdir()
    for name in os.listdir(os.path.join(root, "FSDKaggle2018.audio_train")):
        if name not in drop_audio:
            os.symlink(os.path.join(root, "FSDKaggle2018.audio_train", name), train_audio / name)
    Path(copy, POST_TEST_CSV).write_text(Path(root, POST_TEST_CSV).read_text())
    lines = Path(root, POST_TRAIN_CSV).read_text().splitlines()
    Path(copy, POST_TRAIN_CSV).write_text("\n".join(train_rows(lines) if train_rows else lines) + "\n")
    return str(copy)


@pytest.mark.parametrize("edit, line, message", [
    (lambda lines: [",".join(l.split(",")[:2] + l.split(",")[3:]) for l in lines], 1,
     r"lacks column\(s\) \['manually_verified'\]"),
    (lambda lines: lines[:3] + [lines[3].replace(lines[3].split(",")[1], "Kazoo")] + lines[4:], 4,
     "unknown label 'Kazoo'"),
    (lambda lines: lines[:5] + [lines[5].replace(",0,", ",yes,").replace(",1,", ",yes,")] + lines[6:], 6,
     "manually_verified is 'yes'; it must be 0 or 1"),
])
def test_bad_train_list_names_file_and_line(post, tmp_path, edit, line, message):
    root = linked_corpus(post[0], tmp_path, edit)
    with pytest.raises(DataDirError, match=message) as error:
        prep.prepare(root, str(tmp_path / "data"))
    assert f"{os.path.join(root, POST_TRAIN_CSV)}:{line}:" in str(error.value)


def test_missing_audio_is_listed_and_limited(post, tmp_path):
    gone = read_csv(os.path.join(post[0], POST_TRAIN_CSV))[1][7]["fname"]
    root = linked_corpus(post[0], tmp_path, drop_audio={gone})
    summaries = prep.prepare(root, str(tmp_path / "data"))
    assert "left out 1 missing" in summaries["train"]
    missing = read_table(str(tmp_path / "data" / "train" / "missing"))
    assert list(missing) == [gone[:-4]]
    train = validate(str(tmp_path / "data" / "train"))
    assert len(train.utts) == 95 and gone[:-4] not in train.tables["utt2fold"]
    with pytest.raises(DataDirError, match="1 missing and 0 unreadable of 96"):
        prep.prepare(root, str(tmp_path / "strict"), max_missing_fraction=0.0)


def test_cli(post, tmp_path, caplog):
    assert prep.main(["--folds", "3", "--seed", "2", post[0], str(tmp_path / "data")]) == 0
    assert set(read_table(str(tmp_path / "data" / "train" / "utt2fold")).values()) == {"1", "2", "3"}
    assert prep.main([str(tmp_path), str(tmp_path / "data2")]) == 1
    assert "train_post_competition.csv" in caplog.text and "train.csv" in caplog.text


def test_corpus_root_with_spaces_is_linked(post, tmp_path):
    root = tmp_path / "my corpus"
    os.symlink(post[0], root)
    data = tmp_path / "data"
    prep.prepare(str(root), str(data))
    paths = validate(str(data / "train")).tables["wav.scp"].values()
    assert all(p.startswith(str(data / ".corpus_links" / "fsd2018") + "/") and os.path.isfile(p) for p in paths)
