"""The target column: rows without a target, classification or regression, and the scaling of
a regression target inside the model.

The task is decided as scikit-learn's ``type_of_target`` would, with one addition for counts:
text, or whole numbers with at most :data:`MAX_AUTO_CLASSES` distinct values, are classes;
fractions or many distinct values are a regression target; and a *count* (whole numbers
``>= 0``, 0 the most frequent value, at least :data:`MIN_COUNT_VALUES` distinct values, skewed
to the right, :data:`MIN_COUNT_ROWS` rows or more: doctor visits, accidents, children) is a
regression target too, however few its distinct values. Missing tokens ("NA", "", ...) never
make a numeric target textual: those rows are dropped instead.

The decision reads the values only, never their order, so the whole file and any shuffled part
of it get the same task; the command line decides it on the whole file before splitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .values import MISSING_TOKENS, numbers_of, text_of

#: A whole-number target with at most this many distinct values counts as classes.
MAX_AUTO_CLASSES = 20
#: A count target has at least this many distinct values (0, 1, 2, ... are usually classes
#: below it: a 0/1/2 grade, a three-way choice coded as numbers).
MIN_COUNT_VALUES = 5
#: ... in at least this many rows (fewer do not show a skew reliably).
MIN_COUNT_ROWS = 50
#: ... and a sample skewness of at least this (counts pile up at 0 and thin out to the right;
#: labels 0..9 of digits are spread evenly, skewness near 0).
MIN_COUNT_SKEW = 1.0


def present_rows(values: Any, tokens: Sequence[str] = MISSING_TOKENS) -> np.ndarray:
    """The mask of rows whose target is not missing.

    Example:
        >>> present_rows(np.array(["1", "NA", "3"], dtype=object)).tolist()
        [True, False, True]
    """
    return ~text_of(np.asarray(values), tokens)[1]


def detect_task(values: Any, tokens: Sequence[str] = MISSING_TOKENS) -> tuple[str, str]:
    """``(task, reason)``: ``"classification"`` or ``"regression"`` and why, for the run header.

    Args:
        values: the target values (missing ones are ignored).
        tokens: texts read as missing.

    Example:
        >>> detect_task(np.array(["cat", "dog", "NA"], dtype=object))[0]
        'classification'
        >>> detect_task(np.array([1.5, 2.0, 3.25]))
        ('regression', 'numbers with fractions')
        >>> detect_task(np.array([0, 1, 1, 0]))
        ('classification', '2 distinct whole numbers')
    """
    numbers, missing = numbers_of(np.asarray(values), tokens)
    if numbers is None:
        return "classification", "text labels"
    present = numbers[~missing]
    if len(present) == 0:
        raise ValueError("Every value of the target is missing.")
    if not np.all(present == np.round(present)):
        return "regression", "numbers with fractions"
    counts = count_target(present)
    if counts is not None:
        return "regression", counts
    distinct = len(np.unique(present))
    if distinct <= MAX_AUTO_CLASSES:
        return "classification", f"{distinct} distinct whole numbers"
    return "regression", f"{distinct} distinct whole numbers (more than {MAX_AUTO_CLASSES})"


def count_target(values: Any, tokens: Sequence[str] = MISSING_TOKENS) -> str | None:
    """Why the target is a count (for the run header), or None when it is not one.

    A count: whole numbers ``>= 0``, at least :data:`MIN_COUNT_ROWS` present values and
    :data:`MIN_COUNT_VALUES` distinct ones, 0 the most frequent value, and a sample skewness of
    :data:`MIN_COUNT_SKEW` or more. Only the values count, not their order or a split.

    Example:
        >>> visits = np.repeat([0, 1, 2, 3, 4, 6, 9], [60, 20, 9, 5, 3, 2, 1])
        >>> count_target(visits)
        'counts: whole numbers 0..9, 60% zeros'
        >>> count_target(np.arange(100) % 10) is None  # labels spread evenly: classes
        True
    """
    numbers, missing = numbers_of(np.asarray(values), tokens)
    if numbers is None:
        return None
    present = numbers[~missing]
    if len(present) < MIN_COUNT_ROWS or present.min() != 0:
        return None
    if not np.all(present == np.round(present)):
        return None
    distinct, frequency = np.unique(present, return_counts=True)
    if len(distinct) < MIN_COUNT_VALUES or int(np.argmax(frequency)) != 0:
        return None
    centred = present - present.mean()
    spread = float(np.sqrt(np.mean(centred**2)))
    skew = float(np.mean(centred**3)) / spread**3 if spread > 0 else 0.0
    if skew < MIN_COUNT_SKEW:
        return None
    zeros = frequency[0] / len(present)
    return f"counts: whole numbers 0..{int(distinct[-1])}, {zeros:.0%} zeros"


class TargetScaler:
    r"""Standardize a regression target for training and undo it on the predictions:
    :math:`t = (y - μ) / σ`, :math:`\hat y = \hat t σ + μ` (scikit-learn's
    ``TransformedTargetRegressor`` with a ``StandardScaler``).

    With ``log1p=True`` (a count or another skewed target ``>= 0``) the standardized values are
    those of :math:`\log(1 + y)`, and predictions come back through :math:`e^{x} - 1` (clipped
    at 0): scikit-learn's ``TransformedTargetRegressor(func=np.log1p, inverse_func=np.expm1)``.

    With ``poisson=True`` (a count target trained with :class:`~scratchnn.losses.Poisson`, whose
    network outputs log-rates) the target is divided by its training mean :math:`m` instead,
    :math:`t = y / m`, and predictions are :math:`\hat y = m e^{x}`: the Poisson loss of
    :math:`t` with log-rate :math:`x` is that of :math:`y` with log-rate :math:`x + \log m`
    divided by :math:`m`, so the network starts near the mean count (the baseline of
    scikit-learn's Poisson boosting) and its targets are of order 1.

    Shapes: ``transform`` ``(n,)`` or ``(n, k)`` → ``(n, k)``; ``inverse_transform`` keeps the
    shape of the network's output.

    Example:
        >>> scaler = TargetScaler().fit(np.array([10.0, 20.0, 30.0]))
        >>> scaler.transform(np.array([20.0])).tolist()
        [[0.0]]
        >>> scaler.inverse_transform(np.array([[1.0]])).round(3).tolist()
        [[28.165]]
    """

    def __init__(self, log1p: bool = False, poisson: bool = False) -> None:
        if log1p and poisson:
            raise ValueError(
                "TargetScaler takes log1p=True or poisson=True, not both: the Poisson loss "
                "models the counts themselves (drop --target-transform log1p or --loss poisson)."
            )
        self.log1p = bool(log1p)
        self.poisson = bool(poisson)
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, y: Any) -> TargetScaler:
        """Learn μ and σ (per target column) from training targets."""
        y = self._two_d(y)
        if len(y) == 0 or not np.isfinite(y).all():
            raise ValueError("TargetScaler.fit needs a non-empty, finite numeric target.")
        if (self.log1p or self.poisson) and (y < 0).any():
            option = "log1p" if self.log1p else "poisson"
            raise ValueError(
                f"TargetScaler({option}=True) needs a target >= 0; it holds {y.min():.4g}."
            )
        if self.poisson:
            mean = y.mean(axis=0)
            if not (mean > 0).all():
                raise ValueError(
                    "TargetScaler(poisson=True) needs counts that are not all 0 (their mean "
                    "is the scale)."
                )
            self.mean_, self.scale_ = np.zeros_like(mean), mean
            return self
        if self.log1p:
            y = np.log1p(y)
        with np.errstate(over="ignore", invalid="ignore"):
            std = y.std(axis=0)
        if not np.isfinite(std).all() or not np.isfinite(y.mean(axis=0)).all():
            raise ValueError(
                f"The target's standard deviation is not finite in float64 (values up to "
                f"{np.abs(y).max():.3g}, whose squares overflow); divide the target by a power "
                "of ten before training."
            )
        self.mean_ = y.mean(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, y: Any) -> np.ndarray:
        """Targets in training units, ``(n, k)``."""
        self._check()
        y = self._two_d(y)
        if self.poisson:
            return np.maximum(y, 0.0) / self.scale_
        if self.log1p:
            y = np.log1p(np.maximum(y, 0.0))
        return (y - self.mean_) / self.scale_

    def inverse_transform(self, outputs: Any) -> np.ndarray:
        """Network outputs back in the target's units (same shape as ``outputs``)."""
        self._check()
        outputs = np.asarray(outputs)
        if self.poisson:
            with np.errstate(over="ignore"):
                values = np.exp(outputs.reshape(len(outputs), -1)) * self.scale_
            return values.reshape(outputs.shape).astype(outputs.dtype, copy=False)
        values = outputs.reshape(len(outputs), -1) * self.scale_ + self.mean_
        if self.log1p:
            with np.errstate(over="ignore"):
                values = np.maximum(np.expm1(values), 0.0)
        return values.reshape(outputs.shape).astype(outputs.dtype, copy=False)

    @staticmethod
    def _two_d(y: Any) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(len(y), -1)

    def _check(self) -> None:
        if self.mean_ is None:
            raise ValueError("This TargetScaler is not fitted yet; call fit(y) first.")

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(config, arrays)`` for the model file."""
        self._check()
        config = {"log1p": True} if self.log1p else {}  # older files: {} (no transform)
        if self.poisson:
            config = {"poisson": True}
        return config, {"mean": self.mean_, "scale": self.scale_}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> TargetScaler:
        """The fitted scaler that :meth:`get_state` described."""
        scaler = cls(
            log1p=config.get("log1p", False) is True, poisson=config.get("poisson", False) is True
        )
        mean = np.asarray(arrays["mean"], dtype=np.float64)
        scale = np.asarray(arrays["scale"], dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape or not np.all(scale > 0):
            raise ValueError("the target scaler's arrays are inconsistent")
        scaler.mean_, scaler.scale_ = mean, scale
        return scaler

    def __repr__(self) -> str:
        if self.mean_ is None:
            return "TargetScaler(unfitted)"
        mean, scale = self.mean_.round(4).tolist(), self.scale_.round(4).tolist()
        log = "log1p=True, " if self.log1p else ("poisson=True, " if self.poisson else "")
        return f"TargetScaler({log}mean={mean}, scale={scale})"
