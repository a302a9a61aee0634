r"""Batch normalization of images, per channel (PyTorch's ``BatchNorm2d``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_bool, check_number, check_positive_int
from ..shapes import Shape
from .base import Layer, layers


@layers.register("batchnorm2d")
class BatchNorm2d(Layer):
    r"""Batch normalization of NCHW images: each channel normalized over the batch and every
    pixel, ``n = batch·H·W`` values, then scaled by γ and shifted by β (one per channel).

    .. math::
        μ_c = \frac{1}{n}\sum_{b,u,v} x_{b,c,u,v}, \quad
        σ_c^2 = \frac{1}{n}\sum_{b,u,v} (x_{b,c,u,v} - μ_c)^2, \quad
        \hat x = \frac{x - μ_c}{\sqrt{σ_c^2 + ε}}, \quad y = γ_c \hat x + β_c

    Backward, with :math:`g = γ_c\, ∂L/∂y` and sums over the same n values as μ:

    .. math::
        ∂L/∂γ_c = \sum ∂L/∂y\,\hat x, \qquad ∂L/∂β_c = \sum ∂L/∂y, \qquad
        ∂L/∂x = \frac{1}{n\sqrt{σ_c^2+ε}}\Bigl(n\,g - \sum g - \hat x \sum g \hat x\Bigr)

    The running statistics move as :class:`~scratchnn.BatchNorm1d`'s (the unbiased variance,
    momentum m); inference uses them, a fixed per-channel affine map.

    Args:
        num_features: channels C.
        eps: ε added to the variance (1e-5).
        momentum: m, the weight of each new batch in the running statistics (0.1).
        affine: learn γ and β (True).

    Shapes: ``(batch, C, H, W)`` → same.
    """

    draws_at_build = False  # γ starts at 1 and β at 0
    needs_batch_statistics = True

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
    ) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.eps = check_number("eps", eps, 0.0, low_open=True)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0, low_open=True)
        self.affine = check_bool("affine", affine)

    @property
    def input_shape(self) -> tuple[int, None, None]:
        return (self.num_features, None, None)

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        channels = (self.num_features,)
        return {"gamma": channels, "beta": channels} if self.affine else {}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"running_mean": (self.num_features,), "running_var": (self.num_features,)}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        super().build(rng, dtype, init_hint)
        C = self.num_features
        if self.affine:
            for name, fill in (("gamma", 1.0), ("beta", 0.0)):
                self.params[name] = np.full(C, fill, dtype=self.dtype)
                self.grads[name] = np.zeros(C, dtype=self.dtype)
        self.buffers["running_mean"] = np.zeros(C, dtype=self.dtype)
        self.buffers["running_var"] = np.ones(C, dtype=self.dtype)

    _AXES = (0, 2, 3)  # every axis but the channels

    @staticmethod
    def _per_channel(v: np.ndarray) -> np.ndarray:
        return v[:, None, None]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        self._training = training
        if training:
            n = x.shape[0] * x.shape[2] * x.shape[3]
            if n < 2:
                raise ValueError(
                    "BatchNorm2d needs at least 2 values per channel in a training batch; "
                    f"received a batch of shape {x.shape}. Choose a batch_size that leaves no "
                    "batch of a single 1x1 image."
                )
            mean = x.mean(axis=self._AXES)
            centered = x - self._per_channel(mean)
            var = np.einsum("bcuv,bcuv->c", centered, centered) / n
            m = self.momentum
            self.buffers["running_mean"] = (1 - m) * self.buffers["running_mean"] + m * mean
            self.buffers["running_var"] = (1 - m) * self.buffers["running_var"] + m * var * (
                n / (n - 1)
            )
        else:
            centered = x - self._per_channel(self.buffers["running_mean"])
            var = self.buffers["running_var"]
        self._inv_std = self._per_channel(1 / np.sqrt(var + self.eps))
        self._x_hat = centered * self._inv_std
        if not self.affine:
            return self._x_hat
        return self._x_hat * self._per_channel(self.params["gamma"]) + self._per_channel(
            self.params["beta"]
        )

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        x_hat = self._x_hat
        if self.affine:
            np.einsum("bcuv,bcuv->c", grad_out, x_hat, out=self.grads["gamma"])
            np.sum(grad_out, axis=self._AXES, out=self.grads["beta"])
            g = grad_out * self._per_channel(self.params["gamma"])
        else:
            g = grad_out
        if not self._training:  # μ and σ are constants at inference: a per-channel scale
            return g * self._inv_std
        n = x_hat.shape[0] * x_hat.shape[2] * x_hat.shape[3]
        sum_g = self._per_channel(g.sum(axis=self._AXES))
        sum_g_xhat = self._per_channel(np.einsum("bcuv,bcuv->c", g, x_hat))
        return (self._inv_std / n) * (n * g - sum_g - x_hat * sum_g_xhat)

    def get_config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
        }
