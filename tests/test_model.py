"""Sequential and MLP: construction, parameter store, forward/backward, predict, summary."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn


def test_dense_computes_x_w_plus_b():
    layer = snn.Dense(3, 2)
    layer.build(np.random.default_rng(0), np.float64)
    layer.params["W"] = np.arange(6.0).reshape(3, 2)
    layer.params["b"] = np.array([10.0, 20.0])
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(layer.forward(x), x @ np.arange(6.0).reshape(3, 2) + [10, 20])


def test_unbuilt_layer_explains_how_to_build():
    with pytest.raises(KeyError, match="built"):
        _ = snn.Dense(2, 3).params["W"]


def test_standalone_layer_builds_on_first_forward():
    layer = snn.Dense(2, 3)
    out = layer.forward(np.ones((4, 2)))
    assert out.shape == (4, 3)
    assert layer.params["W"].dtype == np.float64


def test_params_are_views_into_one_flat_vector():
    model = snn.MLP([3, 5, 2], seed=0)
    flat = model.parameters().flat
    assert flat.value.size == 3 * 5 + 5 + 5 * 2 + 2
    dense = model.layers[0]
    assert np.shares_memory(dense.params["W"], flat.value)
    assert np.shares_memory(dense.grads["W"], flat.grad)
    flat.value[:] = 0.5  # the optimizer's view of the model
    assert np.all(dense.params["W"] == 0.5)
    dense.params["W"] = np.ones((3, 5))  # a learner's view: assignment copies in place
    assert np.all(flat.value[:15] == 1.0)
    assert model.parameters().names() == ["dense_0.W", "dense_0.b", "dense_2.W", "dense_2.b"]
    assert model.parameters()["dense_2.b"].value.shape == (2,)


def test_a_built_layer_keeps_its_weights_when_adopted():
    layer = snn.Dense(2, 2)
    layer.build(np.random.default_rng(0), np.float64)
    layer.params["W"] = np.eye(2)
    model = snn.Sequential([layer], seed=1)
    np.testing.assert_array_equal(model.layers[0].params["W"], np.eye(2))
    assert model.layers[0].params["W"].dtype == np.float32


def test_a_layer_cannot_join_two_models():
    layer = snn.Dense(2, 2)
    snn.Sequential([layer])
    with pytest.raises(ValueError, match="already belongs"):
        snn.Sequential([layer])


def test_auto_init_uses_he_before_relu_and_glorot_otherwise():
    fan_in, fan_out = 400, 300
    relu = snn.Sequential([snn.Dense(fan_in, fan_out), snn.ReLU()], seed=0)
    tanh = snn.Sequential([snn.Dense(fan_in, fan_out), snn.Tanh()], seed=0)
    shorthand = snn.Sequential([snn.Dense(fan_in, fan_out, activation="relu")], seed=0)
    he_var, glorot_var = 2 / fan_in, 2 / (fan_in + fan_out)
    assert np.var(relu.layers[0].params["W"]) == pytest.approx(he_var, rel=0.05)
    assert np.var(shorthand.layers[0].params["W"]) == pytest.approx(he_var, rel=0.05)
    assert np.var(tanh.layers[0].params["W"]) == pytest.approx(glorot_var, rel=0.05)


@pytest.mark.parametrize(
    ("name", "variance"),
    [
        ("glorot_uniform", 2 / 700),
        ("glorot_normal", 2 / 700),
        ("he_uniform", 2 / 400),
        ("he_normal", 2 / 400),
        ("lecun_normal", 1 / 400),
        ("normal", 0.01**2),
        ("uniform", 0.1**2 / 12),
    ],
)
def test_initializer_variances(name, variance):
    init = snn.initializers.get(name)
    W = init((400, 300), np.random.default_rng(0), np.float64)
    assert W.shape == (400, 300)
    assert np.var(W) == pytest.approx(variance, rel=0.05)
    assert abs(W.mean()) < 0.1 * np.sqrt(variance)


def test_zeros_and_unknown_initializer():
    assert not snn.initializers.get("zeros")((2, 2), np.random.default_rng(), np.float32).any()
    with pytest.raises(ValueError, match="Unknown initializer 'hee'"):
        snn.Dense(2, 2, init="hee")


def test_forward_backward_shapes_and_dtype():
    model = snn.MLP([4, 8, 8, 3], activation=["tanh", "gelu"], seed=0)
    x = np.random.default_rng(0).normal(size=(5, 4))
    out = model.forward(x, training=True)
    assert out.shape == (5, 3) and out.dtype == np.float32
    grad_in = model.backward(np.ones_like(out))
    assert grad_in.shape == (5, 4) and grad_in.dtype == np.float32
    assert model.parameters().flat.grad.dtype == np.float32


def test_float64_model_keeps_float64():
    model = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    assert model.predict(np.zeros((2, 4))).dtype == np.float64
    assert model.parameters().flat.value.dtype == np.float64


def test_mlp_structure_and_output_activation():
    model = snn.MLP([6, 5, 4, 2], activation="relu", output="softmax")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "ReLU", "Dense", "ReLU", "Dense", "Softmax"]
    probabilities = model.predict(np.random.default_rng(0).normal(size=(3, 6)))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_mlp_rejects_wrong_activation_count():
    with pytest.raises(ValueError, match="2 hidden layers"):
        snn.MLP([4, 8, 8, 2], activation=["relu"])


def test_summary_lists_layers_shapes_and_counts():
    text = snn.MLP([784, 256, 128, 10]).summary()
    assert "Dense(in_features=784, out_features=256)" in text
    assert "(None, 128)" in text
    assert "200,960" in text
    assert text.splitlines()[-1].startswith("Total parameters: 235,146")


def test_predict_in_chunks_equals_one_pass():
    model = snn.MLP([3, 7, 2], seed=0, dtype=np.float64)
    X = np.random.default_rng(1).normal(size=(50, 3))
    np.testing.assert_allclose(model.predict(X, batch_size=7), model.predict(X), rtol=1e-12)


def test_predict_returns_a_copy_it_owns():
    model = snn.Sequential([snn.Identity(), snn.Dense(2, 2)])
    X = np.ones((3, 2), dtype=np.float32)
    first = model.predict(X)
    model.predict(2 * X)
    np.testing.assert_array_equal(first, model.predict(X))


def test_clone_is_independent_and_can_change_dtype():
    model = snn.MLP([3, 4, 2], seed=0)
    copy = model.clone(dtype=np.float64)
    assert copy.dtype == np.float64
    np.testing.assert_allclose(copy.parameters().flat.value, model.parameters().flat.value)
    copy.parameters().flat.value[:] = 0
    assert model.parameters().flat.value.any()


def test_config_round_trip_through_json():
    import json

    model = snn.Sequential(
        [
            snn.Dense(3, 4, activation=snn.LeakyReLU(0.2)),
            snn.GELU(approximate="tanh"),
            snn.Dense(4, 2, bias=False, init="he_normal"),
            snn.ELU(alpha=0.5),
            snn.Softmax(),
        ],
        seed=3,
    )
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = snn.Sequential.from_config(config)
    assert repr(rebuilt) == repr(model)
    np.testing.assert_array_equal(rebuilt.parameters().flat.value, model.parameters().flat.value)


def test_manual_loop_matches_fit_for_full_batch_gd():
    X, y = snn.datasets.xor(np.float64)
    manual = snn.MLP([2, 4, 1], activation="sigmoid", output="sigmoid", seed=0, dtype=np.float64)
    fitted = manual.clone()
    loss, optimizer = snn.losses.MSE(), snn.optim.SGD(lr=0.5)
    for _ in range(50):
        out = manual.forward(X, training=True)
        loss(out, y)
        manual.backward(loss.backward())
        optimizer.step(manual.parameters())
    fitted.fit(
        X, y, loss="mse", optimizer=snn.optim.SGD(lr=0.5), epochs=50, batch_size=None, verbose=0
    )
    np.testing.assert_array_equal(manual.parameters().flat.value, fitted.parameters().flat.value)


def test_seed_sum_update_equals_mean_loss_with_scaled_lr():
    """The tutorial updates W += lr * Xᵀδ with δ = (y - a)·a(1-a): the gradient of the
    *summed* loss ½Σ(y-a)². MSE is the *mean* of (a-y)², whose gradient is 2/N times as
    large, so SGD(lr = N/2 · lr_tutorial) on MSE takes exactly the tutorial's steps."""
    X, y = snn.datasets.xor(np.float64)
    model = snn.MLP([2, 4, 1], activation="sigmoid", output="sigmoid", seed=0, dtype=np.float64)
    W1, b1 = (model.layers[0].params[k].copy() for k in ("W", "b"))
    W2, b2 = (model.layers[2].params[k].copy() for k in ("W", "b"))
    lr_tutorial = 0.3
    for _ in range(100):  # the tutorial's loop, verbatim in spirit
        hidden = 1 / (1 + np.exp(-(X @ W1 + b1)))
        output = 1 / (1 + np.exp(-(hidden @ W2 + b2)))
        d_output = (y - output) * output * (1 - output)  # sigmoid_derivative(a) = a(1 - a)
        d_hidden = d_output @ W2.T * hidden * (1 - hidden)
        W2 += lr_tutorial * hidden.T @ d_output
        b2 += lr_tutorial * d_output.sum(axis=0)
        W1 += lr_tutorial * X.T @ d_hidden
        b1 += lr_tutorial * d_hidden.sum(axis=0)
    model.fit(
        X,
        y,
        loss="mse",
        optimizer=snn.optim.SGD(lr=lr_tutorial * len(X) / 2),
        epochs=100,
        batch_size=None,
        verbose=0,
    )
    np.testing.assert_allclose(model.layers[0].params["W"], W1, rtol=1e-10)
    np.testing.assert_allclose(model.layers[2].params["W"], W2, rtol=1e-10)
    np.testing.assert_allclose(model.layers[2].params["b"], b2, rtol=1e-10)


def test_penalty_follows_regularization_set_after_building():
    """Setting l2 on a built model's layer counts in penalty() and in the loss fit reports, as
    it does in the gradient (the penalty was once cached at build time)."""
    X = np.random.default_rng(0).normal(size=(8, 3))
    y = np.array([0, 1] * 4)
    model = snn.MLP([3, 4, 2], seed=0, dtype=np.float64)
    assert model.penalty() == 0.0
    model.layers[0].l2 = 0.5
    W = model.layers[0].params["W"]
    assert model.penalty() == pytest.approx(0.5 * float(np.sum(W**2)))
    plain = model.evaluate(X, y, loss="cross_entropy")["loss"]
    model.layers[0].l2 = 0.0
    assert plain == pytest.approx(
        model.evaluate(X, y, loss="cross_entropy")["loss"] + 0.5 * float(np.sum(W**2))
    )


def test_predict_converts_a_float64_input_a_batch_at_a_time():
    """A float64 input to a float32 model is not copied whole before batching (a 1e6-row input
    used to make a 3 GB float32 copy first): peak memory is the batches, not the data."""
    import tracemalloc

    model = snn.MLP([100, 16, 2], seed=0)  # float32
    X = np.random.default_rng(0).normal(size=(100_000, 100))  # 80 MB of float64
    expected = np.concatenate([model.predict(X[i : i + 4096]) for i in range(0, len(X), 4096)])
    tracemalloc.start()
    try:
        out = model.predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32
    assert peak < 10e6, f"predict allocated {peak / 1e6:.0f} MB at its peak"


def test_predict_never_returns_the_callers_array():
    model = snn.Sequential([snn.Identity(), snn.Dense(3, 3), snn.Identity()], seed=0)
    X = np.ones((4, 3), dtype=np.float32)
    assert not np.shares_memory(model.predict(X), X)
    identity = snn.Sequential([snn.Standardize(3)], seed=0)
    assert not np.shares_memory(identity.predict(X), X)
