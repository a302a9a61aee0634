"""training.py: fit, evaluate and History; convergence on XOR and digits; bit-identical
reproducibility; validation_split; metrics over whole epochs; sample and class weights;
divergence to NaN/inf; Ctrl-C; and property tests over shapes, batch sizes and dtypes.

The metrics themselves are checked against scikit-learn in test_metrics.py, and the weighted
losses against PyTorch in test_losses.py. The few tests here that use scikit-learn or PyTorch
as an oracle import them themselves (skipped without the dev extra).
"""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import scratchnn as snn
from scratchnn.callbacks import Callback, LambdaCallback

TORCH = "PyTorch is the oracle here: the dev extra (torch==2.13.0)"
SKLEARN = "scikit-learn >= 1.6 is the oracle here: the dev extra"


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


def test_fit_collects_only_its_own_objects_and_leaves_the_collector_as_it_was(blobs):
    """During fit the objects that existed before it sit in the collector's permanent
    generation (a collection does not look at them); cycles made during fit are still
    collected, and afterwards nothing is frozen. A process's own frozen objects stay so."""
    import gc

    X, y = blobs
    seen = []

    def during(epoch, logs):
        a, b = [], []
        a.append(b)
        b.append(a)  # a cycle made during fit, garbage at once
        del a, b
        seen.append((gc.get_freeze_count(), gc.collect()))

    assert gc.get_freeze_count() == 0
    _train(1, X, y, callbacks=[LambdaCallback(on_epoch_end=during)])
    assert all(frozen > 0 and collected >= 2 for frozen, collected in seen), seen
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.freeze()  # a process that froze objects of its own
    try:
        own = gc.get_freeze_count()
        seen.clear()
        _train(1, X, y, callbacks=[LambdaCallback(on_epoch_end=during)])
        # (not frozen again by fit, nor thawed; a frozen object that dies leaves the count)
        assert all(0.9 * own < frozen <= own for frozen, _ in seen), (own, seen)
        assert 0.9 * own < gc.get_freeze_count() <= own
    finally:
        gc.unfreeze()


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


# Seed 0 in the inner loop (make test-fast); all ten (~2 s each) in make test.
@pytest.mark.parametrize(
    "seed", [0, *(pytest.param(seed, marks=pytest.mark.slow) for seed in range(1, 10))]
)
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


# --------------------------------------------------------------------------------------------
# From fit's options to its failure modes
# --------------------------------------------------------------------------------------------


def _classes(n: int = 40, classes: int = 3, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % classes)
    X = 1.5 * np.eye(classes, features)[y] + 0.7 * rng.normal(size=(n, features))
    return X, y


def _regression(n: int = 40, features: int = 3, outputs: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = X @ rng.normal(size=(features, outputs)) + 0.1 * rng.normal(size=(n, outputs))
    return X, y


def _same(a: snn.Sequential, b: snn.Sequential) -> bool:
    return np.array_equal(a.get_weights(), b.get_weights())


# validation_split


@pytest.mark.parametrize("shuffle", [True, False])
def test_validation_split_holds_out_the_last_rows_before_shuffling(shuffle):
    X, y = _classes(40)
    common = {
        "loss": "ce",
        "optimizer": "adam",
        "epochs": 3,
        "batch_size": 8,
        "shuffle": shuffle,
        "metrics": ["accuracy", "f1"],
        "verbose": 0,
    }
    split = snn.MLP([4, 8, 3], seed=0)
    h_split = split.fit(X, y, validation_split=0.25, **common)
    explicit = snn.MLP([4, 8, 3], seed=0)
    h_explicit = explicit.fit(X[:30], y[:30], validation_data=(X[30:], y[30:]), **common)
    assert h_split.to_dict() == h_explicit.to_dict()
    assert _same(split, explicit)
    assert split.optimizer.step_count == 3 * 4  # 30 training samples in batches of 8
    # The validation metrics are evaluate() on exactly that slice.
    result = split.evaluate(X[30:], y[30:], metrics=["accuracy", "f1"])
    assert h_split["val_loss"][-1] == result["loss"]
    assert h_split["val_accuracy"][-1] == result["accuracy"]
    assert h_split["val_f1"][-1] == result["f1"]


def test_validation_split_never_trains_on_the_held_out_rows():
    X, y = _regression(50, outputs=1)
    X[:, 0] = np.arange(50)  # every row recognizable by its first feature
    seen: set[float] = set()

    class Recording(snn.Identity):
        def forward(self, x, training=False):
            if training:
                seen.update(x[:, 0].tolist())
            return x

    model = snn.Sequential([Recording(), snn.Dense(3, 1)], seed=0, dtype=np.float64)
    model.fit(
        X,
        y,
        loss="mse",
        optimizer=snn.optim.SGD(lr=1e-4),
        epochs=3,
        batch_size=7,
        verbose=0,
        validation_split=0.2,
    )
    assert seen == set(range(40))


def test_validation_split_splits_sample_weights_too():
    X, y = _classes(40)
    w = np.random.default_rng(1).uniform(0.1, 2.0, size=40)
    common = {"loss": "ce", "optimizer": "sgd", "epochs": 2, "batch_size": 8, "verbose": 0}
    split = snn.MLP([4, 8, 3], seed=0)
    h_split = split.fit(X, y, validation_split=0.25, sample_weight=w, **common)
    explicit = snn.MLP([4, 8, 3], seed=0)
    h_explicit = explicit.fit(
        X[:30], y[:30], validation_data=(X[30:], y[30:], w[30:]), sample_weight=w[:30], **common
    )
    assert h_split.to_dict() == h_explicit.to_dict() and _same(split, explicit)
    assert h_split["val_loss"][-1] == split.evaluate(X[30:], y[30:], sample_weight=w[30:])["loss"]


def test_validation_split_with_class_weight_matches_explicit_validation_data():
    """class_weight weighs the training samples; validation_data=(X_val, y_val) is evaluated
    without class weights, so validation_split (the same rows) must be too."""
    X, y = _classes(40)
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    common = {"loss": "ce", "optimizer": "sgd", "epochs": 2, "batch_size": 8, "verbose": 0}
    split = snn.MLP([4, 8, 3], seed=0)
    h_split = split.fit(X, y, validation_split=0.25, class_weight=class_weight, **common)
    explicit = snn.MLP([4, 8, 3], seed=0)
    h_explicit = explicit.fit(
        X[:30], y[:30], validation_data=(X[30:], y[30:]), class_weight=class_weight, **common
    )
    assert _same(split, explicit)  # the training is the same
    assert h_split["val_loss"] == h_explicit["val_loss"]
    assert h_split["val_loss"][-1] == split.evaluate(X[30:], y[30:])["loss"]


@pytest.mark.parametrize("bad", [1.0, 1.5, -0.1, math.nan, True])
def test_validation_split_outside_0_1_is_refused_before_training(bad):
    X, y = _classes(40)
    model = snn.MLP([4, 8, 3], seed=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"validation_split must be a finite number in \[0, 1\)"):
        model.fit(X, y, loss="ce", optimizer="sgd", validation_split=bad, verbose=0)
    assert np.array_equal(model.get_weights(), before) and model.epochs_trained == 0


def test_validation_split_that_leaves_no_validation_sample_is_refused():
    X, y = _classes(40)
    model = snn.MLP([4, 8, 3], seed=0)
    with pytest.raises(ValueError, match=r"validation_split=0.01 of 40 samples leaves no"):
        model.fit(X, y, loss="ce", optimizer="sgd", validation_split=0.01, verbose=0)
    assert model.epochs_trained == 0 and model.optimizer is None


def test_validation_split_and_validation_data_together_are_refused():
    X, y = _classes(40)
    model = snn.MLP([4, 8, 3], seed=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match="Pass validation_data or validation_split, not both"):
        model.fit(
            X,
            y,
            loss="ce",
            optimizer="sgd",
            validation_split=0.2,
            validation_data=(X, y),
            verbose=0,
        )
    assert np.array_equal(model.get_weights(), before)


def test_evaluate_metrics_equal_scikit_learn_on_the_model_predictions():
    pytest.importorskip("sklearn", minversion="1.6", reason=SKLEARN)
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        top_k_accuracy_score,
    )

    X, y = _classes(60, classes=7, features=7)
    model = snn.MLP([7, 12, 7], seed=0, dtype=np.float64)
    model.fit(X, y, loss="ce", optimizer="adam", epochs=3, batch_size=16, verbose=0)
    names = ["accuracy", "top_3_accuracy", "precision", "recall", "f1"]
    result = model.evaluate(X, y, metrics=names)
    probabilities = snn.functional.softmax(model.predict(X))
    predicted = probabilities.argmax(axis=1)
    assert result["accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert result["top_3_accuracy"] == pytest.approx(
        top_k_accuracy_score(y, probabilities, k=3, labels=np.arange(7))
    )
    for name, function in (
        ("precision", precision_score),
        ("recall", recall_score),
        ("f1", f1_score),
    ):
        expected = function(y, predicted, average="macro", zero_division=0)
        assert result[name] == pytest.approx(expected), name


class EpochOutputs(Callback):
    """Collects (raw output, target) of every training batch of each epoch, via the loss."""

    def __init__(self) -> None:
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []
        self.per_epoch: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.logs: dict[int, dict[str, float]] = {}

    def on_epoch_begin(self, epoch, logs):
        self.batches = []

    def on_epoch_end(self, epoch, logs):
        outputs = np.concatenate([o for o, _ in self.batches])
        targets = np.concatenate([t for _, t in self.batches])
        self.per_epoch[epoch] = (outputs, targets)
        self.logs[epoch] = dict(logs)


def _recording(loss_class, collector):
    class Recording(loss_class):
        def forward(self, prediction, target, sample_weight=None):
            collector.batches.append((prediction.copy(), target.copy()))
            return super().forward(prediction, target, sample_weight)

    return Recording()


@pytest.mark.parametrize(
    ("task", "names"),
    [
        ("classification", ["accuracy", "top_3_accuracy", "precision", "recall", "f1"]),
        ("regression", ["r2", "mae", "mse"]),
    ],
)
def test_training_metrics_are_computed_over_the_whole_epoch(task, names):
    collector = EpochOutputs()
    if task == "classification":
        X, y = _classes(43, classes=5, features=5)
        model = snn.MLP([5, 8, 5], seed=0)
        loss = _recording(snn.losses.CrossEntropy, collector)
    else:
        X, y = _regression(43)
        model = snn.MLP([3, 8, 2], seed=0)
        loss = _recording(snn.losses.MSE, collector)
    history = model.fit(
        X,
        y,
        loss=loss,
        optimizer=snn.optim.Adam(lr=0.05),
        epochs=3,
        batch_size=10,  # shuffled, with a partial last batch of 3
        metrics=names,
        verbose=0,
        callbacks=[collector],
    )
    for epoch in range(3):
        outputs, targets = collector.per_epoch[epoch]
        assert len(outputs) == 43
        prediction = loss.output_transform(outputs)
        for name in names:
            expected = snn.metrics.get(name)[1](prediction, targets)
            assert history[name][epoch] == pytest.approx(expected, rel=1e-9, abs=1e-12), name
            assert collector.logs[epoch][name] == history[name][epoch]
        # A non-additive metric really is over the epoch, not a mean of batch values.
    if task == "classification":
        outputs, targets = collector.per_epoch[2]
        batch_f1 = [
            snn.metrics.f1(loss.output_transform(outputs[i : i + 10]), targets[i : i + 10])
            for i in range(0, 43, 10)
        ]
        assert history["f1"][2] != pytest.approx(np.mean(batch_f1), abs=1e-9)


# Sample weights and class weights


def test_epoch_loss_is_the_weighted_mean_over_its_batches():
    X, y = _classes(40)
    w = np.random.default_rng(5).uniform(0.0, 2.0, size=40)
    batch_losses: list[float] = []
    model = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    reference = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    history = model.fit(
        X,
        y,
        loss="ce",
        optimizer="sgd",
        epochs=1,
        batch_size=16,
        shuffle=False,
        sample_weight=w,
        verbose=0,
        callbacks=[LambdaCallback(on_batch_end=lambda b, logs: batch_losses.append(logs["loss"]))],
    )
    batch_weights = [w[i : i + 16].sum() for i in range(0, 40, 16)]
    expected = np.dot(batch_losses, batch_weights) / w.sum()
    assert history["loss"][0] == pytest.approx(expected, rel=1e-12)
    # The first batch's loss is the weighted loss of the untrained model on those rows.
    first = reference.evaluate(X[:16], y[:16], loss="ce", sample_weight=w[:16])["loss"]
    assert batch_losses[0] == pytest.approx(first, rel=1e-12)


def test_full_batch_weighted_loss_equals_weighted_evaluate():
    X, y = _regression(30)
    w = np.random.default_rng(2).uniform(0.0, 3.0, size=30)
    model = snn.MLP([3, 6, 2], seed=4, dtype=np.float64)
    expected = model.evaluate(X, y, loss="mse", sample_weight=w)["loss"]
    per_sample = ((model.predict(X) - y) ** 2).mean(axis=1)
    assert expected == pytest.approx(np.sum(w * per_sample) / np.sum(w), rel=1e-12)
    history = model.fit(
        X, y, loss="mse", optimizer="sgd", epochs=1, batch_size=None, sample_weight=w, verbose=0
    )
    assert history["loss"][0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_integer_sample_weights_equal_repeated_samples(loss):
    if loss == "ce":
        X, y = _classes(20)
        sizes = [4, 8, 3]
    else:
        X, y = _regression(20)
        sizes = [3, 8, 2]
    counts = np.random.default_rng(0).integers(0, 4, size=20)
    counts[0] = 0  # a zero weight drops the sample
    weighted = snn.MLP(sizes, seed=0, dtype=np.float64)
    repeated = snn.MLP(sizes, seed=0, dtype=np.float64)
    common = {"loss": loss, "optimizer": snn.optim.SGD(lr=0.1), "batch_size": None, "verbose": 0}
    h_w = weighted.fit(X, y, sample_weight=counts, epochs=1, **common)
    common["optimizer"] = snn.optim.SGD(lr=0.1)
    h_r = repeated.fit(
        np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0), epochs=1, **common
    )
    assert h_w["loss"][0] == pytest.approx(h_r["loss"][0], rel=1e-12)
    np.testing.assert_allclose(
        weighted.get_weights(), repeated.get_weights(), rtol=1e-12, atol=1e-14
    )
    # ... and stays so over further full-batch steps.
    weighted.fit(X, y, sample_weight=counts, epochs=3, batch_size=None, verbose=0)
    repeated.fit(
        np.repeat(X, counts, axis=0),
        np.repeat(y, counts, axis=0),
        epochs=3,
        batch_size=None,
        verbose=0,
    )
    np.testing.assert_allclose(
        weighted.get_weights(), repeated.get_weights(), rtol=1e-10, atol=1e-13
    )


@pytest.mark.parametrize("spec", ["dict", "balanced"])
def test_class_weight_equals_the_matching_sample_weights_and_torch(spec):
    torch = pytest.importorskip("torch", minversion="2.13", reason=TORCH)
    pytest.importorskip("sklearn", minversion="1.6", reason=SKLEARN)
    from sklearn.utils.class_weight import compute_class_weight

    X, y = _classes(30)
    y[:4] = 0  # unbalanced: 0 is the most common class
    X = X.copy()
    if spec == "dict":
        class_weight = {0: 0.5, 2: 4.0}  # class 1 is missing: weight 1
        table = np.array([0.5, 1.0, 4.0])
    else:
        class_weight = "balanced"
        table = compute_class_weight("balanced", classes=np.arange(3), y=y)
        assert np.allclose(table, 30 / (3 * np.bincount(y)))
    with_class = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    with_samples = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    initial = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    common = {"loss": "ce", "optimizer": "sgd", "epochs": 1, "batch_size": None, "verbose": 0}
    h_class = with_class.fit(X, y, class_weight=class_weight, **common)
    h_samples = with_samples.fit(X, y, sample_weight=table[y], **common)
    assert h_class["loss"] == pytest.approx(h_samples["loss"], rel=1e-13)
    np.testing.assert_allclose(with_class.get_weights(), with_samples.get_weights(), rtol=1e-13)
    # The first (full-batch) loss is PyTorch's cross_entropy(weight=table) at the initial weights.
    z = torch.tensor(initial.predict(X), dtype=torch.float64)
    expected = torch.nn.functional.cross_entropy(z, torch.tensor(y), weight=torch.tensor(table))
    assert h_class["loss"][0] == pytest.approx(expected.item(), rel=1e-12)


def test_class_weight_multiplies_into_sample_weight():
    X, y = _classes(30)
    w = np.random.default_rng(0).uniform(0.5, 1.5, 30)
    table = np.array([2.0, 1.0, 0.25])
    a = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    b = snn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    common = {"loss": "ce", "optimizer": "sgd", "epochs": 2, "batch_size": 7, "verbose": 0}
    a.fit(X, y, sample_weight=w, class_weight={0: 2.0, 1: 1.0, 2: 0.25}, **common)
    b.fit(X, y, sample_weight=w * table[y], **common)
    assert _same(a, b)


def test_class_weight_with_one_hot_and_binary_targets():
    X, y = _classes(30, classes=2)
    a = snn.MLP([4, 6, 2], seed=0, dtype=np.float64)
    b = snn.MLP([4, 6, 2], seed=0, dtype=np.float64)
    c = snn.MLP([4, 6, 1], seed=0, dtype=np.float64)
    d = snn.MLP([4, 6, 1], seed=0, dtype=np.float64)
    common = {"optimizer": "sgd", "epochs": 1, "batch_size": None, "verbose": 0}
    a.fit(X, np.eye(2)[y], loss="ce", class_weight={1: 3.0}, **common)
    b.fit(X, y, loss="ce", sample_weight=np.where(y == 1, 3.0, 1.0), **common)
    np.testing.assert_allclose(a.get_weights(), b.get_weights(), rtol=1e-12)
    bce = snn.losses.BinaryCrossEntropy(from_logits=True)
    c.fit(X, y, loss=bce, class_weight={1: 3.0}, **common)
    d.fit(X, y, loss=bce, sample_weight=np.where(y == 1, 3.0, 1.0), **common)
    assert _same(c, d)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sample_weight": np.zeros(30)}, "sum to 0"),
        ({"class_weight": {0: 0.0, 1: 0.0, 2: 0.0}}, "sum to 0"),
        ({"sample_weight": np.ones(30), "class_weight": {0: 0, 1: 0, 2: 0}}, "sum to 0"),
        ({"sample_weight": np.ones(29)}, r"one weight per sample, shape \(30,\)"),
        ({"sample_weight": -np.ones(30)}, "finite and >= 0"),
        ({"sample_weight": np.full(30, np.nan)}, "finite and >= 0"),
        ({"class_weight": {0: -1.0}}, r"class_weight\[0\] must be a finite number >= 0"),
        ({"class_weight": "inverse"}, "must be a dict or 'balanced'"),
        ({"class_weight": [1.0, 2.0, 3.0]}, "must be a dict or 'balanced'"),
    ],
)
def test_invalid_weights_are_refused_before_training(kwargs, match):
    X, y = _classes(30)
    model = snn.MLP([4, 8, 3], seed=0)
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, loss="ce", optimizer="sgd", verbose=0, **kwargs)
    assert np.array_equal(model.get_weights(), before) and model.epochs_trained == 0


def test_class_weight_needs_a_classification_loss():
    X, y = _regression(20)
    with pytest.raises(ValueError, match="class_weight needs a classification loss"):
        snn.MLP([3, 4, 2], seed=0).fit(
            X, y, loss="mse", optimizer="sgd", class_weight={0: 2.0}, verbose=0
        )


# Divergence: NaN and inf


class BatchWeights(Callback):
    """Weights after each batch whose loss was finite, and the position of every batch."""

    def __init__(self) -> None:
        self.finite: list[np.ndarray] = []
        self.positions: list[tuple[int, int, float]] = []

    def on_epoch_begin(self, epoch, logs):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        self.positions.append((self.epoch, batch, logs["loss"]))
        if math.isfinite(logs["loss"]):
            self.finite.append(self.model.get_weights())


def test_a_too_large_learning_rate_raises_naming_epoch_and_batch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, 2.0, 3.0]) + rng.normal(size=60)
    model = snn.MLP([3, 8, 1], seed=0)
    recorder = BatchWeights()
    with np.errstate(all="ignore"), pytest.raises(snn.TrainingDivergedError) as info:
        model.fit(
            X,
            y,
            loss="mse",
            optimizer=snn.optim.SGD(lr=0.3),
            epochs=30,
            batch_size=10,
            verbose=0,
            callbacks=[recorder],
        )
    epoch, batch, _ = recorder.positions[-1]
    # The last batch's loss, or its gradient, was not finite (divergence is caught before the
    # optimizer step); every batch before it was fine.
    assert all(math.isfinite(v) for _, _, v in recorder.positions[:-1])
    message = str(info.value)
    assert f"at epoch {epoch + 1}, batch {batch + 1} (of 6)" in message
    assert "last finite weights" in message and "learning rate" in message
    assert isinstance(info.value, FloatingPointError)
    weights = model.get_weights()
    assert np.isfinite(weights).all()
    assert np.array_equal(weights, recorder.finite[-1])
    assert model.epochs_trained == epoch  # the diverging epoch is not counted
    assert len(model.history) == epoch
    assert np.isfinite(model.predict(X)).all()


def test_an_overflowing_batch_restores_weights_and_batchnorm_statistics():
    """Two float32 rows near the dtype's maximum overflow the batch mean: the loss is NaN at
    epoch 1, batch 3; the parameters and BatchNorm's running statistics are those after
    batch 2."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = X @ np.array([1.0, 2.0, 3.0], dtype=np.float32)
    X[20:22] = 3e38  # finite, so accepted by fit's input validation
    model = snn.Sequential(
        [snn.BatchNorm1d(3), snn.Dense(3, 8), snn.ReLU(), snn.Dense(8, 1)], seed=0
    )
    recorder = BatchWeights()
    with np.errstate(all="ignore"), pytest.raises(snn.TrainingDivergedError) as info:
        model.fit(
            X,
            y,
            loss="mse",
            optimizer="sgd",
            epochs=2,
            batch_size=10,
            shuffle=False,
            verbose=0,
            callbacks=[recorder],
        )
    assert "at epoch 1, batch 3 (of 6)" in str(info.value)
    assert [(e, b) for e, b, _ in recorder.positions] == [(0, 0), (0, 1), (0, 2)]
    weights = model.get_weights()
    assert np.isfinite(weights).all()
    assert np.array_equal(weights, recorder.finite[1])  # parameters and running statistics
    assert np.isfinite(model.layers[0].buffers["running_mean"]).all()


def test_divergence_in_a_later_fit_names_the_lifelong_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    model = snn.MLP([3, 8, 1], seed=0, dtype=np.float64)
    model.fit(X, y, loss="mse", optimizer=snn.optim.SGD(lr=0.01), epochs=2, verbose=0)
    model.optimizer.lr = 1e3
    recorder = BatchWeights()
    with np.errstate(all="ignore"), pytest.raises(snn.TrainingDivergedError) as info:
        model.fit(X, y, epochs=50, batch_size=None, verbose=0, callbacks=[recorder])
    epoch, batch, loss = recorder.positions[-1]
    assert epoch >= 2 and batch == 0 and not math.isfinite(loss)
    assert f"at epoch {epoch + 1}, batch 1 (of 1)" in str(info.value)
    assert model.epochs_trained == epoch
    assert np.isfinite(model.get_weights()).all()
    assert np.array_equal(model.get_weights(), recorder.finite[-1])


# Ctrl-C


def _sigint_at(epoch: int, batch: int, times: int = 1) -> Callback:
    class SendSigint(Callback):
        def on_epoch_begin(self, e, logs):
            self.epoch = e

        def on_batch_end(self, b, logs):
            if (self.epoch, b) == (epoch, batch):
                for _ in range(times):
                    os.kill(os.getpid(), signal.SIGINT)

    return SendSigint()


@pytest.fixture
def default_sigint():
    handler = signal.getsignal(signal.SIGINT)
    if handler is not signal.default_int_handler:
        pytest.skip("the test runner replaced Python's SIGINT handler")
    yield handler
    signal.signal(signal.SIGINT, handler)


def test_ctrl_c_stops_after_the_current_batch_and_keeps_complete_epochs(default_sigint, capsys):
    X, y = _classes(40)
    model = snn.MLP([4, 8, 3], seed=0)
    recorder = BatchWeights()
    ended: list[bool] = []
    history = model.fit(
        X,
        y,
        loss="ce",
        optimizer="adam",
        epochs=5,
        batch_size=10,
        metrics="accuracy",
        verbose=0,
        callbacks=[
            _sigint_at(1, 1),  # during the second epoch
            recorder,
            LambdaCallback(on_train_end=lambda logs: ended.append(True)),
        ],
    )
    assert history.interrupted is True and history.diverged is False
    assert len(history) == 1 and history.epoch == [0]  # complete epochs only
    assert model.epochs_trained == 1
    assert [(e, b) for e, b, _ in recorder.positions][-1] == (1, 1)  # that batch finished
    assert model.optimizer.step_count == 4 + 2
    assert np.isfinite(model.get_weights()).all()
    assert np.array_equal(model.get_weights(), recorder.finite[-1])
    assert ended == [True]
    assert signal.getsignal(signal.SIGINT) is default_sigint  # the handler is restored
    assert "Training interrupted after 1 complete epoch(s)" in capsys.readouterr().err
    # The model is usable: it predicts and trains on.
    assert np.isfinite(model.predict(X)).all()
    again = model.fit(X, y, epochs=2, batch_size=10, verbose=0)
    assert len(again) == 2 and not again.interrupted and again.epoch == [1, 2]
    assert model.epochs_trained == 3


def test_ctrl_c_in_the_first_epoch_leaves_an_empty_history(default_sigint, capsys):
    X, y = _classes(40)
    model = snn.MLP([4, 8, 3], seed=0)
    history = model.fit(
        X,
        y,
        loss="ce",
        optimizer="sgd",
        epochs=3,
        batch_size=10,
        verbose=0,
        callbacks=[_sigint_at(0, 0)],
    )
    assert history.interrupted and len(history) == 0 and model.epochs_trained == 0
    assert model.optimizer.step_count == 1
    assert signal.getsignal(signal.SIGINT) is default_sigint
    assert "after 0 complete epoch(s)" in capsys.readouterr().err


def test_a_second_ctrl_c_interrupts_at_once(default_sigint):
    X, y = _classes(40)
    model = snn.MLP([4, 8, 3], seed=0)
    ended: list[bool] = []
    with pytest.raises(KeyboardInterrupt):
        model.fit(
            X,
            y,
            loss="ce",
            optimizer="sgd",
            epochs=3,
            batch_size=10,
            verbose=0,
            callbacks=[
                _sigint_at(1, 0, times=2),
                LambdaCallback(on_train_end=lambda logs: ended.append(True)),
            ],
        )
    assert ended == [True]
    assert signal.getsignal(signal.SIGINT) is default_sigint
    assert np.isfinite(model.get_weights()).all()


def test_sigint_handler_is_restored_after_normal_fit_and_errors(default_sigint):
    X, y = _classes(40)
    model = snn.MLP([4, 8, 3], seed=0)
    model.fit(X, y, loss="ce", optimizer="sgd", epochs=1, verbose=0)
    assert signal.getsignal(signal.SIGINT) is default_sigint

    def fail(epoch, logs):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[LambdaCallback(on_epoch_end=fail)])
    assert signal.getsignal(signal.SIGINT) is default_sigint


# Properties over shapes, batch sizes and dtypes


@st.composite
def _problems(draw):
    n = draw(st.integers(1, 40))
    batch = draw(
        st.one_of(
            st.just(1),
            st.integers(1, n),  # includes partial last batches
            st.integers(n, 2 * n + 5),  # larger than n
            st.none(),
        )
    )
    return {
        "n": n,
        "features": draw(st.integers(1, 5)),
        "outputs": draw(st.integers(1, 4)),
        "batch": batch,
        "dtype": draw(st.sampled_from([np.float32, np.float64])),
        "epochs": draw(st.integers(1, 3)),
        "shuffle": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


def _property_data(p):
    rng = np.random.default_rng(p["seed"])
    X = rng.normal(size=(p["n"], p["features"]))
    y = rng.normal(size=(p["n"], p["outputs"]))
    return X, y


@settings(max_examples=40, deadline=None)
@given(_problems())
@example(
    {
        "n": 10,
        "features": 2,
        "outputs": 1,
        "batch": 1,
        "dtype": np.float32,
        "epochs": 2,
        "shuffle": True,
        "seed": 0,
    }
)
@example(
    {
        "n": 10,
        "features": 3,
        "outputs": 2,
        "batch": 4,
        "dtype": np.float64,
        "epochs": 3,
        "shuffle": True,
        "seed": 1,
    }
)
@example(
    {
        "n": 5,
        "features": 1,
        "outputs": 3,
        "batch": 64,
        "dtype": np.float32,
        "epochs": 1,
        "shuffle": True,
        "seed": 2,
    }
)
def test_fit_property_history_shapes_dtypes_and_step_count(p):
    X, y = _property_data(p)
    model = snn.MLP([p["features"], 4, p["outputs"]], seed=p["seed"], dtype=p["dtype"])
    history = model.fit(
        X,
        y,
        loss="mse",
        optimizer="adam",
        epochs=p["epochs"],
        batch_size=p["batch"],
        shuffle=p["shuffle"],
        metrics=["mae"],
        verbose=0,
    )
    n, batch = p["n"], p["batch"]
    assert len(history) == p["epochs"] == model.epochs_trained
    assert len(history["loss"]) == len(history["mae"]) == p["epochs"]
    assert all(math.isfinite(v) for v in history["loss"])
    steps = 1 if batch is None else math.ceil(n / min(batch, n))
    assert model.optimizer.step_count == p["epochs"] * steps
    prediction = model.predict(X)
    assert prediction.shape == (n, p["outputs"]) and prediction.dtype == np.dtype(p["dtype"])
    assert model.parameters().flat.value.dtype == np.dtype(p["dtype"])


@settings(max_examples=25, deadline=None)
@given(_problems())
def test_fit_property_batchnorm_refuses_a_batch_of_one_up_front(p):
    X, y = _property_data(p)
    model = snn.Sequential(
        [snn.Dense(p["features"], 4), snn.BatchNorm1d(4), snn.Dense(4, p["outputs"])],
        seed=p["seed"],
        dtype=p["dtype"],
    )
    n = p["n"]
    batch = n if p["batch"] is None else min(p["batch"], n)
    before = model.get_weights()
    if batch == 1 or n % batch == 1:
        with pytest.raises(ValueError, match="needs at least 2 samples per training batch"):
            model.fit(
                X,
                y,
                loss="mse",
                optimizer="sgd",
                epochs=p["epochs"],
                batch_size=p["batch"],
                verbose=0,
            )
        assert np.array_equal(model.get_weights(), before)
    else:
        history = model.fit(
            X, y, loss="mse", optimizer="sgd", epochs=p["epochs"], batch_size=p["batch"], verbose=0
        )
        assert len(history) == p["epochs"]
        assert model.optimizer.step_count == p["epochs"] * math.ceil(n / batch)
        assert model.predict(X).dtype == np.dtype(p["dtype"])


# Convergence honesty: all epochs used before EarlyStopping could end them


def _separable(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _slow_fit(stopping=("val_loss", 5), **options):
    X, y = _separable()
    model = snn.Sequential([snn.Dense(2, 8, activation="relu"), snn.Dense(8, 2)], seed=0)
    callbacks = [] if stopping is None else [snn.callbacks.EarlyStopping(*stopping)]
    options = {"epochs": 30, "validation_split": 0.2, "verbose": 0, **options}
    return model, model.fit(
        X, y, loss="ce", optimizer=snn.optim.SGD(lr=1e-3), callbacks=callbacks, **options
    )


def test_all_epochs_used_before_early_stopping_warns_at_the_callers_line():
    with pytest.warns(snn.NotConvergedWarning) as caught:
        _model, history = _slow_fit()
    (warning,) = caught
    message = str(warning.message)
    assert "fit used all its 30 epochs before EarlyStopping(monitor='val_loss') stopped it" in (
        message
    )
    assert f"validation loss still falling ({history['val_loss'][14]:.4g} at epoch 15, " in (
        message
    )
    assert "epochs=60" in message
    assert warning.filename == __file__  # stacklevel: the line that called model.fit


def test_a_rising_accuracy_counts_as_still_improving():
    from scratchnn.history import History, still_improving

    history = History()
    for epoch, value in enumerate([0.5, 0.6, 0.7, 0.8]):
        history.append(epoch, {"val_accuracy": value})
    assert still_improving(history, 4, "val_accuracy", higher_is_better=True) == (
        "val_accuracy still rising (0.6 at epoch 2, 0.8 at the last)"
    )
    assert still_improving(history, 4, "val_accuracy") is None  # falling is what a loss does


def test_the_not_converged_warning_can_be_filtered_by_its_class():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", snn.NotConvergedWarning)
        _model, history = _slow_fit()
    assert len(history) == 30


def test_no_not_converged_warning_without_early_stopping_or_once_it_stopped():
    # (the suite turns any warning into an error: these fits must stay silent)
    _slow_fit(stopping=None)  # a fixed number of epochs, as asked
    _model, history = _slow_fit(stopping=("val_loss", 0, 10.0))  # stopped at the 2nd epoch
    assert len(history) == 2
    X, y = _separable()
    y = np.where(np.random.default_rng(1).random(len(y)) < 0.2, 1 - y, y)  # 20% label noise
    model = snn.Sequential([snn.Dense(2, 8, activation="relu"), snn.Dense(8, 2)], seed=0)
    history = model.fit(X, y, loss="ce", optimizer="adam", epochs=100, validation_split=0.2,
                        callbacks=[snn.callbacks.EarlyStopping(patience=200)],
                        verbose=0)  # fmt: skip
    assert len(history) == 100  # all epochs, the validation loss levelled off: no warning


def test_the_command_line_keeps_its_own_wording_for_an_unconverged_fit(tmp_path, capsys):
    """fit's warning is Python (epochs=...); `scratchnn train` says it with --epochs."""
    from scratchnn.cli.main import main

    X, y = _separable()
    np.savez(tmp_path / "sep.npz", X=X, y=y)
    code = main(["train", str(tmp_path / "sep.npz"), "--target", "y", "--epochs", "2",
                 "--out", str(tmp_path / "m.npz"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0 and "epochs=4" not in err
    assert "training stopped at --epochs 2 with the validation loss still falling" in err
