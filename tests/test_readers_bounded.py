"""Readers in proportion to the data (issue 29): the CSV reader streams the file and keeps
each column of numbers as float64 and each other column as one text array, as wide as its own
longest cell, parsed a batch of rows at a time, so its peak memory is under 3 times the
columns it returns (it was 10 to 70 times the file); a device, FIFO or socket given as a data
file is refused unread, as it is as a model file."""

from __future__ import annotations

import csv
import io
import os
import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _cli import error_line, run
from scratchnn import DataFileError
from scratchnn.tables import csv_columns, text_source
from scratchnn.tables.reading import read_table, row_fingerprints
from scratchnn.tables.values import MISSING_TOKENS


def _table_text(rows: int, seed: int = 0) -> str:
    """Ten numeric columns, a city and a note that is long in 1% of the rows (the case
    where one wide matrix of every cell made each cell as wide as the longest note)."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 10)).round(6)
    cities = np.array(["Paris", "Berlin", "Madrid", "Rome", "Oslo"])[rng.integers(5, size=rows)]
    notes = np.where(rng.random(rows) < 0.01, "a much longer free-text note on this row " * 2, "ok")
    header = ",".join([*(f"x{i}" for i in range(10)), "city", "note", "y"])
    lines = [
        ",".join(f"{v:.6g}" for v in values) + f",{city},{note},{i % 2}"
        for i, (values, city, note) in enumerate(zip(numbers, cities, notes, strict=True))
    ]
    return header + "\n" + "\n".join(lines) + "\n"


def _peak_of_reading(path, **options):
    tracemalloc.start()
    try:
        table = read_table(path, **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return table, peak


def test_reading_a_csv_peaks_under_three_times_its_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(_table_text(25_000))
    table, peak = _peak_of_reading(path)
    assert table.n_rows == 25_000 and len(table.columns) == 13
    # Numbers are float64 columns, text columns text, each as wide as its own longest cell.
    assert all(table.columns[f"x{i}"].dtype == np.float64 for i in range(10))
    assert table.columns["y"].dtype == np.float64
    assert table.columns["city"].dtype == np.dtype("<U6")
    columns = sum(values.nbytes for values in table.columns.values())
    # The columns, one column being assembled (here the notes, as wide as the longest note:
    # 3/4 of all) and one batch of cells; text arrays of every cell (4 bytes a character,
    # the last reader) peaked at 7x the file, a list of Python strings per cell at 60x.
    assert peak < 3 * columns, f"peak {peak / columns:.2f}x the columns"


def test_reading_a_numeric_csv_peaks_at_about_its_columns(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "n.csv"
    numbers = rng.normal(size=(100_000, 8)).round(4)
    text = "\n".join(",".join(f"{v:.4g}" for v in row) for row in numbers)
    path.write_text(",".join(f"x{i}" for i in range(8)) + "\n" + text + "\n")
    table, peak = _peak_of_reading(path)
    assert table.n_rows == 100_000
    np.testing.assert_allclose(np.column_stack(list(table.columns.values())), numbers, rtol=1e-3)
    columns = sum(values.nbytes for values in table.columns.values())
    assert columns == 100_000 * 8 * 8
    # the columns and a fixed working set (a chunk of bytes, its text, a batch of cells)
    assert peak < 3 * columns, f"peak {peak / columns:.2f}x the columns"


#: Cells for the property test: numbers, missing tokens, an infinite number (which keeps its
#: column text), text, quoted delimiters, quotes and line breaks, a two-byte character.
_CELLS = ["1", " 2.5 ", "-3e2", "", "NA", "inf", "a,b", 'say "hi"', "x\ny", "r\r\nn", "é"]


def _expected_column(texts: list[str]) -> list:
    """A column as the reader gives it: float64 (NaN for a missing token) when every cell is
    a finite number or a token, else its stripped text."""

    def number(text):
        try:
            value = float(text)
        except ValueError:
            return None
        return value if np.isfinite(value) else None

    if all(t in MISSING_TOKENS or number(t) is not None for t in texts):
        return [np.nan if t in MISSING_TOKENS else number(t) for t in texts]
    return texts


@settings(max_examples=80, deadline=None)
@given(
    cells=st.lists(
        st.lists(st.sampled_from(_CELLS), min_size=3, max_size=3), min_size=1, max_size=40
    ),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    chunk=st.integers(1, 64),
    piece=st.integers(1, 64),
    batch=st.integers(1, 20),
    numbers=st.booleans(),
)
def test_the_streamed_reader_reads_what_one_csv_pass_reads(
    tmp_path_factory, cells, line_end, chunk, piece, batch, numbers
):
    """Whatever the chunks of bytes, the pieces of text and the batches of rows (made tiny
    here, so they cut two-byte characters, quoted line breaks, \\r\\n pairs and batches
    everywhere, and a column can turn out to hold text after batches of numbers: it is read
    again), the columns and line numbers are those of one csv.reader pass over the whole
    text, with the columns of numbers parsed."""
    out = io.StringIO()
    csv.writer(out, lineterminator=line_end).writerows([["a", "b", "c"], *cells])
    text = out.getvalue()
    path = tmp_path_factory.mktemp("r") / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, lines = [], []
    for row in reader:
        if len(row) > 1 or (row and row[0].strip()):
            rows.append(row)
            lines.append(reader.line_num)
    patch = pytest.MonkeyPatch()
    patch.setattr(text_source, "CHUNK_BYTES", chunk)
    patch.setattr(text_source, "PIECE_CHARS", piece)
    patch.setattr(csv_columns, "_SNIFF_CHARS", piece)
    patch.setattr(csv_columns, "_BATCH_CELLS", batch)
    patch.setattr(csv_columns, "_MIN_BATCH_ROWS", 1)
    try:
        if len(rows) < 2 or any(len(row) != 3 for row in rows):  # e.g. x\ny unquoted
            with pytest.raises(DataFileError, match=r"no data rows|but the header has 3"):
                read_table(path, delimiter=",", numbers=numbers)
            return
        table = read_table(path, delimiter=",", numbers=numbers, fingerprints=True)
    finally:
        patch.undo()
    expected = np.char.strip(np.array(rows[1:], dtype=str))
    assert list(table.columns) == ["a", "b", "c"]
    for j, name in enumerate(table.columns):
        texts = expected[:, j].tolist()
        want = _expected_column(texts) if numbers else texts
        got = table.columns[name]
        assert got.dtype == (np.float64 if want is not texts else got.dtype)
        assert got.dtype.kind in "fU"
        np.testing.assert_array_equal(got, np.array(want, dtype=got.dtype))
    assert table.lines.tolist() == lines[1:]
    # the rows' fingerprints are those of their text as written, floats or not
    written = {name: expected[:, j] for j, name in enumerate(table.columns)}
    assert table.fingerprints.tolist() == row_fingerprints(written).tolist()
    assert table.take(np.array([0])).fingerprints.tolist() == table.fingerprints[:1].tolist()


def test_a_column_with_text_after_batches_of_numbers_is_read_again_as_text(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("1;2\n" + "".join(f"{i};{i % 3}\n" for i in range(999)) + "n/a;1\n")
    monkeypatch.setattr(csv_columns, "_BATCH_CELLS", 20)
    table = read_table(path)
    assert table.columns["1"].tolist() == [str(i) for i in range(999)] + ["n/a"]
    assert len(table.notices) == 2  # semicolons, numbers as names: said once each
    assert table.columns["2"].dtype == np.float64 and table.columns["2"][-1] == 1.0
    assert table.lines.tolist() == list(range(2, 1002))


def test_missing_tokens_are_those_given_numbers_included(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,-999,?\nNA,2,3\n,4,5\n")
    table = read_table(path)
    np.testing.assert_array_equal(table.columns["a"], [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(table.columns["b"], [-999.0, 2.0, 4.0])
    np.testing.assert_array_equal(table.columns["c"], [np.nan, 3.0, 5.0])
    table = read_table(path, missing_tokens=["", "-999"])
    assert table.columns["a"].tolist() == ["1", "NA", ""]  # "NA" is text now
    np.testing.assert_array_equal(table.columns["b"], [np.nan, 2.0, 4.0])
    assert table.columns["c"].tolist() == ["?", "3", "5"]


# Devices, FIFOs and sockets as data: refused unread, in the words used for model files


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_as_data_is_refused_unread(device):
    with pytest.raises(DataFileError, match="character device, not a regular file, so it was"):
        read_table(device)
    status, _, err = run("train", device, "--target", "y")
    assert "character device, not a regular file" in error_line(status, err)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_fifo_as_data_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    outcome: list[object] = []

    def attempt() -> None:
        try:
            read_table(fifo)
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(10)
    assert outcome and isinstance(outcome[0], DataFileError), outcome
    assert "FIFO (named pipe), not a regular file" in str(outcome[0])
    model = tmp_path / "m.npz"
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("x,y\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n")
    assert run("train", csv_path, "--target", "y", "--epochs", "1", "--out", model)[0] == 0
    status, _, err = run("predict", model, fifo)
    assert "FIFO (named pipe), not a regular file" in error_line(status, err)


def test_a_table_larger_than_memory_is_refused_up_front_with_its_size(tmp_path, monkeypatch):
    import gzip

    path = tmp_path / "t.csv"
    path.write_text("x,y\n" + "1,a\n" * 5_000)
    # 20 kB of text: 8 bytes a number and 4 a letter make 60 kB of columns
    monkeypatch.setattr(csv_columns, "_physical_memory", lambda: 40_000.0)  # a 40 kB machine
    with pytest.raises(DataFileError, match=r"MiB of text; reading it as columns takes about"):
        read_table(path)
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))  # 20 kB of text in a few hundred bytes
    with pytest.raises(DataFileError, match="once decompressed") as caught:
        read_table(packed)
    assert "scratchnn.streaming" in str(caught.value)
    monkeypatch.setattr(csv_columns, "_physical_memory", lambda: 200_000.0)
    assert read_table(packed).n_rows == 5_000


@pytest.mark.parametrize("chunk", [1, 3, 64, 2**20])
@pytest.mark.parametrize("kind", ["gzip", "bz2", "xz", "zip", "utf-16", "utf-8-sig"])
def test_compressed_and_encoded_files_read_alike_in_any_chunks(tmp_path, monkeypatch, kind, chunk):
    import bz2
    import gzip
    import lzma
    import zipfile

    text = "name,size,town\n" + "".join(f"n{i},{i * 0.5},Malmö\n" for i in range(300))
    data = text.encode("utf-8")
    path = tmp_path / "t.csv"
    if kind in ("utf-16", "utf-8-sig"):
        path.write_bytes(text.encode(kind))
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("inner.csv", data)
    else:
        path.write_bytes({"gzip": gzip, "bz2": bz2, "xz": lzma}[kind].compress(data))
    monkeypatch.setattr(text_source, "CHUNK_BYTES", chunk)
    table = read_table(path)
    assert list(table.columns) == ["name", "size", "town"]
    assert table.columns["size"].tolist() == [i * 0.5 for i in range(300)]
    assert set(table.columns["town"].tolist()) == {"Malmö"}
    assert table.lines.tolist() == list(range(2, 302))


def test_a_file_changed_between_the_two_passes_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(999)) + "n/a,1\n")
    monkeypatch.setattr(csv_columns, "_BATCH_CELLS", 20)
    first_pass = csv_columns._Scan._pass

    def then_append(self, kinds, numbers):
        result = first_pass(self, kinds, numbers)
        with open(path, "a") as handle:
            handle.write("5,5\n")
        return result

    monkeypatch.setattr(csv_columns._Scan, "_pass", then_append)
    with pytest.raises(DataFileError, match="changed while it was read"):
        read_table(path)


def test_memory_running_out_while_reading_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(500)))

    def refuse(self, j, values):
        raise MemoryError

    monkeypatch.setattr(csv_columns._Columns, "_put", refuse)
    with pytest.raises(DataFileError, match=r"t\.csv: memory ran out at line \d+ .*streaming"):
        read_table(path)


def test_the_memory_estimate_is_close_to_the_columns(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    path = tmp_path / "n.csv"
    rows = [",".join(f"{v:.6g}" for v in row) for row in rng.normal(size=(20_000, 6))]
    path.write_text("height,weight,score,share,income,latitude\n" + "\n".join(rows) + "\n")
    columns = 20_000 * 6 * 8
    monkeypatch.setattr(csv_columns, "_physical_memory", lambda: 1.3 * columns)
    assert read_table(path).n_rows == 20_000  # fits: not refused
    monkeypatch.setattr(csv_columns, "_physical_memory", lambda: 0.7 * columns)
    with pytest.raises(DataFileError, match=r"takes about 0\.9 MiB"):
        read_table(path)
