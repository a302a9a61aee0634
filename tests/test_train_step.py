"""Sequential.train_step: the four lines of a step, public and overridable, and the guard that
keeps the weights finite (a step whose loss, gradient or update is not finite is not applied)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import callbacks, optim, schedules


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def model_for(seed=0, **kwargs):
    return snn.MLP([5, 8, 2], seed=seed, **kwargs)


def test_train_step_is_the_four_lines(problem):
    """One train_step equals forward, loss, backward and optimizer step written by hand."""
    X, y = problem
    by_step, by_hand = model_for(dtype=np.float64), model_for(dtype=np.float64)
    by_step.loss, by_step.optimizer = snn.losses.CrossEntropy(), optim.Adam(lr=0.01)
    loss, optimizer = snn.losses.CrossEntropy(), optim.Adam(lr=0.01)
    for _ in range(3):
        step = by_step.train_step(X.astype(np.float64), y)
        out = by_hand.forward(X.astype(np.float64), training=True)
        value = loss.forward(out, y)
        by_hand.backward(loss.backward())
        optimizer.step(by_hand.parameters())
        assert step.loss == value
        np.testing.assert_array_equal(step.output, out)
    np.testing.assert_array_equal(by_step.get_weights(), by_hand.get_weights())


def test_train_step_without_loss_or_optimizer_says_how(problem):
    X, y = problem
    with pytest.raises(ValueError, match=r"model.loss and model.optimizer"):
        model_for().train_step(X, y)


def test_fit_calls_an_overridden_train_step(problem):
    X, y = problem

    class Counting(snn.Sequential):
        steps = 0

        def train_step(self, x, y, sample_weight=None):
            Counting.steps += 1
            return super().train_step(x, y, sample_weight)

    model = Counting(model_for().layers[:0] or [snn.Dense(5, 2)], seed=0)
    model.fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=2, batch_size=16, verbose=0)
    assert Counting.steps == 2 * 4


def test_penalty_set_after_building_is_in_the_step_loss(problem):
    X, y = problem
    model = model_for(dtype=np.float64)
    model.loss, model.optimizer = snn.losses.CrossEntropy(), optim.SGD(lr=0.0)
    plain = model.train_step(X.astype(np.float64), y).loss
    model.layers[0].l2 = 1.0
    penalized = model.train_step(X.astype(np.float64), y).loss
    W = model.layers[0].params["W"]
    assert penalized == pytest.approx(plain + float(np.sum(W**2)))


# ---------------------------------------------------------------- the guard on the update


class WeightsAfterEachStep(callbacks.Callback):
    """Records the weights after every applied step (finite logs)."""

    def __init__(self, model):
        self.last = model.get_weights().copy()

    def on_batch_end(self, batch, logs):
        if all(math.isfinite(v) for v in logs.values()):
            self.last = self.model.get_weights().copy()


def assert_refused_and_unchanged(model, fit):
    """``fit(recorder)`` raises TrainingDivergedError, and the weights are those after the last
    applied step, finite."""
    recorder = WeightsAfterEachStep(model)
    with pytest.raises(snn.TrainingDivergedError) as info:
        fit(recorder)
    after = model.get_weights()
    assert np.isfinite(after).all()
    np.testing.assert_array_equal(after, recorder.last)
    return str(info.value)


@pytest.mark.parametrize(
    "optimizer",
    [
        optim.SGD(lr=1e300),
        optim.SGD(lr=1e300, momentum=0.9),
        optim.Adam(lr=1e300),
        optim.AdamW(lr=1e300),
        optim.RMSProp(lr=1e300),
        optim.Adagrad(lr=1e300),
    ],
    ids=["sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"],
)
def test_an_update_that_overflows_is_not_applied(problem, optimizer):
    """SGD(lr=1e300) used to return normally with NaN weights."""
    X, y = problem
    model = model_for()
    message = assert_refused_and_unchanged(
        model,
        lambda cb: model.fit(
            X, y, loss="cross_entropy", optimizer=optimizer, callbacks=[cb], verbose=0
        ),
    )
    assert "epoch 1, batch 1" in message
    assert "not applied" in message


def test_the_first_epoch_is_kept_when_the_second_overflows(problem):
    """With two epochs the error said 'keeps its last finite weights' while they were
    infinite. Now the weights are those after the last applied step, and finite."""
    X, y = problem
    model = model_for()
    sgd = optim.SGD(lr=0.1)
    model.fit(X, y, loss="cross_entropy", optimizer=sgd, epochs=1, batch_size=64, verbose=0)

    class Explode(callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            self.model.optimizer.lr = 1e300  # as a buggy callback might

    after_first = model.get_weights().copy()
    message = assert_refused_and_unchanged(
        model,
        lambda cb: model.fit(X, y, epochs=3, batch_size=64, callbacks=[Explode(), cb], verbose=0),
    )
    assert "epoch 3, batch 1" in message  # lifelong epoch numbers: the first fit made one
    assert not np.array_equal(model.get_weights(), after_first)  # the second epoch was applied


def test_a_schedule_with_a_huge_rate_is_stopped(problem):
    X, y = problem
    model = model_for()
    schedule = schedules.StepLR(step_size=1, gamma=1e200)
    assert_refused_and_unchanged(
        model,
        lambda cb: model.fit(
            X,
            y,
            loss="cross_entropy",
            optimizer=optim.SGD(lr=1.0),
            schedule=schedule,
            epochs=5,
            batch_size=64,
            callbacks=[cb],
            verbose=0,
        ),
    )


def test_nan_optimizer_state_cannot_reach_the_weights(problem):
    X, y = problem
    model = model_for()
    adam = optim.Adam()
    model.fit(X, y, loss="cross_entropy", optimizer=adam, epochs=1, verbose=0)
    adam.state[0]["exp_avg"][:3] = np.nan  # e.g. restored from a tampered file
    before = model.get_weights().copy()
    assert_refused_and_unchanged(model, lambda cb: model.fit(X, y, callbacks=[cb], verbose=0))
    np.testing.assert_array_equal(model.get_weights(), before)


def test_terminate_on_nan_ends_quietly_on_a_refused_update(problem):
    X, y = problem
    model = model_for()
    before = model.get_weights().copy()
    history = model.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=optim.SGD(lr=1e300),
        epochs=2,
        callbacks=[callbacks.TerminateOnNaN()],
        verbose=0,
    )
    assert history.diverged and len(history) == 0
    np.testing.assert_array_equal(model.get_weights(), before)


def test_batchnorm_statistics_are_restored_with_a_refused_step(problem):
    X, y = problem
    model = snn.Sequential(
        [snn.Dense(5, 8), snn.BatchNorm1d(8), snn.ReLU(), snn.Dense(8, 2)], seed=0
    )
    running = model.layers[1].buffers["running_mean"].copy()
    assert_refused_and_unchanged(
        model,
        lambda cb: model.fit(
            X, y, loss="cross_entropy", optimizer=optim.SGD(lr=1e300), callbacks=[cb], verbose=0
        ),
    )
    np.testing.assert_array_equal(model.layers[1].buffers["running_mean"], running)


def test_optimizer_step_alone_refuses_a_non_finite_update():
    """The guard is in the optimizer, so a hand-written loop is protected too."""
    model = model_for()
    params = model.parameters()
    params.flat.grad[...] = 1.0
    before = params.flat.value.copy()
    with pytest.raises(snn.TrainingDivergedError, match="not applied"):
        optim.SGD(lr=1e300).step(params)
    np.testing.assert_array_equal(params.flat.value, before)


def test_quiet_leaves_the_floating_point_warnings_to_the_caller():
    """step(quiet=True) is for a caller that silences overflow itself (train_step does): it
    enters no np.errstate of its own, and refuses the update all the same."""
    model = model_for()
    params = model.parameters()
    params.flat.grad[...] = 1.0
    before = params.flat.value.copy()
    with pytest.warns(RuntimeWarning, match="overflow"), pytest.raises(snn.TrainingDivergedError):
        optim.SGD(lr=1e300).step(params, quiet=True)  # (the suite turns warnings into errors)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(snn.TrainingDivergedError):
        optim.SGD(lr=1e300).step(params, quiet=True)
    np.testing.assert_array_equal(params.flat.value, before)


def test_huge_but_finite_updates_are_applied_exactly():
    """The fast check (a finite Δ·Δ) falls back to an exact one for huge finite values."""
    model = model_for(dtype=np.float64)
    params = model.parameters()
    params.flat.grad[...] = 1e200  # Δ·Δ overflows, but W − Δ is finite
    before = params.flat.value.copy()
    optim.SGD(lr=1.0).step(params)
    np.testing.assert_array_equal(params.flat.value, before - 1e200)
    assert math.isfinite(float(params.flat.value.max()))


def test_adam_state_from_older_files_is_converted():
    """Files written before 0.2 kept Adam's averages divided by (1 − β)."""
    adam = optim.Adam(betas=(0.8, 0.9))
    state = {
        "class_name": "Adam",
        "config": adam.get_config(),
        "step_count": 3,
        "shapes": [[2]],
        "state": [{"m_scaled": np.array([1.0, 2.0]), "v_scaled": np.array([10.0, 20.0])}],
    }
    adam.load_state_dict(state)
    np.testing.assert_allclose(adam.state[0]["exp_avg"], [0.2, 0.4])
    np.testing.assert_allclose(adam.state[0]["exp_avg_sq"], [1.0, 2.0])


def test_a_diverging_step_raises_the_error_without_numpy_warnings(problem):
    """The suite turns warnings into errors: an overflow in the forward pass must surface as
    TrainingDivergedError (with its message), not as a RuntimeWarning."""
    X, y = problem
    model = model_for()
    model.layers[0].params["W"][...] = 1e30
    with pytest.raises(snn.TrainingDivergedError, match="not applied"):
        model.fit(X * 1e10, y, loss="cross_entropy", optimizer="sgd", verbose=0)
