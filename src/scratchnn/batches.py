"""The batch-source protocol: how ``fit``, ``predict`` and ``evaluate`` read data that is not
one array in memory (blocks of rows in, mini-batches out, shuffled in bounded memory).

The training loop and the model own this protocol; the sources in :mod:`scratchnn.streaming`
(memory-mapped files, Dask, Parquet, generators) implement it, so the core never imports them.

A :class:`BatchSource` only knows how to read its *blocks* (contiguous pieces of rows: a slice
of a memory-mapped file, a Dask chunk, a Parquet row group, one item of a generator). Turning
blocks into training batches is the same for all of them, and lives here:

- **Shuffling by blocks.** Each epoch the blocks are read in a new random order (when the
  source can reorder them; a generator cannot).
- **A bounded shuffle buffer** (the trade-off of ``tf.data``'s ``shuffle(buffer_size)``): the
  stream is cut into windows of ``shuffle_buffer`` rows; each window is copied into the
  buffer and emitted in a random order, ``batch`` rows at a time. A buffer as large as the
  data set is a full shuffle; a buffer of one block only mixes the rows of neighbouring
  blocks. Memory is the buffer, not the data.

Nothing here imports anything but NumPy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

#: Default rows of a block read at once: about this many bytes per block.
BLOCK_BYTES = 8 << 20
#: Default size of the shuffle buffer: about this many bytes of rows.
BUFFER_BYTES = 64 << 20

#: One piece of data: ``(X, y, w)``; ``y`` and ``w`` may be None.
Piece = tuple[Any, Any, Any]
#: Samples per forward pass in predict/evaluate: bounds memory, and is large enough for BLAS.
PREDICT_BATCH = 4096


def is_batch_source(X: Any) -> bool:
    """Whether ``X`` is a :class:`BatchSource` (read batch by batch)."""
    return isinstance(X, BatchSource)


def refused(error: Exception, what: str) -> Exception:
    """``error`` (a ValueError or TypeError about one batch) with ``what`` said first."""
    kind = TypeError if isinstance(error, TypeError) else ValueError
    return kind(f"{what} was refused: {error}")


def predict_source(
    model: Any, source: BatchSource, batch_size: int | None = None, out: Any = None
) -> np.ndarray:
    """The model's outputs for every sample of ``source``, in order, read batch by batch.

    Args:
        model: a built :class:`~scratchnn.Sequential`.
        source: the inputs (targets, if any, are ignored).
        batch_size: samples per forward pass (default ``PREDICT_BATCH``).
        out: where to write, e.g. a ``numpy.memmap`` of shape ``(n_samples, *output_shape)``
            when even the outputs do not fit in memory; None returns a new array.

    Returns:
        The outputs (``out`` when given), after the model's ``target_transform`` as in
        :meth:`Sequential.predict`.
    """
    batch = batch_size or PREDICT_BATCH
    pieces, start = [], 0
    for b, (x, _, _) in enumerate(source.batches(batch, None), start=1):
        try:
            x = model.encode_inputs(x)
        except (ValueError, TypeError) as error:
            raise refused(error, f"Batch {b} of {source.describe()}") from None
        result = model.forward(x)
        if model.target_transform is not None:
            result = model.target_transform.inverse_transform(result)
        if out is not None:
            out[start : start + len(result)] = result
        else:
            pieces.append(result.copy())
        start += len(result)
    if out is not None:
        return out
    if not pieces:
        raise ValueError(f"{source.describe()} holds no rows.")
    return np.concatenate(pieces)


def rows_in(nbytes: int, row_bytes: int) -> int:
    """How many rows of ``row_bytes`` fit in ``nbytes`` (at least 1)."""
    return max(1, nbytes // max(1, row_bytes))


class BatchSource:
    """A data set read piece by piece, for :meth:`Sequential.fit` and friends.

    Subclasses implement :meth:`blocks`; this class turns blocks into batches.

    Args:
        shuffle_buffer: rows held in the shuffle buffer (see the module's notes); None
            (default) takes about 64 MiB of rows. Used only when ``fit(shuffle=True)``.

    Attributes:
        n_samples: the number of rows, or None when it is not known in advance (a
            generator): progress then shows a count without a total.
        shuffles_blocks: whether :meth:`blocks` can read the blocks in a random order.
    """

    n_samples: int | None = None
    shuffles_blocks = True

    def __init__(self, shuffle_buffer: int | None = None) -> None:
        if shuffle_buffer is not None and (
            isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, int)
        ):
            raise TypeError(
                "shuffle_buffer must be a whole number of rows or None; received "
                f"{shuffle_buffer!r}."
            )
        if shuffle_buffer is not None and shuffle_buffer < 1:
            raise ValueError(
                f"shuffle_buffer must be >= 1 row. Received: shuffle_buffer={shuffle_buffer!r}."
            )
        self.shuffle_buffer = shuffle_buffer

    def blocks(self, rng: np.random.Generator | None) -> Iterator[Piece]:
        """Yield the data as ``(X, y, w)`` pieces, in a random block order drawn from ``rng``
        (or in the stored order when ``rng`` is None)."""
        raise NotImplementedError

    def first_nonfinite_row(self) -> int | None:
        """The position in the stored data of the first row holding NaN or infinity, where the
        source can find it (a file it can read again); None otherwise. Asked only to name the
        row after a batch was refused, so it may read the whole source."""
        return None

    def describe(self) -> str:
        """A short description for messages, e.g. ``"data.npy (1,000,000 rows)"``."""
        rows = "unknown number of rows" if self.n_samples is None else f"{self.n_samples:,} rows"
        return f"{type(self).__name__} ({rows})"

    def batches(self, batch: int | None, rng: np.random.Generator | None = None) -> Iterator[Piece]:
        """The data as ``(X, y, w)`` batches of ``batch`` rows (the last may be smaller).

        Args:
            batch: rows per batch; None yields the blocks as they are.
            rng: shuffles (block order and shuffle buffer) when given; in order when None.
        """
        pieces = self.blocks(rng if self.shuffles_blocks else None)
        if rng is None:
            yield from pieces if batch is None else _rebatch(_Rows(pieces), batch)
            return
        rows = _Rows(pieces)
        first = rows.peek_row_bytes()
        if first is None:
            return
        capacity = self.shuffle_buffer or rows_in(BUFFER_BYTES, first)
        yield from shuffle_buffer(rows, capacity, batch, rng)

    def __repr__(self) -> str:
        return self.describe()


class _Rows:
    """A FIFO of rows over a stream of pieces: ``take(k)`` returns the next ``k`` rows (fewer
    at the end), as views of one piece where possible."""

    def __init__(self, pieces: Iterator[Piece]) -> None:
        self.pieces = iter(pieces)
        self.current: Piece | None = None
        self.offset = 0

    def _advance(self) -> bool:
        while self.current is None or self.offset >= len(self.current[0]):
            nxt = next(self.pieces, None)
            if nxt is None:
                self.current = None
                return False
            self.current, self.offset = nxt, 0
        return True

    def peek_row_bytes(self) -> int | None:
        """Bytes of one row of X and y in the first piece (None if the stream is empty)."""
        if not self._advance():
            return None
        x, y, _ = self.current
        row = np.asarray(x[:1]).nbytes
        return row + (0 if y is None else np.asarray(y[:1]).nbytes)

    def take(self, k: int) -> Piece | None:
        parts: list[Piece] = []
        wanted = k
        while wanted > 0 and self._advance():
            x, y, w = self.current
            stop = min(self.offset + wanted, len(x))
            rows = slice(self.offset, stop)
            parts.append((x[rows], None if y is None else y[rows], None if w is None else w[rows]))
            wanted -= stop - self.offset
            self.offset = stop
            if wanted > 0:  # copy before the next piece is read, which may release this one
                parts[-1] = tuple(None if a is None else np.array(a) for a in parts[-1])
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return tuple(_concatenate([part[i] for part in parts]) for i in range(3))  # type: ignore[return-value]

    def fill(self, buffer: Piece) -> int:
        """Write the next rows into ``buffer`` from its first row on, straight from each piece
        (contiguous copies, no intermediate array); returns how many rows there were (fewer
        than the buffer holds at the end of the stream)."""
        done, capacity = 0, len(buffer[0])
        while done < capacity and self._advance():
            stop = min(self.offset + capacity - done, len(self.current[0]))
            rows, count = slice(self.offset, stop), stop - self.offset
            for target, source in zip(buffer, self.current, strict=True):
                if target is not None:
                    if source is None:
                        raise ValueError(
                            "Some pieces of the data have targets (or weights) and some do not."
                        )
                    target[done : done + count] = source[rows]
            done += count
            self.offset = stop
        return done


def _concatenate(arrays: list[Any]) -> Any:
    if arrays[0] is None:
        if any(a is not None for a in arrays):
            raise ValueError("Some pieces of the data have targets (or weights) and some do not.")
        return None
    return np.concatenate([np.asarray(a) for a in arrays])


def _rebatch(rows: _Rows, batch: int) -> Iterator[Piece]:
    while (piece := rows.take(batch)) is not None:
        yield piece


def _pick(piece: Piece, index: Any) -> Piece:
    return tuple(None if a is None else a[index] for a in piece)  # type: ignore[return-value]


def shuffle_buffer(
    rows: _Rows, capacity: int, batch: int | None, rng: np.random.Generator
) -> Iterator[Piece]:
    """Batches of ``batch`` rows, shuffled within consecutive windows of ``capacity`` rows.

    The buffer takes the next ``capacity`` rows of the stream (one contiguous copy); they are
    emitted in the order of a random permutation, ``batch`` at a time (each batch gathered,
    which copies it), and the buffer is refilled with the next window. A batch that the end of
    a window leaves short is completed from the start of the next one. So the row at stream
    position ``i`` comes out at a position in its own window, ``[i // capacity · capacity,
    (i // capacity + 1) · capacity)``: never more than ``capacity`` places from where it was.
    ``batch=None`` uses the size of the first piece.

    (A ``tf.data``-style buffer that replaces each drawn row with the next one has the same
    memory bound; filling whole windows at once copies rows contiguously rather than into
    scattered places, which made the streamed epoch 10-20% slower.)
    """
    if not rows._advance():
        return
    if batch is None:  # the size of the pieces as they come
        batch = len(rows.current[0]) - rows.offset
    capacity = max(capacity, batch)
    first = rows.take(capacity)
    buffer = tuple(None if a is None else np.array(a, copy=True) for a in first)
    filled = len(buffer[0])
    carry: Piece | None = None  # the short end of the previous window's last batch
    while filled:
        order = rng.permutation(filled)
        start = 0
        if carry is not None:
            start = min(batch - len(carry[0]), filled)
            head = _pick(buffer, order[:start])
            carry = tuple(_concatenate([a, b]) for a, b in zip(carry, head, strict=True))
            if len(carry[0]) == batch:
                yield carry
                carry = None
        while start + batch <= filled:
            yield _pick(buffer, order[start : start + batch])
            start += batch
        if start < filled:  # (then the carry, if any, was completed above)
            carry = _pick(buffer, order[start:])
        filled = rows.fill(buffer) if filled == len(buffer[0]) else 0
    if carry is not None:
        yield carry
