"""Small generated problems for learning and testing, each reproducible from a ``seed``.

Every generator returns ``(X, y)``: ``X`` of shape ``(n_samples, 2)`` (1 for the regression
curve) in float32 by default, and integer class labels ``y`` of shape ``(n_samples,)``
(float targets ``(n_samples, 1)`` for the curve and XOR).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_number


def xor(dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The four points of XOR, the tutorial's problem: ``X`` (4, 2) and targets ``y`` (4, 1).

    No straight line separates the ones from the zeros, so a network needs a hidden layer.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = np.array([[0], [1], [1], [0]], dtype=dtype)
    return X, y


def _check_count(n_samples: int, minimum: int = 1, name: str = "n_samples") -> int:
    return check_int(name, n_samples, minimum)


def _check_spread(value: float, name: str) -> float:
    return check_number(name, value, 0.0)


def _two_classes(
    first: np.ndarray, second: np.ndarray, noise: float, rng: np.random.Generator, dtype: type
) -> tuple[np.ndarray, np.ndarray]:
    """Points of class 0 and class 1 with Gaussian noise, in shuffled order (so that any slice,
    e.g. a validation split, holds both classes)."""
    X = np.vstack([first, second])
    X += rng.normal(0, noise, X.shape)
    y = np.concatenate([np.zeros(len(first)), np.ones(len(second))]).astype(np.int64)
    order = rng.permutation(len(X))
    return X[order].astype(dtype), y[order]


def spirals(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int | None = 0,
    dtype: type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n classic): not linearly separable.

    Args:
        n_samples: total points, split as evenly as possible between the classes.
        n_classes: number of arms (at least 2).
        noise: standard deviation of the angular jitter.
        seed: seeds the generator.
    """
    n_samples = _check_count(n_samples, 2)
    n_classes = _check_count(n_classes, 2, "n_classes")
    noise = _check_spread(noise, "noise")
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    radius = np.empty(n_samples)
    for c in range(n_classes):
        members = y == c
        radius[members] = np.linspace(0.05, 1.0, members.sum())
    angle = radius * 4 + y * (2 * np.pi / n_classes) + rng.normal(0, noise, n_samples)
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return X.astype(dtype), y.astype(np.int64)


def moons(
    n_samples: int = 200, noise: float = 0.1, seed: int | None = 0, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's ``make_moons``), with Gaussian noise."""
    n_samples = _check_count(n_samples, 2)
    noise = _check_spread(noise, "noise")
    rng = np.random.default_rng(seed)
    outer = n_samples // 2
    inner = n_samples - outer
    t_outer = np.linspace(0, np.pi, outer)
    t_inner = np.linspace(0, np.pi, inner)
    upper = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    lower = np.column_stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)])
    return _two_classes(upper, lower, noise, rng, dtype)


def circles(
    n_samples: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | None = 0,
    dtype: type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1) inside a large one (class 0), ``factor`` the ratio of radii."""
    n_samples = _check_count(n_samples, 2)
    noise = _check_spread(noise, "noise")
    factor = check_number("factor", factor, 0, 1, low_open=True, high_open=True)
    rng = np.random.default_rng(seed)
    outer = n_samples // 2
    inner = n_samples - outer
    t_outer = np.linspace(0, 2 * np.pi, outer, endpoint=False)
    t_inner = np.linspace(0, 2 * np.pi, inner, endpoint=False)
    big = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    small = factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)])
    return _two_classes(big, small, noise, rng, dtype)


def blobs(
    n_samples: int = 300,
    centers: int = 3,
    n_features: int = 2,
    spread: float = 1.0,
    seed: int | None = 0,
    dtype: type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around ``centers`` random centres in a ``[-10, 10]`` box."""
    n_samples = _check_count(n_samples, 1)
    centers = _check_count(centers, 1, "centers")
    n_features = _check_count(n_features, 1, "n_features")
    spread = _check_spread(spread, "spread")
    rng = np.random.default_rng(seed)
    middle = rng.uniform(-10, 10, size=(centers, n_features))
    y = np.arange(n_samples) % centers
    X = middle[y] + rng.normal(0, spread, size=(n_samples, n_features))
    return X.astype(dtype), y.astype(np.int64)


def regression_curve(
    n_samples: int = 200, noise: float = 0.1, seed: int | None = 0, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy curve to fit: ``y = sin(2x) + x/2 + noise`` for ``x`` uniform in ``[-3, 3]``.
    Returns ``X`` of shape ``(n, 1)`` and ``y`` of shape ``(n, 1)``."""
    n_samples = _check_count(n_samples, 1)
    noise = _check_spread(noise, "noise")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 3, n_samples))
    y = np.sin(2 * x) + 0.5 * x + rng.normal(0, noise, n_samples)
    return x[:, None].astype(dtype), y[:, None].astype(dtype)
