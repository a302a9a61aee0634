"""layers/preprocessing.py: the Standardize layer (statistics, constant features, backward,
saving, argument checks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnn as snn
from oracles import central_differences


def adapted(X: np.ndarray, dtype=np.float64) -> snn.Standardize:
    layer = snn.Standardize(X.shape[1])
    layer.build(dtype=dtype)
    layer.adapt(X)
    return layer


def test_standardize_gives_zero_mean_and_unit_std_on_the_training_data(rng):
    X = rng.normal(loc=[5.0, -300.0, 0.001], scale=[2.0, 40.0, 1e-4], size=(500, 3))
    layer = adapted(X)
    Z = layer.forward(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-10)
    np.testing.assert_allclose(layer.buffers["mean"], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["std"], X.std(axis=0), rtol=1e-12)
    # The float32 default: the same up to float32 rounding.
    Z32 = snn.Sequential([adapted(X, np.float32)], dtype=np.float32).predict(X)
    assert Z32.dtype == np.float32
    np.testing.assert_allclose(Z32.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(Z32.std(axis=0), 1, rtol=1e-4)


def test_standardize_fitted_before_a_float64_model_keeps_float64_statistics(rng):
    """adapt() on a fresh layer (what build_model does) must not round μ and σ to float32
    when the model is float64: features around 1e6 would be off by a few hundredths."""
    X = 1e6 + rng.normal(size=(1000, 2))
    layer = snn.Standardize(2)
    layer.adapt(X)
    model = snn.Sequential([layer, snn.Dense(2, 1)], dtype=np.float64, seed=0)
    Z = model.layers[0].forward(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-6)


def test_standardize_constant_features_get_std_one(rng):
    X = np.column_stack([np.full(50, 7.0), rng.normal(size=50), np.zeros(50)])
    layer = adapted(X)
    np.testing.assert_array_equal(layer.buffers["std"][[0, 2]], [1.0, 1.0])
    Z = layer.forward(X)
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[:, [0, 2]], 0.0)
    np.testing.assert_array_equal(layer.forward(X + 1)[:, 0], 1.0)  # shifted by raw units


def test_standardize_backward_matches_finite_differences(rng):
    X = rng.normal(loc=3, scale=[0.5, 2.0, 10.0], size=(20, 3))
    layer = adapted(X)
    x = rng.normal(size=(4, 3))
    weights = rng.normal(size=(4, 3))  # L = sum(weights * forward(x))
    analytic = layer.backward(weights)
    numeric = central_differences(lambda: float(np.sum(weights * layer.forward(x))), x, 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
    # In a model, with snn.gradcheck (parameters and the input).
    model = snn.Sequential([adapted(X), snn.Dense(3, 4), snn.Tanh(), snn.Dense(4, 2)], seed=0)
    result = snn.gradcheck(model, "mse", x, rng.normal(size=(4, 2)))
    assert result.passed, result


def test_standardize_is_not_trained_and_is_saved_with_the_model(tmp_path, rng):
    X = rng.normal(loc=10, scale=3, size=(64, 3))
    y = (X[:, 0] > 10).astype(np.int64)
    scaler = snn.Standardize(3)
    scaler.adapt(X)
    model = snn.Sequential([scaler, snn.Dense(3, 8), snn.ReLU(), snn.Dense(8, 2)], seed=0)
    mean, std = scaler.buffers["mean"].copy(), scaler.buffers["std"].copy()
    assert all(not name.startswith("standardize") for name in model.parameters().names())
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=16, verbose=0)
    np.testing.assert_array_equal(scaler.buffers["mean"], mean)
    np.testing.assert_array_equal(scaler.buffers["std"], std)
    model.save(tmp_path / "m.npz")
    loaded = snn.load(tmp_path / "m.npz")
    assert type(loaded.layers[0]) is snn.Standardize
    np.testing.assert_array_equal(loaded.layers[0].buffers["mean"], mean)
    np.testing.assert_array_equal(loaded.layers[0].buffers["std"], std)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # A freshly built layer from the config alone would not standardize: the file matters.
    fresh = snn.Sequential.from_config(model.get_config())
    np.testing.assert_array_equal(fresh.layers[0].buffers["mean"], 0)


@pytest.mark.parametrize(
    "X",
    [
        np.zeros(3),  # 1-D
        np.zeros((4, 2)),  # wrong number of features
        np.zeros((0, 3)),  # empty
        np.zeros((2, 3, 1)),  # 3-D
        np.array([[1.0, np.nan, 2.0]]),
        np.array([[1.0, np.inf, 2.0]]),
    ],
    ids=["1d", "width", "empty", "3d", "nan", "inf"],
)
def test_standardize_adapt_rejects_invalid_input(X):
    layer = snn.Standardize(3)
    with pytest.raises(ValueError):
        layer.adapt(X)


@pytest.mark.parametrize("n", [0, -1, 2.0, True, "3", None])
def test_standardize_rejects_invalid_sizes(n):
    with pytest.raises(ValueError, match="num_features"):
        snn.Standardize(n)


def test_standardize_config_round_trip():
    layer = snn.Standardize(np.int64(4))
    assert layer.get_config() == {"num_features": 4}
    assert isinstance(layer.get_config()["num_features"], int)
    assert snn.Standardize.from_config(layer.get_config()).num_features == 4
    assert math.isclose(adapted(np.array([[1.0], [3.0]])).forward(np.array([[2.0]]))[0, 0], 0)
