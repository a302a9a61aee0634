"""Callbacks: the protocol's order, EarlyStopping, ModelCheckpoint, LearningRateScheduler,
CSVLogger, TerminateOnNaN, LambdaCallback, stopping from a callback, and the progress output."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
)


def _data(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small, learnable 3-class problem in 4-D."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = 2.0 * np.eye(3, 4)[y] + 0.5 * rng.normal(size=(n, 4))
    return X, y


def _model(seed: int = 0, dtype=np.float32) -> snn.Sequential:
    return snn.MLP([4, 8, 3], seed=seed, dtype=dtype)


def _fit(model, X, y, **kwargs):
    options = {
        "loss": "cross_entropy",
        "optimizer": snn.optim.SGD(lr=0.1),
        "epochs": 2,
        "batch_size": 10,
        "verbose": 0,
    }
    options.update(kwargs)
    return model.fit(X, y, **options)


class Recorder(Callback):
    """Records every call of the protocol, in order."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.models: list[object] = []

    def on_train_begin(self, logs):
        self.models.append(self.model)
        self.events.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs):
        self.events.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs):
        self.events.append(("batch_end", batch))

    def on_epoch_end(self, epoch, logs):
        self.events.append(("epoch_end", epoch, tuple(logs)))

    def on_train_end(self, logs):
        self.events.append(("train_end",))


class Inject(Callback):
    """Writes ``values[epoch]`` into the epoch's logs under ``key``, for the callbacks after it
    (all callbacks share one logs dict), so monitored sequences can be chosen exactly."""

    def __init__(self, key: str, values: list[float]) -> None:
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs):
        logs[self.key] = self.values[epoch]


class WeightsAtEpochEnd(Callback):
    def __init__(self, X_probe: np.ndarray | None = None) -> None:
        self.weights: dict[int, np.ndarray] = {}
        self.predictions: dict[int, np.ndarray] = {}
        self.X_probe = X_probe

    def on_epoch_end(self, epoch, logs):
        self.weights[epoch] = self.model.get_weights()
        if self.X_probe is not None:
            self.predictions[epoch] = self.model.predict(self.X_probe)


def _expected_events(first_epoch: int, epochs: int, steps: int, keys: tuple) -> list[tuple]:
    events: list[tuple] = [("train_begin",)]
    for epoch in range(first_epoch, first_epoch + epochs):
        events.append(("epoch_begin", epoch))
        events += [("batch_end", b) for b in range(steps)]
        events.append(("epoch_end", epoch, keys))
    events.append(("train_end",))
    return events


# The protocol


def test_protocol_order_and_epoch_numbers_continue_across_fits():
    X, y = _data(25)
    model = _model()
    recorder = Recorder()
    first = _fit(model, X, y, epochs=2, metrics=["accuracy"], callbacks=[recorder])
    keys = ("loss", "accuracy", "lr")
    assert recorder.events == _expected_events(0, 2, 3, keys)  # 25 samples: 10 + 10 + 5
    assert first.epoch == [0, 1]
    recorder.events.clear()
    second = _fit(model, X, y, epochs=3, metrics=["accuracy"], callbacks=[recorder])
    assert recorder.events == _expected_events(2, 3, 3, keys)
    assert second.epoch == [2, 3, 4] and model.epochs_trained == 5
    assert recorder.models == [model, model]


def test_validation_logs_reach_on_epoch_end():
    X, y = _data()
    recorder = Recorder()
    _fit(_model(), X, y, epochs=1, validation_data=(X, y), metrics="acc", callbacks=[recorder])
    epoch_end = [event for event in recorder.events if event[0] == "epoch_end"]
    assert epoch_end == [("epoch_end", 0, ("loss", "accuracy", "val_loss", "val_accuracy", "lr"))]


class Measures(Callback):
    """Writes its own log in ``on_epoch_logs`` (and says so in ``provided_logs``)."""

    def __init__(self, values: list[float]) -> None:
        self.values = values
        self.seen_lr: list[bool] = []

    def provided_logs(self):
        return {"val_own"}

    def on_epoch_logs(self, epoch, logs):
        self.seen_lr.append("lr" in logs)
        logs["val_own"] = self.values[epoch]


def test_a_log_written_in_on_epoch_logs_reaches_the_schedule_history_and_callbacks():
    """A callback's on_epoch_logs runs before the lr, the schedule and the History: a
    ReduceLROnPlateau and EarlyStopping monitoring its log are accepted without validation
    data, act on it, and the History keeps it."""
    X, y = _data()
    values = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9]
    measures, recorder = Measures(values), Recorder()
    schedule = snn.schedules.ReduceLROnPlateau(monitor="val_own", factor=0.5, patience=1)
    stop = EarlyStopping(monitor="val_own", patience=3)
    history = _fit(
        _model(), X, y, epochs=6, schedule=schedule, callbacks=[measures, stop, recorder]
    )
    assert history["val_own"] == values[:5]  # stopped 3 epochs after the best (epoch 1)
    assert measures.seen_lr == [False] * 5
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05])  # cut after 2 worse
    assert all("val_own" in event[2] for event in recorder.events if event[0] == "epoch_end")


def test_a_monitored_log_no_callback_provides_is_refused_before_training():
    X, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="monitors 'val_own', but fit has no validation"):
        _fit(model, X, y, callbacks=[EarlyStopping(monitor="val_own")])
    assert model.epochs_trained == 0


def test_non_callback_raises_type_error_before_training():
    X, y = _data()
    model = _model()
    before = model.get_weights()
    with pytest.raises(TypeError, match="callbacks must be Callback instances"):
        _fit(model, X, y, callbacks=[lambda epoch, logs: None])
    with pytest.raises(TypeError, match="EarlyStopping"):
        _fit(model, X, y, callbacks=[EarlyStopping])  # the class, not an instance
    assert np.array_equal(model.get_weights(), before) and model.epochs_trained == 0


def test_lambda_callback_calls_each_function_with_the_method_arguments():
    X, y = _data(20)
    calls: list[tuple] = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, "loss" in logs)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_end=lambda logs: calls.append(("train_end",)),
    )
    history = _fit(_model(), X, y, epochs=2, callbacks=[callback])
    assert calls == [
        ("train_begin",),
        ("epoch_begin", 0),
        ("batch_end", 0, True),
        ("batch_end", 1, True),
        ("epoch_end", 0, history["loss"][0]),
        ("epoch_begin", 1),
        ("batch_end", 0, True),
        ("batch_end", 1, True),
        ("epoch_end", 1, history["loss"][1]),
        ("train_end",),
    ]
    only_one = LambdaCallback(on_epoch_end=lambda epoch, logs: calls.append(epoch))
    calls.clear()
    _fit(_model(), X, y, epochs=3, callbacks=[only_one])  # the others stay no-ops
    assert calls == [0, 1, 2]


def test_a_lambda_callback_adds_a_log_that_fit_can_monitor():
    X, y = _data(20)
    halved = LambdaCallback(
        on_epoch_logs=lambda epoch, logs: logs.__setitem__("half_loss", logs["loss"] / 2),
        provides=["half_loss"],
    )
    seen: list[float] = []
    after = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["half_loss"]))
    stop = EarlyStopping(monitor="half_loss", patience=100)
    with pytest.warns(snn.NotConvergedWarning, match="half_loss still falling"):
        history = _fit(_model(), X, y, epochs=3, callbacks=[halved, stop, after])
    assert history["half_loss"] == pytest.approx([v / 2 for v in history["loss"]])
    assert seen == history["half_loss"]
    with pytest.raises(ValueError, match="half_loss"):  # not provided: not a monitor
        _fit(_model(), X, y, epochs=1, callbacks=[EarlyStopping(monitor="half_loss")])
    with pytest.raises(TypeError, match="list of log names"):
        LambdaCallback(provides="half_loss")


# Stopping from a callback


def _stop_at(model, epoch: int, batch: int) -> LambdaCallback:
    position = {}

    def on_batch_end(b, logs):
        if position["epoch"] == epoch and b == batch:
            model.stop_training = True

    return LambdaCallback(
        on_epoch_begin=lambda e, logs: position.update(epoch=e), on_batch_end=on_batch_end
    )


def test_stop_training_from_on_batch_end_ends_after_the_current_batch():
    X, y = _data(40)
    model = _model()
    recorder = Recorder()
    history = _fit(model, X, y, epochs=5, callbacks=[_stop_at(model, 1, 2), recorder])
    assert model.optimizer.step_count == 4 + 3  # epoch 0 whole, then batches 0..2
    batches = [event for event in recorder.events if event[0] == "batch_end"]
    assert len(batches) == 7 and recorder.events[-1] == ("train_end",)
    assert model.stop_training is True
    assert len(history) <= 2 and not history.interrupted and not history.diverged
    assert np.isfinite(model.get_weights()).all()


def test_metrics_of_an_epoch_stopped_mid_way_cover_only_the_batches_it_ran():
    """fit computes training metrics over the epoch's predictions; when a callback stops the
    epoch after some batches, the logged metrics must be those of the batches that ran (not
    mixed with the previous epoch's rows left in the prediction buffer)."""
    X, y = _data(40)
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    class Recording(snn.losses.CrossEntropy):
        def forward(self, prediction, target, sample_weight=None):
            seen.append((prediction.copy(), target.copy()))
            return super().forward(prediction, target, sample_weight)

    model = _model()
    logs_seen: list[dict] = []
    history = model.fit(
        X,
        y,
        loss=Recording(),
        optimizer=snn.optim.SGD(lr=0.3),
        epochs=3,
        batch_size=10,
        metrics=["accuracy", "f1"],
        verbose=0,
        callbacks=[
            LambdaCallback(on_epoch_begin=lambda e, logs: seen.clear()),
            _stop_at(model, 1, 1),
            LambdaCallback(on_epoch_end=lambda e, logs: logs_seen.append(dict(logs))),
        ],
    )
    assert len(seen) == 2  # two batches of epoch 1 ran
    prediction = snn.functional.softmax(np.concatenate([p for p, _ in seen]))
    target = np.concatenate([t for _, t in seen])
    if len(history) == 2:  # the partial epoch is recorded: its metrics are over its 20 samples
        for name in ("accuracy", "f1"):
            expected = snn.metrics.get(name)[1](prediction, target)
            assert history[name][1] == pytest.approx(expected, abs=1e-12), name
            assert logs_seen[1][name] == pytest.approx(expected, abs=1e-12), name


# EarlyStopping


@pytest.mark.parametrize(
    ("values", "kwargs", "stopped_epoch", "best_epoch"),
    [
        # As Keras: training stops once `patience` epochs in a row have not improved
        # (so patience 0 and 1 both stop at the first epoch without improvement).
        ([5.0, 4.0, 4.5, 4.2, 4.1, 3.0, 2.0, 1.0], {"patience": 2}, 3, 1),
        ([5.0, 4.0, 4.5, 3.9, 3.8, 4.0, 4.0, 1.0], {"patience": 1}, 2, 1),
        ([5.0, 4.0, 3.9, 4.5, 4.6, 3.0, 4.0, 1.0], {"patience": 2}, 4, 2),
        ([5.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], {"patience": 0}, 1, 0),
        # min_delta: only changes larger than 0.5 count (4.6 and 4.5 do not improve on 5).
        ([5.0, 4.6, 4.5, 4.0, 3.0, 2.0, 1.0, 0.0], {"patience": 2, "min_delta": 0.5}, 2, 0),
        ([5.0, 4.4, 3.8, 3.2, 2.6, 2.0, 1.4, 0.8], {"patience": 0, "min_delta": 0.5}, None, 7),
        # min_delta is a magnitude: its sign does not matter.
        ([5.0, 4.6, 4.5, 4.0, 3.0, 2.0, 1.0, 0.0], {"patience": 2, "min_delta": -0.5}, 2, 0),
        # mode="max": higher is better.
        ([1.0, 2.0, 1.5, 3.0, 2.9, 2.8, 2.7, 2.6], {"mode": "max", "patience": 2}, 5, 3),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], {"mode": "min", "patience": 3}, 3, 0),
    ],
)
def test_early_stopping_patience_min_delta_and_mode(values, kwargs, stopped_epoch, best_epoch):
    X, y = _data(20)
    model = _model()
    stopper = EarlyStopping(monitor="score", **kwargs)
    history = _fit(model, X, y, epochs=len(values), callbacks=[Inject("score", values), stopper])
    assert stopper.stopped_epoch == stopped_epoch
    assert stopper.best_epoch == best_epoch
    if stopped_epoch is None:
        assert len(history) == len(values) and model.stop_training is False
    else:
        assert len(history) == stopped_epoch + 1 < len(values)
        assert model.stop_training is True
        assert model.epochs_trained == stopped_epoch + 1


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [
        ("loss", "min"),
        ("val_loss", "min"),
        ("mae", "min"),
        ("val_mse", "min"),
        ("accuracy", "max"),
        ("val_accuracy", "max"),
        ("acc", "max"),
        ("precision", "max"),
        ("val_recall", "max"),
        ("f1", "max"),
        ("val_r2", "max"),
        ("binary_accuracy", "max"),
        ("val_binary_accuracy", "max"),
        ("top_5_accuracy", "max"),
        ("val_top_3_accuracy", "max"),
    ],
)
def test_auto_mode_maximizes_accuracy_like_metrics(monitor, mode):
    """Every accuracy-like metric that fit logs is maximized in mode="auto"."""
    assert EarlyStopping(monitor=monitor).mode == mode
    assert ModelCheckpoint("unused.npz", monitor=monitor).mode == mode


def test_auto_mode_drives_early_stopping_on_accuracy():
    X, y = _data(20)
    stopper = EarlyStopping(monitor="val_accuracy", patience=0)  # auto: max
    values = [0.5, 0.6, 0.7, 0.65, 0.9, 0.9]
    history = _fit(
        _model(),
        X,
        y,
        epochs=6,
        validation_data=(X, y),
        callbacks=[Inject("val_accuracy", values), stopper],
    )
    assert stopper.stopped_epoch == 3 and len(history) == 4


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="largest")
    for patience in (-1, 1.5, True):
        with pytest.raises(ValueError, match="patience must be an integer"):
            EarlyStopping(patience=patience)


def test_early_stopping_monitor_missing_from_logs_raises_a_clear_value_error():
    X, y = _data(20)
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"EarlyStopping monitors 'val_loss', but fit has no"):
        _fit(model, X, y, epochs=3, callbacks=[EarlyStopping()])
    assert np.array_equal(model.get_weights(), before)  # refused before training
    with pytest.raises(ValueError, match=r"monitors 'score'.*not in the") as info:
        _fit(_model(), X, y, epochs=3, callbacks=[EarlyStopping(monitor="score")])
    assert "loss, lr" in str(info.value)
    with pytest.raises(ValueError, match="'val_acuracy'"):
        _fit(
            _model(),
            X,
            y,
            validation_data=(X, y),
            metrics="accuracy",
            callbacks=[EarlyStopping(monitor="val_acuracy")],
        )


def test_restore_best_weights_restores_exactly_the_best_epoch():
    X, y = _data(30)
    model = snn.Sequential(
        [snn.Dense(4, 8), snn.BatchNorm1d(8), snn.ReLU(), snn.Dense(8, 3)], seed=1
    )
    values = [3.0, 1.0, 2.0, 2.5, 2.7, 0.5, 0.1]
    recorder = WeightsAtEpochEnd()
    stopper = EarlyStopping(monitor="score", patience=3, restore_best_weights=True)
    history = _fit(model, X, y, epochs=7, callbacks=[Inject("score", values), recorder, stopper])
    assert len(history) == 5 and stopper.stopped_epoch == 4 and stopper.best_epoch == 1
    # Buffers (BatchNorm's running statistics) are part of the weights and restored too.
    assert np.array_equal(model.get_weights(), recorder.weights[1])
    assert not np.array_equal(model.get_weights(), recorder.weights[4])


def test_restore_best_weights_also_applies_when_training_runs_to_the_end():
    X, y = _data(20)
    model = _model()
    recorder = WeightsAtEpochEnd()
    stopper = EarlyStopping(monitor="score", patience=10, restore_best_weights=True)
    _fit(model, X, y, epochs=4, callbacks=[Inject("score", [3, 1, 2, 2]), recorder, stopper])
    assert stopper.stopped_epoch is None
    assert np.array_equal(model.get_weights(), recorder.weights[1])


def test_without_restore_best_weights_the_last_weights_stay():
    X, y = _data(20)
    model = _model()
    recorder = WeightsAtEpochEnd()
    stopper = EarlyStopping(monitor="score", patience=0)
    _fit(model, X, y, epochs=4, callbacks=[Inject("score", [3, 1, 2, 2]), recorder, stopper])
    assert stopper.stopped_epoch == 2
    assert np.array_equal(model.get_weights(), recorder.weights[2])


def test_early_stopping_state_is_reset_by_each_fit():
    X, y = _data(20)
    model = _model()
    stopper = EarlyStopping(monitor="score", patience=0)
    _fit(model, X, y, epochs=3, callbacks=[Inject("score", [1.0, 2.0, 0.0]), stopper])
    assert stopper.stopped_epoch == 1
    # A fresh fit starts a fresh comparison: epoch 2's 5.0 is the new best, not a regression.
    values = [None, None, 5.0, 4.0, 3.0]
    history = _fit(model, X, y, epochs=3, callbacks=[Inject("score", values), stopper])
    assert len(history) == 3 and stopper.stopped_epoch is None


# ModelCheckpoint


def test_checkpoint_every_epoch_formats_the_path_and_loads_identically(tmp_path):
    X, y = _data(30)
    X_val, y_val = _data(12, seed=1)
    model = snn.Sequential(
        [snn.Dense(4, 8, activation="relu"), snn.BatchNorm1d(8), snn.Dense(8, 3)], seed=2
    )
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.4f}.npz")
    checkpoint = ModelCheckpoint(pattern)
    recorder = WeightsAtEpochEnd(X_probe=X_val)
    history = _fit(
        model,
        X,
        y,
        epochs=3,
        optimizer="adam",
        validation_data=(X_val, y_val),
        callbacks=[checkpoint, recorder],
    )
    expected = [
        str(tmp_path / f"ckpt-{epoch + 1:02d}-{history['val_loss'][epoch]:.4f}.npz")
        for epoch in range(3)
    ]
    assert checkpoint.saved == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.rsplit("/", 1)[-1] for p in expected
    )
    for epoch, path in enumerate(expected):
        loaded = snn.load(path)
        assert loaded.epochs_trained == epoch + 1
        assert np.array_equal(loaded.get_weights(), recorder.weights[epoch])
        assert np.array_equal(loaded.predict(X_val), recorder.predictions[epoch])
        assert isinstance(loaded.optimizer, snn.optim.Adam)
        assert loaded.optimizer.step_count == 3 * (epoch + 1)


@pytest.mark.parametrize(
    ("values", "mode", "saved_epochs"),
    [
        ([3.0, 2.0, 2.5, 1.0, 1.0, 4.0], "min", [1, 2, 4]),  # an equal value is no improvement
        ([3.0, 2.0, 2.5, 1.0, 1.0, 4.0], "max", [1, 6]),
        ([0.2, 0.1, 0.5, 0.5, 0.7, 0.6], "auto", [1, 3, 5]),  # "val_accuracy": max
    ],
)
def test_checkpoint_save_best_only_writes_only_on_improvement(tmp_path, values, mode, saved_epochs):
    X, y = _data(20)
    model = _model()
    monitor = "val_accuracy" if mode == "auto" else "score"
    checkpoint = ModelCheckpoint(
        tmp_path / "best-{epoch}.npz", monitor=monitor, save_best_only=True, mode=mode
    )
    recorder = WeightsAtEpochEnd(X_probe=X)
    _fit(
        model,
        X,
        y,
        epochs=len(values),
        validation_data=(X, y),
        callbacks=[Inject(monitor, values), checkpoint, recorder],
    )
    assert checkpoint.saved == [str(tmp_path / f"best-{e}.npz") for e in saved_epochs]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"best-{e}.npz" for e in saved_epochs
    )
    for e in saved_epochs:
        loaded = snn.load(tmp_path / f"best-{e}.npz")
        assert np.array_equal(loaded.predict(X), recorder.predictions[e - 1])


def test_checkpoint_with_a_fixed_path_keeps_the_best_model(tmp_path):
    X, y = _data(20)
    model = _model()
    path = tmp_path / "best.npz"
    checkpoint = ModelCheckpoint(path, monitor="score", save_best_only=True)
    recorder = WeightsAtEpochEnd(X_probe=X)
    values = [3.0, 1.0, 2.0, 1.5]
    _fit(model, X, y, epochs=4, callbacks=[Inject("score", values), checkpoint, recorder])
    assert [p.name for p in tmp_path.iterdir()] == ["best.npz"]  # no temporary files remain
    assert np.array_equal(snn.load(path).predict(X), recorder.predictions[1])


def test_checkpoint_without_optimizer(tmp_path):
    X, y = _data(20)
    checkpoint = ModelCheckpoint(tmp_path / "m.npz", include_optimizer=False)
    _fit(_model(), X, y, epochs=1, callbacks=[checkpoint])
    loaded = snn.load(tmp_path / "m.npz")
    assert loaded.optimizer is None and loaded.schedule is None


def test_checkpoint_save_best_only_with_a_missing_monitor_raises(tmp_path):
    X, y = _data(20)
    checkpoint = ModelCheckpoint(tmp_path / "m.npz", save_best_only=True)
    with pytest.raises(ValueError, match=r"ModelCheckpoint monitors 'val_loss'"):
        _fit(_model(), X, y, epochs=1, callbacks=[checkpoint])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="mode must be"):
        ModelCheckpoint(tmp_path / "m.npz", mode="up")


# LearningRateScheduler


def _train_with_manual_rates(rates, X, y):
    """Reference: one fit per epoch, setting the rate by hand before each."""
    model = _model()
    optimizer = snn.optim.SGD(lr=rates[0], momentum=0.9)
    for lr in rates:
        optimizer.lr = lr
        _fit(model, X, y, epochs=1, optimizer=optimizer)
    return model


def test_learning_rate_scheduler_with_a_keras_style_function():
    X, y = _data(30)
    calls: list[tuple[int, float]] = []

    def halve_after_two(epoch, lr):
        calls.append((epoch, lr))
        return lr if epoch < 2 else lr / 2

    model = _model()
    scheduler = LearningRateScheduler(halve_after_two)
    optimizer = snn.optim.SGD(lr=0.2, momentum=0.9)
    history = _fit(model, X, y, epochs=4, optimizer=optimizer, callbacks=[scheduler])
    assert history["lr"] == [0.2, 0.2, 0.1, 0.05]
    assert calls == [(0, 0.2), (1, 0.2), (2, 0.2), (3, 0.1)]
    reference = _train_with_manual_rates([0.2, 0.2, 0.1, 0.05], X, y)
    assert np.array_equal(model.get_weights(), reference.get_weights())


def test_learning_rate_scheduler_receives_lifelong_epochs_across_fits():
    X, y = _data(20)
    epochs_seen: list[int] = []
    scheduler = LearningRateScheduler(lambda epoch, lr: epochs_seen.append(epoch) or 0.01)
    model = _model()
    _fit(model, X, y, epochs=2, callbacks=[scheduler])
    _fit(model, X, y, epochs=2, callbacks=[scheduler])
    assert epochs_seen == [0, 1, 2, 3]


def test_learning_rate_scheduler_with_a_schedule_object_matches_fit_schedule():
    X, y = _data(30)
    model = _model()
    scheduler = LearningRateScheduler(snn.schedules.StepLR(step_size=2, gamma=0.5))
    history = _fit(
        model,
        X,
        y,
        epochs=5,
        optimizer=snn.optim.SGD(lr=0.4, momentum=0.9),
        callbacks=[scheduler],
    )
    assert history["lr"] == [0.4, 0.4, 0.2, 0.2, 0.1]
    reference = _model()
    reference_history = _fit(
        reference,
        X,
        y,
        epochs=5,
        optimizer=snn.optim.SGD(lr=0.4, momentum=0.9),
        schedule=snn.schedules.StepLR(step_size=2, gamma=0.5),
    )
    assert reference_history["lr"] == history["lr"]
    assert np.array_equal(model.get_weights(), reference.get_weights())
    cosine = LearningRateScheduler(snn.schedules.CosineAnnealing(T_max=4))
    history = _fit(_model(), X, y, epochs=5, optimizer=snn.optim.SGD(lr=1.0), callbacks=[cosine])
    expected = [(1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    assert history["lr"] == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1])
def test_learning_rate_scheduler_rejects_invalid_rates(bad):
    X, y = _data(20)
    scheduler = LearningRateScheduler(lambda epoch, lr: bad)
    with pytest.raises(ValueError, match=r"The schedule returned lr=.* for epoch 0"):
        _fit(_model(), X, y, callbacks=[scheduler])


# CSVLogger


def _read_csv(path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    return header, [dict(zip(header, row, strict=True)) for row in body]


def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path):
    X, y = _data(30)
    path = tmp_path / "log.csv"
    history = _fit(
        _model(),
        X,
        y,
        epochs=3,
        validation_data=(X, y),
        metrics=["accuracy"],
        callbacks=[CSVLogger(path)],
    )
    header, rows = _read_csv(path)
    assert header == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    for key in header[1:]:
        assert [float(row[key]) for row in rows] == history[key]  # exact round trip


def test_csv_logger_append_across_two_fits_and_overwrite_without_append(tmp_path):
    X, y = _data(20)
    path = tmp_path / "log.csv"
    model = _model()
    first = _fit(model, X, y, epochs=2, callbacks=[CSVLogger(path, append=True)])
    second = _fit(model, X, y, epochs=3, callbacks=[CSVLogger(path, append=True)])
    header, rows = _read_csv(path)
    assert header == ["epoch", "loss", "lr"]
    assert path.read_text().count("epoch") == 1  # one header
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2, 3, 4]
    assert [float(row["loss"]) for row in rows] == first["loss"] + second["loss"]
    # The same logger object reused with append=True continues too.
    logger = CSVLogger(tmp_path / "again.csv", append=True)
    _fit(model, X, y, epochs=1, callbacks=[logger])
    _fit(model, X, y, epochs=1, callbacks=[logger])
    assert [row["epoch"] for row in _read_csv(tmp_path / "again.csv")[1]] == ["5", "6"]
    # append=False replaces the file.
    third = _fit(model, X, y, epochs=1, callbacks=[CSVLogger(path)])
    header, rows = _read_csv(path)
    assert header == ["epoch", "loss", "lr"] and len(rows) == 1
    assert rows[0]["epoch"] == "7" and float(rows[0]["loss"]) == third["loss"][0]


def test_csv_logger_closes_its_file_when_training_fails(tmp_path):
    X, y = _data(20)
    logger = CSVLogger(tmp_path / "log.csv")

    class Failing(Callback):
        def on_epoch_end(self, epoch, logs):
            raise ValueError("fails at the end of the first epoch")

    with pytest.raises(ValueError, match="first epoch"):
        _fit(_model(), X, y, epochs=3, callbacks=[logger, Failing()])
    assert logger._file is None
    assert len(_read_csv(tmp_path / "log.csv")[1]) == 1


# TerminateOnNaN


def _diverging_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, 2.0, 3.0]) + rng.normal(size=60)
    return X, y


def test_terminate_on_nan_ends_quietly_with_finite_weights():
    X, y = _diverging_regression()
    model = snn.MLP([3, 8, 1], seed=0)
    recorder = Recorder()
    losses: list[dict[str, float]] = []
    with np.errstate(all="ignore"):  # the overflow itself is expected here
        history = model.fit(
            X,
            y,
            loss="mse",
            optimizer=snn.optim.SGD(lr=0.3),
            epochs=30,
            batch_size=10,
            verbose=0,
            callbacks=[
                TerminateOnNaN(),
                recorder,
                LambdaCallback(on_batch_end=lambda b, logs: losses.append(dict(logs))),
            ],
        )
    assert history.diverged is True and history.interrupted is False
    # The last batch reports a non-finite loss or gradient norm; all before it were finite.
    assert not all(math.isfinite(v) for v in losses[-1].values())
    assert all(math.isfinite(logs["loss"]) for logs in losses[:-1])
    assert len(history) < 30 and len(history) == model.epochs_trained
    assert all(math.isfinite(v) for v in history["loss"])  # only complete epochs
    assert np.isfinite(model.get_weights()).all()
    assert np.isfinite(model.predict(X)).all()
    assert recorder.events[-1] == ("train_end",)


def test_terminate_on_nan_ignores_finite_losses():
    X, y = _data(20)
    history = _fit(_model(), X, y, epochs=3, callbacks=[TerminateOnNaN()])
    assert len(history) == 3 and not history.diverged


# Progress output


def test_verbose_1_shows_a_progress_bar_on_stdout(capsys):
    X, y = _data(30)
    _fit(_model(), X, y, epochs=2, metrics="accuracy", verbose=1)
    captured = capsys.readouterr()
    assert "Epoch 1/2" in captured.out and "Epoch 2/2" in captured.out
    assert "3/3" in captured.out  # steps per epoch
    assert "accuracy: " in captured.out and "lr: " in captured.out
    assert captured.err == ""


def test_verbose_1_counts_epochs_of_this_fit(capsys):
    X, y = _data(30)
    model = _model()
    _fit(model, X, y, epochs=2, verbose=0)
    _fit(model, X, y, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "Epoch 3/" not in out


def test_verbose_0_prints_nothing(capsys):
    X, y = _data(30)
    model = _model()
    _fit(model, X, y, epochs=2, verbose=0, validation_data=(X, y), metrics="acc")
    _fit(model, X, y, epochs=1, verbose="auto")  # not a terminal under pytest: silent
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
