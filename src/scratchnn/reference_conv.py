"""Textbook convolution and pooling, one output pixel at a time (test oracles).

Each function is the formula of its docstring written as nested loops over output pixels,
with no im2col, no buffers and no validation: the fast layers (:class:`scratchnn.Conv2D`,
:class:`scratchnn.MaxPool2D`, :class:`scratchnn.AvgPool2D`) must compute the same numbers,
and ``tests/test_conv.py`` checks that they do. Layout NCHW; kernels ``(O, C/G, kh, kw)``.
Padding is ``(top, bottom, left, right)`` zeros. Re-exported by :mod:`scratchnn.reference`.

>>> import numpy as np
>>> x = np.arange(9.0).reshape(1, 1, 3, 3)
>>> conv2d(x, np.ones((1, 1, 2, 2)), np.zeros(1))[0, 0]   # sums of each 2x2 window
array([[ 8., 12.],
       [20., 24.]])
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
]


def _pad(x: np.ndarray, padding: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    top, bottom, left, right = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _out_size(size: int, k: int, s: int, d: int) -> int:
    return (size - d * (k - 1) - 1) // s + 1


def _field(n, channels, i, j, kernel, stride, dilation) -> tuple:
    """The index of output pixel ``(i, j)``'s receptive field in the padded input."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    rows, cols = slice(i * sh, i * sh + dh * kh, dh), slice(j * sw, j * sw + dw * kw, dw)
    return n, channels, rows, cols


def conv2d(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray | None,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> np.ndarray:
    """``z[n, o, i, j] = b[o] + Σ_{c,p,q} W[o, c, p, q] · x_pad[n, g·C/G + c, i·s + p·d,
    j·s + q·d]`` (``g`` the group of output channel ``o``)."""
    xp = _pad(x, padding)
    N, _, H, Wd = xp.shape
    n_out, Cg, kh, kw = W.shape
    (sh, sw), (dh, dw) = stride, dilation
    Ho, Wo = _out_size(H, kh, sh, dh), _out_size(Wd, kw, sw, dw)
    z = np.zeros((N, n_out, Ho, Wo))
    for n, o, i, j in np.ndindex(*z.shape):
        g = o // (n_out // groups)
        field = xp[_field(n, slice(g * Cg, (g + 1) * Cg), i, j, (kh, kw), stride, dilation)]
        z[n, o, i, j] = np.sum(W[o] * field) + (0.0 if b is None else b[o])
    return z


def conv2d_backward(
    x: np.ndarray,
    W: np.ndarray,
    delta: np.ndarray,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dW, db)`` for ``delta = ∂L/∂z``: every output pixel sends ``delta · W`` back to
    its receptive field (``dx``) and adds ``delta · field`` to its kernel (``dW``)."""
    xp = _pad(x, padding)
    dxp = np.zeros_like(xp)
    dW = np.zeros_like(W)
    n_out, Cg = W.shape[:2]
    for n, o, i, j in np.ndindex(*delta.shape):
        g = o // (n_out // groups)
        where = _field(n, slice(g * Cg, (g + 1) * Cg), i, j, W.shape[2:], stride, dilation)
        dW[o] += delta[n, o, i, j] * xp[where]
        dxp[where] += delta[n, o, i, j] * W[o]
    top, bottom, left, right = padding
    dx = dxp[:, :, top : xp.shape[2] - bottom, left : xp.shape[3] - right]
    return dx, dW, delta.sum(axis=(0, 2, 3))


def max_pool2d(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """``y[n, c, i, j] = max_{p,q} x_pad[n, c, i·s + p, j·s + q]`` (padding is -inf)."""
    xp = _pad(x, (padding[0], padding[0], padding[1], padding[1]), -np.inf)
    (kh, kw), (sh, sw) = kernel, stride
    N, C, H, Wd = xp.shape
    y = np.zeros((N, C, _out_size(H, kh, sh, 1), _out_size(Wd, kw, sw, 1)))
    for n, c, i, j in np.ndindex(*y.shape):
        y[n, c, i, j] = xp[n, c, i * sh : i * sh + kh, j * sw : j * sw + kw].max()
    return y


def max_pool2d_backward(
    x: np.ndarray,
    delta: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> np.ndarray:
    """Each ``delta[n, c, i, j]`` goes to its window's (first) argmax, nowhere else."""
    (ph, pw), (kh, kw), (sh, sw) = padding, kernel, stride
    xp = _pad(x, (ph, ph, pw, pw), -np.inf)
    dxp = np.zeros_like(xp)
    for n, c, i, j in np.ndindex(*delta.shape):
        window = xp[n, c, i * sh : i * sh + kh, j * sw : j * sw + kw]
        p, q = np.unravel_index(np.argmax(window), window.shape)
        dxp[n, c, i * sh + p, j * sw + q] += delta[n, c, i, j]
    return dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]


def avg_pool2d(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> np.ndarray:
    """``y[n, c, i, j] = mean_{p,q} x_pad[n, c, i·s + p, j·s + q]`` (zero padding counted)."""
    xp = _pad(x, (padding[0], padding[0], padding[1], padding[1]))
    (kh, kw), (sh, sw) = kernel, stride
    N, C, H, Wd = xp.shape
    y = np.zeros((N, C, _out_size(H, kh, sh, 1), _out_size(Wd, kw, sw, 1)))
    for n, c, i, j in np.ndindex(*y.shape):
        y[n, c, i, j] = xp[n, c, i * sh : i * sh + kh, j * sw : j * sw + kw].mean()
    return y


def avg_pool2d_backward(
    x: np.ndarray,
    delta: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> np.ndarray:
    """Each ``delta[n, c, i, j]`` spread evenly, ``1/(kh·kw)`` each, over its window."""
    (ph, pw), (kh, kw), (sh, sw) = padding, kernel, stride
    dxp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw))
    for n, c, i, j in np.ndindex(*delta.shape):
        dxp[n, c, i * sh : i * sh + kh, j * sw : j * sw + kw] += delta[n, c, i, j] / (kh * kw)
    return dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
