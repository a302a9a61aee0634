"""get_config writes every constructor argument (defaults too, as Keras does), so a saved file
does not depend on the defaults of the version that loads it; from_config rebuilds an equal
object."""

from __future__ import annotations

import inspect

import pytest

from scratchnn import losses, optim, schedules
from scratchnn.layers import layers

# One constructible example per registered class that needs arguments.
EXAMPLES = {
    "Dense": {"in_features": 3, "out_features": 2},
    "BatchNorm1d": {"num_features": 4},
    "LayerNorm": {"num_features": 4},
    "Standardize": {"num_features": 4},
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
