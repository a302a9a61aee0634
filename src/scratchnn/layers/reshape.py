"""Layers that only move values around: :class:`Flatten` (an image into a row of features
for a Dense layer), :class:`Reshape` (rows of pixels into images) and :class:`ToChannelsFirst`
(NHWC images into scratchnn's NCHW)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_positive_int
from ..shapes import Shape
from .base import ParameterFree, layers


@layers.register()
class Flatten(ParameterFree):
    r"""Every sample as one row: ``(batch, d1, d2, ...)`` → ``(batch, d1·d2·...)``, in C order
    (for an NCHW image: channel by channel, each row by row, as PyTorch's ``Flatten``).

    Backward reshapes the gradient back: :math:`∂L/∂x = \operatorname{reshape}(∂L/∂y)`.

    Example:
        >>> Flatten().forward(np.zeros((2, 32, 4, 4))).shape
        (2, 512)
    """

    def output_shape(self, input_shape: Shape) -> Shape:
        if any(size is None for size in input_shape):
            return (None,)
        return (math.prod(input_shape),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(self._x_shape)

    def get_config(self) -> dict[str, Any]:
        return {}


@layers.register("channelsfirst")
class ToChannelsFirst(ParameterFree):
    r"""Channels-last images into channels-first: ``(batch, H, W, C)`` → ``(batch, C, H, W)``.

    scratchnn's convolutions take NCHW, PyTorch's layout (and ONNX's). Images stored as NHWC
    (Keras, TensorFlow, most image files) need no conversion by hand: put this layer first,
    ``Sequential([ToChannelsFirst(), Conv2D(3, 16, 3), ...])``, and the model takes them as
    they are. Backward moves the axis back. The output is a view (no copy).

    Example:
        >>> ToChannelsFirst().forward(np.zeros((2, 28, 28, 3))).shape
        (2, 3, 28, 28)
    """

    @property
    def input_shape(self) -> tuple[None, None, None]:
        return (None, None, None)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[-1], *input_shape[:-1])

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return np.moveaxis(x, -1, 1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return np.moveaxis(grad_out, 1, -1)

    def get_config(self) -> dict[str, Any]:
        return {}


@layers.register()
class Reshape(ParameterFree):
    r"""Every sample into ``shape``: ``(batch, d1, ...)`` → ``(batch, *shape)``, in C order.

    Rows of pixels become images, ``Reshape((1, 28, 28))`` turning MNIST's rows of 784 into
    one-channel images, so that a CNN takes the same data as an MLP (this is how
    ``scratchnn train --model cnn`` builds its models). Backward reshapes the gradient back.

    Args:
        shape: one output sample's shape (sizes >= 1; their product must be the input's).

    Example:
        >>> Reshape((1, 28, 28)).forward(np.zeros((2, 784))).shape
        (2, 1, 28, 28)
    """

    def __init__(self, shape: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        if not isinstance(shape, (tuple, list)) or not shape:
            raise ValueError(
                f"shape must be a non-empty tuple of sizes >= 1. Received: shape={shape!r}."
            )
        self.shape = tuple(check_positive_int("shape", size) for size in shape)

    def output_shape(self, input_shape: Shape) -> Shape:
        known = all(size is not None for size in input_shape)
        if known and math.prod(input_shape) != math.prod(self.shape):
            raise ValueError(
                f"{self!r} cannot reshape samples of shape {tuple(input_shape)} "
                f"({math.prod(input_shape)} values) into {self.shape} "
                f"({math.prod(self.shape)} values)."
            )
        return self.shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x_shape = x.shape
        return x.reshape(x.shape[0], *self.shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(self._x_shape)

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}
