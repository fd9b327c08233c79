"""Task 4 scoring (dcase_tk/scoring/sed*.py, dcase_tk/io/events.py): event-based and segment-based
F1/ER against hand counts (collar edges, a clip without reference events), the fast per-class
counter against sed_eval, tagging F1/AUC, the submission, bad event files, and the three CLI tools
(postprocess_sed, tune_postprocess, score_sed) end to end."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from matplotlib.image import imread

from dcase_tk.bin import postprocess_sed, score_sed, tune_postprocess
from dcase_tk.errors import UserError
from dcase_tk.io.ark import ark_scp_writer
from dcase_tk.io.events import read_events, submission_lines
from dcase_tk.io.table import TableError
from dcase_tk.scoring.sed import evaluate_sed
from dcase_tk.scoring.sed_counts import class_counts
from dcase_tk.scoring.sed_report import per_class_tsv, sed_result_txt

CLASSES = ["dog", "cat"]
UTTS = ["c1", "c2", "c3", "c4"]
# c1: dog found with the onset 0.2 s late (|1.2 - 1.0| = 0.2 <= collar) and the offset 0.4 s late
#     (tolerance max(0.2, 20 % of 2 s) = 0.4): a hit.
# c2: cat [0, 10] found as [0.1, 8.5]: offset 1.5 s early, within 20 % of 10 s = 2 s: a hit;
#     dog [5.0, 5.5] found 0.25 s late: outside the collar, a miss and an insertion.
# c3: no reference event; the cat found there is an insertion (false positive).
# c4: cat [1, 2] found as dog [1, 2]: per class a cat miss and a dog insertion; overall (micro) a
#     substitution.
REFERENCE = {"c1": [(1.0, 3.0, "dog")], "c2": [(0.0, 10.0, "cat"), (5.0, 5.5, "dog")],
             "c4": [(1.0, 2.0, "cat")]}
ESTIMATED = {"c1": [(1.2, 3.4, "dog")], "c2": [(0.1, 8.5, "cat"), (5.25, 5.5, "dog")],
             "c3": [(2.0, 3.0, "cat")], "c4": [(1.0, 2.0, "dog")]}


def test_event_based_hand_computed():
    result = evaluate_sed(REFERENCE, ESTIMATED, UTTS, CLASSES)
    event = result["event_based"]
    # dog: 2 reference (c1, c2), 3 estimated (c1, c2, c4), 1 hit: F = 2/(2+2+1) = 0.4,
    #      P = 1/3, R = 1/2, ER = (D + I) / N = (1 + 2) / 2 = 1.5
    # cat: 2 reference (c2, c4), 2 estimated (c2, c3), 1 hit: F = 2/(2+1+1) = 0.5, ER = 2/2 = 1
    dog, cat = event["per_class"]["dog"], event["per_class"]["cat"]
    assert (dog["n_ref"], dog["n_sys"], dog["tp"], dog["fp"], dog["fn"]) == (2, 3, 1, 2, 1)
    assert (cat["n_ref"], cat["n_sys"], cat["tp"], cat["fp"], cat["fn"]) == (2, 2, 1, 1, 1)
    assert dog["f1"] == pytest.approx(0.4) and dog["precision"] == pytest.approx(1 / 3)
    assert dog["recall"] == pytest.approx(0.5) and dog["error_rate"] == pytest.approx(1.5)
    assert cat["f1"] == pytest.approx(0.5) and cat["error_rate"] == pytest.approx(1.0)
    # macro: the class averages
    assert result["event_macro_f1"] == pytest.approx(0.45)
    assert result["event_macro_er"] == pytest.approx(1.25)
    assert event["macro"]["precision"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    # micro: N = 4, 5 estimated, 2 hits, 1 substitution (c4): P = 0.4, R = 0.5, F = 4/9;
    #        D = 4 - 2 - 1 = 1, I = 5 - 2 - 1 = 2, ER = (1 + 1 + 2) / 4 = 1
    micro = event["micro"]
    assert micro["precision"] == pytest.approx(0.4) and micro["recall"] == pytest.approx(0.5)
    assert result["event_micro_f1"] == pytest.approx(4 / 9)
    assert micro["substitution_rate"] == pytest.approx(0.25) and result["event_micro_er"] == pytest.approx(1.0)
    assert result["n_utts_without_reference_events"] == 1 and result["n_estimated_events"] == 5


def test_a_clip_without_reference_events_counts_its_false_positives():
    with_c3 = evaluate_sed(REFERENCE, ESTIMATED, UTTS, CLASSES)
    without = evaluate_sed(REFERENCE, ESTIMATED, ["c1", "c2", "c4"], CLASSES)
    assert with_c3["event_based"]["per_class"]["cat"]["fp"] == 1
    assert without["event_based"]["per_class"]["cat"]["fp"] == 0
    # only a false positive in an otherwise empty set: F1 0, ER = I / N
    result = evaluate_sed({"a": [(0.0, 1.0, "dog")]}, {"a": [(0.0, 1.0, "dog")], "b": [(0.0, 1.0, "dog")]},
                          ["a", "b"], ["dog"])
    assert result["event_based"]["per_class"]["dog"]["f1"] == pytest.approx(2 / 3)
    assert result["event_macro_er"] == pytest.approx(1.0)


def test_collar_edges():
    ref = {"a": [(1.0, 2.0, "dog")]}
    # 0.2 s away is inside the collar; in binary, |1.2 - 1.0| = 0.19999999999999996 but
    # |2.2 - 2.0| = 0.20000000000000018: sed_eval (and so this scorer) calls the second a miss
    for estimate, hit in [((1.2, 2.0), True), ((0.8, 2.0), True), ((1.25, 2.0), False),
                          ((1.0, 1.8), True), ((1.0, 2.25), False),     # 1 s long: offset collar 0.2
                          ((1.0, 2.2), False)]:
        result = evaluate_sed(ref, {"a": [(*estimate, "dog")]}, ["a"], ["dog"])
        assert result["event_based"]["per_class"]["dog"]["tp"] == int(hit), estimate
    # a 5 s event: the offset may be off by 20 % = 1 s
    for offset, hit in [(7.0, True), (5.0, True), (7.25, False)]:
        result = evaluate_sed({"a": [(1.0, 6.0, "dog")]}, {"a": [(1.0, offset, "dog")]}, ["a"], ["dog"])
        assert result["event_based"]["per_class"]["dog"]["tp"] == int(hit), offset


def test_segment_based_hand_computed():
    # 1 s segments over 3 s clips. s1: dog [0.5, 1.5] -> segments 0, 1; found [0.2, 0.9] -> 0;
    # cat [2, 3] -> segment 2, not found. s2 (no reference event): cat found in segment 2.
    # dog: TP 1, FN 1 -> F = 2/3, ER = 1/2; cat: FN 1, FP 1 -> F = 0, ER = 2; macro F = 1/3.
    # micro: N = 3, 2 estimated, 1 hit, no substitution, D = 2, I = 1: F = 2*(1/2)(1/3)/(5/6) = 0.4,
    # ER = 3/3 = 1.
    reference = {"s1": [(0.5, 1.5, "dog"), (2.0, 3.0, "cat")]}
    estimated = {"s1": [(0.2, 0.9, "dog")], "s2": [(2.0, 3.0, "cat")]}
    result = evaluate_sed(reference, estimated, ["s1", "s2"], CLASSES, durations={"s1": 3.0, "s2": 3.0})
    segment = result["segment_based"]
    assert segment["per_class"]["dog"]["f1"] == pytest.approx(2 / 3)
    assert segment["per_class"]["dog"]["error_rate"] == pytest.approx(0.5)
    assert segment["per_class"]["cat"]["f1"] == 0.0 and segment["per_class"]["cat"]["error_rate"] == pytest.approx(2)
    assert result["segment_macro_f1"] == pytest.approx(1 / 3)
    assert result["segment_micro_f1"] == pytest.approx(0.4)
    assert result["segment_micro_er"] == pytest.approx(1.0)


def test_fast_counter_equals_sed_eval():
    rng = np.random.default_rng(0)
    utts = [f"u{i}" for i in range(30)]

    def random_events(n):
        out = {}
        for _ in range(n):
            u = utts[int(rng.integers(len(utts)))]
            onset = round(float(rng.choice([1.0, 1.1, 1.2, 1.3, 3.0, 3.1])), 3)   # many near-ties
            out.setdefault(u, []).append((onset, round(onset + float(rng.choice([0.5, 0.6, 2.0])), 3),
                                          CLASSES[int(rng.integers(2))]))
        return out

    for _ in range(5):
        reference, estimated = random_events(60), random_events(70)
        result = evaluate_sed(reference, estimated, utts, CLASSES)
        for c in CLASSES:
            arrays = []
            for events in (reference, estimated):
                rows = [(utts.index(u), on, off) for u in utts for on, off, lab in events.get(u, []) if lab == c]
                arrays.append(tuple(np.array(col) for col in zip(*rows)) if rows else (np.zeros(0),) * 3)
            per_class = result["event_based"]["per_class"][c]
            assert class_counts(*arrays) == (per_class["tp"], per_class["fp"], per_class["fn"])


def test_tagging_f1_and_auc_hand_computed():
    reference = {"a": [(0, 1, "dog"), (2, 3, "cat")], "b": [(0, 1, "cat")], "c": [(0, 1, "dog"), (0, 1, "cat")],
                 "d": [(4, 5, "cat")]}
    # dog truth [1, 0, 1, 0], scores [0.9, 0.4, 0.35, 0.1]: positive-negative pairs (0.9, 0.4),
    # (0.9, 0.1), (0.35, 0.1) ordered, (0.35, 0.4) not -> AUC 3/4; tagged (>= 0.5) [1, 0, 0, 0]:
    # TP 1, FN 1 -> F1 2/3. cat in every clip: no AUC; tagged [1, 1, 0, 1]: TP 3, FN 1 -> F1 6/7.
    scores = {"a": [0.9, 0.8], "b": [0.4, 0.5], "c": [0.35, 0.2], "d": [0.1, 0.6]}
    tagging = evaluate_sed(reference, {}, list("abcd"), CLASSES, clip_scores=scores)["tagging"]
    assert tagging["per_class"]["dog"]["auc"] == 0.75 and tagging["per_class"]["cat"]["auc"] is None
    assert tagging["macro_auc"] == 0.75
    assert tagging["per_class"]["dog"]["f1"] == pytest.approx(2 / 3)
    assert tagging["per_class"]["cat"]["f1"] == pytest.approx(6 / 7)
    assert tagging["macro_f1"] == pytest.approx((2 / 3 + 6 / 7) / 2)
    assert tagging["micro_f1"] == pytest.approx(2 * 4 / (2 * 4 + 0 + 2))       # TP 4, FN 2


def test_report_tables():
    result = evaluate_sed(REFERENCE, ESTIMATED, UTTS, CLASSES)
    text = sed_result_txt(result)
    assert "macro (class average)" in text and "45.0" in text and "1.25" in text
    assert "4 clips (1 without reference events)" in text
    tsv = per_class_tsv(result).splitlines()
    assert tsv[0].split("\t")[:4] == ["class", "ref_events", "est_events", "event_f1"]
    assert tsv[1].split("\t")[:4] == ["dog", "2", "3", "0.4"]
    json.dumps(result, allow_nan=False)                      # NaN/inf never reach result.json


def test_submission_format():
    events = {"b": [(0.5, 1.25, "cat")], "a": [(2.0, 3.0, "dog"), (0.0, 1.0, "cat")]}
    lines = submission_lines(events, ["a", "b", "c"])
    assert lines == ["filename\tonset\toffset\tevent_label", "a.wav\t0.000\t1.000\tcat",
                     "a.wav\t2.000\t3.000\tdog", "b.wav\t0.500\t1.250\tcat"]
    assert submission_lines(events, ["a", "b", "c"], empty="row")[-1] == "c.wav\t\t\t"
    with pytest.raises(ValueError, match="may use only"):
        submission_lines(events, ["a"], key_format="{itemid}.wav")


@pytest.mark.parametrize("line, message", [
    ("a 1.0 2.0 bird", r"x/events:2: label 'bird' of 'a' is not in data/classes.txt"),
    ("a 2.0 2.0 dog", r"x/events:2: event of 'a' needs 0 <= onset < offset, got 2.0 2.0"),
    ("a 2.5 2.0 dog", "onset < offset"),
    ("zz 1.0 2.0 dog", r"x/events:2: clip 'zz' is not in data/wav.scp"),
    ("a 1.0 dog", "expected '<utt> <onset> <offset> <label>'"),
    ("a one 2.0 dog", "must be numbers of seconds"),
])
def test_bad_event_lines(tmp_path, line, message):
    (tmp_path / "x").mkdir()
    path = tmp_path / "x" / "events"
    path.write_text(f"a 0.000 1.000 cat\n{line}\n")
    with pytest.raises(TableError, match=message):
        read_events(path, CLASSES, "data/classes.txt", {"a", "b"}, "data/wav.scp")


# ---- the tools, end to end ------------------------------------------------------------------

POSTERIORS = {  # frame shift 0.1 s, columns dog, cat
    "c1": [[0.1, 0.1]] * 2 + [[0.9, 0.1]] * 5 + [[0.1, 0.1]] * 3,      # dog 0.2-0.7
    "c2": [[0.1, 0.8]] * 10,                                             # cat over the whole clip
    "c3": [[0.1, 0.1]] * 10,                                             # nothing
}


@pytest.fixture
def task4(tmp_path):
    data, decode = tmp_path / "data", tmp_path / "decode"
    data.mkdir()
    decode.mkdir()
    for d in (data, decode):
        (d / "classes.txt").write_text("dog\ncat\n")
    (data / "wav.scp").write_text("c1 /audio/c1.wav\nc2 /audio/c2.wav\nc3 /audio/c3.wav\n")
    (data / "utt2dur").write_text("c1 1.0\nc2 1.0\nc3 1.0\n")
    (data / "events").write_text("c1 0.200 0.700 dog\nc2 0.000 1.000 cat\n")     # c3: no event
    with ark_scp_writer(str(decode / "posteriors.ark")) as write:
        for utt, matrix in POSTERIORS.items():
            write(utt, np.asarray(matrix, dtype=np.float32))
    (decode / "frame_shift").write_text("0.1\n")
    (decode / "score").write_text("c1 0.900000 0.100000\nc2 0.200000 0.800000\nc3 0.300000 0.600000\n")
    return tmp_path


def test_tools_end_to_end(task4, capsys):
    data, decode, post = task4 / "data", task4 / "decode", task4 / "post"
    config = task4 / "pp.yaml"
    config.write_text("postprocess:\n  threshold: 0.5\n  median: 0.3\n")
    postprocess_sed.main(["--config", str(config), "--postprocess.min_length", "0.2", "--data_dir",
                          str(data), str(decode), str(post)])
    assert (post / "events").read_text() == "c1 0.200 0.700 dog\nc2 0.000 1.000 cat\n"
    assert (post / "utts").read_text() == "c1\nc2\nc3\n"
    assert (post / "submission.csv").read_text() == ("filename\tonset\toffset\tevent_label\n"
                                                     "c1.wav\t0.200\t0.700\tdog\nc2.wav\t0.000\t1.000\tcat\n")
    resolved = yaml.safe_load((post / "postprocess.yaml").read_text())["postprocess"]
    assert resolved["median"] == 0.3 and resolved["min_length"] == 0.2 and resolved["method"] == "threshold"

    score_sed.main(["--decode_dir", str(decode), "--plot_clips", "5", str(data), str(post)])
    result = json.loads((post / "result.json").read_text())
    assert result["event_macro_f1"] == 1.0 and result["n_utts"] == 3
    assert result["tagging"]["per_class"]["cat"]["fp"] == 1            # c3 scores 0.6 for cat
    assert "macro (class average)" in (post / "result.txt").read_text()
    assert (post / "per_class.tsv").read_text().startswith("class\tref_events")
    assert sorted(os.listdir(post / "plots")) == ["c1.png", "c2.png"]   # clips with events only
    assert imread(post / "plots" / "c1.png").ndim == 3
    assert yaml.safe_load((post / "scoring.yaml").read_text())["scoring"]["t_collar"] == 0.2
    assert "100.0" in capsys.readouterr().out

    # the event-less clip gets a false positive when something is found in it
    (post / "events").write_text("c1 0.200 0.700 dog\nc2 0.000 1.000 cat\nc3 0.000 0.500 cat\n")
    score_sed.main(["--plot_utts", "c3", str(data), str(post)])
    result = json.loads((post / "result.json").read_text())
    assert result["event_based"]["per_class"]["cat"]["fp"] == 1 and result["event_macro_f1"] == pytest.approx(5 / 6)
    assert "tagging" not in result                                        # no score in the pred dir
    assert os.path.isfile(post / "plots" / "c3.png")

    tune_postprocess.main(["--tune.rounds", "1", "--tune.threshold", "[0.3, 0.95]", "--tune.median", "[0.0]",
                           "--postprocess.threshold", "0.95", str(decode), str(data), str(task4 / "tune")])
    tuned = yaml.safe_load((task4 / "tune" / "postprocess.yaml").read_text())["postprocess"]
    assert tuned["threshold"] == {"dog": 0.3, "cat": 0.3} and tuned["median"] == {"dog": 0.0, "cat": 0.0}
    table = (task4 / "tune" / "search.tsv").read_text().splitlines()
    assert table[0] == "round\tclass\tparameter\tvalue\ttp\tfp\tfn\tf1\tchosen"
    assert "1\tdog\tthreshold\t0.95\t0\t0\t1\t0.000000\t0" in table
    # the tuned file is a config postprocess_sed takes
    postprocess_sed.main(["--config", str(task4 / "tune" / "postprocess.yaml"), str(decode), str(task4 / "post2")])
    assert (task4 / "post2" / "events").read_text() == "c1 0.200 0.700 dog\nc2 0.000 1.000 cat\n"


def test_tool_options_and_config(task4, capsys):
    with pytest.raises(SystemExit) as exit_info:
        postprocess_sed.main(["--postprocess.method", "viterbi", "--print_config", "a", "b"])
    assert exit_info.value.code == 0
    assert "method: viterbi" in capsys.readouterr().out
    with pytest.raises(UserError, match=r"unknown option\(s\) --threshold: only --postprocess.<key>"):
        postprocess_sed.main(["--threshold", "0.3", str(task4 / "decode"), str(task4 / "post")])
    with pytest.raises(UserError, match=r"unknown postprocess option\(s\) \['treshold'\]"):
        postprocess_sed.main(["--postprocess.treshold", "0.3", str(task4 / "decode"), str(task4 / "post")])
    with pytest.raises(UserError, match=r"postprocess.threshold: unknown classes \['bird'\]"):
        postprocess_sed.main(["--postprocess.threshold", "{bird: 0.3}", str(task4 / "decode"), str(task4 / "post")])
    with pytest.raises(UserError, match=r"only --scoring.<key>"):
        score_sed.main(["--tune.rounds", "2", str(task4 / "data"), str(task4 / "post")])


def test_tool_input_errors(task4):
    data, decode, post = task4 / "data", task4 / "decode", task4 / "post"
    with pytest.raises(UserError, match="post/events does not exist: post-process the decode dir first"):
        score_sed.main([str(data), str(post)])
    postprocess_sed.main(["--data_dir", str(data), str(decode), str(post)])
    events = post / "events"
    for content, message in [
        ("c1 0.200 0.700 bird\n", r"events:1: label 'bird' of 'c1' is not in .*data/classes.txt"),
        ("c1 0.700 0.200 dog\n", r"events:1: event of 'c1' needs 0 <= onset < offset"),
        ("c9 0.200 0.700 dog\n", r"events:1: clip 'c9' is not in .*data/wav.scp"),
    ]:
        events.write_text(content)
        with pytest.raises(UserError, match=message):
            score_sed.main([str(data), str(post)])
    events.write_text("")
    (post / "utts").write_text("c1\nc2\n")
    with pytest.raises(UserError, match=r"utts and .*wav.scp list different clips \(1 not post-processed, "
                                        r"e.g. \['c3'\]"):
        score_sed.main([str(data), str(post)])
    (data / "wav.scp").write_text("c1 /a.wav\nc2 /b.wav\nc3 /c.wav\nc4 /d.wav\n")
    with pytest.raises(UserError, match=r"posteriors.scp and .*wav.scp list different clips \(1 without "
                                        r"posteriors, e.g. \['c4'\]"):
        postprocess_sed.main(["--data_dir", str(data), str(decode), str(post)])
    os.remove(decode / "frame_shift")
    with pytest.raises(UserError, match="frame_shift does not exist; frame posteriors come from stage 7"):
        postprocess_sed.main([str(decode), str(post)])


def test_tool_error_message_format(task4):
    (task4 / "post").mkdir()
    (task4 / "post" / "events").write_text("c1 0.5 0.2 dog\n")
    run = subprocess.run([sys.executable, "-m", "dcase_tk.bin.score_sed", str(task4 / "data"), str(task4 / "post")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.startswith("score_sed: error: ") and "events:1: event of 'c1' needs 0 <= onset" in run.stderr
    assert "Traceback" not in run.stderr
