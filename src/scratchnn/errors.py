"""Exceptions that scratchnn raises besides the built-in ``ValueError`` and ``TypeError``."""

from __future__ import annotations


class ScratchnnError(Exception):
    """Base class of scratchnn's own errors."""


class DataFileError(ScratchnnError, ValueError):
    """A data or model file is corrupt, truncated, or not in the format it claims to be."""


class TrainingDivergedError(ScratchnnError, FloatingPointError):
    """The training loss became NaN or infinite. The model keeps its last finite weights."""
