"""MkDocs hook: run every Python example of every page while the site is built.

Each page's ```` ```python ```` (or ```` ```py ````) blocks run in order, in one namespace per
page (as a reader would paste them into one session), in a fresh temporary working directory
(files an example writes land there and vanish after the page). A block that raises, or that
emits a warning, stops the build with the page, the block's line and the traceback, so a
published example can never be out of date.

Blocks in other languages (``text``, ``sh``, ``console``) are not run, with one exception: a
``sh`` block marked ``run`` (```` ```sh run ````) runs in ``bash -e`` in the same directory,
with the environment's ``scratchnn`` command first on the PATH. Write pseudo-code as ``text``.

Three words after ``python`` in a block's opening fence change what is
shown (they are removed before the page is rendered):

- ``show-output``: the block's printed output follows it on the page, under "Output".
- ``show-plot``: a matplotlib figure that the block's last line evaluates to (``scratchnn.plot``
  functions return one), and any open pyplot figures, are drawn under the block as PNG images.
- ``hide``: the block runs but is not shown (setup a reader does not need to see).

A block whose first line starts with ``>>>`` is a doctest: its printed results are checked.

``SCRATCHNN_DOCS_SKIP_EXAMPLES=1 mkdocs serve`` skips running them, to preview a page's layout
quickly; ``make docs`` always runs them.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import doctest
import io
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.run_examples")

LANGUAGES = {"python", "py", "python3", "pycon"}
SHELLS = {"sh", "bash", "shell"}
FLAGS = {"show-output", "show-plot", "hide", "run"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")


@dataclass
class Block:
    """One fenced Python block: where it is, its source, and the flags of its fence."""

    start: int  # index of the opening fence line
    end: int  # index of the closing fence line
    indent: str
    fence: str
    info: str  # the opening fence's info string, flags removed
    flags: set[str] = field(default_factory=set)
    source: str = ""

    @property
    def shell(self) -> bool:
        return "run" in self.flags


def find_blocks(lines: list[str]) -> list[Block]:
    """The fenced Python blocks of a page (nested fences inside other fences are skipped)."""
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match or not match["info"].strip():
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        close = re.compile(rf"^{re.escape(indent)}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        words = info.replace("{", " ").replace("}", " ").split()
        language = words[0].lstrip(".").lower() if words else ""
        flags = {word for word in words[1:] if word in FLAGS}
        if language in LANGUAGES or (language in SHELLS and "run" in flags):
            kept = " ".join(word for word in info.split() if word not in FLAGS)
            body = [
                line[len(indent) :] if line.startswith(indent) else line.lstrip()
                for line in lines[i + 1 : j]
            ]
            blocks.append(Block(i, j, indent, fence, kept, flags, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def _run_doctest(source: str, namespace: dict, name: str) -> str:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(source, namespace, name, name, 0)
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=out.write, clear_globs=False)
    if runner.failures:
        raise AssertionError(f"doctest failed:\n{out.getvalue()}")
    return ""


def _run_python(source: str, namespace: dict, name: str) -> object:
    """Run ``source``; if its last statement is an expression, return its value (a notebook's
    rule), else None."""
    tree = ast.parse(source, filename=name)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, name, "exec"), namespace)
    if last is not None:
        return eval(compile(last, name, "eval"), namespace)
    return None


def _run_shell(source: str) -> None:
    """Run a shell block with this environment's ``scratchnn`` (and Python) first on the PATH;
    its output goes to ``sys.stdout``, a failing command raises."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    result = subprocess.run(
        ["bash", "-e", "-c", source], env=env, capture_output=True, text=True, check=False
    )
    print(result.stdout + result.stderr, end="")
    if result.returncode:
        raise RuntimeError(f"the shell block exited with status {result.returncode}")


def _example_traceback(error: BaseException, name: str) -> list[str]:
    """The traceback from the example's own frame on (the hook's frames say nothing)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != name:
        tb = tb.tb_next
    return traceback.format_exception(type(error), error, tb or error.__traceback__)


def _figures(value: object) -> list:
    """PNG bytes of the figure ``value`` (if it is one) and of every open pyplot figure."""
    figures = []
    if hasattr(value, "savefig") and hasattr(value, "axes"):
        figures.append(value)
    if "matplotlib.pyplot" in sys.modules:
        plt = sys.modules["matplotlib.pyplot"]
        figures += [plt.figure(n) for n in plt.get_fignums() if plt.figure(n) is not value]
    images = []
    for figure in figures:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
        images.append(buffer.getvalue())
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    return images


def run_page(markdown: str, page_path: str, run: bool = True) -> str:
    """Run the page's Python blocks; return the markdown with outputs and plots added (with
    ``run=False``, only with the blocks' flags removed)."""
    lines = markdown.split("\n")
    blocks = find_blocks(lines)
    if not blocks:
        return markdown
    if not run:
        for block in reversed(blocks):
            lines[block.start : block.end + 1] = _rendering(block, "", [])
        return "\n".join(lines)
    namespace: dict = {"__name__": "__main__"}
    replacements: list[tuple[Block, list[str]]] = []
    started = time.perf_counter()
    cwd = os.getcwd()
    import numpy  # scratchnn's one dependency; a page may change its error handling

    errors = numpy.geterr()
    with tempfile.TemporaryDirectory(prefix="scratchnn-docs-") as workdir:
        os.chdir(workdir)
        try:
            for block in blocks:
                name = f"{page_path}:{block.start + 2}"  # the block's first line, 1-based
                out = io.StringIO()
                try:
                    with (
                        warnings.catch_warnings(record=True) as caught,
                        contextlib.redirect_stdout(out),
                        contextlib.redirect_stderr(out),
                    ):
                        warnings.simplefilter("always")
                        value = None
                        if block.shell:
                            _run_shell(block.source)
                        elif block.source.lstrip().startswith(">>>"):
                            value = _run_doctest(block.source, namespace, name)
                        else:
                            value = _run_python(block.source, namespace, name)
                        images = _figures(value) if "show-plot" in block.flags else []
                except BaseException as error:
                    details = "".join(_example_traceback(error, name))
                    raise PluginError(
                        f"The example at {name} failed:\n{block.source}\n{details}\n"
                        f"Its output:\n{out.getvalue()}"
                    ) from None
                for warning in caught:
                    log.warning(
                        f"The example at {name} warned: {warning.category.__name__}: "
                        f"{warning.message} ({warning.filename}:{warning.lineno})"
                    )
                replacements.append((block, _rendering(block, out.getvalue(), images)))
        finally:
            os.chdir(cwd)
            numpy.seterr(**errors)
    seconds = time.perf_counter() - started
    log.info(f"run_examples: {page_path}: {len(blocks)} block(s) ran in {seconds:.1f} s")
    for block, rendered in reversed(replacements):
        lines[block.start : block.end + 1] = rendered
    return "\n".join(lines)


def _rendering(block: Block, output: str, images: list[bytes]) -> list[str]:
    """The lines that replace a block on the page."""
    if "hide" in block.flags:
        return []
    indent = block.indent
    code = [f"{indent}{block.fence}{block.info}", *block.source.rstrip("\n").split("\n")]
    rendered = [indent + line if line else line for line in code[1:]]
    rendered = [code[0], *rendered, f"{indent}{block.fence}"]
    if "show-output" in block.flags and output.strip():
        rendered += ["", f'{indent}{block.fence}text title="Output"']
        rendered += [indent + line if line else line for line in output.rstrip("\n").split("\n")]
        rendered += [f"{indent}{block.fence}"]
    for png in images:
        data = base64.b64encode(png).decode("ascii")
        rendered += ["", f'{indent}<img alt="figure" src="data:image/png;base64,{data}">']
    return rendered


def on_startup(command: str, dirty: bool) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures render without a display


def on_page_markdown(markdown: str, page, config, files) -> str:
    run = not os.environ.get("SCRATCHNN_DOCS_SKIP_EXAMPLES")
    return run_page(markdown, page.file.src_uri, run)
