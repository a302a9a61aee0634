"""layers/ensemble.py: Chain and Average (an ensemble of networks in one model) by finite
differences and against PyTorch in float64; saved, loaded and predicted as one model file, and
exported to ONNX as one graph."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.layers import Average, Chain


def ensemble(k: int = 3, features: int = 4, outputs: int = 2, seed: int = 0) -> snn.Sequential:
    members = [
        Chain([snn.Dense(features, 5 + j), snn.Tanh(), snn.Dense(5 + j, outputs)]) for j in range(k)
    ]
    return snn.Sequential([Average(members)], seed=seed, dtype="float64")


def test_average_gradients_pass_finite_differences():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 2, 6)
    assert snn.gradcheck(ensemble(), "cross_entropy", X, y).passed
    assert snn.gradcheck(ensemble(k=1), "cross_entropy", X, y).passed


def test_average_matches_torch_in_float64():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: the dev extra")
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(7, 4)), rng.normal(size=(7, 2))
    model = ensemble()
    loss = snn.losses.MSE()
    value = loss(model.forward(X, training=True), y)
    grad_x = model.backward(loss.backward())
    x_t = torch.tensor(X, requires_grad=True)
    weights = []
    outputs = []
    for member in model.layers[0].layers:
        first, _, last = member.layers
        W1, b1, W2, b2 = (
            torch.tensor(a, requires_grad=True)
            for a in (first.params["W"], first.params["b"], last.params["W"], last.params["b"])
        )
        weights.append((W1, b1, W2, b2))
        outputs.append(torch.tanh(x_t @ W1 + b1) @ W2 + b2)
    expected = torch.nn.functional.mse_loss(torch.stack(outputs).mean(0), torch.tensor(y))
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-10, atol=1e-14)
    for member, (W1, _, W2, b2) in zip(model.layers[0].layers, weights, strict=True):
        np.testing.assert_allclose(member.layers[0].grads["W"], W1.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(member.layers[2].grads["W"], W2.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(member.layers[2].grads["b"], b2.grad.numpy(), rtol=1e-10)


def test_an_ensemble_is_one_model_file_and_one_onnx_graph(tmp_path):
    model = ensemble(k=3)
    X = np.random.default_rng(2).normal(size=(5, 4))
    members = [m.forward(X) for m in model.layers[0].layers]
    np.testing.assert_allclose(model.predict(X), np.mean(members, axis=0), rtol=1e-12)
    model.save(tmp_path / "ensemble.npz")
    again = snn.load(tmp_path / "ensemble.npz")
    assert isinstance(again.layers[0], Average) and len(again.layers[0].layers) == 3
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    ort = pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime")
    pytest.importorskip("onnx", reason="the ONNX export needs onnx")
    snn.export_onnx(model, tmp_path / "ensemble.onnx")
    session = ort.InferenceSession(str(tmp_path / "ensemble.onnx"))
    name = session.get_inputs()[0].name
    got = session.run(None, {name: X.astype(np.float64)})[0]
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-9, atol=1e-12)


def test_members_with_different_outputs_are_refused():
    members = [Chain([snn.Dense(3, 2)]), Chain([snn.Dense(3, 4)])]
    with pytest.raises(ValueError, match=r"member 0 gives .*2.*member 1 gives .*4"):
        snn.Sequential([Average(members)], seed=0)
    with pytest.raises(TypeError, match="non-empty list of Layer"):
        Average([])


def test_an_ensemble_model_traces_and_summarizes_its_shapes():
    members = [
        snn.layers.Chain([snn.Dense(3, 8), snn.ReLU(), snn.Dense(8, 2)]),
        snn.Dense(3, 2),
    ]
    model = snn.Sequential([snn.layers.Average(members)], seed=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(5, 3))
    y = np.array([0, 1, 1, 0, 1])
    before = model.get_weights()
    trace = snn.trace_step(model, X, y, "cross_entropy", snn.optim.SGD(lr=0.1))
    assert [t.output.shape for t in trace.layers] == [(5, 2)]
    grads = trace.layers[0].grads
    assert grads["0.0.W"].shape == (3, 8) and grads["1.W"].shape == (3, 2)
    assert trace.layers[0].grad_input.shape == (5, 3)
    assert np.array_equal(model.get_weights(), before)  # a trace leaves the model as it was
    snn.trace_step(model, X, y, "cross_entropy", snn.optim.SGD(lr=0.1), apply=True)
    assert not np.array_equal(model.get_weights(), before)
    table = model.summary()
    assert (
        "Average" in table
        and "(None, 2)" in table
        and f"{3 * 8 + 8 + 8 * 2 + 2 + 3 * 2 + 2:,}" in table
    )
