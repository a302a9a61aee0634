"""How the command line reports what went wrong: one line on stderr per failure, and at most
one line summing up the warnings (NumPy's numeric ones included) of a run.

Example:
    >>> describe(MemoryError("Unable to allocate 146. TiB"))
    'not enough memory: Unable to allocate 146. TiB. Use smaller --layers or --batch-size.'
    >>> describe(KeyError("no column 'price'"))
    "no column 'price'"
"""

from __future__ import annotations

import csv
import warnings
from typing import Any

from ..errors import ScratchnnError

#: Errors whose message is written for the user: shown as it is.
_EXPECTED = (ValueError, TypeError, OSError, ImportError, ScratchnnError)


def one_line(text: str) -> str:
    """``text`` with its line breaks (and the indentation after them) folded into spaces."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def describe(error: BaseException) -> str:
    """The sentence to print for ``error``: its own message where it was written for the
    user, otherwise what kind of failure it was and how to see more."""
    text = one_line(str(error))
    if isinstance(error, KeyError):
        return one_line(str(error.args[0])) if error.args else "KeyError"
    if isinstance(error, MemoryError):
        detail = f": {text}" if text else ""
        return f"not enough memory{detail}. Use smaller --layers or --batch-size."
    if isinstance(error, csv.Error):
        limit = csv.field_size_limit()
        if "field limit" in text:
            return (
                f"a field of the CSV file is longer than {limit:,} characters; is it really a "
                "CSV file (one row per line, fields separated by commas)?"
            )
        return f"the CSV file cannot be read: {text}"
    if isinstance(error, _EXPECTED):
        return text or type(error).__name__
    detail = f": {text}" if text else ""
    return f"unexpected {type(error).__name__}{detail} (run with --debug to see where)"


class WarningSummary:
    """Collect the warnings issued inside the ``with`` block instead of printing each (the
    filters in force still decide which are issued, and may turn them into errors).

    Example:
        >>> import warnings
        >>> with WarningSummary() as summary:
        ...     warnings.simplefilter("default")  # (the doctests run with warnings as errors)
        ...     warnings.warn("overflow encountered in matmul", RuntimeWarning)
        >>> summary.line()
        'overflow encountered in matmul'
    """

    def __init__(self) -> None:
        self.messages: dict[str, int] = {}
        self._catcher = warnings.catch_warnings()

    def __enter__(self) -> WarningSummary:
        self._catcher.__enter__()
        warnings.showwarning = self._show
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._catcher.__exit__(*exc_info)

    def _show(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = one_line(str(message))
        self.messages[text] = self.messages.get(text, 0) + 1

    def line(self) -> str | None:
        """The first warning, and how many different others there were; None if none."""
        if not self.messages:
            return None
        first, *others = self.messages
        more = f" (and {len(others)} other warning{'s' * (len(others) > 1)})" if others else ""
        return f"{first}{more}"
