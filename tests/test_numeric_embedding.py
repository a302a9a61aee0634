"""PeriodicEmbedding: the hand-derived backward against central differences, the loop-by-loop
reference and PyTorch (values, gradients and Adam steps), finite at inputs of ±1000, saved and
loaded (a file declaring a huge one refused before allocating), and exported to ONNX."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from _model_files import MEMORY_BOUND, load_cost, with_metadata, write
from scratchnn import reference
from scratchnn.layers import PeriodicEmbedding


def embedding_model(
    numeric: int | None, dtype=np.float64, seed: int = 0, keep_inputs: bool = False
) -> snn.Sequential:
    """PeriodicEmbedding(5 features, 3 frequencies) -> tanh Dense -> Dense(2)."""
    embed = PeriodicEmbedding(5, numeric, frequencies=3, sigma=0.5, keep_inputs=keep_inputs)
    return snn.Sequential(
        [embed, snn.Dense(embed.out_features, 6, activation="tanh"), snn.Dense(6, 2)],
        seed=seed,
        dtype=dtype,
    )


def batch(rows: int = 7, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 5)), rng.normal(size=(rows, 2))


@pytest.mark.parametrize("keep_inputs", [False, True], ids=["rest", "keep-inputs"])
@pytest.mark.parametrize("numeric", [None, 3, 1])
def test_gradcheck(numeric, keep_inputs):
    model = embedding_model(numeric, keep_inputs=keep_inputs)
    X, y = batch()
    result = snn.gradcheck(model, "mse", X, y)
    assert result.passed, str(result)
    assert "periodicembedding_0.C" in result.errors and "input" in result.errors


def test_shapes_layout_and_pass_through():
    layer = PeriodicEmbedding(4, numeric=2, frequencies=3)
    layer.build(np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).normal(size=(5, 4))
    y = layer.forward(x)
    assert y.shape == (5, 2 * 3 * 2 + 2) and layer.output_shape((4,)) == (14,)
    a = 2 * np.pi * x[:, 1:2] * layer.params["C"][1]  # feature 1: columns 6..11
    np.testing.assert_allclose(y[:, 6:9], np.sin(a))
    np.testing.assert_allclose(y[:, 9:12], np.cos(a))
    np.testing.assert_array_equal(y[:, 12:], x[:, 2:])
    assert layer.parameter_shapes((4,)) == {"C": (2, 3)}


@pytest.mark.parametrize("keep_inputs", [False, True], ids=["rest", "keep-inputs"])
def test_matches_the_loop_by_loop_reference_and_backward_does_not_accumulate(keep_inputs):
    layer = PeriodicEmbedding(5, numeric=3, frequencies=4, sigma=1.0, keep_inputs=keep_inputs)
    layer.build(np.random.default_rng(0), np.float64)
    assert layer.out_features == 2 * 4 * 3 + (5 if keep_inputs else 2)
    slow = reference.PeriodicEmbedding(layer.params["C"], 5, keep_inputs)
    x = np.random.default_rng(2).normal(size=(6, 5)) * 3
    np.testing.assert_allclose(layer.forward(x), slow.forward(x), rtol=1e-13, atol=1e-15)
    g = np.random.default_rng(3).normal(size=(6, layer.out_features))
    grad_x = layer.backward(g)
    np.testing.assert_allclose(grad_x, slow.backward(g), rtol=1e-12, atol=1e-13)
    # (with keep_inputs this draw sums one dC to 3e-12 relative rounding: the same math)
    tol = 1e-10 if keep_inputs else 1e-12
    np.testing.assert_allclose(layer.grads["C"], slow.dC, rtol=tol, atol=1e-13)
    again = layer.backward(g)  # overwrites, never accumulates
    np.testing.assert_array_equal(again, grad_x)
    np.testing.assert_allclose(layer.grads["C"], slow.dC, rtol=tol, atol=1e-13)
    before = layer.grads["C"].copy()
    assert layer.backward(g, input_grad=False) is None  # a first layer skips ∂L/∂x
    np.testing.assert_array_equal(layer.grads["C"], before)


def torch_twin(model: snn.Sequential):
    """The same network in PyTorch, written from the formula, with the model's weights."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    embed, hidden, out = model.layers

    class Periodic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.C = nn.Parameter(torch.tensor(embed.params["C"].copy()))

        def forward(self, x):
            m = self.C.shape[0]
            a = 2 * torch.pi * x[:, :m, None] * self.C  # (batch, m, k)
            waves = torch.cat([torch.sin(a), torch.cos(a)], dim=2).reshape(len(x), -1)
            return torch.cat([waves, x if embed.keep_inputs else x[:, m:]], dim=1)

    twin = nn.Sequential(
        Periodic(), nn.Linear(embed.out_features, 6), nn.Tanh(), nn.Linear(6, 2)
    ).double()
    with torch.no_grad():
        for linear, dense in ((twin[1], hidden), (twin[3], out)):
            linear.weight.copy_(torch.tensor(dense.params["W"].T.copy()))
            linear.bias.copy_(torch.tensor(dense.params["b"].copy()))
    return torch, twin


@pytest.mark.parametrize("keep_inputs", [False, True], ids=["rest", "keep-inputs"])
def test_values_gradients_and_adam_steps_match_torch(keep_inputs):
    model = embedding_model(3, keep_inputs=keep_inputs)
    for dense in model.layers[1:]:  # non-zero biases, so that they are compared too
        dense.params["b"] = np.random.default_rng(5).normal(size=dense.params["b"].shape)
    torch, twin = torch_twin(model)
    X, y = batch(rows=9)
    X_t = torch.tensor(X, requires_grad=True)
    y_t = torch.tensor(y)
    loss = snn.losses.MSE()
    value = loss(model.forward(X, training=True), y)
    grad_x = model.layers[0].backward(
        model.layers[1].backward(model.layers[2].backward(loss.backward()))
    )
    value_t = torch.nn.functional.mse_loss(twin(X_t), y_t)
    value_t.backward()
    np.testing.assert_allclose(value, value_t.item(), rtol=1e-12)
    np.testing.assert_allclose(model.layers[0].grads["C"], twin[0].C.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad_x, X_t.grad.numpy(), rtol=1e-10, atol=1e-14)

    optimizer = snn.optim.Adam(lr=0.05)
    optimizer_t = torch.optim.Adam(twin.parameters(), lr=0.05)
    start = model.layers[0].params["C"].copy()
    for step in range(1, 9):
        value = loss(model.forward(X, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.parameters())
        optimizer_t.zero_grad()
        value_t = torch.nn.functional.mse_loss(twin(torch.tensor(X)), y_t)
        value_t.backward()
        optimizer_t.step()
        np.testing.assert_allclose(value, value_t.item(), rtol=1e-9, err_msg=f"step {step}")
        np.testing.assert_allclose(
            model.layers[0].params["C"], twin[0].C.detach().numpy(), rtol=1e-9, atol=1e-12
        )
    assert np.abs(model.layers[0].params["C"] - start).max() > 0.05  # the frequencies moved


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("big", [1000.0, 1e4])
def test_finite_without_warnings_at_extreme_inputs(dtype, big):
    model = embedding_model(3, dtype=dtype)
    X = np.array([[big, -big, big, -big, big], [-big, big, 0.0, big, -big]], dtype=dtype)
    y = np.zeros((2, 2), dtype=dtype)
    loss = snn.losses.MSE()
    out = model.forward(X, training=True)
    loss(out, y)
    grad = model.layers[0].backward(
        model.layers[1].backward(model.layers[2].backward(loss.backward()))
    )
    embedded = model.layers[0].forward(X)[:, :18]
    assert np.abs(embedded).max() <= 1  # sines and cosines stay in [-1, 1]
    for array in (out, grad, model.layers[0].grads["C"]):
        assert array.dtype == dtype and np.isfinite(array).all()


def test_trains_and_beats_the_plain_network_on_a_periodic_target():
    # y = sin(6x): a few ReLU kinks follow it poorly, a frequency near 1 follows it exactly
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(256, 1))
    y = np.sin(6 * X)
    scores = {}
    for name, first in (("plain", []), ("periodic", [PeriodicEmbedding(1, 1, 8, sigma=1.0)])):
        width = first[0].out_features if first else 1
        model = snn.Sequential([*first, snn.Dense(width, 16, activation="relu"), snn.Dense(16, 1)])
        model.fit(X, y, loss="mse", optimizer=snn.optim.Adam(lr=1e-2), epochs=200,
                  batch_size=64, verbose=0)  # fmt: skip
        scores[name] = model.evaluate(X, y)["loss"]
    assert scores["periodic"] < 0.2 * scores["plain"], scores


def test_config_round_trip_and_errors():
    layer = PeriodicEmbedding(6, numeric=4, frequencies=2, sigma=0.3)
    config = layer.get_config()
    assert config == {
        "in_features": 6,
        "numeric": 4,
        "frequencies": 2,
        "sigma": 0.3,
        "keep_inputs": False,
    }
    assert PeriodicEmbedding.from_config(config).get_config() == config
    assert snn.layers.layers.lookup("periodic_embedding") is PeriodicEmbedding
    assert PeriodicEmbedding(3).numeric == 3  # None: every feature
    with pytest.raises(ValueError, match=r"numeric must be at most in_features \(3\)"):
        PeriodicEmbedding(3, numeric=4)
    with pytest.raises(ValueError, match="sigma must be"):
        PeriodicEmbedding(3, sigma=0.0)
    with pytest.raises(ValueError, match="frequencies must be a positive integer"):
        PeriodicEmbedding(3, frequencies=0)


def test_save_and_load_round_trip(tmp_path):
    model = embedding_model(3, dtype=np.float32)
    X, _ = batch()
    X = X.astype(np.float32)
    model.save(tmp_path / "m.npz")
    again = snn.load(tmp_path / "m.npz")
    assert isinstance(again.layers[0], PeriodicEmbedding)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


@pytest.mark.parametrize(
    "config",
    [
        {"in_features": 5, "numeric": 3, "frequencies": 2**40, "sigma": 0.1},
        {"in_features": 10**12, "numeric": 10**12, "frequencies": 8, "sigma": 0.1},
    ],
)
def test_a_file_declaring_a_huge_embedding_is_refused_before_allocating(tmp_path, config):
    from scratchnn import io as snn_io

    good = snn_io.dumps(embedding_model(3, dtype=np.float32))

    def edit(meta):
        meta["model"]["layers"] = [{"class_name": "PeriodicEmbedding", "config": config}]
        meta["optimizer"] = meta["schedule"] = meta["rng"] = meta["history"] = None

    path = write(tmp_path, with_metadata(good, edit))
    outcome, _, peak = load_cost(lambda: snn.load(path))
    assert isinstance(outcome, snn.DataFileError), repr(outcome)
    assert "do not fit together" not in str(outcome)  # refused for its size, not its chain
    assert peak < MEMORY_BOUND


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("numeric", [5, 2])
def test_onnx_export_matches_predict(tmp_path, dtype, numeric):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = embedding_model(numeric, dtype=dtype)
    X = (np.random.default_rng(4).normal(size=(11, 5)) * 3).astype(dtype)
    snn.export_onnx(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    (got,) = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-5, atol=1e-5)


def test_trace_step_and_summary():
    model = embedding_model(3)
    X, y = batch()
    before = model.get_weights()
    trace = snn.trace_step(model, X, y, "mse", snn.optim.SGD(lr=0.1))
    first = trace.layers[0]
    assert first.output.shape == (7, 2 * 3 * 3 + 2)  # 3 features x (3 sines, 3 cosines), 2 kept
    assert first.grads["C"].shape == (3, 3) and first.grad_input.shape == (7, 5)
    assert np.array_equal(model.get_weights(), before)  # a trace leaves the model as it was
    table = model.summary()
    assert "PeriodicEmbedding" in table and "(None, 20)" in table
    assert "Total parameters: 149" in table
