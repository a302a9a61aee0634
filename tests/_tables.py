"""Small table files for the tests that read them (datasets, the command line, raw tables)."""

from __future__ import annotations

import csv
from pathlib import Path


def write_csv(path: Path, header, rows, delimiter: str = ",") -> Path:
    """Write ``header`` and ``rows`` to ``path`` as UTF-8 CSV; returns ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path
