"""Notebook-aware display: what scratchnn shows when it runs inside a Jupyter kernel.

In a notebook (JupyterLab, Jupyter Notebook, VS Code, Colab) ``fit`` shows tqdm's notebook
bar instead of text lines, :class:`~scratchnn.callbacks.LivePlot` (or ``fit(verbose="plot")``)
redraws the loss and metric curves in place in the cell's output, a model shows its
``summary()`` as an HTML table, and the figures of :mod:`scratchnn.plot` display themselves.

Nothing here imports IPython, matplotlib or ipywidgets until it is used, and whether this is a
notebook is asked without importing IPython: a kernel has always imported it already, so a
plain ``python`` process (or a terminal IPython) gets today's text output, unchanged.
"""

from __future__ import annotations

import html
import io
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "LiveCurves",
    "enable_figure_display",
    "figure_png",
    "in_notebook",
    "notebook_bar_available",
    "summary_html",
]

#: Resolution of the live plot's frames, in dots per inch (small frames redraw quickly).
LIVE_DPI = 80


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel, whose cell outputs can show rich displays.

    A terminal ``ipython`` is not a kernel (it has no ``IPKernelApp``), and neither is a
    plain ``python`` process, which has not imported IPython: IPython is never imported here.
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def notebook_bar_available() -> bool:
    """Whether tqdm's notebook bar can be drawn: tqdm and ipywidgets are both installed
    (``pip install 'scratchnn[jupyter]'``), and the front end is no Qt console or Spyder, which
    show rich output but no widgets (as tqdm decides)."""
    if any(name == "QT_API" or name.startswith("SPYDER") for name in os.environ):
        return False
    try:
        from tqdm.notebook import IProgress
    except ImportError:
        return False
    return IProgress is not None


def figure_png(figure: Figure, dpi: float = LIVE_DPI, tight: bool = False) -> bytes:
    """The figure as PNG bytes: at its own size by default (so successive frames of a live
    plot have the same size and replace each other without the output jumping), or cropped
    to what is drawn (``tight``, as matplotlib's inline backend shows figures)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return buffer.getvalue()


def enable_figure_display() -> None:
    """In a notebook, show matplotlib figures as PNG images when they are a cell's value.

    scratchnn builds its figures without pyplot, so matplotlib's inline backend, which is set
    up when pyplot is imported, may not be there to show them; this registers the same PNG
    formatter on the running kernel (idempotent). Outside a notebook it does nothing."""
    if not in_notebook():
        return
    from IPython import get_ipython
    from matplotlib.figure import Figure

    formatter = get_ipython().display_formatter.formatters["image/png"]
    formatter.for_type(Figure, lambda figure: figure_png(figure, dpi=100, tight=True))


class LiveCurves:
    """Per-epoch curves drawn once and then redrawn in place: in a notebook, in the cell's
    output (one display, replaced by each frame through its display id: no flicker, no pile
    of images); with ``path``, also into that PNG file (each write atomic).

    One panel for the loss and one per metric (``names``, without the ``val_`` prefix), each
    with its training line and, when logged, its validation line. The figure is built once;
    each frame only moves the lines' data, and the panels are laid out again only when their
    tick labels change width (the layout is the slow half of a frame).

    Args:
        names: the logs to draw, e.g. ``["loss", "accuracy"]``.
        path: a PNG file to (re)write with every frame, or None.
        log_scale: a logarithmic axis for the loss panel (where every value is positive).
    """

    def __init__(
        self, names: Sequence[str], path: str | os.PathLike | None = None, log_scale: bool = False
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        self.names, self.path, self.log_scale = list(names), path, log_scale
        columns = min(len(self.names), 3)
        rows = -(-len(self.names) // columns)
        self.figure = Figure(figsize=(4.2 * columns, 3.0 * rows), layout="constrained")
        FigureCanvasAgg(self.figure)  # one canvas for every frame (no pyplot, no GUI)
        self.axes = {}
        self.lines = {}
        for i, name in enumerate(self.names):
            ax = self.figure.add_subplot(rows, columns, i + 1)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
            self.axes[name] = ax
            (self.lines[name],) = ax.plot([], [], label="train")
            (self.lines[f"val_{name}"],) = ax.plot([], [], label="validation")
        self._handle: Any = None
        self._notebook = in_notebook()
        self._laid_out_for: tuple[int, ...] | None = None  # the tick labels' widths then
        self.frames = 0  # frames rendered and shown (or written)
        self.layouts = 0  # of which laid out anew

    def _label_widths(self) -> tuple[int, ...]:
        """The longest tick label of each axis of each panel, in characters, for the current
        limits (what the layout depends on as the curves grow)."""
        widths = []
        for ax in self.axes.values():
            for axis in (ax.xaxis, ax.yaxis):
                labels = axis.get_major_formatter().format_ticks(axis.get_major_locator()())
                widths.append(max((len(label) for label in labels), default=0))
        return tuple(widths)

    def _layout(self) -> None:
        """Lay the panels out (constrained layout, the slow part of a frame) only when the tick
        labels grew or shrank since the last layout; otherwise keep the positions."""
        widths = self._label_widths()
        if widths != self._laid_out_for:
            self.figure.set_layout_engine("constrained")
            self.figure.draw_without_rendering()  # computes the layout
            self.figure.set_layout_engine("none")
            self._laid_out_for = widths
            self.layouts += 1

    def draw(
        self, epochs: Sequence[int], series: Mapping[str, Sequence[float]], title: str
    ) -> None:
        """Show one frame: ``series[name]`` holds one value per epoch in ``epochs`` (1-based
        numbers for the x axis); ``title`` goes above the panels."""
        for key, line in self.lines.items():
            values = series.get(key, ())
            line.set_data(list(epochs)[len(epochs) - len(values) :], values)
            line.set_marker("o" if 0 < len(values) <= 20 else "")
            line.set_markersize(3)
        for name, ax in self.axes.items():
            if self.log_scale and name == "loss":
                values = [*series.get("loss", ()), *series.get("val_loss", ())]
                ax.set_yscale("log" if values and min(values) > 0 else "linear")
            ax.relim()
            ax.autoscale_view()
            if series.get(f"val_{name}") and ax.get_legend() is None:
                ax.legend(loc="best")
        self.figure.suptitle(title)
        if self.path is None and not self._notebook:
            return  # nowhere to show it: the lines are up to date, nothing is rendered
        self._layout()
        png = figure_png(self.figure)
        self.frames += 1
        if self.path is not None:
            with atomic_write(self.path) as handle:
                handle.write(png)
        if not self._notebook:
            return
        data = {"image/png": png, "text/plain": f"<LivePlot: {title}>"}
        if self._handle is None:
            from IPython.display import display

            self._handle = display(data, raw=True, display_id=True)
        else:
            self._handle.update(data, raw=True)


def _cells(line: str) -> list[str]:
    """A row of ``summary()``'s text: columns are separated by two or more spaces."""
    return re.split(r" {2,}", line.strip())


def summary_html(model: Any) -> str:
    """A model's ``summary()`` as an HTML table (what a notebook shows for a
    :class:`~scratchnn.Sequential`): the same header, rows and total, read from the text so
    that the two never disagree."""
    lines = model.summary().splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"-"}]
    header = _cells(lines[0])
    body_end = rules[-1] if len(rules) > 1 else len(lines)
    rows = [_cells(line) for line in lines[rules[0] + 1 if rules else 1 : body_end] if line]
    footer = [line for line in lines[body_end + 1 :] if line.strip()]
    numeric = [
        all(len(row) == len(header) and re.fullmatch(r"[\d,.]+", row[c]) for row in rows)
        for c in range(len(header))
    ]

    def cell(tag: str, text: str, column: int) -> str:
        style = ' style="text-align: right"' if numeric[column] else ' style="text-align: left"'
        return f"<{tag}{style}>{html.escape(text)}</{tag}>"

    parts = ['<table class="scratchnn-summary">', "<thead><tr>"]
    parts += [cell("th", name, c) for c, name in enumerate(header)]
    parts.append("</tr></thead><tbody>")
    for row in rows:
        if len(row) == len(header):
            parts.append("<tr>" + "".join(cell("td", text, c) for c, text in enumerate(row)))
        else:  # a row whose text does not split into the columns: shown whole
            text = html.escape(" ".join(row))
            parts.append(f'<tr><td colspan="{len(header)}" style="text-align: left">{text}')
        parts.append("</tr>")
    parts.append("</tbody>")
    if footer:
        text = "<br>".join(html.escape(line) for line in footer)
        parts.append(
            f'<tfoot><tr><td colspan="{len(header)}" style="text-align: left">{text}</td></tr>'
            "</tfoot>"
        )
    parts.append("</table>")
    return "".join(parts)
