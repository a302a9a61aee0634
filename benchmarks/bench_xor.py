"""The tutorial's XOR network: the cost of one training step when the arrays are tiny.

A 2-4-1 network with sigmoid units learns XOR from its four samples by full-batch plain
gradient descent. Each matrix holds at most 8 numbers, so a step costs what the code around the
arithmetic costs: Python calls, temporaries, checks. This measures that overhead:

- **tutorial loop**: the tutorial's hand-written NumPy, verbatim in spirit: ``sigmoid(x) =
  1/(1+exp(-x))``, ``sigmoid_derivative(a) = a*(1-a)`` applied to the activations, and updates
  ``W += lr * Xᵀ·delta`` on the summed squared error, with lr 0.25. It computes no loss value.
- **scratchnn**: ``model.fit(X, y, loss="mse", optimizer=SGD(lr=0.5), epochs=E,
  batch_size=None)``; the mean squared error with lr 0.5 is the same update as the tutorial's
  summed error with lr 0.25 (see the README). Per step = the time of the ``fit`` call / E, so
  the per-call setup (validation, history) is spread over E steps, as it is in real use. ``fit``
  also computes and records the loss of every step.
- **PyTorch**: the same network as ``nn.Sequential``, ``nn.MSELoss``, ``torch.optim.SGD(lr=0.5)``
  and the standard loop (zero_grad, forward, loss, backward, step).

All three run in float32 from the same initial weights (scratchnn's, seed 0) and take the same
number of steps, so their final losses must agree: that is printed as a check that the three
loops really compute the same thing.
"""

from __future__ import annotations

import numpy as np
from common import (
    MachineLoad,
    Targets,
    blas_threads,
    markdown_table,
    measure,
    numpy_kernel_line,
    parse_args,
    say,
)

import scratchnn as snn

TUTORIAL_LR = 0.25  # on the summed error ½·Σ(y − a)²
MEAN_LR = 0.5  # the same step on the mean error (1/N)·Σ(a − y)², N = 4


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return X, y


def make_model() -> snn.Sequential:
    layers = [snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()]
    return snn.Sequential(layers, seed=0)


def initial_weights() -> list[np.ndarray]:
    """``[W1, b1, W2, b2]`` of the seeded scratchnn model: every loop starts from these."""
    model = make_model()
    return [
        layer.params[name].copy()
        for layer in model.layers
        if isinstance(layer, snn.Dense)
        for name in ("W", "b")
    ]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_derivative(x):
    return x * (1 - x)


class TutorialLoop:
    name = "tutorial loop (NumPy)"

    def __init__(self, X, y, weights) -> None:
        self.X, self.y = X, y
        W1, b1, W2, b2 = (w.copy() for w in weights)
        self.W1, self.b1 = W1, b1.reshape(1, -1)
        self.W2, self.b2 = W2, b2.reshape(1, -1)

    def train(self, epochs: int) -> None:
        X, y, lr = self.X, self.y, TUTORIAL_LR
        W1, b1, W2, b2 = self.W1, self.b1, self.W2, self.b2
        for _ in range(epochs):
            hidden = sigmoid(np.dot(X, W1) + b1)
            output = sigmoid(np.dot(hidden, W2) + b2)
            error = y - output
            d_output = error * sigmoid_derivative(output)
            error_hidden = d_output.dot(W2.T)
            d_hidden = error_hidden * sigmoid_derivative(hidden)
            W2 += hidden.T.dot(d_output) * lr
            b2 += np.sum(d_output, axis=0, keepdims=True) * lr
            W1 += X.T.dot(d_hidden) * lr
            b1 += np.sum(d_hidden, axis=0, keepdims=True) * lr

    def loss(self) -> float:
        hidden = sigmoid(self.X @ self.W1 + self.b1)
        output = sigmoid(hidden @ self.W2 + self.b2)
        return float(np.mean((output - self.y) ** 2))


class ScratchnnFit:
    name = "scratchnn fit(batch_size=None)"

    def __init__(self, X, y) -> None:
        self.X, self.y = X, y
        self.model = make_model()
        self.optimizer = snn.optim.SGD(lr=MEAN_LR)

    def train(self, epochs: int) -> None:
        self.model.fit(
            self.X,
            self.y,
            loss="mse",
            optimizer=self.optimizer,
            epochs=epochs,
            batch_size=None,
            verbose=0,
        )

    def loss(self) -> float:
        return float(np.mean((self.model.predict(self.X) - self.y) ** 2))


class TorchLoop:
    name = "PyTorch (manual loop, SGD)"

    def __init__(self, X, y, weights) -> None:
        import torch
        from torch import nn

        self.torch = torch
        torch.set_num_threads(blas_threads())
        self.model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
        linears = [self.model[0], self.model[2]]
        with torch.no_grad():
            for linear, W, b in zip(linears, weights[::2], weights[1::2], strict=True):
                linear.weight.copy_(torch.from_numpy(W.T.copy()))
                linear.bias.copy_(torch.from_numpy(b))
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.criterion = nn.MSELoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=MEAN_LR)

    def train(self, epochs: int) -> None:
        model, criterion, optimizer, X, y = (
            self.model,
            self.criterion,
            self.optimizer,
            self.X,
            self.y,
        )
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = criterion(model(X), y)
            loss.backward()
            optimizer.step()

    def loss(self) -> float:
        with self.torch.no_grad():
            return float(self.criterion(self.model(self.X), self.y))


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    load = MachineLoad()
    epochs, repeats = (200, 1) if args.quick else (3000, 5)
    X, y = xor_data()
    weights = initial_weights()
    loops = [TutorialLoop(X, y, weights), ScratchnnFit(X, y)]
    notes = []
    try:
        loops.append(TorchLoop(X, y, weights))
    except ImportError:
        notes.append("PyTorch is not installed: its row is missing")

    # Round robin: one warm-up call each, then `repeats` timed calls of `epochs` steps each.
    times: dict[str, list[float]] = {loop.name: [] for loop in loops}
    for loop in loops:
        loop.train(epochs // 10)
    for _ in range(repeats):
        for loop in loops:
            times[loop.name].append(measure(lambda loop=loop: loop.train(epochs), 1, 0)[0])
    per_step = {name: float(np.median(values)) / epochs * 1e6 for name, values in times.items()}

    say("## XOR, 2-4-1 sigmoid network, full-batch gradient descent (bench_xor.py)\n")
    say(numpy_kernel_line() + "  ")
    say(
        f"Microseconds per step: median of {repeats} call(s) of {epochs} steps each, after a "
        f"warm-up call of {epochs // 10} steps; float32; final loss after "
        f"{epochs // 10 + repeats * epochs} steps from the same initial weights.\n"
    )
    base = per_step[ScratchnnFit.name]
    rows = [
        [
            loop.name,
            f"{per_step[loop.name]:.1f}",
            f"{per_step[loop.name] / base:.2f}",
            f"{loop.loss():.6f}",
        ]
        for loop in loops
    ]
    say(markdown_table(["implementation", "µs/step (median)", "x scratchnn", "final MSE"], rows))
    if notes:
        say("\n" + "\n".join(f"- {note}" for note in notes))
    losses = [loop.loss() for loop in loops]
    targets = Targets()
    hand = per_step[TutorialLoop.name]
    targets.at_most("XOR step: scratchnn / tutorial loop", base / hand, 1.5)  # issue 22
    torch_step = per_step.get(TorchLoop.name)
    targets.at_least("XOR step: PyTorch / scratchnn", torch_step and torch_step / base, 3.0)
    spread = max(losses) - min(losses)
    targets.require(
        "XOR: the loops compute the same training",
        spread < 1e-3,
        f"final losses differ by {spread:.2g}",
    )
    say("\n" + load.report())
    say("\n### Targets\n")
    say(targets.markdown())


if __name__ == "__main__":
    main()
