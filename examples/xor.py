"""The tutorial's network, reproduced: a 2-4-1 sigmoid MLP learns XOR by gradient descent.

First the classic tutorial exactly (standard normal weights, the summed error, lr 0.1, 10,000
epochs; see docs/tutorial.md), then its first "next steps" measured fairly: momentum and Adam
against plain gradient descent with ONE learning rate for all three, on the same network and
seeds, as ``scratchnn compare`` measures them. The same experiment from the command line:

    scratchnn compare --preset tutorial --optimizers sgd,momentum,adam --lr 0.3 \\
        --epochs 3000 --seeds 5

    python examples/xor.py
"""

from __future__ import annotations

import numpy as np

import scratchnn as snn

THRESHOLD = 0.05  # mean squared error counted as "learned" (compare's default threshold)
SEEDS = range(5)
SHARED_LR = 0.3  # one learning rate for every optimizer: the comparison changes one thing
EPOCHS = 3000

#: The optimizers of the tutorial's next steps, as the command line names them.
OPTIMIZERS = {
    "sgd": lambda lr: snn.optim.SGD(lr=lr),
    "momentum": lambda lr: snn.optim.SGD(lr=lr, momentum=0.9),
    "adam": lambda lr: snn.optim.Adam(lr=lr),
}


def tutorial_network(seed: int = 0, dtype=np.float64, activation: str = "sigmoid"):
    """2 inputs -> 4 hidden units -> 1 sigmoid output, weights drawn from N(0, 1)."""
    return snn.Sequential(
        [
            snn.Dense(2, 4, init="standard_normal"),
            snn.layers.get_activation(activation),
            snn.Dense(4, 1, init="standard_normal"),
            snn.Sigmoid(),
        ],
        seed=seed,
        dtype=dtype,
    )


def seed_network(seed: int = 0, epochs: int = 10_000, lr: float = 0.1) -> snn.Sequential:
    """The tutorial's loop, step by step: forward, loss, backward, update.

    The tutorial's learning rate ``lr`` acts on the summed error ½ Σ (y − a)²; scratchnn's
    ``MSE(reduction="sum")`` is Σ (a − y)², twice that, so the same step is ``SGD(lr=lr / 2)``.
    """
    X, y = snn.datasets.xor(np.float64)
    model = tutorial_network(seed)
    loss = snn.losses.MSE(reduction="sum")
    optimizer = snn.optim.SGD(lr=lr / 2)  # W <- W - (lr / 2) * dL/dW = W + lr * xᵀ·δ
    for epoch in range(epochs):
        output = model.forward(X, training=True)  # forward pass, layer by layer
        loss(output, y)  # summed squared error over the 4 samples
        model.backward(loss.backward())  # chain rule, output back to input
        optimizer.step(model.parameters())  # gradient-descent update
        if epoch % 1000 == 0:  # the tutorial prints the mean squared error
            print(f"  epoch {epoch:>5}: loss {np.mean(np.square(y - output)):.6f}")
    return model


def epochs_to_threshold(
    activation: str, optimizer: str, seed: int, max_epochs: int = EPOCHS, lr: float = SHARED_LR
) -> int | None:
    """Epochs until the training loss (mean squared error) first falls below THRESHOLD (None:
    never), for the tutorial's network with another hidden activation or optimizer: the same
    model, data and training as a row of ``scratchnn compare --preset tutorial``."""
    X, y = snn.datasets.xor(np.float64)
    model = tutorial_network(seed, np.float32, activation)
    history = model.fit(
        X,
        y,
        loss=snn.losses.MSE(),
        optimizer=OPTIMIZERS[optimizer](lr),
        epochs=max_epochs,
        batch_size=None,
        verbose=0,
    )
    below = np.flatnonzero(np.array(history["loss"]) < THRESHOLD)
    return int(below[0]) + 1 if below.size else None


def optimizer_ranking(
    seeds=SEEDS, epochs: int = EPOCHS, lr: float = SHARED_LR
) -> list[tuple[str, float | None, int]]:
    """``(optimizer, median epochs to the threshold, seeds that reached it)``, fastest first."""
    rows = []
    for name in OPTIMIZERS:
        runs = [epochs_to_threshold("sigmoid", name, s, epochs, lr) for s in seeds]
        reached = [r for r in runs if r is not None]
        rows.append((name, float(np.median(reached)) if reached else None, len(reached)))
    return sorted(rows, key=lambda row: (row[1] is None, row[1] or 0))


def main() -> None:
    print("The seed: 2-4-1 sigmoid network, N(0, 1) weights, summed error, lr 0.1 (float64)")
    model = seed_network()
    X, y = snn.datasets.xor(np.float64)
    for inputs, target, output in zip(X, y.ravel(), model.predict(X).ravel(), strict=True):
        print(f"  {inputs.astype(int)} -> {output:.3f}   (target {target:.0f})")

    print(
        f"\nNext steps: one learning rate ({SHARED_LR}) for every optimizer, mean squared "
        f"error,\nepochs to reach loss < {THRESHOLD} (median over {len(SEEDS)} seeds, "
        f"at most {EPOCHS} epochs)"
    )
    print(f"  {'optimizer':<10} {'median epochs':>13} {'reached':>8}")
    for name, median, reached in optimizer_ranking():
        shown = f"{median:.0f}" if median is not None else "-"
        print(f"  {name:<10} {shown:>13} {reached:>5}/{len(SEEDS)}")
    print(
        "  The ranking depends on the learning rate: Adam at lr 1.0 fails on some seeds.\n"
        "  Compare at several (scratchnn compare --lr ...) or let each row find its own\n"
        "  (scratchnn compare --tune-lr), which the table then shows."
    )


if __name__ == "__main__":
    main()
