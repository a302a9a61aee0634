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


def still_improving(
    history: Any, epochs: int, monitor: str, higher_is_better: bool = False
) -> str | None:
    """Words for a run that used all its ``epochs`` with ``monitor`` still improving, or None.

    Still improving: the last epoch's value is the best so far and more than 3% better than
    the value half-way (a cosine schedule flattens the last epochs of any run, converged or
    not, so the last few epochs alone say little). A run stopped early, or interrupted, has
    converged as far as it can tell. ``history`` is a :class:`History` or anything with
    ``len``, ``in``, ``[name]`` and ``interrupted``.

    Example:
        >>> h = History()
        >>> for epoch, value in enumerate([1.0, 0.8, 0.6, 0.5]):
        ...     h.append(epoch, {"val_loss": value})
        >>> still_improving(h, 4, "val_loss")
        'validation loss still falling (0.8 at epoch 2, 0.5 at the last)'
        >>> still_improving(h, 10, "val_loss") is None  # stopped before its 10 epochs
        True
    """
    if history.interrupted or len(history) < max(epochs, 2) or monitor not in history:
        return None
    values = history[monitor]
    back = values[len(values) // 2 - 1] if len(values) > 2 else values[0]
    if higher_is_better:
        improving = values[-1] >= max(values) and values[-1] > back + 0.03 * abs(back)
    else:
        improving = values[-1] <= min(values) and values[-1] < back - 0.03 * abs(back)
    if not improving:
        return None
    name = {"val_loss": "validation loss", "loss": "training loss"}.get(monitor, monitor)
    trend = "rising" if higher_is_better else "falling"
    half = f"epoch {max(len(values) // 2, 1)}"
    return f"{name} still {trend} ({back:.4g} at {half}, {values[-1]:.4g} at the last)"
