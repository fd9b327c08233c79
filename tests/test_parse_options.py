"""utils/parse_options.sh: Kaldi option semantics."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """#!/usr/bin/env bash
set -euo pipefail
nj=4
use_gpu=false
train_opts=""
help_message="Usage: demo.sh [options] <dir>"
. {root}/utils/parse_options.sh
echo "nj=$nj use_gpu=$use_gpu train_opts=[$train_opts] args=[$*]"
"""


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "demo.sh"
    path.write_text(SCRIPT.format(root=ROOT))
    path.chmod(0o755)

    def run(*args):
        return subprocess.run([str(path), *args], capture_output=True, text=True)
    return run


def test_values_and_positionals(demo):
    r = demo("--nj", "3", "--use-gpu", "true", "--train_opts", "--a 1 --b 2", "x", "y z")
    assert r.stdout.strip() == "nj=3 use_gpu=true train_opts=[--a 1 --b 2] args=[x y z]"
    assert demo("--nj=7", "d").stdout.strip().startswith("nj=7 ")


def test_config_file_first_command_line_wins(demo, tmp_path):
    conf = tmp_path / "x.conf"
    conf.write_text("nj=9\nuse_gpu=true\n")
    r = demo("--nj", "2", "--config", str(conf), "d")
    assert r.stdout.strip() == "nj=2 use_gpu=true train_opts=[] args=[d]"


@pytest.mark.parametrize("args, message", [
    (["--bogus", "1"], "unknown option '--bogus'"),
    (["--use_gpu", "yes"], "takes true or false"),
    (["--nj"], "needs a value"),
    (["--config", "/nonexistent.conf"], "no such file"),
])
def test_misuse(demo, args, message):
    r = demo(*args)
    assert r.returncode != 0 and message in r.stderr and "--help" in r.stderr


def test_help_lists_options_with_defaults(demo):
    r = demo("--help")
    assert r.returncode == 0
    assert "Usage: demo.sh" in r.stdout
    lines = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines() if line.startswith("  --")}
    assert lines["--nj"] == ["4"] and lines["--use_gpu"] == ["false"] and "--help_message" not in lines
