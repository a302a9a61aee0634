"""``make docs`` fails on a broken internal link: a page that does not exist, or a heading that
a page does not have. Checked on a tiny site built with the validation settings of the real
mkdocs.yml (the full build runs every example and notebook, minutes rather than seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with mkdocs, in the dev extra")
pytest.importorskip("mkdocs", reason="mkdocs is in the dev extra (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"


def _settings() -> dict:
    """The real site's ``strict`` and ``validation`` settings."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return {"strict": config["strict"], "validation": config["validation"]}


def _build(tmp_path: Path, page: str) -> subprocess.CompletedProcess:
    """Build a two-page site whose index is ``page``, with the real validation settings."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(page, encoding="utf-8")
    (docs / "layers.md").write_text("# Layers\n\n## Dense\n\nz = xW + b\n", encoding="utf-8")
    config = {"site_name": "links", "docs_dir": "docs", "site_dir": "site", **_settings()}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_real_site_is_strict_and_warns_on_missing_pages_and_headings():
    settings = _settings()
    assert settings["strict"] is True
    assert settings["validation"]["not_found"] == "warn"
    assert settings["validation"]["anchors"] == "warn"


def test_a_good_internal_link_builds(tmp_path):
    result = _build(tmp_path, "# Home\n\nThe math is in [Layers](layers.md#dense).\n")
    assert result.returncode == 0, result.stderr


def test_a_link_to_a_missing_heading_fails_the_build(tmp_path):
    result = _build(tmp_path, "# Home\n\nSee [the math](layers.md#the-math-layer-by-layer).\n")
    assert result.returncode != 0
    assert "the-math-layer-by-layer" in result.stderr


def test_a_link_to_a_missing_page_fails_the_build(tmp_path):
    result = _build(tmp_path, "# Home\n\nSee [the math](math.md).\n")
    assert result.returncode != 0
    assert "math.md" in result.stderr


def test_the_tutorial_links_to_the_layer_math_that_exists():
    text = TUTORIAL.read_text(encoding="utf-8")
    assert "The math, layer by layer" not in text  # a README section that no longer exists
    assert "[Layers](layers.md#dense)" in text
    assert "\n## Dense\n" in (ROOT / "docs" / "layers.md").read_text(encoding="utf-8")
