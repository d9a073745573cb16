"""Training curves from a History (matplotlib, an optional extra:
``pip install "mlpcore[plot]"``)."""

from __future__ import annotations

import os


def plot_history(history, path=None, *, metrics=None, show=None):
    """Plot loss (and accuracy, when recorded) per epoch, training beside
    validation. ``history`` is what fit returns, its ``.history`` dict, or a
    fitted mlpcore.sklearn estimator (loss_curve_, validation_loss_curve_ and
    validation_scores_ are drawn).

    path: save the figure there (format from the extension) and return the
    figure; without a path the figure is shown (``plt.show()``) unless
    ``show=False``. metrics: which metrics to draw (default: every metric
    recorded other than samples_per_second and lr, one panel per base name).
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plot_history needs matplotlib: pip install "mlpcore[plot]"') from None
    if path is not None and show is None:
        # Saving only: a non-interactive backend works without a display.
        import matplotlib.pyplot as plt
        if plt.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo") and "DISPLAY" not in os.environ \
                and os.name != "nt":
            plt.switch_backend("Agg")
    import matplotlib.pyplot as plt

    if hasattr(history, "loss_curve_"):  # a fitted mlpcore.sklearn estimator
        est = history
        history = {"loss": list(est.loss_curve_)}
        if getattr(est, "validation_loss_curve_", None):
            history["val_loss"] = list(est.validation_loss_curve_)
        if getattr(est, "validation_scores_", None):
            history["val_score"] = list(est.validation_scores_)
    data = getattr(history, "history", history)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"history: expected a History or a non-empty dict of metric lists, got {type(history).__name__}")
    epochs = list(getattr(history, "epoch", [])) or None
    names = metrics if metrics is not None else [k for k in data if k not in ("samples_per_second", "lr")]
    if isinstance(names, str):
        names = [names]
    for name in names:
        if name not in data:
            raise ValueError(f"metrics: {name!r} is not in the history (recorded: {sorted(data)})")
    panels: list[str] = []
    for name in names:
        base = name[4:] if name.startswith("val_") else name
        if base not in panels:
            panels.append(base)

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, base in zip(axes[0], panels):
        for name, label in ((base, "train"), ("val_" + base, "validation")):
            if name in names and name in data and len(data[name]):
                values = list(data[name])
                xs = [e + 1 for e in epochs] if epochs and len(epochs) == len(values) else range(1, len(values) + 1)
                ax.plot(list(xs), values, marker="o" if len(values) < 30 else None, markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        ax.set_title(base)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path))
        if show:
            plt.show()
        else:
            plt.close(fig)
        return fig
    if show is None or show:
        plt.show()
    return fig
