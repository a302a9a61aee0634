"""The table encoder and the target scaler as ONNX nodes, so that an exported model takes the
raw columns and answers in the target's units (used by :func:`scratchnn.export_onnx`).

The graph has one input per column the encoder reads, each of shape ``("batch", 1)``:

- a numeric column is ``double``; a missing value is NaN. Nodes: ``IsNaN`` → ``Where``
  (the training median) → ``Sub`` (mean) → ``Div`` (scale), and ``Cast(IsNaN)`` for a
  missing-indicator column. With robust scaling the smooth clip follows:
  ``Clip`` (±1e150, so that the square cannot overflow) → ``3 · z / Sqrt(9 + z·z)``.
  An equal-column feature ``a==b`` is ``Cast(Equal(a, b))`` on the raw values (NaN equals
  nothing, so a missing value gives 0, as in the encoder).
- a categorical column is ``string``, spelled as in training (stripped; numbers as the
  encoder spells them, ``"2"`` not ``"2.0"``); a missing token (``""``, ``"NA"``, ...) is
  missing. Nodes: ``ai.onnx.ml.LabelEncoder`` (category → index; unseen → -1, or the
  ``(other)`` index when rare categories were pooled) → ``Equal`` against ``0..k-1`` →
  ``Cast``: a one-hot row, all zeros for an unseen category.

The pieces are concatenated in :meth:`TableEncoder.feature_names_out` order and cast to the
network's dtype. A :class:`TargetScaler` becomes ``Mul`` (scale) and ``Add`` (mean) on the
network's output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .encoder import CLIP, OTHER_CATEGORY, TableEncoder
from .target import TargetScaler

#: The ``ai.onnx.ml`` opset the front end needs (LabelEncoder with string keys).
ML_OPSET = 2


def lower_encoder(g: Any, encoder: TableEncoder) -> tuple[list[Any], str]:
    """Add the encoder's nodes to the exporter's graph ``g``.

    Returns:
        ``(inputs, value)``: the graph inputs (one per column) and the name of the
        ``(batch, n_features_out)`` matrix in the model's dtype.
    """
    helper, tensor = g.onnx.helper, g.onnx.TensorProto
    inputs, pieces = [], []
    names = {}
    for column in encoder.input_columns:
        name = g.unique(column)
        names[column] = name
        kind = tensor.STRING if column in encoder.categories else tensor.DOUBLE
        inputs.append(helper.make_tensor_value_info(name, kind, ["batch", 1]))
    g.prefix = "preprocessor"
    missing = {}
    for k, column in enumerate(encoder.roles.numeric):
        x = names[column]
        missing[column] = g.op("IsNaN", [x])
        median = g.constant(f"{column}.median", [encoder.median_[k]], np.float64)
        filled = g.op("Where", [missing[column], median, x])
        mean = g.constant(f"{column}.mean", [encoder.mean_[k]], np.float64)
        scale = g.constant(f"{column}.scale", [encoder.scale_[k]], np.float64)
        z = g.op("Div", [g.op("Sub", [filled, mean]), scale])
        if encoder.scaling == "robust":
            z = _smooth_clip(g, z, column)
        pieces.append(z)
    for column in encoder.indicators:
        pieces.append(g.op("Cast", [missing[column]], to=tensor.DOUBLE))
    for pair in encoder.equalities:  # NaN (missing) equals nothing, itself included
        equal = g.op("Equal", [names[pair.first], names[pair.second]])
        pieces.append(g.op("Cast", [equal], to=tensor.DOUBLE))
    for column, categories in encoder.categories.items():
        index = {c: i for i, c in enumerate(categories)}
        keys, values = list(categories), list(range(len(categories)))
        fill = index.get(encoder.fill[column], -1)
        for token in dict.fromkeys(encoder.missing_tokens):
            if token not in index:
                keys.append(token)
                values.append(fill)
        default = index.get(OTHER_CATEGORY, -1)
        node = helper.make_node(
            "LabelEncoder",
            [names[column]],
            [g.unique(f"preprocessor/{column}.index")],
            domain="ai.onnx.ml",
            keys_strings=keys,
            values_int64s=values,
            default_int64=default,
        )
        g.nodes.append(node)
        positions = g.constant(f"{column}.positions", np.arange(len(categories)), np.int64)
        hits = g.op("Equal", [node.output[0], positions])
        pieces.append(g.op("Cast", [hits], to=tensor.DOUBLE))
    matrix = pieces[0] if len(pieces) == 1 else g.op("Concat", pieces, axis=1)
    elem = helper.np_dtype_to_tensor_dtype(g.dtype)
    return inputs, g.op("Cast", [matrix], to=elem)


def _smooth_clip(g: Any, z: str, column: str) -> str:
    """``b · z / sqrt(b² + z²)`` (:func:`~scratchnn.tables.encoder.smooth_clip`, ``b = 3``) on
    ``z`` clipped to ±1e150 first: the result is ``±b`` there to float64's precision, and
    the square cannot overflow to infinity (which would give 0)."""
    big = g.constant(f"{column}.clip_low", -1e150, np.float64)
    top = g.constant(f"{column}.clip_high", 1e150, np.float64)
    z = g.op("Clip", [z, big, top])
    bound = g.constant(f"{column}.bound", [CLIP], np.float64)
    square = g.constant(f"{column}.bound_squared", [CLIP * CLIP], np.float64)
    root = g.op("Sqrt", [g.op("Add", [g.op("Mul", [z, z]), square])])
    return g.op("Mul", [bound, g.op("Div", [z, root])])


def lower_target(g: Any, scaler: TargetScaler, value: str) -> str:
    """``value · scale + mean``: network outputs back in the target's units; for a
    ``log1p`` scaler then ``max(exp(·) - 1, 0)``; for a ``poisson`` one ``exp(value) · scale``."""
    g.prefix = "target"
    scale = g.constant("scale", scaler.scale_.reshape(1, -1))
    if getattr(scaler, "poisson", False):  # log-rates: mean · exp(value)
        return g.op("Mul", [g.op("Exp", [value]), scale])
    mean = g.constant("mean", scaler.mean_.reshape(1, -1))
    value = g.op("Add", [g.op("Mul", [value, scale]), mean])
    if getattr(scaler, "log1p", False):
        one, zero = g.constant("one", [[1.0]]), g.constant("zero", [[0.0]])
        value = g.op("Max", [g.op("Sub", [g.op("Exp", [value]), one]), zero])
    return value


def raw_feeds(encoder: TableEncoder, X: Any) -> dict[str, np.ndarray]:
    """The onnxruntime feeds for raw rows ``X`` (a DataFrame, a dict of columns, ...): numeric
    columns as ``(n, 1)`` float64 with NaN for missing values, categorical ones as ``(n, 1)``
    stripped strings in the encoder's spelling.

    Example:
        >>> encoder = TableEncoder().fit({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
        >>> feeds = raw_feeds(encoder, {"x": ["NA", "2"], "c": [" b", None]})
        >>> feeds["x"].ravel().tolist(), feeds["c"].ravel().tolist()
        ([nan, 2.0], ['b', ''])
    """
    from .values import as_columns, canonical_labels, numbers_of, text_of

    columns = as_columns(X, names=encoder.input_columns)
    feeds = {}
    for column in encoder.input_columns:
        if column in encoder.categories:
            text, missing = text_of(columns[column], encoder.missing_tokens)
            labels = canonical_labels(text).astype(object)
            labels[missing] = encoder.missing_tokens[0] if encoder.missing_tokens else ""
            feeds[column] = labels.reshape(-1, 1)
        else:
            numbers, _ = numbers_of(columns[column], encoder.missing_tokens)
            if numbers is None:
                raise ValueError(f"Column {column!r} holds text but is numeric.")
            feeds[column] = numbers.reshape(-1, 1)
    return feeds
