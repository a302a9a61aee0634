"""The command line over generated hostile tables (issue 27): duplicate and empty column names,
1-3 rows, decimal commas, dates, TRUE/FALSE, infinite and huge numbers, NUL bytes, UTF-16 and
UTF-32, zip archives and spreadsheets renamed .csv, thousands of columns or labels. ``train``
then ``predict`` on each: every run is a correct result or exactly one clean error line (no
traceback, no "unexpected" error), and no file changes except the output the command names.

The number of examples is bounded (``tests/_fuzz.py``: reproducible in ``make test``, more
with ``SCRATCHNN_FUZZ_EXAMPLES``)."""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnn as snn
from _cli import error_line, run, snapshot
from _fuzz import fuzz_settings
from scratchnn.tables import read_table

FAST = ["--epochs", "1", "--layers", "4", "--batch-size", "8", "--quiet"]
KINDS = ("number", "whole", "decimal_comma", "date", "boolean", "text", "empty", "constant",
         "infinite", "huge", "mixed")  # fmt: skip
TARGETS = ("classes", "number", "identifier", "boolean", "decimal_comma", "some_missing", "text")
NAMES = st.one_of(
    st.sampled_from(["a", "b", "x", "", " ", "a b", "größe", "y", "Unnamed: 0", "1", "NA"]),
    st.text(alphabet="abxyz_ é,;\"'", min_size=1, max_size=6),
)


def _cells(kind: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` cells of a column of ``kind``."""
    if kind == "number":
        return [f"{v:.4g}" for v in rng.normal(size=n)]
    if kind == "whole":
        return [str(v) for v in rng.integers(0, 4, n)]
    if kind == "decimal_comma":
        return [f"{v:.2f}".replace(".", ",") for v in rng.normal(size=n)]
    if kind == "date":
        months, days = rng.integers(1, 13, n), rng.integers(1, 29, n)
        return [f"2024-{m:02d}-{d:02d}" for m, d in zip(months, days, strict=True)]
    if kind == "boolean":
        return [str(v) for v in rng.choice(["TRUE", "FALSE"], n)]
    if kind == "text":
        words = ["red", "blue", "a,b", 'say "hi"', "line\nbreak", "é"]
        return [str(v) for v in rng.choice(words, n)]
    if kind == "empty":
        return [str(v) for v in rng.choice(["", "NA", "?"], n)]
    if kind == "constant":
        return ["7"] * n
    if kind == "infinite":
        return [str(v) for v in rng.choice(["1", "2.5", "inf", "-inf", "1e999"], n)]
    if kind == "huge":
        return [str(v) for v in rng.choice(["1e308", "-1e308", "1e-320", "3.5e38", "0"], n)]
    return [str(v) for v in rng.choice(["1", "x", "", "2.5", "TRUE"], n)]  # mixed


def _target(kind: str, n: int, rng: np.random.Generator) -> list[str]:
    if kind == "classes":
        return [str(v) for v in rng.choice(["cat", "dog", "owl"], n)]
    if kind == "number":
        return [f"{v:.5g}" for v in rng.normal(10, 3, n)]
    if kind == "identifier":
        return [f"id{i}" for i in range(n)]
    if kind == "boolean":
        return [str(v) for v in rng.choice(["TRUE", "FALSE"], n)]
    if kind == "decimal_comma":
        return [f"{v:.2f}".replace(".", ",") for v in rng.normal(size=n)]
    if kind == "some_missing":
        return [str(v) for v in rng.choice(["0", "1", "", "NA"], n)]
    return [str(v) for v in rng.choice(["a", "b", "", "\x00"], n)]  # text with a NUL


@st.composite
def hostile_tables(draw, columns_of: tuple[str, ...] = ()) -> dict:
    """A generated table file: its bytes, the target to name, and how it was made.
    ``columns_of``: names that the table mostly holds (the columns a model was trained on)."""
    n = draw(st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(5, 40), st.integers(5, 40)))
    k = draw(st.integers(1, 5))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=k, max_size=k))
    distinct = draw(st.sampled_from([True, True, False]))  # duplicate names a third of the time
    names = draw(st.lists(NAMES, min_size=k, max_size=k, unique=distinct))
    if columns_of:
        names = [*columns_of, *names][: max(k, draw(st.integers(1, len(columns_of))))]
        names = draw(st.permutations(names))
        kinds = (kinds * len(names))[: len(names)]
    target_kind = draw(st.sampled_from(TARGETS))
    target = draw(st.sampled_from(["y", "y", "y", "a", "", "missing"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    columns = [_cells(kind, n, rng) for kind in kinds]
    if target != "missing":
        names, columns = [*names, target], [*columns, _target(target_kind, n, rng)]
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(names)
    writer.writerows(zip(*columns, strict=True))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-32", "cp1252"]))
    try:
        data = text.getvalue().encode(encoding)
    except UnicodeEncodeError:
        data = text.getvalue().encode("utf-8")
    container = draw(st.sampled_from(["plain"] * 5 + ["zip", "xlsx", "gzip", "nul", "cut"]))
    if container == "zip":
        data = _zip({"inner.csv": data})
    elif container == "xlsx":
        data = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"})
    elif container == "gzip":
        data = gzip.compress(data, mtime=0)
    elif container == "nul":
        at = draw(st.integers(0, max(0, len(data) - 1)))
        data = data[:at] + b"\x00" + data[at:]
    elif container == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    return {"data": data, "target": target, "decimal": draw(st.sampled_from([None, None, ","]))}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _clean(status: int, err: str) -> str | None:
    """None for a success; otherwise the one error line, checked for being a real message."""
    if status == 0:
        assert "Traceback" not in err, err
        return None
    line = error_line(status, err)
    assert "unexpected" not in line and "--debug" not in line, line
    assert ".tmp" not in line, line
    return line


def train_then_predict(folder: Path, data: bytes, target: str, options: list[str]) -> None:
    """``train`` on the table then ``predict`` with the model; check both as promised."""
    table = folder / "t.csv"
    table.write_bytes(data)
    model, predictions = folder / "model.npz", folder / "predictions.csv"
    before = snapshot(folder)
    status, _, err = run("train", table, "--target", target, *options, *FAST, "--out", model)
    after = snapshot(folder)
    if _clean(status, err) is not None:
        assert after == before  # a refused run leaves everything as it was
        return
    assert set(after) == {*before, "model.npz"}
    assert {k: v for k, v in after.items() if k != "model.npz"} == before
    assert snn.load(model).preprocessor is not None
    status, _, err = run("predict", model, table, "--out", predictions)
    final = snapshot(folder)
    assert {k: v for k, v in final.items() if k != "predictions.csv"} == after
    if _clean(status, err) is None:
        decimal = options[1] if options else None
        rows = read_table(table, decimal=decimal).n_rows
        lines = predictions.read_text().splitlines()
        assert lines[0].startswith("prediction") and len(lines) == rows + 1


@fuzz_settings(40)
@given(hostile_tables())
def test_train_and_predict_on_hostile_tables(tmp_path, table):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    options = ["--decimal", table["decimal"]] if table["decimal"] else []
    train_then_predict(folder, table["data"], table["target"], options)


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    """A model trained on an ordinary table of a (numbers), b (categories) and y (classes)."""
    folder = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(0)
    rows = [["a", "b", "y"]] + [
        [f"{v:.3f}", str(rng.choice(["red", "blue"])), str(i % 2)]
        for i, v in enumerate(rng.normal(size=40))
    ]
    (folder / "t.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    status, _, err = run("train", folder / "t.csv", "--target", "y", *FAST,
                         "--out", folder / "model.npz")  # fmt: skip
    assert status == 0, err
    return folder / "model.npz"


@fuzz_settings(40)
@given(table=hostile_tables(columns_of=("a", "b", "y")))
def test_predict_on_hostile_tables(tmp_path, good_model, table):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path, predictions = folder / "p.csv", folder / "predictions.csv"
    path.write_bytes(table["data"])
    options = ["--decimal", table["decimal"]] if table["decimal"] else []
    model_bytes, before = good_model.read_bytes(), snapshot(folder)
    status, _, err = run("predict", good_model, path, "--out", predictions, *options)
    after = snapshot(folder)
    assert good_model.read_bytes() == model_bytes
    assert {k: v for k, v in after.items() if k != "predictions.csv"} == before
    if _clean(status, err) is None:
        rows = read_table(path, decimal=table["decimal"]).n_rows
        lines = predictions.read_text().splitlines()
        assert lines[0] == "prediction,p_0,p_1" and len(lines) == rows + 1
    else:
        assert after == before


def _csv(names, columns) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(names)
    writer.writerows(zip(*columns, strict=True))
    return text.getvalue().encode()


def test_thousands_of_columns(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"c{j}" for j in range(3000)] + ["y"]
    columns = [[f"{v:.3g}" for v in rng.normal(size=20)] for _ in range(3000)]
    columns.append([str(v) for v in rng.integers(0, 2, 20)])
    train_then_predict(tmp_path, _csv(names, columns), "y", [])
    assert (tmp_path / "predictions.csv").exists()


def test_thousands_of_labels(tmp_path):
    n = 2000
    data = _csv(["x", "y"], [[str(i % 13) for i in range(n)], [f"label{i}" for i in range(n)]])
    table = tmp_path / "t.csv"
    table.write_bytes(data)
    status, _, err = run("train", table, "--target", "y", *FAST, "--out", tmp_path / "m.npz")
    assert status == 0, err
    assert "distinct labels in 2,000 rows" in err  # warned about: an identifier, not classes
