"""Train the LeNet-style CNN on the bundled MNIST and report its test accuracy and training
time: the run behind the accuracy bar of docs/cnn.md (at least 99.2%).

    python benchmarks/train_cnn_mnist.py [--epochs 12] [--augment 2] [--dropout 0.25]

The model is :func:`scratchnn.models.LeNet` (conv 5x5x32, pool, conv 5x5x64, pool, dense 128,
10) with seeded random shifts of up to ``--augment`` pixels while training, trained by Adam
(lr 1e-3) with a cosine schedule over all epochs, batches of 128, float32, on the threads
NumPy's BLAS has (this script sets none). The test accuracy is measured after every epoch, on
the 10,000 test images the training never sees.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import scratchnn as snn
from scratchnn.models import LeNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--augment", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="use the first N training images")
    parser.add_argument("--json", default=None, help="write the results to this file")
    args = parser.parse_args()

    (X, y), (X_test, y_test) = snn.datasets.load_mnist(images=True)
    if args.limit:
        X, y = X[: args.limit], y[: args.limit]
    model = LeNet(augment=args.augment, dropout=args.dropout, seed=0)
    print(model.summary(), flush=True)
    start = time.perf_counter()
    history = model.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=snn.optim.Adam(lr=1e-3),
        schedule=snn.schedules.CosineAnnealing(T_max=args.epochs),
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=(X_test, y_test),
        metrics=["accuracy"],
        verbose=2,
    )
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(X_test, y_test, metrics=["accuracy"])["accuracy"]
    results = {
        "test_accuracy": accuracy,
        "training_seconds": seconds,
        "epochs": args.epochs,
        "augment": args.augment,
        "dropout": args.dropout,
        "val_accuracy": history["val_accuracy"],
        "loss": history["loss"],
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "cpus": os.cpu_count(),
    }
    print(f"Test accuracy {accuracy:.4f} after {args.epochs} epochs, {seconds:.0f} s of training")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    np.set_printoptions()


if __name__ == "__main__":
    main()
