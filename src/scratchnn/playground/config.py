"""One playground configuration: what the page's controls and its URL hold, checked once.

Example:
    >>> config = Config.from_dict({"problem": "xor", "hidden": [4, 2], "lr": 0.03})
    >>> config.hidden, config.kind
    ([4, 2], 'classification')
    >>> Config.from_dict({"lr": -1})
    Traceback (most recent call last):
    ...
    ValueError: lr must be a number in [1e-06, 10]; received -1.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .data import FEATURES, PROBLEMS

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "leaky_relu", "elu", "gelu", "silu")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
LOSSES = ("mse", "cross_entropy")
REGULARIZATIONS = ("none", "l1", "l2")
MAX_LAYERS = 6
MAX_NEURONS = 8


@dataclasses.dataclass
class Config:
    """Everything that defines a run; two equal configs train identically.

    Attributes:
        problem: one of :data:`scratchnn.playground.data.PROBLEMS`.
        noise: 0 to 0.5.
        train_ratio: fraction of the points used for training (0.1 to 0.9).
        batch_size: samples per gradient step (1 to 500).
        features: input feature names (see :data:`~scratchnn.playground.data.FEATURES`).
        hidden: neurons per hidden layer, at most 6 layers of at most 8.
        activation: hidden activation name.
        lr: learning rate.
        regularization: "none", "l1" or "l2", with rate ``reg_rate``.
        optimizer: "sgd", "momentum", "rmsprop", "adam" or "adamw".
        loss: "mse" or "cross_entropy" (classification only; regression uses MSE).
        dropout: dropout probability after each hidden activation (0 to 0.5).
        batch_norm: BatchNorm1d before each hidden activation.
        seed: seeds the points and the initial weights.
        n_points: number of points (the tutorial's XOR always has 4).
    """

    problem: str = "circle"
    noise: float = 0.0
    train_ratio: float = 0.5
    batch_size: int = 10
    features: list[str] = dataclasses.field(default_factory=lambda: ["x1", "x2"])
    hidden: list[int] = dataclasses.field(default_factory=lambda: [4, 2])
    activation: str = "tanh"
    lr: float = 0.03
    regularization: str = "none"
    reg_rate: float = 0.0
    optimizer: str = "sgd"
    loss: str = "mse"
    dropout: float = 0.0
    batch_norm: bool = False
    seed: int = 0
    n_points: int = 500

    @property
    def kind(self) -> str:
        """ "classification" or "regression", from the problem."""
        return PROBLEMS[self.problem][0]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        """A checked config from JSON-like ``values``; missing keys take the defaults.

        Raises:
            ValueError: for an unknown key or a value out of range, quoting it.
            TypeError: when ``values`` is not a dict.
        """
        if not isinstance(values, dict):
            raise TypeError(f"A config is a JSON object; received {type(values).__name__}.")
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"Unknown config key(s) {unknown}; allowed: {sorted(names)}.")
        config = cls(**values)
        config._check()
        return config

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible values (``from_dict`` of it gives an equal config)."""
        return dataclasses.asdict(self)

    def _check(self) -> None:
        _choice("problem", self.problem, tuple(PROBLEMS))
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("loss", self.loss, LOSSES)
        _choice("regularization", self.regularization, REGULARIZATIONS)
        self.noise = _number("noise", self.noise, 0, 0.5)
        self.train_ratio = _number("train_ratio", self.train_ratio, 0.1, 0.9)
        self.lr = _number("lr", self.lr, 1e-6, 10)
        self.reg_rate = _number("reg_rate", self.reg_rate, 0, 10)
        self.dropout = _number("dropout", self.dropout, 0, 0.5)
        self.batch_size = _integer("batch_size", self.batch_size, 1, 500)
        self.seed = _integer("seed", self.seed, 0, 2**31 - 1)
        self.n_points = _integer("n_points", self.n_points, 20, 2000)
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"batch_norm must be true or false; received {self.batch_norm!r}.")
        if not isinstance(self.features, list) or not self.features:
            raise ValueError(f"features must be a non-empty list; received {self.features!r}.")
        for name in self.features:
            _choice("feature", name, tuple(FEATURES))
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"features must not repeat; received {self.features!r}.")
        if not isinstance(self.hidden, list) or len(self.hidden) > MAX_LAYERS:
            raise ValueError(
                f"hidden must be a list of at most {MAX_LAYERS} layer sizes; "
                f"received {self.hidden!r}."
            )
        self.hidden = [_integer("hidden layer size", size, 1, MAX_NEURONS) for size in self.hidden]
        if self.batch_norm and self.batch_size < 2:
            raise ValueError(
                "batch_norm needs batch_size >= 2 (one sample has no batch variance); "
                f"received batch_size={self.batch_size}."
            )


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; received {value!r}.")


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}]; received {value!r}.")
    return float(value)


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number in [{low}, {high}]; received {value!r}.")
    return value
