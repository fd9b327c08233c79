"""steps/train_ubm.sh, train_ivector_extractor.sh and extract_ivectors.sh on a tiny dump dir,
through the local launcher: parallel jobs give the model of one job, re-runs skip, changed
options start over, and bad input is one clear error."""
import os
import subprocess

import kaldiio
import numpy as np
import pytest

from dcase_tk.bin import gmm_acc_stats, ivector_config, merge_tables
from dcase_tk.errors import UserError
from dcase_tk.stamp import start
from helpers import write_dump

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTS = ("--ubm.num_gauss 4 --ubm.num_iters_init 4 --ubm.num_iters 1 --ubm.num_iters_full 1 --ubm.top_n 4 "
        "--extractor.ivector_dim 3 --extractor.num_iters 2 --frontend.cmn utterance")


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    """12 utterances of 4-dim frames, two classes with shifted means; one group each."""
    rng = np.random.default_rng(0)
    mats = {f"u{i:02d}": (rng.standard_normal((150, 4)) * (1 + i % 2) + 3 * (i % 2)).astype(np.float32)
            for i in range(12)}
    directory = write_dump(tmp_path_factory.mktemp("ivec") / "dump", mats, {u: "ab"[i % 2] for i, u in enumerate(mats)},
                           ["a", "b"], extra={"utt2num_frames": {u: 150 for u in mats}, "utt2spk": {u: u for u in mats},
                                  "wav.scp": {u: f"/dev/null/{u}.wav" for u in mats}})
    (directory / "conf.yaml").write_text("features: x\n")
    return directory


def steps(dump, exp, nj, opts=OPTS):
    command = (f". {ROOT}/path.sh && "
               f"train_ubm.sh --nj {nj} --ivector_config {dump}/conf.yaml --opts '{opts}' {dump} {exp}/ubm && "
               f"train_ivector_extractor.sh --nj {nj} --ivector_config {dump}/conf.yaml --opts '{opts}' "
               f"{dump} {exp}/ubm {exp}/extractor && "
               f"extract_ivectors.sh --nj {nj} {exp}/extractor {dump} {exp}/ivectors")
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True)


def test_parallel_jobs_train_the_model_of_one_job_and_reruns_skip(dump, tmp_path):
    one, two = steps(dump, tmp_path / "one", 1), steps(dump, tmp_path / "two", 2)
    assert one.returncode == 0 and two.returncode == 0, one.stderr[-3000:] + two.stderr[-3000:]
    for name in ("ubm/final.npz", "extractor/final.npz"):
        a, b = np.load(tmp_path / "one" / name), np.load(tmp_path / "two" / name)
        for key in a.files:
            if key != "format":
                np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-6, err_msg=f"{name}: {key}")
    assert os.readlink(tmp_path / "two/ubm/final.npz") == "full.1.npz"
    assert sorted(os.listdir(tmp_path / "two/ubm/log")) == [
        "acc.diag.0.1.log", "acc.diag.0.2.log", "acc.full.0.1.log", "acc.full.0.2.log", "est.diag.0.log",
        "est.full.0.log", "init.log"]
    assert not list((tmp_path / "two/extractor").glob("acc.*"))            # summed, then removed
    config = (tmp_path / "two/extractor/config.yaml").read_text()
    assert "num_gauss: 4" in config and "min_post: 0.025" in config         # overrides and defaults
    vectors = kaldiio.load_scp(str(tmp_path / "two/ivectors/ivector.scp"))
    assert sorted(vectors) == [f"u{i:02d}" for i in range(12)] and all(v.shape == (3,) for v in vectors.values())
    one_vectors = kaldiio.load_scp(str(tmp_path / "one/ivectors/ivector.scp"))
    np.testing.assert_allclose(np.stack([vectors[u] for u in sorted(vectors)]),
                               np.stack([one_vectors[u] for u in sorted(vectors)]), rtol=1e-4, atol=1e-5)

    again = steps(dump, tmp_path / "two", 2)
    assert again.returncode == 0 and again.stdout.count("up to date") == 3, again.stdout
    changed = steps(dump, tmp_path / "two", 2, OPTS.replace("ivector_dim 3", "ivector_dim 2"))
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert "EM iteration 1 of 2" in changed.stdout                          # the extractor started over
    assert kaldiio.load_scp(str(tmp_path / "two/ivectors/ivector.scp"))["u00"].shape == (2,)


def test_bad_options_and_inputs_are_clear_errors(dump, tmp_path):
    with pytest.raises(UserError, match=r"conf.yaml: unknown ubm option\(s\) \['num_gaus'\]"):
        ivector_config.main(["--config", str(dump / "conf.yaml"), "--ubm.num_gaus", "3", str(tmp_path / "c.yaml")])
    with pytest.raises(UserError, match="frontend.cmn 'mean'"):
        ivector_config.main(["--config", str(dump / "conf.yaml"), "--frontend.cmn", "mean", str(tmp_path / "c.yaml")])
    with pytest.raises(UserError, match="conf.yaml: neither a dcase_tk.gmm.DiagGMM nor a dcase_tk.gmm.FullGMM"):
        gmm_acc_stats.main([str(dump / "conf.yaml"), str(dump), str(tmp_path / "acc.npz")])
    (tmp_path / "a.scp").write_text("u1 x\n")
    (tmp_path / "b.scp").write_text("u1 y\n")
    with pytest.raises(UserError, match="'u1' is in both"):
        merge_tables.main([str(tmp_path / "out"), str(tmp_path / "a.scp"), str(tmp_path / "b.scp")])
    with pytest.raises(UserError, match=r"12 key\(s\) of .*feats.scp missing .* and 1 extra"):
        merge_tables.main(["--expect", str(dump / "feats.scp"), str(tmp_path / "out"), str(tmp_path / "a.scp")])
    foreign = tmp_path / "exp"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(UserError, match="was not made by this step"):
        start(str(foreign), "digest")
    assert (foreign / "precious.txt").read_text() == "keep me"
