"""The playground's 2-D problems and input features, reproducible from a seed.

Every problem lives on the square ``[-6, 6]²`` (the tutorial's XOR on ``[-0.5, 1.5]²``) and
returns ``(X, y)``: points ``X`` of shape ``(n, 2)`` and targets ``y`` of shape ``(n, 1)``,
class labels 0/1 for classification and values in ``[-1, 1]`` for regression.

Example:
    >>> X, y = make_points("circle", n=200, noise=0.0, seed=0)
    >>> X.shape, y.shape, sorted(set(y.ravel().tolist()))
    ((200, 2), (200, 1), [0.0, 1.0])
    >>> features(X[:2], ["x1", "x1x2"]).shape
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: Problem name -> (kind, half-width of the square it lives on, centre of that square).
PROBLEMS: dict[str, tuple[str, float, float]] = {
    "circle": ("classification", 6.0, 0.0),
    "xor": ("classification", 6.0, 0.0),
    "gauss": ("classification", 6.0, 0.0),
    "spiral": ("classification", 6.0, 0.0),
    "reg-plane": ("regression", 6.0, 0.0),
    "reg-gauss": ("regression", 6.0, 0.0),
    "tutorial-xor": ("classification", 1.0, 0.5),
}

#: Input feature name -> (label shown on the page, function of x1 and x2).
FEATURES: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "x1": ("x₁", lambda a, b: a),
    "x2": ("x₂", lambda a, b: b),
    "x1sq": ("x₁²", lambda a, b: a * a),
    "x2sq": ("x₂²", lambda a, b: b * b),
    "x1x2": ("x₁x₂", lambda a, b: a * b),
    "sinx1": ("sin(x₁)", lambda a, b: np.sin(a)),
    "sinx2": ("sin(x₂)", lambda a, b: np.sin(b)),
}


def _circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 inside radius 2.5, class 0 on the ring between 3.5 and 5."""
    inner = n // 2
    radius = np.concatenate([rng.uniform(0, 2.5, inner), rng.uniform(3.5, 5, n - inner)])
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    X += rng.uniform(-5, 5, X.shape) * noise
    y = (np.arange(n) < inner).astype(float)
    return X, y


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 where x1 and x2 have the same sign; points keep 0.3 away from the axes."""
    X = rng.uniform(-5, 5, (n, 2))
    X += np.where(X > 0, 0.3, -0.3)
    y = (X[:, 0] * X[:, 1] >= 0).astype(float)
    X += rng.uniform(-5, 5, X.shape) * noise
    return X, y


def _gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clusters around (2, 2) (class 1) and (-2, -2) (class 0)."""
    spread = 0.5 + 3.5 * noise
    half = n // 2
    centres = np.where((np.arange(n) < half)[:, None], 2.0, -2.0)
    X = centres + rng.normal(0, spread, (n, 2))
    return X, (np.arange(n) < half).astype(float)


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms, one per class."""
    half = n // 2
    t = np.concatenate([np.arange(half) / half, np.arange(n - half) / (n - half)])
    label = (np.arange(n) < half).astype(float)
    radius = 5 * t
    angle = 1.75 * t * 2 * np.pi + np.where(label == 1, 0.0, np.pi)
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    X += rng.uniform(-1, 1, X.shape) * noise * 5
    return X, label


def _reg_plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y = (x1 + x2) / 10 plus noise: a tilted plane."""
    X = rng.uniform(-6, 6, (n, 2))
    y = X.sum(axis=1) / 10 + rng.uniform(-1, 1, n) * noise
    return X, np.clip(y, -1, 1)


def _reg_gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A sum of signed Gaussian bumps on a 3 x 2 grid."""
    X = rng.uniform(-6, 6, (n, 2))
    bumps = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
    y = np.zeros(n)
    for cx, cy, sign in bumps:
        y += sign * np.exp(-((X[:, 0] - cx) ** 2 + (X[:, 1] - cy) ** 2) / 2)
    y += rng.uniform(-1, 1, n) * noise
    return X, np.clip(y, -1, 1)


def _tutorial_xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's four XOR points (``n`` and ``noise`` are ignored)."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    return X, np.array([0, 1, 1, 0], dtype=float)


_GENERATORS = {
    "circle": _circle,
    "xor": _xor,
    "gauss": _gauss,
    "spiral": _spiral,
    "reg-plane": _reg_plane,
    "reg-gauss": _reg_gauss,
    "tutorial-xor": _tutorial_xor,
}


def make_points(
    name: str, n: int = 500, noise: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The points of one problem, in shuffled order.

    Args:
        name: one of :data:`PROBLEMS`.
        n: number of points (the tutorial's XOR always has 4).
        noise: 0 (none) to 0.5 (heavy), as TensorFlow Playground's 0-50 slider.
        seed: seeds the generator.

    Returns:
        ``X`` of shape ``(n, 2)`` and ``y`` of shape ``(n, 1)``, both float64.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in _GENERATORS:
        raise ValueError(f"Unknown problem {name!r}. Choose one of: {', '.join(PROBLEMS)}.")
    rng = np.random.default_rng(seed)
    X, y = _GENERATORS[name](n, noise, rng)
    order = rng.permutation(len(X)) if name != "tutorial-xor" else np.arange(len(X))
    return X[order], y[order].reshape(-1, 1)


def features(X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The chosen input features of points ``X`` ``(n, 2)``: an ``(n, len(names))`` array.

    Raises:
        ValueError: for an unknown feature name.
    """
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"Unknown feature(s) {unknown}. Choose from: {', '.join(FEATURES)}.")
    a, b = X[:, 0], X[:, 1]
    return np.column_stack([FEATURES[name][1](a, b) for name in names])


def grid(name: str, size: int) -> np.ndarray:
    """The ``size x size`` centres of the heatmap's cells over the problem's square, row by
    row from the top (largest x2) down: shape ``(size * size, 2)``."""
    _, half, centre = PROBLEMS[name]
    step = 2 * half / size
    ticks = centre - half + step * (np.arange(size) + 0.5)
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])
