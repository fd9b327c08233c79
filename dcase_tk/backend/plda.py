"""Two-covariance PLDA: the ``plda`` classifier, and PLDA pair scoring (``PLDA.llr``).

The generative model of the speaker-recognition back ends that the DCASE 2018 embedding systems
come from (BUT point to "the x-vector/PLDA pipeline", published_systems/part4.md, P4.9 §9;
DESIGN.md §2 lists PLDA among the back ends): every class has a latent centre y and every
embedding of the class scatters around it,

    y ~ N(mu, B),        x | y ~ N(y, W),

B the between-class and W the within-class covariance (the "two-covariance" model; Sizov, Lee and
Kinnunen's unified PLDA variants, outside knowledge). Fitting starts from the moments of the
training data (mu the mean of the class means, B their covariance, W the pooled within-class
covariance of the examples, each plus ``reg * trace(W) / D * I`` so that B is invertible even
with fewer classes than dimensions) and runs ``em_iters`` EM iterations, each of which provably
does not lower the training log-likelihood ``log_likelihood``:

- E step, per class c with n_c examples summing to s_c: y | X_c ~ N(m_c, C_c) with
  ``C_c = (B^-1 + n_c W^-1)^-1`` and ``m_c = C_c (B^-1 mu + W^-1 s_c)`` (``posterior``; classes
  of one size share C_c, so only the sums of the C_c over the classes are formed);
- M step: ``mu = mean_c m_c``, ``B = mean_c (C_c + m_c m_c^T) - mu mu^T``,
  ``W = (1/N) sum_c sum_{x in c} [(x - m_c)(x - m_c)^T + C_c]``.

The marginal log-likelihood of a class's examples needs no big covariance: for any y,
``log p(X_c) = log p(X_c | y) + log p(y) - log p(y | X_c)``; at y = m_c every term is a small
Gaussian density.

Classification: the posterior predictive of an embedding x given a class's training examples is
``N(m_c, W + C_c)`` (``predictive``); ``scores`` are those log densities and ``posteriors`` their
softmax (equal priors). Pair scoring uses the same predictive: ``llr(enrol, test) = log p(test | enrol)
- log p(test)``, the first with the class posterior given one example (n = 1), the second with
none (n = 0: ``N(mu, B + W)``), the usual same- versus different-class log-likelihood ratio.

State: ``mean`` (D,), ``between`` (D, D), ``within`` (D, D) and the training ``counts`` (C,) and
``sums`` (C, D) of each class, from which the predictive distributions are recomputed.
"""
import numpy as np

from dcase_tk.backend.base import (Classifier, class_stats, gaussian_logpdf, require_positive_definite,
                                   training_data)


class PLDA(Classifier):
    """Two-covariance PLDA (see the module doc): ``em_iters`` EM iterations, ``reg`` on the
    initial moments."""

    name = "plda"
    OPTIONS = {"em_iters": 10, "reg": 1e-3}
    STATE = ("mean", "between", "within", "counts", "sums")

    def check_options(self):
        self.check_number("em_iters", 0, strict=False, integer=True)
        self.check_number("reg", 0, strict=False)

    @property
    def input_dim(self):
        return self.state["mean"].shape[0]

    @property
    def n_classes(self):
        return self.state["counts"].shape[0]

    def fit(self, X, labels, n_classes):
        X, labels = training_data(X, labels, n_classes)
        counts, sums = class_stats(X, labels, n_classes)
        self.state = {**initial_moments(X, labels, counts, sums, self.options["reg"]),
                      "counts": counts, "sums": sums}
        scatter = X.T @ X
        for _ in range(self.options["em_iters"]):
            self.state.update(self.em_step(counts, sums, scatter))
        return self

    def posterior(self, count, sums):
        """Posterior of a class centre given ``count`` examples of the class summing to each row
        of ``sums`` (K, D): ``(means (K, D), covariance (D, D))``; ``count`` 0 gives the prior."""
        between_inv = np.linalg.inv(self.state["between"])
        within_inv = np.linalg.inv(self.state["within"])
        covariance = np.linalg.inv(between_inv + count * within_inv)
        means = (between_inv @ self.state["mean"] + sums @ within_inv) @ covariance
        return means, (covariance + covariance.T) / 2

    def predictive(self, count, sums):
        """Posterior predictive of an embedding given ``count`` examples of its class summing to
        each row of ``sums``: ``(means (K, D), covariance (D, D))``, the latter ``W + C``."""
        means, covariance = self.posterior(count, sums)
        return means, self.state["within"] + covariance

    def class_posteriors(self, counts, sums):
        """Posterior means of every class (K, D), and the posterior covariances summed over the
        classes, plain and weighted by the class sizes (classes of one size share one)."""
        means = np.zeros_like(sums)
        total, weighted = np.zeros((2, sums.shape[1], sums.shape[1]))
        for count in np.unique(counts):
            rows = counts == count
            means[rows], covariance = self.posterior(count, sums[rows])
            total += rows.sum() * covariance
            weighted += rows.sum() * count * covariance
        return means, total, weighted

    def em_step(self, counts, sums, scatter):
        """One EM iteration from the class statistics and the data's ``X^T X``: new
        ``{mean, between, within}``."""
        means, total, weighted = self.class_posteriors(counts, sums)
        mean = means.mean(axis=0)
        between = (total + means.T @ means) / len(counts) - np.outer(mean, mean)
        cross = sums.T @ means
        within = (scatter - cross - cross.T + weighted + (means * counts[:, None]).T @ means) / counts.sum()
        return {"mean": mean, "between": (between + between.T) / 2, "within": (within + within.T) / 2}

    def log_likelihood(self, X, labels, n_classes):
        """The marginal log-likelihood of labelled embeddings under the current model (the
        quantity EM never lowers; see the module doc)."""
        X, labels = training_data(self.checked_input(X), labels, n_classes)
        counts, sums = class_stats(X, labels, n_classes)
        means, _, _ = self.class_posteriors(counts, sums)
        total = gaussian_logpdf(X - means[labels], self.state["within"]).sum()
        total += gaussian_logpdf(means - self.state["mean"], self.state["between"]).sum()
        at_the_mean = np.zeros((1, self.input_dim))          # log N(m_c; m_c, C_c)
        for count, classes in zip(*np.unique(counts, return_counts=True)):
            total -= classes * gaussian_logpdf(at_the_mean, self.posterior(count, at_the_mean)[1])[0]
        return float(total)

    def scores(self, X):
        """``(N, C)`` log posterior-predictive densities of each row given each class."""
        X = self.checked_input(X)
        columns = []
        for count, sums in zip(self.state["counts"], self.state["sums"]):
            mean, covariance = self.predictive(count, sums[None])
            columns.append(gaussian_logpdf(X - mean, covariance))
        return np.stack(columns, axis=1)

    def llr(self, enrol, test):
        """Row-wise same- versus different-class log-likelihood ratio of two ``(N, D)`` arrays:
        ``log p(test | enrol) - log p(test)``."""
        enrol, test = self.checked_input(enrol), self.checked_input(test)
        if enrol.shape != test.shape:
            raise ValueError(f"llr needs as many enrolment as test embeddings; got {enrol.shape} "
                             f"and {test.shape}")
        same_means, same_covariance = self.predictive(1, enrol)
        prior_mean, prior_covariance = self.predictive(0, np.zeros((1, self.input_dim)))
        return gaussian_logpdf(test - same_means, same_covariance) - gaussian_logpdf(test - prior_mean,
                                                                                     prior_covariance)


def initial_moments(X, labels, counts, sums, reg):
    """The starting point of EM: ``{mean, between, within}`` from the class moments, each
    covariance plus ``reg`` times the mean within-class variance."""
    class_means = sums / counts[:, None]
    deviations = X - class_means[labels]
    within = deviations.T @ deviations / len(X)
    scale = np.trace(within) / X.shape[1]
    if scale <= 0:
        raise ValueError("plda: every class is a single repeated point, no within-class variance; "
                         "PLDA needs several distinct embeddings per class")
    mean = class_means.mean(axis=0)
    centred = class_means - mean
    between = centred.T @ centred / len(counts)
    ridge = reg * scale * np.eye(X.shape[1])
    moments = {"mean": mean, "between": between + ridge, "within": within + ridge}
    for name in ("between", "within"):
        require_positive_definite(moments[name], (
            f"plda: the {name}-class covariance is singular ({len(counts)} classes, {len(X)} "
            f"embeddings, {X.shape[1]} dimensions); set plda reg > 0 (e.g. 0.001) or reduce the "
            "dimension first (lda)"))
    return moments
