"""scratchnn: neural networks from scratch on NumPy, every gradient derived by hand.

>>> import scratchnn as snn
>>> model = snn.MLP([2, 4, 1], activation="sigmoid", output="sigmoid", seed=0)
"""

from . import datasets, functional, initializers, losses, metrics, optim
from .errors import DataFileError, ScratchnnError
from .gradcheck import GradcheckResult, gradcheck
from .layers import (
    ELU,
    GELU,
    Activation,
    Dense,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from .model import MLP, Sequential
from .parameters import Parameter, Parameters
from .training import History

__version__ = "0.1.0"

__all__ = [
    "ELU",
    "GELU",
    "MLP",
    "Activation",
    "DataFileError",
    "Dense",
    "GradcheckResult",
    "History",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Parameter",
    "Parameters",
    "ReLU",
    "ScratchnnError",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "datasets",
    "functional",
    "gradcheck",
    "initializers",
    "losses",
    "metrics",
    "optim",
]
