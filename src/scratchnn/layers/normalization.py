"""Normalization layers: rescale activations to zero mean and unit variance, then let the
network choose its own scale γ and shift β."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_bool, check_number, check_positive_int
from ..shapes import Shape
from .base import Layer, layers


def _normalized_backward(
    grad_xhat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axis: int
) -> np.ndarray:
    r"""``∂L/∂x`` for :math:`\hat x = (x - μ)/σ`, where μ and σ are computed along ``axis``
    from the same ``n`` values:

    .. math::
        ∂L/∂x = \frac{1}{nσ}\Bigl(n\,g - \sum g - \hat x \sum g \hat x\Bigr),
        \qquad g = ∂L/∂\hat x

    The two sums are the paths through μ and through σ.
    """
    n = x_hat.shape[axis]
    sum_g = grad_xhat.sum(axis=axis, keepdims=True)
    sum_g_xhat = (grad_xhat * x_hat).sum(axis=axis, keepdims=True)
    return (inv_std / n) * (n * grad_xhat - sum_g - x_hat * sum_g_xhat)


class _AffineNorm(Layer):
    """Shared parameters of the normalization layers: scale γ (``"gamma"``) and shift β
    (``"beta"``), one per feature."""

    draws_at_build = False  # γ starts at 1 and β at 0

    def __init__(self, num_features: int, eps: float, affine: bool) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.eps = check_number("eps", eps, 0.0, low_open=True)
        self.affine = check_bool("affine", affine)

    @property
    def in_features(self) -> int:
        return self.num_features

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        features = (self.num_features,)
        return {"gamma": features, "beta": features} if self.affine else {}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        super().build(rng, dtype, init_hint)
        if self.affine:
            for name, fill in (("gamma", 1.0), ("beta", 0.0)):
                self.params[name] = np.full(self.num_features, fill, dtype=self.dtype)
                self.grads[name] = np.zeros(self.num_features, dtype=self.dtype)

    def _scale_shift(self, x_hat: np.ndarray) -> np.ndarray:
        if not self.affine:
            return x_hat
        return x_hat * self.params["gamma"] + self.params["beta"]

    def _backward_affine(self, grad_out: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
        """Fill ∂L/∂γ = Σ g x̂ and ∂L/∂β = Σ g (over the batch); return ∂L/∂x̂ = g γ."""
        if not self.affine:
            return grad_out
        rows = tuple(range(grad_out.ndim - 1))  # every axis but the features
        np.sum(grad_out * x_hat, axis=rows, out=self.grads["gamma"])
        np.sum(grad_out, axis=rows, out=self.grads["beta"])
        return grad_out * self.params["gamma"]


@layers.register("batchnorm")
class BatchNorm1d(_AffineNorm):
    r"""Batch normalization over the batch axis, per feature (PyTorch's ``BatchNorm1d``).

    Training, with batch mean μ and biased variance σ² of each feature:

    .. math::
        \hat x = \frac{x - μ}{\sqrt{σ^2 + ε}}, \qquad y = γ \hat x + β

    and the running statistics move toward the batch's:
    ``running_mean ← (1 - m)·running_mean + m·μ``, ``running_var ← (1 - m)·running_var +
    m·σ²·n/(n-1)`` (the unbiased variance, as PyTorch). Inference uses the running statistics,
    so the layer becomes a fixed affine map.

    Args:
        num_features: features per sample.
        eps: ε added to the variance (1e-5).
        momentum: m, the weight of each new batch in the running statistics (0.1).
        affine: learn γ and β (True).

    Shapes: ``(batch, num_features)`` → same. Training needs at least 2 samples per batch.
    """

    needs_batch_statistics = True
    buffer_lows: ClassVar[dict[str, float | None]] = {"running_var": 0.0}

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
    ) -> None:
        super().__init__(num_features, eps, affine)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0, low_open=True)

    @property
    def input_shape(self) -> tuple[int]:
        return (self.num_features,)  # statistics over the batch axis: rows of features only

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"running_mean": (self.num_features,), "running_var": (self.num_features,)}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        super().build(rng, dtype, init_hint)
        self.buffers["running_mean"] = np.zeros(self.num_features, dtype=self.dtype)
        self.buffers["running_var"] = np.ones(self.num_features, dtype=self.dtype)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        self._training = training
        if training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(
                    "BatchNorm1d needs at least 2 samples per batch in training; received 1. "
                    "Choose a batch_size that leaves no batch of a single sample."
                )
            mean = x.mean(axis=0)
            centered = x - mean
            var = np.einsum("ij,ij->j", centered, centered) / n
            m = self.momentum
            self.buffers["running_mean"] = (1 - m) * self.buffers["running_mean"] + m * mean
            self.buffers["running_var"] = (1 - m) * self.buffers["running_var"] + m * var * (
                n / (n - 1)
            )
        else:
            centered = x - self.buffers["running_mean"]
            var = self.buffers["running_var"]
        self._inv_std = 1 / np.sqrt(var + self.eps)
        self._x_hat = centered * self._inv_std
        return self._scale_shift(self._x_hat)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        grad_xhat = self._backward_affine(grad_out, self._x_hat)
        if not self._training:  # μ and σ are constants at inference: a per-feature scale
            return grad_xhat * self._inv_std
        return _normalized_backward(grad_xhat, self._x_hat, self._inv_std, axis=0)

    def get_config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
        }


@layers.register()
class LayerNorm(_AffineNorm):
    r"""Layer normalization: each sample normalized over its own features (PyTorch's
    ``LayerNorm`` over the last dimension). The same in training and inference.

    .. math::
        \hat x_i = \frac{x_i - μ_i}{\sqrt{σ_i^2 + ε}}, \qquad y_i = γ \hat x_i + β

    with μᵢ and σᵢ² the mean and biased variance of row i.

    Args:
        num_features: features per sample (PyTorch's ``normalized_shape``).
        eps: ε added to the variance (1e-5).
        affine: learn γ and β (PyTorch's ``elementwise_affine``; True).

    Shapes: ``(batch, num_features)`` → same; ``(batch, ..., num_features)`` (a sequence)
    normalizes each position over its last axis.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__(num_features, eps, affine)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        centered = x - x.mean(axis=-1, keepdims=True)
        var = np.einsum("...j,...j->...", centered, centered)[..., None] / x.shape[-1]
        self._inv_std = 1 / np.sqrt(var + self.eps)
        self._x_hat = centered * self._inv_std
        return self._scale_shift(self._x_hat)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        grad_xhat = self._backward_affine(grad_out, self._x_hat)
        return _normalized_backward(grad_xhat, self._x_hat, self._inv_std, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "affine": self.affine}
