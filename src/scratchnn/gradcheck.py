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

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import losses as losses_module
from ._validation import check_features

if TYPE_CHECKING:
    from .losses import Loss
    from .model import Sequential


class GradcheckResult(NamedTuple):
    """How far each analytic gradient is from its finite-difference estimate.

    For each parameter (and the input, under ``"input"``):

    - ``errors[name]``: the relative error, ``max |analytic - numeric|`` divided by the largest
      magnitude of either gradient over that parameter (so entries whose gradient is nearly
      zero do not inflate it);
    - ``abs_errors[name]``: ``max |analytic - numeric|``.

    A parameter agrees when its relative error is at most ``tolerance``, or its absolute error
    is at most ``atol`` (a gradient that is exactly zero, such as a bias feeding BatchNorm,
    has no meaningful relative error: its estimate is pure rounding noise, ~1e-11).
    """

    errors: dict[str, float]
    abs_errors: dict[str, float]
    tolerance: float
    atol: float

    def agrees(self, name: str) -> bool:
        return self.errors[name] <= self.tolerance or self.abs_errors[name] <= self.atol

    @property
    def passed(self) -> bool:
        return all(self.agrees(name) for name in self.errors)

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    def __str__(self) -> str:
        width = max(len(name) for name in self.errors)
        lines = [f"{'parameter':<{width}}  relative  absolute"]
        for name in self.errors:
            mark = "ok" if self.agrees(name) else "MISMATCH"
            lines.append(
                f"{name:<{width}}  {self.errors[name]:.2e}  {self.abs_errors[name]:.2e}  {mark}"
            )
        verdict = "passed" if self.passed else "FAILED"
        lines.append(f"gradcheck {verdict} (tolerance {self.tolerance:.0e}, atol {self.atol:.0e})")
        return "\n".join(lines)


def _errors(analytic: np.ndarray, numeric: np.ndarray) -> tuple[float, float]:
    """(relative, absolute) error of one parameter's gradient."""
    difference = float(np.abs(analytic - numeric).max())
    scale = max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-300)
    return difference / scale, difference


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
    atol: float = 1e-8,
    check_input: bool = True,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradcheckResult:
    """Compare every analytic gradient of ``loss(model(X), y)`` with central differences.

    The check runs on a float64 copy of ``model``, in training mode (batch statistics, the
    same dropout mask for every evaluation), with the layers' L1/L2 penalties included; the
    model itself is not changed.

    Args:
        model: the model to check.
        loss: the loss (instance or name).
        X, y: a small batch (a few samples is enough).
        eps: the finite-difference step ε. 1e-5 balances the truncation error of the
            difference, O(ε²), against the rounding error of the loss, O(1e-16 / ε).
        tolerance: the largest relative error that counts as agreement.
        atol: the largest absolute error that counts as agreement (for gradients that are
            zero or nearly so).
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

    # Random layers (dropout) must draw the same mask in every evaluation, or the finite
    # differences would compare different functions: rewind their generators each time.
    rng_states = [layer.rng.bit_generator.state for layer in model64.layers]

    def loss_at() -> float:
        for layer, state in zip(model64.layers, rng_states, strict=True):
            layer.rng.bit_generator.state = state
        out = model64.forward(X, training=True)
        return loss.forward(out, y) + model64.penalty()

    loss_at()
    grad_input = model64.backward(loss.backward())
    errors: dict[str, float] = {}
    abs_errors: dict[str, float] = {}
    targets = [(p.name, p.value, p.grad) for p in model64.parameters()]
    if check_input:
        targets.append(("input", X, grad_input))
    for name, values, grad in targets:
        indices = _sample(values.size, max_entries, rng)
        analytic = grad.reshape(-1)[indices].copy()
        numeric = _numeric_gradient(values, indices, loss_at, eps)
        errors[name], abs_errors[name] = _errors(analytic, numeric)
    return GradcheckResult(errors, abs_errors, tolerance, atol)
