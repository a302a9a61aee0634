"""Dask: data-parallel training on 1 and 2 workers (throughput, bytes per step, agreement with
single-process training), its projection to N machines, and a search over 8 configurations
on 1 and 2 workers.

The projection uses the measured numbers of the 1-worker run and a stated network bandwidth
BW, for P parameters of s bytes, a global batch of B rows and N workers::

    T_step(N) = T_compute / N  +  T_fixed  +  2 · N · P · s / BW
    throughput(N) = B / T_step(N)

``T_compute`` is one worker's forward+backward time for the whole batch; ``T_fixed`` the rest
of a step at N = 1 (scheduling, the optimizer step, Python); the last term is the driver's
link carrying N gradients up and N averaged gradients down (this implementation averages on
the driver; a ring all-reduce would move ``2 · P · s · (N − 1) / N`` per worker instead).
Throughput peaks at ``N* = sqrt(T_compute · BW / (2 · P · s))``.

Usage: ``python benchmarks/bench_distributed.py [--bandwidth-gbit 10] [--quick]``.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

FEATURES, HIDDEN, CLASSES = 128, 512, 10


def _extra(parser) -> None:
    parser.add_argument(
        "--bandwidth-gbit", type=float, default=10.0, help="network for the projection (Gbit/s)"
    )


def data_parallel(rows: int, batch: int, epochs: int) -> tuple[list[list[str]], dict]:
    import scratchnn as snn
    from scratchnn.distributed import connect

    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    y = (X[:, :CLASSES] + 0.5 * rng.standard_normal((rows, CLASSES))).argmax(axis=1)
    sizes = [FEATURES, HIDDEN, HIDDEN, CLASSES]
    options = dict(loss="cross_entropy", optimizer="adam", epochs=epochs, batch_size=batch)
    reference = snn.MLP(sizes, seed=0)
    start = time.perf_counter()
    reference.fit(X, y, verbose=0, **options)
    single = time.perf_counter() - start
    parameters = reference.parameters().flat.value.size
    rows_out = [["model.fit, one process", "-", f"{rows * epochs / single:,.0f}", "-", "-", "-"]]
    measured = {"parameters": parameters, "batch": batch}
    for workers in (1, 2):
        with connect(workers=workers) as client:
            model = snn.MLP(sizes, seed=0)
            history = snn.distributed.fit(model, X, y, client, **options)
        stats = history.data_parallel
        difference = float(np.abs(model.get_weights() - reference.get_weights()).max())
        rows_out.append([
            f"distributed.fit, {workers} worker{'s' if workers > 1 else ''}",
            f"{stats.seconds / stats.steps * 1e3:.0f}",
            f"{stats.samples_per_second:,.0f}",
            f"{stats.compute_seconds_per_step * 1e3:.0f}",
            f"{stats.bytes_per_step / 1e6:.2f}",
            f"{difference:.1e}",
        ])  # fmt: skip
        measured[workers] = stats
    return rows_out, measured


def projection(measured: dict, bandwidth: float) -> tuple[list[list[str]], float]:
    one = measured[1]
    P, s, B = measured["parameters"], 4, measured["batch"]
    t_compute = one.compute_seconds_per_step
    t_fixed = max(one.seconds / one.steps - t_compute, 0.0)
    rows = []
    for n in (1, 2, 4, 8, 16, 32, 64):
        transfer = 2 * n * P * s / bandwidth
        t_step = t_compute / n + t_fixed + transfer
        rows.append([
            str(n), f"{t_compute / n * 1e3:.1f}", f"{t_fixed * 1e3:.1f}", f"{transfer * 1e3:.1f}",
            f"{t_step * 1e3:.1f}", f"{B / t_step:,.0f}",
        ])  # fmt: skip
    best = math.sqrt(t_compute * bandwidth / (2 * P * s))
    return rows, best


def search(quick: bool) -> list[list[str]]:
    from scratchnn.cli import data as data_module
    from scratchnn.cli.search import Shared, _folds, run_trial
    from scratchnn.distributed import connect, map_trials

    data = data_module.load("digits", None, 0.2, 0)
    configs = [
        {"depth": d, "width": w, "activation": a, "optimizer": "adam", "lr": 0.003,
         "dropout": 0.0, "batch_size": 32}
        for d in (1, 2) for w in (64, 128) for a in ("relu", "tanh")
    ]  # fmt: skip
    shared = Shared(data, _folds(len(data.X_train), None, 0.2, 0), "auto", 10,
                    2 if quick else 30, 0)  # fmt: skip
    rows = []
    for workers in (1, 2):
        start = time.perf_counter()
        with connect(workers=workers) as client:
            started = time.perf_counter()
            results = map_trials(run_trial, configs, shared, client=client)
            ran = time.perf_counter() - started
        total = time.perf_counter() - start
        best = max(float(np.mean(r["scores"])) for r in results)
        rows.append([str(workers), f"{ran:.1f}", f"{total:.1f}", f"{best:.2%}"])
    return rows


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0], _extra)
    print(common.machine_markdown(with_torch=False, with_sklearn=False))
    rows, batch, epochs = (4096, 1024, 1) if args.quick else (32768, 4096, 3)
    print(f"\n## Data-parallel training: {rows:,} rows x {FEATURES} features, MLP "
          f"[{FEATURES}, {HIDDEN}, {HIDDEN}, {CLASSES}] float32, Adam, global batch {batch}, "
          f"{epochs} epochs; LocalCluster of worker processes, 1 thread each\n")  # fmt: skip
    table, measured = data_parallel(rows, batch, epochs)
    headers = ["run", "ms/step", "samples/s", "compute ms/step", "MB moved/step", "max |Δw|"]
    print(common.markdown_table(headers, table))
    print(f"\n{measured['parameters']:,} parameters; |Δw| is against single-process model.fit "
          "with the same batches (float32 summation order).")  # fmt: skip
    bandwidth = args.bandwidth_gbit * 1e9 / 8
    print(f"\n## Projection to N machines at {args.bandwidth_gbit:g} Gbit/s "
          f"(T_step = T_compute/N + T_fixed + 2·N·P·s/BW; measured at N = 1)\n")  # fmt: skip
    table, best = projection(measured, bandwidth)
    headers = ["N", "compute ms", "fixed ms", "transfer ms", "step ms", "samples/s"]
    print(common.markdown_table(headers, table))
    print(f"\nThroughput peaks near N* = sqrt(T_compute·BW / (2·P·s)) = {best:.1f} workers.")
    print("\n## Search over 8 configurations (digits, validation split), trials as Dask tasks\n")
    table = search(args.quick)
    print(common.markdown_table(["workers", "trials s", "with cluster start s", "best val"], table))
    faster = float(table[1][1]) < float(table[0][1])
    print(f"\n2 workers {'faster' if faster else 'NOT faster'} than 1 on the trials.")


if __name__ == "__main__":
    main()
