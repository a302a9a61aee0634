"""The boundary of ``fit`` and ``evaluate``: data and options validated and converted once,
before anything changes, and the loss and metrics of a model on data already checked.

The training loop (:mod:`scratchnn.training`) and the streamed loop (:mod:`scratchnn.streamed`)
both use these, so a batch from a stream is checked exactly as a whole array is.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import metrics as metrics_module
from ._validation import check_lengths, check_number

if TYPE_CHECKING:
    from .losses import Loss
    from .metrics import Metric

#: A :class:`scratchnn.Sequential` (not imported: the model module is above this one).
Model = Any


def resolve_metrics(metrics: Sequence[Any] | str | None) -> list[tuple[str, Metric]]:
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    return [metrics_module.get(metric) for metric in metrics]


def prepare(model: Model, X: Any, y: Any, loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(X, y)`` for ``model`` and ``loss``, returning arrays ready for the loop.

    A model's ``preprocessor`` (raw columns → feature matrix) and ``target_transform`` (e.g.
    the scaling of a regression target) are applied here, at the boundary."""
    if y is None:
        raise ValueError(
            "y is None: pass the targets, or a scratchnn.streaming source that holds them."
        )
    X = model.encode_inputs(X)
    if model.target_transform is not None:
        y = model.target_transform.transform(y)
    y = loss.prepare_targets(y, model.out_features, model.dtype)
    check_lengths(X, y)
    return X, y


def prepare_weights(
    sample_weight: Any, class_weight: Any, y: np.ndarray, loss: Loss, n: int
) -> np.ndarray | None:
    """One weight per sample from ``sample_weight`` times ``class_weight[label]`` (or None).

    ``class_weight`` is a dict ``{class: weight}`` (missing classes weigh 1) or ``"balanced"``
    (``n / (classes · count(class))``, as scikit-learn).
    """
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        width = getattr(loss, "weights_per_sample", None)  # EachMember: one per member
        if weights.shape != (n,) and (width is None or weights.shape != (n, width)):
            also = "" if width is None else f" or one per sample and member, ({n}, {width})"
            raise ValueError(
                f"sample_weight must have one weight per sample, shape ({n},){also}; received "
                f"shape {weights.shape}."
            )
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("sample_weight must be finite and >= 0.")
    return with_class_weight(weights, class_weight, y, loss, n)


def with_class_weight(
    weights: np.ndarray | None,
    class_weight: Any,
    y: np.ndarray,
    loss: Loss,
    n: int,
    n_classes: int | None = None,
    require_positive: bool = True,
) -> np.ndarray | None:
    """Already-validated per-sample ``weights`` (or None) times ``class_weight[label]``; see
    :func:`prepare_weights`. ``class_weight``'s keys must be class indices in
    ``[0, n_classes)`` (by default, the labels' range). Checks that at least one weight is
    positive (``require_positive``; one batch of a stream may weigh nothing)."""
    if class_weight is not None:
        if not loss.is_classification:
            raise ValueError(f"class_weight needs a classification loss; {loss!r} is not one.")
        labels = y if y.ndim == 1 else (y.argmax(axis=1) if y.shape[1] > 1 else (y[:, 0] >= 0.5))
        labels = labels.astype(np.intp)
        classes = int(labels.max()) + 1
        if n_classes is None:
            n_classes = max(classes, 2 if y.ndim == 2 and y.shape[1] == 1 else 1)
        if isinstance(class_weight, str):
            if class_weight != "balanced":
                raise ValueError(
                    f"class_weight must be a dict or 'balanced'. Received: {class_weight!r}."
                )
            counts = np.bincount(labels, minlength=classes).astype(np.float64)
            table = np.divide(
                n, len(np.flatnonzero(counts)) * counts, out=np.zeros(classes), where=counts > 0
            )
        elif isinstance(class_weight, dict):
            table = np.ones(max(classes, n_classes))
            for label, weight in class_weight.items():
                if (
                    isinstance(label, (bool, np.bool_))
                    or not isinstance(label, numbers.Integral)
                    or not 0 <= label < n_classes
                ):
                    raise ValueError(
                        f"class_weight's keys must be class indices 0..{n_classes - 1}; "
                        f"received the key {label!r}."
                    )
                table[int(label)] = check_number(f"class_weight[{label!r}]", weight, 0.0)
        else:
            raise ValueError(
                f"class_weight must be a dict or 'balanced'. Received: {class_weight!r}."
            )
        from_classes = table[labels]
        if weights is not None and weights.ndim == 2:  # one weight per member: the same factor
            from_classes = from_classes[:, None]
        weights = from_classes if weights is None else weights * from_classes
    if require_positive and weights is not None and weights.sum() <= 0:
        raise ValueError(
            "The sample weights are all zero (they sum to 0): at least one sample needs a "
            "positive weight."
        )
    return weights


def evaluate_prepared(
    model: Model,
    X: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    metrics: list[tuple[str, Metric]],
    sample_weight: np.ndarray | None = None,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on already-validated data (inference mode)."""
    out = model.forward_in_batches(X)
    logs = {"loss": loss.forward(out, y, sample_weight) + model.penalty()}
    if metrics:
        prediction = loss.output_transform(out)
        for name, metric in metrics:
            logs[name] = metric(prediction, y)
    return logs
