"""datasets/tabular.py: CSV and .npz tables, encode_target, and tables round-tripping through
files (property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _tables import write_csv
from scratchnn.datasets import (
    encode_target,
    load_csv,
    load_npz_table,
    load_table,
)
from scratchnn.datasets.tabular import MAX_AUTO_CLASSES
from scratchnn.errors import DataFileError
from scratchnn.tables.reading import is_number

# --- encode_target and tables -------------------------------------------------------------


def test_string_labels_are_encoded_sorted_and_decoded_back(tmp_path):
    labels = ["dog", "cat", "bird", "cat", "dog", "ant"]
    rows = [[i, i * 0.5, label] for i, label in enumerate(labels)]
    table = load_csv(write_csv(tmp_path / "t.csv", ["a", "b", "animal"], rows), target="animal")
    assert table.classes == ["ant", "bird", "cat", "dog"]
    np.testing.assert_array_equal(table.y, [3, 2, 1, 2, 3, 0])
    assert table.y.dtype == np.int64
    assert table.decode(table.y).tolist() == labels
    assert table.task == "classification"
    assert table.target == "animal" and table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.X, [[i, i * 0.5] for i in range(6)])
    assert table.X.dtype == np.float64


def test_numeric_labels_sort_as_numbers():
    y, classes = encode_target(np.array(["10", "9", "2", "-1", "9", "2.0"], dtype=object))
    assert classes == [-1, 2, 9, 10]
    assert all(type(c) is int for c in classes)  # decoded labels look like the input
    np.testing.assert_array_equal(y, [3, 2, 1, 0, 2, 1])


def test_few_distinct_whole_numbers_are_classes_many_are_regression():
    few = np.array([str(i % MAX_AUTO_CLASSES) for i in range(100)], dtype=object)
    y, classes = encode_target(few)
    assert classes == list(range(MAX_AUTO_CLASSES)) and y.dtype == np.int64
    many = np.array([str(i % (MAX_AUTO_CLASSES + 1)) for i in range(100)], dtype=object)
    y, classes = encode_target(many)
    assert classes is None and y.dtype == np.float64
    floats = np.array([f"{v:.3f}" for v in np.linspace(0, 1, 30)], dtype=object)
    y, classes = encode_target(floats)
    assert classes is None
    np.testing.assert_allclose(y, np.round(np.linspace(0, 1, 30), 3))
    halves = np.array(["0.5", "1.5", "0.5"], dtype=object)  # few, but not whole numbers
    assert encode_target(halves)[1] is None


def test_task_override():
    ints = np.array(["1", "2", "3", "2"], dtype=object)
    y, classes = encode_target(ints, task="regression")
    assert classes is None
    np.testing.assert_array_equal(y, [1.0, 2.0, 3.0, 2.0])
    halves = np.array(["1.5", "0.5", "1.5"], dtype=object)
    y, classes = encode_target(halves, task="classification")
    assert classes == [0.5, 1.5]
    np.testing.assert_array_equal(y, [1, 0, 1])
    with pytest.raises(ValueError, match="must be numeric; row 2 of the target column holds 'cat'"):
        encode_target(np.array(["1", "cat"], dtype=object), task="regression")
    with pytest.raises(ValueError, match="task must be"):
        encode_target(ints, task="ranking")


def test_task_override_through_load_table(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["x", "grade"], [[i, i % 3] for i in range(9)])
    assert load_table(path, target="grade").classes == [0, 1, 2]
    table = load_table(path, target="grade", task="regression")
    assert table.classes is None and table.task == "regression"
    np.testing.assert_array_equal(table.y, [i % 3 for i in range(9)])


def test_classes_from_a_model_map_labels_and_reject_unknown_ones(tmp_path):
    y, classes = encode_target(np.array(["cat", "dog"], dtype=object), classes=["dog", "cat"])
    assert classes == ["dog", "cat"]
    np.testing.assert_array_equal(y, [1, 0])  # the model's order, not sorted
    # Classes that went through JSON as numbers match the file's text, "2.0" as 2.
    y, _ = encode_target(np.array(["2.0", "0", "1"], dtype=object), classes=[0, 1, 2])
    np.testing.assert_array_equal(y, [2, 0, 1])
    with pytest.raises(
        ValueError, match=r"'lizard' \(row 2\), which the model never saw.*cat, dog"
    ):
        encode_target(np.array(["cat", "lizard"], dtype=object), classes=["cat", "dog"])
    path = write_csv(tmp_path / "t.csv", ["x", "animal"], [[1, "cat"], [2, "emu"]])
    with pytest.raises(ValueError, match="'emu'"):
        load_csv(path, target="animal", classes=["cat", "dog"])


def test_missing_and_blank_cells_name_column_and_row(tmp_path):
    rows = [[1, 2, "a"], [3, "", "b"], [5, 6, "a"]]
    path = write_csv(tmp_path / "t.csv", ["x", "y", "label"], rows)
    with pytest.raises(ValueError, match=r"column 'y', row 2 \(line 3\), is empty"):
        load_csv(path, target="label")
    rows[1][1] = "   "  # whitespace only counts as empty
    write_csv(path, ["x", "y", "label"], rows)
    with pytest.raises(ValueError, match=r"column 'y', row 2 \(line 3\), is empty"):
        load_csv(path, target="label")
    rows = [[1, 2, "a"], [3, 4, "b"], [5, 6, ""]]
    write_csv(path, ["x", "y", "label"], rows)
    with pytest.raises(ValueError, match="target 'label' is empty in row 3"):
        load_csv(path, target="label")


def test_non_numeric_feature_names_column_and_line(tmp_path):
    rows = [[1, 2, "a"], [3, 4, "b"], [5, "six", "a"]]
    path = write_csv(tmp_path / "t.csv", ["x", "y", "label"], rows)
    with pytest.raises(ValueError, match=r"column 'y', row 3 \(line 4\), holds 'six'"):
        load_csv(path, target="label")


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_non_finite_features_are_rejected(tmp_path, value):
    path = write_csv(tmp_path / "t.csv", ["x", "y"], [[1, 2], [value, 3]])
    with pytest.raises(ValueError, match="column 'x', row 2 \\(line 3\\) is NaN or infinite"):
        load_csv(path, target="y")


def test_non_finite_regression_target_is_rejected_where_it_is_read(tmp_path):
    """Features with NaN are refused with their place; so must be a NaN target, rather than
    reaching fit() as "y contains NaN or infinity (first at index (0, 0))"."""
    rows = [[1, "nan"], [2, "1.5"], [3, "0.25"]]
    path = write_csv(tmp_path / "t.csv", ["x", "y"], rows)
    with pytest.raises(ValueError, match="row 1"):
        load_csv(path, target="y")


@pytest.mark.parametrize(
    "labels",
    [["inf", "cat", "dog"], ["1", "inf", "0"], ["NaN", "cat", "dog"]],
    ids=["inf-among-words", "inf-among-numbers", "NaN-among-words"],
)
def test_labels_spelling_non_finite_numbers_do_not_crash(tmp_path, labels):
    """'inf' or 'NaN' in a target column is either a class label or a ValueError that says
    what is wrong, never an OverflowError (which the command line shows as a traceback)."""
    path = write_csv(tmp_path / "t.csv", ["x", "y"], [[i, v] for i, v in enumerate(labels)])
    try:
        table = load_csv(path, target="y")
    except ValueError as error:
        assert "y" in str(error) and "convert float" not in str(error)
    else:
        assert table.classes is not None and len(table.classes) == 3


def test_unknown_target_and_feature_columns(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["a", "b", "y"], [[1, 2, 0], [3, 4, 1]])
    with pytest.raises(ValueError, match=r"has no column 'z'\. Columns: a, b, y\."):
        load_csv(path, target="z")
    with pytest.raises(ValueError, match=r"lacks the feature column\(s\) 'c', 'd'"):
        load_csv(path, target="y", features=["a", "c", "d"])
    only_target = write_csv(tmp_path / "y.csv", ["y"], [[0], [1]])
    with pytest.raises(ValueError, match="no feature columns besides the target 'y'"):
        load_csv(only_target, target="y")


def test_features_select_and_order_columns_and_target_is_optional(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["a", "b", "c", "y"], [[1, 2, 3, "p"], [4, 5, 6, "q"]])
    table = load_csv(path, target="y", features=["c", "a"])
    assert table.feature_names == ["c", "a"]
    np.testing.assert_array_equal(table.X, [[3, 1], [6, 4]])
    table = load_csv(path, features=["b"])
    assert table.y is None and table.target is None and table.classes is None
    np.testing.assert_array_equal(table.X, [[2], [5]])
    with pytest.raises(ValueError, match="holds 'p'"):  # without a target, y is a feature
        load_csv(path)


def test_ragged_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,0\n3,4\n5,6,1\n")
    with pytest.raises(DataFileError, match="line 3: 2 values, but the header has 3 columns"):
        load_csv(path, target="y")
    path.write_text("a,b,y\n1,2,0\n3,4,1,9\n")
    with pytest.raises(ValueError, match="line 3: 4 values"):
        load_csv(path, target="y")


@pytest.mark.parametrize("text", ["a,b,y\n", "a,b,y\n\n  \n", "", "\n"])
def test_header_only_or_empty_file(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataFileError, match="no data rows"):
        load_csv(path, target="y")


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,p\n\n3,x,q\n")  # the bad value is on line 4 of the file
    with pytest.raises(ValueError, match=r"\(line 4\)"):
        load_csv(path, target="y")
    path.write_text("a,b,y\n1,2,p\n\n3,4,q\n\n")
    assert len(load_csv(path, target="y").X) == 2


def test_duplicate_column_names_are_rejected(tmp_path):
    """Two columns named 'a': reading one of them silently drops the other."""
    path = write_csv(tmp_path / "t.csv", ["a", "a", "y"], [[1, 2, "p"], [3, 4, "q"]])
    with pytest.raises(ValueError, match="'a'"):
        load_csv(path, target="y")


def test_byte_order_mark_and_quotes_and_spaces(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes('\ufeff"label", a ,b\n"x, y",1,2\nz,3,4\n'.encode())
    table = load_csv(path, target="label")
    assert table.feature_names == ["a", "b"]  # no BOM in the first name, spaces stripped
    assert table.classes == ["x, y", "z"]
    np.testing.assert_array_equal(table.X, [[1, 2], [3, 4]])


def test_npz_of_named_columns(tmp_path):
    path = tmp_path / "t.npz"
    np.savez(
        path,
        height=np.array([1.5, 2.5, 3.5]),
        count=np.array([1, 2, 3]),
        kind=np.array(["b", "a", "b"]),
    )
    table = load_npz_table(path, target="kind")
    assert table.feature_names == ["height", "count"]
    np.testing.assert_array_equal(table.X, [[1.5, 1], [2.5, 2], [3.5, 3]])
    assert table.classes == ["a", "b"]
    np.testing.assert_array_equal(table.y, [1, 0, 1])
    assert load_table(path, target="kind").classes == ["a", "b"]  # by the extension


def test_npz_of_a_matrix_and_labels(tmp_path):
    path = tmp_path / "t.npz"
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.savez(path, X=X, y=np.array([0, 1, 1, 0]))
    table = load_npz_table(path, target="y")
    assert table.feature_names == ["x0", "x1", "x2"]
    np.testing.assert_array_equal(table.X, X)
    assert table.classes == [0, 1]
    table = load_npz_table(path, target="y", features=["p", "q", "r"])
    assert table.feature_names == ["p", "q", "r"]
    np.testing.assert_array_equal(table.X, X)


def test_npz_problems(tmp_path):
    path = tmp_path / "t.npz"
    np.savez(path, a=np.array([object(), 1], dtype=object), y=np.array([0, 1]))
    with pytest.raises(DataFileError, match="holds Python objects"):
        load_npz_table(path, target="y")
    np.savez(path, a=np.zeros((3, 2)), y=np.arange(3))
    with pytest.raises(DataFileError, match="'a' is not one-dimensional"):
        load_npz_table(path, target="y")
    np.savez(path, a=np.array(["1", "two"]), y=np.arange(2))
    with pytest.raises(ValueError, match=r"column 'a', row 2, holds 'two'"):
        load_npz_table(path, target="y")
    np.savez(path, a=np.arange(3.0), y=np.arange(3))
    with pytest.raises(ValueError, match="no column 'z'"):
        load_npz_table(path, target="z")


@pytest.mark.parametrize(
    "arrays",
    [
        {"a": np.arange(5.0), "b": np.arange(6.0), "y": np.arange(5)},  # IndexError
        {"a": np.arange(6.0), "b": np.arange(5.0), "y": np.arange(6)},  # uninitialized row
        {"X": np.zeros((5, 2)), "y": np.arange(4)},  # 5 samples, 4 targets
    ],
    ids=["later-column-longer", "later-column-shorter", "X-and-y-differ"],
)
def test_npz_columns_of_different_lengths_are_rejected(tmp_path, arrays):
    path = tmp_path / "t.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"length|rows|samples|values"):
        load_npz_table(path, target="y")


def test_load_table_dispatches_by_extension(tmp_path):
    rows = [[1, 2, "p"], [3, 4, "q"]]
    for name in ("t.csv", "T.CSV", "t.txt"):
        table = load_table(write_csv(tmp_path / name, ["a", "b", "y"], rows), target="y")
        assert table.classes == ["p", "q"]
    with pytest.raises(FileNotFoundError, match=r"absent\.csv"):
        load_table(tmp_path / "absent.csv", target="y")
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "absent.csv", target="y")


def test_table_decode_is_for_classification(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["a", "y"], [[i, i * 0.37] for i in range(30)])
    table = load_csv(path, target="y")
    assert table.task == "regression"
    with pytest.raises(ValueError, match="regression"):
        table.decode(np.array([0]))


# --- property tests: tables round-trip through files --------------------------------------

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_subnormal=False)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ_", min_size=1, max_size=6).filter(
    lambda s: not is_number(s)  # "nan", "inf", "infinity" read as numbers
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    X=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=8), elements=finite),
    data=st.data(),
)
def test_random_tables_round_trip_through_csv_and_npz(tmp_path_factory, X, data):
    labels = data.draw(st.lists(words, min_size=len(X), max_size=len(X)))
    folder = tmp_path_factory.mktemp("roundtrip")
    names = [f"f{j}" for j in range(X.shape[1])]
    rows = [[*map(repr, x.tolist()), label] for x, label in zip(X, labels, strict=True)]
    csv_table = load_csv(write_csv(folder / "t.csv", [*names, "label"], rows), target="label")
    np.savez(folder / "t.npz", X=X, label=np.array(labels))
    npz_table = load_npz_table(folder / "t.npz", target="label")
    assert csv_table.feature_names == names
    assert npz_table.feature_names == [f"x{j}" for j in range(X.shape[1])]
    for table in (csv_table, npz_table):
        np.testing.assert_array_equal(table.X, X)  # exactly: repr round-trips a float
        assert table.classes == sorted(set(labels))
        assert table.decode(table.y).tolist() == labels


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=1, max_size=40))
def test_whole_number_labels_round_trip(values):
    y, classes = encode_target(np.array([str(v) for v in values], dtype=object))
    if len(set(values)) <= MAX_AUTO_CLASSES:
        assert classes == sorted(set(values))
        assert [classes[i] for i in y] == values
        # Classes handed back (as a model stores them) encode the same way.
        again, _ = encode_target(
            np.array([f"{v}.0" for v in values], dtype=object), classes=classes
        )
        np.testing.assert_array_equal(again, y)
    else:
        assert classes is None
        np.testing.assert_array_equal(y, values)


@settings(max_examples=60, deadline=None)
@given(st.lists(words, min_size=1, max_size=30))
def test_word_labels_round_trip(labels):
    y, classes = encode_target(np.array(labels, dtype=object))
    assert classes == sorted(set(labels))
    assert [classes[i] for i in y] == labels
