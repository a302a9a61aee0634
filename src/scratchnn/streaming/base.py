"""What every streamed data set shares: blocks of rows in, mini-batches out, shuffled in bounded
memory.

A :class:`BatchSource` only knows how to read its *blocks* (contiguous pieces of rows: a slice
of a memory-mapped file, a Dask chunk, a Parquet row group, one item of a generator). Turning
blocks into training batches is the same for all of them, and lives here:

- **Shuffling by blocks.** Each epoch the blocks are read in a new random order (when the
  source can reorder them; a generator cannot).
- **A bounded shuffle buffer** (as ``tf.data``'s ``shuffle(buffer_size)``): the first
  ``shuffle_buffer`` rows fill a buffer; each batch is ``batch`` rows drawn at random from it,
  and the next rows of the stream take their places. At the end the rest of the buffer is
  emitted in random order. A buffer as large as the data set is a full shuffle; a buffer of
  one block only mixes rows within neighbouring blocks. Memory is the buffer, not the data.

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

    def take_into(self, buffer: Piece, places: np.ndarray) -> int:
        """Write the next ``len(places)`` rows into ``buffer[places]``, straight from each
        piece (no intermediate copy); returns how many rows there were."""
        done = 0
        while done < len(places) and self._advance():
            stop = min(self.offset + len(places) - done, len(self.current[0]))
            rows, count = slice(self.offset, stop), stop - self.offset
            for target, source in zip(buffer, self.current, strict=True):
                if target is not None:
                    if source is None:
                        raise ValueError(
                            "Some pieces of the data have targets (or weights) and some do not."
                        )
                    target[places[done : done + count]] = source[rows]
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
    """Batches drawn at random from a buffer of ``capacity`` rows refilled from ``rows``.

    Each batch is ``batch`` rows chosen without replacement among the buffer's rows; the next
    rows of the stream fill their places. When the stream ends the remaining rows are emitted
    in a random order. ``batch=None`` uses the size of the first piece.

    The places are taken in the order of a random permutation of the buffer, drawn afresh
    each time it is used up (``capacity // batch`` batches): distinct within a batch, O(1) per
    row, and a row leaves the buffer within three such cycles (at most about ``2·capacity``
    rows after the position it would have had unshuffled).
    """
    if not rows._advance():
        return
    if batch is None:  # the size of the pieces as they come
        batch = len(rows.current[0]) - rows.offset
    capacity = max(capacity, batch + 1)  # a smaller buffer could not draw a batch and refill
    buffer = tuple(None if a is None else np.array(a, copy=True) for a in rows.take(capacity))
    filled = len(buffer[0])
    places, used = rng.permutation(capacity), 0
    while filled == capacity and capacity > batch:
        if used + batch > capacity:
            places, used = rng.permutation(capacity), 0
        chosen = places[used : used + batch]
        used += batch
        yield _pick(buffer, chosen)  # fancy indexing copies: the buffer can be refilled
        arrived = rows.take_into(buffer, chosen)
        if arrived < batch:  # the stream has ended: drop the holes left
            keep = np.ones(capacity, dtype=bool)
            keep[chosen[arrived:]] = False
            buffer = _pick(buffer, keep)
            filled = int(keep.sum())
    order = rng.permutation(filled)
    for start in range(0, filled, batch):
        yield _pick(buffer, order[start : start + batch])
