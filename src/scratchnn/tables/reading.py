"""Reading a table file as it comes: compressed or not, any common delimiter, any encoding.

:func:`read_table` returns the raw columns as text (no type decisions yet; see
:mod:`scratchnn.tables.roles`) together with the notices a user should see, e.g. that the
first line looks like data rather than names. No pandas needed: the standard library's
``csv``, ``gzip``, ``bz2``, ``lzma`` and ``zipfile`` do the work.
"""

from __future__ import annotations

import bz2
import collections
import csv
import gzip
import io
import itertools
import lzma
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._archive import not_a_regular_file, open_regular_file
from ..errors import DataFileError
from .values import MISSING_TOKENS

#: Delimiters tried by the sniffer, most common first.
DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_COMPRESSED = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zip": "zip"}
#: How much of a file the delimiter sniffer reads.
_SNIFF_CHARS = 65536


@dataclass
class RawTable:
    """The columns of a file as read, before any type decision.

    Attributes:
        columns: column name -> 1-D array (text as a NumPy unicode array; ``.npz``/Parquet
            columns keep their own dtype), in file order.
        lines: the file line of each row (for messages), or None where lines do not apply.
        source: the file's name, for messages.
        notices: what the reader decided that a user should know (one line each).
        delimiter: the delimiter used (None for binary formats).
        decimal_commas: the columns whose numbers are written with decimal commas
            (``0,5``), found when ``read_table`` was not told the decimal mark; they are
            still text.
    """

    columns: dict[str, np.ndarray]
    lines: list[int] | None
    source: str
    notices: list[str] = field(default_factory=list)
    delimiter: str | None = None
    decimal_commas: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def take(self, rows: np.ndarray) -> RawTable:
        """The table restricted to ``rows`` (an index or boolean array)."""
        lines = None if self.lines is None else np.asarray(self.lines)[rows].tolist()
        return RawTable(
            {name: values[rows] for name, values in self.columns.items()},
            lines,
            self.source,
            list(self.notices),
            self.delimiter,
            list(self.decimal_commas),
        )


#: Files that are not text tables, by their first bytes: what to call them and what to do.
_FOREIGN = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls) or another "
     "Office file", "save the sheet as CSV from the spreadsheet program"),
    (b"%PDF", "a PDF document", "export the table from it as CSV"),
    (b"PAR1", "a Parquet file", "name it .parquet (reading it needs pyarrow)"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
    (b"\x89PNG", "a PNG image", "pass the table file"),
    (b"\x93NUMPY", "a NumPy .npy array", "save named columns with np.savez as .npz"),
)  # fmt: skip


def _foreign(data: bytes, path: Path) -> None:
    """Refuse a file that is a spreadsheet, a document or another binary format, by name."""
    for magic, what, fix in _FOREIGN:
        if data.startswith(magic):
            raise DataFileError(f"{path} is {what}, not a text table: {fix}.")


def _zip_members(archive: zipfile.ZipFile, path: Path) -> list[str]:
    """The files of a zip archive holding one table; a spreadsheet or an ``.npz`` saved under
    another name is refused, by name."""
    names = archive.namelist()
    if any(n.startswith("xl/") for n in names):
        raise DataFileError(
            f"{path} is an Excel workbook (.xlsx), not a text table: save the sheet as CSV "
            "from the spreadsheet program (File > Save As > CSV)."
        )
    if "mimetype" in names and b"spreadsheet" in archive.read("mimetype"):
        raise DataFileError(
            f"{path} is an OpenDocument spreadsheet (.ods), not a text table: save the sheet "
            "as CSV from the spreadsheet program."
        )
    if any(n.startswith("word/") for n in names) or "mimetype" in names:
        raise DataFileError(f"{path} is an office document, not a text table.")
    if names and all(n.endswith(".npy") for n in names):
        raise DataFileError(f"{path} is an .npz archive of arrays: name it .npz to read it.")
    return [m for m in names if not m.endswith("/")]


#: What a data file must be, for the refusal of a device, a FIFO or a socket.
_TABLE_FILE = "a table file (.csv, .tsv or .txt, possibly compressed; .npz; .parquet)"


#: Bytes of memory that reading a text table takes per byte of its text, at least: the text
#: itself, and its cells as text arrays of 4 bytes a character (less its delimiters).
_BYTES_PER_BYTE = 4


def _physical_memory() -> float:
    """Bytes of RAM on this machine (infinite where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return float("inf")


def _check_fits(path: Path, size: int, what: str = "") -> None:
    """Refuse, before it is read (or parsed), a table whose columns could not fit in memory:
    at least :data:`_BYTES_PER_BYTE` times its ``size`` in bytes of text, more than the RAM."""
    need, memory = _BYTES_PER_BYTE * size, _physical_memory()
    if need > memory:
        raise DataFileError(
            f"{path} is {_bytes(size)} of text{what}; reading it as columns takes at least "
            f"{_bytes(need)} of memory ({_BYTES_PER_BYTE} bytes a character), more than this "
            f"machine's {_bytes(memory)}. Read it in parts with scratchnn.streaming (see "
            "'Beyond one machine' in the documentation), or use a sample."
        )


def _bytes(n: float) -> str:
    """``n`` bytes in GiB, or MiB below one GiB."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _open_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed by its extension (or by its magic number). Only a
    regular file is read: a device (``/dev/zero``), a FIFO or a socket could be endless; and
    only one whose columns can fit in memory."""
    with open_regular_file(path, _TABLE_FILE) as (handle, size):
        _check_fits(path, size)
        data = handle.read()
    suffix = path.suffix.lower()
    _foreign(data, path)
    try:
        if suffix == ".gz" or data[:2] == b"\x1f\x8b":
            return gzip.decompress(data)
        if suffix == ".bz2" or data[:3] == b"BZh":
            return bz2.decompress(data)
        if suffix == ".xz" or data[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(data)
        if suffix == ".zip" or data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = _zip_members(archive, path)
                if len(members) != 1:
                    raise DataFileError(
                        f"{path} holds {len(members)} files; a .zip table must hold exactly "
                        f"one (it holds: {', '.join(members[:5]) or 'nothing'})."
                    )
                return archive.read(members[0])
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as error:
        kind = _COMPRESSED.get(suffix, "compressed")
        raise DataFileError(f"{path} is not a readable {kind} file ({error}).") from None
    return data


#: Byte-order marks, longest first (UTF-32's little-endian mark begins with UTF-16's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _bom_encoding(data: bytes) -> str | None:
    """The encoding that ``data``'s byte-order mark announces, or None without one."""
    return next((name for bom, name in _BOMS if data.startswith(bom)), None)


def _utf16_without_bom(data: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when ``data`` looks like UTF-16 text without a BOM
    (ASCII characters with a NUL byte after, or before, each), else None."""
    head = data[:4096]
    if len(head) < 4 or b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _decode(data: bytes, path: Path, encoding: str | None) -> str:
    """Text of ``data``: ``encoding`` if given, else the one its byte-order mark announces
    (UTF-8, UTF-16 or UTF-32), else UTF-8. The BOM is dropped; NUL bytes are refused (a
    binary file, or UTF-16 without a BOM, which is named)."""
    if encoding is None and _bom_encoding(data) is None:
        guess = _utf16_without_bom(data)
        if guess is not None:
            raise DataFileError(
                f"{path} looks like {guess.upper()} text without a byte-order mark; pass "
                f"--encoding {guess}."
            )
    chosen = encoding or _bom_encoding(data) or "utf-8-sig"
    try:
        text = data.decode(chosen)
    except LookupError:
        raise ValueError(
            f"Unknown encoding {encoding!r}; use a name Python knows, e.g. utf-8, latin-1, cp1252."
        ) from None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        hint = "latin-1" if chosen.startswith("utf") else "utf-8"
        if encoding is None and chosen != "utf-8-sig":
            raise DataFileError(
                f"{path}, line {line}: the file's byte-order mark announces {chosen.upper()}, "
                f"but the bytes {data[error.start : error.start + 4]!r} are not valid "
                f"{chosen.upper()}: the file is damaged, or not text."
            ) from None
        raise DataFileError(
            f"{path}, line {line}: the bytes {data[error.start : error.start + 4]!r} are not "
            f"valid {chosen}; pass --encoding (e.g. --encoding {hint}) with the file's encoding."
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DataFileError(
            f"{path}, line {line}: a NUL byte; this is a binary file, not a text table"
            + ("" if encoding else " (or text in an encoding to name with --encoding)")
            + "."
        )
    return text


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
    sample = text[:_SNIFF_CHARS]
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        # records, not lines: a quoted cell may hold a line break
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        try:
            rows = [row for row in itertools.islice(reader, 51) if any(c.strip() for c in row)]
        except csv.Error:
            continue
        if len(text) > len(sample) and len(rows) > 1:
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


def read_table(
    path: str | os.PathLike,
    delimiter: str | None = None,
    encoding: str | None = None,
    header: bool | None = None,
    decimal: str | None = None,
) -> RawTable:
    """Read a ``.csv``/``.tsv``/``.txt`` file (optionally ``.gz``/``.bz2``/``.xz``/``.zip``),
    an ``.npz`` of named columns, or a ``.parquet`` file (needs pyarrow) as raw columns.

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

    Returns:
        A :class:`RawTable`.

    Raises:
        FileNotFoundError: no such file.
        DataFileError: undecodable bytes (the message names the line and suggests
            ``--encoding``), a corrupt archive, ragged rows, duplicate names, no rows.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = path.write_text("a;b\\n1;x\\n2;NA\\n")
        >>> table = read_table(path)
        >>> table.delimiter, list(table.columns), table.columns["b"].tolist()
        (';', ['a', 'b'], ['x', 'NA'])
    """
    path = Path(path)
    if decimal not in (None, ".", ","):
        raise ValueError(f"--decimal must be '.' or ','; received {decimal!r}.")
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    if path.is_dir():
        raise DataFileError(f"{path} is a folder, not a table file.")
    refusal = not_a_regular_file(path, path.stat().st_mode, _TABLE_FILE)
    if refusal is not None:  # checked here for .npz and .parquet too; CSV on its descriptor
        raise DataFileError(refusal)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    data = _open_bytes(path)
    if len(data) > path.stat().st_size:
        _check_fits(path, len(data), " once decompressed")
    text = _decode(data, path, encoding)
    del data
    if delimiter is None:
        delimiter = sniff_delimiter(text)
    elif len(delimiter) != 1 and delimiter not in ("\\t", "tab"):
        raise ValueError(f"--delimiter must be one character (or 'tab'); received {delimiter!r}.")
    delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
    notices: list[str] = []
    if delimiter != ",":
        notices.append(f"Read {path.name} as {_NAMES.get(delimiter, repr(delimiter))}-separated.")
    reader = csv.reader(_lines(text), delimiter=delimiter)
    try:
        names, body_lines, chunks = _parse(reader, path, header, delimiter, notices)
    except csv.Error as error:
        if "field limit" in str(error):
            raise DataFileError(
                f"{path}, line {reader.line_num}: a field is longer than "
                f"{csv.field_size_limit():,} characters; is it really a CSV file (one row per "
                "line, fields separated by commas)?"
            ) from None
        raise DataFileError(f"{path}, line {reader.line_num}: {error}.") from None
    del text, reader  # the text is freed before the columns are joined (the peak)
    columns = {}
    for j, name in enumerate(names):  # one column at a time: its pieces are freed as it goes
        columns[name] = chunks[j][0] if len(chunks[j]) == 1 else np.concatenate(chunks[j])
        chunks[j] = []
    commas = [name for name, cells in columns.items() if decimal_comma_column(cells)]
    if decimal == ",":
        columns.update({name: _read_decimal_commas(columns[name]) for name in commas})
    table = RawTable(columns, body_lines, path.name, notices, delimiter)
    table.decimal_commas = commas if decimal is None else []
    return table


#: Text handed to the CSV parser at a time (cut after a line break), so that it never needs
#: a copy of the whole text (``io.StringIO`` of the whole file would take 4 bytes a character).
_PIECE_CHARS = 2**16
#: Cells parsed into Python strings before they are packed into column arrays: the Python
#: objects (~60 bytes a cell) exist for one batch at a time, never for the whole file.
_BATCH_CELLS = 2**14
#: Rows in a batch at least (a table of thousands of columns: not one array per cell).
_MIN_BATCH_ROWS = 64
#: Batches of a column merged into one piece: pieces of a few MB, which the allocator maps and
#: unmaps on their own, where the heap would keep the space of thousands of small ones.
_MERGE_BATCHES = 64


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their line ends (``\\n``, ``\\r\\n`` or ``\\r``), as
    ``io.StringIO(text, newline="")`` gives them, from pieces of about :data:`_PIECE_CHARS`."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + _PIECE_CHARS)
        end = len(text) if end < 0 else end + 1  # a piece ends after a \n: \r\n stays whole
        yield from io.StringIO(text[start:end], newline="")
        start = end


def _parse(
    reader: Any, path: Path, header: bool | None, delimiter: str, notices: list[str]
) -> tuple[list[str], list[int], list[list[np.ndarray]]]:
    """``(names, line of each row, pieces of each column)`` from the CSV ``reader``: the
    header checked as soon as it is read, every row's width checked, and the cells packed
    into stripped text arrays per column, a batch of rows at a time (each piece as wide as
    its own longest cell, not the table's), so the memory is about the columns' own (no list
    of Python strings per cell, no copy of the table as one matrix)."""
    names: list[str] | None = None
    width = 0
    body_lines: list[int] = []
    batch: list[list[str]] = []
    chunks: list[list[np.ndarray]] = []
    recent: list[list[np.ndarray]] = []  # per column, the batches not yet merged
    rows_per_batch = 1

    def flush() -> None:
        for j, cells in enumerate(zip(*batch, strict=True)):
            recent[j].append(np.strings.strip(np.array(cells, dtype=str)))
            if len(recent[j]) == _MERGE_BATCHES:  # large pieces: given back to the system
                chunks[j].append(np.concatenate(recent[j]))  # when freed, small ones are kept
                recent[j] = []
        batch.clear()

    for row in reader:
        if not (len(row) > 1 or (row and row[0].strip())):  # skip blank lines
            continue
        if names is None:
            width = len(row)
            chunks = [[] for _ in range(width)]
            recent = [[] for _ in range(width)]
            rows_per_batch = max(_MIN_BATCH_ROWS, _BATCH_CELLS // max(width, 1))
            if header is False:
                names = [f"col{i + 1}" for i in range(width)]
            else:
                names = _header_names(row, path, header, notices)
                continue
        if len(row) != width:
            raise DataFileError(
                f"{path}, line {reader.line_num}: {len(row)} value{'s' * (len(row) != 1)}, but "
                f"the header has {width} column{'s' * (width != 1)} "
                f"(read as {_NAMES.get(delimiter, repr(delimiter))}-separated; pass "
                "--delimiter if that is wrong)."
            )
        batch.append(row)
        body_lines.append(reader.line_num)
        if len(batch) >= rows_per_batch:
            flush()
    if names is None:
        raise DataFileError(f"{path} is empty: no header and no rows.")
    if batch:
        flush()
    if not body_lines:
        raise DataFileError(f"{path} has no data rows (a header row and at least one row needed).")
    return (
        names,
        body_lines,
        [merged + pending for merged, pending in zip(chunks, recent, strict=True)],
    )


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


def row_fingerprints(columns: dict[str, np.ndarray]) -> np.ndarray:
    """A 64-bit fingerprint of every row: a BLAKE2b hash of its cells' text in column order.

    A model remembers the fingerprints of its held-out rows, so that ``evaluate`` on the
    training file can tell held-out rows from training rows.

    Returns:
        ``(n_rows,)`` uint64.

    Example:
        >>> a = row_fingerprints({"x": np.array(["1", "2"]), "y": np.array(["a", "a"])})
        >>> b = row_fingerprints({"x": np.array(["2"]), "y": np.array(["a"])})
        >>> bool(a[1] == b[0]), bool(a[0] == a[1])
        (True, False)
    """
    import hashlib

    texts = [np.asarray(values).astype(str) for values in columns.values()]
    n = len(texts[0]) if texts else 0
    out = np.empty(n, dtype=np.uint64)
    for i, cells in enumerate(zip(*texts, strict=True)):
        digest = hashlib.blake2b("\x1f".join(cells).encode("utf-8"), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little")
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
