"""Gaussian mixture models (UBMs), Baum-Welch statistics and the i-vector extractor.

The Kaldi pipeline (``gmm-global-init-from-feats``, ``gmm-global-acc-stats``/``gmm-global-est``,
``gmm-global-to-fgmm``, ``fgmm-global-acc-stats``, ``ivector-extractor-*``) in torch:

- ``diag``: diagonal-covariance GMM, EM with Kaldi's growth by splitting or k-means++ start;
- ``full``: full-covariance GMM initialised from a diagonal one, EM on Gaussian-selected frames;
- ``stats``: Gaussian selection, sparse frame posteriors and per-utterance zeroth/first order stats;
- ``extractor``: the total-variability model (T matrix) and i-vector extraction;
- ``accumulators``: EM statistics as plain arrays that parallel jobs write and a driver sums;
- ``frames``: features from a dump dir, mean-normalised by the front end (``config``: the
  ``frontend:``, ``ubm:`` and ``extractor:`` options); ``ivector_io``: what the i-vector tools
  share; ``npz``: the model files.

docs/ivectors.md describes the steps and files. Models are plain ``.npz`` files (loaded with
``allow_pickle=False``). Parameters are float64;
the all-component likelihoods of the diagonal GMM are computed in float32 on centred data (see
``diag``), everything that is summed over frames is accumulated in float64.
"""
