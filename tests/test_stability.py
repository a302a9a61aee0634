"""Numerical stability at extreme inputs, and dtype preservation.

Activations, the functional helpers and the losses must give finite values and gradients at
inputs of ±1000 (and ±1e4), in float32 and float64, without any warning. pytest turns
warnings into errors (``filterwarnings = error`` in pyproject.toml), so a NumPy
``RuntimeWarning: overflow encountered in exp`` fails the test by itself.

On top of that the computations run under ``np.errstate(over="raise", divide="raise",
invalid="raise", under="ignore")`` (``fp_check`` below), which also catches floating-point
errors that NumPy would otherwise only warn about, or not report at all (inside ufunc
``out=`` chains, for example). Which errors matter:

- overflow: a finite input must not produce ±inf along the way (``exp(1000)``);
- invalid: NaN-producing operations (``inf - inf``, ``0 * inf``, ``inf / inf``);
- divide: division by zero and ``log(0)``, i.e. an infinity made from finite numbers;
- underflow is *ignored*: ``exp(-1000)`` rounding to 0 (or to a subnormal) is the correctly
  rounded result, and the stable formulas rely on it (``sigmoid(-1000) = exp(-1000) = 0``).
  Raising on it would reject exactly the tricks that make these functions stable.
"""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import functional


def fp_check():
    return np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")


DTYPES = [np.float32, np.float64]
BIG = [1000.0, 1e4]


def extreme_row(dtype, big: float = 1000.0) -> np.ndarray:
    """One batch row mixing huge and ordinary values."""
    return np.array([[-big, -1.0, -0.0, 0.0, 1.0, big]], dtype=dtype)


def extreme_batch(dtype, big: float = 1000.0) -> np.ndarray:
    """Several rows: all-huge, mixed signs, and a row of equal huge values."""
    return np.array(
        [
            [-big, -big, -big, -big],
            [big, big, big, big],
            [-big, 0.0, 1.0, big],
            [big, -big, big, -big],
        ],
        dtype=dtype,
    )


ACTIVATIONS = {
    "sigmoid": snn.Sigmoid,
    "tanh": snn.Tanh,
    "softmax": snn.Softmax,
    "gelu": snn.GELU,
    "gelu_tanh": lambda: snn.GELU(approximate="tanh"),
    "elu": snn.ELU,
    "silu": snn.SiLU,
    "leaky_relu": snn.LeakyReLU,
    "relu": snn.ReLU,
    "identity": snn.Identity,
}


# --------------------------------------------------------------------------------------------
# Activations: finite forward and backward at ±1000 and ±1e4
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_is_finite_at_extreme_inputs(name, dtype, big):
    layer = ACTIVATIONS[name]()
    for x in (extreme_row(dtype, big), extreme_batch(dtype, big)):
        with fp_check():
            out = layer.forward(x, training=True)
            grad = layer.backward(np.ones_like(out))
            grad_random = layer.backward(
                np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
            )
        assert np.isfinite(out).all(), out
        assert np.isfinite(grad).all(), grad
        assert np.isfinite(grad_random).all(), grad_random


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_limits(dtype, big):
    x = np.array([[-big, big]], dtype=dtype)

    def run(layer):
        with fp_check():
            out = layer.forward(x, training=True)
            grad = layer.backward(np.ones_like(out))
        return out[0].tolist(), grad[0].tolist()

    # (value at -big, value at +big), (derivative at -big, at +big)
    assert run(snn.Sigmoid()) == ([0.0, 1.0], [0.0, 0.0])
    assert run(snn.Tanh()) == ([-1.0, 1.0], [0.0, 0.0])
    assert run(snn.GELU()) == ([0.0, big], [0.0, 1.0])
    assert run(snn.GELU(approximate="tanh")) == ([0.0, big], [0.0, 1.0])
    assert run(snn.SiLU()) == ([0.0, big], [0.0, 1.0])
    assert run(snn.ELU()) == ([-1.0, big], [0.0, 1.0])
    assert run(snn.ELU(alpha=0.5)) == ([-0.5, big], [0.0, 1.0])
    assert run(snn.ReLU()) == ([0.0, big], [0.0, 1.0])
    values, grads = run(snn.LeakyReLU())
    np.testing.assert_allclose(values, [-0.01 * big, big], rtol=1e-6)
    np.testing.assert_allclose(grads, [0.01, 1.0], rtol=1e-6)


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_layer_is_one_hot_at_extremes(dtype, big):
    x = np.array([[-big, 0.0, big], [big, -big, -big], [big, big, -big]], dtype=dtype)
    layer = snn.Softmax()
    with fp_check():
        out = layer.forward(x)
        grad = layer.backward(np.random.default_rng(1).standard_normal(x.shape).astype(dtype))
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0.5, 0.5, 0]])
    assert np.isfinite(grad).all()
    # A one-hot softmax is flat: its Jacobian a_i(δ_ij - a_j) vanishes.
    np.testing.assert_array_equal(grad[:2], 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_layer_is_shift_invariant(dtype):
    x = np.array([[0.0, 1.0, 2.0]], dtype=dtype)
    with fp_check():
        reference = snn.Softmax().forward(x)
        shifted = snn.Softmax().forward(x + dtype(1000))
    np.testing.assert_allclose(shifted, reference, rtol=1e-6 if dtype == np.float32 else 1e-12)


# --------------------------------------------------------------------------------------------
# The functional helpers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_sigmoid(dtype, big):
    x = np.array([-big, -50.0, 0.0, 50.0, big], dtype=dtype)
    with fp_check():
        out = functional.sigmoid(x)
    assert out.dtype == dtype
    assert np.isfinite(out).all()
    assert out[0] == 0.0
    assert out[2] == 0.5
    assert out[-1] == 1.0
    # Full relative precision in the lower tail: sigmoid(-50) = e^-50 / (1 + e^-50).
    np.testing.assert_allclose(out[1], np.exp(-50.0) / (1 + np.exp(-50.0)), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_sigmoid_of_a_scalar(dtype):
    # The helpers are elementwise: a 0-d input is as valid as any other shape.
    for value, expected in ((-1000.0, 0.0), (0.0, 0.5), (1000.0, 1.0)):
        with fp_check():
            out = functional.sigmoid(np.array(value, dtype=dtype))
        assert float(out) == expected


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_softmax_and_log_softmax(dtype, big):
    z = np.array([[-big, 0.0, big], [big, big, big], [-big, -big, -big]], dtype=dtype)
    with fp_check():
        p = functional.softmax(z)
        log_p = functional.log_softmax(z)
    assert p.dtype == dtype
    assert log_p.dtype == dtype
    assert np.isfinite(p).all()
    assert np.isfinite(log_p).all()
    np.testing.assert_array_equal(p[0], [0, 0, 1])
    np.testing.assert_allclose(p[1:], 1 / 3, rtol=1e-6)
    # log softmax keeps the information that softmax rounds away: exactly -2·big, -big, 0.
    np.testing.assert_array_equal(log_p[0], [-2 * big, -big, 0])
    np.testing.assert_allclose(log_p[1:], -np.log(3.0), rtol=1e-6)


def test_relu_reused_on_other_widths_and_dtypes_is_exactly_max_with_zero():
    # ReLU keeps a row of zeros to compare against; it must follow the input's width and dtype.
    relu = snn.ReLU()
    rng = np.random.default_rng(0)
    for shape, dtype in [
        ((4, 3), np.float32),
        ((4, 5), np.float32),
        ((2, 5), np.float64),
        ((3,), np.float64),
        ((2, 2, 6), np.float32),
        ((), np.float64),
    ]:
        x = rng.uniform(-1000, 1000, size=shape).astype(dtype)
        out = relu.forward(x)
        assert out.dtype == dtype and out.shape == x.shape
        np.testing.assert_array_equal(out, np.maximum(x, 0))
    special = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1.0], dtype=np.float32)
    np.testing.assert_array_equal(relu.forward(special), np.maximum(special, 0))


@pytest.mark.parametrize("shape", [(5, 1), (7, 10), (3, 16), (4, 17), (6, 40), (2, 3, 4), (9,)])
def test_softmax_row_max_shortcut_matches_the_plain_formula(shape):
    # Few columns take a faster route to the row maximum (a transposed reduction); it must
    # give exactly what the textbook formula gives, for any shape on either side of the cut.
    z = np.random.default_rng(0).uniform(-1000, 1000, size=shape)
    shifted = z - z.max(axis=-1, keepdims=True)
    expected = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    np.testing.assert_array_equal(functional.log_softmax(z), expected)
    exps = np.exp(shifted)
    np.testing.assert_array_equal(functional.softmax(z), exps / exps.sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_normal_cdf_and_pdf(dtype, big):
    x = np.array([-big, -10.0, -1.0, 0.0, 1.0, 10.0, big], dtype=dtype)
    with fp_check():
        cdf = functional.normal_cdf(x)
        pdf = functional.normal_pdf(x)
    assert cdf.dtype == dtype
    assert pdf.dtype == dtype
    assert np.isfinite(cdf).all()
    assert np.isfinite(pdf).all()
    assert cdf[0] == 0.0
    assert cdf[-1] == 1.0
    assert pdf[0] == 0.0
    assert pdf[-1] == 0.0
    assert cdf[3] == 0.5
    # Φ(±1) and the lower tail Φ(-10) ≈ 7.62e-24 to full relative precision (float64).
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(cdf[[2, 4]], [0.15865525393145707, 0.8413447460685429], rtol=rtol)
    np.testing.assert_allclose(cdf[1], 7.619853024160527e-24, rtol=rtol)
    assert np.all(np.diff(cdf) >= 0)


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_softplus(dtype, big):
    x = np.array([-big, 0.0, big], dtype=dtype)
    with fp_check():
        out = functional.softplus(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, [0.0, np.log(2.0), big], rtol=1e-6)


# --------------------------------------------------------------------------------------------
# Losses at extreme logits and at probabilities of exactly 0 and 1
# --------------------------------------------------------------------------------------------


def _loss_value_and_grad(loss, prediction, target):
    with fp_check():
        value = loss.forward(prediction, target)
        grad = loss.backward()
    assert isinstance(value, float)
    assert np.isfinite(value), value
    assert np.isfinite(grad).all(), grad
    assert grad.shape == prediction.shape
    assert grad.dtype == prediction.dtype
    return value, grad


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", [snn.losses.MSE(), snn.losses.MAE(), snn.losses.Huber()])
def test_regression_losses_at_extreme_predictions(loss, dtype, big):
    prediction = extreme_batch(dtype, big)
    target = np.random.default_rng(0).standard_normal(prediction.shape).astype(dtype)
    _loss_value_and_grad(loss, prediction, target)
    value, grad = _loss_value_and_grad(loss, prediction, prediction.copy())
    assert value == 0.0
    assert np.all(grad == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_on_probabilities_exactly_0_and_1(dtype):
    p = np.array([[0.0, 1.0, 0.0, 1.0]], dtype=dtype)
    loss = snn.losses.BinaryCrossEntropy()
    # Right everywhere: zero loss, zero gradient.
    value, grad = _loss_value_and_grad(loss, p, p.copy())
    assert value == 0.0
    np.testing.assert_array_equal(grad, 0)
    # Wrong everywhere: each log is clamped at -100 (as PyTorch), so the loss is ~100.
    value, grad = _loss_value_and_grad(loss, p, 1 - p)
    np.testing.assert_allclose(value, 100.0, rtol=1e-2)
    assert np.all(np.sign(grad) == np.sign(p - (1 - p)))
    # Mixed, and soft targets.
    _loss_value_and_grad(loss, p, np.array([[0.0, 0.0, 1.0, 0.5]], dtype=dtype))
    _loss_value_and_grad(loss, p, np.full_like(p, 0.5))


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_from_logits_at_extreme_logits(dtype, big):
    z = np.array([[-big, big, -big, big]], dtype=dtype)
    loss = snn.losses.BinaryCrossEntropy(from_logits=True)
    right = (z > 0).astype(dtype)
    value, grad = _loss_value_and_grad(loss, z, right)
    assert value == 0.0
    np.testing.assert_array_equal(grad, 0)
    # Completely wrong: softplus(big) = big per element.
    value, grad = _loss_value_and_grad(loss, z, 1 - right)
    np.testing.assert_allclose(value, big, rtol=1e-6)
    np.testing.assert_allclose(grad, np.sign(z) / z.size, rtol=1e-6)
    _loss_value_and_grad(loss, z, np.full_like(z, 0.5))


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_from_logits_at_extreme_logits(dtype, big):
    z = np.array([[-big, 0.0, big], [big, -big, -big], [big, big, big]], dtype=dtype)
    loss = snn.losses.CrossEntropy()
    # Labels: right, wrong by 2·big, and a tie among three.
    value, grad = _loss_value_and_grad(loss, z, np.array([2, 1, 0]))
    np.testing.assert_allclose(value, (0 + 2 * big + np.log(3)) / 3, rtol=1e-6)
    expected = np.array([[0, 0, 0], [1, -1, 0], [1 / 3 - 1, 1 / 3, 1 / 3]]) / 3
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)
    # Probability targets.
    targets = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3]], dtype=dtype)
    _loss_value_and_grad(loss, z, targets)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_on_probabilities_exactly_0_and_1(dtype):
    p = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=dtype)
    loss = snn.losses.CrossEntropy(from_logits=False)
    value, _ = _loss_value_and_grad(loss, p, np.array([0, 2]))
    assert value == 0.0
    # Wrong class, probability exactly 0: clipped to machine epsilon, so -log(eps).
    value, grad = _loss_value_and_grad(loss, p, np.array([1, 0]))
    np.testing.assert_allclose(value, -np.log(np.finfo(dtype).eps), rtol=1e-5)
    assert np.all(grad <= 0)
    _loss_value_and_grad(loss, p, np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], dtype=dtype))


# --------------------------------------------------------------------------------------------
# Training on data with huge feature values
# --------------------------------------------------------------------------------------------


def _huge_data(seed=0, n=64, features=4, scale=1e4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)) * scale + scale  # values up to ~5e4, all far from 0
    return X, rng


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "silu"])
def test_training_on_huge_features_with_cross_entropy_from_logits_stays_finite(dtype, activation):
    # Logits of 1e4..1e6 are no problem for a log-sum-exp cross-entropy; Adam's step is
    # bounded by its learning rate, so the weights cannot run away either. Everything must
    # stay finite, without a single floating-point warning.
    X, rng = _huge_data()
    y = rng.integers(0, 3, size=len(X))
    model = snn.MLP([4, 8, 3], activation=activation, seed=0, dtype=dtype)
    with fp_check():
        history = model.fit(
            X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=16, verbose=0
        )
        evaluation = model.evaluate(X, y, metrics=["accuracy"])
        prediction = model.predict(X)
    assert np.isfinite(history["loss"]).all()
    assert np.isfinite(evaluation["loss"])
    assert np.isfinite(model.parameters().flat.value).all()
    assert np.isfinite(model.parameters().flat.grad).all()
    assert np.isfinite(prediction).all()
    assert prediction.dtype == dtype
    probabilities = model.loss.output_transform(prediction)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("loss", "output"),
    [
        (snn.losses.BinaryCrossEntropy(from_logits=True), None),
        (snn.losses.BinaryCrossEntropy(), "sigmoid"),  # saturates to exactly 0/1: clamped logs
    ],
)
def test_training_on_huge_features_with_binary_cross_entropy_stays_finite(dtype, loss, output):
    X, rng = _huge_data(1)
    y = rng.integers(0, 2, size=len(X))
    model = snn.MLP([4, 8, 1], activation="tanh", output=output, seed=0, dtype=dtype)
    with fp_check():
        history = model.fit(X, y, loss=loss, optimizer="adam", epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history["loss"]).all()
    assert np.isfinite(model.parameters().flat.value).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_training_regression_on_huge_features_stays_finite(dtype):
    X, rng = _huge_data(2)
    y = X @ rng.standard_normal(4)  # targets of order 1e4 too
    model = snn.MLP([4, 8, 1], activation="relu", seed=0, dtype=dtype)
    with fp_check():
        history = model.fit(X, y, loss="mse", optimizer="adam", epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history["loss"]).all()
    assert np.isfinite(model.parameters().flat.value).all()


def test_divergent_training_never_reports_nan_silently():
    # Plain SGD with a large step on unscaled data diverges: that is the user's choice. What
    # must not happen is a silent NaN/inf loss: either training stays finite, or the training
    # step refuses the step with TrainingDivergedError (which is a FloatingPointError), naming
    # what became non-finite; NumPy's own overflow warnings inside the step are not raised.
    X, rng = _huge_data(3)
    y = rng.integers(0, 3, size=len(X))
    model = snn.MLP([4, 8, 3], seed=0, dtype=np.float32)
    try:
        with fp_check():
            history = model.fit(
                X,
                y,
                loss="cross_entropy",
                optimizer=snn.optim.SGD(lr=0.1),
                epochs=20,
                batch_size=16,
                verbose=0,
            )
    except snn.TrainingDivergedError as error:
        assert "infinite or NaN" in str(error) or "became nan" in str(error)
        assert np.isfinite(model.get_weights()).all()
    else:
        assert np.isfinite(history["loss"]).all()


# --------------------------------------------------------------------------------------------
# dtype preservation: float32 stays float32, float64 stays float64
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_preserves_dtype(name, dtype):
    layer = ACTIVATIONS[name]()
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype) * 3
    out = layer.forward(x, training=True)
    grad = layer.backward(np.ones_like(out))
    assert out.dtype == dtype
    assert grad.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu", "gelu", "softmax"])
def test_dense_preserves_dtype(dtype, activation):
    layer = snn.Dense(5, 3, activation=activation)
    layer.build(np.random.default_rng(0), dtype)
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(dtype)
    out = layer.forward(x, training=True)
    grad = layer.backward(np.ones_like(out))
    assert out.dtype == dtype
    assert grad.dtype == dtype
    assert all(g.dtype == dtype for g in layer.grads.values())
    assert all(p.dtype == dtype for p in layer.params.values())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "function",
    [
        functional.sigmoid,
        functional.softmax,
        functional.log_softmax,
        functional.softplus,
        functional.normal_cdf,
        functional.normal_pdf,
    ],
)
def test_functional_preserves_dtype(function, dtype):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(dtype) * 5
    assert function(x).dtype == dtype


def _loss_inputs(dtype):
    rng = np.random.default_rng(0)
    shape = (5, 3)
    real = rng.standard_normal(shape).astype(dtype)
    probs = rng.uniform(0.05, 0.95, size=shape).astype(dtype)
    binary = rng.integers(0, 2, size=shape).astype(dtype)
    labels = rng.integers(0, 3, size=5)
    onehot = np.eye(3, dtype=dtype)[labels]
    return {
        "mse": (snn.losses.MSE(), real, real[::-1].copy()),
        "mae": (snn.losses.MAE(), real, real[::-1].copy()),
        "huber": (snn.losses.Huber(), real * 3, real[::-1].copy()),
        "bce_probs": (snn.losses.BinaryCrossEntropy(), probs, binary),
        "bce_logits": (snn.losses.BinaryCrossEntropy(from_logits=True), real, binary),
        "ce_logits_labels": (snn.losses.CrossEntropy(), real, labels),
        "ce_logits_onehot": (snn.losses.CrossEntropy(), real, onehot),
        "ce_probs_labels": (snn.losses.CrossEntropy(from_logits=False), probs, labels),
        "ce_probs_onehot": (snn.losses.CrossEntropy(from_logits=False), probs, onehot),
    }


LOSS_NAMES = list(_loss_inputs(np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_gradient_preserves_dtype(name, dtype):
    loss, prediction, target = _loss_inputs(dtype)[name]
    value = loss.forward(prediction, target)
    grad = loss.backward()
    assert isinstance(value, float)
    assert grad.dtype == dtype
    assert grad.shape == prediction.shape
    # output_transform (softmax/sigmoid for logits) keeps the dtype as well.
    assert loss.output_transform(prediction).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_model_training_keeps_its_dtype(dtype):
    # Float64 data into a float32 model, and vice versa: the model's dtype wins, end to end.
    other = np.float64 if dtype == np.float32 else np.float32
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3)).astype(other)
    y = rng.integers(0, 2, size=20)
    model = snn.MLP([3, 4, 2], activation="gelu", seed=0, dtype=dtype)
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, batch_size=8, verbose=0)
    assert model.parameters().flat.value.dtype == dtype
    assert model.parameters().flat.grad.dtype == dtype
    assert all(p.value.dtype == dtype and p.grad.dtype == dtype for p in model.parameters())
    assert model.predict(X).dtype == dtype
    assert model.forward(X).dtype == dtype
    assert model.backward(np.ones((20, 2), dtype=dtype)).dtype == dtype
