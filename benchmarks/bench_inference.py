"""Inference: scratchnn ``predict``, ``evaluate`` and the command line's ``predict`` against a
hand-written NumPy forward pass and PyTorch under ``torch.no_grad()``, in alternating rounds.

The network is the MNIST one of ``bench_mnist.py`` (784-256-128-10, ReLU, linear output), with
scratchnn's initial weights for ``seed=0`` copied into every implementation (the speed of dense
products does not depend on the weights' values). The rows are MNIST images (the 60,000
training and 10,000 test images, repeated to reach 100,000 rows), in float32 and in float64
with a model of the same dtype.

Implementations, timed on the same rows:

- **scratchnn predict**: ``model.predict(X)`` (logits).
- **hand-written forward**: what a competent NumPy user writes for the same network, in the
  same batches of rows as ``predict`` (``training.PREDICT_BATCH``): per batch ``h = x @ W``,
  ``h += b``, ``np.maximum(h, 0, out=h)`` for each layer, written into one output array. The
  same products, bias adds and activations: the bar for ``predict`` (<= 1.1x).
- **PyTorch, no_grad**: ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU`` with the same weights,
  called on the whole array under ``torch.no_grad()`` as a PyTorch user would, with NumPy's
  BLAS thread count (``torch.set_num_threads``). The second bar (<= 1.0x).
- **scratchnn evaluate**: ``model.evaluate(X, y)`` with the cross-entropy loss, against the
  hand-written forward followed by a hand-written log-sum-exp cross-entropy (the same work).
- **float64 rows into the float32 model** (float32 tables only): ``predict`` converts its input
  a batch at a time rather than copying it whole; the hand-written forward does the same
  (``np.ascontiguousarray(rows, np.float32)`` per batch).

Method (as ``bench_mnist.py`` does for training epochs): after one untimed warm-up call of
each, the implementations take turns in rounds, in alternating order (forward in even rounds,
reversed in odd ones). Each turn starts with a pause (``common.settle``) so that no library's
thread pool is still spinning from the previous turn, then times ``--calls`` calls back to back
and keeps their median. Every ratio is the median over rounds of the ratio of two turns of the
same round, timed a second or so apart, so that a slow spell of the host (a virtual machine's
neighbours) cancels instead of tilting one implementation's median. The spread of the
hand-written forward's turns shows how steady the host was (above 10% a warning: rerun).

The command line's ``predict``: a model saved with its feature names and classes, an ``.npz``
of rows (a 2-D ``X``), and ``scratchnn predict MODEL ROWS --out CSV`` run in this process
through ``scratchnn.cli.main.main`` (its one line on stderr discarded). It is compared with a
hand-written script doing the same work: ``np.load`` of the rows, the hand-written forward,
softmax, argmax, and the same CSV (label and ten probabilities per row) through ``csv.writer``;
and, as information, with the bare hand-written forward. One more pass times the command's
phases separately (load the model, read the rows, predict, decode, write the CSV) to show where
its time goes.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    MachineLoad,
    Targets,
    blas_threads,
    fmt,
    markdown_table,
    numpy_kernel_line,
    parse_args,
    say,
    settle,
    torch_description,
)

import scratchnn as snn

SIZES = [784, 256, 128, 10]
PREDICT = "scratchnn predict"
HAND = "hand-written forward"
TORCH = "PyTorch, no_grad"
PREDICT_MIXED = "scratchnn predict, float64 rows"
HAND_MIXED = "hand-written forward, float64 rows"
EVALUATE = "scratchnn evaluate"
HAND_LOSS = "hand-written forward + loss"
CLI = "scratchnn predict (command line)"
HAND_SCRIPT = "hand-written script (same file in, same CSV out)"
DRIFT_LIMIT = 0.10
LARGE = 20_000  # rows above which a table gets half the rounds (each turn takes seconds)


def predict_batch() -> int:
    """The rows ``predict`` runs through the network at a time (4096 when written)."""
    from scratchnn import training

    return int(getattr(training, "PREDICT_BATCH", 4096))


@functools.cache
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    (X, y), (X_test, y_test) = snn.datasets.load_mnist()
    return np.concatenate([X, X_test]), np.concatenate([y, y_test])


def mnist_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST images (float32 in [0, 1]) and their labels: the training images, then the
    test images, repeated as needed."""
    X, y = _mnist()
    reps = -(-n // len(X))
    return np.tile(X, (reps, 1))[:n], np.tile(y, reps)[:n]


class HandForward:
    """The hand-written forward pass, ``len(weights) // 2`` Dense layers with ReLU between."""

    def __init__(self, weights: list[np.ndarray], batch: int) -> None:
        self.layers = list(zip(weights[::2], weights[1::2], strict=True))
        self.batch = batch
        self.out_features = self.layers[-1][0].shape[1]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        dtype = self.layers[0][0].dtype
        out = np.empty((len(X), self.out_features), dtype=dtype)
        last = len(self.layers) - 1
        for start in range(0, len(X), self.batch):
            h = np.ascontiguousarray(X[start : start + self.batch], dtype=dtype)
            for i, (W, b) in enumerate(self.layers):
                h = h @ W
                h += b
                if i < last:
                    np.maximum(h, 0, out=h)
            out[start : start + self.batch] = h
        return out

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean softmax cross-entropy of the forward pass's logits (log-sum-exp)."""
        logits = self(X)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_total = np.log(np.exp(shifted).sum(axis=1))
        return float(np.mean(log_total - shifted[np.arange(len(y)), y]))


def torch_forward(weights: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray] | None:
    """PyTorch's forward under ``no_grad`` with the same weights, or None without PyTorch."""
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    torch.set_num_threads(blas_threads())
    dtype = torch.float32 if weights[0].dtype == np.float32 else torch.float64
    stack: list[Any] = []
    pairs = list(zip(weights[::2], weights[1::2], strict=True))
    for i, (W, b) in enumerate(pairs):
        linear = nn.Linear(*W.shape).to(dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        stack.append(linear)
        if i < len(pairs) - 1:
            stack.append(nn.ReLU())
    model = nn.Sequential(*stack).eval()

    def forward(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(X)).numpy()

    return forward


def paired_ratio(times: dict[str, list[float]], name: str, reference: str) -> float | None:
    """The median over rounds of ``name``'s time over ``reference``'s in the same round."""
    if not times.get(name) or not times.get(reference):
        return None
    return float(np.median(np.divide(times[name], times[reference])))


def spread(values: list[float]) -> float:
    """``max / min - 1`` of a list of durations (0 for a single one)."""
    return max(values) / min(values) - 1 if values else 0.0


def alternating_rounds(
    implementations: dict[str, Callable[[], Any]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Seconds per call of each implementation, one value per round.

    One untimed warm-up call of each first. Then ``rounds`` rounds; in each, every
    implementation takes a turn (in the given order in even rounds, reversed in odd ones): a
    pause that lets idle thread pools sleep, then ``calls`` timed calls, of which the median is
    kept."""
    for fn in implementations.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in implementations}
    names = list(implementations)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            fn = implementations[name]
            settle()
            durations = []
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                durations.append(time.perf_counter() - start)
            times[name].append(statistics.median(durations))
    return times


def times_table(times: dict[str, list[float]], references: dict[str, str]) -> str:
    """One row per implementation: median ms, range, and paired ratios to the references."""
    headers = ["implementation", "ms (median of rounds)", "range ms"]
    headers += [f"x {label}" for label in references.values()]
    rows = []
    for name, values in times.items():
        row = [
            name,
            f"{1000 * statistics.median(values):.2f}",
            f"{1000 * min(values):.2f} to {1000 * max(values):.2f}",
        ]
        row += [fmt(paired_ratio(times, name, ref)) for ref in references]
        rows.append(row)
    return markdown_table(headers, rows)


def in_memory(
    n: int, dtype: Any, rounds: int, calls: int, targets: Targets, notes: list[str]
) -> None:
    """Time predict, evaluate, the hand-written forward and PyTorch on ``n`` rows of ``dtype``."""
    X, y = mnist_rows(n)
    X = X.astype(dtype, copy=False)
    model = snn.MLP(SIZES, seed=0, dtype=dtype)
    model.loss = snn.losses.get("cross_entropy")
    weights = [
        layer.params[name] for layer in model.layers if isinstance(layer, snn.Dense)
        for name in ("W", "b")
    ]  # fmt: skip
    hand = HandForward([w.copy() for w in weights], predict_batch())
    torch_fn = torch_forward(weights)

    implementations: dict[str, Callable[[], Any]] = {
        PREDICT: lambda: model.predict(X),
        HAND: lambda: hand(X),
    }
    if torch_fn is not None:
        implementations[TORCH] = lambda: torch_fn(X)
    else:
        notes.append("PyTorch is not installed: its row is missing (pip install -e '.[bench]')")
    implementations[EVALUATE] = lambda: model.evaluate(X, y)
    implementations[HAND_LOSS] = lambda: hand.loss(X, y)
    if dtype == np.float32:
        X64 = X.astype(np.float64)
        implementations[PREDICT_MIXED] = lambda: model.predict(X64)
        implementations[HAND_MIXED] = lambda: hand(X64)

    # The same math first: a fast implementation with a wrong answer would show here.
    expected = hand(X)
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    outputs = {PREDICT: model.predict(X)}
    if torch_fn is not None:
        outputs[TORCH] = torch_fn(X)
    if PREDICT_MIXED in implementations:
        outputs[PREDICT_MIXED] = implementations[PREDICT_MIXED]()
    worst = max(float(np.max(np.abs(out - expected))) for out in outputs.values())
    scale = float(np.max(np.abs(expected)))
    loss_gap = abs(model.evaluate(X, y)["loss"] - hand.loss(X, y))
    name = np.dtype(dtype).name
    targets.require(
        f"check: {n:,} rows {name}: predict, PyTorch and the hand-written forward agree",
        worst <= tolerance * max(scale, 1.0) and loss_gap <= tolerance * 10,
        f"max |difference| {worst:.2g} (largest logit {scale:.3g}), evaluate's loss differs "
        f"by {loss_gap:.2g}",
    )

    times = alternating_rounds(implementations, rounds, calls)
    references = {HAND: "hand-written forward"}
    if torch_fn is not None:
        references[TORCH] = "PyTorch"
    say(f"### Inference, {n:,} rows, {name}\n")
    say(times_table(times, references))
    say(
        f"\n- {rounds} rounds of {calls} call(s) per implementation; ratios are medians of "
        "per-round ratios. evaluate's own bar is the hand-written forward + loss: "
        f"x {fmt(paired_ratio(times, EVALUATE, HAND_LOSS))}"
        + (
            "; predict's with float64 rows is the hand-written forward with float64 rows: "
            f"x {fmt(paired_ratio(times, PREDICT_MIXED, HAND_MIXED))}"
            if PREDICT_MIXED in times
            else ""
        )
    )
    drift = spread(times[HAND])
    if drift > DRIFT_LIMIT:
        say(
            f"- WARNING: the hand-written forward's rounds differ by {100 * drift:.0f}%: the "
            "host's speed changed during this run; the paired ratios absorb part of it, but "
            "rerun"
        )
    say("")
    label = f"inference {n:,} {name}"
    targets.at_most(
        f"{label}: predict / hand-written forward", paired_ratio(times, PREDICT, HAND), 1.1
    )
    if torch_fn is not None:
        targets.at_most(
            f"{label}: predict / PyTorch no_grad", paired_ratio(times, PREDICT, TORCH), 1.0
        )
    targets.at_most(
        f"{label}: evaluate / hand-written forward + loss",
        paired_ratio(times, EVALUATE, HAND_LOSS),
        1.1,
    )
    if PREDICT_MIXED in times:
        targets.at_most(
            f"{label}: predict / hand-written forward, both fed float64 rows",
            paired_ratio(times, PREDICT_MIXED, HAND_MIXED),
            1.1,
        )


def write_predictions(path: Path, logits: np.ndarray) -> None:
    """The hand-written script's output: the command line's CSV (label, p_0 ... p_9)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = probabilities.argmax(axis=1)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prediction", *(f"p_{c}" for c in range(logits.shape[1]))])
        writer.writerows(
            [int(label), *(f"{p:.6g}" for p in row)]
            for label, row in zip(labels, probabilities, strict=True)
        )


def command_line(
    n: int, dtype: Any, rounds: int, targets: Targets, notes: list[str], folder: Path
) -> None:
    """Time ``scratchnn predict MODEL ROWS --out CSV`` on ``n`` rows against the same work done
    by a hand-written script, and break the command's time down by phase."""
    from scratchnn.cli.main import main as cli_main

    name = np.dtype(dtype).name
    X, _ = mnist_rows(n)
    X = X.astype(dtype, copy=False)
    model = snn.MLP(SIZES, seed=0, dtype=dtype)
    model.loss = snn.losses.get("cross_entropy")
    model.metadata = {
        "feature_names": [f"pixel{i}" for i in range(SIZES[0])],
        "classes": list(range(SIZES[-1])),
    }
    model_path, rows_path = folder / f"model-{name}.npz", folder / f"rows-{name}.npz"
    cli_csv, hand_csv = folder / f"cli-{name}.csv", folder / f"hand-{name}.csv"
    model.save(model_path)
    np.savez(rows_path, X=X)
    weights = [
        layer.params[key] for layer in model.layers if isinstance(layer, snn.Dense)
        for key in ("W", "b")
    ]  # fmt: skip
    hand = HandForward([w.copy() for w in weights], predict_batch())

    def run_cli() -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            code = cli_main(["predict", str(model_path), str(rows_path), "--out", str(cli_csv)])
        if code != 0:
            raise RuntimeError(f"scratchnn predict exited with {code}")

    def run_script() -> None:
        with np.load(rows_path) as archive:
            rows = archive["X"]
        write_predictions(hand_csv, hand(rows))

    implementations = {CLI: run_cli, HAND_SCRIPT: run_script, HAND: lambda: hand(X)}
    times = alternating_rounds(implementations, rounds, 1)
    with open(cli_csv, encoding="utf-8") as a, open(hand_csv, encoding="utf-8") as b:
        cli_labels = [row[0] for row in csv.reader(a)][1:]
        hand_labels = [row[0] for row in csv.reader(b)][1:]
    same = sum(x == y for x, y in zip(cli_labels, hand_labels, strict=True))
    targets.require(
        f"check: command line {n:,} rows {name}: the same predicted labels as the hand-written "
        "script",
        len(cli_labels) == n and same >= n - max(1, n // 1000),  # ties may round differently
        f"{same:,} of {n:,} labels equal",
    )
    say(f"### Command line predict, {n:,} rows from an .npz, {name} model\n")
    say(times_table(times, {HAND_SCRIPT: "hand-written script", HAND: "bare forward"}))
    phases = command_phases(model_path, rows_path, cli_csv)
    if phases:
        total = sum(phases.values())
        rows = [
            [phase, f"{1000 * s:.2f}", f"{100 * s / total:.0f}%"] for phase, s in phases.items()
        ]
        say("\nWhere the command's time goes (each phase timed once, after the rounds):\n")
        say(markdown_table(["phase", "ms", "share"], rows))
    else:
        notes.append("the command's phases could not be timed separately (its internals changed)")
    say(
        f"\n- {rounds} round(s) of one call each; the command writes its CSV through "
        "an atomic temporary file\n"
    )
    targets.at_most(
        f"command line predict {n:,} {name}: scratchnn / hand-written script",
        paired_ratio(times, CLI, HAND_SCRIPT),
        1.1,
    )


def command_phases(model_path: Path, rows_path: Path, out: Path) -> dict[str, float]:
    """Seconds of each phase of ``scratchnn predict`` (what ``cli.commands.predict`` does, step
    by step); empty if its internals have changed."""
    try:
        from scratchnn.cli import commands, tabular
        from scratchnn.cli import data as data_module
        from scratchnn.cli.tasks import task_of
    except ImportError:
        return {}
    phases: dict[str, float] = {}
    try:
        start = time.perf_counter()
        model = snn.load(model_path)
        tabular.detach(model)
        phases["load the model"] = time.perf_counter() - start
        start = time.perf_counter()
        data = data_module.load_for_model(str(rows_path), model.metadata, need_target=False)
        phases["read the rows (.npz)"] = time.perf_counter() - start
        start = time.perf_counter()
        outputs = model.predict(data.X_test)
        phases["model.predict"] = time.perf_counter() - start
        start = time.perf_counter()
        task = task_of(model, model.metadata.get("classes"))
        decoded, probabilities = task.decode(outputs), task.probabilities(outputs)
        phases["decode (argmax, softmax)"] = time.perf_counter() - start
        start = time.perf_counter()
        with open(out, "w", newline="", encoding="utf-8") as handle:
            commands.write_predictions(handle, decoded, probabilities, model.metadata["classes"])
        phases["format and write the CSV"] = time.perf_counter() - start
    except (AttributeError, KeyError, TypeError):
        return {}
    return phases


def main() -> None:
    def options(parser) -> None:
        parser.add_argument(
            "--rounds",
            type=int,
            default=11,
            help=f"rounds per table (11; half as many above {LARGE:,} rows)",
        )
        parser.add_argument("--calls", type=int, default=3, help="timed calls per turn (3)")
        parser.add_argument(
            "--sizes", type=int, nargs="+", default=[10_000, 100_000], help="rows (10000 100000)"
        )
        parser.add_argument(
            "--cli-rows",
            type=int,
            default=10_000,
            help="rows for the command line (10000; it reads an .npz as text, ~1 ms per row)",
        )
        parser.add_argument("--cli-rounds", type=int, default=3, help="command-line rounds (3)")

    args = parse_args(__doc__.splitlines()[0], options)
    load = MachineLoad()
    rounds, calls, sizes = args.rounds, args.calls, args.sizes
    cli_rows, cli_rounds = args.cli_rows, args.cli_rounds
    if args.quick:
        rounds, calls, sizes, cli_rows, cli_rounds = 2, 1, [500], 100, 1

    say("## Inference (bench_inference.py)\n")
    say(numpy_kernel_line() + "  ")
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(blas_threads())
        say(torch_description(torch) + "  ")
    say(
        f"784-256-128-10 ReLU network, scratchnn's initial weights (seed 0) in every "
        f"implementation; MNIST rows; predict's batches of {predict_batch()} rows.\n"
    )
    targets = Targets()
    notes: list[str] = []
    for dtype in (np.float32, np.float64):
        for n in sizes:
            n_rounds = rounds if n <= LARGE else max(2, (rounds + 1) // 2)
            in_memory(n, dtype, n_rounds, calls, targets, notes)
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as folder:
        for dtype in (np.float32, np.float64):
            command_line(cli_rows, dtype, cli_rounds, targets, notes, Path(folder))
    for note in dict.fromkeys(notes):
        say(f"- {note}")
    say(load.report() + "\n")
    say("### Targets\n")
    say(targets.markdown())


if __name__ == "__main__":
    main()
