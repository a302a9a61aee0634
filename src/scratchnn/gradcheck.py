"""Check hand-derived gradients against finite differences, and say *where* they are wrong.

For each parameter entry :math:`θ_i` the central difference

.. math::
    \\frac{∂L}{∂θ_i} ≈ \\frac{L(θ + εe_i) - L(θ - εe_i)}{2ε}

has error :math:`O(ε^2)`, far below what a wrong backward produces. Run in float64: in float32
the rounding error of :math:`L` divided by :math:`2ε` would swamp the comparison.

Two checks run together:

- **end to end**: every parameter's (and the input's) gradient of the loss, as ``fit`` uses
  them. A wrong backward anywhere spoils every gradient upstream of it, so this says *that*
  something is wrong;
- **layer by layer**: each layer alone, on the input it receives, against finite
  differences of :math:`f(x) = \\sum \\operatorname{layer}(x) ⊙ R` (a fixed random :math:`R`
  as the upstream gradient) through that layer only, so the first failing layer is *where*:
  parameterless layers (activations, your own) included.

For each mismatch the worst entry's analytic and numeric values and their ratio are shown: a
ratio of 1/5 points at a mean where a sum belongs (batch of 5), −1 at a sign, 2 at a missing ½.

Checking your own layer::

    class Square(snn.Layer):
        def forward(self, x, training=False):
            self._x = x
            return x * x
        def backward(self, grad_out):
            return grad_out * 2 * self._x

    model = snn.Sequential([snn.Dense(3, 4), Square(), snn.Dense(4, 1)], seed=0)
    print(snn.gradcheck(model, "mse", X, y))   # a table; .passed is True when all agree
    print(snn.gradcheck(Square(), "mse", X, X * X))   # a lone layer: sizes come from X
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import losses as losses_module
from . import shapes
from ._validation import (
    as_float_array,
    check_bool,
    check_inputs,
    check_int,
    check_number,
    check_positive_int,
)
from .layers import Layer
from .layers.base import named_arrays, walk
from .model import Sequential

if TYPE_CHECKING:
    from .losses import Loss


class Entry(NamedTuple):
    """The worst entry of one gradient: its index, the two values, and their ratio."""

    index: tuple[int, ...]
    analytic: float
    numeric: float

    @property
    def ratio(self) -> float:
        """``analytic / numeric`` (nan where the numeric value is 0)."""
        return self.analytic / self.numeric if self.numeric != 0 else math.nan

    def __str__(self) -> str:
        index = ", ".join(map(str, self.index))
        return (
            f"[{index}]: analytic {self.analytic:.6g}, numeric {self.numeric:.6g}, "
            f"ratio {_ratio_text(self.ratio)}"
        )


def _ratio_text(ratio: float) -> str:
    """``0.2 (≈ 1/5)``: a ratio near a simple fraction names it (the usual bugs are one)."""
    if not math.isfinite(ratio):
        return "undefined (numeric 0)"
    text = f"{ratio:.4g}"
    candidates = [(-1.0, "-1")]
    for k in range(2, 33):
        for sign, mark in ((1, ""), (-1, "-")):
            candidates += [(sign * k, f"{mark}{k}"), (sign / k, f"{mark}1/{k}")]
    for value, name in candidates:
        if abs(ratio - value) <= 1e-3 * abs(value):
            return f"{text} (≈ {name})"
    return text


class LayerCheck(NamedTuple):
    """One layer checked alone: ``errors``/``abs_errors``/``worst`` by ``"input"`` and by
    parameter name (``"W"``, ``"b"``, ...)."""

    index: int
    name: str
    layer: str
    errors: dict[str, float]
    abs_errors: dict[str, float]
    worst: dict[str, Entry]
    tolerance: float
    atol: float

    def agrees(self, key: str) -> bool:
        return self.errors[key] <= self.tolerance or self.abs_errors[key] <= self.atol

    @property
    def passed(self) -> bool:
        return all(self.agrees(key) for key in self.errors)

    def __str__(self) -> str:
        head = f"layer {self.index}: {self.layer} ({self.name})"
        wrong = [key for key in self.errors if not self.agrees(key)]
        if not wrong:
            return f"{head}  ok"
        parts = [
            f"{'∂/∂input' if key == 'input' else f'∂/∂{key}'} {self.worst[key]}" for key in wrong
        ]
        return f"{head}  MISMATCH: " + "; ".join(parts)


class GradcheckResult(NamedTuple):
    """How far each analytic gradient is from its finite-difference estimate.

    For each parameter (and the input, under ``"input"``), end to end through the loss:

    - ``errors[name]``: the relative error, ``max |analytic - numeric|`` divided by the largest
      magnitude of either gradient over that parameter (so entries whose gradient is nearly
      zero do not inflate it);
    - ``abs_errors[name]``: ``max |analytic - numeric|``;
    - ``worst[name]``: the :class:`Entry` where the difference is largest.

    ``passed`` is True when every end-to-end gradient agrees. ``layers`` holds the
    layer-by-layer checks (:class:`LayerCheck`), and ``first_failure`` the first layer that
    fails on its own: where to look when ``passed`` is False.

    A gradient agrees when its relative error is at most ``tolerance``, or its absolute error
    is at most ``atol`` (a gradient that is exactly zero, such as a bias feeding BatchNorm,
    has no meaningful relative error: its estimate is pure rounding noise, ~1e-11).
    """

    errors: dict[str, float]
    abs_errors: dict[str, float]
    tolerance: float
    atol: float
    worst: dict[str, Entry] | None = None
    layers: tuple[LayerCheck, ...] = ()

    def agrees(self, name: str) -> bool:
        return self.errors[name] <= self.tolerance or self.abs_errors[name] <= self.atol

    @property
    def passed(self) -> bool:
        """Every end-to-end gradient agrees (the layer-by-layer checks say where when not)."""
        return all(self.agrees(name) for name in self.errors)

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    @property
    def first_failure(self) -> LayerCheck | None:
        """The first layer (from the input) whose backward disagrees with its own forward."""
        return next((check for check in self.layers if not check.passed), None)

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
        if self.passed and self.first_failure is None:
            return "\n".join(lines)
        if self.passed:
            culprit = self.first_failure
            lines.append(
                f"Note: layer {culprit.index}, {culprit.layer}, disagrees on its own (at "
                "another input than the model's) although every gradient of the model agrees: "
                f"{culprit}"
            )
            return "\n".join(lines)
        if self.worst:
            lines.append("Worst entries, end to end:")
            lines += [
                f"  {name}{self.worst[name]}" for name in self.errors if not self.agrees(name)
            ]
        if self.layers:
            lines.append("Layer by layer (each backward against its own forward):")
            lines += [f"  {check}" for check in self.layers]
            culprit = self.first_failure
            if culprit is not None:
                lines.append(
                    f"First failing layer: {culprit.index}, {culprit.layer} ({culprit.name})."
                )
            else:
                lines.append(
                    "Every layer agrees on its own: the loss's backward (or how the layers "
                    "are chained) is the suspect."
                )
        return "\n".join(lines)


def _errors(analytic: np.ndarray, numeric: np.ndarray) -> tuple[float, float]:
    """(relative, absolute) error of one parameter's gradient."""
    difference = float(np.abs(analytic - numeric).max())
    scale = max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-300)
    return difference / scale, difference


def _compare(
    grad: np.ndarray, values: np.ndarray, indices: np.ndarray, f: Callable[[], float], eps: float
) -> tuple[float, float, Entry]:
    """Errors and worst entry of ``grad`` against central differences of ``f``."""
    analytic = grad.reshape(-1)[indices].copy()
    numeric = numeric_gradient(values, indices, f, eps)
    relative, absolute = _errors(analytic, numeric)
    k = int(np.argmax(np.abs(analytic - numeric)))
    where = tuple(int(i) for i in np.unravel_index(int(indices[k]), values.shape))
    return relative, absolute, Entry(where, float(analytic[k]), float(numeric[k]))


def numeric_gradient(
    values: np.ndarray, indices: np.ndarray, loss_at: Callable[[], float], eps: float = 1e-5
) -> np.ndarray:
    """Central differences of ``loss_at()`` with respect to some entries of ``values``.

    For each ``i`` in ``indices``: ``(L(θᵢ + ε) − L(θᵢ − ε)) / 2ε``, changing
    ``values.flat[i]`` in place and putting it back (``values`` must be contiguous).

    Args:
        values: the parameter array ``loss_at`` reads, changed in place one entry at a time.
        indices: flat indices of the entries, ``(k,)``.
        loss_at: recomputes the loss from the current values.
        eps: the step ε.

    Returns:
        The ``(k,)`` numerical derivatives.
    """
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


def _float64_layers(model: Sequential | Layer | Sequence[Layer], seed: int) -> list[Layer]:
    """Independent float64 copies of the layers to check (the originals are not touched)."""
    if isinstance(model, Sequential):
        return model.clone(dtype=np.float64).layers
    if isinstance(model, Layer):
        model = [model]
    layers = list(model) if isinstance(model, (list, tuple)) else None
    if not layers or not all(isinstance(layer, Layer) for layer in layers):
        raise TypeError(
            "gradcheck checks a Sequential model, a Layer, or a list of layers; received "
            f"{model!r} of type {type(model).__name__}."
        )
    copies = []
    seeds = np.random.SeedSequence(seed).spawn(len(layers))
    for layer, child in zip(copy.deepcopy(layers), seeds, strict=True):
        if not layer.built:
            layer.build(np.random.default_rng(child), np.float64)
        for store in (layer.params, layer.grads, layer.buffers):
            for name, array in list(store.items()):
                store.bind(name, np.array(array, dtype=np.float64))
        layer.dtype = np.dtype(np.float64)
        if layer.rng is None:
            layer.rng = np.random.default_rng(child)
        copies.append(layer)
    return copies


def gradcheck(
    model: Sequential | Layer | Sequence[Layer],
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
    """Compare every analytic gradient of ``loss(model(X), y)`` with central differences, end
    to end and layer by layer.

    The check runs on a float64 copy, in training mode (batch statistics, the same dropout
    mask for every evaluation), with the layers' L1/L2 penalties included; the model itself is
    not changed.

    Args:
        model: a model, a lone layer, or a list of layers (their input size comes from ``X``,
            so an activation or your own parameterless layer can be checked alone).
        loss: the loss (instance or name).
        X, y: a small batch (a few samples is enough).
        eps: the finite-difference step ε. 1e-5 balances the truncation error of the
            difference, O(ε²), against the rounding error of the loss, O(1e-16 / ε).
        tolerance: the largest relative error that counts as agreement.
        atol: the largest absolute error that counts as agreement (for gradients that are
            zero or nearly so).
        check_input: also check ``∂L/∂X`` (what ``backward`` returns), end to end and for the
            first layer alone.
        max_entries: check at most this many randomly chosen entries per parameter
            (None: all of them). Use it for larger models; each entry costs two forward passes.
        seed: chooses those entries, the random upstream gradients of the layer-by-layer
            checks, and the initial weights of unbuilt lone layers.

    Returns:
        A :class:`GradcheckResult`; print it for a table (and, when it fails, the worst
        entries and the first failing layer), or test ``.passed`` and ``.first_failure``.

    Raises:
        TypeError: if ``model`` is not a model, a layer or a list of layers.
        ValueError: if ``X`` does not fit the model.
    """
    eps = check_number("eps", eps, 0.0, low_open=True)
    tolerance = check_number("tolerance", tolerance, 0.0)
    atol = check_number("atol", atol, 0.0)
    check_input = check_bool("check_input", check_input)
    if max_entries is not None:
        max_entries = check_positive_int("max_entries", max_entries)
    seed = check_int("seed", seed, 0)
    layers = _float64_layers(model, seed)
    loss = losses_module.get(loss)
    if isinstance(model, Sequential):
        X = check_inputs(X, model.input_shape, np.dtype(np.float64), layers[0]).copy()
    else:  # the input shape is inferred from X, and checked against the layers
        X = np.array(as_float_array(X, "X", np.dtype(np.float64)), copy=True)
        try:
            shapes.infer_shapes(layers, X.shape[1:])
        except ValueError as error:
            declared = next((la.input_shape for la in layers if la.input_shape), (None,))
            sizes = ", ".join(
                "features" if s is None else str(s) for s in shapes.concrete(declared)
            )
            raise ValueError(
                f"X has shape {X.shape}, but {layers[0]!r} takes (n_samples, {sizes}) inputs "
                f"({error})"
            ) from None
    rng = np.random.default_rng(seed)
    names = [f"{type(layer).__name__.lower()}_{i}" for i, layer in enumerate(layers)]

    # Random layers (dropout) must draw the same mask in every evaluation, or the finite
    # differences would compare different functions: rewind their generators each time.
    # A container's inner layers are rewound with it.
    rng_states = [
        [(sub, sub.rng.bit_generator.state) for _, sub in walk(layer) if sub.rng is not None]
        for layer in layers
    ]

    def rewind(i: int) -> None:
        for sub, state in rng_states[i]:
            sub.rng.bit_generator.state = state

    def forward(x: np.ndarray) -> list[np.ndarray]:
        """The input of every layer, and the output last."""
        seen = [x]
        for i, layer in enumerate(layers):
            rewind(i)
            seen.append(layer.forward(seen[-1], training=True))
        return seen

    def penalty() -> float:
        return sum(layer.penalty() for layer in layers if layer.has_penalty)

    y = loss.prepare_targets(y, forward(X)[-1].shape[-1], np.dtype(np.float64))

    def loss_at() -> float:
        return loss.forward(forward(X)[-1], y) + penalty()

    # End to end.
    loss_at()
    grad = loss.backward()
    for layer in reversed(layers):
        grad = layer.backward(grad)
    targets = [
        (f"{name}.{key}", value, grad.copy())
        for name, layer in zip(names, layers, strict=True)
        for key, (value, grad) in _named_arrays(layer).items()
    ]
    if check_input:
        targets.append(("input", X, grad))
    errors: dict[str, float] = {}
    abs_errors: dict[str, float] = {}
    worst: dict[str, Entry] = {}
    for name, values, analytic in targets:
        indices = _sample(values.size, max_entries, rng)
        errors[name], abs_errors[name], worst[name] = _compare(
            analytic, values, indices, loss_at, eps
        )

    # Layer by layer, each on the input it receives in the forward pass above.
    inputs = forward(X)
    checks = []
    for i, layer in enumerate(layers):
        checks.append(
            _check_layer(
                i,
                names[i],
                layer,
                inputs[i].copy(),
                rewind,
                eps,
                tolerance,
                atol,
                check_input or i > 0,
                max_entries,
                rng,
            )
        )
    return GradcheckResult(errors, abs_errors, tolerance, atol, worst, tuple(checks))


def _named_arrays(layer: Layer) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (values, gradient)}`` of every parameter of ``layer`` and of the layers inside
    it (a container's, named ``"0.W"``, ...)."""
    grads = dict(named_arrays(layer, "grads"))
    return {name: (value, grads[name]) for name, value in named_arrays(layer, "params")}


def _check_layer(
    index: int,
    name: str,
    layer: Layer,
    x: np.ndarray,
    rewind: Callable[[int], None],
    eps: float,
    tolerance: float,
    atol: float,
    check_input: bool,
    max_entries: int | None,
    rng: np.random.Generator,
) -> LayerCheck:
    """``layer.backward(R)`` against central differences of ``f = Σ layer(x) ⊙ R + penalty``.

    Entries of ``x`` within 10ε of 0 are moved to ±100ε first: exact zeros (from a ReLU or a
    dropout mask before this layer) sit on the kink of ReLU-like units, where a central
    difference straddles two slopes and would accuse a correct backward."""
    if getattr(layer, "input_kind", "float") != "int":  # token ids are never nudged
        near = np.abs(x) < 10 * eps
        # Each to its own distance (100ε to 200ε): equal values would tie in a max-pool window,
        # where a central difference splits the gradient between the tied entries.
        offsets = 100 * eps * (1 + rng.random(int(near.sum())))
        x[near] = np.where(x[near] < 0, -offsets, offsets)
    rewind(index)
    out = layer.forward(x, training=True)
    upstream = rng.standard_normal(out.shape)
    grad_input = layer.backward(upstream)
    arrays = _named_arrays(layer)
    analytic = {key: grad.copy() for key, (_, grad) in arrays.items()}
    if check_input:
        analytic = {"input": np.array(grad_input, copy=True), **analytic}

    def f() -> float:
        rewind(index)
        value = float(np.sum(layer.forward(x, training=True) * upstream))
        return value + (layer.penalty() if layer.has_penalty else 0.0)

    errors, abs_errors, worst = {}, {}, {}
    for key, grad in analytic.items():
        values = x if key == "input" else arrays[key][0]
        if grad is None or grad.shape != values.shape:
            shape = None if grad is None else grad.shape
            raise ValueError(
                f"{layer!r}.backward gave a gradient of shape {shape} for {key!r}, whose "
                f"values have shape {values.shape}; they must match."
            )
        indices = _sample(values.size, max_entries, rng)
        errors[key], abs_errors[key], worst[key] = _compare(grad, values, indices, f, eps)
    return LayerCheck(index, name, repr(layer), errors, abs_errors, worst, tolerance, atol)
