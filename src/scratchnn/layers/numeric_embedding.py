r"""Embeddings of numeric features (Gorishniy et al., "On Embeddings for Numerical Features in
Tabular Deep Learning", 2022; RealMLP's and TabM's recipes use them too): periodic, with learned
frequencies, and piecewise-linear, with bins fitted to the data.

An MLP sees each number as one input, through one weight per unit: it draws a function of
``x_j`` from a few ReLU kinks. A periodic embedding first spreads each number over ``k``
learned frequencies,

.. math::
    v_j = \bigl[\sin(2π c_{j1} x_j), \dots, \sin(2π c_{jk} x_j),\;
                \cos(2π c_{j1} x_j), \dots, \cos(2π c_{jk} x_j)\bigr],

so the next ``Dense`` layer can build high-frequency functions of one feature (a step, a bump)
from smooth pieces. The frequencies ``c`` start at ``N(0, σ²)`` and are trained. With
``keep_inputs`` the numbers themselves pass through too (RealMLP's "DenseNet-style" periodic
embedding), so a trend along ``x_j`` stays one weight away.

A piecewise-linear encoding cuts each number at fixed bin edges (quantiles of the training
data) and reports how far it has come through each bin, a value from 0 to 1:

.. math::
    e_{jt} = \operatorname{clip}\Bigl(\frac{x_j - b_{j,t-1}}{b_{jt} - b_{j,t-1}},\ 0,\ 1\Bigr),

so the next ``Dense`` layer draws any function of ``x_j`` that is linear within each bin (a
step at an edge, a different slope in each bin) with one weight per bin, as a tree splits at
thresholds. It has no parameters: its cost is a wider first layer.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validation import check_number, check_positive_int
from ..shapes import Shape
from .base import Layer, layers
from .preprocessing import adapt_rows

__all__ = ["Bins", "PeriodicEmbedding", "PiecewiseLinearEncoding"]

TWO_PI = 2 * np.pi


class _NumericFront(Layer):
    """What both embeddings share: ``n = in_features`` features in, each of the first ``m =
    numeric`` spread over ``width_per_feature`` outputs, then the features from ``s`` on
    passed through (``s = 0`` with ``keep_inputs``, else ``m``)."""

    can_skip_input_grad = True

    def __init__(self, in_features: int, numeric: int | None, keep_inputs: bool) -> None:
        super().__init__()
        self._in = check_positive_int("in_features", in_features)
        numeric = self._in if numeric is None else check_positive_int("numeric", numeric)
        if numeric > self._in:
            raise ValueError(
                f"numeric must be at most in_features ({self._in}). Received: numeric={numeric}."
            )
        self.numeric = numeric
        self.keep_inputs = bool(keep_inputs)
        self._x: np.ndarray | None = None

    @property
    def width_per_feature(self) -> int:
        """How many outputs each of the first ``m`` features becomes."""
        raise NotImplementedError

    @property
    def in_features(self) -> int:
        return self._in

    @property
    def passed(self) -> int:
        """``s``, the first input feature passed through: 0 with ``keep_inputs``, else ``m``."""
        return 0 if self.keep_inputs else self.numeric

    @property
    def out_features(self) -> int:
        """The embedded features, then the ``n - s`` passed through."""
        return self.width_per_feature * self.numeric + self._in - self.passed

    def output_features(self, in_features: int) -> int:
        return self.out_features

    @property
    def input_shape(self) -> Shape:
        return (self._in,)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (self.out_features,)


@layers.register()
class PeriodicEmbedding(_NumericFront):
    r"""``k`` learned sine and cosine frequencies for each of the first ``numeric`` features;
    the other features pass through unchanged.

    For a row ``x``, the numeric features ``j < m`` (``m = numeric``) and the frequencies
    ``C: (m, k)``:

    .. math::
        a_{ji} = 2π\, C_{ji}\, x_j, \qquad
        y = \bigl[\sin a_{0·}, \cos a_{0·},\ \dots,\ \sin a_{m-1,·}, \cos a_{m-1,·},\
                  x_s, \dots, x_{n-1}\bigr]

    where the passed-through part starts at ``s = m``, or at ``s = 0`` with ``keep_inputs``.

    Backward, given ``g = ∂L/∂y`` split into ``g^{\sin}_{ji}``, ``g^{\cos}_{ji}`` and the
    passed-through part ``g^{rest}``; since ``∂\sin a/∂a = \cos a`` and ``∂\cos a/∂a = -\sin a``
    (both read from the cached outputs):

    .. math::
        δ_{ji} = g^{\sin}_{ji} \cos a_{ji} - g^{\cos}_{ji} \sin a_{ji}, \qquad
        ∂L/∂C_{ji} = 2π \sum_{batch} x_j\, δ_{ji}, \qquad
        ∂L/∂x_j = 2π \sum_i C_{ji}\, δ_{ji}\ (j < m), \qquad
        ∂L/∂x_{s:} \mathrel{+}= g^{rest}

    Args:
        in_features: features per row ``n``.
        numeric: how many of the first features to embed (``m``; None: all of them). A table's
            encoder puts its numeric columns first, so ``numeric`` is their count and the
            one-hot columns pass through.
        frequencies: frequencies ``k`` per feature.
        sigma: the standard deviation σ of the frequencies' initialization; with features
            scaled to about ``±3``, ``σ = 0.1`` starts every angle within about ``±2`` radians.
        keep_inputs: whether the embedded numbers also pass through unchanged, after the
            embedding (``s = 0``), rather than only the other features (``s = m``).

    Shapes:
        x: ``(batch, n)``, C: ``(m, k)``, y: ``(batch, 2·k·m + n - s)``.

    The same math in loops over rows, features and frequencies:
    :class:`scratchnn.reference.PeriodicEmbedding` (the tests check this layer against it).

    Example:
        >>> layer = PeriodicEmbedding(3, numeric=2, frequencies=4)
        >>> layer.build(np.random.default_rng(0), np.float64)
        >>> layer.forward(np.ones((5, 3))).shape  # 2 features x 8, and 1 passed through
        (5, 17)
    """

    def __init__(
        self,
        in_features: int,
        numeric: int | None = None,
        frequencies: int = 8,
        sigma: float = 0.1,
        keep_inputs: bool = False,
    ) -> None:
        super().__init__(in_features, numeric, keep_inputs)
        self.frequencies = check_positive_int("frequencies", frequencies)
        self.sigma = check_number("sigma", sigma, 0.0, low_open=True)
        self._sin: np.ndarray | None = None
        self._cos: np.ndarray | None = None

    @property
    def width_per_feature(self) -> int:
        """``2·k``: a sine and a cosine per frequency."""
        return 2 * self.frequencies

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"C": (self.numeric, self.frequencies)}

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
        shape = (self.numeric, self.frequencies)
        self.params["C"] = (self.sigma * rng.standard_normal(shape)).astype(self.dtype)
        self.grads["C"] = np.zeros(shape, dtype=self.dtype)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        m, k = self.numeric, self.frequencies
        self._x = x
        angles = (TWO_PI * x[:, :m, None]) * self.params["C"]  # a: (batch, m, k)
        self._sin, self._cos = np.sin(angles), np.cos(angles)
        out = np.empty((len(x), self.out_features), dtype=angles.dtype)
        embedded = out[:, : 2 * k * m].reshape(len(x), m, 2 * k)  # a view: v_j per feature
        embedded[:, :, :k] = self._sin
        embedded[:, :, k:] = self._cos
        out[:, 2 * k * m :] = x[:, self.passed :]
        return out

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads["C"]`` and return ``∂L/∂x`` (None with ``input_grad=False``)."""
        m, k, x = self.numeric, self.frequencies, self._x
        g = grad_out[:, : 2 * k * m].reshape(len(x), m, 2 * k)
        delta = g[:, :, :k] * self._cos - g[:, :, k:] * self._sin  # ∂L/∂a: (batch, m, k)
        # ∂L/∂C_ji = 2π Σ_b x_bj δ_bji: one batched product over the features
        np.multiply(TWO_PI, np.einsum("bj,bji->ji", x[:, :m], delta), out=self.grads["C"])
        if not input_grad:
            return None
        grad_x = np.zeros(x.shape, dtype=grad_out.dtype)
        grad_x[:, :m] = TWO_PI * np.einsum("bji,ji->bj", delta, self.params["C"])
        grad_x[:, self.passed :] += grad_out[:, 2 * k * m :]
        return grad_x

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self._in,
            "numeric": self.numeric,
            "frequencies": self.frequencies,
            "sigma": self.sigma,
            "keep_inputs": self.keep_inputs,
        }


class Bins(NamedTuple):
    """A :class:`PiecewiseLinearEncoding`'s bins, ``(m, T)`` each, as its forward and backward
    (and its ONNX export) use them. A bin that cannot be used (of no width, running backwards,
    or with a width or ``1 / w`` beyond the dtype) has ``upper = lower``, ``width = 1`` and
    ``slope = 0``: it gives 0 and passes no gradient."""

    lower: np.ndarray  #: b_{t-1}
    upper: np.ndarray  #: b_t
    width: np.ndarray  #: w_t, what the forward divides by
    slope: np.ndarray  #: 1 / w_t, the backward's slope inside the bin


@layers.register()
class PiecewiseLinearEncoding(_NumericFront):
    r"""Each of the first ``numeric`` features spread over ``bins`` pieces between bin edges
    fitted to training data (``adapt``); the other features pass through unchanged.

    For a row ``x``, the numeric features ``j < m`` (``m = numeric``) and their edges
    ``b_{j0} ≤ b_{j1} ≤ … ≤ b_{jT}`` (``T = bins``), with ``w_{jt} = b_{jt} - b_{j,t-1}``:

    .. math::
        z_{jt} = (x_j - b_{j,t-1}) / w_{jt}, \qquad e_{jt} = \operatorname{clip}(z_{jt}, 0, 1),
        \qquad y = \bigl[e_{0·},\ \dots,\ e_{m-1,·},\ x_s, \dots, x_{n-1}\bigr]

    where the passed-through part starts at ``s = m``, or at ``s = 0`` with ``keep_inputs``. A
    bin of zero width (a repeated quantile, as in a column of few distinct values) gives 0.

    Backward, given ``g = ∂L/∂y`` split into ``g_{jt}`` and the passed-through ``g^{rest}``
    (the clip passes the gradient only inside a bin):

    .. math::
        ∂L/∂x_j = \sum_t g_{jt}\, [0 < z_{jt} < 1] / w_{jt}\ (j < m), \qquad
        ∂L/∂x_{s:} \mathrel{+}= g^{rest}

    The edges are buffers, not parameters: ``adapt(X)`` sets them to the quantiles
    ``0, 1/T, …, 1`` of each column of ``X``, training leaves them alone, and they are saved
    with the model. Until ``adapt``, the bins split ``[0, 1]`` evenly. A bin that cannot be
    used (of no width, running backwards in a corrupt file, or too narrow or too wide for the
    dtype's arithmetic) gives 0, and passes no gradient.

    Args:
        in_features: features per row ``n``.
        numeric: how many of the first features to encode (``m``; None: all of them). A table's
            encoder puts its numeric columns first, so ``numeric`` is their count and the
            one-hot columns pass through.
        bins: pieces ``T`` per feature.
        keep_inputs: whether the encoded numbers also pass through unchanged, after the
            pieces (``s = 0``), rather than only the other features (``s = m``).

    Shapes:
        x: ``(batch, n)``, edges: ``(m, T + 1)``, y: ``(batch, T·m + n - s)``.

    The same math in loops over rows, features and bins:
    :class:`scratchnn.reference.PiecewiseLinearEncoding` (the tests check this layer
    against it).

    Example:
        >>> layer = PiecewiseLinearEncoding(2, numeric=1, bins=2)
        >>> layer.adapt(np.array([[0.0, 5.0], [1.0, 5.0], [4.0, 5.0]]))
        >>> layer.buffers["edges"].tolist()
        [[0.0, 1.0, 4.0]]
        >>> layer.forward(np.array([[0.5, 7.0], [2.5, 7.0], [9.0, 7.0]])).tolist()
        [[0.5, 0.0, 7.0], [1.0, 0.5, 7.0], [1.0, 1.0, 7.0]]
    """

    draws_at_build = False

    def __init__(
        self,
        in_features: int,
        numeric: int | None = None,
        bins: int = 8,
        keep_inputs: bool = False,
    ) -> None:
        super().__init__(in_features, numeric, keep_inputs)
        self.bins = check_positive_int("bins", bins)
        self._cache_key: tuple | None = None  # the edges that _cached was worked out from
        self._cached: Bins | None = None

    @property
    def width_per_feature(self) -> int:
        """``T``: a piece per bin."""
        return self.bins

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"edges": (self.numeric, self.bins + 1)}

    def build(
        self,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
        init_hint: str | None = None,
    ) -> None:
        super().build(rng, dtype, init_hint)
        unit = np.linspace(0.0, 1.0, self.bins + 1)  # [0, 1] split evenly until adapt
        self.buffers["edges"] = np.tile(unit, (self.numeric, 1)).astype(self.dtype)

    def adapt(self, X: np.ndarray) -> None:
        """Set each encoded column's edges to its quantiles ``0, 1/T, …, 1`` in ``X``."""
        X = adapt_rows(X, self._in, finite=self.numeric)  # (the rest is only passed through)
        if not self.built:
            # float64 until a model adopts the layer and casts it to the model's dtype
            self.build(dtype=np.float64)
        levels = np.linspace(0.0, 1.0, self.bins + 1)
        with np.errstate(over="ignore", invalid="ignore"):  # refused just below
            edges = np.quantile(X[:, : self.numeric], levels, axis=0).T.astype(self.dtype)
        if not np.isfinite(edges).all():
            raise ValueError(
                f"adapt(): the quantiles of these columns are beyond {self.dtype} (values near "
                f"{np.finfo(self.dtype).max:.3g}); scale the data first (Standardize)."
            )
        self.buffers["edges"] = edges

    def bin_arrays(self) -> Bins:
        """The bins as the forward and backward use them, worked out again only when the
        edges have changed (``adapt``, or a loaded file)."""
        edges = self.buffers["edges"]
        key = (edges.dtype.str, edges.shape, edges.tobytes())
        if self._cache_key != key:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # judged below
                lower, upper = edges[:, :-1], edges[:, 1:]
                width = upper - lower
                slope = 1 / width
            usable = (width > 0) & np.isfinite(width) & np.isfinite(slope)
            self._cached = Bins(
                lower.copy(),
                np.where(usable, upper, lower),  # an unusable bin collapses onto its lower edge
                np.where(usable, width, 1).astype(edges.dtype),
                np.where(usable, slope, 0).astype(edges.dtype),
            )
            self._cache_key = key
        return self._cached

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        m, T = self.numeric, self.bins
        bins = self.bin_arrays()
        self._x = x
        # x held within each bin first, so that x - b stays within the bin's width: finite
        # for any finite x, exactly 1 past a bin, and 0 in a bin that cannot be used
        pieces = np.maximum(x[:, :m, None], bins.lower)  # (batch, m, T)
        np.minimum(pieces, bins.upper, out=pieces)
        pieces -= bins.lower
        pieces /= bins.width
        return np.concatenate([pieces.reshape(len(x), m * T), x[:, self.passed :]], axis=1)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """``∂L/∂x`` (None with ``input_grad=False``: the layer has no parameters)."""
        if not input_grad:
            return None
        m, T, x = self.numeric, self.bins, self._x
        bins = self.bin_arrays()
        xr = x[:, :m, None]
        slope = np.where((xr > bins.lower) & (xr < bins.upper), bins.slope, 0.0)  # (batch, m, T)
        g = grad_out[:, : m * T].reshape(len(x), m, T)
        grad_x = np.zeros(x.shape, dtype=grad_out.dtype)
        grad_x[:, :m] = np.einsum("bjt,bjt->bj", g, slope)
        grad_x[:, self.passed :] += grad_out[:, m * T :]
        return grad_x

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self._in,
            "numeric": self.numeric,
            "bins": self.bins,
            "keep_inputs": self.keep_inputs,
        }
