"""How ``fit`` and ``evaluate`` consume a :class:`~scratchnn.batches.BatchSource`.

In-memory training validates the whole data set once, before the first step. A stream cannot
be read twice for that, so each batch is validated as it arrives, *before its step*: a bad
batch raises a ``ValueError`` naming its epoch, its position and its rows, and the model keeps
the weights it had before that batch. Training metrics are accumulated batch by batch, so only
metrics that are means over samples (accuracy, top-k accuracy, MAE, MSE) are available.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from . import metrics as metrics_module
from .batches import PREDICT_BATCH, BatchSource, refused
from .preparation import Model, prepare, prepare_weights, with_class_weight

if TYPE_CHECKING:
    from .losses import Loss
    from .metrics import Metric

#: Metrics that are means over samples, so a weighted mean of per-batch values is exact.
MEAN_METRICS = (
    metrics_module.accuracy,
    metrics_module.binary_accuracy,
    metrics_module.top_k_accuracy,
    metrics_module.mae,
    metrics_module.mse,
)


def check_mean_metrics(metrics: list[tuple[str, Metric]]) -> None:
    """Refuse metrics that cannot be computed batch by batch (F1, R², ...)."""
    for name, metric in metrics:
        if metric in MEAN_METRICS or isinstance(metric, metrics_module.TopKAccuracy):
            continue
        raise ValueError(
            f"The metric {name!r} needs every prediction at once, which a streamed data set "
            "does not keep. With a BatchSource use metrics that are means over samples "
            "(accuracy, top_k_accuracy, mae, mse), or evaluate on an in-memory sample."
        )


def prepare_batch(
    model: Model, loss: Loss, x: Any, y: Any, w: Any, class_weight: dict | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One batch checked and converted as ``fit`` checks a whole array (see
    :func:`~scratchnn.preparation.prepare`), with per-sample weights times
    ``class_weight[label]``."""
    if y is None:
        raise ValueError("it has no targets; training needs (X, y) batches.")
    x, y = prepare(model, x, y, loss)
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (len(x),):
            raise ValueError(f"its sample weights have shape {w.shape}; expected ({len(x)},).")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("its sample weights must be finite and >= 0.")
    n_classes = max(model.out_features or 1, 2, *(int(label) + 1 for label in class_weight or {}))
    w = with_class_weight(w, class_weight, y, loss, len(x), n_classes, require_positive=False)
    return x, y, w


class StreamedData:
    """What ``fit`` needs from a source: its checked options, the epochs' batches and logs.

    Args:
        model, source, loss, metrics: as ``fit`` resolved them.
        y: what ``fit`` received as targets: must be None (the source holds them).
        batch_size: rows per step; None trains on the source's blocks as they come.
        options: ``fit``'s other options (validation, weights, ...), checked here.
    """

    def __init__(
        self,
        model: Model,
        source: BatchSource,
        y: Any,
        loss: Loss,
        metrics: list[tuple[str, Metric]],
        batch_size: int | None,
        options: dict[str, Any],
    ) -> None:
        for name, value, hint in (
            ("y", y, "the source's targets are used: leave y out"),
            (
                "sample_weight",
                options["sample_weight"],
                "give the weights to the source, e.g. ArraySource(X, y, w)",
            ),
        ):
            if value is not None:
                raise ValueError(f"fit() with a {type(source).__name__} takes no {name}: {hint}.")
        if options["validation_split"]:
            raise ValueError(
                "validation_split needs the whole data set in memory; with a BatchSource pass "
                "validation_data=(X_val, y_val) or another BatchSource."
            )
        class_weight = options["class_weight"]
        if class_weight is not None:
            if not isinstance(class_weight, dict):
                raise ValueError(
                    f"With a BatchSource class_weight must be a dict {{class: weight}}; received "
                    f"{class_weight!r} ('balanced' needs the counts of every class in advance)."
                )
            if not loss.is_classification:
                raise ValueError(f"class_weight needs a classification loss; {loss!r} is not one.")
            for label, weight in class_weight.items():
                if not (isinstance(weight, (int, float)) and 0 <= weight < math.inf):
                    raise ValueError(
                        f"class_weight[{label!r}] must be a number >= 0. Received: {weight!r}."
                    )
        check_mean_metrics(metrics)
        self.model, self.source, self.loss, self.metrics = model, source, loss, metrics
        self.batch, self.class_weight = batch_size, class_weight
        n = source.n_samples
        self.steps = None if n is None or batch_size is None else -(-n // batch_size)
        self.validation = self._validation(options["validation_data"])

    def _validation(self, data: Any) -> Any:
        if data is None or isinstance(data, BatchSource):
            return data
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError(
                "validation_data must be (X_val, y_val), (X_val, y_val, weights) or a BatchSource."
            )
        X_val, y_val = prepare(self.model, data[0], data[1], self.loss)
        w_val = None
        if len(data) == 3:
            w_val = prepare_weights(data[2], None, y_val, self.loss, len(X_val))
        return X_val, y_val, w_val

    def batches(self, shuffle: bool) -> StreamBatches:
        return StreamBatches(self, shuffle)

    def epoch_log(self) -> StreamEpochLog:
        return StreamEpochLog(self.metrics, self.loss)


class StreamBatches:
    """The batches of one epoch of a stream, each validated before it is handed to the step."""

    def __init__(self, data: StreamedData, shuffle: bool) -> None:
        self.data, self.shuffle = data, shuffle
        self.rows = -1

    def epoch(self, rng: np.random.Generator) -> Iterator[tuple[int, int, Any, Any, Any]]:
        """Yields ``(start, stop, x, y, weights)``: rows ``start:stop`` of this epoch."""
        data = self.data
        epoch = data.model.epochs_trained + 1
        start, self.rows = 0, -1  # rows: set once the epoch has been read to its end
        raw = data.source.batches(data.batch, rng if self.shuffle else None)
        for b, (x, y, w) in enumerate(raw, start=1):
            stop = start + len(x)
            try:
                x, y, w = prepare_batch(data.model, data.loss, x, y, w, data.class_weight)
            except (ValueError, TypeError) as error:
                problem = refused(
                    error,
                    f"Batch {b} of epoch {epoch} (rows {start}..{stop - 1} of the epoch, from "
                    f"{data.source.describe()}); the model keeps the weights it had before this "
                    "batch. The batch",
                )
                if "NaN" in str(error) or "infinit" in str(error):
                    row = data.source.first_nonfinite_row()
                    if row is not None:  # the epoch's order is shuffled: name the stored row
                        problem = type(problem)(
                            f"{problem} In the stored data, row {row} is the first with NaN or "
                            "infinity."
                        )
                raise problem from None
            yield start, stop, x, y, w
            start = stop
        self.rows = start

    def targets_seen(self, done: int) -> None:
        """Streams keep no targets: their metrics are accumulated batch by batch."""
        return None

    def complete(self, done: int) -> bool:
        """Whether ``done`` rows are the whole epoch (unknown totals: only once it ended)."""
        n = self.data.source.n_samples
        return done >= n if n is not None else self.rows == done


class StreamEpochLog:
    """Running sums for one epoch of a stream: the weighted mean loss and mean metrics."""

    def __init__(self, metrics: list[tuple[str, Metric]], loss: Loss) -> None:
        self.metrics, self.loss = metrics, loss
        self.reset()

    def reset(self) -> None:
        self.loss_sum = self.weight_sum = 0.0
        self.metric_sums = [0.0] * len(self.metrics)
        self.done = 0

    def add(
        self,
        start: int,
        stop: int,
        loss: float,
        output: np.ndarray,
        weights: np.ndarray | None,
        targets: Any,
    ) -> None:
        counted = (stop - start) if weights is None else float(weights.sum())
        self.loss_sum += loss * counted
        self.weight_sum += counted
        if self.metrics:
            prediction = self.loss.output_transform(output)
            for i, (_, metric) in enumerate(self.metrics):
                self.metric_sums[i] += metric(prediction, targets) * (stop - start)
        self.done = stop

    def logs(self, loss: Loss, seen: Any = None) -> dict[str, float]:
        logs = {"loss": self.loss_sum / self.weight_sum if self.weight_sum else 0.0}
        if self.done:
            for (name, _), total in zip(self.metrics, self.metric_sums, strict=True):
                logs[name] = total / self.done
        return logs


def evaluate(
    model: Model, source: BatchSource, loss: Any = None, metrics: Any = None
) -> dict[str, float]:
    """``{"loss": ..., metric: ...}`` over every row of ``source``, read batch by batch.

    The loss is the (weighted) mean over all rows plus the layers' L1/L2 penalties, as
    :meth:`Sequential.evaluate`; metrics must be means over samples (accuracy, mae, ...).
    """
    return model.evaluate(source, loss=loss, metrics=metrics)


def evaluate_source(
    model: Model, source: BatchSource, loss: Loss, metrics: list[tuple[str, Metric]]
) -> dict[str, float]:
    """:func:`evaluate` with the loss and metrics already resolved (``fit``'s validation)."""
    check_mean_metrics(metrics)
    log = StreamEpochLog(metrics, loss)
    start = 0
    for b, (x, y, w) in enumerate(source.batches(PREDICT_BATCH, None), start=1):
        try:
            x, y, w = prepare_batch(model, loss, x, y, w, None)
        except (ValueError, TypeError) as error:
            raise refused(error, f"Batch {b} of {source.describe()}") from None
        output = model.forward(x)
        step_loss = loss.forward(output, y, w)
        log.add(start, start + len(x), step_loss, output, w, y)
        start += len(x)
    if not start:
        raise ValueError(f"{source.describe()} holds no rows.")
    logs = log.logs(loss)
    logs["loss"] += model.penalty()
    return logs
