"""Smoke test of benchmarks/bench_sequence.py: with --quick (tiny GPT and LSTM, one step) it
exits 0, prints its table, and both libraries start from the same loss (the PyTorch twins are
the same networks). Timings are not checked (``make bench`` reports them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the benchmark compares with PyTorch (the dev extra)")

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_sequence.py"


@pytest.mark.slow
def test_quick_run_prints_the_table_and_the_same_first_loss():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "| workload " in out and "tokens/s" in out and "peak above held (MB)" in out
    for workload in ("GPT", "LSTM"):
        assert f"- PASS: {workload}: the same network in both libraries" in out, out
        assert f"| {workload} " in out
