"""Independent trials as Dask tasks: ``scratchnn search``'s configurations and ``compare``'s
rows. Each trial is a pure function of its item and the shared data, so the results are the
same on one worker, many, or none (in this process)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .cluster import connect


def map_trials(
    function: Callable[..., Any],
    items: Sequence[Any],
    shared: Any = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
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

    Returns:
        The results, in the order of ``items``. Trials whose worker was lost (its process
        killed, its memory exceeded) are run again, with the shared data sent again, up to
        three rounds; an error raised by a trial itself is raised as it is.
    """
    if client is None and scheduler is None and not workers:
        return [function(item, shared) for item in items]
    items = list(items)
    results: list[Any] = [None] * len(items)
    pending = list(range(len(items)))
    with connect(workers or None, scheduler, client) as active:
        lost = _lost_work_errors()
        for _round in range(_ROUNDS):
            # Unique keys, sent again each round: a worker lost with the only copy of the shared
            # data takes it with it, and Dask cannot recompute scattered data.
            data = (
                None if shared is None else active.scatter([shared], broadcast=True, hash=False)[0]
            )
            futures = {i: active.submit(function, items[i], data, pure=False) for i in pending}
            failed = []
            for i, future in futures.items():
                try:
                    results[i] = future.result()
                except lost as error:  # the worker (or the data it held) was lost, not the trial
                    failed.append(i)
                    reason = error
            if not failed:
                return results
            pending = failed
        raise RuntimeError(
            f"{len(pending)} of {len(items)} trials could not be run: their workers were lost "
            f"{_ROUNDS} times ({type(reason).__name__}: {reason}). The other trials' results are "
            "lost with this run; check the workers' memory and run again."
        )


#: Rounds of resubmitting the trials whose workers were lost.
_ROUNDS = 3


def _lost_work_errors() -> tuple[type[BaseException], ...]:
    """The errors Dask raises for work lost with a worker (not for a trial that failed)."""
    from concurrent.futures import CancelledError

    from distributed.scheduler import KilledWorker

    return (CancelledError, KilledWorker)
