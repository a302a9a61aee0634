"""Learning-rate schedules against ``torch.optim.lr_scheduler``, epoch by epoch, and their
life inside ``fit``: the logged rates, save/load, a second ``fit``, names and validation.

scratchnn's schedules are closed forms of the epoch (``lr_at(epoch)``); most of torch's are
recursive (each rate is computed from the previous one). The two agree to rounding error,
which accumulates over the recursion to a few ulps: hence ``rtol=1e-12`` rather than exact
equality. ``atol`` only matters where the rate reaches 0 (cosine annealing to ``eta_min=0``).

scratchnn is driven as ``fit`` drives it: ``schedule.start(optimizer)``, then
``schedule.step(optimizer, logs)`` after each epoch, reading ``optimizer.lr``. torch is driven
with a dummy parameter: ``optimizer.step()`` then ``scheduler.step()`` (or ``step(metric)``),
reading ``optimizer.param_groups[0]["lr"]``. Entry ``e`` of each list is the rate used during
epoch ``e``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as snn
from scratchnn import schedules
from scratchnn.schedules import (
    CosineAnnealing,
    ExponentialLR,
    ReduceLROnPlateau,
    StepLR,
    Warmup,
)

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)

lr_scheduler = torch.optim.lr_scheduler

RTOL, ATOL = 1e-12, 1e-16
BASE_LR = 0.1
EPOCHS = 36


pytestmark = pytest.mark.usefixtures("single_threaded_torch")


def snn_rates(
    schedule: schedules.Schedule,
    epochs: int = EPOCHS,
    metrics: list[float] | None = None,
    monitor: str = "val_loss",
    base_lr: float = BASE_LR,
) -> list[float]:
    """The rate of each of ``epochs`` epochs (``epochs + 1`` values: the last is the rate the
    next epoch would use)."""
    optimizer = snn.optim.SGD(lr=base_lr)
    schedule.start(optimizer)
    rates = [optimizer.lr]
    for epoch in range(epochs):
        logs = {"loss": 1.0, "lr": optimizer.lr}
        if metrics is not None:
            logs[monitor] = metrics[epoch]
        schedule.step(optimizer, logs)
        rates.append(optimizer.lr)
    return rates


def torch_rates(
    make: Callable[[torch.optim.Optimizer], object],
    epochs: int = EPOCHS,
    metrics: list[float] | None = None,
    base_lr: float = BASE_LR,
) -> list[float]:
    parameter = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=base_lr)
    scheduler = make(optimizer)
    rates = [optimizer.param_groups[0]["lr"]]
    for epoch in range(epochs):
        optimizer.step()  # (no gradient: a no-op) keeps torch's call-order check quiet
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def assert_rates_match(ours: list[float], theirs: list[float]) -> None:
    assert len(ours) == len(theirs)
    for epoch, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        window = slice(max(0, epoch - 3), epoch + 3)
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL), (
            f"epoch {epoch}: scratchnn {a!r}, torch {b!r} (epochs {window.start}..: "
            f"scratchnn {ours[window]}, torch {theirs[window]})"
        )


# --------------------------------------------------------------------------------------------
# 1. Epoch-based schedules, step by step against torch
# --------------------------------------------------------------------------------------------

SCHEDULES = [
    pytest.param(lambda: StepLR(3, 0.5), lambda o: lr_scheduler.StepLR(o, 3, 0.5), id="step_3"),
    pytest.param(lambda: StepLR(1, 0.9), lambda o: lr_scheduler.StepLR(o, 1, 0.9), id="step_1"),
    pytest.param(lambda: StepLR(7), lambda o: lr_scheduler.StepLR(o, 7), id="step_7_default"),
    pytest.param(
        lambda: ExponentialLR(0.9), lambda o: lr_scheduler.ExponentialLR(o, 0.9), id="exp_0.9"
    ),
    pytest.param(
        lambda: ExponentialLR(1.05), lambda o: lr_scheduler.ExponentialLR(o, 1.05), id="exp_1.05"
    ),
    # Past T_max the rate rises again along the same cosine (36 epochs: 3.6 periods).
    pytest.param(
        lambda: CosineAnnealing(10),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10),
        id="cosine_10",
    ),
    pytest.param(
        lambda: CosineAnnealing(7, eta_min=0.004),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.004),
        id="cosine_7_eta_min",
    ),
    pytest.param(
        lambda: CosineAnnealing(1),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=1),
        id="cosine_1",
    ),
    pytest.param(
        lambda: CosineAnnealing(5, warm_restarts=True),
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=5),
        id="restarts_5",
    ),
    pytest.param(
        lambda: CosineAnnealing(4, eta_min=0.01, warm_restarts=True),
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=4, eta_min=0.01),
        id="restarts_4_eta_min",
    ),
    pytest.param(
        lambda: CosineAnnealing(2, warm_restarts=True, T_mult=2),
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2),
        id="restarts_2_mult_2",
    ),
    pytest.param(
        lambda: CosineAnnealing(3, eta_min=0.02, warm_restarts=True, T_mult=2),
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.02),
        id="restarts_3_mult_2_eta_min",
    ),
    pytest.param(
        lambda: CosineAnnealing(1, warm_restarts=True, T_mult=2),
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=2),
        id="restarts_1_mult_2",
    ),
    pytest.param(lambda: Warmup(), lambda o: lr_scheduler.LinearLR(o), id="warmup_default"),
    pytest.param(
        lambda: Warmup(8, 0.1),
        lambda o: lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=8),
        id="warmup_8",
    ),
    pytest.param(
        lambda: Warmup(1, 0.5),
        lambda o: lr_scheduler.LinearLR(o, start_factor=0.5, total_iters=1),
        id="warmup_1",
    ),
    pytest.param(
        lambda: Warmup(3, 1.0),
        lambda o: lr_scheduler.LinearLR(o, start_factor=1.0, total_iters=3),
        id="warmup_constant",
    ),
]


@pytest.mark.parametrize(("make", "make_torch"), SCHEDULES)
def test_schedule_matches_torch(make, make_torch):
    assert_rates_match(snn_rates(make()), torch_rates(make_torch))


def _sequential(then_torch, warmup: int, start_factor: float):
    def make(optimizer):
        linear = lr_scheduler.LinearLR(optimizer, start_factor=start_factor, total_iters=warmup)
        return lr_scheduler.SequentialLR(
            optimizer, [linear, then_torch(optimizer)], milestones=[warmup]
        )

    return make


WARMUP_THEN = [
    pytest.param(
        4,
        0.25,
        lambda: CosineAnnealing(10, eta_min=0.001),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
        id="cosine_eta_min",
    ),
    pytest.param(
        5,
        1 / 3,
        lambda: CosineAnnealing(25),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=25),
        id="cosine_to_zero",
    ),
    pytest.param(
        1,
        0.1,
        lambda: CosineAnnealing(6),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=6),
        id="one_epoch_warmup",
    ),
    pytest.param(
        3,
        0.5,
        lambda: StepLR(4, 0.5),
        lambda o: lr_scheduler.StepLR(o, 4, 0.5),
        id="step",
    ),
    pytest.param(
        6,
        0.2,
        lambda: ExponentialLR(0.9),
        lambda o: lr_scheduler.ExponentialLR(o, 0.9),
        id="exponential",
    ),
    pytest.param(
        2,
        0.5,
        lambda: CosineAnnealing(3, eta_min=0.01, warm_restarts=True, T_mult=2),
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
        id="restarts",
    ),
]


@pytest.mark.parametrize(("warmup", "start_factor", "make_then", "make_then_torch"), WARMUP_THEN)
def test_warmup_then_matches_torch_sequential_lr(warmup, start_factor, make_then, make_then_torch):
    ours = snn_rates(Warmup(warmup, start_factor, then=make_then()))
    theirs = torch_rates(_sequential(make_then_torch, warmup, start_factor))
    assert_rates_match(ours, theirs)
    # The documented semantics: the warm-up's linear ramp for epochs < warmup, then the
    # follower's own rates counted from the end of the warm-up.
    follower = snn_rates(make_then(), EPOCHS - warmup)
    ramp = [BASE_LR * (start_factor + (1 - start_factor) * e / warmup) for e in range(warmup)]
    np.testing.assert_allclose(ours, ramp + follower, rtol=RTOL, atol=ATOL)


def _follower(kind: str, period: int, eta_min: float):
    """A (scratchnn, torch) pair of schedules to follow a warm-up."""
    if kind == "cosine":
        return (
            lambda: CosineAnnealing(period, eta_min=eta_min),
            lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=period, eta_min=eta_min),
        )
    if kind == "restarts":
        return (
            lambda: CosineAnnealing(period, eta_min=eta_min, warm_restarts=True, T_mult=2),
            lambda o: lr_scheduler.CosineAnnealingWarmRestarts(
                o, T_0=period, T_mult=2, eta_min=eta_min
            ),
        )
    if kind == "step":
        return lambda: StepLR(period, 0.5), lambda o: lr_scheduler.StepLR(o, period, 0.5)
    return lambda: ExponentialLR(0.95), lambda o: lr_scheduler.ExponentialLR(o, 0.95)


@settings(max_examples=40, deadline=None)
@given(
    warmup=st.integers(1, 10),
    start_factor=st.sampled_from([0.01, 0.1, 0.25, 1 / 3, 0.5, 0.9, 1.0]),
    kind=st.sampled_from(["cosine", "restarts", "step", "exponential"]),
    period=st.integers(1, 12),
    eta_min=st.sampled_from([0.0, 0.001, 0.05]),
)
def test_warmup_then_matches_torch_sequential_lr_for_random_settings(
    warmup, start_factor, kind, period, eta_min
):
    make_then, make_then_torch = _follower(kind, period, eta_min)
    ours = snn_rates(Warmup(warmup, start_factor, then=make_then()))
    assert_rates_match(ours, torch_rates(_sequential(make_then_torch, warmup, start_factor)))


@pytest.mark.parametrize("T_mult", [2, 3, 4, 10])
@pytest.mark.parametrize("T_0", [1, 2])
def test_warm_restarts_match_torch_over_many_periods(T_0, T_mult):
    # Restarts at T_0·(T_mult^n - 1)/(T_mult - 1): for T_mult = 3 and T_0 = 1 the fifth is at
    # epoch 121, for T_mult = 10 the third is at epoch 111. Each epoch that starts a period
    # must get base_lr back.
    epochs = 250
    ours = snn_rates(CosineAnnealing(T_0, warm_restarts=True, T_mult=T_mult), epochs)
    theirs = torch_rates(
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=T_0, T_mult=T_mult), epochs
    )
    assert_rates_match(ours, theirs)


# --------------------------------------------------------------------------------------------
# 2. ReduceLROnPlateau with scripted metrics
# --------------------------------------------------------------------------------------------

# Plateaus, small improvements (below and above the threshold), and recoveries.
LOSSES = [1.0, 0.9, 0.9, 0.9, 0.89995, 0.9, 0.85, 0.85, 0.86, 0.87, 0.84999, 0.85]
LOSSES += [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79, 0.795, 0.799, 0.8, 0.5, 0.6, 0.6, 0.6]
LOSSES += [0.6, 0.6, 0.6, 0.49, 0.49, 0.49, 0.49, 0.49, 0.49, 0.49]
ACCURACIES = [0.5, 0.6, 0.6, 0.6, 0.60001, 0.6, 0.7, 0.7, 0.69, 0.705, 0.72, 0.72]
ACCURACIES += [0.72, 0.72, 0.75, 0.75, 0.75, 0.76, 0.76, 0.76, 0.76, 0.76, 0.9, 0.9, 0.9]
ACCURACIES += [0.9, 0.9, 0.9, 0.91, 0.91, 0.91, 0.91, 0.91, 0.91, 0.91, 0.91]
# A slow descent with long plateaus, for the defaults (patience 10).
SLOW = [1.0, 0.9, *[0.9] * 12, 0.8, *[0.8] * 14, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
# Negative values, where the relative threshold multiplies a negative best, so that a value
# equal to the best counts as an improvement. Sawtooths: each block of 6 worsens 5 times.
NEGATIVE_MIN = [-1 - 0.1 * (i // 6) + 0.01 * (i % 6) for i in range(36)]
NEGATIVE_MAX = [-1 + 0.1 * (i // 6) - 0.01 * (i % 6) for i in range(36)]

PLATEAU = [
    pytest.param({}, "min", SLOW, id="defaults"),
    pytest.param({"patience": 2, "factor": 0.5}, "min", LOSSES, id="min_rel"),
    pytest.param(
        {"patience": 1, "factor": 0.5, "threshold": 0.02, "threshold_mode": "abs"},
        "min",
        LOSSES,
        id="min_abs",
    ),
    pytest.param({"patience": 2, "factor": 0.5, "mode": "max"}, "max", ACCURACIES, id="max_rel"),
    pytest.param(
        {"patience": 1, "mode": "max", "threshold": 0.01, "threshold_mode": "abs"},
        "max",
        ACCURACIES,
        id="max_abs",
    ),
    pytest.param(
        {"patience": 1, "factor": 0.5, "threshold": 0.05}, "min", LOSSES, id="min_rel_large"
    ),
    pytest.param({"patience": 1, "factor": 0.5, "cooldown": 3}, "min", LOSSES, id="cooldown"),
    pytest.param({"patience": 0, "factor": 0.5, "cooldown": 2}, "min", LOSSES, id="patience_0"),
    pytest.param(
        {"patience": 0, "factor": 0.3, "min_lr": 0.004}, "min", LOSSES, id="min_lr_clamps"
    ),
    pytest.param(
        {"patience": 0, "factor": 0.5, "eps": 0.01}, "min", LOSSES, id="eps_skips_small_steps"
    ),
    pytest.param({"patience": 2, "factor": 0.5}, "min", NEGATIVE_MIN, id="negative_min_rel"),
    pytest.param(
        {"patience": 2, "factor": 0.5, "mode": "max"}, "max", NEGATIVE_MAX, id="negative_max_rel"
    ),
]


@pytest.mark.parametrize(("kwargs", "mode", "metrics"), PLATEAU)
def test_reduce_on_plateau_matches_torch(kwargs, mode, metrics):
    assert kwargs.get("mode", "min") == mode
    ours = snn_rates(ReduceLROnPlateau(**kwargs), len(metrics), metrics)
    theirs = torch_rates(
        lambda o: lr_scheduler.ReduceLROnPlateau(o, **kwargs), len(metrics), metrics
    )
    assert_rates_match(ours, theirs)
    assert len(set(ours)) > 1, "the scripted metrics never triggered a reduction"


@settings(max_examples=40, deadline=None)
@given(
    metrics=st.lists(st.sampled_from([0.5, 0.7, 0.70001, 0.71, 0.75, 0.9, 1.0]), max_size=40),
    mode=st.sampled_from(["min", "max"]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    threshold=st.sampled_from([0.0, 1e-4, 0.02, 0.2]),
    patience=st.integers(0, 4),
    cooldown=st.integers(0, 3),
    factor=st.sampled_from([0.1, 0.5, 0.9]),
    min_lr=st.sampled_from([0.0, 1e-3, 0.05]),
)
def test_reduce_on_plateau_matches_torch_on_random_metrics(
    metrics, mode, threshold_mode, threshold, patience, cooldown, factor, min_lr
):
    kwargs = {
        "mode": mode,
        "threshold_mode": threshold_mode,
        "threshold": threshold,
        "patience": patience,
        "cooldown": cooldown,
        "factor": factor,
        "min_lr": min_lr,
    }
    ours = snn_rates(ReduceLROnPlateau(monitor="m", **kwargs), len(metrics), metrics, "m")
    theirs = torch_rates(
        lambda o: lr_scheduler.ReduceLROnPlateau(o, **kwargs), len(metrics), metrics
    )
    assert_rates_match(ours, theirs)


def test_reduce_on_plateau_needs_its_monitored_log():
    schedule = ReduceLROnPlateau(monitor="val_loss")
    optimizer = snn.optim.SGD(lr=0.1)
    schedule.start(optimizer)
    with pytest.raises(ValueError, match="val_loss"):
        schedule.step(optimizer, {"loss": 1.0})


# --------------------------------------------------------------------------------------------
# 3. Schedules inside fit
# --------------------------------------------------------------------------------------------


def regression_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(24, 3))
    y = X @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(24, 2))
    model = snn.Sequential(
        [snn.Dense(3, 6, activation="tanh"), snn.Dense(6, 2)], seed=seed, dtype=np.float64
    )
    return model, X, y


def test_fit_logs_the_rate_of_each_epoch():
    model, X, y = regression_problem()
    history = model.fit(
        X,
        y,
        loss="mse",
        optimizer=snn.optim.SGD(lr=0.1),
        schedule=StepLR(2, 0.5),
        epochs=6,
        verbose=0,
    )
    assert history["lr"] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert model.optimizer.lr == 0.0125  # the rate the next epoch will use
    assert model.schedule.last_epoch == 6


def test_fit_trains_each_epoch_at_the_logged_rate():
    # Full-batch plain SGD has no state: a fit with a schedule must give bit-identical weights
    # to one-epoch fits at the logged rates.
    model, X, y = regression_problem()
    schedule = Warmup(3, 0.2, then=CosineAnnealing(4, eta_min=0.01))
    history = model.fit(
        X,
        y,
        loss="mse",
        optimizer=snn.optim.SGD(lr=0.3),
        schedule=schedule,
        epochs=7,
        batch_size=None,
        verbose=0,
    )
    expected = snn_rates(Warmup(3, 0.2, then=CosineAnnealing(4, eta_min=0.01)), 6, base_lr=0.3)
    assert history["lr"] == expected  # the rates of epochs 0 to 6
    assert len(set(expected)) == 7

    manual, X, y = regression_problem()
    for rate in history["lr"]:
        manual.fit(X, y, loss="mse", optimizer=snn.optim.SGD(lr=rate), batch_size=None, verbose=0)
    np.testing.assert_array_equal(manual.get_weights(), model.get_weights())


def test_fit_with_plateau_schedule_reduces_on_validation_loss():
    model, X, y = regression_problem()
    # After the first epoch nothing counts as an improvement (by 100, absolute).
    schedule = ReduceLROnPlateau(patience=0, factor=0.5, threshold=100.0, threshold_mode="abs")
    history = model.fit(
        X[:16],
        y[:16],
        loss="mse",
        optimizer=snn.optim.SGD(lr=0.1),
        schedule=schedule,
        epochs=4,
        validation_data=(X[16:], y[16:]),
        verbose=0,
    )
    assert history["lr"] == [0.1, 0.1, 0.05, 0.025]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: StepLR(2, 0.5), id="step"),
        pytest.param(lambda: Warmup(2, 0.5, then=CosineAnnealing(3, eta_min=0.01)), id="warmup"),
        pytest.param(
            lambda: ReduceLROnPlateau("loss", patience=0, threshold=1.0, threshold_mode="abs"),
            id="plateau",
        ),
    ],
)
def test_second_fit_continues_the_schedule(make):
    once, X, y = regression_problem()
    history = once.fit(
        X,
        y,
        loss="mse",
        optimizer=snn.optim.SGD(lr=0.1),
        schedule=make(),
        epochs=6,
        batch_size=8,
        verbose=0,
    )

    twice, X, y = regression_problem()
    first = twice.fit(
        X,
        y,
        loss="mse",
        optimizer=snn.optim.SGD(lr=0.1),
        schedule=make(),
        epochs=3,
        batch_size=8,
        verbose=0,
    )
    second = twice.fit(X, y, epochs=3, batch_size=8, verbose=0)  # remembered schedule

    assert first["lr"] + second["lr"] == history["lr"]
    assert len(set(history["lr"])) > 1
    np.testing.assert_array_equal(twice.get_weights(), once.get_weights())
    assert twice.schedule.state_dict() == once.schedule.state_dict()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: ExponentialLR(0.8), id="exponential"),
        pytest.param(lambda: Warmup(2, 0.5, then=CosineAnnealing(3, eta_min=0.01)), id="warmup"),
        pytest.param(lambda: CosineAnnealing(2, warm_restarts=True, T_mult=2), id="warm_restarts"),
        pytest.param(lambda: ReduceLROnPlateau(patience=0, factor=0.5), id="plateau"),
    ],
)
def test_schedule_survives_save_and_load(make, tmp_path):
    Xv = np.random.default_rng(9).normal(size=(6, 3))
    yv = np.zeros((6, 2))

    once, X, y = regression_problem()
    kwargs = {"batch_size": 8, "validation_data": (Xv, yv), "verbose": 0}
    history = once.fit(
        X, y, loss="mse", optimizer=snn.optim.Adam(lr=0.05), schedule=make(), epochs=7, **kwargs
    )

    model, X, y = regression_problem()
    first = model.fit(
        X, y, loss="mse", optimizer=snn.optim.Adam(lr=0.05), schedule=make(), epochs=3, **kwargs
    )
    model.save(tmp_path / "model.npz")
    loaded = snn.load(tmp_path / "model.npz")
    assert type(loaded.schedule) is type(model.schedule)
    assert loaded.schedule.get_config() == model.schedule.get_config()
    assert loaded.schedule.state_dict() == model.schedule.state_dict()
    assert loaded.optimizer.lr == model.optimizer.lr
    second = loaded.fit(X, y, epochs=4, **kwargs)

    assert first["lr"] + second["lr"] == history["lr"]
    assert len(set(history["lr"])) > 1
    np.testing.assert_array_equal(loaded.get_weights(), once.get_weights())


SCHEDULE_FACTORIES = [
    pytest.param(lambda: StepLR(3, 0.5), id="step"),
    pytest.param(lambda: ExponentialLR(0.9), id="exponential"),
    pytest.param(lambda: CosineAnnealing(5, eta_min=0.01), id="cosine"),
    pytest.param(lambda: CosineAnnealing(2, warm_restarts=True, T_mult=2), id="restarts"),
    pytest.param(lambda: Warmup(4, 0.1), id="warmup"),
    pytest.param(lambda: Warmup(3, 0.5, then=StepLR(2, 0.5)), id="warmup_then"),
    pytest.param(lambda: ReduceLROnPlateau(patience=1, factor=0.5, cooldown=1), id="plateau"),
]


@pytest.mark.parametrize("make", SCHEDULE_FACTORIES)
def test_state_dict_round_trip_continues_exactly(make):
    metrics = LOSSES
    reference = snn_rates(make(), 20, metrics)

    schedule = make()
    optimizer = snn.optim.SGD(lr=BASE_LR)
    schedule.start(optimizer)
    for epoch in range(8):
        schedule.step(optimizer, {"val_loss": metrics[epoch]})
    # Through JSON, as model files store it.
    config = json.loads(
        json.dumps({"class_name": type(schedule).__name__, "config": schedule.get_config()})
    )
    state = json.loads(json.dumps(schedule.state_dict()))
    restored = schedules.get(config)
    assert restored is not schedule and type(restored) is type(schedule)
    restored.load_state_dict(state)
    assert restored.state_dict() == schedule.state_dict()

    fresh = snn.optim.SGD(lr=optimizer.lr)
    restored.start(fresh)  # already started: must leave the rate alone
    rates = [fresh.lr]
    for epoch in range(8, 20):
        restored.step(fresh, {"val_loss": metrics[epoch]})
        rates.append(fresh.lr)
    assert rates == reference[8:]


# --------------------------------------------------------------------------------------------
# 4. Names and validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "cls"),
    [
        ("step", {"step_size": 2}, StepLR),
        ("StepLR", {"step_size": 2, "gamma": 0.5}, StepLR),
        ("exponential", {"gamma": 0.9}, ExponentialLR),
        ("cosine", {"T_max": 10}, CosineAnnealing),
        ("cosine_annealing", {"T_max": 10, "warm_restarts": True}, CosineAnnealing),
        ("linear_warmup", {"epochs": 3}, Warmup),
        ("warmup", {}, Warmup),
        ("plateau", {"patience": 3}, ReduceLROnPlateau),
        ("reduce_lr_on_plateau", {}, ReduceLROnPlateau),
    ],
)
def test_schedules_by_name(name, kwargs, cls):
    schedule = schedules.get(name, **kwargs)
    assert type(schedule) is cls
    for key, value in kwargs.items():
        assert getattr(schedule, key) == value


def test_step_by_name_matches_instance():
    assert snn_rates(schedules.get("step", step_size=2)) == snn_rates(StepLR(2))


def test_fit_accepts_a_schedule_name():
    model, X, y = regression_problem()
    history = model.fit(
        X,
        y,
        loss="mse",
        optimizer=snn.optim.SGD(lr=0.1),
        schedule="plateau",
        epochs=2,
        validation_data=(X, y),
        verbose=0,
    )
    assert isinstance(model.schedule, ReduceLROnPlateau)
    assert history["lr"] == [0.1, 0.1]


def test_unknown_schedule_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="StepLR"):
        schedules.get("triangular")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: StepLR(0), id="step_size_0"),
        pytest.param(lambda: StepLR(-2), id="step_size_negative"),
        pytest.param(lambda: StepLR(2.5), id="step_size_float"),
        pytest.param(lambda: StepLR(True), id="step_size_bool"),
        pytest.param(lambda: StepLR(2, gamma=0), id="step_gamma_0"),
        pytest.param(lambda: StepLR(2, gamma=-0.5), id="step_gamma_negative"),
        pytest.param(lambda: StepLR(2, gamma=math.inf), id="step_gamma_inf"),
        pytest.param(lambda: StepLR(2, gamma=math.nan), id="step_gamma_nan"),
        pytest.param(lambda: ExponentialLR(0.0), id="exp_gamma_0"),
        pytest.param(lambda: ExponentialLR("0.9"), id="exp_gamma_str"),
        pytest.param(lambda: CosineAnnealing(0), id="cosine_T_max_0"),
        pytest.param(lambda: CosineAnnealing(4.0), id="cosine_T_max_float"),
        pytest.param(lambda: CosineAnnealing(4, eta_min=-0.1), id="cosine_eta_min_negative"),
        pytest.param(lambda: CosineAnnealing(4, eta_min=math.nan), id="cosine_eta_min_nan"),
        pytest.param(lambda: CosineAnnealing(4, warm_restarts=True, T_mult=0), id="T_mult_0"),
        pytest.param(lambda: CosineAnnealing(4, warm_restarts=True, T_mult=1.5), id="T_mult_float"),
        pytest.param(lambda: Warmup(0), id="warmup_epochs_0"),
        pytest.param(lambda: Warmup(2.5), id="warmup_epochs_float"),
        pytest.param(lambda: Warmup(3, start_factor=0), id="warmup_start_0"),
        pytest.param(lambda: Warmup(3, start_factor=1.5), id="warmup_start_above_1"),
        pytest.param(lambda: ReduceLROnPlateau(factor=1.0), id="plateau_factor_1"),
        pytest.param(lambda: ReduceLROnPlateau(factor=0.0), id="plateau_factor_0"),
        pytest.param(lambda: ReduceLROnPlateau(factor=2.0), id="plateau_factor_2"),
        pytest.param(lambda: ReduceLROnPlateau(mode="avg"), id="plateau_mode"),
        pytest.param(lambda: ReduceLROnPlateau(threshold_mode="pct"), id="plateau_threshold_mode"),
    ],
)
def test_invalid_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"patience": -1}, id="patience_negative"),
        pytest.param({"patience": "3"}, id="patience_str"),
        pytest.param({"cooldown": -1}, id="cooldown_negative"),
        pytest.param({"min_lr": -0.01}, id="min_lr_negative"),
        pytest.param({"threshold": -0.1}, id="threshold_negative"),
    ],
)
def test_reduce_on_plateau_rejects_invalid_counts_and_bounds(kwargs):
    with pytest.raises(ValueError):
        ReduceLROnPlateau(**kwargs)
