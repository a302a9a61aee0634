"""Raw column values: what counts as missing, numbers in text, and the input kinds accepted
(a pandas DataFrame, a dict of columns, a 2-D array of mixed objects).

pandas is never imported: a DataFrame is recognised by its ``columns`` and ``iloc``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Cell texts read as a missing value (after stripping spaces), unless configured otherwise.
MISSING_TOKENS: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", "null", "None", "?")


def is_dataframe(X: Any) -> bool:
    """True for a pandas (or pandas-like) DataFrame, without importing pandas."""
    return hasattr(X, "columns") and hasattr(X, "iloc") and hasattr(X, "to_numpy")


def as_columns(X: Any, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``X`` as ``{column name: 1-D array}``.

    Args:
        X: a DataFrame, a dict of column -> list/array, a :class:`RawTable`, or a 2-D
            array / list of rows (then ``names`` gives the columns, in order).
        names: the column names of a 2-D ``X`` (a fitted encoder passes its input columns).

    Raises:
        TypeError: ``X`` is none of these.
        ValueError: columns of different lengths, or a 2-D ``X`` of the wrong width.

    Example:
        >>> as_columns([[1, "a"], [2, "b"]], names=["n", "s"])["s"].tolist()
        ['a', 'b']
    """
    if hasattr(X, "columns") and hasattr(X, "lines"):  # a RawTable
        columns = dict(X.columns)
    elif is_dataframe(X):
        columns = {str(name): X[name].to_numpy() for name in X.columns}
    elif isinstance(X, dict):
        columns = {str(name): _column(values, name) for name, values in X.items()}
    else:
        if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
            raise TypeError(
                "A table must be a pandas DataFrame, a dict of column -> values, or a 2-D "
                f"array of rows; received {type(X).__name__}."
            )
        array = np.asarray(X, dtype=None if isinstance(X, np.ndarray) else object)
        if array.ndim != 2:
            raise ValueError(
                f"A table given as an array must be 2-D (rows, columns); received shape "
                f"{array.shape}."
            )
        if names is None:
            names = [f"x{i}" for i in range(array.shape[1])]
        if array.shape[1] != len(names):
            raise ValueError(
                f"The table has {array.shape[1]} columns, but {len(names)} are expected "
                f"({', '.join(names[:8])}{', ...' if len(names) > 8 else ''}). Pass a DataFrame "
                "or a dict to give columns by name."
            )
        columns = {name: array[:, j] for j, name in enumerate(names)}
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            "The columns have different lengths: "
            + ", ".join(f"{k}: {v}" for k, v in list(lengths.items())[:8])
            + "."
        )
    return columns


def _column(values: Any, name: Any) -> np.ndarray:
    array = np.asarray(values) if isinstance(values, np.ndarray) else None
    if array is None:
        array = np.asarray(list(values) if not hasattr(values, "to_numpy") else values.to_numpy())
        if array.dtype.kind in "USO" or array.dtype == object:
            array = array.astype(object)
    if array.ndim != 1:
        raise ValueError(f"Column {name!r} must be 1-D; received shape {array.shape}.")
    return array


def _is_missing_object(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and value != value)
        or type(value).__name__ in ("NAType", "NaTType")
    )


def text_of(
    values: np.ndarray, tokens: Sequence[str] = MISSING_TOKENS
) -> tuple[np.ndarray, np.ndarray]:
    """Each value as stripped text, and a mask of missing values.

    Missing: ``None``, NaN, pandas' ``NA``, and any text in ``tokens``.

    Returns:
        ``(text, missing)``: a unicode array ``(n,)`` and a bool array ``(n,)``.

    Example:
        >>> text, missing = text_of(np.array(["a ", None, "NA", 3], dtype=object))
        >>> text.tolist(), missing.tolist()
        (['a', '', 'NA', '3'], [False, True, True, False])
    """
    values = np.asarray(values)
    if values.dtype.kind == "f":
        missing = ~np.isfinite(values)
        return values.astype(str), missing
    if values.dtype.kind in "iub":
        return values.astype(str), np.zeros(len(values), bool)
    if values.dtype.kind == "U":
        text = np.char.strip(values)
        none = np.zeros(len(values), bool)
    else:
        none = np.fromiter((_is_missing_object(v) for v in values), bool, len(values))
        text = np.array(["" if m else str(v).strip() for v, m in zip(values, none, strict=True)])
        if text.dtype.kind != "U":  # an empty column
            text = text.astype(str)
    missing = none | np.isin(text, list(tokens))
    return text, missing


def numbers_of(
    values: np.ndarray, tokens: Sequence[str] = MISSING_TOKENS
) -> tuple[np.ndarray | None, np.ndarray]:
    """The values as float64 with NaN where missing, or None when any present value is not a
    number; and the missing mask. Infinite values count as missing.

    Example:
        >>> numbers, missing = numbers_of(np.array(["1.5", "NA", "2"], dtype=object))
        >>> numbers.tolist(), missing.tolist()
        ([1.5, nan, 2.0], [False, True, False])
        >>> numbers_of(np.array(["1", "x"], dtype=object))[0] is None
        True
    """
    values = np.asarray(values)
    if values.dtype.kind in "fiub":
        numbers = values.astype(np.float64)
        missing = ~np.isfinite(numbers)
        numbers[missing] = np.nan
        return numbers, missing
    if values.dtype == object and all(
        isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values[:1000]
    ):
        try:
            numbers = np.array(
                [np.nan if _is_missing_object(v) else v for v in values], dtype=np.float64
            )
        except (TypeError, ValueError):
            numbers = None
        if numbers is not None:
            missing = ~np.isfinite(numbers)
            numbers[missing] = np.nan
            return numbers, missing
    if values.dtype.kind == "U":  # fast path: text of numbers only, nothing missing
        try:
            numbers = values.astype(np.float64)
        except ValueError:
            numbers = None
        if numbers is not None and np.isfinite(numbers).all():
            return numbers, np.zeros(len(numbers), bool)
    text, missing = text_of(values, tokens)
    numbers = np.full(len(text), np.nan)
    try:
        numbers[~missing] = text[~missing].astype(np.float64)
    except ValueError:
        return None, missing
    bad = ~np.isfinite(numbers) & ~missing
    missing = missing | bad
    numbers[bad] = np.nan
    return numbers, missing


def infinite_of(
    values: np.ndarray, tokens: Sequence[str] = MISSING_TOKENS, missing: np.ndarray | None = None
) -> np.ndarray:
    """The mask of cells holding an infinite number: ``inf``, ``-Infinity``, or a number too
    large for float64 (``1e999``), which :func:`numbers_of` counts as missing.

    Args:
        values: a column.
        tokens: texts read as missing (never infinite).
        missing: :func:`numbers_of`'s mask for ``values``, if at hand (a column with nothing
            missing is then answered at once).

    Returns:
        A bool array ``(n,)``.

    Example:
        >>> infinite_of(np.array(["1", "inf", "NA", "1e999", "-Infinity"])).tolist()
        [False, True, False, True, True]
    """
    values = np.asarray(values)
    n = len(values)
    if values.dtype.kind == "f":
        return np.isinf(values)
    if values.dtype.kind in "iub" or (missing is not None and not missing.any()):
        return np.zeros(n, bool)
    text, absent = text_of(values, tokens)
    candidates = ~absent if missing is None else (missing & ~absent)
    out = np.zeros(n, bool)
    for i in np.flatnonzero(candidates).tolist():
        try:
            out[i] = math.isinf(float(text[i]))
        except ValueError:
            continue
    return out


def canonical_labels(text: np.ndarray) -> np.ndarray:
    """Category labels in one spelling per value: numbers by value (``"1"``, ``"1.0"`` and
    ``1`` are all ``"1"``), other text unchanged.

    Example:
        >>> canonical_labels(np.array(["1.0", "2", "b", "2.5"])).tolist()
        ['1', '2', 'b', '2.5']
    """
    text = np.asarray(text).astype(str)
    if len(text) == 0:
        return text
    unique, inverse = np.unique(text, return_inverse=True)
    spelled = np.array([_canonical(t) for t in unique.tolist()])
    return spelled[inverse.reshape(-1)]


def _canonical(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    if number != number or number in (float("inf"), float("-inf")):
        return text
    return str(int(number)) if number == int(number) else str(number)
