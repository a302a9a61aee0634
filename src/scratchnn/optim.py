"""Optimizers: rules that turn gradients into parameter updates, ``W ← W − η·∇W`` and its
refinements. Update formulas and defaults follow ``torch.optim`` so results can be compared
step by step.

An optimizer updates parameters in place::

    optimizer.step(model.parameters())

Each rule computes the update Δ, and the base class applies ``W ← W − Δ`` only if every entry
of Δ is finite: an update that overflows is refused with
:class:`~scratchnn.errors.TrainingDivergedError` and leaves the weights as they were.

A model's parameters live in one flat vector (see :mod:`scratchnn.parameters`), so each rule
below is a handful of vectorised in-place passes over that vector, whatever the model's depth.
Per-parameter state (momentum buffers, running averages) is created on the first step and is
saved and restored exactly by ``state_dict()`` / ``load_state_dict()``.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ._registry import Configurable, Registry
from ._validation import check_bool, check_number
from .errors import TrainingDivergedError
from .parameters import Parameter, Parameters

#: The fewest entries of a piece when an update runs on several threads.
PIECE_MIN = 2**15

optimizers: Registry[type[Optimizer]] = Registry("optimizer")

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSProp",
    "clip_grad_norm",
    "clip_grad_value",
    "get",
    "optimizers",
]


def _tensors(parameters: Parameters | Parameter | Iterable[Parameter]) -> list[Parameter]:
    """What an optimizer iterates over: a model's single flat parameter, when there is one."""
    if isinstance(parameters, Parameters):
        return [parameters.flat]
    if isinstance(parameters, Parameter):
        return [parameters]
    tensors = list(parameters)
    for item in tensors:
        if not isinstance(item, Parameter):
            raise TypeError(
                "Optimizer.step expects model.parameters() or Parameter objects. "
                f"Received an item of type {type(item).__name__}."
            )
    return tensors


def _same(these: list[np.ndarray], those: list[np.ndarray]) -> bool:
    """Whether two lists hold the very same arrays, in order."""
    return len(these) == len(those) and all(map(operator.is_, these, those))


def clip_grad_norm(parameters: Parameters | Iterable[Parameter], max_norm: float) -> float:
    """Rescale gradients in place so that their global L2 norm is at most ``max_norm``.

    As PyTorch's ``clip_grad_norm_``: with total norm ‖g‖ over all parameters, every gradient
    is multiplied by ``min(1, max_norm / (‖g‖ + 1e-6))``. Returns ‖g‖ before clipping.
    """
    tensors = _tensors(parameters)
    total = math.sqrt(sum(float(np.dot(p.grad.ravel(), p.grad.ravel())) for p in tensors))
    factor = max_norm / (total + 1e-6)
    if factor < 1:
        for p in tensors:
            np.multiply(p.grad, factor, out=p.grad)
    return total


def clip_grad_value(parameters: Parameters | Iterable[Parameter], clip_value: float) -> None:
    """Clip every gradient entry to ``[-clip_value, clip_value]`` in place."""
    for p in _tensors(parameters):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)


class Optimizer(Configurable):
    """Base class. Subclasses define ``_state_names`` and ``_update``, which returns the
    update Δ; :meth:`step` applies ``W ← W − Δ`` (after ``W ← W(1 − ηλ)`` with decoupled
    weight decay) only when the result is finite.

    Args:
        lr: the learning rate η. It may be changed between steps (schedules do).
        weight_decay: weight decay coefficient λ. By default it is an L2 penalty added to the
            gradient, ``g + λ·W``.
        decoupled_weight_decay: instead shrink the weights directly, ``W ← W(1 - ηλ)``, before
            the update (as AdamW; PyTorch's ``decoupled_weight_decay=True``).
        clip_norm: if set, rescale the gradient so that its global L2 norm (over all
            parameters together) is at most this, before the update.
        clip_value: if set, clip every gradient entry to ``[-clip_value, clip_value]`` first.
    """

    #: Names of the per-parameter state arrays, created as zeros on the first step.
    _state_names: tuple[str, ...] = ()

    def __init__(
        self,
        lr: float,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        self.lr = check_number("lr", lr, 0.0)
        self.weight_decay = check_number("weight_decay", weight_decay, 0.0)
        self.decoupled_weight_decay = check_bool("decoupled_weight_decay", decoupled_weight_decay)
        self.clip_norm = None if clip_norm is None else check_number("clip_norm", clip_norm, 0.0)
        self.clip_value = (
            None if clip_value is None else check_number("clip_value", clip_value, 0.0)
        )
        self.step_count = 0
        self.state: list[dict[str, np.ndarray]] = []
        self._shapes: list[tuple[int, ...]] = []
        self._scratch: list[tuple[np.ndarray, np.ndarray]] = []
        self._checked: tuple[list[np.ndarray], list] | None = None

    #: True when ``_update`` treats every entry on its own (no sums or norms across entries),
    #: so that the update of one flat vector may run as pieces on several threads.
    elementwise: ClassVar[bool] = False

    def step(
        self,
        parameters: Parameters | Parameter | Iterable[Parameter],
        run: Any = None,
        *,
        quiet: bool = False,
    ) -> None:
        """Update every parameter in place from its gradient.

        ``run`` (optional; :class:`scratchnn.sharded.Shards` passes itself) runs a list of up
        to ``run.threads`` callables at once, ``run(jobs)``, and returns their results in
        order: an :attr:`elementwise` optimizer then computes the update of a flat parameter
        as that many pieces, with the same numbers as in one piece.

        An overflow on the way is not warned about (a non-finite update is refused with
        :class:`~scratchnn.errors.TrainingDivergedError` instead): the update runs under
        ``np.errstate(over="ignore", invalid="ignore")``, or, with ``quiet=True``, under the
        caller's, who then promises to have silenced those warnings already
        (:meth:`Sequential.train_step` does; entering ``np.errstate`` costs as much as a small
        model's whole update)."""
        tensors = _tensors(parameters)
        # The layout checks below cost more than a small model's whole update, so they run
        # only when the parameters change: fit passes the same flat Parameter every step (an
        # immutable tuple, so the same object holds the same arrays).
        key = tensors[0] if len(tensors) == 1 else [a for p in tensors for a in (p.value, p.grad)]
        checked = self._checked
        if checked is None or not (
            checked[1] is self.state
            and (
                checked[0] is key
                or (type(key) is list and type(checked[0]) is list and _same(key, checked[0]))
            )
        ):
            self._prepare(tensors)
            self._checked = (key, self.state)
        if self.clip_value is not None:
            clip_grad_value(tensors, self.clip_value)
        if self.clip_norm is not None:
            clip_grad_norm(tensors, self.clip_norm)
        self.step_count += 1
        if quiet:
            self._update_all(tensors, run)
        else:
            self._update_all_quietly(tensors, run)

    # (np.errstate as a decorator costs a third less per call than a with-block)
    @np.errstate(over="ignore", invalid="ignore")
    def _update_all_quietly(self, tensors: list[Parameter], run: Any) -> None:
        self._update_all(tensors, run)

    def _update_all(self, tensors: list[Parameter], run: Any) -> None:
        if run is not None and self.elementwise and len(tensors) == 1:
            tensors, updates = self._updates_in_pieces(tensors[0], run)
        elif len(tensors) == 1:  # a model's flat parameter
            (parameter,) = tensors
            updates = [
                self._update(parameter.value, parameter.grad, self.state[0], self._scratch[0])
            ]
        else:
            updates = [
                self._update(parameter.value, parameter.grad, state, scratch)
                for parameter, state, scratch in zip(
                    tensors, self.state, self._scratch, strict=True
                )
            ]
        self._apply(tensors, updates)

    def _updates_in_pieces(
        self, tensor: Parameter, run: Any
    ) -> tuple[list[Parameter], list[np.ndarray]]:
        """The update of one flat parameter as contiguous pieces, one per job of ``run``
        (NumPy releases the GIL in each pass). Applying them stays one all-or-nothing
        :meth:`_apply`."""
        state, scratch = self.state[0], self._scratch[0]
        size = tensor.value.size
        jobs = max(1, min(run.threads, size // PIECE_MIN))
        bounds = [size * k // jobs // 64 * 64 for k in range(jobs)] + [size]
        pieces = [slice(a, b) for a, b in itertools.pairwise(bounds)]

        def update(piece: slice) -> np.ndarray:
            return self._update(
                tensor.value[piece],
                tensor.grad[piece],
                {name: array[piece] for name, array in state.items()},
                tuple(array[piece] for array in scratch),
            )

        updates = run([lambda piece=piece: update(piece) for piece in pieces])
        parts = [Parameter(tensor.name, tensor.value[p], tensor.grad[p]) for p in pieces]
        return parts, updates

    def _apply(self, tensors: list[Parameter], updates: list[np.ndarray]) -> None:
        """``W ← W(1 − ηλ) − Δ`` for every parameter, or for none if any result would not be
        finite (then :class:`~scratchnn.errors.TrainingDivergedError`; the weights are as
        they were)."""
        shrink, exact = 1.0, False
        if self.decoupled_weight_decay and self.weight_decay:
            shrink = 1 - self.lr * self.weight_decay
            exact = not (math.isfinite(shrink) and abs(shrink) <= 1)
        for delta in updates:
            # One BLAS dot product: a finite Δ·Δ means every |Δᵢ| < √(largest float), so
            # W − Δ cannot overflow for any finite W that is not itself near the largest float.
            flat = delta if delta.ndim == 1 else delta.reshape(-1)
            if not math.isfinite(float(np.dot(flat, flat))):
                exact = True
        if exact:  # rare: huge or non-finite values; check the results entry by entry
            for parameter, delta in zip(tensors, updates, strict=True):
                if not np.isfinite(parameter.value * shrink - delta).all():
                    raise TrainingDivergedError(
                        f"{self!r} computed an update that would make weights infinite or NaN "
                        "(learning rate, momentum or state too large); it was not applied, so "
                        "the weights are unchanged. The optimizer's running state already "
                        "includes this gradient: call reset() before training on with a "
                        "smaller learning rate."
                    )
        for parameter, delta in zip(tensors, updates, strict=True):
            value = parameter.value  # a view: updated in place
            if shrink != 1.0:
                value *= shrink
            value -= delta

    def _prepare(self, tensors: list[Parameter]) -> None:
        """Create the state on the first step; check that it fits these parameters."""
        layout = [(p.value.shape, p.value.dtype.name) for p in tensors]
        if not self.state:
            self.state = [
                {name: np.zeros_like(p.value) for name in self._state_names} for p in tensors
            ]
            self._shapes = [shape for shape, _ in layout]
        held = [(s[name].shape, s[name].dtype.name) for s in self.state for name in list(s)[:1]]
        if [shape for shape, _ in layout] != self._shapes or (held and held != layout):
            raise ValueError(
                f"{self!r} holds state for parameters {held or self._shapes}, but received "
                f"{layout}. Use one optimizer per model, or call reset() first."
            )
        if [(w.shape, w.dtype.name) for w, _ in self._scratch] != layout:
            # Two work buffers per parameter so that no update allocates memory.
            self._scratch = [(np.empty_like(p.value), np.empty_like(p.value)) for p in tensors]

    def _decayed_grad(self, value: np.ndarray, grad: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The gradient the rule sees: ``g + λ·W`` (written into ``out``) with coupled weight
        decay, else ``g`` itself (decoupled decay shrinks W in :meth:`_apply`). ``g`` and ``W``
        are never modified here."""
        if not self.weight_decay or self.decoupled_weight_decay:
            return grad
        np.multiply(value, self.weight_decay, out=out)
        out += grad
        return out

    def _update(
        self,
        value: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scratch: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        """The update Δ (the rule's ``η·d``) for ``value`` from ``grad``, written into one of
        the two ``scratch`` work arrays; ``state`` is advanced in place, ``value`` is not."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget all state (step count, moments), as if freshly constructed."""
        self.step_count = 0
        self.state = []
        self._shapes = []
        self._scratch = []
        self._checked = None

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: hyperparameters, step count, state arrays."""
        return {
            "class_name": type(self).__name__,
            "config": self.get_config(),
            "step_count": self.step_count,
            "shapes": [list(shape) for shape in self._shapes],
            "state": [{name: array.copy() for name, array in s.items()} for s in self.state],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict()`` returned (hyperparameters included)."""
        if state_dict.get("class_name") != type(self).__name__:
            raise ValueError(
                f"This state belongs to a {state_dict.get('class_name')!r} optimizer, not "
                f"{type(self).__name__}."
            )
        config = {
            k: tuple(v) if isinstance(v, list) else v for k, v in state_dict["config"].items()
        }
        # A fresh instance from the saved configuration: derived settings (which state arrays
        # exist) follow the hyperparameters, and are validated like a constructor call.
        self.__dict__.update(type(self)(**config).__dict__)
        self.step_count = int(state_dict["step_count"])
        self.state = [
            {name: np.array(array, copy=True) for name, array in s.items()}
            for s in state_dict["state"]
        ]
        self._shapes = [tuple(shape) for shape in state_dict["shapes"]]

    def get_config(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "decoupled_weight_decay": self.decoupled_weight_decay,
            "clip_norm": self.clip_norm,
            "clip_value": self.clip_value,
        }


@optimizers.register("gd", "gradient_descent")
class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional (Nesterov) momentum. The textbook versions
    in a few lines: :class:`scratchnn.reference.SGD` and :class:`scratchnn.reference.Momentum`.

    With gradient :math:`g` (plus :math:`λW` when ``weight_decay`` > 0):

    .. math::
        b_t = μ b_{t-1} + (1 - τ) g \quad (b_1 = g), \qquad
        d = \begin{cases} g + μ b_t & \text{nesterov} \\ b_t & \text{momentum} \\
        g & μ = 0 \end{cases}, \qquad W ← W - η d

    Args:
        lr: learning rate η: 1e-3, as ``torch.optim.SGD`` (2.13) and scikit-learn's
            ``learning_rate_init`` (Keras takes 0.01), so that ported code compares equal.
            It is small for full-batch problems: the tutorial's XOR is still at loss 0.2486
            after 10,000 epochs at 1e-3 (0.2423 at 0.01), and reaches 0.0103 at 0.1 and 0.0006
            at 0.5; ``fit`` hints at the learning rate when plain gradient descent has barely
            moved the loss in 1,000 steps (see :mod:`scratchnn.diagnostics`).
        momentum: μ, 0 for plain gradient descent.
        dampening: τ, scales the gradient added to the momentum buffer.
        nesterov: use Nesterov's look-ahead form (needs momentum > 0 and no dampening).
        weight_decay: L2 penalty λ.
    """

    elementwise = True

    _state_names = ("momentum_buffer",)

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        **options: Any,
    ) -> None:
        super().__init__(lr, weight_decay, **options)
        self.momentum = check_number("momentum", momentum, 0.0)
        self.dampening = check_number("dampening", dampening, 0.0, 1.0)
        self.nesterov = check_bool("nesterov", nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "Nesterov momentum needs momentum > 0 and dampening = 0. Received: "
                f"momentum={momentum!r}, dampening={dampening!r}."
            )
        if not self.momentum:
            self._state_names = ()

    def _update(self, value, grad, state, scratch) -> np.ndarray:
        work, step = scratch
        g = self._decayed_grad(value, grad, work)
        direction = g
        if self.momentum:
            buffer = state["momentum_buffer"]
            if self.step_count == 1:
                buffer[...] = g
            else:
                buffer *= self.momentum
                if self.dampening:
                    np.multiply(g, 1 - self.dampening, out=step)
                    buffer += step
                else:
                    buffer += g
            if self.nesterov:
                np.multiply(buffer, self.momentum, out=step)
                step += g
                direction = step
            else:
                direction = buffer
        np.multiply(direction, self.lr, out=step)  # Δ = η·d
        return step

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
        }


@optimizers.register()
class Adam(Optimizer):
    r"""Adam: gradient descent with running averages of the gradient and its square. The
    textbook version in a few lines: :class:`scratchnn.reference.Adam`.

    .. math::
        m_t = β_1 m_{t-1} + (1-β_1) g, \qquad v_t = β_2 v_{t-1} + (1-β_2) g^2, \\
        W ← W - \frac{η}{1-β_1^t} \cdot \frac{m_t}{\sqrt{v_t / (1-β_2^t)} + ε}

    The factors :math:`1/(1-β^t)` undo the bias of averages that start at zero.

    Args:
        lr: learning rate η (1e-3).
        betas: :math:`(β_1, β_2)`, the decay rates of the two averages ((0.9, 0.999)).
        eps: ε, keeps the denominator away from 0 (1e-8).
        weight_decay: L2 penalty λ added to the gradient (for decoupled decay use AdamW).
        amsgrad: use the running maximum of :math:`v_t` in the denominator.
    """

    elementwise = True

    # The state is PyTorch's: exp_avg is m, exp_avg_sq is v (state_dicts compare one to one).
    _state_names = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(lr, weight_decay, **options)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2). Received: betas={betas!r}.")
        beta1, beta2 = betas
        self.betas = (
            check_number("betas[0]", beta1, 0.0, 1.0, high_open=True),
            check_number("betas[1]", beta2, 0.0, 1.0, high_open=True),
        )
        self.eps = check_number("eps", eps, 0.0)
        self.amsgrad = check_bool("amsgrad", amsgrad)
        if self.amsgrad:
            self._state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def _update(self, value, grad, state, scratch) -> np.ndarray:
        tmp, step = scratch
        g = self._decayed_grad(value, grad, tmp)
        beta1, beta2 = self.betas
        t = self.step_count
        m, v = state["exp_avg"], state["exp_avg_sq"]
        # m ← β1·m + (1−β1)·g
        m *= beta1
        np.multiply(g, 1 - beta1, out=step)
        m += step
        # v ← β2·v + (1−β2)·g²
        v *= beta2
        np.multiply(g, 1 - beta2, out=step)
        step *= g
        v += step
        if self.amsgrad:  # v ← max over time of v
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        # Δ = η·m̂ / (√v̂ + ε), with the bias corrections m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ) applied
        # as scalars (as PyTorch does): with c = √(1−β2ᵗ), √v̂ + ε = (√v + c·ε)/c, so
        # Δ = (η·c/(1−β1ᵗ))·m / (√v + c·ε): one pass fewer than dividing √v by c first.
        c = math.sqrt(1 - beta2**t)
        np.sqrt(v, out=step)
        step += self.eps * c  # c·(√v̂ + ε)
        np.divide(m, step, out=step)
        step *= self.lr * c / (1 - beta1**t)
        return step

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        # Files written before version 0.2 kept m/(1−β1) and v/(1−β2) ("m_scaled", ...).
        beta1, beta2 = self.betas
        old = {"m_scaled": ("exp_avg", 1 - beta1), "v_scaled": ("exp_avg_sq", 1 - beta2)}
        old["max_v_scaled"] = ("max_exp_avg_sq", 1 - beta2)
        for state in self.state:
            for name in [name for name in state if name in old]:
                new, factor = old[name]
                state[new] = state.pop(name) * factor

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "betas": self.betas,
            "eps": self.eps,
            "amsgrad": self.amsgrad,
        }


@optimizers.register()
class AdamW(Adam):
    r"""Adam with *decoupled* weight decay: before the Adam step the weights shrink,
    :math:`W ← W (1 - ηλ)`, instead of adding :math:`λW` to the gradient, so the decay is not
    rescaled by Adam's per-parameter denominators.

    Args are Adam's, with ``weight_decay`` λ defaulting to 0.01 (as PyTorch).
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        **options: Any,
    ) -> None:
        options.setdefault("decoupled_weight_decay", True)
        super().__init__(lr, betas, eps, weight_decay, amsgrad, **options)


@optimizers.register("rmsprop")
class RMSProp(Optimizer):
    r"""RMSProp: divide the gradient by a running root-mean-square of recent gradients.

    .. math::
        s_t = α s_{t-1} + (1-α) g^2, \qquad
        W ← W - η \frac{g}{\sqrt{s_t} + ε}

    ``centered=True`` subtracts the squared running mean of :math:`g` inside the root (an
    estimate of the variance); ``momentum`` μ > 0 accumulates :math:`b ← μ b + g/(\sqrt{s}+ε)`
    and steps by :math:`η b`.

    Args:
        lr: learning rate η (0.01, as PyTorch).
        alpha: α, the decay of the running average (0.99).
        eps: ε (1e-8).
        weight_decay: L2 penalty λ.
        momentum: μ (0).
        centered: see above.
    """

    elementwise = True

    def __init__(
        self,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(lr, weight_decay, **options)
        self.alpha = check_number("alpha", alpha, 0.0, 1.0)
        self.eps = check_number("eps", eps, 0.0)
        self.momentum = check_number("momentum", momentum, 0.0)
        self.centered = check_bool("centered", centered)
        names = ["square_avg"]
        if self.momentum:
            names.append("momentum_buffer")
        if self.centered:
            names.append("grad_avg")
        self._state_names = tuple(names)

    def _update(self, value, grad, state, scratch) -> np.ndarray:
        work, step = scratch
        g = self._decayed_grad(value, grad, work)
        square_avg = state["square_avg"]
        square_avg *= self.alpha  # s ← α·s + (1-α)·g²
        np.multiply(g, g, out=step)
        step *= 1 - self.alpha
        square_avg += step
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg *= self.alpha
            np.multiply(g, 1 - self.alpha, out=step)
            grad_avg += step
            np.multiply(grad_avg, grad_avg, out=step)
            np.subtract(square_avg, step, out=step)
            np.sqrt(step, out=step)
        else:
            np.sqrt(square_avg, out=step)
        step += self.eps
        np.divide(g, step, out=step)  # g / (√s + ε)
        if self.momentum:
            buffer = state["momentum_buffer"]
            buffer *= self.momentum
            buffer += step
            np.multiply(buffer, self.lr, out=step)
        else:
            step *= self.lr
        return step

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "eps": self.eps,
            "momentum": self.momentum,
            "centered": self.centered,
        }


@optimizers.register()
class Adagrad(Optimizer):
    r"""Adagrad: each parameter's step shrinks with the sum of its squared gradients.

    .. math::
        s_t = s_{t-1} + g^2, \qquad
        W ← W - \frac{η}{1 + (t-1)\,δ} \cdot \frac{g}{\sqrt{s_t} + ε}

    Args:
        lr: learning rate η (0.01).
        lr_decay: δ (0).
        weight_decay: L2 penalty λ.
        initial_accumulator_value: the starting value of :math:`s` (0).
        eps: ε (1e-10).
    """

    elementwise = True

    _state_names = ("sum",)

    def __init__(
        self,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        **options: Any,
    ) -> None:
        super().__init__(lr, weight_decay, **options)
        self.lr_decay = check_number("lr_decay", lr_decay, 0.0)
        self.initial_accumulator_value = check_number(
            "initial_accumulator_value", initial_accumulator_value, 0.0
        )
        self.eps = check_number("eps", eps, 0.0)

    def _update(self, value, grad, state, scratch) -> np.ndarray:
        work, step = scratch
        g = self._decayed_grad(value, grad, work)
        total = state["sum"]
        if self.step_count == 1 and self.initial_accumulator_value:
            total += self.initial_accumulator_value
        np.multiply(g, g, out=step)  # s ← s + g²
        total += step
        np.sqrt(total, out=step)
        step += self.eps
        np.divide(g, step, out=step)
        step *= self.lr / (1 + (self.step_count - 1) * self.lr_decay)
        return step

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "lr_decay": self.lr_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
        }


def get(spec: str | dict | Optimizer, **kwargs: Any) -> Optimizer:
    """An optimizer from its name (``"adam"``, ``"sgd"``, ...), a config dict or an instance.
    ``kwargs`` (e.g. ``lr=0.1``) go to the constructor when ``spec`` is a name."""
    return optimizers.create(spec, Optimizer, **kwargs)
