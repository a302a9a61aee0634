"""Tabular data from CSV or ``.npz`` files: numeric features, a named target column, and
class labels (strings or numbers) encoded as 0..K-1 and decoded back.

No pandas needed: the standard library's ``csv`` module reads the file, and every problem
(a missing column, an empty cell, a word in a numeric column) is reported with its place.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFileError
from ..tables.reading import is_number, read_npz_arrays
from ..tables.target import MAX_AUTO_CLASSES, detect_task  # noqa: F401 - MAX_AUTO_CLASSES: public
from ..tables.values import canonical_labels

# One task detector and one spelling of labels for the whole package: this module's numeric
# tables and the raw-table front end (scratchnn.tables) decide them alike.


@dataclass
class Table:
    """Features and (optionally) targets read from a file.

    Attributes:
        X: features, ``(n_samples, n_features)``: float64, or float32 when an ``.npz`` stores
            its ``X`` so (taken as it is).
        y: encoded targets: class indices ``(n_samples,)`` for classification, floats
            ``(n_samples,)`` for regression, or None when the file has no target column.
        feature_names: the feature columns, in order.
        target: the target column's name (or None).
        classes: the original class labels, so that ``classes[i]`` decodes index ``i``; None for
            regression.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target: str | None = None
    classes: list[Any] | None = field(default=None)

    @property
    def task(self) -> str:
        return "classification" if self.classes is not None else "regression"

    def decode(self, indices: np.ndarray) -> np.ndarray:
        """Class indices back to the original labels."""
        if self.classes is None:
            raise ValueError("decode() is for classification targets; this table is regression.")
        return np.asarray(self.classes, dtype=object)[np.asarray(indices, dtype=np.intp)]


def encode_target(
    values: np.ndarray,
    task: str = "auto",
    classes: list[Any] | None = None,
    where: Callable[[int], str] | None = None,
    column: str = "target",
) -> tuple[np.ndarray, list[Any] | None]:
    """Encode a raw target column: ``(encoded, classes)``.

    ``task="auto"`` decides as :func:`scratchnn.tables.detect_task` does: words, and whole
    numbers with at most ``MAX_AUTO_CLASSES`` distinct values, are classes, unless they are
    counts (:func:`scratchnn.tables.target.count_target`); other numbers are a regression
    target. Numbers are compared by value
    ("1" and "1.0" are one class). Given ``classes`` (from a trained model), labels are mapped
    onto them and unknown labels are an error. ``where(i)`` describes row ``i`` and ``column``
    names the column in messages.
    """
    if task not in ("auto", "classification", "regression"):
        raise ValueError(
            f"task must be 'auto', 'classification' or 'regression'. Received: {task!r}."
        )
    where = where or (lambda i: f"row {i + 1}")
    strings = [str(v).strip() for v in values]
    for i, text in enumerate(strings):
        if is_number(text) and not math.isfinite(float(text)):
            raise ValueError(
                f"The {column} column holds {text!r} in {where(i)}; targets must be finite: "
                "fill or drop missing values first."
            )
    numeric = all(is_number(s) for s in strings)
    labels = canonical_labels(np.array(strings, dtype=str)).tolist()  # "1.0" and "1" are "1"
    if classes is None:
        if task == "regression" or (
            task == "auto" and numeric and not _looks_like_classes(strings)
        ):
            if not numeric:
                i = next(i for i, s in enumerate(strings) if not is_number(s))
                raise ValueError(
                    f"A regression target must be numeric; {where(i)} of the {column} column "
                    f"holds {strings[i]!r}."
                )
            return np.array([float(s) for s in strings]), None
        unique = sorted(
            set(labels),
            key=lambda s: (0, float(s), s) if is_number(s) else (1, 0, s),
        )
        classes = [_natural(s) for s in unique]
    lookup = {str(c): i for i, c in enumerate(classes)}
    encoded = np.empty(len(strings), dtype=np.int64)
    for i, text in enumerate(strings):
        label = labels[i]
        if label not in lookup:
            raise ValueError(
                f"The {column} column holds the label {text!r} ({where(i)}), which the model "
                f"never saw. Known labels: {', '.join(map(str, classes))}."
            )
        encoded[i] = lookup[label]
    return encoded, classes


def _looks_like_classes(strings: list[str]) -> bool:
    """Numbers (every one of ``strings`` is one) that :func:`detect_task` calls classes; no
    missing tokens here (this reader refuses empty targets)."""
    return detect_task(np.array(strings, dtype=object), ())[0] == "classification"


def _natural(text: str) -> Any:
    """'3' -> 3, '3.0' -> 3, '2.5' -> 2.5, 'cat' -> 'cat' (decoded labels look like the input)."""
    if is_number(text):
        number = float(text)
        return int(number) if number == int(number) else number
    return text


def load_csv(
    path: str | os.PathLike,
    target: str | None = None,
    features: list[str] | None = None,
    task: str = "auto",
    classes: list[Any] | None = None,
) -> Table:
    """Read a CSV file with a header row.

    Args:
        path: the file.
        target: the target column (None: the file has no target, e.g. for prediction).
        features: the feature columns, in order (None: every column except the target).
        task: "auto", "classification" or "regression" (see :func:`encode_target`).
        classes: known class labels (from a trained model) to encode the target with.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown column, an empty cell, or a non-numeric feature value; the
            message names the column and line.
    """
    path = Path(path)
    lines: list[int] = []  # the file line of each data row, for messages
    rows: list[list[str]] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    if len(rows) < 2:
        raise DataFileError(f"{path} has no data rows (a header row and at least one row needed).")
    header = [name.strip() for name in rows[0]]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataFileError(
            f"{path}: the header names {', '.join(map(repr, duplicates))} more than once."
        )
    body, lines = rows[1:], lines[1:]
    for line, row in zip(lines, body, strict=True):
        if len(row) != len(header):
            raise DataFileError(
                f"{path}, line {line}: {len(row)} values, but the header has {len(header)} columns."
            )
    columns = {name: [row[i].strip() for row in body] for i, name in enumerate(header)}
    return _table(columns, str(path), target, features, task, classes, lines)


def load_npz_table(
    path: str | os.PathLike,
    target: str | None = None,
    features: list[str] | None = None,
    task: str = "auto",
    classes: list[Any] | None = None,
) -> Table:
    """Read an ``.npz`` of named 1-D columns, or of a 2-D ``X`` and a ``y`` (``target="y"``)."""
    path = Path(path)
    arrays = read_npz_arrays(path)
    if "X" in arrays and arrays["X"].ndim == 2:
        X = arrays.pop("X")
        names = [f"x{i}" for i in range(X.shape[1])]
        if features is not None and any(name not in arrays for name in features):
            if X.shape[1] != len(features):
                raise ValueError(
                    f"{path}: X has {X.shape[1]} columns, but {len(features)} features are "
                    f"expected ({', '.join(features)})."
                )
            names = list(features)
        if X.dtype.kind == "f" and (features is None or features == names):
            return _matrix_table(X, names, arrays, str(path), target, task, classes)
        columns = {name: X[:, i] for i, name in enumerate(names)}
        columns.update({k: v for k, v in arrays.items() if v.ndim == 1})
    else:
        columns = arrays
    for name, values in columns.items():
        if np.asarray(values).ndim != 1:
            raise DataFileError(f"{path}: column {name!r} is not one-dimensional.")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataFileError(
            f"{path}: the columns have different lengths "
            f"({', '.join(f'{k}: {v}' for k, v in lengths.items())})."
        )
    # Numeric columns go through as arrays (no round trip through text); others as text.
    prepared = {
        name: values if values.dtype.kind in "fiub" else [str(v) for v in values]
        for name, values in columns.items()
    }
    return _table(prepared, str(path), target, features, task, classes)


def _matrix_table(
    X: np.ndarray,
    names: list[str],
    arrays: dict[str, np.ndarray],
    source: str,
    target: str | None,
    task: str,
    classes: list[Any] | None,
) -> Table:
    """A floating-point ``X`` whose columns are the features in order, taken as it is stored
    (float32 stays float32): no column-by-column rebuild, which for 10,000 MNIST rows cost
    more than the prediction itself."""
    raw = None
    if target is not None:
        if target not in arrays or arrays[target].ndim != 1:
            raise ValueError(
                f"{source} has no column {target!r}. Columns: {', '.join([*names, *arrays])}."
            )
        raw = arrays[target]
        if len(raw) != len(X):
            raise DataFileError(
                f"{source}: the target {target!r} has {len(raw)} rows but X has {len(X)}."
            )
        if raw.dtype.kind not in "fiub":  # text labels as str, as for named columns
            raw = [str(v) for v in raw]
    return _checked_table(X, names, raw, source, target, task, classes, lambda i: f"row {i + 1}")


def _table(
    columns: dict[str, list[str] | np.ndarray],
    source: str,
    target: str | None,
    features: list[str] | None,
    task: str,
    classes: list[Any] | None,
    lines: list[int] | None = None,
) -> Table:
    names = list(columns)

    def where(i: int) -> str:
        return f"row {i + 1}" + (f" (line {lines[i]})" if lines else "")

    if target is not None and target not in columns:
        raise ValueError(f"{source} has no column {target!r}. Columns: {', '.join(names)}.")
    if features is None:
        features = [name for name in names if name != target]
    missing = [name for name in features if name not in columns]
    if missing:
        raise ValueError(
            f"{source} lacks the feature column(s) {', '.join(map(repr, missing))}. "
            f"Columns: {', '.join(names)}."
        )
    if not features:
        raise ValueError(f"{source} has no feature columns besides the target {target!r}.")
    X = np.empty((len(columns[features[0]]), len(features)))
    for j, name in enumerate(features):
        if isinstance(columns[name], np.ndarray):  # a numeric column of an .npz
            X[:, j] = columns[name]
            continue
        for i, text in enumerate(columns[name]):
            try:
                X[i, j] = float(text)
            except ValueError:
                problem = "is empty" if text == "" else f"holds {text!r}, not a number"
                raise ValueError(
                    f"{source}: column {name!r}, {where(i)}, {problem}. Features must be "
                    "numeric: fill missing values and encode categories first."
                ) from None
    raw = None if target is None else columns[target]
    return _checked_table(X, features, raw, source, target, task, classes, where)


def _checked_table(
    X: np.ndarray,
    features: list[str],
    raw_target: Any,
    source: str,
    target: str | None,
    task: str,
    classes: list[Any] | None,
    where: Any,
) -> Table:
    """The :class:`Table` of a built feature matrix: every value finite, the target (its raw
    values, or None) present in every row and encoded. ``where(i)`` names row ``i``."""
    if not np.isfinite(X).all():
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{source}: column {features[j]!r}, {where(i)} is NaN or infinite. Fill or drop "
            "missing values first."
        )
    y = encoded_classes = None
    if target is not None:
        if any(str(text) == "" for text in raw_target):
            i = next(i for i, text in enumerate(raw_target) if str(text) == "")
            raise ValueError(f"{source}: the target {target!r} is empty in {where(i)}.")
        y, encoded_classes = encode_target(
            np.asarray(raw_target, dtype=object), task, classes, where, repr(target)
        )
    return Table(X, y, list(features), target, encoded_classes)


def load_table(path: str | os.PathLike, **kwargs: Any) -> Table:
    """:func:`load_csv` or :func:`load_npz_table`, by the file's extension."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}")
    if path.suffix.lower() == ".npz":
        return load_npz_table(path, **kwargs)
    return load_csv(path, **kwargs)
