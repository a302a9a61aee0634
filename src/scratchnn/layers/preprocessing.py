"""Preprocessing inside the model, so that a saved model takes raw features."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_positive_int
from ..shapes import Shape
from .base import Layer, layers


def adapt_rows(X: np.ndarray, features: int, finite: int | None = None) -> np.ndarray:
    """``X`` as float64 rows for a layer's ``adapt``, refused unless it is a non-empty
    ``(n_samples, features)`` array whose first ``finite`` columns (all: None) hold no NaN or
    infinity."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != features or len(X) == 0:
        raise ValueError(
            f"adapt() needs a non-empty array of shape (n_samples, {features}); received shape "
            f"{X.shape}."
        )
    if not np.isfinite(X[:, :finite]).all():
        raise ValueError("adapt() received NaN or infinity; clean the data first.")
    return X


@layers.register("normalization")
class Standardize(Layer):
    r"""Standardize each feature with statistics fitted on training data (Keras's
    ``Normalization``): :math:`y = (x - μ) / σ`, so :math:`∂L/∂x = ∂L/∂y / σ`.

    μ and σ are buffers, not parameters: ``adapt(X)`` sets them, training leaves them alone,
    and they are saved with the model, so ``predict`` on raw data needs nothing else.
    Constant features get σ = 1.

    Args:
        num_features: features per sample.

    Shapes: ``(batch, num_features)`` → same.

    Example:
        >>> layer = Standardize(2)
        >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
        >>> layer.forward(np.array([[1.0, 20.0]]))
        array([[0., 0.]])
    """

    draws_at_build = False
    buffer_lows: ClassVar[dict[str, float | None]] = {"std": None}  # a divisor

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)

    @property
    def in_features(self) -> int:
        return self.num_features

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"mean": (self.num_features,), "std": (self.num_features,)}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        super().build(rng, dtype, init_hint)
        self.buffers["mean"] = np.zeros(self.num_features, dtype=self.dtype)
        self.buffers["std"] = np.ones(self.num_features, dtype=self.dtype)

    def adapt(self, X: np.ndarray) -> None:
        """Set μ and σ to the per-feature mean and standard deviation of ``X``."""
        X = adapt_rows(X, self.num_features)
        if not self.built:
            # float64 until a model adopts the layer and casts it to the model's dtype
            self.build(dtype=np.float64)
        std = X.std(axis=0)
        self.buffers["mean"] = X.mean(axis=0)
        self.buffers["std"] = np.where(std > 0, std, 1.0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        return (x - self.buffers["mean"]) / self.buffers["std"]

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out / self.buffers["std"]

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features}
