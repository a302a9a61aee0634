"""Export a trained :class:`~scratchnn.Sequential` model to ONNX, for inference anywhere.

Every inference-time layer becomes standard ONNX operators, so any ONNX runtime can run the
model without scratchnn:

- ``Dense`` → ``MatMul`` (+ ``Add`` with a bias), then its activation, if any;
- ``PackedDense`` → ``MatMul`` of the members' stacked weights (``Transpose`` to and from the
  members-first order) and ``Add``;
- ``Sigmoid``, ``Tanh``, ``ReLU`` → ``Sigmoid``, ``Tanh``, ``Relu``; ``LeakyReLU`` →
  ``LeakyRelu``; ``ELU`` → ``Elu``; ``GELU`` → ``Gelu`` from opset 20, else built from
  ``Erf`` (exact) or ``Tanh`` (``approximate="tanh"``); ``SiLU`` → ``x·Sigmoid(x)``;
  ``Softmax`` → ``Softmax(axis=-1)``; ``Identity`` and ``Dropout`` → nothing;
- ``BatchNorm1d`` (inference mode) → ``Sub``, ``Mul`` and ``Add`` with the running statistics,
  in the order ``BatchNorm1d`` computes them;
- ``LayerNorm`` → ``LayerNormalization`` from opset 17, else ``ReduceMean``, ``Sub``, ``Sqrt``
  and friends;
- ``Standardize`` → ``Sub`` + ``Div``.
- ``PeriodicEmbedding`` → ``Slice`` (the embedded features), ``Unsqueeze``, ``Mul`` (by
  ``2π C``), ``Sin`` and ``Cos``, ``Concat`` and ``Reshape`` (each feature's sines then
  cosines), ``Concat`` with the features passed through; ``PackedPeriodicEmbedding`` the
  same with the members' frequencies broadcast over a members' axis (its sines and cosines
  each reshaped to one block, then concatenated, in its default order);
- ``PiecewiseLinearEncoding`` → ``Slice`` and ``Unsqueeze`` (the encoded features), ``Max`` and
  ``Min`` with the bin edges, ``Sub``, ``Div`` (by the widths), ``Reshape``, ``Concat`` with the
  features passed through: the layer's operations in its order;
- ``Conv2D``/``Conv1D`` → ``Conv``; ``MaxPool2D`` → ``MaxPool``; ``AvgPool2D`` →
  ``AveragePool``; ``GlobalAvgPool2D`` → ``GlobalAveragePool`` + ``Flatten``; ``Flatten`` →
  ``Flatten``; ``Reshape`` → ``Reshape``; ``BatchNorm2d`` → ``BatchNormalization``;
  ``ToChannelsFirst`` → ``Transpose``;
  ``Dropout2d`` and ``RandomShift`` → nothing (float64: see below);

float64 models keep float64 throughout. ONNX Runtime's CPU kernels of ``LeakyRelu``, ``Elu``,
``Erf`` and exact ``Gelu`` take float32 only, and its float64 tanh ``Gelu`` and
``LayerNormalization`` are off by 1e-8 and 1e-12, so in float64 these layers are written with
elementary operators (``Max``, ``Min``, ``Exp``, ``Where``, ``ReduceMean``, ...), GELU's normal
distribution function with the same rational approximations as
:func:`scratchnn.functional.normal_cdf`: onnxruntime then matches ``predict`` within 1e-12.
ONNX Runtime has no float64 ``Conv``, ``AveragePool`` or ``GlobalAveragePool``: a float64
model writes them as im2col in the graph (a strided ``Slice`` per kernel position,
``Concat``, one ``MatMul``; ``ReduceMean`` for the pools).

The graph takes one input of shape ``("batch", in_features)`` in the model's dtype and returns
the model's raw output (what ``model.predict`` returns: logits, if the last layer is linear).
The model's metadata (scratchnn version, class labels, feature names, target, task and the
architecture) is stored in the ONNX ``metadata_props`` as JSON strings.

Needs the optional ``onnx`` extra: ``pip install 'scratchnn[onnx]'`` (``onnx`` to export,
``onnxruntime`` to run the result). ``import scratchnn`` never imports either. Example::

    import numpy as np
    import onnxruntime
    import scratchnn as snn

    model = snn.MLP([4, 16, 3], seed=0)
    snn.export_onnx(model, "model.onnx")                 # also: scratchnn export MODEL OUT.onnx
    session = onnxruntime.InferenceSession("model.onnx")
    X = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    (logits,) = session.run(None, {"input": X})          # equals model.predict(X)
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import atomic_write
from ._validation import check_int
from .layers import (
    ELU,
    GELU,
    BatchNorm1d,
    Dense,
    Dropout,
    Identity,
    Layer,
    LayerNorm,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Standardize,
    Tanh,
)
from .layers.attention import MultiHeadAttention
from .layers.augmentation import RandomShift
from .layers.conv import Conv1D, Conv2D
from .layers.embedding import Embedding, PositionalEmbedding, SinusoidalEncoding
from .layers.ensemble import Average, Chain
from .layers.normalization2d import BatchNorm2d
from .layers.numeric_embedding import PeriodicEmbedding, PiecewiseLinearEncoding
from .layers.packed import PackedDense, PackedPeriodicEmbedding
from .layers.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .layers.recurrent import GRU, LSTM, RNN
from .layers.regularization2d import Dropout2d
from .layers.reshape import Flatten, Reshape, ToChannelsFirst
from .layers.residual import Residual

if TYPE_CHECKING:
    import onnx

    from .model import Sequential

__all__ = ["MIN_OPSET", "default_opset", "export_onnx"]

#: The lowest opset the exporter writes (``Softmax`` and ``ReduceMean`` take their current
#: meaning from 13 on).
MIN_OPSET = 13

_INSTALL_HINT = "ONNX export needs the onnx package: pip install 'scratchnn[onnx]'"


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as error:
        raise ImportError(f"{_INSTALL_HINT} ({error}).") from error
    return onnx


def _onnxruntime_max_opset() -> int | None:
    """The newest ``ai.onnx`` opset that the installed onnxruntime knows, or None if it is not
    installed (or does not say)."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
    except ImportError:
        return None
    try:
        schemas = ort_state.get_all_operator_schema()
        versions = [s.since_version for s in schemas if s.domain in ("", "ai.onnx")]
    except Exception:  # a private API: if it changes, fall back to onnx's own limit
        return None
    return max(versions) if versions else None


@functools.lru_cache(maxsize=1)
def default_opset() -> int:
    """The highest opset that both the installed onnx and onnxruntime support (onnx's alone
    when onnxruntime is not installed), but at least :data:`MIN_OPSET`."""
    onnx = _import_onnx()
    opset = onnx.defs.onnx_opset_version()
    runtime = _onnxruntime_max_opset()
    if runtime is not None:
        opset = min(opset, runtime)
    return max(opset, MIN_OPSET)


class Graph:
    """Collects nodes and initializers; every value is named ``<layer>/<what>``."""

    def __init__(self, onnx: Any, dtype: np.dtype, opset: int) -> None:
        self.onnx = onnx
        self.dtype = dtype
        self.opset = opset
        self.float64 = dtype == np.float64
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()
        self.prefix = ""

    def reserve(self, names: set[str]) -> None:
        """Keep ``names`` (the graph's input and output) from being given to any node."""
        self._names.update(names)

    def unique(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2``, ... if it is taken: a name no value has yet."""
        candidate, k = name, 1
        while candidate in self._names:
            candidate = f"{name}_{k}"
            k += 1
        self._names.add(candidate)
        return candidate

    def constant(self, name: str, value: Any, dtype: Any = None) -> str:
        """An initializer named ``<layer>.<name>`` in the model's dtype (or ``dtype``)."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        full = self.unique(f"{self.prefix}.{name}")
        self.initializers.append(self.onnx.numpy_helper.from_array(array, full))
        return full

    def op(self, op_type: str, inputs: list[str], **attributes: Any) -> str:
        """Add one node with one output; returns the output's name."""
        output = self.unique(f"{self.prefix}/{op_type}")
        node = self.onnx.helper.make_node(op_type, inputs, [output], name=output, **attributes)
        self.nodes.append(node)
        return output

    def rename_output(self, old: str, new: str) -> None:
        """Make the node that produces ``old`` write ``new`` instead (``old`` has no readers)."""
        for node in self.nodes:
            for i, name in enumerate(node.output):
                if name == old:
                    node.output[i] = new


# Lowerings: each takes the graph, the layer and its input's name, and returns the output's.
_Lowering = Callable[[Graph, Any, str], str]


def _identity(g: Graph, layer: Layer, x: str) -> str:
    return x


def _simple(op_type: str) -> _Lowering:
    def lower(g: Graph, layer: Layer, x: str) -> str:
        return g.op(op_type, [x])

    return lower


# ONNX Runtime's CPU kernels of LeakyRelu, Elu, Erf and exact Gelu take float32 only (and its
# float64 tanh Gelu and LayerNormalization lose precision), so a float64 model writes these with
# elementary operators that every runtime has in float64, keeping float64's accuracy.


def _leaky_relu(g: Graph, layer: LeakyReLU, x: str) -> str:
    if not g.float64:
        return g.op("LeakyRelu", [x], alpha=layer.alpha)
    # max(x, 0) + α min(x, 0): one of the two terms is exactly 0.
    zero = g.constant("zero", 0.0)
    negative = g.op("Mul", [g.op("Min", [x, zero]), g.constant("alpha", layer.alpha)])
    return g.op("Add", [g.op("Max", [x, zero]), negative])


def _elu(g: Graph, layer: ELU, x: str) -> str:
    if not g.float64:
        return g.op("Elu", [x], alpha=layer.alpha)
    # max(x, 0) + α (exp(min(x, 0)) - 1)
    zero = g.constant("zero", 0.0)
    expm1 = g.op("Sub", [g.op("Exp", [g.op("Min", [x, zero])]), g.constant("one", 1.0)])
    negative = g.op("Mul", [expm1, g.constant("alpha", layer.alpha)])
    return g.op("Add", [g.op("Max", [x, zero]), negative])


def _polyval(g: Graph, name: str, coefficients: tuple[float, ...], x: str) -> str:
    """Horner's rule, highest power first, in the order ``np.polyval`` computes it."""
    y = g.constant(f"{name}0", coefficients[0])
    for i, c in enumerate(coefficients[1:], start=1):
        y = g.op("Add", [g.op("Mul", [y, x]), g.constant(f"{name}{i}", c)])
    return y


def _normal_cdf(g: Graph, x: str) -> str:
    """Φ(x) exactly as :func:`scratchnn.functional.normal_cdf` computes it (Cephes' rational
    approximations of erf and erfc), from Abs, Exp, Less and Where."""
    from .functional import ERF_T, ERF_U, ERFC_P, ERFC_Q, ERFC_R, ERFC_S

    z = g.op("Mul", [x, g.constant("inv_sqrt2", 1 / math.sqrt(2))])
    a = g.op("Abs", [z])
    half, one = g.constant("half", 0.5), g.constant("one", 1.0)
    # |z| < 1: ½ + ½ z T(z²)/U(z²)
    z2 = g.op("Mul", [z, z])
    series = g.op("Mul", [g.op("Mul", [half, z]), _polyval(g, "erf_t", ERF_T, z2)])
    series = g.op("Div", [series, _polyval(g, "erf_u", ERF_U, z2)])
    near = g.op("Add", [half, series])
    # Otherwise ½ erfc(|z|) below zero and 1 - ½ erfc(|z|) above, erfc(a) = exp(-a²) P/Q.
    middle = g.op("Div", [_polyval(g, "erfc_p", ERFC_P, a), _polyval(g, "erfc_q", ERFC_Q, a)])
    tail = g.op("Div", [_polyval(g, "erfc_r", ERFC_R, a), _polyval(g, "erfc_s", ERFC_S, a)])
    ratio = g.op("Where", [g.op("Less", [a, g.constant("eight", 8.0)]), middle, tail])
    erfc = g.op("Mul", [g.op("Exp", [g.op("Neg", [g.op("Mul", [a, a])])]), ratio])
    half_tail = g.op("Mul", [half, erfc])
    zero = g.constant("zero", 0.0)
    far = g.op("Where", [g.op("Less", [z, zero]), half_tail, g.op("Sub", [one, half_tail])])
    return g.op("Where", [g.op("Less", [a, one]), near, far])


def _gelu(g: Graph, layer: GELU, x: str) -> str:
    exact = layer.approximate == "none"
    if exact and g.float64:
        return g.op("Mul", [x, _normal_cdf(g, x)])
    if g.opset >= 20 and not g.float64:  # (ORT's float64 tanh Gelu is off by ~1e-8)
        return g.op("Gelu", [x], approximate=layer.approximate)
    half_x = g.op("Mul", [x, g.constant("half", 0.5)])
    if not exact:
        # ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.constant("c", GELU._C)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.constant("k", GELU._K)])])
    else:
        # ½ x (1 + erf(x / √2))
        t = g.op("Erf", [g.op("Mul", [x, g.constant("inv_sqrt2", 1 / math.sqrt(2))])])
    return g.op("Mul", [half_x, g.op("Add", [t, g.constant("one", 1.0)])])


def _silu(g: Graph, layer: SiLU, x: str) -> str:
    return g.op("Mul", [x, g.op("Sigmoid", [x])])


def _softmax(g: Graph, layer: Softmax, x: str) -> str:
    return g.op("Softmax", [x], axis=-1)


def _dense(g: Graph, layer: Dense, x: str) -> str:
    z = g.op("MatMul", [x, g.constant("W", layer.params["W"])])
    if layer.bias:
        z = g.op("Add", [z, g.constant("b", layer.params["b"])])
    if layer.activation is not None:
        z = _LOWERINGS[type(layer.activation)](g, layer.activation, z)
    return z


def _packed_dense(g: Graph, layer: PackedDense, x: str) -> str:
    # z_k = x_k W_k + b_k for every member k, one batched MatMul over the members' axis:
    # (K, batch, in) @ (K, in, out), or (batch, in) @ (K, in, out) broadcast for a shared input.
    xs = x if layer.shared_input else g.op("Transpose", [x], perm=[1, 0, 2])
    z = g.op("MatMul", [xs, g.constant("W", layer.params["W"])])  # (K, batch, out)
    z = g.op("Add", [z, g.constant("b", layer.params["b"][:, None, :])])
    return g.op("Transpose", [z], perm=[1, 0, 2])  # (batch, K, out)


def _batchnorm(g: Graph, layer: BatchNorm1d, x: str) -> str:
    # At inference a fixed per-feature affine map, written as BatchNorm1d.forward computes it:
    # (x - running_mean) · (1/√(running_var + ε)) · γ + β. Runtimes fold ONNX's
    # BatchNormalization into x·s + t, which cancels (losing precision) when |mean| >> std.
    var = np.asarray(layer.buffers["running_var"], dtype=g.dtype)
    inv_std = 1 / np.sqrt(var + layer.eps)
    y = g.op("Sub", [x, g.constant("running_mean", layer.buffers["running_mean"])])
    y = g.op("Mul", [y, g.constant("inv_std", inv_std)])
    if layer.affine:
        y = g.op("Mul", [y, g.constant("gamma", layer.params["gamma"])])
        y = g.op("Add", [y, g.constant("beta", layer.params["beta"])])
    return y


def _layernorm(g: Graph, layer: LayerNorm, x: str) -> str:
    if g.opset >= 17 and not g.float64:
        gamma = layer.params["gamma"] if layer.affine else np.ones(layer.num_features)
        inputs = [x, g.constant("gamma", gamma)]
        if layer.affine:
            inputs.append(g.constant("beta", layer.params["beta"]))
        return g.op("LayerNormalization", inputs, axis=-1, epsilon=layer.eps)
    # (x - μ) / √(σ² + ε) · γ + β, with μ and σ² over the last axis, as LayerNorm.forward.
    # (Also for float64 models: ONNX Runtime's float64 LayerNormalization is off by ~1e-12.)
    centered = g.op("Sub", [x, _mean_last_axis(g, x)])
    var = _mean_last_axis(g, g.op("Mul", [centered, centered]))
    std = g.op("Sqrt", [g.op("Add", [var, g.constant("eps", layer.eps)])])
    y = g.op("Mul", [centered, g.op("Reciprocal", [std])])
    if layer.affine:
        y = g.op("Mul", [y, g.constant("gamma", layer.params["gamma"])])
        y = g.op("Add", [y, g.constant("beta", layer.params["beta"])])
    return y


def _mean_last_axis(g: Graph, x: str) -> str:
    if g.opset >= 18:  # the axes became an input in opset 18
        return g.op("ReduceMean", [x, g.constant("axes", [-1], np.int64)], keepdims=1)
    return g.op("ReduceMean", [x], axes=[-1], keepdims=1)


def _standardize(g: Graph, layer: Standardize, x: str) -> str:
    centered = g.op("Sub", [x, g.constant("mean", layer.buffers["mean"])])
    return g.op("Div", [centered, g.constant("std", layer.buffers["std"])])


#: The exportable layer types, matched exactly: a subclass may compute something else.
_LOWERINGS: dict[type, _Lowering] = {
    Identity: _identity,
    Dropout: _identity,  # the identity at inference
    Sigmoid: _simple("Sigmoid"),
    Tanh: _simple("Tanh"),
    ReLU: _simple("Relu"),
    LeakyReLU: _leaky_relu,
    ELU: _elu,
    GELU: _gelu,
    SiLU: _silu,
    Softmax: _softmax,
    Dense: _dense,
    PackedDense: _packed_dense,
    BatchNorm1d: _batchnorm,
    LayerNorm: _layernorm,
    Standardize: _standardize,
}


# --------------------------------------------------------------------------------------------
# Convolutional networks: Conv2D, Conv1D, pooling, Flatten, BatchNorm2d (NCHW, as ONNX).
# --------------------------------------------------------------------------------------------


def _conv_attributes(layer: Conv1D | Conv2D) -> dict[str, Any]:
    """Conv's attributes; ONNX's pads list every axis's start, then every axis's end."""
    return {
        "kernel_shape": list(layer.kernel_size),
        "strides": list(layer.stride),
        "pads": [a for a, _ in layer.pads] + [b for _, b in layer.pads],
        "dilations": list(layer.dilation),
        "group": layer.groups,
    }


def _receptive_fields(
    g: Graph,
    x: str,
    pads: tuple[tuple[int, int], ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[str, str]:
    """im2col in the graph, for float64 (ONNX Runtime has no float64 Conv or AveragePool):
    ``(batch, C, K, *out)`` with the ``K = ∏ kernel`` taps of every receptive field, and the
    first tap ``(batch, C, *out)``, whose Shape gives the output's size. Tap ``p`` along an
    axis reads ``x[p·d :: s]`` up to ``d·(k-1-p)`` from the end: exactly ``out`` values."""
    rank = len(kernel)
    if any(a or b for a, b in pads):
        widths = [0, 0, *(a for a, _ in pads), 0, 0, *(b for _, b in pads)]
        x = g.op("Pad", [x, g.constant("pads", widths, np.int64)])
    axes = g.constant("axes", list(range(2, 2 + rank)), np.int64)
    steps = g.constant("steps", list(stride), np.int64)
    taps = []
    for position in itertools.product(*map(range, kernel)):
        starts = [p * d for p, d in zip(position, dilation, strict=True)]
        ends = [
            -d * (k - 1 - p) if k - 1 - p else np.iinfo(np.int64).max
            for p, d, k in zip(position, dilation, kernel, strict=True)
        ]
        tap = g.op(
            "Slice",
            [
                x,
                g.constant("starts", starts, np.int64),
                g.constant("ends", ends, np.int64),
                axes,
                steps,
            ],
        )
        taps.append(tap)
    two = g.constant("axis_2", [2], np.int64)
    stacked = g.op("Concat", [g.op("Unsqueeze", [tap, two]) for tap in taps], axis=2)
    return stacked, taps[0]


def _conv(g: Graph, layer: Conv1D | Conv2D, x: str) -> str:
    W = layer.params["W"]
    if not g.float64:
        inputs = [x, g.constant("W", W)]
        if layer.bias:
            inputs.append(g.constant("b", layer.params["b"]))
        return g.op("Conv", inputs, **_conv_attributes(layer))
    G, n_out = layer.groups, layer.out_channels
    fields, tap = _receptive_fields(
        g, x, layer.pads, layer.kernel_size, layer.stride, layer.dilation
    )
    # (batch, C, K, *out) -> (batch, G, C/G·K, L): each group's columns, then one product.
    rows = W[0].size
    cols = g.op("Reshape", [fields, g.constant("cols_shape", [0, G, rows, -1], np.int64)])
    kernels = g.constant("W", W.reshape(G, n_out // G, rows))
    z = g.op("MatMul", [kernels, cols])  # (batch, G, O/G, L)
    spatial = g.op(
        "Slice",
        [
            g.op("Shape", [tap]),
            g.constant("from", [2], np.int64),
            g.constant("to", [2 + layer.rank], np.int64),
        ],
    )
    shape = g.op("Concat", [g.constant("batch_channels", [0, n_out], np.int64), spatial], axis=0)
    z = g.op("Reshape", [z, shape])
    if layer.bias:
        z = g.op("Add", [z, g.constant("b", layer.params["b"].reshape(-1, *[1] * layer.rank))])
    return z


def _reduce_mean(g: Graph, x: str, axes: list[int]) -> str:
    if g.opset >= 18:  # the axes became an input in opset 18
        return g.op("ReduceMean", [x, g.constant("axes", axes, np.int64)], keepdims=0)
    return g.op("ReduceMean", [x], axes=axes, keepdims=0)


def _max_pool(g: Graph, layer: MaxPool2D, x: str) -> str:
    (ph, pw), kernel, stride = layer.padding, layer.kernel_size, layer.stride
    return g.op(
        "MaxPool", [x], kernel_shape=list(kernel), strides=list(stride), pads=[ph, pw, ph, pw]
    )


def _avg_pool(g: Graph, layer: AvgPool2D, x: str) -> str:
    (ph, pw), kernel, stride = layer.padding, layer.kernel_size, layer.stride
    if not g.float64:
        return g.op(
            "AveragePool",
            [x],
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=[ph, pw, ph, pw],
            count_include_pad=1,
        )
    fields, _ = _receptive_fields(g, x, ((ph, ph), (pw, pw)), kernel, stride, (1, 1))
    return _reduce_mean(g, fields, [2])  # zero padding counted, as count_include_pad=1


def _global_avg_pool(g: Graph, layer: GlobalAvgPool2D, x: str) -> str:
    if g.float64:
        return _reduce_mean(g, x, [2, 3])
    return g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)


def _batchnorm2d(g: Graph, layer: BatchNorm2d, x: str) -> str:
    C = layer.num_features
    gamma = layer.params["gamma"] if layer.affine else np.ones(C)
    beta = layer.params["beta"] if layer.affine else np.zeros(C)
    inputs = [
        x,
        g.constant("gamma", gamma),
        g.constant("beta", beta),
        g.constant("running_mean", layer.buffers["running_mean"]),
        g.constant("running_var", layer.buffers["running_var"]),
    ]
    return g.op("BatchNormalization", inputs, epsilon=layer.eps)


_LOWERINGS.update(
    {
        Conv1D: _conv,
        Conv2D: _conv,
        MaxPool2D: _max_pool,
        AvgPool2D: _avg_pool,
        GlobalAvgPool2D: _global_avg_pool,
        Flatten: lambda g, layer, x: g.op("Flatten", [x], axis=1),
        ToChannelsFirst: lambda g, layer, x: g.op("Transpose", [x], perm=[0, 3, 1, 2]),
        Reshape: lambda g, layer, x: g.op(
            "Reshape", [x, g.constant("shape", [0, *layer.shape], np.int64)]
        ),
        BatchNorm2d: _batchnorm2d,
        Dropout2d: _identity,  # the identity at inference
        RandomShift: _identity,  # augmentation: training only
    }
)


# --------------------------------------------------------------------------------------------
# Sequences: embeddings, positional encodings, Residual, MultiHeadAttention, RNN/LSTM/GRU.
# Inputs are (batch, time, features); token ids arrive in the model's float dtype (as predict
# casts them) and are cast to int64 for the lookup. The sequence length is dynamic: positions
# and the causal mask are computed from the input's shape, so any length works.
# --------------------------------------------------------------------------------------------


def _sequence_length(g: Graph, x: str) -> str:
    """The time axis's size, as a 1-element int64 tensor."""
    return g.op("Slice", [g.op("Shape", [x]), *_ints(g, "time_axis", [1], [2])])


def _ints(g: Graph, name: str, *values: list[int]) -> list[str]:
    return [g.constant(f"{name}_{i}", v, np.int64) for i, v in enumerate(values)]


def _positions(g: Graph, x: str) -> str:
    """``0, 1, ..., T-1`` for the input's T, as an int64 vector."""
    steps = g.op("Squeeze", [_sequence_length(g, x), g.constant("axis0", [0], np.int64)])
    start, step = (g.constant(n, v, np.int64) for n, v in (("zero", 0), ("one", 1)))
    return g.op("Range", [start, steps, step])


def _embedding(g: Graph, layer: Embedding, x: str) -> str:
    ids = g.op("Cast", [x], to=g.onnx.TensorProto.INT64)
    return g.op("Gather", [g.constant("W", layer.params["W"]), ids], axis=0)


def _positional_embedding(g: Graph, layer: PositionalEmbedding, x: str) -> str:
    ends = _sequence_length(g, x)
    starts, axes = _ints(g, "slice", [0], [0])
    table = g.op("Slice", [g.constant("P", layer.params["P"]), starts, ends, axes])
    return g.op("Add", [x, table])


def _sinusoidal(g: Graph, layer: SinusoidalEncoding, x: str) -> str:
    # E[t, j] = sin(t·f_j + φ_j): f_j = base^(-2⌊j/2⌋/D), φ_j = 0 (even j) or π/2 (odd j: cos).
    dim = layer.embedding_dim
    j = np.arange(dim)
    frequencies = layer.base ** (-(j - j % 2) / dim)
    phases = np.where(j % 2, np.pi / 2, 0.0)
    t = g.op("Cast", [_positions(g, x)], to=g.onnx.helper.np_dtype_to_tensor_dtype(g.dtype))
    t = g.op("Unsqueeze", [t, g.constant("axis1", [1], np.int64)])  # (T, 1)
    angles = g.op(
        "Add", [g.op("Mul", [t, g.constant("f", frequencies)]), g.constant("phi", phases)]
    )
    return g.op("Add", [x, g.op("Sin", [angles])])


def _periodic_embedding(
    g: Graph, layer: PeriodicEmbedding | PackedPeriodicEmbedding, x: str
) -> str:
    # a = 2π C x_j for the first m features: (batch, m, 1) · (m, k) -> (batch, m, k); packed,
    # (batch, 1, m, 1) · (K, m, k) -> (batch, K, m, k), the passed-through features repeated
    # for every member
    m, k, n = layer.numeric, layer.frequencies, layer.in_features
    packed = isinstance(layer, PackedPeriodicEmbedding)
    starts, ends, axes = _ints(g, "slice", [0], [m], [1])
    numeric = g.op("Unsqueeze", [g.op("Slice", [x, starts, ends, axes]), _ints(g, "axis", [2])[0]])
    if packed:
        numeric = g.op("Unsqueeze", [numeric, _ints(g, "members_axis", [1])[0]])
    angles = g.op("Mul", [numeric, g.constant("two_pi_C", 2 * np.pi * layer.params["C"])])
    last = 3 if packed else 2
    if packed and layer.order == "blocks":  # all sines, then all cosines: (batch, K, 2·m·k)
        shape = g.constant("shape", [0, layer.members, m * k], np.int64)
        sines = g.op("Reshape", [g.op("Sin", [angles]), shape])
        cosines = g.op("Reshape", [g.op("Cos", [angles]), shape])
        embedded = g.op("Concat", [sines, cosines], axis=2)
    else:  # each feature's sines, then its cosines
        waves = g.op("Concat", [g.op("Sin", [angles]), g.op("Cos", [angles])], axis=last)
        shape = [0, layer.members, 2 * k * m] if packed else [-1, 2 * k * m]
        embedded = g.op("Reshape", [waves, g.constant("shape", shape, np.int64)])
    s = layer.passed  # the first feature passed through
    if s == n:
        return embedded
    starts, ends, axes = _ints(g, "rest", [s], [n], [1])
    rest = g.op("Slice", [x, starts, ends, axes])
    if packed:  # (batch, n - s) -> (batch, K, n - s)
        rest = g.op("Unsqueeze", [rest, _ints(g, "rest_axis", [1])[0]])
        rest = g.op("Expand", [rest, _ints(g, "rest_shape", [1, layer.members, n - s])[0]])
    return g.op("Concat", [embedded, rest], axis=last - 1)


def _piecewise_linear(g: Graph, layer: PiecewiseLinearEncoding, x: str) -> str:
    # e = (min(max(x_j, b_{t-1}), b_t) - b_{t-1}) / w_t for the first m features:
    # (batch, m, 1) against (m, T) -> (batch, m, T) -> (batch, m·T), then the rest
    m, T, n = layer.numeric, layer.bins, layer.in_features
    bins = layer.bin_arrays()  # (a bin that cannot be used collapsed onto its lower edge)
    starts, ends, axes = _ints(g, "slice", [0], [m], [1])
    numeric = g.op("Unsqueeze", [g.op("Slice", [x, starts, ends, axes]), _ints(g, "axis", [2])[0]])
    low = g.constant("lower", bins.lower)
    held = g.op("Min", [g.op("Max", [numeric, low]), g.constant("upper", bins.upper)])
    pieces = g.op("Div", [g.op("Sub", [held, low]), g.constant("width", bins.width)])
    encoded = g.op("Reshape", [pieces, g.constant("shape", [-1, m * T], np.int64)])
    s = layer.passed
    if s == n:
        return encoded
    starts, ends, axes = _ints(g, "rest", [s], [n], [1])
    return g.op("Concat", [encoded, g.op("Slice", [x, starts, ends, axes])], axis=1)


def _residual(g: Graph, layer: Residual, x: str) -> str:
    """``x + f(x)``, ``f`` the block's layers one after the other (as a Chain)."""
    return g.op("Add", [x, _chain(g, layer, x)])


def _lower_inside(g: Graph, inner: Any, x: str, prefix: str, where: str) -> str:
    """A container's layer ``inner`` lowered with its names under ``prefix``; ``where`` names
    it in the error when it has no ONNX equivalent."""
    if type(inner) not in _LOWERINGS:
        raise ValueError(
            f"{where} cannot be exported to ONNX: {type(inner).__name__} has no ONNX equivalent."
        )
    g.prefix = prefix
    return _LOWERINGS[type(inner)](g, inner, x)


def _chain(g: Graph, layer: Chain | Residual, x: str) -> str:
    prefix = g.prefix
    for j, inner in enumerate(layer.layers):
        name = f"{prefix}.{type(inner).__name__.lower()}_{j}"
        x = _lower_inside(g, inner, x, name, f"{inner!r} inside {type(layer).__name__}")
    g.prefix = prefix
    return x


def _average(g: Graph, layer: Average, x: str) -> str:
    # the members one after the other on the same input, then Sum / k: one graph
    prefix = g.prefix
    outputs = [
        _lower_inside(g, member, x, f"{prefix}.member_{j}", f"Member {j} of Average, {member!r},")
        for j, member in enumerate(layer.layers)
    ]
    g.prefix = prefix
    total = outputs[0] if len(outputs) == 1 else g.op("Sum", outputs)
    return g.op("Div", [total, g.constant("members", float(len(outputs)))])


def _attention(g: Graph, layer: MultiHeadAttention, x: str) -> str:
    E, n, d = layer.embed_dim, layer.num_heads, layer.head_dim
    qkv = g.op("MatMul", [x, g.constant("W_qkv", layer.params["W_qkv"])])
    if layer.bias:
        qkv = g.op("Add", [qkv, g.constant("b_qkv", layer.params["b_qkv"])])
    # (B, T, 3E) -> (3, B, heads, T, d), then q, k, v by Gather on the first axis.
    qkv = g.op("Reshape", [qkv, g.constant("split_heads", [0, 0, 3, n, d], np.int64)])
    qkv = g.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])
    q, k, v = (
        g.op("Gather", [qkv, g.constant(f"index_{name}", i, np.int64)], axis=0)
        for i, name in enumerate("qkv")
    )
    scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = g.op("Mul", [scores, g.constant("scale", 1 / math.sqrt(d))])
    if layer.causal:  # key j visible from query i where j <= i: a (T, T) mask from the length
        positions = _positions(g, x)
        rows = g.op("Unsqueeze", [positions, g.constant("axis1", [1], np.int64)])
        allowed = g.op("GreaterOrEqual", [rows, positions])
        scores = g.op("Where", [allowed, scores, g.constant("minus_inf", -np.inf)])
    weights = g.op("Softmax", [scores], axis=-1)
    heads = g.op("Transpose", [g.op("MatMul", [weights, v])], perm=[0, 2, 1, 3])
    merged = g.op("Reshape", [heads, g.constant("merge_heads", [0, 0, E], np.int64)])
    y = g.op("MatMul", [merged, g.constant("W_o", layer.params["W_o"])])
    if layer.bias:
        y = g.op("Add", [y, g.constant("b_o", layer.params["b_o"])])
    return y


# ONNX's recurrent operators: weights (1, G·H, F) and (1, G·H, H) with the gates in ONNX's
# order, biases [input side, hidden side] (1, 2·G·H), sequences time-major.
_ONNX_GATE_ORDER = {LSTM: [0, 3, 1, 2], GRU: [1, 0, 2], RNN: [0]}  # iofc; zrh; one


def _recurrent(g: Graph, layer: RNN | LSTM | GRU, x: str) -> str:
    if g.float64:
        raise ValueError(
            f"{layer!r} is exported with ONNX's {type(layer).__name__} operator, which ONNX "
            "Runtime runs in float32 only; export a float32 copy (model.clone(dtype='float32'))."
        )
    H, order = layer.hidden_size, _ONNX_GATE_ORDER[type(layer)]

    def gates(array: np.ndarray) -> np.ndarray:  # scratchnn's (…, G·H) columns, reordered
        blocks = np.split(array, len(order), axis=-1)
        return np.concatenate([blocks[i] for i in order], axis=-1)

    W = gates(layer.params["W"]).T[None]
    R = gates(layer.params["U"]).T[None]
    hidden_bias = (
        layer.params["b_h"] if isinstance(layer, GRU) else np.zeros_like(layer.params["b"])
    )
    B = np.concatenate([gates(layer.params["b"]), gates(hidden_bias)])[None]
    inputs = [g.op("Transpose", [x], perm=[1, 0, 2]), g.constant("W", W), g.constant("R", R)]
    inputs.append(g.constant("B", B))
    attributes: dict[str, Any] = {"hidden_size": H}
    if isinstance(layer, GRU):
        attributes["linear_before_reset"] = 1  # r ⊙ (h U_n + b_hn), as PyTorch and scratchnn
    if isinstance(layer, RNN):
        attributes["activations"] = ["Tanh" if layer.nonlinearity == "tanh" else "Relu"]
    name = g.unique(f"{g.prefix}/{type(layer).__name__}")
    outputs = [f"{name}/Y", f"{name}/Y_h"] + ([f"{name}/Y_c"] if isinstance(layer, LSTM) else [])
    g.nodes.append(
        g.onnx.helper.make_node(type(layer).__name__, inputs, outputs, name=name, **attributes)
    )
    if layer.return_sequences:  # Y: (T, 1, B, H) -> (B, T, H)
        y = g.op("Squeeze", [outputs[0], g.constant("axis1", [1], np.int64)])
        return g.op("Transpose", [y], perm=[1, 0, 2])
    return g.op("Squeeze", [outputs[1], g.constant("axis0", [0], np.int64)])  # Y_h: (1, B, H)


_LOWERINGS.update(
    {
        Embedding: _embedding,
        PeriodicEmbedding: _periodic_embedding,
        PackedPeriodicEmbedding: _periodic_embedding,
        PiecewiseLinearEncoding: _piecewise_linear,
        PositionalEmbedding: _positional_embedding,
        SinusoidalEncoding: _sinusoidal,
        Residual: _residual,
        Chain: _chain,
        Average: _average,
        MultiHeadAttention: _attention,
        RNN: _recurrent,
        LSTM: _recurrent,
        GRU: _recurrent,
    }
)


def _check_exportable(model: Sequential) -> None:
    supported = ", ".join(sorted(t.__name__ for t in _LOWERINGS))
    for index, layer in enumerate(model.layers):
        parts = [layer]
        if isinstance(layer, Dense) and layer.activation is not None:
            parts.append(layer.activation)
        for part in parts:
            if type(part) not in _LOWERINGS:
                inner = "" if part is layer else f" (its activation {part!r})"
                raise ValueError(
                    f"Layer {index}, {layer!r}{inner}, cannot be exported to ONNX: "
                    f"{type(part).__name__} has no ONNX equivalent. Exportable layers: "
                    f"{supported}."
                )


def _metadata_props(model: Sequential) -> dict[str, str]:
    from ._version import __version__

    meta = model.metadata or {}
    props = {"scratchnn_version": __version__}
    for key in ("classes", "feature_names", "target", "task"):
        if meta.get(key) is not None:
            props[key] = meta[key]
    props["architecture"] = model.get_config()
    return {key: json.dumps(value) for key, value in props.items()}


def _dims(shape: tuple[int | None, ...]) -> list[int | str]:
    """A value's ONNX dimensions: a dynamic ``"batch"``, then one sample's shape, with a named
    dynamic dimension (``"dim_2"``) where any size fits."""
    return [
        "batch",
        *(f"dim_{axis}" if size is None else size for axis, size in enumerate(shape, 1)),
    ]


def _check_opset(onnx: Any, opset: int | None) -> int:
    if opset is None:
        return default_opset()
    newest = onnx.defs.onnx_opset_version()
    # The newest opset is the one the installed onnx knows.
    return check_int("opset", opset, MIN_OPSET, newest)


def _write_atomically(data: bytes, path: Path) -> None:
    with atomic_write(path) as handle:
        handle.write(data)


def export_onnx(
    model: Sequential,
    path: str | os.PathLike[str],
    opset: int | None = None,
    input_name: str = "input",
    output_name: str = "output",
) -> onnx.ModelProto:
    """Write ``model`` to ``path`` as an ONNX model and return it.

    The graph computes ``model.predict``: inference mode (dropout off, batch normalization
    with its running statistics), input ``input_name`` of shape ``("batch", in_features)``
    with a dynamic batch size, output ``output_name`` of shape ``("batch", out_features)``,
    both in the model's dtype (float32 or float64), as are the weights. The file is written
    atomically (a temporary file, then a rename), and only after the graph passes
    ``onnx.checker``.

    A model with a table encoder (``model.preprocessor``, :mod:`scratchnn.tables`) gets the
    whole pipeline instead: one input per raw column, ``("batch", 1)``, double for numbers
    (NaN = missing) and string for categories, and a ``target_transform`` scaler is undone on
    the output, so the graph answers in the target's units
    (:func:`scratchnn.tables.export.raw_feeds` builds the inputs from raw rows).

    Args:
        model: the model to export.
        path: the ``.onnx`` file to write.
        opset: the ``ai.onnx`` opset version, at least 13; None (default) picks the highest
            that both the installed onnx and onnxruntime support.
        input_name, output_name: the names of the graph's input and output.

    Returns:
        The ``onnx.ModelProto`` that was written.

    Raises:
        ValueError: if a layer has no ONNX equivalent (e.g. a custom layer), naming it and
            its index; or on a bad ``opset`` or names. Nothing is written.
        ImportError: if the ``onnx`` package is not installed.
    """
    _check_exportable(model)
    if not (isinstance(input_name, str) and isinstance(output_name, str)):
        raise ValueError("input_name and output_name must be strings.")
    if not input_name or not output_name or input_name == output_name:
        raise ValueError(
            "input_name and output_name must be different, non-empty names. Received: "
            f"input_name={input_name!r}, output_name={output_name!r}."
        )
    onnx = _import_onnx()
    helper = onnx.helper
    opset = _check_opset(onnx, opset)
    dtype = np.dtype(model.dtype)
    elem_type = helper.np_dtype_to_tensor_dtype(dtype)

    g = Graph(onnx, dtype, opset)
    g.reserve({input_name, output_name})
    value = input_name
    inputs = [helper.make_tensor_value_info(input_name, elem_type, _dims(model.input_shape))]
    preprocessor = getattr(model, "preprocessor", None)
    target_transform = getattr(model, "target_transform", None)
    if preprocessor is not None:  # a table encoder: one raw input per column (scratchnn.tables)
        from .tables.export import lower_encoder

        inputs, value = lower_encoder(g, preprocessor)
    for index, layer in enumerate(model.layers):
        g.prefix = f"{type(layer).__name__.lower()}_{index}"
        value = _LOWERINGS[type(layer)](g, layer, value)
    if target_transform is not None:
        from .tables.export import lower_target

        value = lower_target(g, target_transform, value)
    if value == input_name:  # every layer was an identity
        g.prefix = "output"
        value = g.op("Identity", [value])
    g.rename_output(value, output_name)

    graph = helper.make_graph(
        g.nodes,
        "scratchnn",
        inputs,
        [helper.make_tensor_value_info(output_name, elem_type, _dims(model.output_shape))],
        initializer=g.initializers,
        doc_string=repr(model),
    )
    opset_imports = [helper.make_opsetid("", opset)]
    if preprocessor is not None:
        from .tables.export import ML_OPSET

        opset_imports.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    from ._version import __version__

    proto = helper.make_model(
        graph,
        opset_imports=opset_imports,
        ir_version=helper.find_min_ir_version_for(opset_imports),
        producer_name="scratchnn",
        producer_version=__version__,
    )
    helper.set_model_props(proto, _metadata_props(model))
    onnx.checker.check_model(proto, full_check=True)
    _write_atomically(proto.SerializeToString(), Path(path))
    return proto
