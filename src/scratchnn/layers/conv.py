r"""Convolutions: one small kernel slid over the image, the same weights at every position.

The layout is NCHW, PyTorch's: a batch of images is ``(batch, channels, height, width)``
(``(batch, channels, length)`` for :class:`Conv1D`). Its kernels are stored as PyTorch and
ONNX store them, ``(out_channels, in_channels / groups, kh, kw)``, so weights move between the
three without a transpose. Images that arrive as ``(batch, height, width, channels)`` go
through :class:`scratchnn.layers.ToChannelsFirst` first.

The fast path is im2col: every receptive field is copied once into a column of a matrix (from
a ``numpy.lib.stride_tricks.sliding_window_view``, into a buffer reused from batch to batch),
and the whole layer is then one BLAS product, ``W · cols``. Backward is two more products and
col2im, which adds each column back onto the pixels it came from (a loop over the ``kh·kw``
kernel positions, each a vectorised add over the whole batch). The same math in
explicit loops: :func:`scratchnn.reference.conv2d`.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .. import initializers
from .._validation import check_bool, check_int, check_positive_int
from ..shapes import Shape
from .base import Layer, layers
from .dense import _initializer_name

PaddingSpec = int | tuple[int, ...] | list[int] | str

#: The most values the im2col columns may hold in inference (32 MiB of float32): larger
#: batches are convolved a few images at a time. Training uses the batch as it comes.
INFERENCE_COLUMNS = 2**23

#: Output rows shorter than this put the batch last in the im2col columns (see ``_forward``).
BATCH_LAST_BELOW = 16


def as_tuple(name: str, value: Any, n: int, low: int = 1) -> tuple[int, ...]:
    """``value`` as ``n`` integers >= ``low``: one integer for every axis, or ``n`` of them."""
    items = list(value) if isinstance(value, (list, tuple)) else [value] * n
    rule = f"an integer >= {low} or a sequence of {n} such integers"
    if len(items) != n:
        raise ValueError(f"{name} must be {rule}. Received: {name}={value!r}.")
    try:
        return tuple(check_int(name, item, low) for item in items)
    except ValueError:
        raise ValueError(f"{name} must be {rule}. Received: {name}={value!r}.") from None


def spelled(values: tuple[int, ...]) -> int | list[int]:
    """A tuple as a config writes it: one integer when every axis has the same value."""
    return values[0] if len(set(values)) == 1 else list(values)


def output_size(
    size: int | None, kernel: int, stride: int, pad: int, dilation: int = 1
) -> int | None:
    """``⌊(size + pad - dilation·(kernel - 1) - 1) / stride⌋ + 1`` (``pad`` both sides' sum)."""
    if size is None:
        return None
    return (size + pad - dilation * (kernel - 1) - 1) // stride + 1


def windows(
    x: np.ndarray,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    first_axis: int = 2,
) -> np.ndarray:
    """Every receptive field of ``x`` ``(batch, channels, *spatial)`` as a read-only view
    ``(batch, channels, *out, *kernel)``: entry ``[n, c, i, j, p, q]`` is
    ``x[n, c, i·s + p·d, j·s + q·d]``. Nothing is copied. ``first_axis`` is where the spatial
    axes start (1 for ``(channels, *spatial, batch)``)."""
    n = len(kernel)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    axes = tuple(range(first_axis, first_axis + n))
    view = np.lib.stride_tricks.sliding_window_view(x, span, axis=axes)
    steps = (slice(None),) * first_axis + tuple(slice(None, None, s) for s in stride)
    return view[
        (
            *steps,
            *(slice(None),) * (x.ndim - first_axis - n),
            *(slice(None, None, d) for d in dilation),
        )
    ]


class Scratch:
    """Work buffers reused from batch to batch: a flat array per name that only grows, of
    which each call takes the first elements (a last, shorter batch gets a view)."""

    def __init__(self) -> None:
        self._flat: dict[str, np.ndarray] = {}

    def get(
        self, name: str, shape: tuple[int, ...], dtype: np.dtype, zero: bool = False
    ) -> np.ndarray:
        size = math.prod(shape)
        flat = self._flat.get(name)
        if flat is None or flat.size < size or flat.dtype != dtype:
            flat = self._flat[name] = np.empty(size, dtype=dtype)
        array = flat[:size].reshape(shape)
        if zero:
            array.fill(0)
        return array

    def __deepcopy__(self, memo: dict) -> Scratch:
        return Scratch()  # buffers hold nothing worth copying


class _Conv(Layer):
    """Shared code of :class:`Conv1D` and :class:`Conv2D`: ``rank`` spatial axes."""

    rank: int = 2
    can_skip_input_grad = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: PaddingSpec = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        init: str | Any = "auto",
        bias_init: str | Any = "zeros",
    ) -> None:
        super().__init__()
        n = self.rank
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = as_tuple("kernel_size", kernel_size, n)
        self.stride = as_tuple("stride", stride, n)
        self.dilation = as_tuple("dilation", dilation, n)
        self.groups = check_positive_int("groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups must divide in_channels and out_channels. Received: groups={groups} "
                f"with in_channels={in_channels}, out_channels={out_channels}."
            )
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"padding must be 'same', 'valid', an integer >= 0 or {n} such integers. "
                    f"Received: padding={padding!r}."
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    "padding='same' needs stride 1 (as in PyTorch): with a larger stride the "
                    f"output cannot keep the input's size. Received: stride={stride!r}."
                )
            self.padding: str | tuple[int, ...] = padding
        else:
            self.padding = as_tuple("padding", padding, n, low=0)
        self.bias = check_bool("bias", bias)
        if init != "auto":
            initializers.get(init)
        if bias_init != "zeros":
            initializers.get(bias_init)
        self.init, self.bias_init = init, bias_init
        self._scratch = Scratch()

    # -- shapes ----------------------------------------------------------------------------

    @property
    def pads(self) -> tuple[tuple[int, int], ...]:
        """``(before, after)`` zero padding of each spatial axis. ``"same"`` pads
        ``d·(k-1)`` in all, the odd one after (PyTorch's choice for even kernels)."""
        if self.padding == "valid":
            return ((0, 0),) * self.rank
        if self.padding == "same":
            total = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in total)
        return tuple((p, p) for p in self.padding)

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        return (self.in_channels, *([None] * self.rank))

    def output_shape(self, input_shape: Shape) -> Shape:
        spatial = tuple(input_shape[1:])
        out = tuple(
            output_size(size, k, s, sum(p), d)
            for size, k, s, p, d in zip(
                spatial, self.kernel_size, self.stride, self.pads, self.dilation, strict=True
            )
        )
        if any(o is not None and o < 1 for o in out):
            raise ValueError(
                f"{self!r} cannot slide its kernel over an input of spatial size {spatial}: "
                "the dilated kernel, after padding, is larger than the input. Use a smaller "
                "kernel, padding, or a larger input."
            )
        return (self.out_channels, *out)

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        """``(out_channels, in_channels / groups, *kernel_size)``, PyTorch's and ONNX's."""
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        shapes = {"W": self.kernel_shape}
        if self.bias:
            shapes["b"] = (self.out_channels,)
        return shapes

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def build(
        self,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
        init_hint: str | None = None,
    ) -> None:
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        init = (init_hint or "glorot_uniform") if self.init == "auto" else self.init
        shape = self.kernel_shape
        self.params["W"] = initializers.get(init)(shape, rng, self.dtype)
        self.grads["W"] = np.zeros(shape, dtype=self.dtype)
        if self.bias:
            b = initializers.get(self.bias_init)((self.out_channels,), rng, self.dtype)
            self.params["b"] = b
            self.grads["b"] = np.zeros(self.out_channels, dtype=self.dtype)

    # -- forward and backward ------------------------------------------------------------------

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        r"""``z[n, o, i, j] = b[o] + Σ_{c,p,q} W[o, c, p, q] · x_pad[n, g·C/G + c, i·s + p·d,
        j·s + q·d]``, ``g`` the group of output channel ``o``: one product ``W · cols`` per
        group (a single product when ``groups=1``)."""
        if not self.built:
            self.build(dtype=x.dtype)
        n = x.shape[0]
        out = self.output_shape(x.shape[1:])[1:]
        columns = self.in_channels * math.prod(self.kernel_size) * math.prod(out)
        chunk = n if training else max(1, INFERENCE_COLUMNS // columns)
        if chunk >= n:
            return self._forward(x)
        # Inference (predict's batches of thousands): a few images at a time, so that the
        # columns never take more than INFERENCE_COLUMNS values, whatever the batch.
        y = np.empty((n, self.out_channels, *out), dtype=x.dtype)
        for start in range(0, n, chunk):
            y[start : start + chunk] = self._forward(x[start : start + chunk])
        return y

    def _forward(self, x: np.ndarray) -> np.ndarray:
        n, G, r = x.shape[0], self.groups, self.rank
        padded = self._pad(x)
        out = self.output_shape(x.shape[1:])[1:]
        c_group = self.in_channels // G
        kernel = self.kernel_size
        # The columns' order: every column one output pixel (n, i, j) holding its receptive
        # field (c, p, q). Images first, (n, i, j), when the rows of the output are long; the
        # batch last, (i, j, n), when they are short (deep, small feature maps): the copies of
        # im2col and col2im then run along memory over (j, n) instead of only j.
        self._batch_last = out[-1] < BATCH_LAST_BELOW
        cols = self._scratch.get(
            "cols", (G, c_group * math.prod(kernel), n * math.prod(out)), x.dtype
        )
        fields = cols.reshape(G, c_group, *kernel, *((*out, n) if self._batch_last else (n, *out)))
        if self._batch_last:
            # (C, *spatial, N): the image axes first, the batch last, once.
            moved = self._scratch.get("batch_last", (*padded.shape[1:], n), x.dtype)
            np.copyto(moved, np.moveaxis(padded, 0, -1))
            view = windows(moved, kernel, self.stride, self.dilation, first_axis=1)
            # view: (C, *out, N, *kernel) -> fields (G, C/G, *kernel, *out, N)
            view = view.reshape(G, c_group, *view.shape[1:])
            order = (0, 1, *range(3 + r, 3 + 2 * r), *range(2, 3 + r))
        else:
            view = windows(padded, kernel, self.stride, self.dilation)
            # view: (N, C, *out, *kernel) -> fields (G, C/G, *kernel, N, *out)
            view = view.reshape(n, G, c_group, *view.shape[2:])
            order = (1, 2, *range(3 + r, 3 + 2 * r), 0, *range(3, 3 + r))
        np.copyto(fields, view.transpose(order))
        self._cols, self._x_shape, self._out = cols, x.shape, out
        W = self.params["W"].reshape(G, self.out_channels // G, -1)
        z = self._scratch.get("z", (G, W.shape[1], cols.shape[2]), x.dtype)
        np.matmul(W, cols, out=z)  # (G, O/G, columns), into a reused buffer
        # Channels first again, (n, G, O/G, *out), with the bias added in the same pass.
        if self._batch_last:
            z = np.moveaxis(z.reshape(G, -1, *out, n), -1, 0)
        else:
            z = z.reshape(G, -1, n, *out).transpose(2, 0, 1, *range(3, 3 + r))
        y = np.empty((n, self.out_channels, *out), dtype=z.dtype)
        target = y.reshape(n, G, -1, *out)
        if self.bias:
            np.add(z, self.params["b"].reshape(G, -1, *([1] * r)), out=target)
        else:
            np.copyto(target, z)
        return y

    def _pad(self, x: np.ndarray) -> np.ndarray:
        """``x`` with zeros around its spatial axes, in a reused buffer whose border stays 0."""
        pads = self.pads
        if not any(a or b for a, b in pads):
            return x
        shape = (*x.shape[:2], *(s + a + b for s, (a, b) in zip(x.shape[2:], pads, strict=True)))
        key = ("padded", shape, x.dtype)
        if getattr(self, "_padded_key", None) != key:
            self._padded = self._scratch.get("padded", shape, x.dtype, zero=True)
            self._padded_key = key
        self._padded[self._interior(x.shape)] = x
        return self._padded

    def _interior(self, shape: tuple[int, ...]) -> tuple[slice, ...]:
        return (
            slice(None),
            slice(None),
            *(slice(a, a + s) for s, (a, _) in zip(shape[2:], self.pads, strict=True)),
        )

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        r"""With ``δ = ∂L/∂z`` as a matrix ``(O, n·H_out·W_out)`` per group:

        .. math::
            ∂L/∂W = δ \cdot cols^T, \qquad ∂L/∂b = \sum_{n,i,j} δ, \qquad
            ∂L/∂cols = W^T δ

        and col2im adds each column of ``∂L/∂cols`` back onto the pixels of its receptive
        field: together, a full convolution of δ with the flipped kernel."""
        G, n, out, r = self.groups, grad_out.shape[0], self._out, self.rank
        o_group = self.out_channels // G
        rows = n * math.prod(out)
        # δ as (G, O/G, columns), the layout of the forward product's result.
        delta = self._scratch.get("delta", (G, o_group, rows), grad_out.dtype)
        grouped = grad_out.reshape(n, G, o_group, *out)
        if self._batch_last:
            np.copyto(delta.reshape(G, o_group, *out, n), np.moveaxis(grouped, 0, -1))
        else:
            np.copyto(
                delta.reshape(G, o_group, n, *out), grouped.transpose(1, 2, 0, *range(3, 3 + r))
            )
        # out= writes straight into the model's flat gradient vector.
        cols = self._cols
        np.matmul(delta, cols.transpose(0, 2, 1), out=self.grads["W"].reshape(G, o_group, -1))
        if self.bias:  # Σ over pixels as a matrix-vector product (BLAS), as Dense does
            ones = self._scratch.get("ones", (rows,), grad_out.dtype)
            ones.fill(1)
            np.matmul(delta, ones, out=self.grads["b"].reshape(G, o_group))
        if not input_grad:
            return None
        W = self.params["W"].reshape(G, o_group, -1)
        d_cols = self._scratch.get("d_cols", cols.shape, grad_out.dtype)
        np.matmul(W.transpose(0, 2, 1), delta, out=d_cols)
        return self._col2im(d_cols, grad_out.dtype)

    def _col2im(self, d_cols: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Sum every receptive field's gradient back onto the (padded) input, one kernel
        position at a time, then cut the padding off. The sums run in the columns' own order
        (each position one add along memory over the whole batch), and the result is put back
        as (n, C, H, W) once at the end."""
        n, C = self._x_shape[:2]
        out, pads = self._out, self.pads
        padded = tuple(s + a + b for s, (a, b) in zip(self._x_shape[2:], pads, strict=True))
        if self._batch_last:  # (C, *spatial, N), as the columns
            dx = self._scratch.get("dx", (C, *padded, n), dtype, zero=True)
            fields = d_cols.reshape(C, *self.kernel_size, *out, n)
            spatial = 1
        else:  # (C, N, *spatial)
            dx = self._scratch.get("dx", (C, n, *padded), dtype, zero=True)
            fields = d_cols.reshape(C, *self.kernel_size, n, *out)
            spatial = 2
        for position in itertools.product(*(range(k) for k in self.kernel_size)):
            where = tuple(
                slice(p * d, p * d + s * (o - 1) + 1, s)
                for p, d, s, o in zip(position, self.dilation, self.stride, out, strict=True)
            )
            dx[(slice(None),) * spatial + where] += fields[(slice(None), *position)]
        dx = np.moveaxis(dx, -1, 0) if self._batch_last else dx.swapaxes(0, 1)
        return dx[self._interior(self._x_shape)].copy()  # always a copy: dx is reused

    def get_config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": spelled(self.kernel_size),
            "stride": spelled(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else spelled(self.padding),
            "dilation": spelled(self.dilation),
            "groups": self.groups,
            "bias": self.bias,
            "init": _initializer_name(self.init, "auto"),
            "bias_init": _initializer_name(self.bias_init, "zeros"),
        }


@layers.register("conv2d", "conv")
class Conv2D(_Conv):
    r"""2-D convolution (cross-correlation, as in every deep-learning library) over NCHW images.

    .. math::
        z_{n,o,i,j} = b_o + \sum_{c=0}^{C/G-1} \sum_{p=0}^{k_h-1} \sum_{q=0}^{k_w-1}
            W_{o,c,p,q}\; x^{pad}_{n,\, g(o) C/G + c,\; i s_h + p d_h,\; j s_w + q d_w}

    with ``g(o) = ⌊o / (O/G)⌋`` the group of output channel ``o`` (``G = groups``).

    Backward, given ``δ = ∂L/∂z``:

    .. math::
        ∂L/∂W_{o,c,p,q} = \sum_{n,i,j} δ_{n,o,i,j}\, x^{pad}_{n,c',i s + p d,j s + q d}
        \quad\text{(a correlation of the input with δ)},

        ∂L/∂b_o = \sum_{n,i,j} δ_{n,o,i,j}, \qquad
        ∂L/∂x = δ \text{ (dilated by the stride) fully convolved with the flipped kernel}.

    Shapes:
        x: ``(batch, in_channels, H, W)``, W: ``(out_channels, in_channels/groups, kh, kw)``,
        b: ``(out_channels,)``, z: ``(batch, out_channels, H_out, W_out)`` with
        ``H_out = ⌊(H + pad_h - d_h (k_h - 1) - 1) / s_h⌋ + 1`` (``pad_h`` both sides).

    Args:
        in_channels: channels of each input image (C).
        out_channels: number of kernels, the channels of the output (O).
        kernel_size: ``k`` or ``(kh, kw)``.
        stride: ``s`` or ``(sh, sw)``: the step between receptive fields.
        padding: zeros added around the image: ``p`` or ``(ph, pw)`` on both sides,
            ``"valid"`` (none) or ``"same"`` (the output keeps the input's size; stride 1).
        dilation: ``d`` or ``(dh, dw)``: the spacing of the kernel's taps.
        groups: G; input and output channels are split into G groups convolved separately.
            ``groups=in_channels`` is a depthwise convolution.
        bias: whether to add ``b``.
        init: initializer of W. ``"auto"`` picks He when a ReLU-family activation follows
            and Glorot otherwise; fans are those of PyTorch (``fan_in = C/G·kh·kw``,
            ``fan_out = O·kh·kw``).
        bias_init: initializer of b (zeros).

    Example:
        >>> conv = Conv2D(1, 4, kernel_size=3, padding="same")
        >>> conv.build(np.random.default_rng(0), np.float64)
        >>> conv.forward(np.ones((2, 1, 5, 5))).shape
        (2, 4, 5, 5)
    """

    rank = 2


@layers.register("conv1d")
class Conv1D(_Conv):
    r"""1-D convolution over ``(batch, channels, length)`` sequences: :class:`Conv2D` with one
    spatial axis (the same code, the same arguments as one integer each).

    .. math::
        z_{n,o,i} = b_o + \sum_{c,p} W_{o,c,p}\; x^{pad}_{n,\, g(o) C/G + c,\; i s + p d}

    Shapes: ``(batch, in_channels, L)`` → ``(batch, out_channels, L_out)``, W:
    ``(out_channels, in_channels/groups, k)``.

    Example:
        >>> conv = Conv1D(2, 3, kernel_size=3)
        >>> conv.build(np.random.default_rng(0), np.float64)
        >>> conv.forward(np.ones((4, 2, 10))).shape
        (4, 3, 8)
    """

    rank = 1
