"""Griffe extension: render the reStructuredText bits of scratchnn's docstrings as Markdown.

The docstrings are Google style, and a few write math and cross-references the Sphinx way:
``.. math::`` blocks, ``:math:`x``` and ``:class:`~scratchnn.errors.DataFileError```. Before
mkdocstrings renders a docstring, this turns them into what the site's Markdown understands:
``$$ ... $$`` and ``$x$`` (MathJax, through pymdownx.arithmatex) and inline code. It also turns
a paragraph's closing ``::`` (reST's "a literal block follows") into ``:``, since the indented
block after it is already a code block in Markdown, and the section title ``Example:`` (our
style's) into ``Examples:``, the one griffe's Google parser reads as examples (the ``>>>``
lines become code, not text).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj):`~?([^`]+)`")
MATH_ROLE = re.compile(r":math:`([^`]+)`")


def _short(match: re.Match) -> str:
    """``:class:`~a.b.C``` shows ``C``; ``:class:`a.b.C``` shows ``a.b.C``."""
    text = match.group(0)
    target = match.group(1)
    if "`~" in text:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def rst_to_markdown(text: str) -> str:
    """The docstring ``text`` with reST math, roles and literal-block markers in Markdown."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(".. math::"):
            indent = line[: len(line) - len(line.lstrip())]
            inline = stripped[len(".. math::") :].strip()
            body = [inline] if inline else []
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + " ")):
                body.append(lines[i].strip())
                i += 1
            while body and not body[-1]:
                body.pop()
            math = "\n".join(b for b in body if b)
            out += [f"{indent}$$", *(f"{indent}{m}" for m in math.split("\n")), f"{indent}$$", ""]
            continue
        if line.strip() == "Example:":
            line = line.replace("Example:", "Examples:")
        line = MATH_ROLE.sub(lambda m: f"${m.group(1)}$", line)
        line = ROLE.sub(_short, line)
        if line.rstrip().endswith("::") and line.strip() != "::":
            line = line.rstrip()[:-1]
        out.append(line)
        i += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Convert every docstring once, when griffe loads the object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
