"""Class-mean cosine scoring of embeddings, and the back end that feeds it.

BUT's x-vector systems for task 1A (Zeinali et al., published_systems/part4.md, P4.9 §4 and §9;
the cross-paper summary in part4.md calls it "x-vector -> RLDA -> class-mean cosine scoring")
score a clip by the cosine similarity of its embedding to the mean training embedding of each
class, after regularised LDA, and decide by argmax. ``Backend`` is that pipeline, in the order of
the speaker-recognition back ends it comes from: centre on the training mean -> (optional) LDA
-> length normalisation -> cosine to the length-normalised class means.

``Backend.save`` writes a plain ``.npz`` (read back with ``allow_pickle=False``, so loading a
file runs no code). ``posteriors`` turns cosine scores into a score file's rows: the softmax of
``scale * scores``, ``scale`` playing the part of a calibration temperature.
"""
import numpy as np
from scipy.special import softmax

from dcase_tk.backend.lda import LDA, class_means, fitted_input, length_norm
from dcase_tk.io.atomic import atomic_open

FORMAT = "dcase_tk.backend.cosine.Backend/1"
LDA_PREFIX = "lda."


class CosineClassMeans:
    """Cosine similarity to each class's mean embedding: ``fit``, then ``score`` -> ``(N, C)``."""

    def __init__(self, means=None):
        self.means = means

    def fit(self, embeddings, labels, n_classes):
        """Store the length-normalised means of the embeddings of classes ``0 .. n_classes - 1``."""
        self.means = length_norm(class_means(embeddings, labels, n_classes))
        return self

    def score(self, X):
        """``(N, C)`` cosine similarities of the rows of ``X`` to the class means."""
        dim = None if self.means is None else self.means.shape[1]
        return length_norm(fitted_input(X, self.means, dim, "CosineClassMeans")) @ self.means.T


def posteriors(scores, scale):
    """Row-wise softmax of ``scale * scores``: class posteriors that sum to 1 per row."""
    if not scale > 0:
        raise ValueError(f"posteriors scale {scale}: must be > 0 (larger is more confident)")
    return softmax(scale * np.asarray(scores, dtype=np.float64), axis=1)


class Backend:
    """Centre -> LDA (if ``lda``) -> length norm -> class-mean cosine scores.

    ``lda_dims``, ``reg``, ``between_reg``: the LDA's options (dcase_tk.backend.lda.LDA).
    """

    def __init__(self, lda=True, lda_dims=None, reg=1e-3, between_reg=1e-2):
        self.lda = LDA(lda_dims, reg, between_reg) if lda else None
        self.mean = None
        self.cosine = CosineClassMeans()

    def fit(self, X, labels, n_classes):
        """Fit on training embeddings ``(N, D)`` with class indices ``labels`` in ``0 .. n_classes - 1``."""
        X = np.asarray(X, dtype=np.float64)
        class_means(X, labels, n_classes)  # every check on the data and labels, before any fitting
        self.mean = X.mean(axis=0)
        if self.lda is not None:
            self.lda.fit(X - self.mean, labels)
        self.cosine.fit(self.embed(X), labels, n_classes)
        return self

    def embed(self, X):
        """The length-normalised embeddings that are scored: ``(N, lda dims or D)``."""
        dim = None if self.mean is None else self.mean.shape[0]
        X = fitted_input(X, self.mean, dim, "Backend")
        centred = X - self.mean
        return length_norm(self.lda.transform(centred) if self.lda is not None else centred)

    def score(self, X):
        """``(N, n_classes)`` cosine scores of embeddings ``(N, D)``."""
        return self.cosine.score(self.embed(X))

    def save(self, path):
        """Write the fitted back end to ``path`` (a ``.npz``), atomically."""
        if self.mean is None:
            raise ValueError("Backend.save before fit")
        arrays = {"format": np.array(FORMAT), "mean": self.mean, "class_means": self.cosine.means}
        if self.lda is not None:
            arrays.update({LDA_PREFIX + key: value for key, value in self.lda.state_dict().items()})
        with atomic_open(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path):
        """A Backend from a file written by ``save``; ValueError for any other file."""
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        if arrays.get("format") != FORMAT or "mean" not in arrays or "class_means" not in arrays:
            raise ValueError(f"{path}: not a back end written by dcase_tk.backend.cosine.Backend.save")
        lda_state = {key[len(LDA_PREFIX):]: value for key, value in arrays.items() if key.startswith(LDA_PREFIX)}
        backend = cls(lda=False)
        backend.lda = LDA.from_state_dict(lda_state) if lda_state else None
        backend.mean = arrays["mean"]
        backend.cosine = CosineClassMeans(arrays["class_means"])
        return backend
