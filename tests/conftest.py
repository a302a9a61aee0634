"""Shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def blobs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A small 3-class problem: 90 points around three centres in 4-D."""
    centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=float)
    y = np.repeat(np.arange(3), 30)
    X = centres[y] + 0.5 * rng.normal(size=(90, 4))
    return X, y
