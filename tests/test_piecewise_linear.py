"""PiecewiseLinearEncoding: adapt's quantile edges, the hand-derived backward against central
differences, the loop-by-loop reference and PyTorch (values, input gradients and Adam steps of
the layers behind it), finite at extreme inputs and for bins of no width, shared by a packed
ensemble's members, traced and summarized, saved and loaded (a file declaring a huge one refused
before allocating), exported to ONNX, and on any data (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnn as snn
from _model_files import MEMORY_BOUND, load_cost, with_metadata, write
from oracles import TorchTwin
from scratchnn import reference
from scratchnn.layers import PiecewiseLinearEncoding
from scratchnn.layers.packed import PackedDense, pack, unpacked


def data(rows: int = 40, seed: int = 0) -> np.ndarray:
    """Five features: three continuous, one of four whole values, one constant."""
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [rng.normal(size=(rows, 3)) * [1, 3, 0.2], rng.integers(1, 5, rows), np.full(rows, 2.0)]
    )


def encoding_model(
    numeric: int | None = 4, dtype=np.float64, keep_inputs: bool = False, bins: int = 4
) -> snn.Sequential:
    """PiecewiseLinearEncoding(5 features) adapted to :func:`data` -> tanh Dense -> Dense(2)."""
    encode = PiecewiseLinearEncoding(5, numeric, bins=bins, keep_inputs=keep_inputs)
    encode.adapt(data())
    return snn.Sequential(
        [encode, snn.Dense(encode.out_features, 6, activation="tanh"), snn.Dense(6, 2)],
        seed=0,
        dtype=dtype,
    )


def test_adapt_sets_the_quantiles_and_the_layout_follows_them():
    X = data()
    layer = PiecewiseLinearEncoding(5, numeric=4, bins=4)
    layer.adapt(X)
    edges = layer.buffers["edges"]
    assert edges.shape == (4, 5) and layer.buffer_shapes((5,)) == {"edges": (4, 5)}
    np.testing.assert_allclose(edges, np.quantile(X[:, :4], [0, 0.25, 0.5, 0.75, 1], axis=0).T)
    assert layer.parameter_shapes((5,)) == {} and layer.out_features == 4 * 4 + 1
    y = layer.forward(X)
    assert y.shape == (40, 17) and y.min() >= 0 and y[:, :16].max() <= 1
    np.testing.assert_array_equal(y[:, 16:], X[:, 4:])  # the rest passes through
    # feature 1's pieces, columns 4..7: the share of each bin that x has passed
    b = edges[1]
    expected = np.clip((X[:, 1:2] - b[:-1]) / np.diff(b), 0, 1)
    np.testing.assert_allclose(y[:, 4:8], expected, rtol=1e-14, atol=1e-15)
    # every piece is 0 below its bin, 1 above it: a thermometer of the value
    assert np.all(np.diff(y[:, 4:8], axis=1) <= 1e-15)


def test_bins_of_no_width_give_zero_and_nothing_is_ever_nan():
    layer = PiecewiseLinearEncoding(2, bins=4)
    layer.adapt(np.array([[1.0, 7.0], [1.0, 7.0], [1.0, 7.0], [2.0, 7.0]]))
    # feature 0: quantiles 1, 1, 1, 1.25, 2 (two bins of no width); feature 1 constant
    x = np.array([[1.0, 7.0], [1.5, -1e308], [3.0, 1e308], [-np.inf, np.inf]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = layer.forward(x)
    np.testing.assert_array_equal(y[:, :2], 0.0)  # the bins of no width
    np.testing.assert_allclose(y[:, 2], [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(y[:, 3], [0.0, 0.25 / 0.75, 1.0, 0.0])
    np.testing.assert_array_equal(y[:, 4:], 0.0)  # a constant column: every bin empty
    g = layer.backward(np.ones_like(y))
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g[:, 0], [0.0, 1 / 0.75, 0.0, 0.0])  # slope only inside a bin


@pytest.mark.parametrize(
    ("edges", "used"),
    [
        ([-3e38, 3e38, 1.0, 2.0], [False, False, True]),  # too wide for float32, backwards
        ([0.0, 1e-40, 1.0, 2.0], [False, True, True]),  # so narrow that 1 / w overflows
    ],
)
def test_bins_the_dtype_cannot_use_give_zero_forward_and_backward(edges, used):
    layer = PiecewiseLinearEncoding(1, bins=3)
    layer.build(dtype=np.float32)
    layer.buffers["edges"] = np.array([edges], dtype=np.float32)
    assert (layer.bin_arrays().slope[0] > 0).tolist() == used
    x = np.array([[-1e38], [5e-41], [0.5], [1.5], [1e38]], dtype=np.float32)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = layer.forward(x)
        g = layer.backward(np.ones_like(y))
    unused = ~np.array(used)
    np.testing.assert_array_equal(y[:, :3][:, unused], 0.0)
    np.testing.assert_allclose(y[:, 2], [0.0, 0.0, 0.0, 0.5, 1.0])  # the bin [1, 2]
    assert np.isfinite(g).all() and g[3, 0] == 1.0  # 1.5: inside [1, 2] only
    slow = reference.PiecewiseLinearEncoding(layer.buffers["edges"], 1, dtype=np.float32)
    np.testing.assert_allclose(y, slow.forward(x.astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(g, slow.backward(np.ones_like(y, dtype=np.float64)), rtol=1e-6)


def test_adapt_refuses_data_whose_quantiles_the_dtype_cannot_hold_and_keeps_its_edges():
    layer = PiecewiseLinearEncoding(1, bins=2)
    layer.build(dtype=np.float32)
    before = layer.buffers["edges"].copy()
    with pytest.raises(ValueError, match=r"beyond float32 .* scale the data first"):
        layer.adapt(np.array([[1e39], [-1e39], [0.0]]))
    np.testing.assert_array_equal(layer.buffers["edges"], before)
    wide = PiecewiseLinearEncoding(1, bins=3)
    with pytest.raises(ValueError, match="beyond float64"):
        wide.adapt(np.array([[1.7e308], [-1.7e308], [1.7e308], [-1.7e308]]))


@pytest.mark.parametrize("keep_inputs", [False, True], ids=["rest", "keep-inputs"])
@pytest.mark.parametrize("numeric", [None, 4, 1])
def test_gradcheck(numeric, keep_inputs):
    model = encoding_model(numeric, keep_inputs=keep_inputs)
    X = data(rows=7, seed=1)
    X[:, 3] += 0.37  # whole values sit on the edges, where the slope jumps
    X[:, 4] += 0.1
    y = np.random.default_rng(2).normal(size=(7, 2))
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed, str(result)
    assert "input" in result.errors


@pytest.mark.parametrize("keep_inputs", [False, True], ids=["rest", "keep-inputs"])
def test_matches_the_loop_by_loop_reference_and_backward_does_not_accumulate(keep_inputs):
    layer = PiecewiseLinearEncoding(5, numeric=4, bins=3, keep_inputs=keep_inputs)
    layer.adapt(data())
    slow = reference.PiecewiseLinearEncoding(layer.buffers["edges"], 5, keep_inputs)
    x = data(rows=9, seed=3) * 1.5  # some beyond the training range
    np.testing.assert_allclose(layer.forward(x), slow.forward(x), rtol=1e-13, atol=1e-15)
    g = np.random.default_rng(4).normal(size=(9, layer.out_features))
    grad_x = layer.backward(g)
    np.testing.assert_allclose(grad_x, slow.backward(g), rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(layer.backward(g), grad_x)  # overwrites, never accumulates
    assert layer.backward(g, input_grad=False) is None  # a first layer skips ∂L/∂x


def torch_twin(model: snn.Sequential):
    """The same network in PyTorch, written from the formula, with the model's weights (the
    Dense layers' through :class:`oracles.TorchTwin`)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    encode = model.layers[0]
    edges = torch.tensor(encode.buffers["edges"].copy())

    class Piecewise(nn.Module):
        def forward(self, x):
            m = edges.shape[0]
            low, high = edges[:, :-1], edges[:, 1:]
            width = high - low
            share = (x[:, :m, None] - low) / torch.where(width > 0, width, torch.ones_like(width))
            pieces = torch.where(width > 0, share.clamp(0, 1), torch.zeros_like(share))
            return torch.cat([pieces.reshape(len(x), -1), x[:, encode.passed :]], dim=1)

    module = nn.Sequential(
        Piecewise(), nn.Linear(encode.out_features, 6), nn.Tanh(), nn.Linear(6, 2)
    ).double()
    return torch, TorchTwin(model, module)


@pytest.mark.parametrize("keep_inputs", [False, True], ids=["rest", "keep-inputs"])
def test_values_gradients_and_adam_steps_match_torch(keep_inputs):
    model = encoding_model(4, keep_inputs=keep_inputs)
    torch, twin = torch_twin(model)
    X = data(rows=9, seed=5)
    X[:, 3] += 0.37  # off the edges, where both sides agree on the slope
    y = np.random.default_rng(6).normal(size=(9, 2))
    X_t = torch.tensor(X, requires_grad=True)
    y_t = torch.tensor(y)
    loss = snn.losses.MSE()
    value = loss(model.forward(X, training=True), y)
    grad_x = model.backward(loss.backward())
    value_t = torch.nn.functional.mse_loss(twin.module(X_t), y_t)
    value_t.backward()
    np.testing.assert_allclose(value, value_t.item(), rtol=1e-12)
    np.testing.assert_allclose(grad_x, X_t.grad.numpy(), rtol=1e-10, atol=1e-14)
    twin.assert_matches(model, "before the steps", grads=True, rtol=1e-10, atol=1e-14)

    optimizer = snn.optim.Adam(lr=0.05)
    optimizer_t = torch.optim.Adam(twin.module.parameters(), lr=0.05)
    for step in range(1, 9):
        value = loss(model.forward(X, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.parameters())
        optimizer_t.zero_grad()
        value_t = torch.nn.functional.mse_loss(twin.module(torch.tensor(X)), y_t)
        value_t.backward()
        optimizer_t.step()
        np.testing.assert_allclose(value, value_t.item(), rtol=1e-9, err_msg=f"step {step}")
        twin.assert_matches(model, f"step {step}", rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("big", [1000.0, 1e30])
def test_finite_without_warnings_at_extreme_inputs(dtype, big):
    model = encoding_model(4, dtype=dtype)
    X = np.array([[big, -big, big, -big, big], [-big, big, 0.0, big, -big]], dtype=dtype)
    loss = snn.losses.MSE()
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        out = model.forward(X, training=True)
        loss(out, np.zeros((2, 2), dtype=dtype))
        grad = model.backward(loss.backward())
        pieces = model.layers[0].forward(X)[:, :16]
    assert pieces.min() >= 0 and pieces.max() <= 1  # held to [0, 1] however far x is
    for array in (out, grad):
        assert array.dtype == dtype and np.isfinite(array).all()


def test_adapt_refuses_bad_data_with_the_fix():
    layer = PiecewiseLinearEncoding(3, numeric=2)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 3\)"):
        layer.adapt(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="non-empty"):
        layer.adapt(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN or infinity; clean the data first"):
        layer.adapt(np.array([[1.0, np.nan, 0.0], [2.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="numeric must be at most in_features"):
        PiecewiseLinearEncoding(3, numeric=4)
    with pytest.raises(ValueError, match="bins"):
        PiecewiseLinearEncoding(3, bins=0)


def test_trains_and_beats_the_plain_network_on_a_step_target():
    # y = a staircase of x: a few ReLU kinks draw it badly, one weight per bin draws it well
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(400, 1))
    y = np.floor(X) % 2
    X_test = rng.uniform(-3, 3, size=(400, 1))
    y_test = np.floor(X_test) % 2
    scores = {}
    for name in ("plain", "piecewise"):
        front = []
        if name == "piecewise":
            encode = PiecewiseLinearEncoding(1, bins=12, keep_inputs=True)
            encode.adapt(X)
            front = [encode]
        width = front[0].out_features if front else 1
        model = snn.Sequential([*front, snn.Dense(width, 16), snn.ReLU(), snn.Dense(16, 1)], seed=0)
        model.fit(X, y, loss="mse", optimizer=snn.optim.Adam(0.01), epochs=60, batch_size=32,
                  verbose=0)  # fmt: skip
        scores[name] = float(np.mean((model.predict(X_test) > 0.5) == y_test))
    assert scores["piecewise"] > 0.97 and scores["piecewise"] > scores["plain"] + 0.05, scores


def test_a_packed_ensemble_shares_the_encoding_and_unpacks_to_the_mean(tmp_path):
    encode = PiecewiseLinearEncoding(5, numeric=4, bins=4, keep_inputs=True)
    encode.adapt(data())
    stack = pack([encode, snn.Dense(encode.out_features, 6), snn.ReLU(), snn.Dense(6, 2)], 3)
    assert stack[0] is encode and isinstance(stack[1], PackedDense) and stack[1].shared_input
    model = snn.Sequential(stack, seed=0, dtype=np.float64)
    X = data(rows=11, seed=7)
    packed_out = model.predict(X)
    assert packed_out.shape == (11, 3, 2)
    ensemble = snn.Sequential(unpacked(model.layers), seed=0, dtype=np.float64)
    assert isinstance(ensemble.layers[0], PiecewiseLinearEncoding)
    np.testing.assert_allclose(ensemble.predict(X), packed_out.mean(axis=1), rtol=1e-12)
    ensemble.save(tmp_path / "e.npz")
    again = snn.load(tmp_path / "e.npz")
    np.testing.assert_array_equal(again.layers[0].buffers["edges"], encode.buffers["edges"])
    np.testing.assert_array_equal(again.predict(X), ensemble.predict(X))


def test_saved_and_loaded_with_its_edges(tmp_path):
    model = encoding_model(4, dtype=np.float32)
    X = data(rows=6, seed=8).astype(np.float32)
    model.save(tmp_path / "m.npz")
    again = snn.load(tmp_path / "m.npz")
    assert isinstance(again.layers[0], PiecewiseLinearEncoding)
    assert again.layers[0].get_config() == model.layers[0].get_config()
    np.testing.assert_array_equal(
        again.layers[0].buffers["edges"], model.layers[0].buffers["edges"]
    )
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    # edges that run backwards (a hand-edited file) give bins that cannot be used: 0, as in
    # the reference and the ONNX export
    layer = again.layers[0]
    layer.buffers["edges"] = layer.buffers["edges"][:, ::-1].copy()
    np.testing.assert_array_equal(layer.forward(X)[:, :16], 0.0)
    assert np.isfinite(again.predict(X)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("numeric", "keep_inputs"), [(5, False), (2, True)])
def test_onnx_export_matches_predict(tmp_path, dtype, numeric, keep_inputs):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = encoding_model(numeric, dtype=dtype, keep_inputs=keep_inputs)
    X = (data(rows=13, seed=9) * 1.5).astype(dtype)
    snn.export_onnx(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (got,) = session.run(None, {session.get_inputs()[0].name: X})
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, model.predict(X), rtol=tol, atol=tol)


@settings(max_examples=60, deadline=None)
@given(
    columns=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.integers(1, 3)),
        elements=st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from([0.0, 1.0, 2.0]),  # repeated values: bins of no width
        ),
    ),
    rows=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.just(3)),
        elements=st.floats(-1e300, 1e300, allow_nan=False),
    ),
    bins=st.integers(1, 6),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_any_data_gives_a_thermometer_in_zero_one_and_a_matching_reference(
    columns, rows, bins, dtype
):
    X = np.zeros((len(columns), 3))
    X[:, : columns.shape[1]] = columns
    layer = PiecewiseLinearEncoding(3, bins=bins)
    layer.build(dtype=dtype)
    layer.adapt(X)  # (float64 quantiles, held in the layer's dtype)
    rows = np.clip(rows, -1e38, 1e38).astype(dtype)
    edges = layer.buffers["edges"]
    assert edges.dtype == dtype
    assert np.all(np.diff(edges, axis=1) >= 0)  # quantiles never run backwards
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = layer.forward(rows)
        grad = layer.backward(np.ones_like(y))
    pieces = y.reshape(len(rows), 3, bins)
    assert np.all((pieces >= 0) & (pieces <= 1)) and np.isfinite(grad).all()
    # a thermometer: a piece is only ever partly filled after the full ones, before the empty
    live = layer.bin_arrays().slope > 0  # (a bin of no width, or too narrow, gives 0)
    for b in range(len(rows)):
        for j in range(3):
            filled = pieces[b, j][live[j]]
            assert np.all(np.diff(filled) <= 0)  # (and a full one is exactly 1)
    assert y.dtype == dtype
    slow = reference.PiecewiseLinearEncoding(edges, 3, dtype=dtype).forward(rows.astype(np.float64))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, slow, rtol=tol, atol=tol)


def test_trace_step_and_summary():
    model = encoding_model(4, keep_inputs=True)
    X = data(rows=7, seed=10)
    y = np.random.default_rng(11).normal(size=(7, 2))
    before = model.get_weights()
    trace = snn.trace_step(model, X, y, "mse", snn.optim.SGD(lr=0.1))
    first = trace.layers[0]
    assert first.output.shape == (7, 4 * 4 + 5)  # 4 features x 4 bins, all 5 passed through
    assert first.grads == {} and first.grad_input.shape == (7, 5)
    assert np.array_equal(model.get_weights(), before)  # a trace leaves the model as it was
    table = model.summary()
    assert "PiecewiseLinearEncoding" in table and "(None, 21)" in table
    assert "Total parameters: 146" in table  # 21·6 + 6 and 6·2 + 2: the encoding learns nothing


@pytest.mark.parametrize(
    "config",
    [
        {"in_features": 5, "numeric": 3, "bins": 2**40},
        {"in_features": 10**12, "numeric": 10**12, "bins": 8},
    ],
)
def test_a_file_declaring_a_huge_encoding_is_refused_before_allocating(tmp_path, config):
    from scratchnn import io as snn_io

    good = snn_io.dumps(encoding_model(3, dtype=np.float32))

    def edit(meta):
        meta["model"]["layers"] = [{"class_name": "PiecewiseLinearEncoding", "config": config}]
        meta["optimizer"] = meta["schedule"] = meta["rng"] = meta["history"] = None

    path = write(tmp_path, with_metadata(good, edit))
    outcome, _, peak = load_cost(lambda: snn.load(path))
    assert isinstance(outcome, snn.DataFileError), repr(outcome)
    assert "do not fit together" not in str(outcome)  # refused for its size, not its chain
    assert peak < MEMORY_BOUND
