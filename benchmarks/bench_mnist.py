"""MNIST training and inference: scratchnn against a hand-written NumPy loop, PyTorch,
scikit-learn and the pure matrix-product bound.

The workload is the one ``make demo`` runs: the bundled MNIST (60,000 x 784 in [0, 1]), a
784-256-128-10 ReLU MLP with a linear output, softmax cross-entropy (mean over the batch), Adam
with lr 1e-3 and PyTorch's defaults otherwise, mini-batches of 128 (the last one 96), the
samples reshuffled every epoch. Every implementation below runs exactly that, in float32 and
again in float64, with the same number of threads (NumPy's BLAS threads; PyTorch is set to the
same count).

What is timed, per implementation, is one training epoch: a warm-up epoch first (untimed), then
``--repeats`` epochs whose median is reported. The implementations take their epochs in turn
(round robin), so a slow spell on the machine hits all of them rather than one. Every ratio
(the table's and the targets') is the median over rounds of the ratio within a round, of
epochs timed seconds apart, so that a spell which slows part of the run cancels out rather
than tilting the medians; and the spread of the GEMM bound's epochs shows how steady the
machine was (above 10% the script warns: rerun). Before each timed epoch there is a short
pause before each timed epoch: NumPy's OpenBLAS threads and PyTorch's OpenMP threads keep
spinning for a moment after their last call, and on 2 cores that would slow whichever library
runs next (see ``common.settle``). The test
accuracy on the 10,000 test images is taken after 2 epochs (the warm-up and the first timed
one), outside the timing: a fast implementation whose math is wrong would show it there.

- **GEMM bound**: only the 8 matrix products of each step (3 forward, 3 weight gradients, 2
  input gradients; the first layer needs no input gradient), into preallocated outputs, for as
  many steps as an epoch has. No implementation that uses the same BLAS can be faster.
- **hand-written NumPy**: the loop a competent user writes (fancy-indexed batches, temporaries
  allocated freely, Adam one array at a time). It starts from scratchnn's initial weights.
- **scratchnn**: ``MLP([784, 256, 128, 10], seed=0).fit(..., epochs=1)``, the same model
  ``fit`` again for every later epoch (it continues with the same Adam state). Each call
  validates its input once (as ``fit(epochs=N)`` would once in N epochs); that cost is measured
  and printed separately.
- **PyTorch eager**: ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU``, ``F.cross_entropy``,
  ``torch.optim.Adam`` with its defaults, the batch gathered by indexing with a ``randperm``
  slice (faster than a ``DataLoader``, which would add per-sample collation), the loss read with
  ``.item()`` every step as scratchnn reads it; same initial weights as scratchnn.
- **PyTorch, fused Adam**: the same with ``Adam(fused=True)``.
- **scikit-learn**: ``MLPClassifier`` with the same architecture, optimizer and batch policy,
  fed float32 or float64 (it keeps the dtype), one ``partial_fit`` call per epoch. It uses its
  own (Glorot) initialization, so its accuracy may differ slightly.

Inference: the 10,000 test images through the float32 models trained above, median of
repeated back-to-back calls (each implementation in its own block, after a pause):
``model.predict`` (logits), the hand-written forward pass, PyTorch under ``torch.no_grad()``
(logits), and scikit-learn's ``predict_proba`` (which adds a softmax).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from common import (
    MachineLoad,
    Targets,
    blas_threads,
    fmt,
    markdown_table,
    measure,
    numpy_kernel_line,
    parse_args,
    say,
    settle,
    timed,
    torch_description,
)

import scratchnn as snn

SIZES = [784, 256, 128, 10]
BATCH = 128
LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8
ACCURACY_EPOCHS = 2  # the warm-up epoch and the first timed one


def batch_sizes(n: int, batch: int) -> list[int]:
    """The size of every mini-batch of one epoch: ``[128, ..., 128, 96]`` for MNIST."""
    return [min(batch, n - start) for start in range(0, n, batch)]


def batch_order_rng() -> np.random.Generator:
    """The random stream that ``MLP(..., seed=0)`` draws its batch order from (one
    ``permutation(n)`` per epoch). The hand-written loop and PyTorch shuffle with it too, so all
    three see the same batches in the same order: from the same initial weights, their float64
    results then agree to rounding, which the accuracy column shows."""
    return np.random.default_rng(np.random.SeedSequence(0).spawn(3)[1])


def initial_weights(sizes: list[int], dtype) -> list[np.ndarray]:
    """scratchnn's initial weights for ``MLP(sizes, seed=0)``: ``[W1, b1, W2, b2, ...]``, so
    that every implementation that can be initialized starts from the same point."""
    model = snn.MLP(sizes, seed=0, dtype=dtype)
    dense = [layer for layer in model.layers if isinstance(layer, snn.Dense)]
    return [layer.params[name].copy() for layer in dense for name in ("W", "b")]


class GemmBound:
    """The matrix products of one epoch and nothing else: for each step, ``a_{l+1} = a_l W_l``
    (forward), ``dW_l = a_lᵀ g_l`` (weight gradients) and ``g_{l-1} = g_l W_lᵀ`` (input
    gradients, except for the first layer), all written into preallocated arrays."""

    name = "GEMM bound (8 products/step)"

    def __init__(self, sizes: list[int], n: int, batch: int, dtype) -> None:
        rng = np.random.default_rng(0)
        self.batches = batch_sizes(n, batch)

        def array(*shape):
            return (0.1 * rng.standard_normal(shape)).astype(dtype)

        layers = len(sizes) - 1
        self.W = [array(sizes[i], sizes[i + 1]) for i in range(layers)]
        self.dW = [np.empty_like(W) for W in self.W]
        full_a = [array(batch, width) for width in sizes]  # a_0 = input, a_L = output
        full_g = [array(batch, width) for width in sizes]  # g_l = dL/da_l
        # One set of row views per distinct batch size, made once (no slicing in the loop).
        self.views = {
            rows: ([a[:rows] for a in full_a], [g[:rows] for g in full_g])
            for rows in set(self.batches)
        }

    def epoch(self) -> None:
        W, dW = self.W, self.dW
        layers = len(W)
        for rows in self.batches:
            a, g = self.views[rows]
            for i in range(layers):
                np.matmul(a[i], W[i], out=a[i + 1])
            for i in reversed(range(layers)):
                np.matmul(a[i].T, g[i + 1], out=dW[i])
                if i > 0:
                    np.matmul(g[i + 1], W[i].T, out=g[i])

    logits = None  # computes nothing meaningful: no accuracy


class HandLoop:
    """The loop a competent NumPy user writes for this network."""

    name = "hand-written NumPy"

    def __init__(self, X, y, weights: list[np.ndarray], batch: int = BATCH) -> None:
        self.X, self.y, self.batch = X, y, batch
        self.params = [w.astype(X.dtype, copy=True) for w in weights]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.rng = batch_order_rng()

    def epoch(self) -> float:
        n = len(self.X)
        order = self.rng.permutation(n)
        total = 0.0
        for start in range(0, n, self.batch):
            rows = order[start : start + self.batch]
            total += self.step(self.X[rows], self.y[rows]) * len(rows)
        return total / n

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        W1, b1, W2, b2, W3, b3 = self.params
        # Forward.
        h1 = np.maximum(xb @ W1 + b1, 0)
        h2 = np.maximum(h1 @ W2 + b2, 0)
        logits = h2 @ W3 + b3
        # Softmax cross-entropy, with the max subtracted for stability.
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        rows = np.arange(len(yb))
        loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, yb]))
        # Backward: dL/dlogits = (softmax - onehot) / batch.
        g = exp / total
        g[rows, yb] -= 1
        g /= len(yb)
        dW3, db3 = h2.T @ g, g.sum(axis=0)
        g = (g @ W3.T) * (h2 > 0)
        dW2, db2 = h1.T @ g, g.sum(axis=0)
        g = (g @ W2.T) * (h1 > 0)
        dW1, db1 = xb.T @ g, g.sum(axis=0)
        # Adam, one array at a time.
        self.t += 1
        beta1, beta2 = BETAS
        c1, c2 = 1 - beta1**self.t, 1 - beta2**self.t
        grads = (dW1, db1, dW2, db2, dW3, db3)
        for p, grad, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad
            p -= LR * (m / c1) / (np.sqrt(v / c2) + EPS)
        return loss

    def logits(self, X: np.ndarray) -> np.ndarray:
        W1, b1, W2, b2, W3, b3 = self.params
        h1 = np.maximum(X @ W1 + b1, 0)
        h2 = np.maximum(h1 @ W2 + b2, 0)
        return h2 @ W3 + b3


class Scratchnn:
    """``model.fit(X, y, epochs=1)``, called once per epoch on the same model."""

    name = "scratchnn"

    def __init__(self, X, y, batch: int = BATCH, sizes: list[int] = SIZES) -> None:
        self.X, self.y, self.batch = X, y, batch
        self.model = snn.MLP(sizes, seed=0, dtype=X.dtype)
        self.started = False

    def epoch(self) -> None:
        if not self.started:
            self.model.fit(
                self.X,
                self.y,
                loss="cross_entropy",
                optimizer=snn.optim.Adam(lr=LR),
                epochs=1,
                batch_size=self.batch,
                verbose=0,
            )
            self.started = True
        else:
            self.model.fit(self.X, self.y, epochs=1, batch_size=self.batch, verbose=0)

    def logits(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict(X)

    def validation_seconds(self) -> float | None:
        """What one ``fit`` call spends validating ``(X, y)`` before its first step (through
        scratchnn's internal ``training.prepare``; None if that has changed)."""
        from scratchnn import training

        prepare = getattr(training, "prepare", None)
        if prepare is None:
            return None
        return measure(lambda: prepare(self.model, self.X, self.y, self.model.loss), 3)[0]


class TorchEager:
    """The standard PyTorch loop: zero_grad, forward, loss, backward, step."""

    def __init__(self, X, y, weights: list[np.ndarray], fused: bool, batch: int = BATCH):
        import torch
        from torch import nn

        self.torch = torch
        self.name = "PyTorch eager, fused Adam" if fused else "PyTorch eager"
        self.note = ""
        dtype = torch.float32 if X.dtype == np.float32 else torch.float64
        widths = [w.shape for w in weights[::2]]
        stack = []
        for i, (n_in, n_out) in enumerate(widths):
            stack.append(nn.Linear(n_in, n_out))
            if i < len(widths) - 1:
                stack.append(nn.ReLU())
        self.model = nn.Sequential(*stack).to(dtype)
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for linear, W, b in zip(linears, weights[::2], weights[1::2], strict=True):
                linear.weight.copy_(torch.from_numpy(W.T.astype(X.dtype)))
                linear.bias.copy_(torch.from_numpy(b.astype(X.dtype)))
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.batch = batch
        self.rng = batch_order_rng()
        params = list(self.model.parameters())
        if fused:
            try:
                self.optimizer = torch.optim.Adam(params, lr=LR, fused=True)
                self.optimizer.zero_grad()
                self.optimizer.step()  # no gradients yet: a no-op that checks support
            except (RuntimeError, ValueError) as error:
                self.note = f"fused Adam unavailable on CPU ({error}); default Adam used"
                self.optimizer = torch.optim.Adam(params, lr=LR)
        else:
            self.optimizer = torch.optim.Adam(params, lr=LR)

    def epoch(self) -> float:
        torch, F = self.torch, self.torch.nn.functional
        n = len(self.X)
        order = torch.from_numpy(self.rng.permutation(n))
        total = 0.0
        for start in range(0, n, self.batch):
            rows = order[start : start + self.batch]
            xb, yb = self.X[rows], self.y[rows]
            self.optimizer.zero_grad()
            loss = F.cross_entropy(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(rows)
        return total / n

    def logits(self, X: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(X)).numpy()


class Sklearn:
    """``MLPClassifier.partial_fit``: one epoch over the data per call."""

    name = "scikit-learn MLPClassifier"

    def __init__(self, X, y, batch: int = BATCH, hidden: tuple[int, ...] = (256, 128)) -> None:
        from sklearn.neural_network import MLPClassifier

        self.X, self.y = X, y
        self.classes = np.arange(10)
        self.model = MLPClassifier(
            hidden_layer_sizes=hidden,
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=batch,
            learning_rate_init=LR,
            shuffle=True,
            random_state=0,
        )

    def epoch(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no convergence chatter from single epochs
            self.model.partial_fit(self.X, self.y, classes=self.classes)

    def logits(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)

    def kept_dtype(self) -> bool:
        return all(c.dtype == self.X.dtype for c in self.model.coefs_)


def make_trainers(X, y, notes: list[str]):
    """Every implementation, initialized for ``(X, y)`` in their dtype."""
    weights = initial_weights(SIZES, X.dtype)
    trainers = [
        GemmBound(SIZES, len(X), BATCH, X.dtype),
        HandLoop(X, y, weights),
        Scratchnn(X, y),
    ]
    try:
        import torch

        torch.set_num_threads(blas_threads())
        torch.manual_seed(0)
        trainers.append(TorchEager(X, y, weights, fused=False))
        fused = TorchEager(X, y, weights, fused=True)
        trainers.append(fused)
        if fused.note:
            notes.append(fused.note)
    except ImportError:
        notes.append("PyTorch is not installed: its rows are missing (pip install -e '.[bench]')")
    try:
        trainers.append(Sklearn(X, y))
    except ImportError:
        notes.append("scikit-learn is not installed: its row is missing")
    return trainers


def accuracy(trainer, X_test, y_test) -> float | None:
    if trainer.logits is None:
        return None
    return float(np.mean(trainer.logits(X_test).argmax(axis=1) == y_test))


def train_all(X, y, X_test, y_test, repeats: int, notes: list[str]):
    """Warm up every implementation, then time ``repeats`` epochs of each, round robin.
    Returns the trainers, their epoch times and their accuracies after 2 epochs."""
    trainers = make_trainers(X, y, notes)
    for trainer in trainers:
        trainer.epoch()  # warm-up: epoch 1
    times: dict[str, list[float]] = {t.name: [] for t in trainers}
    accuracies: dict[str, float | None] = {}
    for r in range(repeats):
        for trainer in trainers:
            settle()  # no thread pool still spinning from the previous implementation
            times[trainer.name].append(timed(trainer.epoch))
        if r == 0:  # after epoch 2
            accuracies = {t.name: accuracy(t, X_test, y_test) for t in trainers}
    for trainer in trainers:
        if isinstance(trainer, Sklearn) and not trainer.kept_dtype():
            notes.append(f"scikit-learn did not keep {X.dtype}: its weights were converted")
    return trainers, times, accuracies


def paired_ratio(times: dict[str, list[float]], name: str, reference: str) -> float | None:
    """The median over rounds of ``name``'s epoch time over ``reference``'s in the same round.

    The two epochs of a round ran seconds apart, so a spell in which the machine runs slower
    (other virtual machines on the host; it does not show as load inside this one) slows both
    alike and cancels in their ratio, where a ratio of medians could mix fast and slow rounds.
    """
    if not times.get(name) or not times.get(reference):
        return None
    return float(np.median(np.divide(times[name], times[reference])))


def training_table(trainers, times, medians, accuracies) -> str:
    rows = []
    for trainer in trainers:
        t = medians[trainer.name]
        acc = accuracies.get(trainer.name)
        rows.append(
            [
                trainer.name,
                f"{t:.3f}",
                f"{min(times[trainer.name]):.3f} to {max(times[trainer.name]):.3f}",
                fmt(paired_ratio(times, trainer.name, Scratchnn.name)),
                fmt(paired_ratio(times, trainer.name, GemmBound.name)),
                "—" if acc is None else f"{100 * acc:.2f}%",
            ]
        )
    headers = [
        "implementation",
        "s/epoch (median)",
        "range",
        "x scratchnn",
        "x GEMM bound",
        f"test acc. after {ACCURACY_EPOCHS} epochs",
    ]
    return markdown_table(headers, rows)


def inference(trainers, X_test, repeats: int) -> dict[str, float]:
    """Median seconds to run ``X_test`` through each trained model: for each implementation in
    turn, a pause (``settle``), two warm-up calls, then ``repeats`` calls back to back, as a
    program serving predictions would make them."""
    labels = {
        "hand-written NumPy": "hand-written NumPy",
        Scratchnn.name: "scratchnn model.predict",
        "PyTorch eager": "PyTorch, torch.no_grad()",
        Sklearn.name: "scikit-learn predict_proba",
    }
    results = {}
    for trainer in trainers:
        if trainer.name in labels:
            settle()
            results[labels[trainer.name]] = measure(
                lambda t=trainer: t.logits(X_test), repeats, warmup=2
            )[0]
    return results


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        lambda p: p.add_argument("--repeats", type=int, default=5, help="timed epochs (5)"),
    )
    load = MachineLoad()
    (X, y), (X_test, y_test) = snn.datasets.load_mnist()
    repeats, inference_repeats = args.repeats, 20
    if args.quick:
        X, y, X_test, y_test = X[:1024], y[:1024], X_test[:500], y_test[:500]
        repeats, inference_repeats = 1, 2

    say("## MNIST training and inference (bench_mnist.py)\n")
    say(numpy_kernel_line() + "  ")
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(blas_threads())
        say(torch_description(torch) + "  ")
    steps = len(batch_sizes(len(X), BATCH))
    say(
        f"{len(X)} training samples, 784-256-128-10 ReLU, Adam lr {LR:g}, batch {BATCH} "
        f"({steps} steps per epoch). Seconds per epoch: median of {repeats} epoch(s) after "
        f"one warm-up epoch, implementations in turn. Test accuracy on {len(X_test)} images "
        f"after {ACCURACY_EPOCHS} epochs.\n"
    )
    targets = Targets()
    float32_trainers: list = []
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        notes: list[str] = []
        Xd, X_test_d = X.astype(dtype, copy=False), X_test.astype(dtype, copy=False)
        trainers, times, accuracies = train_all(Xd, y, X_test_d, y_test, repeats, notes)
        medians = {key: float(np.median(values)) for key, values in times.items()}
        say(f"### Training, {name}\n")
        say(training_table(trainers, times, medians, accuracies))
        scratch = next(t for t in trainers if isinstance(t, Scratchnn))
        seconds = scratch.validation_seconds()
        if seconds is not None:
            notes.append(
                "scratchnn's input validation, once per fit call (included above): "
                f"{1000 * seconds:.1f} ms"
            )

        bound_times = times[GemmBound.name]
        drift = max(bound_times) / min(bound_times) - 1
        if drift > 0.10:
            notes.append(
                f"WARNING: the GEMM bound's epochs differ by {100 * drift:.0f}%: the machine's "
                "speed changed during this run; the paired ratios absorb part of it, but rerun"
            )
        say("\n" + "\n".join(f"- {note}" for note in notes) + "\n")
        for peer, label, limit in (
            ("PyTorch eager", "PyTorch eager", 0.8),
            (Sklearn.name, Sklearn.name, 0.6),
            (GemmBound.name, "GEMM bound", 2.0),
        ):
            ratio = paired_ratio(times, Scratchnn.name, peer)
            targets.at_most(f"MNIST epoch {name}: scratchnn / {label}", ratio, limit)
        if dtype is np.float64:
            same = [HandLoop.name, Scratchnn.name, "PyTorch eager"]
            values = [accuracies[n] for n in same if accuracies.get(n) is not None]
            spread = 100 * (max(values) - min(values))
            targets.require(
                "check: same float64 test accuracy for hand loop, scratchnn, PyTorch",
                spread <= 0.1,
                f"same start and batches; spread {spread:.2f} points, allowed 0.1",
            )
        else:
            float32_trainers = trainers

    results = inference(float32_trainers, X_test, inference_repeats)
    base = results["scratchnn model.predict"]
    say(f"### Inference, {len(X_test)} test images, float32\n")
    rows = [[label, f"{1000 * t:.2f}", fmt(t / base)] for label, t in results.items()]
    headers = ["implementation", f"ms (median of {inference_repeats})", "x scratchnn"]
    say(markdown_table(headers, rows))
    say("\n- scratchnn and PyTorch return logits; predict_proba adds a softmax")
    torch_time = results.get("PyTorch, torch.no_grad()")
    targets.at_most(
        f"inference {len(X_test)} float32: scratchnn / PyTorch no_grad",
        base / torch_time if torch_time else None,
        1.0,
    )
    say(load.report() + "\n")
    say("### Targets\n")
    say(targets.markdown())


if __name__ == "__main__":
    main()
