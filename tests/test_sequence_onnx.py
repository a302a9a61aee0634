"""ONNX export of the sequence layers and the GPT: onnxruntime's outputs equal predict's
(<= 1e-5), at lengths other than the one of any example (the length is dynamic)."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.models import GPT

onnxruntime = pytest.importorskip("onnxruntime", reason="ONNX export is checked with onnxruntime")
pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
from scratchnn.onnx import MIN_OPSET  # noqa: E402 - after the skips


def run_onnx(model, path, X, opset=None):
    snn.export_onnx(model, path, opset=opset)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": X.astype(model.dtype)})[0]


MODELS = [
    pytest.param(lambda: GPT(11, context=12, width=16, depth=2, heads=2, seed=0), 11, id="gpt"),
    pytest.param(
        lambda: snn.Sequential(
            [
                snn.Embedding(11, 8),
                snn.LSTM(8, 6),
                snn.GRU(6, 5),
                snn.RNN(5, 4),
                snn.RNN(4, 3, nonlinearity="relu", return_sequences=False),
                snn.Dense(3, 2),
            ],
            seed=0,
        ),
        11,
        id="recurrent",
    ),
    pytest.param(
        lambda: snn.Sequential(
            [
                snn.Embedding(11, 8),
                snn.SinusoidalEncoding(8),
                snn.MultiHeadAttention(8, 4),
                snn.LayerNorm(8),
                snn.Dense(8, 11),
            ],
            seed=0,
        ),
        11,
        id="attention",
    ),
]


@pytest.mark.parametrize("opset", [MIN_OPSET, None], ids=["lowest_opset", "default_opset"])
@pytest.mark.parametrize(("make", "vocab"), MODELS)
def test_onnxruntime_matches_predict(make, vocab, opset, tmp_path):
    model = make()
    rng = np.random.default_rng(0)
    for steps in (3, 12):
        X = rng.integers(0, vocab, size=(4, steps))
        exported = run_onnx(model, tmp_path / "m.onnx", X, opset)
        np.testing.assert_allclose(exported, model.predict(X), rtol=1e-5, atol=1e-5)


def test_float64_recurrent_models_are_refused_with_the_way_out(tmp_path):
    model = snn.Sequential([snn.LSTM(3, 4)], dtype=np.float64, input_shape=(None, 3))
    with pytest.raises(ValueError, match="float32 only; export a float32 copy"):
        snn.export_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_float64_gpt_keeps_float64_precision(tmp_path):
    model = GPT(7, context=8, width=8, depth=1, heads=2, seed=0, dtype=np.float64)
    X = np.random.default_rng(1).integers(0, 7, size=(2, 8))
    np.testing.assert_allclose(run_onnx(model, tmp_path / "m.onnx", X), model.predict(X), atol=1e-9)
