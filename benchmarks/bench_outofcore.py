"""Out-of-core training: one epoch over a memory-mapped float32 data set larger than the memory
we allow ourselves, against the same training with the data in memory.

1. Writes ``X.npy`` (float32, ``--gb`` GiB) and ``y.npy`` (10 classes from a random linear
   teacher) into ``--dir``, block by block (never the whole array in memory), unless present.
2. Reads the file once so it is in the page cache (the bar is stated for a cached file).
3. In a fresh process: one epoch of ``model.fit(ArraySource(...))`` over the whole file
   (shuffled blocks + shuffle buffer), reporting its time and the process's peak resident
   memory (``VmHWM``, which counts the mapped file's pages it holds).
4. On the first ``--compare-gb`` GiB, in fresh processes: one epoch streamed from the file, and
   one epoch of ordinary in-memory ``model.fit(X, y)`` on the same rows (loaded into RAM
   first, not timed): the time ratio is the cost of streaming.

Usage: ``python benchmarks/bench_outofcore.py [--gb 8] [--dir DIR] [--keep]``. The files are
deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

FEATURES, CLASSES, HIDDEN, BATCH = 256, 10, 16, 2048
GIB = 1 << 30


def _extra(parser) -> None:
    parser.add_argument("--gb", type=float, default=8.0, help="size of X.npy in GiB (default 8)")
    parser.add_argument(
        "--compare-gb", type=float, default=1.0, help="rows compared with in-memory (GiB)"
    )
    parser.add_argument("--dir", default="/tmp/scratchnn_outofcore", help="where the files go")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one measured epoch


def generate(folder: Path, rows: int) -> None:
    """X.npy and y.npy written block by block; labels from a fixed random linear teacher."""
    folder.mkdir(parents=True, exist_ok=True)
    X_path, y_path = folder / "X.npy", folder / "y.npy"
    if X_path.exists() and y_path.exists() and np.load(y_path, mmap_mode="r").shape == (rows,):
        return
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(FEATURES, CLASSES)).astype(np.float32)
    X = np.lib.format.open_memmap(X_path, "w+", np.float32, (rows, FEATURES))
    y = np.lib.format.open_memmap(y_path, "w+", np.int64, (rows,))
    step = 1 << 16
    for start in range(0, rows, step):
        block = rng.standard_normal((min(step, rows - start), FEATURES), dtype=np.float32)
        X[start : start + len(block)] = block
        y[start : start + len(block)] = (block @ teacher).argmax(axis=1)
        if start % (step * 8) == 0:
            X.flush()
            del X  # unmap every 128 MiB: the written pages leave this process
            X = np.lib.format.open_memmap(X_path, "r+")
    X.flush()
    y.flush()


def warm_page_cache(path: Path) -> float:
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(16 << 20)
        while handle.readinto(buffer):
            pass
    return time.perf_counter() - start


def child(mode: str, folder: str, rows: int) -> dict:
    """One epoch in this (fresh) process; prints JSON with seconds and peak RSS."""
    import scratchnn as snn
    from scratchnn.streaming import ArraySource

    model = snn.MLP([FEATURES, HIDDEN, CLASSES], seed=0)
    options = dict(loss="cross_entropy", optimizer="adam", epochs=1, batch_size=BATCH, verbose=0)
    X = np.load(Path(folder) / "X.npy", mmap_mode="r")[:rows]
    y = np.load(Path(folder) / "y.npy", mmap_mode="r")[:rows]
    if mode == "memory":
        X, y = np.array(X), np.array(y)  # loaded into RAM (not timed)
        start = time.perf_counter()
        history = model.fit(X, y, **options)
    else:
        start = time.perf_counter()
        history = model.fit(ArraySource(X, y), **options)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mib": peak_resident_kib() / 1024, "loss": history["loss"][-1]}


def peak_resident_kib() -> int:
    """This process's peak resident memory (mapped file pages included). VmHWM belongs to the
    address space, so it starts afresh at exec; ``ru_maxrss`` would carry the parent's peak
    over fork and exec on Linux."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_child(mode: str, folder: Path, rows: int) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--dir", str(folder), "--gb", "0"]
    env = dict(os.environ, SCRATCHNN_BENCH_ROWS=str(rows))
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0], _extra)
    folder = Path(args.dir)
    if args.child:
        print(json.dumps(child(args.child, str(folder), int(os.environ["SCRATCHNN_BENCH_ROWS"]))))
        return
    gb = 0.02 if args.quick else args.gb
    compare_gb = min(gb, 0.01 if args.quick else args.compare_gb)
    row_bytes = FEATURES * 4
    rows, compare_rows = int(gb * GIB) // row_bytes, int(compare_gb * GIB) // row_bytes
    free = shutil.disk_usage(folder.parent if folder.parent.exists() else "/").free
    if free < rows * (row_bytes + 8) * 1.1:
        raise SystemExit(f"Not enough disk for {gb} GiB under {folder}: {free / GIB:.1f} GiB free.")
    print(common.machine_markdown(with_torch=False, with_sklearn=False))
    start = time.perf_counter()
    generate(folder, rows)
    print(f"\nData: {rows:,} rows x {FEATURES} float32 features = "
          f"{rows * row_bytes / GIB:.2f} GiB on disk (X.npy), written in "
          f"{time.perf_counter() - start:.0f} s; model MLP [{FEATURES}, {HIDDEN}, {CLASSES}], "
          f"Adam, batch {BATCH}, float32.")  # fmt: skip
    cache = warm_page_cache(folder / "X.npy")
    print(f"Page cache warmed: read {rows * row_bytes / GIB:.2f} GiB in {cache:.1f} s.\n")
    full = run_child("stream", folder, rows)
    streamed = run_child("stream", folder, compare_rows)
    memory = run_child("memory", folder, compare_rows)
    table = [
        ["streamed, whole file", f"{rows * row_bytes / GIB:.2f}", f"{rows:,}",
         f"{full['seconds']:.1f}", f"{rows / full['seconds']:,.0f}", f"{full['peak_mib']:,.0f}"],
        ["streamed, first part", f"{compare_rows * row_bytes / GIB:.2f}", f"{compare_rows:,}",
         f"{streamed['seconds']:.1f}", f"{compare_rows / streamed['seconds']:,.0f}",
         f"{streamed['peak_mib']:,.0f}"],
        ["in memory, first part", f"{compare_rows * row_bytes / GIB:.2f}", f"{compare_rows:,}",
         f"{memory['seconds']:.1f}", f"{compare_rows / memory['seconds']:,.0f}",
         f"{memory['peak_mib']:,.0f}"],
    ]  # fmt: skip
    headers = ["one epoch", "GiB", "rows", "seconds", "rows/s", "peak RSS (MiB)"]
    print(common.markdown_table(headers, table))
    ratio = streamed["seconds"] / memory["seconds"]
    print(f"\nStreaming / in-memory time per epoch on the same rows: {ratio:.2f}x (bar: <= 1.5x)")
    print(f"Peak resident memory streaming {rows * row_bytes / GIB:.2f} GiB: "
          f"{full['peak_mib']:,.0f} MiB (bar: < 1024 MiB)")  # fmt: skip
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
