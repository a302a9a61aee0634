"""scikit-learn's MLP losses, computed from the network's raw outputs.

The network ends in a linear ``Dense`` layer; its output ``z`` goes through the *output
activation* (``identity``, ``exp``, ``logistic`` or ``softmax``) to give the prediction ``p``.
Each loss below is scaled exactly as scikit-learn's ``MLPClassifier``/``MLPRegressor`` scale
it, so that ``alpha``, ``tol`` and ``learning_rate_init`` mean the same in both:

=============  ===============  ============================================================
loss           out activation   value (a weighted mean over samples ``i``)
=============  ===============  ============================================================
squared_error  identity         ``½ · mean_i mean_k (p_ik − y_ik)²``
poisson        exp              ``mean_i Σ_k (y log(y/p) − y + p)``  (half Poisson deviance)
log_loss       logistic         ``−mean_i Σ_k (y log p + (1 − y) log(1 − p))``
log_loss       softmax          ``−mean_i log p_i,y_i``
absolute_error identity         ``mean_i mean_k |p − y|``  (scratchnn extra)
huber          identity         ``mean_i mean_k h(p − y)``, ``h(d) = ½d²`` if ``|d| ≤ 1`` else
                                ``|d| − ½``  (scratchnn extra)
=============  ===============  ============================================================

Probabilities are clipped to ``[ε, 1 − ε]`` (``ε`` the dtype's machine epsilon) inside the
logarithms, as scikit-learn does.

The gradient with respect to ``z`` is, per sample and output, the derivative of the
*per-output* term: for every pairing of output activation and loss above except the two
extras it collapses to ``p − y`` (the canonical link), which is why the softmax, logistic,
exp and identity outputs need no backward of their own. (For several outputs scikit-learn's
squared error averages the value over outputs but not the gradient; we keep that, so the
training is the same.)
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy

#: The output activation of each loss (classification picks logistic or softmax itself).
OUT_ACTIVATION = {
    "squared_error": "identity",
    "absolute_error": "identity",
    "huber": "identity",
    "poisson": "exp",
}


def output_transform(z: np.ndarray, out_activation: str) -> np.ndarray:
    """The prediction ``p`` from raw outputs ``z`` ``(n, k)``, computed in place in ``z``."""
    if out_activation == "exp":
        np.exp(z, out=z)
    elif out_activation == "logistic":
        expit(z, out=z)
    elif out_activation == "softmax":
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
    return z


def _mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    if weights is None:
        return float(values.mean())
    return float(np.dot(weights, values) / weights.sum())


def loss_value(
    p: np.ndarray, y: np.ndarray, weights: np.ndarray | None, loss: str, out_activation: str
) -> float:
    """The loss of predictions ``p`` ``(n, k)`` (after the output activation) against ``y``:
    class indices ``(n,)`` for softmax, otherwise targets ``(n, k)``."""
    eps = np.finfo(p.dtype).eps
    if out_activation == "softmax":
        picked = p[np.arange(len(p)), y]
        return -_mean(np.log(np.clip(picked, eps, 1 - eps)), weights)
    if out_activation == "logistic":
        clipped = np.clip(p, eps, 1 - eps)
        # y is 0/1: y·log p + (1 − y)·log(1 − p) picks one of the two logs.
        picked = np.where(y > 0.5, clipped, 1 - clipped)
        return -_mean(np.log(picked).sum(axis=1), weights)
    if loss == "poisson":
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = xlogy(y, y / p) - y + p
        return _mean(terms.sum(axis=1), weights)
    d = p - y
    if loss == "squared_error":
        return 0.5 * _mean(np.mean(d * d, axis=1), weights)
    size = np.abs(d)
    if loss == "absolute_error":
        return _mean(np.mean(size, axis=1), weights)
    return _mean(np.mean(np.where(size <= 1, 0.5 * d * d, size - 0.5), axis=1), weights)


def loss_and_delta(
    z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, loss: str, out_activation: str
) -> tuple[float, np.ndarray]:
    """The loss of raw outputs ``z`` ``(n, k)`` against ``y`` (see :func:`loss_value`), and
    ``∂(Σ_i w_i·loss_i)/∂z`` (not yet divided by the weight total), computed in ``z``'s buffer.

    Returns:
        ``(loss value, delta)``; ``delta`` is ``z`` overwritten.
    """
    p = output_transform(z, out_activation)
    value = loss_value(p, y, weights, loss, out_activation)
    if out_activation == "softmax":
        p[np.arange(len(p)), y] -= 1  # softmax + cross-entropy: ∂L/∂z = p − onehot(y)
    else:
        # Canonical links (sigmoid + binary cross-entropy, exp + Poisson deviance, identity +
        # half squared error): ∂L/∂z = p − y.
        p -= y
        if loss == "absolute_error":
            np.sign(p, out=p)
        elif loss == "huber":
            np.clip(p, -1.0, 1.0, out=p)
    if weights is not None:
        p *= weights[:, None]
    return value, p
