"""Callbacks: code that runs at fixed points of ``fit``.

The protocol is six methods, each given the current logs (a dict of floats)::

    on_train_begin(logs)               before the first epoch
    on_epoch_begin(epoch, logs)        epoch counts from 0 over the model's whole life
    on_batch_end(batch, logs)          logs: {"loss": batch loss}
    on_epoch_logs(epoch, logs)         logs: loss, metrics, val_*; a callback adds its own
    on_epoch_end(epoch, logs)          logs: all of the epoch's, lr too, as in the History
    on_train_end(logs)                 after the last epoch, also after an interruption

A callback that measures the epoch itself (one that validates each member of a packed
ensemble) writes its logs in ``on_epoch_logs`` and names them in ``provided_logs``: the
schedule, the History and every ``on_epoch_end`` then see them, and ``fit`` accepts a
schedule or callback that monitors them.

``fit`` sets ``callback.model`` before training. A callback stops training by setting
``self.model.stop_training = True``; training then ends after the current batch.
"""

from __future__ import annotations

import math
import os
import string
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import check_bool, check_callable, check_choice, check_int, check_number
from .losses import EachMember

if TYPE_CHECKING:
    from .schedules import Schedule

#: A :class:`scratchnn.Sequential` (not imported: the model module sits above this one).
Sequential = Any

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "EarlyStoppingEachMember",
    "LambdaCallback",
    "LearningRateScheduler",
    "LivePlot",
    "ModelCheckpoint",
    "NotebookProgressBar",
    "ProgressBar",
    "TerminateOnNaN",
    "progress_display",
]


class Callback:
    """Base class: every method does nothing, so a subclass overrides only what it needs."""

    model: Sequential

    def set_model(self, model: Sequential) -> None:
        self.model = model

    def required_logs(self) -> set[str]:
        """Names this callback reads from the epoch logs; ``fit`` checks them up front."""
        return set()

    def provided_logs(self) -> set[str]:
        """Names this callback writes into the epoch logs in :meth:`on_epoch_logs`."""
        return set()

    def on_train_begin(self, logs: dict[str, float]) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_batch_end(self, batch: int, logs: dict[str, float]) -> None:
        pass

    def on_epoch_logs(self, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_train_end(self, logs: dict[str, float]) -> None:
        pass


def _mode_for(monitor: str, mode: str) -> str:
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be a log name (str). Received: monitor={monitor!r}.")
    check_choice("mode", mode, ("auto", "min", "max"))
    if mode != "auto":
        return mode
    higher_is_better = ("acc", "precision", "recall", "f1", "r2")
    return "max" if any(word in monitor for word in higher_is_better) else "min"


def _monitored(logs: dict[str, float], monitor: str, who: str) -> float:
    if monitor not in logs:
        raise ValueError(
            f"{who} monitors {monitor!r}, which is not in the epoch's logs "
            f"({', '.join(logs)}). Pass validation data or choose another monitor."
        )
    return float(logs[monitor])


def _writable_path(name: str, path: Any) -> str:
    """``path`` as a string, refused now (not after an epoch of training) if its folder does
    not exist."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path. Received: {name}={path!r}.")
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ValueError(
            f"The folder of {name}={path!r} does not exist; create it first "
            f"(os.makedirs({folder!r}))."
        )
    return path


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving.

    Args:
        monitor: the log to watch ("val_loss").
        patience: stop after this many epochs without improvement (as Keras: 0 and 1 both
            stop at the first epoch that does not improve).
        min_delta: the smallest change that counts as an improvement.
        mode: "min", "max", or "auto" (max for accuracy-like names, min otherwise).
        restore_best_weights: at the end, put back the weights of the best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        self.mode = _mode_for(monitor, mode)
        self.monitor, self.patience = monitor, check_int("patience", patience, 0)
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.restore_best_weights = check_bool("restore_best_weights", restore_best_weights)
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None

    def required_logs(self) -> set[str]:
        return {self.monitor}

    def on_train_begin(self, logs):
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: np.ndarray | None = None
        self.stopped_epoch = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class EarlyStoppingEachMember(Callback):
    r"""Early stopping for every member of a packed ensemble (:mod:`scratchnn.layers.packed`)
    on its own validation part, each keeping the weights of its own best epoch.

    At each epoch's end (in ``on_epoch_logs``, so that a schedule such as
    :class:`~scratchnn.schedules.ReduceLROnPlateau` and the History see its logs), member
    ``k``'s validation loss is its data loss on its own validation rows (weights
    ``V[:, k]``), without the weight penalty: a loss with the penalty in it keeps falling while
    the weights shrink, long after the fit to the data stopped improving. The logs get
    ``val_data_loss``, the sum over the members (as :class:`~scratchnn.losses.EachMember` sums
    the training loss), and ``val_loss``, the same with each member's penalty added (as fit's
    ``loss`` has it). A member whose validation loss has not improved for ``patience`` epochs
    is done; training stops when all are. At the end each member's weights are put back to
    its best epoch's.

    Args:
        X: the validation inputs, ``(n, ...)`` (the rows any member holds out).
        y: their prepared targets (as the loss's ``prepare_targets`` gives them).
        weights: ``(n, K)``: member ``k``'s weight on each row, 0 for rows it trains on.
        loss: the members' base loss (``EachMember``'s ``base``).
        patience: epochs without improvement before a member is done.
        min_delta: how far a member's loss must fall below its last counted best for the
            epoch to count as an improvement (as EarlyStopping's); its weights are kept at its
            lowest loss all the same, counted or not.

    Attributes (after training): ``best_epochs``, each member's best epoch (0-based), and
    ``best``, their validation losses there.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        loss: Any,
        patience: int,
        min_delta: float = 0.0,
    ) -> None:
        self.X, self.y = X, y
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.ndim != 2 or len(self.weights) != len(X):
            raise ValueError(
                f"weights must have shape ({len(X)}, members); received {self.weights.shape}."
            )
        self.loss, self.patience = loss, check_int("patience", patience, 1)
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.members = self.weights.shape[1]
        self._each = EachMember(loss, self.members)  # each member's loss on its own rows
        self.best_epochs: list[int | None] = [None] * self.members
        self.best = [math.inf] * self.members
        self.saved: list[list[dict[str, np.ndarray]] | None] = [None] * self.members

    def _packed(self) -> list[Any]:
        found = [layer for layer in self.model.layers if getattr(layer, "members", None)]
        if any(layer.members != self.members for layer in found) or not found:
            raise ValueError(
                f"EarlyStoppingEachMember needs a model of packed layers with {self.members} "
                "members (the weights' columns)."
            )
        return found

    def on_train_begin(self, logs):
        self.layers = self._packed()
        self.wait = [0] * self.members
        self.best = [math.inf] * self.members
        self.counted = [math.inf] * self.members  # the loss an improvement must fall below
        self.best_epochs = [None] * self.members
        self.saved = [None] * self.members

    def provided_logs(self) -> set[str]:
        return {"val_loss", "val_data_loss"}

    def member_losses(self) -> tuple[np.ndarray, np.ndarray]:
        """Each member's validation loss on its own rows, and its weight penalty."""
        output = self.model.forward_in_batches(self.X)  # (n, K, outputs)
        data = self._each.each(output, self.y, self.weights)
        penalty = np.zeros(self.members)
        for layer in self.layers:
            if layer.has_penalty:
                W = layer.params["W"].reshape(self.members, 1, -1)
                penalty += layer.l2 * np.matmul(W, W.transpose(0, 2, 1)).ravel()
        return data, penalty

    def on_epoch_logs(self, epoch, logs):
        data, penalty = self.member_losses()
        logs["val_loss"], logs["val_data_loss"] = float((data + penalty).sum()), float(data.sum())
        for k, value in enumerate(data):
            if self.wait[k] >= self.patience:
                continue  # done: its best is kept
            if value < self.best[k]:
                self.best[k], self.best_epochs[k] = float(value), epoch
                self.saved[k] = [
                    {name: array[k].copy() for name, array in layer.params.items()}
                    for layer in self.layers
                ]
            if value < self.counted[k]:
                self.counted[k], self.wait[k] = float(value) - self.min_delta, 0
            else:
                self.wait[k] += 1
        if all(w >= self.patience for w in self.wait):
            self.model.stop_training = True

    def on_train_end(self, logs):
        for k, saved in enumerate(self.saved):
            if saved is None:
                continue
            for layer, arrays in zip(self.layers, saved, strict=True):
                for name, value in arrays.items():
                    layer.params[name][k] = value


class ModelCheckpoint(Callback):
    """Save the model (with optimizer, schedule and training position) after epochs.

    Args:
        path: the file to write; may contain ``{epoch}`` (1-based) and any log name, e.g.
            ``"ckpt-{epoch:03d}-{val_loss:.3f}.npz"``. Each save is atomic.
        monitor: the log compared when ``save_best_only`` ("val_loss").
        save_best_only: save only when ``monitor`` improves on the best so far.
        mode: "min", "max" or "auto", as for EarlyStopping.
        include_optimizer: store the optimizer and schedule state (for exact resumption).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        include_optimizer: bool = True,
    ) -> None:
        self.path = _writable_path("path", path)
        try:  # the log names in the path's {fields}, checked against fit's logs up front
            self._fields = {
                field.split(".")[0].split("[")[0]
                for _, field, _, _ in string.Formatter().parse(self.path)
                if field is not None
            }
        except ValueError as error:
            raise ValueError(
                f"path is not a valid format string ({error}): {self.path!r}"
            ) from None
        if "" in self._fields:
            raise ValueError(
                f"path may only use named fields such as {{epoch}} or {{val_loss}}; received "
                f"{self.path!r}."
            )
        self.mode = _mode_for(monitor, mode)
        self.monitor = monitor
        self.save_best_only = check_bool("save_best_only", save_best_only)
        self.include_optimizer = check_bool("include_optimizer", include_optimizer)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def required_logs(self) -> set[str]:
        needed = self._fields - {"epoch"}
        return needed | {self.monitor} if self.save_best_only else needed

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        path = self.path.format(epoch=epoch + 1, **logs)
        self.model.save(path, include_optimizer=self.include_optimizer)
        self.saved.append(path)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of every epoch.

    Args:
        schedule: a function ``(epoch, lr) -> new_lr`` (Keras's form), or a
            :class:`~scratchnn.schedules.Schedule`, whose rate for the epoch is used.
    """

    def __init__(self, schedule: Callable[[int, float], float] | Schedule) -> None:
        if not hasattr(schedule, "lr_at"):
            check_callable("schedule", schedule)
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs):
        optimizer = self.model.optimizer
        if hasattr(self.schedule, "lr_at"):
            if not self.schedule.started:
                self.schedule.start(optimizer)
            optimizer.lr = self.schedule.lr_at(epoch)
        else:
            lr = float(self.schedule(epoch, optimizer.lr))
            if not (math.isfinite(lr) and lr >= 0):
                raise ValueError(f"The schedule returned lr={lr!r} for epoch {epoch}.")
            optimizer.lr = lr


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file (``epoch`` first).

    Args:
        path: the CSV file.
        append: add to an existing file instead of replacing it.
    """

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = _writable_path("path", path)
        self.append = check_bool("append", append)
        self._file = None

    def on_train_begin(self, logs):
        exists = self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._file = open(self.path, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._writer = None
        self._header_written = exists

    def on_epoch_end(self, epoch, logs):
        if self._writer is None:
            import csv

            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *logs])
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **logs})
        self._file.flush()

    def on_train_end(self, logs):
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """End training quietly, instead of with an error, when the loss (or the gradient) becomes
    NaN or infinite.

    Either way the model keeps its last finite weights; with this callback ``fit`` returns
    the history so far rather than raising :class:`~scratchnn.errors.TrainingDivergedError`.
    """

    def on_batch_end(self, batch, logs):
        if not all(math.isfinite(value) for value in logs.values()):
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, logs:
    print(e, logs["loss"]))``. Each argument has the signature of the method it names.

    A function given as ``on_epoch_logs`` may add a value to the epoch's logs, which the
    History, the schedule and every ``on_epoch_end`` then see; name it in ``provides`` to
    make it a monitor ``fit`` accepts (``EarlyStopping(monitor=...)``)."""

    def __init__(
        self,
        on_train_begin: Callable[..., Any] | None = None,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_batch_end: Callable[..., Any] | None = None,
        on_epoch_logs: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        provides: Iterable[str] = (),
    ) -> None:
        for name, function in {
            "on_train_begin": on_train_begin,
            "on_epoch_begin": on_epoch_begin,
            "on_batch_end": on_batch_end,
            "on_epoch_logs": on_epoch_logs,
            "on_epoch_end": on_epoch_end,
            "on_train_end": on_train_end,
        }.items():
            if function is not None:
                setattr(self, name, check_callable(name, function))
        if isinstance(provides, str):
            raise TypeError(f"provides takes a list of log names; received {provides!r}.")
        self._provides = {str(name) for name in provides}

    def provided_logs(self) -> set[str]:
        return set(self._provides)


def _format_logs(logs: dict[str, float]) -> str:
    return " - ".join(
        f"{key}: {value:.4g}" if key == "lr" else f"{key}: {value:.4f}"
        for key, value in logs.items()
    )


class ProgressBar(Callback):
    """A tqdm progress bar per epoch with the running loss, and the epoch's logs at its end.
    Added by ``fit(verbose=1)``; needs tqdm (``pip install scratchnn[progress]``)."""

    def __init__(self, epochs: int, steps: int, file: Any = None) -> None:
        from tqdm.auto import tqdm  # the terminal's bar (NotebookProgressBar has the notebook's)

        self._tqdm, self.epochs, self.steps = tqdm, epochs, steps
        self.file = file or sys.stdout
        self._bar = None

    def on_train_begin(self, logs):
        self._first_epoch = None

    def on_epoch_begin(self, epoch, logs):
        if self._first_epoch is None:
            self._first_epoch = epoch
        position = epoch - self._first_epoch + 1
        self._bar = self._tqdm(
            total=self.steps,
            desc=f"Epoch {position}/{self.epochs}",
            unit="batch",
            file=self.file,
            leave=True,
            dynamic_ncols=True,
        )
        self._loss_sum = 0.0

    def on_batch_end(self, batch, logs):
        self._loss_sum += logs["loss"]
        self._bar.update(1)
        if batch % 10 == 0 or batch + 1 == self.steps:
            self._bar.set_postfix_str(f"loss: {self._loss_sum / (batch + 1):.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs):
        self._bar.set_postfix_str(_format_logs(logs))
        self._bar.close()

    def on_train_end(self, logs):
        if self._bar is not None:
            self._bar.close()


class EpochPrinter(Callback):
    """One line per epoch: ``Epoch 3/10 - loss: 0.1234 - accuracy: 0.9612``."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_begin(self, logs):
        self._count = 0

    def on_epoch_end(self, epoch, logs):
        self._count += 1
        print(f"Epoch {self._count}/{self.epochs} - {_format_logs(logs)}", flush=True)


class NotebookProgressBar(Callback):
    """tqdm's notebook bars (widgets, updated in place): one over the epochs, whose label
    holds the last epoch's logs, and one over the current epoch's batches with the running
    loss, reset every epoch and removed at the end. ``fit`` uses it instead of
    :class:`ProgressBar` in a Jupyter kernel; needs tqdm and ipywidgets
    (``pip install 'scratchnn[jupyter]'``)."""

    def __init__(self, epochs: int, steps: int) -> None:
        from tqdm.notebook import tqdm

        self._tqdm, self.epochs, self.steps = tqdm, epochs, steps
        self._epochs_bar = self._batches_bar = None

    def on_train_begin(self, logs):
        self._position = 0
        self._epochs_bar = self._tqdm(total=self.epochs, desc="Training", unit="epoch")
        self._batches_bar = self._tqdm(total=self.steps, unit="batch", leave=False)

    def on_epoch_begin(self, epoch, logs):
        self._position += 1
        self._batches_bar.reset(total=self.steps)
        self._batches_bar.set_description(f"Epoch {self._position}/{self.epochs}")
        self._loss_sum = 0.0

    def on_batch_end(self, batch, logs):
        self._loss_sum += logs["loss"]
        self._batches_bar.update(1)
        if batch % 10 == 0 or batch + 1 == self.steps:
            self._batches_bar.set_postfix_str(
                f"loss: {self._loss_sum / (batch + 1):.4f}", refresh=False
            )

    def on_epoch_end(self, epoch, logs):
        self._epochs_bar.set_postfix_str(_format_logs(logs), refresh=False)
        self._epochs_bar.update(1)

    def on_train_end(self, logs):
        for bar in (self._batches_bar, self._epochs_bar):
            if bar is not None:
                bar.close()
        self._epochs_bar = self._batches_bar = None


class LivePlot(Callback):
    """The loss and metric curves, redrawn after epochs while ``fit`` runs: in a notebook, in
    the cell's output (one figure replaced in place, no flicker); with ``path``, also into
    that PNG file, anywhere. ``fit(verbose="plot")`` adds one with the defaults.

    A frame costs a tenth of a second or more, so frames are throttled: at most one per
    ``min_interval`` seconds, and never sooner than four times the last frame's drawing time
    after it, so that drawing takes at most about a fifth of the training time (the first
    epoch and the last are always drawn). ``min_interval=0`` draws every epoch. Outside a
    notebook and without ``path`` it draws nothing. Needs matplotlib
    (``pip install 'scratchnn[plot]'``).

    Args:
        metrics: the logs to draw, one panel each with its ``val_`` line (default: the loss
            and every metric fit logs).
        min_interval: seconds between two frames, at least (0: a frame every epoch).
        path: a PNG file rewritten with every frame (e.g. to watch from a terminal).
        log_scale: a logarithmic loss axis.

    Example::

        model.fit(X, y, epochs=50, callbacks=[snn.callbacks.LivePlot(min_interval=0.5)])
    """

    def __init__(
        self,
        metrics: Sequence[str] | None = None,
        min_interval: float = 1.0,
        path: str | os.PathLike | None = None,
        log_scale: bool = False,
    ) -> None:
        if metrics is not None:
            if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics):
                raise TypeError(
                    f"metrics must be a list of log names (str). Received: metrics={metrics!r}."
                )
            if not metrics:
                raise ValueError("metrics must name at least one log, e.g. ['loss'].")
        self._required = set(metrics or ())
        # One panel per name, its validation line included: "val_loss" draws the loss panel.
        self.metrics = (
            None
            if metrics is None
            else list(dict.fromkeys(m.removeprefix("val_") for m in metrics))
        )
        self.min_interval = check_number("min_interval", min_interval, 0)
        self.path = None if path is None else _writable_path("path", path)
        self.log_scale = check_bool("log_scale", log_scale)
        self.curves = None
        try:  # refused now, not after the first epoch of training
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError("LivePlot needs matplotlib: pip install 'scratchnn[plot]'") from None

    def required_logs(self) -> set[str]:
        return self._required

    def on_train_begin(self, logs):
        import time

        from .notebook import LiveCurves

        self._clock = time.monotonic
        self._next = -math.inf  # when the next frame may be drawn
        self._stale = False
        self._epochs: list[int] = []
        self._series: dict[str, list[float]] = {}
        self._LiveCurves = LiveCurves
        self.curves = None

    def on_epoch_end(self, epoch, logs):
        self._epochs.append(epoch + 1)
        for key, value in logs.items():
            self._series.setdefault(key, []).append(float(value))
        if self.curves is None:
            names = self.metrics or [
                key for key in logs if key != "lr" and not key.startswith("val_")
            ]
            self.curves = self._LiveCurves(names, path=self.path, log_scale=self.log_scale)
        self._stale = True
        if self._clock() >= self._next:
            self._draw()

    def _draw(self) -> None:
        last = {key: values[-1] for key, values in self._series.items() if key != "lr"}
        title = f"epoch {self._epochs[-1]}: {_format_logs(last)}"
        start = self._clock()
        self.curves.draw(self._epochs, self._series, title)
        end = self._clock()
        self._next, self._stale = end + self.wait_after(end - start), False

    def wait_after(self, cost: float) -> float:
        """Seconds to wait after a frame that took ``cost`` seconds to draw: ``min_interval``,
        or ``4 · cost`` if longer (drawing then takes at most a fifth of the time); none for
        ``min_interval=0``."""
        return max(self.min_interval, 4 * cost) if self.min_interval else 0.0

    def on_train_end(self, logs):
        if self.curves is not None and self._stale:
            self._draw()


def progress_display(verbose: int | str, epochs: int, steps: int) -> list[Callback]:
    """The callbacks that show ``fit``'s progress, from its ``verbose`` argument.

    0 shows nothing; 1 a progress bar (tqdm's notebook bar in a Jupyter kernel, the terminal
    bar elsewhere; one line per epoch when tqdm is not installed); 2 one line per epoch;
    "auto" is 1 in a terminal or a notebook and 0 otherwise (a pipe, a log file); "plot" is
    "auto" and a :class:`LivePlot` of the loss and metrics.
    """
    allowed = (0, 1, 2, "auto", "plot")
    if not any(verbose == choice and type(verbose) is not float for choice in allowed):
        raise ValueError(f"verbose must be one of 0, 1, 2, 'auto', 'plot'; received {verbose!r}.")
    if verbose == 0:  # (a quiet fit does not import the notebook module: a few ms of a small fit)
        return []
    from .notebook import in_notebook, notebook_bar_available

    shown: list[Callback] = []
    if verbose == "plot":
        shown.append(LivePlot())
        verbose = "auto"
    notebook = in_notebook()
    if verbose == "auto":
        verbose = 1 if notebook or sys.stdout.isatty() else 0
    if verbose == 1:
        if notebook and notebook_bar_available():
            return [NotebookProgressBar(epochs, steps), *shown]
        try:
            return [ProgressBar(epochs, steps), *shown]
        except ImportError:  # tqdm is optional: fall back to one line per epoch
            verbose = 2
    if verbose == 2:
        return [EpochPrinter(epochs), *shown]
    return shown
