"""Every public constructor checks its arguments with one set of rules (scratchnn._validation):
NumPy scalars are numbers, bools are not, NaN and infinity are refused where they make no sense,
and each message quotes the argument. Settings that cannot work are refused before training."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import callbacks, optim, schedules

NUMPY_SCALARS = [
    lambda: optim.SGD(lr=np.float32(0.5), momentum=np.float64(0.9)),
    lambda: optim.Adam(lr=np.float32(1e-3), betas=(np.float32(0.9), np.float64(0.99))),
    lambda: snn.Dense(np.int64(3), np.int32(2), l2=np.float32(0.1)),
    lambda: snn.Dropout(np.float32(0.5)),
    lambda: snn.LeakyReLU(np.float16(0.1)),
    lambda: snn.BatchNorm1d(np.int64(4), eps=np.float32(1e-5), momentum=np.float64(0.1)),
    lambda: schedules.StepLR(np.int64(2), gamma=np.float32(0.5)),
    lambda: schedules.CosineAnnealing(np.int16(10), eta_min=np.float32(0)),
    lambda: callbacks.EarlyStopping(patience=np.int64(2), min_delta=np.float32(0.01)),
    lambda: snn.MLP([np.int64(2), np.int64(3), np.int64(1)], seed=np.int64(7)),
]


@pytest.mark.parametrize("make", NUMPY_SCALARS)
def test_numpy_scalars_are_accepted_wherever_python_numbers_are(make):
    make()


NAN = float("nan")
INF = float("inf")
REFUSED = [
    (lambda: snn.LeakyReLU(alpha=NAN), r"alpha must be a finite number"),
    (lambda: snn.ELU(alpha=INF), r"alpha must be a finite number"),
    (lambda: snn.BatchNorm1d(4, eps=NAN), r"eps must be a finite number > 0"),
    (lambda: snn.LayerNorm(4, eps=INF), r"eps must be a finite number > 0"),
    (lambda: snn.BatchNorm1d(4, momentum=0), r"momentum must be a finite number in \(0, 1\]"),
    (lambda: schedules.CosineAnnealing(10, eta_min=NAN), r"eta_min must be a finite number"),
    (lambda: schedules.StepLR(2, gamma=INF), r"gamma must be a finite number > 0"),
    (lambda: schedules.ReduceLROnPlateau(patience=1.5), r"patience must be an integer >= 0"),
    (lambda: schedules.ReduceLROnPlateau(mode="up"), r"mode must be one of 'min', 'max'"),
    (lambda: callbacks.EarlyStopping(min_delta=NAN), r"min_delta must be a finite number"),
    (lambda: callbacks.EarlyStopping(patience=True), r"patience must be an integer"),
    (lambda: optim.SGD(lr=INF), r"lr must be a finite number >= 0. Received: lr=inf"),
    (lambda: optim.Adam(amsgrad="yes"), r"amsgrad must be True or False"),
    (lambda: snn.Dense(2, 3, bias=1), r"bias must be True or False"),
    (lambda: snn.Dropout(True), r"p must be a finite number in \[0, 1\)"),
    (lambda: snn.MLP([2, 1], seed=-1), r"seed must be an integer >= 0"),
    (lambda: snn.MLP([2, 1], seed=1.5), r"seed must be an integer >= 0"),
    (lambda: snn.GELU(approximate="fast"), r"approximate must be one of 'none', 'tanh'"),
]


@pytest.mark.parametrize(("make", "message"), REFUSED)
def test_values_that_make_no_sense_are_refused_with_the_argument_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_non_callables_are_refused_at_construction():
    with pytest.raises(TypeError, match="schedule must be callable"):
        callbacks.LearningRateScheduler(0.1)
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        callbacks.LambdaCallback(on_epoch_end="print")


def test_the_same_layer_twice_is_refused():
    dense = snn.Dense(3, 3)
    with pytest.raises(ValueError, match="appears twice"):
        snn.Sequential([dense, snn.ReLU(), dense])


def test_a_model_too_large_for_memory_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"do not fit in memory"):
        snn.MLP([100_000, 1_000_000, 10])


def test_complex_input_is_refused_not_truncated():
    model = snn.MLP([2, 1], seed=0)
    with pytest.raises(ValueError, match="complex"):
        model.predict(np.array([[1 + 2j, 3.0]]))


# ---------------------------------------------------------------- refused before training


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    return X, (X[:, 0] > 0).astype(int)


def refused_before_training(model, data, message, error=ValueError, **kwargs):
    X, y = data
    before = model.get_weights().copy()
    with pytest.raises(error, match=message):
        model.fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=2, verbose=0, **kwargs)
    np.testing.assert_array_equal(model.get_weights(), before)
    assert model.epochs_trained == 0


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [
        ({-1: 2.0}, r"keys must be class indices 0..1; received the key -1"),
        ({0.5: 2.0}, r"received the key 0.5"),
        ({10**9: 1.0}, r"received the key 1000000000"),
        ({2: 1.0}, r"received the key 2"),
        ({True: 1.0}, r"received the key True"),
        ({0: NAN}, r"class_weight\[0\] must be a finite number >= 0"),
    ],
)
def test_class_weight_keys_that_are_no_class_are_refused(data, class_weight, message):
    model = snn.MLP([3, 4, 2], seed=0)
    refused_before_training(model, data, message, class_weight=class_weight)


def test_numpy_integer_class_weight_keys_are_classes(data):
    X, y = data
    model = snn.MLP([3, 4, 2], seed=0)
    model.fit(
        X, y, loss="cross_entropy", optimizer="sgd", class_weight={np.int64(1): 2.0}, verbose=0
    )


def test_a_checkpoint_folder_that_does_not_exist_is_refused_at_construction(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        callbacks.ModelCheckpoint(tmp_path / "missing" / "model.npz")
    with pytest.raises(ValueError, match="does not exist"):
        callbacks.CSVLogger(tmp_path / "missing" / "log.csv")


def test_a_checkpoint_name_with_an_unknown_log_is_refused_before_training(data, tmp_path):
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}-{val_acc:.2f}.npz"))
    model = snn.MLP([3, 4, 2], seed=0)
    refused_before_training(model, data, r"'val_acc'", callbacks=[checkpoint], validation_split=0.2)


def test_a_monitor_that_fit_does_not_log_is_refused_before_training(data):
    model = snn.MLP([3, 4, 2], seed=0)
    stopper = callbacks.EarlyStopping(monitor="accuracy")
    refused_before_training(model, data, r"monitors 'accuracy'", callbacks=[stopper])


def test_a_lone_callback_is_refused_with_a_hint(data):
    model = snn.MLP([3, 4, 2], seed=0)
    refused_before_training(
        model, data, "list of Callback", error=TypeError, callbacks=callbacks.TerminateOnNaN()
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": NAN}, r"eps must be a finite number > 0"),
        ({"eps": 0}, r"eps must be a finite number > 0"),
        ({"tolerance": INF}, r"tolerance must be a finite number >= 0"),
        ({"max_entries": 0}, r"max_entries must be a positive integer"),
    ],
)
def test_gradcheck_refuses_meaningless_steps_and_tolerances(kwargs, message):
    model = snn.MLP([2, 3, 1], seed=0, dtype=np.float64)
    X, y = np.ones((2, 2)), np.ones((2, 1))
    with pytest.raises(ValueError, match=message):
        snn.gradcheck(model, "mse", X, y, **kwargs)
