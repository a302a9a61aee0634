"""A Dask client for the work at hand: a LocalCluster started for it, or an existing cluster;
and what to say when the cluster is lost under the work (:class:`ClusterLostError`)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ScratchnnError

#: What a cluster can lose for good: the reasons :class:`ClusterLostError` names.
WORKERS_LOST, SCHEDULER_LOST, CLUSTER_CLOSED = "workers lost", "scheduler lost", "cluster closed"

#: Seconds without a single worker after which the work is given up, when neither the call nor
#: Dask's ``distributed.scheduler.no-workers-timeout`` says otherwise. Long enough for a nanny
#: to restart a killed worker on a busy machine.
DEFAULT_NO_WORKERS_TIMEOUT = 20.0


class ClusterLostError(ScratchnnError, RuntimeError):
    """The Dask cluster lost, for good, what the work needed: every worker, the scheduler, or
    the whole cluster (closed under the work). The message says which, and what was kept.

    Attributes:
        reason: ``"workers lost"``, ``"scheduler lost"`` or ``"cluster closed"``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


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
        # A lost scheduler is reported by the work's own error; Dask's log lines about it
        # (reconnecting, giving up) would repeat it on stderr, with tracebacks, as the
        # LocalCluster's silence_logs below keeps its workers' lines off it.
        with _quiet_dask_logs():
            remote = distributed.Client(scheduler)
            try:
                yield remote
            finally:
                lost = what_was_lost(remote) is not None
                remote.close()
                if lost:  # its event loop logs the broken connection's end just after close
                    time.sleep(0.5)
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


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """The handlers of Dask's loggers (``distributed`` and those of its modules that have
    their own, such as ``distributed.client``) raised to CRITICAL meanwhile, as LocalCluster's
    ``silence_logs`` does for ``distributed``'s."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] == "distributed"]
    handlers = {h for n in names for h in logging.getLogger(n).handlers}
    levels = {handler: handler.level for handler in handlers}
    for handler in handlers:
        handler.setLevel(max(handler.level, logging.CRITICAL))
    try:
        yield
    finally:
        for handler, level in levels.items():
            handler.setLevel(level)


def no_workers_timeout(seconds: float | None = None) -> float:
    """How long the work waits with no worker at all before it is given up: ``seconds``, else
    Dask's ``distributed.scheduler.no-workers-timeout`` when set, else 20 s."""
    if seconds is not None:
        if isinstance(seconds, bool) or not seconds > 0:
            raise ValueError(
                f"no_workers_timeout must be a number of seconds > 0. Received: {seconds!r}."
            )
        return float(seconds)
    _import_distributed()  # the clear message when Dask is not installed
    import dask.config
    from dask.utils import parse_timedelta

    configured = dask.config.get("distributed.scheduler.no-workers-timeout", None)
    if configured is None:
        return DEFAULT_NO_WORKERS_TIMEOUT
    return float(parse_timedelta(configured, default="s"))


def what_was_lost(client: Any, error: BaseException | None = None) -> str | None:
    """What the cluster behind ``client`` lost for good (one of the reasons above), judged
    from the client's state and ``error`` (a failed call or future); None while the scheduler
    is still connected and ``error`` says nothing about it."""
    if getattr(error, "reason", None) == "scheduler-connection-lost":
        return SCHEDULER_LOST
    cluster = getattr(client, "cluster", None)
    if cluster is not None and str(getattr(cluster, "status", "")).endswith(("closing", "closed")):
        return CLUSTER_CLOSED
    status = str(getattr(client, "status", "running"))
    if status in ("closing", "closed"):
        return CLUSTER_CLOSED
    if status != "running":  # "connecting": the scheduler's connection broke
        return SCHEDULER_LOST
    if error is not None and type(error).__name__ in ("NoWorkerError", "NoValidWorkerError"):
        return WORKERS_LOST  # the scheduler's own no-workers-timeout
    return None


def count_workers(client: Any) -> int | None:
    """How many workers the scheduler has now; None when it cannot be asked (lost)."""
    addresses = _ask_for_workers(client)
    return None if addresses is None else len(addresses)


def wait_for_a_worker(client: Any, timeout: float) -> list[str] | None:
    """The workers' addresses as soon as there is one, waiting up to ``timeout`` seconds
    (a nanny restarting a killed worker); [] when none came, None when the scheduler was
    lost meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        addresses = _ask_for_workers(client)
        if not addresses and addresses is not None and time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        return addresses


#: Seconds the scheduler has to say which workers it has before it counts as lost.
_ANSWER_WITHIN = 10.0


def _ask_for_workers(client: Any) -> list[str] | None:
    """The workers' addresses, sorted, or None when the scheduler is lost or does not answer
    within ``_ANSWER_WITHIN`` seconds (the client may not have seen its connection break
    yet, and a question to a dead scheduler waits for Dask's 30 s connect timeout)."""
    if what_was_lost(client) is not None:
        return None
    answer: dict[str, Any] = {}

    def ask() -> None:
        with contextlib.suppress(Exception):  # OSError, CommClosedError, ...: it is gone
            answer["workers"] = sorted(client.nthreads())  # (lighter than scheduler_info)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    deadline = time.monotonic() + _ANSWER_WITHIN
    while asking.is_alive() and time.monotonic() < deadline:
        if what_was_lost(client) is not None:
            return None
        asking.join(0.05)
    if what_was_lost(client) is not None:
        return None
    return answer.get("workers")
