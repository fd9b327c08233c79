"""SED post-processing (dcase_tk/decode/sed.py, viterbi.py, sed_tune.py): every method against
hand-derived events, median placement, gap merging and minimum length at the clip edges, per-class
parameters, clip tags, the config's errors, and the tuning search on a synthetic validation set."""
import itertools

import numpy as np
import pytest
import scipy.signal

from dcase_tk.config import ConfigError
from dcase_tk.decode.sed import PostprocessConfig, median_filter, postprocess
from dcase_tk.decode.sed_tune import TuneConfig, tune
from dcase_tk.decode.viterbi import viterbi_binarize

H = 0.1        # frame shift of the hand examples: frame t covers [t H, (t + 1) H)


def events(p, classes=("x",), durations=None, clip_scores=None, **options):
    """The events of one clip whose posteriors are ``p`` (frames, or frames x classes)."""
    p = np.asarray(p, dtype=np.float64)
    p = p[:, None] if p.ndim == 1 else p
    out = postprocess({"u": p}, H, PostprocessConfig.from_dict(options), list(classes),
                      None if clip_scores is None else {"u": np.asarray(clip_scores)},
                      None if durations is None else {"u": durations})
    return out["u"]


def test_threshold_hand_computed():
    # p >= 0.5: [0, 1, 1, 0, 1, 0] -> runs [1, 3) and [4, 5) -> 0.1-0.3 s and 0.4-0.5 s
    # (0.5 itself is on, as dcase_util's ProbabilityEncoder decides)
    p = [0.1, 0.6, 0.7, 0.4, 0.5, 0.2]
    assert events(p) == [(0.1, 0.3, "x"), (0.4, 0.5, "x")]
    # threshold 0.65: only frame 2 -> 0.2-0.3 s
    assert events(p, threshold=0.65) == [(0.2, 0.3, "x")]


def test_median_on_decisions_hand_computed():
    # decisions [0, 1, 1, 0, 1, 0], median of 0.3 s = 3 frames, zero padded (scipy medfilt):
    # t0 [0 0 1] -> 0, t1 [0 1 1] -> 1, t2 [1 1 0] -> 1, t3 [1 0 1] -> 1, t4 [0 1 0] -> 0,
    # t5 [1 0 0] -> 0: the one-frame gap is filled, the one-frame event at 4 vanishes -> 0.1-0.4 s
    p = [0.1, 0.6, 0.7, 0.4, 0.5, 0.2]
    assert events(p, median=0.3) == [(0.1, 0.4, "x")]
    # 0.2 s = 2 frames -> made odd: 3 frames, the same; 0.1 s = 1 frame: no filter
    assert events(p, median=0.2) == [(0.1, 0.4, "x")]
    assert events(p, median=0.1) == events(p)


def test_median_window_and_filter_match_scipy_medfilt():
    rng = np.random.default_rng(0)
    for k in (1, 3, 5, 51):
        x = rng.random((4, 37))
        expected = np.stack([scipy.signal.medfilt(row, k) if k <= 37 else row for row in x])
        if k <= 37:
            np.testing.assert_allclose(median_filter(x, np.full(4, k)), expected)
            binary = x > 0.5
            ref = np.stack([scipy.signal.medfilt(row.astype(float), k) for row in binary]) > 0.5
            np.testing.assert_array_equal(median_filter(binary, np.full(4, k)), ref)
    # 1 s at 20 ms is the baseline's 51-frame window
    from dcase_tk.decode.sed import median_frames
    assert median_frames([1.0, 1.02, 0.0, 0.03], 0.02).tolist() == [51, 51, 1, 3]


def test_median_placement_same_for_threshold_differs_for_hysteresis():
    rng = np.random.default_rng(1)
    p = rng.random((40, 3))
    for threshold in (0.3, 0.5, 0.7):
        assert (events(p, classes="abc", threshold=threshold, median=0.5) ==
                events(p, classes="abc", threshold=threshold, median=0.5, median_on="posteriors"))
    # hysteresis high 0.8, low 0.25 on p = [0.9, 0.3, 0.3, 0.1, 0.1], median 3 frames:
    # on the decisions: low run [0, 3) holds the seed 0.9 -> [1 1 1 0 0]; the median keeps it
    # ([0 1 1] -> 1, [1 1 1] -> 1, [1 1 0] -> 1, [1 0 0] -> 0) -> 0.0-0.3 s
    # on the posteriors first: medians [0.3, 0.3, 0.3, 0.1, 0.1] (t0: median of 0, 0.9, 0.3):
    # no frame reaches 0.8 any more -> no event
    p = [0.9, 0.3, 0.3, 0.1, 0.1]
    options = dict(method="hysteresis", high=0.8, low=0.25, median=0.3)
    assert events(p, **options) == [(0.0, 0.3, "x")]
    assert events(p, median_on="posteriors", **options) == []


def test_hysteresis_hand_computed():
    # p >= 0.3 runs: [0, 4), [5, 7), [8, 10); seeds p >= 0.8 at frames 2 and 8: the first and last
    # runs are kept (touching the clip's start and end), the middle one (max 0.6) is not
    p = [0.3, 0.5, 0.9, 0.4, 0.1, 0.5, 0.6, 0.1, 0.85, 0.3]
    assert events(p, method="hysteresis", high=0.8, low=0.3) == [(0.0, 0.4, "x"), (0.8, 1.0, "x")]
    # high == low == t is the threshold method
    assert events(p, method="hysteresis", high=0.5, low=0.5) == events(p, threshold=0.5)


def test_viterbi_hand_computed():
    # p = [0.4, 0.9, 0.9, 0.3, 0.9, 0.2, 0.1, 0.1], switch s = 0.1: a switch costs log 9 = 2.20.
    # Frame 0: starting on costs log 0.4 + log 0.9 (stay) = -1.02 against log 0.6 + log 0.1
    # (switch on at frame 1) = -2.81, so the path starts on. Frame 3 (0.3): staying on costs
    # log(0.7 / 0.3) = 0.85 < two switches (4.39): on. Frames 5-7: switching off at 5 scores
    # log .1 + log .8 + 2 log .9 + 3 log .9 (stays) = -2.95 against -4.33 off at 6 and -6.53 never:
    # off from 5. Path [1 1 1 1 1 0 0 0] -> one event 0.0-0.5 s.
    p = [0.4, 0.9, 0.9, 0.3, 0.9, 0.2, 0.1, 0.1]
    assert events(p, method="viterbi", switch_prob=0.1) == [(0.0, 0.5, "x")]
    # s = 0.5: no switching cost, every frame on its own: p > 0.5 -> [0 1 1 0 1 0 0 0]
    assert events(p, method="viterbi", switch_prob=0.5) == [(0.1, 0.3, "x"), (0.4, 0.5, "x")]


def test_viterbi_equals_brute_force_over_all_paths():
    rng = np.random.default_rng(2)

    def best_path(p, s):
        def score(path):
            emit = sum(np.log(p[t] if on else 1 - p[t]) for t, on in enumerate(path))
            return emit + sum(np.log(s if a != b else 1 - s) for a, b in zip(path, path[1:]))
        return max(itertools.product((0, 1), repeat=len(p)), key=score)

    for _ in range(60):
        length = int(rng.integers(1, 10))
        p = rng.uniform(0.02, 0.98, size=(3, length))
        s = rng.choice([0.4, 0.1, 0.01], size=3)
        got = viterbi_binarize(p, s)
        for row in range(3):
            assert got[row].astype(int).tolist() == list(best_path(p[row], s[row]))
    long = rng.random((5, 700))                         # beyond one scan step and chunk boundaries
    assert viterbi_binarize(long, 0.01).shape == (5, 700)


def test_gap_merging_and_min_length():
    # on frames: runs [0, 2), [4, 5), [6, 9): gaps of 2 frames (0.2 s) and 1 frame (0.1 s)
    p = [1, 1, 0, 0, 1, 0, 1, 1, 1, 0]
    assert events(p) == [(0.0, 0.2, "x"), (0.4, 0.5, "x"), (0.6, 0.9, "x")]
    assert events(p, max_gap=0.2) == [(0.0, 0.9, "x")]                      # both gaps <= 0.2 s
    assert events(p, max_gap=0.1) == [(0.0, 0.2, "x"), (0.4, 0.9, "x")]     # only the 1-frame gap
    assert events(p, min_length=0.3) == [(0.6, 0.9, "x")]                   # lengths 2, 1, 3 frames
    assert events(p, min_length=0.2) == [(0.0, 0.2, "x"), (0.6, 0.9, "x")]  # exactly 0.2 s is kept
    # merging comes first: [4, 9) is 5 frames long and survives; dropping first would lose [4, 5)
    assert events(p, max_gap=0.1, min_length=0.3) == [(0.4, 0.9, "x")]


def test_events_at_the_clip_edges_and_durations():
    # an event over the whole clip, one touching the end; offsets cut at utt2dur
    assert events([1, 1, 1, 1]) == [(0.0, 0.4, "x")]
    assert events([0, 0, 1, 1]) == [(0.2, 0.4, "x")]
    assert events([0, 0, 1, 1], durations=0.35) == [(0.2, 0.35, "x")]
    assert events([0, 0, 0, 1], durations=0.3) == []              # starts after the clip's end
    assert events([0.2, 0.1, 0.3]) == []


def test_per_class_parameters():
    p = np.array([[0.4, 0.6, 0.9], [0.4, 0.8, 0.9], [0.2, 0.8, 0.1], [0.4, 0.1, 0.9]])
    # a: >= 0.3 at frames 0, 1, 3; b: >= 0.7 at frames 1, 2; c: default 0.5 at 0, 1, 3
    expected = [(0.0, 0.2, "a"), (0.0, 0.2, "c"), (0.1, 0.3, "b"), (0.3, 0.4, "a"), (0.3, 0.4, "c")]
    assert events(p, "abc", threshold={"a": 0.3, "b": 0.7, "default": 0.5}) == expected
    assert events(p, "abc", threshold=[0.3, 0.7, 0.5]) == expected
    # per-class gap merging: only c's one-frame gap is merged
    assert events(p, "abc", threshold=[0.3, 0.7, 0.5], max_gap={"c": 0.1, "default": 0}) == \
        [(0.0, 0.2, "a"), (0.0, 0.4, "c"), (0.1, 0.3, "b"), (0.3, 0.4, "a")]


def test_clip_tags_mask_whole_clip_and_top1():
    p = np.array([[0.9, 0.9], [0.9, 0.1], [0.1, 0.1]])
    frames = [(0.0, 0.1, "b"), (0.0, 0.2, "a")]
    assert events(p, "ab") == sorted(frames)
    # mask: b's clip score 0.4 < 0.5 -> b's frame events dropped, a's kept
    assert events(p, "ab", clip_tags="mask", clip_scores=[0.7, 0.4]) == [(0.0, 0.2, "a")]
    # whole_clip (Kong's SED1): a tagged clip gets the class over the whole clip (3 frames,
    # cut at utt2dur 0.25 s); per class: b keeps its frame events
    assert events(p, "ab", clip_tags={"a": "whole_clip", "b": "none"}, clip_scores=[0.7, 0.4],
                  durations=0.25) == [(0.0, 0.1, "b"), (0.0, 0.25, "a")]
    # no class tagged: none, or with tag_top1 the best one (b)
    assert events(p, "ab", clip_tags="whole_clip", clip_scores=[0.2, 0.3]) == []
    assert events(p, "ab", clip_tags="whole_clip", tag_top1=True, clip_scores=[0.2, 0.3]) == \
        [(0.0, 0.3, "b")]


def test_clips_of_different_lengths():
    posteriors = {"long": np.array([[0.9], [0.9], [0.1], [0.9]]), "short": np.array([[0.1], [0.8]]),
                  "empty": np.zeros((3, 1))}
    out = postprocess(posteriors, 0.5, PostprocessConfig(), ["x"])
    assert out == {"long": [(0.0, 1.0, "x"), (1.5, 2.0, "x")], "short": [(0.5, 1.0, "x")], "empty": []}


@pytest.mark.parametrize("options, message", [
    ({"treshold": 0.5}, r"unknown postprocess option\(s\) \['treshold'\]"),
    ({"method": "hmm"}, "postprocess.method must be one of"),
    ({"threshold": 1.5}, r"postprocess.threshold must be a probability in \[0, 1\], got 1.5"),
    ({"threshold": {"a": -1}}, r"postprocess.threshold \[a\] must be a probability"),
    ({"switch_prob": 0}, r"switch_prob must be a probability in \(0, 1\)"),
    ({"median": -0.1}, "postprocess.median must be seconds >= 0"),
    ({"clip_tags": "all"}, "postprocess.clip_tags must be one of"),
    ({"median_on": "both"}, "postprocess.median_on must be one of"),
])
def test_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        PostprocessConfig.from_dict(options)


@pytest.mark.parametrize("options, message", [
    ({"threshold": {"a": 0.5, "dog": 0.3}}, r"postprocess.threshold: unknown classes \['dog'\]"),
    ({"threshold": {"a": 0.5}}, r"no value for classes \['b'\]; add them or a 'default'"),
    ({"median": [0.1]}, "postprocess.median lists 1 values but there are 2 classes"),
    ({"method": "hysteresis", "high": 0.3, "low": {"a": 0.4, "b": 0.1}}, r"low > high for classes \['a'\]"),
])
def test_per_class_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        PostprocessConfig.from_dict(options).resolve(["a", "b"])


def synthetic_validation(seed=0, clips=40):
    """Class a: event frames ~ U(0.62, 0.68), others ~ U(0.40, 0.58): only threshold 0.6 of the
    grid separates them. Class b: event frames ~ U(0.32, 0.38), others ~ U(0, 0.28): only 0.3."""
    rng = np.random.default_rng(seed)
    posteriors, reference = {}, {}
    for n in range(clips):
        truth = np.zeros((50, 2), dtype=bool)
        clip_events = []
        for c, label in enumerate("ab"):
            if rng.random() < 0.8:
                start = int(rng.integers(0, 35))
                end = start + int(rng.integers(5, 15))
                truth[start:end, c] = True
                clip_events.append((round(start * H, 3), round(end * H, 3), label))
        p = np.empty((50, 2))
        p[:, 0] = np.where(truth[:, 0], rng.uniform(0.62, 0.68, 50), rng.uniform(0.40, 0.58, 50))
        p[:, 1] = np.where(truth[:, 1], rng.uniform(0.32, 0.38, 50), rng.uniform(0.0, 0.28, 50))
        posteriors[f"clip{n:02d}"] = p
        reference[f"clip{n:02d}"] = clip_events
    return posteriors, reference


def test_tuning_finds_the_known_good_thresholds():
    posteriors, reference = synthetic_validation()
    tuned, rows = tune(posteriors, H, ["a", "b"], reference, PostprocessConfig())
    assert tuned.threshold == {"a": 0.6, "b": 0.3}
    # every median of the grid up to 0.3 s keeps F1 at 1: ties keep the start value (0, no filter)
    assert tuned.median == {"a": 0.0, "b": 0.0}
    start = {r["class"]: r["f1"] for r in rows if r["round"] == 0}
    final = {r["class"]: r["f1"] for r in rows if r["chosen"]}
    assert start["a"] < 0.2 and start["b"] < 0.2 and final == {"a": 1.0, "b": 1.0}
    assert [r for r in rows if r["round"] == 0] == [
        {"round": 0, "class": c, "parameter": "start", "value": "-", "tp": r["tp"], "fp": r["fp"],
         "fn": r["fn"], "f1": start[c], "chosen": 1} for c, r in zip("ab", [r for r in rows if r["round"] == 0])]
    # deterministic, and the tuned config gives the reported F1 when applied
    assert tune(posteriors, H, ["a", "b"], reference, PostprocessConfig()) == (tuned, rows)
    out = postprocess(posteriors, H, tuned, ["a", "b"])
    assert out == {u: sorted(v) for u, v in reference.items()}


def test_tuning_ties_keep_the_current_value_else_the_earliest():
    posteriors, reference = synthetic_validation(seed=1, clips=10)
    grid = TuneConfig.from_dict({"threshold": [0.6, 0.61, 0.3, 0.31], "median": [], "rounds": 1})
    # start 0.61: a is perfect at 0.6 and 0.61 -> stays 0.61; b is perfect at 0.3 and 0.31 only
    # -> the earliest of the tied grid values, 0.3
    tuned, _ = tune(posteriors, H, ["a", "b"], reference, PostprocessConfig(threshold=0.61), grid)
    assert tuned.threshold == {"a": 0.61, "b": 0.3}
    assert tuned.median == 0.0                      # an empty grid is not searched


def test_tuning_hysteresis_and_viterbi_search_their_parameters():
    posteriors, reference = synthetic_validation(seed=2, clips=10)
    search = TuneConfig.from_dict({"rounds": 1, "high": [0.6], "low": [0.1, 0.7], "median": [0.0]})
    base = PostprocessConfig(method="hysteresis", high=0.6, low=0.1)
    tuned, rows = tune(posteriors, H, ["a", "b"], reference, base, search)
    assert tuned.high == {"a": 0.6, "b": 0.6} and tuned.low == {"a": 0.1, "b": 0.1}
    # low 0.7 > high 0.6 is skipped
    assert [(r["parameter"], r["value"]) for r in rows if r["class"] == "a"] == \
        [("start", "-"), ("high", 0.6), ("low", 0.1), ("median", 0.0)]
    search = TuneConfig.from_dict({"rounds": 1, "switch_prob": [0.5, 0.01], "median": [0.0]})
    tuned, rows = tune(posteriors, H, ["a", "b"], reference,
                       PostprocessConfig(method="viterbi", switch_prob=0.1), search)
    assert {r["value"] for r in rows if r["parameter"] == "switch_prob"} == {0.5, 0.01, 0.1}


def test_tune_config_errors():
    with pytest.raises(ConfigError, match="tune.rounds must be a positive integer"):
        TuneConfig.from_dict({"rounds": 0})
    with pytest.raises(ConfigError, match=r"tune.threshold must be a list of values, each a probability"):
        TuneConfig.from_dict({"threshold": [0.5, 2]})
    with pytest.raises(ConfigError, match=r"unknown tune option\(s\) \['grid'\]"):
        TuneConfig.from_dict({"grid": [1]})
