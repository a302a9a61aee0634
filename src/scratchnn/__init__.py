"""scratchnn: neural networks from scratch on NumPy, every gradient derived by hand.

>>> import scratchnn as snn
>>> model = snn.MLP([2, 4, 1], activation="sigmoid", output="sigmoid", seed=0)
"""

import importlib

from . import _registry, functional, initializers, losses, optim
from ._version import __version__
from .errors import DataFileError, NotConvergedWarning, ScratchnnError, TrainingDivergedError
from .gradcheck import GradcheckResult, gradcheck
from .history import History
from .layers import (
    ELU,
    GELU,
    GRU,
    LSTM,
    RNN,
    Activation,
    AvgPool2D,
    BatchNorm1d,
    BatchNorm2d,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Dropout2d,
    Embedding,
    Flatten,
    GlobalAvgPool2D,
    Identity,
    Layer,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    MultiHeadAttention,
    PeriodicEmbedding,
    PiecewiseLinearEncoding,
    PositionalEmbedding,
    RandomShift,
    ReLU,
    Reshape,
    Residual,
    Sigmoid,
    SiLU,
    SinusoidalEncoding,
    Softmax,
    Standardize,
    Tanh,
    ToChannelsFirst,
)
from .model import MLP, Sequential
from .parameters import Parameter, Parameters

# Front ends whose fitted parts a model file may carry, declared here at the top of the package:
# loading such a file imports the front end that rebuilds them, and the file format (io), which
# sits below every front end, imports none of them.
_registry.components.declare("TableEncoder", "scratchnn.tables")
_registry.components.declare("TargetScaler", "scratchnn.tables")
# The figures that History.plot() draws live in the plotting adapter, above the history.
_registry.figures.declare("training_curves", "scratchnn.plot")

# Parts that building a network does not need are imported on first use (the training loop and
# its callbacks, schedules and metrics by the first fit), so that ``import scratchnn`` stays
# fast and free of optional dependencies: snn.datasets, snn.plot, snn.load, ...
_LAZY_MODULES = {
    "callbacks",
    "datasets",
    "diagnostics",
    "distributed",
    "io",
    "metrics",
    "plot",
    "reference",
    "schedules",
    "streaming",
    "tables",
    "training",
}
_LAZY_ATTRIBUTES = {
    "load": "io",
    "export_onnx": "onnx",
    "trace_step": "trace",
    "StepTrace": "trace",
}


def __getattr__(name: str) -> object:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(f".{_LAZY_ATTRIBUTES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_ATTRIBUTES))


__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "Activation",
    "AvgPool2D",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1D",
    "Conv2D",
    "DataFileError",
    "Dense",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "Flatten",
    "GlobalAvgPool2D",
    "GradcheckResult",
    "History",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "MaxPool2D",
    "MultiHeadAttention",
    "NotConvergedWarning",
    "Parameter",
    "Parameters",
    "PeriodicEmbedding",
    "PiecewiseLinearEncoding",
    "PositionalEmbedding",
    "RandomShift",
    "ReLU",
    "Reshape",
    "Residual",
    "ScratchnnError",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SinusoidalEncoding",
    "Softmax",
    "Standardize",
    "StepTrace",
    "Tanh",
    "ToChannelsFirst",
    "TrainingDivergedError",
    "__version__",
    "callbacks",
    "datasets",
    "diagnostics",
    "export_onnx",
    "functional",
    "gradcheck",
    "initializers",
    "load",
    "losses",
    "metrics",
    "optim",
    "plot",
    "reference",
    "schedules",
    "trace_step",
]
