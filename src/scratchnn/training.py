"""The training loop behind ``Sequential.fit``: mini-batches, epochs, callbacks, history.

One step is the classic four lines::

    out = model.forward(xb, training=True)    # forward pass
    value = loss.forward(out, yb)             # mean loss over the batch
    model.backward(loss.backward())           # chain rule, output to input
    optimizer.step(parameters)                # W ← W − η·∇W (or the optimizer's rule)

Everything else here is bookkeeping, arranged so that nothing is ever lost:

- inputs are validated once, before the first step, so bad input never touches the weights;
- a NaN or infinite loss stops training with :class:`TrainingDivergedError` naming the epoch
  and batch, after restoring the last finite weights (``TerminateOnNaN`` ends quietly instead);
- Ctrl-C stops training at the end of the current batch: the weights are whole, the history
  holds the completed epochs, and ``fit`` returns with ``history.interrupted = True``. A second
  Ctrl-C interrupts at once.
"""

from __future__ import annotations

import math
import numbers
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optim
from . import schedules as schedules_module
from ._validation import check_features, check_lengths, check_positive_int
from .errors import TrainingDivergedError
from .history import History

if TYPE_CHECKING:
    from .callbacks import Callback
    from .losses import Loss
    from .metrics import Metric
    from .model import Sequential
    from .optim import Optimizer
    from .schedules import Schedule

#: Rows per forward pass in predict/evaluate: bounds memory, and is large enough for BLAS.
PREDICT_BATCH = 4096


def resolve_metrics(metrics: Sequence[Any] | str | None) -> list[tuple[str, Metric]]:
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    return [metrics_module.get(metric) for metric in metrics]


def prepare(model: Sequential, X: Any, y: Any, loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(X, y)`` for ``model`` and ``loss``, returning arrays ready for the loop."""
    X = check_features(X, model.in_features, model.dtype, model.layers[0])
    y = loss.prepare_targets(y, model.out_features, model.dtype)
    check_lengths(X, y)
    return X, y


def prepare_weights(
    sample_weight: Any, class_weight: Any, y: np.ndarray, loss: Loss, n: int
) -> np.ndarray | None:
    """One weight per sample from ``sample_weight`` times ``class_weight[label]`` (or None).

    ``class_weight`` is a dict ``{class: weight}`` (missing classes weigh 1) or ``"balanced"``
    (``n / (classes · count(class))``, as scikit-learn).
    """
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (n,):
            raise ValueError(
                f"sample_weight must have one weight per sample, shape ({n},); received shape "
                f"{weights.shape}."
            )
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("sample_weight must be finite and >= 0.")
    return with_class_weight(weights, class_weight, y, loss, n)


def with_class_weight(
    weights: np.ndarray | None, class_weight: Any, y: np.ndarray, loss: Loss, n: int
) -> np.ndarray | None:
    """Already-validated per-sample ``weights`` (or None) times ``class_weight[label]``; see
    :func:`prepare_weights`. Checks that at least one weight is positive."""
    if class_weight is not None:
        if not loss.is_classification:
            raise ValueError(f"class_weight needs a classification loss; {loss!r} is not one.")
        labels = y if y.ndim == 1 else (y.argmax(axis=1) if y.shape[1] > 1 else (y[:, 0] >= 0.5))
        labels = labels.astype(np.intp)
        classes = int(labels.max()) + 1
        if isinstance(class_weight, str):
            if class_weight != "balanced":
                raise ValueError(
                    f"class_weight must be a dict or 'balanced'. Received: {class_weight!r}."
                )
            counts = np.bincount(labels, minlength=classes).astype(np.float64)
            table = np.divide(
                n, len(np.flatnonzero(counts)) * counts, out=np.zeros(classes), where=counts > 0
            )
        elif isinstance(class_weight, dict):
            table = np.ones(max(classes, max((int(k) for k in class_weight), default=0) + 1))
            for label, weight in class_weight.items():
                if not (isinstance(weight, numbers.Real) and 0 <= weight < math.inf):
                    raise ValueError(
                        f"class_weight[{label!r}] must be a number >= 0. Received: {weight!r}."
                    )
                table[int(label)] = weight
        else:
            raise ValueError(
                f"class_weight must be a dict or 'balanced'. Received: {class_weight!r}."
            )
        from_classes = table[labels]
        weights = from_classes if weights is None else weights * from_classes
    if weights is not None and weights.sum() <= 0:
        raise ValueError(
            "The sample weights are all zero (they sum to 0): at least one sample needs a "
            "positive weight."
        )
    return weights


def evaluate_prepared(
    model: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    metrics: list[tuple[str, Metric]],
    sample_weight: np.ndarray | None = None,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on already-validated data (inference mode)."""
    out = model._predict_prepared(X)
    logs = {"loss": loss.forward(out, y, sample_weight) + model.penalty()}
    if metrics:
        prediction = loss.output_transform(out)
        for name, metric in metrics:
            logs[name] = metric(prediction, y)
    return logs


@contextmanager
def _stop_on_interrupt() -> Iterator[dict[str, bool]]:
    """While active, the first Ctrl-C only sets ``flag["hit"]`` (the loop stops at the end of
    the batch); the previous handler is reinstated at once, so a second Ctrl-C interrupts."""
    flag = {"hit": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        flag["hit"] = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class _BufferSnapshot:
    """Copies of the layers' buffers (BatchNorm's running statistics) from before the current
    batch, to undo that batch's update if its loss turns out non-finite."""

    def __init__(self, model: Sequential) -> None:
        self.buffers = [b for layer in model.layers for b in layer.buffers.values()]
        self.saved = [b.copy() for b in self.buffers]

    def save(self) -> None:
        for saved, buffer in zip(self.saved, self.buffers, strict=True):
            np.copyto(saved, buffer)

    def restore(self) -> None:
        for saved, buffer in zip(self.saved, self.buffers, strict=True):
            np.copyto(buffer, saved)


def _check_batch_statistics(model: Sequential, n: int, batch: int) -> None:
    needy = [layer for layer in model.layers if layer.needs_batch_statistics]
    if needy and (batch == 1 or n % batch == 1):
        raise ValueError(
            f"{needy[0]!r} needs at least 2 samples per training batch, but {n} samples in "
            f"batches of {batch} leave a batch of 1. Choose another batch_size."
        )


def fit(
    model: Sequential,
    X: Any,
    y: Any,
    *,
    loss: Loss | str | None,
    optimizer: Optimizer | str | None,
    schedule: Schedule | str | None,
    epochs: int,
    batch_size: int | None,
    shuffle: bool,
    validation_data: tuple[Any, ...] | None,
    validation_split: float,
    metrics: Sequence[Any] | str | None,
    callbacks: Sequence[Callback] | None,
    sample_weight: Any,
    class_weight: Any,
    verbose: int | str,
) -> History:
    """Train ``model``; see :meth:`Sequential.fit` for the arguments."""
    # Everything is resolved and validated before anything changes.
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
    epochs = check_positive_int("epochs", epochs)
    if batch_size is not None:
        batch_size = check_positive_int("batch_size", batch_size)
    metric_fns = resolve_metrics(metrics)
    X, y = prepare(model, X, y, loss)
    X_val = y_val = w_val = None
    if sample_weight is not None:
        sample_weight = prepare_weights(sample_weight, None, y, loss, len(X))
    if validation_split:
        if validation_data is not None:
            raise ValueError("Pass validation_data or validation_split, not both.")
        if not 0 < validation_split < 1:
            raise ValueError(
                f"validation_split must lie in (0, 1). Received: {validation_split!r}."
            )
        n_val = int(len(X) * validation_split)
        if n_val < 1 or n_val >= len(X):
            raise ValueError(
                f"validation_split={validation_split} of {len(X)} samples leaves no samples "
                "for validation or for training."
            )
        # As Keras: the last samples, before any shuffling, are held out.
        X, X_val, y, y_val = X[:-n_val], X[-n_val:], y[:-n_val], y[-n_val:]
        if sample_weight is not None:
            sample_weight, w_val = sample_weight[:-n_val], sample_weight[-n_val:]
    elif validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be (X_val, y_val) or (X_val, y_val, weights).")
        X_val, y_val = prepare(model, validation_data[0], validation_data[1], loss)
        if len(validation_data) == 3:
            w_val = prepare_weights(validation_data[2], None, y_val, loss, len(X_val))
    # Class weights shape the training loss only (as in Keras), counted on the training part.
    weights = with_class_weight(sample_weight, class_weight, y, loss, len(X))
    n = len(X)
    batch = n if batch_size is None else min(batch_size, n)
    _check_batch_statistics(model, n, batch)
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, callbacks_module.Callback):
            raise TypeError(f"callbacks must be Callback instances; received {callback!r}.")
    if X_val is None:  # the common mistake, caught before any weight changes
        for watcher in [*callbacks, schedule]:
            for monitor in getattr(watcher, "required_logs", set)():
                if monitor.startswith("val_"):
                    raise ValueError(
                        f"{type(watcher).__name__} monitors {monitor!r}, but fit has no "
                        "validation data. Pass validation_data or validation_split, or monitor "
                        f"{monitor.removeprefix('val_')!r}."
                    )
    steps = -(-n // batch)
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 0
    if verbose == 1:
        try:
            callbacks.append(callbacks_module.ProgressBar(epochs, steps))
        except ImportError:  # tqdm is optional: fall back to one line per epoch
            verbose = 2
    if verbose == 2:
        callbacks.append(callbacks_module.EpochPrinter(epochs))

    model.loss, model.optimizer, model.schedule = loss, optimizer, schedule
    model.stop_training = False
    for callback in callbacks:
        callback.set_model(model)
    if schedule is not None:
        schedule.start(optimizer)

    reorder = shuffle and batch < n  # a full batch's mean gradient does not depend on order
    if reorder:
        X_buffer = np.empty((batch, *X.shape[1:]), dtype=X.dtype)
        y_buffer = np.empty((batch, *y.shape[1:]), dtype=y.dtype)
    outputs = np.empty((n, model.out_features), dtype=model.dtype) if metric_fns else None
    parameters = model.parameters()
    snapshot = _BufferSnapshot(model)
    flat_grad = parameters.flat.grad
    history = History()
    model.history = history

    def notify(method: str, *args: Any) -> None:
        for callback in callbacks:
            getattr(callback, method)(*args)

    with _stop_on_interrupt() as interrupt:
        try:
            notify("on_train_begin", {})
            for _ in range(epochs):
                epoch = model.epochs_trained
                notify("on_epoch_begin", epoch, {})
                order = model.rngs.shuffle.permutation(n) if reorder else None
                loss_sum = weight_sum = 0.0
                done = 0  # samples trained on so far in this epoch
                for b, start in enumerate(range(0, n, batch)):
                    stop = min(start + batch, n)
                    if order is None:
                        rows = slice(start, stop)
                        xb, yb = X[rows], y[rows]
                    else:
                        rows = order[start:stop]
                        xb = np.take(X, rows, axis=0, out=X_buffer[: stop - start], mode="clip")
                        yb = np.take(y, rows, axis=0, out=y_buffer[: stop - start], mode="clip")
                    wb = None if weights is None else weights[rows]
                    if snapshot.buffers:
                        snapshot.save()
                    out = model.forward(xb, training=True)
                    value = loss.forward(out, yb, wb)
                    value += model.penalty()
                    # Divergence is caught before the step, so the weights are never touched by a
                    # non-finite update: they stay the last finite ones. A finite gradient norm
                    # (one BLAS dot product) means every gradient entry is finite.
                    problem = "loss" if not math.isfinite(value) else None
                    if problem is None:
                        model.backward(loss.backward(), input_grad=False)
                        if not math.isfinite(float(np.dot(flat_grad, flat_grad))):
                            problem = "gradient"
                    if problem is not None:
                        snapshot.restore()
                        bad = (
                            {"loss": value}
                            if problem == "loss"
                            else {"loss": value, "gradient_norm": math.inf}
                        )
                        notify("on_batch_end", b, bad)
                        if model.stop_training:
                            history.diverged = True
                            break
                        what = value if problem == "loss" else "infinite or NaN"
                        raise TrainingDivergedError(
                            f"The {problem} became {what} at epoch {epoch + 1}, batch {b + 1} "
                            f"(of {steps}); training stopped and the model keeps its last finite "
                            "weights. Try a smaller learning rate, gradient clipping "
                            "(clip_norm=...), or scaling the input features."
                        )
                    optimizer.step(parameters)
                    if outputs is not None:
                        outputs[start:stop] = out
                    done = stop
                    counted = (stop - start) if wb is None else float(wb.sum())
                    loss_sum += value * counted
                    weight_sum += counted
                    notify("on_batch_end", b, {"loss": value})
                    if interrupt["hit"] or model.stop_training:
                        break
                if history.diverged or (interrupt["hit"] and done < n):
                    history.interrupted = interrupt["hit"]
                    break  # a partial epoch is not recorded
                logs = {"loss": loss_sum / weight_sum if weight_sum else 0.0}
                if outputs is not None and done:
                    # Metrics over the samples this epoch trained on: all of them, unless a
                    # callback stopped training part-way.
                    seen = y[:done] if order is None else y[order[:done]]
                    prediction = loss.output_transform(outputs[:done])
                    for name, metric in metric_fns:
                        logs[name] = metric(prediction, seen)
                if X_val is not None:
                    val_logs = evaluate_prepared(model, X_val, y_val, loss, metric_fns, w_val)
                    logs.update({f"val_{key}": value for key, value in val_logs.items()})
                logs["lr"] = optimizer.lr
                if schedule is not None:
                    schedule.step(optimizer, logs)
                model.epochs_trained += 1
                history.append(epoch, logs)
                notify("on_epoch_end", epoch, logs)
                if model.stop_training or interrupt["hit"]:
                    history.interrupted = interrupt["hit"]
                    break
        finally:
            notify("on_train_end", {})
    if history.interrupted:
        print(
            f"Training interrupted after {len(history)} complete epoch(s); the model keeps the "
            "weights of the last complete batch.",
            file=sys.stderr,
        )
    return history
