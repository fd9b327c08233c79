"""Classical back ends for fixed-size embeddings (i-vectors and x-vectors): transforms (centring,
regularised LDA, WCCN, length normalisation) and classifiers (class-mean cosine, two-covariance
PLDA, Gaussians, logistic regression, SVMs, an MLP), chained by ``pipeline.Pipeline`` from a
system config's ``backend:`` section and saved as plain arrays (docs/backends.md).

Like ``dcase_tk.nnet`` it knows nothing of data directories: arrays in, arrays out; ``store``
only finds the embedding scp of an embedding dir.
"""
