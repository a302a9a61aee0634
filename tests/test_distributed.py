"""scratchnn.distributed on a 2-worker LocalCluster: data-parallel training against model.fit,
trials as Dask tasks (search, compare), scikit-learn's GridSearchCV under joblib's Dask
backend."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

pytest.importorskip("distributed", reason="Dask is the optional 'dask' extra")

from dask.distributed import Client, LocalCluster

import scratchnn as snn
from scratchnn.cli.main import main
from scratchnn.distributed import map_trials


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def _data(n=800, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 1)
    return X, y


def _model(**dense):
    layers = [
        snn.Dense(6, 16, **dense),
        snn.Tanh(),
        snn.Dense(16, 16, **dense),
        snn.ReLU(),
        snn.Dense(16, 3),
    ]
    return snn.Sequential(layers, seed=3, dtype=np.float64)


@pytest.mark.parametrize(
    ("make_optimizer", "dense", "weighted", "make_schedule"),
    [
        (lambda: "adam", {}, False, lambda: None),
        (
            lambda: snn.optim.SGD(lr=0.05, momentum=0.9),
            {"l2": 1e-3},
            True,
            lambda: snn.schedules.CosineAnnealing(T_max=4),
        ),
    ],
    ids=["adam", "momentum-l2-weights-cosine"],
)
def test_data_parallel_equals_single_process_after_100_steps(
    client, make_optimizer, dense, weighted, make_schedule
):
    X, y = _data()
    w = np.random.default_rng(1).uniform(0.1, 3.0, size=len(y)) if weighted else None

    def options():
        return dict(loss="cross_entropy", optimizer=make_optimizer(), schedule=make_schedule(),
                    epochs=4, batch_size=32, sample_weight=w)  # fmt: skip

    reference = _model(**dense)
    expected = reference.fit(X, y, verbose=0, **options())
    model = _model(**dense)
    history = snn.distributed.fit(model, X, y, client, **options())
    stats = history.data_parallel
    assert stats.steps == 100 and stats.workers == 2
    np.testing.assert_allclose(model.get_weights(), reference.get_weights(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-10)
    np.testing.assert_allclose(history["lr"], expected["lr"], rtol=1e-12)
    assert stats.max_replica_difference == 0.0  # every replica applied the same updates
    # Per step: each worker's gradient up and the averaged gradient down (P float64 each),
    # plus the batch's row indices.
    parameters = model.parameters().flat.value.size
    per_step = 2 * 2 * parameters * 8 + 32 * 8
    assert 0.95 * per_step < stats.bytes_per_step < 1.01 * per_step
    assert stats.samples_per_second > 0


def test_data_parallel_validation_data_and_metrics_equal_model_fit(client):
    X, y = _data()
    X_val, y_val = _data(n=300, seed=7)
    options = dict(loss="cross_entropy", optimizer="adam", epochs=3, batch_size=64,
                   validation_data=(X_val, y_val), metrics=["accuracy"])  # fmt: skip
    reference = _model()
    expected = reference.fit(X, y, verbose=0, **options)
    model = _model()
    history = snn.distributed.fit(model, X, y, client, **options)
    assert list(history.history) == ["loss", "val_loss", "val_accuracy", "lr"]
    np.testing.assert_allclose(history["val_loss"], expected["val_loss"], rtol=1e-10)
    np.testing.assert_allclose(history["val_accuracy"], expected["val_accuracy"])
    with pytest.raises(ValueError, match="pass validation_data too"):
        snn.distributed.fit(
            _model(), X, y, client, loss="cross_entropy", optimizer="adam", metrics=["accuracy"]
        )


def test_data_parallel_refuses_batch_norm_and_stops_on_divergence(client):
    X, y = _data(n=64)
    model = snn.Sequential([snn.Dense(6, 4), snn.BatchNorm1d(4), snn.Dense(4, 3)])
    with pytest.raises(ValueError, match=r"BatchNorm1d.*each worker sees only its part"):
        snn.distributed.fit(model, X, y, client, loss="cross_entropy", optimizer="sgd")
    # A learning rate that diverges: both stop at the same batch with the same last weights.
    reference, model = _model(), _model()
    options = dict(loss="mse", epochs=1, batch_size=16)
    target = np.eye(3)[y] * 1e150
    with (
        pytest.raises(snn.TrainingDivergedError, match=r"batch (\d+)") as single,
        np.errstate(over="ignore", invalid="ignore"),
    ):
        reference.fit(X, target, optimizer=snn.optim.SGD(lr=1e10), verbose=0, **options)
    batch = re.search(r"batch (\d+)", str(single.value)).group(1)
    with pytest.raises(snn.TrainingDivergedError, match=rf"epoch 1, batch {batch}\b"):
        snn.distributed.fit(model, X, target, client, optimizer=snn.optim.SGD(lr=1e10), **options)
    np.testing.assert_allclose(model.get_weights(), reference.get_weights(), rtol=1e-10)
    assert np.isfinite(model.get_weights()).all()


def _square_plus(item, shared):
    return item * item + shared


def test_map_trials_gives_the_same_results_on_the_cluster_and_in_process(client):
    items = list(range(7))
    assert map_trials(_square_plus, items, 10, client=client) == [i * i + 10 for i in items]
    assert map_trials(_square_plus, items, 10) == map_trials(_square_plus, items, 10, workers=0)


def _table(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    return [" ".join(line.split()[:-1]) for line in lines[start : start + 6]]  # no seconds


def test_search_runs_its_trials_on_the_cluster_like_in_process(client, tmp_path, capsys):
    common = ["search", "blobs", "--method", "grid", "--depths", "1", "--widths", "4,8",
              "--activations", "tanh", "--lrs", "0.01,0.1", "--batch-sizes", "64",
              "--epochs", "3", "--cv", "2"]  # fmt: skip
    assert main([*common, "--workers", "0", "--out", str(tmp_path / "a.npz")]) == 0
    here = capsys.readouterr().out
    address = client.scheduler.address
    results = tmp_path / "trials.csv"
    out = str(tmp_path / "b.npz")
    assert main([*common, "--scheduler", address, "--out", out, "--results", str(results)]) == 0
    there = capsys.readouterr().out
    assert "4 trials" in there and f"the Dask cluster at {address}" in there
    assert _table(here) == _table(there)
    assert len(results.read_text().splitlines()) == 5
    best = snn.load(out)
    assert best.metadata["search"]["trials"] == 4 and best.metadata["classes"] is not None
    assert main(["evaluate", out, "blobs"]) == 0


def test_search_random_draws_and_refuses_bad_spaces(capsys):
    from scratchnn.cli.main import build_parser
    from scratchnn.cli.search import configurations

    options = ["--method", "random", "--trials", "5", "--lrs", "1e-4:1e-1"]
    args = build_parser().parse_args(["search", *options])
    configs = configurations(args)
    assert len(configs) == 5 and all(1e-4 <= c["lr"] <= 1e-1 for c in configs)
    assert len({c["lr"] for c in configs}) == 5
    assert main(["search", "blobs", "--method", "grid", "--lrs", "1e-4:1e-1"]) == 1
    assert "random search" in capsys.readouterr().err
    assert main(["search", "blobs", "--optimizers", "adamm", "--workers", "0"]) == 1
    assert "Unknown optimizer 'adamm'" in capsys.readouterr().err


def test_compare_rows_as_dask_tasks_print_the_same_table(client, capsys):
    common = ["compare", "--optimizers", "sgd,adam", "--epochs", "30", "--seeds", "2"]
    assert main([*common, "--workers", "0"]) == 0
    here = capsys.readouterr().out
    assert "Ran on this process" in here
    assert main([*common, "--scheduler", client.scheduler.address]) == 0
    there = capsys.readouterr().out
    assert f"Ran on the Dask cluster at {client.scheduler.address}" in there

    def without_seconds(text):
        return [
            line.rsplit(None, 1)[0]
            for line in text.splitlines()
            if line.strip() and not line.startswith("Ran on")
        ]

    assert without_seconds(here) == without_seconds(there)


def test_compare_runs_on_a_local_cluster_by_default(capsys):
    assert main(["compare", "--activations", "tanh,relu", "--epochs", "5", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    workers = min(os.cpu_count() or 1, 2)
    plural = "es" if workers > 1 else ""
    assert f"Ran on a local Dask cluster of {workers} worker process{plural}" in out


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_cv_under_joblib_dask_backend(client):
    pytest.importorskip("sklearn", reason="the scikit-learn estimators need scikit-learn")
    from joblib import parallel_backend
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV

    from scratchnn.sklearn import MLPClassifier

    X, y = load_iris(return_X_y=True)
    grid = {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-1]}
    estimator = MLPClassifier(max_iter=30, learning_rate_init=0.05, random_state=0)
    serial = GridSearchCV(estimator, grid, cv=3).fit(X, y)
    with parallel_backend("dask"):
        distributed = GridSearchCV(estimator, grid, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(
        distributed.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert distributed.best_params_ == serial.best_params_
    assert distributed.score(X, y) > 0.8
