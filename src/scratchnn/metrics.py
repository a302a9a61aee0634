"""Metrics: how good predictions are, in units a person reads (accuracy, mean absolute error).

A metric is a function ``metric(prediction, target) -> float``, where ``prediction`` has been
mapped to the target's units by the loss's ``output_transform`` (probabilities for the
cross-entropy losses) and ``target`` is what the loss's ``prepare_targets`` returned.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._registry import Registry

Metric = Callable[[np.ndarray, np.ndarray], float]
metrics: Registry[Metric] = Registry("metric")

__all__ = ["accuracy", "get", "mae", "metrics", "mse"]


@metrics.register("acc")
def accuracy(prediction: np.ndarray, target: np.ndarray) -> float:
    """Fraction of samples whose predicted class is the true class.

    Several outputs: the class is the arg-max (the target is a label or a one-hot/probability
    row). One output: the class is ``prediction >= 0.5`` against ``target >= 0.5``.
    """
    if prediction.shape[1] == 1:
        return float(np.mean((prediction >= 0.5) == (target >= 0.5)))
    predicted = prediction.argmax(axis=1)
    true = target if target.ndim == 1 else target.argmax(axis=1)
    return float(np.mean(predicted == true))


@metrics.register("mean_absolute_error")
def mae(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error, ``mean |p - y|``."""
    return float(np.mean(np.abs(prediction - target)))


@metrics.register("mean_squared_error")
def mse(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error, ``mean (p - y)²``."""
    return float(np.mean((prediction - target) ** 2))


def get(spec: str | Metric) -> tuple[str, Metric]:
    """``(name, function)`` for a metric name or a callable (named by its ``__name__``)."""
    if isinstance(spec, str):
        function = metrics.lookup(spec)
        return function.__name__, function
    if callable(spec):
        return getattr(spec, "__name__", "metric"), spec
    raise TypeError(
        f"A metric must be a name ({', '.join(metrics.names())}) or a callable "
        f"(prediction, target) -> float. Received: {spec!r}."
    )
