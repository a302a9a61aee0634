"""Weight initializers: functions ``init(shape, rng, dtype) -> array``.

For a weight matrix of shape ``(fan_in, fan_out)`` the variance-scaling rules are

================  ===================================  ====================================
name              distribution                         chosen so that
================  ===================================  ====================================
glorot_uniform    U(-a, a), a = √(6 / (fan_in+fan_out))  Var = 2 / (fan_in + fan_out)
glorot_normal     N(0, 2 / (fan_in + fan_out))         (Xavier: keeps forward and backward
                                                       variance for tanh/sigmoid-like units)
he_uniform        U(-a, a), a = √(6 / fan_in)          Var = 2 / fan_in (Kaiming: ReLU
he_normal         N(0, 2 / fan_in)                     zeroes half the inputs, so double it)
lecun_normal      N(0, 1 / fan_in)                     Var = 1 / fan_in (SELU, linear units)
================  ===================================  ====================================

plus ``zeros``, ``ones``, ``normal`` (N(0, 0.01²): standard deviation 0.01),
``standard_normal`` (N(0, 1): standard deviation 1, the classic tutorial's
``np.random.randn``) and ``uniform`` (U(-0.05, 0.05)). Every initializer draws from the
``numpy.random.Generator`` it is given: there is no global state.

``normal`` and ``standard_normal`` differ a hundredfold: the tutorial's 2-4-1 sigmoid network
learns XOR from N(0, 1) weights, but from N(0, 0.01²) its hidden units start nearly equal and
its output sits at 0.5 for thousands of epochs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._registry import Registry

#: ``init(shape, rng, dtype) -> array`` (rng a numpy.random.Generator).
Initializer = Callable[..., np.ndarray]
initializers: Registry[Initializer] = Registry("initializer")


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(in, out)``; a vector counts as ``(n, n)``.

    A convolution kernel ``(out_channels, in_channels / groups, *kernel_size)`` (PyTorch's
    layout, three or more axes) has ``fan_in = in_channels / groups · ∏ kernel_size`` and
    ``fan_out = out_channels · ∏ kernel_size``, as PyTorch counts them."""
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) > 2:
        receptive = math.prod(shape[2:])
        return shape[1] * receptive, shape[0] * receptive
    return shape[0], shape[1]


@initializers.register()
def zeros(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """All zeros (the usual bias initializer)."""
    return np.zeros(shape, dtype=dtype)


@initializers.register()
def ones(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """All ones (the usual scale initializer of normalization layers)."""
    return np.ones(shape, dtype=dtype)


@initializers.register()
def normal(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """``N(0, 0.01²)``: small random weights with standard deviation 0.01 (for the tutorial's
    ``np.random.randn``, standard deviation 1, use ``standard_normal``)."""
    return rng.normal(0.0, 0.01, size=shape).astype(dtype)


@initializers.register("randn")
def standard_normal(
    shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype
) -> np.ndarray:
    """``N(0, 1)``: standard deviation 1, as the classic tutorial's ``np.random.randn``.

    Example:
        >>> w = standard_normal((1000, 10), np.random.default_rng(0), np.float64)
        >>> round(float(w.std()), 1)
        1.0
    """
    return rng.standard_normal(size=shape).astype(dtype)


@initializers.register()
def uniform(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """``U(-0.05, 0.05)``."""
    return rng.uniform(-0.05, 0.05, size=shape).astype(dtype)


@initializers.register("xavier_uniform")
def glorot_uniform(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """Xavier/Glorot uniform: ``U(-a, a)`` with ``a = √(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


@initializers.register("xavier_normal")
def glorot_normal(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """Xavier/Glorot normal: ``N(0, 2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape).astype(dtype)


@initializers.register("kaiming_uniform")
def he_uniform(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """Kaiming/He uniform: ``U(-a, a)`` with ``a = √(6 / fan_in)``, for the ReLU family."""
    fan_in, _ = _fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


@initializers.register("kaiming_normal")
def he_normal(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """Kaiming/He normal: ``N(0, 2 / fan_in)``, for the ReLU family."""
    fan_in, _ = _fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape).astype(dtype)


@initializers.register()
def lecun_normal(shape: tuple[int, ...], rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """LeCun normal: ``N(0, 1 / fan_in)``."""
    fan_in, _ = _fans(shape)
    return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape).astype(dtype)


def get(spec: str | Initializer) -> Initializer:
    """An initializer from its name (``"he_normal"``, ``"xavier_uniform"``, ...) or a callable."""
    if callable(spec):
        return spec
    if isinstance(spec, str):
        return initializers.lookup(spec)
    raise TypeError(
        f"init must be an initializer name ({', '.join(initializers.names())}) or a callable "
        f"(shape, rng, dtype) -> array. Received: {spec!r}."
    )
