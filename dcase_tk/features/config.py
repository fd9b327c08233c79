"""Feature configs (``conf/feats/<name>.yaml``), kept free of torch and librosa so that light
tools (merging job outputs, reading frame shifts) start fast."""
import dataclasses

from dcase_tk.config import ConfigError, dataclass_from_dict

FEATURE_TYPES = ("logmel", "mfcc", "waveform")
CHANNEL_SPECS = ("mono", "left", "right", "mid", "side")
WINDOWS = ("hamming", "hann", "blackman")


class FeatureConfigError(ConfigError):
    pass


NNF_METRICS = ("euclidean", "cosine")
NNF_AGGREGATES = ("median", "mean")
NNF_SELECTS = ("nearest", "librosa")
NNF_OUTPUTS = ("nnf", "stack")


@dataclasses.dataclass(frozen=True)
class NNFConfig:
    """The ``nnf:`` section: nearest-neighbour filtering of the mel energies before the log
    (dcase_tk.features.nnf; Nguyen & Pernkopf, Task 1). ``output: nnf`` replaces the features by
    those of the filtered mel energies; ``output: stack`` keeps both, ``[features, NNF features]``
    per frame (twice the dims; the first half is what the config gives without ``nnf``)."""
    k: int = 5                        # neighbours whose median (or mean) replaces a frame
    metric: str = "euclidean"         # euclidean | cosine, between frames of mel energies
    aggregate: str = "median"         # median (REPET-SIM) | mean
    width: int = 1                    # frames closer than this are no neighbours (1: only itself)
    select: str = "nearest"           # nearest (the k nearest) | librosa (its connectivity-mode pick)
    output: str = "nnf"               # nnf | stack

    def check(self):
        if not isinstance(self.k, int) or self.k < 1:
            raise FeatureConfigError(f"nnf.k must be a positive integer, got {self.k!r}")
        if not isinstance(self.width, int) or self.width < 1:
            raise FeatureConfigError(f"nnf.width must be an integer >= 1, got {self.width!r}")
        for key, value, allowed in (("metric", self.metric, NNF_METRICS), ("aggregate", self.aggregate, NNF_AGGREGATES),
                                    ("select", self.select, NNF_SELECTS), ("output", self.output, NNF_OUTPUTS)):
            if value not in allowed:
                raise FeatureConfigError(f"nnf.{key} must be one of {list(allowed)}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Everything that defines a feature type; read from ``conf/feats/<name>.yaml``."""
    type: str = "logmel"              # logmel | mfcc | waveform (raw samples, hop_length_s per frame)
    sample_rate: int = 48000          # audio is resampled to this rate
    channels: tuple = ("mono",)       # stacked along the feature axis, channel-major
    win_length_s: float = 0.04
    hop_length_s: float = 0.02
    n_fft: int = 2048
    window: str = "hamming"           # periodic ("asymmetric") window, as librosa/scipy
    n_mels: int = 40
    fmin: float = 0.0
    fmax: float = None                # None: sample_rate / 2
    htk: bool = False
    mel_norm: str = "slaney"          # slaney | none
    power: float = 1.0                # 1: magnitude (the Task 1 baseline), 2: power
    log_offset: float = 2.220446049250313e-16  # log(mel + offset); the baseline's numpy eps
    n_mfcc: int = 20                  # mfcc only
    deltas: int = 0                   # 0, 1 (+delta) or 2 (+delta+delta-delta)
    delta_width: int = 2              # regression half-width N, as Kaldi's add-deltas
    trim_db: float = 0.0              # > 0: cut leading/trailing audio this many dB below the
                                      # loudest frame (dcase_tk.features.trim); 0: keep all
    nnf: NNFConfig = None             # the nnf: section (NNFConfig above); None: no filtering

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        if "channels" in d:
            ch = d["channels"]
            d["channels"] = tuple([ch] if isinstance(ch, str) else ch)
        if isinstance(d.get("nnf"), dict):
            try:
                d["nnf"] = dataclass_from_dict(NNFConfig, d["nnf"], "nnf")
            except ConfigError as e:
                raise FeatureConfigError(str(e)) from None
        try:
            cfg = dataclass_from_dict(cls, d, "feature")
        except ConfigError as e:
            raise FeatureConfigError(str(e)) from None
        cfg.check()
        return cfg

    def check(self):
        if self.type not in FEATURE_TYPES:
            raise FeatureConfigError(f"type must be one of {FEATURE_TYPES}, got '{self.type}'")
        bad = [c for c in self.channels if c not in CHANNEL_SPECS]
        if bad or not self.channels:
            raise FeatureConfigError(f"channels must be a list from {CHANNEL_SPECS}, got {list(self.channels)}")
        if self.window not in WINDOWS:
            raise FeatureConfigError(f"window must be one of {sorted(WINDOWS)}, got '{self.window}'")
        if self.win_samples > self.n_fft:
            raise FeatureConfigError(
                f"window of {self.win_samples} samples ({self.win_length_s} s at {self.sample_rate} Hz) "
                f"is longer than n_fft={self.n_fft}")
        if self.deltas not in (0, 1, 2):
            raise FeatureConfigError(f"deltas must be 0, 1 or 2, got {self.deltas}")
        if self.trim_db < 0:
            raise FeatureConfigError(f"trim_db must be >= 0 (0: no trimming), got {self.trim_db}")
        if self.mel_norm not in ("slaney", "none"):
            raise FeatureConfigError(f"mel_norm must be slaney or none, got {self.mel_norm}")
        if self.nnf is not None:
            if not isinstance(self.nnf, NNFConfig):
                raise FeatureConfigError(f"nnf must be a mapping of {[f.name for f in dataclasses.fields(NNFConfig)]}"
                                         f" (or absent), got {self.nnf!r}")
            if self.type == "waveform":
                raise FeatureConfigError("nnf filters mel energies: it needs type logmel or mfcc, not waveform")
            self.nnf.check()

    @property
    def win_samples(self):
        return int(round(self.win_length_s * self.sample_rate))

    @property
    def hop_samples(self):
        return int(round(self.hop_length_s * self.sample_rate))

    @property
    def base_dim(self):
        return {"mfcc": self.n_mfcc, "waveform": self.hop_samples}.get(self.type, self.n_mels)

    @property
    def dim(self):
        stacked = 2 if self.nnf is not None and self.nnf.output == "stack" else 1
        return self.base_dim * (1 + self.deltas) * len(self.channels) * stacked
