"""How scratchnn's training epoch scales with the layer width and the batch size, next to the
pure matrix-product bound of the same shapes.

On a 10,000-sample MNIST subset (float32, Adam lr 1e-3, one ``fit(epochs=1)`` call per epoch):

- **width**: a 784-w-w-10 ReLU MLP for w = 64 ... 2048, batch 128. Narrow layers show the
  fixed per-step cost (Python, small elementwise operations). For wide layers the products and
  Adam's passes over the parameters both grow with the number of parameters, so the ratio
  levels off at about 1 + (Adam's cost) / (the products' cost), which the batch size sets,
  instead of approaching 1.
- **batch size**: the 784-256-128-10 MLP for batches of 16 ... 1024. Small batches mean many
  steps of small products, so the per-step cost (Python, the optimizer's passes over all the
  parameters at every step) shows as a higher ratio; large batches approach the bound.

The bound is ``GemmBound`` from ``bench_mnist.py``: only the 8 matrix products of each step, into
preallocated arrays, for as many steps as the epoch has; its GFLOP/s shows what the BLAS kernel
achieves at that shape. Each point: one warm-up epoch, then the median of ``--repeats`` epochs,
scratchnn and the bound in turn. The table is printed; the plot goes to ``--plot`` (a PNG, by
default ``benchmarks/results/scaling.png``) when matplotlib is installed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from bench_mnist import GemmBound, Scratchnn, batch_sizes
from common import (
    RESULTS_DIR,
    MachineLoad,
    blas_env_setting,
    markdown_table,
    numpy_kernel_line,
    parse_args,
    say,
    timed,
)

import scratchnn as snn

WIDTHS = (64, 128, 256, 512, 1024, 2048)
BATCHES = (16, 32, 64, 128, 256, 512, 1024)


def epoch_flops(sizes: list[int], n: int, batch: int) -> float:
    """Floating-point operations of the 8-per-step products of one epoch (2 per multiply-add)."""
    products = sum(a * b for a, b in itertools.pairwise(sizes))
    per_row = 3 * products - sizes[0] * sizes[1]  # forward, dW, dX (not for the first layer)
    return 2.0 * per_row * sum(batch_sizes(n, batch))


def time_point(X, y, sizes: list[int], batch: int, repeats: int) -> tuple[float, float]:
    """Median seconds per epoch of scratchnn and of the bound, for one shape."""
    model = Scratchnn(X, y, batch=batch, sizes=sizes)
    bound = GemmBound(sizes, len(X), batch, X.dtype)
    model.epoch()
    bound.epoch()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        times[0].append(timed(model.epoch))
        times[1].append(timed(bound.epoch))
    return float(np.median(times[0])), float(np.median(times[1]))


def rows_for(points: dict[int, tuple[float, float, float]]) -> list[list[str]]:
    return [
        [str(key), f"{s:.3f}", f"{b:.3f}", f"{s / b:.2f}", f"{flops / b / 1e9:.0f}"]
        for key, (s, b, flops) in points.items()
    ]


def plot(path: Path, widths, batches, title: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "matplotlib is not installed: no plot (pip install matplotlib)"
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, points, label in (
        (axes[0], widths, "hidden width w (784-w-w-10, batch 128)"),
        (axes[1], batches, "batch size (784-256-128-10)"),
    ):
        keys = list(points)
        ax.loglog(keys, [points[k][0] for k in keys], "o-", label="scratchnn")
        ax.loglog(keys, [points[k][1] for k in keys], "s--", label="GEMM bound")
        ax.set_xscale("log", base=2)
        ax.set_xticks(keys, [str(k) for k in keys])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel(label)
        ax.set_ylabel("seconds per epoch")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"plot written to {path}"


def main() -> None:
    def extra(parser):
        parser.add_argument("--repeats", type=int, default=3, help="timed epochs per point (3)")
        parser.add_argument(
            "--plot", type=Path, default=RESULTS_DIR / "scaling.png", help="PNG file to write"
        )

    args = parse_args(__doc__.splitlines()[0], extra)
    load = MachineLoad()
    (X, y), _ = snn.datasets.load_mnist()
    n, widths, batches, repeats = 10_000, WIDTHS, BATCHES, args.repeats
    if args.quick:
        n, widths, batches, repeats = 512, (64, 128), (64, 128), 1
    X, y = np.ascontiguousarray(X[:n]), np.ascontiguousarray(y[:n])

    by_width = {}
    for w in widths:
        sizes = [784, w, w, 10]
        by_width[w] = (*time_point(X, y, sizes, 128, repeats), epoch_flops(sizes, n, 128))
    by_batch = {}
    for b in batches:
        sizes = [784, 256, 128, 10]
        by_batch[b] = (*time_point(X, y, sizes, b, repeats), epoch_flops(sizes, n, b))

    say("## Scaling with width and batch size (bench_scaling.py)\n")
    say(numpy_kernel_line() + "  ")
    say(
        f"{n} MNIST samples, float32, Adam; seconds per epoch, median of {repeats} after a "
        "warm-up epoch; GFLOP/s of the bound's products.\n"
    )
    headers = ["s/epoch scratchnn", "s/epoch GEMM bound", "x bound", "bound GFLOP/s"]
    say("### Width (784-w-w-10, batch 128)\n")
    say(markdown_table(["width w", *headers], rows_for(by_width)))
    say("\n### Batch size (784-256-128-10)\n")
    say(markdown_table(["batch", *headers], rows_for(by_batch)))
    title = f"scratchnn epoch on {n} MNIST samples (OpenBLAS environment: {blas_env_setting()})"
    say(f"\n- {plot(args.plot, by_width, by_batch, title)}")
    say(load.report())


if __name__ == "__main__":
    main()
