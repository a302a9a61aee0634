"""Bad input fails early, with a ValueError (or TypeError) that names the problem, and never
touches the weights.

``fit`` promises to validate everything before the first step; ``predict`` and ``evaluate``
validate at their boundary. Each test checks the exception type, a regex of the key words of
the message, and that ``model.parameters().flat.value`` is bit-for-bit unchanged.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as snn

N_FEATURES = 3
N_SAMPLES = 6


def regression_model(outputs: int = 1, dtype=np.float32) -> snn.Sequential:
    return snn.MLP([N_FEATURES, 4, outputs], activation="tanh", seed=0, dtype=dtype)


def classifier(classes: int = 3, dtype=np.float32) -> snn.Sequential:
    return snn.MLP([N_FEATURES, 4, classes], activation="relu", seed=0, dtype=dtype)


def good_x(n: int = N_SAMPLES) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, N_FEATURES))


def good_labels(n: int = N_SAMPLES, classes: int = 3) -> np.ndarray:
    return np.arange(n) % classes


@contextlib.contextmanager
def weights_unchanged(model: snn.Sequential):
    """Assert that the block leaves every parameter bit-for-bit as it was (and the optimizer
    state, if any, untouched)."""
    before = model.parameters().flat.value.copy()
    steps = None if model.optimizer is None else model.optimizer.step_count
    yield
    after = model.parameters().flat.value
    assert after.dtype == before.dtype
    assert after.tobytes() == before.tobytes(), "the weights changed"
    if steps is not None:
        assert model.optimizer.step_count == steps


def assert_fit_rejects(model, X, y, match, error=ValueError, **kwargs):
    kwargs.setdefault("loss", "mse")
    kwargs.setdefault("optimizer", "sgd")
    kwargs.setdefault("verbose", 0)
    # Non-zero gradients, so that a stray optimizer step before the error would show.
    model.parameters().flat.grad[...] = 1.0
    loss_before = model.loss
    with weights_unchanged(model), pytest.raises(error, match=match):
        model.fit(X, y, **kwargs)
    assert model.loss is loss_before  # nothing remembered from the failed call


def assert_evaluate_rejects(model, X, y, match, loss="mse"):
    with weights_unchanged(model), pytest.raises(ValueError, match=match):
        model.evaluate(X, y, loss=loss)


def assert_predict_rejects(model, X, match, **kwargs):
    with weights_unchanged(model), pytest.raises(ValueError, match=match):
        model.predict(X, **kwargs)


def assert_all_reject_x(model, X, y, match, loss="mse"):
    """``fit``, ``evaluate`` and ``predict`` all reject the bad ``X``."""
    assert_fit_rejects(model, X, y, match, loss=loss)
    assert_evaluate_rejects(model, X, y, match, loss=loss)
    assert_predict_rejects(model, X, match)


# --------------------------------------------------------------------------------------------
# X: shape and values
# --------------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    n_features=st.integers(1, 12).filter(lambda k: k != N_FEATURES),
    n_samples=st.integers(1, 8),
)
def test_wrong_number_of_features(n_features, n_samples):
    model = regression_model()
    X = np.zeros((n_samples, n_features))
    y = np.zeros(n_samples)
    match = rf"X has {n_features} features, but the model expects {N_FEATURES}"
    assert_all_reject_x(model, X, y, match)


def test_wrong_number_of_features_names_the_first_layer():
    model = regression_model()
    with pytest.raises(ValueError, match=r"Dense\(in_features=3, out_features=4"):
        model.predict(np.zeros((2, 5)))


def test_1d_x():
    model = regression_model()
    X = np.zeros(N_FEATURES)
    y = np.zeros(N_FEATURES)
    assert_all_reject_x(model, X, y, r"X must be 2-D.*1-D array of shape \(3,\).*reshape")


@pytest.mark.parametrize("shape", [(4, 3, 2), (4, 1, 3), (1, 1, 1, 3)])
def test_3d_and_higher_x(shape):
    model = regression_model()
    X = np.zeros(shape)
    y = np.zeros(shape[0])
    assert_all_reject_x(model, X, y, rf"X must be 2-D.*{re.escape(str(shape))}")


def test_scalar_x():
    # A 0-d X (a single number) is as wrong as a 1-D one and deserves the same ValueError.
    model = regression_model()
    assert_all_reject_x(model, np.float64(1.0), np.zeros(1), r"X must be 2-D")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_in_x(bad):
    model = regression_model()
    X = good_x()
    X[2, 1] = bad
    assert_all_reject_x(model, X, np.zeros(N_SAMPLES), r"X contains NaN or infinity.*\(2, 1\)")


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_nan_is_found_in_any_float_dtype_and_memory_order(dtype, order):
    # The quick finiteness test takes a BLAS route for C-ordered float32/float64 and a plain
    # sum otherwise; both must see the NaN.
    model = regression_model()
    X = np.asarray(good_x(), dtype=dtype, order=order)
    X[3, 0] = np.nan
    assert_all_reject_x(model, X, np.zeros(N_SAMPLES), r"X contains NaN or infinity.*\(3, 0\)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_finite_x_is_accepted_without_warnings(dtype):
    # Every value finite, but their sum overflows: the quick finiteness test must not warn
    # (warnings are errors in this suite) and the exact test must let the data through.
    model = regression_model(dtype=dtype)
    X = np.full((N_SAMPLES, N_FEATURES), np.finfo(dtype).max / 2, dtype=dtype)
    assert model.predict(X).shape == (N_SAMPLES, 1)
    X[1, 2] = np.inf
    assert_all_reject_x(model, X, np.zeros(N_SAMPLES), r"X contains NaN or infinity.*\(1, 2\)")


def test_x_of_strings():
    model = regression_model()
    X = np.array([["a", "b", "c"]] * 2)
    assert_all_reject_x(model, X, np.zeros(2), r"X must hold numbers.*dtype <U1")


def test_x_too_large_for_the_model_dtype():
    # 1e39 is finite in float64 but overflows float32: a clear ValueError, not an overflow
    # warning from the cast followed by "X contains NaN or infinity".
    model = regression_model(dtype=np.float32)
    X = good_x()
    X[0, 0] = 1e39
    assert_fit_rejects(model, X, np.zeros(N_SAMPLES), r"X")


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((0, N_FEATURES)), r"X is empty.*\(0, 3\)"),
        (np.zeros((N_SAMPLES, 0)), r"X is empty"),
        (np.zeros(0), r"X is empty"),
        ([], r"X is empty"),
    ],
)
def test_empty_x(X, match):
    model = regression_model()
    assert_all_reject_x(model, X, np.zeros(0), match)


# --------------------------------------------------------------------------------------------
# y: lengths, values, shapes
# --------------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(n_x=st.integers(1, 10), n_y=st.integers(1, 10))
def test_mismatched_x_and_y_lengths(n_x, n_y):
    if n_x == n_y:
        return
    for model, y, loss in (
        (regression_model(), np.zeros(n_y), "mse"),
        (classifier(), good_labels(n_y), "cross_entropy"),
        (regression_model(), np.zeros((n_y, 1)), "bce"),
    ):
        match = rf"different numbers of samples: {n_x} and {n_y}"
        assert_fit_rejects(model, good_x(n_x), y, match, loss=loss)
        assert_evaluate_rejects(model, good_x(n_x), y, match, loss=loss)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "bce"])
def test_nan_and_inf_in_y(bad, loss):
    model = regression_model()
    y = np.zeros(N_SAMPLES)
    y[4] = bad
    match = r"y contains NaN or infinity \(first at index \(4,\)\)"
    assert_fit_rejects(model, good_x(), y, match, loss=loss)
    assert_evaluate_rejects(model, good_x(), y, match, loss=loss)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_in_class_labels(bad):
    model = classifier()
    y = good_labels().astype(float)
    y[1] = bad
    match = r"Class labels must be whole numbers.*(nan|inf)"
    assert_fit_rejects(model, good_x(), y, match, loss="cross_entropy")
    assert_evaluate_rejects(model, good_x(), y, match, loss="cross_entropy")


def test_nan_in_probability_targets():
    model = classifier()
    y = np.eye(3)[good_labels()]
    y[0, 0] = np.nan
    assert_fit_rejects(model, good_x(), y, r"y contains NaN or infinity", loss="cross_entropy")


def test_nan_in_validation_data():
    model = regression_model()
    X_val = good_x(3)
    X_val[0, 0] = np.nan
    assert_fit_rejects(
        model,
        good_x(),
        np.zeros(N_SAMPLES),
        r"X contains NaN",
        validation_data=(X_val, np.zeros(3)),
    )


def test_validation_data_with_wrong_features():
    model = regression_model()
    assert_fit_rejects(
        model,
        good_x(),
        np.zeros(N_SAMPLES),
        r"X has 5 features",
        validation_data=(np.zeros((3, 5)), np.zeros(3)),
    )


@pytest.mark.parametrize("validation_data", [np.zeros((3, 3)), (np.zeros((3, 3)),), "val"])
def test_validation_data_not_a_pair(validation_data):
    model = regression_model()
    assert_fit_rejects(
        model,
        good_x(),
        np.zeros(N_SAMPLES),
        r"validation_data must be \(X_val, y_val\)",
        validation_data=validation_data,
    )


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ([0, 1, 2, 3, 0, 1], r"Class labels must lie in \[0, 2\].*3 outputs.*\[0, 3\]"),
        ([0, 1, 2, 7, 0, 1], r"Class labels must lie in \[0, 2\].*\[0, 7\]"),
        ([0, 1, -1, 2, 0, 1], r"Class labels must lie in \[0, 2\].*\[-1, 2\]"),
        (np.array([0.0, 1.0, 2.0, 3.0, 0.0, 1.0]), r"Class labels must lie in \[0, 2\]"),
        (np.array([0.0, 1.0, 1e20, 0.0, 1.0, 2.0]), r"Class labels must lie in \[0, 2\]"),
        (np.array([0.0, 0.5, 1.0, 2.0, 0.0, 1.0]), r"whole numbers.*non-integer.*0\.5"),
        (np.array([0.0, 1.0, 2.0, 1.0, 0.0, 2.0001]), r"whole numbers.*non-integer"),
        (np.array(["a", "b", "c", "a", "b", "c"]), r"Class labels must be integers.*<U1.*"),
        (np.array(["0", "1", "2", "0", "1", "2"]), r"Encode string labels as integers"),
        (np.zeros((N_SAMPLES, 2)), r"one-hot rows of shape \(n_samples, 3\).*\(6, 2\)"),
        (np.zeros((N_SAMPLES, 3, 1)), r"received shape \(6, 3, 1\)"),
        (-np.eye(3)[[0, 1, 2, 0, 1, 2]], r"one-hot or probability rows.*>= 0"),
    ],
    ids=[
        "label_eq_classes",
        "label_too_large",
        "negative",
        "float_out_of_range",
        "huge_float",
        "non_integer_float",
        "nearly_integer_float",
        "strings",
        "numeric_strings",
        "onehot_wrong_width",
        "3d",
        "negative_probabilities",
    ],
)
def test_bad_class_labels_for_cross_entropy(labels, match):
    model = classifier(classes=3)
    assert_fit_rejects(model, good_x(), labels, match, loss="cross_entropy")
    assert_evaluate_rejects(model, good_x(), labels, match, loss="cross_entropy")


@settings(max_examples=15, deadline=None)
@given(
    label=st.one_of(st.integers(-1000, -1), st.integers(3, 1000)),
    position=st.integers(0, N_SAMPLES - 1),
)
def test_any_out_of_range_label_is_rejected(label, position):
    model = classifier(classes=3)
    y = good_labels()
    y[position] = label
    assert_fit_rejects(
        model, good_x(), y, rf"Class labels must lie in \[0, 2\].*{label}", loss="cross_entropy"
    )


@pytest.mark.parametrize(
    ("y", "match"),
    [
        ([0, 1, 2, 0, 1, 0], r"BinaryCrossEntropy needs targets in \[0, 1\].*\[0, 2\]"),
        ([0, 1, -1, 0, 1, 0], r"targets in \[0, 1\].*\[-1, 1\]"),
        ([0, 1, 1.5, 0, 1, 0], r"targets in \[0, 1\].*\[0, 1\.5\]"),
    ],
)
@pytest.mark.parametrize("from_logits", [False, True])
def test_bce_targets_outside_0_1(y, match, from_logits):
    model = regression_model()
    loss = snn.losses.BinaryCrossEntropy(from_logits=from_logits)
    assert_fit_rejects(model, good_x(), np.array(y), match, loss=loss)
    assert_evaluate_rejects(model, good_x(), np.array(y), match, loss=loss)


def test_cross_entropy_with_a_one_output_model():
    model = regression_model(outputs=1)
    match = r"CrossEntropy needs one output per class.*1 output.*BinaryCrossEntropy"
    assert_fit_rejects(model, good_x(), np.zeros(N_SAMPLES, dtype=int), match, loss="ce")
    assert_evaluate_rejects(model, good_x(), np.zeros(N_SAMPLES, dtype=int), match, loss="ce")


@pytest.mark.parametrize(
    ("outputs", "y", "match"),
    [
        (1, np.zeros((N_SAMPLES, 2)), r"y has shape \(6, 2\), but the model has 1 output"),
        (2, np.zeros(N_SAMPLES), r"y has shape \(6,\), but the model has 2 output"),
        (2, np.zeros((N_SAMPLES, 3)), r"must have shape \(n_samples, 2\)"),
        (1, np.zeros((N_SAMPLES, 1, 1)), r"y has shape \(6, 1, 1\)"),
    ],
)
def test_regression_targets_of_the_wrong_shape(outputs, y, match):
    model = regression_model(outputs=outputs)
    assert_fit_rejects(model, good_x(), y, match)
    assert_evaluate_rejects(model, good_x(), y, match)


def test_regression_targets_of_strings():
    model = regression_model()
    assert_fit_rejects(model, good_x(), np.array(["x"] * N_SAMPLES), r"y must hold numbers")


@pytest.mark.parametrize("loss", ["mse", "bce", "cross_entropy"])
def test_empty_y(loss):
    model = classifier() if loss == "cross_entropy" else regression_model()
    assert_fit_rejects(model, good_x(), np.zeros(0), r"y is empty", loss=loss)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_empty_x_and_y(loss):
    model = classifier() if loss == "cross_entropy" else regression_model()
    assert_fit_rejects(model, np.zeros((0, N_FEATURES)), np.zeros(0), r"is empty", loss=loss)


# --------------------------------------------------------------------------------------------
# fit's other arguments
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("epochs", [0, -1, 1.5, 2.0, "3", None, True])
def test_bad_epochs(epochs):
    model = regression_model()
    match = rf"epochs must be a positive integer.*{re.escape(repr(epochs))}"
    assert_fit_rejects(model, good_x(), np.zeros(N_SAMPLES), match, epochs=epochs)


@pytest.mark.parametrize("batch_size", [0, -4, 2.5, 8.0, "8", True])
def test_bad_batch_size(batch_size):
    model = regression_model()
    match = rf"batch_size must be a positive integer.*{re.escape(repr(batch_size))}"
    assert_fit_rejects(model, good_x(), np.zeros(N_SAMPLES), match, batch_size=batch_size)


def test_batch_size_none_and_numpy_integers_are_fine():
    model = regression_model()
    model.fit(
        good_x(), np.zeros(N_SAMPLES), loss="mse", optimizer="sgd", batch_size=None, verbose=0
    )
    model.fit(good_x(), np.zeros(N_SAMPLES), batch_size=np.int64(2), epochs=np.int32(1), verbose=0)


@pytest.mark.parametrize("batch_size", [0, -1, -4, 2.5])
def test_bad_predict_batch_size(batch_size):
    # predict(X, batch_size=-1) must not return uninitialised memory (nor batch_size=0 be
    # silently replaced by the default).
    model = regression_model()
    assert_predict_rejects(model, good_x(), r"batch_size", batch_size=batch_size)


@pytest.mark.parametrize("name", ["adamm", "sgdd", "momentum", ""])
def test_unknown_optimizer_name(name):
    model = regression_model()
    match = rf"Unknown optimizer {name!r}.*Known optimizers: Adagrad, Adam, AdamW, RMSProp, SGD"
    assert_fit_rejects(model, good_x(), np.zeros(N_SAMPLES), match, optimizer=name)


@pytest.mark.parametrize("name", ["msee", "crossentropyy", "hinge"])
def test_unknown_loss_name(name):
    model = regression_model()
    match = rf"Unknown loss {name!r}.*BinaryCrossEntropy, CrossEntropy, Huber, MAE, MSE"
    assert_fit_rejects(model, good_x(), np.zeros(N_SAMPLES), match, loss=name)
    with pytest.raises(ValueError, match=match):
        model.evaluate(good_x(), np.zeros(N_SAMPLES), loss=name)


def test_unknown_names_raise_immediately():
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'.*Adam"):
        snn.optim.get("adamm")
    with pytest.raises(ValueError, match=r"Unknown loss 'msee'.*MSE"):
        snn.losses.get("msee")
    with pytest.raises(ValueError, match=r"Unknown activation 'rellu'.*ReLU"):
        snn.Dense(3, 4, activation="rellu")


def test_unknown_metric_name():
    model = regression_model()
    assert_fit_rejects(
        model, good_x(), np.zeros(N_SAMPLES), r"Unknown metric 'acuracy'", metrics=["acuracy"]
    )


def test_fit_without_a_loss_the_first_time():
    model = regression_model()
    assert_fit_rejects(
        model, good_x(), np.zeros(N_SAMPLES), r"fit\(\) needs a loss the first time", loss=None
    )


def test_fit_without_an_optimizer_the_first_time():
    model = regression_model()
    assert_fit_rejects(
        model,
        good_x(),
        np.zeros(N_SAMPLES),
        r"fit\(\) needs an optimizer the first time",
        optimizer=None,
    )


def test_evaluate_without_a_loss():
    model = regression_model()
    with weights_unchanged(model), pytest.raises(ValueError, match=r"evaluate\(\) needs a loss"):
        model.evaluate(good_x(), np.zeros(N_SAMPLES))


def test_a_failed_fit_after_a_good_one_changes_nothing():
    # The remembered loss and optimizer, the optimizer state and the weights all survive.
    model = classifier()
    model.fit(good_x(), good_labels(), loss="ce", optimizer="adam", epochs=2, verbose=0)
    loss, optimizer = model.loss, model.optimizer
    state = {k: v.copy() for k, v in optimizer.state[0].items()}
    bad = good_labels()
    bad[0] = 5
    with weights_unchanged(model), pytest.raises(ValueError, match=r"Class labels must lie"):
        model.fit(good_x(), bad, loss=snn.losses.CrossEntropy(), optimizer="sgd", verbose=0)
    assert model.loss is loss
    assert model.optimizer is optimizer
    for key, value in state.items():
        assert optimizer.state[0][key].tobytes() == value.tobytes()


# --------------------------------------------------------------------------------------------
# Building models
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["relu", np.tanh, 3, None, snn.ReLU])
def test_non_layer_in_sequential(bad):
    with pytest.raises(TypeError, match=r"Sequential takes Layer instances.*received.*of type"):
        snn.Sequential([snn.Dense(3, 4), bad, snn.Dense(4, 1)])


def test_mismatched_dense_sizes_name_both_layers():
    with pytest.raises(ValueError) as info:
        snn.Sequential([snn.Dense(3, 4), snn.Dense(5, 2)])
    message = str(info.value)
    assert "Dense(in_features=5, out_features=2)" in message
    assert "Dense(in_features=3, out_features=4)" in message
    assert "expects 5 input features" in message
    assert "gives 4" in message


def test_mismatched_dense_sizes_across_an_activation():
    with pytest.raises(ValueError, match=r"Dense\(in_features=5, out_features=2\).*expects 5.*4"):
        snn.Sequential([snn.Dense(3, 4), snn.ReLU(), snn.Dense(5, 2)])


def test_mismatched_dense_sizes_with_activation_shorthand():
    with pytest.raises(ValueError) as info:
        snn.Sequential([snn.Dense(3, 4, activation="relu"), snn.Dense(6, 2)])
    message = str(info.value)
    assert "Dense(in_features=6, out_features=2)" in message
    assert "Dense(in_features=3, out_features=4, activation='relu')" in message


@pytest.mark.parametrize("dtype", [np.float16, "float16", np.int32, int, "half", np.complex128])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match=r"dtype must be float32 or float64.*Received: dtype="):
        snn.Sequential([snn.Dense(3, 4)], dtype=dtype)
    with pytest.raises(ValueError, match=r"dtype must be float32 or float64"):
        snn.MLP([3, 4, 1], dtype=dtype)


def test_bad_dtype_for_clone():
    model = regression_model()
    with weights_unchanged(model), pytest.raises(ValueError, match=r"float32 or float64"):
        model.clone(dtype=np.float16)


def test_empty_sequential():
    with pytest.raises(ValueError, match=r"at least one layer"):
        snn.Sequential([])


def test_sequential_without_an_input_size():
    with pytest.raises(ValueError, match=r"input size is unknown.*Dense"):
        snn.Sequential([snn.ReLU(), snn.Tanh()])


def test_layer_reused_in_two_models():
    dense = snn.Dense(3, 1)
    snn.Sequential([dense])
    with pytest.raises(ValueError, match=r"already belongs to a model"):
        snn.Sequential([dense])


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 4), r"in_features must be a positive integer"), ((3, 2.5), r"out_features")],
)
def test_bad_dense_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        snn.Dense(*args)


# --------------------------------------------------------------------------------------------
# Optimizer hyperparameters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: snn.optim.SGD(lr=-0.1), r"lr must be a finite number >= 0.*lr=-0\.1"),
        (lambda: snn.optim.Adam(lr=-1e-3), r"lr must be a finite number >= 0"),
        (lambda: snn.optim.SGD(lr=float("nan")), r"lr must be a finite number >= 0.*nan"),
        (lambda: snn.optim.SGD(lr=float("inf")), r"lr"),
        (lambda: snn.optim.Adam(lr=float("inf")), r"lr"),
        (
            lambda: snn.optim.Adam(betas=(1.0, 0.999)),
            r"betas\[0\] must be a finite number in \[0, 1\)",
        ),
        (
            lambda: snn.optim.Adam(betas=(0.9, 1.0)),
            r"betas\[1\] must be a finite number in \[0, 1\)",
        ),
        (lambda: snn.optim.AdamW(betas=(0.9, 1.5)), r"betas\[1\]"),
        (lambda: snn.optim.Adam(betas=(-0.1, 0.999)), r"betas\[0\]"),
        (lambda: snn.optim.Adam(eps=-1e-8), r"eps must be a finite number >= 0"),
        (lambda: snn.optim.SGD(nesterov=True), r"Nesterov momentum needs momentum > 0"),
        (
            lambda: snn.optim.SGD(momentum=0.9, dampening=0.1, nesterov=True),
            r"Nesterov.*dampening = 0.*dampening=0\.1",
        ),
        (lambda: snn.optim.SGD(momentum=-0.9), r"momentum must be a finite number >= 0"),
        (lambda: snn.optim.SGD(dampening=1.5), r"dampening must be a finite number in \[0, 1\]"),
        (lambda: snn.optim.SGD(weight_decay=-1.0), r"weight_decay must be a finite number >= 0"),
        (lambda: snn.optim.RMSProp(alpha=1.5), r"alpha must be a finite number in \[0, 1\]"),
        (lambda: snn.optim.Adagrad(lr_decay=-1), r"lr_decay must be a finite number >= 0"),
        (lambda: snn.optim.get("adam", lr=-1), r"lr must be a finite number >= 0"),
    ],
    ids=[
        "sgd_negative_lr",
        "adam_negative_lr",
        "nan_lr",
        "sgd_inf_lr",
        "adam_inf_lr",
        "beta1_eq_1",
        "beta2_eq_1",
        "adamw_beta2_gt_1",
        "negative_beta1",
        "negative_eps",
        "nesterov_without_momentum",
        "nesterov_with_dampening",
        "negative_momentum",
        "dampening_gt_1",
        "negative_weight_decay",
        "rmsprop_alpha_gt_1",
        "negative_lr_decay",
        "get_by_name_negative_lr",
    ],
)
def test_bad_optimizer_hyperparameters(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


@pytest.mark.parametrize("lr", [-1.0, -1e-9])
def test_bad_learning_rate_through_fit_leaves_weights_unchanged(lr):
    model = regression_model()
    with (
        weights_unchanged(model),
        pytest.raises(ValueError, match=r"lr must be a finite number >= 0"),
    ):
        model.fit(good_x(), np.zeros(N_SAMPLES), loss="mse", optimizer=snn.optim.SGD(lr=lr))


# --------------------------------------------------------------------------------------------
# Parameter assignment
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (12,), (1, 3, 4), ()])
def test_assigning_a_wrong_shaped_weight(shape):
    model = regression_model()
    dense = model.layers[0]
    with weights_unchanged(model), pytest.raises(ValueError) as info:
        dense.params["W"] = np.ones(shape)
    message = str(info.value)
    assert "Dense(in_features=3, out_features=4" in message
    assert "'W' has shape (3, 4)" in message
    assert f"cannot assign an array of shape {shape}" in message


def test_assigning_a_wrong_shaped_bias():
    model = regression_model()
    with weights_unchanged(model), pytest.raises(ValueError, match=r"'b' has shape \(4,\)"):
        model.layers[0].params["b"] = np.ones(5)


def test_assigning_a_right_shaped_weight_writes_into_the_model():
    model = regression_model()
    dense = model.layers[0]
    dense.params["W"] = np.full((3, 4), 0.5)
    assert np.shares_memory(dense.params["W"], model.parameters().flat.value)
    np.testing.assert_array_equal(model.parameters()["dense_0.W"].value, 0.5)
    assert dense.params["W"].dtype == np.float32


def test_unknown_parameter_name():
    model = regression_model()
    with pytest.raises(KeyError, match=r"has no array 'V'.*It has: W, b"):
        model.layers[0].params["V"]
    with pytest.raises(KeyError, match=r"No parameter named 'dense_9.W'"):
        model.parameters()["dense_9.W"]
