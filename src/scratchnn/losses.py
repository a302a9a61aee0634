r"""Loss functions: a scalar ``L(prediction, target)`` and its gradient ``∂L/∂prediction``.

Every loss is a mean by default (PyTorch's ``reduction="mean"``): over all elements for the
regression losses and binary cross-entropy, over the batch for cross-entropy. So the gradient
of each element carries a factor ``1/n``. ``reduction="sum"`` (as PyTorch) adds instead, with
no ``1/n``: the classic tutorial's summed error is ``MSE(reduction="sum")``, up to its ½
(see :mod:`scratchnn.trace` for how the learning rates relate). The protocol mirrors a layer's::

    value = loss(prediction, target)   # forward: a Python float, caches what backward needs
    grad = loss.backward()             # ∂L/∂prediction, same shape as prediction

With ``sample_weight`` w (one non-negative weight per sample) the mean becomes a weighted mean,
:math:`L = \sum_i w_i ℓ_i / \sum_i w_i` (per-element losses averaged over each sample's
outputs first), and each sample's gradient is scaled by :math:`w_i / \sum w`; the sum
becomes :math:`\sum_i w_i ℓ_i` (per-element losses summed), each gradient scaled by
:math:`w_i`. Class weights are sample weights ``w_i = class_weight[y_i]``; for cross-entropy
this is exactly PyTorch's ``CrossEntropyLoss(weight=...)``.

Shapes: prediction ``(batch, outputs)``; target the same shape, except integer class labels
``(batch,)`` for cross-entropy.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._registry import Configurable, Registry
from ._validation import (
    as_class_labels,
    as_float_array,
    check_bool,
    check_choice,
    check_int,
    check_number,
)
from .functional import log_softmax, sigmoid, softmax, softplus

losses: Registry[type[Loss]] = Registry("loss", plural="losses")

__all__ = [
    "MAE",
    "MSE",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "EachMember",
    "Huber",
    "Loss",
    "Poisson",
    "SequenceCrossEntropy",
    "get",
    "losses",
]


def _check_same_shape(prediction: np.ndarray, target: np.ndarray, loss: Loss) -> None:
    if prediction.shape != target.shape:
        raise ValueError(
            f"{loss!r}: prediction has shape {prediction.shape} but target has shape "
            f"{target.shape}; they must match (reshape the target, e.g. y.reshape(-1, 1))."
        )


REDUCTIONS = ("mean", "sum")


def _check_reduction(reduction: str) -> str:
    # "mean" averages over the elements (the default), "sum" adds them up.
    return check_choice("reduction", reduction, REDUCTIONS)


class Loss(Configurable):
    """Base class of losses. Subclasses implement ``forward`` and ``backward``.

    Args:
        reduction: ``"mean"`` (default) or ``"sum"`` over the elements (samples for
            cross-entropy), as PyTorch's ``reduction``.
    """

    #: Whether targets are classes (enables accuracy as a metric).
    is_classification: ClassVar[bool] = False

    #: ``"mean"`` or ``"sum"`` (a class default, for subclasses that do not call ``__init__``).
    reduction: str = "mean"

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = _check_reduction(reduction)

    def __call__(
        self, prediction: np.ndarray, target: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        return self.forward(prediction, target, sample_weight)

    def forward(
        self, prediction: np.ndarray, target: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        raise NotImplementedError

    def _reduce(self, values: np.ndarray, sample_weight: np.ndarray | None) -> float:
        """The (weighted) mean of per-element or per-sample ``values``; remembers in
        ``self._scale`` the factor that ``backward`` applies to each element's derivative."""
        summed = self.reduction == "sum"
        if sample_weight is None:
            if summed:
                self._scale = values.dtype.type(1)
                return float(values.sum())
            self._scale = values.dtype.type(1 / values.size)
            return float(values.sum() / values.size)
        w = sample_weight.reshape(-1, *([1] * (values.ndim - 1))).astype(values.dtype, copy=False)
        if summed:
            self._scale = w
            return float((values * w).sum())
        total = float(sample_weight.sum()) * (values.size // len(values))
        if total == 0:  # a batch whose samples all have weight 0 contributes nothing
            self._scale = np.zeros_like(w)
            return 0.0
        self._scale = w / values.dtype.type(total)
        return float((values * w).sum() / total)

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        """Validate targets once, at the boundary of ``fit``/``evaluate``, and convert them to
        the array ``forward`` expects: ``(n, n_outputs)`` in the model's dtype."""
        y = as_float_array(y, "y", dtype)
        if y.ndim == 1 and n_outputs == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(
                f"y has shape {y.shape}, but the model has {n_outputs} output(s): y must have "
                f"shape (n_samples, {n_outputs})" + (" or (n_samples,)." if n_outputs == 1 else ".")
            )
        return y

    def output_transform(self, output: np.ndarray) -> np.ndarray:
        """Map raw network outputs to predictions in the target's units (identity here;
        softmax or sigmoid for losses that take logits)."""
        return output

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}


@losses.register("mean_squared_error", "l2")
class MSE(Loss):
    r"""Mean squared error, :math:`L = \frac1n \sum (p - y)^2`, :math:`∂L/∂p = \frac2n (p - y)`.

    With ``reduction="sum"``: :math:`L = \sum (p - y)^2`, :math:`∂L/∂p = 2 (p - y)`, twice the
    classic tutorial's :math:`E = \tfrac12 \sum (y - p)^2`.

    Args:
        reduction: ``"mean"`` (default) or ``"sum"``.

    Example:
        >>> import numpy as np
        >>> p, y = np.array([[0.5], [0.5]]), np.array([[0.0], [1.0]])
        >>> MSE()(p, y), MSE(reduction="sum")(p, y)
        (0.25, 0.5)
    """

    def forward(self, prediction, target, sample_weight=None) -> float:
        _check_same_shape(prediction, target, self)
        self._diff = d = prediction - target
        if sample_weight is None:  # the common case in one BLAS dot product
            flat = d.ravel()
            if self.reduction == "sum":
                self._scale = d.dtype.type(1)
                return float(np.dot(flat, flat))
            self._scale = d.dtype.type(1 / flat.size)
            return float(np.dot(flat, flat)) / flat.size
        return self._reduce(d * d, sample_weight)

    def backward(self) -> np.ndarray:
        return self._diff * (2 * self._scale)


@losses.register("mean_absolute_error", "l1")
class MAE(Loss):
    r"""Mean absolute error, :math:`L = \frac1n \sum |p - y|`,
    :math:`∂L/∂p = \frac1n \operatorname{sign}(p - y)` (0 where ``p == y``, as PyTorch)."""

    def forward(self, prediction, target, sample_weight=None) -> float:
        _check_same_shape(prediction, target, self)
        self._diff = prediction - target
        return self._reduce(np.abs(self._diff), sample_weight)

    def backward(self) -> np.ndarray:
        return np.sign(self._diff) * self._scale


@losses.register("smooth_l1")
class Huber(Loss):
    r"""Huber loss: quadratic near zero, linear in the tails. With :math:`d = p - y`,

    .. math::
        ℓ(d) = \begin{cases} \tfrac12 d^2 & |d| ≤ δ \\ δ(|d| - \tfrac12 δ) & |d| > δ \end{cases},
        \qquad ∂L/∂p = \tfrac1n \operatorname{clip}(d, -δ, δ)

    Args:
        delta: where the loss turns from quadratic to linear (1.0, as PyTorch).
        reduction: ``"mean"`` (default) or ``"sum"`` (no ``1/n``).
    """

    def __init__(self, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.delta = check_number("delta", delta, 0.0, low_open=True)

    def forward(self, prediction, target, sample_weight=None) -> float:
        _check_same_shape(prediction, target, self)
        self._diff = d = prediction - target
        size = np.abs(d)
        quadratic = 0.5 * d * d
        linear = self.delta * (size - 0.5 * self.delta)
        return self._reduce(np.where(size <= self.delta, quadratic, linear), sample_weight)

    def backward(self) -> np.ndarray:
        return np.clip(self._diff, -self.delta, self.delta) * self._scale

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta, **super().get_config()}


@losses.register("bce", "binary_crossentropy", "binary_cross_entropy")
class BinaryCrossEntropy(Loss):
    r"""Binary cross-entropy for one or more independent yes/no outputs.

    From probabilities :math:`p` (after a Sigmoid layer):
    :math:`L = -\frac1n \sum y \log p + (1-y) \log(1-p)`,
    :math:`∂L/∂p = \frac1n \frac{p - y}{p(1-p)}`. As in PyTorch each log is clamped at -100
    and the denominator at 1e-12, so saturated probabilities give large but finite values.

    From logits :math:`z` (``from_logits=True``, a linear output layer): the same loss with
    :math:`p = σ(z)`, computed as :math:`\operatorname{softplus}(z) - y z`, which never takes
    the log of 0; the sigmoid's derivative cancels the denominator, leaving
    :math:`∂L/∂z = \frac1n (σ(z) - y)`.

    Targets: shape ``(batch, outputs)`` (or ``(batch,)`` for one output), values in [0, 1].

    Args:
        from_logits: whether the predictions are logits (see above).
        reduction: ``"mean"`` (default) or ``"sum"`` (no ``1/n``).
    """

    is_classification = True

    def __init__(self, from_logits: bool = False, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.from_logits = check_bool("from_logits", from_logits)

    def forward(self, prediction, target, sample_weight=None) -> float:
        _check_same_shape(prediction, target, self)
        self._prediction, self._target = prediction, target
        if self.from_logits:
            return self._reduce(softplus(prediction) - target * prediction, sample_weight)
        # As PyTorch: each log is clamped at -100, so p == 0 or 1 gives a large, finite loss.
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(prediction), -100)
            log_1mp = np.maximum(np.log(1 - prediction), -100)
        return self._reduce(-(target * log_p + (1 - target) * log_1mp), sample_weight)

    def backward(self) -> np.ndarray:
        p, y = self._prediction, self._target
        if self.from_logits:
            return (sigmoid(p) - y) * self._scale
        return (p - y) / np.maximum(p * (1 - p), p.dtype.type(1e-12)) * self._scale

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        y = super().prepare_targets(y, n_outputs, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"BinaryCrossEntropy needs targets in [0, 1]; y ranges over "
                f"[{y.min():g}, {y.max():g}]. Encode the two classes as 0 and 1."
            )
        return y

    def output_transform(self, output: np.ndarray) -> np.ndarray:
        return sigmoid(output) if self.from_logits else output

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, **super().get_config()}


@losses.register(
    "ce", "cross_entropy", "categorical_crossentropy", "sparse_categorical_crossentropy"
)
class CrossEntropy(Loss):
    r"""Cross-entropy between a categorical target and the predicted class distribution.

    From logits :math:`z` (``from_logits=True``, the default; a linear output layer), with
    :math:`p = \operatorname{softmax}(z)` and target distribution :math:`y` (one-hot for a
    class label):

    .. math::
        L = -\frac1N \sum_{i} \sum_c y_{ic} \log p_{ic}, \qquad
        ∂L/∂z = \frac1N \bigl(p \textstyle\sum_c y_c - y\bigr) = \frac1N (p - y)

    The softmax Jacobian and the log's :math:`1/p` cancel, which is why softmax and the
    log-loss are fused here: the gradient is simply *predicted minus true*, and
    :math:`\log p` comes from the log-sum-exp trick, finite for any logits.

    From probabilities (``from_logits=False``, after a Softmax layer):
    :math:`∂L/∂p = -\frac1N\, y / p`, with :math:`p` clipped to at least the dtype's
    machine epsilon.

    Targets: integer class labels ``(batch,)`` in ``[0, classes)``, or one-hot/probability
    rows ``(batch, classes)``.

    Args:
        from_logits: whether the predictions are logits (see above).
        reduction: ``"mean"`` over the samples (default) or ``"sum"`` (no ``1/N``).
    """

    is_classification = True

    def __init__(self, from_logits: bool = True, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.from_logits = check_bool("from_logits", from_logits)

    def forward(self, prediction, target, sample_weight=None) -> float:
        n = prediction.shape[0]
        self._prediction, self._target = prediction, target
        if self.from_logits:
            self._log_p = log_p = log_softmax(prediction)
        else:
            log_p = np.log(self._clipped(prediction))
        if target.ndim == 1:
            if target.shape[0] != n:
                raise ValueError(
                    f"{self!r}: {n} predictions but {target.shape[0]} labels; they must match."
                )
            per_sample = -log_p[np.arange(n), target]
        else:
            _check_same_shape(prediction, target, self)
            per_sample = -np.einsum("ij,ij->i", target, log_p)
        value = self._reduce(per_sample, sample_weight)
        if np.ndim(self._scale):
            self._scale = self._scale[:, None]  # one factor per row of the gradient
        return value

    def backward(self) -> np.ndarray:
        z, y = self._prediction, self._target
        n = z.shape[0]
        scale = self._scale
        labels = y.ndim == 1
        if self.from_logits:
            grad = np.exp(self._log_p)  # softmax(z)
            if labels:
                grad[np.arange(n), y] -= 1  # p - onehot(y)
            else:
                grad *= y.sum(axis=1, keepdims=True)
                grad -= y
        else:
            grad = np.zeros_like(z)
            p = self._clipped(z)
            if labels:
                rows = np.arange(n)
                grad[rows, y] = -1 / p[rows, y]
            else:
                grad = -y / p
        grad *= scale
        return grad

    @staticmethod
    def _clipped(p: np.ndarray) -> np.ndarray:
        return np.clip(p, np.finfo(p.dtype).eps, 1)

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        if n_outputs < 2:
            raise ValueError(
                "CrossEntropy needs one output per class (at least 2), but the model has 1 "
                "output. For two classes with one output use BinaryCrossEntropy."
            )
        array = np.asarray(y)
        if array.ndim == 2 and array.shape[1] == n_outputs and n_outputs > 1:
            targets = as_float_array(array, "y", dtype)
            if targets.size and targets.min() < 0:
                raise ValueError(
                    "CrossEntropy with 2-D targets needs one-hot or probability rows "
                    f"(values >= 0); y has a minimum of {targets.min():g}."
                )
            return targets
        return as_class_labels(array, n_outputs)

    def output_transform(self, output: np.ndarray) -> np.ndarray:
        return softmax(output) if self.from_logits else output

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, **super().get_config()}


@losses.register("poisson_nll", "poisson_nll_loss")
class Poisson(Loss):
    r"""Poisson negative log-likelihood for count targets, from log-rates: the network's
    output :math:`z` is :math:`\log λ`, the predicted mean count is :math:`λ = e^z`.

    .. math::
        ℓ(z, y) = e^{z} - y z, \qquad ∂ℓ/∂z = e^{z} - y

    (:math:`-\log P(y \mid λ)` up to :math:`\log y!`, which does not depend on the
    network). This is PyTorch's ``PoissonNLLLoss(log_input=True, full=False)`` and
    scikit-learn's ``loss="poisson"`` of ``HistGradientBoostingRegressor``: its minimum is at
    the conditional *mean* of the counts, so a count target's R² is scored on what it fits,
    where a squared error on standardized counts is pulled by the rare large ones. Targets must
    be ``>= 0`` (whole numbers or not). ``output_transform`` gives the rate :math:`e^z`.

    Args:
        reduction: ``"mean"`` (default) or ``"sum"`` (no ``1/n``).

    Example:
        >>> import numpy as np
        >>> z, y = np.log(np.array([[2.0], [0.5]])), np.array([[3.0], [0.0]])
        >>> round(Poisson()(z, y), 4)  # ((2 - 3 log 2) + 0.5) / 2
        0.2103
        >>> Poisson().output_transform(z).ravel().tolist()
        [2.0, 0.5]
    """

    def forward(self, prediction, target, sample_weight=None) -> float:
        _check_same_shape(prediction, target, self)
        with np.errstate(over="ignore"):  # a huge log-rate: an infinite loss, caught by fit
            self._rate = rate = np.exp(prediction)
        self._target = target
        return self._reduce(rate - target * prediction, sample_weight)

    def backward(self) -> np.ndarray:
        return (self._rate - self._target) * self._scale

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        targets = super().prepare_targets(y, n_outputs, dtype)
        if targets.size and not targets.min() >= 0:
            raise ValueError(
                f"{self!r} needs counts (targets >= 0), but y has a minimum of "
                f"{targets.min():g}; use MSE for targets that can be negative."
            )
        return targets

    def output_transform(self, output: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.exp(output)


# Sequences -----------------------------------------------------------------------------------


@losses.register("sequence_cross_entropy", "token_cross_entropy", "sequence_ce")
class SequenceCrossEntropy(Loss):
    r"""Cross-entropy of every position of a sequence: logits ``(batch, time, vocab)`` and
    integer targets ``(batch, time)``, averaged over the positions whose target is not
    ``ignore_index`` (PyTorch's ``cross_entropy`` on the flattened positions).

    .. math::
        L = \frac{1}{|P|} \sum_{(b,t) ∈ P} -\log \operatorname{softmax}(z_{bt})_{y_{bt}},
        \qquad
        ∂L/∂z_{bt} = \frac{1}{|P|} \bigl(\operatorname{softmax}(z_{bt}) - \operatorname{onehot}
        (y_{bt})\bigr)

    with :math:`P` the positions whose target is not ``ignore_index`` (padding): they add
    nothing to the loss and get a zero gradient. The softmax and the log fuse to *predicted
    minus true*, as in :class:`CrossEntropy`. With ``sample_weight`` (one weight per sequence)
    every position of sequence b weighs :math:`w_b`: :math:`L = \sum w_b ℓ_{bt} / \sum w_b`
    over :math:`P`.

    Args:
        ignore_index: the target value that marks a position to skip (-100, as PyTorch).
            Must be negative, so that it is never a token id.
        reduction: ``"mean"`` over the counted positions (default) or ``"sum"``.

    Shapes: prediction ``(batch, ..., vocab)``, target ``(batch, ...)`` (the same leading
    axes); ``(batch, vocab)`` with ``(batch,)`` works too.
    """

    def __init__(self, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.ignore_index = check_int("ignore_index", ignore_index, high=-1)

    def forward(self, prediction, target, sample_weight=None) -> float:
        vocab = prediction.shape[-1]
        if target.shape != prediction.shape[:-1]:
            raise ValueError(
                f"{self!r}: logits of shape {prediction.shape} need targets of shape "
                f"{prediction.shape[:-1]} (one token id per position); received {target.shape}."
            )
        self._shape = prediction.shape
        logits = prediction.reshape(-1, vocab)
        labels = target.reshape(-1)
        self._valid = valid = labels != self.ignore_index
        self._labels = np.where(valid, labels, 0)
        self._log_p = log_softmax(logits)
        rows = np.arange(len(labels))
        per_position = -self._log_p[rows, self._labels] * valid
        weights = valid.astype(logits.dtype)
        if sample_weight is not None:
            per_sequence = np.asarray(sample_weight, dtype=logits.dtype)
            weights = weights * np.repeat(per_sequence, len(labels) // len(per_sequence))
        if self.reduction == "sum":
            self._scale = weights
            return float(np.dot(per_position, weights))
        total = float(weights.sum())
        if total == 0:  # nothing counted in this batch: no loss and no gradient
            self._scale = np.zeros_like(weights)
            return 0.0
        self._scale = weights / logits.dtype.type(total)
        return float(np.dot(per_position, weights) / total)

    def backward(self) -> np.ndarray:
        grad = np.exp(self._log_p)  # softmax(z)
        grad[np.arange(len(self._labels)), self._labels] -= 1  # p - onehot(y)
        grad *= self._scale[:, None]  # 0 on the ignored positions
        return grad.reshape(self._shape)

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        """Token ids ``(n, time)`` (any integer dtype, or floats holding whole numbers), each in
        ``[0, n_outputs)`` or equal to ``ignore_index``."""
        array = np.asarray(y)
        if (
            array.dtype.kind == "f"
            and np.all(np.isfinite(array))
            and np.all(array == np.round(array))
        ):
            array = array.astype(np.intp)
        if array.dtype.kind not in "iu" or array.ndim < 1:
            raise ValueError(
                f"{self!r} needs integer token ids, one per position; received an array of "
                f"{array.dtype} with shape {array.shape}."
            )
        bad = (array != self.ignore_index) & ((array < 0) | (array >= n_outputs))
        if bad.any():
            raise ValueError(
                f"{self!r}: targets must be token ids in [0, {n_outputs}) or the ignore_index "
                f"{self.ignore_index}; received {array[bad].ravel()[0]}."
            )
        return array.astype(np.intp, copy=False)

    def output_transform(self, output: np.ndarray) -> np.ndarray:
        return softmax(output)

    def get_config(self) -> dict[str, Any]:
        return {"ignore_index": self.ignore_index, **super().get_config()}


@losses.register(listed=False)
class EachMember(Loss):
    r"""A loss for a packed ensemble (:mod:`scratchnn.layers.packed`): every member ``k`` is
    trained on its own copy of ``base``, exactly as if it were trained alone.

    With the members' predictions :math:`p_{ik}` for sample ``i`` and weights :math:`w_{ik}`
    (member ``k``'s weight on sample ``i``; all 1 when none are given), the loss is the sum of
    the members' own (weighted mean) losses:

    .. math::
        L = \sum_k L_k, \qquad L_k = \frac{\sum_i w_{ik}\, ℓ(p_{ik}, y_i)}{\sum_i w_{ik}},
        \qquad ∂L/∂p_{ik} = ∂L_k/∂p_{ik} = \frac{w_{ik}}{\sum_i w_{ik}}\,
        ∂ℓ(p_{ik}, y_i)/∂p_{ik}

    A member's gradient is the one it would get alone (so an L2 penalty weighs on it as it
    would alone), and a weight of 0 keeps a sample out of one member's training (its own
    validation part) while the others learn from it. A member with no weight in a batch adds
    nothing. It is the base loss on the ``batch·K`` rows of all members, each target
    repeated ``K`` times; with MSE, or cross-entropy from logits and class labels, the same
    numbers come from all members at once, the targets broadcast (a table's every step).

    Args:
        base: the members' loss (a name, config or instance with ``reduction="mean"``).
        members: how many members ``K`` the predictions hold.

    Shapes: prediction ``(batch, K, outputs)``; target as ``base`` takes it for
    ``(batch, outputs)``; sample_weight ``(batch,)`` (the same for every member) or
    ``(batch, K)``.

    Example:
        >>> import numpy as np
        >>> p = np.array([[[0.0], [2.0]]])  # one sample, two members
        >>> loss = EachMember("mse", members=2)
        >>> loss(p, np.array([[1.0]])), loss(p, np.array([[1.0]]), np.array([[1.0, 0.0]]))
        (2.0, 1.0)
        >>> loss.backward()[0, :, 0].tolist()  # member 1 does not learn from this sample
        [-2.0, 0.0]
    """

    def __init__(self, base: str | dict | Loss = "mse", members: int = 2) -> None:
        super().__init__("mean")
        self.base = get(base)
        if self.base.reduction != "mean":
            raise ValueError(f"EachMember needs a base loss with reduction='mean'; {self.base!r}.")
        self.members = check_int("members", members, 1)
        self.is_classification = self.base.is_classification

    @property
    def weights_per_sample(self) -> int:
        """The width of a 2-D ``sample_weight``: one weight per member."""
        return self.members

    def forward(self, prediction, target, sample_weight=None) -> float:
        n, k = prediction.shape[0], self.members
        self._check_prediction(prediction)
        self._shape = prediction.shape
        self._zero = self._weighted = self._log_p = None
        shares = None if sample_weight is None else self._shares(sample_weight, n)
        if shares is not None and not self._counted:
            self._zero = np.zeros(prediction.shape, dtype=prediction.dtype)
            return 0.0
        if type(self.base) is MSE:
            return self._mse(prediction, target, shares)
        if type(self.base) is CrossEntropy and self.base.from_logits and target.ndim == 1:
            return self._cross_entropy(prediction, target, shares)
        rows = prediction.reshape(n * k, -1)  # row i·K + k is member k on sample i
        if shares is None:
            self._counted = k
            mean = self.base.forward(rows, np.repeat(target, k, axis=0))
        else:  # each member's weights summing to 1: the base's mean is then Σ_k L_k / K'
            mean = self.base.forward(rows, np.repeat(target, k, axis=0), shares.ravel())
        return self._counted * mean

    def _check_prediction(self, prediction: np.ndarray) -> None:
        k = self.members
        if prediction.ndim != 3 or prediction.shape[1] != k:
            raise ValueError(
                f"{self!r}: predictions must have shape (batch, {k}, outputs), one row per "
                f"member; received {prediction.shape}."
            )

    def _shares(self, sample_weight: np.ndarray, n: int) -> np.ndarray:
        r"""``(batch, K)``: each member's weights over its total, :math:`w_{ik} / \sum_i
        w_{ik}` (0 for a member with no weight in the batch); sets ``_counted``, the members
        that have weight."""
        k = self.members
        if sample_weight.shape not in ((n, k), (n,)):
            raise ValueError(
                f"{self!r}: sample_weight must have shape ({n},) (one weight a sample) or "
                f"({n}, {k}) (one a sample and member); received {sample_weight.shape}."
            )
        w = sample_weight if sample_weight.ndim == 2 else np.repeat(sample_weight[:, None], k, 1)
        totals = w.sum(axis=0)
        self._counted = int(np.count_nonzero(totals))
        if self._counted < k:  # a member with no weight in this batch: it adds nothing
            totals = np.where(totals > 0, totals, np.inf)
        return w / totals

    def _mse(self, prediction: np.ndarray, target: np.ndarray, shares: np.ndarray | None) -> float:
        r"""The base MSE's loss for all members at once, with the targets broadcast rather than
        repeated: :math:`L = \sum_k \sum_i s_{ik} \frac1m \sum_j (p_{ikj} - y_{ij})^2` and
        :math:`∂L/∂p_{ikj} = \frac2m s_{ik} (p_{ikj} - y_{ij})`, with the shares
        :math:`s_{ik}` (``1/batch`` unweighted) and ``m`` outputs. The same numbers as the
        general path in five array operations instead of about sixteen: every step of a
        regression table's ensemble takes it."""
        n, _, outputs = prediction.shape
        d = self._differences(prediction, target)  # (batch, K, outputs)
        if shares is None:
            weighted = d * prediction.dtype.type(1 / (n * outputs))
        else:
            weighted = d * (shares / outputs).astype(prediction.dtype)[:, :, None]
        self._weighted = weighted  # s·d/m: the gradient is twice it
        return float(np.dot(weighted.ravel(), d.ravel()))

    def _cross_entropy(
        self, prediction: np.ndarray, labels: np.ndarray, shares: np.ndarray | None
    ) -> float:
        r"""The base cross-entropy from logits for all members at once, the labels broadcast
        rather than repeated: :math:`L = -\sum_k \sum_i s_{ik} \log p_{ik y_i}` and
        :math:`∂L/∂z_{ik} = s_{ik} (p_{ik} - \operatorname{onehot}(y_i))`, with
        :math:`p_{ik} = \operatorname{softmax}(z_{ik})` and the shares :math:`s_{ik}`
        (``1/batch`` unweighted): every step of a classification table's ensemble takes it."""
        n, k, classes = prediction.shape
        if labels.shape != (n,):
            raise ValueError(
                f"{self!r}: predictions of shape {prediction.shape} need {n} class labels; "
                f"received labels of shape {labels.shape}."
            )
        # (log-softmax of the rows: its path for a few columns is faster than along a 3-D axis)
        log_p = log_softmax(prediction.reshape(n * k, classes)).reshape(n, k, classes)
        picked = log_p[np.arange(n)[:, None], np.arange(k), labels[:, None]]  # log p_{ik y_i}
        onehot = (labels[:, None] == np.arange(classes))[:, None, :]  # (batch, 1, classes)
        if shares is None:
            shares = np.full((n, k), 1 / n)
        per = shares.astype(prediction.dtype)
        self._log_p, self._onehot, self._per = log_p, onehot, per
        return -float(np.dot(per.ravel(), picked.ravel()))

    def _cross_entropy_gradient(self) -> np.ndarray:
        grad = np.exp(self._log_p)  # softmax(z)
        grad -= self._onehot
        grad *= self._per[:, :, None]
        return grad

    def _differences(self, prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``p - y`` for every member, ``(batch, K, outputs)``, the targets broadcast."""
        n, _, outputs = prediction.shape
        if target.shape != (n, outputs):
            raise ValueError(
                f"{self!r}: predictions of shape {prediction.shape} need targets of shape "
                f"({n}, {outputs}); received {target.shape}."
            )
        return prediction - target[:, None, :]

    def backward(self) -> np.ndarray:
        if self._zero is not None:
            return self._zero
        if self._weighted is not None:
            return self._weighted * self._weighted.dtype.type(2)
        if self._log_p is not None:
            return self._cross_entropy_gradient()
        grad = self.base.backward().reshape(self._shape)
        grad *= grad.dtype.type(self._counted)
        return grad

    def each(
        self, prediction: np.ndarray, target: np.ndarray, sample_weight: np.ndarray
    ) -> np.ndarray:
        """``(K,)``: each member's own loss :math:`L_k` (0 for a member with no weight), as
        :class:`~scratchnn.callbacks.EarlyStoppingEachMember` reads them on the validation
        rows. Shapes as :meth:`forward`'s, ``sample_weight`` ``(batch, K)``."""
        self._check_prediction(prediction)
        weights = np.asarray(sample_weight, dtype=np.float64)
        totals = weights.sum(axis=0)
        if type(self.base) is MSE:  # Σ_i w_ik Σ_j d²_ikj / (m Σ_i w_ik), all members at once
            squares = np.square(self._differences(prediction, target)).sum(axis=2)  # (batch, K)
            sums = np.einsum("ik,ik->k", weights, squares)
            counted = totals > 0
            return np.where(counted, sums, 0.0) / np.where(counted, totals, 1.0) / target.shape[1]
        return np.array(
            [
                self.base.forward(prediction[:, k], target, weights[:, k]) if totals[k] else 0.0
                for k in range(self.members)
            ]
        )

    def prepare_targets(self, y: Any, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        return self.base.prepare_targets(y, n_outputs, dtype)

    def output_transform(self, output: np.ndarray) -> np.ndarray:
        return self.base.output_transform(output)

    def get_config(self) -> dict[str, Any]:
        base = {"class_name": type(self.base).__name__, "config": self.base.get_config()}
        return {"base": base, "members": self.members}


def get(spec: str | dict | Loss) -> Loss:
    """A loss from its name (``"mse"``, ``"cross_entropy"``, ...), a config dict, or an instance."""
    return losses.create(spec, Loss)
