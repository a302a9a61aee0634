r"""The residual connection, ``y = x + f(x)``: a transformer block's two halves are each one.

``f`` is a list of plain layers applied in turn (``[LayerNorm(d), MultiHeadAttention(d, h)]``,
a pre-norm attention half), so a whole transformer is a :class:`~scratchnn.Sequential` of
plain layers and residuals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..shapes import Shape, Spec, matches
from .base import Layer, layers

__all__ = ["Residual"]


@layers.register("skip", "residual_block")
class Residual(Layer):
    r"""``y = x + f(x)``, with ``f`` the layers given, in order.

    .. math::
        y = x + f(x), \qquad ∂L/∂x = ∂L/∂y + J_f^T\, ∂L/∂y

    The gradient reaches ``x`` along two paths, the identity and the branch, and adds: the
    identity path is why deep stacks of such blocks still train (the gradient of the block's
    input is never smaller than that of its output, whatever ``f`` does).

    The layers are the block's *sublayers*: a model builds them, keeps their parameters in its
    flat store (named ``residual_3.1.W`` for the second sublayer's ``W``), gives them their
    random streams, and saves and loads them with the rest.

    Args:
        layers: the branch ``f``; its output must have its input's shape.

    Shapes: any → same (the shape the first sublayer takes).

    Example:
        >>> from scratchnn import Dense, ReLU
        >>> block = Residual([Dense(4, 8), ReLU(), Dense(8, 4)])
        >>> block.build(np.random.default_rng(0), np.float64)
        >>> block.forward(np.ones((2, 4))).shape
        (2, 4)
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        super().__init__()
        self.layers: list[Layer] = list(layers)
        if not self.layers:
            raise ValueError("Residual needs at least one layer (the branch f of x + f(x)).")
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Residual takes Layer instances; received {layer!r} of type "
                    f"{type(layer).__name__}."
                )
        self.draws_at_build = any(layer.draws_at_build for layer in self.layers)
        self.can_skip_input_grad = False

    def sublayers(self) -> list[Layer]:
        """The layers of the branch, in order (the model walks these)."""
        return self.layers

    @property
    def input_shape(self) -> Spec | None:
        return next((la.input_shape for la in self.layers if la.input_shape is not None), None)

    def output_shape(self, input_shape: Shape) -> Shape:
        shape = tuple(input_shape)
        for layer in self.layers:
            if layer.input_shape is not None and not matches(layer.input_shape, shape):
                raise ValueError(
                    f"{layer!r} inside Residual takes {layer.input_shape}, but receives {shape}."
                )
            shape = tuple(layer.output_shape(shape))
        if not matches(shape, input_shape):
            raise ValueError(
                f"The branch of Residual gives {shape} from {tuple(input_shape)}; x + f(x) "
                "needs the two to have the same shape."
            )
        return tuple(input_shape)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}  # the sublayers declare their own

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        """Build the sublayers that are not built yet, each from its own child stream."""
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        streams = rng.spawn(len(self.layers))
        for i, layer in enumerate(self.layers):
            if not layer.built:
                following = self.layers[i + 1] if i + 1 < len(self.layers) else None
                hint = following.recommended_init if following is not None else init_hint
                layer.build(streams[i], dtype, init_hint=hint)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        out = x
        for layer in self.layers:
            out = layer.forward(out, training)
        return x + out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        grad = grad_out
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad_out + grad  # the identity path plus the branch

    @property
    def has_penalty(self) -> bool:
        return any(layer.has_penalty for layer in self.layers)

    def penalty(self) -> float:
        return sum(layer.penalty() for layer in self.layers if layer.has_penalty)

    def get_config(self) -> dict[str, Any]:
        return {
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ]
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Residual:
        built = [
            entry if isinstance(entry, Layer) else layers.create(entry, Layer)
            for entry in config["layers"]
        ]
        return cls(built)

    def __repr__(self) -> str:
        return f"Residual([{', '.join(repr(layer) for layer in self.layers)}])"
