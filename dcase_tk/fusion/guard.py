"""The refusal rule: fusion parameters are fitted on validation or out-of-fold predictions only.

A fused system tuned on the labels of the clips it is then scored on reports an optimistic
figure (its weights, selections or meta-classifier have seen the answers); one tuned on the
members' own training clips learns from overconfident posteriors. So fitting is refused when

1. the fit set's name matches a test pattern (``TEST_SETS``, or the tool's ``--test_sets``):
   the set name is the decode dir's name under each member system (``exp/1a/cnn8/<set>``) and
   the name of the data dir that gives the labels (``data/1a/<set>``); only the last path
   component is matched, with shell-style patterns (``*_test``);
2. it matches a training-set pattern (``TRAIN_SETS``, ``--train_sets``): the members were
   trained on those clips, so their posteriors there are in-fold;
3. the fit set is also one of the sets the fusion is applied to, or shares a clip with one
   (checked by utterance id, whatever the names say).

Fixed rules (mean, gmean, rank, vote) fit nothing and are never refused. The fix is always the
same: fit on the validation set (``train_cv``) or on the pooled out-of-fold decode dirs (``cv``,
every development clip scored by the fold model that did not train on it).
"""
import fnmatch
import os

from dcase_tk.errors import UserError

TEST_SETS = ("test", "test_*", "*_test", "eval", "eval_*", "*_eval", "evaluation", "leaderboard")
TRAIN_SETS = ("train", "train_dev?", "*_train", "tr", "*_tr")
FIX = ("Fit on the validation or out-of-fold decode dirs instead (e.g. fit_on: cv, or train_cv "
       "for a held-out validation split; fit_on: [fold2/cv, fold3/cv] pools the folds' held-out "
       "decode dirs), and apply the fitted fusion to the test sets.")
DISJOINT_FIX = ("Apply the fusion only to sets that share no clip with the set it is fitted on (the "
                "test or evaluation sets), or fit it on another validation or out-of-fold set.")


class FitSetError(UserError, ValueError):
    """Fitting fusion parameters on a set that the refusal rule (module doc) forbids."""


def _matching(name, patterns):
    base = os.path.basename(os.path.normpath(name))
    return next((p for p in patterns if fnmatch.fnmatchcase(base, p)), None)


def check_fit_set(fit_set, test_sets=TEST_SETS, train_sets=TRAIN_SETS, what="fit set"):
    """Raise FitSetError if ``fit_set`` (a set or data dir name) is a test or training set."""
    if not fit_set or not isinstance(fit_set, str):
        raise FitSetError(f"a fitted fusion needs the name of the set it fits on (fit_on: cv); "
                          f"got {fit_set!r}")
    pattern = _matching(fit_set, test_sets)
    if pattern:
        raise FitSetError(
            f"refusing to fit fusion weights on test labels: the {what} '{fit_set}' is a test set "
            f"(it matches '{pattern}' of the test sets {' '.join(test_sets)}). The fused system would "
            f"then be evaluated on data it was tuned on and its score would be optimistic. {FIX}")
    pattern = _matching(fit_set, train_sets)
    if pattern:
        raise FitSetError(
            f"refusing to fit fusion weights on the members' training set: the {what} '{fit_set}' "
            f"matches '{pattern}' of the training sets {' '.join(train_sets)}; the members' "
            f"posteriors on clips they trained on are in-fold (overconfident). {FIX}")


def check_disjoint(fit_set, fit_utts, apply_sets):
    """Raise FitSetError if the fit set is one of ``apply_sets`` (name -> utterance ids) or
    shares a clip with one of them."""
    fit_utts = set(fit_utts)
    for name, utts in apply_sets.items():
        if os.path.normpath(name) == os.path.normpath(fit_set):
            raise FitSetError(
                f"refusing to fit fusion weights on '{fit_set}' and apply them to the same set: the "
                f"fused system would then be evaluated on data it was tuned on. {DISJOINT_FIX}")
        shared = sorted(fit_utts.intersection(utts))
        if shared:
            raise FitSetError(
                f"refusing to fit fusion weights on '{fit_set}': {len(shared)} of its clips (e.g. "
                f"'{shared[0]}') are also in '{name}', which the fusion is applied to, so the fused "
                f"system would be evaluated on data it was tuned on. {DISJOINT_FIX}")
