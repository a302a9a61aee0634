"""Learning-rate schedules: how the learning rate changes from epoch to epoch.

A schedule works with any optimizer. ``fit(..., schedule=...)`` starts it on the optimizer
(remembering the optimizer's learning rate as ``base_lr``) and steps it after every epoch;
the values equal PyTorch's ``torch.optim.lr_scheduler`` step by step. By hand::

    schedule = StepLR(step_size=10, gamma=0.5)
    schedule.start(optimizer)
    for epoch in range(epochs):
        ...train one epoch...
        schedule.step(optimizer, logs)      # logs: {"val_loss": ...}, for ReduceLROnPlateau
"""

from __future__ import annotations

import math
from typing import Any

from ._registry import Configurable, Registry
from ._validation import check_bool, check_choice, check_int, check_number, check_positive_int
from .optim import Optimizer

schedules: Registry[type[Schedule]] = Registry("schedule")

__all__ = [
    "CosineAnnealing",
    "ExponentialLR",
    "ReduceLROnPlateau",
    "Schedule",
    "StepLR",
    "Warmup",
    "get",
    "schedules",
]


class Schedule(Configurable):
    """Base class of epoch-based schedules: ``lr_at(epoch)`` as a function of ``base_lr``.

    ``last_epoch`` counts the steps taken; the optimizer's learning rate is always
    ``lr_at(last_epoch)``.
    """

    def __init__(self) -> None:
        self.base_lr: float | None = None
        self.last_epoch = 0

    @property
    def started(self) -> bool:
        return self.base_lr is not None

    def start(self, optimizer: Optimizer) -> None:
        """Attach to ``optimizer``: its current rate becomes ``base_lr``, and it is set to the
        rate of epoch 0 (e.g. the first warm-up value). A started schedule is left as is."""
        if self.started:
            return
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    def step(self, optimizer: Optimizer, logs: dict[str, float] | None = None) -> None:
        """Advance one epoch and set the optimizer's learning rate."""
        if not self.started:
            self.start(optimizer)
        self.last_epoch += 1
        optimizer.lr = self.lr_at(self.last_epoch)

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The position of the schedule (JSON-compatible)."""
        return {"base_lr": self.base_lr, "last_epoch": self.last_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def _positive(name: str, value: Any, integer: bool = False) -> Any:
    if integer:
        return check_positive_int(name, value)
    return check_number(name, value, 0.0, low_open=True)


@schedules.register("step")
class StepLR(Schedule):
    """``lr = base_lr · γ^⌊epoch / step_size⌋``: multiply by γ every ``step_size`` epochs.

    Args:
        step_size: epochs between reductions.
        gamma: the factor γ (0.1).
    """

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        super().__init__()
        self.step_size = _positive("step_size", step_size, integer=True)
        self.gamma = float(_positive("gamma", gamma))

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {"step_size": self.step_size, "gamma": self.gamma}


@schedules.register("exponential")
class ExponentialLR(Schedule):
    """``lr = base_lr · γ^epoch``.

    Args:
        gamma: the factor γ applied every epoch.
    """

    def __init__(self, gamma: float) -> None:
        super().__init__()
        self.gamma = float(_positive("gamma", gamma))

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch

    def get_config(self) -> dict[str, Any]:
        return {"gamma": self.gamma}


@schedules.register("cosine")
class CosineAnnealing(Schedule):
    r"""Cosine annealing from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs:

    .. math::
        lr = η_{min} + \tfrac12 (base\_lr - η_{min})\bigl(1 + \cos(π\, T_{cur} / T)\bigr)

    Without restarts :math:`T_{cur}` is the epoch and :math:`T = T_{max}` (PyTorch's
    ``CosineAnnealingLR``: past ``T_max`` the rate rises again along the same cosine). With
    ``warm_restarts=True`` the rate jumps back to ``base_lr`` at the end of each period, and
    each period is ``T_mult`` times longer than the one before (``CosineAnnealingWarmRestarts``,
    with ``T_max`` as its ``T_0``).

    Args:
        T_max: epochs of the (first) period.
        eta_min: the lowest learning rate (0).
        warm_restarts: restart at the end of each period.
        T_mult: growth factor of the periods with restarts (an integer >= 1).
    """

    def __init__(
        self, T_max: int, eta_min: float = 0.0, warm_restarts: bool = False, T_mult: int = 1
    ) -> None:
        super().__init__()
        self.T_max = _positive("T_max", T_max, integer=True)
        self.eta_min = check_number("eta_min", eta_min, 0.0)
        self.warm_restarts = check_bool("warm_restarts", warm_restarts)
        self.T_mult = _positive("T_mult", T_mult, integer=True)

    def _position(self, epoch: int) -> tuple[float, float]:
        """``(T_cur, T)``: epochs into the current period, and its length."""
        if not self.warm_restarts:
            return epoch, self.T_max
        # Periods of T0, T0·m, T0·m², ... epochs; count them in integers (a closed form
        # through log() misplaces some restarts by rounding).
        start, period = 0, self.T_max
        while epoch >= start + period:
            start, period = start + period, period * self.T_mult
        return epoch - start, period

    def lr_at(self, epoch: int) -> float:
        t_cur, period = self._position(epoch)
        cosine = (1 + math.cos(math.pi * t_cur / period)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine

    def get_config(self) -> dict[str, Any]:
        return {
            "T_max": self.T_max,
            "eta_min": self.eta_min,
            "warm_restarts": self.warm_restarts,
            "T_mult": self.T_mult,
        }


@schedules.register("linear_warmup")
class Warmup(Schedule):
    r"""Linear warm-up: the rate grows from ``start_factor · base_lr`` to ``base_lr`` over
    ``epochs`` epochs (PyTorch's ``LinearLR`` with ``end_factor=1``), then ``then`` takes over
    (as PyTorch's ``SequentialLR``), or the rate stays at ``base_lr``.

    .. math::
        lr = base\_lr \bigl(f_0 + (1 - f_0)\min(epoch, E)/E\bigr)

    Args:
        epochs: E, the length of the warm-up.
        start_factor: :math:`f_0`, in (0, 1] (1/3, as PyTorch).
        then: an optional schedule to follow, counting its epochs from the end of the warm-up.

    Example:
        >>> warm_cosine = Warmup(5, then=CosineAnnealing(T_max=45))
    """

    def __init__(self, epochs: int = 5, start_factor: float = 1 / 3, then: Schedule | None = None):
        super().__init__()
        self.epochs = _positive("epochs", epochs, integer=True)
        self.start_factor = check_number("start_factor", start_factor, 0, 1, low_open=True)
        self.then = None if then is None else get(then)
        if isinstance(self.then, ReduceLROnPlateau):
            raise ValueError(
                "Warmup can hand over to a schedule with a rate per epoch (StepLR, "
                "ExponentialLR, CosineAnnealing), not to ReduceLROnPlateau, which follows a "
                "metric: use ReduceLROnPlateau on its own."
            )

    def lr_at(self, epoch: int) -> float:
        if self.then is not None and epoch >= self.epochs:
            self.then.base_lr = self.base_lr
            return self.then.lr_at(epoch - self.epochs)
        progress = min(epoch, self.epochs) / self.epochs
        return self.base_lr * (self.start_factor + (1 - self.start_factor) * progress)

    def get_config(self) -> dict[str, Any]:
        then = None
        if self.then is not None:
            then = {"class_name": type(self.then).__name__, "config": self.then.get_config()}
        return {"epochs": self.epochs, "start_factor": self.start_factor, "then": then}


@schedules.register("plateau")
class ReduceLROnPlateau(Schedule):
    """Multiply the rate by ``factor`` when ``monitor`` has not improved for ``patience``
    epochs (PyTorch's ``ReduceLROnPlateau``, with the monitored value read from the epoch's
    logs).

    An epoch improves on the best value so far when, for ``mode="min"``, the value is below
    ``best·(1 - threshold)`` (``threshold_mode="rel"``) or ``best - threshold`` (``"abs"``);
    ``mode="max"`` mirrors this. After a reduction, ``cooldown`` epochs pass before counting
    resumes. The rate never drops below ``min_lr``, and changes smaller than ``eps`` are skipped.

    Args:
        monitor: the log to watch ("val_loss"; "loss" without validation data).
        factor: the reduction factor (0.1).
        patience: epochs without improvement before reducing (10).
        mode: "min" or "max".
        threshold, threshold_mode, cooldown, min_lr, eps: as described above.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "min",
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log name (str). Received: monitor={monitor!r}.")
        self.monitor = monitor
        self.factor = check_number("factor", factor, 0, 1, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, 0)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.threshold = check_number("threshold", threshold, 0.0)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = check_int("cooldown", cooldown, 0)
        self.min_lr = check_number("min_lr", min_lr, 0.0)
        self.eps = check_number("eps", eps, 0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def required_logs(self) -> set[str]:
        return {self.monitor}

    def start(self, optimizer: Optimizer) -> None:
        if not self.started:
            self.base_lr = optimizer.lr

    def _is_better(self, value: float) -> bool:
        if self.mode == "min":
            bound = (
                self.best * (1 - self.threshold)
                if self.threshold_mode == "rel"
                else (self.best - self.threshold)
            )
            return value < bound
        bound = (
            self.best * (1 + self.threshold)
            if self.threshold_mode == "rel"
            else (self.best + self.threshold)
        )
        return value > bound

    def step(self, optimizer: Optimizer, logs: dict[str, float] | None = None) -> None:
        self.start(optimizer)
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"ReduceLROnPlateau monitors {self.monitor!r}, which is not in the epoch's logs "
                f"({', '.join(logs)}). Pass validation data, or monitor='loss'."
            )
        value = float(logs[self.monitor])
        self.last_epoch += 1
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            reduced = max(optimizer.lr * self.factor, self.min_lr)
            if optimizer.lr - reduced > self.eps:
                optimizer.lr = reduced
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "best": self.best,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
        }

    def get_config(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "factor": self.factor,
            "patience": self.patience,
            "mode": self.mode,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "cooldown": self.cooldown,
            "min_lr": self.min_lr,
            "eps": self.eps,
        }


def get(spec: str | dict | Schedule, **kwargs: Any) -> Schedule:
    """A schedule from a name (with ``kwargs``), a config dict, or an instance."""
    return schedules.create(spec, Schedule, **kwargs)
