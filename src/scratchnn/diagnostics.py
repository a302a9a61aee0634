"""The mistakes every learner makes, named where they are made, each with its cause and fix.

``fit`` runs :func:`check_fit` before anything changes, and a refused step asks
:func:`divergence_advice` what to say; the rest is opt-in:

- a loss that takes logits after a Softmax or Sigmoid layer (the squashing done twice, which
  trains to a crawl without an error): a :class:`DiagnosisWarning` at ``fit``;
- a loss that takes probabilities after a layer whose outputs are not in [0, 1] (a ``Dense``
  before ``loss="bce"``): a warning at ``fit``, and if the loss then becomes NaN, a message
  that blames the mismatch instead of the learning rate;
- a regression loss given integer class labels, or a classification loss given continuous
  targets: the ``ValueError`` at ``fit`` names the loss to use;
- a loss that has barely moved after a thousand steps of plain gradient descent: a warning at
  the end of ``fit`` that names the learning rate;
- dead ReLU units and saturated sigmoid/tanh units after an epoch: :class:`Diagnose`, a
  callback (the command line turns it on with ``--verbose``), or :func:`unit_health` on
  demand.

(A layer whose ``__init__`` skipped ``super().__init__()`` is named by ``Layer`` itself, in
:mod:`scratchnn.layers.base`, which sits below this module.)
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import check_number
from .callbacks import Callback
from .layers import Dense, Layer, ReLU, Sigmoid, Softmax, Tanh
from .losses import BinaryCrossEntropy, CrossEntropy, Loss, SequenceCrossEntropy
from .optim import SGD

#: A :class:`scratchnn.Sequential` (not imported: the model module sits above this one).
Model = Any

__all__ = [
    "Diagnose",
    "DiagnosisWarning",
    "check_fit",
    "divergence_advice",
    "unit_health",
]

#: Steps of plain gradient descent after which a loss that has not moved gets a hint.
STALL_STEPS = 1000
#: "Barely moved": the last epoch's loss is above this fraction of the first batch's.
STALL_FRACTION = 0.9


class DiagnosisWarning(UserWarning):
    """A likely mistake in how a model is put together or trained (the message says which,
    and how to fix it); silence one with ``warnings.filterwarnings``."""


def _warn(message: str) -> None:
    """Warn, pointing at the first caller outside scratchnn (the user's ``fit``)."""
    package = os.path.dirname(os.path.abspath(__file__))
    level, frame = 1, sys._getframe(0)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DiagnosisWarning, stacklevel=level)


# What a loss takes, and what a model gives.


def expects(loss: Loss) -> str:
    """``"logits"``, ``"probabilities"`` or ``"values"``: what ``loss`` takes as predictions."""
    if isinstance(loss, SequenceCrossEntropy):
        return "logits"
    if isinstance(loss, (BinaryCrossEntropy, CrossEntropy)):
        return "logits" if loss.from_logits else "probabilities"
    return "values"


def output_layer(model: Model) -> Layer:
    """The layer that produces the model's output: the last one, or the activation inside a
    last ``Dense(..., activation=...)``."""
    last = model.layers[-1]
    if isinstance(last, Dense) and last.activation is not None:
        return last.activation
    return last


def _is_builtin(layer: Layer) -> bool:
    return type(layer).__module__.startswith("scratchnn.")


def check_fit(model: Model, loss: Loss, optimizer: Any, y: Any) -> list[Callback]:
    """The checks ``fit`` runs before training, and the watchers it adds to its callbacks.

    Args:
        model: the model about to be trained.
        loss: the loss ``fit`` will use.
        optimizer: the optimizer ``fit`` will use.
        y: the targets as the user passed them (None for a stream that holds them).

    Raises:
        ValueError: targets the loss refuses that suit the other kind of loss (class labels
            for a regression loss, continuous values for a classification loss): the loss's
            own message, then the likely cause and the loss to use.

    Returns:
        Callbacks for ``fit`` to run last: one that warns (a :class:`DiagnosisWarning`, as
        training begins) of a Softmax/Sigmoid before a loss that takes logits or a layer with
        outputs outside [0, 1] before a loss that takes probabilities, and for plain gradient
        descent one that hints at the learning rate when the loss has barely moved.
    """
    if y is not None and model.target_transform is None:
        _check_targets(model, loss, y)
    # The pairing of the output layer and the loss is judged once the data has passed its own
    # checks, when training begins (a refused call warns about nothing).
    watchers: list[Callback] = [_OutputCheck(loss)]
    return [*watchers, _StallHint()] if isinstance(optimizer, SGD) else watchers


class _OutputCheck(Callback):
    """Warns, as training begins, of a loss that does not suit the model's output layer."""

    def __init__(self, loss: Loss) -> None:
        self.loss = loss

    def on_train_begin(self, logs: dict[str, float]) -> None:
        _check_output(self.model, self.loss)


def _check_output(model: Model, loss: Loss) -> None:
    takes, last = expects(loss), output_layer(model)
    if takes == "logits" and isinstance(last, (Softmax, Sigmoid)):
        squash = type(last).__name__
        if isinstance(loss, SequenceCrossEntropy):
            fix = f"Remove the {squash}() layer"
        else:
            fix = (
                f"Remove the {squash}() layer (model.loss.output_transform(model.predict(X)) "
                f"gives the probabilities), or pass loss={type(loss).__name__}(from_logits=False)"
            )
        _warn(
            f"The model ends with {squash}(), but {loss!r} takes logits and applies the "
            f"{squash.lower()} itself: the outputs are squashed twice, so training crawls (the "
            f"loss stalls far above its minimum) without any error. {fix}."
        )
    elif (
        takes == "probabilities" and _is_builtin(last) and not isinstance(last, (Sigmoid, Softmax))
    ):
        squash = "Sigmoid" if isinstance(loss, BinaryCrossEntropy) else "Softmax"
        _warn(
            f"{loss!r} takes probabilities in [0, 1] (from_logits=False), but the model ends "
            f"with {last!r}, whose outputs are not bounded to [0, 1]: outside it the loss is "
            f"NaN or meaningless. Pass loss={type(loss).__name__}(from_logits=True) for a "
            f"linear output (the stable choice), or end the model with {squash}()."
        )


def _check_targets(model: Model, loss: Loss, y: Any) -> None:
    """Targets that suit the other kind of loss: where ``prepare_targets`` refuses them, its
    message gets the likely cause and the loss to use. (Only plain arrays and lists are looked
    at, and ``prepare_targets`` runs here only for such suspicious targets; a table or a stream
    is checked by ``prepare_targets`` as it is.)"""
    if not isinstance(y, (np.ndarray, list)):
        return
    try:
        array = np.asarray(y)
    except ValueError:  # ragged lists: prepare_targets says what is wrong
        return
    if array.dtype.kind not in "biuf" or array.size == 0:
        return
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    if array.ndim != 1:
        return
    outputs, takes = model.out_features, expects(loss)
    if takes == "values" and not (outputs and outputs > 1):
        return  # one output per sample: whole-number targets are a regression like any other
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    whole = finite.size == array.size and bool(np.array_equal(array, np.round(array)))
    hint = None
    if takes == "values" and whole:
        classes = np.unique(array)
        if classes[0] >= 0 and classes[-1] < outputs:
            hint = (
                f"{loss!r} is a regression loss, and y holds whole numbers ({len(classes)} "
                f"distinct values from {classes[0]:g} to {classes[-1]:g}), one per sample: if "
                "these are class labels, use loss='cross_entropy' (the outputs are then logits, "
                "one per class)."
            )
    elif takes != "values" and not whole and finite.size:
        hint = (
            f"{loss!r} is a classification loss, and y holds continuous values ranging over "
            f"[{finite.min():g}, {finite.max():g}]: if y is a quantity to predict (a "
            "regression), use loss='mse' (or 'huber') with one output per target."
        )
    if hint is None:
        return
    try:
        loss.prepare_targets(y, outputs, model.dtype)
    except ValueError as error:  # refused anyway: say why it was probably given
        raise ValueError(f"{error} {hint}") from None


# A step that went non-finite: the loss's fault, or the step size's?


def divergence_advice(loss: Loss | None, output: np.ndarray | None) -> str:
    """What a refused step's message advises, from the batch's ``output`` (before the update):
    a loss that takes probabilities given values outside [0, 1] is a mismatch between the loss
    and the output layer, which no learning rate fixes; anything else points at the step
    size."""
    step_size = (
        "Try a smaller learning rate, gradient clipping (clip_norm=...), or scaling the input "
        "features."
    )
    if loss is None or output is None or expects(loss) != "probabilities":
        return step_size
    with np.errstate(invalid="ignore"):
        finite = output[np.isfinite(output)]
    if finite.size == 0 or (finite.min() >= 0 and finite.max() <= 1):
        return step_size
    squash = "Sigmoid" if isinstance(loss, BinaryCrossEntropy) else "Softmax"
    return (
        f"The cause is the loss, not the step size: {loss!r} takes probabilities in [0, 1] "
        f"(from_logits=False), but the network's outputs range over [{finite.min():.4g}, "
        f"{finite.max():.4g}], and the log of a value outside [0, 1] is NaN. Pass "
        f"loss={type(loss).__name__}(from_logits=True) for a linear output layer, or end the "
        f"model with {squash}()."
    )


# Plain gradient descent that has barely moved.


class _StallHint(Callback):
    """At the end of ``fit``: a hint when plain gradient descent has barely moved the loss of a
    fresh model in at least ``STALL_STEPS`` steps (the learning rate is then the usual cause:
    ``optimizer="sgd"`` means PyTorch's default of 1e-3, at which the tutorial's XOR is still
    at 0.2486 after 10,000 epochs)."""

    # It reads the optimizer's step count and the history at the end, rather than counting
    # batches: a callback called at every step costs a full-batch fit of XOR a tenth of its
    # step.
    def on_train_begin(self, logs: dict[str, float]) -> None:
        self._fresh = self.model.epochs_trained == 0
        self._epochs_before = self.model.epochs_trained
        self._steps_before = self.model.optimizer.step_count

    def on_train_end(self, logs: dict[str, float]) -> None:
        epochs = self.model.epochs_trained - self._epochs_before
        steps = self.model.optimizer.step_count - self._steps_before
        if not (self._fresh and steps >= STALL_STEPS and epochs >= 2):
            return
        losses = self.model.history["loss"]  # this fit's, as it has completed epochs
        first, last = float(losses[0]), float(losses[-1])
        if not (math.isfinite(first) and math.isfinite(last) and first > 0):
            return
        if not STALL_FRACTION * first < last <= first:
            return
        optimizer = self.model.optimizer
        default = " (optimizer='sgd' means lr=0.001, PyTorch's and scikit-learn's default)"
        _warn(
            f"The loss barely moved in {steps:,} steps of gradient descent ({first:.4g} "
            f"after the first epoch, {last:.4g} after {epochs:,}, "
            f"{(first - last) / first:.1%} lower): {optimizer!r} steps with learning rate "
            f"{optimizer.lr:g}, which may be too small for this problem"
            f"{default if optimizer.lr == 1e-3 else ''}. Try a larger one, e.g. "
            f"optimizer=snn.optim.SGD(lr={max(0.1, 10 * optimizer.lr):g}) (the classic XOR "
            "tutorial takes lr=0.5), or optimizer='adam'. If a larger rate does not help, the "
            "network is stuck on a plateau: weights initialized too small (init='normal' has "
            "std 0.01) leave every hidden unit alike; try the default init='auto'."
        )


# Dead and saturated units.

#: A unit is saturated where its derivative is below this fraction of its largest value
#: (σ' = a(1 - a) < 0.0025 of 0.25, tanh' = 1 - a² < 0.01 of 1).
SATURATED_DERIVATIVE = 0.01


def unit_health(
    model: Model, X: Any = None, dead: float = 0.5, saturated: float = 0.5
) -> list[str]:
    """One sentence per hidden layer whose units have died or saturated, with the cause and
    the fix; empty when all is well.

    A ReLU unit is dead when it outputs 0 for every sample (its gradient is then 0, so it
    never recovers); a Sigmoid or Tanh output is saturated when its derivative is below 1% of
    its largest value (the gradient through it vanishes). A layer is reported when at least
    ``dead`` of its ReLU units are dead, or ``saturated`` of its sigmoid/tanh outputs are
    saturated. The layer that produces the model's output is not judged (confident outputs
    are saturated by design).

    Args:
        model: a built model.
        X: samples to look at (up to 1,000 are run through the model in inference mode);
            None looks at the last batch the model ran forward (in ``fit``, the epoch's last
            training batch), as each activation layer keeps its output for ``backward``.
        dead: the fraction of a layer's ReLU units that must be dead to report it.
        saturated: the fraction of a layer's sigmoid/tanh outputs that must be saturated.
    """
    dead = check_number("dead", dead, 0.0, 1.0, low_open=True)
    saturated = check_number("saturated", saturated, 0.0, 1.0, low_open=True)
    if X is not None:
        rows = X[:1000] if isinstance(X, np.ndarray) else X  # a table: encoded whole, then cut
        model.forward(model.encode_inputs(rows)[:1000], training=False)
    return _judge(_hidden_activations(model), dead, saturated)


def _hidden_activations(model: Model) -> list[tuple[str, Layer]]:
    """The activations :func:`unit_health` judges: all but the one producing the output."""
    final = output_layer(model)
    return [(name, layer) for name, layer in _activations(model) if layer is not final]


def _judge(watched: list[tuple[str, Layer]], dead: float, saturated: float) -> list[str]:
    """:func:`unit_health`'s sentences for the ``watched`` activations' kept outputs."""
    found = []
    for name, layer in watched:
        a = getattr(layer, "_a", None)  # the output each of these layers keeps for backward
        if not isinstance(a, np.ndarray) or a.ndim < 2 or a.size == 0:
            continue
        if isinstance(layer, ReLU):
            units = (a.reshape(-1, a.shape[-1]) > 0).any(axis=0)
            share = 1 - units.mean()
            if share >= dead:
                found.append(
                    f"{name}: {int((~units).sum())} of {units.size} ReLU units are dead "
                    f"({share:.0%}: 0 for every sample, so their gradient is 0 and they never "
                    "recover). Usual causes: a learning rate too large, or a large negative "
                    "bias; try a smaller learning rate, He initialization, or LeakyReLU."
                )
        else:
            slope = a * (1 - a) / 0.25 if isinstance(layer, Sigmoid) else 1 - a * a
            share = float((slope < SATURATED_DERIVATIVE).mean())
            if share >= saturated:
                found.append(
                    f"{name}: {share:.0%} of the {type(layer).__name__} outputs are saturated "
                    "(derivative below 1% of its largest), so the gradient through them "
                    "vanishes. Usual causes: large weights or unscaled inputs; try a smaller "
                    "learning rate, Standardize() in front, or ReLU."
                )
    return found


def _activations(model: Model) -> list[tuple[str, Layer]]:
    """``(name, layer)`` for every ReLU, Sigmoid and Tanh in the model, including those inside
    containers and inside ``Dense(..., activation=...)``."""
    named = []
    for name, layer in model.named_layers():
        inner = getattr(layer, "activation", None) if isinstance(layer, Dense) else None
        for candidate in (layer, inner):
            if isinstance(candidate, (ReLU, Sigmoid, Tanh)):
                named.append((name, candidate))
    return named


class Diagnose(Callback):
    """After every epoch, report hidden layers whose ReLU units have died or whose sigmoid/tanh
    units have saturated (see :func:`unit_health`), each layer and problem once per ``fit``.

    Args:
        X: samples to look at after each epoch (up to 1,000); None looks at the epoch's last
            training batch, which costs nothing.
        dead: report a layer when at least this fraction of its ReLU units is dead (0.5).
        saturated: report a layer when at least this fraction of its sigmoid/tanh outputs is
            saturated (0.5).
        report: called with each message; by default a :class:`DiagnosisWarning`.

    Attributes:
        findings: ``(epoch, message)`` for everything reported, in order.

    Example:
        >>> import numpy as np, scratchnn as snn
        >>> model = snn.Sequential([snn.Dense(2, 8), snn.ReLU(), snn.Dense(8, 1)], seed=0)
        >>> model.layers[0].params["b"] = np.full(8, -100.0)  # every unit dead from the start
        >>> diagnose = snn.diagnostics.Diagnose(report=print)
        >>> _ = model.fit(np.ones((4, 2)), np.ones(4), loss="mse", optimizer="sgd", epochs=1,
        ...               callbacks=[diagnose], verbose=0)  # doctest: +ELLIPSIS
        relu_1: 8 of 8 ReLU units are dead (100%: ...
    """

    def __init__(
        self,
        X: Any = None,
        dead: float = 0.5,
        saturated: float = 0.5,
        report: Callable[[str], Any] | None = None,
    ) -> None:
        self.X = X
        self.dead = check_number("dead", dead, 0.0, 1.0, low_open=True)
        self.saturated = check_number("saturated", saturated, 0.0, 1.0, low_open=True)
        if report is not None and not callable(report):
            raise TypeError(f"report must be callable (e.g. print); received {report!r}.")
        self.report = report
        self.findings: list[tuple[int, str]] = []

    def on_train_begin(self, logs: dict[str, float]) -> None:
        self._seen: set[str] = set()
        self._watched = _hidden_activations(self.model)  # (found once: a fit's layers stay)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.X is None:  # the last batch the model ran forward, as each activation kept it
            messages = _judge(self._watched, self.dead, self.saturated)
        else:
            messages = unit_health(self.model, self.X, self.dead, self.saturated)
        for message in messages:
            key = message.split(":", 1)[0] + (" dead" if "ReLU units" in message else " sat")
            if key in self._seen:
                continue
            self._seen.add(key)
            self.findings.append((epoch, message))
            if self.report is None:
                _warn(message)
            else:
                self.report(message)
