"""Column roles: which columns are numeric features, which are categorical, and which are left
out (row numbers, identifiers, constants), each decision with its reason.

Rules, in order, for every column but the target:

1. ``features`` given: columns not named there are left out; named ones are kept whatever
   they look like. ``drop`` names columns to leave out.
2. Every value missing, or a single distinct value: left out (empty / constant).
3. A row number: whole numbers, a different one in every row, starting near 0 or 1 and
   filling most of the range up to their largest (a ``1..n`` counter, or a random part of one),
   in an unnamed column or one named like an index (``id``, ``index``, ``row``, ``obs``, ``nr``,
   ``case``, ...: see :func:`is_id_name`). Read from the values, never their order: the whole
   file, a shuffled copy and a random training part get the same role. A counter under another
   name (``rank``, ``t``) is a feature: ranks and time trends are informative.
4. An unnamed column (``""`` or pandas' ``Unnamed: 0``) with a different value in every row:
   an index (R's ``write.csv`` writes one).
5. An identifier of whole numbers: a column named like an id with many distinct codes (at
   least :data:`MIN_ROWS_FOR_ID`, and one per :data:`ROWS_PER_ID` rows), repeated or not: a
   person id repeated across years, a case id. As a number it would let a model recognise the
   people it trained on.
6. Text with a different value in every row (10 rows or more), or in nearly every row (at
   least :data:`NEAR_UNIQUE` of the rows, 20 distinct values or more): an identifier, e.g. a
   name.
7. Codes of the units of a panel: whole numbers with :data:`MIN_CODES` to
   :data:`MAX_CODES` distinct values, each present at least :data:`MIN_PER_CODE` times and
   about equally often (the rarest at least :data:`CODE_BALANCE` of the commonest): a state
   code over years, a subject over visits. Categorical, so that a model learns each unit's own
   level (as trees split on the code) instead of a slope across arbitrary code numbers. A
   random part of such a table keeps roughly the balance, but the rule reads counts: near its
   thresholds a part can decide otherwise than the whole file (``train`` decides on the whole
   file, and ``predict`` reuses the saved roles).
8. Otherwise numbers are numeric, and text (or a column named in ``categorical``) is
   categorical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .values import MISSING_TOKENS, numbers_of, text_of

#: Columns with fewer rows than this are never called identifiers or row numbers.
MIN_ROWS_FOR_ID = 10
#: A row number fills at least this share of the range from 0 or 1 to its largest value (a 1..n
#: counter fills all of it; a random 64% training part of one about 64%).
ROW_NUMBER_DENSITY = 0.55
#: An id of whole numbers has at least one distinct code per this many rows.
ROWS_PER_ID = 50
#: Text with a distinct value in at least this share of the rows is an identifier.
NEAR_UNIQUE = 0.9
#: Whole numbers with MIN_CODES..MAX_CODES distinct values, each at least MIN_PER_CODE times
#: and the rarest at least CODE_BALANCE times as often as the commonest, are a panel's unit
#: codes: categorical (rule 7).
MIN_CODES = 10
MAX_CODES = 200
MIN_PER_CODE = 5
CODE_BALANCE = 0.5
#: Names (lower case, letters only) that say "index or identifier".
ID_NAMES = frozenset(
    {
        *("x", "id", "ids", "index", "idx", "row", "rows", "rownames", "rowname", "rownum"),
        *("rowid", "obs", "observation", "no", "nr", "num", "number", "case", "caseid"),
        *("idcase", "record", "serial", "key", "unnamed"),
    }
)


@dataclass
class ColumnRoles:
    """The decision for every column.

    Attributes:
        numeric: numeric feature columns, in file order.
        categorical: categorical feature columns, in file order.
        dropped: column -> why it was left out.
        codes: column of numbers -> why it is categorical (rule 7; for the run header).
    """

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)

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
        if self.codes:
            lines.append(
                f"Numbers read as categories ({len(self.codes)}): "
                + ", ".join(f"{_name(n)} ({why})" for n, why in self.codes.items())
                + " [a panel's unit codes; columns named in --features stay numbers]"
            )
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


def is_id_name(name: str) -> bool:
    """A name that says "index or identifier": unnamed, one of :data:`ID_NAMES` (letters only,
    any case: ``ID``, ``row.names``, ``index0``), or ending in ``id`` after a separator or a
    capital (``person_id``, ``personId``, ``case.id``).

    Example:
        >>> [is_id_name(n) for n in ("", "nr", "Person_ID", "personId", "idcase", "rank", "paid")]
        [True, True, True, True, True, False, False]
    """
    if is_unnamed(name):
        return True
    letters = "".join(c for c in name.lower() if c.isalpha())
    if letters in ID_NAMES:
        return True
    stripped = name.rstrip("0123456789")
    if stripped.lower().endswith(("_id", ".id", " id", "-id")):
        return True
    return stripped.endswith(("Id", "ID")) and len(stripped) > 2 and not stripped[:-2].isupper()


def _row_counter(numbers: np.ndarray) -> bool:
    """Whole numbers, a different one in every row, from near 0 or 1 and filling at least
    :data:`ROW_NUMBER_DENSITY` of the range up to the largest: a ``1..n`` counter in any
    order, or a random part of one. The order of the rows does not matter."""
    n = len(numbers)
    if n < MIN_ROWS_FOR_ID or not np.all(numbers == np.round(numbers)):
        return False
    low, high = float(numbers.min()), float(numbers.max())
    if low < 0 or len(np.unique(numbers)) != n:
        return False
    span = high + 1  # values in 0..high (or 1..high)
    # a random part of 1..N starts within a few gaps of 1: gaps average N / n
    return n >= ROW_NUMBER_DENSITY * span and low <= 1 + 3 * span / n


def _integer_codes(numbers: np.ndarray) -> bool:
    """Many distinct whole numbers: at least :data:`MIN_ROWS_FOR_ID`, and one per
    :data:`ROWS_PER_ID` rows."""
    if len(numbers) < MIN_ROWS_FOR_ID or not np.all(numbers == np.round(numbers)):
        return False
    distinct = len(np.unique(numbers))
    return distinct >= MIN_ROWS_FOR_ID and distinct * ROWS_PER_ID >= len(numbers)


def _panel_codes(numbers: np.ndarray) -> bool:
    """Whole numbers that code a balanced panel's units (rule 7).

    Example:
        >>> _panel_codes(np.repeat(np.arange(1, 21), 6))    # 20 units, 6 rows each
        True
        >>> _panel_codes(np.arange(120) % 40 + 18.0)        # ages: 40 values, 3 rows each
        False
    """
    if not np.all(numbers == np.round(numbers)):
        return False
    _, counts = np.unique(numbers, return_counts=True)
    return bool(
        MIN_CODES <= len(counts) <= MAX_CODES
        and counts.min() >= MIN_PER_CODE
        and counts.min() >= CODE_BALANCE * counts.max()
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
                if not missing.any() and is_id_name(name) and _row_counter(numbers):
                    low, high = int(numbers.min()), int(numbers.max())
                    roles.dropped[name] = f"row number {low}..{high}"
                    continue
                if is_unnamed(name) and distinct == len(numbers):
                    roles.dropped[name] = "unnamed index column"
                    continue
                if is_id_name(name) and _integer_codes(numbers[present]):
                    roles.dropped[name] = (
                        f"identifier ({distinct:,} distinct whole numbers in "
                        f"{int(present.sum()):,} rows)"
                    )
                    continue
                if _panel_codes(numbers[present]):
                    roles.categorical.append(name)
                    roles.codes[name] = f"{distinct} codes, each in about as many rows"
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
            rows = int(present.sum())
            if numbers is None and distinct >= 20 and distinct >= NEAR_UNIQUE * rows:
                roles.dropped[name] = f"identifier ({distinct:,} distinct texts in {rows:,} rows)"
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
