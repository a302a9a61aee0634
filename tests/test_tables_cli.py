"""``scratchnn train FILE --target COL`` / ``predict`` / ``evaluate`` on raw tables, run in
this process on small files the tests write."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pytest

from _tables import write_csv
from scratchnn.cli.main import main
from scratchnn.io import load


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def animals(n: int, seed: int):
    """Rows ``["", weight, colour, legs, species]``: a row number, a number with missing
    values, a category, and a label that the three features decide."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["cat", "dog", "bird"], n)
    weight = np.where(species == "dog", 20, np.where(species == "cat", 4, 0.5))
    weight = (weight * rng.uniform(0.7, 1.3, n)).round(2).astype(str)
    weight[rng.random(n) < 0.1] = "NA"
    colour = np.where(species == "bird", rng.choice(["red", "blue"], n), "brown")
    legs = np.where(species == "bird", 2, 4)
    return [
        [i + 1, w, c, g, s]
        for i, (w, c, g, s) in enumerate(zip(weight, colour, legs, species, strict=True))
    ]


HEADER = ["", "weight", "colour", "legs", "species"]
FAST = ("--layers", "16", "--quiet")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zoo")
    rows = animals(200, 0)
    rows[3][4] = "NA"  # a missing label: that row is dropped
    write_csv(folder / "zoo.csv", HEADER, rows)
    code = main(["train", str(folder / "zoo.csv"), "--target", "species", "--out",
                 str(folder / "zoo.npz"), *FAST])  # fmt: skip
    assert code == 0
    return folder


def test_train_reports_roles_task_defaults_and_dropped_rows(tmp_path, capsys):
    rows = animals(120, 1)
    rows[0][4] = ""
    write_csv(tmp_path / "z.csv", HEADER, rows)
    code, out, _ = run(capsys, "train", tmp_path / "z.csv", "--target", "species", "--out",
                       tmp_path / "m.npz", "--layers", "8", "--quiet")  # fmt: skip
    assert code == 0
    assert "Dropped 1 rows whose target 'species' is missing." in out
    assert "Task: classification ('species': text labels); override with --task regression." in out
    assert "Numeric (2): weight, legs" in out
    assert "Categorical (1): colour" in out
    assert "Dropped (1): '' (row number 1..120)" in out
    assert "Settings for 95 training rows: batch 64, lr 0.021, up to 125 epochs, early" in out
    assert "Test accuracy:" in out
    model = load(tmp_path / "m.npz")
    assert model.metadata["feature_names"] == ["weight", "legs", "colour"]
    assert model.preprocessor.feature_names_out() == [
        "weight", "legs", "colour=blue", "colour=brown", "colour=red"
    ]  # fmt: skip
    assert model.target_transform is None


@pytest.mark.parametrize(
    ("choice", "given", "ignored"),
    [
        (None, ["--embedding-bins", "4"], ["--embedding-bins"]),  # auto: the periodic one
        ("periodic", ["--embedding-bins", "4", "--embedding-sigma", "2"], ["--embedding-bins"]),
        ("piecewise", ["--embedding-frequencies", "3", "--embedding-bins", "4"],
         ["--embedding-frequencies"]),
        ("none", ["--embedding-sigma", "2"], ["--embedding-sigma"]),
        ("piecewise", ["--embedding-bins", "4"], []),
    ],
)  # fmt: skip
def test_an_embedding_option_the_run_does_not_use_is_named(zoo, tmp_path, capsys, choice,
                                                           given, ignored):  # fmt: skip
    embedding = [] if choice is None else ["--numeric-embedding", choice]
    code, _, err = run(capsys, "train", zoo / "zoo.csv", "--target", "species", "--epochs", "2",
                       "--out", tmp_path / "m.npz", *FAST, *embedding, *given)  # fmt: skip
    assert code == 0
    warned = [line for line in err.splitlines() if "is ignored: it sets the" in line]
    assert [line.split()[3] for line in warned] == ignored
    for line in warned:
        kind = "piecewise" if "bins" in line else "periodic"
        assert f"add --numeric-embedding {kind} to use it." in line
    kept = load(tmp_path / "m.npz").metadata["training"]["numeric_embedding"]
    assert kept == choice if choice else kept in ("none", "periodic")  # auto keeps one of two


@pytest.mark.parametrize(
    ("choice", "option"), [("piecewise", "--embedding-bins"), ("periodic", "--embedding-sigma")]
)
def test_an_embedding_asked_of_a_table_without_numbers_says_why_it_is_none(
    tmp_path, capsys, choice, option
):
    rows = [
        [c, s, str(i % 3)] for i, (c, s) in enumerate(zip("abcab" * 12, "xyyxy" * 12, strict=True))
    ]
    write_csv(tmp_path / "t.csv", ["colour", "size", "label"], rows)
    code, out, err = run(capsys, "train", tmp_path / "t.csv", "--target", "label", "--epochs",
                         "2", "--categorical", "label", "--out", tmp_path / "m.npz", *FAST,
                         "--numeric-embedding", choice, option, "2")  # fmt: skip
    assert code == 0
    assert (
        f"Numeric embedding: none: the table has no numeric columns to embed "
        f"(--numeric-embedding {choice})." in out
    )
    assert "is ignored" not in err  # the header has said why
    assert load(tmp_path / "m.npz").metadata["training"]["numeric_embedding"] == "none"


def test_predict_on_new_raw_rows_with_unseen_and_missing_values(zoo, tmp_path, capsys):
    rows = [["x", "3.9", "brown", "4"], ["y", "NA", "green", "2"], ["z", "19", "", "4"]]
    write_csv(tmp_path / "new.csv", ["", "weight", "colour", "legs"], rows)
    code, out, err = run(capsys, "predict", zoo / "zoo.npz", tmp_path / "new.csv")
    assert code == 0
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["prediction", "p_bird", "p_cat", "p_dog"]
    assert [row[0] for row in table[1:]] == ["cat", "bird", "dog"]
    assert "'colour': 2" in err  # 'green' and the empty cell were not seen in training


def test_predict_matches_the_python_model_on_the_same_rows(zoo, capsys):
    code, out, _ = run(capsys, "predict", zoo / "zoo.npz", zoo / "zoo.csv")
    assert code == 0
    model = load(zoo / "zoo.npz")
    rows = list(csv.reader(io.StringIO((zoo / "zoo.csv").read_text(encoding="utf-8"))))
    columns = {name: [row[j] for row in rows[1:]] for j, name in enumerate(rows[0])}
    probabilities = model.loss.output_transform(model.predict(columns))
    printed = np.array(
        [[float(v) for v in row[1:]] for row in list(csv.reader(io.StringIO(out)))[1:]]
    )
    np.testing.assert_allclose(printed, probabilities, rtol=1e-5, atol=1e-6)


def test_evaluate_on_the_training_file_keeps_held_out_rows_apart(zoo, capsys):
    code, out, _ = run(capsys, "evaluate", zoo / "zoo.npz", zoo / "zoo.csv")
    assert code == 0
    assert "Dropped 1 rows whose target 'species' is missing." in out
    assert "40 of its rows were held out from training (its test part), 159 were trained on" in out
    lines = [line.split() for line in out.splitlines()]
    assert [line[0] for line in lines if line and line[0] in ("held-out", "training")] == [
        "held-out", "training"
    ]  # fmt: skip


def test_evaluate_on_other_rows_is_one_part(zoo, tmp_path, capsys):
    write_csv(tmp_path / "other.csv", HEADER, animals(30, 7))
    code, out, _ = run(capsys, "evaluate", zoo / "zoo.npz", tmp_path / "other.csv")
    assert code == 0
    assert "held out" not in out
    assert out.splitlines()[-1].startswith("data ")


def test_a_row_number_on_a_label_sorted_file_does_not_leak(tmp_path, capsys):
    """Sorted by label, the row number alone would give ~100%; it is dropped, so the run is
    the same as on the file without it."""
    rng = np.random.default_rng(3)
    n = 300
    label = np.sort(rng.integers(0, 2, n))
    x = (label + rng.normal(0, 1.2, (2, n))).round(3)  # ~70% separable
    with_number = [[i + 1, a, b, y] for i, (a, b, y) in enumerate(zip(*x, label, strict=True))]
    write_csv(tmp_path / "sorted.csv", ["", "a", "b", "y"], with_number)
    write_csv(tmp_path / "plain.csv", ["a", "b", "y"], [row[1:] for row in with_number])
    results = []
    for name in ("sorted.csv", "plain.csv"):
        code, out, _ = run(
            capsys, "train", tmp_path / name, "--target", "y", "--out", tmp_path / "m.npz",
            "--layers", "8", "--epochs", "40", "--quiet",
        )  # fmt: skip
        assert code == 0
        results.append(next(li for li in out.splitlines() if li.startswith("Test accuracy")))
    assert results[0] == results[1]
    assert float(results[0].split()[-1].rstrip("%")) < 90


def test_regression_in_thousands_is_scaled_and_predicted_in_its_units(tmp_path, capsys):
    rng = np.random.default_rng(4)
    n = 300
    size = rng.uniform(50, 200, n)
    town = rng.choice(["north", "south"], n)
    price = 1000 * size / 10 + np.where(town == "north", 5000, 0) + rng.normal(0, 300, n)
    rows = [[f"{s:.1f}", t, f"{p:.0f}"] for s, t, p in zip(size, town, price, strict=True)]
    rows[5][2] = "NA"
    write_csv(tmp_path / "houses.csv", ["size", "town", "price"], rows)
    code, out, _ = run(capsys, "train", tmp_path / "houses.csv", "--target", "price", "--out",
                       tmp_path / "h.npz", "--layers", "32", "--quiet")  # fmt: skip
    assert code == 0
    assert "Task: regression" in out
    assert "The target is standardized inside the model" in out
    r2 = float(next(li for li in out.splitlines() if li.startswith("Test R²")).split()[2][:-1])
    assert r2 > 0.95
    write_csv(tmp_path / "ask.csv", ["size", "town"], [["100", "north"], ["100", "south"]])
    code, out, _ = run(capsys, "predict", tmp_path / "h.npz", tmp_path / "ask.csv")
    values = [float(row[0]) for row in list(csv.reader(io.StringIO(out)))[1:]]
    np.testing.assert_allclose(values, [15000, 10000], rtol=0.05)


def test_task_override_and_numbers_declared_categorical(tmp_path, capsys):
    rng = np.random.default_rng(5)
    n = 120
    grade = rng.integers(1, 4, n)
    rows = [[g, f"{g * 2 + rng.normal():.3f}"] for g in grade]
    write_csv(tmp_path / "g.csv", ["grade", "score"], rows)
    code, out, _ = run(capsys, "train", tmp_path / "g.csv", "--target", "score", "--task",
                       "classification", "--out", tmp_path / "g.npz", *FAST)  # fmt: skip
    assert code == 1 or "classes" in out  # 120 distinct scores as classes is allowed, if odd
    code, out, _ = run(capsys, "train", tmp_path / "g.csv", "--target", "score",
                       "--categorical", "grade", "--out", tmp_path / "g.npz", *FAST)  # fmt: skip
    assert code == 0
    assert "Categorical (1): grade" in out


@pytest.mark.parametrize("kind", ["semicolon", "tab", "gz", "no-header"])
def test_files_as_they_come(tmp_path, capsys, kind):
    rows = animals(80, 6)
    if kind == "semicolon":
        path = write_csv(tmp_path / "z.csv", HEADER, rows, delimiter=";")
    elif kind == "tab":
        path = write_csv(tmp_path / "z.tsv", HEADER, rows, delimiter="\t")
    elif kind == "gz":
        plain = write_csv(tmp_path / "z.csv", HEADER, rows)
        path = tmp_path / "z.csv.gz"
        path.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        path = write_csv(tmp_path / "z.csv", [1, 2.5, 3, 4, 5], rows)  # a header of numbers
    target = "col5" if kind == "no-header" else "species"
    extra = ["--no-header"] if kind == "no-header" else []
    code, out, err = run(capsys, "train", path, "--target", target, "--out", tmp_path / "m.npz",
                         *extra, *FAST)  # fmt: skip
    assert code == 0, err
    code, out, err = run(capsys, "predict", tmp_path / "m.npz", path, *extra)
    assert code == 0, err
    assert len(out.splitlines()) == (81 if kind != "no-header" else 82)


def test_numeric_header_notice(tmp_path, capsys):
    path = write_csv(tmp_path / "n.csv", [1, 2, 3], [[i, i * 2, i % 2] for i in range(20)])
    code, out, _ = run(capsys, "train", path, "--target", "3", "--out", tmp_path / "m.npz", *FAST)
    assert code == 0
    assert "looks like data, not column names" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "nope"], "has no column 'nope'"),
        ([], "Name the target column"),
        (["--target", "species", "--drop", "zz"], "--drop names 'zz'"),
        (["--target", "species", "--encoding", "ascii"], "--encoding"),
        (["--target", "species", "--early-stopping", "3", "--val-split", "0"], "validation"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path, capsys, args, message):
    rows = animals(40, 8)
    rows[2][2] = "brün"
    write_csv(tmp_path / "z.csv", HEADER, rows)
    code, _, err = run(capsys, "train", tmp_path / "z.csv", *args, "--out", tmp_path / "m.npz")
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_every_train_default_is_shown_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    options = (
        "--epochs", "--batch-size", "--val-split", "--early-stopping", "--lr", "--layers",
        "--l2", "--delimiter", "--encoding", "--missing", "--task", "--max-categories",
        "--test-split", "--seed", "--optimizer", "--loss",
    )  # fmt: skip
    for option in options:
        start = text.index(option + " ", text.index("options:"))
        following = text[start : start + 400]
        assert "default" in following, option


def test_a_model_saved_without_an_encoder_still_loads_and_predicts(tmp_path, capsys):
    import scratchnn as snn

    model = snn.MLP([2, 4, 1], seed=0)
    model.save(tmp_path / "plain.npz")
    again = load(tmp_path / "plain.npz")
    assert again.preprocessor is None and again.target_transform is None
    np.testing.assert_array_equal(again.predict(np.ones((1, 2))), model.predict(np.ones((1, 2))))


def test_compare_and_search_take_raw_tables_like_train(tmp_path, capsys):
    path = write_csv(tmp_path / "zoo.csv", HEADER, animals(200, 1))
    code, out, err = run(
        capsys, "compare", "--data", path, "--target", "species", "--activations", "tanh,relu",
        "--epochs", "30", "--seeds", "1", "--workers", "0",
    )  # fmt: skip
    assert code == 0, err
    assert "Task: classification ('species': text labels)" in out
    assert "Categorical (1): colour" in out and "Dropped (1): '' (row number 1..200)" in out
    assert "160 training rows" in out and "40 held-out test rows" in out  # as train splits
    code, out, err = run(
        capsys, "search", path, "--target", "species", "--method", "grid", "--widths", "8",
        "--activations", "relu", "--lrs", "0.01", "--depths", "1", "--batch-sizes", "32",
        "--epochs", "30", "--val-split", "0.2", "--workers", "0", "--out", tmp_path / "best.npz",
    )  # fmt: skip
    assert code == 0, err
    # The best model reads the raw file, as a model of train does: text, missing values and
    # the row-number column included; evaluate keeps the held-out rows apart.
    code, _, err = run(capsys, "predict", tmp_path / "best.npz", path, "--out", tmp_path / "p.csv")
    assert code == 0, err
    with open(tmp_path / "p.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["prediction", "p_bird", "p_cat", "p_dog"] and len(rows) == 201
    code, out, err = run(capsys, "evaluate", tmp_path / "best.npz", path)
    assert code == 0, err
    assert "40 of its rows were held out from training" in out


def test_search_on_a_regression_table_scales_the_target_and_predicts_in_its_units(tmp_path, capsys):
    rng = np.random.default_rng(0)
    size = rng.uniform(50, 200, 300).round(1)
    area = rng.choice(["north", "south"], 300)
    price = 3000 * size + np.where(area == "north", 100_000, 0) + rng.normal(0, 5000, 300)
    path = write_csv(
        tmp_path / "homes.csv", ["size", "area", "price"],
        [[s, a, f"{p:.0f}"] for s, a, p in zip(size, area, price, strict=True)],
    )  # fmt: skip
    code, out, err = run(
        capsys, "search", path, "--target", "price", "--method", "grid", "--widths", "16",
        "--activations", "relu", "--lrs", "0.01", "--depths", "1", "--batch-sizes", "32",
        "--epochs", "60", "--val-split", "0.2", "--workers", "0", "--out", tmp_path / "best.npz",
    )  # fmt: skip
    assert code == 0, err
    assert "The target is standardized (mean" in out and "MSE is in units of its variance" in out
    code, _, err = run(capsys, "predict", tmp_path / "best.npz", path, "--out", tmp_path / "p.csv")
    assert code == 0, err
    with open(tmp_path / "p.csv", encoding="utf-8") as handle:
        predicted = np.array([float(row[0]) for row in list(csv.reader(handle))[1:]])
    # In dollars, not in standard deviations: close to the prices it learned.
    assert np.corrcoef(predicted, price)[0, 1] > 0.9
    assert abs(predicted.mean() - price.mean()) < 0.2 * price.std()
