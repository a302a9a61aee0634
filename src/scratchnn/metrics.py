"""Metrics: how good predictions are, in units a person reads (accuracy, F1, R², ...).

A metric is a function ``metric(prediction, target) -> float``, where ``prediction`` has been
mapped to the target's units by the loss's ``output_transform`` (probabilities for the
cross-entropy losses) and ``target`` is what the loss's ``prepare_targets`` returned: integer
labels ``(n,)`` or rows ``(n, outputs)``. ``fit`` evaluates metrics over a whole epoch at once,
so that non-additive ones (F1, R²) are exact.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._registry import Registry
from ._validation import check_positive_int

Metric = Callable[[np.ndarray, np.ndarray], float]
metrics: Registry[Metric] = Registry("metric")

__all__ = [
    "TopKAccuracy",
    "accuracy",
    "binary_accuracy",
    "bits_per_character",
    "f1",
    "get",
    "mae",
    "metrics",
    "mse",
    "perplexity",
    "precision",
    "r2",
    "recall",
    "sequence_accuracy",
    "token_accuracy",
    "top_k_accuracy",
]


def _labels(prediction: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true class labels: arg-max over several outputs, ``>= 0.5`` for one."""
    if prediction.shape[1] == 1:
        return (prediction[:, 0] >= 0.5).astype(np.intp), (target[:, 0] >= 0.5).astype(np.intp)
    true = target if target.ndim == 1 else target.argmax(axis=1)
    return prediction.argmax(axis=1), true


@metrics.register("acc")
def accuracy(prediction: np.ndarray, target: np.ndarray) -> float:
    """Fraction of samples whose predicted class is the true class.

    Several outputs: the class is the arg-max (the target is a label or a one-hot/probability
    row). One output: the class is ``prediction >= 0.5`` against ``target >= 0.5``.
    """
    predicted, true = _labels(prediction, target)
    return float(np.mean(predicted == true))


@metrics.register("binary_acc")
def binary_accuracy(prediction: np.ndarray, target: np.ndarray) -> float:
    """Fraction of *outputs* on the right side of 0.5 (for one or several yes/no outputs)."""
    return float(np.mean((prediction >= 0.5) == (target >= 0.5)))


def top_k_accuracy(prediction: np.ndarray, target: np.ndarray, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest predictions."""
    true = target if target.ndim == 1 else target.argmax(axis=1)
    k = min(k, prediction.shape[1])
    top = np.argpartition(-prediction, k - 1, axis=1)[:, :k]
    return float(np.mean((top == true[:, None]).any(axis=1)))


def _per_class_counts(prediction: np.ndarray, target: np.ndarray):
    predicted, true = _labels(prediction, target)
    classes = np.union1d(predicted, true)
    hits = np.array([np.sum((predicted == c) & (true == c)) for c in classes], dtype=float)
    predicted_count = np.array([np.sum(predicted == c) for c in classes], dtype=float)
    true_count = np.array([np.sum(true == c) for c in classes], dtype=float)
    return hits, predicted_count, true_count


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, with 0 where the denominator is 0 (scikit-learn's default)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


@metrics.register("precision_macro")
def precision(prediction: np.ndarray, target: np.ndarray) -> float:
    """Macro-averaged precision: for each class, correct / predicted as that class."""
    hits, predicted_count, _ = _per_class_counts(prediction, target)
    return float(_safe_ratio(hits, predicted_count).mean())


@metrics.register("recall_macro")
def recall(prediction: np.ndarray, target: np.ndarray) -> float:
    """Macro-averaged recall: for each class, correct / truly of that class."""
    hits, _, true_count = _per_class_counts(prediction, target)
    return float(_safe_ratio(hits, true_count).mean())


@metrics.register("f1_score", "f1_macro")
def f1(prediction: np.ndarray, target: np.ndarray) -> float:
    """Macro-averaged F1: the mean over classes of 2·precision·recall / (precision + recall)."""
    hits, predicted_count, true_count = _per_class_counts(prediction, target)
    return float(_safe_ratio(2 * hits, predicted_count + true_count).mean())


@metrics.register("r2_score", "r_squared")
def r2(prediction: np.ndarray, target: np.ndarray) -> float:
    """Coefficient of determination, ``1 - Σ(y - p)² / Σ(y - ȳ)²``, averaged over outputs.
    A constant target scores 1 if predicted exactly, else 0 (as scikit-learn)."""
    residual = ((target - prediction) ** 2).sum(axis=0)
    total = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    constant = total == 0
    scores = np.where(
        constant, (residual == 0).astype(float), 1 - residual / np.where(constant, 1, total)
    )
    return float(scores.mean())


@metrics.register("mean_absolute_error")
def mae(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error, ``mean |p - y|``."""
    return float(np.mean(np.abs(prediction - target)))


@metrics.register("mean_squared_error")
def mse(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error, ``mean (p - y)²``."""
    return float(np.mean((prediction - target) ** 2))


# Sequences: prediction ``(n, time, vocab)`` probabilities, target ``(n, time)`` token ids, where
# a negative target (SequenceCrossEntropy's ignore_index) marks a position that is not counted.


def _token_log_likelihood(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``log p(target)`` at every counted position (target >= 0), as a flat array."""
    probabilities = prediction.reshape(-1, prediction.shape[-1])
    labels = target.reshape(-1)
    counted = labels >= 0
    chosen = probabilities[np.flatnonzero(counted), labels[counted]]
    return np.log(np.maximum(chosen, np.finfo(probabilities.dtype).tiny))


@metrics.register("ppl")
def perplexity(prediction: np.ndarray, target: np.ndarray) -> float:
    """``exp(mean −log p(target))`` over the counted positions: the number of tokens the model
    is, on average, as unsure between as if it picked uniformly among them (the vocabulary
    size for a model that knows nothing, 1 for a perfect one)."""
    return float(np.exp(-np.mean(_token_log_likelihood(prediction, target))))


@metrics.register("bpc", "bits_per_char")
def bits_per_character(prediction: np.ndarray, target: np.ndarray) -> float:
    """``mean −log₂ p(target)`` over the counted positions: how many bits per character an
    ideal coder driven by the model would need (a character-level model's usual unit)."""
    return float(-np.mean(_token_log_likelihood(prediction, target)) / np.log(2))


@metrics.register("token_acc")
def token_accuracy(prediction: np.ndarray, target: np.ndarray) -> float:
    """Fraction of counted positions whose arg-max token is the target."""
    counted = target >= 0
    return float(np.mean(prediction.argmax(axis=-1)[counted] == target[counted]))


@metrics.register("sequence_acc", "exact_match")
def sequence_accuracy(prediction: np.ndarray, target: np.ndarray) -> float:
    """Fraction of sequences whose every counted position is predicted exactly (arg-max)."""
    wrong = (prediction.argmax(axis=-1) != target) & (target >= 0)
    return float(np.mean(~wrong.reshape(len(target), -1).any(axis=1)))


class TopKAccuracy:
    """Top-k accuracy as a named metric object: ``metrics=[TopKAccuracy(3)]`` logs
    ``"top_3_accuracy"``."""

    def __init__(self, k: int = 5) -> None:
        self.k = k = check_positive_int("k", k)
        self.__name__ = f"top_{k}_accuracy"

    def __call__(self, prediction: np.ndarray, target: np.ndarray) -> float:
        return top_k_accuracy(prediction, target, self.k)


def get(spec: str | Metric) -> tuple[str, Metric]:
    """``(name, function)`` for a metric name or a callable (named by its ``__name__``).

    Names like ``"top_3_accuracy"`` give top-k accuracy for that k.
    """
    if isinstance(spec, str):
        parts = spec.lower().split("_")
        if (
            len(parts) == 3
            and parts[0] == "top"
            and parts[1].isdigit()
            and parts[2]
            in (
                "accuracy",
                "acc",
            )
        ):
            metric = TopKAccuracy(int(parts[1]))
            return metric.__name__, metric
        function = metrics.lookup(spec)
        return function.__name__, function
    if callable(spec):
        return getattr(spec, "__name__", type(spec).__name__), spec
    raise TypeError(
        f"A metric must be a name ({', '.join(metrics.names())}) or a callable "
        f"(prediction, target) -> float. Received: {spec!r}."
    )
