"""Validation, in one place: of arguments (every public constructor and function) and of data
(once, at the boundary of ``fit``/``predict``/``evaluate``).

Nothing inside the training loop checks types or shapes again. Each message says what was
received and what is allowed, in one style (``lr must be a finite number >= 0. Received:
lr=nan.``), so a user can fix the call without reading the source.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: Any) -> np.dtype:
    """The model dtype: float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64. Received: dtype={dtype!r}.")
    return resolved


# Arguments: every public constructor and function checks its numbers, integers and choices
# with these, so the rules and the messages are the same everywhere. NumPy scalars
# (np.float32(0.5), np.int64(2)) are numbers; bools are not; NaN never passes.


def _refuse(name: str, value: Any, rule: str) -> ValueError:
    return ValueError(f"{name} must be {rule}. Received: {name}={value!r}.")


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def check_number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float in the given interval; finite unless ``allow_inf``.

    Example:
        >>> check_number("lr", np.float32(0.5), 0.0)
        0.5
        >>> check_number("p", 1.0, 0.0, 1.0, high_open=True)
        Traceback (most recent call last):
        ...
        ValueError: p must be a finite number in [0, 1). Received: p=1.0.
    """
    interval = _interval(low, high, low_open, high_open)
    rule = f"{'a' if allow_inf else 'a finite'} number{' ' + interval if interval else ''}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _refuse(name, value, rule)
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise _refuse(name, value, rule)
    if low is not None and (number < low or (low_open and number == low)):
        raise _refuse(name, value, rule)
    if high is not None and (number > high or (high_open and number == high)):
        raise _refuse(name, value, rule)
    return number


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (floats and bools are refused).

    Example:
        >>> check_int("patience", np.int64(3), 0)
        3
    """
    interval = _interval(low, high, False, False)
    rule = f"an integer {interval}" if interval else "an integer"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _refuse(name, value, rule)
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise _refuse(name, value, rule)
    return number


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1 (bools and floats are refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}.")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``.

    Example:
        >>> check_choice("mode", "max", ("min", "max"))
        'max'
    """
    if not isinstance(value, Hashable) or value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise _refuse(name, value, f"one of {allowed}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool (True/False or a NumPy bool; not 0/1 or strings)."""
    if not isinstance(value, (bool, np.bool_)):
        raise _refuse(name, value, "True or False")
    return bool(value)


def check_seed(seed: Any) -> int | None:
    """A random seed: None (fresh entropy) or an integer >= 0."""
    if seed is None:
        return None
    return check_int("seed", seed, 0)


def check_callable(name: str, value: Any) -> Any:
    if not callable(value):
        raise TypeError(
            f"{name} must be callable (a function). Received: {name}={value!r} of type "
            f"{type(value).__name__}."
        )
    return value


def _sum_is_finite(array: np.ndarray) -> bool:
    """A cheap first test that every element is finite: then their sum is finite too (if it
    overflows although every element is finite, the caller's exact check settles it).

    For a large float32/float64 matrix the sum is taken as row sums ``X·1`` first: a BLAS
    matrix-vector product reads the data on all cores, ~2.5x faster than ``X.sum()``."""
    with np.errstate(over="ignore", invalid="ignore"):
        if array.ndim >= 2 and array.dtype in (np.float32, np.float64) and array.flags.c_contiguous:
            rows = array.reshape(len(array), -1)
            return bool(np.isfinite((rows @ np.ones(rows.shape[1], array.dtype)).sum()))
        return bool(np.isfinite(array.sum()))


def as_float_array(values: Any, name: str, dtype: np.dtype, convert: bool = True) -> np.ndarray:
    """``values`` as an array of ``dtype`` (no copy if it already is one), non-empty and finite.

    With ``convert=False`` the array is checked (numbers, finite) but returned as it is, for a
    caller that converts it a batch at a time with :func:`cast_rows` (which checks the range)."""
    array = np.asarray(values)
    if array.dtype.kind == "c":
        raise ValueError(
            f"{name} holds complex numbers; a network takes real inputs. Pass the real and "
            "imaginary parts as separate features (np.column_stack([X.real, X.imag]))."
        )
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise ValueError(
            f"{name} must hold numbers; received an array of dtype {array.dtype}. "
            "Encode categories as integers first."
        )
    if array.ndim == 0:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); received the single value "
            f"{array.item()!r}."
        )
    if array.size == 0 or array.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass at least one sample.")
    if array.dtype.kind != "f":
        return np.ascontiguousarray(array, dtype=dtype) if convert else array
    if not _sum_is_finite(array):
        finite = np.isfinite(array)
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            raise ValueError(
                f"{name} contains NaN or infinity (first at index {tuple(int(i) for i in bad)}). "
                "Remove or impute those values before training."
            )
    if not convert:  # the caller converts batch by batch, with cast_rows
        return array
    if array.dtype.itemsize > dtype.itemsize:  # a narrowing cast: check the range first
        check_range(array, name, dtype)
    return np.ascontiguousarray(array, dtype=dtype)


def check_range(array: np.ndarray, name: str, dtype: np.dtype) -> None:
    """Refuse values beyond ``dtype``'s range (they would become infinite in the cast)."""
    limit = float(np.finfo(dtype).max)
    largest = max(float(array.max()), -float(array.min()))
    if largest > limit:
        raise ValueError(
            f"{name} holds values up to {largest:.3g} in magnitude, beyond the range of "
            f"{dtype.name} (max {limit:.3g}). Scale the data, or use dtype=np.float64."
        )


def cast_rows(rows: np.ndarray, name: str, dtype: np.dtype) -> np.ndarray:
    """``rows`` (already checked finite) as a contiguous array of ``dtype``. A narrowing cast
    that overflows is refused with :func:`check_range`'s message, found by the cast itself
    rather than by two more passes over the data."""
    if rows.dtype == dtype and rows.flags.c_contiguous:
        return rows
    try:
        with np.errstate(over="raise"):
            return np.ascontiguousarray(rows, dtype=dtype)
    except FloatingPointError:
        check_range(rows, name, dtype)
        raise


def check_inputs(
    X: Any,
    input_shape: tuple[int | None, ...],
    dtype: np.dtype,
    first_layer: Any,
    convert: bool = True,
    integers: bool = False,
) -> np.ndarray:
    """``X`` as an ``(n_samples, *input_shape)`` array of the model's dtype (left in its own
    dtype with ``convert=False``; see :func:`as_float_array`); ``None`` in ``input_shape``
    takes any size. With ``integers=True`` (a first layer that takes token ids) ``X`` must
    hold whole numbers and comes back as ``intp``."""
    X = as_integer_array(X, "X") if integers else as_float_array(X, "X", dtype, convert)
    want = 1 + len(input_shape)
    if X.ndim != want:
        raise ValueError(_rank_message(X.shape, input_shape))
    for axis, (got, expected) in enumerate(zip(X.shape[1:], input_shape, strict=True), 1):
        if expected is not None and got != expected:
            if len(input_shape) == 1:
                raise ValueError(
                    f"X has {got} features, but the model expects {expected} "
                    f"({first_layer!r} is the first layer)."
                )
            raise ValueError(
                f"X has samples of shape {X.shape[1:]}, but the model expects "
                f"{_shape_text(input_shape)} (axis {axis} must be {expected}; "
                f"{first_layer!r} is the first layer)."
            )
    return X


def check_features(
    X: Any, n_features: int, dtype: np.dtype, first_layer: Any, convert: bool = True
) -> np.ndarray:
    """``X`` as a ``(n_samples, n_features)`` array (see :func:`check_inputs`)."""
    return check_inputs(X, (n_features,), dtype, first_layer, convert)


def _shape_text(shape: tuple[int | None, ...]) -> str:
    inner = ", ".join(str(size) for size in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _rank_message(received: tuple[int, ...], input_shape: tuple[int | None, ...]) -> str:
    """Why ``received`` is not ``(n_samples, *input_shape)``, with the reshape that fixes it."""
    if len(input_shape) == 1:  # rows of features: what 2-D models have always said
        if len(received) == 1:
            return (
                f"X must be 2-D (n_samples, n_features); received a 1-D array of shape "
                f"{received}. Use X.reshape(-1, 1) for a single feature or X.reshape(1, -1) "
                "for a single sample."
            )
        return (
            f"X must be 2-D (n_samples, n_features); received shape {received}. "
            "Flatten each sample first, e.g. X.reshape(len(X), -1)."
        )
    wanted = "(n_samples, " + ", ".join(str(s) for s in input_shape) + ")"
    hint = ""
    known = [s for s in input_shape if s is not None]
    if len(known) == len(input_shape) and len(received) >= 2:
        per_sample = int(np.prod(received[1:]))
        if per_sample == int(np.prod(input_shape)):
            hint = f" Reshape it with X.reshape(len(X), {', '.join(map(str, input_shape))})."
    if len(received) == len(input_shape) and hint == "":
        hint = " A single sample needs the batch axis: X[None]."
    return f"X must be {1 + len(input_shape)}-D {wanted}; received shape {received}.{hint}"


def as_integer_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a non-empty ``intp`` array of whole numbers (token ids, indices)."""
    array = np.asarray(values)
    if array.ndim == 0:
        raise ValueError(
            f"{name} must hold samples of whole numbers; received the single value "
            f"{array.item()!r}."
        )
    if array.size == 0 or array.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass at least one sample.")
    if array.dtype.kind in "iub":
        return array.astype(np.intp, copy=False)
    if (
        array.dtype.kind == "f"
        and np.isfinite(array).all()
        and np.array_equal(array, np.round(array))
    ):
        return array.astype(np.intp)
    raise ValueError(
        f"{name} must hold whole numbers (token ids or indices) for this model; received dtype "
        f"{array.dtype}"
        + (" with non-integer or non-finite values." if array.dtype.kind == "f" else ".")
    )


def as_class_labels(y: Any, n_classes: int) -> np.ndarray:
    """Integer class labels ``(n_samples,)`` in ``[0, n_classes)``."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"Class targets must be integer labels of shape (n_samples,) or one-hot rows of shape "
            f"(n_samples, {n_classes}); received shape {y.shape}."
        )
    if y.size == 0:
        raise ValueError("y is empty; pass at least one sample.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all():
            raise ValueError(
                "Class labels must be whole numbers 0, 1, 2, ...; y contains non-finite values "
                "(nan or inf)."
            )
        if not np.array_equal(y, np.round(y)):
            raise ValueError(
                "Class labels must be whole numbers 0, 1, 2, ...; y holds non-integer floats "
                f"(e.g. {y[y != np.round(y)][0]!r})."
            )
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(
                f"Class labels must lie in [0, {n_classes - 1}] for a model with {n_classes} "
                f"outputs; y ranges over [{y.min():g}, {y.max():g}]."
            )
    elif not np.issubdtype(y.dtype, np.integer) and y.dtype != np.bool_:
        raise ValueError(
            f"Class labels must be integers 0..{n_classes - 1}; received dtype {y.dtype}. "
            "Encode string labels as integers first (e.g. np.unique(y, return_inverse=True))."
        )
    labels = y.astype(np.intp)
    low, high = labels.min(), labels.max()
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"Class labels must lie in [0, {n_classes - 1}] for a model with {n_classes} "
            f"outputs; y ranges over [{low}, {high}]."
        )
    return labels


def check_lengths(X: np.ndarray, y: np.ndarray) -> None:
    if len(X) != len(y):
        raise ValueError(f"X and y have different numbers of samples: {len(X)} and {len(y)}.")


def column_names(X: Any) -> list[str] | None:
    """The column names of a table-like ``X`` (a pandas or polars DataFrame: anything 2-D
    with ``columns``); None for an array, and for a frame whose columns are not all strings
    (``pd.DataFrame(array)`` numbers them 0, 1, ...: positions, not names)."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, (np.ndarray, dict)) or len(getattr(X, "shape", ())) != 2:
        return None
    names = list(columns)
    return names if all(isinstance(name, str) for name in names) else None


def _some(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def columns_by_name(X: Any, feature_names: Sequence[str] | None) -> Any:
    """``X`` with its columns in the order of ``feature_names`` (the features the model was
    trained on), when ``X`` names its columns (a pandas or polars DataFrame): as it is when
    they are already in that order, reordered when it holds the same names in another order,
    and refused, naming the difference, otherwise (as the scikit-learn estimators refuse). An
    array, or a model without feature names, is matched by position, as before.

    Raises:
        ValueError: ``X``'s column names are not exactly ``feature_names``.

    Example:
        >>> class Table:  # what a DataFrame is here: 2-D, with named columns
        ...     columns, shape = ["b", "a"], (1, 2)
        ...     def __array__(self, dtype=None, copy=None):
        ...         return np.array([[2.0, 1.0]])
        >>> columns_by_name(Table(), ["a", "b"]).tolist()
        [[1.0, 2.0]]
    """
    names = column_names(X)
    if names is None or not feature_names:
        return X
    expected = [str(name) for name in feature_names]
    if names == expected:
        return X
    missing = [name for name in expected if name not in set(names)]
    extra = [name for name in names if name not in set(expected)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if missing or extra or repeated or len(names) != len(expected):
        parts = []
        if missing:
            parts.append(f"missing {_some(missing)}")
        if extra:
            parts.append(f"not among the model's features {_some(extra)}")
        if repeated:
            parts.append(f"more than once {_some(repeated)}")
        raise ValueError(
            f"X's columns do not match the {len(expected)} features the model was trained on "
            f"(model.metadata['feature_names']): {'; '.join(parts)}. Pass the columns "
            f"{_some(expected, 5)} (in any order), or an array in the training order."
        )
    position = {name: i for i, name in enumerate(names)}
    return np.asarray(X)[:, [position[name] for name in expected]]
