"""scikit-learn's own MLP test file, run against scratchnn's estimators.

The file shipped inside the installed scikit-learn
(``sklearn/neural_network/tests/test_mlp.py``) is copied, its one import of the estimators
is switched to ``scratchnn.sklearn``, and it runs in a separate pytest process with
scikit-learn's fixtures (``-p sklearn.conftest``). Whatever scikit-learn the dev extra
installs, at least :data:`MINIMUM_PASSED` of its tests must pass, and every failure must be
in :data:`ALLOWED_FAILURES` with its reason (documented in docs/sklearn.md), so the count
cannot regress unnoticed.

Run it by hand with ``python -m pytest tests/test_sklearn_suite.py -s``; the per-test
outcome is printed on failure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

#: The bar of issue 13 (scikit-learn 1.9 ships 59 tests in this file; all 59 pass today).
MINIMUM_PASSED = 57

#: Tests that may fail, with the reason. Only tests of scikit-learn's private internals
#: belong here, never behaviour. (Empty today: scratchnn keeps the private hooks that the
#: file touches, ``_loss_grad_lbfgs``, ``_optimizer.learning_rate`` and
#: ``_no_improvement_count``, working.)
ALLOWED_FAILURES: dict[str, str] = {}

IMPORT_LINE = "from sklearn.neural_network import MLPClassifier, MLPRegressor"


def _suite_copy(directory: Path) -> Path:
    source = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not source.is_file():
        pytest.skip(f"this scikit-learn ({sklearn.__version__}) ships no {source}")
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.strip() == IMPORT_LINE]
    assert len(hits) == 1, f"expected one line {IMPORT_LINE!r} in {source}"
    lines[hits[0]] = "from scratchnn.sklearn import MLPClassifier, MLPRegressor\n"
    target = directory / "test_mlp_on_scratchnn.py"
    target.write_text("".join(lines), encoding="utf-8")
    return target


def _outcomes(report: str) -> dict[str, str]:
    """``{test id: PASSED/FAILED/ERROR/SKIPPED}`` from pytest's ``-rA`` summary."""
    pattern = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) \S*?::(\S+)", re.M)
    return {name: outcome for outcome, name in pattern.findall(report)}


@pytest.mark.slow
def test_sklearn_mlp_test_suite_passes_on_scratchnn(tmp_path):
    suite = _suite_copy(tmp_path)
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(suite),
        "-p",
        "sklearn.conftest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rA",
        "--tb=line",
        "--rootdir",
        str(tmp_path),
        "-c",
        str(tmp_path / "pytest.ini"),  # none of this project's pytest settings
    ]
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=3000)
    outcomes = _outcomes(done.stdout)
    passed = sorted(name for name, outcome in outcomes.items() if outcome == "PASSED")
    failed = sorted(name for name, outcome in outcomes.items() if outcome in ("FAILED", "ERROR"))
    summary = done.stdout[-3000:] + done.stderr[-2000:]
    assert outcomes, f"no test results parsed; pytest said:\n{summary}"
    unexpected = [name for name in failed if name.split("[")[0] not in ALLOWED_FAILURES]
    assert not unexpected, f"failures not in ALLOWED_FAILURES: {unexpected}\n{summary}"
    assert len(passed) >= MINIMUM_PASSED, (len(passed), summary)
