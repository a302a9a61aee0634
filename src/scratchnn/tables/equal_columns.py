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
most :data:`MAX_COLUMNS` numeric columns are searched (images and spectra have hundreds,
whose neighbouring pixels agree in the same way for every class). Everything is counted over
the rows as a set, so the pairs do not depend on the rows' order.
"""

from __future__ import annotations

from typing import NamedTuple

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


def find_equal_columns(
    numbers: dict[str, tuple[np.ndarray, np.ndarray]],
) -> list[EqualColumns]:
    """The pairs of columns that are equal often and beyond chance, in column order.

    Args:
        numbers: ``{name: (values, missing)}`` for each numeric column, in column order:
            float64 values ``(n,)`` and a boolean missing mask ``(n,)``.

    Example:
        >>> price = np.array([3.0, 5.0, 2.0, 7.0, 5.0, 1.0])
        >>> p_boat = np.array([3.0, 4.0, 2.0, 6.0, 5.0, 8.0])
        >>> adults = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])  # equal to children by chance
        >>> children = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
        >>> no = np.zeros(6, dtype=bool)
        >>> pairs = find_equal_columns(
        ...     {"price": (price, no), "p_boat": (p_boat, no), "adults": (adults, no),
        ...      "children": (children, no)}
        ... )
        >>> [(p.name, round(p.share, 2), round(p.times_chance, 1)) for p in pairs]
        [('price==p_boat', 0.5, 4.5)]
    """
    names = list(numbers)
    if len(names) > MAX_COLUMNS:
        return []
    distributions = {}
    for name in names:
        values, missing = numbers[name]
        kept, counts = np.unique(values[~missing], return_counts=True)
        distributions[name] = (kept, counts / max(int(counts.sum()), 1))
    found = []
    for i, first in enumerate(names):
        a, missing_a = numbers[first]
        for second in names[i + 1 :]:
            b, missing_b = numbers[second]
            both = ~missing_a & ~missing_b
            present = int(both.sum())
            if present == 0:
                continue
            equal = both & (a == b)
            count = int(equal.sum())
            share = count / present
            if count < MIN_ROWS or not MIN_SHARE <= share <= 1 - MIN_SHARE:
                continue
            values_a, p_a = distributions[first]
            values_b, p_b = distributions[second]
            _, at_a, at_b = np.intersect1d(values_a, values_b, return_indices=True)
            chance = float(np.sum(p_a[at_a] * p_b[at_b]))  # > 0: they share a value
            if share < TIMES_CHANCE * chance:
                continue
            if len(np.unique(a[equal])) < MIN_VALUES:
                continue
            found.append(EqualColumns(first, second, share, share / chance))
    kept = sorted(found, key=lambda pair: -pair.times_chance)[:MAX_PAIRS]
    order = {name: k for k, name in enumerate(names)}
    return sorted(kept, key=lambda pair: (order[pair.first], order[pair.second]))
