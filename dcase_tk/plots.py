"""Figures a person reads next to the numbers: training curves, confusion matrices and ROC
curves (PNG)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from dcase_tk.io.atomic import atomic_path  # noqa: E402


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def plot_curves(history, path, best_epoch, metric="accuracy"):
    """Loss and ``metric`` per epoch for train and validation (where the history has them),
    the kept epoch marked."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "valid"):
        for ax, name in ((ax_loss, "loss"), (ax_metric, metric)):
            if f"{split}_{name}" in history[0]:
                ax.plot(epochs, [h[f"{split}_{name}"] for h in history], label=split)
    for ax, name in ((ax_loss, "loss"), (ax_metric, metric)):
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"kept (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
    fig.tight_layout()
    _save(fig, path)


def plot_confusion(conf, classes, path, title):
    """Row-normalised confusion matrix with the counts written in each cell."""
    conf = np.asarray(conf)
    rates = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    size = max(5, 0.6 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if conf[i, j]:
                ax.text(j, i, str(conf[i, j]), ha="center", va="center",
                        color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def plot_roc(curves, path, title):
    """ROC curves, ``curves``: {name: (fpr, tpr, auc)}, each AUC in the legend, the chance
    diagonal dashed."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance (AUC 50.0 %)")
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {100 * auc:.1f} %)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
