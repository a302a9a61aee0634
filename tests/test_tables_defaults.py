"""Issue 28: table defaults that do not depend on the split or the row order, and that use all
the rows: count targets, row numbers and ids in any order, the network and L2 from the rows,
refit on all training rows, the user's own test file. Small tables written by the tests."""

from __future__ import annotations

import numpy as np
import pytest

from _tables import write_csv
from scratchnn.cli.defaults import (
    LARGE,
    MIN_VALIDATION,
    NETWORK_SIZES,
    TABLE_CLASSES,
    TABLES,
    auto_l2,
    choose,
    network,
    table_rule,
)
from scratchnn.cli.main import main
from scratchnn.datasets.tabular import encode_target
from scratchnn.io import load
from scratchnn.tables import TargetScaler, detect_task, infer_roles
from scratchnn.tables.target import count_target


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def visits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Doctor visits: a Poisson count (mostly 0, up to ~9) whose rate grows with ``illness``."""
    rng = np.random.default_rng(seed)
    illness = rng.uniform(0, 2, n)
    return illness, rng.poisson(0.15 * np.exp(1.2 * illness))


# ---- count targets ----------------------------------------------------------------------


def test_a_count_target_is_regression_on_the_file_and_on_every_shuffled_part():
    _, y = visits(400, 0)
    assert len(np.unique(y)) <= 20  # few distinct values: classes under the old rule
    task, why = detect_task(y)
    assert task == "regression" and why.startswith("counts: whole numbers 0..")
    rng = np.random.default_rng(1)
    for _ in range(20):  # any shuffled 64% part decides the same
        part = rng.permutation(y)[: int(0.64 * len(y))]
        assert detect_task(part)[0] == "regression"
    # the numeric-table reader asks the same detector
    assert encode_target(np.array([str(v) for v in y], dtype=object))[1] is None


@pytest.mark.parametrize(
    "values",
    [
        np.arange(200) % 10,  # digit labels, spread evenly
        np.repeat([0, 1, 2], [80, 60, 60]),  # three classes coded 0/1/2
        np.repeat([1, 2, 3, 4, 5], [60, 20, 10, 6, 4]),  # ratings from 1: no zeros
        np.repeat([0, 1, 2, 3, 4], [3, 3, 3, 3, 3]),  # 15 rows: too few to tell a skew
    ],
)
def test_labels_that_are_not_counts_stay_classes(values):
    assert count_target(values) is None
    assert detect_task(values)[0] == "classification"


def test_train_on_a_count_target_regresses_and_log1p_is_on_request(tmp_path, capsys):
    illness, y = visits(300, 2)
    rows = [[round(a, 3), int(b)] for a, b in zip(illness, y, strict=True)]
    path = write_csv(tmp_path / "visits.csv", ["illness", "visits"], rows)
    out_file = tmp_path / "m.npz"
    code, out, _ = run(capsys, "train", path, "--target", "visits", "--epochs", "30",
                       "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0
    assert "Task: regression ('visits': counts: whole numbers 0.." in out
    assert "log(1 + y)" not in out and "Test R²" in out  # auto: a plain regression
    model = load(out_file)
    assert model.metadata["task"] == "regression" and model.metadata["classes"] is None
    assert not model.target_transform.log1p
    code, out, _ = run(capsys, "train", path, "--target", "visits", "--epochs", "40",
                       "--target-transform", "log1p", "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0 and "as log(1 + y) (--target-transform log1p)" in out
    assert load(out_file).target_transform.log1p
    assert load(out_file).metadata["training"]["target_transform"] == "log1p"
    code, out, _ = run(capsys, "predict", out_file, path)
    predictions = np.array([float(line) for line in out.splitlines()[1:]])
    assert code == 0 and len(predictions) == 300 and (predictions >= 0).all()
    # more illness, more visits: the model learnt the count's rate
    assert np.corrcoef(predictions, illness)[0, 1] > 0.8


def test_log1p_refuses_a_negative_target(tmp_path, capsys):
    rows = [[i / 2, i - 5] for i in range(60)]
    path = write_csv(tmp_path / "neg.csv", ["x", "y"], rows)
    code, _, err = run(capsys, "train", path, "--target", "y", "--target-transform", "log1p",
                       "--epochs", "2", "--out", tmp_path / "m.npz")  # fmt: skip
    assert code != 0 and "--target-transform log1p needs a target >= 0" in err


def test_target_scaler_log1p_round_trips_and_refuses_negatives():
    y = np.array([0.0, 1.0, 3.0, 40.0])
    scaler = TargetScaler(log1p=True).fit(y)
    np.testing.assert_allclose(scaler.transform(y)[:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(y))[:, 0], y)
    assert (scaler.inverse_transform(np.array([[-50.0]])) >= 0).all()  # never below 0
    again = TargetScaler.from_state(*scaler.get_state())
    assert again.log1p and repr(again) == repr(scaler)
    assert not TargetScaler.from_state({}, scaler.get_state()[1]).log1p  # older files
    with pytest.raises(ValueError, match="needs a target >= 0; it holds -1"):
        TargetScaler(log1p=True).fit(np.array([-1.0, 2.0]))


def test_poisson_loss_on_a_count_target_is_printed_saved_and_predicts_rates(tmp_path, capsys):
    illness, y = visits(300, 5)
    rows = [[round(a, 3), int(b)] for a, b in zip(illness, y, strict=True)]
    path = write_csv(tmp_path / "visits.csv", ["illness", "visits"], rows)
    out_file = tmp_path / "m.npz"
    code, out, _ = run(capsys, "train", path, "--target", "visits", "--loss", "poisson",
                       "--epochs", "40", "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0 and "Loss: Poisson on log-rates (--loss poisson)." in out
    assert "The counts are divided by their training mean" in out
    model = load(out_file)
    assert model.metadata["training"]["loss"] == "poisson"
    assert model.target_transform.poisson and type(model.loss).__name__ == "Poisson"
    code, out, _ = run(capsys, "predict", out_file, path)
    predictions = np.array([float(line) for line in out.splitlines()[1:]])
    assert code == 0 and (predictions > 0).all()
    # the rate grows with illness, and its mean is the counts' mean (the Poisson fit's)
    assert np.corrcoef(np.log(predictions), illness)[0, 1] > 0.9
    assert predictions.mean() == pytest.approx(y.mean(), rel=0.15)


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        ([[i / 2, i - 5] for i in range(60)], [], "--loss poisson needs counts (a target >= 0)"),
        ([[i / 2, i % 7] for i in range(60)],
         ["--task", "regression", "--target-transform", "log1p"],
         "--loss poisson models the counts themselves"),
        ([[i / 2, "abc"[i % 3]] for i in range(60)], [], "--loss poisson is for count targets"),
    ],
)  # fmt: skip
def test_poisson_loss_refuses_negative_targets_log1p_and_classes(
    tmp_path, capsys, rows, extra, message
):
    path = write_csv(tmp_path / "t.csv", ["x", "y"], rows)
    code, _, err = run(capsys, "train", path, "--target", "y", "--loss", "poisson", *extra,
                       "--epochs", "2", "--out", tmp_path / "m.npz")  # fmt: skip
    assert code != 0 and message in err and not (tmp_path / "m.npz").exists()


def test_target_scaler_poisson_round_trips_and_exports_to_onnx(tmp_path):
    y = np.array([0.0, 1.0, 3.0, 4.0])
    scaler = TargetScaler(poisson=True).fit(y)
    np.testing.assert_allclose(scaler.transform(y)[:, 0], y / 2.0)
    np.testing.assert_allclose(scaler.inverse_transform(np.log([[0.5]])), [[1.0]])
    again = TargetScaler.from_state(*scaler.get_state())
    assert again.poisson and repr(again) == repr(scaler)
    with pytest.raises(ValueError, match="not both"):
        TargetScaler(log1p=True, poisson=True)
    with pytest.raises(ValueError, match="not all 0"):
        TargetScaler(poisson=True).fit(np.zeros(3))
    ort = pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime")
    pytest.importorskip("onnx", reason="the ONNX export needs onnx")
    from scratchnn import export_onnx
    from scratchnn.tables import tabular_mlp
    from scratchnn.tables.export import raw_feeds

    illness, counts = visits(100, 6)
    X = {"illness": illness}
    model = tabular_mlp(X, counts.astype(float), hidden=[8], task="regression", seed=0)
    model.target_transform = TargetScaler(poisson=True).fit(counts.astype(float))
    export_onnx(model, tmp_path / "rates.onnx")
    session = ort.InferenceSession(str(tmp_path / "rates.onnx"))
    got = session.run(None, raw_feeds(model.preprocessor, X))[0]
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-5, atol=1e-6)
    assert (got > 0).all()


# ---- roles from values, not row order ---------------------------------------------------


def panel(people: int = 60, years: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """A person id repeated over years, R's row-number column, a rank, a name per row."""
    rng = np.random.default_rng(seed)
    n = people * years
    ids = np.repeat(rng.choice(np.arange(1000, 9999), people, replace=False), years)
    return {
        "": np.arange(1, n + 1).astype(str),
        "nr": ids.astype(str),
        "year": np.tile(np.arange(1980, 1980 + years), people).astype(str),
        "rank": (rng.permutation(n) + 1).astype(str),
        "name": np.array([f"person {i} {j % 3}" for i in range(n) for j in [i]]),
        "hours": rng.integers(0, 60, n).astype(str),
    }


def test_roles_are_the_same_for_a_file_a_shuffled_copy_and_a_random_part():
    columns = panel()
    n = len(columns[""])
    whole = infer_roles(columns)
    rng = np.random.default_rng(5)
    for rows in (rng.permutation(n), np.sort(rng.permutation(n)[: int(0.64 * n)])):
        part = infer_roles({k: v[rows] for k, v in columns.items()})
        assert part.numeric == whole.numeric == ["year", "rank", "hours"]
        assert set(part.dropped) == set(whole.dropped) == {"", "nr", "name"}
    assert whole.dropped[""] == f"row number 1..{n}"
    assert whole.dropped["nr"] == f"identifier (60 distinct whole numbers in {n} rows)"
    assert whole.dropped["name"] == "identifier (a different text in every row)"


def test_a_shuffled_counter_named_like_an_index_is_a_row_number():
    n = 50
    order = np.random.default_rng(0).permutation(n)
    roles = infer_roles({"id": (order + 1).astype(str), "x": (order % 7).astype(str)})
    assert roles.dropped == {"id": f"row number {order.min() + 1}..{order.max() + 1}"}


def test_near_unique_text_is_an_identifier_but_a_few_categories_are_not():
    rng = np.random.default_rng(0)
    names = np.array([f"customer {i}" for i in range(95)] + ["customer 1"] * 5)
    roles = infer_roles({"who": names, "x": rng.normal(size=100).astype(str)})
    assert roles.dropped == {"who": "identifier (95 distinct texts in 100 rows)"}
    towns = rng.choice([f"town {i}" for i in range(30)], 100)
    assert infer_roles({"town": towns, "x": rng.normal(size=100).astype(str)}).categorical == [
        "town"
    ]


# ---- network, L2, refit, the user's own split ---------------------------------------------


def test_network_and_l2_shrink_with_the_rows():
    assert network(30)[0] == [64, 32] and network(19_999)[0] == [64, 32]
    assert network(20_000)[0] == [128, 64]
    assert network(60_000)[0] == list(NETWORK_SIZES[-1][1]) == [128, 64]
    sizes = [sum(network(n)[0]) for n in (10, 999, 1_000, 19_999, 20_000, 10**6)]
    assert sizes == sorted(sizes)
    assert auto_l2(10) == 0.1 and auto_l2(1_000) == pytest.approx(0.002)
    assert auto_l2(1_000, classification=True) == pytest.approx(0.001)  # a classifier's: 1/n
    assert auto_l2(5, classification=True) == 0.1


def test_a_classifier_takes_a_quarter_of_the_steps_in_batches_twice_as_large_below_large():
    assert table_rule(True, 1_000) is TABLE_CLASSES and table_rule(False, 1_000) is TABLES
    assert table_rule(True, LARGE) is TABLES  # one network, 10 epochs: only the lr differed
    classes, regression = choose(1_000, rule=TABLE_CLASSES), choose(1_000, rule=TABLES)
    assert (classes.lr, regression.lr) == (0.021, 0.01)
    assert (classes.batch_size, regression.batch_size) == (64, 32)
    # 250 steps of 64 rows (15 an epoch for 900 rows) against 1,000 of 32 (29 an epoch)
    assert (classes.epochs, regression.epochs) == (17, 35)
    # a classifier's batch is twice TABLES' for every table below LARGE rows (as a batch holds
    # at most the rows beside the validation part, under 80 rows it holds all of them)
    for n in range(MIN_VALIDATION, LARGE):
        classes, regression = choose(n, rule=TABLE_CLASSES), choose(n, rule=TABLES)
        fit_rows = round(n * (1 - classes.val_split))
        assert classes.batch_size == min(2 * regression.batch_size, fit_rows), n


def test_a_packed_classifiers_steps_are_counted_over_all_its_training_rows(tmp_path, capsys):
    """A packed ensemble's epoch steps through every training row (each member's own
    validation rows weighted 0): a classifier's 250 steps are counted over all of them (602
    rows in batches of 64: 10 steps, 25 epochs), a single network's over the rows beside its
    validation part (482: 8 steps, 32 epochs), and a regression's too (TABLES' count)."""
    assert choose(602, rule=TABLE_CLASSES).epochs == 32
    assert choose(602, rule=TABLE_CLASSES, epoch_rows=602).epochs == 25
    assert choose(602, rule=TABLE_CLASSES, epoch_rows=602, epochs=5).epochs == 5  # given wins
    rows = separable(753, 0)
    classes = write_csv(tmp_path / "c.csv", ["a", "b", "y"], rows)
    numbers = write_csv(tmp_path / "r.csv", ["a", "b", "y"], [[a, b, a - b] for a, b, _ in rows])
    header = {}
    for kind, path, options in (("ensemble", classes, []), ("one", classes, ["--ensemble", "1"]),
                                ("regression", numbers, [])):  # fmt: skip
        code, out, _ = run(capsys, "train", path, "--target", "y", *options, "--quiet",
                           "--out", tmp_path / "m.npz")  # fmt: skip
        assert code == 0
        header[kind] = next(li for li in out.splitlines() if li.startswith("Settings for"))
    assert "602 training rows: batch 64, lr 0.021, up to 25 epochs" in header["ensemble"]
    assert "602 training rows: batch 64, lr 0.021, up to 32 epochs" in header["one"]
    assert "602 training rows: batch 32, lr 0.01, up to 63 epochs" in header["regression"]


def separable(n: int, seed: int) -> list[list]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return [[round(a, 4), round(b, 4), "yes" if a + b > 0 else "no"] for a, b in x]


def test_the_saved_model_is_refit_on_all_training_rows(tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", ["a", "b", "y"], separable(200, 0))
    out_file = tmp_path / "m.npz"
    code, out, _ = run(capsys, "train", path, "--target", "y", "--epochs", "30",
                       "--early-stopping", "5", "--ensemble", "1", "--out", out_file,
                       "--quiet")  # fmt: skip
    assert code == 0
    assert "Network: 64-32 (auto: under 20,000 training rows; --layers)." in out
    assert "Refit: once early stopping has chosen the epochs on the 32 validation rows" in out
    assert "The saved model was trained on 160 of the 200 rows of t.csv; 40 were held out" in out
    training = load(out_file).metadata["training"]
    assert training["refit"] is True and training["rows_trained"] == 160
    assert training["layers"] == [64, 32] and training["lr"] == 0.021  # a classifier's rule
    assert training["l2"] == pytest.approx(1 / 160)  # a classifier's L2: 1 / rows
    assert (
        "L2 weight penalty 0.00625 on every Dense layer (auto: min(0.1, 1 / rows) for "
        "classes; --l2)." in out
    )
    code, out, _ = run(capsys, "train", path, "--target", "y", "--epochs", "30",
                       "--early-stopping", "5", "--no-refit", "--layers", "8", "--ensemble", "1",
                       "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0 and "Network: 8 (--layers)." in out and "Refit" not in out
    assert "The saved model was trained on 128 of the 200 rows" in out
    training = load(out_file).metadata["training"]
    assert training["refit"] is False and training["rows_trained"] == 128


def test_an_ensemble_averages_networks_in_one_saved_model(tmp_path, capsys):
    from scratchnn.layers import Average

    path = write_csv(tmp_path / "t.csv", ["a", "b", "y"], separable(200, 0))
    out_file = tmp_path / "m.npz"
    code, out, _ = run(capsys, "train", path, "--target", "y", "--epochs", "60",
                       "--early-stopping", "5", "--layers", "8", "--ensemble", "2",
                       "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0 and "Ensemble: 2 networks trained side by side (one packed model)" in out
    assert "Refit" not in out and "The saved model was trained on 160 of the 200 rows" in out
    model = load(out_file)
    assert isinstance(model.layers[0], Average) and len(model.layers[0].layers) == 2
    assert model.metadata["training"]["ensemble"] == 2
    # the printed loss is the data's: the two members' L2 penalties are not in it
    train_loss, train_accuracy = (
        float(v) for v in next(li for li in out.splitlines() if li.startswith("train ")).split()[1:]
    )
    assert train_accuracy >= 0.85 and train_loss < 0.5
    code, out, _ = run(capsys, "predict", out_file, path)
    assert code == 0 and len(out.splitlines()) == 201
    # a network that cannot be packed (BatchNorm) trains its members one after another
    code, out, _ = run(capsys, "train", path, "--target", "y", "--epochs", "5",
                       "--early-stopping", "5", "--layers", "8", "--ensemble", "2",
                       "--batch-norm", "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0 and "Ensemble: 2 networks (seeds 0..1), each early-stopped" in out
    assert len(load(out_file).layers[0].layers) == 2
    code, out, _ = run(capsys, "train", path, "--target", "y", "--epochs", "3", "--val-split",
                       "0", "--ensemble", "2", "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0 and "--ensemble 2: one network instead, as there is no early stopping" in out
    assert type(load(out_file).layers[0]).__name__ == "Dense"


def test_a_test_file_or_no_test_split_trains_on_every_row(tmp_path, capsys):
    train = write_csv(tmp_path / "train.csv", ["a", "b", "y"], separable(150, 1))
    test = write_csv(tmp_path / "test.csv", ["a", "b", "y"], separable(50, 2))
    out_file = tmp_path / "m.npz"
    code, out, _ = run(capsys, "train", train, "--target", "y", "--test", test,
                       "--epochs", "20", "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0
    assert "150 samples" in out and "testing on the 50 rows of test.csv (--test)" in out
    assert "The saved model was trained on 150 of the 150 rows of train.csv." in out
    code, out, _ = run(capsys, "evaluate", out_file, test)
    assert code == 0 and out.splitlines()[-1].startswith("held-out ")
    code, out, _ = run(capsys, "train", train, "--target", "y", "--no-test-split",
                       "--epochs", "20", "--out", out_file, "--quiet")  # fmt: skip
    assert code == 0 and "no test part (--test-split 0)" in out
    assert "The saved model was trained on 150 of the 150 rows of train.csv." in out


def test_a_log1p_target_exports_to_onnx_with_its_inverse(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime")
    pytest.importorskip("onnx", reason="the ONNX export needs onnx")
    from scratchnn import export_onnx
    from scratchnn.tables import tabular_mlp
    from scratchnn.tables.export import raw_feeds

    illness, y = visits(200, 3)
    X = {"illness": illness, "town": np.array(["a", "b", "c", "d"] * 50, dtype=object)}
    model = tabular_mlp(X, y.astype(float), hidden=[8], task="regression", seed=0)
    model.target_transform = TargetScaler(log1p=True).fit(y.astype(float))
    export_onnx(model, tmp_path / "counts.onnx")
    session = ort.InferenceSession(str(tmp_path / "counts.onnx"))
    got = session.run(None, raw_feeds(model.preprocessor, X))[0]
    expected = model.predict(X)
    assert (expected >= 0).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_too_few_epochs_are_said_to_leave_the_model_unconverged(tmp_path, capsys):
    # the bar of issue 28: the 300-row separable table with --epochs 30 reaches 0.97 training
    # accuracy or prints the not-converged warning; with --epochs 2 it must warn
    path = write_csv(tmp_path / "sep.csv", ["a", "b", "y"], separable(300, 4))
    for epochs in (2, 30):
        code, out, err = run(capsys, "train", path, "--target", "y", "--epochs", epochs,
                             "--out", tmp_path / "m.npz", "--quiet")  # fmt: skip
        assert code == 0
        train_accuracy = float(
            next(li for li in out.splitlines() if li.startswith("train ")).split()[-1]
        )
        warned = f"training stopped at --epochs {epochs} with the validation loss still" in err
        assert warned or train_accuracy >= 0.97
        if epochs == 2:
            assert warned and f"Try --epochs {2 * epochs}." in err
    code, _, err = run(capsys, "train", path, "--target", "y", "--epochs", "200",
                       "--early-stopping", "5", "--out", tmp_path / "m.npz", "--quiet")  # fmt: skip
    assert code == 0 and "may not have converged" not in err  # stopped early: converged


def test_small_networks_train_on_one_blas_thread_and_the_header_says_so(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="the thread limit needs it")
    from scratchnn.cli.tabular import blas_threads

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    context, why = blas_threads(16, [13, 256, 128, 1])
    assert why.startswith("BLAS threads: 1 (auto: a step's largest matrix product is 524,288")
    for _ in range(2):  # a fresh limit for each fit (the first and the refit)
        with context():
            blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
            assert all(i["num_threads"] == 1 for i in blas)
    assert blas_threads(128, [784, 4096, 10])[1] == ""  # large products keep the threads
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert blas_threads(16, [13, 64, 1])[1] == "BLAS threads: OPENBLAS_NUM_THREADS=2 (yours)."


def test_a_regression_keeps_the_stronger_l2(tmp_path, capsys):
    rows = [[a, b, round(a - 2 * b, 4)] for a, b, _ in separable(120, 1)]
    path = write_csv(tmp_path / "r.csv", ["a", "b", "y"], rows)
    code, out, _ = run(capsys, "train", path, "--target", "y", "--epochs", "5",
                       "--out", tmp_path / "r.npz", "--quiet")  # fmt: skip
    assert code == 0
    assert "(auto: min(0.1, 2 / rows) for regression; --l2)." in out
    assert load(tmp_path / "r.npz").metadata["training"]["l2"] == pytest.approx(2 / 96)


def test_early_stopping_counts_a_fall_of_min_delta_and_the_header_says_so(tmp_path, capsys):
    """A table's early stopping counts an epoch as an improvement only when the validation
    loss falls more than --min-delta (default 0.001) below the last counted best: with a
    fall no loss can make (--min-delta 100), every member is done after its first epoch and
    the patience, and the run stops there; --min-delta 0 is the plain rule."""
    path = write_csv(tmp_path / "t.csv", ["a", "b", "y"], separable(200, 0))
    runs = {}
    for given in (None, "0", "100"):
        options = [] if given is None else ["--min-delta", given]
        code, out, _ = run(capsys, "train", path, "--target", "y", "--quiet", *options,
                           "--out", tmp_path / "m.npz")  # fmt: skip
        assert code == 0
        header = next(li for li in out.splitlines() if li.startswith("Settings for"))
        runs[given] = header, load(tmp_path / "m.npz").metadata["training"]
    header, training = runs[None]
    assert "10 epochs without an improvement of 0.001 on a random 20%" in header
    assert "least improvement;" in header and header.endswith("--min-delta].")
    assert training["min_delta"] == 0.001
    header, training = runs["0"]
    assert "10 epochs without an improvement on a random 20%" in header
    assert "least improvement" not in header and "--min-delta" not in header
    assert training["min_delta"] == 0.0 and training["epochs"] > 11
    header, training = runs["100"]
    assert "without an improvement of 100 on" in header
    assert training["epochs"] == 1 + training["early_stopping"]  # the first epoch, then patience


@pytest.mark.parametrize("options", [["--ensemble", "1", "--no-refit"], ["--batch-norm"]])
def test_a_single_network_and_the_batch_norm_ensemble_stop_on_min_delta_too(
    tmp_path, capsys, options
):
    """Without the packed ensemble (one network, or three trained one after the other with
    --batch-norm) EarlyStopping gets the same least improvement: no loss falls by 100, so
    each network stops after its first epoch and the patience."""
    path = write_csv(tmp_path / "t.csv", ["a", "b", "y"], separable(200, 0))
    code, _, _ = run(capsys, "train", path, "--target", "y", "--quiet", "--min-delta", "100",
                       *options, "--out", tmp_path / "m.npz")  # fmt: skip
    assert code == 0
    training = load(tmp_path / "m.npz").metadata["training"]
    assert training["min_delta"] == 100
    assert training["epochs"] == 1 + training["early_stopping"], training


def test_min_delta_without_early_stopping_is_refused(tmp_path, capsys):
    """--min-delta with no early stopping to apply it to names the fix; without --min-delta
    such a run records 0."""
    path = write_csv(tmp_path / "t.csv", ["a", "b", "y"], separable(200, 0))
    code, _, err = run(capsys, "train", path, "--target", "y", "--early-stopping", "0",
                       "--min-delta", "0.01", "--quiet", "--out", tmp_path / "m.npz")  # fmt: skip
    assert code != 0
    assert "--min-delta 0.01 needs early stopping" in err and "(--early-stopping 0)" in err
    assert not (tmp_path / "m.npz").exists()
    code, _, _ = run(capsys, "train", path, "--target", "y", "--early-stopping", "0", "--quiet",
                     "--out", tmp_path / "m.npz")  # fmt: skip
    assert code == 0 and load(tmp_path / "m.npz").metadata["training"]["min_delta"] == 0.0
    with pytest.raises(ValueError, match="pass --early-stopping N and --val-split"):
        choose(30_000, rule=TABLES, min_delta=0.5)


def test_arrays_keep_no_least_improvement_unless_asked(tmp_path, capsys):
    assert choose(1000).min_delta == 0.0 and choose(1000, rule=TABLES).min_delta == 0.001
    assert choose(1000, rule=TABLE_CLASSES, min_delta=0.5).min_delta == 0.5
    code, out, _ = run(capsys, "train", "moons", "--epochs", "40", "--early-stopping", "3",
                       "--val-split", "0.2", "--min-delta", "100", "--quiet",
                       "--out", tmp_path / "m.npz")  # fmt: skip
    assert code == 0
    assert "without an improvement of 100 on a random 20%" in out
    assert "Trained 4 epochs" in out, out
