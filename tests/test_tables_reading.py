"""Reading table files as they come: delimiters, compression, encodings, headers."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scratchnn.errors import DataFileError
from scratchnn.tables import read_table, row_fingerprints, sniff_delimiter

TEXT = "name,size,colour\nrex,1.5,red\nfido,NA,blue\nbella,3,red\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    path = write(tmp_path / "t.csv", TEXT.replace(",", delimiter))
    table = read_table(path)
    assert table.delimiter == delimiter
    assert list(table.columns) == ["name", "size", "colour"]
    np.testing.assert_array_equal(table.columns["size"], [1.5, np.nan, 3.0])
    assert table.columns["name"].tolist() == ["rex", "fido", "bella"]
    assert any("separated" in n for n in table.notices) == (delimiter != ",")
    assert read_table(path, numbers=False).columns["size"].tolist() == ["1.5", "NA", "3"]


def test_sniffing_prefers_the_delimiter_that_splits_every_line_alike():
    # commas inside values (decimal commas) must not win over the semicolons
    assert sniff_delimiter("a;b;c\n1,5;2;3\n2,5;4;5\n") == ";"
    assert sniff_delimiter("single\n1\n2\n") == ","


def test_delimiter_option_overrides_sniffing(tmp_path):
    path = write(tmp_path / "t.csv", "a;b\n1;2\n")
    table = read_table(path, delimiter=",")
    assert list(table.columns) == ["a;b"]
    assert read_table(path, delimiter="tab").delimiter == "\t"
    with pytest.raises(ValueError, match="one character"):
        read_table(path, delimiter=";;")


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_compressed_files_read_like_plain_ones(tmp_path, suffix):
    data = TEXT.encode()
    path = tmp_path / f"t.csv{suffix}"
    if suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".bz2":
        path.write_bytes(bz2.compress(data))
    elif suffix == ".xz":
        path.write_bytes(lzma.compress(data))
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("t.csv", data)
    plain = read_table(write(tmp_path / "t.csv", TEXT))
    table = read_table(path)
    assert list(table.columns) == list(plain.columns)
    for name, values in plain.columns.items():
        np.testing.assert_array_equal(table.columns[name], values)


def test_corrupt_or_ambiguous_archives_are_named(tmp_path):
    bad = tmp_path / "t.csv.gz"
    bad.write_bytes(gzip.compress(TEXT.encode())[:20])
    with pytest.raises(DataFileError, match=r"t\.csv\.gz"):
        read_table(bad)
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "x\n1\n")
        archive.writestr("b.csv", "x\n2\n")
    with pytest.raises(DataFileError, match="exactly one"):
        read_table(two)


def test_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    assert next(iter(read_table(path).columns)) == "name"


def test_undecodable_bytes_name_file_line_and_the_option(tmp_path):
    path = write(tmp_path / "latin.csv", "name,town\nanna,Malmö\nbob,Zürich\n", "latin-1")
    with pytest.raises(DataFileError, match=r"latin\.csv, line 2.*--encoding"):
        read_table(path)
    table = read_table(path, encoding="latin-1")
    assert table.columns["town"].tolist() == ["Malmö", "Zürich"]
    with pytest.raises(ValueError, match="Unknown encoding"):
        read_table(path, encoding="no-such-codec")


def test_a_header_of_numbers_gets_a_notice_and_no_header_reads_it_as_data(tmp_path):
    path = write(tmp_path / "n.csv", "1,2,3\n4,5,6\n7,8,9\n")
    table = read_table(path)
    assert list(table.columns) == ["1", "2", "3"]
    assert any("--no-header" in notice for notice in table.notices)
    table = read_table(path, header=False)
    assert list(table.columns) == ["col1", "col2", "col3"]
    assert table.columns["col1"].tolist() == [1.0, 4.0, 7.0]
    assert table.lines.tolist() == [1, 2, 3]


def test_quoted_names_and_apostrophe_quoted_names(tmp_path):
    table = read_table(write(tmp_path / "q.csv", '"","a b"\n"1","x"\n"2","y"\n'))
    assert list(table.columns) == ["", "a b"]
    table = read_table(write(tmp_path / "s.tsv", "'x'\t'y'\n1\t2\n"))
    assert list(table.columns) == ["x", "y"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3\n", "line 3: 1 value, but the header has 2 columns"),
        ("a,a\n1,2\n", "more than once"),
        ("a,b\n", "no data rows"),
        ("", "empty"),
    ],
)
def test_malformed_files_are_refused_with_the_place(tmp_path, text, message):
    with pytest.raises(DataFileError, match=message):
        read_table(write(tmp_path / "bad.csv", text))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "nothing.csv")
    with pytest.raises(DataFileError, match="folder"):
        read_table(tmp_path)


def test_npz_columns_keep_their_dtype(tmp_path):
    np.savez(tmp_path / "t.npz", X=np.arange(6.0).reshape(3, 2), label=np.array(["a", "b", "a"]))
    table = read_table(tmp_path / "t.npz")
    assert list(table.columns) == ["x0", "x1", "label"]
    assert table.columns["x1"].dtype == np.float64


def test_take_keeps_lines_with_rows(tmp_path):
    table = read_table(write(tmp_path / "t.csv", TEXT))
    part = table.take(np.array([2, 0]))
    assert part.columns["name"].tolist() == ["bella", "rex"]
    assert part.lines.tolist() == [4, 2]


def test_fingerprints_depend_on_every_cell_and_not_on_the_row_position():
    a = {"x": np.array(["1", "2", "1"]), "y": np.array(["a", "b", "a"])}
    prints = row_fingerprints(a)
    assert prints.dtype == np.uint64
    assert prints[0] == prints[2] != prints[1]
    changed = row_fingerprints({"x": np.array(["1"]), "y": np.array(["c"])})
    assert changed[0] != prints[0]


def test_parquet_columns_keep_their_types(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"size": [1.5, None, 3.0], "colour": ["red", None, "blue"]})
    pq.write_table(table, tmp_path / "t.parquet")
    raw = read_table(tmp_path / "t.parquet")
    assert list(raw.columns) == ["size", "colour"]
    assert np.isnan(raw.columns["size"][1])
    assert raw.columns["colour"].tolist() == ["red", None, "blue"]
    from scratchnn.tables import TableEncoder

    encoder = TableEncoder().fit(raw)
    assert encoder.feature_names_out() == ["size", "colour=(missing)", "colour=blue", "colour=red"]
