"""Shapes of one sample, as layers declare them and the model checks them.

A *shape* is the shape of one sample, without the batch axis: ``(784,)`` for a row of
features, ``(1, 28, 28)`` for a one-channel image, ``(None, 64)`` for a sequence of any length
with 64 features per step. ``None`` stands for "any size" on that axis.

A layer declares the shape it takes as a *spec*: a shape that may begin with ``...``
(``Ellipsis``), meaning "any number of leading axes". ``Dense(784, 10)`` takes
``(..., 784)``: a row of 784 features, or a sequence of such rows (it acts on the last axis).

Examples:
    >>> matches((..., 784), (784,)), matches((..., 784), (16, 784)), matches((..., 784), (10,))
    (True, True, False)
    >>> matches((1, None, None), (1, 28, 28))
    True
    >>> describe((..., 784)), describe((1, 28, 28)), describe((None, 64))
    ('784 features', '(1, 28, 28)', '(None, 64)')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: One sample's shape: sizes, ``None`` for any size.
Shape = tuple[int | None, ...]
#: What a layer takes: a Shape, optionally beginning with ``...`` (any leading axes).
Spec = tuple[Any, ...]  # int, None or ... (Ellipsis)


def concrete(spec: Sequence) -> Shape:
    """The smallest shape a spec accepts: the leading ``...`` taken as no axes.

    >>> concrete((..., 784))
    (784,)
    """
    return tuple(size for size in spec if size is not Ellipsis)


def matches(spec: Sequence, shape: Sequence) -> bool:
    """Whether one sample of ``shape`` fits ``spec`` (``None`` on either side fits any size)."""
    spec = tuple(spec)
    shape = tuple(shape)
    if spec and spec[0] is Ellipsis:
        tail = spec[1:]
        if len(shape) < len(tail):
            return False
        shape = shape[len(shape) - len(tail) :]
        spec = tail
    if len(spec) != len(shape):
        return False
    return all(a is None or b is None or a == b for a, b in zip(spec, shape, strict=True))


def describe(shape: Sequence) -> str:
    """A shape or spec as messages say it: ``"784 features"`` for a row of features (which is
    how 2-D data has always been described), else the tuple itself."""
    shape = tuple(shape)
    if shape and shape[0] is Ellipsis and len(shape) == 2 and shape[1] is not None:
        return f"{shape[1]} features"
    if len(shape) == 1 and shape[0] is not None:
        return f"{shape[0]} features"
    return (
        "("
        + ", ".join("..." if s is Ellipsis else str(s) for s in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def with_batch(shape: Sequence) -> str:
    """``(None, *shape)``, the batch axis first, as ``summary()`` prints output shapes."""
    return "(" + ", ".join(["None", *(str(s) for s in shape)]) + ")"


def size(shape: Sequence) -> int:
    """Number of values in one array of ``shape`` (all sizes must be known)."""
    return math.prod(int(s) for s in shape)


def to_json(spec: Sequence) -> list:
    """A spec as JSON-compatible data: ``...`` becomes the string ``"..."``."""
    return ["..." if s is Ellipsis else s for s in spec]


def from_json(data: Sequence) -> Spec:
    """The inverse of :func:`to_json`."""
    return tuple(Ellipsis if s == "..." else s for s in data)


def _flatten_hint(spec: Sequence, shape: Sequence) -> str:
    """``"; put Flatten() between them"`` where a row of features is expected and the shape
    before holds exactly that many values on more axes."""
    expected = concrete(spec)
    if len(expected) == 1 and len(shape) > 1 and None not in shape and size(shape) == expected[0]:
        return "; put Flatten() between them"
    return ""


def infer_shapes(layers: Sequence, input_shape: Sequence | None = None) -> list[Shape]:
    """The shape of one sample before the first layer and after each layer: ``[input,
    after layer 0, after layer 1, ...]``, checking that each layer takes what the one before
    it gives.

    Args:
        layers: objects with ``input_shape`` and ``output_shape`` (see :class:`Layer`).
        input_shape: one input sample's shape; None takes the first declared layer's
            (its leading ``...`` as no axes: ``Dense(784, 10)`` first means 784 features).

    Raises:
        ValueError: no layer declares an input shape and none is given, or a layer does not
            take what the one before it gives (naming both).
    """
    if input_shape is None:
        first = next((layer for layer in layers if layer.input_shape is not None), None)
        if first is None:
            raise ValueError(
                "The model's input size is unknown: no layer declares its input shape "
                "(in_features). Start with a layer such as Dense(in_features, out_features), "
                "or pass input_shape=(...) to Sequential."
            )
        shape: Shape = concrete(first.input_shape)
    else:
        shape = tuple(input_shape)
    shapes = [shape]
    changed = None  # the last layer that changed the shape (its repr only for an error: costly)
    for layer in layers:
        spec = layer.input_shape
        if spec is not None and not matches(spec, shape):
            features = concrete(spec)
            source = "the input" if changed is None else repr(changed)
            if len(features) == 1 and len(shape) == 1:  # how 2-D models always said it
                problem = (
                    f"expects {features[0]} input features, but {source} before it gives {shape[0]}"
                )
            else:
                problem = (
                    f"expects {describe(spec)}, but {source} before it gives {describe(shape)}"
                )
            raise ValueError(f"{layer!r} {problem}{_flatten_hint(spec, shape)}.")
        following = tuple(layer.output_shape(shape))
        if following != shape:
            changed = layer
        shape = following
        shapes.append(shape)
    return shapes
