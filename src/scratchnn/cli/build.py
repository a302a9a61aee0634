"""Turning command-line choices into a model, an optimizer and a schedule."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .. import callbacks, optim, schedules
from ..layers import Layer, Standardize, get_activation
from ..layers.packed import pack
from ..model import Sequential, mlp_layers
from .data import Dataset
from .defaults import Defaults
from .tasks import Task

#: Optimizer names on the command line: each a constructor taking the learning rate.
OPTIMIZERS = {
    "sgd": lambda lr: optim.SGD(lr=lr),
    "momentum": lambda lr: optim.SGD(lr=lr, momentum=0.9),
    "nesterov": lambda lr: optim.SGD(lr=lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda lr: optim.RMSProp(lr=lr),
    "adagrad": lambda lr: optim.Adagrad(lr=lr),
    "adam": lambda lr: optim.Adam(lr=lr),
    "adamw": lambda lr: optim.AdamW(lr=lr),
}

SCHEDULES = ("none", "cosine", "step", "plateau")


def make_optimizer(name: str, lr: float) -> optim.Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}. Choose one of: {', '.join(OPTIMIZERS)}.")
    return OPTIMIZERS[name](lr)


def make_schedule(name: str, epochs: int, monitor: str) -> schedules.Schedule | None:
    if name == "none":
        return None
    if name == "cosine":
        return schedules.CosineAnnealing(T_max=epochs)
    if name == "step":
        return schedules.StepLR(step_size=max(1, epochs // 3), gamma=0.1)
    if name == "plateau":
        return schedules.ReduceLROnPlateau(monitor=monitor, patience=2)
    raise ValueError(f"Unknown schedule {name!r}. Choose one of: {', '.join(SCHEDULES)}.")


def make_early_stopping(settings: Defaults, monitor: str = "val_loss") -> callbacks.EarlyStopping:
    """The early stopping a run's settings describe: their patience and least improvement on
    ``monitor``, the best weights restored."""
    return callbacks.EarlyStopping(
        monitor=monitor,
        patience=settings.patience,
        min_delta=settings.min_delta,
        restore_best_weights=True,
    )


def parse_layers(text: str) -> list[int]:
    """'128,64' -> [128, 64]; '' or 'none' -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "none", "0"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated hidden sizes like 128,64, received {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive, received {text!r}")
    return sizes


def build_model(
    data: Dataset,
    task: Task,
    hidden: list[int],
    activation: str,
    dropout: float = 0.0,
    batch_norm: bool = False,
    standardize: bool | None = None,
    seed: int = 0,
    init: str = "auto",
    front: Layer | None = None,
    members: int = 1,
) -> Sequential:
    """``[Standardize] → [front] → (Dense → [BatchNorm] → activation → [Dropout]) × hidden →
    Dense → [output activation]``, with the standardization fitted on the training data;
    ``init`` is the Dense layers' weight initializer; ``front`` a layer of the features (a
    table's ``PeriodicEmbedding``) whose ``out_features`` the first Dense takes; ``members``
    above 1 packs that many such networks side by side (:func:`scratchnn.layers.packed.pack`,
    outputs ``(batch, members, outputs)``)."""
    get_activation(activation)  # an unknown name fails here, with the list of known ones
    stack: list[Layer] = []
    if standardize is None:
        standardize = not data.images
    if standardize:
        scaler = Standardize(data.n_features)
        scaler.adapt(data.X_train)
        stack.append(scaler)
    inputs = data.n_features
    if front is not None:
        stack.append(front)
        inputs = front.out_features
    stack += mlp_layers(
        [inputs, *hidden, task.n_outputs],
        activation,
        task.output_activation,
        init,
        batch_norm=batch_norm,
        dropout=dropout,
    )
    if members > 1:
        stack = pack(stack, members)
    return Sequential(stack, seed=seed, dtype=np.float32)


def verbosity(quiet: bool) -> int:
    """A progress bar in a terminal, one line per epoch otherwise, nothing with --quiet."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2
