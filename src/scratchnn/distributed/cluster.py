"""A Dask client for the work at hand: a LocalCluster started for it, or an existing cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Distributed training and search need Dask: pip install 'scratchnn[dask]' "
            "(or run without --workers/--scheduler, in this process)."
        ) from None
    return distributed


@contextmanager
def connect(
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    processes: bool = True,
) -> Iterator[Any]:
    """A ``dask.distributed.Client``, closed (with any cluster it started) on exit.

    Args:
        workers: start a LocalCluster of this many workers, one thread each (processes by
            default, so NumPy and Python run in parallel); None uses one per core.
        scheduler: the address of an existing scheduler (``tcp://host:8786``) instead.
        client: an existing Client to use as it is (not closed on exit).
        processes: LocalCluster workers as processes (True) or threads in this process.

    Example:
        >>> with connect(workers=2, processes=False) as client:  # doctest: +SKIP
        ...     print(len(client.scheduler_info()["workers"]))
        2
    """
    if client is not None:
        yield client
        return
    distributed = _import_distributed()
    if scheduler is not None:
        if workers is not None:
            raise ValueError("Give --workers (a local cluster) or --scheduler, not both.")
        with distributed.Client(scheduler) as remote:
            yield remote
        return
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a whole number >= 1. Received: {workers!r}.")
    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
            # No dashboard; the scheduler's small HTTP server (metrics) on any free port, not
            # on 8787, which another cluster of this machine may hold.
            scheduler_kwargs={"dashboard_address": ":0"},
            # A failing task's error reaches the caller, which reports it once: the
            # workers' own log lines about it would repeat it (and a traceback) on stderr.
            silence_logs=50,
        ) as cluster,
        distributed.Client(cluster) as local,
    ):
        yield local


def worker_addresses(client: Any) -> list[str]:
    """The workers' addresses, sorted (a stable rank for each)."""
    return sorted(client.scheduler_info()["workers"])
