"""Label refinement between training rounds, for training sets with unverified labels (Task 2).

A system's ``refine`` section turns one training into rounds: round 0 trains as usual; before
each later round, the still-unverified clips held out of the fold's training (its own
unverified clips) are scored by the previous round's model and their labels revised; the round
then trains on the training clips and the revised ones (``steps/train_fold.sh`` runs the
rounds). Held out, because a model confirms the labels it has learnt, wrong ones included. Two published procedures are settings of it:

- **iterative self-verification** (Dorfer & Widmer, part4.md P4.4 section 5): a clip is
  *promoted* to verified when the class its K = 25 random excerpts agree on (mean posterior) is
  its given label with a mean posterior above 0.95, at most 40 promotions per class over all
  rounds, among the held-out unverified clips; each round fine-tunes the previous model (lr
  0.0002, 30 epochs, no mixup) on the official and self-verified clips only; the round with the lowest verified-validation loss is
  kept (``rounds: 10, promote_threshold: 0.95, max_promoted_per_class: 40, train_on: verified,
  init: previous``).
- **pseudo-label promotion** (Iqbal et al., P4.11 section 5): a model trained on the fold
  promotes the held-out unverified clips it agrees with at a confidence above 0.7, and the system
  is trained again on all clips (``rounds: 1, promote_threshold: 0.7, train_on: all, init:
  scratch``); promoted clips then count as verified for the label smoothing by flag and the
  loss mask.

``relabel_threshold`` optionally replaces the label of an unverified clip by the model's class
when they disagree and the model is that confident (the clip stays unverified).
"""
import dataclasses

import numpy as np

from dcase_tk.config import dataclass_from_dict
from dcase_tk.train.metrics import METRICS

TRAIN_ON = ("verified", "all")
INIT = ("previous", "scratch")


@dataclasses.dataclass
class RefineConfig:
    rounds: int = 1                      # refinement rounds after round 0
    decode: dict = None                  # how candidates are scored (decode overrides)
    promote_threshold: float = 0.95      # promote if the top class is the label, posterior above it
    max_promoted_per_class: int = 0      # cap over all rounds; 0: none
    relabel_threshold: float = 0.0       # > 0: take the model's class above this posterior
    train_on: str = "verified"           # verified: verified + promoted clips only; all
    init: str = "previous"               # previous: fine-tune the last round's model; scratch
    select_metric: str = "loss"          # the kept round: best validation value of its final epoch
    overrides: dict = None               # config overrides of the rounds after round 0

    @classmethod
    def from_dict(cls, d):
        c = dataclass_from_dict(cls, d or {}, "refine")
        if c.rounds < 0:
            raise ValueError(f"refine.rounds must be >= 0, got {c.rounds}")
        if not 0.0 <= c.promote_threshold <= 1.0 or not 0.0 <= c.relabel_threshold <= 1.0:
            raise ValueError("refine.promote_threshold and refine.relabel_threshold are posteriors "
                             f"in [0, 1], got {c.promote_threshold} and {c.relabel_threshold}")
        if c.train_on not in TRAIN_ON:
            raise ValueError(f"refine.train_on must be one of {TRAIN_ON}, got '{c.train_on}'")
        if c.init not in INIT:
            raise ValueError(f"refine.init must be one of {INIT}, got '{c.init}'")
        if c.select_metric not in METRICS:
            raise ValueError(f"refine.select_metric must be one of {sorted(METRICS)}, got '{c.select_metric}'")
        return c


@dataclasses.dataclass
class Revision:
    """What one refinement step changed."""
    promoted: dict            # utt -> label, promoted to verified this round
    relabelled: dict          # utt -> (old label, new label)
    capped: int               # clips that qualified but hit max_promoted_per_class


def revise(cfg, utt2label, already_promoted, candidates, scores, classes):
    """Promotions and relabellings of one round.

    ``utt2label``: the current labels; ``already_promoted``: utt -> round of the clips promoted
    in earlier rounds (for the per-class cap); ``candidates``: the unverified clips scored, in
    the row order of ``scores`` (``(N, C)`` posteriors in ``classes`` order). Promotion goes by
    decreasing confidence, so a cap keeps the surest clips.
    """
    scores = np.asarray(scores, dtype=np.float64)
    top = scores.argmax(axis=1)
    confidence = scores[np.arange(len(scores)), top]
    count = {c: 0 for c in classes}
    for utt in already_promoted:
        count[utt2label[utt]] += 1
    promoted, relabelled, capped = {}, {}, 0
    for row in np.argsort(-confidence, kind="stable"):
        utt, predicted, p = candidates[row], classes[top[row]], confidence[row]
        if predicted == utt2label[utt]:
            if p <= cfg.promote_threshold:
                continue
            if cfg.max_promoted_per_class and count[predicted] >= cfg.max_promoted_per_class:
                capped += 1
                continue
            promoted[utt] = predicted
            count[predicted] += 1
        elif cfg.relabel_threshold and p > cfg.relabel_threshold:
            relabelled[utt] = (utt2label[utt], predicted)
    return Revision(promoted, relabelled, capped)
