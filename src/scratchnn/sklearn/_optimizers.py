"""scikit-learn's stochastic solvers (``sgd`` and ``adam``), over the model's one flat
parameter vector, plus an adapter for scratchnn's own optimizers (the extra solvers).

Each solver exposes what scikit-learn's ``_optimizer`` does: ``learning_rate`` (the current
rate), ``update(values, grads)``, ``iteration_ends(t)`` (after each epoch, ``t`` the samples
seen so far) and ``trigger_stopping(message, verbose)`` (called when the stopping rule fires;
True means stop).

Learning-rate schedules (``learning_rate``), as scikit-learn's SGD:

- ``"constant"``: ``η = learning_rate_init``;
- ``"invscaling"``: after each epoch ``η = learning_rate_init / (t + 1)^power_t``;
- ``"adaptive"``: when the stopping rule fires, ``η ← η / 5`` and training goes on, until
  ``η ≤ 1e-6``.
"""

from __future__ import annotations

import numpy as np

from .. import optim
from ..parameters import Parameter


class _Scheduled:
    """The learning-rate schedule shared by SGD and the extra solvers."""

    def __init__(self, learning_rate_init: float, lr_schedule: str, power_t: float) -> None:
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.power_t = power_t

    def iteration_ends(self, time_step: int) -> None:
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class SGD(_Scheduled):
    """Gradient descent with (Nesterov) momentum, scikit-learn's form:
    ``v ← μv − ηg``, then ``W ← W + v``, or with Nesterov ``W ← W + μv − ηg``.

    Args:
        size, dtype: of the flat parameter vector.
        learning_rate_init, lr_schedule, power_t: see the module docstring.
        momentum: μ in [0, 1].
        nesterov: use Nesterov's momentum.
    """

    def __init__(
        self,
        size: int,
        dtype: np.dtype,
        learning_rate_init: float,
        lr_schedule: str = "constant",
        momentum: float = 0.9,
        nesterov: bool = True,
        power_t: float = 0.5,
    ) -> None:
        super().__init__(learning_rate_init, lr_schedule, power_t)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = np.zeros(size, dtype=dtype)
        self._step = np.empty(size, dtype=dtype)

    def update(self, values: np.ndarray, grads: np.ndarray) -> None:
        step, velocity, mu = self._step, self.velocity, self.momentum
        np.multiply(grads, -self.learning_rate, out=step)  # −ηg
        velocity *= mu
        velocity += step  # v ← μv − ηg
        if self.nesterov:
            values += step
            np.multiply(velocity, mu, out=step)
            values += step  # W ← W + μv − ηg
        else:
            values += velocity


class Adam:
    """Adam as scikit-learn writes it: ``m ← β₁m + (1 − β₁)g``, ``v ← β₂v + (1 − β₂)g²``,
    ``η_t = η·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`` (that is ``learning_rate``), ``W ← W − η_t·m/(√v + ε)``.
    (ε is added to the uncorrected √v, unlike PyTorch's Adam; scratchnn.optim.Adam is PyTorch's.)
    """

    def __init__(
        self,
        size: int,
        dtype: np.dtype,
        learning_rate_init: float,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.m = np.zeros(size, dtype=dtype)
        self.v = np.zeros(size, dtype=dtype)
        self._work = np.empty(size, dtype=dtype)

    def update(self, values: np.ndarray, grads: np.ndarray) -> None:
        self.t += 1
        b1, b2, work = self.beta_1, self.beta_2, self._work
        self.m *= b1
        np.multiply(grads, 1 - b1, out=work)
        self.m += work
        self.v *= b2
        np.multiply(grads, grads, out=work)
        work *= 1 - b2
        self.v += work
        self.learning_rate = self.learning_rate_init * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        np.sqrt(self.v, out=work)
        work += self.epsilon
        np.divide(self.m, work, out=work)
        work *= -self.learning_rate
        values += work

    def iteration_ends(self, time_step: int) -> None:
        pass

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        if verbose:
            print(msg + " Stopping.")
        return True


class Extra(_Scheduled):
    """A scratchnn optimizer (AdamW, RMSProp, Adagrad) driven like scikit-learn's SGD: its
    ``lr`` follows ``learning_rate`` and the schedule."""

    def __init__(
        self, optimizer: optim.Optimizer, lr_schedule: str = "constant", power_t: float = 0.5
    ) -> None:
        super().__init__(optimizer.lr, lr_schedule, power_t)
        self.optimizer = optimizer

    def update(self, values: np.ndarray, grads: np.ndarray) -> None:
        self.optimizer.lr = self.learning_rate
        self.optimizer.step(Parameter("all", values, grads))
