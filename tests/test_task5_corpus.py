"""Task 5 mini corpus (SINS layout, session folds, 4-channel capture, learnability) and the SINS data prep."""
import collections
import os
import re
import shutil
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

mini = load_local("dcase2018_task5", "make_mini_corpus")
prep = load_local("dcase2018_task5", "prepare_data")
sins = load_local("dcase2018_task5", "sins2018")

DURATION = 2.0
NUM_CLIPS = 9 * 3 * 2 * 3           # activities x sessions x nodes per session x clips per session
FILE = re.compile(r"^audio/DevNode([1-4])_ex([0-9]+)_([1-3])\.wav$")
SETUP_FILES = sorted(f"fold{k}_{part}.txt" for k in range(1, 5) for part in ("train", "test", "evaluate"))
DEV_TABLES = {"wav.scp", "utt2spk", "utt2session", "utt2label", "utt2node", "utt2dur", "utt2channels"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The default mini corpus with 2 s clips, and its data dirs."""
    release = mini.make_corpus(str(tmp_path_factory.mktemp("mini")), seed=0, duration=DURATION)
    data = str(tmp_path_factory.mktemp("data"))
    summaries = prep.prepare(release, data)
    return release, data, summaries


def rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [line.rstrip("\n").split("\t") for line in f]


def meta(release):
    return {fields[0]: fields for fields in rows(os.path.join(release, "meta.txt"))}


def fold_list(release, fold, part):
    return rows(os.path.join(release, "evaluation_setup", f"fold{fold}_{part}.txt"))


def stem(filename):
    return filename[len("audio/"):-len(".wav")]


# ---------------------------------------------------------------- corpus layout

def test_release_layout(corpus):
    release = corpus[0]
    assert os.path.basename(release) == "DCASE2018-task5-dev"
    assert sorted(os.listdir(os.path.dirname(release))) == ["DCASE2018-task5-dev"]      # no temporary left
    assert sorted(os.listdir(release)) == ["audio", "evaluation_setup", "meta.txt"]
    assert sorted(os.listdir(os.path.join(release, "evaluation_setup"))) == SETUP_FILES
    listed = meta(release)
    assert len(listed) == NUM_CLIPS and all(len(fields) == 3 for fields in listed.values())
    assert sorted(os.listdir(os.path.join(release, "audio"))) == sorted(f[len("audio/"):] for f in listed)
    sessions = collections.defaultdict(set)
    for filename, label, session in listed.values():
        node, number, segment = FILE.match(filename).groups()
        assert session == f"{label}_{number}"
        sessions[session].add((node, segment))
    assert len(sessions) == 27
    assert collections.Counter(s.rsplit("_", 1)[0] for s in sessions) == {c: 3 for c in sins.CLASSES}
    for clips in sessions.values():          # two nodes record the same three segments of a session
        nodes = {node for node, _ in clips}
        assert len(nodes) == 2 and clips == {(n, s) for n in nodes for s in "123"}
    assert {FILE.match(f).group(1) for f in listed} == {"1", "2", "3", "4"}
    for filename in listed:
        info = soundfile.info(os.path.join(release, filename))
        assert (info.channels, info.samplerate, info.subtype, info.frames) == (4, 16000, "PCM_16", 32000)


def test_setup_lists_have_the_release_columns(corpus):
    release = corpus[0]
    listed = meta(release)
    for fold in range(1, 5):
        train, test, evaluate = (fold_list(release, fold, part) for part in ("train", "test", "evaluate"))
        assert all(fields == listed[fields[0]] for fields in train)           # file, activity, session
        assert all(len(fields) == 1 for fields in test)                        # file only
        assert [fields[0] for fields in evaluate] == [fields[0] for fields in test]
        assert all(fields == listed[fields[0]][:2] for fields in evaluate)    # file, activity


def test_every_session_is_tested_in_exactly_one_fold(corpus):
    release = corpus[0]
    listed = meta(release)
    tested = collections.Counter()
    for fold in range(1, 5):
        train = {fields[0] for fields in fold_list(release, fold, "train")}
        test = {fields[0] for fields in fold_list(release, fold, "test")}
        assert not train & test and train | test == set(listed)
        train_sessions = {listed[f][2] for f in train}
        test_sessions = {listed[f][2] for f in test}
        assert not train_sessions & test_sessions
        assert {listed[f][1] for f in train} == set(sins.CLASSES)
        # whole sessions: every clip of a test session is in the test list
        assert test == {f for f, fields in listed.items() if fields[2] in test_sessions}
        assert len(test_sessions) in (6, 7)
        assert max(collections.Counter(s.rsplit("_", 1)[0] for s in test_sessions).values()) == 1
        tested.update(test_sessions)
    assert set(tested) == {fields[2] for fields in listed.values()} and set(tested.values()) == {1}


def test_four_sessions_per_class_put_every_activity_in_every_test_fold():
    sessions = mini.plan_sessions(5, sessions_per_class=4, nodes_per_session=3)
    for fold in range(1, 5):
        assert sorted(s.label for s in sessions if s.test_fold == fold) == list(sins.CLASSES)
    assert all(len(s.nodes) == 3 for s in sessions)
    assert sorted(s.number for s in sessions) == list(range(1, 37))
    for bad in ({"nodes_per_session": 5}, {"sessions_per_class": 0}, {"duration": 0.0}):
        options = {"sessions_per_class": 3, "clips_per_session": 3, "nodes_per_session": 2, "duration": 10.0}
        with pytest.raises(ValueError):
            mini.check_options(**{**options, **bad})


def test_channels_differ_by_delay_gain_and_noise(corpus):
    release = corpus[0]
    listed = meta(release)
    lags = collections.defaultdict(set)
    for filename, label, session in listed.values():
        audio, _ = soundfile.read(os.path.join(release, filename))
        assert audio.shape == (32000, 4)
        level_db = 20 * np.log10(np.sqrt(np.mean(audio ** 2, axis=0)))
        assert level_db.max() - level_db.min() > 0.2, filename                   # gains differ
        correlation = np.corrcoef(audio.T)
        assert correlation[np.triu_indices(4, 1)].max() < 0.99, filename         # never copies of each other
        if label == "vacuum_cleaner":                                            # loud and broadband: delays show
            first, last = audio[16:-16, 0], audio[:, 3]
            xcorr = [np.dot(first, last[16 + lag:len(last) - 16 + lag]) for lag in range(-12, 13)]
            node = FILE.match(filename).group(1)
            lags[(session, node)].add(int(np.argmax(xcorr)) - 12)
    # one direction per session and node: the same lag in every segment, not zero everywhere
    assert len(lags) == 6 and all(len(found) == 1 for found in lags.values())
    assert any(found != {0} for found in lags.values())


def test_nodes_record_the_same_moment_differently(corpus):
    release = corpus[0]
    listed = meta(release)
    by_moment = collections.defaultdict(list)
    for filename in listed:
        _, number, segment = FILE.match(filename).groups()
        by_moment[(number, segment)].append(filename)
    assert all(len(files) == 2 for files in by_moment.values())
    first, second = by_moment[next(iter(by_moment))]
    assert listed[first][1:] == listed[second][1:]
    assert Path(release, first).read_bytes() != Path(release, second).read_bytes()


def test_generation_is_seeded_and_atomic(tmp_path):
    small = {"sessions_per_class": 1, "clips_per_session": 1, "nodes_per_session": 1, "duration": 0.25}

    def contents(release):
        return {str(p.relative_to(release)): p.read_bytes() for p in sorted(Path(release).rglob("*")) if p.is_file()}

    first = contents(mini.make_corpus(str(tmp_path / "a"), seed=3, **small))
    assert len(first) == 9 + 1 + 12
    again = contents(mini.make_corpus(str(tmp_path / "a"), seed=3, **small))      # replaces the release
    assert again == first and os.listdir(tmp_path / "a") == ["DCASE2018-task5-dev"]
    other = contents(mini.make_corpus(str(tmp_path / "b"), seed=4, **small))
    assert other != first


def test_activities_are_learnable(corpus):
    """Log-mel statistics of one channel tell the activities of fold 1's test sessions apart."""
    release = corpus[0]
    listed = meta(release)

    filters = librosa.filters.mel(sr=16000, n_fft=640, n_mels=40)

    def features(files):
        result = []
        for filename in files:
            audio, _ = soundfile.read(os.path.join(release, filename))
            frames = np.lib.stride_tricks.sliding_window_view(audio[:, 0], 640)[::320] * np.hanning(640)
            mel = np.log(filters @ (np.abs(np.fft.rfft(frames, axis=1)) ** 2).T + 1e-10)
            result.append(np.concatenate([mel.mean(axis=1), mel.std(axis=1), np.diff(mel, axis=1).std(axis=1)]))
        return np.array(result)

    train = [fields[0] for fields in fold_list(release, 1, "train")]
    test = [fields[0] for fields in fold_list(release, 1, "test")]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    model.fit(features(train), [listed[f][1] for f in train])
    accuracy = np.mean(model.predict(features(test)) == np.array([listed[f][1] for f in test]))
    assert accuracy >= 0.8, accuracy


# ---------------------------------------------------------------- data prep

def test_prepared_dirs(corpus):
    release, data, summaries = corpus
    listed = meta(release)
    dev = validate(os.path.join(data, "dev"))
    assert set(dev.tables) == DEV_TABLES and dev.classes == list(sins.CLASSES)
    assert dev.tables["utt2label"] == {stem(f): fields[1] for f, fields in listed.items()}
    assert dev.tables["utt2session"] == dev.tables["utt2spk"] == {stem(f): fields[2] for f, fields in listed.items()}
    assert dev.tables["utt2node"] == {stem(f): stem(f).split("_")[0] for f in listed}
    assert set(dev.tables["utt2channels"].values()) == {"4"} and set(dev.tables["utt2dur"].values()) == {"2.000"}
    assert dev.tables["wav.scp"] == {stem(f): os.path.join(release, f) for f in listed}
    assert summaries["dev"] == "dev: 162 clips, 27 sessions, 9 activities, nodes DevNode1,DevNode2,DevNode3,DevNode4"
    assert sorted(os.listdir(data)) == ["dev"] + sorted(f"fold{k}_{p}" for k in range(1, 5)
                                                        for p in ("evaluate", "test", "train"))
    test_sizes = []
    for fold in range(1, 5):
        dirs = {part: os.path.join(data, f"fold{fold}_{part}") for part in ("train", "test", "evaluate")}
        train = validate(dirs["train"], disjoint_with=[dirs["test"], dirs["evaluate"]])
        test, evaluate = validate(dirs["test"]), validate(dirs["evaluate"])
        for part, loaded in (("train", train), ("test", test), ("evaluate", evaluate)):
            assert set(loaded.tables) == DEV_TABLES and loaded.classes == list(sins.CLASSES)
            assert loaded.utts == sorted((stem(f[0]) for f in fold_list(release, fold, part)), key=str.encode)
            for name in DEV_TABLES:
                assert loaded.tables[name] == {u: dev.tables[name][u] for u in loaded.utts}
        assert evaluate.tables == test.tables
        assert len(train.utts) + len(test.utts) == NUM_CLIPS
        assert not set(train.tables["utt2spk"].values()) & set(test.tables["utt2spk"].values())
        test_sizes.append(len(test.utts))
    assert test_sizes == [6 * sum(s.test_fold == k for s in mini.plan_sessions(0)) for k in range(1, 5)]
    assert sorted(test_sizes) == [36, 42, 42, 42]


# ---------------------------------------------------------------- bad releases

def linked_release(release, tmp_path, edits=None, drop=(), replace=None):
    """A copy of ``release`` linking to its audio: ``edits`` maps a list's relative path to a
    function of its lines (``None`` deletes the list), ``drop`` leaves audio files out and
    ``replace`` maps an audio file name to the array and rate written in its place."""
    copy = tmp_path / "DCASE2018-task5-dev"
    (copy / "audio").mkdir(parents=True)
    (copy / "evaluation_setup").mkdir()
    for name in os.listdir(os.path.join(release, "audio")):
        if name in (replace or {}):
            audio, rate = replace[name]
            soundfile.write(copy / "audio" / name, audio, rate, subtype="PCM_16")
        elif name not in drop:
            os.symlink(os.path.join(release, "audio", name), copy / "audio" / name)
    for name in ["meta.txt"] + [f"evaluation_setup/{f}" for f in SETUP_FILES]:
        lines = Path(release, name).read_text().splitlines()
        edit = (edits or {}).get(name, lambda lines: lines)
        if edit is not None:
            Path(copy, name).write_text("".join(line + "\n" for line in edit(lines)))
    return str(copy)


def replace_line(number, change):
    """An edit that applies ``change`` to the fields of line ``number`` (1-based)."""
    def edit(lines):
        fields = lines[number - 1].split("\t")
        return lines[:number - 1] + ["\t".join(change(fields))] + lines[number:]
    return edit


def other_class(label):
    return sins.CLASSES[(sins.CLASSES.index(label) + 1) % len(sins.CLASSES)]


@pytest.mark.parametrize("name, edit, line, message", [
    ("evaluation_setup/fold2_train.txt", lambda lines: lines + ["audio/DevNode9_ex99_1.wav\tcooking\tcooking_99"],
     "last", r"'audio/DevNode9_ex99_1\.wav' is not in .*meta\.txt \(162 clips\); a fold list may only name clips "
             r"of meta\.txt: take evaluation_setup/ and meta\.txt from the same release"),
    ("evaluation_setup/fold1_evaluate.txt", replace_line(3, lambda f: [f[0], other_class(f[1])]), 3,
     r"activity '\w+' of 'audio/DevNode\w+\.wav' disagrees with .*meta\.txt:\d+ \('\w+'\)"),
    ("evaluation_setup/fold3_train.txt", replace_line(5, lambda f: f[:2] + ["cooking_1000"]), 5,
     r"session 'cooking_1000' of 'audio/DevNode\w+\.wav' disagrees with .*meta\.txt:\d+ \('\w+_\d+'\)"),
    ("evaluation_setup/fold4_test.txt", lambda lines: lines[:2] + lines[1:], 3,
     r"'audio/DevNode\w+\.wav' listed twice \(first on line 2\)"),
    ("evaluation_setup/fold1_train.txt", replace_line(4, lambda f: f + ["extra"]), 4,
     "expected at most 3 tab-separated fields"),
    ("meta.txt", replace_line(5, lambda f: [f[0], "sleeping", f[2]]), 5, "unknown activity 'sleeping'"),
    ("meta.txt", replace_line(2, lambda f: f[:2]), 2, r"expected 3 tab-separated fields .* got 2"),
    ("meta.txt", replace_line(7, lambda f: [f[0], f[1], "my session"]), 7, "id 'my session' contains characters"),
    ("meta.txt", replace_line(1, lambda f: ["audio/Kitchen_1.wav"] + f[1:]), 1,
     r"file name 'audio/Kitchen_1\.wav' is not DevNode<n>_ex<session>_<segment>\.wav"),
])
def test_bad_list_names_file_and_line(corpus, tmp_path, name, edit, line, message):
    release = linked_release(corpus[0], tmp_path, {name: edit})
    path = os.path.join(release, name)
    if line == "last":
        line = len(Path(path).read_text().splitlines())
    with pytest.raises(DataDirError, match=message) as error:
        prep.prepare(release, str(tmp_path / "data"))
    assert f"{path}:{line}: " in str(error.value)
    assert not os.path.exists(tmp_path / "data" / "dev")          # lists are checked before any dir is written


def test_session_straddling_train_and_test_is_rejected(corpus, tmp_path):
    """Move one clip of a fold-1 test session into fold 1's training list."""
    listed = meta(corpus[0])
    moved = fold_list(corpus[0], 1, "test")[2][0]
    session = listed[moved][2]

    def drop(lines):
        return [line for line in lines if line.split("\t")[0] != moved]

    edits = {"evaluation_setup/fold1_test.txt": drop, "evaluation_setup/fold1_evaluate.txt": drop,
             "evaluation_setup/fold1_train.txt": lambda lines: lines + ["\t".join(listed[moved])]}
    release = linked_release(corpus[0], tmp_path, edits)
    test_lines = Path(release, "evaluation_setup/fold1_test.txt").read_text().splitlines()
    first_left = 1 + next(i for i, line in enumerate(test_lines) if listed[line][2] == session)
    train_line = len(Path(release, "evaluation_setup/fold1_train.txt").read_text().splitlines())
    with pytest.raises(DataDirError, match=f"session '{session}' of '{test_lines[first_left - 1]}' is also in "
                                           r".*fold1_train\.txt:\d+ .*fold 1 must split by session") as error:
        prep.prepare(release, str(tmp_path / "data"))
    text = str(error.value)
    assert f"{release}/evaluation_setup/fold1_test.txt:{first_left}: " in text
    assert f"fold1_train.txt:{train_line} ('{moved}')" in text
    assert "(1 session(s), 5 clip(s) here straddle)" in text


def test_missing_audio_is_listed_and_limited(corpus, tmp_path):
    gone = "DevNode1_ex1_2.wav"
    release = linked_release(corpus[0], tmp_path, drop={gone})
    data = tmp_path / "data"
    summaries = prep.prepare(release, str(data))
    assert summaries["dev"].endswith("; left out 1 missing, 0 unreadable (see missing, bad_utts)")
    assert read_table(str(data / "dev" / "missing")) == {"DevNode1_ex1_2": os.path.join(release, "audio", gone)}
    assert len(validate(str(data / "dev")).utts) == NUM_CLIPS - 1
    for fold in range(1, 5):
        for part in ("train", "test", "evaluate"):
            listed = any(f[0] == "audio/" + gone for f in fold_list(release, fold, part))
            assert os.path.exists(data / f"fold{fold}_{part}" / "missing") == listed
            assert "DevNode1_ex1_2" not in validate(str(data / f"fold{fold}_{part}")).utts
    with pytest.raises(DataDirError, match=r"dev: 1 missing and 0 unreadable of 162 listed audio files "
                                           r"\(allowed: 0\.0%\), e\.g\. .*DevNode1_ex1_2\.wav"):
        prep.prepare(release, str(tmp_path / "strict"), max_missing_fraction=0.0)


def test_unreadable_audio_goes_to_bad_utts(corpus, tmp_path):
    release = linked_release(corpus[0], tmp_path, drop={"DevNode2_ex3_1.wav"})
    Path(release, "audio", "DevNode2_ex3_1.wav").write_bytes(b"not a wav file")
    prep.prepare(release, str(tmp_path / "data"))
    bad = read_table(str(tmp_path / "data" / "dev" / "bad_utts"))
    assert list(bad) == ["DevNode2_ex3_1"] and bad["DevNode2_ex3_1"]


@pytest.mark.parametrize("channels, rate", [(2, 16000), (4, 8000)])
def test_wrong_audio_format_names_the_file(corpus, tmp_path, channels, rate):
    name = "DevNode3_ex5_2.wav"
    release = linked_release(corpus[0], tmp_path, replace={name: (np.zeros((rate, channels)), rate)})
    line = 1 + [fields[0] for fields in rows(os.path.join(release, "meta.txt"))].index("audio/" + name)
    with pytest.raises(DataDirError, match=f"has {channels} channel\\(s\\) at {rate} Hz, but every SINS clip has 4 "
                                           r"channels at 16000 Hz \(1 of 162 readable files differ\)") as error:
        prep.prepare(release, str(tmp_path / "data"))
    assert str(error.value).startswith(f"{release}/meta.txt:{line}: {release}/audio/{name} has ")


def test_crlf_trailing_tabs_and_blank_lines_are_read(corpus, tmp_path):
    def messy(lines):
        return [line + "\t\r" for line in lines[:3]] + ["", "  "] + [line + "\r" for line in lines[3:]]

    release = linked_release(corpus[0], tmp_path, {"evaluation_setup/fold2_test.txt": messy, "meta.txt": messy})
    prep.prepare(release, str(tmp_path / "data"))
    for name in ("dev", "fold2_test"):
        ours = validate(str(tmp_path / "data" / name)).tables
        theirs = validate(os.path.join(corpus[1], name)).tables
        assert ours["utt2label"] == theirs["utt2label"] and ours["utt2spk"] == theirs["utt2spk"]


def test_absent_lists(corpus, tmp_path):
    """No fold3_test.txt: the test dir comes from fold3_evaluate.txt; no evaluate list: no evaluate
    dir, and one left by an earlier run is removed."""
    data = tmp_path / "data"
    shutil.copytree(corpus[1], data, symlinks=True)
    release = linked_release(corpus[0], tmp_path, {"evaluation_setup/fold3_test.txt": None,
                                                   "evaluation_setup/fold2_evaluate.txt": None,
                                                   "evaluation_setup/fold4_evaluate.txt": lambda lines: []})
    prep.prepare(release, str(data))
    assert not (data / "fold2_evaluate").exists() and not (data / "fold4_evaluate").exists()
    assert validate(str(data / "fold3_test")).utts == validate(os.path.join(corpus[1], "fold3_test")).utts
    missing_train = linked_release(corpus[0], tmp_path / "x", {"evaluation_setup/fold2_train.txt": None})
    with pytest.raises(DataDirError, match=r"fold2_train\.txt not found"):
        prep.prepare(missing_train, str(tmp_path / "data2"))


def test_eval_release_is_unlabelled(corpus, tmp_path):
    release = corpus[0]
    evaluation = tmp_path / "DCASE2018-task5-eval"
    (evaluation / "audio").mkdir(parents=True)
    (evaluation / "evaluation_setup").mkdir()
    sources = sorted(os.listdir(os.path.join(release, "audio")))[:5]
    for number, name in enumerate(sources, start=1):
        os.symlink(os.path.join(release, "audio", name), evaluation / "audio" / f"{number}.wav")
    (evaluation / "evaluation_setup" / "test.txt").write_text("".join(f"audio/{n}.wav\n" for n in range(1, 6)))
    data = tmp_path / "data"
    summaries = prep.prepare(release, str(data), eval_root=str(evaluation))
    assert summaries["eval"] == "eval: 5 clips (unlabelled)"
    loaded = validate(str(data / "eval"))
    assert set(loaded.tables) == {"wav.scp", "utt2spk", "utt2dur", "utt2channels"}
    assert loaded.utts == ["1", "2", "3", "4", "5"] and loaded.tables["utt2spk"] == {u: u for u in loaded.utts}
    assert loaded.tables["wav.scp"]["3"] == str(evaluation / "audio" / "3.wav")
    assert read_list(str(data / "eval" / "classes.txt")) == list(sins.CLASSES)
    with pytest.raises(DataDirError, match=r"evaluation_setup/test\.txt not found; is .* the DCASE2018-task5-eval"):
        prep.prepare(release, str(tmp_path / "data2"), eval_root=str(tmp_path))


def test_cli(corpus, tmp_path, caplog):
    assert prep.main([corpus[0], str(tmp_path / "data")]) == 0
    assert validate(str(tmp_path / "data" / "fold1_train")).utts == validate(os.path.join(corpus[1], "fold1_train")).utts
    assert prep.main([str(tmp_path), str(tmp_path / "data2")]) == 1
    assert "meta.txt not found; is" in caplog.text and "DCASE2018-task5-dev folder" in caplog.text


def test_corpus_root_with_spaces_is_linked(corpus, tmp_path):
    root = tmp_path / "my corpus"
    root.mkdir()
    os.symlink(corpus[0], root / "DCASE2018-task5-dev")
    data = tmp_path / "data"
    prep.prepare(str(root / "DCASE2018-task5-dev"), str(data))
    paths = validate(str(data / "fold2_test")).tables["wav.scp"].values()
    assert all(p.startswith(str(data / ".corpus_links" / "sins2018-dev") + "/audio/") and os.path.isfile(p)
               for p in paths)
