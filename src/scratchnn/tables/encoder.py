r"""The fitted front end that turns a raw table into the float matrix a network takes.

For numeric columns (as scikit-learn's ``SimpleImputer(strategy="median")`` then
``StandardScaler``): a missing value becomes the training median ``m``, then
:math:`z = (x - μ) / σ` with the training mean and standard deviation of the imputed column
(σ = 1 for a constant one). With ``scaling="robust"`` (RealMLP's "robust scale + smooth clip",
Holzmüller et al. 2024) the centre is the training median and the scale the interquartile
range ``q₇₅ - q₂₅`` (the standard deviation where that is 0, 1 for a constant column), and the
result is clipped smoothly, :math:`z / \sqrt{1 + (z/3)^2}`, into ``(-3, 3)``: an outlier or a
value far beyond the training range cannot dominate a row. Optionally one 0/1 column per
numeric column that had missing values says "this value was missing". A missing value in a
column that had none in training is counted in :attr:`TableEncoder.new_missing_`. Infinite
numbers (``inf``, ``1e999``) are refused with their count and place, as scikit-learn's
imputers refuse them, not imputed.

For categorical columns (as ``OneHotEncoder(handle_unknown="ignore",
max_categories=...)``): one 0/1 column per category seen in training; a missing value is its
own category ``(missing)`` (or the most frequent one); a category unseen in training becomes
all zeros and is counted in :attr:`TableEncoder.unseen_`; beyond ``max_categories`` the rarest
categories are pooled into one ``(other)`` column.

With ``equal_columns=True``, one 0/1 column ``a==b`` for each pair of numeric columns that the
training rows show equal often and far beyond chance (a choice table's price paid and the
chosen option's price; :mod:`~scratchnn.tables.equal_columns`): 1 where both are present and
exactly equal.

The encoder is fitted on training rows only and saved inside the model file as JSON plus
named arrays (:meth:`TableEncoder.get_state` / :meth:`TableEncoder.from_state`), never pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .equal_columns import (
    EqualColumns,
    checked_pairs,
    find_equal_columns,
    measured,
    not_searched,
    saved_pairs,
)
from .reading import decimal_comma_column
from .roles import MAX_CODES, ColumnRoles, infer_roles
from .values import (
    MISSING_TOKENS,
    as_columns,
    canonical_labels,
    infinite_of,
    numbers_of,
    text_of,
)

MISSING_CATEGORY = "(missing)"
OTHER_CATEGORY = "(other)"
#: One-hot columns per categorical column by default (``max_categories``,
#: ``--max-categories``): as many as a panel's unit codes keep (roles' ``MAX_CODES``), so that
#: a panel's units written as text (a country, a family, a subject) keep a level each as the
#: same units written as numbers do. Issue 28's tenth round, on the four tuning tables with a
#: text column of more than 50 categories (3 seeds; docs/tables.md): against 50, SumHes' R²
#: 0.595 to 0.918 (125 countries), Blackmoor 0.229 to 0.380 (231 girls),
#: presidentialElections 0.809 to 0.880 (52 states), Forbes2000 0.762 to 0.760 (61 countries).
MAX_CATEGORIES = MAX_CODES
#: How numeric columns are scaled: ``"standard"`` (mean and standard deviation) or
#: ``"robust"`` (median and interquartile range, then :func:`smooth_clip`).
SCALINGS = ("standard", "robust")
#: The bound of :func:`smooth_clip`.
CLIP = 3.0


def smooth_clip(z: np.ndarray, bound: float = CLIP) -> np.ndarray:
    r"""RealMLP's smooth clipping :math:`z / \sqrt{1 + (z/b)^2}`: about ``z`` near 0, tending to
    ``±b`` for large ``|z|``, computed without overflow (``b · z / hypot(b, z)``) for any
    finite or infinite ``z``.

    Example:
        >>> smooth_clip(np.array([0.0, 1.0, 3.0, 1e300, -np.inf])).round(4).tolist()
        [0.0, 0.9487, 2.1213, 3.0, -3.0]
    """
    z = np.clip(np.asarray(z, dtype=np.float64), -1e300, 1e300)
    return bound * (z / np.hypot(bound, z))


class TableEncoder:
    """Raw table in, float matrix ``(n_rows, n_features_out)`` out.

    Args:
        numeric: numeric feature columns; None infers the roles from the data
            (:func:`~scratchnn.tables.roles.infer_roles`).
        categorical: categorical feature columns (with ``numeric=None``: columns to treat as
            categorical even if they hold numbers).
        drop: columns to leave out (only when roles are inferred).
        missing_tokens: texts read as missing.
        missing_indicator: add a 0/1 "was missing" column for each numeric column that had
            missing values in training.
        categorical_missing: ``"category"`` (missing is its own category) or
            ``"most_frequent"``.
        max_categories: at most this many one-hot columns per categorical column (default
            :data:`MAX_CATEGORIES`, 200); rarer categories are pooled into ``(other)``. A
            panel's unit codes (numbers read as categories, :mod:`~scratchnn.tables.roles`
            rule 7) keep one column each, up to :data:`~scratchnn.tables.roles.MAX_CODES`.
        scaling: ``"standard"`` (``(x - mean) / std``) or ``"robust"`` (``(x - median) /
            IQR``, then :func:`smooth_clip`) for the numeric columns.
        equal_columns: True: add a 0/1 ``a==b`` column for each pair of numeric columns
            that the training rows show often equal
            (:func:`~scratchnn.tables.equal_columns.find_equal_columns`); a list of pairs
            (two column names each, or :class:`~scratchnn.tables.equal_columns.EqualColumns`):
            these pairs, measured on the training rows; False: none.

    Example:
        >>> X = {"size": [1.0, None, 3.0], "colour": ["red", "blue", "red"]}
        >>> encoder = TableEncoder().fit(X)
        >>> encoder.feature_names_out()
        ['size', 'colour=blue', 'colour=red']
        >>> encoder.transform({"size": [2.0], "colour": ["green"]}).round(3).tolist()
        [[0.0, 0.0, 0.0]]
        >>> encoder.unseen_
        {'colour': 1}
    """

    def __init__(
        self,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        drop: Sequence[str] = (),
        missing_tokens: Sequence[str] = MISSING_TOKENS,
        missing_indicator: bool = False,
        categorical_missing: str = "category",
        max_categories: int = MAX_CATEGORIES,
        scaling: str = "standard",
        equal_columns: bool | Sequence[EqualColumns] = False,
    ) -> None:
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be 'standard' or 'robust'. Received: {scaling!r}.")
        if categorical_missing not in ("category", "most_frequent"):
            raise ValueError(
                "categorical_missing must be 'category' or 'most_frequent'. Received: "
                f"{categorical_missing!r}."
            )
        if (
            isinstance(max_categories, bool)
            or not isinstance(max_categories, int)
            or (max_categories < 2)
        ):
            raise ValueError(
                f"max_categories must be an integer >= 2. Received: {max_categories!r}."
            )
        self.numeric = None if numeric is None else list(numeric)
        self.categorical = None if categorical is None else list(categorical)
        self.drop = list(drop)
        self.missing_tokens = [str(t) for t in missing_tokens]
        self.missing_indicator = bool(missing_indicator)
        self.categorical_missing = categorical_missing
        self.max_categories = max_categories
        self.scaling = scaling
        self.equal_columns: Any = (  # a list of pairs is checked by fit, against the columns
            bool(equal_columns) if isinstance(equal_columns, bool | np.bool_) else equal_columns
        )
        self.equalities: list[EqualColumns] = []
        #: Why the training rows were not searched for equal columns (too wide), or None.
        self.equalities_skipped: str | None = None
        self.roles: ColumnRoles | None = None
        self.unseen_: dict[str, int] = {}
        self.new_missing_: dict[str, int] = {}
        self.missing_in_training: list[str] | None = None
        self.notices: list[str] = []
        self.fitted = False

    # fitting

    def fit(self, X: Any, roles: ColumnRoles | None = None) -> TableEncoder:
        """Learn medians, means, scales and categories from the training rows ``X``.

        Args:
            X: a DataFrame, a dict of columns, or a :class:`~scratchnn.tables.RawTable`.
            roles: column roles decided elsewhere (the command line decides them on the
                whole file); None: from ``numeric``/``categorical`` or inferred from ``X``.

        Returns:
            self.

        Raises:
            ValueError: a numeric column holds text or an infinite number.
        """
        columns = as_columns(X)
        if roles is None:
            if self.numeric is not None:
                roles = ColumnRoles(list(self.numeric), list(self.categorical or []), {})
                for name in roles.features:
                    if name not in columns:
                        raise ValueError(
                            f"The table has no column {name!r}. Columns: "
                            f"{', '.join(map(repr, columns))}."
                        )
            else:
                roles = infer_roles(
                    columns,
                    drop=self.drop,
                    categorical=self.categorical or (),
                    missing_tokens=self.missing_tokens,
                )
        self.roles = roles
        self.input_columns = roles.features
        self.notices = []
        n = len(next(iter(columns.values()))) if columns else 0
        if n == 0:
            raise ValueError("fit() needs at least one row.")
        medians, means, scales, indicators, had_missing = [], [], [], [], []
        read = {}
        lines = getattr(X, "lines", None)
        for name in roles.numeric:
            numbers, missing = numbers_of(columns[name], self.missing_tokens)
            if numbers is None:
                raise ValueError(
                    f"Column {name!r} was declared numeric but holds text, e.g. "
                    f"{_first_text(columns[name], self.missing_tokens)!r}; declare it "
                    "categorical."
                )
            self._refuse_infinite(name, columns[name], missing, lines)
            read[name] = (numbers, missing)
            present = numbers[~missing]
            median = float(np.median(present)) if len(present) else 0.0
            filled = np.where(missing, median, numbers)
            mean, std = _mean_and_std(filled)
            if self.scaling == "robust":  # centre at the median, scale by the IQR
                low, high = np.percentile(filled, [25, 75])
                mean, iqr = median, float(high - low)
                std = iqr if iqr > 0 and np.isfinite(iqr) else std
            medians.append(median)
            means.append(mean)
            scales.append(std if std > 0 else 1.0)
            if self.missing_indicator and missing.any():
                indicators.append(name)
            if missing.any():
                had_missing.append(name)
        self.median_ = np.array(medians, dtype=np.float64)
        self.mean_ = np.array(means, dtype=np.float64)
        self.scale_ = np.array(scales, dtype=np.float64)
        self.indicators = indicators
        self.equalities = self._equalities(read, n)
        self.missing_in_training = had_missing
        self.categories: dict[str, list[str]] = {}
        self.fill: dict[str, str] = {}
        for name in roles.categorical:
            text, missing = text_of(columns[name], self.missing_tokens)
            labels = canonical_labels(text[~missing])
            values, counts = np.unique(labels, return_counts=True)
            order = np.lexsort((values, -counts))  # most frequent first, ties by name
            values, counts = values[order], counts[order]
            fill = MISSING_CATEGORY
            if self.categorical_missing == "most_frequent" and len(values):
                fill = str(values[0])
            self.fill[name] = fill
            kept = values.tolist()
            if fill == MISSING_CATEGORY and missing.any():
                kept.append(MISSING_CATEGORY)
            # a panel's unit codes (rule 7) keep a column each: each unit's own level is why
            # they are categories, and the rule bounds their number
            limit = (
                max(self.max_categories, MAX_CODES) if name in roles.codes else self.max_categories
            )
            if len(kept) > limit:
                pooled = len(kept) - (limit - 1)
                kept = [*kept[: limit - 1], OTHER_CATEGORY]
                self.notices.append(
                    f"Column {name!r} has {len(values)} categories; the {pooled} rarest are "
                    f"pooled into {OTHER_CATEGORY} (at most {limit} columns)."
                )
            self.categories[name] = sorted(kept)
        self.fitted = True
        return self

    def _equalities(
        self, read: dict[str, tuple[np.ndarray, np.ndarray]], rows: int
    ) -> list[EqualColumns]:
        """The equal-column pairs: found on the ``rows`` training rows, or the given ones
        measured on them, or none."""
        self.equalities_skipped = None
        if self.equal_columns is True:
            self.equalities_skipped = not_searched(rows, len(read))
            return [] if self.equalities_skipped else find_equal_columns(read)
        if self.equal_columns is False:
            return []
        return measured(read, checked_pairs(self.equal_columns, list(read)))

    # applying

    @property
    def n_features_out(self) -> int:
        """The width of :meth:`transform`'s output (the network's ``in_features``)."""
        self._check_fitted()
        return (
            len(self.roles.numeric)
            + len(self.indicators)
            + len(self.equalities)
            + sum(len(c) for c in self.categories.values())
        )

    def feature_names_out(self) -> list[str]:
        """The name of every output column: numeric names, ``name_missing`` indicators,
        ``a==b`` equal-column features, and ``name=category`` one-hot columns."""
        self._check_fitted()
        return (
            list(self.roles.numeric)
            + [f"{name}_missing" for name in self.indicators]
            + [pair.name for pair in self.equalities]
            + [f"{name}={c}" for name, cats in self.categories.items() for c in cats]
        )

    def transform(self, X: Any) -> np.ndarray:
        """The float matrix ``(n_rows, n_features_out)`` of raw rows ``X``.

        ``X`` may be a DataFrame or dict holding (at least) the input columns, or a 2-D array
        whose columns are :attr:`input_columns` in order. Unseen categories become all zeros
        and are counted per column in :attr:`unseen_`.

        Raises:
            ValueError: a column is missing, or a numeric column holds text or an infinite
                number.
        """
        self._check_fitted()
        columns = as_columns(X, names=self.input_columns)
        absent = [name for name in self.input_columns if name not in columns]
        if absent:
            raise ValueError(
                f"The table lacks the column(s) {', '.join(map(repr, absent))} that the model "
                f"was trained with. Columns given: {', '.join(map(repr, columns))}."
            )
        n = len(columns[self.input_columns[0]])
        out = np.zeros((n, self.n_features_out), dtype=np.float64)
        lines = getattr(X, "lines", None)
        self.new_missing_ = {}
        read = {}
        paired = {name for pair in self.equalities for name in (pair.first, pair.second)}
        j = 0
        for k, name in enumerate(self.roles.numeric):
            numbers, missing = numbers_of(columns[name], self.missing_tokens)
            if numbers is None:
                text = _first_text(columns[name], self.missing_tokens)
                cells = np.char.strip(np.asarray(columns[name]).astype(str)).tolist()
                where = ""
                if lines is not None and text in cells:
                    where = f" on line {lines[cells.index(text)]}"
                if decimal_comma_column(np.array([text])):
                    where += " (a decimal comma: pass --decimal , to read it as a number)"
                raise ValueError(
                    f"Column {name!r} was numeric in training but holds {text!r}{where}."
                )
            self._refuse_infinite(name, columns[name], missing, lines)
            trained_with = self.missing_in_training
            if trained_with is not None and name not in trained_with and missing.any():
                self.new_missing_[name] = int(missing.sum())
            read[name] = (numbers.copy() if name in paired else numbers, missing)
            numbers[missing] = self.median_[k]
            with np.errstate(over="ignore"):  # a value far beyond the training range: inf
                out[:, j] = (numbers - self.mean_[k]) / self.scale_[k]
            if self.scaling == "robust":
                out[:, j] = smooth_clip(out[:, j])
            j += 1
        for name in self.indicators:
            out[:, j] = read[name][1]
            j += 1
        for pair in self.equalities:
            (a, missing_a), (b, missing_b) = read[pair.first], read[pair.second]
            out[:, j] = (a == b) & ~missing_a & ~missing_b
            j += 1
        self.unseen_ = {}
        for name, cats in self.categories.items():
            text, missing = text_of(columns[name], self.missing_tokens)
            labels = canonical_labels(text).astype(object)
            labels[missing] = self.fill[name]
            known = np.asarray(cats)
            position = np.searchsorted(known, labels.astype(str))
            position = np.minimum(position, len(known) - 1)
            found = known[position] == labels.astype(str)
            if OTHER_CATEGORY in cats and not missing.all():
                other = cats.index(OTHER_CATEGORY)
                pooled = ~found & ~missing
                position[pooled], found[pooled] = other, True
            rows = np.flatnonzero(found)
            out[rows, j + position[found]] = 1.0
            if (~found).any():
                self.unseen_[name] = int((~found).sum())
            j += len(cats)
        return out

    def _refuse_infinite(
        self, name: str, values: np.ndarray, missing: np.ndarray, lines: list[int] | None
    ) -> None:
        """Raise for infinite numbers in a numeric column, with their count and the first."""
        infinite = infinite_of(values, self.missing_tokens, missing)
        if not infinite.any():
            return
        first = int(np.flatnonzero(infinite)[0])
        where = f"line {lines[first]}" if lines is not None else f"row {first + 1}"
        count = int(infinite.sum())
        cell = str(np.asarray(values)[first]).strip()
        raise ValueError(
            f"Column {name!r} holds {count:,} infinite number{'s' * (count > 1)} (the first: "
            f"{cell!r} on {where}), which a network cannot use. Fix the file, or have such "
            "cells read as missing values (--missing when training, missing_tokens in Python)."
        )

    def fit_transform(self, X: Any, roles: ColumnRoles | None = None) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` on the same rows."""
        return self.fit(X, roles).transform(X)

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise ValueError("This TableEncoder is not fitted yet; call fit(X) first.")

    # saving

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(config, arrays)``: JSON-compatible settings and categories, and the numeric
        statistics as named arrays, for the model file."""
        self._check_fitted()
        config = {
            "numeric": list(self.roles.numeric),
            "categorical": list(self.roles.categorical),
            "dropped": dict(self.roles.dropped),
            "missing_tokens": list(self.missing_tokens),
            "missing_indicator": self.missing_indicator,
            "categorical_missing": self.categorical_missing,
            "max_categories": self.max_categories,
            "scaling": self.scaling,
            "indicators": list(self.indicators),
            "equal_columns": [list(pair) for pair in self.equalities],
            "missing_in_training": self.missing_in_training,
            "categories": {k: list(v) for k, v in self.categories.items()},
            "fill": dict(self.fill),
        }
        arrays = {"median": self.median_, "mean": self.mean_, "scale": self.scale_}
        return config, arrays

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> TableEncoder:
        """The fitted encoder that :meth:`get_state` described.

        Raises:
            ValueError: the state is inconsistent (array sizes, unknown categories).
        """
        encoder = cls(
            missing_tokens=config["missing_tokens"],
            missing_indicator=bool(config["missing_indicator"]),
            categorical_missing=config["categorical_missing"],
            max_categories=int(config["max_categories"]),
            scaling=config.get("scaling", "standard"),  # absent from older files
        )
        numeric = [str(n) for n in config["numeric"]]
        categorical = [str(n) for n in config["categorical"]]
        encoder.roles = ColumnRoles(numeric, categorical, dict(config.get("dropped", {})))
        encoder.input_columns = encoder.roles.features
        encoder.indicators = [str(n) for n in config["indicators"]]
        encoder.equalities = saved_pairs(config.get("equal_columns", []), numeric)
        encoder.equal_columns = [(p.first, p.second) for p in encoder.equalities]
        trained_with = config.get("missing_in_training")  # absent from older files: unknown
        encoder.missing_in_training = (
            None if not isinstance(trained_with, list) else [str(n) for n in trained_with]
        )
        encoder.categories = {str(k): [str(c) for c in v] for k, v in config["categories"].items()}
        encoder.fill = {str(k): str(v) for k, v in config["fill"].items()}
        for key in ("median", "mean", "scale"):
            array = np.asarray(arrays[key], dtype=np.float64)
            if array.shape != (len(numeric),):
                raise ValueError(
                    f"the encoder's {key} array has shape {array.shape}, expected ({len(numeric)},)"
                )
            setattr(encoder, f"{key}_", array)
        if set(encoder.categories) != set(categorical) or set(encoder.fill) != set(categorical):
            raise ValueError("the encoder's categories do not match its categorical columns")
        if any(c != sorted(c) or not c for c in encoder.categories.values()):
            raise ValueError("the encoder's categories are not sorted lists")
        if not set(encoder.indicators) <= set(numeric) or not np.all(encoder.scale_ > 0):
            raise ValueError("the encoder's indicators or scales are inconsistent")
        encoder.fitted = True
        return encoder

    def __repr__(self) -> str:
        if not self.fitted:
            return "TableEncoder(unfitted)"
        return (
            f"TableEncoder({len(self.roles.numeric)} numeric, {len(self.roles.categorical)} "
            f"categorical -> {self.n_features_out} features)"
        )


def _mean_and_std(values: np.ndarray) -> tuple[float, float]:
    """The mean and standard deviation of a column, also where its squares would overflow
    float64 (values beyond about 1e154): computed in units of its largest value then."""
    top = float(np.max(np.abs(values))) if len(values) else 0.0
    unit = top if top > 1e150 else 1.0
    scaled = values / unit
    return float(scaled.mean()) * unit, float(scaled.std()) * unit


def _first_text(values: np.ndarray, tokens: Sequence[str]) -> str:
    text, missing = text_of(values, tokens)
    for t, m in zip(text.tolist(), missing.tolist(), strict=True):
        if not m:
            try:
                float(t)
            except ValueError:
                return t
    return ""
