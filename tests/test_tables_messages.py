"""Table messages that name the real cause (issue 27): decimal commas, spreadsheets and binary
files, byte-order marks, identifier-like targets, infinite numbers, missing values new at
predict time, quoted line breaks, values beyond float32, a target whose scale overflows, and
tables with too few rows. Each through ``read_table`` or the encoder, and through the command."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from _cli import error_line, run
from scratchnn.errors import DataFileError
from scratchnn.tables import TableEncoder, TargetScaler, read_table
from scratchnn.tables.reading import decimal_comma_column

FAST = ["--epochs", "1", "--layers", "4", "--quiet"]


def rows_text(n: int = 30, delimiter: str = ",") -> str:
    lines = ["a,b,y"] + [f"{(i * 0.37) % 1:.3f},{(i * 3) % 5},{i % 2}" for i in range(n)]
    return "\n".join(line.replace(",", delimiter) for line in lines) + "\n"


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# Decimal commas.


def test_decimal_commas_are_found_and_read_with_the_option(folder):
    text = "a;b;y\n" + "\n".join(
        f"{(i * 0.37) % 1:.3f};{i % 5};{i * 0.5:.2f}".replace(".", ",") for i in range(30)
    )
    Path("dec.csv").write_text(text + "\n")
    table = read_table("dec.csv")
    assert table.decimal_commas == ["a", "y"]  # b holds whole numbers: nothing to read
    assert read_table("dec.csv", decimal=",").columns["a"][:2].tolist() == [0.0, 0.37]
    assert read_table("dec.csv", decimal=".").decimal_commas == []
    line = error_line(*run("train", "dec.csv", "--target", "y", *FAST)[::2])
    assert "the columns a, y hold numbers written with a decimal comma (e.g. '0,000')" in line
    assert "--decimal ," in line
    status, out, err = run("train", "dec.csv", "--target", "y", "--decimal", ",", *FAST)
    assert status == 0, err
    assert "Task: regression" in out and "Numeric (2): a, b" in out
    status, out, err = run("predict", "model.npz", "dec.csv")  # the model keeps --decimal
    assert status == 0, err
    assert len(out.splitlines()) == 31


def test_decimal_comma_cells():
    assert decimal_comma_column(np.array(["1.234,5", "-0,25", "", "7", "NA"]))
    assert not decimal_comma_column(np.array(["1,5", "red"]))
    assert not decimal_comma_column(np.array(["1.5", "2"]))
    table_cells = read_table_from("x;y\n1.234,5;1\n-0,25;2\n7;3\n", decimal=",").columns["x"]
    assert table_cells.tolist() == [1234.5, -0.25, 7.0]


def read_table_from(text: str, **options):
    import tempfile

    path = Path(tempfile.mkdtemp()) / "t.csv"
    path.write_text(text)
    return read_table(path, **options)


def test_a_model_without_decimal_commas_names_them_at_predict_time(folder):
    Path("t.csv").write_text(rows_text())
    assert run("train", "t.csv", "--target", "y", *FAST)[0] == 0
    Path("p.csv").write_text("a;b;y\n0,5;1;0\n0,25;2;1\n")
    line = error_line(*run("predict", "model.npz", "p.csv")[::2])
    assert "decimal comma" in line and "--decimal ," in line


# Binary files, spreadsheets and encodings.


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def _zip_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, fragment",
    [
        (_xlsx(), "is an Excel workbook (.xlsx), not a text table"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Excel 97-2003 workbook"),
        (_zip_of("X.npy", b"\x93NUMPY"), "an .npz archive of arrays: name it .npz"),
        (b"%PDF-1.4 ...", "a PDF document"),
        (b"PAR1\x00\x00", "a Parquet file"),
        (b"a,b,y\n1,2,0\n3,\x00,1\n", "line 3: a NUL byte"),
        ("a,b,y\n1,2,0\n".encode("utf-16-le"), "pass --encoding utf-16-le"),
    ],
)
def test_a_file_that_is_no_text_table_is_named(folder, data, fragment):
    Path("t.csv").write_bytes(data)
    with pytest.raises(DataFileError) as caught:
        read_table("t.csv")
    assert fragment in str(caught.value)
    line = error_line(*run("train", "t.csv", "--target", "y", *FAST)[::2])
    assert fragment in line and "latin-1" not in line
    assert sorted(p.name for p in folder.iterdir()) == ["t.csv"]


def test_a_zip_renamed_csv_is_read_as_the_table_inside(folder):
    Path("t.csv").write_bytes(_zip_of("inner.csv", rows_text().encode()))
    assert read_table("t.csv").columns["y"][:3].tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig", "utf-16-be"])
def test_a_byte_order_mark_chooses_the_encoding(folder, encoding):
    data = rows_text().replace("a,", "größe,").encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # Python writes no BOM for the -be codec
    Path("t.csv").write_bytes(data)
    table = read_table("t.csv")
    assert list(table.columns) == ["größe", "b", "y"]
    status, out, err = run("train", "t.csv", "--target", "y", *FAST)
    assert status == 0, err
    assert "Numeric (2): größe, b" in out


def test_a_quoted_line_break_is_a_normal_cell(folder):
    lines = ["x;note;y"] + [f'{i * 0.5};"line one\nline {i % 3}";{i % 2}' for i in range(30)]
    Path("t.csv").write_text("\n".join(lines) + "\n")
    table = read_table("t.csv")
    assert table.delimiter == ";" and table.columns["x"][1] == 0.5
    assert table.columns["note"][0] == "line one\nline 0"
    status, out, err = run("train", "t.csv", "--target", "y", *FAST)
    assert status == 0, err
    assert "Numeric (1): x" in out and "Categorical (1): note" in out


def test_empty_header_cells_are_named(folder):
    Path("t.csv").write_text(",,y\n1,2,0\n2,3,1\n")
    line = error_line(*run("train", "t.csv", "--target", "y", *FAST)[::2])
    assert "2 columns have no name in the header" in line


# Targets.


def test_an_identifier_like_target_is_warned_about(folder):
    lines = ["x,y"] + [f"{i % 7},id{i}" for i in range(60)]
    Path("t.csv").write_text("\n".join(lines) + "\n")
    status, _, err = run("train", "t.csv", "--target", "y", *FAST)
    assert status == 0, err
    assert "warning: the target 'y' has 60 distinct labels in 60 rows" in err
    assert "identifier" in err


def test_a_target_whose_scale_overflows_is_refused_before_training(folder):
    lines = ["x,y"] + [f"{i % 7},{(i + 1) * 1e200:.6g}" for i in range(30)]
    Path("t.csv").write_text("\n".join(lines) + "\n")
    status, out, err = run("train", "t.csv", "--target", "y", *FAST)
    line = error_line(status, err)
    assert "The target 'y' is too large" in line and "3e+201" in line
    assert "Training on" not in out and not Path("model.npz").exists()
    with pytest.raises(ValueError, match="standard deviation is not finite"):
        TargetScaler().fit(np.array([1e200, -1e200, 3e200]))
    assert np.isfinite(TargetScaler().fit(np.array([1e150, -1e150])).scale_).all()


def test_an_infinite_target_is_refused_with_its_line(folder):
    lines = ["x,y"] + [f"{i % 7},{'inf' if i == 4 else i * 0.5}" for i in range(30)]
    Path("t.csv").write_text("\n".join(lines) + "\n")
    line = error_line(*run("train", "t.csv", "--target", "y", "--task", "regression", *FAST)[::2])
    assert "The target 'y' holds 1 infinite number(s) (the first: 'inf' on line 6)" in line


# Features.


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e999", "-Infinity"])
def test_infinite_numbers_in_a_feature_are_named_not_imputed(folder, cell):
    lines = ["a,b,y"] + [f"{cell if i in (3, 9) else i * 0.5},{i % 5},{i % 2}" for i in range(30)]
    Path("t.csv").write_text("\n".join(lines) + "\n")
    line = error_line(*run("train", "t.csv", "--target", "y", *FAST)[::2])
    assert f"Column 'a' holds 2 infinite numbers (the first: {cell!r} on line 5)" in line
    status, _, err = run("train", "t.csv", "--target", "y", "--missing", f",NA,{cell}", *FAST)
    assert status == 0, err  # read as missing when the user says so
    with pytest.raises(ValueError, match="holds 1 infinite number"):
        TableEncoder().fit({"a": [1.0, np.inf, 2.0], "b": [1, 2, 3]})


def test_a_missing_value_new_at_predict_time_is_counted(folder):
    Path("t.csv").write_text(rows_text())
    assert run("train", "t.csv", "--target", "y", *FAST)[0] == 0
    Path("p.csv").write_text("a,b,y\n0.5,,0\n,1,1\n0.2,,1\n")
    status, _, err = run("predict", "model.npz", "p.csv")
    assert status == 0, err
    assert "Missing values in columns that had none in training" in err
    assert "'a': 1, 'b': 2" in err
    encoder = TableEncoder().fit({"a": [1.0, None, 3.0], "b": [1.0, 2.0, 3.0]})
    encoder.transform({"a": [None], "b": [None]})
    assert encoder.new_missing_ == {"b": 1}  # 'a' had missing values in training
    restored = TableEncoder.from_state(*encoder.get_state())
    restored.transform({"a": [None], "b": [None]})
    assert restored.new_missing_ == {"b": 1}


def test_a_value_beyond_float32_is_named_without_dtype_advice(folder):
    Path("t.csv").write_text(rows_text())
    assert run("train", "t.csv", "--target", "y", *FAST)[0] == 0
    Path("p.csv").write_text("a,b,y\n0.5,1,0\n1e308,1,1\n")
    line = error_line(*run("predict", "model.npz", "p.csv")[::2])
    assert "p.csv, line 3: column 'a' holds '1e+308'" in line  # the number, as read
    assert "dtype" not in line


def test_huge_training_values_are_standardized(folder):
    lines = ["a,b,y"] + [f"{1e308 if i % 3 == 0 else -1e308},{i % 5},{i % 2}" for i in range(30)]
    Path("t.csv").write_text("\n".join(lines) + "\n")
    status, _, err = run("train", "t.csv", "--target", "y", *FAST)
    assert status == 0, err
    encoder = TableEncoder().fit({"a": [1e308, -1e308, 1e308]})
    assert np.isfinite(encoder.scale_).all() and np.isfinite(encoder.transform({"a": [0.0]})).all()


# Too few rows.


@pytest.mark.parametrize("n, needed", [(1, "1 data row;"), (0, "no data rows")])
def test_too_few_rows_say_how_many_and_how_many_are_needed(folder, n, needed):
    Path("t.csv").write_text("a,b,y\n" + "1,2,3\n" * n)
    line = error_line(*run("train", "t.csv", "--target", "y", *FAST)[::2])
    assert needed in line
    if n:
        assert "training needs at least 2" in line


def test_rows_without_a_target_count_against_the_need(folder):
    Path("t.csv").write_text("a,b,y\n1,2,3\n4,5,\n6,7,NA\n")
    line = error_line(*run("train", "t.csv", "--target", "y", *FAST)[::2])
    assert "has 1 data row once the 2 without a target are dropped" in line
    assert "training needs at least 2" in line


def test_one_class_and_an_oversized_test_split_say_how_many_rows(folder):
    Path("t.csv").write_text("a,y\n" + "".join(f"{i % 5},cat\n" for i in range(12)))
    line = error_line(*run("train", "t.csv", "--target", "y", *FAST)[::2])
    assert "holds one class only ('cat', in all 12 rows with a target)" in line
    Path("t.csv").write_text(rows_text(4))
    line = error_line(*run("train", "t.csv", "--target", "y", "--test-split", "0.9", *FAST)[::2])
    assert "--test-split 0.9 of 4 rows sets 4 aside and leaves no row to train on" in line
