r"""Ensembles inside one model: :class:`Chain` (layers applied in turn, as a layer) and
:class:`Average` (the mean of several such networks' outputs on the same input).

An ensemble of ``k`` trained networks is then one :class:`~scratchnn.Sequential`,
``Sequential([Average([Chain(net_1), ..., Chain(net_k)])])``: one model file, one ``predict``,
one ONNX graph, with every member's parameters in the model's flat vector
(``average_0.chain_1.dense_2.W``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..shapes import Shape, Spec, infer_shapes, matches
from .base import Container, Layer, layers

__all__ = ["Average", "Chain"]


@layers.register("sequence_of_layers")
class Chain(Container):
    r"""The given layers applied in turn, as one layer: :math:`y = f_n(\dots f_1(x))`, and
    backward in reverse, :math:`∂L/∂x = J_1^T \cdots J_n^T\, ∂L/∂y`.

    Args:
        layers: the layers, first to last.

    Shapes: what the first layer takes → what the last one gives.

    Example:
        >>> from scratchnn import Dense, ReLU
        >>> net = Chain([Dense(3, 8), ReLU(), Dense(8, 2)])
        >>> net.build(np.random.default_rng(0), np.float64)
        >>> net.forward(np.ones((4, 3))).shape
        (4, 2)
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        super().__init__(list(layers))

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out


@layers.register("ensemble", "mean_of")
class Average(Container):
    r"""The mean of ``k`` members' outputs on the same input (an ensemble):

    .. math::
        y = \frac1k \sum_{i=1}^{k} f_i(x), \qquad
        ∂L/∂θ_i = \frac1k J_{θ_i}^T\, ∂L/∂y, \qquad
        ∂L/∂x = \frac1k \sum_{i=1}^{k} J_{f_i}^T\, ∂L/∂y

    Each member is a layer (a :class:`Chain` for a whole network) that takes the same input and
    gives the same output shape. For a classifier the members' logits are averaged (their
    geometric mean of probabilities, renormalized by the softmax); for a regression the
    predictions are. Members are usually trained apart (other seeds, other validation parts)
    and put together afterwards; trained as one, each member's gradient is ``1/k`` of the
    mean's.

    Args:
        members: the members' layers, at least one.

    Shapes: the members' input → their (common) output.

    Example:
        >>> from scratchnn import Dense
        >>> mean = Average([Dense(3, 1), Dense(3, 1)])
        >>> mean.build(np.random.default_rng(0), np.float64)
        >>> x = np.ones((2, 3))
        >>> bool(np.allclose(mean.forward(x), (mean.layers[0](x) + mean.layers[1](x)) / 2))
        True
    """

    def __init__(self, members: Iterable[Layer]) -> None:
        super().__init__(list(members))

    @property
    def input_shape(self) -> Spec | None:
        return self.layers[0].input_shape

    def output_shape(self, input_shape: Shape) -> Shape:
        shapes = [infer_shapes([member], input_shape)[-1] for member in self.layers]
        for j, shape in enumerate(shapes[1:], start=1):
            if not matches(shape, shapes[0]):
                raise ValueError(
                    f"The members of Average give different shapes: member 0 gives "
                    f"{tuple(shapes[0])}, member {j} gives {tuple(shape)}; an average needs "
                    "them to match."
                )
        return tuple(shapes[0])

    def _declared(self, input_shape: Shape, buffers: bool) -> dict[str, tuple[int, ...]] | None:
        declared: dict[str, tuple[int, ...]] = {}
        for j, member in enumerate(self.layers):  # every member takes the same input
            own = (
                member.buffer_shapes(input_shape)
                if buffers
                else member.parameter_shapes(input_shape)
            )
            if own is None:
                return None
            declared.update({f"{j}.{name}": s for name, s in own.items()})
        return declared

    def build(
        self,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
        init_hint: str | None = None,
    ) -> None:
        Layer.build(self, rng, dtype, init_hint)
        seeds = (rng if rng is not None else np.random.default_rng()).spawn(len(self.layers))
        for j, member in enumerate(self.layers):
            if not member.built:
                member.build(seeds[j], dtype, init_hint=init_hint)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        total = self.layers[0].forward(x, training)
        for member in self.layers[1:]:
            total = total + member.forward(x, training)
        return total / total.dtype.type(len(self.layers))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        share = grad_out / grad_out.dtype.type(len(self.layers))
        grad = self.layers[0].backward(share)
        for member in self.layers[1:]:
            grad = grad + member.backward(share)
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"members": super().get_config()["layers"]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Average:
        return cls([layers.create(spec, Layer) for spec in config["members"]])
