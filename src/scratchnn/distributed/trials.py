"""Independent trials as Dask tasks: ``scratchnn search``'s configurations and ``compare``'s
rows. Each trial is a pure function of its item and the shared data, so the results are the
same on one worker, many, or none (in this process).

A trial whose worker is lost is run again (up to three rounds); when the cluster loses every
worker or its scheduler for good, or is closed under the run, the trials that finished are
not thrown away: :class:`TrialsLostError` carries them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import cluster as cluster_module
from .cluster import WORKERS_LOST, ClusterLostError, connect


class TrialsLostError(ClusterLostError):
    """Some trials of :func:`map_trials` could not be run: the cluster lost its workers or
    its scheduler for good, or was closed under the run. The message says how many trials
    finished, how many were lost and why, in one line.

    Attributes:
        reason: ``"workers lost"``, ``"scheduler lost"`` or ``"cluster closed"``.
        finished: the results of the trials that finished, ``{index in items: result}``, in
            the order of ``items`` (``list(error.finished.values())`` for the results alone).
        lost: the indices (in ``items``) of the trials that have no result.
        total: how many trials were asked for.
        why: what happened, in words (``"the Dask cluster had no worker for 20 s"``).

    Example:
        >>> try:  # doctest: +SKIP
        ...     results = map_trials(trial, configs, data, scheduler=address)
        ... except TrialsLostError as error:
        ...     results = list(error.finished.values())  # what the cluster finished
        ...     retry = [configs[i] for i in error.lost]
    """

    def __init__(
        self,
        message: str,
        reason: str,
        finished: dict[int, Any],
        lost: Sequence[int],
        total: int,
        why: str = "",
    ) -> None:
        super().__init__(message, reason)
        self.finished = dict(sorted(finished.items()))
        self.lost = sorted(lost)
        self.total = total
        self.why = why


def map_trials(
    function: Callable[..., Any],
    items: Sequence[Any],
    shared: Any = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    no_workers_timeout: float | None = None,
) -> list[Any]:
    """``[function(item, shared) for item in items]``, as Dask tasks when asked for.

    Args:
        function: a module-level function (workers import it by name).
        items: one per trial.
        shared: data every trial reads; sent to each worker once (``scatter``), not per task.
        workers: run on a LocalCluster of this many worker processes; 0 runs the trials one
            after the other in this process, without Dask.
        scheduler: run on the existing cluster at this address instead.
        client: or on this Client.
        no_workers_timeout: seconds the cluster may have no worker at all before the
            remaining trials are given up; default: Dask's
            ``distributed.scheduler.no-workers-timeout`` when set, else 20 s.

    Returns:
        The results, in the order of ``items``. Trials whose worker was lost (its process
        killed, its memory exceeded) are run again, with the shared data sent again, up to
        three rounds; an error raised by a trial itself is raised as it is.

    Raises:
        TrialsLostError: the cluster lost every worker (none for ``no_workers_timeout``
            seconds, or a trial's workers lost three rounds running) or its scheduler, or was
            closed during the run. Each result is fetched as soon as its trial finishes, so
            ``error.finished`` holds every trial that finished before the loss.
    """
    if client is None and scheduler is None and not workers:
        return [function(item, shared) for item in items]
    items = list(items)
    timeout = cluster_module.no_workers_timeout(no_workers_timeout)
    finished: dict[int, Any] = {}
    pending = list(range(len(items)))
    with connect(workers or None, scheduler, client) as active:
        for _round in range(_ROUNDS):
            pending, loss = _run_round(active, function, items, pending, shared, finished, timeout)
            if not pending:
                return [finished[i] for i in range(len(items))]
            if loss.final:
                break
        else:
            loss.why = f"the workers running them were lost {_ROUNDS} rounds running ({loss.why})"
    n = len(items)
    raise TrialsLostError(
        f"{lost_summary(loss.reason, len(finished), n, loss.why)}. The finished trials' results "
        "are kept (TrialsLostError.finished); run the lost ones again on a cluster with workers.",
        loss.reason,
        finished,
        pending,
        n,
        loss.why,
    )


def lost_summary(reason: str, finished: int, total: int, why: str, noun: str = "trial") -> str:
    """``"scheduler lost: 3 of 8 trials finished, 5 were lost (why)"``."""
    lost = total - finished
    return (
        f"{reason}: {finished} of {total} {noun}{'s' * (total != 1)} finished, {lost} "
        f"{'was' if lost == 1 else 'were'} lost ({why})"
    )


#: Rounds of resubmitting the trials whose workers were lost.
_ROUNDS = 3

#: Seconds between two looks at the futures (and, each second, at the workers).
_POLL = 0.1


class _Loss:
    """Why a round left trials without a result; ``final`` when another round cannot help."""

    def __init__(self, reason: str, why: str, final: bool) -> None:
        self.reason, self.why, self.final = reason, why, final


def _gone(client: Any, error: BaseException | None, timeout: float) -> _Loss | None:
    """The loss for good behind ``error`` (or the client's state), if there is one."""
    reason = cluster_module.what_was_lost(client, error)
    if reason is None:
        return None
    why = {
        cluster_module.SCHEDULER_LOST: "the connection to the Dask scheduler broke",
        cluster_module.CLUSTER_CLOSED: "the Dask cluster was closed during the run",
        WORKERS_LOST: f"the Dask cluster had no worker for {timeout:g} s",
    }[reason]
    return _Loss(reason, why, final=True)


def _run_round(
    client: Any,
    function: Callable[..., Any],
    items: list[Any],
    pending: list[int],
    shared: Any,
    finished: dict[int, Any],
    timeout: float,
) -> tuple[list[int], _Loss]:
    """Submit the ``pending`` trials and collect each result as it comes into ``finished``;
    returns the trials left without one and why."""
    lost_work = _lost_work_errors()
    no_worker = _Loss(WORKERS_LOST, f"the Dask cluster had no worker for {timeout:g} s", True)
    try:
        alive = cluster_module.wait_for_a_worker(client, timeout)
        if alive is None:
            return pending, _gone(client, None, timeout) or no_worker
        if not alive:
            return pending, no_worker
        # Unique keys, sent again each round: a worker lost with the only copy of the shared
        # data takes it with it, and Dask cannot recompute scattered data.
        data = None if shared is None else client.scatter([shared], broadcast=True, hash=False)[0]
        # Only `waiting` holds the futures: a result fetched is released on its worker.
        waiting = {client.submit(function, items[i], data, pure=False): i for i in pending}
    except Exception as error:  # the scheduler went away while the work was being sent
        loss = _gone(client, error, timeout)
        if loss is None:
            raise
        return pending, loss
    failed: list[int] = []
    loss = _Loss(WORKERS_LOST, "", final=False)
    no_workers_since: float | None = None
    last_look = time.monotonic()
    while waiting:
        done = [f for f in waiting if f.done()]
        for future in done:
            i = waiting.pop(future)
            try:
                finished[i] = future.result(timeout=max(60.0, 3 * timeout))
            except (*lost_work, TimeoutError) as error:  # the worker (or its data) was lost
                failed.append(i)
                loss = _gone(client, error, timeout) or _Loss(
                    WORKERS_LOST, _first_sentence(error), final=False
                )
            except Exception as error:  # the trial's own error, or the scheduler's
                gone = _gone(client, error, timeout)
                if gone is None or gone.reason != WORKERS_LOST:
                    raise
                failed.append(i)
                loss = gone
            if loss.final:
                break
        done = future = None  # (each result fetched is released on its worker)
        if loss.final or not waiting:
            break
        now = time.monotonic()
        if now - last_look >= 1.0:  # the workers, once a second
            last_look = now
            workers = cluster_module.count_workers(client)
            if workers is None:
                loss = _gone(client, None, timeout) or _Loss(
                    cluster_module.SCHEDULER_LOST,
                    "the Dask scheduler stopped answering",
                    final=True,
                )
                break
            no_workers_since = (no_workers_since or now) if workers == 0 else None
            if no_workers_since is not None and now - no_workers_since >= timeout:
                loss = no_worker
                break
        time.sleep(_POLL)
    if waiting:  # given up: the rest are lost too, and are not left to run later
        failed.extend(waiting.values())
        with contextlib.suppress(Exception):  # the scheduler is gone: nothing to cancel
            client.cancel(list(waiting))
    return sorted(failed), loss


def _first_sentence(error: BaseException) -> str:
    """``KilledWorker: Attempted to run task ... but all those workers died while running
    it`` (Dask's advice after it, over several lines, left out)."""
    text = " ".join(str(error).split())
    head = text.split(". ", 1)[0].rstrip(".")
    return f"{type(error).__name__}: {head}" if head else type(error).__name__


def _lost_work_errors() -> tuple[type[BaseException], ...]:
    """The errors Dask raises for work lost with a worker (not for a trial that failed)."""
    from concurrent.futures import CancelledError

    from distributed.scheduler import KilledWorker

    return (CancelledError, KilledWorker)
