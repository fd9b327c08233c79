"""Score-level fusion of systems: the posteriors ``(M, N, C)`` of M member systems for the same
N clips combined into one ``(N, C)`` matrix, scored like any other system (docs/fusion.md).

Fixed rules (combine.py): ``mean``, ``gmean``, ``rank``, ``vote``. Fitted on the validation or
out-of-fold predictions of the members: ``weighted`` (weighted.py), ``greedy`` ensemble
selection and ``per_class`` best-member selection (select.py), ``logistic``, ``stacking`` and
``gbm`` meta-classifiers (learned.py). guard.py refuses to fit on test or training sets;
store.py saves a fitted fusion as plain files; config.py checks a ``conf/fusion/<name>.yaml``.
"""
from dcase_tk.fusion.base import Fuser, FusionError
from dcase_tk.fusion.config import FusionConfig
from dcase_tk.fusion.guard import TEST_SETS, TRAIN_SETS, FitSetError, check_disjoint, check_fit_set
from dcase_tk.fusion.registry import METHODS, build
from dcase_tk.fusion.store import load, save

__all__ = ["METHODS", "TEST_SETS", "TRAIN_SETS", "FitSetError", "Fuser", "FusionConfig",
           "FusionError", "build", "check_disjoint", "check_fit_set", "load", "save"]
