"""The command line's failure promise: every failure is one line on stderr and a non-zero
exit (MemoryError, huge --layers, over-long CSV fields and malformed model files included),
and warnings never come out as pages of NumPy text."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from _cli import cli_main, run
from _model_files import small_model, with_metadata, write
from scratchnn.cli import failures


def one_line_error(status: int, stderr: str, *fragments: str) -> str:
    assert status not in (0, None), stderr
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "error:" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _csv(path: Path, rows: int = 30, long_field: int = 0) -> Path:
    lines = ["a,b,y"] + [f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(rows)]
    if long_field:
        lines.insert(2, "x" * long_field + ",1,0")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_layer_too_large_for_memory_is_one_line(folder):
    status, _, err = run("train", "xor", "--layers", 10**13, "--epochs", 1, "--quiet")
    one_line_error(status, err, "memory")
    assert not (folder / "model.npz").exists()


def test_a_memory_error_anywhere_is_one_line(folder, monkeypatch):
    def exhausted(args):
        raise MemoryError("Unable to allocate 146. TiB for an array")

    monkeypatch.setattr(cli_main.commands, "info", exhausted)
    status, _, err = run("info", "x.npz")
    one_line_error(status, err, "not enough memory: Unable to allocate 146. TiB", "--layers")


def test_a_csv_field_longer_than_the_csv_limit_is_one_line(folder):
    path = _csv(folder / "long.csv", long_field=200_000)
    status, _, err = run("train", path, "--target", "y", "--epochs", 1, "--quiet")
    one_line_error(status, err, "longer than 131,072 characters")


@pytest.mark.parametrize("command", ["info", "evaluate", "predict", "export"])
@pytest.mark.parametrize(
    "edit",
    [
        lambda meta: meta["metadata"].update(classes="no,yes"),
        lambda meta: meta["metadata"].update(classes=["a", "b", "c", "d"]),
        lambda meta: meta["metadata"].update(training="fast"),
        lambda meta: meta["metadata"].update(metrics={"test": {"accuracy": "high"}}),
        lambda meta: meta["metadata"].update(feature_names=[1, 2, 3]),
        lambda meta: meta.update(metadata=[]),
        lambda meta: meta["schedule"]["state"].update(last_epoch=float("inf")),
    ],
)
def test_a_model_file_with_malformed_metadata_is_one_line(folder, command, edit):
    from scratchnn import io as snn_io

    path = write(folder, with_metadata(snn_io.dumps(small_model()), edit))
    data = _csv(folder / "data.csv")
    args = {"info": [path], "export": [path, folder / "m.onnx"]}.get(command, [path, data])
    status, _, err = run(command, *args)
    one_line_error(status, err, str(path), "damaged or inconsistent")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_fifo_given_as_the_model_is_one_line_without_blocking(folder):
    os.mkfifo(folder / "pipe.npz")
    status, _, err = run("info", folder / "pipe.npz")
    one_line_error(status, err, "FIFO")


@pytest.mark.parametrize(
    "args",
    [
        ["info", "missing.npz"],
        ["info", "."],
        ["evaluate", "missing.npz", "xor"],
        ["train", "missing.csv"],
        ["train", "xor", "--layers", "1e3"],
        ["train", "xor", "--layers", "-4"],
        ["train", "xor", "--layers", "9" * 5000],
        ["train", "xor", "--epochs", "0"],
        ["train", "xor", "--lr", "nan"],
        ["train", "xor", "--lr", "inf"],
        ["train", "xor", "--seed", "1e5"],
        ["train", "xor", "--val-split", "1"],
        ["train", "xor", "--out", "no/such/folder/model.npz"],
        ["predict", "model.npz"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_invocations_are_one_line(folder, args):
    status, _, err = run(*args)
    one_line_error(status, err)


def test_an_unexpected_error_is_one_line_that_names_it(folder, monkeypatch):
    def broken(args):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(cli_main.commands, "info", broken)
    status, _, err = run("info", "x.npz")
    one_line_error(status, err, "unexpected ZeroDivisionError", "--debug")
    assert status == 1
    with pytest.raises(ZeroDivisionError):  # --debug shows the real thing
        run("--debug", "info", "x.npz")


def test_numeric_warnings_before_a_failure_become_part_of_its_one_line(folder, monkeypatch):
    def overflowing(args):
        np.float32(3e38) * np.float32(10)  # NumPy warns: overflow encountered
        raise ValueError("the loss became inf")

    monkeypatch.setattr(cli_main.commands, "info", overflowing)
    status, _, err = run("info", "x.npz")
    one_line_error(status, err, "the loss became inf", "(after the warning: overflow encountered")


def test_a_diverging_training_run_is_one_line(folder):
    """An overflowing learning rate: whatever NumPy warns on the way, the user sees one line."""
    data = _csv(folder / "data.csv", rows=60)
    status, _, err = run(
        "train", data, "--target", "y", "--lr", "1e30", "--optimizer", "sgd",
        "--schedule", "none", "--epochs", "2", "--quiet",
    )  # fmt: skip
    one_line_error(status, err)


def test_warnings_of_a_successful_run_are_summed_up_in_one_line():
    with failures.WarningSummary() as summary:
        warnings.simplefilter("always")  # as a user's default filters, not pytest's "error"
        for _ in range(3):
            warnings.warn("overflow encountered in matmul", RuntimeWarning, stacklevel=1)
            np.float32(3e38) * np.float32(10)  # NumPy's own overflow warning
    assert summary.line() is not None
    assert summary.line().startswith("overflow encountered in matmul")
    assert "1 other warning" in summary.line()


def test_describe_folds_every_message_into_one_line():
    assert failures.describe(ValueError("two\n   lines")) == "two lines"
    assert failures.describe(KeyError("key")) == "key"
    assert failures.describe(MemoryError()).startswith("not enough memory.")
    assert failures.describe(RecursionError("deep")).startswith("unexpected RecursionError: deep")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_train_over_a_private_model_file_keeps_it_private(folder):
    path = folder / "model.npz"
    path.write_bytes(b"")
    os.chmod(path, 0o600)
    status, _, err = run("train", "xor", "--epochs", 1, "--layers", 4, "--quiet", "--out", path)
    assert status == 0, err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert snn.load(path).epochs_trained == 1


def test_the_real_command_prints_one_line_and_no_numpy_warning_text(tmp_path):
    """As a user runs it (a subprocess, Python's default warning filters)."""
    data = _csv(tmp_path / "data.csv", rows=60)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONWARNINGS", None)
    result = subprocess.run(
        [sys.executable, "-m", "scratchnn", "train", str(data), "--target", "y",
         "--lr", "1e30", "--optimizer", "sgd", "--schedule", "none", "--epochs", "2",
         "--quiet", "--out", str(tmp_path / "m.npz")],
        capture_output=True, text=True, timeout=120, env=env, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("scratchnn train: error: ")
    assert "RuntimeWarning" not in result.stderr
