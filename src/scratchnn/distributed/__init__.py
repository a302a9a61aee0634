"""Beyond one machine's cores, on Dask (``pip install scratchnn[dask]``).

- :func:`fit`: data-parallel training: every Dask worker holds a shard of the rows and a
  replica of the model; each step the workers compute gradients on their part of the global
  batch, the gradients are averaged, and every replica applies the same update. With the same
  global batches this is the same training as ``model.fit`` (float64: within 1e-10).
- :func:`map_trials`: independent trials (a search, ``compare``'s rows) as Dask tasks.
- :func:`connect`: a client for a LocalCluster of N workers or an existing scheduler.
- :class:`ClusterLostError` (and :class:`TrialsLostError`, which keeps the finished trials):
  the cluster lost every worker or its scheduler for good, or was closed under the work.

Importing this package imports nothing beyond NumPy; Dask is imported when one of these is
called. See ``docs/scaling.md``.
"""

from __future__ import annotations

from .cluster import ClusterLostError, connect
from .data_parallel import DataParallelStats, fit
from .trials import TrialsLostError, map_trials

__all__ = [
    "ClusterLostError",
    "DataParallelStats",
    "TrialsLostError",
    "connect",
    "fit",
    "map_trials",
]
