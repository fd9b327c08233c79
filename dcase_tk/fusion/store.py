"""A fitted fusion as a directory of plain files, so that fitting and applying can be separate
steps (and a person can read the weights):

- ``fusion.json``: ``format``, ``method``, ``options`` (every option with its value), ``state``
  (the fitted numbers: weights, picks, selections, the members and classes counts) and whatever
  the caller adds (the tool: members, classes, the fit set). Written last: a directory without
  it is not a usable model.
- ``fusion.npz``: the fitted arrays (logistic and stacking: ``coef``, ``intercept``,
  ``pca_mean``, ``pca_components``), loaded with ``allow_pickle=False``.
- ``<method>_<key>.txt``: fitted text, e.g. ``gbm_model.txt``, LightGBM's model text.

Nothing is pickled, so loading a model runs no code.
"""
import json
import os

import numpy as np

from dcase_tk.fusion.base import FusionError
from dcase_tk.fusion.registry import METHODS, build
from dcase_tk.io.atomic import atomic_open, write_text

FORMAT = "dcase_tk.fusion/1"
JSON, NPZ = "fusion.json", "fusion.npz"
RESERVED = ("format", "method", "options", "state")


def _text_file(method, key):
    return f"{method}_{key}.txt"


def _all_text_files():
    return {_text_file(c.name, k) for c in METHODS.values() for k, kind in c.STATE.items() if kind == "text"}


def save(directory, fuser, info=None):
    """Write ``fuser`` (fitted, or a fixed rule) to ``directory``; ``info`` (a JSON-able mapping)
    goes into fusion.json beside it. Files of an earlier model there are removed first."""
    info = dict(info or {})
    clash = sorted(set(info) & set(RESERVED))
    if clash:
        raise ValueError(f"fusion model info may not use the keys {clash}")
    if fuser.FITTED and fuser.state is None:
        raise FusionError(f"fusion method {fuser.name}: save before fit")
    os.makedirs(directory, exist_ok=True)
    for name in (JSON, NPZ, *_all_text_files()):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            os.unlink(path)
    state = dict(fuser.state or {})
    kinds = {"n_members": "json", "n_classes": "json", **fuser.STATE} if fuser.FITTED else {}
    arrays = {k: np.asarray(state[k]) for k, kind in kinds.items() if kind == "array"}
    if arrays:
        with atomic_open(os.path.join(directory, NPZ), "wb") as f:
            np.savez(f, **arrays)
    for key, kind in kinds.items():
        if kind == "text":
            write_text(os.path.join(directory, _text_file(fuser.name, key)), state[key])
    document = {"format": FORMAT, "method": fuser.name, "options": fuser.options,
                "state": {k: state[k] for k, kind in kinds.items() if kind == "json"}, **info}
    write_text(os.path.join(directory, JSON), json.dumps(document, indent=1) + "\n")


def load(directory):
    """``(fuser, info)`` from a directory written by ``save``; ``info`` is fusion.json's other keys."""
    path = os.path.join(directory, JSON)
    if not os.path.isfile(path):
        raise FusionError(f"{directory}: no {JSON}; not a fitted fusion (fit one with steps/fuse.sh "
                          "or dcase_tk.bin.fuse_scores --mode fit)")
    with open(path, encoding="utf-8") as f:
        try:
            document = json.load(f)
        except json.JSONDecodeError as e:
            raise FusionError(f"{path}: not valid JSON ({e}); fit the fusion again") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise FusionError(f"{path}: not a fusion model written by dcase_tk.fusion.store.save")
    fuser = build(document["method"], document["options"])
    if fuser.FITTED:
        state = dict(document["state"])
        kinds = {"n_members": "json", "n_classes": "json", **fuser.STATE}
        if any(kind == "array" for kind in kinds.values()):
            with np.load(os.path.join(directory, NPZ), allow_pickle=False) as npz:
                state.update({key: npz[key] for key in npz.files})
        for key, kind in kinds.items():
            if kind == "text":
                with open(os.path.join(directory, _text_file(fuser.name, key)), encoding="utf-8") as f:
                    state[key] = f.read()
        missing = sorted(set(kinds) - set(state))
        if missing:
            raise FusionError(f"{directory}: fitted {fuser.name} fusion without {missing}; fit it again")
        fuser.state = state
    return fuser, {k: v for k, v in document.items() if k not in RESERVED}
