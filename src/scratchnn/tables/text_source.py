"""The text of a table file as a stream: read, decompressed and decoded a chunk at a time.

:class:`TextSource` never holds the whole file, compressed or not: the bytes come in chunks
of :data:`CHUNK_BYTES` (from the file, or from ``gzip``/``bz2``/``lzma``/``zipfile`` reading
it), an incremental decoder turns them into text, and :meth:`TextSource.lines` cuts that text
into lines for :mod:`csv` (line ends kept, as ``io.StringIO(text, newline="")`` gives them).
Spreadsheets and other binary files, undecodable bytes and NUL bytes are refused with the file
and the line, as :func:`scratchnn.tables.read_table` documents.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import itertools
import lzma
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from .._archive import open_regular_file
from ..errors import DataFileError

#: Bytes read (or decompressed) at a time.
CHUNK_BYTES = 2**20
#: Bytes read first at least: enough for the magic numbers, the byte-order marks and the
#: guess of UTF-16 without one.
HEAD_BYTES = 4096
#: Text handed to the CSV parser at a time (cut after a line break): ``io.StringIO`` of a
#: piece, never of a whole chunk.
PIECE_CHARS = 2**16

_COMPRESSED = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zip": "zip"}
#: What a data file must be, for the refusal of a device, a FIFO or a socket.
TABLE_FILE = "a table file (.csv, .tsv or .txt, possibly compressed; .npz; .parquet)"

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

#: Byte-order marks, longest first (UTF-32's little-endian mark begins with UTF-16's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _foreign(data: bytes, path: Path) -> None:
    """Refuse a file that is a spreadsheet, a document or another binary format, by name."""
    for magic, what, fix in _FOREIGN:
        if data.startswith(magic):
            raise DataFileError(f"{path} is {what}, not a text table: {fix}.")


def _zip_member(archive: zipfile.ZipFile, path: Path) -> str:
    """The one file of a zip archive holding a table; a spreadsheet or an ``.npz`` saved
    under another name is refused, by name, and so is an archive of several files."""
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
    members = [m for m in names if not m.endswith("/")]
    if len(members) != 1:
        raise DataFileError(
            f"{path} holds {len(members)} files; a .zip table must hold exactly "
            f"one (it holds: {', '.join(members[:5]) or 'nothing'})."
        )
    return members[0]


def bom_encoding(data: bytes) -> str | None:
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


class TextSource:
    """The decoded text of a table file, chunk by chunk (see the module documentation).

    Args:
        path: the file (a regular file; a device, FIFO or socket is refused unread).
        encoding: the text encoding; None: the one a byte-order mark announces, else UTF-8.
        check_size: called after each chunk is read, before it is decoded (the attributes
            say how much there is), to refuse a file too large for memory.

    Attributes:
        size: the file's size in bytes on disk.
        compressed: whether the text is decompressed from the file.
        text_bytes: bytes of text (decompressed) read so far.
        text_chars: characters decoded so far.
    """

    def __init__(
        self,
        path: Path,
        encoding: str | None = None,
        check_size: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.check_size = check_size or (lambda: None)
        self.size = 0
        self.compressed = False
        self.text_bytes = 0
        self.text_chars = 0

    def pieces(self) -> Iterator[str]:
        """The file's text in pieces of about :data:`PIECE_CHARS`, each ending after a line
        end (``\\n``, ``\\r\\n`` or ``\\r``; a ``\\r\\n`` is never cut) or at the end of
        the text; the file is closed when they are all read."""
        parts: list[str] = []  # text since the last line end
        for chunk in self._text():
            cut = _after_last_line_end(chunk)
            if cut < 0:
                parts.append(chunk)
                continue
            head = "".join([*parts, chunk[:cut]]) if parts else chunk[:cut]
            parts = [chunk[cut:]] if cut < len(chunk) else []
            yield from _cut(head)
        if parts:
            yield from _cut("".join(parts))

    def lines(self) -> Iterator[str]:
        """The file's lines with their line ends, as ``io.StringIO(text, newline="")`` gives
        them."""
        return itertools.chain.from_iterable(
            io.StringIO(piece, newline="") for piece in self.pieces()
        )

    def _text(self) -> Iterator[str]:
        """The decoded text, a chunk at a time: the byte-order mark dropped, NUL refused."""
        decoder = None
        newlines = 0  # line breaks before the chunk, for messages
        for data in self._bytes():
            if decoder is None:
                decoder = self._decoder(data)
            self.text_bytes += len(data)
            self.check_size()
            try:
                text = decoder.decode(data, final=False)
            except UnicodeDecodeError as error:
                self._undecodable(error, newlines)
            if self.text_chars == 0 and text.startswith("\ufeff"):
                text = text[1:]
            self._refuse_nul(text, newlines)
            newlines += text.count("\n")
            self.text_chars += len(text)
            if text:
                yield text
        if decoder is None:
            return
        try:
            text = decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            self._undecodable(error, newlines)
        self._refuse_nul(text, newlines)
        self.text_chars += len(text)
        if text:
            yield text

    def _decoder(self, head: bytes) -> codecs.IncrementalDecoder:
        """The incremental decoder for the text beginning with ``head``; UTF-16 without a
        byte-order mark is named (its NUL bytes would otherwise read as binary)."""
        if self.encoding is None and bom_encoding(head) is None:
            guess = _utf16_without_bom(head)
            if guess is not None:
                raise DataFileError(
                    f"{self.path} looks like {guess.upper()} text without a byte-order mark; "
                    f"pass --encoding {guess}."
                )
        self.chosen = self.encoding or bom_encoding(head) or "utf-8-sig"
        try:
            return codecs.getincrementaldecoder(self.chosen)(errors="strict")
        except LookupError:
            raise ValueError(
                f"Unknown encoding {self.encoding!r}; use a name Python knows, e.g. utf-8, "
                "latin-1, cp1252."
            ) from None

    def _undecodable(self, error: UnicodeDecodeError, newlines: int) -> None:
        """Raise the message for bytes that are not valid in the chosen encoding."""
        line = newlines + error.object[: error.start].count(b"\n") + 1
        bad = error.object[error.start : error.start + 4]
        chosen = self.chosen
        if self.encoding is None and chosen != "utf-8-sig":
            raise DataFileError(
                f"{self.path}, line {line}: the file's byte-order mark announces "
                f"{chosen.upper()}, but the bytes {bad!r} are not valid {chosen.upper()}: the "
                "file is damaged, or not text."
            ) from None
        hint = "latin-1" if chosen.startswith("utf") else "utf-8"
        raise DataFileError(
            f"{self.path}, line {line}: the bytes {bad!r} are not valid {chosen}; pass "
            f"--encoding (e.g. --encoding {hint}) with the file's encoding."
        ) from None

    def _refuse_nul(self, text: str, newlines: int) -> None:
        if "\x00" in text:
            line = newlines + text[: text.index("\x00")].count("\n") + 1
            raise DataFileError(
                f"{self.path}, line {line}: a NUL byte; this is a binary file, not a text table"
                + ("" if self.encoding else " (or text in an encoding to name with --encoding)")
                + "."
            )

    def _bytes(self) -> Iterator[bytes]:
        """The file's bytes, decompressed by its extension (or by its magic number), a chunk
        at a time. Only a regular file is read: a device (``/dev/zero``), a FIFO or a socket
        could be endless."""
        with open_regular_file(self.path, TABLE_FILE) as (handle, size):
            self.size = size
            head = handle.read(max(CHUNK_BYTES, HEAD_BYTES))
            _foreign(head, self.path)
            suffix = self.path.suffix.lower()
            opener = _decompressor(suffix, head)
            if opener is None:
                while head:
                    yield head
                    head = handle.read(CHUNK_BYTES)
                return
            self.compressed = True
            handle.seek(0)
            kind = _COMPRESSED.get(suffix, "compressed")
            try:
                stream = opener(handle, self.path)
            except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as error:
                raise DataFileError(
                    f"{self.path} is not a readable {kind} file ({error})."
                ) from None
            with stream:
                size = max(CHUNK_BYTES, HEAD_BYTES)  # the first read: the text's head
                while True:
                    try:
                        data = stream.read(size)
                    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as error:
                        raise DataFileError(
                            f"{self.path} is not a readable {kind} file ({error})."
                        ) from None
                    if not data:
                        return
                    yield data
                    size = CHUNK_BYTES


def _decompressor(suffix: str, head: bytes) -> Callable[[IO[bytes], Path], IO[bytes]] | None:
    """What opens the decompressed stream of a file with this suffix and these first bytes
    (None for a plain text file)."""
    if suffix == ".gz" or head[:2] == b"\x1f\x8b":
        return lambda handle, path: gzip.GzipFile(fileobj=handle, mode="rb")
    if suffix == ".bz2" or head[:3] == b"BZh":
        return lambda handle, path: bz2.BZ2File(handle, mode="rb")
    if suffix == ".xz" or head[:6] == b"\xfd7zXZ\x00":
        return lambda handle, path: lzma.LZMAFile(handle, mode="rb")
    if suffix == ".zip" or head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _open_zip_member
    return None


def _open_zip_member(handle: IO[bytes], path: Path) -> IO[bytes]:
    archive = zipfile.ZipFile(handle)
    return archive.open(_zip_member(archive, path))


def _after_last_line_end(text: str) -> int:
    """The index just after the last line end of ``text`` that a following chunk cannot
    extend (a final ``\\r`` may be the first half of ``\\r\\n``), or -1 without one."""
    end = text.rfind("\n")
    if end >= 0:
        return end + 1
    end = text.rfind("\r", 0, len(text) - 1)
    return end + 1 if end >= 0 else -1


def _cut(text: str) -> Iterator[str]:
    """``text`` in pieces of about :data:`PIECE_CHARS`, each cut after a ``\\n`` (so a
    ``\\r\\n`` stays whole)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + PIECE_CHARS)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end
