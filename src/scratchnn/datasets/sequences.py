"""Synthetic sequence tasks that a correct model must learn exactly: copy, reverse, parity.

Each returns ``(X, y)`` for next-token training with
:class:`~scratchnn.losses.SequenceCrossEntropy`: ``X`` the token ids ``(n, time)`` and ``y``
the ids to predict at each position, with ``IGNORE`` (-100) where nothing is asked.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_positive_int, check_seed

__all__ = ["IGNORE", "copy_task", "parity_task", "reverse_task"]

#: The target of a position that is not scored (SequenceCrossEntropy's default ignore_index).
IGNORE = -100


def _prompted(n: int, length: int, symbols: int, seed: int | None, reverse: bool):
    n = check_positive_int("n", n)
    length = check_positive_int("length", length)
    symbols = check_int("symbols", symbols, 2)
    rng = np.random.default_rng(check_seed(seed))
    sep = symbols  # the separator is one more token
    source = rng.integers(0, symbols, size=(n, length))
    answer = source[:, ::-1] if reverse else source
    sequence = np.concatenate([source, np.full((n, 1), sep), answer], axis=1)
    X = sequence[:, :-1]
    y = sequence[:, 1:].copy()
    y[:, :length] = IGNORE  # the source is random: only the answer is scored
    return X, y


def copy_task(
    n: int, length: int = 16, symbols: int = 8, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``a₁ … a_L SEP a₁ … a_L``: after the separator, repeat the source.

    Token ids ``0 .. symbols-1`` are the symbols and ``symbols`` is the separator, so the
    vocabulary has ``symbols + 1`` tokens. ``X`` is the sequence without its last token
    ``(n, 2L)``; ``y`` is it shifted by one, scored only on the answer's ``L`` positions.

    Example:
        >>> X, y = copy_task(1, length=3, symbols=4, seed=0)
        >>> X.tolist(), y.tolist()
        ([[3, 2, 2, 4, 3, 2]], [[-100, -100, -100, 3, 2, 2]])
    """
    return _prompted(n, length, symbols, seed, reverse=False)


def reverse_task(
    n: int, length: int = 16, symbols: int = 8, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``a₁ … a_L SEP a_L … a₁``: after the separator, the source backwards (as
    :func:`copy_task`)."""
    return _prompted(n, length, symbols, seed, reverse=True)


def parity_task(n: int, length: int = 16, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bits ``(n, length)`` and, at every step, the parity of the bits so far (the running
    count of ones, mod 2): ``y_t = (x_1 + … + x_t) mod 2``. Both are token ids (0 or 1).

    Example:
        >>> X, y = parity_task(1, length=5, seed=0)
        >>> X.tolist(), y.tolist()
        ([[1, 1, 1, 0, 0]], [[1, 0, 1, 1, 1]])
    """
    n = check_positive_int("n", n)
    length = check_positive_int("length", length)
    rng = np.random.default_rng(check_seed(seed))
    X = rng.integers(0, 2, size=(n, length))
    return X, np.cumsum(X, axis=1) % 2
