"""The options of the i-vector front end, the UBM and the i-vector extractor: the ``frontend:``,
``ubm:`` and ``extractor:`` sections of an i-vector config (``conf/ivector/<name>.yaml``).
Defaults are Kaldi's (``apply-cmvn-sliding``, ``train_diag_ubm.sh``, ``train_full_ubm.sh``,
``train_ivector_extractor.sh`` of the sre/voxceleb recipes)."""
import dataclasses

from dcase_tk.config import ConfigError, dataclass_from_dict

CMN_MODES = ("sliding", "utterance", "none")


@dataclasses.dataclass(frozen=True)
class FrontendConfig:
    cmn: str = "sliding"           # sliding (Kaldi's apply-cmvn-sliding) | utterance | none
    cmn_window: int = 300          # frames of the centred sliding window

    def check(self):
        if self.cmn not in CMN_MODES:
            raise ConfigError(f"frontend.cmn '{self.cmn}': use one of {', '.join(CMN_MODES)}")
        _check_ints({"cmn_window": self.cmn_window}, 1, "frontend")


@dataclasses.dataclass(frozen=True)
class UbmConfig:
    num_gauss: int = 1024          # components of the diagonal and of the full UBM
    init: str = "split"            # split: Kaldi's growth from initial_fraction; kmeans++
    initial_fraction: float = 0.5  # of num_gauss at the start of the split growth
    num_iters_init: int = 20       # in-memory EM iterations on num_frames random frames
    num_frames: int = 500000       # frames sampled for the initialisation
    num_iters: int = 4             # diagonal EM iterations over all frames, in parallel jobs
    num_iters_full: int = 4        # full-covariance EM iterations (0: diagonal UBM only)
    top_n: int = 20                # Gaussian selection of the full-covariance EM
    var_floor: float = 0.001       # relative to the global variance
    seed: int = 0

    def check(self):
        if self.init not in ("split", "kmeans++"):
            raise ConfigError(f"ubm.init '{self.init}': use split or kmeans++")
        positive = {"num_gauss": self.num_gauss, "num_frames": self.num_frames, "top_n": self.top_n}
        counts = {"num_iters_init": self.num_iters_init, "num_iters": self.num_iters,
                  "num_iters_full": self.num_iters_full}
        _check_ints(positive, 1, "ubm")
        _check_ints(counts, 0, "ubm")
        if not 0 < self.initial_fraction <= 1:
            raise ConfigError(f"ubm.initial_fraction {self.initial_fraction}: must be in (0, 1]")
        if self.var_floor < 0:
            raise ConfigError(f"ubm.var_floor {self.var_floor}: must be >= 0")


@dataclasses.dataclass(frozen=True)
class ExtractorConfig:
    ivector_dim: int = 200         # dimension of the i-vectors (rank of T)
    num_iters: int = 10            # EM iterations of T
    top_n: int = 20                # Gaussian selection of the frame posteriors
    min_post: float = 0.025        # posteriors below it are pruned (Kaldi's --min-post)
    batch_frames: int = 50000      # frames per block of utterances (1024 Gaussians: about 0.6 GB)
    seed: int = 0

    def check(self):
        _check_ints({"ivector_dim": self.ivector_dim, "top_n": self.top_n,
                     "batch_frames": self.batch_frames}, 1, "extractor")
        _check_ints({"num_iters": self.num_iters}, 0, "extractor")
        if not 0 <= self.min_post < 1:
            raise ConfigError(f"extractor.min_post {self.min_post}: must be in [0, 1)")


def _check_ints(values, least, section):
    for name, value in values.items():
        if not isinstance(value, int) or value < least:
            raise ConfigError(f"{section}.{name} {value!r}: must be an integer >= {least}")


def section(config, name, cls):
    """The checked ``cls`` of ``config[name]`` (defaults for a missing section)."""
    values = config.get(name) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"'{name}' must be a section of options, got {values!r}")
    options = dataclass_from_dict(cls, values, name)
    options.check()
    return options
