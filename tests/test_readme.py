"""The README's tour runs as printed: its ```python blocks, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.slow
def test_readme_tour_runs_and_prints_what_it_says(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the tour saves a model file
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4, "the README's tour has lost its examples"
    namespace: dict = {"__name__": "__main__"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"README.md, python block {number}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "[0.02  0.981 0.972 0.026]" in printed  # the XOR predictions its comment shows
    accuracy = namespace["model"].evaluate(
        namespace["X_test"], namespace["y_test"], metrics=["accuracy"]
    )["accuracy"]
    assert accuracy > 0.96  # "about 0.97", from the reloaded file
