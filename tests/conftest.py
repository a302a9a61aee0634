"""Shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def single_threaded_torch():
    """PyTorch on one thread for a module that uses it as an oracle (opt in with
    ``pytestmark = pytest.mark.usefixtures("single_threaded_torch")``). The tensors there are
    tiny: torch's thread pool only adds overhead, and on a busy 2-core machine it made such a
    module ~4x slower. The previous setting is restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
