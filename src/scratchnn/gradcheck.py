"""Check hand-derived gradients against finite differences.

For each parameter entry :math:`θ_i` the central difference

.. math::
    \\frac{∂L}{∂θ_i} ≈ \\frac{L(θ + εe_i) - L(θ - εe_i)}{2ε}

has error :math:`O(ε^2)`, far below what a wrong backward produces. Run in float64: in float32
the rounding error of :math:`L` divided by :math:`2ε` would swamp the comparison.

Checking your own layer::

    class Square(snn.Layer):
        def forward(self, x, training=False):
            self._x = x
            return x * x
        def backward(self, grad_out):
            return grad_out * 2 * self._x

    model = snn.Sequential([snn.Dense(3, 4), Square(), snn.Dense(4, 1)], seed=0)
    print(snn.gradcheck(model, "mse", X, y))   # a table; .passed is True when all agree
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import losses as losses_module
from ._validation import check_features

if TYPE_CHECKING:
    from .losses import Loss
    from .model import Sequential


@dataclass(frozen=True)
class GradcheckResult:
    """Largest relative error per parameter (and for the input, under ``"input"``).

    The relative error of a parameter is ``max |analytic - numeric|`` divided by the largest
    magnitude of either gradient over that parameter (so entries whose gradient is nearly zero
    do not inflate it).
    """

    errors: dict[str, float]
    tolerance: float

    @property
    def passed(self) -> bool:
        return all(error <= self.tolerance for error in self.errors.values())

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    def __str__(self) -> str:
        width = max(len(name) for name in self.errors)
        lines = [f"{'parameter':<{width}}  max relative error"]
        for name, error in self.errors.items():
            mark = "ok" if error <= self.tolerance else "MISMATCH"
            lines.append(f"{name:<{width}}  {error:.2e}  {mark}")
        verdict = "passed" if self.passed else "FAILED"
        lines.append(f"gradcheck {verdict} (tolerance {self.tolerance:.0e})")
        return "\n".join(lines)


def _relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    scale = max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-12)
    return float(np.abs(analytic - numeric).max() / scale)


def _numeric_gradient(values: np.ndarray, indices: np.ndarray, loss_at, eps: float) -> np.ndarray:
    """Central differences of ``loss_at()`` with respect to ``values.flat[indices]``."""
    flat = values.reshape(-1)
    numeric = np.empty(len(indices))
    for k, i in enumerate(indices):
        original = flat[i]
        flat[i] = original + eps
        upper = loss_at()
        flat[i] = original - eps
        lower = loss_at()
        flat[i] = original
        numeric[k] = (upper - lower) / (2 * eps)
    return numeric


def _sample(size: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or size <= limit:
        return np.arange(size)
    return np.sort(rng.choice(size, limit, replace=False))


def gradcheck(
    model: Sequential,
    loss: Loss | str,
    X: Any,
    y: Any,
    eps: float = 1e-5,
    tolerance: float = 1e-6,
    check_input: bool = True,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradcheckResult:
    """Compare every analytic gradient of ``loss(model(X), y)`` with central differences.

    The check runs on a float64 copy of ``model``; the model itself is not changed.

    Args:
        model: the model to check.
        loss: the loss (instance or name).
        X, y: a small batch (a few samples is enough).
        eps: the finite-difference step ε. 1e-5 balances the truncation error of the
            difference, O(ε²), against the rounding error of the loss, O(1e-16 / ε).
        tolerance: the largest relative error that counts as agreement.
        check_input: also check ``∂L/∂X`` (what ``backward`` returns).
        max_entries: check at most this many randomly chosen entries per parameter
            (None: all of them). Use it for larger models; each entry costs two forward passes.
        seed: chooses those entries.

    Returns:
        A :class:`GradcheckResult`; print it for a table, or test ``.passed``.
    """
    model64 = model.clone(dtype=np.float64)
    loss = losses_module.get(loss)
    X = check_features(X, model64.in_features, model64.dtype, model64.layers[0]).copy()
    y = loss.prepare_targets(y, model64.out_features, model64.dtype)
    rng = np.random.default_rng(seed)

    def loss_at() -> float:
        return loss.forward(model64.forward(X, training=True), y)

    loss_at()
    grad_input = model64.backward(loss.backward())
    errors: dict[str, float] = {}
    for parameter in model64.parameters():
        indices = _sample(parameter.value.size, max_entries, rng)
        analytic = parameter.grad.reshape(-1)[indices].copy()
        numeric = _numeric_gradient(parameter.value, indices, loss_at, eps)
        errors[parameter.name] = _relative_error(analytic, numeric)
    if check_input:
        indices = _sample(X.size, max_entries, rng)
        analytic = grad_input.reshape(-1)[indices].copy()
        errors["input"] = _relative_error(analytic, _numeric_gradient(X, indices, loss_at, eps))
    return GradcheckResult(errors, tolerance)
