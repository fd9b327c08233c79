"""A fusion system's config, ``conf/fusion/<name>.yaml``:

    description: weighted mean of the CNN and the i-vector system    # optional
    members: [cnn8, ivector]      # systems under the exp dir, fused in this order
    method: weighted              # a name of registry.METHODS
    options: {max_iter: 200}      # that method's options (docs/fusion.md); defaults for the rest
    fit_on: cv                    # the set fitted on (methods with parameters): validation or out-of-fold;
                                  # several sets (a list, or names separated by spaces) are pooled

``FusionConfig.from_dict`` checks it and resolves the options (every option with its value).
"""
import dataclasses

from dcase_tk.fusion.base import FusionError
from dcase_tk.fusion.registry import METHODS, build


@dataclasses.dataclass
class FusionConfig:
    members: list
    method: str
    options: dict = dataclasses.field(default_factory=dict)
    fit_on: str = ""
    description: str = ""

    @classmethod
    def from_dict(cls, values, where="fusion config", require_fit_on=True):
        """A checked config from a YAML mapping; FusionError naming ``where`` and what to write
        otherwise. With ``require_fit_on``, a method with fitted parameters needs ``fit_on``."""
        if not isinstance(values, dict):
            raise FusionError(f"{where}: must be a mapping with members, method (and options, fit_on)")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise FusionError(f"{where}: unknown key(s) {unknown}; known: {', '.join(known)}")
        missing = [k for k in ("members", "method") if k not in values]
        if missing:
            raise FusionError(f"{where}: {' and '.join(missing)} missing; e.g. members: [cnn8, "
                              f"ivector] and method: one of {', '.join(METHODS)}")
        members = values["members"]
        if (not isinstance(members, list) or len(members) < 2
                or not all(isinstance(m, str) and m for m in members)):
            raise FusionError(f"{where}: members must list at least 2 system names, e.g. [cnn8, "
                              f"ivector]; got {members!r}")
        if len(set(members)) < len(members):
            raise FusionError(f"{where}: members {members} name a system twice; weight it with "
                              "method: weighted or greedy instead")
        try:
            fuser = build(values["method"], values.get("options") or {})
        except FusionError as e:
            raise FusionError(f"{where}: {e}") from None
        fit_on = values.get("fit_on") or ""
        if isinstance(fit_on, list) and all(isinstance(s, str) for s in fit_on):
            fit_on = " ".join(fit_on)
        if not isinstance(fit_on, str):
            raise FusionError(f"{where}: fit_on must be a set name like cv, or a list of sets to "
                              f"pool like [fold2/cv, fold3/cv]; got {fit_on!r}")
        if require_fit_on and fuser.FITTED and not fit_on:
            raise FusionError(f"{where}: method {fuser.name} fits parameters on labelled clips; say "
                              "which with fit_on: the validation set or the pooled out-of-fold "
                              "decode dirs (e.g. fit_on: cv)")
        return cls(list(members), fuser.name, dict(fuser.options), fit_on,
                   str(values.get("description") or ""))

    @property
    def fit_sets(self):
        """The set names of ``fit_on``, pooled when there are several."""
        return self.fit_on.split()

    def fuser(self):
        """A fresh (unfitted) fuser of this config's method and options."""
        return build(self.method, self.options)

    def to_dict(self):
        return dataclasses.asdict(self)
