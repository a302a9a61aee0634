"""Small problems for learning and testing."""

from __future__ import annotations

import numpy as np


def xor(dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The four points of XOR, the tutorial's problem: ``X`` (4, 2) and targets ``y`` (4, 1).

    No straight line separates the ones from the zeros, so a network needs a hidden layer.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = np.array([[0], [1], [1], [0]], dtype=dtype)
    return X, y
