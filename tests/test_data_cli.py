"""The data-dir CLIs and their utils/*.sh wrappers, run as subprocesses."""
import os
import subprocess
import sys

from test_data_helpers import keys, read_lines, scene_dir, write_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(tool, *args):
    return subprocess.run([sys.executable, "-m", f"dcase_tk.bin.{tool}", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def run_wrapper(tool, *args):
    """utils/<tool>.sh with the venv's python first on PATH, as path.sh sets it up."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return subprocess.run([os.path.join(ROOT, "utils", f"{tool}.sh"), *map(str, args)],
                          capture_output=True, text=True, env=env)


def assert_clean_failure(result, *fragments):
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_validate_data_dir_wrapper_ok_and_problems(tmp_path):
    train = scene_dir(tmp_path / "train", cities=("barcelona",))
    test = scene_dir(tmp_path / "test", cities=("lisbon",))
    ok = run_wrapper("validate_data_dir", train, "--disjoint-with", test)
    assert ok.returncode == 0 and ok.stdout == f"{train}: OK (18 utterances, 9 groups)\n"
    overlap = scene_dir(tmp_path / "overlap", cities=("barcelona",), locations=1)  # 3 of train's groups
    bad = run_wrapper("validate_data_dir", train,
                      "--disjoint-with", tmp_path / "nope", "--disjoint-with", overlap)
    assert_clean_failure(bad, f"{train}: 4 problem(s)", f"{tmp_path / 'nope'}: no data directory",
                         f"{train}/utt2spk:1: group 'barcelona-0' (utterance 'airport-barcelona-0-0-a') "
                         f"is also in {overlap} (utterance 'airport-barcelona-0-0-a', utt2spk line 1)")


def test_fix_data_dir(tmp_path):
    d = scene_dir(tmp_path / "d")
    write_lines(d, "utt2dur", read_lines(d, "utt2dur")[1:])
    refused = run("fix_data_dir", d, "--max-drop-fraction", "0.01")
    assert_clean_failure(refused, "would drop 1 of 36 utterances", "utt2dur lacks 1")
    assert len(keys(d)) == 36
    fixed = run("fix_data_dir", d)
    assert fixed.returncode == 0, fixed.stderr
    assert "1 utterances dropped" in fixed.stdout and len(keys(d)) == 35


def test_split_data(tmp_path):
    d = scene_dir(tmp_path / "d")
    ok = run("split_data", d, 5)
    assert ok.returncode == 0, ok.stderr
    assert sum(len(keys(d / "split5" / str(j))) for j in range(1, 6)) == 36
    assert_clean_failure(run("split_data", d, 19), "only 18 groups")


def test_subset_data_dir_filter(tmp_path):
    d = scene_dir(tmp_path / "d", devices=("a", "b"))
    ok = run("subset_data_dir", "--filter", "utt2device", "a", d, tmp_path / "a")
    assert ok.returncode == 0 and ok.stdout == f"{tmp_path / 'a'}: 36 utterances from {d}\n"
    assert all(u.endswith("-a") for u in keys(tmp_path / "a"))
    assert_clean_failure(run("subset_data_dir", "--filter", "utt2device", "z", d, tmp_path / "z"),
                         "keeps no utterances")


def test_combine_data(tmp_path):
    a = scene_dir(tmp_path / "a", cities=("barcelona",))
    b = scene_dir(tmp_path / "b", cities=("lisbon",))
    ok = run("combine_data", tmp_path / "c", a, b)
    assert ok.returncode == 0 and "36 utterances from 2 directories" in ok.stdout
    assert_clean_failure(run("combine_data", tmp_path / "c2", a, a), "is in both")


def test_split_validation(tmp_path):
    d = scene_dir(tmp_path / "d", locations=4)
    ok = run("split_validation", "--fraction", "0.25", "--strata", "utt2label utt2city",
             d, tmp_path / "tr", tmp_path / "cv")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == f"{tmp_path / 'tr'}: 36 utterances; {tmp_path / 'cv'}: 12 utterances\n"
    assert_clean_failure(run("split_validation", "--fraction", "1.5", d, tmp_path / "tr", tmp_path / "cv"),
                         "--fraction must be between 0 and 1")
