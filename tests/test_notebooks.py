"""The learner's notebooks (notebooks/*.ipynb) and the notebook-aware display.

The display's pieces are tested here in this process (a plain terminal-less Python, where
``fit`` must print what it always printed); the notebooks, and ``fit`` with its live plot and
progress bar, are executed in a real Jupyter kernel started by nbclient from a kernel spec
written into a temporary Jupyter path (nothing global is read or registered).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import callbacks, notebook, reference

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "scratchnn-tests"


def _xor_model(**kwargs):
    return snn.Sequential(
        [snn.Dense(2, 4), snn.Tanh(), snn.Dense(4, 1), snn.Sigmoid()], seed=0, **kwargs
    )


def _fit(model, epochs=3, **kwargs):
    X, y = snn.datasets.xor()
    options = {"loss": "mse", "optimizer": "adam", "batch_size": 2, "verbose": 0}
    return model.fit(X, y, epochs=epochs, **{**options, **kwargs})


# In this process: not a notebook.


def test_a_plain_process_is_not_a_notebook_and_nothing_notebook_is_imported():
    code = (
        "import sys, scratchnn as snn\n"
        "from scratchnn import notebook\n"
        "assert not notebook.in_notebook()\n"
        "X, y = snn.datasets.xor()\n"
        "model = snn.MLP([2, 4, 1], seed=0)\n"
        "model.fit(X, y, loss='mse', optimizer='adam', epochs=2, verbose=2)\n"
        "model.fit(X, y, epochs=1, verbose=1)\n"
        "model._repr_html_() if hasattr(model, '_repr_html_') else None\n"
        "heavy = {'IPython', 'ipykernel', 'ipywidgets', 'matplotlib', 'torch', 'sklearn'}\n"
        "loaded = sorted(heavy & {name.split('.')[0] for name in sys.modules})\n"
        "assert not loaded, loaded\n"
        "assert 'tqdm.notebook' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Epoch 2/2 - loss: " in result.stdout  # the terminal's lines, as before


def test_progress_display_in_a_terminal_keeps_todays_callbacks(monkeypatch):
    display = callbacks.progress_display
    assert [type(c) for c in display(0, 3, 2)] == []
    assert [type(c) for c in display(2, 3, 2)] == [callbacks.EpochPrinter]
    assert [type(c) for c in display(1, 3, 2)] == [callbacks.ProgressBar]
    assert [type(c) for c in display(True, 3, 2)] == [callbacks.ProgressBar]
    assert [type(c) for c in display("auto", 3, 2)] == []  # pytest's stdout is no terminal
    assert [type(c) for c in display("plot", 3, 2)] == [callbacks.LivePlot]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert [type(c) for c in display("auto", 3, 2)] == [callbacks.ProgressBar]
    assert [type(c) for c in display("plot", 3, 2)] == [callbacks.ProgressBar, callbacks.LivePlot]


def test_progress_display_in_a_kernel_uses_the_notebook_bar(monkeypatch):
    monkeypatch.setattr(notebook, "in_notebook", lambda: True)
    monkeypatch.setattr(notebook, "notebook_bar_available", lambda: True)
    display = callbacks.progress_display
    assert [type(c) for c in display("auto", 3, 2)] == [callbacks.NotebookProgressBar]
    assert [type(c) for c in display(1, 3, 2)] == [callbacks.NotebookProgressBar]
    assert [type(c) for c in display(2, 3, 2)] == [callbacks.EpochPrinter]
    assert [type(c) for c in display("plot", 3, 2)] == [
        callbacks.NotebookProgressBar,
        callbacks.LivePlot,
    ]
    monkeypatch.setattr(notebook, "notebook_bar_available", lambda: False)  # no ipywidgets
    assert [type(c) for c in display(1, 3, 2)] == [callbacks.ProgressBar]


@pytest.mark.parametrize("bad", [3, -1, 1.0, "plots", None, "1"])
def test_verbose_is_refused_when_it_is_no_choice(bad):
    with pytest.raises(ValueError, match=re.escape(f"received {bad!r}")) as error:
        _fit(_xor_model(), verbose=bad)
    assert "0, 1, 2, 'auto', 'plot'" in str(error.value)


def test_live_plot_writes_its_frames_to_a_path_outside_a_notebook(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    live = callbacks.LivePlot(min_interval=0, path=path)
    X, y = snn.datasets.xor()
    _fit(_xor_model(), epochs=4, callbacks=[live], validation_data=(X, y), metrics=["mae"])
    assert live.curves.frames == 4  # one per epoch when not throttled
    assert path.read_bytes().startswith(b"\x89PNG")
    assert live.curves.names == ["loss", "mae"]  # val_ lines join their panels; no lr panel
    train, validation = live.curves.lines["mae"], live.curves.lines["val_mae"]
    assert list(train.get_xdata()) == [1, 2, 3, 4] and len(validation.get_ydata()) == 4


def test_live_plot_is_throttled_and_always_draws_the_last_epoch(tmp_path):
    pytest.importorskip("matplotlib")
    live = callbacks.LivePlot(min_interval=3600, metrics=["loss"], path=tmp_path / "loss.png")
    model = _xor_model()
    _fit(model, epochs=20, callbacks=[live])
    assert live.curves.frames == 2  # the first epoch, then the last at the end of training
    np.testing.assert_allclose(live.curves.lines["loss"].get_ydata(), model.history["loss"])
    _fit(model, epochs=2, callbacks=[live])  # a second fit starts a new plot
    assert live.curves.frames == 2 and list(live.curves.lines["loss"].get_xdata()) == [21, 22]


def test_live_curves_lay_out_again_only_when_the_tick_labels_change(tmp_path):
    pytest.importorskip("matplotlib")
    curves = notebook.LiveCurves(["loss"], path=tmp_path / "loss.png")
    sizes = set()
    for n in range(1, 9):
        curves.draw(range(1, n + 1), {"loss": list(np.linspace(0.9, 0.5, n))}, f"epoch {n}")
        sizes.add((tmp_path / "loss.png").read_bytes()[16:24])  # the PNG's width and height
    assert curves.frames == 8 and curves.layouts < 8
    assert len(sizes) == 1  # every frame the same size: they replace each other in place
    layouts = curves.layouts
    curves.draw(range(1, 10), {"loss": [*np.linspace(0.9, 0.5, 8), 1e-4]}, "epoch 9")
    assert curves.layouts == layouts + 1  # longer tick labels ("0.0001"): laid out again


def test_live_plot_renders_nothing_with_nowhere_to_show_it():
    pytest.importorskip("matplotlib")
    live = callbacks.LivePlot(min_interval=0)
    model = _xor_model()
    _fit(model, epochs=3, callbacks=[live])
    assert live.curves.frames == 0  # not a notebook, no path
    np.testing.assert_allclose(live.curves.lines["loss"].get_ydata(), model.history["loss"])


def test_live_plot_keeps_drawing_to_a_fifth_of_the_time():
    assert callbacks.LivePlot(min_interval=1.0).wait_after(0.05) == 1.0
    assert callbacks.LivePlot(min_interval=1.0).wait_after(0.5) == pytest.approx(2.0)
    assert callbacks.LivePlot(min_interval=0).wait_after(0.2) == 0  # asked for every epoch


def test_live_plot_checks_its_arguments_and_logs_before_training(tmp_path):
    with pytest.raises(TypeError, match="Received: metrics='loss'"):
        callbacks.LivePlot(metrics="loss")
    with pytest.raises(ValueError, match="at least one log"):
        callbacks.LivePlot(metrics=[])
    with pytest.raises(ValueError, match="min_interval"):
        callbacks.LivePlot(min_interval=-1)
    with pytest.raises(ValueError, match="does not exist"):
        callbacks.LivePlot(path=tmp_path / "missing" / "curves.png")
    model = _xor_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="LivePlot monitors 'accuracy'"):
        _fit(model, callbacks=[callbacks.LivePlot(metrics=["accuracy"])])
    with pytest.raises(ValueError, match="no validation data"):
        _fit(model, callbacks=[callbacks.LivePlot(metrics=["val_loss"])])
    np.testing.assert_array_equal(model.get_weights(), before)  # refused before training


def test_live_plot_without_matplotlib_says_how_to_install_before_training():
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"  # makes `import matplotlib` raise ImportError
        "import scratchnn as snn\n"
        "X, y = snn.datasets.xor()\n"
        "model = snn.MLP([2, 4, 1], seed=0)\n"
        "try:\n"
        "    model.fit(X, y, loss='mse', optimizer='adam', epochs=1, verbose='plot')\n"
        "except ImportError as error:\n"
        "    assert \"pip install 'scratchnn[plot]'\" in str(error), error\n"
        "    assert model.optimizer is None or model.optimizer.step_count == 0\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_history_plot_draws_the_training_curves(tmp_path):
    pytest.importorskip("matplotlib")
    X, y = snn.datasets.xor()
    history = _fit(_xor_model(), epochs=3, validation_data=(X, y), metrics=["mae"])
    figure = history.plot(path=tmp_path / "history.png")
    assert [ax.get_title() for ax in figure.axes] == ["loss", "mae", "learning rate"]
    assert (tmp_path / "history.png").read_bytes().startswith(b"\x89PNG")


def test_summary_html_is_the_summary_as_a_table():
    model = snn.MLP([784, 256, 10], activation="relu", seed=0)
    table = notebook.summary_html(model)
    text = model.summary().splitlines()
    cells = re.findall(r"<t[hd](?: [^>]*)?>(.*?)</t[hd]>", table)
    header = re.split(r" {2,}", text[0].strip())
    assert cells[: len(header)] == header == ["Layer", "Output shape", "Params"]
    rows = [re.split(r" {2,}", line.strip()) for line in text[2:-2]]
    assert cells[len(header) : -1] == [cell for row in rows for cell in row]
    assert cells[-1] == text[-1]  # the total, as the table's footer
    assert "203,530" in cells[-1] and 'style="text-align: right">200,960<' in table


def test_a_model_shows_its_summary_table_in_a_notebook():
    model = snn.MLP([4, 8, 3], seed=0)
    assert model._repr_html_() == notebook.summary_html(model)


def test_summary_html_escapes_what_it_shows():
    class Tagged(snn.Layer):
        def forward(self, x, training=False):
            return x

        def backward(self, grad_out):
            return grad_out

        def __repr__(self):
            return "Tagged(<b>&</b>)"

    table = notebook.summary_html(snn.Sequential([snn.Dense(2, 3), Tagged()], seed=0))
    assert "Tagged(&lt;b&gt;&amp;&lt;/b&gt;)" in table and "<b>" not in table


# The notebooks in the repository.


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebooks_are_stored_without_outputs(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["metadata"]["kernelspec"]["name"] == "python3"
    assert set(data["metadata"]) <= {"kernelspec", "language_info"}  # no widget state
    for cell in data["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def test_there_are_the_learners_notebooks():
    assert [path.stem for path in NOTEBOOKS] == [
        "01-tutorial",
        "02-next-steps",
        "03-your-own-layer",
        "04-mnist",
        "05-cnn",
        "06-gpt",
    ]


# In a real Jupyter kernel.


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A kernel spec for this interpreter in a temporary Jupyter path, and Jupyter's and
    IPython's folders in the temporary directory, so that nothing outside it is read or
    written. Returns the kernel's name."""
    nbclient = pytest.importorskip("nbclient", reason="the notebooks need scratchnn[jupyter]")
    pytest.importorskip("ipykernel", reason="the notebooks need scratchnn[jupyter]")
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel_json = {"argv": argv, "display_name": "scratchnn tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel_json), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    for variable, folder in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "matplotlib"),
    ]:
        monkeypatch.setenv(variable, str(tmp_path / folder))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")
    return nbclient


def _execute(nbclient, nb, workdir, timeout=300):
    """Runs ``nb`` in the test kernel; returns every IOPub message (cell index, type,
    content) as it arrived."""

    class Recording(nbclient.NotebookClient):
        def process_message(self, msg, cell, cell_index):
            messages.append((cell_index, msg["msg_type"], msg["content"]))
            return super().process_message(msg, cell, cell_index)

    messages: list[tuple[int, str, dict]] = []
    client = Recording(
        nb, timeout=timeout, kernel_name=KERNEL, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return messages


def _cell_notebook(*sources):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


@pytest.mark.slow
def test_fit_in_a_kernel_redraws_the_live_plot_and_shows_the_notebook_bar(kernel, tmp_path):
    nb = _cell_notebook(
        "import sys, scratchnn as snn\n"
        "X, y = snn.datasets.xor()\n"
        "model = snn.Sequential([snn.Dense(2, 8), snn.Tanh(), snn.Dense(8, 1), snn.Sigmoid()],"
        " seed=0)\n"
        "from scratchnn.notebook import in_notebook\n"
        "print(in_notebook())",
        "history = model.fit(X, y, loss='mse', optimizer='adam', epochs=4, batch_size=2,\n"
        "                    metrics=['mae'], verbose='plot',\n"
        "                    callbacks=[snn.callbacks.LivePlot(min_interval=0)])",
        "model",
        "history.plot()",
    )
    messages = _execute(kernel, nb, tmp_path)
    assert nb.cells[0].outputs[0]["text"] == "True\n"

    fit = [(kind, content) for index, kind, content in messages if index == 1]
    shown = [c for kind, c in fit if kind == "display_data"]
    widgets = [c for c in shown if "application/vnd.jupyter.widget-view+json" in c["data"]]
    assert len(widgets) == 2  # tqdm's notebook bars: the epochs and the current epoch's batches
    figures = [c for c in shown if "image/png" in c["data"]]
    assert len(figures) == 2  # verbose="plot"'s and the one passed: each shown once...
    ids = {c["transient"]["display_id"] for c in figures}
    updates = [c for kind, c in fit if kind == "update_display_data"]
    assert {c["transient"]["display_id"] for c in updates} == ids  # ...and redrawn in place
    redrawn = [c for c in updates if c["transient"]["display_id"] == next(iter(ids))]
    assert all("image/png" in c["data"] for c in updates)
    assert not [kind for kind, _ in fit if kind == "stream"]  # no text lines at all
    assert any(kind == "comm_msg" for kind, _ in fit)  # the bars moved (widget updates)

    # The cell's saved output holds the last frame: epoch 4 of 4, in place of the first.
    outputs = nb.cells[1].outputs
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 2 and all("epoch 4:" in o["data"]["text/plain"] for o in pngs)
    first = next(c for c in figures if c["transient"]["display_id"] == next(iter(ids)))
    assert "epoch 1:" in first["data"]["text/plain"]
    assert pngs[0]["data"]["image/png"] != first["data"]["image/png"]
    assert base64.b64decode(redrawn[-1]["data"]["image/png"]).startswith(b"\x89PNG")
    bars = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o["data"]]
    assert len(bars) == 2

    model_html = nb.cells[2].outputs[0]["data"]["text/html"]  # Sequential._repr_html_
    assert model_html.startswith("<table") and "Total parameters: 33" in model_html
    assert "image/png" in nb.cells[3].outputs[0]["data"]  # History.plot(), shown as the value


def _printed_losses(text):
    return [float(value) for value in re.findall(r"Epoch \d+, Loss: (\S+)", text)]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_in_a_kernel(kernel, tmp_path, path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    _execute(kernel, nb, tmp_path)  # raises CellExecutionError, with the cell, on any error
    outputs = [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors
    warnings = [o for o in outputs if o.get("name") == "stderr"]
    assert not warnings, warnings[0]["text"]
    if path.stem == "01-tutorial":
        _check_the_tutorials_numbers(nb)


def _check_the_tutorials_numbers(nb):
    """The numbers the tutorial notebook prints are the tutorial's own, to 1e-10: its plain
    NumPy loop's and scratchnn's, against the textbook loop of scratchnn.reference."""
    np.random.seed(42)  # noqa: NPY002 - the tutorial's global seeding, as it is written
    W1, W2 = np.random.randn(2, 4), np.random.randn(4, 1)  # noqa: NPY002
    X, y = snn.datasets.xor(np.float64)
    expected = reference.tutorial_xor(X, y, W1, np.zeros((1, 4)), W2, np.zeros((1, 1)))[::1000]
    texts = [
        "".join(o.get("text", "") for o in cell.outputs)
        for cell in nb.cells
        if cell.cell_type == "code"
    ]
    printing = [text for text in texts if _printed_losses(text)]
    assert len(printing) == 2  # the tutorial's loop, then scratchnn's fit
    for text in printing:
        np.testing.assert_allclose(_printed_losses(text), expected, rtol=0, atol=1e-10)
    difference = re.search(r"largest difference from the tutorial: (\S+)", printing[1])
    assert float(difference.group(1)) < 1e-10


def test_a_quiet_fit_does_not_import_the_notebook_module():
    # (a table's two quiet fits spent a few ms importing it, and html, for no display)
    shown = (
        "import sys, numpy as np, scratchnn as snn\n"
        "model = snn.MLP([2, 4, 1], seed=0)\n"
        "model.fit(np.zeros((8, 2)), np.zeros(8), loss='mse', optimizer='adam', epochs=1,\n"
        "          verbose={verbose})\n"
        "print('scratchnn.notebook' in sys.modules)\n"
    )
    imported = {}
    for verbose in (0, 2):
        run = subprocess.run(
            [sys.executable, "-c", shown.format(verbose=verbose)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        imported[verbose] = run.stdout.strip().splitlines()[-1]
    assert imported == {0: "False", 2: "True"}  # a display asks whether it is in a kernel
