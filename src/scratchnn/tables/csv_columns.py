"""The CSV parser of :func:`scratchnn.tables.read_table`: a table file's text (streamed by
:mod:`scratchnn.tables.text_source`) into columns, a batch of rows at a time.

Each column whose every cell is a finite number or a missing token becomes float64 (NaN where
missing), any other column a NumPy text array of its stripped cells; the delimiter is
sniffed, the header checked, every row's width checked, and a table whose columns could not
fit in memory refused once its first rows show what its columns take.
"""

from __future__ import annotations

import array
import collections
import csv
import hashlib
import io
import itertools
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFileError
from .text_source import TextSource
from .values import MISSING_TOKENS

#: Delimiters tried by the sniffer, most common first.
DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: How much of a file the delimiter sniffer reads.
_SNIFF_CHARS = 65536
#: Bytes of memory a cell takes in the columns: a number (float64), a character of text.
_NUMBER_BYTES, _CHAR_BYTES = 8, 4


def _physical_memory() -> float:
    """Bytes of RAM on this machine (infinite where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return float("inf")


def _bytes(n: float) -> str:
    """``n`` bytes in GiB, or MiB below one GiB."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


class _MemoryCheck:
    """Refuses a table whose columns could not fit in memory, as soon as that is known: the
    columns' bytes per byte of text are estimated from the first rows (:meth:`estimate`:
    8 bytes a number, 4 a character of text), then applied to the file's size (or, for a
    compressed file, to the text decompressed so far, checked after every chunk)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source: TextSource | None = None
        self.per_byte: float | None = None

    def estimate(self, rows: list[list[str]], tokens: tuple[str, ...]) -> None:
        """Bytes of columns per byte of text, from ``rows`` (the first rows of the file)."""
        source = self.source
        if source is None or not rows or source.text_chars == 0:
            return
        chars = sum(len(cell) + 1 for row in rows for cell in row)
        need = 0
        for cells in itertools.zip_longest(*rows, fillvalue=""):
            texts = [cell.strip() for cell in cells]
            if all(t in tokens or _finite(t) for t in texts):
                need += _NUMBER_BYTES * len(texts)
            else:
                need += _CHAR_BYTES * max(map(len, texts)) * len(texts)
        self.per_byte = need / chars * source.text_chars / max(source.text_bytes, 1)
        self()

    def __call__(self) -> None:
        source = self.source
        if self.per_byte is None or source is None:
            return
        size = source.text_bytes if source.compressed else source.size
        need, memory = self.per_byte * size, _physical_memory()
        if need > memory:
            what = " once decompressed (read so far)" if source.compressed else ""
            raise DataFileError(
                f"{self.path} is {_bytes(size)} of text{what}; reading it as columns takes "
                f"about {_bytes(need)} of memory ({_NUMBER_BYTES} bytes a number, "
                f"{_CHAR_BYTES} a character of text), more than this machine's "
                f"{_bytes(memory)}. Read it in parts with scratchnn.streaming (see 'Beyond "
                "one machine' in the documentation), or use a sample."
            )


def _finite(text: str) -> bool:
    """Whether ``text`` is a finite number."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def sniff_delimiter(text: str) -> str:
    """The delimiter among :data:`DELIMITERS` that splits the first lines most consistently.

    A delimiter scores when it gives every one of the first 50 lines the same number (> 1) of
    fields; among those the one giving most fields wins. Comma when none does.

    Example:
        >>> sniff_delimiter("a;b;c\\n1;2,5;3\\n")
        ';'
        >>> sniff_delimiter("x\\ty\\n1\\t2\\n")
        '\\t'
    """
    return _sniff(text[:_SNIFF_CHARS], len(text) > _SNIFF_CHARS)


def _sniff(sample: str, cut: bool) -> str:
    """:func:`sniff_delimiter` of the first text of a file (``cut``: more text follows)."""
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        # records, not lines: a quoted cell may hold a line break
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        try:
            rows = [row for row in itertools.islice(reader, 51) if any(c.strip() for c in row)]
        except csv.Error:
            continue
        if cut and len(rows) > 1:
            rows = rows[:-1]  # the sample may end inside the last record
        counts = {len(row) for row in rows[:50]}
        if len(counts) == 1:
            fields = counts.pop()
            if fields > best_fields:
                best, best_fields = delimiter, fields
    return best


def is_number(text: str) -> bool:
    """Whether ``float(text)`` succeeds (NaN and infinity included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


_DECIMAL_COMMA = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+),\d+(?:[eE][+-]?\d+)?")


def decimal_comma_column(cells: np.ndarray) -> bool:
    """Whether a text column holds numbers written with a decimal comma: at least one cell
    like ``0,5`` or ``1.234,5``, and every other cell a number or empty.

    Example:
        >>> decimal_comma_column(np.array(["0,5", "12", "", "1.234,75"]))
        True
        >>> decimal_comma_column(np.array(["0,5", "red"]))
        False
    """
    cells = np.asarray(cells)
    if cells.dtype.kind != "U" or not (np.char.find(cells, ",") >= 0).any():
        return False
    found = False
    for cell in np.unique(cells).tolist():
        if _DECIMAL_COMMA.fullmatch(cell):
            found = True
        elif cell and not is_number(cell) and cell not in MISSING_TOKENS:
            return False
    return found


def _read_decimal_commas(cells: np.ndarray) -> np.ndarray:
    """``0,5`` as ``0.5`` and ``1.234,5`` as ``1234.5``; other cells unchanged."""
    unique, inverse = np.unique(cells, return_inverse=True)
    converted = [
        cell.replace(".", "").replace(",", ".") if _DECIMAL_COMMA.fullmatch(cell) else cell
        for cell in unique.tolist()
    ]
    return np.array(converted, dtype=str)[inverse.reshape(-1)]


#: Cells parsed into Python strings before they are packed into column arrays: the Python
#: objects (~60 bytes a cell) exist for one batch at a time, never for the whole file.
_BATCH_CELLS = 2**14
#: Rows in a batch at least (a table of thousands of columns: not one array per cell).
_MIN_BATCH_ROWS = 64


class _Scan:
    """One pass of the CSV parser over a file's text (see :meth:`run`)."""

    def __init__(
        self,
        path: Path,
        encoding: str | None,
        delimiter: str | None,
        header: bool | None,
        tokens: tuple[str, ...],
        check: _MemoryCheck,
        notices: list[str],
    ) -> None:
        self.path, self.encoding, self.header, self.tokens = path, encoding, header, tokens
        self.check, self.notices = check, notices
        self.delimiter = (
            None if delimiter is None else "\t" if delimiter in ("\\t", "tab") else delimiter
        )
        self.hashes: array.array | None = None  # the rows' fingerprints, when asked for

    def run(self, numbers: bool) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``(columns, line of each row)``: a first pass reads every column that
        holds numbers only (or missing tokens) as float64 and the others as text; a column
        found to hold text after its first numbers is read again, as text, in a second pass
        over the file (the numbers of its first rows are not kept)."""
        names, lines, columns, flipped = self._pass(None, numbers)
        if flipped:
            again = ["text" if j in flipped else "skip" for j in range(len(names))]
            _, lines_again, text_columns, _ = self._pass(again, numbers)
            if not np.array_equal(lines_again, lines):
                raise DataFileError(
                    f"{self.path} changed while it was read (its rows differ between the two "
                    "passes that a column of numbers and then text needs); read it again."
                )
            columns.update(text_columns)
        return {name: columns[j] for j, name in enumerate(names)}, lines

    def _pass(
        self, kinds: list[str] | None, numbers: bool
    ) -> tuple[list[str], np.ndarray, dict[int, np.ndarray], set[int]]:
        source = TextSource(self.path, self.encoding, self.check)
        self.check.source = source
        pieces = source.pieces()
        head: list[str] = []  # the first text, for the sniffer and the memory estimate
        chars = 0
        for piece in pieces:
            head.append(piece)
            chars += len(piece)
            if chars >= _SNIFF_CHARS:
                break
        sample = "".join(head)
        cut = chars >= _SNIFF_CHARS
        if self.delimiter is None:
            self.delimiter = _sniff(sample[:_SNIFF_CHARS], cut)
        delimiter = self.delimiter
        if kinds is None and delimiter != ",":
            self.notices.append(
                f"Read {self.path.name} as {_NAMES.get(delimiter, repr(delimiter))}-separated."
            )
        rows = _sample_rows(sample, delimiter, cut)
        if kinds is None:
            body = rows if self.header is False or len(rows) < 2 else rows[1:]  # no names
            self.check.estimate(body, self.tokens)
        self.rows_hint = _rows_hint(source, len(rows), chars, cut)
        lines = itertools.chain.from_iterable(
            io.StringIO(piece, newline="") for piece in itertools.chain(head, pieces)
        )
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            return self._rows(reader, kinds, numbers)
        except csv.Error as error:
            if "field limit" in str(error):
                raise DataFileError(
                    f"{self.path}, line {reader.line_num}: a field is longer than "
                    f"{csv.field_size_limit():,} characters; is it really a CSV file (one row "
                    "per line, fields separated by commas)?"
                ) from None
            raise DataFileError(f"{self.path}, line {reader.line_num}: {error}.") from None

    def _rows(
        self, reader: Any, kinds: list[str] | None, numbers: bool
    ) -> tuple[list[str], np.ndarray, dict[int, np.ndarray], set[int]]:
        """The header checked as soon as it is read, every row's width checked, and the
        cells packed into column arrays a batch of rows at a time (:class:`_Columns`)."""
        path = self.path
        notices = self.notices if kinds is None else []  # said once, by the first pass
        hashes = self.hashes if kinds is None else None
        try:
            return self._read_rows(reader, kinds, numbers, notices, hashes)
        except MemoryError:
            raise DataFileError(
                f"{path}: memory ran out at line {reader.line_num:,} "
                "(other programs may hold the rest). Read it in parts with scratchnn.streaming "
                "(see 'Beyond one machine' in the documentation), or use a sample."
            ) from None

    def _read_rows(
        self,
        reader: Any,
        kinds: list[str] | None,
        numbers: bool,
        notices: list[str],
        hashes: array.array | None,
    ) -> tuple[list[str], np.ndarray, dict[int, np.ndarray], set[int]]:
        path, delimiter = self.path, self.delimiter
        names: list[str] | None = None
        width = 0
        body_lines = array.array("q")
        batch: list[list[str]] = []
        columns: _Columns | None = None
        rows_per_batch = 1
        for row in reader:
            if len(row) == width > 1:  # the common row: complete, after the header
                batch.append(row)
                body_lines.append(reader.line_num)
                if len(batch) >= rows_per_batch:
                    columns.add(batch)  # type: ignore[union-attr]  # set with the header
                    if hashes is not None:
                        hashes.extend(map(_row_hash, batch))
                    batch.clear()
                continue
            if not (len(row) > 1 or (row and row[0].strip())):  # skip blank lines
                continue
            if names is None:
                width = len(row)
                if kinds is None:
                    kinds = ["number" if numbers else "text"] * width
                columns = _Columns(kinds, self.tokens, self.rows_hint)
                rows_per_batch = max(_MIN_BATCH_ROWS, _BATCH_CELLS // max(width, 1))
                if self.header is False:
                    names = [f"col{i + 1}" for i in range(width)]
                else:
                    names = _header_names(row, path, self.header, notices)
                    continue
            if len(row) != width:
                raise DataFileError(
                    f"{path}, line {reader.line_num}: {len(row)} value{'s' * (len(row) != 1)}, "
                    f"but the header has {width} column{'s' * (width != 1)} "
                    f"(read as {_NAMES.get(delimiter, repr(delimiter))}-separated; pass "
                    "--delimiter if that is wrong)."
                )
            batch.append(row)
            body_lines.append(reader.line_num)
            if len(batch) >= rows_per_batch:
                columns.add(batch)
                if hashes is not None:
                    hashes.extend(map(_row_hash, batch))
                batch.clear()
        if names is None or columns is None:
            raise DataFileError(f"{path} is empty: no header and no rows.")
        if batch:
            columns.add(batch)
            if hashes is not None:
                hashes.extend(map(_row_hash, batch))
        if not body_lines:
            raise DataFileError(
                f"{path} has no data rows (a header row and at least one row needed)."
            )
        return names, np.frombuffer(body_lines, dtype=np.int64), columns.finish(), columns.flipped


class _Columns:
    """The columns of a file as its batches of rows come: each ``"number"`` column parsed
    to float64 a batch at a time (NaN where missing), each ``"text"`` column as stripped
    text (as wide as its longest cell so far), ``"skip"`` columns not kept. A number column
    whose batch holds text becomes ``"skip"`` and is listed in :attr:`flipped` (to be read
    again as text).

    Each column is written into one array allocated for ``capacity`` rows (the rows the file
    is estimated to hold): pages the rows never reach are never touched, so they take no
    memory, and the batches are never copied again; a column grows by half when the estimate
    was short (or when a text column meets a longer cell), one column at a time."""

    def __init__(self, kinds: list[str], tokens: tuple[str, ...], capacity: int) -> None:
        self.kinds = list(kinds)
        self.tokens = tokens
        self.numeric_tokens = [t for t in tokens if _finite(t)]
        self.capacity = max(int(capacity), _MIN_BATCH_ROWS)
        self.flipped: set[int] = set()
        self.arrays: list[np.ndarray | None] = [None] * len(kinds)
        self.n = 0

    def add(self, batch: list[list[str]]) -> None:
        for j, cells in enumerate(zip(*batch, strict=True)):
            kind = self.kinds[j]
            if kind == "skip":
                continue
            if kind == "number":
                values = _numbers(cells, self.tokens, self.numeric_tokens)
                if values is None and self.n:
                    self.kinds[j] = "skip"  # text after numbers: read again, as text
                    self.flipped.add(j)
                    self.arrays[j] = None
                    continue
                if values is None:  # text in the first batch: a text column
                    self.kinds[j] = "text"
                    values = np.strings.strip(np.array(cells, dtype=str))
            else:
                values = np.strings.strip(np.array(cells, dtype=str))
            self._put(j, values)
        self.n += len(batch)

    def _put(self, j: int, values: np.ndarray) -> None:
        column, start = self.arrays[j], self.n
        end = start + len(values)
        if column is None or end > len(column) or values.itemsize > column.itemsize:
            size = self.capacity if column is None else len(column)
            if end > size:
                size = max(end, size + size // 2)
            dtype = values.dtype if column is None or values.itemsize > column.itemsize else None
            try:
                grown = np.empty(size, dtype=dtype or column.dtype)
            except MemoryError:  # the estimate's room refused (no overcommit): what is needed
                size = max(end, 2 * start, _MIN_BATCH_ROWS)
                grown = np.empty(size, dtype=dtype or column.dtype)
            if column is not None:
                grown[:start] = column[:start]
            self.arrays[j] = column = grown
        column[start:end] = values

    def finish(self) -> dict[int, np.ndarray]:
        """Column index -> its array of the rows read, for the columns kept."""
        return {
            j: column[: self.n]
            for j, column in enumerate(self.arrays)
            if column is not None and self.kinds[j] != "skip"
        }


def _numbers(
    cells: Any, tokens: tuple[str, ...], numeric_tokens: Sequence[str] | None = None
) -> np.ndarray | None:
    """``cells`` (texts) as float64 with NaN where a cell is one of ``tokens``; None when a
    cell is neither a finite number nor a token (text, or ``inf``: the column stays text, so
    that what it holds is said in its words). ``numeric_tokens``: the tokens that are finite
    numbers (``-999``), if known."""
    if numeric_tokens is None:
        numeric_tokens = [t for t in tokens if _finite(t)]
    if not numeric_tokens:  # fast paths: the cells as they are, or with their tokens marked
        values = _floats(cells)
        if values is None and tokens:
            marked = frozenset(tokens)
            values = _floats(["nan" if cell in marked else cell for cell in cells])
        if values is not None:
            bad = ~np.isfinite(values)
            if not bad.any():
                return values
            if all(cells[i].strip() in tokens for i in np.flatnonzero(bad).tolist()):
                values[bad] = np.nan  # a token, not an infinite number
                return values
            return None
    text = np.strings.strip(np.array(cells, dtype=str))  # tokens with spaces, number tokens
    missing = np.isin(text, tokens) if tokens else np.zeros(len(text), bool)
    try:
        values = np.where(missing, "nan", text).astype(np.float64)
    except ValueError:
        return None
    if not np.isfinite(values[~missing]).all():
        return None
    return values


def _floats(cells: Any) -> np.ndarray | None:
    """The texts ``cells`` as float64 (as ``float`` reads them), or None if one is not a
    number."""
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        return None


def _rows_hint(source: TextSource, rows: int, chars: int, cut: bool) -> int:
    """About how many rows the file holds: the ``rows`` of its first ``chars`` characters,
    scaled to its size (10% more; 16 times as many for a compressed file, whose size once
    decompressed is not known)."""
    if not cut:
        return rows
    if source.compressed or not source.text_bytes:
        return 16 * rows
    total = source.size * source.text_chars / source.text_bytes
    return int(1.1 * rows * total / max(chars, 1)) + _MIN_BATCH_ROWS


def _sample_rows(sample: str, delimiter: str, cut: bool) -> list[list[str]]:
    """The records of the first text of a file (the last one dropped if the text was cut)."""
    try:
        rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))
    except csv.Error:
        return []
    return rows[:-1] if cut and len(rows) > 1 else rows


def _header_names(row: list[str], path: Path, header: bool | None, notices: list[str]) -> list[str]:
    """The column names of the header ``row``, checked: at most one unnamed, none twice."""
    names = [name.strip() for name in row]
    if len(names) > 1 and all(len(n) > 1 and n[0] == n[-1] == "'" for n in names):
        names = [n[1:-1] for n in names]  # 'name' quoted with apostrophes
    if header is None and all(is_number(n) for n in names):
        notices.append(
            f"The first line of {path.name} ({', '.join(names[:4])}"
            f"{', ...' if len(names) > 4 else ''}) looks like data, not column names; it "
            "was read as names. Pass --no-header if it is data (columns are then col1, ...)."
        )
    unnamed = names.count("")
    if unnamed > 1:
        raise DataFileError(
            f"{path}: {unnamed} columns have no name in the header (at most one may: an index "
            "column); name them, or pass --no-header if the first line is data."
        )
    duplicates = sorted(n for n, count in collections.Counter(names).items() if count > 1)
    if duplicates:
        raise DataFileError(
            f"{path}: the header names {', '.join(map(repr, duplicates))} more than once; "
            "every column needs its own name."
        )
    return names


def _row_hash(cells: list[str]) -> int:
    """The fingerprint (:func:`scratchnn.tables.row_fingerprints`) of one row of cells as the
    CSV parser gives them: of their stripped text, joined by ``\\x1f``."""
    return _text_hash("\x1f".join(map(str.strip, cells)))


def _text_hash(text: str) -> int:
    """A row's 64-bit fingerprint: the BLAKE2b hash of its joined cells' text."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
