"""ONNX export of convolutional networks: every image layer becomes ONNX operators whose output
in onnxruntime equals ``model.predict`` (float32 within 1e-5, float64 within 1e-10) at several
batch sizes, and the graph declares the image input's shape."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn

_EXTRA = "ONNX export is an optional extra: pip install 'scratchnn[onnx]'"
onnx = pytest.importorskip("onnx", minversion="1.14", reason=_EXTRA)
ort = pytest.importorskip("onnxruntime", minversion="1.16", reason=_EXTRA)

from scratchnn.onnx import _LOWERINGS, MIN_OPSET, default_opset  # noqa: E402 - after the skips

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}

#: The image layers, whose lowerings live in onnx.py's convolutional section.
IMAGE_LAYERS = {
    snn.Conv1D,
    snn.Conv2D,
    snn.MaxPool2D,
    snn.AvgPool2D,
    snn.GlobalAvgPool2D,
    snn.Flatten,
    snn.ToChannelsFirst,
    snn.Reshape,
    snn.BatchNorm2d,
    snn.Dropout2d,
    snn.RandomShift,
}


def _with_statistics(model: snn.Sequential) -> snn.Sequential:
    """Non-trivial running statistics and BatchNorm parameters (as after training)."""
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, snn.BatchNorm2d):
            c = layer.num_features
            layer.buffers["running_mean"] = rng.normal(size=c)
            layer.buffers["running_var"] = rng.uniform(0.5, 2.0, size=c)
            if layer.affine:
                layer.params["gamma"] = rng.normal(size=c)
                layer.params["beta"] = rng.normal(size=c)
        if isinstance(layer, (snn.Conv2D, snn.Conv1D)) and layer.bias:
            layer.params["b"] = rng.normal(size=layer.out_channels)
    return model


MODELS: dict[str, tuple[Callable[[type], snn.Sequential], tuple[int, ...]]] = {
    "lenet": (
        lambda dt: snn.Sequential(
            [
                snn.Conv2D(1, 4, 5),
                snn.ReLU(),
                snn.MaxPool2D(2),
                snn.Conv2D(4, 6, 3, padding=1),
                snn.ReLU(),
                snn.MaxPool2D(2),
                snn.Flatten(),
                snn.Dense(6 * 3 * 3, 5),
            ],
            seed=0,
            dtype=dt,
        ),
        (1, 18, 18),
    ),
    "options": (
        lambda dt: snn.Sequential(
            [
                snn.RandomShift(2, horizontal_flip=True),
                snn.Conv2D(
                    2, 4, (2, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2), bias=False
                ),
                snn.BatchNorm2d(4),
                snn.Conv2D(4, 4, 3, padding="same", groups=4),
                snn.BatchNorm2d(4, affine=False),
                snn.Dropout2d(0.3),
                snn.AvgPool2D(3, stride=2, padding=1),
                snn.Conv2D(4, 6, 2, groups=2),
                snn.MaxPool2D(3, stride=1, padding=1),
                snn.GlobalAvgPool2D(),
                snn.Dense(6, 3),
            ],
            seed=1,
            dtype=dt,
        ),
        (2, 9, 8),
    ),
    "channels_last": (
        lambda dt: snn.Sequential(
            [
                snn.ToChannelsFirst(),
                snn.Conv2D(3, 4, 3, padding="same"),
                snn.AvgPool2D(2),
                snn.Flatten(),
                snn.Dense(4 * 3 * 3, 2),
            ],
            seed=2,
            dtype=dt,
        ),
        (6, 6, 3),
    ),
    "rows": (
        lambda dt: snn.Sequential(
            [snn.Reshape((1, 6, 6)), snn.Conv2D(1, 3, 3), snn.Flatten(), snn.Dense(48, 2)],
            seed=4,
            dtype=dt,
            input_shape=(36,),
        ),
        (36,),
    ),
    "conv1d": (
        lambda dt: snn.Sequential(
            [
                snn.Conv1D(3, 4, 3, stride=2, padding=1, dilation=2),
                snn.ReLU(),
                snn.Flatten(),
                snn.Dense(4 * 5, 2),
            ],
            seed=3,
            dtype=dt,
        ),
        (3, 11),
    ),
}


def _export(model: snn.Sequential, path: Path, opset: int | None = None) -> ort.InferenceSession:
    snn.export_onnx(model, path, opset=opset)
    onnx.checker.check_model(onnx.load(str(path)))
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, default_opset()}))
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(MODELS))
def test_onnxruntime_matches_predict(name, dtype, opset, tmp_path):
    make, sample = MODELS[name]
    model = _with_statistics(make(dtype))
    session = _export(model, tmp_path / "model.onnx", opset)
    rng = np.random.default_rng(0)
    for batch in (1, 5):
        X = rng.normal(size=(batch, *sample)).astype(dtype)
        (out,) = session.run(None, {"input": X})
        assert out.dtype == dtype
        np.testing.assert_allclose(out, model.predict(X), rtol=0, atol=TOLERANCE[dtype])


def test_the_tests_cover_every_image_layer():
    covered = {type(layer) for make, _ in MODELS.values() for layer in make(np.float64).layers}
    assert covered >= IMAGE_LAYERS
    assert set(_LOWERINGS) >= IMAGE_LAYERS


def test_the_graph_declares_the_image_shape(tmp_path):
    make, _ = MODELS["lenet"]
    snn.export_onnx(make(np.float32), tmp_path / "model.onnx")
    graph = onnx.load(str(tmp_path / "model.onnx")).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == "batch" and dims[1] == 1  # one channel, images of any size
    ops = {node.op_type for node in graph.node}
    assert {"Conv", "MaxPool", "Flatten", "Relu", "MatMul"} <= ops


def test_float32_uses_onnxs_own_operators(tmp_path):
    make, _ = MODELS["options"]
    snn.export_onnx(make(np.float32), tmp_path / "model.onnx")
    ops = {node.op_type for node in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    expected = {"Conv", "BatchNormalization", "AveragePool", "MaxPool", "GlobalAveragePool"}
    assert expected <= ops
