"""The training loop behind ``Sequential.fit``: mini-batches, epochs, and their history.

One step is the classic four lines::

    out = model.forward(xb, training=True)    # forward pass
    value = loss.forward(out, yb)             # mean loss over the batch
    model.backward(loss.backward())           # chain rule, output to input
    optimizer.step(parameters)                # W ← W − η·∇W (or the optimizer's rule)

Everything else here is bookkeeping: inputs are validated once, before the first step (so bad
input never touches the weights), batches are gathered into one reused buffer, and the
per-epoch averages go into a :class:`History`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import losses as losses_module
from . import metrics as metrics_module
from . import optim
from ._validation import check_features, check_lengths, check_positive_int

if TYPE_CHECKING:
    from .losses import Loss
    from .metrics import Metric
    from .model import Sequential
    from .optim import Optimizer

#: Rows per forward pass in predict/evaluate: bounds memory, and is large enough for BLAS.
PREDICT_BATCH = 4096


class History:
    """Per-epoch logs of ``fit``: ``history["loss"]``, ``history["val_loss"]``,
    ``history["accuracy"]``, ... each a list with one float per epoch."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

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

    def __repr__(self) -> str:
        last = ", ".join(f"{key}={values[-1]:.4g}" for key, values in self.history.items())
        return f"History({len(self)} epochs; last: {last})"


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


def evaluate_prepared(
    model: Sequential, X: np.ndarray, y: np.ndarray, loss: Loss, metrics: list[tuple[str, Metric]]
) -> dict[str, float]:
    """Loss and metrics of ``model`` on already-validated data."""
    out = model._predict_prepared(X)
    logs = {"loss": loss.forward(out, y)}
    if metrics:
        prediction = loss.output_transform(out)
        for name, metric in metrics:
            logs[name] = metric(prediction, y)
    return logs


def fit(
    model: Sequential,
    X: Any,
    y: Any,
    loss: Loss | str | None,
    optimizer: Optimizer | str | None,
    epochs: int,
    batch_size: int | None,
    shuffle: bool,
    validation_data: tuple[Any, Any] | None,
    metrics: Sequence[Any] | str | None,
    verbose: int | str,
) -> History:
    """Train ``model``; see :meth:`Sequential.fit` for the arguments."""
    loss = model.loss if loss is None else losses_module.get(loss)
    optimizer = model.optimizer if optimizer is None else optim.get(optimizer)
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
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val).")
        X_val, y_val = prepare(model, *validation_data, loss)
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 0

    model.loss, model.optimizer = loss, optimizer
    n = len(X)
    batch = n if batch_size is None else min(batch_size, n)
    reorder = shuffle and batch < n  # a full batch's mean gradient does not depend on order
    if reorder:
        X_buffer = np.empty((batch, *X.shape[1:]), dtype=X.dtype)
        y_buffer = np.empty((batch, *y.shape[1:]), dtype=y.dtype)
    parameters = model.parameters()
    history = History()
    model.history = history
    for epoch in range(epochs):
        order = model.rngs.shuffle.permutation(n) if reorder else None
        loss_sum = 0.0
        metric_sums = [0.0] * len(metric_fns)
        for start in range(0, n, batch):
            if order is None:
                xb, yb = X[start : start + batch], y[start : start + batch]
            else:
                rows = order[start : start + batch]
                xb = np.take(X, rows, axis=0, out=X_buffer[: len(rows)], mode="clip")
                yb = np.take(y, rows, axis=0, out=y_buffer[: len(rows)], mode="clip")
            out = model.forward(xb, training=True)
            loss_sum += loss.forward(out, yb) * len(xb)
            model.backward(loss.backward())
            optimizer.step(parameters)
            if metric_fns:
                prediction = loss.output_transform(out)
                for i, (_, metric) in enumerate(metric_fns):
                    metric_sums[i] += metric(prediction, yb) * len(xb)
        logs = {"loss": loss_sum / n}
        for (name, _), total in zip(metric_fns, metric_sums, strict=True):
            logs[name] = total / n
        if validation_data is not None:
            val_logs = evaluate_prepared(model, X_val, y_val, loss, metric_fns)
            logs.update({f"val_{key}": value for key, value in val_logs.items()})
        history.append(epoch, logs)
        if verbose:
            values = " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {values}", flush=True)
    return history
