"""No command writes over its own inputs: every writing command (train, predict, export,
search, compare, demo) refuses an output that is one of its inputs (by name, through a
symbolic or a hard link), a folder, a special file or a file of another kind (unless
``--force``), before any work; every input is byte-identical afterwards, and no error names
a temporary file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from _cli import error_line, run, snapshot
from _tables import write_csv
from scratchnn import _files

FAST = ["--epochs", "1", "--layers", "4", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A folder with data.csv and the model m.npz trained on it."""
    folder = tmp_path_factory.mktemp("outputs")
    rows = [[i % 7, (i * 3) % 5, i % 2] for i in range(30)]
    write_csv(folder / "data.csv", ["a", "b", "y"], rows)
    status, _, err = run("train", folder / "data.csv", "--target", "y", *FAST,
                         "--out", folder / "m.npz")  # fmt: skip
    assert status == 0, err
    return folder


@pytest.fixture
def folder(trained, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the trained folder, as the working directory."""
    for name in ("data.csv", "m.npz"):
        (tmp_path / name).write_bytes((trained / name).read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refused(folder: Path, *args: object, fragments=()) -> str:
    """Run a command that must be refused; check its one error line and that no file under
    ``folder`` changed (nor appeared)."""
    before = snapshot(folder)
    status, out, err = run(*args)
    line = error_line(status, err)
    assert ".tmp" not in line, line
    for fragment in fragments:
        assert fragment in line, line
    assert snapshot(folder) == before
    assert "Training on" not in out  # refused before any work
    return line


TRAIN = ["train", "data.csv", "--target", "y", *FAST]
SEARCH = ["search", "data.csv", "--target", "y", "--trials", "1", "--epochs", "1",
          "--widths", "4", "--depths", "1", "--batch-sizes", "8", "--lrs", "0.01",
          "--activations", "relu", "--workers", "0"]  # fmt: skip


@pytest.mark.parametrize(
    "args, fragments",
    [
        ([*TRAIN, "--out", "data.csv"], ["--out data.csv", "DATA data.csv"]),
        (["predict", "m.npz", "data.csv", "--out", "m.npz"], ["--out m.npz", "MODEL m.npz"]),
        (["predict", "m.npz", "data.csv", "--out", "data.csv"], ["DATA data.csv"]),
        (["export", "m.npz", "m.npz"], ["OUT.onnx m.npz", "MODEL m.npz"]),
        (["export", "m.npz", "data.csv"], ["data.csv", "--force"]),
        ([*SEARCH, "--results", "data.csv"], ["--results data.csv", "DATA data.csv"]),
        ([*SEARCH, "--out", "data.csv"], ["--out data.csv", "DATA data.csv"]),
        ([*SEARCH, "--out", "r.npz", "--results", "r.npz"], ["--out r.npz", "--results r.npz"]),
        (["compare", "--data", "data.csv", "--target", "y", "--plot", "data.csv"],
         ["--plot data.csv", "--data data.csv"]),
        (["demo", "xor", "--plot", "m.npz"], ["--plot m.npz", "model file", "--force"]),
        ([*TRAIN, "--out", "x.npz", "--plot", "x.npz"], ["--out x.npz", "--plot x.npz"]),
        ([*TRAIN, "--out", "data.csv", "--force"], ["DATA data.csv"]),  # never an input
    ],
)  # fmt: skip
def test_a_command_never_writes_over_its_input(folder, args, fragments):
    refused(folder, *args, fragments=fragments)


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_link_to_an_input_is_the_input(folder, link):
    (os.symlink if link == "symbolic" else os.link)("data.csv", "other.csv")
    line = refused(folder, "predict", "m.npz", "data.csv", "--out", "other.csv")
    assert "--out other.csv is the same file as DATA data.csv" in line
    refused(folder, *TRAIN, "--out", "other.csv", fragments=["DATA data.csv"])


def test_an_output_of_another_kind_needs_force(folder):
    write_csv(folder / "table.csv", ["a"], [[1]])
    line = refused(folder, *TRAIN, "--out", "table.csv")
    assert "holds a text file" in line and "--force" in line
    (folder / "m2.npz").write_bytes((folder / "m.npz").read_bytes())
    refused(folder, "predict", "m.npz", "data.csv", "--out", "m2.npz",
            fragments=["scratchnn model file", "--force"])  # fmt: skip
    status, _, err = run("predict", "m.npz", "data.csv", "--out", "m2.npz", "--force")
    assert status == 0, err
    assert (folder / "m2.npz").read_text().startswith("prediction")


def test_the_same_kind_is_replaced_as_before(folder):
    for _ in range(2):  # predictions over predictions, a model over a model
        status, _, err = run("predict", "m.npz", "data.csv", "--out", "p.csv")
        assert status == 0, err
        status, _, err = run(*TRAIN, "--out", "again.npz")
        assert status == 0, err
    assert (folder / "data.csv").read_bytes().startswith(b"a,b,y")


def test_a_data_archive_is_not_a_model_to_replace(folder):
    import numpy as np

    np.savez(folder / "table.npz", a=np.arange(30.0), b=np.arange(30.0) % 3, y=np.arange(30) % 2)
    refused(folder, *TRAIN, "--out", "table.npz", fragments=["archive", "--force"])


def test_a_folder_or_a_device_is_refused_by_its_own_name(folder):
    (folder / "out").mkdir()
    line = refused(folder, "predict", "m.npz", "data.csv", "--out", "out")
    assert line.endswith("--out out is a folder; name a file for a CSV table, e.g. out/out.csv.")
    refused(folder, *TRAIN, "--out", "out", fragments=["--out out is a folder"])
    if os.path.exists("/dev/null"):
        refused(folder, "predict", "m.npz", "data.csv", "--out", "/dev/null",
                fragments=["not a regular file"])  # fmt: skip


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_an_unwritable_place_is_named_as_given(folder):
    line = refused(folder, "predict", "m.npz", "data.csv", "--out", "/proc/x.csv")
    assert "Cannot write --out /proc/x.csv" in line
    refused(folder, *TRAIN, "--out", "/proc/m.npz", fragments=["Cannot write --out /proc/m.npz"])


def test_atomic_write_names_the_target_not_its_temporary_file(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(OSError) as caught, _files.atomic_write(tmp_path / "folder") as handle:
        handle.write(b"x")
    assert ".tmp" not in str(caught.value) and "folder" in str(caught.value)
    assert os.listdir(tmp_path) == ["folder"]


def test_plot_without_matplotlib_fails_before_training(folder, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    line = refused(folder, *TRAIN, "--out", "new.npz", "--plot", "curves.png")
    assert "--plot curves.png needs matplotlib" in line and "pip install" in line
    refused(folder, "demo", "xor", "--plot", "b.png", fragments=["needs matplotlib"])
    refused(folder, "compare", "--data", "xor", "--plot", "c.png", fragments=["needs matplotlib"])


def test_check_output_path_directly(tmp_path):
    data = write_csv(tmp_path / "d.csv", ["a"], [[1]])
    with pytest.raises(ValueError, match="is the same file as DATA"):
        _files.check_output_path(tmp_path / "." / "d.csv", [("DATA", data)], kind="table")
    _files.check_output_path(tmp_path / "new.csv", [data], kind="table")  # nothing there yet
    _files.check_output_path(data, [], kind="table")  # a table over a table
    with pytest.raises(FileExistsError, match="not a model file"):
        _files.check_output_path(data, [], kind="model")
    _files.check_output_path(data, [], kind="model", force=True)
    with pytest.raises(FileNotFoundError, match="the folder"):
        _files.check_output_path(tmp_path / "no" / "x.csv", [], kind="table")
    with pytest.raises(ValueError, match="kind must be one of"):
        _files.check_output_path(data, [], kind="pickle")
    assert sorted(os.listdir(tmp_path)) == ["d.csv"]  # the probes left nothing behind
