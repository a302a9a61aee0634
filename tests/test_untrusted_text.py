"""Untrusted text stays inert (issue 29): escape sequences and other control characters in a
table's header and labels, or in a model file's metadata, are printed escaped by train,
info, predict and their errors; labels that a spreadsheet would run as formulas are written
to predictions CSVs with a leading apostrophe (``--raw-labels`` keeps them as they are)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import scratchnn as snn
from _cli import error_line, run
from scratchnn.cli.terminal import InertStream, printable, spreadsheet_safe

ESC = "\x1b"
HOSTILE_LABELS = ['=HYPERLINK("http://example.invalid";"x")', "+cmd", "@SUM(1)", "-2+3"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A table with an escape sequence in a column name and in a label, formula-like labels,
    and the model trained on it."""
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    labels = [*HOSTILE_LABELS, f"{ESC}]0;owned{chr(7)}title", "-1"]
    path = folder / "t.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"a{ESC}[31mRED{ESC}[0m", f"b{ESC}[2J", "y"])
        for i in range(60):
            writer.writerow([f"{rng.normal():.4f}", rng.choice(["u", "v"]), labels[i % 6]])
    model = folder / "m.npz"
    status, out, err = run("train", path, "--target", "y", "--epochs", "2", "--out", model)
    assert status == 0, err
    return path, model, out + err


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_train_prints_names_and_labels_escaped(hostile):
    _, _, printed = hostile
    assert ESC not in printed and "\x07" not in printed
    assert "a\\x1b[31mRED\\x1b[0m" in printed


def test_info_prints_metadata_escaped(hostile, tmp_path):
    _, model, _ = hostile
    status, out, err = run("info", model)
    assert status == 0, err
    assert ESC not in out + err and "\x07" not in out + err
    assert "\\x1b]0;owned\\x07title" in out  # the class list
    # metadata written by hand into a model file: escaped too
    plain = snn.Sequential([snn.Dense(2, 2)], seed=0)
    plain.metadata = {"dataset": f"d{ESC}[2J.csv", "classes": ["x", "y"], "target": "t"}
    plain.save(tmp_path / "p.npz")
    status, out, err = run("info", tmp_path / "p.npz")
    assert status == 0, err
    assert ESC not in out and "d\\x1b[2J.csv" in out


def test_errors_quote_untrusted_text_escaped(hostile):
    path, _, _ = hostile
    status, _, err = run("train", path, "--target", f"{ESC}[31mnope")
    line = error_line(status, err)
    assert ESC not in err
    assert "\\x1b[31mnope" in line and "a\\x1b[31mRED\\x1b[0m" in line


def test_predictions_csv_defuses_formulas_and_keeps_numbers(hostile, tmp_path):
    path, model, _ = hostile
    out_path = tmp_path / "p.csv"
    status, _, err = run("predict", model, path, "--out", out_path)
    assert status == 0, err
    text = out_path.read_text()
    assert ESC not in text and "\x07" not in text
    rows = _rows(out_path.read_bytes().decode())
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        assert not cell.startswith(("=", "+", "@")), cell
        assert not cell.startswith("-") or cell == "-1" or cell.startswith("-0"), cell
    predicted = {row[0] for row in rows[1:]}
    allowed = {"'" + label for label in HOSTILE_LABELS} | {"-1", "\\x1b]0;owned\\x07title"}
    assert predicted <= allowed, predicted - allowed
    # On standard output the same.
    status, out, _ = run("predict", model, path)
    assert status == 0 and ESC not in out
    assert {row[0] for row in _rows(out)[1:]} <= allowed


def test_raw_labels_writes_the_labels_as_they_are(hostile, tmp_path):
    path, model, _ = hostile
    out_path = tmp_path / "raw.csv"
    status, _, err = run("predict", model, path, "--out", out_path, "--raw-labels")
    assert status == 0, err
    rows = _rows(out_path.read_bytes().decode())
    raw = set(HOSTILE_LABELS) | {"-1", f"{ESC}]0;owned\x07title"}
    assert {row[0] for row in rows[1:]} <= raw
    assert f"p_{ESC}]0;owned\x07title" in rows[0]


def test_the_helpers():
    assert printable(f"x{ESC}[0m\u202ey") == "x\\x1b[0m\\u202ey"
    assert printable("tab\tline\nend\r") == "tab\tline\nend\r"
    assert printable("a\nb", lines=False) == "a\\nb"
    for cell in ["=1+1", "+1+1", "-1+1", "@A1", "\tx", "\rx"]:
        assert spreadsheet_safe(cell).startswith("'"), cell
    for cell in ["-1", "+2.5", "-1e-3", "cat", "", "a=b", 7, -3]:
        assert spreadsheet_safe(cell) == str(cell), cell

    class Sink:
        def __init__(self):
            self.text = ""

        def write(self, text):
            self.text += text

        def isatty(self):
            return True

    sink = Sink()
    stream = InertStream(sink)
    assert stream.write(f"{ESC}[2J\n") == 5
    assert sink.text == "\\x1b[2J\n" and stream.isatty()
