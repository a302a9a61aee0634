"""Column roles: which columns are numeric features, which are categorical, and which are left
out (row numbers, identifiers, constants), each decision with its reason.

Rules, in order, for every column but the target:

1. ``features`` given: columns not named there are left out; named ones are kept whatever
   they look like. ``drop`` names columns to leave out.
2. Every value missing, or a single distinct value: left out (empty / constant).
3. Whole numbers equal to a row counter (``1..n`` or ``0..n-1`` in file order): a row number.
4. An unnamed column (``""`` or pandas' ``Unnamed: 0``) with a different value in every row:
   an index (R's ``write.csv`` writes one).
5. Text with a different value in every row (10 rows or more): an identifier, e.g. a name.
6. Otherwise numbers are numeric, and text (or a column named in ``categorical``) is
   categorical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .values import MISSING_TOKENS, numbers_of, text_of

#: Columns with fewer rows than this are never called identifiers or row numbers.
MIN_ROWS_FOR_ID = 10


@dataclass
class ColumnRoles:
    """The decision for every column.

    Attributes:
        numeric: numeric feature columns, in file order.
        categorical: categorical feature columns, in file order.
        dropped: column -> why it was left out.
    """

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def describe(self) -> list[str]:
        """One line per kind, for a run header.

        Example:
            >>> ColumnRoles(["a"], ["b"], {"": "row number"}).describe()
            ['Numeric (1): a', 'Categorical (1): b', "Dropped (1): '' (row number)"]
        """
        lines = [
            f"Numeric ({len(self.numeric)}): {_names(self.numeric)}",
            f"Categorical ({len(self.categorical)}): {_names(self.categorical)}",
        ]
        if self.dropped:
            lines.append(
                f"Dropped ({len(self.dropped)}): "
                + ", ".join(f"{_name(n)} ({why})" for n, why in self.dropped.items())
            )
        return lines


def _name(name: str) -> str:
    return name if name and name.strip() == name and " " not in name else repr(name)


def _names(names: list[str], limit: int = 30) -> str:
    if not names:
        return "none"
    shown = ", ".join(_name(n) for n in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def is_unnamed(name: str) -> bool:
    """An index column's name as R (``""``) or pandas (``Unnamed: 0``) writes it."""
    return name.strip() == "" or name.startswith("Unnamed:")


def _row_counter(numbers: np.ndarray) -> bool:
    n = len(numbers)
    return n >= MIN_ROWS_FOR_ID and any(
        np.array_equal(numbers, np.arange(start, start + n)) for start in (0, 1)
    )


def infer_roles(
    columns: dict[str, np.ndarray],
    target: str | None = None,
    drop: Sequence[str] = (),
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    missing_tokens: Sequence[str] = MISSING_TOKENS,
) -> ColumnRoles:
    """Decide the role of every column (see the module documentation for the rules).

    Args:
        columns: name -> raw values (text or numbers), rows in file order.
        target: the target column, never a feature.
        drop: columns to leave out.
        features: if given, exactly these columns are features.
        categorical: columns to treat as categorical even if they hold numbers.
        missing_tokens: texts that mean "missing".

    Raises:
        ValueError: a name in ``drop``/``features``/``categorical`` is not a column, or no
            feature column is left.

    Example:
        >>> roles = infer_roles({"": np.arange(1, 13), "x": np.arange(12) % 5,
        ...                      "c": np.array(list("abc") * 4, dtype=object)})
        >>> roles.numeric, roles.categorical, roles.dropped
        (['x'], ['c'], {'': 'row number 1..12'})
    """
    names = list(columns)
    for option, given in (
        ("--drop", drop),
        ("--features", features or ()),
        ("--categorical", categorical),
    ):
        unknown = [n for n in given if n not in columns]
        if unknown:
            raise ValueError(
                f"{option} names {', '.join(map(repr, unknown))}, which the table lacks. "
                f"Columns: {', '.join(map(repr, names))}."
            )
    if target is not None and features is not None and target in features:
        raise ValueError(f"The target {target!r} cannot also be a feature (--features).")
    roles = ColumnRoles()
    for name in names:
        if name == target:
            continue
        if features is not None and name not in features:
            roles.dropped[name] = "not in --features"
            continue
        if name in drop:
            roles.dropped[name] = "--drop"
            continue
        values = columns[name]
        chosen = features is not None
        numbers, missing = numbers_of(values, missing_tokens)
        present = ~missing
        if not present.any() and not chosen:
            roles.dropped[name] = "every value missing"
            continue
        if numbers is not None and name not in categorical:
            distinct = len(np.unique(numbers[present]))
            if not chosen:
                if distinct <= 1:
                    roles.dropped[name] = "constant"
                    continue
                if not missing.any() and _row_counter(numbers):
                    roles.dropped[name] = f"row number {int(numbers[0])}..{int(numbers[-1])}"
                    continue
                if is_unnamed(name) and distinct == len(numbers):
                    roles.dropped[name] = "unnamed index column"
                    continue
            roles.numeric.append(name)
            continue
        text, _ = text_of(values, missing_tokens)
        distinct = len(np.unique(text[present]))
        if not chosen:
            if distinct <= 1:
                roles.dropped[name] = "constant"
                continue
            unique = distinct == len(text) and not missing.any()
            if unique and is_unnamed(name):
                roles.dropped[name] = "unnamed index column (a different text in every row)"
                continue
            if unique and len(text) >= MIN_ROWS_FOR_ID and numbers is None:
                roles.dropped[name] = "identifier (a different text in every row)"
                continue
        roles.categorical.append(name)
    if not roles.features:
        n = len(next(iter(columns.values()))) if columns else 0
        few = ""
        if n < MIN_ROWS_FOR_ID and any(why == "constant" for why in roles.dropped.values()):
            few = f" (with {n} row{'s' * (n != 1)}, a column easily holds one value only)"
        raise ValueError(
            f"No feature column is left of {len(names)} column{'s' * (len(names) != 1)} in "
            f"{n} row{'s' * (n != 1)}{few}: "
            + "; ".join(f"{_name(name)}: {why}" for name, why in roles.dropped.items())
            + ". Name the columns to use with --features."
        )
    return roles
