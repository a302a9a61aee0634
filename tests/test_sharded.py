"""Training on several threads (scratchnn.sharded): the same step as on one, shard by shard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import sharded
from scratchnn.errors import TrainingDivergedError
from scratchnn.layers.base import ParameterFree, layers

pytest.importorskip("threadpoolctl")


def small_cnn(seed: int = 0, dtype=np.float64, dropout: float = 0.0) -> snn.Sequential:
    layers = [
        snn.layers.Conv2D(1, 4, 3, padding="same"),
        snn.layers.ReLU(),
        snn.layers.MaxPool2D(2),
        snn.layers.Flatten(),
        snn.Dense(4 * 4 * 4, 16, l2=1e-3),
        snn.layers.ReLU(),
    ]
    if dropout:
        layers.append(snn.layers.Dropout(dropout))
    layers.append(snn.Dense(16, 3, l1=1e-4))
    return snn.Sequential(layers, input_shape=(1, 8, 8), seed=seed, dtype=dtype)


@pytest.fixture
def images(rng):
    X = rng.normal(size=(70, 1, 8, 8))
    y = rng.integers(0, 3, size=70)
    return X, y


def trained(model, X, y, threads, **options):
    options = {"epochs": 2, "batch_size": 32, "verbose": 0, **options}
    model.fit(X, y, loss="ce", optimizer="adam", threads=threads, **options)
    return model


def test_two_threads_give_the_one_thread_weights(images, rng):
    """L1/L2 counted once, the last batch of 6 rows unsplit, sample weights as on one thread."""
    X, y = images
    weights = rng.uniform(0.1, 2.0, size=len(X))
    one = trained(small_cnn(), X, y, threads=1, sample_weight=weights)
    two = trained(small_cnn(), X, y, threads=2, sample_weight=weights)
    assert two.history.threads.threads == 2 and one.history.threads.threads == 1
    np.testing.assert_allclose(two.get_weights(), one.get_weights(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(two.history["loss"], one.history["loss"], rtol=1e-12)
    assert two.shards is None  # the threads are gone after fit


def test_sequence_loss_with_ignored_positions_is_the_same_on_shards(rng):
    def model():
        return snn.Sequential(
            [snn.Embedding(7, 8), snn.LSTM(8, 12), snn.Dense(12, 7)], seed=3, dtype=np.float64
        )

    X = rng.integers(0, 7, size=(40, 10))
    y = rng.integers(0, 7, size=(40, 10))
    y[:5, 4:] = -100  # ignored positions, all in the first shard
    runs = [
        model().fit(X, y, loss="sequence_ce", optimizer="adam", batch_size=40, threads=t, verbose=0)
        for t in (1, 2)
    ]
    assert runs[1].threads.threads == 2
    np.testing.assert_allclose(runs[1]["loss"], runs[0]["loss"], rtol=1e-12)


def test_a_seed_gives_bit_identical_training_on_two_threads(images):
    X, y = images
    a = trained(small_cnn(dropout=0.3), X, y, threads=2, epochs=3)
    b = trained(small_cnn(dropout=0.3), X, y, threads=2, epochs=3)
    assert np.array_equal(a.get_weights(), b.get_weights())


def test_one_thread_is_the_plain_train_step(images):
    X, y = images
    model = trained(small_cnn(dtype=np.float32), X, y, threads=1, epochs=1, shuffle=False)
    by_hand = small_cnn(dtype=np.float32)
    by_hand.loss, by_hand.optimizer = snn.losses.get("ce"), snn.optim.get("adam")
    for start in range(0, len(X), 32):
        by_hand.train_step(X[start : start + 32].astype(np.float32), y[start : start + 32])
    assert np.array_equal(model.get_weights(), by_hand.get_weights())


def test_batchnorm_trains_on_one_thread_and_fit_says_why(rng, capsys):
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 2, size=64)
    model = snn.MLP([5, 8, 2], batch_norm=True, seed=0)
    history = model.fit(X, y, loss="ce", optimizer="adam", threads=2, batch_size=32, verbose=2)
    assert history.threads.threads == 1
    assert "Training on 1 thread (BatchNorm1d needs the whole batch at once)" in (
        capsys.readouterr().out
    )
    with pytest.raises(ValueError, match="BatchNorm1d needs the whole batch"):
        sharded.Shards(model, 2)


def test_default_shards_only_steps_that_pay(monkeypatch, images, capsys):
    monkeypatch.setattr(sharded, "available_threads", lambda: 2)
    xor = snn.MLP([2, 4, 1], activation="sigmoid", output="sigmoid", seed=0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    history = xor.fit(X, np.array([0, 1, 1, 0]), loss="bce", optimizer="sgd", verbose=2)
    assert history.threads.threads == 1 and "batch of 4 rows" in history.threads.reason
    assert "thread" not in capsys.readouterr().out  # the usual case says nothing
    mlp = snn.MLP([784, 256, 128, 10], seed=0)  # the products already use the cores
    digits = np.random.default_rng(0).normal(size=(256, 784))
    labels = np.arange(256) % 10
    history = mlp.fit(digits, labels, loss="ce", optimizer="adam", batch_size=128, verbose=2)
    assert history.threads.threads == 1 and "products already use the cores" in (
        history.threads.reason
    )
    wide = snn.Sequential(  # 25,000 values a row in its layers' outputs
        [
            snn.layers.Conv2D(1, 16, 3, padding="same"),
            snn.layers.ReLU(),
            snn.layers.MaxPool2D(2),
            snn.layers.Flatten(),
            snn.Dense(16 * 14 * 14, 10),
        ],
        input_shape=(1, 28, 28),
        seed=0,
    )
    images = digits.reshape(256, 1, 28, 28)
    capsys.readouterr()
    history = wide.fit(images, labels, loss="ce", optimizer="adam", batch_size=128, verbose=2)
    assert history.threads.threads == 2
    assert "Training on 2 threads (each batch of 128 rows in 2 shards)" in capsys.readouterr().out
    assert wide.metadata["threads"] == 2


def test_without_threadpoolctl_training_stays_on_one_thread(monkeypatch, images):
    monkeypatch.setattr(sharded, "_blas_controller", lambda: None)
    X, y = images
    history = trained(small_cnn(), X, y, threads=2).history
    assert history.threads.threads == 1 and "threadpoolctl" in history.threads.reason


def test_shards_in_a_hand_written_loop_restore_blas_threads(images):
    from threadpoolctl import threadpool_info

    X, y = images
    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    model = small_cnn()
    model.loss, model.optimizer = snn.losses.get("ce"), snn.optim.get("sgd")
    reference = small_cnn()
    reference.loss, reference.optimizer = snn.losses.get("ce"), snn.optim.get("sgd")
    with sharded.Shards(model, 2):
        assert model.shards is not None
        inside = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        for _ in range(3):
            step = model.train_step(X[:32], y[:32])
            expected = reference.train_step(X[:32], y[:32])
            assert step.loss == pytest.approx(expected.loss, rel=1e-12)
    assert set(inside) == {1}
    assert model.shards is None
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before
    np.testing.assert_allclose(model.get_weights(), reference.get_weights(), rtol=1e-10)


def test_a_diverging_sharded_step_is_refused_and_leaves_the_weights(images):
    X, y = images
    model = small_cnn(dtype=np.float32)
    trained(model, X, y, threads=2, epochs=1)
    before = model.get_weights()
    with pytest.raises(TrainingDivergedError):
        model.fit(X * 1e37, y, threads=2, epochs=1, batch_size=32, verbose=0)
    assert np.array_equal(model.get_weights(), before)
    assert model.shards is None


@layers.register()
class ShardedTestAmplify(ParameterFree):
    """``x · 1e30``: overflows float32 (a RuntimeWarning, unless silenced) on every thread."""

    def forward(self, x, training=False):
        return x * np.float32(1e30)

    def backward(self, grad_out):
        return grad_out * np.float32(1e30)


def test_an_overflow_on_a_worker_thread_is_refused_without_a_warning(rng):
    """Every shard runs in the caller's context: train_step's silenced overflow is silenced on
    the other thread too (the suite turns a RuntimeWarning into an error)."""
    X = rng.normal(size=(64, 4)).astype(np.float32) * 1e10
    y = rng.integers(0, 2, size=64)
    model = snn.Sequential([snn.Dense(4, 8), ShardedTestAmplify(), snn.Dense(8, 2)], seed=0)
    before = model.get_weights()
    with pytest.raises(TrainingDivergedError, match="not applied"):
        model.fit(X, y, loss="ce", optimizer="sgd", threads=2, batch_size=64, verbose=0)
    assert np.array_equal(model.get_weights(), before)


@pytest.mark.parametrize("threads", [0, -1, 1.5, "two"])
def test_threads_must_be_a_positive_integer(images, threads):
    X, y = images
    with pytest.raises((ValueError, TypeError), match="threads"):
        trained(small_cnn(), X, y, threads=threads)


def test_one_thread_gives_the_weights_of_the_code_before_threads():
    """tests/data/one-thread/make.py wrote these with the code from before this module, on one
    machine. Another CPU's BLAS kernel rounds some products' last bit differently, which moved
    the weights after 100 steps by up to 1.1e-16 (OpenBLAS's Haswell kernel against the file's
    SkylakeX), so the file is matched to 1e-12: a change to the step moves them far more (an
    Adam eps of 1.1e-8 instead of 1e-8: 1.3e-7). threads=1 and the default must give exactly
    the same weights on any machine."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(640, 20))
    y = (X[:, :3].sum(1) > 0).astype(int) + (X[:, 3] > 1)
    expected = np.load(Path(__file__).parent / "data" / "one-thread" / "mlp_100_adam_steps.npy")
    weights = []
    for threads in (1, None):
        model = snn.MLP([20, 64, 32, 3], seed=11, dtype=np.float64)
        history = model.fit(
            X, y, loss="ce", optimizer="adam", epochs=10, batch_size=64, verbose=0, threads=threads
        )
        assert history.threads.threads == 1
        weights.append(model.get_weights())
        np.testing.assert_allclose(weights[-1], expected, rtol=0, atol=1e-12)
    assert np.array_equal(*weights)


class InOrder:
    """A stand-in for Shards' threads: runs the jobs one after the other."""

    threads = 3

    def __init__(self):
        self.jobs = []

    def __call__(self, jobs):
        self.jobs.append(len(jobs))
        return [job() for job in jobs]


@pytest.mark.parametrize(
    "make",
    [
        lambda: snn.optim.SGD(lr=0.1, momentum=0.9, weight_decay=1e-3),
        lambda: snn.optim.Adam(lr=1e-2, amsgrad=True),
        lambda: snn.optim.AdamW(lr=1e-2, weight_decay=0.1),
        lambda: snn.optim.RMSProp(lr=1e-2, momentum=0.5, centered=True),
        lambda: snn.optim.Adagrad(lr=1e-2, initial_accumulator_value=0.1),
    ],
)
def test_an_update_in_pieces_is_the_update_in_one(make, rng):
    from scratchnn.parameters import Parameter

    size = 3 * 2**15 + 1000  # three pieces, the last one longer
    start, grads = rng.normal(size=size), rng.normal(size=(4, size))
    values = [start.copy(), start.copy()]
    whole, pieces, runner = make(), make(), InOrder()
    for grad in grads:
        whole.step(Parameter("all", values[0], grad.copy()))
        pieces.step(Parameter("all", values[1], grad.copy()), run=runner)
    assert runner.jobs == [3] * 4
    assert np.array_equal(values[0], values[1])


def test_the_threads_update_the_weights_of_a_wide_model_as_one_thread(rng):
    """Adam's passes over a 330,000-entry vector in two pieces, inside a sharded fit."""
    X, y = rng.normal(size=(256, 64)), np.arange(256) % 10
    runs = [
        snn.MLP([64, 512, 512, 10], seed=0, dtype=np.float64).fit(
            X, y, loss="ce", optimizer="adam", batch_size=128, threads=t, verbose=0
        )
        for t in (1, 2)
    ]
    assert runs[1].threads.threads == 2
    np.testing.assert_allclose(runs[1]["loss"], runs[0]["loss"], rtol=1e-12)


def test_validation_runs_with_blas_at_its_own_thread_count(monkeypatch, images):
    from threadpoolctl import threadpool_info

    from scratchnn import training

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    seen, validate = [], training._validation_logs
    monkeypatch.setattr(
        training, "_validation_logs", lambda *a: seen.append(blas_threads()) or validate(*a)
    )
    steps, train_step = [], snn.Sequential.train_step
    monkeypatch.setattr(
        snn.Sequential, "train_step", lambda *a: steps.append(blas_threads()) or train_step(*a)
    )
    X, y = images
    before = blas_threads()
    trained(small_cnn(), X, y, threads=2, validation_data=(X[:20], y[:20]))
    assert seen == [before, before] and {n for s in steps for n in s} == {1}
    assert blas_threads() == before


def test_the_command_line_takes_a_thread_count(tmp_path):
    from _cli import run

    out = tmp_path / "m.npz"
    status, text, _ = run("train", "digits", "--threads", "2", "--epochs", "1", "--out", out)
    assert status == 0 and "Training on 2 threads (each batch of 32 rows in 2 shards)" in text
    assert snn.load(out).metadata["training"]["threads"] == 2  # the run's record
    status, _, error = run("train", "digits", "--threads", "0", "--out", tmp_path / "x.npz")
    assert status == 2 and "--threads: expected a positive whole number, received '0'" in error


def test_recurrent_models_stay_on_one_thread_unless_asked(monkeypatch, rng):
    monkeypatch.setattr(sharded, "available_threads", lambda: 2)
    model = snn.Sequential([snn.Embedding(30, 64), snn.LSTM(64, 256), snn.Dense(256, 30)])
    plan = sharded.plan(model, 64, None, (128,))  # 45,000 values a row
    assert (
        plan.threads == 1 and plan.reason == "LSTM's steps are too small to share between threads"
    )
    assert sharded.plan(model, 64, 2).threads == 2
