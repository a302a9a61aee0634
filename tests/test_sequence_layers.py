"""Sequence layers (Embedding, positional encodings, RNN, LSTM, GRU, MultiHeadAttention, and
Dense/LayerNorm on 3-D input) against PyTorch in float64: values, gradients and several AdamW
steps; central differences; the textbook versions in scratchnn.reference; declared shapes;
configurations.

Layouts: scratchnn's ``W`` is ``(in, out)`` (``x @ W``), torch's weights are ``(out, in)``;
so each torch weight is scratchnn's transposed. The recurrent layers' ``b`` is torch's
``bias_ih_l0`` (torch's ``bias_hh_l0`` is held at 0: the two only ever appear summed, except
in the GRU, whose ``b_h`` is torch's ``bias_hh_l0``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnn as snn
from _sequence_twins import twin
from oracles import central_differences, to_numpy, to_torch
from scratchnn import layers as layers_module
from scratchnn import optim, reference
from scratchnn.parameters import Parameter

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)
pytestmark = pytest.mark.usefixtures("single_threaded_torch")

RTOL, ATOL = 1e-6, 1e-12  # the brief's float64 bound; they agree to ~1e-15 in practice
B, T, F, H, E = 3, 5, 4, 6, 8


def built(layer, seed: int = 0):
    layer.build(np.random.default_rng(seed), np.float64)
    rng = np.random.default_rng(seed + 1)
    for name, values in layer.params.items():  # non-zero biases, so that they are tested too
        if name.startswith("b"):
            layer.params[name] = rng.normal(scale=0.3, size=values.shape)
    return layer


def torch_forward(layer, module, x, **kwargs):
    """Run the torch twin the way the layer runs (padded sequences packed, masks in torch's
    conventions)."""
    if isinstance(layer, (snn.RNN, snn.LSTM, snn.GRU)):
        lengths, state = kwargs.get("lengths"), kwargs.get("initial_state")
        if state is not None:
            state = tuple(s[None] for s in state) if isinstance(state, tuple) else state[None]
        inputs = x
        if lengths is not None:
            inputs = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
            )
        out, final = module(inputs, state)
        if lengths is not None:
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(
                out, batch_first=True, total_length=x.shape[1]
            )
        if not layer.return_sequences:
            return (final[0] if isinstance(final, tuple) else final)[0]
        return out
    if isinstance(layer, snn.MultiHeadAttention):
        steps = x.shape[1]
        mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1) if layer.causal else None
        pad = kwargs.get("key_padding_mask")
        out, _ = module(
            x, x, x, attn_mask=mask, key_padding_mask=None if pad is None else torch.from_numpy(pad)
        )
        return out
    return module(x)


def check_against_torch(layer, x, **kwargs):
    module, pairs = twin(layer)
    y = layer.forward(x, training=True, **kwargs) if kwargs else layer.forward(x, training=True)
    upstream = np.random.default_rng(7).normal(size=y.shape)
    dx = layer.backward(upstream)
    integer = x.dtype.kind in "iu"
    xt = to_torch(x, requires_grad=not integer)
    state = kwargs.get("initial_state")
    if state is not None:
        state_t = (
            tuple(to_torch(s, True) for s in state)
            if isinstance(state, tuple)
            else to_torch(state, True)
        )
        kwargs = {**kwargs, "initial_state": state_t}
    out = torch_forward(layer, module, xt, **kwargs)
    np.testing.assert_allclose(y, to_numpy(out), rtol=RTOL, atol=ATOL, err_msg="forward")
    (out * to_torch(upstream)).sum().backward()
    for name, tensor, transposed in pairs:
        grad = to_numpy(tensor.grad)
        np.testing.assert_allclose(
            layer.grads[name], grad.T if transposed else grad, rtol=RTOL, atol=ATOL, err_msg=name
        )
    if not integer:
        np.testing.assert_allclose(dx, to_numpy(xt.grad), rtol=RTOL, atol=ATOL, err_msg="dx")
    if state is not None:
        given = state_t if isinstance(state_t, tuple) else (state_t,)
        for ours, theirs in zip(layer.initial_state_grad, given, strict=True):
            np.testing.assert_allclose(ours, to_numpy(theirs.grad), rtol=RTOL, atol=ATOL)
    return y, dx


def sequences(seed: int = 0, shape=(B, T, F)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


# --------------------------------------------------------------------------------------------
# Embeddings
# --------------------------------------------------------------------------------------------


def test_embedding_matches_torch_with_repeated_ids():
    layer = built(snn.Embedding(7, 5))
    ids = np.array([[1, 2, 1, 6], [0, 1, 1, 3]])  # 1 appears four times; 4 and 5 never
    _, dx = check_against_torch(layer, ids)
    np.testing.assert_array_equal(dx, np.zeros(ids.shape))  # a step function of the ids
    assert layer.backward(np.ones((2, 4, 5)), input_grad=False) is None
    assert np.all(layer.grads["W"][[4, 5]] == 0)


def test_embedding_accepts_whole_floats_and_refuses_bad_ids():
    layer = built(snn.Embedding(7, 5))
    np.testing.assert_array_equal(
        layer.forward(np.array([[1.0, 6.0]])), layer.forward(np.array([[1, 6]]))
    )
    with pytest.raises(ValueError, match=r"ids in \[0, 7\); received ids from 0 to 7"):
        layer.forward(np.array([[0, 7]]))
    with pytest.raises(ValueError, match="not whole numbers"):
        layer.forward(np.array([[0.5]]))
    assert snn.Embedding.input_kind == "int"


def test_positional_embedding_gradient_sums_over_the_batch():
    layer = built(snn.PositionalEmbedding(6, 3))
    x = sequences(shape=(2, 4, 3))
    g = np.random.default_rng(1).normal(size=x.shape)
    np.testing.assert_array_equal(layer.forward(x), x + layer.params["P"][:4])
    np.testing.assert_array_equal(layer.backward(g), g)
    np.testing.assert_allclose(layer.grads["P"][:4], g.sum(axis=0))
    assert np.all(layer.grads["P"][4:] == 0)
    with pytest.raises(ValueError, match="at most 6 steps; received 7"):
        layer.forward(sequences(shape=(1, 7, 3)))


def test_sinusoidal_encoding_is_the_formula():
    layer = snn.SinusoidalEncoding(6)
    x = np.zeros((1, 5, 6))
    table = layer.forward(x)[0]
    t, i = np.arange(5)[:, None], np.arange(3)[None, :]
    np.testing.assert_allclose(table[:, 0::2], np.sin(t / 10000 ** (2 * i / 6)), atol=1e-15)
    np.testing.assert_allclose(table[:, 1::2], np.cos(t / 10000 ** (2 * i / 6)), atol=1e-15)
    g = np.ones_like(x)
    assert layer.backward(g) is g


# --------------------------------------------------------------------------------------------
# Recurrent layers
# --------------------------------------------------------------------------------------------

RECURRENT = [
    pytest.param(lambda **kw: snn.RNN(F, H, **kw), id="rnn_tanh"),
    pytest.param(lambda **kw: snn.RNN(F, H, nonlinearity="relu", **kw), id="rnn_relu"),
    pytest.param(lambda **kw: snn.LSTM(F, H, **kw), id="lstm"),
    pytest.param(lambda **kw: snn.GRU(F, H, **kw), id="gru"),
]


@pytest.mark.parametrize("make", RECURRENT)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_recurrent_matches_torch(make, return_sequences):
    check_against_torch(built(make(return_sequences=return_sequences)), sequences())


@pytest.mark.parametrize("make", RECURRENT)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_recurrent_padded_batch_matches_packed_sequences(make, return_sequences):
    layer = built(make(return_sequences=return_sequences))
    lengths = np.array([5, 2, 3])
    y, dx = check_against_torch(layer, sequences(), lengths=lengths)
    if return_sequences:
        assert np.all(y[1, 2:] == 0) and np.all(y[2, 3:] == 0)
    assert np.all(dx[1, 2:] == 0)  # padding never reaches the output
    # The final state is the state after each sequence's last real step.
    alone = built(make(return_sequences=False))
    np.testing.assert_allclose(layer.state[0][1], alone.forward(sequences()[1:2, :2])[0])


@pytest.mark.parametrize("make", RECURRENT)
def test_recurrent_initial_state_and_its_gradient(make):
    layer = built(make())
    rng = np.random.default_rng(3)
    states = tuple(rng.normal(size=(B, H)) for _ in range(layer.states))
    check_against_torch(
        layer, sequences(), initial_state=states if layer.states == 2 else states[0]
    )
    with pytest.raises(ValueError, match="initial_state must be"):
        layer.forward(sequences(), initial_state=np.zeros((B, H + 1)))


def test_recurrent_refuses_bad_lengths_and_inputs():
    layer = built(snn.LSTM(F, H))
    with pytest.raises(ValueError, match=r"lengths must be 3 integers in \[1, 5\]"):
        layer.forward(sequences(), lengths=np.array([5, 0, 3]))
    with pytest.raises(ValueError, match=r"takes \(batch, time, 4\) inputs; received .* \(3, 4\)"):
        layer.forward(np.zeros((3, 4)))


# --------------------------------------------------------------------------------------------
# Attention, and Dense/LayerNorm on the last axis of 3-D input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_attention_matches_torch(causal, padded):
    layer = built(snn.MultiHeadAttention(E, 2, causal=causal))
    pad = np.zeros((B, T), bool)
    pad[0, 3:] = pad[2, 4:] = True
    kwargs = {"key_padding_mask": pad} if padded else {}
    check_against_torch(layer, sequences(shape=(B, T, E)), **kwargs)
    weights = layer.attention_weights
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    if causal:
        assert np.all(np.triu(weights, 1) == 0)
    if padded:
        assert np.all(weights[0, :, :, 3:] == 0)


def test_attention_weights_match_scaled_dot_product_attention():
    layer = built(snn.MultiHeadAttention(E, 4, causal=True))
    x = sequences(shape=(2, T, E))
    layer.forward(x)
    q, k, v = (to_torch(a) for a in (layer._q, layer._k, layer._v))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(layer._weights_used @ layer._v, to_numpy(expected), rtol=1e-12)


def test_attention_dropout_drops_weights_in_training_only():
    layer = built(snn.MultiHeadAttention(E, 2, dropout=0.5))
    layer.rng = np.random.default_rng(0)
    x = sequences(shape=(2, T, E))
    eval_out = layer.forward(x)
    train_out = layer.forward(x, training=True)
    used = layer._weights_used
    assert 0.3 < np.mean(used == 0) < 0.7
    np.testing.assert_allclose(used[used != 0], 2 * layer.attention_weights[used != 0])
    assert not np.allclose(eval_out, train_out)
    np.testing.assert_array_equal(layer.forward(x), eval_out)


def test_attention_refuses_bad_configuration():
    with pytest.raises(ValueError, match=r"multiple of num_heads\. Received: embed_dim=6"):
        snn.MultiHeadAttention(6, 4)
    layer = built(snn.MultiHeadAttention(E, 2))
    with pytest.raises(ValueError, match=r"key_padding_mask must be booleans of shape \(3, 5\)"):
        layer.forward(sequences(shape=(B, T, E)), key_padding_mask=np.zeros((B, T)))


@pytest.mark.parametrize(
    "make", [lambda: snn.LayerNorm(E), lambda: snn.Dense(E, 3)], ids=["layernorm", "dense"]
)
def test_last_axis_layers_on_3d_input_match_torch(make):
    check_against_torch(built(make()), sequences(shape=(B, T, E)))


# --------------------------------------------------------------------------------------------
# Several optimizer steps
# --------------------------------------------------------------------------------------------

TRAINED = [
    pytest.param(lambda: snn.LSTM(F, H), (B, T, F), id="lstm"),
    pytest.param(lambda: snn.GRU(F, H), (B, T, F), id="gru"),
    pytest.param(lambda: snn.RNN(F, H), (B, T, F), id="rnn"),
    pytest.param(lambda: snn.MultiHeadAttention(E, 2, causal=True), (B, T, E), id="attention"),
]


@pytest.mark.parametrize(("make", "shape"), TRAINED)
def test_adamw_steps_match_torch(make, shape):
    layer = built(make())
    module, pairs = twin(layer)
    x = sequences(shape=shape)
    target = np.random.default_rng(5).normal(size=layer.forward(x).shape)
    ours = optim.AdamW(lr=0.01)
    theirs = torch.optim.AdamW([p for _, p, _ in pairs], lr=0.01)
    parameters = [Parameter(n, layer.params[n], layer.grads[n]) for n in layer.params]
    for step in range(5):
        y = layer.forward(x, training=True)
        layer.backward((y - target) / y.size)  # ∂/∂y of ½·mean squared error
        ours.step(parameters)
        theirs.zero_grad()
        out = torch_forward(layer, module, to_torch(x))
        (0.5 * ((out - to_torch(target)) ** 2).mean()).backward()
        theirs.step()
        for name, tensor, transposed in pairs:
            value = to_numpy(tensor)
            np.testing.assert_allclose(
                layer.params[name],
                value.T if transposed else value,
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"step {step}: {name}",
            )


# --------------------------------------------------------------------------------------------
# Central differences, layer by layer
# --------------------------------------------------------------------------------------------

CHECKED = [
    pytest.param(lambda: snn.LSTM(3, 4), {}, id="lstm"),
    pytest.param(lambda: snn.LSTM(3, 4, return_sequences=False), {}, id="lstm_last"),
    pytest.param(lambda: snn.LSTM(3, 4), {"lengths": np.array([4, 2])}, id="lstm_padded"),
    pytest.param(lambda: snn.GRU(3, 4), {"lengths": np.array([1, 4])}, id="gru_padded"),
    pytest.param(lambda: snn.RNN(3, 4), {}, id="rnn"),
    pytest.param(lambda: snn.MultiHeadAttention(4, 2, causal=True), {}, id="attention_causal"),
    pytest.param(
        lambda: snn.MultiHeadAttention(4, 2, dropout=0.3),
        {"key_padding_mask": np.array([[0, 0, 1, 1], [0, 0, 0, 0]], bool)},
        id="attention_dropout_padded",
    ),
    pytest.param(lambda: snn.PositionalEmbedding(6, 4), {}, id="positional"),
    pytest.param(lambda: snn.SinusoidalEncoding(4), {}, id="sinusoidal"),
]


@pytest.mark.parametrize(("make", "kwargs"), CHECKED)
def test_backward_matches_central_differences(make, kwargs):
    layer = make()
    layer.build(np.random.default_rng(0), np.float64)
    layer.rng = np.random.default_rng(1)
    features = layer.input_shape[-1]
    x = np.random.default_rng(2).normal(size=(2, 4, features))
    state = layer.rng.bit_generator.state

    def run():
        layer.rng.bit_generator.state = state  # the same dropout mask every time
        return layer.forward(x, training=True, **kwargs)

    upstream = np.random.default_rng(3).normal(size=run().shape)
    dx = layer.backward(upstream)
    grads = {name: grad.copy() for name, grad in layer.grads.items()}

    def f():
        return float(np.sum(run() * upstream))

    for name, values in layer.params.items():
        np.testing.assert_allclose(grads[name], central_differences(f, values, 1e-6), atol=1e-7)
    np.testing.assert_allclose(dx, central_differences(f, x, 1e-6), atol=1e-7)
    # backward overwrites: a second call gives the same gradients
    run()
    layer.backward(upstream)
    for name, grad in grads.items():
        np.testing.assert_array_equal(layer.grads[name], grad)


# --------------------------------------------------------------------------------------------
# The textbook versions
# --------------------------------------------------------------------------------------------


def test_lstm_matches_the_step_by_step_reference():
    layer = built(snn.LSTM(F, H))
    x = sequences()
    h0, c0 = np.random.default_rng(4).normal(size=(2, B, H))
    y = layer.forward(x, initial_state=(h0, c0))
    dy = np.random.default_rng(5).normal(size=y.shape)
    dx = layer.backward(dy)
    W, U, b = (layer.params[n] for n in ("W", "U", "b"))
    total = {"dW": 0, "dU": 0, "db": 0}
    for s in range(B):
        forward = reference.lstm_forward(x[s], W, U, b, h0[s], c0[s])
        np.testing.assert_allclose(y[s], forward["h"], rtol=1e-12, atol=1e-14)
        grads = reference.lstm_backward(x[s], W, U, forward, dy[s])
        np.testing.assert_allclose(dx[s], grads["dx"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(layer.initial_state_grad[0][s], grads["dh0"], atol=1e-14)
        np.testing.assert_allclose(layer.initial_state_grad[1][s], grads["dc0"], atol=1e-14)
        for key in total:
            total[key] = total[key] + grads[key]
    for key, name in (("dW", "W"), ("dU", "U"), ("db", "b")):
        np.testing.assert_allclose(layer.grads[name], total[key], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_the_one_head_reference(causal):
    layer = built(snn.MultiHeadAttention(E, 2, causal=causal))
    x = sequences(shape=(2, T, E))
    y = layer.forward(x)
    dy = np.random.default_rng(5).normal(size=y.shape)
    layer.backward(dy)
    dx = layer.backward(dy)
    d_heads = (dy.reshape(-1, E) @ layer.params["W_o"].T).reshape(2, T, 2, E // 2)
    dqkv = np.zeros((2, T, 3, 2, E // 2))  # the fused projection's columns: q, k, v by head
    for s in range(2):
        for h in range(2):
            q, k, v = layer._q[s, h], layer._k[s, h], layer._v[s, h]
            out, weights = reference.attention(q, k, v, causal=causal)
            np.testing.assert_allclose(layer.attention_weights[s, h], weights, atol=1e-14)
            np.testing.assert_allclose(layer._weights_used[s, h] @ v, out, atol=1e-14)
            grads = reference.attention_backward(q, k, v, weights, d_heads[s, :, h])
            for j, grad in enumerate(grads):
                dqkv[s, :, j, h] = grad
    expected_dx = dqkv.reshape(2, T, 3 * E) @ layer.params["W_qkv"].T
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------------------------
# Declared shapes and configurations
# --------------------------------------------------------------------------------------------

DECLARED = [  # (layer, a batch, the spec it declares, its output for a sample of any length)
    (lambda: snn.Embedding(11, 4), np.array([[1, 2, 3]]), (None,), (None, 4)),
    (lambda: snn.PositionalEmbedding(8, 4), sequences(shape=(2, 3, 4)), (None, 4), (None, 4)),
    (lambda: snn.SinusoidalEncoding(4), sequences(shape=(2, 3, 4)), (None, 4), (None, 4)),
    (lambda: snn.RNN(4, 5), sequences(shape=(2, 3, 4)), (None, 4), (None, 5)),
    (
        lambda: snn.LSTM(4, 5, return_sequences=False),
        sequences(shape=(2, 3, 4)),
        (None, 4),
        (5,),
    ),
    (
        lambda: snn.GRU(4, 5, init="glorot_uniform"),
        sequences(shape=(2, 3, 4)),
        (None, 4),
        (None, 5),
    ),
    (
        lambda: snn.MultiHeadAttention(4, 2, bias=False),
        sequences(shape=(2, 3, 4)),
        (None, 4),
        (None, 4),
    ),
]


@pytest.mark.parametrize(("make", "x", "spec", "any_length"), DECLARED)
def test_declared_shapes_match_the_built_arrays(make, x, spec, any_length):
    layer = make()
    assert layer.input_shape == spec
    layer.build(np.random.default_rng(0), np.float64)
    sample = x.shape[1:]
    declared = layer.parameter_shapes(sample)
    assert declared == {name: values.shape for name, values in layer.params.items()}
    assert layer.buffer_shapes(sample) == {}
    assert layer.output_shape(sample) == layer.forward(x).shape[1:]
    assert layer.output_shape((None, *sample[1:])) == any_length


@pytest.mark.parametrize(("make", "x", "spec", "any_length"), DECLARED)
def test_config_round_trips_through_json(make, x, spec, any_length):
    layer = make()
    config = json.loads(json.dumps(layer.get_config()))
    again = layers_module.layers.lookup(type(layer).__name__).from_config(config)
    assert again.get_config() == layer.get_config()
    a, b = make(), again
    for one in (a, b):
        one.build(np.random.default_rng(0), np.float64)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))


def test_internals_show_the_gates_and_the_attention_weights():
    lstm = built(snn.LSTM(F, H))
    y = lstm.forward(sequences())
    inside = lstm.internals()
    assert set(inside) == {"h", "i", "f", "g", "o", "c"}
    np.testing.assert_array_equal(inside["h"], y)
    np.testing.assert_allclose(inside["o"] * np.tanh(inside["c"]), y, atol=1e-15)
    assert all(a.shape == (B, T, H) for a in inside.values())
    gru = built(snn.GRU(F, H))
    gru.forward(sequences())
    assert set(gru.internals()) == {"h", "r", "z", "n"}
    attention = built(snn.MultiHeadAttention(E, 2, causal=True))
    attention.forward(sequences(shape=(B, T, E)))
    weights = attention.internals()["attention_weights"]
    assert weights.shape == (B, 2, T, T) and np.all(np.triu(weights, 1) == 0)
