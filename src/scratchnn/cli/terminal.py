"""Untrusted text kept inert: on the terminal, and in the CSV files a spreadsheet opens.

Column names, labels and a model file's metadata come from files the user did not
necessarily write. Printed raw, an escape sequence in them (``ESC [ 2 J``, ``ESC ] 0 ;``)
would clear the screen, retitle the window, fake or hide output, or hyperlink text; a label
such as ``=HYPERLINK("http://...")`` in a predictions CSV would run as a formula when the
file is opened in a spreadsheet.

- :func:`printable` writes control characters visibly, as Python escapes them (``\\x1b``,
  ``\\u202e``); :class:`InertStream` applies it to everything the command prints (the
  command line wraps its standard output and error in one), so no print site can forget.
- :func:`spreadsheet_safe` defuses a CSV cell that a spreadsheet would run as a formula (one
  starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) with a leading
  apostrophe, the defence OWASP recommends and that spreadsheets themselves use for "text":
  the apostrophe is not shown in the cell, and the value reads back unchanged in every program
  that strips it. Numbers (``-1``, ``+2.5``) are left as they are: they are not formulas.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO

#: Characters that move the cursor, start escape sequences or reorder text: C0 controls (but
#: tab, line feed and carriage return, which scratchnn's own output uses), DEL, C1 controls,
#: and the bidirectional overrides and isolates (text that reads differently than it is).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: The same, with tab, line feed and carriage return too: for a text that must stay one field.
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: What a spreadsheet reads as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: Any, lines: bool = True) -> str:
    """``str(text)`` with its control characters written as escapes.

    Args:
        text: anything; untrusted text usually.
        lines: keep tabs, line feeds and carriage returns (for printed lines); False escapes
            them too (for one field, such as a CSV cell or a one-line message).

    Example:
        >>> printable("a\\x1b[31mred\\x1b[0m")
        'a\\\\x1b[31mred\\\\x1b[0m'
        >>> printable("two\\nlines"), printable("two\\nlines", lines=False)
        ('two\\nlines', 'two\\\\nlines')
    """
    return (_CONTROL if lines else _CONTROL_ALL).sub(_escape, str(text))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spreadsheet_safe(cell: Any) -> str:
    """``cell`` as text a spreadsheet shows and never runs: a leading apostrophe before a cell
    that would start a formula, and control characters escaped (see :func:`printable`; tabs
    and line breaks stay, which CSV quotes and spreadsheets show as they are).

    Example:
        >>> spreadsheet_safe('=HYPERLINK("http://x", "y")'), spreadsheet_safe("@SUM(A1)")
        ('\\'=HYPERLINK("http://x", "y")', "'@SUM(A1)")
        >>> spreadsheet_safe("-1"), spreadsheet_safe("-2+3"), spreadsheet_safe("cat")
        ('-1', "'-2+3", 'cat')
    """
    text = str(cell)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        text = "'" + text
    return printable(text)


class InertStream:
    """A text stream that writes to ``stream`` with :func:`printable` applied to everything
    (other attributes, such as ``fileno`` and ``isatty``, are the stream's own).

    Args:
        stream: the stream to write to (``sys.stdout``).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def inert_output() -> Iterator[None]:
    """Standard output and error as :class:`InertStream` for the duration (restored after,
    whatever happens)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = InertStream(sys.stdout), InertStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
