"""The generated problems, CSV/.npz tables, scikit-learn's digits, and the Standardize layer."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnn as snn
from oracles import central_differences
from scratchnn import datasets
from scratchnn.datasets import (
    encode_target,
    load_csv,
    load_digits,
    load_npz_table,
    load_table,
)
from scratchnn.datasets.tabular import MAX_AUTO_CLASSES
from scratchnn.errors import DataFileError


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- generators ---------------------------------------------------------------------------

CLASSIFIERS = [
    # (generator, keyword arguments, number of classes)
    (datasets.spirals, {"n_samples": 301, "n_classes": 4}, 4),
    (datasets.spirals, {"n_samples": 300}, 3),
    (datasets.moons, {"n_samples": 201}, 2),
    (datasets.circles, {"n_samples": 200, "factor": 0.3}, 2),
    (datasets.blobs, {"n_samples": 299, "centers": 5}, 5),
]
IDS = ["spirals4", "spirals", "moons", "circles", "blobs"]


@pytest.mark.parametrize(("generate", "kwargs", "n_classes"), CLASSIFIERS, ids=IDS)
def test_generator_shapes_dtypes_and_balance(generate, kwargs, n_classes):
    X, y = generate(**kwargs)
    n = kwargs["n_samples"]
    assert X.shape == (n, 2) and y.shape == (n,)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert np.isfinite(X).all()
    counts = np.bincount(y)
    assert len(counts) == n_classes  # every class present, labels 0..K-1
    assert counts.max() - counts.min() <= 1  # split as evenly as possible
    X64, y64 = generate(**kwargs, dtype=np.float64)
    assert X64.dtype == np.float64
    np.testing.assert_allclose(X64, X, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y64, y)


@pytest.mark.parametrize(("generate", "kwargs", "n_classes"), CLASSIFIERS, ids=IDS)
def test_generator_reproducible_by_seed(generate, kwargs, n_classes):
    X1, y1 = generate(**kwargs, seed=7)
    X2, y2 = generate(**kwargs, seed=7)
    X3, _ = generate(**kwargs, seed=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_generators_make_the_problems_they_describe():
    X, y = datasets.circles(400, noise=0.0, factor=0.4, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.4, atol=1e-6)
    X, y = datasets.blobs(600, centers=3, n_features=5, spread=0.1, seed=1)
    assert X.shape == (600, 5)
    spread = np.array([X[y == c].std(axis=0) for c in range(3)])
    assert np.all(spread < 0.2)
    X, y = datasets.moons(300, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0, atol=1e-6)
    X, y = datasets.spirals(300, 3, noise=0.0)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]).max(), 1.0, atol=1e-6)


def test_xor():
    X, y = datasets.xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [[0], [1], [1], [0]])
    assert X.dtype == y.dtype == np.float32
    assert datasets.xor(np.float64)[0].dtype == np.float64


def test_regression_curve():
    X, y = datasets.regression_curve(500, noise=0.1, seed=3)
    assert X.shape == (500, 1) and y.shape == (500, 1)
    assert X.dtype == y.dtype == np.float32
    assert np.all(np.diff(X[:, 0]) >= 0)  # sorted, ready to plot
    assert X.min() >= -3 and X.max() <= 3
    residual = y[:, 0] - (np.sin(2 * X[:, 0]) + 0.5 * X[:, 0])
    assert abs(residual.std() - 0.1) < 0.02 and abs(residual.mean()) < 0.02
    np.testing.assert_array_equal(X, datasets.regression_curve(500, noise=0.1, seed=3)[0])
    assert not np.array_equal(y, datasets.regression_curve(500, noise=0.1, seed=4)[1])


@pytest.mark.parametrize(
    "call",
    [
        lambda: datasets.spirals(1),
        lambda: datasets.spirals(2.5),
        lambda: datasets.spirals(True),
        lambda: datasets.spirals("300"),
        lambda: datasets.spirals(10, n_classes=1),
        lambda: datasets.spirals(10, n_classes=2.0),
        lambda: datasets.moons(1),
        lambda: datasets.moons(None),
        lambda: datasets.moons(10, noise=-1),
        lambda: datasets.circles(1),
        lambda: datasets.circles(10, factor=0),
        lambda: datasets.circles(10, factor=1),
        lambda: datasets.circles(10, factor=float("nan")),
        lambda: datasets.blobs(0),
        lambda: datasets.blobs(10, centers=0),
        lambda: datasets.blobs(10, centers=True),
        lambda: datasets.blobs(10, spread=-1),
        lambda: datasets.regression_curve(0),
        lambda: datasets.regression_curve(-5),
    ],
)
def test_generators_reject_invalid_arguments(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: datasets.blobs(10, n_features=0),  # returns X of shape (10, 0)
        lambda: datasets.blobs(10, n_features=2.5),  # TypeError from NumPy
        lambda: datasets.moons(10, noise=float("nan")),  # returns NaN features
    ],
    ids=["blobs-n_features-0", "blobs-n_features-2.5", "moons-noise-nan"],
)
def test_generators_reject_invalid_arguments_that_slip_through(call):
    with pytest.raises(ValueError):
        call()


def test_generators_take_numpy_integers_for_every_count():
    """n_samples accepts NumPy integers (e.g. ``len`` of an array's ``.shape`` entry); so
    must the other counts, such as ``n_classes=y.max() + 1``."""
    assert datasets.spirals(np.int64(30))[0].shape == (30, 2)
    assert datasets.spirals(30, n_classes=np.int64(3))[0].shape == (30, 2)
    assert datasets.blobs(30, centers=np.int64(3))[0].shape == (30, 2)


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


# --- load_digits --------------------------------------------------------------------------


def test_load_digits():
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    X, y = load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    np.testing.assert_array_equal(X, np.round(X))
    assert sorted(set(y.tolist())) == list(range(10))
    assert np.bincount(y).min() > 150


# --- Standardize --------------------------------------------------------------------------


def adapted(X: np.ndarray, dtype=np.float64) -> snn.Standardize:
    layer = snn.Standardize(X.shape[1])
    layer.build(dtype=dtype)
    layer.adapt(X)
    return layer


def test_standardize_gives_zero_mean_and_unit_std_on_the_training_data(rng):
    X = rng.normal(loc=[5.0, -300.0, 0.001], scale=[2.0, 40.0, 1e-4], size=(500, 3))
    layer = adapted(X)
    Z = layer.forward(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-10)
    np.testing.assert_allclose(layer.buffers["mean"], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["std"], X.std(axis=0), rtol=1e-12)
    # The float32 default: the same up to float32 rounding.
    Z32 = snn.Sequential([adapted(X, np.float32)], dtype=np.float32).predict(X)
    assert Z32.dtype == np.float32
    np.testing.assert_allclose(Z32.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(Z32.std(axis=0), 1, rtol=1e-4)


def test_standardize_fitted_before_a_float64_model_keeps_float64_statistics(rng):
    """adapt() on a fresh layer (what build_model does) must not round μ and σ to float32
    when the model is float64: features around 1e6 would be off by a few hundredths."""
    X = 1e6 + rng.normal(size=(1000, 2))
    layer = snn.Standardize(2)
    layer.adapt(X)
    model = snn.Sequential([layer, snn.Dense(2, 1)], dtype=np.float64, seed=0)
    Z = model.layers[0].forward(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-6)


def test_standardize_constant_features_get_std_one(rng):
    X = np.column_stack([np.full(50, 7.0), rng.normal(size=50), np.zeros(50)])
    layer = adapted(X)
    np.testing.assert_array_equal(layer.buffers["std"][[0, 2]], [1.0, 1.0])
    Z = layer.forward(X)
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[:, [0, 2]], 0.0)
    np.testing.assert_array_equal(layer.forward(X + 1)[:, 0], 1.0)  # shifted by raw units


def test_standardize_backward_matches_finite_differences(rng):
    X = rng.normal(loc=3, scale=[0.5, 2.0, 10.0], size=(20, 3))
    layer = adapted(X)
    x = rng.normal(size=(4, 3))
    weights = rng.normal(size=(4, 3))  # L = sum(weights * forward(x))
    analytic = layer.backward(weights)
    numeric = central_differences(lambda: float(np.sum(weights * layer.forward(x))), x, 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
    # In a model, with snn.gradcheck (parameters and the input).
    model = snn.Sequential([adapted(X), snn.Dense(3, 4), snn.Tanh(), snn.Dense(4, 2)], seed=0)
    result = snn.gradcheck(model, "mse", x, rng.normal(size=(4, 2)))
    assert result.passed, result


def test_standardize_is_not_trained_and_is_saved_with_the_model(tmp_path, rng):
    X = rng.normal(loc=10, scale=3, size=(64, 3))
    y = (X[:, 0] > 10).astype(np.int64)
    scaler = snn.Standardize(3)
    scaler.adapt(X)
    model = snn.Sequential([scaler, snn.Dense(3, 8), snn.ReLU(), snn.Dense(8, 2)], seed=0)
    mean, std = scaler.buffers["mean"].copy(), scaler.buffers["std"].copy()
    assert all(not name.startswith("standardize") for name in model.parameters().names())
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=16, verbose=0)
    np.testing.assert_array_equal(scaler.buffers["mean"], mean)
    np.testing.assert_array_equal(scaler.buffers["std"], std)
    model.save(tmp_path / "m.npz")
    loaded = snn.load(tmp_path / "m.npz")
    assert type(loaded.layers[0]) is snn.Standardize
    np.testing.assert_array_equal(loaded.layers[0].buffers["mean"], mean)
    np.testing.assert_array_equal(loaded.layers[0].buffers["std"], std)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # A freshly built layer from the config alone would not standardize: the file matters.
    fresh = snn.Sequential.from_config(model.get_config())
    np.testing.assert_array_equal(fresh.layers[0].buffers["mean"], 0)


@pytest.mark.parametrize(
    "X",
    [
        np.zeros(3),  # 1-D
        np.zeros((4, 2)),  # wrong number of features
        np.zeros((0, 3)),  # empty
        np.zeros((2, 3, 1)),  # 3-D
        np.array([[1.0, np.nan, 2.0]]),
        np.array([[1.0, np.inf, 2.0]]),
    ],
    ids=["1d", "width", "empty", "3d", "nan", "inf"],
)
def test_standardize_adapt_rejects_invalid_input(X):
    layer = snn.Standardize(3)
    with pytest.raises(ValueError):
        layer.adapt(X)


@pytest.mark.parametrize("n", [0, -1, 2.0, True, "3", None])
def test_standardize_rejects_invalid_sizes(n):
    with pytest.raises(ValueError, match="num_features"):
        snn.Standardize(n)


def test_standardize_config_round_trip():
    layer = snn.Standardize(np.int64(4))
    assert layer.get_config() == {"num_features": 4}
    assert isinstance(layer.get_config()["num_features"], int)
    assert snn.Standardize.from_config(layer.get_config()).num_features == 4
    assert math.isclose(adapted(np.array([[1.0], [3.0]])).forward(np.array([[2.0]]))[0, 0], 0)
