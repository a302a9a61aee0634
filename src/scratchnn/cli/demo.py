"""``scratchnn demo``: small problems trained live."""

from __future__ import annotations

import argparse

import numpy as np

from .. import callbacks, datasets, losses, optim, reference
from ..layers import Dense, Sigmoid
from ..model import Sequential
from . import data as data_module
from . import outputs
from .build import build_model, verbosity
from .commands import metrics_table
from .tasks import make_task


def xor(args: argparse.Namespace) -> int:
    """The tutorial's 2-4-1 sigmoid network learning XOR with plain gradient descent.

    By default with scratchnn's defaults (Glorot init, the mean squared error, lr 0.5,
    float32); ``--preset tutorial`` is the classic tutorial exactly (N(0, 1) weights, the
    summed error, its lr 0.1, float64), printing the loss the tutorial prints.
    """
    X, y = datasets.xor(np.float64)
    tutorial = getattr(args, "preset", None) == "tutorial"
    epochs = args.epochs or 10_000
    if tutorial:
        setup = reference.tutorial_setup(seed=args.seed, epochs=epochs)
        model, loss, optimizer = setup.model, setup.loss, setup.optimizer
        print("The tutorial's network, exactly: 2 inputs -> 4 sigmoid units -> 1 sigmoid output.")
        print(
            f"Weights from N(0, 1) (seed {args.seed}), biases 0, float64. The tutorial's "
            f"lr {reference.TUTORIAL_LR} on its summed error ½ Σ (y − a)² is SGD(lr="
            f"{optimizer.lr:g}) on MSE(reduction='sum') = Σ (a − y)².\n"
        )
    else:
        model = Sequential([Dense(2, 4), Sigmoid(), Dense(4, 1), Sigmoid()], seed=args.seed)
        loss, optimizer = losses.MSE(), optim.SGD(lr=0.5)
        print("The tutorial's network: 2 inputs -> 4 sigmoid units -> 1 sigmoid output.")
        print(
            "scratchnn's defaults: Glorot-uniform weights, plain gradient descent (lr 0.5) on "
            "the mean squared error, all 4 points per step (lr 0.25 in the tutorial's "
            "summed-error terms; its own is 0.1); --preset tutorial for the tutorial exactly.\n"
        )
    every = max(1, epochs // 5) if not tutorial else 1000
    report = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: (
            print(f"  epoch {epoch + 1:>6}: loss {logs['loss']:.5f}")
            if (epoch + 1) % every == 0 and not tutorial
            else None
        )
    )
    history = model.fit(
        X,
        y,
        loss=loss,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=None,
        shuffle=False,
        metrics=["mse"],
        callbacks=[] if args.quiet else [report],
        verbose=0,
    )
    if tutorial and not args.quiet:  # as the tutorial prints: epoch 0, 1000, ... (before the step)
        for epoch in range(0, epochs, 1000):
            print(f"Epoch {epoch}, Loss: {history['mse'][epoch]}")
    print("\n  input    output  target")
    for inputs, output, target in zip(
        X.astype(int), model.predict(X).ravel(), y.ravel(), strict=True
    ):
        print(f"  {inputs}   {output:.3f}     {target:.0f}")
    correct = np.all(np.abs(model.predict(X) - y) < 0.5)
    print(
        "\nXOR learned." if correct else "\nNot learned yet: try more --epochs or another --seed."
    )
    if args.plot:
        from .. import plot

        plot.decision_boundary(model, X, y.ravel().astype(int), path=args.plot)
        print(f"Decision boundary written to {args.plot}")
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


def cnn(args: argparse.Namespace) -> int:
    """The LeNet-style CNN on MNIST's images (docs/cnn.md)."""
    from .cnn import demo

    return demo(args)


DEMOS = {"xor": xor, "spirals": spirals, "digits": digits, "cnn": cnn}


def run(args: argparse.Namespace) -> int:
    outputs.check(args, [("--plot", args.plot, "image")])
    if getattr(args, "preset", None) and args.name != "xor":
        raise ValueError(
            f"--preset {args.preset} is the tutorial's XOR network: use it with 'demo xor', "
            f"not 'demo {args.name}'."
        )
    return DEMOS[args.name](args)
