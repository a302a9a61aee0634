"""Readers in proportion to the data (issue 29): the CSV reader keeps one text array per
column, each as wide as its own longest cell, parsed a batch of rows at a time, so its peak
memory is a small multiple of the file (it was 10 to 70 times); a device, FIFO or socket
given as a data file is refused unread, as it is as a model file."""

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
from scratchnn.tables import reading
from scratchnn.tables.reading import read_table


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


def test_reading_a_csv_peaks_at_a_small_multiple_of_the_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(_table_text(25_000))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        table = read_table(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert table.n_rows == 25_000 and len(table.columns) == 13
    # Each column is as wide as its own longest cell: the notes do not widen the numbers.
    assert table.columns["x0"].dtype.itemsize <= 4 * 10
    assert table.columns["y"].dtype == np.dtype("<U1")
    # The columns themselves (4 bytes a character: 7x this file, the rare long notes making
    # their column 3.3x) and one column being joined; the one matrix of every cell, each as
    # wide as the longest note, after a list of Python strings per cell, cost 60x.
    columns = sum(values.nbytes for values in table.columns.values())
    assert peak < columns + 2 * table.columns["note"].nbytes, f"{peak / size:.1f}x the file"
    assert peak < 12 * size, f"peak {peak / size:.1f}x the file ({size / 2**20:.1f} MiB)"


def test_reading_a_numeric_csv_peaks_at_about_its_columns(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "n.csv"
    numbers = rng.normal(size=(40_000, 8)).round(4)
    text = "\n".join(",".join(f"{v:.4g}" for v in row) for row in numbers)
    path.write_text(",".join(f"x{i}" for i in range(8)) + "\n" + text + "\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        table = read_table(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert table.n_rows == 40_000
    assert peak < 7 * size, f"peak {peak / size:.1f}x the file ({size / 2**20:.1f} MiB)"


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(
        st.lists(st.sampled_from(["1", " 2.5 ", "", "a,b", 'say "hi"', "x\ny", "r\r\nn", "é"]),
                 min_size=3, max_size=3),
        min_size=1, max_size=40,
    ),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    piece=st.integers(1, 64),
    batch=st.integers(1, 20),
)  # fmt: skip
def test_the_streamed_reader_reads_what_one_csv_pass_reads(
    tmp_path_factory, cells, line_end, piece, batch
):
    """Whatever the pieces and batches (made tiny here, so they cut quoted line breaks,
    \\r\\n pairs and batches everywhere), the columns and line numbers are those of one
    csv.reader pass over the whole text."""
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
    patch.setattr(reading, "_PIECE_CHARS", piece)
    patch.setattr(reading, "_BATCH_CELLS", batch)
    patch.setattr(reading, "_MIN_BATCH_ROWS", 1)
    patch.setattr(reading, "_MERGE_BATCHES", 3)
    try:
        if len(rows) < 2 or any(len(row) != 3 for row in rows):  # e.g. x\ny unquoted
            with pytest.raises(DataFileError, match=r"no data rows|but the header has 3"):
                read_table(path, delimiter=",")
            return
        table = read_table(path, delimiter=",")
    finally:
        patch.undo()
    expected = np.char.strip(np.array(rows[1:], dtype=str))
    assert list(table.columns) == ["a", "b", "c"]
    for j, name in enumerate(table.columns):
        assert table.columns[name].tolist() == expected[:, j].tolist()
    assert table.lines == lines[1:]


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
    monkeypatch.setattr(reading, "_physical_memory", lambda: 40_000.0)  # a 40 kB machine
    with pytest.raises(DataFileError, match=r"MiB of text; reading it as columns takes at least"):
        read_table(path)
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))  # 20 kB of text in a few hundred bytes
    with pytest.raises(DataFileError, match="once decompressed") as caught:
        read_table(packed)
    assert "scratchnn.streaming" in str(caught.value)
    monkeypatch.setattr(reading, "_physical_memory", lambda: 200_000.0)
    assert read_table(packed).n_rows == 5_000
