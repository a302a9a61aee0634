r"""Periodic embeddings of numeric features (Gorishniy et al., "On Embeddings for Numerical
Features in Tabular Deep Learning", 2022; RealMLP's and TabM's recipes use them too).

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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_number, check_positive_int
from ..shapes import Shape
from .base import Layer, layers

__all__ = ["PeriodicEmbedding"]

TWO_PI = 2 * np.pi


@layers.register()
class PeriodicEmbedding(Layer):
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

    can_skip_input_grad = True

    def __init__(
        self,
        in_features: int,
        numeric: int | None = None,
        frequencies: int = 8,
        sigma: float = 0.1,
        keep_inputs: bool = False,
    ) -> None:
        super().__init__()
        self._in = check_positive_int("in_features", in_features)
        numeric = self._in if numeric is None else check_positive_int("numeric", numeric)
        if numeric > self._in:
            raise ValueError(
                f"numeric must be at most in_features ({self._in}). Received: numeric={numeric}."
            )
        self.numeric = numeric
        self.frequencies = check_positive_int("frequencies", frequencies)
        self.sigma = check_number("sigma", sigma, 0.0, low_open=True)
        self.keep_inputs = bool(keep_inputs)
        self._x: np.ndarray | None = None
        self._sin: np.ndarray | None = None
        self._cos: np.ndarray | None = None

    @property
    def in_features(self) -> int:
        return self._in

    @property
    def passed(self) -> int:
        """``s``, the first input feature passed through: 0 with ``keep_inputs``, else ``m``."""
        return 0 if self.keep_inputs else self.numeric

    @property
    def out_features(self) -> int:
        """``2·k·m`` embedded features, then the ``n - s`` passed through."""
        return 2 * self.frequencies * self.numeric + self._in - self.passed

    def output_features(self, in_features: int) -> int:
        return self.out_features

    @property
    def input_shape(self) -> Shape:
        return (self._in,)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (self.out_features,)

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
