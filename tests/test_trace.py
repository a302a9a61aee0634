"""trace_step: every recorded array equals the hand-written step it claims to be."""

import json

import numpy as np
import pytest

import scratchnn as snn


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def xor64():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    return X, y


def tutorial_net(seed=0, **dense):
    return snn.Sequential(
        [snn.Dense(2, 4, **dense), snn.Sigmoid(), snn.Dense(4, 1, **dense), snn.Sigmoid()],
        seed=seed,
        dtype=np.float64,
    )


def test_tutorial_convention_matches_the_tutorial_line_by_line():
    X, y = xor64()
    model = tutorial_net()
    W1, b1 = model.layers[0].params["W"].copy(), model.layers[0].params["b"].copy()
    W2, b2 = model.layers[2].params["W"].copy(), model.layers[2].params["b"].copy()
    lr = 0.1  # the tutorial's; SGD on the mean over 4 samples needs lr * N / 2 = 0.2

    # The tutorial's step, verbatim.
    hidden_input = X @ W1 + b1
    hidden_output = sigmoid(hidden_input)
    final_input = hidden_output @ W2 + b2
    output = sigmoid(final_input)
    error = y - output
    d_output = error * output * (1 - output)
    error_hidden = d_output @ W2.T
    d_hidden = error_hidden * hidden_output * (1 - hidden_output)

    trace = snn.trace_step(
        model, X, y, snn.losses.MSE(), snn.optim.SGD(lr=0.2), convention="tutorial"
    )
    first, second = trace.stages
    pairs = [
        (first.z, hidden_input),
        (first.a, hidden_output),
        (second.z, final_input),
        (second.a, output),
        (second.grad_a, error),
        (second.delta, d_output),
        (first.grad_a, error_hidden),
        (first.delta, d_hidden),
        (second.dW, hidden_output.T @ d_output),
        (second.db, d_output.sum(axis=0)),
        (first.dW, X.T @ d_hidden),
        (first.db, d_hidden.sum(axis=0)),
        (second.update_W, hidden_output.T @ d_output * lr),
        (first.update_W, X.T @ d_hidden * lr),
        (first.update_b, d_hidden.sum(axis=0) * lr),
    ]
    for ours, theirs in pairs:
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert trace.tutorial_lr == pytest.approx(lr)
    assert trace.loss == pytest.approx(0.5 * np.sum(error**2), rel=1e-12)
    assert trace.mse == pytest.approx(np.mean(np.square(y - output)), rel=1e-12)
    # The numbers: the tutorial's δ and ours differ by the factor −2/N.
    plain = snn.trace_step(model, X, y, "mse", snn.optim.SGD(lr=0.2))
    np.testing.assert_allclose(plain.stages[1].delta, -2 / 4 * second.delta, rtol=1e-12)
    np.testing.assert_allclose(plain.stages[1].update_W, second.update_W, rtol=1e-12)


def test_summed_mse_gives_the_tutorial_lr_directly():
    X, y = xor64()
    trace = snn.trace_step(
        tutorial_net(),
        X,
        y,
        snn.losses.MSE(reduction="sum"),
        snn.optim.SGD(lr=0.05),
        convention="tutorial",
    )
    assert trace.tutorial_lr == pytest.approx(0.1)


def test_scratchnn_convention_equals_a_manual_forward_backward_and_step():
    X, y = xor64()
    model = tutorial_net(seed=3)
    reference = model.clone()
    loss = snn.losses.MSE()
    trace = snn.trace_step(model, X, y, loss, snn.optim.SGD(lr=0.5))
    value = loss(reference.forward(X, training=True), y)
    reference.backward(loss.backward())
    assert trace.loss == pytest.approx(value, rel=1e-15)
    for stage, dense in zip(trace.stages, [reference.layers[0], reference.layers[2]], strict=True):
        np.testing.assert_array_equal(stage.dW, dense.grads["W"])
        np.testing.assert_array_equal(stage.db, dense.grads["b"])
        np.testing.assert_allclose(stage.delta.sum(axis=0), dense.grads["b"], rtol=1e-13)
    before = reference.get_weights()
    snn.optim.SGD(lr=0.5).step(reference.parameters())
    updates = np.concatenate([np.ravel(u) for s in trace.stages for u in (s.update_W, s.update_b)])
    np.testing.assert_allclose(updates, reference.get_weights() - before, rtol=1e-13)


def test_the_model_and_optimizer_are_unchanged_unless_apply():
    X, y = xor64()
    model = tutorial_net()
    optimizer = snn.optim.Adam(lr=0.05)
    model.fit(X, y, loss="mse", optimizer=optimizer, epochs=3, batch_size=None, verbose=0)
    weights, state = model.get_weights(), optimizer.state_dict()
    trace = snn.trace_step(model, X, y)  # the loss and optimizer that fit used
    np.testing.assert_array_equal(model.get_weights(), weights)
    assert optimizer.step_count == state["step_count"] == 3
    for saved, now in zip(state["state"], optimizer.state_dict()["state"], strict=True):
        for name in saved:
            np.testing.assert_array_equal(saved[name], now[name])
    assert not trace.applied

    applied = snn.trace_step(model, X, y, apply=True)
    assert applied.applied and optimizer.step_count == 4
    np.testing.assert_allclose(model.get_weights() - weights, _flat_updates(trace), rtol=1e-6)
    # Both traces describe the same step, so the same update.
    np.testing.assert_array_equal(_flat_updates(applied), _flat_updates(trace))


def _flat_updates(trace):
    return np.concatenate([np.ravel(u) for t in trace.layers for u in t.updates.values()])


def test_fused_activation_traces_like_a_separate_layer():
    X, y = xor64()
    separate = snn.Sequential(
        [snn.Dense(2, 4), snn.Tanh(), snn.Dense(4, 1), snn.Sigmoid()], seed=0, dtype=np.float64
    )
    fused = snn.Sequential(
        [snn.Dense(2, 4, activation="tanh"), snn.Dense(4, 1, activation="sigmoid")],
        seed=0,
        dtype=np.float64,
    )
    fused.set_weights(separate.get_weights())
    a = snn.trace_step(separate, X, y, "mse", "sgd")
    b = snn.trace_step(fused, X, y, "mse", "sgd")
    assert [s.activation for s in b.stages] == ["Tanh", "Sigmoid"]
    for s, t in zip(a.stages, b.stages, strict=True):
        for name in ("z", "a", "grad_a", "delta", "dW", "db", "update_W"):
            np.testing.assert_allclose(getattr(s, name), getattr(t, name), rtol=1e-14)


def test_layers_other_than_dense_are_traced_and_printed():
    X = np.random.default_rng(0).normal(size=(6, 3))
    y = np.array([0, 1, 2, 0, 1, 2])
    model = snn.Sequential(
        [snn.Dense(3, 5), snn.BatchNorm1d(5), snn.ReLU(), snn.Dense(5, 3)], seed=0
    )
    trace = snn.trace_step(model, X, y, "cross_entropy", snn.optim.SGD(lr=0.1))
    assert [t.name for t in trace.layers] == ["dense_0", "batchnorm1d_1", "relu_2", "dense_3"]
    assert trace.layers[1].updates.keys() == {"gamma", "beta"}
    assert trace.mse is None and trace.tutorial_lr is None
    assert [s.activation for s in trace.stages] == [None, None]
    text = str(trace)
    assert "BatchNorm1d" in text and "Δbatchnorm1d_1.gamma" in text


def test_printout_names_shapes_and_json_round_trip():
    X, y = xor64()
    trace = snn.trace_step(tutorial_net(), X, y, "mse", snn.optim.SGD(lr=0.2), "tutorial")
    text = trace.format()
    for expected in (
        "z1 = x·W1 + b1   (4, 4)",
        "d_output (δ2)",
        "error_hidden (∂/∂a1)",
        "dW1 = xᵀ·δ1   (2, 4)",
        "the tutorial's η = 0.1",
        "Δb2 = η·db2   (1,)",
    ):
        assert expected in text, expected
    data = json.loads(json.dumps(trace.to_dict()))
    assert data["convention"] == "tutorial"
    assert np.array(data["stages"][0]["W"]).shape == (2, 4)
    assert len(data["layers"]) == 4


def test_no_optimizer_no_update():
    X, y = xor64()
    trace = snn.trace_step(tutorial_net(), X, y, "mse")
    assert trace.stages[0].update_W is None and trace.optimizer_name is None
    assert "Update" not in str(trace)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"convention": "pytorch"}, "convention must be one of 'scratchnn', 'tutorial'"),
        ({"loss": "bce", "convention": "tutorial"}, "needs an MSE loss"),
        ({"loss": None}, "needs a loss"),
        ({"convention": "tutorial", "sample_weight": np.ones(4)}, "no sample weights"),
    ],
)
def test_refusals_leave_the_model_alone(kwargs, message):
    X, y = xor64()
    model = tutorial_net()
    weights = model.get_weights()
    kwargs = {"loss": "mse", **kwargs}
    with pytest.raises(ValueError, match=message):
        snn.trace_step(model, X, y, optimizer=snn.optim.SGD(lr=0.1), apply=True, **kwargs)
    np.testing.assert_array_equal(model.get_weights(), weights)


def test_short_optimizer_names_only_what_differs_from_the_defaults():
    X, y = xor64()
    trace = snn.trace_step(tutorial_net(), X, y, "mse", snn.optim.SGD(lr=0.1, momentum=0.9))
    assert trace.short_optimizer == "SGD(lr=0.1, momentum=0.9)"
    assert trace.optimizer_name == "SGD(lr=0.1, momentum=0.9)"  # repr shows what differs
    assert "optimizer SGD(lr=0.1, momentum=0.9)" in str(trace)


def test_the_trace_shows_attention_weights_and_gates_inside_blocks():
    """A sequence model's trace holds what its layers computed inside: attention weights per
    head (inside a Residual block too, named by position) and an LSTM's gates."""
    model = snn.Sequential(
        [
            snn.Embedding(7, 8),
            snn.Residual([snn.LayerNorm(8), snn.MultiHeadAttention(8, 2, causal=True)]),
            snn.LSTM(8, 4),
            snn.Dense(4, 3),
        ],
        seed=0,
        input_shape=(5,),
    )
    X = np.random.default_rng(0).integers(0, 7, size=(3, 5))
    trace = snn.trace_step(model, X, np.array([0, 1, 2]), loss="cross_entropy", optimizer="adam")
    weights = trace.layers[1].internals["1.attention_weights"]
    assert weights.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-6)
    assert np.all(np.triu(weights[0, 0], 1) == 0)  # causal: no attention to the future
    assert trace.layers[2].internals  # the LSTM's gates and states
    assert "1.W_qkv" in trace.layers[1].params and "1.W_qkv" in trace.layers[1].updates
