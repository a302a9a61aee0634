r"""The residual connection, ``y = x + f(x)``: a transformer block's two halves are each one.

``f`` is a list of plain layers applied in turn (``[LayerNorm(d), MultiHeadAttention(d, h)]``,
a pre-norm attention half), so a whole transformer is a :class:`~scratchnn.Sequential` of
plain layers and residuals.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..shapes import Shape, matches
from .base import Layer, layers
from .ensemble import Chain

__all__ = ["Residual"]


@layers.register("skip", "residual_block")
class Residual(Chain):
    r"""``y = x + f(x)``, with ``f`` the layers given, in order.

    .. math::
        y = x + f(x), \qquad ∂L/∂x = ∂L/∂y + J_f^T\, ∂L/∂y

    The gradient reaches ``x`` along two paths, the identity and the branch, and adds: the
    identity path is why deep stacks of such blocks still train (the gradient of the block's
    input is never smaller than that of its output, whatever ``f`` does).

    The layers are the block's *sublayers*: a model builds them, keeps their parameters in its
    flat store (``residual_3.dense_1.W``: the ``W`` of the branch's second layer, a Dense),
    gives them their random streams, and saves and loads them with the rest.

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
        super().__init__(list(layers))

    def output_shape(self, input_shape: Shape) -> Shape:
        shape = super().output_shape(input_shape)
        if not matches(shape, input_shape):
            raise ValueError(
                f"The branch of Residual gives {tuple(shape)} from {tuple(input_shape)}; "
                "x + f(x) needs the two to have the same shape."
            )
        return tuple(input_shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x + super().forward(x, training)  # x + f(x), f the layers as a Chain

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out + super().backward(grad_out)  # the identity path plus the branch
