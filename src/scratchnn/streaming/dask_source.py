"""Rows of Dask arrays, read one chunk at a time (needs ``dask``: ``pip install
scratchnn[dask]``; imported only when a Dask array is given)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..batches import BatchSource, Piece


def is_dask_collection(data: Any) -> bool:
    """Whether ``data`` is a Dask array (checked without importing Dask)."""
    return type(data).__module__.startswith("dask.") and hasattr(data, "chunks")


class DaskSource(BatchSource):
    """A Dask array of inputs (and of targets and weights), one chunk of rows at a time.

    Each block is one chunk along the rows, computed when it is needed (on the active Dask
    scheduler, a ``dask.distributed`` Client included), so the data may be lazily loaded from
    files, generated, or live on a cluster. Chunks are shuffled as blocks.

    Args:
        X: a Dask array ``(n_samples, ...)``, chunked along the rows.
        y: targets: a Dask or NumPy array with ``n_samples`` rows (rechunked to X's row
            chunks), or None.
        sample_weight: the same kinds, or None.
        shuffle_buffer: rows in the shuffle buffer; None takes about 64 MiB.

    Raises:
        ValueError: unknown chunk sizes (``X.compute_chunk_sizes()`` fixes that) or lengths
            that differ.
    """

    def __init__(
        self, X: Any, y: Any = None, sample_weight: Any = None, *, shuffle_buffer: int | None = None
    ) -> None:
        import dask.array as da

        super().__init__(shuffle_buffer)
        if not is_dask_collection(X):
            raise TypeError(f"DaskSource needs a Dask array X; received {type(X).__name__}.")
        if X.ndim == 0:
            raise ValueError("X must have one row per sample; received a 0-d Dask array.")
        rows = X.chunks[0]
        if any(math.isnan(c) for c in rows):
            raise ValueError(
                "X has chunks of unknown size (e.g. after boolean indexing); call "
                "X = X.compute_chunk_sizes() first."
            )
        self.X = X
        self.n_samples = int(sum(rows))
        self.parts = [X]
        for name, array in (("y", y), ("sample_weight", sample_weight)):
            if array is None:
                self.parts.append(None)
                continue
            array = array if is_dask_collection(array) else da.from_array(np.asarray(array))
            if array.shape[0] != self.n_samples:
                raise ValueError(
                    f"X and {name} have different numbers of rows: {self.n_samples} and "
                    f"{array.shape[0]}."
                )
            self.parts.append(array.rechunk({0: rows}))

    def blocks(self, rng: np.random.Generator | None) -> Iterator[Piece]:
        import dask

        count = len(self.X.chunks[0])
        order = range(count) if rng is None else rng.permutation(count)
        for block in order:
            wanted = [part.blocks[int(block)] for part in self.parts if part is not None]
            computed = iter(dask.compute(*wanted))
            yield tuple(None if part is None else next(computed) for part in self.parts)

    def describe(self) -> str:
        return f"DaskSource({self.n_samples:,} rows in {len(self.X.chunks[0])} chunks)"
