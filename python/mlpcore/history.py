"""What fit() returns: per-epoch metrics, as Keras's History."""

from __future__ import annotations


class History:
    """``history.history`` maps each metric ("loss", "accuracy", "val_loss",
    "val_accuracy", "samples_per_second") to a list with one value per epoch;
    ``history.epoch`` lists the epoch indices."""

    def __init__(self, params: dict | None = None):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params = dict(params or {})
        self.stopped_early = False
        # Set when fit stopped early: Ctrl-C (partial_epoch says how far it got) or divergence.
        self.interrupted = False
        self.partial_epoch = None
        self.diverged = False

    def append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, metrics={list(self.history)})"
