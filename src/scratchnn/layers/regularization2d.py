"""Channel-wise dropout: silence whole feature maps of an image while training."""

from __future__ import annotations

import numpy as np

from ..shapes import Shape
from .base import layers
from .regularization import Dropout


@layers.register("dropout2d", "spatialdropout")
class Dropout2d(Dropout):
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

    @property
    def input_shape(self) -> tuple[None, None, None]:
        return (None, None, None)

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def mask_shape(self, x: np.ndarray) -> tuple[int, ...]:
        """One entry per image and channel, broadcast over the pixels."""
        return (*x.shape[:2], 1, 1)
