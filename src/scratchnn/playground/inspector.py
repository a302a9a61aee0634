"""The backprop inspector and the gradcheck button of the playground.

:func:`inspect` runs one training step through :func:`scratchnn.trace_step` and returns, per
``Dense`` layer with its activation, every number of the batch the page shows; the phases
(forward layer by layer, the loss, backward layer by layer, the update) that the page steps
through come with it. :func:`check_gradients` puts the analytic gradient beside the central
difference for a few entries of every parameter.

Example:
    >>> from scratchnn.playground.config import Config
    >>> from scratchnn.playground.session import Session
    >>> result = inspect(Session(Config(hidden=[2])))
    >>> [phase["title"] for phase in result["phases"]][:3]
    ['forward, layer 1', 'forward, layer 2', 'the loss']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..gradcheck import gradcheck, numeric_gradient
from ..trace import StepTrace, trace_step

if TYPE_CHECKING:
    from .session import Session


def inspect(session: Session) -> dict[str, Any]:
    """One training step on the inspector's batch, traced with :func:`scratchnn.trace_step`
    and applied to the model: per ``Dense`` layer (with its activation) the batch's
    ``z``, ``a``, ``δ = ∂L/∂z``, ``∂L/∂W``, ``∂L/∂b`` and the update, plus the phases
    (forward layer by layer, the loss, backward layer by layer, the update) the page
    steps through, and the frame after the step."""
    session.stop()
    if session.diverged:
        raise ValueError("This run diverged; reset it (or lower the learning rate) first.")
    rows = session.next_batch()
    X, y = session.X_train[rows], session.y_train[rows]
    with session.lock:
        trace = trace_step(session.model, X, y, session.loss, session.optimizer, apply=True)
        session.publish()
    layers = []
    for stage in trace.stages:
        penalty = session.config.regularization if session.config.reg_rate else None
        layers.append(
            {
                "activation": (stage.activation or "linear").lower(),
                "z": stage.z.tolist(),
                "a": stage.a.tolist(),
                "delta": stage.delta.tolist(),
                "dW": stage.dW.tolist(),
                "db": stage.db.tolist(),
                "W_before": stage.W.tolist(),
                "W_after": (stage.W + stage.update_W).tolist(),
                "b_before": stage.b.tolist(),
                "b_after": (stage.b + stage.update_b).tolist(),
                "update_W": stage.update_W.tolist(),
                "update_b": stage.update_b.tolist(),
                "penalty": penalty,
                "note": "with batch norm, z and a here are the Dense layer's output, "
                "before BatchNorm1d and the activation"
                if session.config.batch_norm and stage.number < len(trace.stages)
                else None,
                "shape": [list(stage.x.shape), list(stage.W.shape), list(stage.z.shape)],
            }
        )
    if not np.isfinite(trace.loss):
        raise ValueError("The loss is not finite; reset the network or lower the rate.")
    start = len(session.train_losses)
    session.record_losses()
    frame = session.frame(since=start)
    return {
        "batch": rows.tolist(),
        "inputs": X.tolist(),
        "targets": y.ravel().tolist(),
        "loss": trace.loss,
        "optimizer": trace.optimizer_name,
        "layers": layers,
        "phases": _phases(trace),
        "text": trace.format(precision=4),
        "frame": frame,
    }


def check_gradients(session: Session, entries_per_parameter: int = 4) -> dict[str, Any]:
    """``snn.gradcheck`` on the current network and the inspector's batch, plus, for a few
    entries of every parameter, the analytic gradient beside its central difference
    ``(L(θ + ε) - L(θ - ε)) / 2ε`` (float64 copy, the model is not changed)."""
    rows = session.next_batch()
    X, y = session.X_train[rows], session.y_train[rows]
    with session.lock:
        result = gradcheck(session.model, session.loss, X, y)
        model = session.model.clone(dtype=np.float64)
    targets = session.loss.prepare_targets(y, 1, model.dtype)
    states = [layer.rng.bit_generator.state for layer in model.layers]
    eps = 1e-5

    def loss_at() -> float:
        for layer, state in zip(model.layers, states, strict=True):
            layer.rng.bit_generator.state = state  # the same dropout mask every time
        return session.loss.forward(model.forward(X, training=True), targets) + model.penalty()

    loss_at()
    model.backward(session.loss.backward())
    entries = []
    for parameter in model.parameters():
        first = np.arange(min(entries_per_parameter, parameter.value.size))
        numeric = numeric_gradient(parameter.value, first, loss_at, eps)
        analytic = parameter.grad.reshape(-1)[first]
        entries += [
            {"name": parameter.name, "index": int(i), "analytic": float(a), "numeric": float(n)}
            for i, a, n in zip(first, analytic, numeric, strict=True)
        ]
    failing = [name for name in result.errors if not result.agrees(name)]
    if failing:
        summary = f"gradcheck FAILED for {', '.join(failing)}"
    else:
        summary = "gradcheck passed: every analytic gradient agrees with finite differences"
    return {
        "passed": result.passed,
        "summary": f"{summary} (float64 copy, {len(rows)} training sample(s)).",
        "table": str(result),
        "entries": entries,
    }


def _phases(trace: StepTrace) -> list[dict[str, Any]]:
    """The inspector's steps: forward per layer, the loss, backward per layer, the update."""
    phases = []
    last = len(trace.stages)
    for s in trace.stages:
        n, f = s.number, (s.activation or "id").lower()
        prev = "x" if n == 1 else f"a{n - 1}"
        phases.append(
            {
                "kind": "forward",
                "layer": n - 1,
                "title": f"forward, layer {n}",
                "formula": f"z{n} = {prev}·W{n} + b{n};  a{n} = {f}(z{n})",
                "text": f"{prev} {tuple(s.x.shape)} · W{n} {tuple(s.W.shape)} + b{n} "
                f"→ z{n}, a{n} {tuple(s.z.shape)}",
            }
        )
    phases.append(
        {
            "kind": "loss",
            "layer": last - 1,
            "title": "the loss",
            "formula": f"L = {trace.loss_name}(a{last}, y) = {trace.loss:.6g}",
            "text": "the mean over the batch (plus any L1/L2 penalty)",
        }
    )
    for s in reversed(trace.stages):
        n = s.number
        upstream = "∂L/∂output" if n == last else f"δ{n + 1}·W{n + 1}ᵀ"
        prev = "x" if n == 1 else f"a{n - 1}"
        phases.append(
            {
                "kind": "backward",
                "layer": n - 1,
                "title": f"backward, layer {n}",
                "formula": f"δ{n} = ∂L/∂z{n} = ({upstream}) ⊙ f'(z{n});  "
                f"∂L/∂W{n} = {prev}ᵀ·δ{n};  ∂L/∂b{n} = Σ_batch δ{n}",
                "text": f"δ{n} {tuple(s.delta.shape)}, ∂L/∂W{n} {tuple(s.dW.shape)}",
            }
        )
    phases.append(
        {
            "kind": "update",
            "layer": 0,
            "title": "the update",
            "formula": f"W ← W + ΔW by {trace.optimizer_name} (SGD: ΔW = −η ∂L/∂W)",
            "text": "applied to the network shown above",
        }
    )
    return phases
