r"""Pooling: summarize each window of an image by its maximum or its mean (no parameters).

NCHW layout, as :mod:`scratchnn.layers.conv`. The windows are a view from
``sliding_window_view``; backward loops over the ``kh·kw`` positions of a window (4 for the
usual 2×2 pool), each a vectorised operation over the whole batch. The same math in explicit
loops: :func:`scratchnn.reference.max_pool2d`, :func:`scratchnn.reference.avg_pool2d`.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..shapes import Shape
from .base import ParameterFree, layers
from .conv import Scratch, as_tuple, output_size, spelled, windows


class _Pool2D(ParameterFree):
    """Shared arguments and shapes of the two windowed pools."""

    #: The value the padding holds: -inf for the max (never chosen), 0 for the mean.
    fill: float = 0.0

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = as_tuple("kernel_size", kernel_size, 2)
        self.stride = self.kernel_size if stride is None else as_tuple("stride", stride, 2)
        self.padding = as_tuple("padding", padding, 2, low=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                "padding must be at most half the kernel size (as in PyTorch), so that no "
                f"window holds padding only. Received: padding={padding!r} with "
                f"kernel_size={kernel_size!r}."
            )
        self._scratch = Scratch()

    @property
    def input_shape(self) -> tuple[None, None, None]:
        return (None, None, None)

    def output_shape(self, input_shape: Shape) -> Shape:
        channels, *spatial = input_shape
        out = tuple(
            output_size(size, k, s, 2 * p)
            for size, k, s, p in zip(
                spatial, self.kernel_size, self.stride, self.padding, strict=True
            )
        )
        if any(o is not None and o < 1 for o in out):
            raise ValueError(
                f"{self!r} cannot pool an input of spatial size {tuple(spatial)}: its window "
                "is larger than the (padded) input."
            )
        return (channels, *out)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        if not (ph or pw):
            return x
        padded = self._scratch.get(
            "padded", (*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), x.dtype
        )
        padded.fill(self.fill)
        padded[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
        return padded

    def _positions(self, out: tuple[int, int]):
        """For each position ``(p, q)`` of the window: its flat index and the slices of the
        padded input that it reads across all windows."""
        (sh, sw), (ho, wo) = self.stride, out
        for k, (p, q) in enumerate(itertools.product(*map(range, self.kernel_size))):
            yield (
                k,
                (
                    Ellipsis,
                    slice(p, p + sh * (ho - 1) + 1, sh),
                    slice(q, q + sw * (wo - 1) + 1, sw),
                ),
            )

    def _unpad(self, dx: np.ndarray) -> np.ndarray:
        (ph, pw), (h, w) = self.padding, self._x_shape[2:]
        return dx[:, :, ph : ph + h, pw : pw + w]

    def get_config(self) -> dict[str, Any]:
        return {
            "kernel_size": spelled(self.kernel_size),
            "stride": spelled(self.stride),
            "padding": spelled(self.padding),
        }


@layers.register("maxpool2d", "maxpool")
class MaxPool2D(_Pool2D):
    r"""Max pooling: each output is the largest value of its window.

    .. math::
        y_{n,c,i,j} = \max_{p,q}\; x_{n,c,\, i s_h + p,\; j s_w + q}

    Backward routes each gradient to the window's argmax (the first one, as PyTorch, if
    several are equal) and nowhere else:

    .. math::
        ∂L/∂x_{n,c,u,v} = \sum_{i,j:\ (u,v) = \operatorname{argmax}_{(i,j)}} ∂L/∂y_{n,c,i,j}

    (a sum, because overlapping windows can share their argmax).

    Args:
        kernel_size: the window, ``k`` or ``(kh, kw)``.
        stride: the step between windows (the kernel size by default: windows side by side).
        padding: -inf added around the image (so it is never the maximum), ``p`` or
            ``(ph, pw)``, at most half the kernel.

    Shapes: ``(batch, C, H, W)`` → ``(batch, C, H_out, W_out)``,
    ``H_out = ⌊(H + 2p_h - k_h) / s_h⌋ + 1``.

    Example:
        >>> pool = MaxPool2D(2)
        >>> pool.forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """

    fill = -np.inf

    @property
    def _pairs(self) -> bool:
        """The usual 2×2 pool with stride 2 and no padding, which has a faster path."""
        return self.kernel_size == (2, 2) and self.stride == (2, 2) and self.padding == (0, 0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x_shape = x.shape
        if self._pairs:
            return self._forward_pairs(x)
        padded = self._padded(x)
        positions = list(self._positions(self._out(padded.shape)))
        # A running maximum over the window's positions, in order: a later position takes
        # over only if strictly larger, so ties go to the first maximum (as PyTorch).
        _, first = positions[0]
        best = padded[first].copy()
        argmax = np.zeros(best.shape, dtype=np.uint8 if len(positions) < 256 else np.int64)
        larger = np.empty(best.shape, dtype=bool)
        for k, where in positions[1:]:
            candidate = padded[where]
            np.greater(candidate, best, out=larger)
            np.maximum(best, candidate, out=best)
            np.copyto(argmax, k, where=larger)
        self._argmax = argmax  # the winner's flat index in its window
        return best

    def _out(self, padded_shape: tuple[int, ...]) -> tuple[int, int]:
        return tuple(
            (size - k) // s + 1
            for size, k, s in zip(padded_shape[2:], self.kernel_size, self.stride, strict=True)
        )

    def _forward_pairs(self, x: np.ndarray) -> np.ndarray:
        """2×2 windows as two maxima of pairs: of the columns (left, right), then of the rows
        (top, bottom) of those. A second element wins only if strictly larger, so the first
        maximum in reading order wins, as in the general path."""
        ho, wo = x.shape[2] // 2, x.shape[3] // 2
        x = x[:, :, : 2 * ho, : 2 * wo]  # an odd last row or column belongs to no window
        left, right = x[..., 0::2], x[..., 1::2]
        self._right = right > left
        rows = np.maximum(left, right)  # (n, c, 2·ho, wo)
        top, bottom = rows[:, :, 0::2], rows[:, :, 1::2]
        self._bottom = bottom > top
        return np.maximum(top, bottom)

    def _backward_pairs(self, grad_out: np.ndarray) -> np.ndarray:
        """The gradient sent to the winning row, then within it to the winning column:
        ``g·m`` to the winner and ``g - g·m`` (exactly 0 or g) to the other."""
        n, c, h, w = self._x_shape
        ho, wo = grad_out.shape[2:]
        rows = np.empty((n, c, 2 * ho, wo), dtype=grad_out.dtype)
        np.multiply(grad_out, self._bottom, out=rows[:, :, 1::2])
        np.subtract(grad_out, rows[:, :, 1::2], out=rows[:, :, 0::2])
        even = h % 2 == 0 and w % 2 == 0
        dx = (np.empty if even else np.zeros)(self._x_shape, dtype=grad_out.dtype)
        inside = dx[:, :, : 2 * ho, : 2 * wo]
        np.multiply(rows, self._right, out=inside[..., 1::2])
        np.subtract(rows, inside[..., 1::2], out=inside[..., 0::2])
        return dx

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._pairs:
            return self._backward_pairs(grad_out)
        n, c, h, w = self._x_shape
        ph, pw = self.padding
        dx = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad_out.dtype)
        # Windows that do not overlap send each pixel at most one gradient: write it.
        overlap = any(s < k for s, k in zip(self.stride, self.kernel_size, strict=True))
        for k, where in self._positions(grad_out.shape[2:]):
            if overlap:
                dx[where] += np.where(self._argmax == k, grad_out, 0)
            else:
                np.multiply(grad_out, self._argmax == k, out=dx[where])
        return self._unpad(dx)


@layers.register("avgpool2d", "avgpool")
class AvgPool2D(_Pool2D):
    r"""Average pooling: each output is the mean of its window.

    .. math::
        y_{n,c,i,j} = \frac{1}{k_h k_w} \sum_{p,q} x_{n,c,\, i s_h + p,\; j s_w + q},
        \qquad ∂L/∂x_{n,c,u,v} = \frac{1}{k_h k_w}\sum_{(i,j) \ni (u,v)} ∂L/∂y_{n,c,i,j}

    Args:
        kernel_size: the window, ``k`` or ``(kh, kw)``.
        stride: the step between windows (the kernel size by default).
        padding: zeros added around the image, counted in the mean (PyTorch's default
            ``count_include_pad=True``), at most half the kernel.

    Shapes: as :class:`MaxPool2D`.

    Example:
        >>> AvgPool2D(2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        view = windows(self._padded(x), self.kernel_size, self.stride, (1, 1))
        self._x_shape = x.shape
        return view.sum(axis=(-2, -1)) * x.dtype.type(1 / (view.shape[-2] * view.shape[-1]))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        n, c, h, w = self._x_shape
        ph, pw = self.padding
        dx = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad_out.dtype)
        share = grad_out * grad_out.dtype.type(1 / (self.kernel_size[0] * self.kernel_size[1]))
        for _, where in self._positions(grad_out.shape[2:]):
            dx[where] += share
        return self._unpad(dx)


@layers.register("globalavgpool2d", "globalavgpool")
class GlobalAvgPool2D(ParameterFree):
    r"""The mean of each channel over the whole image: ``(batch, C, H, W)`` → ``(batch, C)``.

    .. math::
        y_{n,c} = \frac{1}{HW} \sum_{u,v} x_{n,c,u,v}, \qquad
        ∂L/∂x_{n,c,u,v} = \frac{1}{HW}\, ∂L/∂y_{n,c}

    Its output feeds a :class:`~scratchnn.Dense` layer directly (no Flatten needed); it takes
    images of any size, a common head after the last convolution.

    Example:
        >>> GlobalAvgPool2D().forward(np.ones((2, 3, 4, 4))).shape
        (2, 3)
    """

    @property
    def input_shape(self) -> tuple[None, None, None]:
        return (None, None, None)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0],)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        h, w = self._x_shape[2:]
        share = grad_out * grad_out.dtype.type(1 / (h * w))
        return np.broadcast_to(share[:, :, None, None], self._x_shape).copy()

    def get_config(self) -> dict[str, Any]:
        return {}
