"""Event-roll figures of single clips (PNG): the reference events above the estimated ones, one
row per class, and optionally the frame posteriors below, on one time axis."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from dcase_tk.io.atomic import atomic_path  # noqa: E402


def _roll(ax, events, classes, title, color):
    index = {c: i for i, c in enumerate(classes)}
    for onset, offset, label in events:
        ax.broken_barh([(onset, offset - onset)], (index[label] - 0.4, 0.8), color=color)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_ylim(len(classes) - 0.5, -0.5)
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    ax.set_title(title, fontsize=9, loc="left")


def plot_event_roll(path, utt, classes, reference, estimated, duration, posteriors=None,
                    frame_shift=None):
    """``reference``/``estimated``: [(onset, offset, label)]; ``duration``: the x range (s);
    ``posteriors`` (frames, C) at ``frame_shift`` s: drawn below, one line per class that has a
    reference or estimated event or a posterior above 0.5."""
    panels = 3 if posteriors is not None else 2
    height = 0.22 * len(classes) + 0.8
    fig, axes = plt.subplots(panels, 1, sharex=True, figsize=(10, height * 2 + (2.2 if panels == 3 else 0)),
                             gridspec_kw={"height_ratios": [height, height] + ([2.2] if panels == 3 else [])})
    _roll(axes[0], reference, classes, f"{utt}: reference", "tab:green")
    _roll(axes[1], estimated, classes, "estimated", "tab:blue")
    if posteriors is not None:
        ax = axes[2]
        t = (np.arange(len(posteriors)) + 0.5) * frame_shift
        shown = {label for _, _, label in list(reference) + list(estimated)}
        for i, c in enumerate(classes):
            if c in shown or posteriors[:, i].max() > 0.5:
                ax.plot(t, posteriors[:, i], linewidth=1, label=c, drawstyle="steps-mid")
        ax.set_ylim(0, 1)
        ax.set_ylabel("posterior")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right", ncol=2)
    axes[-1].set_xlim(0, duration)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
