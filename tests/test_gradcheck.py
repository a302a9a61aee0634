"""Finite-difference gradient checks, in float64, of every layer, activation and loss.

Each hand-written ``backward`` is compared with central differences

    ∂f/∂θ_i ≈ (f(θ + εe_i) - f(θ - εe_i)) / 2ε,

whose error is O(ε²) (about 1e-12 for ε = 1e-6), far below what a wrong formula produces.
Two independent routes are used: a check written here, on the layer alone, of the scalar
``f = sum(layer(x) * R)`` for a random ``R`` (so ``∂f/∂out = R`` exercises every entry of
the Jacobian-vector product), and the library's own ``snn.gradcheck`` on small models.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as snn
from scratchnn.layers import layers as layer_registry

EPS = 1e-6
RTOL = 1e-6
ATOL = 1e-8


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


# Deliberately NOT tests/oracles.py's central_differences (which is gradcheck's own loop): this
# file is also the oracle for snn.gradcheck, so its central differences are written here
# independently of the library's.
def numeric_gradient(f, values: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every entry of ``values``,
    which is perturbed in place (and restored)."""
    assert values.flags.c_contiguous, "values must be perturbable through a flat view"
    flat = values.reshape(-1)
    grad = np.empty(flat.size)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        upper = f()
        flat[i] = original - eps
        lower = f()
        flat[i] = original
        grad[i] = (upper - lower) / (2 * eps)
    return grad.reshape(values.shape)


def away_from_zero(
    rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.1
) -> np.ndarray:
    """Random values with |x| in [low, 2]: clear of the kinks of ReLU, LeakyReLU and ELU."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, 2.0, size=shape)


def check_layer(layer: snn.Layer, x: np.ndarray, seed: int = 0) -> None:
    """Compare ``layer.backward`` with central differences of ``sum(layer(x) * R)``, for the
    input and for every parameter."""
    rng = np.random.default_rng(seed)
    out = layer.forward(x, training=True)
    R = rng.standard_normal(out.shape)
    analytic_input = layer.backward(R).copy()
    analytic_params = {name: grad.copy() for name, grad in layer.grads.items()}
    assert analytic_input.shape == x.shape
    assert set(analytic_params) == set(layer.params)

    def f() -> float:
        return float(np.sum(layer.forward(x, training=True) * R))

    np.testing.assert_allclose(
        analytic_input, numeric_gradient(f, x), rtol=RTOL, atol=ATOL, err_msg="input gradient"
    )
    for name, value in layer.params.items():
        assert analytic_params[name].shape == value.shape
        np.testing.assert_allclose(
            analytic_params[name],
            numeric_gradient(f, value),
            rtol=RTOL,
            atol=ATOL,
            err_msg=f"gradient of {name}",
        )


def built_dense(*args, seed: int = 0, **kwargs) -> snn.Dense:
    """A float64 Dense layer with random (non-zero) bias, so that the bias matters."""
    layer = snn.Dense(*args, **kwargs)
    layer.build(np.random.default_rng(seed), np.float64)
    if layer.bias:
        layer.params["b"] = np.random.default_rng(seed + 1).normal(size=layer.out_features)
    return layer


# Every activation, with the arguments worth checking separately.
ACTIVATIONS = {
    "sigmoid": snn.Sigmoid,
    "tanh": snn.Tanh,
    "relu": snn.ReLU,
    "leaky_relu": snn.LeakyReLU,
    "leaky_relu_0.2": lambda: snn.LeakyReLU(alpha=0.2),
    "elu": snn.ELU,
    "elu_0.5": lambda: snn.ELU(alpha=0.5),  # alpha != 1: a kink in the first derivative at 0
    "gelu": snn.GELU,
    "gelu_tanh": lambda: snn.GELU(approximate="tanh"),
    "silu": snn.SiLU,
    "softmax": snn.Softmax,
    "identity": snn.Identity,
}

# Dense layers in every configuration: with and without bias, with an activation shorthand.
DENSE_LAYERS = {
    "bias": lambda: built_dense(3, 4),
    "no_bias": lambda: built_dense(3, 4, bias=False),
    "tanh": lambda: built_dense(3, 4, activation="tanh"),
    "relu": lambda: built_dense(3, 4, activation="relu"),
    "gelu_tanh_instance": lambda: built_dense(3, 4, activation=snn.GELU(approximate="tanh")),
    "softmax": lambda: built_dense(3, 4, activation="softmax"),
    "no_bias_sigmoid": lambda: built_dense(3, 4, activation="sigmoid", bias=False),
    "single_unit": lambda: built_dense(1, 1),
}


# --------------------------------------------------------------------------------------------
# Layer-level checks, written here
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_central_differences(name):
    layer = ACTIVATIONS[name]()
    layer.build(np.random.default_rng(0), np.float64)
    x = away_from_zero(np.random.default_rng(1), (5, 4))
    check_layer(layer, x, seed=2)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_on_a_wide_range_of_inputs(name):
    # Including inputs in the tails (|x| up to 6), where sigmoid-like derivatives are tiny.
    layer = ACTIVATIONS[name]()
    x = away_from_zero(np.random.default_rng(3), (3, 6), low=0.05) * 3
    check_layer(layer, x, seed=4)


@pytest.mark.parametrize("name", DENSE_LAYERS)
def test_dense_backward_matches_central_differences(name):
    layer = DENSE_LAYERS[name]()
    x = np.random.default_rng(5).standard_normal((6, layer.in_features))
    check_layer(layer, x, seed=6)


def test_dense_parameter_gradients_have_the_textbook_form():
    # ∂L/∂W = xᵀg, ∂L/∂b = Σ g, ∂L/∂x = g Wᵀ for the layer without activation.
    layer = built_dense(3, 4)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 3))
    g = rng.standard_normal((5, 4))
    layer.forward(x)
    grad_x = layer.backward(g)
    np.testing.assert_allclose(layer.grads["W"], x.T @ g, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], g.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(grad_x, g @ layer.params["W"].T, rtol=1e-12)
    for rows in (2, 5, 7):  # an epoch's shorter last batch, then a longer one
        layer.forward(x := rng.standard_normal((rows, 3)))
        layer.backward(g := rng.standard_normal((rows, 4)))
        np.testing.assert_allclose(layer.grads["b"], g.sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(layer.grads["W"], x.T @ g, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# The same layers through snn.gradcheck, inside small models
# --------------------------------------------------------------------------------------------


def small_data(seed: int = 0, n: int = 6, features: int = 3, outputs: int = 2):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)), rng.standard_normal((n, outputs))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gradcheck_model_with_each_activation(name):
    model = snn.Sequential(
        [snn.Dense(3, 5), ACTIVATIONS[name](), snn.Dense(5, 2)], seed=0, dtype=np.float64
    )
    X, y = small_data()
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed, str(result)
    assert set(result.errors) == {"dense_0.W", "dense_0.b", "dense_2.W", "dense_2.b", "input"}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gradcheck_model_with_each_activation_as_dense_shorthand(name):
    activation = ACTIVATIONS[name]()
    model = snn.Sequential(
        [snn.Dense(3, 5, activation=activation), snn.Dense(5, 2)], seed=1, dtype=np.float64
    )
    X, y = small_data(1)
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed, str(result)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gradcheck_model_with_activation_at_the_output(name):
    model = snn.Sequential([snn.Dense(3, 4), ACTIVATIONS[name]()], seed=2, dtype=np.float64)
    X, y = small_data(2, outputs=4)
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed, str(result)


def test_gradcheck_dense_without_bias():
    model = snn.Sequential(
        [snn.Dense(3, 4, bias=False), snn.Tanh(), snn.Dense(4, 2, bias=False)],
        seed=3,
        dtype=np.float64,
    )
    X, y = small_data(3)
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed, str(result)
    assert set(result.errors) == {"dense_0.W", "dense_2.W", "input"}


def test_gradcheck_single_dense_layer():
    model = snn.Sequential([snn.Dense(3, 2)], seed=4, dtype=np.float64)
    X, y = small_data(4)
    assert snn.gradcheck(model, "mse", X, y).passed


# --------------------------------------------------------------------------------------------
# Losses: gradient with respect to the prediction
# --------------------------------------------------------------------------------------------


def check_loss(loss: snn.losses.Loss, prediction: np.ndarray, target: np.ndarray) -> None:
    value = loss.forward(prediction, target)
    assert isinstance(value, float)
    analytic = loss.backward().copy()
    assert analytic.shape == prediction.shape

    def f() -> float:
        return loss.forward(prediction, target)

    numeric = numeric_gradient(f, prediction)
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=ATOL)


def _probabilities(rng, shape):
    return rng.uniform(0.05, 0.95, size=shape)


def _softmax_rows(rng, shape):
    z = rng.standard_normal(shape)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _away_from(rng, target, low, high):
    """Predictions whose distance to the target lies in [low, high], either sign."""
    return target + rng.choice([-1.0, 1.0], size=target.shape) * rng.uniform(
        low, high, size=target.shape
    )


def _loss_cases():
    rng = np.random.default_rng(10)
    shape = (6, 3)
    t = rng.standard_normal(shape)
    labels = rng.integers(0, 3, size=6)
    soft = _softmax_rows(rng, shape)  # probability targets
    hard01 = rng.integers(0, 2, size=shape).astype(float)
    soft01 = rng.uniform(0, 1, size=shape)
    return {
        "mse": (snn.losses.MSE(), rng.standard_normal(shape), t),
        "mse_single_output": (snn.losses.MSE(), rng.standard_normal((5, 1)), np.ones((5, 1))),
        # |d| in [0.1, 2]: clear of MAE's kink at d = 0.
        "mae": (snn.losses.MAE(), _away_from(rng, t, 0.1, 2.0), t),
        # Huber (delta = 1): both regimes, clear of |d| = 0 and |d| = delta.
        "huber_quadratic": (snn.losses.Huber(), _away_from(rng, t, 0.1, 0.9), t),
        "huber_linear": (snn.losses.Huber(), _away_from(rng, t, 1.1, 3.0), t),
        "huber_mixed": (
            snn.losses.Huber(),
            t + np.where(rng.random(shape) < 0.5, 0.5, 2.0) * rng.choice([-1.0, 1.0], shape),
            t,
        ),
        "huber_delta_0.3": (snn.losses.Huber(delta=0.3), _away_from(rng, t, 0.4, 2.0), t),
        "huber_delta_2": (snn.losses.Huber(delta=2.0), _away_from(rng, t, 0.1, 1.9), t),
        "bce_probs_hard": (snn.losses.BinaryCrossEntropy(), _probabilities(rng, shape), hard01),
        "bce_probs_soft": (snn.losses.BinaryCrossEntropy(), _probabilities(rng, shape), soft01),
        "bce_logits_hard": (
            snn.losses.BinaryCrossEntropy(from_logits=True),
            rng.standard_normal(shape) * 3,
            hard01,
        ),
        "bce_logits_soft": (
            snn.losses.BinaryCrossEntropy(from_logits=True),
            rng.standard_normal(shape) * 3,
            soft01,
        ),
        "ce_logits_labels": (snn.losses.CrossEntropy(), rng.standard_normal(shape) * 2, labels),
        "ce_logits_onehot": (
            snn.losses.CrossEntropy(),
            rng.standard_normal(shape) * 2,
            np.eye(3)[labels],
        ),
        "ce_logits_probability_targets": (
            snn.losses.CrossEntropy(),
            rng.standard_normal(shape) * 2,
            soft,
        ),
        # Rows that do not sum to 1 exercise the p·Σy - y form of the fused gradient.
        "ce_logits_unnormalised_targets": (
            snn.losses.CrossEntropy(),
            rng.standard_normal(shape),
            rng.uniform(0, 2, size=shape),
        ),
        "ce_probs_labels": (
            snn.losses.CrossEntropy(from_logits=False),
            _softmax_rows(rng, shape),
            labels,
        ),
        "ce_probs_probability_targets": (
            snn.losses.CrossEntropy(from_logits=False),
            _softmax_rows(rng, shape),
            soft,
        ),
    }


LOSS_CASES = _loss_cases()


@pytest.mark.parametrize("name", LOSS_CASES)
def test_loss_gradient_matches_central_differences(name):
    loss, prediction, target = LOSS_CASES[name]
    check_loss(loss, prediction.copy(), target.copy())


@pytest.mark.parametrize(
    ("loss", "output", "y"),
    [
        ("mse", None, "real"),
        ("mae", None, "real"),
        ("huber", None, "real"),
        (snn.losses.BinaryCrossEntropy(), "sigmoid", "binary"),
        (snn.losses.BinaryCrossEntropy(from_logits=True), None, "binary"),
        (snn.losses.CrossEntropy(), None, "labels"),
        (snn.losses.CrossEntropy(), None, "onehot"),
        (snn.losses.CrossEntropy(from_logits=False), "softmax", "labels"),
    ],
)
def test_gradcheck_every_loss_through_a_model(loss, output, y):
    rng = np.random.default_rng(11)
    n, outputs = 7, 3
    X = rng.standard_normal((n, 4))
    targets = {
        "real": rng.standard_normal((n, outputs)),
        "binary": rng.integers(0, 2, size=(n, outputs)).astype(float),
        "labels": rng.integers(0, outputs, size=n),
        "onehot": np.eye(outputs)[rng.integers(0, outputs, size=n)],
    }[y]
    model = snn.MLP([4, 5, outputs], activation="tanh", output=output, seed=5, dtype=np.float64)
    if loss in ("mae", "huber"):
        # Keep every residual clear of the kinks (0 for MAE; 0 and delta for Huber).
        prediction = model.predict(X)
        targets = prediction + rng.choice([-1.0, 1.0], size=prediction.shape) * rng.uniform(
            0.2, 0.8, size=prediction.shape
        )
    result = snn.gradcheck(model, loss, X, targets)
    assert result.passed, str(result)


# --------------------------------------------------------------------------------------------
# Whole random MLPs
# --------------------------------------------------------------------------------------------

SMOOTH = ["sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "elu", "identity"]


def _activation_spec(name: str):
    return snn.GELU(approximate="tanh") if name == "gelu_tanh" else name


@settings(max_examples=25, deadline=None)
@given(
    depth=st.integers(0, 3),
    widths=st.lists(st.integers(1, 6), min_size=5, max_size=5),
    activation=st.sampled_from(SMOOTH),
    batch=st.integers(1, 5),
    loss=st.sampled_from(["mse", "bce_logits", "ce"]),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_random_mlp(depth, widths, activation, batch, loss, seed):
    in_features, *hidden = widths[: depth + 1]
    outputs = widths[-1] if loss != "ce" else max(2, widths[-1])
    layers = []
    width = in_features
    for h in hidden:
        layers += [snn.Dense(width, h), snn.layers.get_activation(_activation_spec(activation))]
        width = h
    layers.append(snn.Dense(width, outputs))
    model = snn.Sequential(layers, seed=seed, dtype=np.float64)

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, in_features))
    if loss == "mse":
        y, loss_fn = rng.standard_normal((batch, outputs)), "mse"
    elif loss == "bce_logits":
        y = rng.integers(0, 2, size=(batch, outputs)).astype(float)
        loss_fn = snn.losses.BinaryCrossEntropy(from_logits=True)
    else:
        y, loss_fn = rng.integers(0, outputs, size=batch), "ce"
    # eps = 1e-5 and tolerance = 1e-5 rather than the defaults (1e-6, 1e-6): with ε = 1e-6
    # the round-off of L, about |L|·1e-16/ε, reaches the 1e-6 tolerance whenever a gradient is
    # ~1e-3·|L| or smaller, which narrow random networks hit now and then (e.g. a 1-3-1 linear
    # network whose input gradient is 4e-4 gives 1.2e-6 at the defaults). A wrong backward is
    # off by far more than 1e-5.
    result = snn.gradcheck(model, loss_fn, X, y, eps=1e-5, tolerance=1e-5)
    assert result.passed, str(result)


# --------------------------------------------------------------------------------------------
# gradcheck itself
# --------------------------------------------------------------------------------------------


# Custom layers must be registered: gradcheck checks a float64 clone, rebuilt from the config.
@layer_registry.register()
class GradcheckTestWrongSquare(snn.Layer):
    """``x²`` with a deliberately wrong backward (``g·x`` instead of ``g·2x``)."""

    def forward(self, x, training=False):
        self._x = x
        return x * x

    def backward(self, grad_out):
        return grad_out * self._x


@layer_registry.register()
class GradcheckTestSquare(snn.Layer):
    """``x²`` with the right backward."""

    def forward(self, x, training=False):
        self._x = x
        return x * x

    def backward(self, grad_out):
        return grad_out * 2 * self._x


@layer_registry.register()
class GradcheckTestScale(snn.Layer):
    """A custom layer with a parameter: ``a = x ⊙ s`` with a learned scale ``s`` per feature,
    ``∂L/∂s = Σ_batch g ⊙ x``, ``∂L/∂x = g ⊙ s``."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.features = features

    def build(self, rng=None, dtype=np.float32, init_hint=None):
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        self.params["s"] = rng.uniform(0.5, 1.5, size=self.features).astype(self.dtype)
        self.grads["s"] = np.zeros(self.features, dtype=self.dtype)

    def forward(self, x, training=False):
        self._x = x
        return x * self.params["s"]

    def backward(self, grad_out):
        np.sum(grad_out * self._x, axis=0, out=self.grads["s"])
        return grad_out * self.params["s"]

    def get_config(self):
        return {"features": self.features}


def _model_with(layer: snn.Layer, dtype=np.float64) -> snn.Sequential:
    return snn.Sequential([snn.Dense(3, 4), layer, snn.Dense(4, 1)], seed=0, dtype=dtype)


def _xy(seed: int = 0, n: int = 5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.standard_normal(n)


def test_gradcheck_detects_a_wrong_backward():
    X, y = _xy()
    result = snn.gradcheck(_model_with(GradcheckTestWrongSquare()), "mse", X, y)
    assert not result.passed
    # Everything upstream of the wrong layer is wrong (by a factor of 2); the last Dense's
    # gradients do not pass through it and stay correct.
    assert result.errors["dense_0.W"] > 0.1
    assert result.errors["dense_0.b"] > 0.1
    assert result.errors["input"] > 0.1
    assert result.errors["dense_2.W"] <= result.tolerance
    assert result.errors["dense_2.b"] <= result.tolerance
    text = str(result)
    assert "MISMATCH" in text
    assert "FAILED" in text


def test_gradcheck_passes_the_corrected_layer():
    X, y = _xy()
    result = snn.gradcheck(_model_with(GradcheckTestSquare()), "mse", X, y)
    assert result.passed, str(result)
    assert result.max_error < 1e-7


def test_gradcheck_detects_a_wrong_loss_backward():
    class HalfGradientMSE(snn.losses.MSE):
        def backward(self):
            return super().backward() / 2

    X, y = _xy()
    result = snn.gradcheck(_model_with(snn.Tanh()), HalfGradientMSE(), X, y)
    assert not result.passed
    assert all(error > 0.1 for error in result.errors.values())


def test_gradcheck_catches_a_small_error():
    # A backward that is off by only 1e-4 relative is still caught at the default tolerance.
    @layer_registry.register()
    class GradcheckTestSlightlyWrong(snn.Layer):
        def forward(self, x, training=False):
            self._x = x
            return np.tanh(x)

        def backward(self, grad_out):
            return grad_out * (1 - np.tanh(self._x) ** 2) * (1 + 1e-4)

    X, y = _xy()
    result = snn.gradcheck(_model_with(GradcheckTestSlightlyWrong()), "mse", X, y)
    assert not result.passed
    assert 1e-5 < result.errors["dense_0.W"] < 1e-3


def test_gradcheck_does_not_modify_the_model_or_the_data():
    model = snn.MLP([3, 4, 2], activation="tanh", seed=0, dtype=np.float64)
    X, y = _xy()
    y = np.stack([y, -y], axis=1)
    before = model.parameters().flat.value.copy()
    grads_before = model.parameters().flat.grad.copy()
    X_before, y_before = X.copy(), y.copy()
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed
    assert model.parameters().flat.value.tobytes() == before.tobytes()
    assert model.parameters().flat.grad.tobytes() == grads_before.tobytes()
    assert X.tobytes() == X_before.tobytes()
    assert y.tobytes() == y_before.tobytes()
    assert model.dtype == np.float64


def test_gradcheck_works_on_a_float32_model():
    # gradcheck checks a float64 clone: a float32 model passes, and is left as it was.
    model = snn.MLP([3, 5, 2], activation="sigmoid", seed=1, dtype=np.float32)
    X = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    y = np.random.default_rng(2).integers(0, 2, size=6)
    before = model.parameters().flat.value.copy()
    result = snn.gradcheck(model, "cross_entropy", X, y)
    assert result.passed, str(result)
    assert result.max_error < 1e-6
    assert model.dtype == np.float32
    assert model.parameters().flat.value.dtype == np.float32
    assert model.parameters().flat.value.tobytes() == before.tobytes()


def test_gradcheck_with_a_wrong_layer_fails_on_a_float32_model_too():
    X, y = _xy()
    model = _model_with(GradcheckTestWrongSquare(), dtype=np.float32)
    assert not snn.gradcheck(model, "mse", X, y).passed


class CountingMSE(snn.losses.MSE):
    def __init__(self) -> None:
        self.calls = 0

    def forward(self, prediction, target):
        self.calls += 1
        return super().forward(prediction, target)


@pytest.mark.parametrize("max_entries", [None, 1, 3, 100])
def test_gradcheck_max_entries_limits_the_entries_checked(max_entries):
    model = snn.MLP([3, 6, 2], activation="tanh", seed=2, dtype=np.float64)
    X = np.random.default_rng(3).standard_normal((5, 3))
    y = np.random.default_rng(4).standard_normal((5, 2))
    loss = CountingMSE()
    result = snn.gradcheck(model, loss, X, y, max_entries=max_entries)
    assert result.passed, str(result)
    sizes = [p.value.size for p in model.parameters()] + [X.size]
    limit = max_entries if max_entries is not None else max(sizes)
    # One forward for the analytic gradient, then two per checked entry.
    assert loss.calls == 1 + 2 * sum(min(size, limit) for size in sizes)
    assert set(result.errors) == {*model.parameters().names(), "input"}


def test_gradcheck_max_entries_still_catches_a_wrong_layer():
    X, y = _xy()
    result = snn.gradcheck(_model_with(GradcheckTestWrongSquare()), "mse", X, y, max_entries=2)
    assert not result.passed


def test_gradcheck_check_input_false_omits_the_input():
    X, y = _xy()
    result = snn.gradcheck(_model_with(snn.Tanh()), "mse", X, y, check_input=False)
    assert result.passed
    assert "input" not in result.errors


def test_gradcheck_tolerance_decides_passed():
    X, y = _xy()
    result = snn.gradcheck(_model_with(GradcheckTestWrongSquare()), "mse", X, y, tolerance=10.0)
    assert result.passed
    assert result.tolerance == 10.0


def test_gradcheck_result_prints_a_table():
    model = snn.MLP([3, 4, 1], activation="tanh", seed=3, dtype=np.float64)
    X, y = _xy()
    result = snn.gradcheck(model, "mse", X, y)
    text = str(result)
    lines = text.splitlines()
    assert re.match(r"parameter\s+relative\s+absolute$", lines[0])
    names = [*model.parameters().names(), "input"]
    assert len(lines) == len(names) + 2
    number = r"\d\.\d\de[+-]\d\d"
    for name, line in zip(names, lines[1:-1], strict=True):
        assert re.match(rf"{re.escape(name)}\s+{number}\s+{number}\s+ok$", line), line
    assert lines[-1] == "gradcheck passed (tolerance 1e-06, atol 1e-08)"


def test_gradcheck_result_properties():
    result = snn.GradcheckResult(
        {"a.W": 1e-9, "a.b": 1.0, "input": 3e-6},
        {"a.W": 1e-9, "a.b": 1e-11, "input": 2e-5},
        tolerance=1e-6,
        atol=1e-8,
    )
    assert not result.passed
    assert result.agrees("a.b")  # zero gradient: relative error meaningless, absolute tiny
    assert not result.agrees("input")
    assert result.max_error == 1.0
    assert "input  3.00e-06  2.00e-05  MISMATCH" in str(result)


# --------------------------------------------------------------------------------------------
# Custom layers, as a learner would check them
# --------------------------------------------------------------------------------------------


def test_gradcheck_docstring_example():
    # Verbatim from the gradcheck module docstring: a learner's own layer, not registered.
    class Square(snn.Layer):
        def forward(self, x, training=False):
            self._x = x
            return x * x

        def backward(self, grad_out):
            return grad_out * 2 * self._x

    X = np.random.default_rng(0).standard_normal((5, 3))
    y = np.random.default_rng(1).standard_normal(5)
    model = snn.Sequential([snn.Dense(3, 4), Square(), snn.Dense(4, 1)], seed=0)
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed, str(result)
    assert "gradcheck passed" in str(result)


def test_gradcheck_custom_layer_with_a_parameter():
    model = snn.Sequential(
        [snn.Dense(3, 4), GradcheckTestScale(4), snn.Tanh(), snn.Dense(4, 1)],
        seed=0,
        dtype=np.float64,
    )
    X, y = _xy(5)
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed, str(result)
    assert "gradchecktestscale_1.s" in result.errors


def test_custom_layer_with_a_parameter_layer_level():
    layer = GradcheckTestScale(4)
    layer.build(np.random.default_rng(0), np.float64)
    check_layer(layer, np.random.default_rng(1).standard_normal((5, 4)))


# --------------------------------------------------------------------------------------------
# backward overwrites, never accumulates
# --------------------------------------------------------------------------------------------


ALL_LAYERS = {
    **{f"activation_{name}": factory for name, factory in ACTIVATIONS.items()},
    **{f"dense_{name}": factory for name, factory in DENSE_LAYERS.items()},
}


@pytest.mark.parametrize("name", ALL_LAYERS)
def test_backward_twice_gives_identical_results(name):
    layer = ALL_LAYERS[name]()
    if not layer.built:
        layer.build(np.random.default_rng(0), np.float64)
    width = layer.in_features or 4
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, width))
    out = layer.forward(x, training=True)
    g = rng.standard_normal(out.shape)
    first = layer.backward(g).copy()
    first_grads = {k: v.copy() for k, v in layer.grads.items()}
    # A different grad_out in between must not leak into the next result either.
    layer.backward(rng.standard_normal(out.shape))
    second = layer.backward(g)
    np.testing.assert_array_equal(second, first)
    for key, value in first_grads.items():
        np.testing.assert_array_equal(layer.grads[key], value, err_msg=key)


def test_model_backward_twice_gives_identical_gradients():
    model = snn.MLP([3, 5, 4, 2], activation=["tanh", "gelu"], seed=0, dtype=np.float64)
    rng = np.random.default_rng(9)
    X = rng.standard_normal((6, 3))
    y = rng.integers(0, 2, size=6)
    loss = snn.losses.CrossEntropy()
    loss.forward(model.forward(X, training=True), y)
    g = loss.backward()
    first_input = model.backward(g).copy()
    first = model.parameters().flat.grad.copy()
    assert np.any(first != 0)
    second_input = model.backward(g)
    np.testing.assert_array_equal(model.parameters().flat.grad, first)
    np.testing.assert_array_equal(second_input, first_input)
    for parameter in model.parameters():  # the named views agree with the flat vector
        assert np.shares_memory(parameter.grad, model.parameters().flat.grad)


def test_loss_backward_twice_gives_identical_results():
    for name, (loss, prediction, target) in LOSS_CASES.items():
        loss.forward(prediction, target)
        first = loss.backward().copy()
        np.testing.assert_array_equal(loss.backward(), first, err_msg=name)
