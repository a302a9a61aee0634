"""The tutorial's network, reproduced: a 2-4-1 sigmoid MLP learns XOR by gradient descent.

Then the tutorial's first "next steps": the same network with tanh or ReLU hidden units, and
with Adam instead of plain gradient descent, each timed in epochs to reach a loss threshold.

    python examples/xor.py
"""

from __future__ import annotations

import numpy as np

import scratchnn as snn

THRESHOLD = 0.01  # mean squared error counted as "learned"
SEEDS = range(10)


def seed_network(seed: int = 0, epochs: int = 10_000, lr: float = 0.5) -> snn.Sequential:
    """The tutorial's loop, step by step: forward, loss, backward, update."""
    X, y = snn.datasets.xor()
    model = snn.Sequential(
        [snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()], seed=seed
    )
    loss = snn.losses.MSE()
    optimizer = snn.optim.SGD(lr=lr)  # W <- W - lr * dL/dW
    for epoch in range(epochs):
        output = model.forward(X, training=True)  # forward pass, layer by layer
        value = loss(output, y)  # mean squared error over the 4 samples
        model.backward(loss.backward())  # chain rule, output back to input
        optimizer.step(model.parameters())  # gradient-descent update
        if epoch % 2000 == 0:
            print(f"  epoch {epoch:>5}: loss {value:.5f}")
    return model


def epochs_to_threshold(activation: str, optimizer: str, seed: int, max_epochs: int) -> int | None:
    """Epochs until the training loss first falls below THRESHOLD (None: never)."""
    X, y = snn.datasets.xor()
    model = snn.Sequential(
        [snn.Dense(2, 4, activation=activation), snn.Dense(4, 1), snn.Sigmoid()], seed=seed
    )
    chosen = snn.optim.SGD(lr=2.0) if optimizer == "sgd" else snn.optim.Adam(lr=0.05)
    history = model.fit(
        X, y, loss="mse", optimizer=chosen, epochs=max_epochs, batch_size=None, verbose=0
    )
    below = np.flatnonzero(np.array(history["loss"]) < THRESHOLD)
    return int(below[0]) + 1 if below.size else None


def main() -> None:
    print("The seed: 2-4-1 sigmoid network, plain gradient descent (lr 0.5, mean squared error)")
    model = seed_network()
    X, y = snn.datasets.xor()
    for inputs, target, output in zip(X, y.ravel(), model.predict(X).ravel(), strict=True):
        print(f"  {inputs.astype(int)} -> {output:.3f}   (target {target:.0f})")

    print(f"\nNext steps: epochs to reach loss < {THRESHOLD} (median over {len(SEEDS)} seeds)")
    print(f"  {'hidden':<8} {'optimizer':<10} {'median epochs':>13} {'reached':>8}")
    for activation in ("sigmoid", "tanh", "relu"):
        for optimizer in ("sgd", "adam"):
            runs = [epochs_to_threshold(activation, optimizer, s, 5000) for s in SEEDS]
            reached = [r for r in runs if r is not None]
            median = f"{np.median(reached):.0f}" if reached else "-"
            print(f"  {activation:<8} {optimizer:<10} {median:>13} {len(reached):>5}/{len(runs)}")
    print("  (sgd: lr 2.0; adam: lr 0.05. ReLU units can die at a bad start: see 'reached'.)")


if __name__ == "__main__":
    main()
