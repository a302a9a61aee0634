"""tests/README.md maps every module of the package to its tests: each module has a row (a
subpackage may have one row for all its modules), and every test file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).parent
PACKAGE = TESTS.parent / "src" / "scratchnn"
SUBPACKAGES_BY_ROW = {
    "cli",
    "datasets",
    "distributed",
    "models",
    "playground",
    "sklearn",
    "streaming",
    "tables",
}


def _rows() -> list[tuple[list[str], list[str]]]:
    rows = []
    for line in (TESTS / "README.md").read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if len(cells) == 4 and cells[1].strip().startswith("`"):
            rows.append((re.findall(r"`([^`]+)`", cells[1]), re.findall(r"`([^`]+)`", cells[2])))
    return rows


def test_every_module_has_a_row():
    named = {module for modules, _ in _rows() for module in modules}
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        top = relative.split("/")[0]
        if path.name in ("__init__.py", "__main__.py", "_version.py"):
            continue
        if top in SUBPACKAGES_BY_ROW:
            if f"{top}/" not in named:
                missing.append(f"{top}/")
        elif relative not in named:
            missing.append(relative)
    assert not missing, f"tests/README.md has no row for {sorted(set(missing))}"


def test_every_named_test_file_exists():
    named = {test for _, tests in _rows() for test in tests}
    assert named, "no rows found"
    absent = sorted(name for name in named if not (TESTS / name).exists())
    assert not absent, f"tests/README.md names test files that do not exist: {absent}"
