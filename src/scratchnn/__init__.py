"""scratchnn: neural networks from scratch on NumPy, every gradient derived by hand.

>>> import scratchnn as snn
>>> model = snn.MLP([2, 4, 1], activation="sigmoid", output="sigmoid", seed=0)
"""

from . import (
    callbacks,
    datasets,
    functional,
    initializers,
    losses,
    metrics,
    optim,
    plot,
    schedules,
)
from .errors import DataFileError, ScratchnnError, TrainingDivergedError
from .gradcheck import GradcheckResult, gradcheck
from .layers import (
    ELU,
    GELU,
    Activation,
    BatchNorm1d,
    Dense,
    Dropout,
    Identity,
    Layer,
    LayerNorm,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Standardize,
    Tanh,
)
from .model import MLP, Sequential
from .parameters import Parameter, Parameters
from .training import History

__version__ = "0.1.0"

from .io import load


def __getattr__(name: str) -> object:
    # export_onnx lives in scratchnn.onnx, imported on first use so that ``import scratchnn``
    # stays free of the optional onnx dependency.
    if name == "export_onnx":
        from .onnx import export_onnx

        return export_onnx
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ELU",
    "GELU",
    "MLP",
    "Activation",
    "BatchNorm1d",
    "DataFileError",
    "Dense",
    "Dropout",
    "GradcheckResult",
    "History",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Parameter",
    "Parameters",
    "ReLU",
    "ScratchnnError",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Standardize",
    "Tanh",
    "TrainingDivergedError",
    "callbacks",
    "datasets",
    "export_onnx",
    "functional",
    "gradcheck",
    "initializers",
    "load",
    "losses",
    "metrics",
    "optim",
    "plot",
    "schedules",
]
