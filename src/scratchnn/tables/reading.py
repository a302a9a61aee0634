"""Reading a table file as it comes: compressed or not, any common delimiter, any encoding.

:func:`read_table` returns the raw columns (numbers as float64, other columns as text; no
roles decided yet, see :mod:`scratchnn.tables.roles`) together with the notices a user
should see, e.g. that the first line looks like data rather than names. It streams the file
(:mod:`scratchnn.tables.text_source`) through the CSV parser (:mod:`scratchnn.tables.csv_columns`),
so its memory is about the columns' own. No pandas
needed: the standard library's ``csv``, ``gzip``, ``bz2``, ``lzma`` and ``zipfile`` do the
work.
"""

from __future__ import annotations

import array
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._archive import not_a_regular_file
from ..errors import DataFileError
from .csv_columns import (
    DELIMITERS,
    _MemoryCheck,
    _numbers,
    _read_decimal_commas,
    _Scan,
    _text_hash,
    decimal_comma_column,
    is_number,
    sniff_delimiter,
)
from .text_source import TABLE_FILE
from .values import MISSING_TOKENS

__all__ = [
    "DELIMITERS",
    "RawTable",
    "decimal_comma_column",
    "held_out_mask",
    "is_number",
    "read_npz_arrays",
    "read_table",
    "row_fingerprints",
    "sniff_delimiter",
]


@dataclass
class RawTable:
    """The columns of a file as read, before any role is decided.

    Attributes:
        columns: column name -> 1-D array, in file order. From a text file: a column whose
            every cell is a finite number or a missing token is float64 (NaN where missing);
            any other column is text (a NumPy unicode array, cells stripped), as written.
            ``.npz``/Parquet columns keep their own dtype.
        lines: the file line of each row (an int64 array, for messages), or None where
            lines do not apply.
        source: the file's name, for messages.
        notices: what the reader decided that a user should know (one line each).
        delimiter: the delimiter used (None for binary formats).
        decimal_commas: the columns whose numbers are written with decimal commas
            (``0,5``), found when ``read_table`` was not told the decimal mark; they are
            still text.
        fingerprints: each row's :func:`row_fingerprints` of its cells' text as written
            (``(n_rows,)`` uint64), when ``read_table`` was asked for them, else None.
    """

    columns: dict[str, np.ndarray]
    lines: np.ndarray | None
    source: str
    notices: list[str] = field(default_factory=list)
    delimiter: str | None = None
    decimal_commas: list[str] = field(default_factory=list)
    fingerprints: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def take(self, rows: np.ndarray) -> RawTable:
        """The table restricted to ``rows`` (an index or boolean array)."""
        lines = None if self.lines is None else np.asarray(self.lines)[rows]
        return RawTable(
            {name: values[rows] for name, values in self.columns.items()},
            lines,
            self.source,
            list(self.notices),
            self.delimiter,
            list(self.decimal_commas),
            None if self.fingerprints is None else self.fingerprints[rows],
        )


def read_table(
    path: str | os.PathLike,
    delimiter: str | None = None,
    encoding: str | None = None,
    header: bool | None = None,
    decimal: str | None = None,
    missing_tokens: Sequence[str] = MISSING_TOKENS,
    numbers: bool = True,
    fingerprints: bool = False,
) -> RawTable:
    """Read a ``.csv``/``.tsv``/``.txt`` file (optionally ``.gz``/``.bz2``/``.xz``/``.zip``),
    an ``.npz`` of named columns, or a ``.parquet`` file (needs pyarrow) as raw columns.

    A text file is streamed: read, decompressed, decoded and parsed a chunk at a time, each
    column of numbers kept as float64 (NaN where a cell is missing) and each other column as
    text, so the memory it takes is about the columns' own (see :class:`RawTable`).

    Args:
        path: the file.
        delimiter: the field separator; None sniffs comma, semicolon, tab or pipe.
        encoding: the text encoding; None reads UTF-8 (with or without a byte-order mark).
        header: True: the first line names the columns; False: it is data, and the columns
            are named ``col1``, ``col2``, ...; None (default): names, with a notice when every
            one of them is a number.
        decimal: the decimal mark of the numbers: ``","`` reads ``0,5`` as 0.5 (and
            ``1.234,5`` as 1234.5); ``"."`` reads them as written; None (default): as
            written, and the columns that look like decimal-comma numbers are listed in
            :attr:`RawTable.decimal_commas`.
        missing_tokens: the texts (after stripping spaces) that mean "missing" in a column of
            numbers (pandas' ``na_values``); pass the ones the table will be encoded with.
        numbers: False keeps every column as text, as written (stripped), like pandas'
            ``dtype=str``.
        fingerprints: also hash every row's cells as written (:attr:`RawTable.fingerprints`;
            a text file only), for a model's record of its held-out rows.

    Returns:
        A :class:`RawTable`.

    Raises:
        FileNotFoundError: no such file.
        DataFileError: undecodable bytes (the message names the line and suggests
            ``--encoding``), a corrupt archive, ragged rows, duplicate names, no rows, a file
            whose columns could not fit in memory.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = path.write_text("a;b\\n1;x\\nNA;NA\\n")
        >>> table = read_table(path)
        >>> table.delimiter, list(table.columns), table.columns["b"].tolist()
        (';', ['a', 'b'], ['x', 'NA'])
        >>> table.columns["a"].tolist()
        [1.0, nan]
    """
    path = Path(path)
    if decimal not in (None, ".", ","):
        raise ValueError(f"--decimal must be '.' or ','; received {decimal!r}.")
    if delimiter is not None and len(delimiter) != 1 and delimiter not in ("\\t", "tab"):
        raise ValueError(f"--delimiter must be one character (or 'tab'); received {delimiter!r}.")
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    if path.is_dir():
        raise DataFileError(f"{path} is a folder, not a table file.")
    refusal = not_a_regular_file(path, path.stat().st_mode, TABLE_FILE)
    if refusal is not None:  # checked here for .npz and .parquet too; CSV on its descriptor
        raise DataFileError(refusal)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    tokens = tuple(str(token).strip() for token in missing_tokens)
    check = _MemoryCheck(path)
    notices: list[str] = []
    scan = _Scan(path, encoding, delimiter, header, tokens, check, notices)
    scan.hashes = array.array("Q") if fingerprints else None
    columns, lines = scan.run(numbers)
    commas = [name for name, cells in columns.items() if decimal_comma_column(cells)]
    if decimal == ",":
        for name in commas:
            text = _read_decimal_commas(columns[name])
            parsed = _numbers(text, tokens) if numbers else None
            columns[name] = text if parsed is None else parsed
    table = RawTable(columns, lines, path.name, notices, scan.delimiter)
    table.decimal_commas = commas if decimal is None else []
    if scan.hashes is not None:
        table.fingerprints = np.frombuffer(scan.hashes, dtype=np.uint64)
    return table


def read_npz_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` data file, never unpickling; a file that is not one, holds
    Python objects or is damaged raises :class:`DataFileError` naming it."""
    with open(path, "rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            raise DataFileError(f"{path} is not an .npz archive (np.savez writes one).")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError:
        raise DataFileError(
            f"{path} holds Python objects (pickled data), which scratchnn does not read. "
            "Save plain numeric or string arrays with np.savez."
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataFileError(f"{path} is truncated or corrupt ({error}).") from None


def _read_npz(path: Path) -> RawTable:
    arrays = read_npz_arrays(path)
    columns: dict[str, np.ndarray] = {}
    for name, values in arrays.items():
        if name == "X" and values.ndim == 2:
            columns.update({f"x{i}": values[:, i] for i in range(values.shape[1])})
        elif values.ndim == 1:
            columns[name] = values
        else:
            raise DataFileError(f"{path}: column {name!r} is not one-dimensional.")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise DataFileError(f"{path}: the columns have different lengths.")
    if not columns or lengths == {0}:
        raise DataFileError(f"{path} holds no rows.")
    return RawTable(columns, None, path.name)


def _read_parquet(path: Path) -> RawTable:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"Reading {path.name} needs pyarrow: pip install pyarrow (or save the table as CSV)."
        ) from None
    table = pq.read_table(path)
    columns: dict[str, Any] = {}
    for name in table.column_names:
        values = table.column(name).to_numpy(zero_copy_only=False)
        columns[str(name)] = values if values.dtype != object else values.astype(object)
    return RawTable(columns, None, path.name)


def row_fingerprints(columns: dict[str, np.ndarray] | RawTable) -> np.ndarray:
    """A 64-bit fingerprint of every row: a BLAKE2b hash of its cells' text in column order.

    A model remembers the fingerprints of its held-out rows, so that ``evaluate`` on the
    training file can tell held-out rows from training rows. A :class:`RawTable` read with
    ``fingerprints=True`` has them already, of the cells as written (``1.50``, ``NA``, not
    the floats read from them); other columns are hashed as their values' text.

    Returns:
        ``(n_rows,)`` uint64.

    Example:
        >>> a = row_fingerprints({"x": np.array(["1", "2"]), "y": np.array(["a", "a"])})
        >>> b = row_fingerprints({"x": np.array(["2"]), "y": np.array(["a"])})
        >>> bool(a[1] == b[0]), bool(a[0] == a[1])
        (True, False)
    """
    if isinstance(columns, RawTable):
        if columns.fingerprints is not None:
            return columns.fingerprints
        columns = columns.columns
    texts = [np.asarray(values).astype(str) for values in columns.values()]
    n = len(texts[0]) if texts else 0
    out = np.empty(n, dtype=np.uint64)
    for i, cells in enumerate(zip(*texts, strict=True)):
        out[i] = _text_hash("\x1f".join(cells))
    return out


def held_out_mask(fingerprints: np.ndarray, held_out: np.ndarray) -> tuple[np.ndarray, int]:
    """Which rows of a file were held out from training, counted with their multiplicity.

    ``held_out`` lists the fingerprint of every held-out row, once per row (a row that
    appears 3 times in the test part is listed 3 times). Of the rows of ``fingerprints``
    that share a fingerprint, as many are held out as ``held_out`` lists (the first ones in
    file order: identical rows are interchangeable), and the others were trained on. So on
    the training file, the count is exactly the count that training held out, duplicates or
    not. (Files written before the multiplicity was kept list each fingerprint once: one row
    per distinct held-out row is held out then.)

    Args:
        fingerprints: ``(n_rows,)`` the file's :func:`row_fingerprints`.
        held_out: the fingerprints of the held-out rows, with repeats.

    Returns:
        ``(mask, copies)``: the ``(n_rows,)`` boolean mask of held-out rows, and how many of
        them have an identical row among those trained on (their scores measure memory,
        not generalization).

    Example:
        >>> f = np.array([7, 5, 7, 7, 9], dtype=np.uint64)
        >>> mask, copies = held_out_mask(f, np.array([7, 9], dtype=np.uint64))
        >>> mask.tolist(), copies
        ([True, False, False, False, True], 1)
    """
    fingerprints = np.asarray(fingerprints, dtype=np.uint64)
    values, wanted = np.unique(np.asarray(held_out, dtype=np.uint64), return_counts=True)
    order = np.argsort(fingerprints, kind="stable")
    ranked = fingerprints[order]
    starts = np.searchsorted(ranked, ranked, side="left")
    occurrence = np.arange(ranked.size) - starts  # 0 for a value's first row in file order
    at = np.minimum(np.searchsorted(values, ranked), max(values.size - 1, 0))
    known = values[at] == ranked if values.size else np.zeros(ranked.size, bool)
    allowed = np.where(known, wanted[at] if values.size else 0, 0)
    mask = np.zeros(fingerprints.size, dtype=bool)
    mask[order] = occurrence < allowed
    in_file = np.searchsorted(ranked, ranked, side="right") - starts
    trained_copies = mask[order] & (in_file > allowed)
    return mask, int(trained_copies.sum())
