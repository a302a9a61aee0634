"""Sources over NumPy: arrays and memory-mapped ``.npy`` files, and iterables of batches."""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..batches import BLOCK_BYTES, BatchSource, Piece, rows_in


def open_array(data: Any, name: str) -> np.ndarray | None:
    """``data`` as an array without reading it: a path to a ``.npy`` file is memory-mapped
    read-only (``numpy.load(path, mmap_mode="r")``); arrays and memmaps are used as they are.

    Raises:
        ValueError: the path is not a ``.npy`` file, or holds a 0-d array.
    """
    if data is None:
        return None
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not path.endswith(".npy"):
            raise ValueError(
                f"{name}: only .npy files are memory-mapped; received {path!r}. Save the array "
                "with numpy.save(path, array), or open a Parquet file with ParquetSource."
            )
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    array = data if isinstance(data, np.ndarray) else np.asarray(data)
    if array.ndim == 0:
        raise ValueError(f"{name} must have one row per sample; received a 0-d value {array!r}.")
    return array


def release_pages(view: np.ndarray) -> None:
    """Tell the kernel that this process is done with the pages of ``view`` if it lies in a
    memory-mapped file, so they leave its resident memory (they stay in the page cache, and
    are read again from there if touched). Does nothing for ordinary arrays."""
    mapping = getattr(view, "_mmap", None)  # numpy.memmap keeps its mmap.mmap here
    if not isinstance(mapping, mmap.mmap) or view.nbytes == 0 or not hasattr(mapping, "madvise"):
        return
    try:
        base = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
    except (ValueError, TypeError):  # a closed mapping
        return
    start = view.ctypes.data - base
    aligned = start - start % mmap.PAGESIZE
    length = min(view.nbytes + (start - aligned), len(mapping) - aligned)
    if 0 <= aligned < len(mapping) and length > 0:
        mapping.madvise(mmap.MADV_DONTNEED, aligned, length)


def check_mapped(view: np.ndarray) -> None:
    """Refuse ``view`` if it lies in a memory-mapped file that no longer holds all of it (the
    file was truncated while being read): touching such pages would end the process with
    SIGBUS, with no exception and nothing saved. Does nothing for ordinary arrays.

    Checked for each block before it is read; a file cut between this check and the read can
    still fault (the window is one block).

    Raises:
        ValueError: naming the file, its size now and the bytes the block needs.
    """
    mapping = getattr(view, "_mmap", None)
    filename = getattr(view, "filename", None)
    if not isinstance(mapping, mmap.mmap) or filename is None or view.nbytes == 0:
        return
    if not view.flags.c_contiguous:
        return
    try:
        base = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
    except (ValueError, TypeError):  # a closed mapping
        return
    start = int(getattr(view, "offset", 0) or 0)
    start -= start % mmap.ALLOCATIONGRANULARITY  # where the mapping begins in the file
    end = start + (view.ctypes.data - base) + view.nbytes
    try:
        size = os.stat(filename).st_size
    except OSError as error:
        raise ValueError(f"{filename} cannot be read any more ({error.strerror}).") from None
    if size < end:
        raise ValueError(
            f"{filename} was truncated while it was being read: it now holds {size:,} bytes, "
            f"but the next block of rows ends at byte {end:,}. Restore the file and train again "
            "(or resume from a checkpoint)."
        )


class ArraySource(BatchSource):
    """Rows of arrays that need not fit in memory: ``numpy.memmap``, ``.npy`` files opened
    with ``mmap_mode``, or ordinary arrays.

    The rows are read in blocks of ``block_rows`` consecutive rows (fast sequential reads);
    after a block is used its pages are released, so resident memory stays at a few blocks
    plus the shuffle buffer however large the file is.

    Args:
        X: inputs ``(n_samples, ...)``: an array, a memmap, or the path of a ``.npy`` file.
        y: targets with ``n_samples`` rows (same kinds), or None (for ``predict``).
        sample_weight: one weight per row (same kinds), or None.
        block_rows: rows per block; None takes about 8 MiB.
        shuffle_buffer: rows in the shuffle buffer; None takes about 64 MiB.

    Example:
        >>> import numpy as np, scratchnn as snn
        >>> from scratchnn.streaming import ArraySource
        >>> X = np.arange(20, dtype=np.float32).reshape(10, 2)
        >>> source = ArraySource(X, np.arange(10) % 2, block_rows=4)
        >>> [len(x) for x, y, w in source.batches(3)]
        [3, 3, 3, 1]
    """

    def __init__(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        block_rows: int | None = None,
        shuffle_buffer: int | None = None,
    ) -> None:
        super().__init__(shuffle_buffer)
        self.X = open_array(X, "X")
        self.y = open_array(y, "y")
        self.sample_weight = open_array(sample_weight, "sample_weight")
        self.n_samples = len(self.X)
        for name, array in (("y", self.y), ("sample_weight", self.sample_weight)):
            if array is not None and len(array) != self.n_samples:
                raise ValueError(
                    f"X and {name} have different numbers of rows: {self.n_samples} and "
                    f"{len(array)}."
                )
        row_bytes = self.X[:1].nbytes + (0 if self.y is None else self.y[:1].nbytes)
        if block_rows is None:
            block_rows = rows_in(BLOCK_BYTES, row_bytes)
        elif isinstance(block_rows, bool) or not isinstance(block_rows, int) or block_rows < 1:
            raise ValueError(f"block_rows must be a whole number >= 1. Received: {block_rows!r}.")
        self.block_rows = block_rows

    def blocks(self, rng: np.random.Generator | None) -> Iterator[Piece]:
        count = -(-self.n_samples // self.block_rows)
        order = range(count) if rng is None else rng.permutation(count)
        arrays = (self.X, self.y, self.sample_weight)
        for block in order:
            rows = slice(int(block) * self.block_rows, (int(block) + 1) * self.block_rows)
            piece = tuple(None if a is None else a[rows] for a in arrays)
            for view in piece:
                if view is not None:
                    check_mapped(view)
            yield piece  # type: ignore[misc]
            for view in piece:
                if view is not None:
                    release_pages(view)

    def first_nonfinite_row(self) -> int | None:
        """The index in the file (or array) of the first row whose X, y or weight is NaN or
        infinite, read block by block; None if every value is finite."""
        for start in range(0, self.n_samples, self.block_rows):
            rows = slice(start, start + self.block_rows)
            bad = np.zeros(len(self.X[rows]), dtype=bool)
            for array in (self.X, self.y, self.sample_weight):
                if array is not None and array.dtype.kind == "f":
                    block = np.asarray(array[rows])
                    bad |= ~np.isfinite(block.reshape(len(block), -1)).all(axis=1)
            if bad.any():
                return start + int(np.argmax(bad))
        return None

    def describe(self) -> str:
        where = getattr(self.X, "filename", None)
        origin = f"{os.path.basename(where)}, " if where else ""
        return f"ArraySource({origin}{self.n_samples:,} rows, blocks of {self.block_rows:,})"


class IterableSource(BatchSource):
    """Batches from any iterable or generator of ``(X, y)`` or ``(X, y, sample_weight)``
    tuples (or bare ``X`` arrays, for ``predict``).

    Args:
        batches: a function returning a fresh iterable (called once per epoch), an iterable
            that can be iterated again (a list, a ``torch`` data loader, ...), or a one-shot
            iterator/generator (one epoch only).
        shuffle_buffer: rows in the shuffle buffer (the stream's order cannot be changed, so
            this buffer is the only shuffling); None takes about 64 MiB.

    The number of rows is not known in advance (progress shows a count without a total).

    Example:
        >>> import numpy as np
        >>> from scratchnn.streaming import IterableSource
        >>> def chunks():
        ...     for i in range(3):
        ...         yield np.full((4, 2), i, dtype=np.float32), np.full(4, i % 2)
        >>> [len(x) for x, y, w in IterableSource(chunks).batches(5)]
        [5, 5, 2]
    """

    shuffles_blocks = False

    def __init__(
        self,
        batches: Callable[[], Iterable[Any]] | Iterable[Any],
        *,
        shuffle_buffer: int | None = None,
    ) -> None:
        super().__init__(shuffle_buffer)
        if not callable(batches) and not isinstance(batches, Iterable):
            raise TypeError(
                "IterableSource needs an iterable of (X, y) batches or a function returning "
                f"one; received {type(batches).__name__}."
            )
        self.source = batches
        self._used = False

    def _iterate(self) -> Iterator[Any]:
        if callable(self.source) and not isinstance(self.source, Iterable):
            return iter(self.source())
        if isinstance(self.source, Iterator):
            if self._used:
                raise ValueError(
                    "This IterableSource wraps a one-shot iterator (e.g. a generator), which "
                    "was used up by the previous epoch. Pass the generator *function* instead "
                    "(IterableSource(make_batches), not IterableSource(make_batches())), so "
                    "each epoch can start a new one."
                )
            self._used = True
        return iter(self.source)

    def blocks(self, rng: np.random.Generator | None) -> Iterator[Piece]:
        for position, item in enumerate(self._iterate()):
            if isinstance(item, (tuple, list)) and len(item) in (1, 2, 3):
                parts = [np.asarray(part) if part is not None else None for part in item]
                parts += [None] * (3 - len(parts))
            elif isinstance(item, np.ndarray):
                parts = [item, None, None]
            else:
                raise TypeError(
                    f"Item {position} of the batches is {type(item).__name__}; each item must "
                    "be (X, y), (X, y, sample_weight) or an array X."
                )
            if parts[0].ndim == 0:
                raise ValueError(f"Item {position} of the batches has a 0-d X; X needs rows.")
            yield tuple(parts)  # type: ignore[misc]

    def describe(self) -> str:
        return f"IterableSource({getattr(self.source, '__name__', type(self.source).__name__)})"
