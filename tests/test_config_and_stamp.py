"""Configs with overrides, and .done stamps."""
import os
import shlex
import subprocess
import sys

import pytest

from dcase_tk import cli, config as cfg, stamp
from dcase_tk.bin import config_value


def test_overrides_typed_and_dotted():
    base = {"training": {"epochs": 200, "lr": 0.001}, "model": {"name": "cnn"}}
    out = cfg.apply_overrides(base, ["--training.epochs", "30", "--model.pool", "[5, 5]", "--flag", "true"])
    assert out["training"] == {"epochs": 30, "lr": 0.001}
    assert out["model"]["pool"] == [5, 5] and out["flag"] is True
    assert base["training"]["epochs"] == 200          # the input is not modified


def test_override_errors():
    with pytest.raises(cfg.ConfigError, match="pairs"):
        cfg.apply_overrides({}, ["--a"])
    with pytest.raises(cfg.ConfigError, match="unknown option --b"):
        cfg.apply_overrides({"a": 1}, ["--b", "2"], known_only=True)


def test_load_yaml_rejects_non_mapping_and_unsafe(tmp_path):
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(cfg.ConfigError, match="mapping"):
        cfg.load_yaml(tmp_path / "list.yaml")
    (tmp_path / "evil.yaml").write_text("a: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(cfg.ConfigError, match="not valid YAML"):
        cfg.load_yaml(tmp_path / "evil.yaml")


def test_stamp_follows_inputs(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "utt2label").write_text("u1 a\n")
    (data / "split2").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    digest = stamp.inputs_hash([str(data)], {"x": 1})
    stamp.mark_done(str(out), digest)
    assert stamp.is_done(str(out), stamp.inputs_hash([str(data)], {"x": 1}))
    (data / "split2" / "anything").write_text("derived files below the top level do not count")
    assert stamp.is_done(str(out), stamp.inputs_hash([str(data)], {"x": 1}))
    assert not stamp.is_done(str(out), stamp.inputs_hash([str(data)], {"x": 2}))
    (data / "utt2label").write_text("u1 b\n")                     # a hand edit
    assert not stamp.is_done(str(out), stamp.inputs_hash([str(data)], {"x": 1}))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        stamp.inputs_hash([str(tmp_path / "nope")])


def test_stamp_binary_files_by_size_and_mtime(tmp_path):
    ark = tmp_path / "a.ark"
    ark.write_bytes(b"1234")
    before = stamp.inputs_hash([str(ark)])
    st = os.stat(ark)
    os.utime(ark, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert stamp.inputs_hash([str(ark)]) != before


def test_stamp_cli(tmp_path):
    (tmp_path / "in.txt").write_text("x\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "dcase_tk.bin.stamp", *a],
                                    capture_output=True, text=True)
    out, inp = str(tmp_path / "out"), str(tmp_path / "in.txt")
    assert run("check", out, inp).returncode == 1
    assert run("done", out, inp).returncode == 0
    r = run("check", out, inp)
    assert r.returncode == 0 and "up to date" in r.stdout
    assert run("check", out, inp, "--force", "true").returncode == 1
    assert run("check", out, inp, "--extra", "other options").returncode == 1


def test_config_value_prints_a_section_as_overrides(tmp_path, capsys):
    path = tmp_path / "sys.yaml"
    path.write_text("mini_corpus:\n  model: {channels: [16, 32]}\n  input: {crop: random, note: two words}\n")
    config_value.main(["--as_options", str(path), "mini_corpus"])
    printed = capsys.readouterr().out
    assert printed.split()[:4] == ["--model.channels", "[16,32]", "--input.crop", "random"]
    # as the shell passes them on, the words parse back to the section
    assert cfg.apply_overrides({}, shlex.split(printed)) == cfg.load_yaml(str(path))["mini_corpus"]


def test_config_value_prints_the_keys_of_a_section(tmp_path, capsys):
    path = tmp_path / "sys.yaml"
    path.write_text("decodings:\n  sed1: {clip_tags: whole_clip}\n  sed2: {method: hysteresis}\nfeatures: x\n")
    config_value.main(["--keys", str(path), "decodings"])
    assert capsys.readouterr().out.split() == ["sed1", "sed2"]
    config_value.main(["--keys", str(path), "tune"])
    assert capsys.readouterr().out.strip() == ""
    with pytest.raises(cli.ToolError, match="'features' is not a section"):
        config_value.main(["--keys", str(path), "features"])
