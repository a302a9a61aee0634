"""Plots of training and of trained models, drawn with matplotlib (the optional ``plot`` extra:
``pip install 'scratchnn[plot]'``).

Every function returns a :class:`matplotlib.figure.Figure` and, given ``path``, also writes it
there as a PNG. Figures are built directly (never through ``pyplot``), so nothing here needs a
GUI backend or touches pyplot's global state, and matplotlib is imported only when a function
is called: ``import scratchnn`` never imports it.

Example::

    import scratchnn as snn
    from scratchnn import plot

    X, y = snn.datasets.moons(200, noise=0.2)
    validation = snn.datasets.moons(100, noise=0.2, seed=1)
    model = snn.MLP([2, 16, 16, 2], activation="tanh", seed=0)
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=200,
                        validation_data=validation, metrics=["accuracy"], verbose=0)
    plot.training_curves(history, path="curves.png")
    plot.decision_boundary(model, X, y, path="boundary.png", class_names=["upper", "lower"])
    predicted = model.predict(X).argmax(axis=1)
    plot.confusion_matrix(y, predicted, labels=["upper", "lower"], path="confusion.png")
    plot.weight_histograms(model, path="weights.png")

In a notebook, a returned figure displays itself when it is the value of the last line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _registry
from ._files import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .history import History
    from .model import Sequential

__all__ = [
    "attention_heads",
    "confusion_counts",
    "confusion_matrix",
    "decision_boundary",
    "loss_curves",
    "training_curves",
    "weight_histograms",
]

#: Resolution of saved PNG files, in dots per inch.
DPI = 100

#: Confusion matrices with more classes than this are drawn without per-cell numbers.
MAX_ANNOTATED_CLASSES = 30

_TRAIN_LABEL = "train"
_VALIDATION_LABEL = "validation"


# Helpers shared by the plots.


def _require_matplotlib() -> None:
    """Import matplotlib (first thing in every plot), or say how to install it."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise ImportError(
            "scratchnn's plots need matplotlib: pip install 'scratchnn[plot]'"
        ) from None


def _new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure with constrained layout (shown as an image when it is the value of a
    notebook cell, even though pyplot's inline backend may never have been set up)."""
    from matplotlib.figure import Figure

    from .notebook import enable_figure_display

    enable_figure_display()
    return Figure(figsize=(width, height), layout="constrained")


def _save(figure: Figure, path: str | os.PathLike | None) -> None:
    """Write ``figure`` to ``path`` as a PNG: to a temporary file in the same folder first, then
    renamed over ``path``, so that a reader never sees a half-written image."""
    if path is None:
        return
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png", dpi=DPI, bbox_inches="tight")


def _grid(figure: Figure, count: int, max_columns: int) -> list[Axes]:
    """``count`` axes on a grid at most ``max_columns`` wide (no empty cells left over)."""
    columns = min(count, max_columns)
    rows = math.ceil(count / columns)
    return [figure.add_subplot(rows, columns, i + 1) for i in range(count)]


def _class_colors(n_classes: int) -> list[Any]:
    """One distinct colour per class: tab10 up to 10 classes, tab20 up to 20, then viridis."""
    from matplotlib import colormaps

    if n_classes <= 10:
        return list(colormaps["tab10"].colors[:n_classes])
    if n_classes <= 20:
        return list(colormaps["tab20"].colors[:n_classes])
    return list(colormaps["viridis"](np.linspace(0, 1, n_classes)))


def _as_labels(values: Any, name: str) -> np.ndarray:
    """Integer class labels from labels ``(n,)``/``(n, 1)`` or one-hot/scores ``(n, k)``."""
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] > 1:
        array = array.argmax(axis=1)
    elif array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{name} must hold class labels, shape (n_samples,); received shape {array.shape}."
        )
    if array.dtype == bool:
        array = array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.number) or not np.all(
            np.isfinite(array) & (array == np.round(array))
        ):
            raise ValueError(
                f"{name} must hold integer class labels 0, 1, ...; received {array.dtype} "
                "values that are not whole numbers."
            )
        array = array.astype(np.int64)
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0; found {int(array.min())}.")
    return array.astype(np.int64, copy=False)


def _class_names(class_names: Sequence[str] | None, n_classes: int, name: str) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(n_classes)]
    class_names = [str(label) for label in class_names]
    if len(class_names) < n_classes:
        raise ValueError(f"{name} names {len(class_names)} classes, but the data has {n_classes}.")
    return class_names


# Training curves.


def _history_series(
    history: History | Mapping[str, Sequence[float]],
) -> tuple[dict[str, list[float]], list[int] | None]:
    """The ``{name: values}`` logs and the 0-based epoch numbers (None if not recorded)."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(
            "training_curves takes a History (what fit returns) or a dict of per-epoch lists; "
            f"received {type(history).__name__}."
        )
    epochs = getattr(history, "epoch", None)
    series = {str(key): [float(v) for v in values] for key, values in logs.items()}
    series = {key: values for key, values in series.items() if values}
    if not series:
        raise ValueError("The history is empty: there is nothing to plot.")
    return series, (list(epochs) if epochs is not None else None)


def _epoch_axis(epochs: list[int] | None, length: int) -> np.ndarray:
    """1-based epoch numbers for a series of ``length`` values.

    A series shorter than the recorded epochs started late (a log added by a callback after
    the first epoch, say): it is aligned with the last epochs."""
    if epochs is None or len(epochs) < length:
        return np.arange(1, length + 1)
    return np.asarray(epochs[len(epochs) - length :]) + 1


@_registry.figures.register()
def training_curves(
    history: History | Mapping[str, Sequence[float]],
    path: str | os.PathLike | None = None,
) -> Figure:
    """Per-epoch curves of the loss, each metric and the learning rate.

    One panel for the loss (training and, if logged, validation), one per other metric
    (training and validation), and one for the learning rate if it was logged (``"lr"``).

    Args:
        history: What :meth:`Sequential.fit` returns (or ``model.history``), or a plain dict such as
            ``history.to_dict()`` or one read back from a CSV log: ``{"loss": [...], "val_loss":
            [...], "accuracy": [...], "lr": [...]}``.
        path: Where to write the figure as a PNG.

    Returns:
        matplotlib.figure.Figure: The x axis is the epoch, counted from 1; a :class:`History` of a
            continued ``fit`` shows the lifelong epoch numbers (6, 7, ... after a first fit of 5
            epochs).
    """
    _require_matplotlib()
    series, epochs = _history_series(history)
    panels: list[tuple[str, list[tuple[str, str]]]] = []  # (title, [(key, label), ...])
    done: set[str] = set()
    names = ["loss", *(key for key in series if key != "loss")]
    for key in names:
        if key in done or key == "lr":
            continue
        base = key.removeprefix("val_")
        lines = [
            (candidate, label)
            for candidate, label in ((base, _TRAIN_LABEL), (f"val_{base}", _VALIDATION_LABEL))
            if candidate in series
        ]
        if not lines:
            continue
        done.update(candidate for candidate, _ in lines)
        panels.append((base, lines))
    if "lr" in series:
        panels.append(("learning rate", [("lr", "learning rate")]))

    from matplotlib.ticker import MaxNLocator

    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure = _new_figure(4.2 * columns, 3.2 * rows)
    for ax, (title, lines) in zip(_grid(figure, len(panels), 3), panels, strict=True):
        for key, label in lines:
            values = series[key]
            x = _epoch_axis(epochs, len(values))
            ax.plot(x, values, label=label, marker="o" if len(values) <= 20 else None, ms=3)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if lines[0][0] != "lr":
            ax.legend()
    _save(figure, path)
    return figure


def loss_curves(
    curves: Mapping[str, Sequence[float]],
    path: str | os.PathLike | None = None,
    title: str | None = None,
    log_scale: bool = True,
) -> Figure:
    """Several named loss curves on one axis, e.g. to compare optimizers or architectures.

    Args:
        curves: One per-epoch loss sequence per name; the names become the legend.
        path: Where to write the figure as a PNG.
        title: The axis title.
        log_scale: A logarithmic loss axis, which shows late progress better. Falls back to a linear
            axis when some finite value is not positive.

    Returns:
        matplotlib.figure.Figure: One axis, the epoch (from 1) against the loss.
    """
    _require_matplotlib()
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("loss_curves needs a non-empty dict {name: [loss per epoch]}.")
    arrays = {str(name): np.asarray(values, dtype=np.float64) for name, values in curves.items()}
    for name, values in arrays.items():
        if values.ndim != 1:
            raise ValueError(
                f"Curve {name!r} must be a sequence of numbers; received shape {values.shape}."
            )
    from matplotlib.ticker import MaxNLocator

    figure = _new_figure(6.4, 4.2)
    ax = figure.add_subplot()
    for name, values in arrays.items():
        x = np.arange(1, len(values) + 1)
        ax.plot(x, values, label=name, marker="o" if len(values) <= 20 else None, ms=3)
    finite = np.concatenate([values[np.isfinite(values)] for values in arrays.values()])
    if log_scale and finite.size and (finite > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title is not None:
        ax.set_title(title)
    _save(figure, path)
    return figure


# Decision boundary.


def _predicted_classes(model: Sequential, X: np.ndarray) -> np.ndarray:
    """The class ``model`` predicts for each row of ``X``.

    Several outputs: the arg-max (the same before and after a softmax). One output: class 1
    where the probability is >= 0.5, the probability being ``model.loss.output_transform`` of
    the output (a sigmoid for ``BinaryCrossEntropy(from_logits=True)``, so logits >= 0) when
    the model has a loss, else the raw output (right after a Sigmoid layer, or for a
    regression on 0/1 targets)."""
    out = model.predict(X)
    if out.shape[1] > 1:
        return out.argmax(axis=1)
    if model.loss is not None:
        out = model.loss.output_transform(out)
    return (out[:, 0] >= 0.5).astype(np.int64)


def decision_boundary(
    model: Sequential,
    X: Any,
    y: Any,
    path: str | os.PathLike | None = None,
    resolution: int = 200,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """The regions where a 2-feature classifier predicts each class, with the data on top.

    Args:
        model: A classifier with 2 input features: several outputs (the predicted class is the
            arg-max) or one (class 1 where ``model.loss.output_transform(output) >= 0.5``, or the
            raw output >= 0.5 for a model without a loss).
        X: The points to draw. Shape ``(n_samples, 2)``.
        y: Their true classes (integer labels; one-hot rows are accepted too). Shape
            ``(n_samples,)``.
        path: Where to write the figure as a PNG.
        resolution: Grid points along each axis; the grid spans the data plus 10% on every side.
        class_names: Legend names of classes 0, 1, ...; default the class numbers.

    Returns:
        matplotlib.figure.Figure: One axis: a filled contour of the predicted class and the points
            coloured by their true class.

    Raises:
        ValueError: If the model does not take 2 input features, or ``X``/``y`` do not fit it.
    """
    _require_matplotlib()
    if model.in_features != 2:
        raise ValueError(
            f"decision_boundary draws models with 2 input features; this model takes "
            f"{model.in_features}."
        )
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        raise ValueError(f"X must have shape (n_samples, 2); received shape {X.shape}.")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values.")
    labels = _as_labels(y, "y")
    if len(labels) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(labels)} labels.")
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer):
        raise TypeError(f"resolution must be an int; received {resolution!r}.")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2; received {resolution}.")

    low, high = X.min(axis=0), X.max(axis=0)
    span = high - low
    pad = np.where(span > 0, 0.1 * span, 0.5)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid_classes = _predicted_classes(model, np.column_stack([gx.ravel(), gy.ravel()]))
    grid_classes = grid_classes.reshape(gx.shape)

    n_outputs = model.out_features
    n_classes = max(
        2 if n_outputs == 1 else n_outputs,
        int(labels.max()) + 1,
        len(class_names) if class_names is not None else 0,
    )
    names = _class_names(class_names, n_classes, "class_names")
    colors = _class_colors(n_classes)

    from matplotlib.colors import ListedColormap

    figure = _new_figure(6.0, 5.0)
    ax = figure.add_subplot()
    ax.contourf(
        gx,
        gy,
        grid_classes,
        levels=np.arange(n_classes + 1) - 0.5,
        cmap=ListedColormap(colors),
        alpha=0.35,
    )
    for c in range(n_classes):
        mine = labels == c
        if mine.any():
            ax.scatter(
                X[mine, 0],
                X[mine, 1],
                color=colors[c],
                edgecolors="black",
                linewidths=0.5,
                s=22,
                label=names[c],
            )
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.set_title("Decision boundary")
    ax.legend(title="true class", loc="best")
    _save(figure, path)
    return figure


# Confusion matrix.


def confusion_counts(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """How often each true class was predicted as each class (pure NumPy).

    Args:
        y_true, y_pred: Integer class labels 0, 1, ... (one-hot or score rows ``(n_samples, k)`` are
            reduced by arg-max). Shape ``(n_samples,)``.
        n_classes: The number of classes; default one more than the largest label seen.

    Returns:
        numpy.ndarray, shape (n_classes, n_classes), int64: ``counts[i, j]`` is the number of
            samples of true class ``i`` predicted as ``j`` (as ``sklearn.metrics.confusion_matrix``
            with ``labels=range(n_classes)``).

    Example:
        >>> confusion_counts([0, 1, 1, 2], [0, 1, 2, 2])
        array([[1, 0, 0],
               [0, 1, 1],
               [0, 0, 1]])
    """
    true = _as_labels(y_true, "y_true")
    pred = _as_labels(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"y_true has {len(true)} labels but y_pred has {len(pred)}.")
    largest = int(max(true.max(initial=-1), pred.max(initial=-1)))
    if n_classes is None:
        n_classes = largest + 1
    else:
        if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
            raise TypeError(f"n_classes must be an int; received {n_classes!r}.")
        n_classes = int(n_classes)
        if n_classes < 0:
            raise ValueError(f"n_classes must be >= 0; received {n_classes}.")
        if largest >= n_classes:
            raise ValueError(f"Found class label {largest}, but n_classes is {n_classes}.")
    flat = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes)
    return flat.astype(np.int64).reshape(n_classes, n_classes)


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    labels: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    normalize: bool = False,
) -> Figure:
    """A heat map of the confusion matrix, true classes on the rows, each cell annotated.

    Args:
        y_true, y_pred: Integer class labels 0, 1, ... (e.g. ``model.predict(X).argmax(axis=1)``).
            Shape ``(n_samples,)``.
        labels: Names of classes 0, 1, ...; their number sets the number of classes (so classes that
            never occur still get a row and a column). Default: the class numbers.
        path: Where to write the figure as a PNG.
        normalize: Show each row as rates that sum to 1 (the recall of each class on the diagonal)
            instead of counts; a class with no samples shows a row of zeros.

    Returns:
        matplotlib.figure.Figure: Two axes: the matrix and its colour bar. Cells are annotated with
            the count (or the rate, two decimals) for up to ``MAX_ANNOTATED_CLASSES`` classes.
    """
    _require_matplotlib()
    n_classes = None if labels is None else len(labels)
    counts = confusion_counts(y_true, y_pred, n_classes)
    n_classes = counts.shape[0]
    if n_classes == 0:
        raise ValueError("No labels: the confusion matrix is empty.")
    names = _class_names(labels, n_classes, "labels")
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        vmax = 1.0
    else:
        values = counts.astype(np.float64)
        vmax = max(float(values.max()), 1.0)

    size = min(3.0 + 0.45 * n_classes, 16.0)
    figure = _new_figure(size + 1.0, size)
    ax = figure.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    figure.colorbar(image, ax=ax, label="rate" if normalize else "count")
    ticks = np.arange(n_classes)
    rotate = n_classes > 4 or max(len(name) for name in names) > 6
    ax.set_xticks(ticks, names, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix" + (" (row-normalized)" if normalize else ""))
    if n_classes <= MAX_ANNOTATED_CLASSES:
        for i in range(n_classes):
            for j in range(n_classes):
                text = f"{values[i, j]:.2f}" if normalize else f"{counts[i, j]:d}"
                dark = values[i, j] > 0.6 * vmax
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    color="white" if dark else "black",
                    fontsize=9 if n_classes <= 10 else 7,
                )
    _save(figure, path)
    return figure


# Weights and gradients.


def weight_histograms(
    model: Sequential,
    path: str | os.PathLike | None = None,
    gradients: bool = True,
) -> Figure:
    """Histograms of every parameter array, and of its gradient, one row per layer.

    Args:
        model: The model; each layer with parameters (``Dense``, ``BatchNorm1d``, ...) gets a row.
        path: Where to write the figure as a PNG.
        gradients: Also draw, next to each parameter, the histogram of its gradient as left by the
            last ``backward`` (the last batch of ``fit``). Before any backward they are all zero.

    Returns:
        matplotlib.figure.Figure: One axis per parameter array (two with ``gradients``), titled with
            the parameter's name as in ``model.parameters().names()`` (``"dense_0.W"``).
    """
    _require_matplotlib()
    rows: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for parameter in model.parameters():
        layer_name = parameter.name.partition(".")[0]
        rows.setdefault(layer_name, []).append((parameter.name, parameter.value, parameter.grad))
    if not rows:
        raise ValueError("The model has no parameters to draw.")
    per_parameter = 2 if gradients else 1
    columns = per_parameter * max(len(entries) for entries in rows.values())

    figure = _new_figure(3.0 * columns, 2.4 * len(rows))
    for r, entries in enumerate(rows.values()):
        for p, (name, value, grad) in enumerate(entries):
            cells = [(value, name, "C0")]
            if gradients:
                cells.append((grad, f"∂L/∂{name}", "C1"))
            for k, (array, title, color) in enumerate(cells):
                ax = figure.add_subplot(len(rows), columns, r * columns + p * per_parameter + k + 1)
                _histogram(ax, array, title, color)
    _save(figure, path)
    return figure


def _histogram(ax: Axes, array: np.ndarray, title: str, color: str) -> None:
    """One histogram of ``array``'s finite values, titled with its name, shape and statistics."""
    values = np.asarray(array, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    ax.tick_params(labelsize=7)
    heading = f"{title} {tuple(array.shape)}"
    if finite.size == 0:
        ax.set_title(f"{heading}\nno finite values", fontsize=9)
        return
    bins = int(min(50, max(5, math.sqrt(finite.size))))
    ax.hist(finite, bins=bins, color=color, alpha=0.8)
    # Readable at any size: at most 4 value ticks (long labels such as -0.008 of a small
    # gradient would overlap), whole-number counts, and the scale factor shown once.
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    ax.xaxis.get_offset_text().set_fontsize(7)
    stats = f"mean {finite.mean():.3g}, std {finite.std():.3g}"
    note = stats if finite.any() else "all zero"
    if finite.size < values.size:
        note += f", {values.size - finite.size} non-finite"
    ax.set_title(f"{heading}\n{note}", fontsize=9)


# Attention.


def attention_heads(
    weights: np.ndarray,
    tokens: Sequence[str] | None = None,
    sample: int = 0,
    path: str | os.PathLike | None = None,
) -> Figure:
    """One heat map per head of an attention layer's weights: row i shows where query i looked.

    Args:
        weights: ``(batch, heads, time, time)`` attention weights, e.g. an element of
            :func:`scratchnn.models.attention_maps` or a ``trace_step`` layer's
            ``internals["attention_weights"]``.
        tokens: the ``time`` tokens (characters), to label both axes; None numbers them.
        sample: which sequence of the batch to draw.
        path: Where to write the figure as a PNG.

    Returns:
        matplotlib.figure.Figure: One axis per head, titled ``"head h"``, values in [0, 1].
    """
    _require_matplotlib()
    weights = np.asarray(weights)
    if weights.ndim != 4 or weights.shape[2] != weights.shape[3]:
        raise ValueError(
            "weights must be (batch, heads, time, time) attention weights; received shape "
            f"{weights.shape}."
        )
    if not 0 <= sample < weights.shape[0]:
        raise ValueError(f"sample must be in [0, {weights.shape[0] - 1}]. Received: {sample!r}.")
    steps = weights.shape[2]
    if tokens is not None and len(tokens) != steps:
        raise ValueError(f"tokens must name the {steps} time steps; received {len(tokens)}.")
    heads = weights.shape[1]
    columns = min(heads, 4)
    figure = _new_figure(3.0 * columns, 3.0 * math.ceil(heads / columns))
    for head, ax in enumerate(_grid(figure, heads, 4)):
        image = ax.imshow(weights[sample, head], vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_title(f"head {head}")
        ax.set_xlabel("key")
        ax.set_ylabel("query")
        if tokens is not None and steps <= 40:
            ax.set_xticks(range(steps), [str(t) for t in tokens], fontsize=7)
            ax.set_yticks(range(steps), [str(t) for t in tokens], fontsize=7)
    figure.colorbar(image, ax=figure.axes, shrink=0.8)
    _save(figure, path)
    return figure
