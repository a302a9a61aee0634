"""Smoke tests of the benchmark scripts: each runs with ``--quick`` (tiny sizes, one repeat) in
a subprocess, in the environment the tests were given, and must exit 0 and print its table.

The timings are not checked here (``make bench`` reports them); a missed target prints a FAIL
line but is not an error. The scripts start together, so the whole file takes about as long as
the slowest of them. The helpers that decide something (the drift rerun of ``bench_mnist``, the
runner's parsing of tables) are tested directly, without timing anything.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _modules import load_file

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"

# script -> a line its output must contain (the header of its main table)
TABLES = {
    "bench_import.py": "| python -c ",
    "bench_xor.py": "| implementation ",
    "bench_memory.py": "| implementation ",
    "bench_mnist.py": "| implementation ",
    "bench_inference.py": "| implementation ",
    "profile_step.py": "| op ",
    "bench_optimizer.py": "| dtype ",
    "bench_scaling.py": "| width w ",
    "bench_outofcore.py": "| one epoch ",
    "bench_distributed.py": "| workers ",
}
if importlib.util.find_spec("playwright") and shutil.which("chromium"):
    TABLES["bench_playground.py"] = "| network "


def load_script(monkeypatch: pytest.MonkeyPatch, name: str):
    """Import ``benchmarks/<name>.py`` as a module (its ``common`` import found on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return load_file(BENCH / f"{name}.py", f"bench_{name}")


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Start every script with --quick at once, then collect ``(exit code, stdout, stderr)``."""
    tmp = tmp_path_factory.mktemp("bench")
    processes = {}
    for script in TABLES:
        command = [sys.executable, str(BENCH / script), "--quick"]
        if script == "bench_scaling.py":
            command += ["--plot", str(tmp / "scaling.png")]
        if script == "bench_outofcore.py":
            command += ["--dir", str(tmp / "outofcore")]
        processes[script] = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=BENCH.parent
        )
    results = {}
    for script, process in processes.items():
        out, err = process.communicate(timeout=300)
        results[script] = (process.returncode, out, err)
    results["plot"] = (0, str(tmp / "scaling.png"), "")
    return results


@pytest.mark.slow
@pytest.mark.parametrize("script", list(TABLES))
def test_script_runs_quick_and_prints_its_table(quick_runs, script: str) -> None:
    code, out, err = quick_runs[script]
    assert code == 0, f"{script} failed:\n{err[-3000:]}"
    assert TABLES[script] in out, out
    assert "Traceback" not in out + err


@pytest.mark.slow
@pytest.mark.parametrize("script", list(TABLES))
def test_every_table_is_headed_by_the_cpu_model_and_blas_kernel(quick_runs, script) -> None:
    lines = quick_runs[script][1].splitlines()
    headers = [
        i for i in range(len(lines) - 1)
        if lines[i].startswith("| ") and re.match(r"^\| -+ \|", lines[i + 1])
    ]  # fmt: skip
    assert headers
    for i in headers:
        caption = lines[i - 2]
        assert caption.startswith("*CPU: ") and "kernel " in caption, (script, lines[i])


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    ["bench_import.py", "bench_xor.py", "bench_memory.py", "bench_mnist.py", "bench_inference.py"],
)
def test_targets_are_printed_as_pass_or_fail_lines(quick_runs, script: str) -> None:
    code, out, _ = quick_runs[script]
    assert code == 0
    assert "### Targets" in out
    checks = [line for line in out.splitlines() if line.startswith(("- PASS: ", "- FAIL: "))]
    assert checks, out


@pytest.mark.slow
def test_mnist_reports_every_implementation(quick_runs) -> None:
    _, out, _ = quick_runs["bench_mnist.py"]
    for name in ("GEMM bound", "hand-written NumPy", "scratchnn", "PyTorch eager", "scikit-learn"):
        assert f"| {name}" in out
    assert "### Training, float32" in out and "### Training, float64" in out
    assert "- PASS: check: MNIST float32: the GEMM bound steady" in out  # one epoch: no drift


@pytest.mark.slow
def test_inference_reports_every_implementation_and_dtype(quick_runs) -> None:
    _, out, _ = quick_runs["bench_inference.py"]
    for dtype in ("float32", "float64"):
        assert f"### Inference, 500 rows, {dtype}" in out
        assert f"### Command line predict, 100 rows from an .npz, {dtype} model" in out
        assert f"- PASS: check: 500 rows {dtype}: predict, PyTorch and the hand-written" in out
        assert f"- PASS: check: command line 100 rows {dtype}: the same predicted labels" in out
    names = ["scratchnn predict", "hand-written forward", "PyTorch, no_grad"]
    names += ["scratchnn evaluate", "scratchnn predict (command line)", "model.predict"]
    names += ["scratchnn predict, float64 rows", "hand-written forward, float64 rows"]
    for name in names:
        assert f"| {name} " in out
    for target in ("predict / hand-written forward", "predict / PyTorch no_grad",
                   "evaluate / hand-written forward + loss"):  # fmt: skip
        assert f"inference 500 float32: {target} = " in out


@pytest.mark.slow
def test_profile_step_accounts_for_the_whole_step(quick_runs) -> None:
    _, out, _ = quick_runs["profile_step.py"]
    for dtype in ("float32", "float64"):
        assert f"### One training step, {dtype}" in out
    for op in ("batch gather", "dense_0 forward: x @ W", "loss forward", "Adam: m *= β1",
               "Adam: Δ·Δ finiteness check", "gradient-norm check"):  # fmt: skip
        assert f"| {op}" in out, op
    assert "| train_step (measured whole) " in out
    assert out.count("- check: Adam's passes as timed compute the same update") == 2


@pytest.mark.slow
def test_scaling_writes_its_plot(quick_runs) -> None:
    pytest.importorskip("matplotlib")
    assert Path(quick_runs["plot"][1]).stat().st_size > 0


@pytest.mark.slow
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
    assert re.search(r"\| check \| default environment \(CPU: .+kernel .+\) \|", report)
    # The same report and its JSON under the CPU's name, for the latest run on each CPU.
    named = list(tmp_path.glob("latest-*.md"))
    assert len(named) == 1 and named[0].read_text(encoding="utf-8") == report
    assert len(list(tmp_path.glob("2*-*.json"))) == 1
    record = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["cpu"] and record["failed_scripts"] == []
    (result,) = record["results"]
    assert result["script"] == "bench_xor.py" and result["exit"] == 0
    assert any(t["check"] == "XOR step: scratchnn / tutorial loop" for t in result["targets"])
    table = result["tables"][0]
    assert table["headers"][0] == "implementation" and table["caption"].startswith("CPU: ")
    assert all(len(row) == len(table["headers"]) for row in table["rows"])


def test_runner_parses_tables_under_their_headings_and_captions(monkeypatch) -> None:
    run = load_script(monkeypatch, "run")
    text = "\n".join(
        [
            "### Inference, 10 rows",
            "",
            "*CPU: Some CPU; NumPy's BLAS: kernel X*",
            "",
            "| implementation | ms |",
            "| -------------- | -: |",
            "| a              |  1 |",
            "| b              |  2 |",
            "",
            "- PASS: inference: a / b = 0.5x (target <= 1.1x)",
            "- FAIL: check: steady — drift 20%",
        ]
    )
    (table,) = run.parse_tables(text)
    assert table == {
        "title": "Inference, 10 rows",
        "caption": "CPU: Some CPU; NumPy's BLAS: kernel X",
        "headers": ["implementation", "ms"],
        "rows": [["a", "1"], ["b", "2"]],
    }
    assert run.target_checks(text) == [
        {"check": "inference: a / b", "status": "PASS", "value": "0.5x (target <= 1.1x)"},
        {"check": "check: steady", "status": "FAIL", "value": "drift 20%"},
    ]


def test_mnist_reruns_while_the_gemm_bound_drifts_and_keeps_the_steadiest(monkeypatch) -> None:
    mnist = load_script(monkeypatch, "bench_mnist")
    drifts = iter([0.30, 0.12, 0.25])
    result, seen = mnist.run_until_steady(lambda: next(drifts), lambda d: d, 3, 0.10)
    assert seen == [0.30, 0.12, 0.25] and result == 0.12  # 3 attempts; the steadiest kept
    notes = mnist.drift_notes(seen, 0.10)
    assert "measured 3 times" in notes[0] and "30%, 12%, 25%" in notes[0]
    assert notes[1].startswith("WARNING") and "RERUN bench_mnist.py" in notes[1]


def test_mnist_stops_rerunning_once_the_bound_is_steady(monkeypatch) -> None:
    mnist = load_script(monkeypatch, "bench_mnist")
    drifts = iter([0.20, 0.05, 0.01])
    result, seen = mnist.run_until_steady(lambda: next(drifts), lambda d: d, 3, 0.10)
    assert (result, seen) == (0.05, [0.20, 0.05])
    (note,) = mnist.drift_notes(seen, 0.10)
    assert "measured 2 times" in note and "WARNING" not in note
    assert mnist.drift_notes([0.03], 0.10) == []  # steady at once: nothing to say
    bound = mnist.GemmBound.name
    assert mnist.bound_drift({bound: [1.0, 1.25, 1.1]}) == pytest.approx(0.25)


def test_cpu_slug_names_result_files(monkeypatch) -> None:
    common = load_script(monkeypatch, "common")
    monkeypatch.setattr(
        common, "cpu_model", lambda: "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"
    )
    assert common.cpu_slug() == "intel-xeon-platinum-8375c-cpu-2-90ghz"
    monkeypatch.setattr(common, "cpu_model", lambda: "???")
    assert common.cpu_slug() == "unknown-cpu"


def test_runner_unsets_the_openblas_variables_only_in_its_subprocesses(monkeypatch) -> None:
    run = load_script(monkeypatch, "run")
    before = dict(os.environ)
    unset = run.environment("unset")
    assert not any(name in unset for name in run.BLAS_ENV_VARS)
    assert run.environment("default") == before
    assert dict(os.environ) == before  # this process keeps its variables
