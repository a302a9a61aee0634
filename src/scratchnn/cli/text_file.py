"""Reading the text that ``scratchnn train-text`` trains on: UTF-8 only, bounded, and every
other kind of file (binary, UTF-16/32, another encoding, empty, too large) refused with the fix.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "poem.txt"
    >>> _ = path.write_bytes(b"\\xef\\xbb\\xbfroses\\r\\nviolets\\r\\n")
    >>> text = read_text(str(path))
    >>> text.text, text.note
    ('roses\\nviolets\\n', '2 Windows line ends (\\\\r\\\\n) read as \\\\n')
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass

#: The largest text file read (16 MiB: about 16 million characters, weeks of epochs on NumPy).
MAX_TEXT_BYTES = 16 * 1024 * 1024


@dataclass
class Text:
    """A text to train on: ``name`` for messages, the characters, and a note on how it was
    read (line ends), for the header."""

    name: str
    text: str
    note: str = ""


def _size(n_bytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:,.0f} {unit}" if unit == "bytes" else f"{n_bytes:,.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def read_text(path: str, max_tokens: int | None = None) -> Text:
    """The UTF-8 text of ``path`` (a leading byte-order mark dropped, Windows line ends read as
    ``\\n``, as Python's ``open`` does), refusing binary files, other encodings, empty files
    and files over :data:`MAX_TEXT_BYTES` (with ``max_tokens``, only the bytes that can hold
    that many characters are read).

    Raises:
        FileNotFoundError, IsADirectoryError: no such file, or a folder.
        ValueError: the file is not UTF-8 text, is empty, or is too large.
    """
    if os.path.isdir(path):
        raise IsADirectoryError(f"FILE {path} is a folder; train-text reads one UTF-8 text file.")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No such file: {path}. Pass a UTF-8 text file, or --data shakespeare for the "
            "bundled Tiny Shakespeare."
        )
    size = os.path.getsize(path)
    budget = size if max_tokens is None else min(size, 4 * max_tokens + 4)  # ≤ 4 bytes a char
    if budget > MAX_TEXT_BYTES:
        fix = (
            f"Pass --max-tokens up to {MAX_TEXT_BYTES // 4:,}"
            if max_tokens is not None
            else "Train on its beginning with --max-tokens N"
        )
        raise ValueError(
            f"FILE {path} is {_size(size)}; train-text reads at most {_size(MAX_TEXT_BYTES)} "
            f"of text (about {MAX_TEXT_BYTES:,} characters). {fix}, or pass a smaller file."
        )
    with open(path, "rb") as handle:
        data = handle.read(budget)
    if not data:
        raise ValueError(f"FILE {path} is empty. Pass a UTF-8 text file with some text in it.")
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise ValueError(_convert(path, "UTF-32 text", "UTF-32"))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValueError(_convert(path, "UTF-16 text", "UTF-16"))
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ValueError(
            f"FILE {path} is not text: it has a NUL byte at offset {nul:,} (a binary file, or "
            "UTF-16 text without a byte-order mark). train-text reads UTF-8 text."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:  # final=False: a character cut at the end of a partial read waits, unread
        text = decoder.decode(data, final=len(data) == size)
    except UnicodeDecodeError as error:
        byte = data[error.start]
        raise ValueError(
            _convert(path, f"not UTF-8: byte 0x{byte:02x} at offset {error.start:,}", "LATIN1")
        ) from None
    text = text.removeprefix("\ufeff")
    note = ""
    if "\r" in text:
        crlf = text.count("\r\n")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        note = f"{crlf:,} Windows line ends (\\r\\n) read as \\n" if crlf else r"\r read as \n"
    if max_tokens is not None:
        text = text[:max_tokens]
    return Text(path, text, note)


def _convert(path: str, what: str, encoding: str) -> str:
    return (
        f"FILE {path} is {what}; train-text reads UTF-8 text. Convert it first, e.g. "
        f"iconv -f {encoding} -t UTF-8 {path} > text-utf8.txt (with the file's real encoding)."
    )
