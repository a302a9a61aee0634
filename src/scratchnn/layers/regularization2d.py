"""Channel-wise dropout: silence whole feature maps of an image while training."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_number
from ..shapes import Shape
from .base import ParameterFree, layers


@layers.register("dropout2d", "spatialdropout")
class Dropout2d(ParameterFree):
    r"""Inverted dropout of whole channels (PyTorch's ``Dropout2d``).

    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels
    (:class:`~scratchnn.Dropout`) barely regularizes a convolution: this drops each channel
    of each image as a whole, with probability :math:`p`:

    .. math::
        m_{n,c} \sim \operatorname{Bernoulli}(1 - p), \qquad
        y_{n,c,u,v} = x_{n,c,u,v}\, m_{n,c} / (1 - p), \qquad
        ∂L/∂x_{n,c,u,v} = ∂L/∂y_{n,c,u,v}\, m_{n,c} / (1 - p)

    Inference: the identity. The masks come from the layer's own random stream.

    Args:
        p: probability of dropping each channel, in [0, 1).

    Shapes: ``(batch, C, H, W)`` → same.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_number("p", p, 0.0, 1.0, high_open=True)
        self._mask: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[None, None, None]:
        return (None, None, None)

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.p == 0:
            self._mask = None
            return x
        if self.rng is None:
            self.rng = np.random.default_rng()
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        keep = self.rng.random(x.shape[:2], dtype=dtype) >= self.p
        self._mask = (keep * dtype.type(1 / (1 - self.p)))[:, :, None, None]
        return x * self._mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._mask is None:
            return grad_out
        return grad_out * self._mask

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
