"""The fusion methods by name: ``METHODS[name]`` is the Fuser class, ``build`` makes one."""
from dcase_tk.fusion.base import FusionError
from dcase_tk.fusion.combine import GMean, Mean, Rank, Vote
from dcase_tk.fusion.learned import GBM, Logistic, Stacking
from dcase_tk.fusion.select import Greedy, PerClass
from dcase_tk.fusion.weighted import Weighted

METHODS = {c.name: c for c in (Mean, GMean, Weighted, Rank, Vote, Greedy, Logistic, Stacking, GBM,
                               PerClass)}


def build(method, options=None):
    """A fresh fuser of ``method`` with ``options`` (a mapping); FusionError naming the known
    methods or options otherwise."""
    if method not in METHODS:
        raise FusionError(f"unknown fusion method {method!r}; known: {', '.join(METHODS)}")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise FusionError(f"fusion options must be a mapping (e.g. {{C: 1.0}}); got {options!r}")
    return METHODS[method](**options)
