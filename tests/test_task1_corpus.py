"""Task 1 mini corpus (layout, learnability, device colouring) and data prep on it."""
import collections
import os
import re
import shutil
from pathlib import Path

import librosa
import numpy as np
import pytest
import scipy.signal
import soundfile
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers import load_local
from dcase_tk.data.safety import DataDirError
from dcase_tk.io.table import read_list, read_table




mini = load_local("dcase2018_task1", "make_mini_corpus")
prep = load_local("dcase2018_task1", "prepare_data")
SCENES = sorted(prep.SCENES)
NAME = re.compile(r"^audio/([a-z_]+)-([a-z]+)-(\d+)-(\d+)-([abc])\.wav$")


@pytest.fixture(scope="module")
def corpus_a(tmp_path_factory):
    """The default subtask-a mini corpus (240 clips), as the demo uses it."""
    return mini.make_corpus(str(tmp_path_factory.mktemp("mini_a")), "a", seed=0, jobs=2)


@pytest.fixture(scope="module")
def corpus_b(tmp_path_factory):
    """A smaller Mobile corpus: 2 locations per (scene, city), 2 segments each."""
    return mini.make_corpus(str(tmp_path_factory.mktemp("mini_b")), "b", seed=1,
                            locations_per_class_city=2, segments_per_location=2, jobs=2)


def read_rows(path):
    return [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8")]


def setup_lists(root):
    setup = os.path.join(root, "evaluation_setup")
    return {part: read_rows(os.path.join(setup, f"fold1_{part}.txt")) for part in ("train", "evaluate", "test")}


# ---------------------------------------------------------------- corpus layout

def test_subtask_a_layout(corpus_a):
    assert os.path.basename(corpus_a) == "TUT-urban-acoustic-scenes-2018-development"
    meta = read_rows(os.path.join(corpus_a, "meta.csv"))
    assert meta[0] == ["filename", "scene_label", "identifier", "source_label"]
    rows = meta[1:]
    assert len(rows) == 240
    scene_of_location = {}
    for filename, scene, identifier, device in rows:
        match = NAME.match(filename)
        assert match, filename
        assert (match[1], f"{match[2]}-{match[3]}", match[5]) == (scene, identifier, device)
        assert device == "a" and match[2] in ("barcelona", "helsinki") and int(match[4]) < 3
        # Location numbers are unique within a city: one location, one scene.
        assert scene_of_location.setdefault(identifier, scene) == scene
    assert sorted(os.listdir(os.path.join(corpus_a, "audio"))) == sorted(os.path.basename(r[0]) for r in rows)
    assert collections.Counter(r[1] for r in rows) == {scene: 24 for scene in SCENES}

    lists = setup_lists(corpus_a)
    assert all(len(r) == 2 for r in lists["train"] + lists["evaluate"]) and all(len(r) == 1 for r in lists["test"])
    assert len(lists["train"]) == 180 and len(lists["evaluate"]) == 60
    assert [r[0] for r in lists["evaluate"]] == [r[0] for r in lists["test"]]
    label = {r[0]: r[1] for r in rows}
    location = {r[0]: r[2] for r in rows}
    assert sorted(r[0] for r in lists["train"] + lists["evaluate"]) == sorted(label)
    assert all(label[f] == s for f, s in lists["train"] + lists["evaluate"])
    train_locations = {location[f] for f, _ in lists["train"]}
    test_locations = {location[f] for f, _ in lists["evaluate"]}
    assert not train_locations & test_locations
    assert len(train_locations) == 60 and len(test_locations) == 20      # 3 and 1 per (scene, city)
    for side in (train_locations, test_locations):
        assert {(scene_of_location[i], i.split("-")[0]) for i in side} == \
            {(s, c) for s in SCENES for c in ("barcelona", "helsinki")}

    for filename, *_ in rows[::7]:
        info = soundfile.info(os.path.join(corpus_a, filename))
        assert (info.samplerate, info.channels, info.subtype, info.duration) == (48000, 2, "PCM_24", 10.0)


def test_subtask_b_layout_has_parallel_devices(corpus_b):
    assert os.path.basename(corpus_b) == "TUT-urban-acoustic-scenes-2018-mobile-development"
    rows = read_rows(os.path.join(corpus_b, "meta.csv"))[1:]
    devices = collections.defaultdict(set)
    for filename, scene, identifier, device in rows:
        match = NAME.match(filename)
        assert match and match[5] == device
        devices[(identifier, match[4])].add(device)
        info = soundfile.info(os.path.join(corpus_b, filename))
        assert (info.samplerate, info.channels, info.subtype, info.duration) == (44100, 1, "PCM_24", 10.0)
    # 40 locations x 2 segments; devices b and c recorded one segment of each location, in parallel.
    assert len(devices) == 80
    assert sorted(collections.Counter(frozenset(d) for d in devices.values()).items(), key=str) == \
        sorted({frozenset("a"): 40, frozenset("abc"): 40}.items(), key=str)
    assert all(sum(d == {"a", "b", "c"} for (loc, _), d in devices.items() if loc == identifier) == 1
               for identifier in {loc for loc, _ in devices})
    lists = setup_lists(corpus_b)
    assert len(lists["train"]) + len(lists["evaluate"]) == len(rows) == 160
    assert {NAME.match(f)[5] for f, _ in lists["evaluate"]} == {"a", "b", "c"}


def test_generation_is_deterministic_by_seed(tmp_path):
    def audio_bytes(outdir, seed):
        root = mini.make_corpus(str(outdir), "b", seed=seed, cities=["paris"], locations_per_class_city=2,
                                segments_per_location=1, jobs=2)
        audio = os.path.join(root, "audio")
        return {name: Path(audio, name).read_bytes() for name in sorted(os.listdir(audio))}

    first = audio_bytes(tmp_path / "x", 5)
    assert len(first) == 60 and first == audio_bytes(tmp_path / "y", 5)
    assert len(set(first.values())) == 60


# ---------------------------------------------------------------- what the audio encodes

def log_mel(path):
    """40-band log-mel, 40 ms frames, 20 ms hop (the baseline's analysis), mono."""
    signal, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    frame = int(0.04 * sample_rate)
    mel = librosa.feature.melspectrogram(y=signal.mean(axis=1), sr=sample_rate, n_fft=2048, win_length=frame,
                                         hop_length=frame // 2, window="hamming", n_mels=40, center=False)
    return np.log(mel + 1e-10)


def features(root, part):
    rows = setup_lists(root)[part]
    mels = [log_mel(os.path.join(root, filename)) for filename, _ in rows]
    return mels, np.array([scene for _, scene in rows])


def best_single_band_accuracy(train, y_train, test, y_test):
    """Best over bands of a nearest-class-mean classifier on one band's mean log energy."""
    band_train = np.array([m.mean(axis=1) for m in train])
    band_test = np.array([m.mean(axis=1) for m in test])
    classes = np.array(SCENES)
    accuracies = []
    for band in range(band_train.shape[1]):
        means = np.array([band_train[y_train == c, band].mean() for c in classes])
        predicted = classes[np.argmin(np.abs(band_test[:, band, None] - means), axis=1)]
        accuracies.append(np.mean(predicted == y_test))
    return max(accuracies)


def temporal_accuracy(train, y_train, test, y_test):
    """Logistic regression on each band's mean and standard deviation over time."""
    def stats(mels):
        return np.array([np.concatenate([m.mean(axis=1), m.std(axis=1)]) for m in mels])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return model.fit(stats(train), y_train).score(stats(test), y_test)


def test_scenes_need_temporal_structure_not_band_energy(corpus_a):
    train, y_train = features(corpus_a, "train")
    test, y_test = features(corpus_a, "evaluate")
    single_band = best_single_band_accuracy(train, y_train, test, y_test)
    temporal = temporal_accuracy(train, y_train, test, y_test)
    print(f"\nmini corpus a, fold1 test: best single band {single_band:.3f}, mean+std logistic {temporal:.3f}")
    assert single_band < 0.4, f"one band's energy separates the scenes too well ({single_band:.3f})"
    assert temporal > 0.8, f"temporal statistics do not separate the scenes ({temporal:.3f})"


def test_mobile_devices_have_their_own_colouring(corpus_b):
    rows = read_rows(os.path.join(corpus_b, "meta.csv"))[1:]
    parallel = [f[:-len("-b.wav")] for f, *_ in rows if f.endswith("-b.wav")]
    spectra = {}
    for device in "abc":
        psds = []
        for stem in parallel:
            signal, sample_rate = soundfile.read(os.path.join(corpus_b, f"{stem}-{device}.wav"))
            freqs, psd = scipy.signal.welch(signal, sample_rate, nperseg=4096)
            psds.append(psd)
        spectra[device] = 10 * np.log10(np.mean(psds, axis=0))

    def ratio_db(device, hz):
        return spectra[device][np.argmin(np.abs(freqs - hz))] - spectra["a"][np.argmin(np.abs(freqs - hz))]

    assert ratio_db("b", 100) < -10 and ratio_db("c", 150) < -15          # high-pass skirts
    assert ratio_db("b", 15000) < -15 and abs(ratio_db("c", 15000)) < abs(ratio_db("b", 15000)) - 10
    assert ratio_db("b", 2500) - ratio_db("b", 5000) > 3                   # b's presence peak
    assert ratio_db("c", 1200) - ratio_db("c", 3000) < -5                  # c's notch


# ---------------------------------------------------------------- data prep

def read_dir(directory):
    return {name: read_table(os.path.join(directory, name))
            for name in os.listdir(directory) if name != "classes.txt"}


def assert_sorted_files(directory):
    for name in os.listdir(directory):
        if name == "classes.txt":
            continue
        keys = [line.split(" ", 1)[0] for line in Path(directory, name).read_text().splitlines()]
        assert keys == sorted(keys, key=lambda k: k.encode()) and len(keys) == len(set(keys)), name


def test_prepare_subtask_a(corpus_a, tmp_path):
    summaries = prep.prepare("a", corpus_a, str(tmp_path / "data"))
    assert summaries == {"train": "train: 180 utts, 60 locations, devices a",
                         "test": "test: 60 utts, 20 locations, devices a"}
    meta = {os.path.splitext(os.path.basename(r[0]))[0]: r for r in read_rows(os.path.join(corpus_a, "meta.csv"))[1:]}
    groups = {}
    for name in ("train", "test"):
        directory = tmp_path / "data" / name
        assert read_list(directory / "classes.txt") == SCENES
        assert_sorted_files(directory)
        tables = read_dir(directory)
        assert set(tables) == {"wav.scp", "utt2spk", "spk2utt", "utt2label", "utt2device", "utt2city", "utt2dur"}
        utts = set(tables["wav.scp"])
        assert all(set(t) == utts for n, t in tables.items() if n != "spk2utt")
        for utt, path in tables["wav.scp"].items():
            assert path == os.path.join(corpus_a, meta[utt][0]) and os.path.isabs(path)
            assert tables["utt2label"][utt] == meta[utt][1]
            assert tables["utt2spk"][utt] == meta[utt][2]
            assert tables["utt2city"][utt] == meta[utt][2].split("-")[0]
            assert tables["utt2device"][utt] == "a" and tables["utt2dur"][utt] == "10.000"
        assert {s: sorted(u.split()) for s, u in tables["spk2utt"].items()} == \
            {s: sorted(u for u, g in tables["utt2spk"].items() if g == s) for s in set(tables["utt2spk"].values())}
        assert set(tables["utt2label"].values()) == set(SCENES)
        groups[name] = set(tables["utt2spk"].values())
    assert not groups["train"] & groups["test"]


def test_prepare_subtask_b_keeps_every_device(corpus_b, tmp_path):
    summaries = prep.prepare("b", corpus_b, str(tmp_path / "data"))
    # 1 train and 1 test location per (scene, city), each with 2 segments from a, 1 from b and c.
    assert summaries == {"train": "train: 80 utts, 20 locations, devices a,b,c",
                         "test": "test: 80 utts, 20 locations, devices a,b,c"}
    devices = read_table(tmp_path / "data" / "test" / "utt2device")
    assert collections.Counter(devices.values()) == {"a": 40, "b": 20, "c": 20}
    assert all(utt.endswith("-" + device) for utt, device in devices.items())
    with pytest.raises(DataDirError, match=r"meta\.csv:\d+: device 'b' is not part of subtask a"):
        prep.prepare("a", corpus_b, str(tmp_path / "wrong"))


def copy_release(src, dst, keep_audio=lambda name: True):
    """A copy of a release's lists with its audio linked (only the files ``keep_audio`` accepts)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("audio"))
    os.mkdir(os.path.join(dst, "audio"))
    for name in sorted(os.listdir(os.path.join(src, "audio"))):
        if keep_audio(name):
            os.symlink(os.path.join(src, "audio", name), os.path.join(dst, "audio", name))
    return str(dst)


def test_missing_audio_is_listed_and_limited(corpus_b, tmp_path):
    gone = {"airport-barcelona-0-0-a.wav", "bus-helsinki-2-1-a.wav"}
    root = copy_release(corpus_b, tmp_path / "release", keep_audio=lambda name: name not in gone)
    data = tmp_path / "data"
    summaries = prep.prepare("b", root, str(data), max_missing_fraction=0.05)
    missing = {**read_table(data / "train" / "missing"), **read_table(data / "test" / "missing")}
    assert missing == {n[:-4]: os.path.join(root, "audio", n) for n in gone}
    for name in ("train", "test"):
        assert not set(read_table(data / name / "wav.scp")) & set(missing)
    assert sum(int(s.split(":")[1].split()[0]) for s in summaries.values()) == 160 - 2
    assert "left out 1 missing" in summaries["train"]
    with pytest.raises(DataDirError, match=r"1 missing and 0 unreadable of \d+ .*allowed: 0\.0%"):
        prep.prepare("b", root, str(tmp_path / "strict"), max_missing_fraction=0.0)
    # A later complete run removes the stale list.
    prep.prepare("b", corpus_b, str(data))
    assert not (data / "train" / "missing").exists()


def test_unreadable_audio_goes_to_bad_utts(corpus_b, tmp_path):
    broken = os.path.basename(setup_lists(corpus_b)["train"][0][0])
    root = copy_release(corpus_b, tmp_path / "release", keep_audio=lambda name: name != broken)
    Path(root, "audio", broken).write_text("not audio\n")
    summaries = prep.prepare("b", root, str(tmp_path / "data"))
    bad = read_table(tmp_path / "data" / "train" / "bad_utts")
    assert list(bad) == [broken[:-4]] and bad[broken[:-4]]          # the reason soundfile gave
    assert broken[:-4] not in read_table(tmp_path / "data" / "train" / "wav.scp")
    assert summaries["train"].endswith("left out 0 missing, 1 unreadable (see missing, bad_utts)")


def test_csv_setup_lists_give_the_same_data(corpus_b, tmp_path):
    root = copy_release(corpus_b, tmp_path / "release")
    setup = os.path.join(root, "evaluation_setup")
    for part in ("train", "evaluate"):
        rows = read_rows(os.path.join(setup, f"fold1_{part}.txt"))
        os.unlink(os.path.join(setup, f"fold1_{part}.txt"))
        with open(os.path.join(setup, f"fold1_{part}.csv"), "w") as f:
            f.write("filename\tscene_label\tnote\n")
            f.writelines(f"{name}\t{scene}\tx\n" for name, scene in rows)
    prep.prepare("b", corpus_b, str(tmp_path / "txt"))
    prep.prepare("b", root, str(tmp_path / "csv"))
    for name in ("train", "test"):
        txt, csv = read_dir(tmp_path / "txt" / name), read_dir(tmp_path / "csv" / name)
        csv["wav.scp"] = {u: p.replace(root, corpus_b) for u, p in csv["wav.scp"].items()}
        assert txt == csv


def test_bad_meta_line_names_file_and_line(corpus_b, tmp_path):
    root = copy_release(corpus_b, tmp_path / "release")
    meta = Path(root, "meta.csv")
    lines = meta.read_text().splitlines()
    lines[4] = lines[4].rsplit("\t", 1)[0]
    meta.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataDirError, match=rf"{re.escape(str(meta))}:5: expected 4 tab-separated fields"):
        prep.prepare("b", root, str(tmp_path / "data"))


def test_corpus_root_with_spaces_is_linked(corpus_b, tmp_path):
    root = copy_release(corpus_b, tmp_path / "my corpus")
    data = tmp_path / "data"
    prep.prepare("b", root, str(data))
    wav = read_table(data / "train" / "wav.scp")
    link = str(data / ".corpus_links" / "development")
    assert all(path.startswith(link + "/audio/") and " " not in path for path in wav.values())
    assert os.path.realpath(link) == os.path.realpath(root)
    assert all(os.path.isfile(path) for path in wav.values())


@pytest.mark.parametrize("listing", ["evaluation_setup/test.txt", "evaluation_setup/fold1_test.csv", "meta.csv"])
def test_unlabelled_evaluation_set(corpus_b, tmp_path, listing):
    files = sorted(os.listdir(os.path.join(corpus_b, "audio")))[:5]
    evaluation = tmp_path / "eval"
    os.makedirs(evaluation / "evaluation_setup")
    os.symlink(os.path.join(corpus_b, "audio"), evaluation / "audio")
    header = "" if listing.endswith(".txt") else "filename\n"
    (evaluation / listing).write_text(header + "".join(f"audio/{name}\n" for name in files))
    prep.prepare("b", corpus_b, str(tmp_path / "data"), eval_root=str(evaluation))
    directory = tmp_path / "data" / "evaluation"
    assert sorted(os.listdir(directory)) == ["classes.txt", "spk2utt", "utt2dur", "utt2spk", "wav.scp"]
    utts = [name[:-4] for name in files]
    assert read_table(directory / "utt2spk") == read_table(directory / "spk2utt") == {u: u for u in utts}
    assert read_table(directory / "wav.scp") == {u: str(evaluation / "audio" / f"{u}.wav") for u in utts}
    assert set(read_table(directory / "utt2dur").values()) == {"10.000"}
    assert read_list(directory / "classes.txt") == SCENES


def test_cli_fails_with_a_message(corpus_b, tmp_path, caplog):
    assert prep.main(["--subtask", "b", corpus_b, str(tmp_path / "data")]) == 0
    assert prep.main(["--subtask", "b", str(tmp_path), str(tmp_path / "data2")]) == 1
    assert f"{tmp_path}/meta.csv not found" in caplog.text
