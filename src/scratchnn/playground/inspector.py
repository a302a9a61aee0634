"""The backprop inspector and the gradcheck button of the playground, on a model and a batch.

:func:`trace` runs one training step through :func:`scratchnn.trace_step` and returns, per
``Dense`` layer with its activation, every number of the batch the page shows; the phases
(forward layer by layer, the loss, backward layer by layer, the update) that the page steps
through come with it. :func:`check_gradients` puts the analytic gradient beside the central
difference for a few entries of every parameter, with a verdict per parameter that says
"inconclusive" where finite differences cannot decide (a vanishing gradient, weights too
large for the step, non-finite values).

This module knows models, losses and optimizers only; the run that owns them
(:class:`scratchnn.playground.session.Session`) calls it, never the other way round.

Example:
    >>> import numpy as np, scratchnn as snn
    >>> X, y = snn.datasets.xor()
    >>> model = snn.Sequential([snn.Dense(2, 2), snn.Tanh(), snn.Dense(2, 1)], seed=0)
    >>> result = trace(model, snn.losses.MSE(), snn.optim.SGD(lr=0.1), X, y)
    >>> [phase["title"] for phase in result["phases"]][:3]
    ['forward, layer 1', 'forward, layer 2', 'the loss']
    >>> check_gradients(model, snn.losses.MSE(), X, y)["verdict"]
    'passed'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..gradcheck import gradcheck, numeric_gradient
from ..losses import MSE, Loss
from ..model import Sequential
from ..optim import Optimizer
from ..trace import StepTrace, trace_step

#: Gradients whose largest magnitude (analytic and numeric) is below this cannot be judged.
TINY_GRADIENT = 1e-12
#: The finite-difference step of :func:`check_gradients`.
EPS = 1e-5


def trace(
    model: Sequential,
    loss: Loss,
    optimizer: Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    penalty: str | None = None,
    batch_norm: bool = False,
) -> dict[str, Any]:
    """One training step on ``(X, y)``, traced with :func:`scratchnn.trace_step` and applied
    to ``model``: per ``Dense`` layer (with its activation) the batch's ``z``, ``a``,
    ``δ = ∂L/∂z``, ``∂L/∂W``, ``∂L/∂b`` and the update, plus the phases the page steps
    through. Neurons and the rows and columns of weights count from 0, as Python indexes
    ``trace.stages[k].W``.

    The numbers are scratchnn's convention (the mean loss, δ = ∂L/∂z); under ``"tutorial"``
    come the same step's numbers in the tutorial's convention (its summed error and
    ``y - output`` sign, ``convention="tutorial"`` of ``trace_step``), or None with the reason
    in ``"tutorial_note"`` where that convention does not apply (a loss other than MSE).

    Args:
        model: the network; the step is applied to it.
        loss, optimizer: what the run trains with.
        X, y: the batch, ``(batch, features)`` and ``(batch, 1)``.
        penalty: "l1" or "l2" when the Dense layers carry that penalty (shown with ∂L/∂W).
        batch_norm: whether each hidden Dense is followed by ``BatchNorm1d`` (a note says that
            z and a are then the Dense layer's output).

    Raises:
        ValueError: when the loss is not finite (the step is applied all the same).
    """
    tutorial, note = None, None
    if not isinstance(loss, MSE):
        note = (
            "The tutorial's convention sums the squared error, so it needs the MSE loss; "
            f"this run uses {loss!r}."
        )
    else:
        try:  # on a copy, before the real step: the same weights, the same dropout mask
            tutorial = trace_step(model, X, y, loss, optimizer, convention="tutorial")
        except ValueError as error:
            note = str(error)
    step = trace_step(model, X, y, loss, optimizer, apply=True)
    if not np.isfinite(step.loss):
        raise ValueError("The loss is not finite; reset the network or lower the rate.")
    return {
        "inputs": np.asarray(X).tolist(),
        "targets": np.asarray(y).ravel().tolist(),
        "optimizer": step.optimizer_name,
        **_numbers(step, penalty, batch_norm),
        "tutorial": None if tutorial is None else _numbers(tutorial, penalty, batch_norm),
        "tutorial_note": note,
    }


def _numbers(step: StepTrace, penalty: str | None, batch_norm: bool) -> dict[str, Any]:
    """The page's numbers of one traced step, in the step's convention."""
    layers = []
    for stage in step.stages:
        layers.append(
            {
                "activation": (stage.activation or "linear").lower(),
                "z": stage.z.tolist(),
                "a": stage.a.tolist(),
                "grad_a": stage.grad_a.tolist(),
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
                if batch_norm and stage.number < len(step.stages)
                else None,
                "shape": [list(stage.x.shape), list(stage.W.shape), list(stage.z.shape)],
            }
        )
    tutorial = step.convention == "tutorial"
    return {
        "convention": step.convention,
        "loss": step.loss,
        "loss_name": "E = ½ Σ (y − a)², summed over the batch"
        if tutorial
        else "L, the mean over the batch",
        "tutorial_lr": step.tutorial_lr,
        "layers": layers,
        "phases": _phases(step),
        "text": step.format(precision=4),
    }


def check_gradients(
    model: Sequential,
    loss: Loss,
    X: np.ndarray,
    y: np.ndarray,
    entries_per_parameter: int = 4,
) -> dict[str, Any]:
    """``snn.gradcheck`` of ``model`` on ``(X, y)``, a verdict per parameter, and for a few
    entries of every parameter the analytic gradient beside its central difference
    ``(L(θ + ε) - L(θ - ε)) / 2ε`` (on a float64 copy; ``model`` is not changed).

    A parameter is "inconclusive" when finite differences cannot judge it: its gradients are
    all below :data:`TINY_GRADIENT` (a dead or saturated network), its weights are so large
    that θ ± ε rounds to θ at the check's tolerance (a diverged run), or a value is not
    finite. The overall ``verdict`` is "FAILED" if any conclusive parameter disagrees, else
    "inconclusive" if any is, else "passed".
    """
    model = model.clone(dtype=np.float64)
    if not all(np.isfinite(p.value).all() for p in model.parameters()):
        return _not_finite(len(X))
    with np.errstate(all="ignore"):
        result = gradcheck(model, loss, X, y, eps=EPS)
    targets = loss.prepare_targets(y, 1, model.dtype)
    states = [layer.rng.bit_generator.state if layer.rng else None for layer in model.layers]

    def loss_at() -> float:
        for layer, state in zip(model.layers, states, strict=True):
            if state is not None:
                layer.rng.bit_generator.state = state  # the same dropout mask every time
        return loss.forward(model.forward(X, training=True), targets) + model.penalty()

    with np.errstate(all="ignore"):
        loss_at()
        grad_input = model.backward(loss.backward())
    # gradcheck names a parameter after its layer's index: dense_0.W, dense_2.b, input.
    sizes: dict[str, tuple[float, float]] = {}  # name -> (largest |gradient|, largest |θ|)
    entries = []
    for parameter in model.parameters():
        first = np.arange(min(entries_per_parameter, parameter.value.size))
        with np.errstate(all="ignore"):
            numeric = numeric_gradient(parameter.value, first, loss_at, EPS)
        analytic = parameter.grad.reshape(-1)[first]
        entries += [
            {"name": parameter.name, "index": int(i), "analytic": float(a), "numeric": float(n)}
            for i, a, n in zip(first, analytic, numeric, strict=True)
        ]
        largest = max(np.abs(parameter.grad).max(), np.abs(numeric).max())
        sizes[parameter.name] = (float(largest), float(np.abs(parameter.value).max()))
    sizes["input"] = (float(np.abs(grad_input).max()), float(np.abs(X).max()))
    verdicts = []
    for name in result.errors:
        gradient, magnitude = sizes.get(name, (np.inf, 0.0))
        verdict = "ok" if result.agrees(name) else "MISMATCH"
        reason = None
        if not np.isfinite(result.errors[name]) or not np.isfinite(gradient):
            verdict, reason = "inconclusive", "not finite"
        elif gradient < TINY_GRADIENT:
            verdict, reason = "inconclusive", f"every gradient is below {TINY_GRADIENT:.0e}"
        elif np.spacing(magnitude) > EPS * result.tolerance:
            verdict = "inconclusive"
            reason = f"weights up to {magnitude:.1e} are too large for the step ε = {EPS:g}"
        verdicts.append(
            {
                "name": name,
                "relative": _finite(result.errors[name]),
                "absolute": _finite(result.abs_errors[name]),
                "verdict": verdict,
                "reason": reason,
            }
        )
    marks = [v["verdict"] for v in verdicts]
    n = f"float64 copy, {len(X)} training sample(s)"
    if "MISMATCH" in marks:
        failing = [v["name"] for v in verdicts if v["verdict"] == "MISMATCH"]
        verdict, summary = "FAILED", f"gradcheck FAILED for {', '.join(failing)} ({n})."
    elif "inconclusive" in marks:
        vague = [f"{v['name']} ({v['reason']})" for v in verdicts if v["verdict"] != "ok"]
        verdict = "inconclusive"
        summary = (
            f"gradcheck inconclusive: finite differences cannot judge {'; '.join(vague)} ({n}). "
            "Reset the network (or lower the learning rate) and check again."
        )
    else:
        verdict = "passed"
        summary = f"gradcheck passed: every analytic gradient agrees with finite differences ({n})."
    return {
        "verdict": verdict,
        "passed": verdict == "passed",
        "summary": summary,
        "parameters": verdicts,
        "tolerance": result.tolerance,
        "entries": entries,
    }


def _not_finite(n: int) -> dict[str, Any]:
    """The verdict for a network whose weights hold inf or NaN."""
    return {
        "verdict": "inconclusive",
        "passed": False,
        "summary": "gradcheck inconclusive: the network's weights are not finite (the run "
        f"diverged), so no gradient can be estimated ({n} training sample(s)). Reset the network.",
        "parameters": [],
        "tolerance": None,
        "entries": [],
    }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _phases(step: StepTrace) -> list[dict[str, Any]]:
    """The inspector's steps: forward per layer, the loss, backward per layer, the update.

    Layers are named as ``trace_step`` names its stages: ``z1 = x·W1 + b1`` for
    ``stages[0]`` (the tutorial's numbering, which ``scratchnn explain`` prints too)."""
    phases = []
    last = len(step.stages)
    tutorial = step.convention == "tutorial"
    for s in step.stages:
        n, f = s.number, (s.activation or "id").lower()
        prev = "x" if n == 1 else f"a{n - 1}"
        phases.append(
            {
                "kind": "forward",
                "layer": n - 1,
                "title": f"forward, layer {n}",
                "formula": f"z{n} = {prev}·W{n} + b{n};  a{n} = {f}(z{n})",
                "text": f"{prev} {tuple(s.x.shape)} · W{n} {tuple(s.W.shape)} + b{n} "
                f"→ z{n}, a{n} {tuple(s.z.shape)}  (trace.stages[{n - 1}])",
            }
        )
    phases.append(
        {
            "kind": "loss",
            "layer": last - 1,
            "title": "the loss",
            "formula": f"E = ½ Σ (y − a{last})² = {step.loss:.6g}"
            if tutorial
            else f"L = {step.loss_name}(a{last}, y) = {step.loss:.6g}",
            "text": "the tutorial's error, summed over the batch"
            if tutorial
            else "the mean over the batch (plus any L1/L2 penalty)",
        }
    )
    for s in reversed(step.stages):
        n = s.number
        prev = "x" if n == 1 else f"a{n - 1}"
        if tutorial:
            upstream = f"y − a{n}" if n == last else f"δ{n + 1}·W{n + 1}ᵀ"
            formula = (
                f"δ{n} = −∂E/∂z{n} = ({upstream}) ⊙ f'(z{n});  dW{n} = {prev}ᵀ·δ{n} = −∂E/∂W{n}"
            )
        else:
            upstream = "∂L/∂output" if n == last else f"δ{n + 1}·W{n + 1}ᵀ"
            formula = (
                f"δ{n} = ∂L/∂z{n} = ({upstream}) ⊙ f'(z{n});  "
                f"∂L/∂W{n} = {prev}ᵀ·δ{n};  ∂L/∂b{n} = Σ_batch δ{n}"
            )
        phases.append(
            {
                "kind": "backward",
                "layer": n - 1,
                "title": f"backward, layer {n}",
                "formula": formula,
                "text": f"δ{n} {tuple(s.delta.shape)}, dW{n} {tuple(s.dW.shape)}",
            }
        )
    if tutorial and step.tutorial_lr is not None:
        update = f"W ← W + η·dW with the tutorial's η = {step.tutorial_lr:.6g} (the same step)"
    else:
        update = f"W ← W + ΔW by {step.optimizer_name} (SGD: ΔW = −η ∂L/∂W)"
    phases.append(
        {
            "kind": "update",
            "layer": 0,
            "title": "the update",
            "formula": update,
            "text": "applied to the network shown above",
        }
    )
    return phases
