"""Data augmentation as a layer: random shifts and flips of images, in training only."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_bool, check_int
from ..shapes import Shape
from .base import ParameterFree, layers


@layers.register("randomshift", "augment")
class RandomShift(ParameterFree):
    r"""Shift each training image by a random number of pixels (and optionally mirror it).

    Each image of a training batch moves by its own :math:`(a, b)`, drawn uniformly from
    :math:`\{-m, ..., m\}^2`, the pixels that enter filled with zeros:
    :math:`y_{n,c,i,j} = x_{n,c,\,i+a_n,\,j+b_n}` (0 outside the image). With
    ``horizontal_flip``, each image is first mirrored left-right with probability ½. In
    inference (``predict``, ``evaluate``) the layer is the identity, so a saved model needs no
    change to serve. The draws come from the layer's own stream, so a seed gives the same
    augmentation, and a model without this layer keeps its shuffle and initial weights.

    It is linear, and backward applies the transpose: the opposite shift (then the same
    mirror), :math:`∂L/∂x_{n,c,u,v} = ∂L/∂y_{n,c,\,u-a_n,\,v-b_n}`.

    Put it first: ``Sequential([RandomShift(2), Conv2D(1, 32, 5), ...])``. Mirroring suits
    photographs and clothing (Fashion-MNIST), not digits.

    Args:
        max_shift: m, the largest shift in pixels along each axis (0: no shift).
        horizontal_flip: also mirror half of the images left-right.

    Shapes: ``(batch, C, H, W)`` → same.

    Example:
        >>> layer = RandomShift(1)
        >>> x = np.ones((2, 1, 3, 3))
        >>> bool((layer.forward(x, training=False) == x).all())
        True
    """

    def __init__(self, max_shift: int = 2, horizontal_flip: bool = False) -> None:
        super().__init__()
        self.max_shift = check_int("max_shift", max_shift, 0)
        self.horizontal_flip = check_bool("horizontal_flip", horizontal_flip)
        self._offsets: tuple[np.ndarray, np.ndarray] | None = None
        self._flips: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[None, None, None]:
        return (None, None, None)

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def _shift(self, x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Image n read from its zero-padded copy at offset ``(rows[n], cols[n])`` in
        ``[0, 2m]``: one gather over the batch, no loop."""
        m = self.max_shift
        padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)))
        views = np.lib.stride_tricks.sliding_window_view(padded, x.shape[2:], axis=(2, 3))
        return views[np.arange(x.shape[0]), :, rows, cols]  # (batch, C, H, W)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._offsets = self._flips = None
        if not training or (self.max_shift == 0 and not self.horizontal_flip):
            return x
        if self.rng is None:
            self.rng = np.random.default_rng()
        n, m = x.shape[0], self.max_shift
        if self.horizontal_flip:
            self._flips = self.rng.random(n) < 0.5
            x = np.where(self._flips[:, None, None, None], x[..., ::-1], x)
        if m:
            self._offsets = (self.rng.integers(0, 2 * m + 1, n), self.rng.integers(0, 2 * m + 1, n))
            x = self._shift(x, *self._offsets)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        g = grad_out
        if self._offsets is not None:  # offset k in [0, 2m] moved by k - m: undo with 2m - k
            rows, cols = self._offsets
            g = self._shift(g, 2 * self.max_shift - rows, 2 * self.max_shift - cols)
        if self._flips is not None:
            g = np.where(self._flips[:, None, None, None], g[..., ::-1], g)
        return g

    def get_config(self) -> dict[str, Any]:
        return {"max_shift": self.max_shift, "horizontal_flip": self.horizontal_flip}
