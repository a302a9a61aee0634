"""get_config writes every constructor argument (defaults too, as Keras does), so a saved file
does not depend on the defaults of the version that loads it; from_config rebuilds an equal
object."""

from __future__ import annotations

import inspect

import pytest

import scratchnn as snn
from scratchnn import losses, optim, schedules
from scratchnn.layers import layers

# One constructible example per registered class that needs arguments.
EXAMPLES = {
    "Dense": {"in_features": 3, "out_features": 2},
    "BatchNorm1d": {"num_features": 4},
    "LayerNorm": {"num_features": 4},
    "Standardize": {"num_features": 4},
    "Conv1D": {"in_channels": 2, "out_channels": 3, "kernel_size": 3},
    "Conv2D": {"in_channels": 2, "out_channels": 4, "kernel_size": 3, "stride": 2},
    "MaxPool2D": {"kernel_size": 2},
    "AvgPool2D": {"kernel_size": 3, "stride": 1},
    "BatchNorm2d": {"num_features": 3},
    "Reshape": {"shape": [2, 3]},
    "Embedding": {"num_embeddings": 10, "embedding_dim": 4},
    "PositionalEmbedding": {"max_length": 16, "embedding_dim": 4},
    "SinusoidalEncoding": {"embedding_dim": 4},
    "PeriodicEmbedding": {"in_features": 4, "numeric": 2},
    "PiecewiseLinearEncoding": {"in_features": 4, "numeric": 2, "bins": 3, "keep_inputs": True},
    "PackedDense": {"in_features": 3, "out_features": 2, "members": 4, "shared_input": True},
    "PackedPeriodicEmbedding": {"in_features": 4, "numeric": 2, "members": 3, "keep_inputs": True},
    "RNN": {"in_features": 3, "hidden_size": 5},
    "LSTM": {"in_features": 3, "hidden_size": 5, "return_sequences": True},
    "GRU": {"in_features": 3, "hidden_size": 5},
    "MultiHeadAttention": {"embed_dim": 8, "num_heads": 2},
    "Residual": {"layers": [snn.LayerNorm(4), snn.Dense(4, 4), snn.GELU()]},
    "Chain": {"layers": [snn.Dense(4, 3), snn.ReLU()]},
    "Average": {"members": [snn.Dense(4, 2), snn.layers.Chain([snn.Dense(4, 3), snn.Dense(3, 2)])]},
    "StepLR": {"step_size": 2},
    "ExponentialLR": {"gamma": 0.9},
    "CosineAnnealing": {"T_max": 5},
}


def registered(registry):
    """The built-in classes of a registry (other tests register classes of their own)."""
    classes = {registry.lookup(name) for name in registry.names()}
    return sorted(
        (cls for cls in classes if cls.__module__.startswith("scratchnn.")),
        key=lambda cls: cls.__name__,
    )


def arguments(cls) -> set[str]:
    """The constructor's named arguments, through ``**options`` to the base class's."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD} - {"self"}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return names


CLASSES = [
    *registered(layers),
    *registered(optim.optimizers),
    *registered(schedules.schedules),
    *registered(losses.losses),
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_get_config_writes_every_argument_and_round_trips(cls):
    instance = cls(**EXAMPLES.get(cls.__name__, {}))
    config = instance.get_config()
    assert set(config) == arguments(cls), f"{cls.__name__}.get_config() leaves out arguments"
    again = type(instance).from_config(config)
    assert again.get_config() == config
