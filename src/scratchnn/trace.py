r"""One training step, opened up: every layer's ``z``, ``a``, ``δ = ∂L/∂z``, ``∂L/∂W``,
``∂L/∂b`` and the optimizer's update ``ΔW``, with their shapes.

:func:`trace_step` runs the four steps of training (forward, loss, backward, update) through
the public layer API only (``forward``/``backward``, ``params``/``grads``) and records what
each layer saw, so that a learner can compare every array with the one on paper:

>>> import numpy as np, scratchnn as snn
>>> X, y = snn.datasets.xor(np.float64)
>>> model = snn.Sequential([snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()],
...                        seed=0, dtype=np.float64)
>>> trace = snn.trace_step(model, X, y, snn.losses.MSE(), snn.optim.SGD(lr=0.5))
>>> [stage.z.shape for stage in trace.stages]       # z1 = x·W1 + b1, z2 = a1·W2 + b2
[(4, 4), (4, 1)]
>>> trace.stages[1].delta.shape                     # δ2 = ∂L/∂z2
(4, 1)
>>> np.allclose(trace.stages[0].update_W, -0.5 * trace.stages[0].dW)   # ΔW = −η ∂L/∂W
True

The model (and the optimizer's state) are left as they were unless ``apply=True``.

**The tutorial's convention** (``convention="tutorial"``): the classic NumPy tutorial writes
``error = y - output``, ``d_output = error * sigmoid_derivative(output)`` and
``W2 += hidden_output.T @ d_output * lr``. That is gradient descent on the *summed* error
:math:`E = \tfrac12 \sum (y - a)^2` with the sign folded into δ:

.. math::
    δ^{tut} = -\frac{∂E}{∂z}, \qquad \text{dW}^{tut} = x^T δ^{tut} = -\frac{∂E}{∂W}, \qquad
    W ← W + η^{tut}\, \text{dW}^{tut}

scratchnn's ``MSE()`` is the *mean* :math:`L = \frac1n \sum (a - y)^2 = \frac2n E` (``n``
elements), so :math:`δ^{tut} = -\frac n2 δ` and ``SGD(lr=η)`` is the tutorial's
:math:`η^{tut} = 2η/n`; with ``MSE(reduction="sum")`` (:math:`L = 2E`),
:math:`η^{tut} = 2η`. In this convention every δ, ∂/∂a, ∂/∂W and ∂/∂b of the trace holds the
tutorial's number (``error``, ``d_output``, ``error_hidden``, ``d_hidden``, ...); ``loss`` is
:math:`E`; ``update_W`` is the same real update in both conventions.

The return structure (stable; the Playground and ``scratchnn explain`` read it):

- :class:`StepTrace`: ``convention``, ``loss`` (float), ``mse`` (mean of :math:`(y-a)^2`,
  what the tutorial prints; None for other losses), ``lr`` (the optimizer's), ``tutorial_lr``
  (the tutorial's η equivalent to the step, for plain SGD on MSE; else None), ``output``,
  ``target``, ``layers`` (one :class:`LayerTrace` per model layer), ``stages`` (one
  :class:`StageTrace` per ``Dense`` with the activation that follows it: the tutorial's
  "layer 1", "layer 2"), ``applied``; ``str(trace)`` or ``trace.format()`` prints it in the
  README's notation and ``trace.to_dict()`` gives plain lists for JSON.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import losses as losses_module
from . import optim as optim_module
from ._validation import check_inputs
from .layers import Activation, Dense
from .layers.base import named_arrays, walk

if TYPE_CHECKING:
    from .losses import Loss
    from .model import Sequential
    from .optim import Optimizer

__all__ = ["CONVENTIONS", "LayerTrace", "StageTrace", "StepTrace", "trace_step"]

#: The two ways of writing the numbers: scratchnn's (δ = ∂L/∂z of the loss as given) and the
#: classic tutorial's (summed error ½Σ(y − a)², δ = −∂E/∂z).
CONVENTIONS = ("scratchnn", "tutorial")

#: f'(z) written with the cached output a (or z), as in the README's table.
DERIVATIVES = {
    "Sigmoid": "a ⊙ (1 − a)",
    "Tanh": "(1 − a²)",
    "ReLU": "[z > 0]",
    "LeakyReLU": "(1 or α)",
    "ELU": "(1 or α e^z)",
    "GELU": "(Φ(z) + z φ(z))",
    "SiLU": "σ(z)(1 + z(1 − σ(z)))",
    "Identity": "1",
}
SYMBOLS = {"Sigmoid": "σ", "Tanh": "tanh", "ReLU": "relu", "Identity": "id"}


@dataclass(frozen=True)
class LayerTrace:
    """What one layer of the model saw during the step (arrays in the trace's convention).

    Attributes:
        index: position in ``model.layers``.
        name: the prefix of its parameters, e.g. ``"dense_0"`` (``model.parameters()``).
        layer: its ``repr``, e.g. ``"Dense(2, 4)"``.
        input: what ``forward`` received, ``(batch, in)``.
        output: what ``forward`` returned, ``(batch, out)``.
        grad_output: ``∂L/∂output``, what ``backward`` received, ``(batch, out)``.
        grad_input: ``∂L/∂input``, what ``backward`` returned, ``(batch, in)``.
        params: ``{name: values}`` before the update (copies).
        grads: ``{name: ∂L/∂param}`` (copies).
        updates: ``{name: Δparam}``, the optimizer's change (new minus old); empty without an
            optimizer.
        internals: what the layer computed inside during the forward pass, where it says
            (``layer.internals()``): an attention layer's weights ``(batch, heads, time,
            time)``, a recurrent layer's gates and states per step. Inside a container they
            are named ``"<index>.<name>"``, as its parameters are.

    A container's parameters (a ``Residual`` block's) are named ``"<index>.<name>"``, e.g.
    ``"1.W_qkv"`` for its second layer's.
    """

    index: int
    name: str
    layer: str
    input: np.ndarray
    output: np.ndarray
    grad_output: np.ndarray
    grad_input: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    updates: dict[str, np.ndarray] = field(default_factory=dict)
    internals: dict[str, np.ndarray] = field(default_factory=dict)


def _named(layer: Any, store: str) -> dict[str, np.ndarray]:
    """Copies of ``layer``'s ``params`` or ``grads`` and of the layers inside it."""
    return {name: array.copy() for name, array in named_arrays(layer, store)}


def _internals(layer: Any) -> dict[str, np.ndarray]:
    named = {}
    for path, inner in walk(layer):
        if hasattr(inner, "internals"):
            for key, value in inner.internals().items():
                named[f"{path}.{key}" if path else key] = value
    return named


@dataclass(frozen=True)
class StageTrace:
    """One ``Dense`` layer and the activation after it: the tutorial's "layer l".

    Attributes:
        number: l, counting from 1 (the tutorial's ``W1``, ``W2``).
        layers: the indices in ``model.layers`` that the stage covers.
        activation: the activation's class name (``"Sigmoid"``), or None for a linear output.
        x: the stage's input :math:`a_{l-1}`, ``(batch, in)``.
        z: :math:`z_l = x W_l + b_l`, ``(batch, out)``.
        a: :math:`a_l = f(z_l)` (equal to ``z`` without activation), ``(batch, out)``.
        grad_a: :math:`∂L/∂a_l`, ``(batch, out)`` (tutorial: ``error``, ``error_hidden``).
        delta: :math:`δ_l = ∂L/∂z_l = ∂L/∂a_l ⊙ f'(z_l)`, ``(batch, out)``
            (tutorial: ``d_output``, ``d_hidden``).
        W, b: the parameters before the update, ``(in, out)`` and ``(out,)`` (b None without
            bias).
        dW: :math:`∂L/∂W_l = x^T δ_l` (plus an L1/L2 term), ``(in, out)``.
        db: :math:`∂L/∂b_l = \\sum_{batch} δ_l`, ``(out,)`` (None without bias).
        update_W, update_b: the optimizer's :math:`ΔW_l`, :math:`Δb_l` (None without one).
    """

    number: int
    layers: tuple[int, ...]
    activation: str | None
    x: np.ndarray
    z: np.ndarray
    a: np.ndarray
    grad_a: np.ndarray
    delta: np.ndarray
    W: np.ndarray
    b: np.ndarray | None
    dW: np.ndarray  # noqa: N815 - the math's names
    db: np.ndarray | None
    update_W: np.ndarray | None  # noqa: N815
    update_b: np.ndarray | None


@dataclass(frozen=True)
class StepTrace:
    """The record of one training step; see the module docstring for the conventions.

    Attributes:
        convention: ``"scratchnn"`` or ``"tutorial"``.
        model: the model's ``repr``.
        loss_name: the loss's ``repr``.
        optimizer_name: the optimizer's ``repr`` (None without one).
        short_optimizer: the same with only the settings off their defaults,
            ``SGD(lr=0.1, momentum=0.9)`` (None without one).
        loss: the loss before the step: the loss object's value plus the layers' penalties
            (scratchnn), or :math:`E = \\tfrac12 \\sum (y - a)^2` (tutorial).
        mse: :math:`\\frac1n \\sum (y - a)^2`, the number the tutorial prints (None unless the
            loss is MSE).
        lr: the optimizer's learning rate (None without one).
        tutorial_lr: the tutorial's η that gives the same update (plain SGD on MSE; else None).
        output: the network's output, ``(batch, outputs)``.
        target: the targets as the loss used them.
        layers: one :class:`LayerTrace` per layer of the model.
        stages: one :class:`StageTrace` per ``Dense`` layer.
        applied: whether the update was applied to the model.
    """

    convention: str
    model: str
    loss_name: str
    optimizer_name: str | None
    short_optimizer: str | None
    loss: float
    mse: float | None
    lr: float | None
    tutorial_lr: float | None
    output: np.ndarray
    target: np.ndarray
    layers: tuple[LayerTrace, ...]
    stages: tuple[StageTrace, ...]
    applied: bool

    def __str__(self) -> str:
        return self.format()

    def format(self, precision: int = 4, max_rows: int = 6) -> str:
        """The step in the README's notation: each array with its name, formula and shape.

        Args:
            precision: decimals printed.
            max_rows: arrays with more rows (or columns) are abbreviated with ``...``.
        """
        return _format(self, precision, max_rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python data (arrays as nested lists), for JSON."""
        return _plain(self)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (LayerTrace, StageTrace, StepTrace)):
        return {f: _plain(getattr(value, f)) for f in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def short_repr(component: Any) -> str:
    """``SGD(lr=0.1, momentum=0.9)``: the learning rate and every setting off its default."""
    try:
        defaults = type(component)().get_config()
    except TypeError:  # a component without defaults for every argument
        return repr(component)
    config = component.get_config()
    shown = {k: v for k, v in config.items() if k == "lr" or defaults.get(k) != v}
    return f"{type(component).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def _copy_optimizer(optimizer: Optimizer) -> Optimizer:
    """An independent optimizer with the same settings and state (step count, moments)."""
    twin = type(optimizer)(**copy.deepcopy(optimizer.get_config()))
    twin.load_state_dict(optimizer.state_dict())
    return twin


def _tutorial_factor(loss: Loss, n: int) -> float:
    """k with δ_tutorial = k · ∂L/∂z: L = (2/n)E for the mean, 2E for the sum."""
    if not isinstance(loss, losses_module.MSE):
        raise ValueError(
            f"convention='tutorial' writes the tutorial's summed squared error, so it needs an "
            f"MSE loss; received {loss!r}. Use convention='scratchnn' for other losses."
        )
    reduction = getattr(loss, "reduction", "mean")
    return -0.5 if reduction == "sum" else -n / 2


def trace_step(
    model: Sequential,
    X: Any,
    y: Any,
    loss: Loss | str | None = None,
    optimizer: Optimizer | str | None = None,
    convention: Literal["scratchnn", "tutorial"] = "scratchnn",
    *,
    apply: bool = False,
    sample_weight: Any = None,
) -> StepTrace:
    """Run one training step on ``(X, y)`` and record every layer's arrays.

    Forward in training mode, the loss, backward and (with an optimizer) the update, layer by
    layer through ``forward``/``backward`` and ``params``/``grads``.

    Args:
        model: the model.
        X: a batch, ``(batch, in_features)``.
        y: its targets, as ``loss`` expects them.
        loss: a Loss or its name; None uses ``model.loss`` (what ``fit`` used last).
        optimizer: an Optimizer or its name; None uses ``model.optimizer``, and without one
            the trace has no update.
        convention: ``"scratchnn"`` (δ = ∂L/∂z of the loss as given) or ``"tutorial"`` (the
            classic tutorial's summed error and ``y − output`` sign; needs MSE).
        apply: also apply the update to ``model`` (and advance the optimizer's state), as a
            training step would. By default both are left exactly as they were: the step runs
            on a copy.
        sample_weight: optional weight per sample, as in ``fit``.

    Returns:
        A :class:`StepTrace`.

    Raises:
        ValueError: for an unknown convention, a model without a loss, or bad ``X``/``y``.
    """
    if convention not in CONVENTIONS:
        raise ValueError(
            f"convention must be one of {', '.join(map(repr, CONVENTIONS))}. "
            f"Received: convention={convention!r}."
        )
    loss = model.loss if loss is None else losses_module.get(loss)
    if loss is None:
        raise ValueError("trace_step needs a loss: pass loss=... (the model has not been fitted).")
    optimizer = model.optimizer if optimizer is None else optim_module.get(optimizer)
    X = check_inputs(X, model.input_shape, model.dtype, model.layers[0])
    target = loss.prepare_targets(y, model.out_features, model.dtype)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=model.dtype)
    if convention == "tutorial":  # refuse before anything changes
        _tutorial_factor(loss, 1)
        if weights is not None:
            raise ValueError(
                "convention='tutorial' has no sample weights (the tutorial sums the plain "
                "squared error); pass sample_weight=None or use convention='scratchnn'."
            )
    work = model if apply else model.clone()
    stepper = None
    if optimizer is not None:
        stepper = optimizer if apply else _copy_optimizer(optimizer)

    # Forward, layer by layer, keeping each input and output.
    inputs, outputs = [], []
    a = X
    for layer in work.layers:
        inputs.append(a)
        a = layer.forward(a, training=True)
        outputs.append(a.copy())
    output = outputs[-1]
    value = loss.forward(a, target, weights) + work.penalty()

    # Backward, last layer first.
    grad = loss.backward()
    grads_out: list[np.ndarray] = [None] * len(work.layers)  # type: ignore[list-item]
    grads_in: list[np.ndarray] = [None] * len(work.layers)  # type: ignore[list-item]
    for i in reversed(range(len(work.layers))):
        grads_out[i] = grad
        grad = work.layers[i].backward(grad)
        grads_in[i] = grad
    params = [_named(layer, "params") for layer in work.layers]
    grads = [_named(layer, "grads") for layer in work.layers]
    internals = [_internals(layer) for layer in work.layers]
    # A fused activation (Dense(..., activation="relu")) hides z and δ inside the layer:
    # recompute them from the public parts (backward never accumulates, so this is safe).
    fused_delta = {
        i: layer.activation.backward(grads_out[i])
        for i, layer in enumerate(work.layers)
        if isinstance(layer, Dense) and layer.activation is not None
    }

    updates: list[dict[str, np.ndarray]] = [{} for _ in work.layers]
    if stepper is not None:
        stepper.step(work.parameters())
        for i, layer in enumerate(work.layers):
            updates[i] = {k: v - params[i][k] for k, v in _named(layer, "params").items()}

    k = 1.0
    mse = None
    tutorial_lr = None
    if isinstance(loss, losses_module.MSE):
        mse = float(np.mean(np.square(target - output)))
    n = output.size
    if convention == "tutorial":
        k = _tutorial_factor(loss, n)
        value = 0.5 * float(np.sum(np.square(target - output)))
    if (
        isinstance(loss, losses_module.MSE)
        and isinstance(optimizer, optim_module.SGD)
        and not optimizer.momentum
        and not optimizer.weight_decay
        and weights is None
    ):
        tutorial_lr = -optimizer.lr / _tutorial_factor(loss, n)

    def conv(array: np.ndarray) -> np.ndarray:
        return array * k if k != 1.0 else array.copy()

    names = [f"{type(layer).__name__.lower()}_{i}" for i, layer in enumerate(work.layers)]
    layer_traces = tuple(
        LayerTrace(
            index=i,
            name=names[i],
            layer=repr(layer),
            input=inputs[i].copy(),
            output=outputs[i],
            grad_output=conv(grads_out[i]),
            grad_input=conv(grads_in[i]),
            params=params[i],
            grads={key: conv(g) for key, g in grads[i].items()},
            updates=updates[i],
            internals=internals[i],
        )
        for i, layer in enumerate(work.layers)
    )
    stages = _stages(work, layer_traces, fused_delta, conv)
    return StepTrace(
        convention=convention,
        model=repr(model),
        loss_name=repr(loss),
        optimizer_name=None if optimizer is None else repr(optimizer),
        short_optimizer=None if optimizer is None else short_repr(optimizer),
        loss=float(value),
        mse=mse,
        lr=None if optimizer is None else float(optimizer.lr),
        tutorial_lr=tutorial_lr,
        output=output,
        target=np.array(target, copy=True),
        layers=layer_traces,
        stages=stages,
        applied=apply,
    )


def _stages(
    model: Sequential,
    traces: tuple[LayerTrace, ...],
    fused_delta: dict[int, np.ndarray],
    conv,
) -> tuple[StageTrace, ...]:
    """Group each Dense layer with the activation right after it (or its fused one)."""
    stages = []
    for i, layer in enumerate(model.layers):
        if not isinstance(layer, Dense):
            continue
        t = traces[i]
        W, b = t.params["W"], t.params.get("b")
        z = t.input @ W + (b if b is not None else 0)
        covered: tuple[int, ...] = (i,)
        if layer.activation is not None:
            activation = type(layer.activation).__name__
            a, grad_a, delta = t.output, t.grad_output, conv(fused_delta[i])
        else:
            following = model.layers[i + 1] if i + 1 < len(model.layers) else None
            if isinstance(following, Activation):
                nxt = traces[i + 1]
                activation = type(following).__name__
                a, grad_a, delta = nxt.output, nxt.grad_output, t.grad_output
                covered = (i, i + 1)
            else:
                activation = None
                a, grad_a, delta = t.output, t.grad_output, t.grad_output
        stages.append(
            StageTrace(
                number=len(stages) + 1,
                layers=covered,
                activation=activation,
                x=t.input,
                z=z,
                a=a,
                grad_a=grad_a,
                delta=delta,
                W=W,
                b=b,
                dW=t.grads["W"],
                db=t.grads.get("b"),
                update_W=t.updates.get("W"),
                update_b=t.updates.get("b"),
            )
        )
    return tuple(stages)


# Printing.


def _array(name: str, formula: str, array: np.ndarray | None, precision: int, rows: int) -> str:
    if array is None:
        return ""
    head = f"    {name} = {formula}" if formula else f"    {name}"
    shape = str(tuple(array.shape))
    text = np.array2string(
        np.asarray(array),
        precision=precision,
        suppress_small=True,
        threshold=rows * rows,
        edgeitems=max(1, rows // 2),
        max_line_width=100,
        floatmode="maxprec_equal",
    )
    indent = " " * 8
    body = "\n".join(indent + line for line in text.splitlines())
    return f"{head}   {shape}\n{body}"


def _format(trace: StepTrace, precision: int, rows: int) -> str:
    tut = trace.convention == "tutorial"
    lines = [f"One training step of {trace.model}"]
    batch = trace.output.shape[0]
    optimizer = trace.short_optimizer or "none"
    lines.append(f"  batch of {batch}; loss {trace.loss_name}; optimizer {optimizer}")
    if tut:
        lines.append(
            "  convention: the tutorial's. E = ½ Σ (y − a)² summed over the batch, "
            "δ = −∂E/∂z (error = y − output), dW = xᵀ·δ = −∂E/∂W, W ← W + η·dW"
        )
    else:
        lines.append(
            "  convention: scratchnn's. L as the loss defines it, δ = ∂L/∂z, "
            "∂L/∂W = xᵀ·δ, ΔW = the optimizer's update (SGD: −η ∂L/∂W)"
        )
    out: list[str] = []
    add = out.append
    stage_of = {i: s for s in trace.stages for i in s.layers}
    last = len(trace.stages)

    add("\nForward")
    for t in trace.layers:
        s = stage_of.get(t.index)
        if s is None:
            add(f"  layer {t.index}: {t.layer}")
            add(_array("output", "", t.output, precision, rows))
            continue
        if t.index != s.layers[0]:
            continue
        n = s.number
        prev = "x" if n == 1 else f"a{n - 1}"
        add(f"  layer {n}: {t.layer}" + (f" + {s.activation}" if s.activation else ""))
        add(_array(f"z{n}", f"{prev}·W{n} + b{n}", s.z, precision, rows))
        if s.activation:
            f = SYMBOLS.get(s.activation, s.activation.lower())
            add(_array(f"a{n}", f"{f}(z{n})", s.a, precision, rows))
    if tut:
        add(f"  E = ½ Σ (y − a{last})² = {trace.loss:.{precision + 2}g}")
    else:
        add(f"  L = {trace.loss_name}(output, y) = {trace.loss:.{precision + 2}g}")
    if trace.mse is not None:
        add(f"  mean((y − output)²) = {trace.mse:.{precision + 2}g}   (what the tutorial prints)")

    add("\nBackward")
    for s in reversed(trace.stages):
        n = s.number
        deriv = DERIVATIVES.get(s.activation or "Identity", f"{s.activation}'(z)")
        deriv = re.sub(r"\b([az])\b", lambda m, n=n: f"{m.group(1)}{n}", deriv)
        if tut:
            # The tutorial's own variable names, so the lines can be matched one by one.
            error, d = ("error", "d_output") if n == last else ("error_hidden", "d_hidden")
            formula = "y − output" if n == last else f"δ{n + 1}·W{n + 1}ᵀ"
            add(f"  layer {n}")
            add(_array(f"{error} (∂/∂a{n})", formula, s.grad_a, precision, rows))
            add(_array(f"{d} (δ{n})", f"{error} ⊙ {deriv}", s.delta, precision, rows))
            add(_array(f"dW{n}", f"{'x' if n == 1 else f'a{n - 1}'}ᵀ·δ{n}", s.dW, precision, rows))
            add(_array(f"db{n}", f"Σ_batch δ{n}", s.db, precision, rows))
        else:
            upstream = "∂L/∂output" if n == last else f"δ{n + 1}·W{n + 1}ᵀ"
            add(f"  layer {n}")
            add(_array(f"∂L/∂a{n}", upstream, s.grad_a, precision, rows))
            add(_array(f"δ{n} = ∂L/∂z{n}", f"∂L/∂a{n} ⊙ {deriv}", s.delta, precision, rows))
            prev = "x" if n == 1 else f"a{n - 1}"
            add(_array(f"∂L/∂W{n}", f"{prev}ᵀ·δ{n}", s.dW, precision, rows))
            add(_array(f"∂L/∂b{n}", f"Σ_batch δ{n}", s.db, precision, rows))

    if trace.optimizer_name is not None:
        head = f"\nUpdate ({trace.short_optimizer}"
        if trace.tutorial_lr is not None:
            head += f"; the tutorial's η = {trace.tutorial_lr:g}"
        add(head + ("; applied)" if trace.applied else "; not applied)"))
        for s in trace.stages:
            n = s.number
            rule = f"η·dW{n}" if tut and trace.tutorial_lr is not None else f"new W{n} − W{n}"
            add(_array(f"ΔW{n}", rule, s.update_W, precision, rows))
            add(_array(f"Δb{n}", rule.replace("W", "b"), s.update_b, precision, rows))
        for t in trace.layers:
            if t.index not in stage_of and t.updates:
                for key, delta in t.updates.items():
                    add(_array(f"Δ{t.name}.{key}", "", delta, precision, rows))
    return "\n".join(lines + [line for line in out if line])
