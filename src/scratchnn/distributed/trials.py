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
        The results, in the order of ``items``.
    """
    if client is None and scheduler is None and not workers:
        return [function(item, shared) for item in items]
    with connect(workers or None, scheduler, client) as active:
        data = None if shared is None else active.scatter([shared], broadcast=True)[0]
        futures = active.map(function, list(items), [data] * len(items), pure=False)
        return active.gather(futures)
