"""Smoke tests of the benchmark scripts: each runs with ``--quick`` (tiny sizes, one repeat) in
a subprocess, in the environment the tests were given, and must exit 0 and print its table.

The timings are not checked here (``make bench`` reports them); a missed target prints a FAIL
line but is not an error. The scripts start together, so the whole file takes about as long as
the slowest of them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
pytestmark = pytest.mark.slow

# script -> a line its output must contain (the header of its main table)
TABLES = {
    "bench_import.py": "| python -c ",
    "bench_xor.py": "| implementation ",
    "bench_memory.py": "| implementation ",
    "bench_mnist.py": "| implementation ",
    "bench_optimizer.py": "| dtype ",
    "bench_scaling.py": "| width w ",
}


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Start every script with --quick at once, then collect ``(exit code, stdout, stderr)``."""
    tmp = tmp_path_factory.mktemp("bench")
    processes = {}
    for script in TABLES:
        command = [sys.executable, str(BENCH / script), "--quick"]
        if script == "bench_scaling.py":
            command += ["--plot", str(tmp / "scaling.png")]
        processes[script] = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=BENCH.parent
        )
    results = {}
    for script, process in processes.items():
        out, err = process.communicate(timeout=300)
        results[script] = (process.returncode, out, err)
    results["plot"] = (0, str(tmp / "scaling.png"), "")
    return results


@pytest.mark.parametrize("script", list(TABLES))
def test_script_runs_quick_and_prints_its_table(quick_runs, script: str) -> None:
    code, out, err = quick_runs[script]
    assert code == 0, f"{script} failed:\n{err[-3000:]}"
    assert TABLES[script] in out, out
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    "script", ["bench_import.py", "bench_xor.py", "bench_memory.py", "bench_mnist.py"]
)
def test_targets_are_printed_as_pass_or_fail_lines(quick_runs, script: str) -> None:
    code, out, _ = quick_runs[script]
    assert code == 0
    assert "### Targets" in out
    checks = [line for line in out.splitlines() if line.startswith(("- PASS: ", "- FAIL: "))]
    assert checks, out


def test_mnist_reports_every_implementation(quick_runs) -> None:
    _, out, _ = quick_runs["bench_mnist.py"]
    for name in ("GEMM bound", "hand-written NumPy", "scratchnn", "PyTorch eager", "scikit-learn"):
        assert f"| {name}" in out
    assert "### Training, float32" in out and "### Training, float64" in out
    assert "### Inference" in out


def test_scaling_writes_its_plot(quick_runs) -> None:
    pytest.importorskip("matplotlib")
    assert Path(quick_runs["plot"][1]).stat().st_size > 0


def test_runner_collects_a_report(tmp_path: Path) -> None:
    output = tmp_path / "latest.md"
    command = [
        sys.executable,
        str(BENCH / "run.py"),
        "--quick",
        "--settings",
        "default",
        "--scripts",
        "bench_xor.py",
        "--max-wait",
        "0",
        "--retries",
        "0",
        "--output",
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = output.read_text(encoding="utf-8")
    assert "## Machine" in report and "## Targets" in report
    assert "# Results: default environment" in report
    assert "| XOR step: scratchnn / tutorial loop | **" in report


def test_runner_unsets_the_openblas_variables_only_in_its_subprocesses(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    before = dict(os.environ)
    unset = run.environment("unset")
    assert not any(name in unset for name in run.BLAS_ENV_VARS)
    assert run.environment("default") == before
    assert dict(os.environ) == before  # this process keeps its variables
