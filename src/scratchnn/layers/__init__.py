"""Layers: the building blocks of a model, each a small class with ``forward`` and ``backward``."""

from .activations import (
    ELU,
    GELU,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    activations,
    get_activation,
)
from .base import Layer, layers
from .dense import Dense
from .normalization import BatchNorm1d, LayerNorm
from .preprocessing import Standardize
from .regularization import Dropout

__all__ = [
    "ELU",
    "GELU",
    "Activation",
    "BatchNorm1d",
    "Dense",
    "Dropout",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Standardize",
    "Tanh",
    "activations",
    "get_activation",
    "layers",
]
