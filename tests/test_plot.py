"""scratchnn.plot: every figure renders to a valid PNG and shows what it claims to show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip(
    "matplotlib", minversion="3.6", reason="plots need matplotlib >= 3.6 (the plot extra)"
)
matplotlib.use("Agg")  # before anything could import pyplot (plot itself never does)

import matplotlib.image  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import scratchnn as snn  # noqa: E402
from scratchnn import plot  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_png(path: Path, figure: Figure) -> np.ndarray:
    """``path`` is a real PNG of about ``figure``'s size at the plot DPI, written atomically."""
    assert path.is_file()
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000  # not an empty canvas
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    expected_w, expected_h = figure.get_size_inches() * plot.DPI
    # bbox_inches="tight" trims the margins (or grows for labels outside), never by much.
    assert 0.6 * expected_w < width < 1.15 * expected_w
    assert 0.6 * expected_h < height < 1.15 * expected_h
    assert image.std() > 0.01  # something was drawn
    leftovers = [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    return image


def legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


@pytest.fixture(scope="module")
def moons() -> tuple[np.ndarray, np.ndarray]:
    return snn.datasets.moons(160, noise=0.15, seed=0)


@pytest.fixture(scope="module")
def trained(moons) -> tuple[snn.Sequential, snn.History]:
    """A small MLP that separates the two moons (and a History with validation and a metric)."""
    X, y = moons
    model = snn.MLP([2, 16, 16, 2], activation="tanh", seed=0)
    history = model.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=snn.optim.Adam(lr=0.02),
        epochs=150,
        batch_size=None,
        validation_data=snn.datasets.moons(60, noise=0.15, seed=1),
        metrics=["accuracy"],
        verbose=0,
    )
    assert history["accuracy"][-1] > 0.95
    return model, history


# Import behaviour.


def test_import_scratchnn_does_not_import_matplotlib() -> None:
    code = (
        "import sys, scratchnn, scratchnn.plot\n"
        "from scratchnn import plot\n"
        "assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules if 'matpl' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_matplotlib_says_how_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"  # makes `import matplotlib...` raise ImportError
        "sys.modules['matplotlib.figure'] = None\n"
        "from scratchnn import plot\n"
        "try:\n"
        "    plot.loss_curves({'a': [1.0, 0.5]})\n"
        "except ImportError as error:\n"
        "    assert \"pip install 'scratchnn[plot]'\" in str(error), error\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# Training curves.


def test_training_curves_from_history(trained, tmp_path: Path) -> None:
    _, history = trained
    path = tmp_path / "curves.png"
    figure = plot.training_curves(history, path=path)
    assert isinstance(figure, Figure)
    check_png(path, figure)
    loss_ax, accuracy_ax, lr_ax = figure.axes  # loss, the metric, the learning rate
    assert loss_ax.get_title() == "loss"
    assert legend_labels(loss_ax) == ["train", "validation"]
    assert accuracy_ax.get_title() == "accuracy"
    assert legend_labels(accuracy_ax) == ["train", "validation"]
    assert lr_ax.get_title() == "learning rate"
    train_line, val_line = loss_ax.get_lines()
    np.testing.assert_allclose(train_line.get_ydata(), history["loss"])
    np.testing.assert_allclose(val_line.get_ydata(), history["val_loss"])
    np.testing.assert_array_equal(train_line.get_xdata(), np.arange(1, len(history) + 1))
    np.testing.assert_allclose(lr_ax.get_lines()[0].get_ydata(), history["lr"])


def test_training_curves_show_lifelong_epochs(tmp_path: Path) -> None:
    X, y = snn.datasets.xor()
    model = snn.MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0)
    model.fit(X, y, loss="mse", optimizer="sgd", epochs=4, batch_size=None, verbose=0)
    history = model.fit(X, y, epochs=3, batch_size=None, verbose=0)  # continues: epochs 4..6
    figure = plot.training_curves(history)
    assert len(figure.axes) == 2  # loss, learning rate
    assert legend_labels(figure.axes[0]) == ["train"]
    np.testing.assert_array_equal(figure.axes[0].get_lines()[0].get_xdata(), [5, 6, 7])


def test_training_curves_from_plain_dict(tmp_path: Path) -> None:
    logs = {
        "loss": [1.0, 0.6, 0.4, 0.3],
        "f1": [0.5, 0.6, 0.7, 0.8],
        "val_f1": [0.4, 0.5, 0.6, 0.65],
        "val_loss": [1.1, 0.8, 0.6, 0.5],
    }
    path = tmp_path / "dict.png"
    figure = plot.training_curves(logs, path=path)
    check_png(path, figure)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "f1"]  # no lr logged: no panel
    assert legend_labels(figure.axes[1]) == ["train", "validation"]
    np.testing.assert_array_equal(figure.axes[1].get_lines()[0].get_xdata(), [1, 2, 3, 4])


def test_training_curves_rejects_empty_and_foreign() -> None:
    with pytest.raises(ValueError, match="empty"):
        plot.training_curves({})
    with pytest.raises(TypeError, match="History"):
        plot.training_curves([1.0, 2.0])  # type: ignore[arg-type]


# Loss curves.


def test_loss_curves(tmp_path: Path) -> None:
    curves = {
        "sgd": list(np.geomspace(2.0, 0.1, 30)),
        "adam": list(np.geomspace(2.0, 0.01, 30)),
        "adamw": list(np.geomspace(2.0, 0.02, 25)),
    }
    path = tmp_path / "compare.png"
    figure = plot.loss_curves(curves, path=path, title="optimizers")
    check_png(path, figure)
    (ax,) = figure.axes
    assert legend_labels(ax) == ["sgd", "adam", "adamw"]
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "optimizers"
    np.testing.assert_array_equal(ax.get_lines()[2].get_xdata(), np.arange(1, 26))

    assert plot.loss_curves(curves, log_scale=False).axes[0].get_yscale() == "linear"
    # A non-positive value cannot go on a log axis: linear instead, no warning.
    negative = plot.loss_curves({"a": [1.0, -0.5], "b": [float("nan"), 0.5]})
    assert negative.axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError):
        plot.loss_curves({})


# Decision boundary.


def filled_contour(ax) -> ContourSet:
    (contour,) = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert contour.filled
    return contour


def check_boundary_matches(figure: Figure, classes_of, resolution: int, n_classes: int) -> None:
    """At grid points well inside a region, the contour's band is the class ``classes_of``
    gives there (the contour interpolates between grid points, so edges are left out)."""
    ax = figure.axes[0]
    contour = filled_contour(ax)
    bands = contour.get_paths()  # one (compound) path per band: band c <=> class c
    assert len(bands) == n_classes
    np.testing.assert_allclose(contour.levels, np.arange(n_classes + 1) - 0.5)
    xs = np.linspace(*ax.get_xlim(), resolution)  # the plotted grid spans the axis limits
    ys = np.linspace(*ax.get_ylim(), resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = classes_of(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    rng = np.random.default_rng(0)
    checked = {c: 0 for c in range(n_classes)}
    for i, j in rng.integers(3, resolution - 3, size=(400, 2)):
        block = grid[i - 3 : i + 4, j - 3 : j + 4]
        if (block != block[0, 0]).any():
            continue  # near the boundary
        point = (gx[i, j], gy[i, j])
        inside = [c for c, band in enumerate(bands) if band.contains_point(point)]
        assert inside == [grid[i, j]], (point, inside, grid[i, j])
        checked[int(grid[i, j])] += 1
    assert all(count >= 5 for count in checked.values()), checked


def test_decision_boundary_multiclass_output(trained, moons, tmp_path: Path) -> None:
    model, _ = trained
    X, y = moons
    path = tmp_path / "boundary.png"
    figure = plot.decision_boundary(
        model, X, y, path=path, resolution=120, class_names=["upper", "lower"]
    )
    check_png(path, figure)
    assert len(figure.axes) == 1
    ax = figure.axes[0]
    assert legend_labels(ax) == ["upper", "lower"]
    # The points are the data, grouped by true class.
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 2
    for c, scatter in enumerate(scatters):
        np.testing.assert_allclose(scatter.get_offsets(), X[y == c], rtol=1e-6)
    # The grid extends beyond the data.
    assert ax.get_xlim()[0] < X[:, 0].min() and ax.get_xlim()[1] > X[:, 0].max()
    assert ax.get_ylim()[0] < X[:, 1].min() and ax.get_ylim()[1] > X[:, 1].max()
    check_boundary_matches(figure, lambda P: model.predict(P).argmax(axis=1), 120, 2)


def test_decision_boundary_three_classes_one_hot_targets() -> None:
    X, y = snn.datasets.blobs(90, centers=3, seed=1)
    X = X[:, :2] if X.shape[1] > 2 else X
    model = snn.MLP([2, 8, 3], activation="relu", seed=0)
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=30, verbose=0)
    one_hot = np.eye(3)[y]
    figure = plot.decision_boundary(model, X, one_hot, resolution=80)
    assert legend_labels(figure.axes[0]) == ["0", "1", "2"]
    check_boundary_matches(figure, lambda P: model.predict(P).argmax(axis=1), 80, 3)


def test_decision_boundary_single_output_thresholds() -> None:
    """One output: class 1 where output_transform(output) >= 0.5, raw output without a loss."""
    model = snn.Sequential([snn.Dense(2, 1)], seed=0)
    model.layers[0].params["W"] = np.array([[1.0], [0.0]])
    model.layers[0].params["b"] = np.array([0.0])  # output = x0
    X = np.array([[-1.0, 0.0], [0.25, 1.0], [0.75, -1.0], [1.5, 0.5]])
    y = np.array([0, 0, 1, 1])

    # No loss: the raw output is the probability (a Sigmoid layer, or a 0/1 regression).
    np.testing.assert_array_equal(plot._predicted_classes(model, X), [0, 0, 1, 1])
    raw = plot.decision_boundary(model, X, y, resolution=60)
    check_boundary_matches(raw, lambda P: (P[:, 0] >= 0.5).astype(int), 60, 2)

    # Logits with BinaryCrossEntropy(from_logits=True): sigmoid(x0) >= 0.5, i.e. x0 >= 0.
    model.loss = snn.losses.BinaryCrossEntropy(from_logits=True)
    np.testing.assert_array_equal(plot._predicted_classes(model, X), [0, 1, 1, 1])
    logits = plot.decision_boundary(model, X, y, resolution=60)
    check_boundary_matches(logits, lambda P: (P[:, 0] >= 0).astype(int), 60, 2)


def test_decision_boundary_of_a_trained_binary_model(moons) -> None:
    X, y = moons
    model = snn.MLP([2, 12, 1], activation="tanh", seed=0)
    model.fit(
        X,
        y,
        loss=snn.losses.BinaryCrossEntropy(from_logits=True),
        optimizer=snn.optim.Adam(lr=0.03),
        epochs=150,
        batch_size=None,
        verbose=0,
    )
    figure = plot.decision_boundary(model, X, y.astype(np.float32).reshape(-1, 1), resolution=80)
    check_boundary_matches(figure, lambda P: (model.predict(P)[:, 0] >= 0).astype(int), 80, 2)


def test_decision_boundary_rejects_bad_input(moons) -> None:
    X, y = moons
    wide = snn.MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"2 input features.*takes 3"):
        plot.decision_boundary(wide, np.zeros((5, 3)), np.zeros(5, dtype=int))
    model = snn.MLP([2, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        plot.decision_boundary(model, X[:, :1], y)
    with pytest.raises(ValueError, match="rows"):
        plot.decision_boundary(model, X, y[:-1])
    with pytest.raises(ValueError, match="whole numbers"):
        plot.decision_boundary(model, X, y + 0.5)
    with pytest.raises(ValueError, match="resolution"):
        plot.decision_boundary(model, X, y, resolution=1)
    with pytest.raises(ValueError, match="class_names"):
        plot.decision_boundary(model, X, y, class_names=["only one"])


# Confusion matrix.


def test_confusion_counts_equals_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    for n_classes, n in [(2, 50), (3, 200), (7, 500), (10, 33)]:
        y_true = rng.integers(0, n_classes, n)
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, n_classes, n))
        expected = metrics.confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))
        counts = plot.confusion_counts(y_true, y_pred, n_classes)
        assert counts.dtype == np.int64
        np.testing.assert_array_equal(counts, expected)
        # Without n_classes: as large as the largest label seen.
        seen = max(y_true.max(), y_pred.max()) + 1
        np.testing.assert_array_equal(plot.confusion_counts(y_true, y_pred), expected[:seen, :seen])


def test_confusion_counts_inputs() -> None:
    np.testing.assert_array_equal(
        plot.confusion_counts(
            np.eye(3)[[0, 1, 2]], np.array([[0.9, 0.1, 0], [0, 0, 1], [0, 0, 1]])
        ),
        [[1, 0, 0], [0, 0, 1], [0, 0, 1]],
    )  # one-hot targets and score rows reduce by arg-max
    np.testing.assert_array_equal(plot.confusion_counts([0.0, 1.0], [1, 1], 3)[:2], [[0, 1, 0]] * 2)
    assert plot.confusion_counts([], [], 2).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="n_classes is 2"):
        plot.confusion_counts([0, 2], [0, 1], 2)
    with pytest.raises(ValueError, match=">= 0"):
        plot.confusion_counts([0, -1], [0, 1])
    with pytest.raises(ValueError, match="3 labels"):
        plot.confusion_counts([0, 1, 1], [0, 1])


def annotations(ax) -> dict[tuple[int, int], str]:
    return {
        (round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts
    }


def test_confusion_matrix_annotations_match_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 4, 300))
    names = ["cat", "dog", "bird", "fish", "never seen"]
    counts = plot.confusion_counts(y_true, y_pred, 5)
    path = tmp_path / "confusion.png"
    figure = plot.confusion_matrix(y_true, y_pred, labels=names, path=path)
    check_png(path, figure)
    assert len(figure.axes) == 2  # the matrix and its colour bar
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == names  # true classes on the rows
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_ylabel() == "true class"
    texts = annotations(ax)
    assert len(texts) == 25
    for (i, j), text in texts.items():
        assert int(text) == counts[i, j]
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), counts)

    normalized = plot.confusion_matrix(y_true, y_pred, labels=names, normalize=True)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    for (i, j), text in annotations(normalized.axes[0]).items():
        assert text == f"{rates[i, j]:.2f}"
    assert [t.get_text() for t in normalized.axes[0].texts[-5:]] == ["0.00"] * 5  # empty row


def test_confusion_matrix_default_labels() -> None:
    figure = plot.confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1])
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert annotations(ax)[(2, 2)] == "1" and annotations(ax)[(1, 2)] == "1"
    with pytest.raises(ValueError, match="empty"):
        plot.confusion_matrix([], [])


# Weights and gradients.


def test_weight_histograms(trained, tmp_path: Path) -> None:
    model, _ = trained
    path = tmp_path / "weights.png"
    figure = plot.weight_histograms(model, path=path)
    check_png(path, figure)
    names = model.parameters().names()  # dense_0.W, dense_0.b, dense_2.W, ..., dense_4.b
    assert len(figure.axes) == 2 * len(names) == 12  # 3 layers x (W, ∂W, b, ∂b)
    titles = [ax.get_title() for ax in figure.axes]
    expected = [t for name in names for t in (name, f"∂L/∂{name}")]
    assert [title.split(" ")[0] for title in titles] == expected
    for ax, parameter in zip(figure.axes[0::2], model.parameters(), strict=True):
        heights = [patch.get_height() for patch in ax.patches]
        assert sum(heights) == parameter.value.size  # every value is in the histogram
    # The gradients of the last backward (fit's last batch) are drawn, not zeros.
    grad_ax = figure.axes[1]
    assert sum(p.get_height() for p in grad_ax.patches) == model.parameters()[0].grad.size
    assert "all zero" not in grad_ax.get_title()

    values_only = plot.weight_histograms(model, gradients=False)
    assert [ax.get_title().split(" ")[0] for ax in values_only.axes] == names


@pytest.mark.slow
def test_weight_histograms_rows_per_layer(tmp_path: Path) -> None:
    model = snn.Sequential(
        [snn.Dense(3, 4), snn.BatchNorm1d(4), snn.ReLU(), snn.Dense(4, 2, bias=False)], seed=0
    )
    figure = plot.weight_histograms(model)  # no backward yet: the gradients are all zero
    # Rows: dense_0 (W, b), batchnorm1d_1 (gamma, beta), dense_3 (W): a 3 x 4 grid, 10 axes.
    assert len(figure.axes) == 10
    positions = [ax.get_subplotspec().get_geometry() for ax in figure.axes]
    assert {rows_cols[:2] for rows_cols in positions} == {(3, 4)}
    assert [p[2] for p in positions] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert figure.axes[8].get_title().startswith("dense_3.W")
    assert figure.axes[1].get_title().endswith("all zero")
    model.layers[0].params["W"] = np.full((3, 4), np.nan)
    model.layers[0].params["b"] = np.array([0.5, np.inf, 1.0, 2.0])
    figure = plot.weight_histograms(model, path=tmp_path / "nan.png")
    assert figure.axes[0].get_title().endswith("no finite values")
    assert figure.axes[2].get_title().endswith(", 1 non-finite")


# Saving.


def test_save_replaces_existing_file_and_cleans_up_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "curves.png"
    path.write_bytes(b"old contents")
    figure = plot.loss_curves({"a": [1.0, 0.5, 0.25]}, path=path)
    check_png(path, figure)
    with pytest.raises(FileNotFoundError):
        plot.loss_curves({"a": [1.0]}, path=tmp_path / "missing" / "x.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]


def test_attention_heads_draws_one_map_per_head(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5, 5))
    weights = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    figure = snn.plot.attention_heads(weights, tokens=list("hello"), sample=1,
                                      path=tmp_path / "heads.png")  # fmt: skip
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["head 0", "head 1", "head 2"]
    assert (tmp_path / "heads.png").stat().st_size > 0
    with pytest.raises(ValueError, match=r"\(batch, heads, time, time\)"):
        snn.plot.attention_heads(weights[0])
