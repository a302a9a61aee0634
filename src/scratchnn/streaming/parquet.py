"""Rows of Parquet files, one row group at a time (needs ``pyarrow``: ``pip install
scratchnn[parquet]``; imported only when a ParquetSource is made)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..batches import BatchSource, Piece
from ..errors import DataFileError


class ParquetSource(BatchSource):
    """A Parquet file, or a folder of them, read one row group at a time.

    The row groups are the blocks: each epoch reads them in a new random order (when
    shuffling), so write the files with row groups of a few MiB for a good mix
    (``pyarrow.parquet.write_table(..., row_group_size=...)``).

    Every file's footer and schema are checked when the source is made (each file must hold
    the columns, as numbers); a row group is checked as it is read: its page checksums, where
    the file has them (``write_table(..., write_page_checksum=True)``), and no missing values
    in the columns read. Each error names the file and the row group, and says what to do.

    Args:
        path: a ``.parquet`` file or a folder (every ``*.parquet`` file below it, sorted).
        target: the target column, or None (for ``predict``).
        features: the input columns, in order; None takes every other column.
        weight: a column of sample weights, or None.
        shuffle_buffer: rows in the shuffle buffer; None takes about 64 MiB.

    Raises:
        ValueError: no Parquet files, a named column that is missing, or a column that does
            not hold numbers.
        DataFileError: (a ``ValueError``) a file that is not Parquet or is damaged (when the
            source is made, or when the row group is read), or a file of the folder that
            lacks a column the first file has.
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
        self.names = files
        self.files = [_open(pq, name, path) for name in files]
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
        for index in range(len(self.files)):
            self._check_schema(index)
        self.groups = [(f, g) for f, pf in enumerate(self.files) for g in range(pf.num_row_groups)]
        self.n_samples = sum(pf.metadata.num_rows for pf in self.files)

    def _wanted(self) -> list[str]:
        return [*self.features, *(c for c in (self.target, self.weight) if c is not None)]

    def _check_schema(self, index: int) -> None:
        """File ``index`` holds every column read, each of numbers (its footer says so)."""
        import pyarrow as pa

        name, schema = self.names[index], self.files[index].schema_arrow
        groups = self.files[index].num_row_groups
        where = {0: f"{name!r} (no row groups)", 1: f"{name!r} (row group 0, its only one)"}.get(
            groups, f"{name!r} (every row group, 0 to {groups - 1})"
        )
        missing = [c for c in self._wanted() if c not in schema.names]
        if missing:
            raise DataFileError(
                f"{where} has no column {', '.join(map(repr, missing))}, which {self.names[0]!r} "
                f"has: every file of {self.path!r} needs the columns read "
                f"({', '.join(self._wanted())}). Write that file again with them, or move it out "
                "of the folder."
            )
        for column in self._wanted():
            kind = schema.field(column).type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                raise ValueError(
                    f"Column {column!r} of {where} holds {kind}, not numbers; encode it first "
                    "(or leave it out with features=[...])."
                )

    def _column(self, table: Any, name: str, where: str) -> np.ndarray:
        column = table.column(name)
        if column.null_count:
            raise ValueError(
                f"{where}: column {name!r} has {column.null_count:,} missing (null) values; "
                "fill or drop them before training (e.g. pyarrow.compute.fill_null), or leave "
                "the column out with features=[...]."
            )
        values = column.to_numpy()
        if values.dtype == object or not np.issubdtype(values.dtype, np.number):
            raise ValueError(
                f"{where}: column {name!r} holds {column.type}, not numbers; encode it first "
                "(or leave it out with features=[...])."
            )
        return values

    def blocks(self, rng: np.random.Generator | None) -> Iterator[Piece]:
        import pyarrow as pa

        order = range(len(self.groups)) if rng is None else rng.permutation(len(self.groups))
        wanted = self._wanted()
        for index in order:
            f, g = self.groups[int(index)]
            where = f"{self.names[f]!r}, row group {g} (of {self.files[f].num_row_groups})"
            try:
                table = self.files[f].read_row_group(g, columns=wanted)
            except (OSError, pa.ArrowException) as error:
                folder = ", or move it out of the folder to train without it"
                if len(self.files) == 1:
                    folder = ""
                raise DataFileError(
                    f"{where} cannot be read: {_reason(error)}. Write the file again from its "
                    f"source (or restore it from a copy){folder}."
                ) from None
            X = np.column_stack([self._column(table, c, where) for c in self.features])
            y = None if self.target is None else self._column(table, self.target, where)
            w = None if self.weight is None else self._column(table, self.weight, where)
            yield X, y, w

    def describe(self) -> str:
        return (
            f"ParquetSource({os.path.basename(self.path)}, {self.n_samples:,} rows in "
            f"{len(self.groups)} row groups)"
        )


def _open(pq: Any, name: str, path: str) -> Any:
    """The Parquet file ``name`` with page checksum verification on (a file written without
    checksums reads as before), its footer parsed: a file that is not Parquet, or is
    truncated, is refused naming it."""
    import pyarrow as pa

    try:
        return pq.ParquetFile(name, page_checksum_verification=True)
    except (FileNotFoundError, PermissionError):
        raise
    except (OSError, pa.ArrowException) as error:
        folder = " or move it out of the folder" if name != path else ""
        raise DataFileError(
            f"{name!r} is not a Parquet file, or it is truncated or damaged: {_reason(error)}. "
            f"Write it again from its source{folder}."
        ) from None


def _reason(error: Exception) -> str:
    """pyarrow's message in a line, said plainly where it is a checksum that failed."""
    text = " ".join(str(error).split()).rstrip(".")
    if "checksum" in text.lower():
        return (
            "a page's CRC checksum does not match its bytes (the file changed after it was "
            f"written; pyarrow: {text})"
        )
    return text or type(error).__name__
