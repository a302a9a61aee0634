"""fit, evaluate and History; convergence on XOR and digits; bit-identical reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn


def _train(seed, X, y, **kwargs):
    model = snn.MLP([4, 16, 3], seed=seed)
    history = model.fit(
        X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=16, verbose=0, **kwargs
    )
    return model, history


def test_history_has_one_entry_per_epoch_with_metrics(blobs):
    X, y = blobs
    model = snn.MLP([4, 16, 3], seed=0)
    history = model.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=snn.optim.Adam(lr=0.05),
        epochs=5,
        batch_size=16,
        validation_data=(X, y),
        metrics=["accuracy"],
        verbose=0,
    )
    assert len(history) == 5 and history.epoch == [0, 1, 2, 3, 4]
    assert set(history.to_dict()) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert model.history is history
    assert "5 epochs" in repr(history)
    with pytest.raises(KeyError, match="Keys: loss"):
        history["val_mae"]


def test_validation_loss_equals_evaluate(blobs):
    X, y = blobs
    model = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    history = model.fit(
        X, y, loss="ce", optimizer="sgd", epochs=1, validation_data=(X, y), verbose=0
    )
    assert history["val_loss"][0] == pytest.approx(model.evaluate(X, y)["loss"], rel=1e-12)


def test_same_seed_is_bit_identical(blobs):
    X, y = blobs
    first, h1 = _train(7, X, y)
    second, h2 = _train(7, X, y)
    assert np.array_equal(first.parameters().flat.value, second.parameters().flat.value)
    assert h1.to_dict() == h2.to_dict()
    third, _ = _train(8, X, y)
    assert not np.array_equal(first.parameters().flat.value, third.parameters().flat.value)


def test_no_global_random_state_is_used_or_changed(blobs):
    X, y = blobs
    np.random.seed(0)  # noqa: NPY002 - the legacy global state is exactly what is under test
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    _, h1 = _train(1, X, y)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    np.random.seed(99)  # noqa: NPY002
    _, h2 = _train(1, X, y)
    assert h1.to_dict() == h2.to_dict()


def test_fit_remembers_loss_and_optimizer_and_continues_exactly(blobs):
    X, y = blobs
    once = snn.MLP([4, 8, 3], seed=0)
    once.fit(X, y, loss="ce", optimizer="adam", epochs=4, batch_size=10, verbose=0)
    twice = snn.MLP([4, 8, 3], seed=0)
    twice.fit(X, y, loss="ce", optimizer="adam", epochs=2, batch_size=10, verbose=0)
    twice.fit(X, y, epochs=2, batch_size=10, verbose=0)
    assert isinstance(twice.optimizer, snn.optim.Adam) and twice.optimizer.step_count == 36
    assert np.array_equal(once.parameters().flat.value, twice.parameters().flat.value)


def test_partial_last_batch_and_batch_size_one(blobs):
    X, y = blobs
    for batch_size in (1, 7, 89, 90, 1000):
        model = snn.MLP([4, 5, 3], seed=0)
        model.fit(X, y, loss="ce", optimizer="sgd", epochs=1, batch_size=batch_size, verbose=0)
        expected_steps = -(-90 // min(batch_size, 90))
        assert model.optimizer.step_count == expected_steps


def test_shuffle_false_is_order_deterministic(blobs):
    X, y = blobs
    a = snn.MLP([4, 5, 3], seed=0)
    b = snn.MLP([4, 5, 3], seed=0)
    a.fit(X, y, loss="ce", optimizer="sgd", epochs=2, batch_size=10, shuffle=False, verbose=0)
    b.fit(X, y, loss="ce", optimizer="sgd", epochs=2, batch_size=10, shuffle=True, verbose=0)
    assert not np.array_equal(a.parameters().flat.value, b.parameters().flat.value)


def test_verbose_2_prints_one_line_per_epoch(blobs, capsys):
    X, y = blobs
    snn.MLP([4, 5, 3], seed=0).fit(
        X, y, loss="ce", optimizer="sgd", epochs=2, metrics="acc", verbose=2
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - loss: ")
    assert "accuracy" in lines[1]


def test_evaluate_with_metrics_and_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    model = snn.Sequential([snn.Dense(3, 1)], seed=0, dtype=np.float64)
    model.fit(
        X, y, loss="mse", optimizer=snn.optim.SGD(lr=0.1), epochs=200, batch_size=None, verbose=0
    )
    result = model.evaluate(X, y, metrics=["mae", "mse"])
    assert result["loss"] < 1e-6 and result["mae"] < 1e-3
    assert result["mse"] == pytest.approx(result["loss"])
    np.testing.assert_allclose(model.layers[0].params["W"].ravel(), [1, -2, 0.5], atol=1e-3)


def test_binary_classification_with_logits_reports_accuracy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = snn.MLP([2, 8, 1], activation="tanh", seed=0)
    history = model.fit(
        X,
        y,
        loss=snn.losses.BinaryCrossEntropy(from_logits=True),
        optimizer=snn.optim.Adam(lr=0.05),
        epochs=30,
        metrics=["accuracy"],
        verbose=0,
    )
    assert history["accuracy"][-1] > 0.95


@pytest.mark.parametrize("seed", range(10))
def test_xor_converges_with_the_tutorial_setup(seed):
    """The tutorial: 2-4-1 sigmoid network, plain full-batch gradient descent, MSE."""
    X, y = snn.datasets.xor()
    model = snn.Sequential(
        [snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()], seed=seed
    )
    model.fit(
        X,
        y,
        loss=snn.losses.MSE(),
        optimizer=snn.optim.SGD(lr=0.5),
        epochs=10_000,
        batch_size=None,
        verbose=0,
    )
    assert np.all(np.abs(model.predict(X) - y) < 0.1)


def test_digits_reaches_97_percent_with_a_small_relu_mlp():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is a dev extra")
    from sklearn.model_selection import train_test_split

    digits = datasets.load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 1e-8
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    model = snn.MLP([64, 128, 64, 10], activation="relu", seed=0)
    model.fit(
        X_train,
        y_train,
        loss="cross_entropy",
        optimizer=snn.optim.Adam(lr=1e-3),
        epochs=40,
        batch_size=32,
        verbose=0,
    )
    accuracy = np.mean(model.predict(X_test).argmax(axis=1) == y_test)
    assert accuracy >= 0.97, accuracy


def test_optimizer_reset_allows_another_model_and_dtype_mismatch_is_refused():
    X = np.random.default_rng(0).random((10, 3))
    y = np.arange(10) % 2
    small, large = snn.MLP([3, 4, 2], seed=0), snn.MLP([3, 8, 2], seed=0)
    optimizer = snn.optim.Adam()
    small.fit(X, y, loss="ce", optimizer=optimizer, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="one optimizer per model"):
        large.fit(X, y, loss="ce", optimizer=optimizer, epochs=1, verbose=0)
    optimizer.reset()
    large.fit(X, y, loss="ce", optimizer=optimizer, epochs=1, verbose=0)  # fresh buffers
    wide64 = large.clone(dtype=np.float64)
    with pytest.raises(ValueError, match="one optimizer per model"):
        wide64.fit(X, y, loss="ce", optimizer=optimizer, epochs=1, verbose=0)


def test_load_state_dict_follows_the_saved_hyperparameters():
    model = snn.MLP([3, 4, 2], seed=0)
    model.forward(np.ones((2, 3)), training=True)
    model.backward(np.ones((2, 2)))
    for saved in (snn.optim.Adam(amsgrad=True), snn.optim.SGD(lr=0.1, momentum=0.9)):
        saved.step(model.parameters())
        fresh = type(saved)()
        fresh.load_state_dict(saved.state_dict())
        fresh.step(model.parameters())  # the state arrays the settings need exist
        assert fresh.get_config() == saved.get_config() and fresh.step_count == 2


def test_a_remembered_schedule_restarts_with_a_new_optimizer(blobs):
    X, y = blobs
    model = snn.MLP([4, 8, 3], seed=0)
    model.fit(
        X,
        y,
        loss="ce",
        optimizer=snn.optim.SGD(lr=0.1),
        schedule=snn.schedules.StepLR(1, gamma=0.5),
        epochs=3,
        verbose=0,
    )
    history = model.fit(X, y, optimizer=snn.optim.SGD(lr=0.04), epochs=2, verbose=0)
    assert history["lr"] == pytest.approx([0.04, 0.02])


def test_warmup_cannot_hand_over_to_a_metric_driven_schedule():
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        snn.schedules.Warmup(2, then=snn.schedules.ReduceLROnPlateau())


def test_dropout_accepts_half_precision_input():
    out = snn.Dropout(0.5).forward(np.ones((4, 4), dtype=np.float16), training=True)
    assert out.shape == (4, 4) and np.isfinite(out).all()
