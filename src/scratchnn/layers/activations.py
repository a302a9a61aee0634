"""Activation functions as layers: ``a = f(z)`` elementwise, and ``∂L/∂z = ∂L/∂a ⊙ f'(z)``.

Where the math allows it the derivative is computed from the cached *output* rather than the
input (sigmoid ``a(1-a)``, tanh ``1-a²``, ReLU's mask), as the classic tutorial's
``sigmoid_derivative(a) = a * (1 - a)`` does. Formulas and defaults follow PyTorch's, so the
two agree to float64 precision. Every activation is stable at inputs of ±1000.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._registry import Registry
from .._validation import check_choice, check_number
from ..functional import normal_cdf, normal_pdf, sigmoid, softmax
from .base import ParameterFree, layers

activations: Registry[type[Activation]] = Registry("activation")


class Activation(ParameterFree):
    """Base class of parameter-free elementwise (or row-wise) activations."""

    recommended_init = "glorot_uniform"

    def get_spec(self) -> str | dict[str, Any]:
        """The shortest JSON description: the name, or a config dict when it has arguments."""
        config = self.get_config()
        if not config:
            return type(self).__name__.lower()
        return {"class_name": type(self).__name__, "config": config}


def get_activation(spec: str | dict | Activation) -> Activation:
    """An activation layer from a name (``"relu"``), a config dict, or an instance."""
    return activations.create(spec, Activation)


@layers.register()
@activations.register("linear", "none")
class Identity(Activation):
    """``a = z``; ``∂L/∂z = ∂L/∂a``. Shapes: any → same."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out


@layers.register()
@activations.register("logistic")
class Sigmoid(Activation):
    r"""Logistic sigmoid, :math:`a = σ(z) = 1 / (1 + e^{-z})`, with :math:`σ'(z) = a (1 - a)`.

    Shapes: ``(batch, features)`` → same.
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._a = sigmoid(x)
        return self._a

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        a = self._a
        return grad_out * a * (1 - a)


@layers.register()
@activations.register()
class Tanh(Activation):
    r"""Hyperbolic tangent, :math:`a = \tanh z`, with :math:`\tanh'(z) = 1 - a^2`.

    Shapes: ``(batch, features)`` → same.
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._a = np.tanh(x)
        return self._a

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        a = self._a
        return grad_out * (1 - a * a)


@layers.register()
@activations.register()
class ReLU(Activation):
    r"""Rectified linear unit, :math:`a = \max(z, 0)`; the derivative is 1 where
    :math:`z > 0` and 0 elsewhere (0 at the kink, as in PyTorch).

    Shapes: ``(batch, features)`` → same.
    """

    recommended_init = "he_uniform"

    def __init__(self) -> None:
        super().__init__()
        self._zeros = np.zeros(0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        # max(z, 0) against a row of zeros rather than the scalar 0: NumPy's maximum loop for
        # an array and a broadcast scalar is several times slower than for an array and a row.
        if self._zeros.shape != x.shape[-1:] or self._zeros.dtype != x.dtype:
            self._zeros = np.zeros(x.shape[-1:], dtype=x.dtype)
        self._a = np.maximum(x, self._zeros)
        return self._a

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        # g ⊙ [a > 0]: multiplying by the boolean mask is several times faster than np.where.
        return grad_out * (self._a > 0)


@layers.register()
@activations.register("leaky")
class LeakyReLU(Activation):
    r""":math:`a = z` for :math:`z > 0`, :math:`a = α z` otherwise; derivative 1 or α.

    Args:
        alpha: slope for negative inputs (PyTorch's ``negative_slope``), 0.01 by default.

    Shapes: ``(batch, features)`` → same.
    """

    recommended_init = "he_uniform"

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = check_number("alpha", alpha)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.alpha))  # f'(z)
        return x * self._slope  # f(z) = f'(z)·z for a piecewise-linear f through 0

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out * self._slope

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


@layers.register()
@activations.register()
class ELU(Activation):
    r"""Exponential linear unit: :math:`a = z` for :math:`z > 0`, :math:`a = α(e^z - 1)`
    otherwise. Derivative 1 for :math:`z > 0`, else :math:`α e^z`.

    ``expm1`` of ``min(z, 0)`` keeps precision near 0 and never overflows for large ``z``.
    The slope :math:`α e^z` is cached rather than rewritten as :math:`a + α`, which would
    cancel and lose relative precision far in the negative tail.

    Args:
        alpha: the value the output saturates to for very negative inputs is ``-alpha``.

    Shapes: ``(batch, features)`` → same.
    """

    recommended_init = "he_uniform"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = check_number("alpha", alpha)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        alpha = x.dtype.type(self.alpha)
        negative = np.minimum(x, 0)
        positive = x > 0
        self._slope = np.where(positive, x.dtype.type(1), alpha * np.exp(negative))  # f'(z)
        return np.where(positive, x, alpha * np.expm1(negative))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out * self._slope

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


@layers.register()
@activations.register()
class GELU(Activation):
    r"""Gaussian error linear unit, :math:`a = z Φ(z)` with :math:`Φ` the standard normal
    distribution function; :math:`a' = Φ(z) + z φ(z)`.

    With ``approximate="tanh"``:
    :math:`a = \tfrac12 z (1 + \tanh u)`, :math:`u = \sqrt{2/π}(z + 0.044715 z^3)`, and
    :math:`a' = \tfrac12(1 + \tanh u) + \tfrac12 z (1 - \tanh^2 u) \sqrt{2/π}(1 + 3·0.044715 z^2)`.

    Args:
        approximate: ``"none"`` (exact, the default, as PyTorch) or ``"tanh"``.

    Shapes: ``(batch, features)`` → same.
    """

    recommended_init = "he_uniform"
    _K = math.sqrt(2 / math.pi)
    _C = 0.044715

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = check_choice("approximate", approximate, ("none", "tanh"))

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x
        if self.approximate == "tanh":
            self._t = np.tanh(self._K * (x + self._C * x * x * x))
            return 0.5 * x * (1 + self._t)
        self._cdf = normal_cdf(x)
        return x * self._cdf

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        x = self._x
        if self.approximate == "tanh":
            t = self._t
            du_dx = self._K * (1 + 3 * self._C * x * x)
            return grad_out * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du_dx)
        return grad_out * (self._cdf + x * normal_pdf(x))

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


@layers.register()
@activations.register("swish")
class SiLU(Activation):
    r"""Sigmoid linear unit (swish), :math:`a = z σ(z)`, with
    :math:`a' = σ(z) (1 + z (1 - σ(z)))`.

    Shapes: ``(batch, features)`` → same.
    """

    recommended_init = "he_uniform"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x
        self._s = sigmoid(x)
        return x * self._s

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        s = self._s
        return grad_out * s * (1 + self._x * (1 - s))


@layers.register()
@activations.register()
class Softmax(Activation):
    r"""Softmax over the last axis, :math:`a_i = e^{z_i} / \sum_j e^{z_j}`.

    Its Jacobian is :math:`∂a_i/∂z_j = a_i(δ_{ij} - a_j)`, so the backward pass is
    :math:`∂L/∂z = a ⊙ (g - \sum_j g_j a_j)` with :math:`g = ∂L/∂a`, without forming the
    ``(classes, classes)`` Jacobian. For classification prefer a linear output with
    ``CrossEntropy(from_logits=True)``, whose fused gradient is simpler and more stable.

    Shapes: ``(batch, classes)`` → same; each output row sums to 1.
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._a = softmax(x)
        return self._a

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        a = self._a
        return a * (grad_out - np.sum(grad_out * a, axis=-1, keepdims=True))
