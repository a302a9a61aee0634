"""``--model cnn`` for ``scratchnn train``, and ``scratchnn demo cnn``: the LeNet-style CNN of
docs/cnn.md on square images (MNIST, a folder of IDX images such as Fashion-MNIST)."""

from __future__ import annotations

import argparse
import math
import time

from .. import datasets, optim, schedules
from ..model import Sequential
from ..models import LeNet
from .build import verbosity
from .data import Dataset
from .tasks import Task

#: Random shifts of up to 2 pixels while training, dropout 0.25 before the last layer: the
#: settings of the run behind docs/cnn.md's 99.43% on MNIST.
AUGMENT, DROPOUT = 2, 0.25


def build_cnn(data: Dataset, task: Task, seed: int = 0) -> Sequential:
    """LeNet on the dataset's rows of pixels, reshaped into one-channel square images (so the
    saved model takes the same rows as an MLP: evaluate, predict and export need nothing new)."""
    side = math.isqrt(data.n_features)
    if not data.images or side * side != data.n_features or task.classes is None:
        raise ValueError(
            f"--model cnn trains on square images with classes (mnist, or a folder of IDX "
            f"images such as Fashion-MNIST); {data.name} has {data.n_features} features"
            + ("" if data.images else " that are not pixels")
            + ". Use the default --model mlp."
        )
    if side < 16:
        raise ValueError(
            f"--model cnn needs images of at least 16x16 pixels (two 5x5 convolutions, two 2x2 "
            f"pools); {data.name}'s are {side}x{side}. Use the default --model mlp."
        )
    return LeNet(
        image_size=side,
        classes=task.n_outputs,
        augment=AUGMENT,
        dropout=DROPOUT,
        flat_input=True,
        seed=seed,
    )


def demo(args: argparse.Namespace) -> int:
    """``scratchnn demo cnn``: LeNet on the bundled MNIST, images in, test accuracy out."""
    epochs = args.epochs or 2
    (X, y), (X_test, y_test) = datasets.load_mnist(images=True)
    model = LeNet(seed=args.seed)
    print("A LeNet-style CNN on MNIST: 60,000 training and 10,000 test images (1, 28, 28).")
    print(model.summary())
    print(f"Adam (lr 0.001), cosine schedule, batches of 128, {epochs} epochs.")
    start = time.perf_counter()
    model.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=optim.Adam(lr=1e-3),
        schedule=schedules.CosineAnnealing(T_max=epochs),
        epochs=epochs,
        batch_size=128,
        metrics=["accuracy"],
        verbose=verbosity(args.quiet),
    )
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(X_test, y_test, metrics=["accuracy"])["accuracy"]
    print(f"\nTrained {epochs} epochs in {seconds:.0f} s. Test accuracy: {accuracy:.2%}")
    if args.plot:
        from .. import plot

        predicted = model.predict(X_test).argmax(axis=1)
        plot.confusion_matrix(y_test, predicted, path=args.plot)
        print(f"Plot written to {args.plot}")
    return 0
