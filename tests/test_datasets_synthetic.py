"""datasets/synthetic.py: the generated problems (spirals, moons, circles, blobs, XOR, the
regression curve): shapes, dtypes, balance, seeds, geometry and argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import datasets

CLASSIFIERS = [
    # (generator, keyword arguments, number of classes)
    (datasets.spirals, {"n_samples": 301, "n_classes": 4}, 4),
    (datasets.spirals, {"n_samples": 300}, 3),
    (datasets.moons, {"n_samples": 201}, 2),
    (datasets.circles, {"n_samples": 200, "factor": 0.3}, 2),
    (datasets.blobs, {"n_samples": 299, "centers": 5}, 5),
]
IDS = ["spirals4", "spirals", "moons", "circles", "blobs"]


@pytest.mark.parametrize(("generate", "kwargs", "n_classes"), CLASSIFIERS, ids=IDS)
def test_generator_shapes_dtypes_and_balance(generate, kwargs, n_classes):
    X, y = generate(**kwargs)
    n = kwargs["n_samples"]
    assert X.shape == (n, 2) and y.shape == (n,)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert np.isfinite(X).all()
    counts = np.bincount(y)
    assert len(counts) == n_classes  # every class present, labels 0..K-1
    assert counts.max() - counts.min() <= 1  # split as evenly as possible
    X64, y64 = generate(**kwargs, dtype=np.float64)
    assert X64.dtype == np.float64
    np.testing.assert_allclose(X64, X, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y64, y)


@pytest.mark.parametrize(("generate", "kwargs", "n_classes"), CLASSIFIERS, ids=IDS)
def test_generator_reproducible_by_seed(generate, kwargs, n_classes):
    X1, y1 = generate(**kwargs, seed=7)
    X2, y2 = generate(**kwargs, seed=7)
    X3, _ = generate(**kwargs, seed=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_generators_make_the_problems_they_describe():
    X, y = datasets.circles(400, noise=0.0, factor=0.4, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.4, atol=1e-6)
    X, y = datasets.blobs(600, centers=3, n_features=5, spread=0.1, seed=1)
    assert X.shape == (600, 5)
    spread = np.array([X[y == c].std(axis=0) for c in range(3)])
    assert np.all(spread < 0.2)
    X, y = datasets.moons(300, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0, atol=1e-6)
    X, y = datasets.spirals(300, 3, noise=0.0)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]).max(), 1.0, atol=1e-6)


def test_xor():
    X, y = datasets.xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [[0], [1], [1], [0]])
    assert X.dtype == y.dtype == np.float32
    assert datasets.xor(np.float64)[0].dtype == np.float64


def test_regression_curve():
    X, y = datasets.regression_curve(500, noise=0.1, seed=3)
    assert X.shape == (500, 1) and y.shape == (500, 1)
    assert X.dtype == y.dtype == np.float32
    assert np.all(np.diff(X[:, 0]) >= 0)  # sorted, ready to plot
    assert X.min() >= -3 and X.max() <= 3
    residual = y[:, 0] - (np.sin(2 * X[:, 0]) + 0.5 * X[:, 0])
    assert abs(residual.std() - 0.1) < 0.02 and abs(residual.mean()) < 0.02
    np.testing.assert_array_equal(X, datasets.regression_curve(500, noise=0.1, seed=3)[0])
    assert not np.array_equal(y, datasets.regression_curve(500, noise=0.1, seed=4)[1])


@pytest.mark.parametrize(
    "call",
    [
        lambda: datasets.spirals(1),
        lambda: datasets.spirals(2.5),
        lambda: datasets.spirals(True),
        lambda: datasets.spirals("300"),
        lambda: datasets.spirals(10, n_classes=1),
        lambda: datasets.spirals(10, n_classes=2.0),
        lambda: datasets.moons(1),
        lambda: datasets.moons(None),
        lambda: datasets.moons(10, noise=-1),
        lambda: datasets.circles(1),
        lambda: datasets.circles(10, factor=0),
        lambda: datasets.circles(10, factor=1),
        lambda: datasets.circles(10, factor=float("nan")),
        lambda: datasets.blobs(0),
        lambda: datasets.blobs(10, centers=0),
        lambda: datasets.blobs(10, centers=True),
        lambda: datasets.blobs(10, spread=-1),
        lambda: datasets.regression_curve(0),
        lambda: datasets.regression_curve(-5),
    ],
)
def test_generators_reject_invalid_arguments(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: datasets.blobs(10, n_features=0),  # returns X of shape (10, 0)
        lambda: datasets.blobs(10, n_features=2.5),  # TypeError from NumPy
        lambda: datasets.moons(10, noise=float("nan")),  # returns NaN features
    ],
    ids=["blobs-n_features-0", "blobs-n_features-2.5", "moons-noise-nan"],
)
def test_generators_reject_invalid_arguments_that_slip_through(call):
    with pytest.raises(ValueError):
        call()


def test_generators_take_numpy_integers_for_every_count():
    """n_samples accepts NumPy integers (e.g. ``len`` of an array's ``.shape`` entry); so
    must the other counts, such as ``n_classes=y.max() + 1``."""
    assert datasets.spirals(np.int64(30))[0].shape == (30, 2)
    assert datasets.spirals(30, n_classes=np.int64(3))[0].shape == (30, 2)
    assert datasets.blobs(30, centers=np.int64(3))[0].shape == (30, 2)
