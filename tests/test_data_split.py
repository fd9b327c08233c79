"""split_data, subset_data_dir, combine_data, split_validation."""
import os
from collections import Counter

import pytest
from test_data_helpers import SCENES, event_dir, keys, read_lines, scene_dir, write_lines

from dcase_tk.data.datadir import DataDir, load
from dcase_tk.data.safety import DataDirError
from dcase_tk.data.split import combine_data, split_data, split_validation, subset_data_dir
from dcase_tk.data.validate import find_problems


def groups_of(path):
    return {line.split()[1] for line in read_lines(path, "utt2spk")}


# --- split_data ----------------------------------------------------------------------------

def test_split_keeps_groups_whole_covers_every_utt_once_and_balances(tmp_path):
    src = tmp_path / "d"
    tables = {"wav.scp": {}, "utt2spk": {}}
    for group, size in (("g1", 5), ("g2", 4), ("g3", 3), ("g4", 3), ("g5", 2), ("g6", 1)):
        for i in range(size):
            tables["wav.scp"][f"{group}-{i}"] = f"/x/{group}-{i}.wav"
            tables["utt2spk"][f"{group}-{i}"] = group
    DataDir(tables).save(str(src))
    jobs = split_data(str(src), 3)
    assert jobs == [str(src / "split3" / str(j)) for j in (1, 2, 3)]
    all_utts = [utt for job in jobs for utt in keys(tmp_path / job)]
    assert sorted(all_utts) == sorted(tables["wav.scp"])  # every utt exactly once
    job_groups = [groups_of(tmp_path / job) for job in jobs]
    assert sum(len(g) for g in job_groups) == 6  # no group in two jobs
    assert sorted(len(keys(tmp_path / job)) for job in jobs) == [6, 6, 6]  # 5+1, 4+2, 3+3
    for job in jobs:
        assert find_problems(job) == []


def test_split_without_utt2spk_splits_per_utterance(tmp_path):
    src = event_dir(tmp_path / "d")
    jobs = split_data(str(src), 3)
    assert [keys(tmp_path / job) for job in jobs] == [["c1"], ["c2"], ["c3"]]
    assert read_lines(tmp_path / jobs[0], "events") == ["c1 0.500 2.000 Dog", "c1 1.000 9.000 Speech"]


def test_split_into_more_jobs_than_groups_is_an_error(tmp_path):
    src = scene_dir(tmp_path / "d", cities=("paris",), locations=1)  # 3 groups
    with pytest.raises(DataDirError, match="only 3 groups .* use at most 3 jobs"):
        split_data(str(src), 4)


def test_split_is_skipped_when_up_to_date_and_redone_after_a_change(tmp_path):
    src = scene_dir(tmp_path / "d")
    split_data(str(src), 2)
    marker = src / "split2" / "1" / "marker"
    marker.write_text("x")
    old = os.stat(src / "split2").st_mtime_ns - 10**9
    os.utime(src / "split2", ns=(old, old))
    for name in os.listdir(src):
        if os.path.isfile(src / name):
            os.utime(src / name, ns=(old - 10**9, old - 10**9))
    split_data(str(src), 2)
    assert marker.exists()  # up to date: not rebuilt
    write_lines(src, "utt2dur", [line.replace("10.000", "9.000") for line in read_lines(src, "utt2dur")])
    split_data(str(src), 2)
    assert not marker.exists()
    assert read_lines(src / "split2" / "1", "utt2dur")[0].endswith(" 9.000")
    assert [p for p in os.listdir(src) if p.startswith(".tmp")] == []


# --- subset_data_dir -----------------------------------------------------------------------

def test_subset_by_filter_utt_list_and_first(tmp_path):
    src = scene_dir(tmp_path / "d", devices=("a", "b", "c"))
    assert subset_data_dir(str(src), str(tmp_path / "a"), filters={"utt2device": ["a"]}) == 36
    assert {line.split()[1] for line in read_lines(tmp_path / "a", "utt2device")} == {"a"}
    assert find_problems(str(tmp_path / "a")) == []

    (tmp_path / "list").write_text("park-lisbon-20-0-b\nbus-lisbon-10-1-c extra column\nbus-lisbon-10-1-a\n")
    subset_data_dir(str(src), str(tmp_path / "l"), utt_list=str(tmp_path / "list"),
                    filters={"utt2device": ["b", "c"]})
    assert keys(tmp_path / "l") == ["bus-lisbon-10-1-c", "park-lisbon-20-0-b"]

    subset_data_dir(str(src), str(tmp_path / "x"), excludes={"utt2device": ["a", "c"]})
    assert keys(tmp_path / "x") == [k for k in keys(src) if k.endswith("-b")] != []

    subset_data_dir(str(src), str(tmp_path / "f"), first=4)
    assert keys(tmp_path / "f") == keys(src)[:4]
    assert read_lines(tmp_path / "f", "classes.txt") == list(SCENES)


def test_subset_errors(tmp_path):
    src = scene_dir(tmp_path / "d")
    (tmp_path / "list").write_text("nope-1\n")
    with pytest.raises(DataDirError, match="1 utterances are not in .*wav.scp, e.g. nope-1"):
        subset_data_dir(str(src), str(tmp_path / "x"), utt_list=str(tmp_path / "list"))
    with pytest.raises(DataDirError, match="keeps no utterances"):
        subset_data_dir(str(src), str(tmp_path / "x"), filters={"utt2device": ["d"]})
    with pytest.raises(DataDirError, match="no per-utterance file 'utt2mic'"):
        subset_data_dir(str(src), str(tmp_path / "x"), filters={"utt2mic": ["d"]})
    assert not (tmp_path / "x").exists()


# --- combine_data --------------------------------------------------------------------------

def test_combine_is_the_union(tmp_path):
    a = scene_dir(tmp_path / "a", cities=("barcelona",))
    b = scene_dir(tmp_path / "b", cities=("lisbon",))
    (a / "utt2fold").write_text("".join(f"{u} 1\n" for u in keys(a)))  # only in a: left out
    combined = combine_data(str(tmp_path / "c"), [str(a), str(b)])
    assert keys(tmp_path / "c") == sorted(keys(a) + keys(b), key=str.encode)
    assert "utt2fold" not in combined.tables and not (tmp_path / "c" / "utt2fold").exists()
    assert groups_of(tmp_path / "c") == groups_of(a) | groups_of(b)
    assert find_problems(str(tmp_path / "c")) == []


def test_combine_refuses_duplicates_and_disagreeing_classes(tmp_path):
    a = scene_dir(tmp_path / "a", cities=("barcelona",))
    b = scene_dir(tmp_path / "b", cities=("barcelona", "lisbon"))
    with pytest.raises(DataDirError, match=r"'airport-barcelona-0-0-a' is in both .*/a/wav.scp and .*/b/"):
        combine_data(str(tmp_path / "c"), [str(a), str(b)])
    e = event_dir(tmp_path / "e")
    with pytest.raises(DataDirError, match="classes.txt differs between"):
        combine_data(str(tmp_path / "c"), [str(a), str(e)])
    assert not (tmp_path / "c").exists()


# --- split_validation ----------------------------------------------------------------------

def strata_of(path):
    label = dict(line.split() for line in read_lines(path, "utt2label"))
    city = dict(line.split() for line in read_lines(path, "utt2city"))
    return Counter((label[u], city[u]) for u in label)


def test_split_validation_holds_out_whole_groups_per_stratum(tmp_path):
    # 6 groups (locations) of 2 utterances per stratum (scene, city)
    src = scene_dir(tmp_path / "d", cities=("barcelona", "lisbon", "paris"), locations=6)
    train, valid = split_validation(str(src), str(tmp_path / "tr"), str(tmp_path / "cv"), fraction=0.3, seed=1)
    assert sorted(train.utts + valid.utts) == sorted(keys(src))
    assert not groups_of(tmp_path / "tr") & groups_of(tmp_path / "cv")
    total, held = strata_of(src), strata_of(tmp_path / "cv")
    assert set(strata_of(tmp_path / "tr")) == set(total)  # every stratum keeps a group in train
    for stratum, n in total.items():
        assert held[stratum] == 4  # 2 of 6 groups, 2 utts each: the closest to 0.3 * 12
    assert find_problems(str(tmp_path / "tr"), disjoint_with=[str(tmp_path / "cv")]) == []


def test_split_validation_is_deterministic_by_seed(tmp_path):
    src = scene_dir(tmp_path / "d", locations=8)
    runs = [split_validation(str(src), str(tmp_path / f"tr{i}"), str(tmp_path / f"cv{i}"), seed=seed)[1].utts
            for i, seed in enumerate((7, 7, 8))]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_split_validation_never_takes_the_last_group_of_a_stratum(tmp_path):
    src = scene_dir(tmp_path / "d", locations=1)  # one group per (scene, city)
    train, valid = split_validation(str(src), str(tmp_path / "tr"), str(tmp_path / "cv"), fraction=0.9)
    assert valid.utts == [] and len(train.utts) == 12


def test_split_validation_rejects_group_spanning_strata(tmp_path):
    src = scene_dir(tmp_path / "d")
    lines = read_lines(src, "utt2city")
    write_lines(src, "utt2city", [lines[0], lines[1].split()[0] + " lisbon"] + lines[2:])
    with pytest.raises(DataDirError, match=r"group 'barcelona-0' spans several strata: "
                                           r"'airport-barcelona-0-0-a' is airport barcelona but "
                                           r"'airport-barcelona-0-1-a' is airport lisbon"):
        split_validation(str(src), str(tmp_path / "tr"), str(tmp_path / "cv"))
    assert load(str(src)).utts  # source untouched and loadable


def test_split_validation_of_single_utterances_splits_groups(tmp_path):
    # one group (location) per stratum: whole groups give no validation set, single utterances do
    src = scene_dir(tmp_path / "d", locations=1)
    train, valid = split_validation(str(src), str(tmp_path / "tr"), str(tmp_path / "cv"), fraction=0.5,
                                    by_group=False)
    assert len(valid.utts) == 6 and len(train.utts) == 6
    assert strata_of(tmp_path / "cv") == strata_of(tmp_path / "tr")      # one of each stratum's two
