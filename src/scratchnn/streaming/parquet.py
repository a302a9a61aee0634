"""Rows of Parquet files, one row group at a time (needs ``pyarrow``: ``pip install
scratchnn[parquet]``; imported only when a ParquetSource is made)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..batches import BatchSource, Piece


class ParquetSource(BatchSource):
    """A Parquet file, or a folder of them, read one row group at a time.

    The row groups are the blocks: each epoch reads them in a new random order (when
    shuffling), so write the files with row groups of a few MiB for a good mix
    (``pyarrow.parquet.write_table(..., row_group_size=...)``).

    Args:
        path: a ``.parquet`` file or a folder (every ``*.parquet`` file below it, sorted).
        target: the target column, or None (for ``predict``).
        features: the input columns, in order; None takes every other column.
        weight: a column of sample weights, or None.
        shuffle_buffer: rows in the shuffle buffer; None takes about 64 MiB.

    Raises:
        ValueError: no Parquet files, a named column that is missing, or a column that does
            not hold numbers.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        target: str | None = None,
        features: Sequence[str] | None = None,
        weight: str | None = None,
        *,
        shuffle_buffer: int | None = None,
    ) -> None:
        import pyarrow.parquet as pq

        super().__init__(shuffle_buffer)
        path = os.fspath(path)
        if os.path.isdir(path):
            files = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(path)
                for name in names
                if name.endswith(".parquet")
            )
        else:
            files = [path]
        if not files:
            raise ValueError(f"No *.parquet files in the folder {path!r}.")
        self.path = path
        self.files = [pq.ParquetFile(name) for name in files]
        columns = self.files[0].schema_arrow.names
        for role, name in (("target", target), ("weight", weight)):
            if name is not None and name not in columns:
                raise ValueError(
                    f"{role}={name!r} is not a column of {files[0]!r}; its columns: "
                    f"{', '.join(columns)}."
                )
        if features is None:
            features = [c for c in columns if c not in (target, weight)]
        missing = [c for c in features if c not in columns]
        if missing:
            raise ValueError(
                f"features {missing!r} are not columns of {files[0]!r}; its columns: "
                f"{', '.join(columns)}."
            )
        self.features, self.target, self.weight = list(features), target, weight
        self.groups = [(f, g) for f, pf in enumerate(self.files) for g in range(pf.num_row_groups)]
        self.n_samples = sum(pf.metadata.num_rows for pf in self.files)

    def _column(self, table: Any, name: str) -> np.ndarray:
        values = table.column(name).to_numpy()
        if values.dtype == object or not np.issubdtype(values.dtype, np.number):
            raise ValueError(
                f"Column {name!r} of {self.path!r} holds {table.column(name).type}, not "
                "numbers; encode it first (or leave it out with features=[...])."
            )
        return values

    def blocks(self, rng: np.random.Generator | None) -> Iterator[Piece]:
        order = range(len(self.groups)) if rng is None else rng.permutation(len(self.groups))
        wanted = [*self.features, *(c for c in (self.target, self.weight) if c is not None)]
        for index in order:
            f, g = self.groups[int(index)]
            table = self.files[f].read_row_group(g, columns=wanted)
            X = np.column_stack([self._column(table, c) for c in self.features])
            y = None if self.target is None else self._column(table, self.target)
            w = None if self.weight is None else self._column(table, self.weight)
            yield X, y, w

    def describe(self) -> str:
        return (
            f"ParquetSource({os.path.basename(self.path)}, {self.n_samples:,} rows in "
            f"{len(self.groups)} row groups)"
        )
