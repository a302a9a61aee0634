"""Data sets larger than memory: train, predict and evaluate batch by batch.

Wrap the data in a source and pass it where the arrays would go::

    source = ArraySource("X.npy", "y.npy")            # memory-mapped, read in blocks
    model.fit(source, epochs=3, batch_size=256)       # y comes from the source
    streaming.evaluate(model, ArraySource("X_test.npy", "y_test.npy"))
    streaming.predict(model, ArraySource("X_new.npy"))

Sources:

- :class:`ArraySource`: arrays, ``numpy.memmap``, ``.npy`` files (opened with
  ``mmap_mode="r"``);
- :class:`DaskSource`: Dask arrays (``pip install scratchnn[dask]``);
- :class:`ParquetSource`: Parquet files or folders (``pip install scratchnn[parquet]``);
- :class:`IterableSource`: any iterable or generator of ``(X, y)`` batches;
- :func:`as_source` picks one for you.

Peak memory is the batch, the shuffle buffer (``shuffle_buffer`` rows, about 64 MiB by
default), one block and the model, not the data. See ``docs/scaling.md``.
"""

from __future__ import annotations

import os
from typing import Any

from ..batches import BatchSource
from ..batches import predict_source as predict
from ..streamed import evaluate
from .dask_source import DaskSource, is_dask_collection
from .parquet import ParquetSource
from .sources import ArraySource, IterableSource


def as_source(X: Any, y: Any = None, **options: Any) -> BatchSource:
    """The source for ``X`` (and ``y``): a BatchSource as it is; a Dask array → DaskSource; a
    ``.parquet`` file or a folder → ParquetSource (``y`` names the target column); an array,
    memmap or ``.npy`` path → ArraySource; a function or iterable of batches → IterableSource.

    Example:
        >>> import numpy as np
        >>> as_source(np.zeros((5, 2)), np.zeros(5)).n_samples
        5
    """
    if isinstance(X, BatchSource):
        return X
    if is_dask_collection(X):
        return DaskSource(X, y, **options)
    if isinstance(X, (str, os.PathLike)) and (
        os.fspath(X).endswith(".parquet") or os.path.isdir(X)
    ):
        return ParquetSource(X, target=y, **options)
    if isinstance(X, (str, os.PathLike)) or hasattr(X, "__array__"):
        return ArraySource(X, y, **options)
    if callable(X) or hasattr(X, "__iter__"):
        if y is not None:
            raise ValueError("An iterable of batches carries its own targets; leave y out.")
        return IterableSource(X, **options)
    raise TypeError(
        f"Cannot stream a {type(X).__name__}: pass an array, a .npy/.parquet path, a Dask "
        "array, or an iterable of (X, y) batches."
    )


__all__ = [
    "ArraySource",
    "BatchSource",
    "DaskSource",
    "IterableSource",
    "ParquetSource",
    "as_source",
    "evaluate",
    "predict",
]
