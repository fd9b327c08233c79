"""Task 4 mini corpus (release layout, determinism, events exactly where the truth says, learnable
classes) and DCASE 2018 Task 4 data prep (every set, event-less clips, both label separators,
files_to_remove.csv, missing audio, events past the audio's end, eval, bad rows)."""
import collections
import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy.signal import stft
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers import ROOT, load_local
from dcase_tk.data.safety import DataDirError
from dcase_tk.data.validate import validate
from dcase_tk.io.table import sort_key

sed = load_local("dcase2018_task4", "sed2018")
mini = load_local("dcase2018_task4", "make_mini_corpus")
prep = load_local("dcase2018_task4", "prepare_data")

SEED = 0
EVAL_CLIPS = 6
CLASSES = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush", "Frying",
           "Running_water", "Speech", "Vacuum_cleaner"]
CSV = {"weak": "dataset/metadata/train/weak.csv", "unlabel_in_domain": "dataset/metadata/train/unlabel_in_domain.csv",
       "unlabel_out_of_domain": "dataset/metadata/train/unlabel_out_of_domain.csv",
       "test": "dataset/metadata/test/test.csv", "eval": "dataset/metadata/eval/eval.csv"}
AUDIO = {"weak": "dataset/audio/train/weak", "unlabel_in_domain": "dataset/audio/train/unlabel_in_domain",
         "unlabel_out_of_domain": "dataset/audio/train/unlabel_out_of_domain", "test": "dataset/audio/test",
         "eval": "dataset/audio/eval"}
REMOVE_CSV = "dataset/metadata/test/files_to_remove.csv"
DIRS = ("weak", "unlabel_in_domain", "unlabel_out_of_domain", "test", "eval")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The default mini corpus (4 s clips at 16 kHz) with 6 evaluation clips."""
    return mini.make_corpus(str(tmp_path_factory.mktemp("sed")), seed=SEED, eval_clips=EVAL_CLIPS)


@pytest.fixture(scope="module")
def plan():
    """What the generator placed: ``(clips, the weak clip listed in test too)``."""
    return mini.plan_clips(SEED, eval_clips=EVAL_CLIPS)


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "", f"{path}: no final newline"
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:-1]]


def planned(plan, subset):
    """``{utt: Clip}`` of one set of the plan (test includes the overlapping weak clip)."""
    clips, overlap = plan
    members = [c for c in clips if c.subset == subset] + ([overlap] if subset == "test" else [])
    return {c.filename[:-4]: c for c in members}


def text(path):
    return Path(path).read_text()


def lines(pairs):
    """Data-dir file text: ``<utt> <value>`` lines in byte order (value '' gives ``<utt>``)."""
    return "".join(f"{u} {v}\n" if v != "" else f"{u}\n" for u, v in sorted(pairs, key=lambda p: sort_key(p[0])))


def event_lines(clips):
    """The events file expected for ``{utt: Clip}``: the plan's events, %.3f, clips in byte order."""
    return "".join(f"{u} {on / 1000:.3f} {off / 1000:.3f} {label}\n"
                   for u in sorted(clips, key=sort_key) for on, off, label in clips[u].events)


def edited_corpus(root, tmp_path, edits=None, drop_audio=(), without=()):
    """A copy of the release at ``root``: lists copied (``edits``: {list: lines -> lines}),
    audio folders linked (a folder with a file of ``drop_audio`` ({(set, file name)}) is a
    folder of links without it), the sets of ``without`` left out entirely."""
    copy = tmp_path / "corpus"
    for name, relative in CSV.items():
        if name in without or not os.path.isfile(os.path.join(root, relative)):
            continue
        content = text(os.path.join(root, relative)).split("\n")[:-1]
        if edits and name in edits:
            content = edits[name](content)
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        (copy / relative).write_text("\n".join(content) + "\n")
        folder = copy / AUDIO[name]
        folder.parent.mkdir(parents=True, exist_ok=True)
        dropped = {f for s, f in drop_audio if s == name}
        if dropped:
            folder.mkdir()
            for wav in os.listdir(os.path.join(root, AUDIO[name])):
                if wav not in dropped:
                    (folder / wav).symlink_to(os.path.join(root, AUDIO[name], wav))
        else:
            folder.symlink_to(os.path.join(root, AUDIO[name]))
    if "test" not in without:
        shutil.copy(os.path.join(root, REMOVE_CSV), copy / REMOVE_CSV)
    return str(copy)


def error_of(root, tmp_path, **options):
    with pytest.raises(DataDirError) as error:
        prep.prepare(root, str(tmp_path / "data"), **options)
    assert not (tmp_path / "data").exists() or not os.listdir(tmp_path / "data")   # nothing written
    return str(error.value)


# ---------------------------------------------------------------- the mini corpus

def test_layout(corpus, plan):
    root = Path(corpus)
    assert list(sed.CLASSES) == CLASSES                       # DATA_FORMATS.md order: classes.txt
    assert sorted(os.listdir(root)) == ["dataset", "mini_truth.csv"]
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.csv")) == sorted(
        [*CSV.values(), REMOVE_CSV, "mini_truth.csv"])
    headers = {"weak": ["filename", "event_labels"], "unlabel_in_domain": ["filename"],
               "unlabel_out_of_domain": ["filename"], "test": ["filename", "onset", "offset", "event_label"],
               "eval": ["filename", "onset", "offset", "event_label"]}
    counts = {"weak": 100, "unlabel_in_domain": 60, "unlabel_out_of_domain": 20, "test": 41, "eval": EVAL_CLIPS}
    all_names = collections.Counter()
    for name in CSV:
        header, rows = read_tsv(root / CSV[name])
        assert header == headers[name]
        names = sorted({row[0] for row in rows})
        assert [row[0] for row in rows] == sorted(row[0] for row in rows)         # file-name order
        assert len(names) == counts[name] and set(names) == {f"{u}.wav" for u in planned(plan, name)}
        assert sorted(os.listdir(root / AUDIO[name])) == names
        all_names.update(names)
        for wav in names[:3]:
            info = soundfile.info(str(root / AUDIO[name] / wav))
            assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 1, "PCM_16", 64000)
    # one clip in two lists: the weak clip that files_to_remove.csv removes from test
    overlap = plan[1]
    assert [n for n, k in all_names.items() if k > 1] == [overlap.filename]
    assert read_tsv(root / REMOVE_CSV) == (["filename"], [[overlap.filename]])
    assert (root / AUDIO["weak"] / overlap.filename).read_bytes() == \
        (root / AUDIO["test"] / overlap.filename).read_bytes()
    # YouTube-like names, some ids starting with '-'
    assert all(re.fullmatch(r"Y[A-Za-z0-9_-]{11}_[0-9]+\.000_[0-9]+\.000\.wav", n) for n in all_names)
    assert any(n.startswith("Y--") for n in all_names) and any(n.startswith("Y-") and n[2] != "-" for n in all_names)


def test_weak_labels_and_separators(corpus, plan):
    _, rows = read_tsv(Path(corpus, CSV["weak"]))
    weak = planned(plan, "weak")
    separators = collections.Counter()
    for filename, labels in rows:
        clip = weak[filename[:-4]]
        assert clip.labels and labels.replace(";", ",").split(",") == list(clip.labels)   # weak = labels of its events
        separators.update(c for c in labels if c in ",;")
    assert separators[","] >= 10 and separators[";"] >= 1
    per_class = collections.Counter(label for clip in weak.values() for label in clip.labels)
    assert all(per_class[c] >= 10 for c in CLASSES)
    assert all(1 <= len(clip.events) <= 3 for clip in weak.values())
    for name in ("unlabel_in_domain", "unlabel_out_of_domain"):
        assert all(1 <= len(c.events) <= 3 for c in planned(plan, name).values())
    assert set(per_class) == set(CLASSES)
    assert all(sound in mini.OTHER_SOUNDS for c in planned(plan, "unlabel_out_of_domain").values()
               for _, _, sound in c.events)
    in_domain = collections.Counter(label for c in planned(plan, "unlabel_in_domain").values() for label in c.labels)
    assert set(in_domain) == set(CLASSES)


def test_strong_lists_and_truth(corpus, plan):
    """test.csv / eval.csv hold the plan's events (pandas-style times); an event-less clip is one
    row with empty fields; mini_truth.csv agrees."""
    for name in ("test", "eval"):
        clips = planned(plan, name)
        _, rows = read_tsv(Path(corpus, CSV[name]))
        listed = collections.defaultdict(list)
        for filename, onset, offset, label in rows:
            listed[filename[:-4]].append((onset, offset, label))
        empty = [u for u, c in clips.items() if not c.events]
        assert 1 <= len(empty) and all(listed[u] == [("", "", "")] for u in empty)
        for utt, clip in clips.items():
            if clip.events:
                assert [(round(float(on) * 1000), round(float(off) * 1000), label) for on, off, label in listed[utt]] \
                    == list(clip.events)
                assert all(300 <= off - on <= 2000 and 0 <= on and off <= 4000 for on, off, _ in clip.events)
    _, rows = read_tsv(Path(corpus, CSV["test"]))
    assert any(len(on) > 6 for _, on, _, _ in rows) and any(on == "0.0" or on.count(".") == 1 for _, on, _, _ in rows)
    _, truth = read_tsv(Path(corpus, "mini_truth.csv"))
    assert sum(1 for row in truth if row[1] == "test" and not row[2]) == sum(
        1 for c in planned(plan, "test").values() if not c.events)
    assert {(row[0], row[2], row[3], row[4]) for row in truth if row[1] == "weak"} == {
        (c.filename, f"{on / 1000:.3f}", f"{off / 1000:.3f}", label)
        for c in planned(plan, "weak").values() for on, off, label in c.events}


def test_events_are_where_the_plan_says(corpus, plan):
    """Re-rendering a test clip without its events (same seed: the background is drawn first)
    leaves a residual that is silent outside the planned events (to 1 ms) and sounds from the
    first 50 ms of each event on, at least 9 dB above the background over the event."""
    clips = planned(plan, "test")
    for utt, clip in sorted(clips.items()):
        audio, sr = soundfile.read(os.path.join(corpus, AUDIO["test"], clip.filename))
        background = mini.render(dataclasses.replace(clip, events=()), sr, 4.0, (10.0, 24.0))
        active = np.zeros(audio.size, bool)
        for on, off, _ in clip.events:
            active[max(on - 1, 0) * sr // 1000:(off + 1) * sr // 1000] = True
        gain = audio[~active] @ background[~active] / (background[~active] @ background[~active])
        residual = audio - gain * background
        lsb = 1 / 32768
        assert np.max(np.abs(residual[~active])) <= 2 * lsb, utt
        for on, off, label in clip.events:
            span = residual[on * sr // 1000:off * sr // 1000]
            power_db = 10 * np.log10(np.mean(span ** 2) / np.mean((gain * background) ** 2))
            assert power_db >= 9, (utt, label, power_db)
            assert np.sqrt(np.mean(span[:int(0.05 * sr)] ** 2)) > 4 * lsb, (utt, label)
        if not clip.events:
            assert np.max(np.abs(residual)) <= 2 * lsb and abs(gain - 1) < 1e-3


def band_features(audio, sr):
    """Mean, spread and frame-to-frame change of 16 log-spaced bands (150 Hz-7.8 kHz) of the power spectrum."""
    freqs, _, spec = stft(audio, sr, nperseg=512, noverlap=352)
    edges = np.geomspace(150, 7800, 17)
    bands = np.array([np.log(np.mean(np.abs(spec[(freqs >= lo) & (freqs < hi)]) ** 2, axis=0) + 1e-12)
                      for lo, hi in zip(edges, edges[1:])])
    return np.concatenate([bands.mean(axis=1), bands.std(axis=1), np.abs(np.diff(bands, axis=1)).mean(axis=1)])


def test_classes_are_learnable(corpus, plan):
    """A linear classifier of band statistics, trained on the isolated events of the weak and
    in-domain clips, names the isolated events of the test clips."""
    data = {}
    for name in ("weak", "unlabel_in_domain", "test"):
        x, y = [], []
        for utt, clip in planned(plan, name).items():
            audio, sr = soundfile.read(os.path.join(corpus, AUDIO[name], clip.filename))
            for on, off, label in clip.events:
                if any(o < off and on < f for o, f, _ in clip.events if (o, f) != (on, off)):
                    continue
                x.append(band_features(audio[on * sr // 1000:off * sr // 1000], sr))
                y.append(label)
        data[name] = (np.array(x), np.array(y))
    train_x = np.concatenate([data["weak"][0], data["unlabel_in_domain"][0]])
    train_y = np.concatenate([data["weak"][1], data["unlabel_in_domain"][1]])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(train_x, train_y)
    test_x, test_y = data["test"]
    assert len(test_y) >= 30 and set(test_y) == set(CLASSES)
    assert np.mean(model.predict(test_x) == test_y) >= 0.9


def tree_digest(root):
    digests = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def test_deterministic(tmp_path):
    small = dict(weak_per_class=1, in_domain=2, out_of_domain=1, test_clips=3, eval_clips=2, seconds=2.0)
    first = tree_digest(mini.make_corpus(str(tmp_path / "a"), seed=3, **small))
    again = tree_digest(mini.make_corpus(str(tmp_path / "b"), seed=3, **small))
    other = tree_digest(mini.make_corpus(str(tmp_path / "c"), seed=4, **small))
    assert first == again and len(first) == (10 + 2 + 1 + 4 + 2) + 6 + 1     # audio, lists, truth
    assert first[CSV["test"]] != other[CSV["test"]]
    # a re-run into the same folder replaces the release, an evaluation part included
    mini.make_corpus(str(tmp_path / "a"), seed=3, **{**small, "eval_clips": 0})
    assert not (tmp_path / "a" / "dataset" / "metadata" / "eval").exists()
    with pytest.raises(ValueError, match="--test-clips"):
        mini.make_corpus(str(tmp_path / "d"), test_clips=1)


# ---------------------------------------------------------------- data prep

@pytest.fixture(scope="module")
def prepared(corpus, plan, tmp_path_factory):
    """Data dirs of a copy of the corpus with one weak clip's audio missing and one weak row
    whose labels mix both separators (unordered, one repeated): ``(copy, data, summaries, missing utt,
    mixed utt)``."""
    weak = planned(plan, "weak")
    multi = sorted(u for u, c in weak.items() if len(c.labels) > 1 and c is not plan[1])
    mixed, gone = multi[0], sorted(u for u in weak if u not in multi and weak[u] is not plan[1])[3]

    def mix(rows):
        labels = list(weak[mixed].labels)
        return [f"{mixed}.wav\t{labels[-1]} ; {','.join(labels)}," if row.startswith(mixed + ".wav\t") else row
                for row in rows]

    tmp = tmp_path_factory.mktemp("sed_prep")
    root = edited_corpus(corpus, tmp, {"weak": mix}, drop_audio={("weak", f"{gone}.wav")})
    data = tmp / "data"
    summaries = prep.prepare(root, str(data))
    return root, data, summaries, gone, mixed


def test_weak_dir_contents(prepared, plan):
    root, data, summaries, gone, mixed = prepared
    weak = {u: c for u, c in planned(plan, "weak").items() if u != gone}
    assert sorted(os.listdir(data)) == list(sorted(DIRS))
    assert sorted(os.listdir(data / "weak")) == ["classes.txt", "missing", "spk2utt", "utt2dur", "utt2labels",
                                                 "utt2spk", "wav.scp"]
    audio = os.path.join(root, AUDIO["weak"])
    assert text(data / "weak" / "wav.scp") == lines((u, f"{audio}/{u}.wav") for u in weak)
    assert text(data / "weak" / "utt2spk") == text(data / "weak" / "spk2utt") == lines((u, u) for u in weak)
    assert text(data / "weak" / "utt2dur") == lines((u, "4.000") for u in weak)
    assert text(data / "weak" / "utt2labels") == lines((u, " ".join(c.labels)) for u, c in weak.items())
    assert text(data / "weak" / "classes.txt") == "".join(f"{c}\n" for c in CLASSES)
    # the mixed row is parsed like the others; both separators occur in the list
    assert len(weak[mixed].labels) > 1
    assert f"{mixed} {' '.join(weak[mixed].labels)}\n" in text(data / "weak" / "utt2labels")
    listed = text(os.path.join(root, CSV["weak"]))
    assert ";" in listed and "," in listed
    # the missing clip: listed with its path, counted, not fatal
    assert text(data / "weak" / "missing") == f"{gone} {audio}/{gone}.wav\n"
    labels, multi = sum(len(c.labels) for c in weak.values()), sum(len(c.labels) > 1 for c in weak.values())
    assert summaries["weak"] == (f"weak: 99 clips, {labels} labels ({multi} multi-label clips); left out 1 missing, "
                                 "0 unreadable (see missing, bad_utts)")


def test_test_dir_contents(prepared, plan):
    root, data, summaries, _, _ = prepared
    overlap = plan[1].filename[:-4]
    test = {u: c for u, c in planned(plan, "test").items() if u != overlap}
    empty = sorted(u for u, c in test.items() if not c.events)
    assert len(test) == 40 and len(empty) == 4
    assert sorted(os.listdir(data / "test")) == ["classes.txt", "events", "spk2utt", "utt2dur", "utt2labels", "utt2spk",
                                                 "wav.scp"]
    audio = os.path.join(root, AUDIO["test"])
    assert text(data / "test" / "wav.scp") == lines((u, f"{audio}/{u}.wav") for u in test)
    assert overlap not in text(data / "test" / "wav.scp") and overlap in text(data / "weak" / "wav.scp")
    assert text(data / "test" / "events") == event_lines(test)      # the plan's events, to the millisecond
    # event-less clips: in wav.scp and utt2dur, no events line, an empty utt2labels line
    utt2labels = text(data / "test" / "utt2labels")
    assert utt2labels == lines((u, " ".join(c.labels)) for u, c in test.items())
    for utt in empty:
        assert f"\n{utt}\n" in "\n" + utt2labels and f"{utt} " not in text(data / "test" / "events")
        assert f"{utt} 4.000\n" in text(data / "test" / "utt2dur")
    assert summaries["test"] == (f"test: 40 clips, {sum(len(c.events) for c in test.values())} events, 4 clip(s) "
                                 "without events; 1 removed by files_to_remove.csv")
    loaded = validate(str(data / "test"))
    assert loaded.tables["utt2labels"][empty[0]] == "" and empty[0] not in loaded.events


def test_unlabelled_and_eval_dirs(prepared, plan):
    root, data, summaries, _, _ = prepared
    for name in ("unlabel_in_domain", "unlabel_out_of_domain"):
        clips = planned(plan, name)
        assert sorted(os.listdir(data / name)) == ["classes.txt", "spk2utt", "utt2dur", "utt2spk", "wav.scp"]
        assert text(data / name / "wav.scp") == lines((u, f"{root}/{AUDIO[name]}/{u}.wav") for u in clips)
        assert summaries[name] == f"{name}: {len(clips)} clips (unlabelled)"
    evaluation = planned(plan, "eval")
    assert text(data / "eval" / "events") == event_lines(evaluation)
    assert text(data / "eval" / "utt2labels") == lines((u, " ".join(c.labels)) for u, c in evaluation.items())


def test_every_dir_passes_validate_data_dir(prepared):
    _, data, _, _, _ = prepared
    for name in DIRS:
        validate(str(data / name))
    for name in ("weak", "test"):
        done = subprocess.run([sys.executable, "-m", "dcase_tk.bin.validate_data_dir", str(data / name)],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 0 and done.stdout.startswith(f"{data / name}: OK"), done.stderr


def test_events_past_the_audio_end(corpus, plan, tmp_path, caplog):
    """A downloaded clip shorter than its annotation: the event is cut at the audio's end, one
    starting after it dropped (with the label it alone gave)."""
    clip = next(c for c in sorted(planned(plan, "test").values(), key=lambda c: c.filename)
                if len(c.events) == 1 and c is not plan[1])
    utt, label = clip.filename[:-4], clip.events[0][2]
    other = CLASSES[(CLASSES.index(label) + 1) % 10]

    def extend(rows):
        out = []
        for row in rows:
            if row.startswith(clip.filename):
                row = "\t".join(row.split("\t")[:2] + ["9.5", label])
                out += [row, f"{clip.filename}\t5.0\t6.0\t{other}"]
            else:
                out.append(row)
        return out

    root = edited_corpus(corpus, tmp_path, {"test": extend})
    summaries = prep.prepare(root, str(tmp_path / "data"))
    test = validate(str(tmp_path / "data" / "test"))
    assert test.events[utt] == [f"{clip.events[0][0] / 1000:.3f} 4.000 {label}"]
    assert test.tables["utt2labels"][utt] == label
    assert "1 event(s) cut and 1 dropped at the audio's end" in summaries["test"]
    assert "test.csv:" in caplog.text and "ends at 9.500 s, the audio at 4.000 s" in caplog.text


def test_dataset_folder_as_root_and_cli(corpus, tmp_path, caplog):
    """The ``dataset`` folder as the root gives the same dirs; the CLI links a root with spaces
    and turns a bad root into exit status 1 and one logged line."""
    prep.prepare(os.path.join(corpus, "dataset"), str(tmp_path / "a"))
    prep.prepare(corpus, str(tmp_path / "b"))
    for name in DIRS:
        files = sorted(os.listdir(tmp_path / "b" / name))
        assert sorted(os.listdir(tmp_path / "a" / name)) == files
        assert all(text(tmp_path / "a" / name / f) == text(tmp_path / "b" / name / f) for f in files)
    spaced = tmp_path / "my corpus"
    spaced.symlink_to(corpus)
    data = tmp_path / "data"
    assert prep.main(["--max-missing-fraction", "0", str(spaced), str(data)]) == 0
    paths = validate(str(data / "weak")).tables["wav.scp"].values()
    assert all(p.startswith(str(data / ".corpus_links" / "sed2018") + "/dataset/audio/train/weak/")
               and os.path.isfile(p) for p in paths)
    assert prep.main([str(tmp_path), str(tmp_path / "data2")]) == 1
    assert "dataset/metadata nor" in caplog.text and "DCASE 2018 Task 4 release" in caplog.text


# ---------------------------------------------------------------- eval sources

def test_eval_root_unlabelled_and_stale(corpus, plan, tmp_path):
    """--eval-root: a separate evaluation release, here with a filename-only (unlabelled) list;
    without any evaluation list, the eval dir of an earlier run goes."""
    root = edited_corpus(corpus, tmp_path, without={"eval"})
    evaluation = tmp_path / "evaluation"
    (evaluation / "dataset" / "metadata" / "eval").mkdir(parents=True)
    (evaluation / "dataset" / "audio").mkdir()
    (evaluation / "dataset" / "audio" / "eval").symlink_to(os.path.join(corpus, AUDIO["eval"]))
    clips = planned(plan, "eval")
    (evaluation / CSV["eval"]).write_text("filename\n" + "".join(f"{u}.wav\n" for u in sorted(clips)))
    data = tmp_path / "data"
    summaries = prep.prepare(root, str(data), eval_root=str(evaluation))
    assert summaries["eval"] == f"eval: {len(clips)} clips (unlabelled)"
    assert sorted(os.listdir(data / "eval")) == ["classes.txt", "spk2utt", "utt2dur", "utt2spk", "wav.scp"]
    assert text(data / "eval" / "wav.scp") == lines((u, f"{evaluation}/{AUDIO['eval']}/{u}.wav") for u in clips)
    validate(str(data / "eval"))
    summaries = prep.prepare(root, str(data))
    assert "eval" not in summaries and not (data / "eval").exists()
    assert error_of(root, tmp_path / "x", eval_root=str(tmp_path / "nowhere")).startswith(
        f"neither {tmp_path / 'nowhere' / 'dataset' / 'metadata'} nor")


# ---------------------------------------------------------------- bad corpora

def first_line(root, name, kind):
    """Line number of the first row of list ``name`` of ``kind``: "event" (a test row with an
    event), "single" (a weak row with one label) or "any" (line 3)."""
    rows = text(os.path.join(root, CSV[name])).split("\n")
    for number, row in enumerate(rows[1:-1], start=2):
        fields = row.split("\t")
        if (kind == "any" and number == 3 or kind == "event" and fields[1] != ""
                or kind == "single" and not set(fields[1]) & set(",;")):
            return number
    raise AssertionError(f"no {kind} row in {name}")


def with_field(index, value):
    return lambda row: "\t".join(row.split("\t")[:index] + [value] + row.split("\t")[index + 1:])


@pytest.mark.parametrize("name, kind, edit, message", [
    ("weak", "any", with_field(1, "Alarm,Speech"), "unknown label 'Alarm'; expected one of the 10 Task 4 classes"),
    ("weak", "any", with_field(1, ""), "no event_labels; every weakly labelled clip has"),
    ("weak", "single", lambda row: row.replace("\t", ","), "1 tab-separated field(s) for the header's 2"),
    ("weak", "any", lambda row: row + "\tDog", "3 tab-separated fields, but the header has 2"),
    ("test", "event", with_field(2, "0.0"), "is not before offset 0.0 (to the millisecond); an event needs"),
    ("test", "event", with_field(1, "1,5"), "onset '1,5' is not a time in seconds >= 0"),
    ("test", "event", with_field(2, "nan"), "offset 'nan' is not a time in seconds >= 0"),
    ("test", "event", with_field(1, "-0.5"), "onset '-0.5' is not a time in seconds >= 0"),
    ("test", "event", with_field(3, "dog"), "unknown label 'dog'"),
    ("test", "event", with_field(3, ""), "event_label empty but not the rest"),
    ("unlabel_in_domain", "any", lambda row: "my clip.wav", "id 'my clip' contains characters"),
    ("unlabel_out_of_domain", "any", lambda row: row[:-4] + ".mp3", "is not a .wav file name"),
])
def test_bad_rows_name_file_and_line(corpus, tmp_path, name, kind, edit, message):
    line = first_line(corpus, name, kind)
    root = edited_corpus(corpus, tmp_path, {name: lambda rows: rows[:line - 1] + [edit(rows[line - 1])] + rows[line:]})
    error = error_of(root, tmp_path)
    assert error.startswith(f"{os.path.join(root, CSV[name])}:{line}: ") and message in error, error


def test_bad_lists_name_file_and_line(corpus, tmp_path):
    weak = os.path.join("corpus", CSV["weak"])
    root = edited_corpus(corpus, tmp_path / "a", {"weak": lambda rows: rows + [rows[2]]})
    error = error_of(root, tmp_path / "a")
    assert error.startswith(f"{tmp_path / 'a' / weak}:102: '")
    assert "is already listed on line 3; a clip is listed once" in error
    root = edited_corpus(corpus, tmp_path / "b", {"weak": lambda rows: [rows[0].replace("\t", ",")] + rows[1:]})
    assert error_of(root, tmp_path / "b").startswith(
        f"{tmp_path / 'b' / weak}:1: header 'filename,event_labels' lacks column(s) filename, event_labels; expected a "
        "tab-separated header")
    root = edited_corpus(corpus, tmp_path / "c", {"test": lambda rows: [rows[0].replace("\tevent_label", "")] + [
        "\t".join(row.split("\t")[:3]) for row in rows[1:]]})
    assert error_of(root, tmp_path / "c").startswith(
        f"{tmp_path / 'c' / 'corpus' / CSV['test']}:1: header has onset, offset but lacks event_label")


def test_missing_lists_and_too_much_missing_audio(corpus, plan, tmp_path):
    root = edited_corpus(corpus, tmp_path, without={"test"})
    assert error_of(root, tmp_path).startswith(f"{os.path.join(root, CSV['test'])} not found; is the release")
    out = sorted(planned(plan, "unlabel_out_of_domain"))
    root = edited_corpus(corpus, tmp_path / "b", drop_audio={("unlabel_out_of_domain", f"{u}.wav") for u in out[:3]})
    error = error_of(root, tmp_path / "b")
    assert error.startswith(f"{tmp_path / 'b' / 'data' / 'unlabel_out_of_domain'}: 3 missing and 0 unreadable of 20 "
                            "listed audio files (allowed: 10.0%)")
    summaries = prep.prepare(root, str(tmp_path / "b" / "data"), max_missing_fraction=0.2)
    assert "left out 3 missing" in summaries["unlabel_out_of_domain"]
