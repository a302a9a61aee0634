"""The record of training: one value per epoch for the loss, each metric and the learning rate."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class History:
    """Per-epoch logs of ``fit``: ``history["loss"]``, ``history["val_loss"]``,
    ``history["accuracy"]``, ``history["lr"]``, ... each a list with one float per epoch.
    ``epoch`` lists the (0-based, lifelong) epoch numbers; ``interrupted`` is True when
    training was stopped by Ctrl-C."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.interrupted = False  # stopped by Ctrl-C
        self.diverged = False  # stopped by a non-finite loss (with TerminateOnNaN)
        #: How fit took its steps: a :class:`scratchnn.sharded.Plan` (threads, and why); None
        #: for a history read from a file.
        self.threads: Any = None

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(
                f"No {key!r} in this history. Keys: {', '.join(self.history)}."
            ) from None

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict[str, list[float]]:
        """A plain ``{name: [value per epoch]}`` dict (a copy)."""
        return {key: list(values) for key, values in self.history.items()}

    def plot(self, path: str | os.PathLike | None = None) -> Figure:
        """The curves of the loss, each metric (training and validation) and the learning rate,
        per epoch: :func:`scratchnn.plot.training_curves` of this history. In a notebook the
        figure shows itself as the cell's value. Needs matplotlib (``scratchnn[plot]``).

        Args:
            path: also write the figure there as a PNG.

        Returns:
            matplotlib.figure.Figure: one panel for the loss and one per other log.
        """
        from ._registry import figures  # scratchnn.plot registers it (imported when asked)

        return figures.lookup("training_curves")(self, path=path)

    def __repr__(self) -> str:
        last = ", ".join(f"{key}={values[-1]:.4g}" for key, values in self.history.items())
        return f"History({len(self)} epochs; last: {last})"
