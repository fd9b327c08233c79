"""DataDir load/save, validate_data_dir checks, fix_data_dir."""
import collections
import os

import numpy as np
import pytest
import soundfile
from test_data_helpers import event_dir, keys, read_lines, scene_dir, write_lines

from dcase_tk.data.corpus import check_audio
from dcase_tk.data.datadir import DataDir, load
from dcase_tk.data.fix import fix
from dcase_tk.data.safety import DataDirError
from dcase_tk.data.validate import find_problems, validate

STAGE1 = "stage 1 (data prep: local/<task>/prepare_data.py)"


def one_problem(path, **kwargs):
    problems = find_problems(str(path), **kwargs)
    assert len(problems) == 1, problems
    return problems[0]


# --- load / save ---------------------------------------------------------------------------

def test_save_sorts_in_byte_order_and_derives_spk2utt(tmp_path):
    tables = {"wav.scp": {"b": "/x/b.wav", "B": "/x/B.wav", "a_1": "/x/a_1.wav", "a-1": "/x/a-1.wav"},
              "utt2spk": {"b": "g2", "B": "g1", "a_1": "g1", "a-1": "g2"}}
    DataDir(tables).save(str(tmp_path / "d"))
    d = tmp_path / "d"
    assert keys(d) == ["B", "a-1", "a_1", "b"]  # byte order: upper case first, '-' before '_'
    assert read_lines(d, "spk2utt") == ["g1 B a_1", "g2 a-1 b"]
    assert (d / "wav.scp").read_text().endswith("/x/b.wav\n")
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp")] == []


def test_load_save_round_trip_keeps_events_classes_and_extras(tmp_path):
    d = event_dir(tmp_path / "d")
    (d / "frame_shift").write_bytes(b"0.02\n")
    data = load(str(d))
    assert data.utts == ["c1", "c2", "c3"]
    assert data.events["c1"] == ["0.500 2.000 Dog", "1.000 9.000 Speech"]
    assert data.classes == ["Speech", "Dog", "Cat"]  # file order, not sorted
    data.subset(["c1", "c3"]).save(str(tmp_path / "sub"))
    assert read_lines(tmp_path / "sub", "events") == ["c1 0.500 2.000 Dog", "c1 1.000 9.000 Speech"]
    assert keys(tmp_path / "sub") == ["c1", "c3"]
    assert (tmp_path / "sub" / "frame_shift").read_bytes() == b"0.02\n"


def test_save_into_existing_dir_removes_stale_files_keeps_subdirs(tmp_path):
    d = scene_dir(tmp_path / "d")
    (d / "feats.scp").write_text("stale 1\n")
    (d / "split2").mkdir()
    data = load(str(d))
    del data.tables["feats.scp"]
    data.save(str(d))
    assert not (d / "feats.scp").exists()
    assert (d / "split2").is_dir()
    assert find_problems(str(d)) == []


def test_load_reports_duplicate_with_stage(tmp_path):
    d = scene_dir(tmp_path / "d")
    write_lines(d, "utt2label", read_lines(d, "utt2label")[:2] + read_lines(d, "utt2label")[1:])
    with pytest.raises(DataDirError, match=r"utt2label:3: duplicate key .* line 2.*stage 1"):
        load(str(d))


# --- validate ------------------------------------------------------------------------------

def test_valid_dirs_have_no_problems(tmp_path):
    data = validate(str(scene_dir(tmp_path / "scenes")))
    assert len(data.utts) == 36
    assert find_problems(str(event_dir(tmp_path / "events"))) == []


def test_unsorted_file_names_line_and_both_keys(tmp_path):
    d = scene_dir(tmp_path / "d")
    lines = read_lines(d, "utt2label")
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(d, "utt2label", lines)
    message = one_problem(d)
    k2, k3 = lines[2].split()[0], lines[3].split()[0]
    assert f"utt2label:4: not byte-order sorted: key '{k3}' comes after '{k2}' (line 3)" in message
    assert STAGE1 in message


def test_duplicate_key_names_both_lines(tmp_path):
    d = scene_dir(tmp_path / "d")
    lines = read_lines(d, "wav.scp")
    write_lines(d, "wav.scp", lines[:5] + [lines[4]] + lines[5:])
    message = one_problem(d)
    assert f"wav.scp:6: duplicate key '{lines[4].split()[0]}' (first on line 5)" in message
    assert STAGE1 in message


def test_key_sets_that_differ_name_file_count_and_keys(tmp_path):
    d = scene_dir(tmp_path / "d")
    lines = read_lines(d, "utt2device")
    write_lines(d, "utt2device", lines[1:] + ["zzz-extra a"])
    problems = find_problems(str(d))
    assert len(problems) == 2, problems
    missing, extra = problems
    first_utt = lines[0].split()[0]
    assert "utt2device: 1 of 36 utterances of wav.scp have no line here" in missing
    assert f"'{first_utt}' (wav.scp line 1)" in missing and STAGE1 in missing
    assert "utt2device: 1 keys not in wav.scp: 'zzz-extra' (line 36)" in extra


def test_label_not_in_classes(tmp_path):
    d = scene_dir(tmp_path / "d")
    lines = read_lines(d, "utt2label")
    utt = lines[6].split()[0]
    lines[6] = f"{utt} tram"
    write_lines(d, "utt2label", lines)
    message = one_problem(d)
    assert f"utt2label:7: label 'tram' of '{utt}' is not in classes.txt" in message and STAGE1 in message


def test_labels_without_classes_txt(tmp_path):
    d = scene_dir(tmp_path / "d")
    (d / "classes.txt").unlink()
    assert "classes.txt: missing, but the directory has labels" in one_problem(d)


@pytest.mark.parametrize("event, expected", [
    ("c2 3.000 3.000 Cat", "events:3: event of 'c2' needs 0 <= onset < offset, got 3.000 3.000"),
    ("c2 3.000 10.500 Cat", "events:3: event of 'c2' ends at 10.500 s, after the clip's end (10 s in utt2dur)"),
    ("c2 3.000 4.000 Bird", "events:3: label 'Bird' of 'c2' is not in classes.txt"),
    ("c2 3.0 four Cat", "events:3: expected '<utt> <onset> <offset> <label>' with numeric times"),
])
def test_bad_events(tmp_path, event, expected):
    d = event_dir(tmp_path / "d")
    write_lines(d, "events", read_lines(d, "events")[:2] + [event])
    message = one_problem(d)
    assert expected in message and STAGE1 in message


def test_events_for_unknown_utterance(tmp_path):
    d = event_dir(tmp_path / "d")
    write_lines(d, "events", read_lines(d, "events") + ["c9 1.000 2.000 Cat"])
    assert "events for 1 utterances not in wav.scp: 'c9' (line 4)" in one_problem(d)


def test_numeric_field_that_does_not_parse(tmp_path):
    d = scene_dir(tmp_path / "d")
    lines = read_lines(d, "utt2dur")
    lines[1] = lines[1].split()[0] + " ten"
    write_lines(d, "utt2dur", lines)
    assert "utt2dur:2: 'ten' is not a finite float" in one_problem(d)


def test_feature_files_name_stage_2(tmp_path):
    d = scene_dir(tmp_path / "d")
    write_lines(d, "utt2num_frames", [f"{u} 500" for u in keys(d)[:-1]])
    message = one_problem(d)
    assert "utt2num_frames: 1 of 36 utterances" in message
    assert "[written by stage 2 (steps/make_feats.sh)]" in message


def test_unsafe_id_and_path(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    write_lines(d, "wav.scp",
                ["a /x/a.wav", "b;rm /x/b.wav", "c /my corpus/c.wav", "d sox /x/d.wav -t wav - |"])
    problems = find_problems(str(d))
    assert len(problems) == 2, problems
    assert any("wav.scp:2: id 'b;rm' contains characters" in p for p in problems)
    assert any("wav.scp:3: path '/my corpus/c.wav' contains ' '" in p for p in problems)


def test_spk2utt_inconsistent_with_utt2spk(tmp_path):
    d = scene_dir(tmp_path / "d")
    lines = read_lines(d, "spk2utt")
    write_lines(d, "spk2utt", [lines[0].rsplit(" ", 1)[0]] + lines[1:])
    message = one_problem(d)
    group = lines[0].split()[0]
    assert f"spk2utt:1: utterances of group '{group}' differ from utt2spk" in message
    assert "utils/fix_data_dir.sh" in message


def test_group_in_both_train_and_test(tmp_path):
    train = scene_dir(tmp_path / "train", cities=("barcelona", "lisbon"))
    test = scene_dir(tmp_path / "test", cities=("lisbon", "paris"), locations=1)
    paris = scene_dir(tmp_path / "paris", cities=("paris",))
    assert find_problems(str(train), disjoint_with=[str(paris)]) == []
    problems = find_problems(str(train), disjoint_with=[str(test)])
    assert len(problems) == 3, problems  # lisbon-0, lisbon-10, lisbon-20
    assert "group 'lisbon-0' (utterance 'airport-lisbon-0-0-a') is also in" in problems[0]
    assert f"{test} (utterance 'airport-lisbon-0-0-a', utt2spk line 1)" in problems[0]
    assert f"{train}/utt2spk:" in problems[0] and STAGE1 in problems[0]


def test_validate_raises_with_every_problem(tmp_path):
    d = scene_dir(tmp_path / "d")
    write_lines(d, "utt2city", read_lines(d, "utt2city")[1:])
    write_lines(d, "utt2dur", reversed(read_lines(d, "utt2dur")))
    with pytest.raises(DataDirError) as e:
        validate(str(d))
    assert "2 problem(s)" in str(e.value)
    assert "utt2city: 1 of 36" in str(e.value) and "utt2dur:2: not byte-order sorted" in str(e.value)


# --- fix -----------------------------------------------------------------------------------

def test_fix_keeps_intersection_backs_up_and_resorts(tmp_path):
    d = event_dir(tmp_path / "d")
    write_lines(d, "utt2dur", ["c2 10.000", "c1 10.000", "c9 10.000"])  # unsorted, lacks c3, extra c9
    dropped = fix(str(d), max_drop_fraction=0.5)
    assert dropped == ["c3"]
    assert read_lines(d, "utt2dur") == ["c1 10.000", "c2 10.000"]
    assert keys(d) == ["c1", "c2"]
    assert keys(d, "events") == ["c1", "c1", "c2"]
    assert read_lines(d / ".backup", "utt2dur") == ["c2 10.000", "c1 10.000", "c9 10.000"]
    assert keys(d / ".backup") == ["c1", "c2", "c3"]
    assert find_problems(str(d)) == []


def test_fix_drops_events_of_dropped_utterances(tmp_path):
    d = event_dir(tmp_path / "d")
    write_lines(d, "utt2dur", ["c2 10.000", "c3 10.000"])
    fix(str(d), max_drop_fraction=0.5)
    assert read_lines(d, "events") == ["c2 3.000 10.000 Cat"]


def test_fix_refuses_above_fraction_and_changes_nothing(tmp_path):
    d = scene_dir(tmp_path / "d")
    write_lines(d, "utt2label", read_lines(d, "utt2label")[5:])
    write_lines(d, "utt2dur", read_lines(d, "utt2dur")[:-1])
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with pytest.raises(DataDirError) as e:
        fix(str(d), max_drop_fraction=0.1)
    message = str(e.value)
    assert "would drop 6 of 36 utterances" in message
    assert "utt2dur lacks 1" in message and "utt2label lacks 5" in message and "utt2city" not in message
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before  # no .backup either


def test_check_audio_sorts_files_and_refuses_an_empty_or_mostly_missing_list(tmp_path):
    Item = collections.namedtuple("Item", "path")
    soundfile.write(tmp_path / "ok.wav", np.zeros(800, dtype=np.float32), 16000)
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    items = [Item(str(tmp_path / name)) for name in ("ok.wav", "bad.wav", "gone.wav")]
    readable, missing, bad = check_audio(items, "data/x", max_missing_fraction=0.7)
    assert readable == [(items[0], 0.05)] and missing == [items[2]] and [b[0] for b in bad] == [items[1]]
    with pytest.raises(DataDirError, match=r"data/x: 1 missing and 1 unreadable of 3 .* e.g. .*gone.wav"):
        check_audio(items, "data/x", max_missing_fraction=0.5)
    with pytest.raises(DataDirError, match="data/x: the corpus lists no audio files"):
        check_audio([], "data/x", max_missing_fraction=0.5)
