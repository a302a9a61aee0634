"""The ``scratchnn`` command line, run as a user runs it: a subprocess in a fresh folder.

Every command on small data (CSV files written here and the built-in problems), the promise
that a model saved by ``train`` predicts from the command line exactly what it predicts in
Python, and the error paths: one line on stderr, no traceback, a non-zero exit status.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from _tables import write_csv
from scratchnn.datasets import load_csv

SRC = Path(__file__).resolve().parents[1] / "src" / "scratchnn"
COMMANDS = [
    "train",
    "evaluate",
    "predict",
    "info",
    "demo",
    "compare",
    "export",
    "train-text",
    "generate",
]
CLASSES = ["bird", "cat", "dog"]
FEATURES = ["f1", "f2", "f3", "f4"]


def scratchnn(*args: object, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m scratchnn ARGS`` in ``cwd``; the result has text stdout and stderr."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "scratchnn", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def ok(result: subprocess.CompletedProcess) -> str:
    """Assert a clean success and return stdout."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def assert_one_line_error(
    result: subprocess.CompletedProcess, *fragments: str, status: int | None = None
) -> str:
    """A failure as the CLI promises it: non-zero exit, exactly one line on stderr, no
    traceback, and a message holding each of ``fragments``. Returns that line."""
    assert result.returncode != 0, f"expected a failure\n{result.stdout}\n{result.stderr}"
    if status is not None:
        assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("scratchnn"), line
    assert "error" in line, line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def labelled(X: np.ndarray, labels: list[str]) -> list[list[object]]:
    """Rows of features followed by the label."""
    return [[*x, label] for x, label in zip(X.tolist(), labels, strict=True)]


def read_csv_text(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def parse_table(text: str) -> dict[str, dict[str, float]]:
    """The metrics table printed by train/evaluate: {row name: {metric: value}}."""
    lines = text.splitlines()
    rule = [i for i, line in enumerate(lines) if line and set(line) == {"-"}][-1]  # the last
    names = lines[rule - 1].split()
    table = {}
    for line in lines[rule + 1 :]:
        cells = line.split()
        if len(cells) != len(names) + 1:
            break
        try:
            table[cells[0]] = {n: float(v) for n, v in zip(names, cells[1:], strict=True)}
        except ValueError:  # a line of text after the table
            break
    return table


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def classification_rows(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Three well separated clusters in 4-D with string labels, in shuffled order."""
    rng = np.random.default_rng(seed)
    centres = np.array([[3, 0, 0, 1], [0, 3, 0, -1], [0, 0, 3, 0]], dtype=float)
    index = rng.permutation(np.arange(n) % 3)
    X = centres[index] + 0.6 * rng.normal(size=(n, 4))
    return np.round(X, 5), [CLASSES[i] for i in index]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with a classification CSV (string labels, target not the last column), a
    regression CSV, and models trained on each by the command line."""
    folder = tmp_path_factory.mktemp("cli")
    X, labels = classification_rows(150, seed=0)
    rows = [[x[0], label, *x[1:]] for x, label in zip(X, labels, strict=True)]
    write_csv(folder / "animals.csv", ["f1", "species", "f2", "f3", "f4"], rows)
    # New data for prediction: no target column, and the columns in another order.
    X_new, _ = classification_rows(40, seed=1)
    write_csv(folder / "new_animals.csv", ["f4", "f3", "f2", "f1"], X_new[:, ::-1].tolist())

    rng = np.random.default_rng(2)
    Xr = np.round(rng.uniform(-2, 2, size=(120, 3)), 5)
    price = 3 * Xr[:, 0] - 2 * Xr[:, 1] + 0.5 * Xr[:, 2] ** 2 + 10 + 0.05 * rng.normal(size=120)
    write_csv(
        folder / "houses.csv",
        ["rooms", "age", "size", "price"],
        [[*x, round(p, 5)] for x, p in zip(Xr, price, strict=True)],
    )
    ok(
        scratchnn(
            "train", "animals.csv", "--target", "species", "--layers", "16", "--lr", "0.01",
            "--epochs", "30", "--batch-size", "32", "--seed", "1", "--out", "animals.npz",
            cwd=folder,
        )
    )  # fmt: skip
    ok(
        scratchnn(
            "train", "houses.csv", "--target", "price", "--layers", "16", "--lr", "0.01",
            "--epochs", "40", "--batch-size", "16", "--out", "houses.npz", "--quiet",
            cwd=folder,
        )
    )  # fmt: skip
    return folder


# --- help and usage -----------------------------------------------------------------------


def test_top_level_help_and_version(tmp_path):
    out = ok(scratchnn("--help", cwd=tmp_path))
    for command in COMMANDS:
        assert command in out
    assert ok(scratchnn("--version", cwd=tmp_path)).strip() == f"scratchnn {snn.__version__}"
    script = Path(sys.executable).with_name("scratchnn")  # the installed console script
    if script.exists():
        result = subprocess.run(
            [script, "--version"], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert ok(result).strip() == f"scratchnn {snn.__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command_exits_zero(tmp_path, command):
    out = ok(scratchnn(command, "--help", cwd=tmp_path))
    assert out.startswith(f"usage: scratchnn {command}")


def test_no_command_and_unknown_command_are_one_line_usage_errors(tmp_path):
    assert_one_line_error(scratchnn(cwd=tmp_path), "command", status=2)
    assert_one_line_error(scratchnn("frobnicate", cwd=tmp_path), "'frobnicate'", status=2)


# --- train --------------------------------------------------------------------------------


def test_train_on_a_csv_with_string_labels(work):
    model = snn.load(work / "animals.npz")
    meta = model.metadata
    assert meta["classes"] == CLASSES  # sorted, and decoded back to the strings
    assert meta["feature_names"] == FEATURES  # every column but the target, in file order
    assert meta["target"] == "species"
    assert meta["task"] == "classification"
    assert meta["dataset"] == "animals.csv"
    assert 10 < meta["training"]["epochs"] == model.epochs_trained <= 30  # (early stopping)
    assert model.in_features == 4 and model.out_features == 3
    # The table's front end (imputation, scaling, one-hot) travels with the model.
    assert type(model.preprocessor).__name__ == "TableEncoder"
    # the default for a table: three networks averaged in one model (--ensemble 3)
    assert type(model.layers[0]).__name__ == "Average" and len(model.layers[0].layers) == 3
    # Three well separated clusters: the network must learn them.
    assert meta["metrics"]["test"]["accuracy"] >= 0.9


def test_train_prints_what_it_does(tmp_path):
    X, labels = classification_rows(60, seed=3)
    write_csv(tmp_path / "d.csv", [*FEATURES, "kind"], labelled(X, labels))
    out = ok(
        scratchnn("train", "d.csv", "--target", "kind", "--epochs", "3", "--layers", "8",
                  "--out", "m.npz", cwd=tmp_path)
    )  # fmt: skip
    assert "Training on d.csv: 48 samples, 4 features, 3 classes; testing on 12 samples." in out
    assert "Epoch 3/3" in out  # one line per epoch when stdout is not a terminal
    assert "Trained 3 epochs" in out
    table = parse_table(out.split("Trained 3 epochs")[1])
    assert set(table) == {"train", "test"} and set(table["test"]) == {"loss", "accuracy"}
    assert re.search(r"Test accuracy: \d+\.\d\d%", out)
    assert "Model saved to m.npz" in out
    assert (tmp_path / "m.npz").exists()


def test_train_regression_on_a_csv(work):
    model = snn.load(work / "houses.npz")
    meta = model.metadata
    assert meta["classes"] is None and meta["task"] == "regression"
    assert meta["feature_names"] == ["rooms", "age", "size"]
    assert model.out_features == 1
    assert set(meta["metrics"]["test"]) == {"loss", "mae", "r2"}
    assert meta["metrics"]["train"]["r2"] > 0.8


def test_train_regression_output(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = X @ [1.5, -2.0] + 0.01 * rng.normal(size=50)
    write_csv(tmp_path / "r.csv", ["a", "b", "y"], np.column_stack([X, y]).tolist())
    out = ok(scratchnn("train", "r.csv", "--target", "y", "--epochs", "2", cwd=tmp_path))
    assert "2 features, regression; testing on 10 samples." in out
    assert "Test accuracy" not in out
    assert set(parse_table(out.split("Trained")[1])["test"]) == {"loss", "mae", "r2"}


@pytest.mark.parametrize(
    ("task", "expected"), [("auto", "5 classes"), ("regression", "regression")]
)
def test_train_task_override(tmp_path, task, expected):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    grade = np.arange(40) % 5  # few distinct whole numbers: classes unless told otherwise
    write_csv(tmp_path / "g.csv", ["a", "b", "grade"], np.column_stack([X, grade]).tolist())
    out = ok(
        scratchnn("train", "g.csv", "--target", "grade", "--task", task, "--epochs", "1",
                  "--quiet", cwd=tmp_path)
    )  # fmt: skip
    assert f"2 features, {expected}" in out
    classes = snn.load(tmp_path / "model.npz").metadata["classes"]
    assert classes == ([0, 1, 2, 3, 4] if task == "auto" else None)


def test_train_options_are_applied_and_recorded(tmp_path):
    X, labels = classification_rows(90, seed=4)
    write_csv(tmp_path / "d.csv", [*FEATURES, "kind"], labelled(X, labels))
    ok(
        scratchnn(
            "train", "d.csv", "--target", "kind", "--layers", "8,6", "--activation", "tanh",
            "--optimizer", "momentum", "--lr", "0.05", "--schedule", "step", "--epochs", "4",
            "--batch-size", "16", "--val-split", "0.25", "--early-stopping", "2",
            "--dropout", "0.1", "--batch-norm", "--standardize", "no", "--seed", "7",
            "--test-split", "0.3", "--ensemble", "1", "--quiet", "--out", "opts.npz",
            cwd=tmp_path,
        )
    )  # fmt: skip
    model = snn.load(tmp_path / "opts.npz")
    names = [type(layer).__name__ for layer in model.layers]
    assert names == [
        "Dense", "BatchNorm1d", "Tanh", "Dropout",
        "Dense", "BatchNorm1d", "Tanh", "Dropout",
        "Dense",
    ]  # fmt: skip
    training = model.metadata["training"]
    assert training["layers"] == [8, 6]
    assert training["optimizer"] == "momentum" and training["lr"] == 0.05
    assert training["seed"] == 7 and training["test_split"] == 0.3
    assert training["batch_norm"] is True and training["dropout"] == 0.1
    assert 1 <= training["epochs"] <= 4
    assert type(model.optimizer).__name__ == "SGD"
    info = ok(scratchnn("info", "opts.npz", cwd=tmp_path))
    assert "BatchNorm1d" in info and "Standardize" not in info


BUILTINS = ["xor", "spirals", "moons", "blobs", "curve"]  # digits: see test_demo_digits
#: Test samples of each built-in with --test-split 0.3 (XOR tests on its four points).
TEST_SIZES = {"xor": 4, "spirals": 180, "moons": 120, "blobs": 180, "curve": 120}


@pytest.mark.parametrize("name", BUILTINS)
def test_train_then_evaluate_a_builtin_dataset(tmp_path, name):
    """evaluate on a built-in name rebuilds the same test split (from the saved seed and
    test fraction), so it reproduces the test metrics that train recorded."""
    out = ok(
        scratchnn("train", name, "--epochs", "2", "--layers", "8", "--lr", "0.01",
                  "--seed", "3", "--test-split", "0.3", "--out", "m.npz", cwd=tmp_path)
    )  # fmt: skip
    assert out.startswith(f"Training on {name}:")
    model = snn.load(tmp_path / "m.npz")
    meta = model.metadata
    assert meta["dataset"] == name
    assert meta["task"] == ("regression" if name == "curve" else "classification")
    evaluation = ok(scratchnn("evaluate", "m.npz", name, cwd=tmp_path))
    assert f"m.npz on {name} (" in evaluation
    measured = parse_table(evaluation)["data"]
    assert set(measured) == set(meta["metrics"]["test"])
    for metric, value in meta["metrics"]["test"].items():
        assert measured[metric] == pytest.approx(value, abs=1e-4), metric
    if name in ("xor", "curve"):  # one classification, one regression
        predictions = ok(scratchnn("predict", "m.npz", name, cwd=tmp_path))
        header, rows = read_csv_text(predictions)
        assert header == (["prediction"] if name == "curve" else ["prediction", "p_0", "p_1"])
        assert len(rows) == TEST_SIZES[name]


@pytest.mark.slow
def test_train_on_the_bundled_mnist_reaches_97_5_percent(tmp_path):
    """The suite's one end-to-end accuracy test: ``make demo``'s main job (``scratchnn train``)
    keeps the README's promise. No other test trains on the full MNIST set."""
    out = ok(scratchnn("train", "--quiet", "--out", "m.npz", cwd=tmp_path, timeout=600))
    match = re.search(r"Test accuracy: (\d+\.\d+)%", out)
    assert match, out
    assert float(match.group(1)) >= 97.5
    assert "Training on mnist: 60,000 samples, 784 features, 10 classes" in out
    assert "Epoch" not in out  # --quiet
    assert (tmp_path / "m.npz").exists()


@pytest.mark.slow
def test_train_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (the plot extra)")
    out = ok(
        scratchnn("train", "moons", "--epochs", "2", "--layers", "4", "--quiet",
                  "--plot", "curves.png", cwd=tmp_path)
    )  # fmt: skip
    assert "Training curves written to curves.png" in out
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- evaluate, predict, info: the same answers as Python ----------------------------------


def python_predictions(model_path: Path, data_path: Path) -> tuple[list, np.ndarray | None]:
    """What the model predicts in Python for a CSV, decoded with the saved classes."""
    model = snn.load(model_path)
    meta = model.metadata
    table = load_csv(data_path, features=meta["feature_names"])
    outputs = model.predict(table.X)
    if meta["classes"] is None:
        return outputs[:, 0].tolist(), None
    return [meta["classes"][i] for i in outputs.argmax(axis=1)], outputs


def test_predict_to_stdout_matches_python(work):
    out = ok(scratchnn("predict", "animals.npz", "new_animals.csv", cwd=work))
    header, rows = read_csv_text(out)
    assert header == ["prediction", *(f"p_{c}" for c in CLASSES)]
    labels, outputs = python_predictions(work / "animals.npz", work / "new_animals.csv")
    assert len(rows) == 40
    assert [row[0] for row in rows] == labels
    probabilities = np.array([[float(p) for p in row[1:]] for row in rows])
    np.testing.assert_allclose(probabilities, softmax(outputs.astype(np.float64)), rtol=2e-5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert len(set(labels)) == 3  # the clusters are all represented


def test_predict_to_a_file(work):
    to_stdout = ok(scratchnn("predict", "animals.npz", "new_animals.csv", cwd=work))
    result = scratchnn(
        "predict", "animals.npz", "new_animals.csv", "--out", "predictions.csv", cwd=work
    )
    assert ok(result) == ""
    assert result.stderr.strip() == "40 predictions written to predictions.csv"
    assert (work / "predictions.csv").read_text() == to_stdout
    assert not list(work.glob("predictions.csv.tmp-*"))  # written atomically, nothing left


def test_predict_regression_matches_python(work):
    out = ok(scratchnn("predict", "houses.npz", "houses.csv", cwd=work))
    header, rows = read_csv_text(out)
    assert header == ["prediction"]
    values, _ = python_predictions(work / "houses.npz", work / "houses.csv")
    np.testing.assert_allclose([float(r[0]) for r in rows], values, rtol=1e-5, atol=1e-5)


def test_predict_after_saving_and_reloading_in_python_is_unchanged(work, tmp_path):
    """A model loaded and saved again in Python predicts the same from the command line."""
    model = snn.load(work / "animals.npz")
    model.save(tmp_path / "again.npz")
    original = ok(scratchnn("predict", work / "animals.npz", work / "new_animals.csv", cwd=work))
    again = ok(scratchnn("predict", "again.npz", work / "new_animals.csv", cwd=tmp_path))
    assert again == original


@pytest.mark.parametrize(("loss", "n_classes"), [("mse", 3), ("bce", 2)])
def test_predict_with_other_losses_matches_python(tmp_path, loss, n_classes):
    X, labels = classification_rows(90, seed=5)
    if n_classes == 2:
        labels = ["yes" if label == "cat" else "no" for label in labels]
    write_csv(tmp_path / "d.csv", [*FEATURES, "y"], labelled(X, labels))
    ok(
        scratchnn("train", "d.csv", "--target", "y", "--loss", loss, "--epochs", "20",
                  "--layers", "8", "--lr", "0.01", "--quiet", cwd=tmp_path)
    )  # fmt: skip
    out = ok(scratchnn("predict", "model.npz", "d.csv", cwd=tmp_path))
    header, rows = read_csv_text(out)
    model = snn.load(tmp_path / "model.npz")
    classes = model.metadata["classes"]
    table = load_csv(tmp_path / "d.csv", features=model.metadata["feature_names"])
    outputs = model.loss.output_transform(model.predict(table.X))
    if outputs.shape[1] == 1:  # one sigmoid/logit output for two classes
        expected = [classes[int(p >= 0.5)] for p in outputs[:, 0]]
        assert header == ["prediction", *(f"p_{c}" for c in classes)]
        probabilities = np.array([[float(v) for v in row[1:]] for row in rows])
        np.testing.assert_allclose(probabilities[:, 1], outputs[:, 0], rtol=2e-5, atol=1e-6)
    else:  # one-vs-rest scores that do not sum to 1: no probability columns
        expected = [classes[i] for i in outputs.argmax(axis=1)]
        assert header == ["prediction"]
    assert [row[0] for row in rows] == expected


def test_evaluate_matches_python(work, tmp_path):
    X, labels = classification_rows(60, seed=5)  # rows the model has never seen
    rows = [[x[0], label, *x[1:]] for x, label in zip(X, labels, strict=True)]
    write_csv(tmp_path / "fresh.csv", ["f1", "species", "f2", "f3", "f4"], rows)
    out = ok(scratchnn("evaluate", work / "animals.npz", "fresh.csv", cwd=tmp_path))
    assert "on fresh.csv (60 samples):" in out
    measured = parse_table(out)["data"]
    model = snn.load(work / "animals.npz")
    meta = model.metadata
    table = load_csv(
        tmp_path / "fresh.csv", target="species", features=meta["feature_names"],
        classes=meta["classes"],
    )  # fmt: skip
    expected = model.evaluate(table.X, table.y, metrics=["accuracy"])
    assert measured["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-4)
    # the data's loss: the table path reports the L2 penalty apart from it (issue 28)
    assert measured["loss"] == pytest.approx(expected["loss"] - model.penalty(), abs=1e-4)


def test_evaluate_regression(work):
    """On its own training file, evaluate scores the held-out rows and the training rows
    apart, and says so."""
    out = ok(scratchnn("evaluate", "houses.npz", "houses.csv", cwd=work))
    assert "is the model's training file" in out
    measured = parse_table(out)
    assert set(measured) == {"held-out", "training"}
    assert set(measured["held-out"]) == {"loss", "mae", "r2"}
    assert measured["held-out"]["r2"] > 0.8


def test_info(work):
    out = ok(scratchnn("info", "animals.npz", cwd=work))
    assert out.startswith("animals.npz: scratchnn model, ")
    assert "Preprocessor: TableEncoder(4 numeric, 0 categorical -> 4 features)" in out
    assert "Dense(in_features=16, out_features=3" in out
    epochs = snn.load(work / "animals.npz").epochs_trained
    assert f"Epochs trained: {epochs}" in out
    assert "Loss: CrossEntropy" in out
    # the default for a table, three networks averaged, is saved without an optimizer state
    # (its members were trained apart): it predicts, and --ensemble 1 trains on
    # (a classification table's members start with a PeriodicEmbedding where auto kept one)
    model = snn.load(work / "animals.npz")
    kept = model.metadata["training"]["numeric_embedding"]
    first = "PeriodicEmbedding(in_features=4" if kept == "periodic" else "Dense(in_features=4,"
    assert f"Average([Chain([{first}" in out
    assert "Data: animals.csv, 4 features, target 'species', 3 classes (bird, cat, dog)" in out
    assert "Training settings: layers=[16]" in out
    assert "Metrics at save time" in out
    regression = ok(scratchnn("info", "houses.npz", cwd=work))
    assert "target 'price', regression" in regression


def test_info_of_a_model_saved_from_python(tmp_path):
    snn.MLP([3, 4, 2], seed=0).save(tmp_path / "plain.npz")
    out = ok(scratchnn("info", "plain.npz", cwd=tmp_path))
    assert "Epochs trained: 0" in out and "Data:" not in out


def test_predict_ignores_a_target_column_it_does_not_need(work, tmp_path):
    """predict does not use the target: a file whose target column is empty (new rows to
    label) or holds labels the model never saw must still get predictions."""
    X, _ = classification_rows(6, seed=9)
    rows = [[*x, label] for x, label in zip(X, ["", "", "", "lizard", "", "cat"], strict=True)]
    write_csv(tmp_path / "unlabelled.csv", [*FEATURES, "species"], rows)
    out = ok(scratchnn("predict", work / "animals.npz", "unlabelled.csv", cwd=tmp_path))
    assert len(read_csv_text(out)[1]) == 6


def test_quoted_csv_header_works_for_evaluate_as_for_train(tmp_path):
    """A CSV with quoted names (as R's write.csv writes): train reads it, so must evaluate."""
    X, labels = classification_rows(30, seed=6)
    with open(tmp_path / "quoted.csv", "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow([*FEATURES, "species"])
        writer.writerows([[*map(float, x), y] for x, y in zip(X, labels, strict=True)])
    ok(scratchnn("train", "quoted.csv", "--target", "species", "--epochs", "1", cwd=tmp_path))
    ok(scratchnn("evaluate", "model.npz", "quoted.csv", cwd=tmp_path))


# --- demo, compare, export ----------------------------------------------------------------


def test_demo_xor(tmp_path):
    out = ok(scratchnn("demo", "xor", "--epochs", "3000", cwd=tmp_path))
    assert "2 inputs -> 4 sigmoid units -> 1 sigmoid output" in out
    assert re.search(r"epoch\s+3000: loss \d\.\d{5}", out)
    assert len(re.findall(r"epoch\s+\d+: loss", out)) == 5
    rows = re.findall(r"\[(\d) (\d)\]\s+(\d\.\d{3})\s+(\d)", out)
    assert [(a, b, t) for a, b, _, t in rows] == [
        ("0", "0", "0"), ("0", "1", "1"), ("1", "0", "1"), ("1", "1", "0")
    ]  # fmt: skip
    assert "XOR learned." in out or "Not learned yet" in out


@pytest.mark.slow
def test_demo_xor_learns_with_the_default_epochs(tmp_path):
    assert "XOR learned." in ok(scratchnn("demo", "xor", cwd=tmp_path))


def test_demo_spirals(tmp_path):
    out = ok(scratchnn("demo", "spirals", "--epochs", "3", "--quiet", cwd=tmp_path))
    assert "spirals: 450 training and 150 test samples, 3 classes." in out
    assert "Standardize" in out
    assert set(parse_table(out)) == {"train", "test"}


@pytest.mark.slow
def test_demo_digits(tmp_path):
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    out = ok(scratchnn("demo", "digits", "--epochs", "1", "--quiet", cwd=tmp_path))
    assert "10 classes" in out
    assert parse_table(out)["test"]["accuracy"] > 0.5


def compare_rows(out: str) -> tuple[list[str], list[list[str]]]:
    """The header cells and data rows of compare's table (columns split on 2+ spaces)."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    split = lambda line: re.split(r"\s{2,}", line.strip())  # noqa: E731
    rows = [split(line) for line in lines[rule + 1 :] if line.strip()]
    return split(lines[rule - 1]), rows


@pytest.mark.parametrize(
    ("option", "values", "dimension"),
    [
        ("--activations", ["sigmoid", "tanh", "relu"], "activation"),
        ("--optimizers", ["sgd", "momentum", "adam"], "optimizer"),
        ("--losses", ["mse", "cross-entropy", "bce"], "loss"),
        ("--depths", ["1", "2", "3"], "depth"),
    ],
)
def test_compare_varies_one_thing(tmp_path, option, values, dimension):
    out = ok(
        scratchnn("compare", option, ",".join(values), "--epochs", "60", "--seeds", "2",
                  "--workers", "0", cwd=tmp_path)
    )  # fmt: skip
    assert out.startswith(f"xor: 2 seeds each, 60 epochs, hidden width 4; varying the {dimension}.")
    header, rows = compare_rows(out)
    # XOR has no held-out rows: its accuracy is "train"; different losses meet on accuracy.
    losses = dimension == "loss"
    assert header == [
        dimension, "optimizer (lr)", "final loss (own)" if losses else "final loss",
        "train accuracy",
        ("epochs to train accuracy>=1" if losses else "epochs to loss<0.05")
        + " (median of reached)",
        "reached", "seconds",
    ]  # fmt: skip
    assert [row[0] for row in rows] == values
    finals = []
    for row in rows:
        assert len(row) == 7, row
        assert re.fullmatch(r"(SGD|Adam)\(lr=[\d.]+(, momentum=0\.9)?\)", row[1]), row
        assert re.fullmatch(r"\d+\.\d{4} ± \d+\.\d{4}", row[2]), row
        assert re.fullmatch(r"\d+\.\d\d%", row[3]), row
        assert re.fullmatch(r"\d+|-", row[4]), row
        assert re.fullmatch(r"[0-2]/2", row[5]), row
        finals.append(row[2])
    # Each value is a different experiment: the final losses differ.
    assert len(set(finals)) == len(values), rows


def test_compare_on_regression_data_has_no_accuracy(tmp_path):
    out = ok(
        scratchnn("compare", "--data", "curve", "--depths", "1,2", "--epochs", "5",
                  "--seeds", "1", "--workers", "0", cwd=tmp_path)
    )  # fmt: skip
    assert out.startswith("curve: ")
    header, rows = compare_rows(out)
    assert [row[0] for row in rows] == ["1", "2"]
    assert not any("accuracy" in name for name in header)
    assert "train mse" in header and "test mse" in header  # curve has held-out rows


def test_compare_rejects_a_classification_loss_on_regression_data(tmp_path):
    result = scratchnn(
        "compare", "--data", "curve", "--losses", "mse,cross-entropy", "--epochs", "2",
        "--seeds", "1", cwd=tmp_path,
    )  # fmt: skip
    assert_one_line_error(result, "cross-entropy")


def test_compare_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (the plot extra)")
    out = ok(
        scratchnn("compare", "--activations", "tanh,relu", "--epochs", "5", "--seeds", "1",
                  "--plot", "loss.png", "--workers", "0", cwd=tmp_path)
    )  # fmt: skip
    assert "Loss curves written to loss.png" in out
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_export(work, tmp_path):
    if not (SRC / "onnx.py").exists():
        pytest.skip("ONNX export is not part of this build yet")
    pytest.importorskip("onnx", reason="ONNX export needs the onnx package (the onnx extra)")
    out = ok(scratchnn("export", work / "animals.npz", "animals.onnx", cwd=tmp_path))
    assert out.strip() == f"Exported {work / 'animals.npz'} to animals.onnx"
    assert (tmp_path / "animals.onnx").stat().st_size > 0
    onnxruntime = pytest.importorskip("onnxruntime", reason="running the export needs it")
    from scratchnn.tables.export import raw_feeds

    model = snn.load(work / "animals.npz")
    X = load_csv(work / "new_animals.csv", features=FEATURES).X
    columns = dict(zip(FEATURES, X.T, strict=True))  # the graph takes one input per column
    session = onnxruntime.InferenceSession(str(tmp_path / "animals.onnx"))
    assert sorted(i.name for i in session.get_inputs()) == sorted(FEATURES)
    (outputs,) = session.run(None, raw_feeds(model.preprocessor, columns))
    np.testing.assert_allclose(outputs, model.predict(columns), rtol=1e-5, atol=1e-5)


def test_export_errors(work, tmp_path):
    if not (SRC / "onnx.py").exists():
        pytest.skip("ONNX export is not part of this build yet")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert_one_line_error(scratchnn("export", "junk.npz", "m.onnx", cwd=tmp_path), "junk.npz")
    result = scratchnn("export", work / "animals.npz", "m.onnx", "--opset", "0", cwd=tmp_path)
    assert_one_line_error(result, "--opset", status=2)


# --- errors: one line on stderr, no traceback, non-zero exit ------------------------------


@pytest.fixture
def bad_files(tmp_path) -> Path:
    X, labels = classification_rows(12, seed=8)
    rows = labelled(X, labels)
    write_csv(tmp_path / "good.csv", [*FEATURES, "species"], rows)
    rows[2][1] = "abc"  # line 4 of the file, column f2
    write_csv(tmp_path / "words.csv", [*FEATURES, "species"], rows)
    return tmp_path


def test_error_missing_data_file(tmp_path):
    result = scratchnn("train", "nope.csv", "--target", "y", cwd=tmp_path)
    assert_one_line_error(result, "nope.csv", "xor", status=1)


def test_error_unknown_target_column(bad_files):
    result = scratchnn("train", "good.csv", "--target", "colour", cwd=bad_files)
    assert_one_line_error(result, "'colour'", "f1, f2, f3, f4, species")


def test_error_csv_without_target(bad_files):
    result = scratchnn("train", "good.csv", cwd=bad_files)
    assert_one_line_error(result, "--target", "f1, f2, f3, f4, species")


def test_a_text_column_is_encoded_or_dropped_and_the_run_says_why(bad_files):
    """Text in a feature column used to be refused; real tables have such columns, so it is
    now encoded (categories) or, as here with a different text in every row, dropped as an
    identifier, and the run header names it and the reason."""
    result = scratchnn(
        "train", "words.csv", "--target", "species", "--epochs", "2", "--out", "w.npz",
        cwd=bad_files,
    )  # fmt: skip
    out = ok(result)
    assert "Dropped (1): f2 (identifier" in out


def test_error_no_training_samples_left(bad_files):
    write_csv(bad_files / "two.csv", ["a", "y"], [[1, "x"], [2, "z"]])
    result = scratchnn("train", "two.csv", "--target", "y", "--test-split", "0.9", cwd=bad_files)
    assert_one_line_error(result, "--test-split")


def test_error_classification_loss_on_a_regression_target(tmp_path):
    result = scratchnn("train", "curve", "--loss", "cross-entropy", cwd=tmp_path)
    assert_one_line_error(result, "--loss cross-entropy", "regression")


def test_error_unknown_activation(bad_files):
    result = scratchnn(
        "train", "good.csv", "--target", "species", "--activation", "wavy", cwd=bad_files
    )
    assert_one_line_error(result, "'wavy'", "ReLU")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--epochs", "0"),
        ("--lr", "-1"),
        ("--lr", "nan"),
        ("--layers", "12,x"),
        ("--layers", "12,-3"),
        ("--val-split", "1.5"),
        ("--test-split", "1"),
        ("--batch-size", "0"),
        ("--optimizer", "adamax"),
        ("--loss", "hinge"),
        ("--schedule", "linear"),
    ],
)
def test_error_bad_option_value(bad_files, option, value):
    result = scratchnn("train", "good.csv", "--target", "species", option, value, cwd=bad_files)
    line = assert_one_line_error(result, option, repr(value), status=2)
    assert "see scratchnn train --help" in line


def test_error_bad_option_values_of_other_commands(tmp_path):
    assert_one_line_error(scratchnn("demo", "mnist", cwd=tmp_path), "'mnist'", status=2)
    assert_one_line_error(
        scratchnn("compare", "--depths", "1", "--seeds", "0", cwd=tmp_path), "--seeds", status=2
    )
    assert_one_line_error(
        scratchnn("predict", "m.npz", cwd=tmp_path), "DATA", status=2
    )  # a missing argument


def test_error_model_missing_a_feature_column(work, tmp_path):
    X, labels = classification_rows(5, seed=9)
    rows = [[x[0], x[1], x[3], y] for x, y in zip(X, labels, strict=True)]
    write_csv(tmp_path / "three.csv", ["f1", "f2", "f4", "species"], rows)
    for command in ("evaluate", "predict"):
        result = scratchnn(command, work / "animals.npz", "three.csv", cwd=tmp_path)
        assert_one_line_error(result, "three.csv", "'f3'", f"scratchnn {command}: error")


@pytest.mark.parametrize("width", [3, 5])
def test_error_model_given_an_npz_with_the_wrong_number_of_features(work, tmp_path, width):
    np.savez(tmp_path / "X.npz", X=np.zeros((4, width)))
    result = scratchnn("predict", work / "animals.npz", "X.npz", cwd=tmp_path)
    assert_one_line_error(result, "X.npz")


def test_error_model_without_recorded_features_reading_a_csv(bad_files):
    snn.MLP([4, 3], seed=0).save(bad_files / "plain.npz")
    result = scratchnn("predict", "plain.npz", "good.csv", cwd=bad_files)
    assert_one_line_error(result, "feature columns")


def test_error_model_trained_on_another_builtin(tmp_path):
    ok(scratchnn("train", "xor", "--epochs", "1", "--layers", "2", "--quiet", cwd=tmp_path))
    assert_one_line_error(scratchnn("evaluate", "model.npz", "moons", cwd=tmp_path), "'xor'")


def test_error_evaluate_needs_the_target(work):
    result = scratchnn("evaluate", "animals.npz", "new_animals.csv", cwd=work)
    assert_one_line_error(result, "'species'", "f4, f3, f2, f1")


def test_error_evaluate_with_a_label_unseen_in_training(work, tmp_path):
    X, labels = classification_rows(6, seed=10)
    labels[3] = "lizard"
    write_csv(tmp_path / "zoo.csv", [*FEATURES, "species"], labelled(X, labels))
    result = scratchnn("evaluate", work / "animals.npz", "zoo.csv", cwd=tmp_path)
    assert_one_line_error(result, "'lizard'", "bird, cat, dog")


@pytest.mark.parametrize("command", ["evaluate", "predict", "info"])
def test_error_corrupt_model_file(bad_files, command):
    (bad_files / "junk.npz").write_bytes(np.random.default_rng(0).bytes(2000))
    args = ["junk.npz"] if command == "info" else ["junk.npz", "good.csv"]
    assert_one_line_error(scratchnn(command, *args, cwd=bad_files), "junk.npz", status=1)


def test_error_truncated_and_missing_model_files(work, tmp_path):
    data = (work / "animals.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    assert_one_line_error(scratchnn("info", "cut.npz", cwd=tmp_path), "cut.npz")
    assert_one_line_error(scratchnn("info", "absent.npz", cwd=tmp_path), "absent.npz")
    result = scratchnn("evaluate", work / "animals.npz", "absent.csv", cwd=tmp_path)
    assert_one_line_error(result, "absent.csv")


def test_error_data_file_is_not_a_csv(work, tmp_path):
    (tmp_path / "blob.npz").write_bytes(b"not a zip at all")
    result = scratchnn("predict", work / "animals.npz", "blob.npz", cwd=tmp_path)
    assert_one_line_error(result, "blob.npz")


def test_error_unwritable_output(work, tmp_path):
    result = scratchnn(
        "predict", work / "animals.npz", work / "new_animals.csv", "--out", "no/such/p.csv",
        cwd=tmp_path,
    )  # fmt: skip
    assert_one_line_error(result, "no/such/p.csv")


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--activations", "tanh,relu", "--depths", "1,2"],
        ["--optimizers", "sgd", "--losses", "mse"],
    ],
    ids=["none", "two", "two-others"],
)
def test_error_compare_needs_exactly_one_varied_dimension(tmp_path, options):
    result = scratchnn("compare", *options, "--epochs", "1", cwd=tmp_path)
    received = 0 if not options else 2
    assert_one_line_error(result, "exactly one", f"received {received}")


def test_error_compare_bad_values(tmp_path):
    result = scratchnn("compare", "--depths", "1,two", "--epochs", "1", cwd=tmp_path)
    assert_one_line_error(result, "--depths", "'two'")
    result = scratchnn("compare", "--activations", ",", "--epochs", "1", cwd=tmp_path)
    assert_one_line_error(result, "--activations")
    result = scratchnn("compare", "--activations", "tanh,bogus", "--epochs", "1", cwd=tmp_path)
    assert_one_line_error(result, "'bogus'")


def test_prediction_csv_is_what_csv_writer_writes():
    import csv
    import io

    from scratchnn.cli.commands import write_predictions

    rng = np.random.default_rng(0)
    classes = ["plain", "a,b", 'say "hi"', "two\nlines", 7]
    probabilities = rng.dirichlet(np.ones(len(classes)), size=50).astype(np.float32)
    decoded = probabilities.argmax(axis=1)
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow(["prediction", *(f"p_{c}" for c in classes)])
    writer.writerows(
        [classes[int(i)], *(f"{p:.6g}" for p in row)]
        for i, row in zip(decoded, probabilities, strict=True)
    )
    out = io.StringIO()
    assert write_predictions(out, decoded, probabilities, classes) == 50
    assert out.getvalue() == expected.getvalue()
    # Regression, one and several outputs; labels without probabilities.
    values = rng.normal(size=(4, 2))
    out = io.StringIO()
    write_predictions(out, values, None, None)
    assert out.getvalue().splitlines()[0] == "prediction_0,prediction_1"
    assert out.getvalue().splitlines()[1] == ",".join(f"{v:.6g}" for v in values[0])
    out = io.StringIO()
    write_predictions(out, values[:, 0], None, None)
    assert out.getvalue().split("\r\n")[:2] == ["prediction", f"{values[0, 0]:.6g}"]
    out = io.StringIO()
    assert write_predictions(out, np.array([1, 0]), None, ["x,y", "z"]) == 2
    assert out.getvalue() == 'prediction\r\nz\r\n"x,y"\r\n'
