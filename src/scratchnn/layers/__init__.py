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
from .attention import MultiHeadAttention
from .augmentation import RandomShift
from .base import Layer, layers
from .conv import Conv1D, Conv2D
from .dense import Dense
from .embedding import Embedding, PositionalEmbedding, SinusoidalEncoding
from .ensemble import Average, Chain
from .normalization import BatchNorm1d, LayerNorm
from .normalization2d import BatchNorm2d
from .numeric_embedding import PeriodicEmbedding, PiecewiseLinearEncoding
from .packed import PackedDense, PackedPeriodicEmbedding
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .preprocessing import Standardize
from .recurrent import GRU, LSTM, RNN
from .regularization import Dropout
from .regularization2d import Dropout2d
from .reshape import Flatten, Reshape, ToChannelsFirst
from .residual import Residual

__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "Average",
    "AvgPool2D",
    "BatchNorm1d",
    "BatchNorm2d",
    "Chain",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "Flatten",
    "GlobalAvgPool2D",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "MaxPool2D",
    "MultiHeadAttention",
    "PackedDense",
    "PackedPeriodicEmbedding",
    "PeriodicEmbedding",
    "PiecewiseLinearEncoding",
    "PositionalEmbedding",
    "RandomShift",
    "ReLU",
    "Reshape",
    "Residual",
    "SiLU",
    "Sigmoid",
    "SinusoidalEncoding",
    "Softmax",
    "Standardize",
    "Tanh",
    "ToChannelsFirst",
    "activations",
    "get_activation",
    "layers",
]
