"""Data-parallel training on a Dask cluster: shards, replicas, averaged gradients.

Each of the K workers holds a contiguous shard of the rows and a replica of the model (a Dask
actor). One step on the global batch B (the same rows, in the same shuffled order, that
``model.fit`` would use)::

    worker k:  g_k = ∇ (1/W_k) Σ_{i ∈ B ∩ shard k} w_i ℓ_i       (its part of the batch)
    driver:    g   = Σ_k (W_k / W) g_k                            (= ∇ of the batch's mean loss)
    everyone:  θ  ← optimizer(θ, g)                               (the same update everywhere)

with ``W_k`` the weight (row count, or sum of sample weights) of worker k's rows and ``W`` the
batch's. The weighted average of per-shard means is exactly the batch mean, so with the same
global batches this is single-process training (up to floating-point summation order). The
driver keeps its own replica and checks the averaged gradient and the update before anyone
applies it (a non-finite one raises :class:`TrainingDivergedError` and no replica changes).

Traffic per step: the row indices of each worker's part down, K gradients up, and the
averaged gradient down to K replicas (sent with the next step's rows, one round trip per
step): about ``2·K·P·itemsize`` bytes for P parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import io, training
from .._validation import check_positive_int
from ..errors import TrainingDivergedError
from ..history import History
from .cluster import connect, worker_addresses


class Replica:
    """One worker's copy of the model and its shard of the rows (run as a Dask actor).

    Args:
        model_bytes: the model, with its loss and optimizer state (``io.dumps``): a real copy
            even when the worker lives in the driver's process.
        X, y, weights: this worker's rows (weights may be None).
        rank: the worker's number, which seeds its dropout masks apart from the others'.
    """

    def __init__(self, model_bytes: bytes, X: Any, y: Any, weights: Any, rank: int) -> None:
        self.model = io.loads(model_bytes)
        self.X, self.y, self.weights = X, y, weights
        for layer in self.model.layers:  # dropout masks differ between replicas
            layer.rng = np.random.default_rng([int(layer.rng.integers(2**62)), rank])

    def step(self, update: np.ndarray | None, lr: float, rows: np.ndarray | None) -> Any:
        """Apply the previous step's averaged gradient ``update`` (at learning rate ``lr``),
        then return ``(gradient, weight, loss, seconds)`` on this worker's ``rows`` (local
        indices), or None when ``rows`` is None (the final synchronisation)."""
        parameters = self.model.parameters()
        if update is not None:
            self.model.optimizer.lr = lr
            parameters.flat.grad[...] = update
            self.model.optimizer.step(parameters)
        if rows is None:
            return None
        if len(rows) == 0:
            return None, 0.0, 0.0, 0.0
        start = time.perf_counter()
        x, y = self.X[rows], self.y[rows]
        w = None if self.weights is None else self.weights[rows]
        # Overflow shows as a non-finite gradient, which the driver reports as divergence.
        with np.errstate(over="ignore", invalid="ignore"):
            output = self.model.forward(x, training=True)
            loss = self.model.loss.forward(output, y, w)
            self.model.backward(self.model.loss.backward(), input_grad=False)
        weight = float(len(rows)) if w is None else float(w.sum())
        return parameters.flat.grad.copy(), weight, float(loss), time.perf_counter() - start

    def get_weights(self) -> np.ndarray:
        return self.model.get_weights()


@dataclass
class DataParallelStats:
    """What a data-parallel ``fit`` measured (``history.data_parallel``).

    Attributes:
        workers: K.
        steps: optimizer steps taken.
        seconds: wall time of the training loop.
        samples_per_second: rows trained on per second (all epochs).
        bytes_per_step: payload moved per step between driver and workers (row indices,
            gradients up, averaged gradients down), averaged over the steps.
        compute_seconds_per_step: the slowest worker's forward+backward time per step.
        max_replica_difference: ``max |θ_replica − θ_driver|`` after the last step (0 when
            every replica applied the same updates).
    """

    workers: int
    steps: int
    seconds: float
    samples_per_second: float
    bytes_per_step: float
    compute_seconds_per_step: float
    max_replica_difference: float


def _shards(n: int, workers: int) -> np.ndarray:
    """Row boundaries of ``workers`` contiguous shards of nearly equal size."""
    return np.linspace(0, n, workers + 1).round().astype(np.intp)


def fit(
    model: Any,
    X: Any,
    y: Any,
    client: Any = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    loss: Any = None,
    optimizer: Any = None,
    schedule: Any = None,
    epochs: int = 1,
    batch_size: int | None = 32,
    shuffle: bool = True,
    sample_weight: Any = None,
    validation_data: tuple[Any, ...] | None = None,
    metrics: Any = None,
) -> History:
    """Train ``model`` data-parallel on a Dask cluster; the same training as ``model.fit``.

    Args:
        model: the model (trained in place; its replicas live on the workers meanwhile).
        X, y, sample_weight: the training data, as for ``model.fit``; split into one
            contiguous shard per worker, sent once.
        client: a ``dask.distributed`` Client; or ``workers`` (a LocalCluster of that many
            processes) or ``scheduler`` (an address) to make one for this call.
        loss, optimizer, schedule, epochs, batch_size, shuffle: as for ``model.fit``;
            ``batch_size`` is the global batch, split among the workers by where its rows are.
        validation_data: ``(X_val, y_val)`` or ``(X_val, y_val, weights)``, evaluated on the
            driver after every epoch (``val_loss`` in the history; a schedule such as
            ReduceLROnPlateau can monitor it).
        metrics: metrics of the validation data (``val_accuracy``, ...). The training rows'
            outputs stay on the workers, so the history has no training-set metrics.

    Returns:
        The per-epoch History (loss and lr), with ``history.data_parallel`` the
        :class:`DataParallelStats` (throughput, bytes per step, replica agreement).

    Raises:
        ValueError: layers that need batch statistics (BatchNorm: each worker would see only
            its part of the batch), or bad data (before anything is sent).
        TrainingDivergedError: a non-finite loss, gradient or update; no replica applies it.

    Example:
        >>> import numpy as np, scratchnn as snn
        >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
        >>> X = np.random.default_rng(0).normal(size=(256, 3)); y = (X[:, 0] > 0).astype(int)
        >>> model = snn.MLP([3, 8, 2], seed=0, dtype=np.float64)
        >>> with Client(LocalCluster(n_workers=2, processes=False)) as client:  # doctest: +SKIP
        ...     history = snn.distributed.fit(model, X, y, client, loss="cross_entropy",
        ...                                   optimizer="adam", epochs=2)
    """
    loss, optimizer, schedule = training._resolve_objects(
        model, loss=loss, optimizer=optimizer, schedule=schedule
    )
    epochs = check_positive_int("epochs", epochs)
    if batch_size is not None:
        batch_size = check_positive_int("batch_size", batch_size)
    needy = [layer for layer in model.layers if layer.needs_batch_statistics]
    if needy:
        raise ValueError(
            f"{needy[0]!r} normalizes with the statistics of the whole batch, but each worker "
            "sees only its part of it; data-parallel training supports models without "
            "BatchNorm1d (LayerNorm works per sample)."
        )
    X, y = training.prepare(model, X, y, loss)
    weights = training.prepare_weights(sample_weight, None, y, loss, len(X))
    _, validation = training._split_validation(model, loss, X, y, weights, validation_data, 0)
    resolved = training.resolve_metrics(metrics)
    if resolved and validation is None:
        raise ValueError(
            "metrics are computed on the validation data in data-parallel training (the "
            "training rows' outputs stay on the workers): pass validation_data too."
        )
    n = len(X)
    batch = n if batch_size is None else min(batch_size, n)
    model.loss, model.optimizer, model.schedule = loss, optimizer, schedule
    if schedule is not None:
        schedule.start(optimizer)
    with connect(workers, scheduler, client) as active:
        replicas, bounds = _start_replicas(active, model, X, y, weights)
        return _train(model, replicas, bounds, n, batch, epochs, shuffle, validation, resolved)


def _start_replicas(active: Any, model: Any, X, y, weights) -> tuple[list[Any], np.ndarray]:
    addresses = worker_addresses(active)
    bounds = _shards(len(X), len(addresses))
    model_bytes = io.dumps(model)
    futures = []
    for rank, address in enumerate(addresses):
        rows = slice(bounds[rank], bounds[rank + 1])
        shard = [X[rows], y[rows], None if weights is None else weights[rows]]
        scattered = active.scatter(shard, workers=[address])
        futures.append(
            active.submit(
                Replica, model_bytes, *scattered, rank, workers=[address], actor=True, pure=False
            )
        )
    return [future.result() for future in futures], bounds


def _train(
    model, replicas, bounds, n: int, batch: int, epochs: int, shuffle: bool, validation, metrics
) -> History:
    loss, optimizer, schedule = model.loss, model.optimizer, model.schedule
    summed = loss.reduction == "sum"
    parameters = model.parameters()
    history = model.history = History()
    update, update_lr = None, optimizer.lr
    steps, moved, compute = 0, 0, 0.0
    start_time = time.perf_counter()
    for _ in range(epochs):
        epoch = model.epochs_trained
        # The same permutation, from the same stream, as model.fit's batches.
        order = model.rngs.shuffle.permutation(n) if shuffle and batch < n else None
        loss_sum = weight_sum = 0.0  # the epoch's loss: a weighted mean, as in model.fit
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            rows = order[start:stop] if order is not None else np.arange(start, stop)
            owner = np.searchsorted(bounds, rows, side="right") - 1
            parts = [rows[owner == k] - bounds[k] for k in range(len(replicas))]
            calls = [r.step(update, update_lr, p) for r, p in zip(replicas, parts, strict=True)]
            results = [call.result() for call in calls]
            moved += sum(p.nbytes for p in parts) + len(replicas) * (
                0 if update is None else update.nbytes
            )
            total = sum(weight for _, weight, _, _ in results)
            gradient = np.zeros_like(parameters.flat.grad)
            batch_loss = 0.0
            for grad, weight, part_loss, _ in results:
                if grad is None:
                    continue
                moved += grad.nbytes
                share = 1.0 if summed else (weight / total if total else 0.0)
                gradient += share * grad
                batch_loss += share * part_loss
            compute += max(seconds for _, _, _, seconds in results)
            batch_loss += model.penalty()
            where = f"epoch {epoch + 1}, batch {start // batch + 1}"
            if not (np.isfinite(batch_loss) and np.isfinite(np.dot(gradient, gradient))):
                raise TrainingDivergedError(
                    f"Training stopped at {where}: the loss or the averaged gradient became "
                    "infinite or NaN; no replica applied it (the model keeps its last finite "
                    "weights).",
                    logs={"loss": batch_loss},
                )
            parameters.flat.grad[...] = gradient
            try:
                optimizer.step(parameters)
            except TrainingDivergedError as error:
                raise TrainingDivergedError(
                    f"Training stopped at {where}: {error}", logs={"loss": batch_loss}
                ) from None
            update, update_lr = gradient, optimizer.lr
            loss_sum += batch_loss * total
            weight_sum += total
            steps += 1
        logs = {"loss": loss_sum / weight_sum if weight_sum else 0.0}
        if validation is not None:  # the driver's model holds the weights every replica has
            X_val, y_val, w_val = validation
            val_logs = training.evaluate_prepared(model, X_val, y_val, loss, metrics, w_val)
            logs.update({f"val_{key}": value for key, value in val_logs.items()})
        logs["lr"] = optimizer.lr
        if schedule is not None:
            schedule.step(optimizer, logs)
        model.epochs_trained += 1
        history.append(epoch, logs)
    for call in [r.step(update, update_lr, None) for r in replicas]:
        call.result()  # every replica has applied the last update
    seconds = time.perf_counter() - start_time
    driver = model.get_weights()
    difference = max(float(np.abs(r.get_weights().result() - driver).max()) for r in replicas)
    history.data_parallel = DataParallelStats(
        workers=len(replicas),
        steps=steps,
        seconds=seconds,
        samples_per_second=n * epochs / seconds,
        bytes_per_step=moved / max(steps, 1),
        compute_seconds_per_step=compute / max(steps, 1),
        max_replica_difference=difference,
    )
    return history
