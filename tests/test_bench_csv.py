"""Smoke test of benchmarks/bench_csv.py: with --quick (one 2 MiB table) it exits 0, prints
its table with both readers, and both read the same numbers. Timings and the memory target
are not checked here (a small file's peak is mostly the interpreter's working set; ``make
bench`` and docs/tables.md report the 100 MiB and 1 GiB runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pandas", reason="the benchmark compares with pandas.read_csv (dev extra)")

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_csv.py"


@pytest.mark.slow
def test_quick_run_prints_both_readers_and_the_same_numbers(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "| file, reader " in out and " peak / columns " in out
    assert "| 2 MiB, scratchnn " in out and "| 2 MiB, pandas " in out
    assert "- PASS: check: 2 MiB CSV: the same numbers in both readers" in out, out
    assert "2 MiB CSV: scratchnn peak / the columns it returns = " in out
    assert list(tmp_path.iterdir()) == []  # the table it wrote is removed
