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

The loop itself is :func:`scratchnn.training.fit`'s (validation, schedules, callbacks, Ctrl-C,
the divergence message), with :class:`DataParallelStep` plugged in as its step.

A worker that is lost mid-training (its process killed, its machine gone) is replaced: a new
replica is made from the driver's model, which holds exactly the weights and optimizer state
of the last step, on a surviving worker, with the lost worker's shard; the step is then
computed again. Without dropout the result is the same as without the fault; with dropout
the new replica's masks differ. When no worker is left (none for ``no_workers_timeout``
seconds), or the scheduler is lost, fit stops with :class:`ClusterLostError`, whose one line
says what was lost and which step the model holds.

Traffic per step: the row indices of each worker's part down, K gradients up, and the
averaged gradient down to K replicas (sent with the next step's rows, one round trip per
step): about ``2·K·P·itemsize`` bytes for P parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import callbacks as callbacks_module
from .. import io, training
from ..errors import TrainingDivergedError
from ..history import History
from ..model import TrainStep
from . import cluster as cluster_module
from .cluster import (
    CLUSTER_CLOSED,
    SCHEDULER_LOST,
    WORKERS_LOST,
    ClusterLostError,
    connect,
    wait_for_a_worker,
    what_was_lost,
    worker_addresses,
)


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
        for _, layer in self.model.named_layers():  # dropout masks differ between replicas
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
        replicas_replaced: replicas made anew because their worker was lost.
    """

    workers: int
    steps: int
    seconds: float
    samples_per_second: float
    bytes_per_step: float
    compute_seconds_per_step: float
    max_replica_difference: float
    replicas_replaced: int = 0


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
    callbacks: Any = None,
    verbose: int | str = 0,
    no_workers_timeout: float | None = None,
) -> History:
    """Train ``model`` data-parallel on a Dask cluster; the same training as ``model.fit``.

    Args:
        model: the model (trained in place; its replicas live on the workers meanwhile).
        X, y, sample_weight: the training data, as for ``model.fit``; split into one
            contiguous shard per worker, sent once.
        client: a ``dask.distributed`` Client; or ``workers`` (a LocalCluster of that many
            processes) or ``scheduler`` (an address) to make one for this call.
        loss, optimizer, schedule, epochs, batch_size, shuffle, callbacks, verbose: as for
            ``model.fit``; ``batch_size`` is the global batch, split among the workers by
            where its rows are. A callback that changes the weights during training (not at
            its end) would change the driver's alone: the replicas follow the driver's
            updates, not its weights.
        validation_data: ``(X_val, y_val)`` or ``(X_val, y_val, weights)``, evaluated on the
            driver after every epoch (``val_loss`` in the history; a schedule such as
            ReduceLROnPlateau can monitor it).
        metrics: metrics of the validation data (``val_accuracy``, ...). The training rows'
            outputs stay on the workers, so the history has no training-set metrics.
        no_workers_timeout: seconds to wait for a worker to hold a lost replica when none
            is left (a nanny restarting one); default: Dask's
            ``distributed.scheduler.no-workers-timeout`` when set, else 20 s.

    Returns:
        The per-epoch History (loss and lr), with ``history.data_parallel`` the
        :class:`DataParallelStats` (throughput, bytes per step, replica agreement).

    Raises:
        ValueError: layers that need batch statistics (BatchNorm: each worker would see only
            its part of the batch), or bad data (before anything is sent).
        TrainingDivergedError: a non-finite loss, gradient or update; no replica applies it.
        ClusterLostError: every worker or the scheduler was lost for good (``error.reason``:
            ``"workers lost"``, ``"scheduler lost"`` or ``"cluster closed"``); the model keeps
            the weights and optimizer state of its last completed step. A RuntimeError.

    Example:
        >>> import numpy as np, scratchnn as snn
        >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
        >>> X = np.random.default_rng(0).normal(size=(256, 3)); y = (X[:, 0] > 0).astype(int)
        >>> model = snn.MLP([3, 8, 2], seed=0, dtype=np.float64)
        >>> with Client(LocalCluster(n_workers=2, processes=False)) as client:  # doctest: +SKIP
        ...     history = snn.distributed.fit(model, X, y, client, loss="cross_entropy",
        ...                                   optimizer="adam", epochs=2)
    """
    needy = [layer for layer in model.layers if layer.needs_batch_statistics]
    if needy:
        raise ValueError(
            f"{needy[0]!r} normalizes with the statistics of the whole batch, but each worker "
            "sees only its part of it; data-parallel training supports models without "
            "BatchNorm1d (LayerNorm works per sample)."
        )
    if metrics is not None and validation_data is None:
        raise ValueError(
            "metrics are computed on the validation data in data-parallel training (the "
            "training rows' outputs stay on the workers): pass validation_data too."
        )
    timeout = cluster_module.no_workers_timeout(no_workers_timeout)
    with connect(workers, scheduler, client) as active:
        holder: list[DataParallelStep] = []

        def make_step(model: Any, setup: Any, batches: Any) -> DataParallelStep:
            if setup.stream is not None:
                raise ValueError(
                    "data-parallel training shards arrays held in memory; pass arrays, not a "
                    "BatchSource."
                )
            holder.append(DataParallelStep(active, model, setup, batches, timeout))
            return holder[0]

        finisher = _Finish(holder)
        start = time.perf_counter()
        history = training.fit(
            model,
            X,
            y,
            step=make_step,
            loss=loss,
            optimizer=optimizer,
            schedule=schedule,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            validation_data=validation_data,
            validation_split=0.0,
            metrics=metrics,
            callbacks=[finisher, *(callbacks or [])],
            sample_weight=sample_weight,
            class_weight=None,
            verbose=verbose,
        )
        dp = holder[0]
        seconds = time.perf_counter() - start
        difference = dp.replica_difference(finisher.weights)
    history.data_parallel = DataParallelStats(
        workers=len(dp.replicas),
        steps=dp.steps,
        seconds=seconds,
        samples_per_second=dp.samples / seconds,
        bytes_per_step=dp.moved / max(dp.steps, 1),
        compute_seconds_per_step=dp.compute / max(dp.steps, 1),
        max_replica_difference=difference,
        replicas_replaced=dp.replaced,
    )
    return history


class _Finish(callbacks_module.Callback):
    """First of the callbacks: at the end of training (before any callback restores other
    weights), brings every replica up to the last update and keeps the driver's weights, which
    every replica should then equal."""

    def __init__(self, holder: list[DataParallelStep]) -> None:
        self.holder = holder
        self.weights: np.ndarray | None = None

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.holder:
            self.holder[0].synchronize()
            self.weights = self.model.get_weights()


#: What a call to a replica raises when its worker was lost (Dask: "Worker holding Actor was
#: lost", a closed connection, a timeout).
_WORKER_LOST = (OSError, ConnectionError, TimeoutError, RuntimeError)


class DataParallelStep:
    """The step that :func:`scratchnn.training.fit` calls for each global batch: each
    worker's part of the rows to its replica, the shares of the gradient averaged, checked
    and applied on the driver (the replicas apply it with the next step).

    Args:
        client: the Dask client.
        model: the driver's model.
        setup: fit's resolved setup (the validated arrays are sharded from it).
        batches: the epoch's batches (their row indices are what the workers receive).
        no_workers_timeout: seconds to wait for a worker when a replica's is lost and none
            is left.
    """

    def __init__(
        self, client: Any, model: Any, setup: Any, batches: Any, no_workers_timeout: float = 20.0
    ) -> None:
        self.client, self.model, self.batches = client, model, batches
        self.no_workers_timeout = no_workers_timeout
        self.X, self.y, self.weights = setup.X, setup.y, setup.weights
        self.summed = setup.loss.reduction == "sum"
        addresses = worker_addresses(client)
        if not addresses:
            raise ValueError(
                "The Dask cluster has no workers to hold the model's replicas; start some (or "
                "pass workers=N for a local cluster), or train with model.fit."
            )
        self.bounds = _shards(len(self.X), len(addresses))
        model_bytes = io.dumps(model)
        self.replicas = [
            self._start(model_bytes, rank, address) for rank, address in enumerate(addresses)
        ]
        self.update: np.ndarray | None = None
        self.update_lr = setup.optimizer.lr
        self.pending = [False] * len(self.replicas)  # replicas restarted after the update
        self.steps = self.moved = self.samples = self.replaced = 0
        self.compute = 0.0
        self.cluster_lost = False

    def _start(self, model_bytes: bytes, rank: int, address: str) -> Any:
        rows = slice(self.bounds[rank], self.bounds[rank + 1])
        shard = [self.X[rows], self.y[rows], None if self.weights is None else self.weights[rows]]
        # Unique keys (not content hashes): an earlier fit's release of the same arrays must
        # not remove this fit's copy.
        scattered = self.client.scatter(shard, workers=[address], hash=False)
        future = self.client.submit(
            Replica, model_bytes, *scattered, rank, workers=[address], actor=True, pure=False
        )
        return future.result()

    def _replace(self, rank: int, error: BaseException) -> None:
        """A new replica of rank ``rank`` from the driver's model (which holds the last
        update) on a surviving worker, or :class:`ClusterLostError` when none is left."""
        deadline = time.monotonic() + self.no_workers_timeout
        while True:
            alive = wait_for_a_worker(self.client, max(0.0, deadline - time.monotonic()))
            if not alive:
                self._lost(SCHEDULER_LOST if alive is None else WORKERS_LOST)
            try:
                replica = self._start(io.dumps(self.model), rank, alive[rank % len(alive)])
                break
            except Exception:  # that worker is gone too (the scheduler may not know yet)
                reason = what_was_lost(self.client)
                if reason is not None:
                    self._lost(reason)
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
        self.replicas[rank] = replica
        self.replaced += 1
        self.pending[rank] = True  # it already holds the update the others are sent

    def _lost(self, fallback: str) -> None:
        """Raise the one-line error for a cluster lost under the training."""
        reason = what_was_lost(self.client) or fallback
        what = {
            WORKERS_LOST: f"every worker (none for {self.no_workers_timeout:g} s)",
            SCHEDULER_LOST: "its connection to the Dask scheduler",
            CLUSTER_CLOSED: "its cluster (closed during training)",
        }[reason]
        epochs = self.model.epochs_trained
        self.cluster_lost = True  # (nothing left to synchronize at the end of training)
        raise ClusterLostError(
            f"{reason}: data-parallel training lost {what} during epoch {epochs + 1}; the model "
            f"keeps the weights and optimizer state of its last completed step (step "
            f"{self.steps}; epochs_trained {epochs} and the history count complete epochs "
            "only). Save it and resume with model.fit or on a cluster with workers.",
            reason,
        ) from None

    def _call(self, rank: int, rows: np.ndarray | None) -> Any:
        update = None if self.pending[rank] else self.update
        return self.replicas[rank].step(update, self.update_lr, rows)

    def _gather(self, parts: list[np.ndarray | None]) -> list[Any]:
        """Each replica's result for its part, replacing replicas whose worker was lost."""
        calls = [self._send(rank, part) for rank, part in enumerate(parts)]
        results = []
        for rank, call in enumerate(calls):
            for _attempt in range(3):
                try:
                    if isinstance(call, BaseException):  # the call itself failed
                        raise call
                    results.append(call.result())
                    break
                except ClusterLostError:
                    raise
                except _WORKER_LOST as error:
                    self._replace(rank, error)
                    call = self._send(rank, parts[rank])
            else:
                raise RuntimeError(
                    f"Data-parallel training could not keep a replica of shard {rank} alive; "
                    f"the model keeps the weights of its last step ({self.steps} steps)."
                )
        self.pending = [False] * len(self.replicas)
        return results

    def _send(self, rank: int, part: np.ndarray | None) -> Any:
        """The call of replica ``rank`` on ``part``, or the error that calling it raised (an
        actor whose worker is known to be lost refuses calls at once)."""
        try:
            return self._call(rank, part)
        except _WORKER_LOST as error:
            return error

    def __call__(self, start: int, stop: int, x: Any, y: Any, w: Any) -> TrainStep:
        model = self.model
        parameters = model.parameters()
        rows = self.batches.rows(start, stop)
        owner = np.searchsorted(self.bounds, rows, side="right") - 1
        parts = [rows[owner == k] - self.bounds[k] for k in range(len(self.replicas))]
        results = self._gather(parts)
        self.moved += sum(p.nbytes for p in parts) + len(self.replicas) * (
            0 if self.update is None else self.update.nbytes
        )
        total = sum(weight for _, weight, _, _ in results)
        gradient = np.zeros_like(parameters.flat.grad)
        batch_loss = 0.0
        for grad, weight, part_loss, _ in results:
            if grad is None:
                continue
            self.moved += grad.nbytes
            share = 1.0 if self.summed else (weight / total if total else 0.0)
            gradient += share * grad
            batch_loss += share * part_loss
        self.compute += max(seconds for _, _, _, seconds in results)
        batch_loss += model.penalty()
        if not (np.isfinite(batch_loss) and np.isfinite(np.dot(gradient, gradient))):
            raise TrainingDivergedError(
                "the loss or the averaged gradient became infinite or NaN; no replica applied "
                "it (the model keeps its last finite weights).",
                logs={"loss": batch_loss},
            )
        parameters.flat.grad[...] = gradient
        model.optimizer.step(parameters)  # refuses a non-finite update (TrainingDivergedError)
        self.update, self.update_lr = gradient, model.optimizer.lr
        self.steps += 1
        self.samples += stop - start
        return TrainStep(float(batch_loss), None)

    def synchronize(self) -> None:
        """Every replica applies the last update (the end of training, unless the cluster
        was lost)."""
        if not self.cluster_lost:
            self._gather([None] * len(self.replicas))

    def replica_difference(self, weights: np.ndarray | None) -> float:
        """``max |θ_replica − θ_driver|`` against the driver's weights at the end of training."""
        if weights is None:
            return float("nan")
        return max(float(np.abs(r.get_weights().result() - weights).max()) for r in self.replicas)
