r"""Numeric columns that are often exactly equal, found on the training rows.

A choice table holds each option's price and the price paid, which is the chosen option's:
in Ecdat's Fishing, ``price`` equals ``pboat`` exactly when the mode is boat. Whether two
columns are *equal* is a step function of their difference, which a network of ReLUs with
small weights cannot draw from a few hundred rows, while a tree splits on it at once; that
equality was the whole of scratchnn's shortfall on such tables (issue 28, docs/tables.md).
So the encoder adds one 0/1 feature, ``a==b``, for each pair of numeric columns ``(a, b)``
that is equal far more often than chance would make it:

- **often**: equal in a share ``s`` of the training rows where both are present, with
  :data:`MIN_SHARE` ≤ ``s`` ≤ 1 - :data:`MIN_SHARE` (a pair equal in almost every row, or
  almost none, says nothing), and in at least :data:`MIN_ROWS` rows (two columns of
  percentages in a table of 176 schools agree in 4 rows by coincidence);
- **beyond chance**: :math:`s ≥` :data:`TIMES_CHANCE` :math:`· \sum_v p_a(v)\, p_b(v)`, the
  share of rows in which the two would be equal if they were drawn independently from their
  own training distributions (two yes/no columns are equal in half the rows by chance; two
  prices almost never);
- on at least :data:`MIN_VALUES` distinct values (not one shared value, such as 0, alone).

At most :data:`MAX_PAIRS` pairs are kept, the farthest beyond chance, and only tables of at
most :data:`MAX_COLUMNS` numeric columns and :data:`MAX_CELLS` numeric cells are searched
(images and spectra have hundreds of columns, whose neighbouring pixels agree in the same way
for every class; :func:`not_searched` says why a table is not). Everything is counted over
the rows as a set, so the pairs do not depend on the rows' order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

#: The least share of the training rows (where both are present) in which two columns must
#: be equal, and the most is 1 minus it.
MIN_SHARE = 0.02
#: How many times more often than chance two columns must be equal.
TIMES_CHANCE = 3.0
#: The least number of rows in which two columns must be equal.
MIN_ROWS = 10
#: The least number of distinct values the equal rows must hold.
MIN_VALUES = 2
#: The most pairs kept (the farthest beyond chance first).
MAX_PAIRS = 32
#: Tables with more numeric columns than this are not searched.
MAX_COLUMNS = 64
#: Nor tables with more numeric cells (training rows times numeric columns) than this: the
#: search holds the distinct values of all columns at once.
MAX_CELLS = 20_000_000


class EqualColumns(NamedTuple):
    """Two numeric columns that are often equal: ``share`` of the training rows where both
    are present, ``times_chance`` times as often as independent columns would be."""

    first: str
    second: str
    share: float
    times_chance: float

    @property
    def name(self) -> str:
        """The feature's name, ``"first==second"``."""
        return f"{self.first}=={self.second}"


def not_searched(rows: int, columns: int) -> str | None:
    """Why a table of ``rows`` training rows and ``columns`` numeric columns is not searched
    for equal columns (None: it is).

    Example:
        >>> not_searched(1_000, 12) is None, not_searched(1_000, 80)
        (True, 'more than 64 numeric columns')
    """
    if columns > MAX_COLUMNS:
        return f"more than {MAX_COLUMNS} numeric columns"
    if rows * columns > MAX_CELLS:
        return f"more than {MAX_CELLS:,} numeric cells"
    return None


def find_equal_columns(
    numbers: dict[str, tuple[np.ndarray, np.ndarray]],
) -> list[EqualColumns]:
    """The pairs of columns that are equal often and beyond chance, in column order.

    Args:
        numbers: ``{name: (values, missing)}`` for each numeric column, in column order:
            float64 values ``(n,)`` and a boolean missing mask ``(n,)``.

    Example:
        >>> price = np.tile([3.0, 5.0, 2.0, 7.0, 5.0, 1.0], 4)
        >>> p_boat = np.tile([3.0, 4.0, 2.0, 6.0, 5.0, 8.0], 4)
        >>> adults = np.tile([1.0, 1.0, 0.0, 0.0, 1.0, 1.0], 4)  # equal to children by chance
        >>> children = np.tile([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], 4)
        >>> no = np.zeros(24, dtype=bool)
        >>> pairs = find_equal_columns(
        ...     {"price": (price, no), "p_boat": (p_boat, no), "adults": (adults, no),
        ...      "children": (children, no)}
        ... )
        >>> [(p.name, round(p.share, 2), round(p.times_chance, 1)) for p in pairs]
        [('price==p_boat', 0.5, 4.5)]
    """
    names = list(numbers)
    rows = len(numbers[names[0]][0]) if names else 0
    if not_searched(rows, len(names)) is not None:
        return []
    chances = _Chances(numbers)
    found = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            equal, share = _agreement(numbers, first, second)
            if int(equal.sum()) < MIN_ROWS or not MIN_SHARE <= share <= 1 - MIN_SHARE:
                continue
            chance = chances(first, second)  # > 0: they share a value
            if share < TIMES_CHANCE * chance:
                continue
            if not _distinct_at_least(numbers[first][0][equal], MIN_VALUES):
                continue
            found.append(EqualColumns(first, second, share, share / chance))
    kept = sorted(found, key=lambda pair: -pair.times_chance)[:MAX_PAIRS]
    order = {name: k for k, name in enumerate(names)}
    return sorted(kept, key=lambda pair: (order[pair.first], order[pair.second]))


def checked_pairs(pairs: Any, numeric: Sequence[str]) -> list[tuple[str, str]]:
    """The ``(first, second)`` names of ``pairs`` (:class:`EqualColumns`, or two names each),
    checked: two different numeric columns each, no pair twice (in either order).

    Raises:
        ValueError: naming the entry and what is wrong with it.
    """
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Sequence):
        raise ValueError(
            f"equal_columns must be True, False or a list of column pairs; received {pairs!r}."
        )
    names, seen = [], set()
    for entry in pairs:
        if isinstance(entry, str | bytes) or not isinstance(entry, Sequence) or len(entry) < 2:
            raise ValueError(f"equal_columns entry {entry!r} is not a pair of column names.")
        first, second = entry[0], entry[1]
        for name in (first, second):
            if not isinstance(name, str) or name not in numeric:
                raise ValueError(
                    f"equal_columns entry {entry!r} names {name!r}, which is not a numeric "
                    f"column. Numeric columns: {', '.join(map(repr, numeric)) or 'none'}."
                )
        if first == second or frozenset((first, second)) in seen:
            why = "one column twice" if first == second else "a pair already listed"
            raise ValueError(f"equal_columns entry {entry!r} is {why}.")
        seen.add(frozenset((first, second)))
        names.append((first, second))
    return names


def measured(
    numbers: dict[str, tuple[np.ndarray, np.ndarray]], pairs: list[tuple[str, str]]
) -> list[EqualColumns]:
    """The given ``pairs`` with their share and times chance on these rows (0 where they
    are never equal)."""
    chances, out = _Chances(numbers), []
    for first, second in pairs:
        share = _agreement(numbers, first, second)[1]
        chance = chances(first, second) if share > 0 else 0.0
        out.append(EqualColumns(first, second, share, share / chance if chance > 0 else 0.0))
    return out


def saved_pairs(entries: Any, numeric: Sequence[str]) -> list[EqualColumns]:
    """The pairs a model file lists, ``[[first, second, share, times_chance], ...]``.

    Raises:
        ValueError: an entry is not two different numeric columns, a share in ``[0, 1]``
            and a finite times chance ``>= 0``, or a pair is listed twice.
    """
    if not isinstance(entries, list):
        raise ValueError("the encoder's equal_columns is not a list")
    for entry in entries:
        numbers = entry[2:] if isinstance(entry, list) else ()
        if (
            len(numbers) != 2
            or not all(type(x) in (int, float) and -2.0 < x < 1e300 for x in numbers)
            or not (0 <= numbers[0] <= 1 and numbers[1] >= 0)
        ):
            raise ValueError(f"the encoder's equal_columns entry {entry!r} is inconsistent")
    try:
        names = checked_pairs(entries, numeric)
    except ValueError as error:
        raise ValueError(f"the encoder's {error}") from None
    return [
        EqualColumns(first, second, float(entry[2]), float(entry[3]))
        for (first, second), entry in zip(names, entries, strict=True)
    ]


def _agreement(
    numbers: dict[str, tuple[np.ndarray, np.ndarray]], first: str, second: str
) -> tuple[np.ndarray, float]:
    """The rows where both columns are present and equal ``(n,)``, and their share of the
    rows where both are present (0 where there are none)."""
    (a, missing_a), (b, missing_b) = numbers[first], numbers[second]
    both = ~missing_a & ~missing_b
    equal = both & (a == b)
    return equal, int(equal.sum()) / max(int(both.sum()), 1)


class _Chances:
    """``Σ_v p_a(v) p_b(v)``: how often columns ``a`` and ``b`` would agree if drawn
    independently from their own training values.

    Each column's distribution is held over the sorted union of all columns' values (built at
    the first call: most tables have no pair often equal enough to ask), so that a pair's
    chance is one gather and one dot product, its first column's spread out densely.
    """

    def __init__(self, numbers: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self.numbers = numbers
        self.codes: dict[str, np.ndarray] | None = None
        self.spread: str | None = None

    def __call__(self, a: str, b: str) -> float:
        if self.codes is None:
            present = {name: v[~missing] for name, (v, missing) in self.numbers.items()}
            union = np.unique(np.concatenate(list(present.values())))
            self.codes, self.shares = {}, {}
            for name, values in present.items():
                kept, counts = np.unique(values, return_counts=True)
                self.codes[name] = np.searchsorted(union, kept)
                self.shares[name] = counts / max(int(counts.sum()), 1)
            self.dense = np.zeros(len(union))
        if self.spread != a:
            if self.spread is not None:
                self.dense[self.codes[self.spread]] = 0.0
            self.dense[self.codes[a]] = self.shares[a]
            self.spread = a
        return float(self.dense[self.codes[b]] @ self.shares[b])


def _distinct_at_least(values: np.ndarray, k: int) -> bool:
    """Whether ``values`` hold at least ``k`` distinct numbers (one pass for ``k = 2``)."""
    if k == 2:
        return len(values) > 0 and bool((values != values[0]).any())
    return len(np.unique(values)) >= k
