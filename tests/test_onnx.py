"""ONNX export: every layer type becomes standard ONNX operators whose output in onnxruntime
equals ``model.predict`` (float32 within 1e-5, float64 within 1e-12) at several batch sizes: each
layer type alone at the lowest and the highest supported opset, and one model holding every layer
type at every opset in between; the lowering chosen by opset and dtype; names, shapes, dtypes
and metadata in the graph; refusal of layers without an ONNX equivalent; the ``scratchnn export``
command; and a model trained on real data."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scratchnn as snn

_EXTRA = "ONNX export is an optional extra: pip install 'scratchnn[onnx]'"
onnx = pytest.importorskip("onnx", minversion="1.14", reason=_EXTRA)
ort = pytest.importorskip("onnxruntime", minversion="1.16", reason=_EXTRA)

from scratchnn.onnx import _LOWERINGS, MIN_OPSET, default_opset  # noqa: E402 - after the skips

DEFAULT = default_opset()
# Each layer type alone at both ends of the supported range. The lowerings change in between
# (13: Erf-built GELU, decomposed LayerNorm with the axes as an attribute; 17: LayerNormalization;
# 18: ReduceMean's axes as an input; 20: Gelu), which the model holding every layer type covers at
# every opset (test_every_opset_on_a_model_with_every_layer_type).
LOWEST_AND_HIGHEST = sorted({MIN_OPSET, DEFAULT})
EVERY_OPSET = list(range(MIN_OPSET, DEFAULT + 1))
DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}
BATCH_SIZES = (1, 7, 64)


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run(path: Path, X: np.ndarray, input_name: str = "input") -> np.ndarray:
    (out,) = _session(path).run(None, {input_name: X})
    return out


def _check_export(
    model: snn.Sequential, X: np.ndarray, path: Path, opset: int | None = None
) -> onnx.ModelProto:
    """Export, validate the file, and compare onnxruntime with predict at several batch sizes
    (one session: the batch dimension is dynamic)."""
    proto = snn.export_onnx(model, path, opset=opset)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = _session(path)
    X = np.asarray(X, dtype=model.dtype)
    tol = TOLERANCE[model.dtype.type]
    for n in BATCH_SIZES:
        (out,) = session.run(None, {"input": X[:n]})
        assert out.dtype == model.dtype
        assert out.shape == (min(n, len(X)), model.out_features)
        np.testing.assert_allclose(out, model.predict(X[:n]), rtol=tol, atol=tol)
    return proto


def _op_types(proto: onnx.ModelProto) -> set[str]:
    return {node.op_type for node in proto.graph.node}


def _inputs(n: int = 64, features: int = 6, seed: int = 0) -> np.ndarray:
    """Random inputs over a wide range, plus a row of extremes (both branches of every
    piecewise activation, and GELU's far tails)."""
    rng = np.random.default_rng(seed)
    X = 3.0 * rng.normal(size=(n, features))
    X[0] = np.linspace(-30, 30, features)
    X[1] = [-12.0, -1.5, -0.3, 0.0, 0.4, 9.0][:features]
    return X


def _fit(model: snn.Sequential, X: np.ndarray, epochs: int = 3) -> snn.Sequential:
    rng = np.random.default_rng(1)
    y = rng.integers(0, model.out_features, len(X)) if model.out_features > 1 else X[:, :1]
    # A model that ends with its own Softmax/Sigmoid gives probabilities: the loss takes them
    # as such (cross-entropy from logits would apply the softmax twice, which fit warns of).
    last = model.layers[-1]
    squashed = isinstance(getattr(last, "activation", None) or last, (snn.Softmax, snn.Sigmoid))
    loss = snn.losses.CrossEntropy(from_logits=not squashed) if model.out_features > 1 else "mse"
    model.fit(X, y, loss=loss, optimizer="adam", epochs=epochs, batch_size=16, verbose=0)
    return model


ACTIVATIONS = {
    "identity": snn.Identity,
    "sigmoid": snn.Sigmoid,
    "tanh": snn.Tanh,
    "relu": snn.ReLU,
    "leaky_relu": lambda: snn.LeakyReLU(alpha=0.2),
    "elu": lambda: snn.ELU(alpha=0.7),
    "gelu": snn.GELU,
    "gelu_tanh": lambda: snn.GELU(approximate="tanh"),
    "silu": snn.SiLU,
    "softmax": snn.Softmax,
}


@pytest.mark.parametrize("opset", LOWEST_AND_HIGHEST)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation(name: str, dtype, opset: int, tmp_path: Path) -> None:
    # Standardize's initial statistics (mean 0, std 1) pass the raw inputs to the activation.
    model = snn.Sequential([snn.Standardize(6), ACTIVATIONS[name]()], dtype=dtype)
    _check_export(model, _inputs(), tmp_path / "m.onnx", opset)


def _layer_models() -> dict[str, Callable[[Any], snn.Sequential]]:
    def trained_batchnorm(affine: bool, dtype) -> snn.Sequential:
        model = snn.Sequential(
            [snn.Dense(6, 8), snn.BatchNorm1d(8, eps=1e-3, affine=affine), snn.Dense(8, 3)],
            seed=0,
            dtype=dtype,
        )
        _fit(model, _inputs() + 2.0)
        bn = model.layers[1]
        assert not np.allclose(bn.buffers["running_mean"], 0)
        assert not np.allclose(bn.buffers["running_var"], 1)
        return model

    def layernorm(affine: bool, dtype) -> snn.Sequential:
        model = snn.Sequential(
            [snn.Dense(6, 8), snn.LayerNorm(8, affine=affine)], seed=0, dtype=dtype
        )
        if affine:
            rng = np.random.default_rng(2)
            model.layers[1].params["gamma"] = rng.uniform(0.5, 2.0, 8)
            model.layers[1].params["beta"] = rng.normal(size=8)
        return model

    def standardize(dtype) -> snn.Sequential:
        model = snn.Sequential([snn.Standardize(6), snn.Dense(6, 2)], seed=0, dtype=dtype)
        rng = np.random.default_rng(3)
        data = rng.normal(size=(100, 6)) * [1, 10, 0.1, 5, 2, 0] + [0, -50, 3, 7, 1, 4]
        model.layers[0].adapt(data)  # the last feature is constant: std 1
        return model

    def piecewise_linear(dtype) -> snn.Sequential:
        encode = snn.PiecewiseLinearEncoding(6, numeric=4, bins=3)
        encode.adapt(_inputs() * 2)  # (a few inputs fall beyond the edges)
        return snn.Sequential([encode, snn.Dense(14, 3)], seed=0, dtype=dtype)

    return {
        "dense": lambda dt: snn.Sequential([snn.Dense(6, 5)], seed=0, dtype=dt),
        "dense_no_bias": lambda dt: snn.Sequential([snn.Dense(6, 5, bias=False)], seed=0, dtype=dt),
        "dense_shorthand": lambda dt: snn.Sequential(
            [snn.Dense(6, 8, activation="elu"), snn.Dense(8, 4, activation=snn.LeakyReLU(0.3))],
            seed=0,
            dtype=dt,
        ),
        "batchnorm": lambda dt: trained_batchnorm(True, dt),
        "batchnorm_no_affine": lambda dt: trained_batchnorm(False, dt),
        "layernorm": lambda dt: layernorm(True, dt),
        "layernorm_no_affine": lambda dt: layernorm(False, dt),
        "dropout": lambda dt: snn.Sequential(
            [snn.Dense(6, 8), snn.Dropout(0.5), snn.Dense(8, 3)], seed=0, dtype=dt
        ),
        "standardize": standardize,
        "piecewise_linear": piecewise_linear,
        "periodic_embedding": lambda dt: snn.Sequential(
            [snn.PeriodicEmbedding(6, numeric=4, frequencies=3, sigma=0.5), snn.Dense(26, 3)],
            seed=0,
            dtype=dt,
        ),
    }


def _deep_model(dtype) -> snn.Sequential:
    """One trained model holding every exportable layer type (and every activation, both as a
    layer and as a Dense shorthand), with and without bias and affine parameters."""
    model = snn.Sequential(
        [
            snn.Standardize(6),
            snn.PiecewiseLinearEncoding(6, numeric=2, bins=3, keep_inputs=True),
            snn.PeriodicEmbedding(12, numeric=3, frequencies=2),
            snn.Dense(21, 16),
            snn.BatchNorm1d(16),
            snn.ReLU(),
            snn.Dropout(0.2),
            snn.Dense(16, 16, activation="gelu"),
            snn.LayerNorm(16),
            snn.Dense(16, 12, bias=False),
            snn.SiLU(),
            snn.Dense(12, 12, activation=snn.GELU("tanh")),
            snn.LayerNorm(12, affine=False),
            snn.ELU(0.5),
            snn.Dense(12, 8),
            snn.BatchNorm1d(8, affine=False),
            snn.LeakyReLU(0.1),
            snn.Tanh(),
            snn.Identity(),
            snn.Dense(8, 4, activation="sigmoid"),
            snn.Dense(4, 3),
            snn.Softmax(),
        ],
        seed=0,
        dtype=dtype,
    )
    X = _inputs() * 2 + 5
    model.layers[0].adapt(X)
    model.layers[1].adapt(model.layers[0].forward(X))
    return _fit(model, X)


LAYER_MODELS = _layer_models()


def _layer_types(model: snn.Sequential) -> set[type]:
    """The layer types in ``model``, counting a Dense layer's activation as a layer."""
    types = {type(layer) for layer in model.layers}
    activations = (getattr(layer, "activation", None) for layer in model.layers)
    return types | {type(a) for a in activations if a is not None}


def test_the_tests_cover_every_exportable_layer_type() -> None:
    """A new lowering must be added to the layer tests and to the model with every layer type."""
    alone = {type(make()) for make in ACTIVATIONS.values()}
    for make in LAYER_MODELS.values():
        alone |= _layer_types(make(np.float64))
    exportable = {t for t in _LOWERINGS if t.__module__ not in _OWN_TEST_FILES}
    assert alone == exportable
    assert _layer_types(_deep_model(np.float64)) == exportable


# Layer families whose exports are tested in their own files (their layers do not fit an MLP).
_OWN_TEST_FILES = {  # module of the layer type: tests/test_conv_onnx.py
    f"scratchnn.layers.{name}"
    for name in (
        "augmentation",
        "conv",
        "normalization2d",
        "pooling",
        "regularization2d",
        "reshape",
        # tests/test_sequence_onnx.py
        "attention",
        "embedding",
        "recurrent",
        "residual",
        # tests/test_ensemble.py
        "ensemble",
        # tests/test_packed.py (its output is (batch, members, outputs))
        "packed",
    )
}


@pytest.mark.parametrize("opset", LOWEST_AND_HIGHEST)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(LAYER_MODELS))
def test_layer(name: str, dtype, opset: int, tmp_path: Path) -> None:
    model = LAYER_MODELS[name](dtype)
    X = _inputs()
    if name == "standardize":
        X = (X * 2 + 5) * [1, 10, 0.1, 5, 2, 0] + [0, -50, 3, 7, 1, 4]
    proto = _check_export(model, X, tmp_path / "m.onnx", opset)
    ops = _op_types(proto)
    assert "Dropout" not in ops
    if name == "dense":
        assert {"MatMul", "Add"} <= ops
    if name == "dense_no_bias":
        assert ops == {"MatMul"}


@pytest.fixture(scope="module")
def deep_models() -> dict[type, snn.Sequential]:
    """The model with every layer type, trained once per dtype (export does not change it)."""
    return {dtype: _deep_model(dtype) for dtype in DTYPES}


@pytest.mark.parametrize("opset", EVERY_OPSET)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_every_opset_on_a_model_with_every_layer_type(
    deep_models, dtype, opset: int, tmp_path: Path
) -> None:
    proto = _check_export(deep_models[dtype], _inputs() * 2 + 5, tmp_path / "m.onnx", opset)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
    assert "Dropout" not in _op_types(proto)


@pytest.mark.parametrize(
    ("opset", "dtype", "expected", "absent"),
    [
        (13, np.float32, {"Erf", "ReduceMean"}, {"Gelu", "BatchNormalization"}),
        (17, np.float32, {"Erf", "LayerNormalization"}, {"Gelu", "ReduceMean"}),
        (20, np.float32, {"Gelu", "LayerNormalization", "LeakyRelu", "Elu"}, {"Erf"}),
        # float64: elementary operators where onnxruntime lacks (precise) float64 kernels.
        (DEFAULT, np.float64, {"ReduceMean", "Where", "Max"}, {"Gelu", "Erf", "LeakyRelu", "Elu"}),
    ],
)
def test_lowering_by_opset_and_dtype(opset, dtype, expected, absent, tmp_path: Path) -> None:
    if opset > DEFAULT:
        pytest.skip(f"the installed onnx/onnxruntime support opsets up to {DEFAULT}")
    proto = snn.export_onnx(_deep_model(dtype), tmp_path / "m.onnx", opset=opset)
    ops = _op_types(proto)
    assert expected <= ops
    assert not absent & ops
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]


def test_graph_names_shapes_and_dtypes(tmp_path: Path) -> None:
    for dtype, elem in (
        (np.float32, onnx.TensorProto.FLOAT),
        (np.float64, onnx.TensorProto.DOUBLE),
    ):
        model = snn.Sequential([snn.Dense(6, 8, activation="relu"), snn.Dense(8, 3)], dtype=dtype)
        path = tmp_path / f"{np.dtype(dtype).name}.onnx"
        proto = snn.export_onnx(model, path)
        assert onnx.load(str(path)) == proto
        graph = proto.graph
        assert [v.name for v in graph.input] == ["input"]
        assert [v.name for v in graph.output] == ["output"]
        for value, features in ((graph.input[0], 6), (graph.output[0], 3)):
            tensor = value.type.tensor_type
            assert tensor.elem_type == elem
            assert tensor.shape.dim[0].dim_param == "batch"
            assert tensor.shape.dim[1].dim_value == features
        assert {init.data_type for init in graph.initializer} == {elem}
        assert {init.name for init in graph.initializer} == {
            "dense_0.W",
            "dense_0.b",
            "dense_1.W",
            "dense_1.b",
        }
        np.testing.assert_array_equal(
            onnx.numpy_helper.to_array(graph.initializer[0]), model.layers[0].params["W"]
        )
        session = _session(path)
        assert [(i.name, i.shape) for i in session.get_inputs()] == [("input", ["batch", 6])]
        assert [(o.name, o.shape) for o in session.get_outputs()] == [("output", ["batch", 3])]
        assert proto.producer_name == "scratchnn"


def test_custom_input_and_output_names(tmp_path: Path) -> None:
    model = snn.Sequential([snn.Dense(6, 3), snn.Softmax()], seed=0)
    path = tmp_path / "m.onnx"
    snn.export_onnx(model, path, input_name="features", output_name="probabilities")
    session = _session(path)
    assert [i.name for i in session.get_inputs()] == ["features"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    X = _inputs().astype(np.float32)
    (out,) = session.run(["probabilities"], {"features": X})
    np.testing.assert_allclose(out, model.predict(X), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="different"):
        snn.export_onnx(model, tmp_path / "x.onnx", input_name="x", output_name="x")


def test_default_opset(tmp_path: Path) -> None:
    assert MIN_OPSET <= DEFAULT <= onnx.defs.onnx_opset_version()
    proto = snn.export_onnx(snn.Sequential([snn.Dense(2, 1)]), tmp_path / "m.onnx")
    assert proto.opset_import[0].version == DEFAULT


@pytest.mark.parametrize("opset", [12, 0, "17", 10_000])
def test_bad_opset(opset, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="opset"):
        snn.export_onnx(snn.Sequential([snn.Dense(2, 1)]), path, opset=opset)
    assert not path.exists()


def test_metadata_round_trip(tmp_path: Path) -> None:
    model = snn.Sequential([snn.Dense(4, 3)], seed=0)
    model.metadata = {
        "classes": ["cat", "dog", "émeu"],
        "feature_names": ["a", "b", "c", "d"],
        "target": "animal",
        "task": "classification",
        "notes": "not exported",
    }
    path = tmp_path / "m.onnx"
    snn.export_onnx(model, path)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    decoded = {key: json.loads(value) for key, value in props.items()}
    assert decoded["scratchnn_version"] == snn.__version__
    assert decoded["classes"] == ["cat", "dog", "émeu"]
    assert decoded["feature_names"] == ["a", "b", "c", "d"]
    assert decoded["target"] == "animal"
    assert decoded["task"] == "classification"
    assert decoded["architecture"] == model.get_config()
    assert "notes" not in decoded
    # onnxruntime exposes the same strings.
    assert _session(path).get_modelmeta().custom_metadata_map == props

    bare = snn.Sequential([snn.Dense(4, 3)], seed=0)
    snn.export_onnx(bare, path)
    keys = {p.key for p in onnx.load(str(path)).metadata_props}
    assert keys == {"scratchnn_version", "architecture"}


class Double(snn.Layer):
    """A custom layer with no ONNX equivalent."""

    draws_at_build = False

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return 2 * x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return 2 * grad_out


class MyReLU(snn.ReLU):
    """A subclass may compute something else, so it is not exported as ReLU."""


@pytest.mark.parametrize(
    ("layers", "pattern"),
    [
        (lambda: [snn.Dense(3, 4), snn.ReLU(), Double()], r"Layer 2, Double\(\),"),
        (lambda: [snn.Dense(3, 4), MyReLU()], r"Layer 1, MyReLU\(\),"),
        (
            lambda: [snn.Dense(3, 4, activation=MyReLU())],
            r"Layer 0, Dense\(.*\) \(its activation MyReLU\(\)\)",
        ),
    ],
    ids=["custom_layer", "subclass", "custom_activation"],
)
def test_unsupported_layer(layers, pattern: str, tmp_path: Path) -> None:
    model = snn.Sequential(layers(), seed=0)
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=pattern):
        snn.export_onnx(model, path)
    assert list(tmp_path.iterdir()) == []
    # An existing file is left as it was.
    path.write_bytes(b"previous")
    with pytest.raises(ValueError, match="cannot be exported to ONNX"):
        snn.export_onnx(model, path)
    assert path.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [path]


def test_write_is_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")
    model = snn.Sequential([snn.Dense(3, 2)], seed=0)
    proto = snn.export_onnx(model, str(path))  # a str path works too
    assert path.read_bytes() == proto.SerializeToString()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    with pytest.raises(OSError):
        snn.export_onnx(model, tmp_path / "missing" / "m.onnx")
    assert list(tmp_path.iterdir()) == [path]


def test_import_scratchnn_does_not_import_onnx() -> None:
    code = (
        "import sys, scratchnn\n"
        "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules\n"
        "assert 'export_onnx' in scratchnn.__all__\n"
        "from scratchnn import export_onnx\n"
        "assert export_onnx is scratchnn.export_onnx\n"
        "assert 'onnx' not in sys.modules\n"  # imported on export, not on access
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_onnx_package(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    path = tmp_path / "m.onnx"
    with pytest.raises(ImportError, match=r"pip install 'scratchnn\[onnx\]'"):
        snn.export_onnx(snn.Sequential([snn.Dense(2, 1)]), path)
    assert not path.exists()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scratchnn", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_export(tmp_path: Path) -> None:
    model = _deep_model(np.float32)
    model.metadata = {"classes": [0, 1, 2], "feature_names": list("abcdef")}
    model.save(tmp_path / "model.npz")
    result = _cli("export", "model.npz", "out.onnx", "--opset", "17", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "out.onnx" in result.stdout
    proto = onnx.load(str(tmp_path / "out.onnx"))
    assert proto.opset_import[0].version == 17
    assert json.loads({p.key: p.value for p in proto.metadata_props}["classes"]) == [0, 1, 2]
    X = (_inputs() * 2 + 5).astype(np.float32)
    out = _run(tmp_path / "out.onnx", X)
    np.testing.assert_allclose(out, model.predict(X), rtol=1e-5, atol=1e-5)


def test_cli_export_missing_model(tmp_path: Path) -> None:
    result = _cli("export", "missing.npz", "out.onnx", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("scratchnn export: error:")
    assert "missing.npz" in lines[0]
    assert not (tmp_path / "out.onnx").exists()


def test_digits_model(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn")
    X, y = snn.datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1400], order[1400:]
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    standardize = snn.Standardize(64)
    standardize.adapt(X_train)
    model = snn.Sequential(
        [
            standardize,
            snn.Dense(64, 64),
            snn.BatchNorm1d(64),
            snn.ReLU(),
            snn.Dropout(0.2),
            snn.Dense(64, 10),
        ],
        seed=0,
    )
    optimizer = snn.optim.Adam(lr=3e-3)
    model.fit(X_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=5, verbose=0)
    model.metadata = {
        "classes": list(range(10)),
        "feature_names": [f"pixel_{i}" for i in range(64)],
    }
    path = tmp_path / "digits.onnx"
    snn.export_onnx(model, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)

    logits = _run(path, X_test)
    expected = model.predict(X_test)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    probabilities = model.loss.output_transform(logits)
    expected_probabilities = model.loss.output_transform(expected)
    np.testing.assert_allclose(probabilities, expected_probabilities, rtol=1e-5, atol=1e-5)
    predicted, reference = probabilities.argmax(axis=1), expected_probabilities.argmax(axis=1)
    top2 = np.sort(expected_probabilities, axis=1)[:, -2:]
    # The same classes, except (in principle) where the top two are tied to within rounding.
    assert np.all((predicted == reference) | (top2[:, 1] - top2[:, 0] < 1e-5))
    assert np.mean(reference == y_test) > 0.9  # a real, trained model
    meta = _session(path).get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == list(range(10))
