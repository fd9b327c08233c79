"""Label refinement between training rounds (Task 2 self-verification and pseudo-label
promotion), choosing the round, and the small tools the fold steps use around them."""
import json
import os

import numpy as np
import pytest

from dcase_tk.bin import average_scores, refine_labels, resolve_config, select_round
from dcase_tk.cli import ToolError
from dcase_tk.train.metrics import validation_metrics
from dcase_tk.train.refine import RefineConfig, revise
from helpers import write_dump

CLASSES = ["a", "b", "c"]


def test_promotion_needs_agreement_and_confidence_and_respects_the_cap():
    cfg = RefineConfig.from_dict({"promote_threshold": 0.9, "max_promoted_per_class": 2})
    labels = {"u1": "a", "u2": "a", "u3": "a", "u4": "b", "u5": "c", "old": "a"}
    candidates = ["u1", "u2", "u3", "u4", "u5"]
    scores = [[0.95, 0.03, 0.02],     # agrees, confident
              [0.99, 0.005, 0.005],   # agrees, surer: promoted first
              [0.97, 0.02, 0.01],     # agrees, but class a is then full (old + u2)
              [0.96, 0.02, 0.02],     # confident but disagrees with its label b
              [0.10, 0.10, 0.80]]     # agrees, not confident enough
    r = revise(cfg, labels, {"old": 1}, candidates, scores, CLASSES)
    assert r.promoted == {"u2": "a"} and r.capped == 2 and r.relabelled == {}
    relabel = RefineConfig.from_dict({"promote_threshold": 0.9, "relabel_threshold": 0.95})
    r = revise(relabel, labels, {}, candidates, scores, CLASSES)
    assert set(r.promoted) == {"u1", "u2", "u3"} and r.relabelled == {"u4": ("b", "a")}


@pytest.mark.parametrize("bad", [{"train_on": "some"}, {"init": "x"}, {"promote_threshold": 2},
                                 {"select_metric": "f1"}, {"rounds": -1}, {"unknown": 1}])
def test_bad_refine_sections_are_refused(bad):
    with pytest.raises(ValueError):
        RefineConfig.from_dict(bad)


def write_scores(directory, rows):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "classes.txt").write_text("a\nb\nc\n")
    (directory / "score").write_text("".join(f"{u} {' '.join(map(str, p))}\n" for u, p in rows))
    return directory


def test_refine_labels_promotes_into_a_new_data_dir(tmp_path):
    mats = {u: np.zeros((5, 2), dtype=np.float32) for u in ("v1", "n1", "n2", "n3")}
    labels = {"v1": "a", "n1": "b", "n2": "c", "n3": "a"}
    verified = {"v1": 1, "n1": 0, "n2": 0, "n3": 0}
    state = write_dump(tmp_path / "state", mats, labels, CLASSES, extra={"utt2verified": verified,
                                                                        "wav.scp": {u: "x.wav" for u in mats}})
    (tmp_path / "system.yaml").write_text("refine: {promote_threshold: 0.9, relabel_threshold: 0.9}\n")
    scores = write_scores(tmp_path / "scores", [("n1", [0.01, 0.98, 0.01]), ("n2", [0.95, 0.03, 0.02]),
                                                ("n3", [0.5, 0.3, 0.2])])
    out = tmp_path / "round1"
    refine_labels.main(["--config", str(tmp_path / "system.yaml"), "--round", "1", "--report",
                        str(tmp_path / "report.json"), str(state), str(scores), str(out)])
    table = lambda name: dict(line.split() for line in (out / name).read_text().splitlines())
    assert table("utt2verified") == {"v1": "1", "n1": "1", "n2": "0", "n3": "0"}
    assert table("utt2label") == {"v1": "a", "n1": "b", "n2": "a", "n3": "a"}
    assert table("utt2promoted") == {"v1": "0", "n1": "1", "n2": "0", "n3": "0"}
    assert (out / "feats.scp").read_text() == (state / "feats.scp").read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["promoted"] == 1 and report["relabelled_clips"] == {"n2": ["c", "a"]}
    # the state is untouched, and a score row for a verified clip is refused
    assert (state / "utt2verified").read_text().count(" 1") == 1
    bad = write_scores(tmp_path / "bad", [("v1", [1, 0, 0]), ("n1", [0, 1, 0]), ("n2", [0, 0, 1]),
                                          ("n3", [1, 0, 0])])
    with pytest.raises(ToolError, match="not unverified"):
        refine_labels.main(["--config", str(tmp_path / "system.yaml"), "--round", "1", str(state),
                            str(bad), str(tmp_path / "never")])
    missing = write_scores(tmp_path / "missing", [("n1", [0, 1, 0])])
    with pytest.raises(ToolError, match="no row for 2 unverified"):
        refine_labels.main(["--config", str(tmp_path / "system.yaml"), "--round", "1", str(state),
                            str(missing), str(tmp_path / "never")])
    assert not (tmp_path / "never").exists()


def fake_round(directory, loss, map3):
    directory.mkdir(parents=True)
    for name in select_round.LINKED[:-1]:
        (directory / name).write_text(f"{directory.name} {name}\n")
    (directory / "final.json").write_text(json.dumps({"epoch": 3, "valid": {"loss": loss, "map3": map3}}))
    return str(directory)


def test_select_round_links_the_best_round(tmp_path):
    rounds = [fake_round(tmp_path / f"round{i}", loss, m)
              for i, (loss, m) in enumerate([(0.5, 0.9), (0.2, 0.9), (0.3, 0.95)])]
    select_round.main(["--metric", "loss", str(tmp_path), *rounds])
    assert (tmp_path / "final.pt").read_text() == "round1 final.pt\n"
    assert os.readlink(tmp_path / "final.pt") == "round1/final.pt"        # relative: the dir can move
    assert (tmp_path / "rounds.txt").read_text().splitlines()[1].startswith("* ")
    select_round.main(["--metric", "map3", str(tmp_path), *rounds])
    assert (tmp_path / "config.yaml").read_text() == "round2 config.yaml\n"
    select_round.main(["--metric", "map3", str(tmp_path), *rounds[:2]])        # a tie: the earlier
    assert (tmp_path / "cmvn.ark").read_text() == "round0 cmvn.ark\n"
    with pytest.raises(ToolError, match="has not finished"):
        select_round.main([str(tmp_path), str(tmp_path / "round9")])


def test_average_scores_mean_and_geometric_mean(tmp_path):
    one = write_scores(tmp_path / "one", [("x", [0.5, 0.25, 0.25]), ("y", [0.2, 0.2, 0.6])])
    two = write_scores(tmp_path / "two", [("y", [0.4, 0.4, 0.2]), ("x", [0.125, 0.5, 0.375])])
    average_scores.main(["--how", "mean", str(tmp_path / "mean"), str(one), str(two)])
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]]
            for line in (tmp_path / "mean" / "score").read_text().splitlines()}
    assert rows["x"] == pytest.approx([0.3125, 0.375, 0.3125]) and rows["y"] == pytest.approx([0.3, 0.3, 0.4])
    assert (tmp_path / "mean" / "decision").read_text() == "x b\ny c\n"
    average_scores.main(["--how", "gmean", str(tmp_path / "g"), str(one), str(two)])
    x = np.sqrt([0.5 * 0.125, 0.25 * 0.5, 0.25 * 0.375])
    row = (tmp_path / "g" / "score").read_text().splitlines()[0].split()[1:]
    assert [float(v) for v in row] == pytest.approx(list(x / x.sum()), rel=1e-4)
    other = write_scores(tmp_path / "other", [("x", [1, 0, 0])])
    with pytest.raises(ToolError, match="different clips"):
        average_scores.main([str(tmp_path / "bad"), str(one), str(other)])


def test_resolve_config_applies_overrides_and_keeps_an_unchanged_file(tmp_path):
    src = tmp_path / "system.yaml"
    src.write_text("training: {epochs: 50, lr: 0.001}\nrefine: {rounds: 10}\n")
    out = tmp_path / "resolved.yaml"
    resolve_config.main([str(src), str(out), "--training.epochs", "5", "--refine.rounds", "2"])
    text = out.read_text()
    assert "epochs: 5" in text and "rounds: 2" in text and "lr: 0.001" in text
    os.utime(out, ns=(1, 1))
    resolve_config.main([str(src), str(out), "--training.epochs", "5", "--refine.rounds", "2"])
    assert out.stat().st_mtime_ns == 1


def test_validation_map3_is_the_tagging_metric():
    targets = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    scores = np.array([[0.6, 0.3, 0.1],      # rank 1
                       [0.5, 0.3, 0.2],      # rank 2
                       [0.5, 0.3, 0.2],      # rank 3
                       [0.1, 0.6, 0.3]])     # rank 3
    assert validation_metrics(scores, targets, False)["map3"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 3) / 4)


def test_validation_macro_f1_of_multi_label_systems_is_that_of_the_tags_at_one_half():
    targets = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype=np.float32)
    scores = np.array([[0.9, 0.1],       # class 0: tp;  class 1: tn
                       [0.4, 0.7],       # class 0: fn;  class 1: tp
                       [0.5, 0.2],       # class 0: fp (0.5 is a tag); class 1: fn
                       [0.1, 0.6]])      # class 0: tn;  class 1: fp
    f1_class0 = 2 * 1 / (2 * 1 + 1 + 1)
    f1_class1 = 2 * 1 / (2 * 1 + 1 + 1)
    assert validation_metrics(scores, targets, True)["macro_f1"] == pytest.approx((f1_class0 + f1_class1) / 2)
    scores[2, 0] = 0.49                  # no longer a tag: class 0 has tp 1, fn 1
    assert validation_metrics(scores, targets, True)["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 2)
