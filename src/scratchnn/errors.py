"""Exceptions that scratchnn raises besides the built-in ``ValueError`` and ``TypeError``."""

from __future__ import annotations


class ScratchnnError(Exception):
    """Base class of scratchnn's own errors."""


class DataFileError(ScratchnnError, ValueError):
    """A data or model file is corrupt, truncated, or not in the format it claims to be."""


class TrainingDivergedError(ScratchnnError, FloatingPointError):
    """Training produced a NaN or infinite loss, gradient or update. The step that found it
    was not applied: the model keeps its last finite weights.

    Attributes:
        logs: what the step saw, e.g. ``{"loss": nan}`` or ``{"loss": 0.3, "gradient_norm":
            inf}`` (callbacks such as ``TerminateOnNaN`` read it).
    """

    def __init__(self, message: str, logs: dict[str, float] | None = None) -> None:
        super().__init__(message)
        self.logs = dict(logs) if logs is not None else {"loss": float("nan")}


class NotConvergedWarning(UserWarning):
    """``fit`` used all its epochs before its ``EarlyStopping`` callback could stop it, with
    the monitored value still improving: the model has probably not converged (as
    scikit-learn's ``ConvergenceWarning``). Train for more epochs, or with a larger learning
    rate. To silence it: ``warnings.simplefilter("ignore", scratchnn.NotConvergedWarning)``."""
