"""``scratchnn train --preset tutorial``: the classic tutorial's settings on the command line.

The preset sets the network (one hidden layer of 4 sigmoid units, a sigmoid output), the
loss (mean squared error), plain gradient descent with the whole training set per step, no
schedule, no input standardization, and the tutorial's learning rate 0.1 *with its meaning*:
the tutorial steps on its summed error ½ Σ (y − a)², and the command line's loss is the mean
(1/N) Σ (a − y)² over the N training rows, so the same step is ``SGD(lr = 0.1 · N / 2)``
(0.2 for XOR's four rows). ``--epochs`` (default 10,000) and ``--seed`` still apply. The
tutorial's N(0, 1) initial weights are ``init="standard_normal"`` (see docs/tutorial.md).
"""

from __future__ import annotations

import argparse

from ..reference import TUTORIAL_LR
from . import commands
from . import data as data_module

#: What --preset tutorial sets (the learning rate follows from the number of rows).
TUTORIAL = {
    "layers": [4],
    "activation": "sigmoid",
    "loss": "mse",
    "optimizer": "sgd",
    "schedule": "none",
    "standardize": "no",
    "val_split": 0.0,
    "early_stopping": 0,
    "dropout": 0.0,
    "batch_norm": False,
    "init": "standard_normal",
}


def apply(args: argparse.Namespace) -> None:
    """Set the tutorial's settings on ``args`` (in place) and say so."""
    if data_module.is_table_file(args.data):
        raise ValueError(
            "--preset tutorial is the tutorial's small network for the built-in problems "
            f"(xor, moons, ...); for the table {args.data} choose --layers, --lr, ... yourself."
        )
    data = data_module.load(args.data, args.target, args.test_split, args.seed, args.task)
    if data.classes is None or len(data.classes) != 2:
        raise ValueError(
            "--preset tutorial has one sigmoid output, so it needs two classes; "
            f"{data.name} has {'numeric targets' if data.classes is None else len(data.classes)}"
            f"{'' if data.classes is None else ' classes'}."
        )
    for name, value in TUTORIAL.items():
        setattr(args, name, value)
    n = len(data.X_train)
    args.batch_size = n
    args.lr = TUTORIAL_LR * n / 2
    if args.epochs is None:
        args.epochs = 10_000
    print(
        f"Preset tutorial: {data.n_features}-4-1 sigmoid network, mean squared error, full-batch "
        f"gradient descent; the tutorial's lr {TUTORIAL_LR} on its summed error ½ Σ (y − a)² "
        f"is lr {args.lr:g} on the mean over the {n} training rows; N(0, 1) initial weights."
    )


def train(args: argparse.Namespace) -> int:
    """``scratchnn train``, with ``--preset`` applied first."""
    if getattr(args, "preset", None) == "tutorial":
        apply(args)
    return commands.train(args)
