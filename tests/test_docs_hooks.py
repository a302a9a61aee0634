"""The documentation build's own machinery (docs/hooks/): the hook that runs every example of
every page, and the conversion of the docstrings' reST bits to Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from _modules import load_file

pytest.importorskip("mkdocs", reason="the docs extra (or dev) installs mkdocs")
pytest.importorskip("griffe", reason="the docs extra (or dev) installs mkdocstrings-python")

HOOKS = Path(__file__).resolve().parents[1] / "docs" / "hooks"


def _load(name: str):
    return load_file(HOOKS / f"{name}.py", f"docs_hook_{name}")


run_examples = _load("run_examples")
griffe_rst = _load("griffe_rst")

PAGE = """# A page

```python show-output
x = 6 * 7
print(x)
```

- in a list:

    ```py hide
    y = x + 1
    ```

```text
not run: this would raise
```

```sh
also not run
```

```python show-plot
import matplotlib
matplotlib.use("Agg")
from matplotlib.figure import Figure
from _modules import load_file
figure = Figure()
figure.add_subplot().plot([0, 1], [y, y])
figure
```
"""


def test_blocks_run_in_one_namespace_and_render_their_output(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    out = run_examples.run_page(PAGE, "page.md")
    assert "```python\nx = 6 * 7" in out and "show-output" not in out
    assert '```text title="Output"\n42\n```' in out
    assert "y = x + 1" not in out  # hidden, but it ran: the plot block used y
    assert out.count("data:image/png;base64,") == 1
    assert "not run: this would raise" in out and "also not run" in out
    assert Path.cwd() == tmp_path  # the page ran elsewhere and came back


def test_a_failing_example_stops_the_build_naming_page_and_line():
    page = "text\n\n```python\nprint('fine')\n```\n\n```python\n1 / 0\n```\n"
    with pytest.raises(run_examples.PluginError, match=r"(?s)page\.md:8.*ZeroDivisionError"):
        run_examples.run_page(page, "page.md")


def test_shell_blocks_marked_run_run_and_fail_on_a_non_zero_status():
    out = run_examples.run_page("```sh run show-output\necho hello\n```\n", "cli.md")
    assert "```sh\necho hello\n```" in out and "hello\n```" in out.split("Output")[1]
    with pytest.raises(run_examples.PluginError, match="status 3"):
        run_examples.run_page("```sh run\nexit 3\n```\n", "cli.md")


def test_doctest_blocks_check_their_output():
    assert "2" in run_examples.run_page("```python\n>>> 1 + 1\n2\n```\n", "d.md")
    with pytest.raises(run_examples.PluginError, match="doctest failed"):
        run_examples.run_page("```python\n>>> 1 + 1\n3\n```\n", "d.md")


def test_warnings_are_reported(caplog):
    run_examples.run_page("```python\nimport warnings\nwarnings.warn('careful')\n```\n", "w.md")
    assert "careful" in caplog.text


def test_skipping_keeps_the_page_but_removes_the_flags():
    out = run_examples.run_page("```python show-output\n1 / 0\n```\n", "s.md", run=False)
    assert out == "```python\n1 / 0\n```\n"


def test_rst_math_roles_and_literal_markers_become_markdown():
    text = (
        "Adam :math:`m_t` step, see :class:`~scratchnn.optim.SGD` and :func:`scratchnn.load`.\n"
        "\n"
        ".. math::\n"
        "    W ← W - η g\n"
        "\n"
        "By hand::\n"
        "\n"
        "    step()\n"
        "\n"
        "Example:\n"
        "    >>> 1 + 1\n"
        "    2\n"
    )
    out = griffe_rst.rst_to_markdown(text)
    assert "$m_t$" in out and "`SGD`" in out and "`scratchnn.load`" in out
    assert "$$\nW ← W - η g\n$$" in out
    assert "By hand:\n" in out and "::" not in out
    assert "\nExamples:\n    >>> 1 + 1" in out
