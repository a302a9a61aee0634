"""Smoke test of benchmarks/bench_cnn.py: with ``--quick`` (2 batches, one round) it exits 0 and
prints its tables; the three implementations, started from the same weights on the same batches,
end with the same test accuracy (a hand loop or twin whose math differed would show it here).
The timings are not checked (docs/cnn.md reports them)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.slow
def test_bench_cnn_quick_runs_and_prints_its_tables():
    pytest.importorskip("torch", reason="the benchmark compares with PyTorch")
    result = subprocess.run(
        [sys.executable, str(BENCH / "bench_cnn.py"), "--quick"],
        capture_output=True,
        text=True,
        cwd=BENCH,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for fragment in [
        "| implementation ",
        "| layer ",
        "products ms",
        "above loaded MiB",
        "### Targets",
        "### float32",
        "### float64",
    ]:
        assert fragment in out, out
    for section in out.split("### float")[1:3]:
        dtype_table = section.split("Each conv layer")[0]
        accuracies = re.findall(
            r"^\| (?:scratchnn|hand-written|PyTorch).*\| +([0-9.]+) \|$",
            dtype_table,
            flags=re.MULTILINE,
        )
        assert len(accuracies) == 3, dtype_table
        assert len(set(accuracies)) == 1, dtype_table
