"""``scratchnn demo``: small problems trained live."""

from __future__ import annotations

import argparse

import numpy as np

from .. import callbacks, datasets, losses, optim
from ..layers import Dense, Sigmoid
from ..model import Sequential
from . import data as data_module
from .build import build_model, verbosity
from .commands import metrics_table
from .tasks import make_task


def xor(args: argparse.Namespace) -> int:
    """The tutorial's 2-4-1 sigmoid network learning XOR with plain gradient descent."""
    X, y = datasets.xor()
    model = Sequential([Dense(2, 4), Sigmoid(), Dense(4, 1), Sigmoid()], seed=args.seed)
    print("The tutorial's network: 2 inputs -> 4 sigmoid units -> 1 sigmoid output.")
    print("Plain gradient descent (lr 0.5) on the mean squared error, all 4 points per step.\n")
    epochs = args.epochs or 10_000
    every = max(1, epochs // 5)
    report = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: (
            print(f"  epoch {epoch + 1:>6}: loss {logs['loss']:.5f}")
            if (epoch + 1) % every == 0
            else None
        )
    )
    model.fit(
        X,
        y,
        loss=losses.MSE(),
        optimizer=optim.SGD(lr=0.5),
        epochs=epochs,
        batch_size=None,
        callbacks=[report],
        verbose=0,
    )
    print("\n  input    output  target")
    for inputs, output, target in zip(
        X.astype(int), model.predict(X).ravel(), y.ravel(), strict=True
    ):
        print(f"  {inputs}   {output:.3f}     {target:.0f}")
    correct = np.all(np.abs(model.predict(X) - y) < 0.5)
    print(
        "\nXOR learned." if correct else "\nNot learned yet: try more --epochs or another --seed."
    )
    return 0


def _classifier(name: str, args: argparse.Namespace, hidden: list[int], epochs: int) -> int:
    data = data_module.load(name, None, 0.25, args.seed)
    task = make_task("cross-entropy", len(data.classes))
    model = build_model(data, task, hidden, "relu", seed=args.seed)
    print(
        f"{name}: {len(data.X_train)} training and {len(data.X_test)} test samples, "
        f"{len(data.classes)} classes."
    )
    print(model.summary())
    model.fit(
        data.X_train,
        data.y_train,
        loss="cross_entropy",
        optimizer=optim.Adam(lr=1e-2 if not data.images else 1e-3),
        epochs=args.epochs or epochs,
        batch_size=32,
        metrics=["accuracy"],
        verbose=verbosity(args.quiet),
    )
    results = {
        "train": model.evaluate(data.X_train, data.y_train, metrics=["accuracy"]),
        "test": model.evaluate(data.X_test, data.y_test, metrics=["accuracy"]),
    }
    print()
    print(metrics_table(results))
    predicted = model.predict(data.X_test).argmax(axis=1)
    if args.plot:
        from .. import plot

        if data.n_features == 2:
            plot.decision_boundary(model, data.X_test, data.y_test, path=args.plot)
        else:
            plot.confusion_matrix(data.y_test, predicted, path=args.plot)
        print(f"Plot written to {args.plot}")
    return 0


def spirals(args: argparse.Namespace) -> int:
    """Three interleaved spirals: a problem no linear model can solve."""
    return _classifier("spirals", args, [64, 64], 200)


def digits(args: argparse.Namespace) -> int:
    """scikit-learn's 8x8 handwritten digits (needs scikit-learn)."""
    return _classifier("digits", args, [128, 64], 40)


DEMOS = {"xor": xor, "spirals": spirals, "digits": digits}


def run(args: argparse.Namespace) -> int:
    return DEMOS[args.name](args)
