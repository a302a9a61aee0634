r"""Both cores for one training step: the batch split into shards, one thread each.

A mean loss over a batch of ``n`` rows is a sum of per-row terms, so its gradient is the sum of
the gradients of any split of the rows into shards:

.. math::
    ∇_θ L = \sum_k ∇_θ \Big( \frac{1}{n} \sum_{i \in \text{shard}_k} \ell_i \Big)

One step on ``T`` threads (``fit(..., threads=T)``):

1. **forward** -- thread ``k`` runs rows ``shard_k`` through its own copy of the layers
   (a *replica*: the model's parameter arrays themselves, its own caches and gradients);
2. **loss** -- the shards' outputs, joined, go through the model's loss on the main thread,
   exactly as without shards (weights, ignored positions, reductions unchanged);
3. **backward** -- thread ``k`` backpropagates its rows of ``∂L/∂output``;
4. **reduce** -- the replicas' gradients are added into the model's, in shard order;
5. **update** -- the optimizer's passes over the flat parameter vector run as one contiguous
   piece per thread (every built-in optimizer treats each entry on its own, so the numbers are
   those of one piece).

Each thread's matrix products run on one BLAS thread (``threadpoolctl``), so the two cores
work on different shards at the same time, and everything between the products (im2col,
activations, pooling, masks) runs on both cores too; NumPy releases the GIL inside its loops.
The shards are fixed slices of the batch and the sums run in a fixed order, so a seed gives
bit-identical training for a given thread count; ``threads=1`` is the single-threaded step.

Sharding applies when every layer acts on each row alone (not BatchNorm: its statistics need the
whole batch), and when a step has enough work to pay for the hand-offs: see :func:`plan`.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import shapes
from ._validation import check_positive_int

#: A step shards when its batch's layer outputs hold at least this many values (see
#: :func:`values_per_row`). The products already use every core through BLAS; what sharding
#: adds is a second core for the work between them, which grows with the layers' outputs:
#: LeNet (51,000 values a row) and the small GPT gain, the MNIST MLP (800) runs faster whole.
MIN_VALUES = 2**21

#: Each shard holds at least this many rows: smaller ones make BLAS products inefficient.
MIN_ROWS = 8

#: The attributes that hold a layer's L1/L2 strengths: a replica sets them to 0, so that the
#: penalty's gradient is added once, by the model's own shard.
PENALTIES = ("l1", "l2")

Model = Any


def available_threads() -> int:
    """The cores this process may use (its CPU affinity), i.e. the default thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def values_per_row(model: Model, sample: tuple[int, ...] | None = None) -> int:
    """The values of every layer's output for one row of shape ``sample`` (the data's; by
    default the model's declared shapes, where an axis of any size counts once)."""
    chain = model.shapes if sample is None else shapes.infer_shapes(model.layers, sample)
    return sum(math.prod(d for d in shape if d is not None) for shape in chain[1:])


@dataclass(frozen=True)
class Plan:
    """How ``fit`` takes its steps: on ``threads`` threads, and why (``fit``'s verbose header
    prints it when it uses several threads, or was asked to and could not)."""

    threads: int
    reason: str
    asked: int | None = None  # the count fit was given (None: the default)

    def describe(self) -> str:
        return f"on {self.threads} thread{'s' if self.threads > 1 else ''} ({self.reason})"


def plan(
    model: Model, batch: int, threads: int | None, sample: tuple[int, ...] | None = None
) -> Plan:
    """Whether ``fit``'s steps on batches of ``batch`` rows use several threads.

    ``threads=None`` (the default) uses every core NumPy may use when the step pays for it;
    an explicit count is used whenever the model allows it."""
    asked = None if threads is None else check_positive_int("threads", threads)
    threads = available_threads() if asked is None else asked
    if threads == 1:
        return Plan(1, "threads=1" if asked else "one core available", asked)
    shards = min(threads, batch // MIN_ROWS)
    if shards < 2:
        return Plan(1, f"a batch of {batch} rows is too small to split", asked)
    if asked is None:  # the default shards only where it was measured to pay
        if batch * values_per_row(model, sample) < MIN_VALUES:
            return Plan(1, "its products already use the cores; the rest is too small to share")
        looping = [
            type(layer).__name__ for _, layer in model.named_layers() if not layer.shards_well
        ]
        if looping:
            return Plan(1, f"{looping[0]}'s steps are too small to share between threads")
    obstacle = obstacle_to_sharding(model)
    if obstacle:
        return Plan(1, obstacle, asked)
    return Plan(shards, f"each batch of {batch} rows in {shards} shards", asked)


def obstacle_to_sharding(model: Model) -> str | None:
    """Why ``model`` cannot train on shards (None if it can)."""
    for _, layer in model.named_layers():
        if layer.buffers or layer.needs_batch_statistics:
            return f"{type(layer).__name__} needs the whole batch at once"
        if layer.has_penalty and not any(hasattr(layer, name) for name in PENALTIES):
            return f"{type(layer).__name__} has a penalty of its own"
    if _blas_controller() is None:
        return "pip install threadpoolctl to train on several cores"
    return None


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's handle on the BLAS libraries (None without threadpoolctl)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController().select(user_api="blas")


class Shards:
    """The replicas and threads of a sharded ``fit``; ``Sequential.train_step`` calls
    :meth:`forward` and :meth:`backward` in place of its own while ``model.shards`` is set.

    Use as a context manager around training: it sets ``model.shards``, limits BLAS to one
    thread per shard, and undoes both (and stops the threads) on exit."""

    def __init__(self, model: Model, threads: int) -> None:
        threads = check_positive_int("threads", threads)
        obstacle = obstacle_to_sharding(model) if threads > 1 else None
        if obstacle:
            raise ValueError(f"This model cannot train on {threads} threads: {obstacle}.")
        if model.loss is None or model.optimizer is None:
            raise ValueError("Shards needs model.loss and model.optimizer; set them first.")
        self.model = model
        self.threads = threads
        self.flat_grad = model.parameters().flat.grad
        replicas = [_replica(model, k) for k in range(1, threads)]
        self.replicas = [replica for replica, _ in replicas]
        self._replica_grads = [grad for _, grad in replicas]  # each replica's flat gradient
        self._pool: ThreadPoolExecutor | None = None
        self._blas: Any = None
        self._limits: Any = None
        self._bounds: list[int] = []

    def __enter__(self) -> Shards:
        self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="scratchnn-shard")
        self._blas = _blas_controller()
        self._limits = self._blas.limit(limits=1)
        self.model.shards = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.model.shards = None
        if self._limits is not None:
            self._limits.restore_original_limits()
        if self._pool is not None:
            self._pool.shutdown()

    @contextmanager
    def outside(self) -> Iterator[None]:
        """BLAS at its own thread count for a while (``fit``'s validation pass, one forward
        over many rows, runs this way), one thread again after."""
        self._limits.restore_original_limits()
        try:
            yield
        finally:
            self._limits = self._blas.limit(limits=1)

    def __deepcopy__(self, memo: dict) -> None:
        return None  # a copy of the model trains on its own

    def __call__(self, work: list[Any]) -> list[Any]:
        """``work[k]()`` on thread ``k`` (0 the calling one), the results in shard order; at
        most ``threads`` jobs (the shards' passes and the optimizer's pieces run this way)."""
        assert self._pool is not None, "Shards is used inside its with block"
        # Each job in a copy of the caller's context: NumPy's errstate (overflow silenced by
        # train_step, which refuses a non-finite step itself) is a context variable.
        futures = [self._pool.submit(contextvars.copy_context().run, job) for job in work[1:]]
        results = [work[0]()]
        results += [future.result() for future in futures]
        return results

    def _per_shard(self, job: Any) -> list[Any]:
        """``job(net, rows)`` for each shard of the current batch, on its own thread."""
        nets = [self.model, *self.replicas]
        return self(
            [
                (lambda net=net, rows=slice(a, b): job(net, rows))
                for net, a, b in zip(nets, self._bounds, self._bounds[1:], strict=False)
            ]
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The model's training forward pass over ``x``, shard by shard: ``(batch, ...)``."""
        n = len(x)
        shards = max(1, min(self.threads, n // MIN_ROWS))
        self._bounds = [n * k // shards for k in range(shards + 1)]
        outputs = self._per_shard(lambda net, rows: net.forward(x[rows], training=True))
        return outputs[0] if shards == 1 else np.concatenate(outputs)

    def backward(self, grad: np.ndarray) -> None:
        """Backpropagate ``∂L/∂output`` shard by shard; the model's gradients become their sum."""
        self._per_shard(lambda net, rows: net.backward(grad[rows], input_grad=False))
        for replica_grad in self._replica_grads[: len(self._bounds) - 2]:
            self.flat_grad += replica_grad


def _replica(model: Model, rank: int) -> tuple[Model, np.ndarray]:
    """A copy of ``model`` for shard ``rank`` and its flat gradient vector: the same parameter
    arrays (read, not copied), gradients of its own (views into that vector), its own caches,
    a random stream of its own for dropout, and no L1/L2 term (the model's shard adds it once)."""
    memo: dict[int, Any] = {}
    for value in (model.history, model.optimizer, model.loss, model.schedule, model.metadata):
        memo[id(value)] = value
    flat = model.parameters().flat
    memo[id(flat.value)] = flat.value
    replica = copy.deepcopy(model, memo)
    store_grad = np.zeros_like(flat.grad)
    base = flat.grad.__array_interface__["data"][0]
    pairs = zip(model.named_layers(), replica.named_layers(), strict=True)
    for (_, mine), (_, theirs) in pairs:
        for name, value in mine.params.items():
            theirs.params.bind(name, value)
            grad = mine.grads[name]
            start = (grad.__array_interface__["data"][0] - base) // grad.itemsize
            theirs.grads.bind(name, store_grad[start : start + grad.size].reshape(grad.shape))
        if mine.rng is not None:  # dropout masks differ between shards
            theirs.rng = np.random.default_rng([int(mine.rng.integers(2**62)), rank])
        for name in PENALTIES:
            if hasattr(theirs, name):
                setattr(theirs, name, 0.0)
    return replica, store_grad
