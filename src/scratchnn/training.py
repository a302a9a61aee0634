"""The training loop behind ``Sequential.fit``: epochs of mini-batches, callbacks, history.

Each batch is one call of :meth:`Sequential.train_step`, the classic four lines::

    out = model.forward(xb, training=True)    # forward pass
    value = loss.forward(out, yb)             # mean loss over the batch (+ L1/L2 penalties)
    model.backward(loss.backward())           # chain rule, output to input
    optimizer.step(parameters)                # W ← W − η·∇W (or the optimizer's rule)

Everything else here is bookkeeping, arranged so that nothing is ever lost:

- arguments and inputs are resolved and validated once, before the first step
  (:class:`_FitSetup`), so bad input never touches the weights;
- a step whose loss, gradient or update is NaN or infinite is not applied and stops training
  with :class:`TrainingDivergedError` naming the epoch and batch (``TerminateOnNaN`` ends
  quietly instead): the weights are always the last finite ones;
- Ctrl-C stops training at the end of the current batch: the weights are whole, the history
  holds the completed epochs, and ``fit`` returns with ``history.interrupted = True``. A second
  Ctrl-C interrupts at once.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from . import callbacks as callbacks_module
from . import diagnostics, optim, sharded
from . import losses as losses_module
from . import schedules as schedules_module
from ._validation import check_number, check_positive_int, column_names
from .batches import is_batch_source
from .errors import NotConvergedWarning, TrainingDivergedError
from .history import History, still_improving
from .preparation import (
    Model,
    evaluate_prepared,
    prepare,
    prepare_weights,
    resolve_metrics,
    with_class_weight,
)
from .streamed import StreamedData, evaluate_source

if TYPE_CHECKING:
    from .callbacks import Callback
    from .losses import Loss
    from .metrics import Metric
    from .optim import Optimizer
    from .schedules import Schedule

__all__ = [
    "evaluate",
    "evaluate_prepared",
    "fit",
    "prepare",
    "prepare_weights",
    "resolve_metrics",
    "with_class_weight",
]


def evaluate(
    model: Model,
    X: Any,
    y: Any = None,
    loss: Any = None,
    metrics: Any = None,
    sample_weight: Any = None,
) -> dict[str, float]:
    """:meth:`Sequential.evaluate`: arrays validated whole, or a source read batch by batch."""
    loss = model.loss if loss is None else losses_module.get(loss)
    if loss is None:
        raise ValueError("evaluate() needs a loss (none was used by fit yet).")
    resolved = resolve_metrics(metrics)
    if is_batch_source(X):
        if y is not None or sample_weight is not None:
            raise ValueError("evaluate() with a BatchSource takes no y or sample_weight.")
        return evaluate_source(model, X, loss, resolved)
    X, y = prepare(model, X, y, loss)
    weights = prepare_weights(sample_weight, None, y, loss, len(X))
    return evaluate_prepared(model, X, y, loss, resolved, weights)


@contextmanager
def _stop_on_interrupt() -> Iterator[dict[str, bool]]:
    """While active, the first Ctrl-C only sets ``flag["hit"]`` (the loop stops at the end of
    the batch); the previous handler is reinstated at once, so a second Ctrl-C interrupts.
    A process that ignores Ctrl-C (a worker whose parent handles it) goes on ignoring it."""
    flag = {"hit": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield flag
        return

    def handler(signum, frame):
        flag["hit"] = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _collect_only_new_objects() -> Iterator[None]:
    """While active, Python's cyclic garbage collector looks only at objects made since it
    began: those that exist then go to the collector's permanent generation
    (:func:`gc.freeze`) and come back at the end (:func:`gc.unfreeze`). A full collection
    costs time in proportion to every object it looks at, and a loop's small tuples start
    one every few thousand steps: in a process holding pandas' and scikit-learn's objects
    (a notebook, a benchmark) each took about 0.1 s, a third of a small table's whole
    training. Garbage made during the loop is collected as before. Skipped where the
    collector is off or the process froze objects of its own, which this must not thaw
    (asked before freezing, while the count is that of an empty list: counting frozen
    objects walks them, 12 ms for a benchmark's 160,000). Objects that a callback freezes
    during the loop are thawed with the rest at its end."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _check_batch_statistics(model: Model, n: int, batch: int) -> None:
    needy = [layer for layer in model.layers if layer.needs_batch_statistics]
    if needy and (batch == 1 or n % batch == 1):
        raise ValueError(
            f"{needy[0]!r} needs at least 2 samples per training batch, but {n} samples in "
            f"batches of {batch} leave a batch of 1. Choose another batch_size."
        )


class _FitSetup:
    """Everything ``fit`` needs, resolved and validated before any weight changes.

    Attributes: the loss, optimizer and schedule objects; the training arrays ``X``, ``y``
    and per-sample ``weights`` (or None); the validation arrays (or None); the batch size;
    the callbacks (with the progress display appended); the metric functions.
    """

    def __init__(self, model: Model, X: Any, y: Any, **options: Any) -> None:
        self.loss, self.optimizer, self.schedule = _resolve_objects(model, **options)
        # The learner's usual mistakes, named before training (and watchers for the end).
        watchers = diagnostics.check_fit(model, self.loss, self.optimizer, y)
        self.epochs = check_positive_int("epochs", options["epochs"])
        batch_size = options["batch_size"]
        if batch_size is not None:
            batch_size = check_positive_int("batch_size", batch_size)
        self.metrics = resolve_metrics(options["metrics"])
        self.stream = None
        if is_batch_source(X):  # read batch by batch: see scratchnn.streamed
            self.stream = StreamedData(model, X, y, self.loss, self.metrics, batch_size, options)
            self.validation, self.steps = self.stream.validation, self.stream.steps
        else:
            self._prepare_arrays(model, X, y, batch_size, options)
        self.callbacks = _check_callbacks(
            options["callbacks"], self.schedule, self.validation, self.metrics
        )
        progress = _progress_display(options["verbose"], self.epochs, self.steps)
        self.verbose = bool(progress)
        self.callbacks += progress + watchers
        batch = self.batch if self.stream is None else (batch_size or 32)
        sample = None if self.stream is not None else tuple(self.X.shape[1:])
        self.threads = sharded.plan(model, batch, options.get("threads"), sample)

    def _prepare_arrays(
        self, model: Model, X: Any, y: Any, batch_size: int | None, options: dict[str, Any]
    ) -> None:
        """In-memory data, validated whole before training: sets ``X``, ``y``, ``weights``,
        ``validation``, ``batch`` and ``steps``."""
        X, y = prepare(model, X, y, self.loss)
        sample_weight = options["sample_weight"]
        if sample_weight is not None:
            sample_weight = prepare_weights(sample_weight, None, y, self.loss, len(X))
        (X, y, sample_weight), self.validation = _split_validation(
            model,
            self.loss,
            X,
            y,
            sample_weight,
            options["validation_data"],
            options["validation_split"],
        )
        # Class weights shape the training loss only (as in Keras), counted on the training part.
        self.weights = with_class_weight(
            sample_weight,
            options["class_weight"],
            y,
            self.loss,
            len(X),
            n_classes=max(model.out_features, 2),
        )
        self.X, self.y = X, y
        self.batch = len(X) if batch_size is None else min(batch_size, len(X))
        _check_batch_statistics(model, len(X), self.batch)
        self.steps = -(-len(X) // self.batch)

    def epoch_parts(self, model: Model, shuffle: bool) -> tuple[Any, Any]:
        """The source of each epoch's batches, and the running log of its loss and metrics."""
        if self.stream is not None:
            return self.stream.batches(shuffle), self.stream.epoch_log()
        batches = _Batches(self.X, self.y, self.weights, self.batch, shuffle)
        return batches, _EpochLog(len(self.X), model, self.metrics)


def _resolve_objects(
    model: Model, *, loss: Any, optimizer: Any, schedule: Any, **_: Any
) -> tuple[Loss, Optimizer, Schedule | None]:
    """The loss, optimizer and schedule: given ones by name or object, else the model's own."""
    loss = model.loss if loss is None else losses_module.get(loss)
    optimizer = model.optimizer if optimizer is None else optim.get(optimizer)
    schedule = model.schedule if schedule is None else schedules_module.get(schedule)
    if schedule is not None and schedule is model.schedule and optimizer is not model.optimizer:
        # A remembered schedule restarts on a new optimizer, from that optimizer's rate.
        schedule = schedules_module.get(
            {"class_name": type(schedule).__name__, "config": schedule.get_config()}
        )
    if loss is None or optimizer is None:
        missing = "a loss" if loss is None else "an optimizer"
        raise ValueError(
            f"fit() needs {missing} the first time, e.g. "
            "model.fit(X, y, loss='cross_entropy', optimizer='adam')."
        )
    return loss, optimizer, schedule


def _split_validation(
    model: Model,
    loss: Loss,
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    validation_data: tuple[Any, ...] | None,
    validation_split: float,
) -> tuple[tuple[Any, Any, Any], tuple[Any, Any, Any] | None]:
    """``((X, y, weights) to train on, (X_val, y_val, w_val) or None)``."""
    validation_split = check_number("validation_split", validation_split, 0, 1, high_open=True)
    if validation_split:
        if validation_data is not None:
            raise ValueError("Pass validation_data or validation_split, not both.")
        n_val = int(len(X) * validation_split)
        if n_val < 1 or n_val >= len(X):
            raise ValueError(
                f"validation_split={validation_split} of {len(X)} samples leaves no samples "
                "for validation or for training."
            )
        # As Keras: the last samples, before any shuffling, are held out.
        w_train = w_val = None
        if weights is not None:
            w_train, w_val = weights[:-n_val], weights[-n_val:]
        return (X[:-n_val], y[:-n_val], w_train), (X[-n_val:], y[-n_val:], w_val)
    if validation_data is None:
        return (X, y, weights), None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be (X_val, y_val) or (X_val, y_val, weights).")
    X_val, y_val = prepare(model, validation_data[0], validation_data[1], loss)
    w_val = None
    if len(validation_data) == 3:
        w_val = prepare_weights(validation_data[2], None, y_val, loss, len(X_val))
    return (X, y, weights), (X_val, y_val, w_val)


def _check_callbacks(
    callbacks: Sequence[Callback] | None,
    schedule: Schedule | None,
    validation: Any,
    metrics: list[tuple[str, Metric]],
) -> list[Callback]:
    """The callbacks, refused now (not after an epoch) if one is not a Callback or needs a log
    that this fit will not write."""
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of Callback objects; received {callbacks!r}.")
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, callbacks_module.Callback):
            raise TypeError(f"callbacks must be Callback instances; received {callback!r}.")
    names = ["loss", *(name for name, _ in metrics)]
    logs = {*names, "lr", *(f"val_{name}" for name in names if validation is not None)}
    for callback in callbacks:
        logs |= callback.provided_logs()
    # A callback of the user's own may add logs (the logs dict is shared, as in Keras), so an
    # unknown name is refused only when every callback is one of ours.
    ours = all(type(c).__module__ == callbacks_module.__name__ for c in callbacks)
    for watcher in [*callbacks, schedule]:
        for needed in sorted(getattr(watcher, "required_logs", set)()):
            if needed in logs:
                continue
            if needed.startswith("val_") and validation is None:
                raise ValueError(
                    f"{type(watcher).__name__} monitors {needed!r}, but fit has no "
                    "validation data. Pass validation_data or validation_split, or monitor "
                    f"{needed.removeprefix('val_')!r}."
                )
            if not ours:
                continue
            raise ValueError(
                f"{type(watcher).__name__} monitors {needed!r}, which is not in the logs this "
                f"fit writes: {', '.join(sorted(logs))} (add metrics=[...] for more)."
            )
    return callbacks


def _progress_display(verbose: int | str, epochs: int, steps: int) -> list[Callback]:
    """The callbacks that show progress: a tqdm bar (1; the notebook's bar in a Jupyter
    kernel), a line per epoch (2), none (0), or also a live plot ("plot"); see
    :func:`scratchnn.callbacks.progress_display`."""
    return callbacks_module.progress_display(verbose, epochs, steps)


class _Batches:
    """The mini-batches of one epoch, in the seeded shuffled order (or in order).

    Shuffled rows (and their weights) are gathered into preallocated buffers, reused every
    batch."""

    def __init__(
        self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None, batch: int, shuffle: bool
    ) -> None:
        self.X, self.y, self.weights, self.batch = X, y, weights, batch
        self.shuffle = shuffle and batch < len(X)  # a full batch's mean gradient ignores order
        if self.shuffle:
            self.X_buffer = np.empty((batch, *X.shape[1:]), dtype=X.dtype)
            self.y_buffer = np.empty((batch, *y.shape[1:]), dtype=y.dtype)
            if weights is not None:
                self.w_buffer = np.empty((batch, *weights.shape[1:]), dtype=weights.dtype)
        self.order: np.ndarray | None = None

    def epoch(self, rng: np.random.Generator) -> Iterator[tuple[int, int, Any, Any, Any]]:
        """Yields ``(start, stop, x, y, weights)`` for each batch; ``order`` is this epoch's."""
        n = len(self.X)
        self.order = rng.permutation(n) if self.shuffle else None
        weights = self.weights
        for start in range(0, n, self.batch):
            stop = min(start + self.batch, n)
            wb = None
            if self.order is None:
                rows: Any = slice(start, stop)
                # (the arrays themselves for a full batch: two views fewer per epoch)
                xb, yb = (self.X, self.y) if stop - start == n else (self.X[rows], self.y[rows])
                if weights is not None:
                    wb = weights if stop - start == n else weights[rows]
            else:
                rows, size = self.order[start:stop], stop - start
                xb = np.take(self.X, rows, axis=0, out=self.X_buffer[:size], mode="clip")
                yb = np.take(self.y, rows, axis=0, out=self.y_buffer[:size], mode="clip")
                if weights is not None:
                    wb = np.take(weights, rows, axis=0, out=self.w_buffer[:size], mode="clip")
            yield start, stop, xb, yb, wb

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The indices into ``X`` of this epoch's samples ``start:stop``."""
        return np.arange(start, stop) if self.order is None else self.order[start:stop]

    def targets_seen(self, done: int) -> np.ndarray:
        """The targets of the first ``done`` samples of this epoch, in training order."""
        return self.y[:done] if self.order is None else self.y[self.order[:done]]

    def complete(self, done: int) -> bool:
        """Whether ``done`` samples are the whole epoch."""
        return done >= len(self.X)


class _EpochLog:
    """Running sums for one epoch's logs: the weighted mean loss and the outputs for metrics."""

    def __init__(self, n: int, model: Model, metrics: list[tuple[str, Metric]]) -> None:
        self.metrics, self.n, self.dtype = metrics, n, model.dtype
        self.outputs: np.ndarray | None = None  # allocated at the first batch, of its shape
        self.reset()

    def reset(self) -> None:
        self.loss_sum = self.weight_sum = 0.0
        self.done = 0  # samples trained on so far in this epoch

    def add(
        self,
        start: int,
        stop: int,
        loss: float,
        output: np.ndarray,
        weights: np.ndarray | None,
        targets: Any,
    ) -> None:
        """Count one batch. ``targets`` are not needed: ``logs`` gets the epoch's at the end."""
        if self.metrics and output is not None:
            if self.outputs is None:
                self.outputs = np.empty((self.n, *output.shape[1:]), dtype=self.dtype)
            self.outputs[start:stop] = output
        counted = (stop - start) if weights is None else float(weights.sum())
        self.loss_sum += loss * counted
        self.weight_sum += counted
        self.done = stop

    def logs(self, loss: Loss, seen: np.ndarray) -> dict[str, float]:
        logs = {"loss": self.loss_sum / self.weight_sum if self.weight_sum else 0.0}
        if self.outputs is not None and self.done:
            # Over the samples this epoch trained on: all of them, unless a callback stopped
            # training part-way.
            prediction = loss.output_transform(self.outputs[: self.done])
            for name, metric in self.metrics:
                logs[name] = metric(prediction, seen)
        return logs


def _validation_logs(model: Model, setup: _FitSetup) -> dict[str, float]:
    """Loss and metrics on the validation data: arrays, or a source read batch by batch."""
    if is_batch_source(setup.validation):
        return evaluate_source(model, setup.validation, setup.loss, setup.metrics)
    X_val, y_val, w_val = setup.validation
    return evaluate_prepared(model, X_val, y_val, setup.loss, setup.metrics, w_val)


_EVENTS = (
    "on_train_begin",
    "on_epoch_begin",
    "on_batch_end",
    "on_epoch_logs",
    "on_epoch_end",
    "on_train_end",
)


def _hooks(callbacks: list[Callback], event: str) -> list[Callable[..., None]]:
    """The callbacks' ``event`` methods, leaving out those that are the base class's (which
    do nothing): a full-batch fit of XOR calls every event once per step, thousands of times."""
    base = getattr(callbacks_module.Callback, event)
    methods = [getattr(callback, event) for callback in callbacks]
    return [method for method in methods if getattr(method, "__func__", None) is not base]


#: Makes the step of a custom loop: ``make_step(model, setup, batches)`` returns
#: ``step(start, stop, x, y, w) -> TrainStep``, called for every batch instead of
#: ``model.train_step`` (the data-parallel step, which sends the batch's rows to workers).
StepFactory = Callable[[Model, "_FitSetup", Any], Callable[..., Any]]


def fit(
    model: Model, X: Any, y: Any, *, step: StepFactory | None = None, **options: Any
) -> History:
    """Train ``model``; see :meth:`Sequential.fit` for the options.

    The loop, with :meth:`Sequential.train_step` doing the work of each batch::

        for epoch in range(epochs):
            for x, y in batches:
                model.train_step(x, y)        # forward, loss, backward, update
            logs = epoch's mean loss, metrics, validation; callbacks.on_epoch_logs(...); lr
            schedule.step(...); history.append(...); callbacks.on_epoch_end(...)

    ``step`` plugs in another way of taking a step (see :data:`StepFactory`); everything
    else (validation, schedules, callbacks, Ctrl-C, the divergence message) stays this loop's.
    """
    setup = _FitSetup(model, X, y, **options)  # everything is checked before anything changes
    model.loss, model.optimizer, model.schedule = setup.loss, setup.optimizer, setup.schedule
    names = column_names(X) if model.preprocessor is None else None
    if names and not model.metadata.get("feature_names"):
        # A DataFrame's column names: predict then matches a DataFrame's columns by name.
        model.metadata["feature_names"] = names
    model.stop_training = False
    callbacks = setup.callbacks
    for callback in callbacks:
        callback.set_model(model)
    if setup.schedule is not None:
        setup.schedule.start(setup.optimizer)
    batches, epoch_log = setup.epoch_parts(model, options["shuffle"])
    custom_step = None if step is None else step(model, setup, batches)
    threads = sharded.Plan(1, "a custom step", 1) if step is not None else setup.threads
    model.metadata["threads"] = threads.threads
    if setup.verbose and (threads.threads > 1 or (threads.asked or 1) > 1):
        print(f"Training {threads.describe()}")
    shards = sharded.Shards(model, threads.threads) if threads.threads > 1 else nullcontext()
    # model.history becomes this fit's once it has an epoch: an earlier fit's history is
    # never replaced by an empty one (a fit stopped in its first epoch).
    history = History()
    history.threads = threads

    loss, optimizer, schedule = setup.loss, setup.optimizer, setup.schedule
    validation, metrics = setup.validation, setup.metrics
    # Each event's methods, looked up once: a full-batch fit of XOR has an epoch per step.
    train_begin, epoch_begin, batch_end, epoch_logs, epoch_end, train_end = (
        _hooks(callbacks, event) for event in _EVENTS
    )

    def notify(hooks: list[Callable[..., None]], *args: Any) -> None:
        for hook in hooks:
            hook(*args)

    with _stop_on_interrupt() as interrupt, shards, _collect_only_new_objects():
        try:
            notify(train_begin, {})
            for _ in range(setup.epochs):
                epoch = model.epochs_trained
                notify(epoch_begin, epoch, {})
                epoch_log.reset()
                for b, (start, stop, xb, yb, wb) in enumerate(batches.epoch(model.rngs.shuffle)):
                    try:
                        if custom_step is None:
                            step = model.train_step(xb, yb, wb)
                        else:
                            step = custom_step(start, stop, xb, yb, wb)
                    except TrainingDivergedError as error:
                        notify(batch_end, b, error.logs)
                        if not model.stop_training:  # TerminateOnNaN stops quietly instead
                            raise TrainingDivergedError(
                                f"Training stopped at epoch {epoch + 1}, batch {b + 1} "
                                f"(of {setup.steps or 'an unknown number'}): {error}",
                                logs=error.logs,
                            ) from None
                        history.diverged = True
                        break
                    epoch_log.add(start, stop, step.loss, step.output, wb, yb)
                    if batch_end:  # (no logs dict per batch when no callback reads it)
                        notify(batch_end, b, {"loss": step.loss})
                    if interrupt["hit"] or model.stop_training:
                        break
                if history.diverged or (interrupt["hit"] and not batches.complete(epoch_log.done)):
                    history.interrupted = interrupt["hit"]
                    break  # a partial epoch is not recorded
                seen = batches.targets_seen(epoch_log.done) if metrics else None
                logs = epoch_log.logs(loss, seen)
                if validation is not None:
                    with shards.outside() if threads.threads > 1 else nullcontext():
                        val_logs = _validation_logs(model, setup)
                    logs.update({f"val_{key}": value for key, value in val_logs.items()})
                notify(epoch_logs, epoch, logs)
                logs["lr"] = optimizer.lr
                if schedule is not None:
                    schedule.step(optimizer, logs)
                model.epochs_trained += 1
                history.append(epoch, logs)
                model.history = history  # (callbacks read it)
                notify(epoch_end, epoch, logs)
                if model.stop_training or interrupt["hit"]:
                    history.interrupted = interrupt["hit"]
                    break
        except BaseException as error:  # an exception in a callback, a source, a worker, ...
            if not isinstance(error, TrainingDivergedError) and hasattr(error, "add_note"):
                error.add_note(
                    f"scratchnn: fit stopped during epoch {model.epochs_trained + 1}, after "
                    f"{epoch_log.done} of its samples: the model keeps the weights of its last "
                    f"completed batch; epochs_trained ({model.epochs_trained}) and the history "
                    "count complete epochs only."
                )
            raise
        finally:
            if len(history) or model.history is None:
                model.history = history
            notify(train_end, {})
    if history.interrupted:
        print(
            f"Training interrupted after {len(history)} complete epoch(s); the model keeps the "
            "weights of the last complete batch.",
            file=sys.stderr,
        )
    elif not (history.diverged or model.stop_training):
        _warn_if_not_converged(history, setup.epochs, callbacks)
    return history


def _warn_if_not_converged(history: History, epochs: int, callbacks: list[Callback]) -> None:
    """A :class:`NotConvergedWarning` when an ``EarlyStopping`` was to end training but all
    ``epochs`` ran out first, its value still improving
    (:func:`scratchnn.history.still_improving`). A fit without one trains for the epochs it
    was given, as the user asked."""
    for callback in callbacks:
        if not isinstance(callback, callbacks_module.EarlyStopping):
            continue
        monitor = callback.monitor
        improving = still_improving(history, epochs, monitor, callback.mode == "max")
        if improving is None:
            continue
        warnings.warn(
            f"fit used all its {epochs} epochs before EarlyStopping(monitor={monitor!r}) "
            f"stopped it, with the {improving}: the model has probably not converged. Train "
            f"longer (epochs={2 * epochs}; EarlyStopping still ends it once {monitor} levels "
            "off). To silence this: warnings.simplefilter('ignore', "
            "scratchnn.NotConvergedWarning).",
            NotConvergedWarning,
            stacklevel=4,  # the user's model.fit(...) line
        )
        return
