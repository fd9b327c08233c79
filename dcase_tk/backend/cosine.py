"""Class-mean cosine scoring of embeddings: the ``cosine`` classifier, and ``cosine_pairs``.

BUT's x-vector systems for task 1A (Zeinali et al., published_systems/part4.md, P4.9 §4 and §9;
the cross-paper summary in part4.md calls it "x-vector -> RLDA -> class-mean cosine scoring")
score a clip by the cosine similarity of its embedding to the mean training embedding of each
class, after centring, regularised LDA and length normalisation (the transforms of the
pipeline, pipeline.py), and decide by argmax.

``posteriors`` turns cosine scores into a score file's rows: the softmax of ``scale * scores``,
``scale`` playing the part of a calibration temperature (BUT decide by argmax and fuse by score
averaging, so the scale only matters for fusion). ``cosine_pairs`` scores two embeddings against
each other, the same measure for pair trials (as plda.PLDA.llr is for PLDA).
"""
import numpy as np
from scipy.special import softmax

from dcase_tk.backend.base import ClassMeansClassifier, class_means, length_norm


def cosine_pairs(a, b):
    """Row-wise cosine similarity of two ``(N, D)`` arrays -> ``(N,)``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"cosine_pairs needs two (N, D) arrays of one shape; got {a.shape} and {b.shape}")
    return np.sum(length_norm(a) * length_norm(b), axis=1)


class Cosine(ClassMeansClassifier):
    """Cosine similarity to the length-normalised class means (state ``means`` (C, D));
    posteriors = softmax(``scale`` * cosine)."""

    name = "cosine"
    OPTIONS = {"scale": 10.0}
    STATE = ("means",)

    def check_options(self):
        self.check_number("scale", 0, strict=True)

    def fit(self, X, labels, n_classes):
        self.state = {"means": length_norm(class_means(X, labels, n_classes))}
        return self

    def scores(self, X):
        """``(N, C)`` cosine similarities of the rows of ``X`` to the class means."""
        return length_norm(self.checked_input(X)) @ self.state["means"].T

    def posteriors(self, X):
        return softmax(self.options["scale"] * self.scores(X), axis=1)
