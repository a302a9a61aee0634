"""The estimators' view of a scratchnn model: forward and backward passes that accept a
``scipy.sparse`` matrix as input, and scikit-learn's scaling of loss and L2 penalty.

A model built by the estimators is ``Dense → [BatchNorm1d] → activation → [Dropout] → ... →
Dense`` with a linear last layer. The first ``Dense`` is run here rather than by the layer
itself, because its input may be sparse:

.. math::
    z = X W + b \\quad (\\text{sparse} @ \\text{dense}), \\qquad
    ∂L/∂W = X^T δ \\quad (\\text{sparse}^T @ \\text{dense}), \\qquad ∂L/∂b = \\textstyle\\sum_i δ_i

so a sparse ``X`` is never densified: each product touches only its non-zeros. Every other
layer runs its own ``forward``/``backward``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import get_blas_funcs

from ..layers import Dense
from ..model import Sequential
from ._losses import loss_and_delta, output_transform

#: Rows per forward pass when predicting: bounds the memory of the hidden activations.
PREDICT_BATCH = 4096


class Network:
    """Forward, backward and the penalised loss of ``model``, as scikit-learn computes them.

    Args:
        model: a ``Sequential`` whose first and last layers are ``Dense``.
        loss: the loss name (see :mod:`._losses`).
        out_activation: ``"identity"``, ``"exp"``, ``"logistic"`` or ``"softmax"``.
        alpha: the L2 strength; the batch loss gains ``(α/2)·Σ‖W‖²/Σw`` (Σw the batch's
            total sample weight, its size when unweighted) and ``∂/∂W`` gains ``α·W/Σw``.
    """

    def __init__(self, model: Sequential, loss: str, out_activation: str, alpha: float) -> None:
        self.model = model
        self.first, self.rest = model.layers[0], model.layers[1:]
        self.loss, self.out_activation, self.alpha = loss, out_activation, float(alpha)
        self.flat = model.parameters().flat
        # The weight matrices (not the biases) as slices of the flat vectors, for the penalty.
        base = self.flat.value.ctypes.data
        item = self.flat.value.itemsize

        def place(array: np.ndarray) -> slice:
            start = (array.ctypes.data - base) // item
            return slice(start, start + array.size)

        dense = [layer for layer in model.layers if isinstance(layer, Dense)]
        self.weight_slices = [place(layer.params["W"]) for layer in dense]
        #: Where scikit-learn's packed vector (every ``coefs_``, then every ``intercepts_``)
        #: lives in the flat vector.
        self.sklearn_order = np.concatenate(
            [np.arange(s.start, s.stop) for s in self.weight_slices]
            + [
                np.arange(place(layer.params["b"]).start, place(layer.params["b"]).stop)
                for layer in dense
            ]
        )
        # y ← a·x + y in place, one pass (BLAS axpy): the penalty's gradient without a temporary.
        self._axpy = get_blas_funcs("axpy", dtype=self.flat.value.dtype)

    def forward(self, X, training: bool) -> np.ndarray:
        """Raw outputs ``z`` ``(n, n_outputs)`` (before the output activation)."""
        W, b = self.first.params["W"], self.first.params["b"]
        z = X @ W if sp.issparse(X) else np.matmul(X, W)
        z += b
        for layer in self.rest:
            z = layer.forward(z, training)
        return z

    def backward(self, X, delta: np.ndarray) -> None:
        """Fill every gradient from ``δ = ∂L/∂z`` of the last layer."""
        g = delta
        for layer in reversed(self.rest):
            g = layer.backward(g)
        grads = self.first.grads
        if sp.issparse(X):
            grads["W"][...] = X.T @ g  # sparse.T @ dense: only the non-zeros are visited
        else:
            np.matmul(X.T, g, out=grads["W"])
        np.sum(g, axis=0, out=grads["b"])

    def loss_grad(self, X, y: np.ndarray, weights: np.ndarray | None) -> float:
        """The batch's penalised loss; fills the gradient (``flat.grad``)."""
        z = self.forward(X, training=True)
        total = X.shape[0] if weights is None else float(weights.sum())
        value, delta = loss_and_delta(z, y, weights, self.loss, self.out_activation)
        delta /= total
        self.backward(X, delta)
        if self.alpha:
            values, grads = self.flat.value, self.flat.grad
            squares = 0.0
            for piece in self.weight_slices:
                w = values[piece]
                squares += float(np.dot(w, w))
                self._axpy(w, grads[piece], a=self.alpha / total)  # ∂/∂W += α·W/Σw
            value += 0.5 * self.alpha * squares / total
        return value

    def predict(self, X) -> np.ndarray:
        """The predictions (after the output activation), ``(n, n_outputs)``, in batches."""
        n = X.shape[0]
        if n <= PREDICT_BATCH:
            return output_transform(self.forward(X, training=False), self.out_activation)
        out = np.empty((n, self.model.out_features), dtype=self.model.dtype)
        for start in range(0, n, PREDICT_BATCH):
            z = self.forward(X[start : start + PREDICT_BATCH], training=False)
            out[start : start + PREDICT_BATCH] = output_transform(z, self.out_activation)
        return out
