"""The training toolkit in one script: dropout, batch norm, a learning-rate schedule, early
stopping, checkpoints, and an exact resume from a saved file.

    python examples/toolkit.py

Trains on 12,000 MNIST images (the bundled data) with 2,000 held out for validation.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import scratchnn as snn


def build(seed: int = 0) -> snn.Sequential:
    return snn.Sequential(
        [
            snn.Dense(784, 256),
            snn.BatchNorm1d(256),
            snn.ReLU(),
            snn.Dropout(0.2),
            snn.Dense(256, 128, l2=1e-5),
            snn.ReLU(),
            snn.Dense(128, 10),
        ],
        seed=seed,
    )


def main(samples: int = 12_000, epochs: int = 12, workdir: str | None = None) -> dict:
    (X_train, y_train), (X_test, y_test) = snn.datasets.load_mnist()
    X, y = X_train[:samples], y_train[:samples]
    folder = Path(workdir or tempfile.mkdtemp(prefix="scratchnn-"))

    model = build()
    print(model.summary())
    # Half the epochs now, the rest after saving and loading: if EarlyStopping has not ended
    # this half, fit says so (a NotConvergedWarning), which is true, and training goes on below.
    history = model.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=snn.optim.AdamW(lr=2e-3, weight_decay=1e-4, clip_norm=5.0),
        schedule=snn.schedules.Warmup(2, then=snn.schedules.CosineAnnealing(T_max=epochs)),
        epochs=epochs // 2,
        batch_size=128,
        validation_split=2_000 / samples,
        metrics=["accuracy", "f1"],
        callbacks=[
            snn.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=False),
            snn.callbacks.ModelCheckpoint(
                folder / "best.npz", monitor="val_accuracy", save_best_only=True
            ),
            snn.callbacks.CSVLogger(folder / "log.csv"),
        ],
        verbose=2,
    )
    print(f"Best validation accuracy so far: {max(history['val_accuracy']):.2%}")

    # Save everything (optimizer, schedule, random states), load, and carry on exactly.
    model.save(folder / "halfway.npz")
    resumed = snn.load(folder / "halfway.npz")
    print(f"Resuming from epoch {resumed.epochs_trained} with lr {resumed.optimizer.lr:.2e}")
    resumed.fit(
        X,
        y,
        epochs=epochs - epochs // 2,
        batch_size=128,
        validation_split=2_000 / samples,
        metrics=["accuracy"],
        verbose=2,
    )

    results = resumed.evaluate(X_test, y_test, metrics=["accuracy", "f1", "top_3_accuracy"])
    print("Test set: " + ", ".join(f"{key} {value:.4f}" for key, value in results.items()))
    print(f"Files in {folder}: {', '.join(sorted(p.name for p in folder.iterdir()))}")
    return results


if __name__ == "__main__":
    main()
