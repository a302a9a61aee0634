"""How a dataset's targets meet a loss: the output layer, target encoding, predictions and
metrics for classification and regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import losses
from ..losses import Loss

LOSS_NAMES = ("auto", "cross-entropy", "bce", "mse", "mae", "huber", "poisson")


@dataclass
class Task:
    """Everything that depends on the pairing of a target kind and a loss.

    Attributes:
        loss: the loss object.
        n_outputs: size of the output layer.
        output_activation: activation after the last Dense layer (None: linear).
        classes: number of classes (None for regression).
        in_units: regression outputs that a target scaler has already put in the target's
            units (a Poisson model's rates): :meth:`decode` keeps them as they are.
    """

    loss: Loss
    n_outputs: int
    output_activation: str | None
    classes: int | None
    in_units: bool = False

    @property
    def metrics(self) -> list[str]:
        return ["accuracy"] if self.classes is not None else ["mae", "r2"]

    def encode(self, y: np.ndarray) -> np.ndarray:
        """Targets as the loss expects them: labels, 0/1 columns, one-hot rows, or values."""
        if self.classes is None:
            return y.reshape(len(y), -1)
        if isinstance(self.loss, losses.CrossEntropy):
            return y
        if self.n_outputs == 1:
            return (y == 1).astype(np.float64).reshape(-1, 1)
        return np.eye(self.classes)[y]

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """Class indices (classification) or values (regression) from network outputs."""
        if self.classes is None and self.in_units:
            return outputs[:, 0] if outputs.shape[1] == 1 else outputs
        scores = self.loss.output_transform(outputs)
        if self.classes is None:
            return scores[:, 0] if scores.shape[1] == 1 else scores
        if scores.shape[1] == 1:
            return (scores[:, 0] >= 0.5).astype(np.int64)
        return scores.argmax(axis=1)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray | None:
        """Class probabilities ``(n, classes)`` where the loss defines them."""
        if self.classes is None:
            return None
        scores = self.loss.output_transform(outputs)
        if scores.shape[1] == 1:
            return np.column_stack([1 - scores[:, 0], scores[:, 0]])
        if isinstance(self.loss, losses.CrossEntropy):
            return scores
        return None  # sigmoid outputs of a one-vs-rest model do not sum to 1


def make_task(loss_name: str, classes: int | None, n_targets: int = 1) -> Task:
    """The Task for ``loss_name`` ("auto" picks cross-entropy or mse) and the target kind."""
    if loss_name not in LOSS_NAMES:
        raise ValueError(f"Unknown loss {loss_name!r}. Choose one of: {', '.join(LOSS_NAMES)}.")
    if loss_name == "auto":
        loss_name = "cross-entropy" if classes is not None else "mse"
    if classes is not None and loss_name == "poisson":
        raise ValueError(
            "--loss poisson is for count targets (regression), but the target is classes. Use "
            "--task regression for counts, or --loss cross-entropy."
        )
    if classes is None:
        if loss_name in ("cross-entropy", "bce"):
            raise ValueError(
                f"--loss {loss_name} needs class labels, but the target is numeric (regression). "
                "Use --loss mse, mae or huber, or --task classification."
            )
        return Task(losses.get(loss_name), n_targets, None, None)
    if classes < 2:
        raise ValueError("The target has a single class; a classifier needs at least two.")
    binary = classes == 2
    if loss_name == "cross-entropy":
        return Task(losses.CrossEntropy(), classes, None, classes)
    if loss_name == "bce":
        return Task(
            losses.BinaryCrossEntropy(from_logits=True), 1 if binary else classes, None, classes
        )
    output = "sigmoid" if binary else "softmax"  # regression losses on probabilities
    return Task(losses.get(loss_name), 1 if binary else classes, output, classes)


def task_of(model, classes: list | None, in_units: bool = False) -> Task:
    """Rebuild the Task of a trained model from its loss, output size and class list
    (``in_units``: its regression outputs come through a target scaler)."""
    if model.loss is None:
        raise ValueError("This model file has no loss recorded; it was saved before training.")
    n_classes = None if classes is None else len(classes)
    output = None
    last = model.layers[-1]
    if type(last).__name__ in ("Sigmoid", "Softmax"):
        output = type(last).__name__.lower()
    return Task(model.loss, model.out_features, output, n_classes, in_units)
