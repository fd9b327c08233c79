"""Task 3 mini corpus (layout, datasets that differ, birds that only their structure gives away) and
Bird Audio Detection data prep (dev, leave-one-dataset-out folds, eval, bad lists, missing audio)."""
import collections
import csv
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy.signal import stft
from sklearn.metrics import roc_auc_score

from helpers import load_local
from dcase_tk.data.safety import DataDirError
from dcase_tk.data.validate import find_problems, validate
from dcase_tk.io.table import read_table

bad = load_local("dcase2018_task3", "bad2018")
mini = load_local("dcase2018_task3", "make_mini_corpus")
prep = load_local("dcase2018_task3", "prepare_data")

SECONDS = 3.0
FF, WARBLR, BIRDVOX = "ff1010bird", "warblrb10k", "BirdVox-DCASE-20k"
CSVS = {FF: "ff1010bird_metadata_2018.csv", WARBLR: "warblrb10k_public_metadata_2018.csv",
        BIRDVOX: "BirdVoxDCASE20k_csvpublic.csv"}
AUDIO = {FF: "ff1010bird_wav/wav", WARBLR: "warblrb10k_public_wav/wav", BIRDVOX: "BirdVox-DCASE-20k/wav"}
BIRDS = {FF: 9, WARBLR: 15, BIRDVOX: 12}            # round(24 * 3/8, 5/8, 1/2)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The default mini corpus (3 x 24 clips, 3 s) with a 3 x 4 evaluation release, and its data dirs."""
    root = mini.make_corpus(str(tmp_path_factory.mktemp("bad")), seed=0, seconds=SECONDS, eval_per_dataset=4)
    data = str(tmp_path_factory.mktemp("bad_data"))
    prep.prepare(root, data, eval_root=os.path.join(root, "eval"))
    return root, data


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]


def listed(root):
    """``{datasetid: rows}`` of the three development lists."""
    return {dataset: read_csv(os.path.join(root, name))[1] for dataset, name in CSVS.items()}


# ---------------------------------------------------------------- corpus

def test_layout(corpus):
    root, _ = corpus
    assert sorted(os.listdir(root)) == sorted(
        [*CSVS.values(), "ff1010bird_wav", "warblrb10k_public_wav", "BirdVox-DCASE-20k", "eval", "mini_eval_truth.csv"])
    for dataset, rows in listed(root).items():
        header, _ = read_csv(os.path.join(root, CSVS[dataset]))
        assert header == ["itemid", "datasetid", "hasbird"]
        assert len(rows) == 24 and {r["datasetid"] for r in rows} == {dataset}
        assert collections.Counter(r["hasbird"] for r in rows) == {"1": BIRDS[dataset], "0": 24 - BIRDS[dataset]}
        assert [r["itemid"] for r in rows] == sorted(r["itemid"] for r in rows)
        assert all(r["itemid"].isdigit() if dataset == FF else UUID.match(r["itemid"]) for r in rows)
        assert sorted(os.listdir(os.path.join(root, AUDIO[dataset]))) == sorted(r["itemid"] + ".wav" for r in rows)
        for row in rows[::5]:
            info = soundfile.info(os.path.join(root, AUDIO[dataset], row["itemid"] + ".wav"))
            assert (info.samplerate, info.channels, info.subtype, info.frames) == (44100, 1, "PCM_16", 3 * 44100)
    assert sorted(os.listdir(os.path.join(root, "eval"))) == [
        "Chernobyl", "Chernobyl_metadata.csv", "PolandNFC", "PolandNFC_metadata.csv", "warblrb10k_test_metadata.csv",
        "warblrb10k_test_wav"]
    header, rows = read_csv(os.path.join(root, "eval", "Chernobyl_metadata.csv"))
    assert header == ["itemid", "datasetid", "hasbird"] and len(rows) == 4 and {r["hasbird"] for r in rows} == {""}
    truth = read_csv(os.path.join(root, "mini_eval_truth.csv"))[1]
    assert collections.Counter(r["datasetid"] for r in truth) == {"warblrb10k": 4, "Chernobyl": 4, "PolandNFC": 4}


def test_deterministic_and_defaults():
    clips = mini.plan_clips(0)
    assert len(clips) == 72 and clips == mini.plan_clips(0) and clips != mini.plan_clips(1)
    one = next(c for c in clips if c.hasbird)
    assert np.array_equal(mini.render(one, 1.5), mini.render(one, 1.5))
    assert len(mini.render(one, 10.0)) == 441000 and np.max(np.abs(mini.render(one, 10.0))) <= 0.99
    with pytest.raises(ValueError, match="--per-dataset"):
        mini.plan_clips(0, per_dataset=1)
    with pytest.raises(ValueError, match="--duration"):
        mini.make_corpus("/nonexistent", seconds=0.5)


def spectra(root, dataset, hasbird):
    """Short-time power spectra (freq x frames) of one dataset's clips with ``hasbird``."""
    rows = [r for r in listed(root)[dataset] if r["hasbird"] == hasbird]
    out = []
    for row in rows:
        signal, rate = soundfile.read(os.path.join(root, AUDIO[dataset], row["itemid"] + ".wav"))
        freqs, _, z = stft(signal, rate, nperseg=1024, noverlap=512)
        out.append(np.abs(z) ** 2)
    return freqs, out


def test_datasets_differ(corpus):
    """The mean log-spectrum of the nobird clips (with its level, and its shape alone) tells the
    datasets apart: dataset centroids lie more than twice as far apart as clips lie from their own
    centroid, and by its shape (the background and recording colour) every clip is nearest its own
    dataset's centroid (leave-one-out; with the level, a loud distractor may pull one clip away)."""
    root, _ = corpus
    for shape_only in (False, True):
        clips = []
        for dataset in CSVS:
            _, powers = spectra(root, dataset, "0")
            for power in powers:
                db = 10 * np.log10(power.mean(axis=1) + 1e-12)
                clips.append((dataset, db - db.mean() if shape_only else db))
        labels = np.array([d for d, _ in clips])
        x = np.array([v for _, v in clips])

        def centroid(dataset, leave_out=None):
            keep = (labels == dataset) & (np.arange(len(x)) != leave_out)
            return x[keep].mean(axis=0)

        def distance(a, b):
            return float(np.sqrt(np.mean((a - b) ** 2)))    # RMS difference in dB

        within = np.mean([distance(v, centroid(d)) for d, v in clips])
        between = min(distance(centroid(a), centroid(b)) for a in CSVS for b in CSVS if a < b)
        assert between > 2 * within, (shape_only, between, within)
        if shape_only:
            nearest = [min(CSVS, key=lambda d: distance(v, centroid(d, leave_out=i))) for i, (_, v) in enumerate(clips)]
            assert nearest == list(labels)


def test_birds_are_detectable_by_structure_not_energy(corpus):
    """A detector of narrow-band transients in 2-9 kHz (per-frequency and per-frame medians
    removed, so that steady insects and broadband clicks do not count) ranks every bird clip above
    every nobird clip within each dataset; energy in that band, pooled over datasets, does not."""
    root, _ = corpus
    energy, truth = [], []
    for dataset in CSVS:
        scores = {}
        for hasbird in ("0", "1"):
            freqs, powers = spectra(root, dataset, hasbird)
            band = (freqs >= 2000) & (freqs <= 9000)
            for power in powers:
                log = np.log(power[band] + 1e-12)
                log = log - np.median(log, axis=1, keepdims=True)
                log = log - np.median(log, axis=0, keepdims=True)
                scores.setdefault(hasbird, []).append(np.max(np.mean(np.maximum(log - 3, 0), axis=0)))
                energy.append(np.log(power[band].mean()))
                truth.append(int(hasbird))
        assert min(scores["1"]) > max(scores["0"]), dataset
    assert roc_auc_score(truth, energy) < 0.85


# ---------------------------------------------------------------- data prep

def test_dev_dir(corpus):
    root, data = corpus
    dev = validate(os.path.join(data, "dev"))
    assert dev.classes == ["nobird", "bird"]
    assert set(dev.tables) == {"wav.scp", "utt2spk", "utt2dur", "utt2label", "utt2dataset", "utt2itemid"}
    expected = {f"{r['datasetid']}_{r['itemid']}": r for rows in listed(root).values() for r in rows}
    assert dev.utts == sorted(expected)
    assert dev.tables["utt2label"] == {u: {"0": "nobird", "1": "bird"}[r["hasbird"]] for u, r in expected.items()}
    assert dev.tables["utt2spk"] == dev.tables["utt2dataset"] == {u: r["datasetid"] for u, r in expected.items()}
    assert dev.tables["utt2itemid"] == {u: r["itemid"] for u, r in expected.items()}
    assert collections.Counter(dev.tables["utt2dataset"].values()) == {FF: 24, WARBLR: 24, BIRDVOX: 24}
    assert set(dev.tables["utt2dur"].values()) == {"3.000"}
    utt = f"{FF}_{listed(root)[FF][0]['itemid']}"
    assert dev.tables["wav.scp"][utt] == os.path.join(root, AUDIO[FF], listed(root)[FF][0]["itemid"] + ".wav")
    assert read_table(os.path.join(data, "dev", "spk2utt")).keys() == {FF, WARBLR, BIRDVOX}
    assert not os.path.exists(os.path.join(data, "dev", "missing"))


def test_leave_one_dataset_out_folds(corpus):
    _, data = corpus
    assert Path(data, "folds.txt").read_text() == f"1 {FF}\n2 {WARBLR}\n3 {BIRDVOX}\n"
    dev = validate(os.path.join(data, "dev"))
    for k, held_out in enumerate((FF, WARBLR, BIRDVOX), start=1):
        train_dir, test_dir = os.path.join(data, f"fold{k}_train"), os.path.join(data, f"fold{k}_test")
        train = validate(train_dir)
        test = validate(test_dir, disjoint_with=[train_dir])
        assert set(test.tables["utt2spk"].values()) == {held_out}
        assert set(train.tables["utt2spk"].values()) == {FF, WARBLR, BIRDVOX} - {held_out}
        assert sorted(train.utts + test.utts) == dev.utts and not set(train.utts) & set(test.utts)
        assert test.tables["utt2label"] == {u: dev.tables["utt2label"][u] for u in test.utts}
        assert train.classes == test.classes == ["nobird", "bird"]
        # the disjointness check is real: the dev set shares the held-out dataset with the test dir
        assert any(f"group '{held_out}'" in p for p in find_problems(os.path.join(data, "dev"), [test_dir]))


def test_eval_dir(corpus):
    root, data = corpus
    evaluation = validate(os.path.join(data, "eval"))
    assert "utt2label" not in evaluation.tables and evaluation.classes == ["nobird", "bird"]
    truth = read_csv(os.path.join(root, "mini_eval_truth.csv"))[1]
    assert evaluation.tables["utt2itemid"] == {f"{r['datasetid']}_{r['itemid']}": r["itemid"] for r in truth}
    assert collections.Counter(evaluation.tables["utt2spk"].values()) == {"warblrb10k": 4, "Chernobyl": 4,
                                                                          "PolandNFC": 4}
    chernobyl = next(r["itemid"] for r in truth if r["datasetid"] == "Chernobyl")
    assert evaluation.tables["wav.scp"][f"Chernobyl_{chernobyl}"] == os.path.join(root, "eval", "Chernobyl", "wav",
                                                                                chernobyl + ".wav")
    assert all(os.path.isfile(p) for p in evaluation.tables["wav.scp"].values())


def test_eval_root_errors(corpus, tmp_path, caplog):
    root, _ = corpus
    with pytest.raises(DataDirError, match="a development list in the --eval-root"):
        prep.prepare(root, str(tmp_path / "a"), eval_root=root)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.csv").write_text("fname,label\nx,y\n")
    with pytest.raises(DataDirError, match=r"no \*\.csv list with the columns itemid,datasetid \(found: notes.csv\)"):
        prep.prepare(root, str(tmp_path / "b"), eval_root=str(empty))
    assert "notes.csv: skipped" in caplog.text
    # an item whose wav is nowhere below the eval root is missing, listed under the root
    (empty / "list.csv").write_text("itemid,datasetid\ngone,PolandNFC\n")
    with pytest.raises(DataDirError, match=r"eval \(dataset PolandNFC\): 1 missing and 0 unreadable of 1"):
        prep.prepare(root, str(tmp_path / "c"), eval_root=str(empty))


def test_eval_lists_without_hasbird_and_clips_anywhere_below(corpus, tmp_path, caplog):
    root, _ = corpus
    wavs = sorted(os.listdir(os.path.join(root, AUDIO[FF])))[:3]
    eval_root = tmp_path / "evaluation"
    (eval_root / "a" / "deep").mkdir(parents=True)
    (eval_root / "b").mkdir()
    for wav, folder in zip(wavs, ("a/deep", "b", "b")):
        (eval_root / folder / wav).symlink_to(os.path.join(root, AUDIO[FF], wav))
    (eval_root / "one.csv").write_text(f"datasetid,itemid\nSiteX,{wavs[0][:-4]}\nSiteX,{wavs[1][:-4]}\n")
    (eval_root / "two.csv").write_text(f"itemid,datasetid,hasbird\n{wavs[2][:-4]},SiteY,1\n")
    prep.prepare(root, str(tmp_path / "data"), eval_root=str(eval_root))
    evaluation = validate(str(tmp_path / "data" / "eval"))
    items = [wav[:-4] for wav in wavs]
    assert evaluation.tables["utt2itemid"] == {f"SiteX_{items[0]}": items[0], f"SiteX_{items[1]}": items[1],
                                               f"SiteY_{items[2]}": items[2]}
    assert evaluation.tables["wav.scp"][f"SiteX_{wavs[0][:-4]}"] == str(eval_root / "a" / "deep" / wavs[0])
    assert "utt2label" not in evaluation.tables and "ignored 1 hasbird values" in caplog.text
    (eval_root / "a" / wavs[1]).symlink_to(os.path.join(root, AUDIO[FF], wavs[1]))
    with pytest.raises(DataDirError, match=rf"one.csv:3: '{wavs[1][:-4]}.wav' is in 2 places below"):
        prep.prepare(root, str(tmp_path / "data2"), eval_root=str(eval_root))


# ---------------------------------------------------------------- bad corpora

def linked_corpus(root, tmp_path, edits=None, drop_audio=(), flat=()):
    """A copy of ``root``'s development release: audio linked, lists rewritten by ``edits``
    (``{datasetid: lines -> lines}``), ``drop_audio`` item ids without a wav, and the datasets of
    ``flat`` with their clips directly in the audio folder (no ``wav/``)."""
    copy = tmp_path / "corpus"
    copy.mkdir()
    for dataset, name in CSVS.items():
        lines = Path(root, name).read_text().splitlines()
        if edits and dataset in edits:
            lines = edits[dataset](lines)
        (copy / name).write_text("\n".join(lines) + "\n")
        folder = copy / (AUDIO[dataset].rsplit("/", 1)[0] if dataset in flat else AUDIO[dataset])
        folder.mkdir(parents=True)
        for wav in os.listdir(os.path.join(root, AUDIO[dataset])):
            if wav[:-4] not in drop_audio:
                (folder / wav).symlink_to(os.path.join(root, AUDIO[dataset], wav))
    return str(copy)


def item(root, dataset, index):
    return listed(root)[dataset][index]["itemid"]


def error_of(root, tmp_path, **options):
    with pytest.raises(DataDirError) as error:
        prep.prepare(root, str(tmp_path / "data"), **options)
    assert not (tmp_path / "data" / "dev").exists()         # nothing written before the lists are known good
    return str(error.value)


def test_missing_hasbird_column(corpus, tmp_path):
    root = linked_corpus(corpus[0], tmp_path, {WARBLR: lambda lines: [l.rsplit(",", 1)[0] for l in lines]})
    message = error_of(root, tmp_path)
    assert message.startswith(f"{os.path.join(root, CSVS[WARBLR])}:1: header 'itemid,datasetid' lacks column(s) "
                              "hasbird")


def test_hasbird_not_0_or_1(corpus, tmp_path):
    root = linked_corpus(corpus[0], tmp_path, {BIRDVOX: lambda lines: lines[:3] + [lines[3][:-1] + "2"] + lines[4:]})
    assert error_of(root, tmp_path).startswith(
        f"{os.path.join(root, CSVS[BIRDVOX])}:4: hasbird is '2'; it must be 0 (no bird) or 1 (bird)")


def test_duplicate_itemid(corpus, tmp_path):
    root = linked_corpus(corpus[0], tmp_path, {FF: lambda lines: lines[:5] + [lines[2]] + lines[5:]})
    path = os.path.join(root, CSVS[FF])
    assert error_of(root, tmp_path).startswith(
        f"{path}:6: itemid '{item(corpus[0], FF, 1)}' is already listed at {path}:3; a clip must be listed once")


def test_item_in_two_datasets_lists(corpus, tmp_path):
    """The same clip listed by two datasets (its row copied into another dataset's list)."""
    stolen = item(corpus[0], FF, 0)
    root = linked_corpus(corpus[0], tmp_path, {WARBLR: lambda lines: lines + [f"{stolen},{WARBLR},1"]})
    assert error_of(root, tmp_path).startswith(
        f"{os.path.join(root, CSVS[WARBLR])}:26: itemid '{stolen}' is already listed at "
        f"{os.path.join(root, CSVS[FF])}:2")


def test_same_dataset_in_two_lists(corpus, tmp_path):
    root = linked_corpus(corpus[0], tmp_path, {BIRDVOX: lambda lines: [l.replace(BIRDVOX, FF) for l in lines]})
    assert error_of(root, tmp_path).startswith(
        f"{os.path.join(root, CSVS[BIRDVOX])}:2: datasetid '{FF}' is also the dataset of "
        f"{os.path.join(root, CSVS[FF])}:2; the three development lists must be three different datasets")


@pytest.mark.parametrize("dataset, edit, line, message", [
    (WARBLR, lambda lines: lines[:7] + [lines[7].replace(WARBLR, FF)] + lines[8:], 8,
     f"datasetid '{FF}' differs from '{WARBLR}' on line 2; each list holds one dataset"),
    (FF, lambda lines: lines[:2] + ["my clip,ff1010bird,0"] + lines[2:], 3, "id 'my clip' contains characters"),
    (FF, lambda lines: lines[:4] + [lines[4] + ",extra"] + lines[5:], 5, "expected 3 comma-separated fields"),
    (BIRDVOX, lambda lines: lines[:2] + [f",{BIRDVOX},1"] + lines[2:], 3, "empty itemid"),
])
def test_bad_rows_name_file_and_line(corpus, tmp_path, dataset, edit, line, message):
    root = linked_corpus(corpus[0], tmp_path, {dataset: edit})
    text = error_of(root, tmp_path)
    assert text.startswith(f"{os.path.join(root, CSVS[dataset])}:{line}: ") and message in text


def test_missing_audio_below_and_above_the_fraction(corpus, tmp_path):
    gone = item(corpus[0], WARBLR, 5)
    root = linked_corpus(corpus[0], tmp_path, drop_audio={gone})
    data = tmp_path / "data"
    summaries = prep.prepare(root, str(data))                  # 1 of 24 = 4.2 % <= 5 %
    assert "left out 1 missing, 0 unreadable" in summaries["dev"] and "warblrb10k 23" in summaries["dev"]
    expected = f"{WARBLR}_{gone} {os.path.join(root, AUDIO[WARBLR], gone + '.wav')}\n"
    for name in ("dev", "fold2_test", "fold1_train"):
        assert (data / name / "missing").read_text() == expected
        assert f"{WARBLR}_{gone}" not in validate(str(data / name)).tables["wav.scp"]
    assert not (data / "fold2_train" / "missing").exists()     # warblrb10k is not in it
    assert len(validate(str(data / "dev")).utts) == 71
    message = error_of(root, tmp_path / "strict", max_missing_fraction=0.02)
    assert f"{data.parent / 'strict' / 'data' / 'dev'} (dataset {WARBLR}): 1 missing and 0 unreadable of 24 " \
           "listed audio files (allowed: 2.0%)" in message
    assert gone + ".wav" in message


def test_unreadable_audio_goes_to_bad_utts(corpus, tmp_path):
    broken = item(corpus[0], BIRDVOX, 2)
    root = linked_corpus(corpus[0], tmp_path, drop_audio={broken})
    Path(root, AUDIO[BIRDVOX], broken + ".wav").write_bytes(b"RIFF not really a wav")
    summaries = prep.prepare(root, str(tmp_path / "data"))
    assert "left out 0 missing, 1 unreadable" in summaries["dev"]
    assert read_table(str(tmp_path / "data" / "fold3_test" / "bad_utts")).keys() == {f"{BIRDVOX}_{broken}"}


def test_audio_folder_without_wav_subfolder_and_missing_folder(corpus, tmp_path):
    root = linked_corpus(corpus[0], tmp_path, flat={BIRDVOX})
    prep.prepare(root, str(tmp_path / "data"))
    paths = validate(str(tmp_path / "data" / "fold3_test")).tables["wav.scp"].values()
    assert all(p.startswith(os.path.join(root, "BirdVox-DCASE-20k") + "/") and "/wav/" not in p for p in paths)
    os.rename(os.path.join(root, "BirdVox-DCASE-20k"), os.path.join(root, "elsewhere"))
    assert "no audio folder for BirdVox-DCASE-20k: neither" in error_of(root, tmp_path / "gone")


def test_cli_and_root_with_spaces(corpus, tmp_path, caplog):
    spaced = tmp_path / "my corpus"
    spaced.symlink_to(corpus[0])
    data = tmp_path / "data"
    assert prep.main(["--max-missing-fraction", "0", str(spaced), str(data)]) == 0
    paths = validate(str(data / "dev")).tables["wav.scp"].values()
    assert all(p.startswith(str(data / ".corpus_links" / "bad2018") + "/") and os.path.isfile(p) for p in paths)
    assert prep.main([str(tmp_path), str(tmp_path / "data2")]) == 1
    assert f"{tmp_path / CSVS[FF]} not found" in caplog.text
