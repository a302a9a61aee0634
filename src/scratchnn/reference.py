"""Textbook versions of the fast parts, written as the classic tutorial writes them.

Read these to see *what* is computed; the fast versions (:class:`scratchnn.Dense`,
:class:`scratchnn.optim.SGD`, :class:`scratchnn.optim.Adam`) compute the same numbers with
preallocated buffers, one flat parameter vector and fewer passes over memory, and the test
suite (``tests/test_reference.py``) checks them against these to float64 rounding.

Everything here is plain NumPy on named arrays, a few lines per idea, with no validation and
no speed tricks:

>>> import numpy as np
>>> from scratchnn import reference
>>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
>>> y = np.array([[0], [1], [1], [0]], dtype=float)
>>> rng = np.random.default_rng(0)
>>> losses = reference.tutorial_xor(X, y, rng.standard_normal((2, 4)), np.zeros((1, 4)),
...                                 rng.standard_normal((4, 1)), np.zeros((1, 1)), epochs=2000)
>>> bool(losses[-1] < losses[0])
True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "SGD",
    "TUTORIAL_LR",
    "Adam",
    "Dense",
    "Momentum",
    "PackedDense",
    "PeriodicEmbedding",
    "PiecewiseLinearEncoding",
    "TutorialSetup",
    "sigmoid",
    "sigmoid_derivative",
    "tutorial_setup",
    "tutorial_xor",
]

#: The classic tutorial's learning rate, on its summed error ½ Σ (y − a)².
TUTORIAL_LR = 0.1


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^(−x)) (overflows for x < −709; the fast one does not)."""
    return 1 / (1 + np.exp(-x))


def sigmoid_derivative(a: np.ndarray) -> np.ndarray:
    """σ'(z) written with the *activation* a = σ(z): a (1 − a)."""
    return a * (1 - a)


class Dense:
    """``z = x·W + b``, with ``W: (in, out)``, ``b: (out,)``.

    ``backward(delta)`` takes δ = ∂L/∂z ``(batch, out)``, stores ``dW = xᵀ·δ`` and
    ``db = Σ_batch δ``, and returns ``∂L/∂x = δ·Wᵀ``.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = np.array(W, dtype=float), np.array(b, dtype=float)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return x @ self.W + self.b

    def backward(self, delta: np.ndarray) -> np.ndarray:
        self.dW = self.x.T @ delta
        self.db = delta.sum(axis=0)
        return delta @ self.W.T


class PackedDense:
    """``K`` :class:`Dense` layers side by side, member ``k`` with ``W[k]: (in, out)`` and
    ``b[k]: (out,)``: ``z[:, k] = x[:, k]·W[k] + b[k]``, or ``x·W[k] + b[k]`` for a shared
    input ``x: (batch, in)``. Output ``(batch, K, out)``.

    ``backward(delta)`` runs each member's own Dense backward on ``delta[:, k]`` and returns
    the members' ``∂L/∂x`` side by side, ``(batch, K, in)``, or summed over the members for a
    shared input (every member read the same ``x``).
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, shared_input: bool = False) -> None:
        self.members = [Dense(W_k, b_k) for W_k, b_k in zip(W, b, strict=True)]
        self.shared_input = shared_input

    def forward(self, x: np.ndarray) -> np.ndarray:
        outputs = []
        for k, member in enumerate(self.members):
            x_k = x if self.shared_input else x[:, k]
            outputs.append(member.forward(x_k))
        return np.stack(outputs, axis=1)

    def backward(self, delta: np.ndarray) -> np.ndarray:
        grads = [member.backward(delta[:, k]) for k, member in enumerate(self.members)]
        self.dW = np.stack([member.dW for member in self.members])
        self.db = np.stack([member.db for member in self.members])
        return sum(grads) if self.shared_input else np.stack(grads, axis=1)


class PeriodicEmbedding:
    """``y = [sin 2πC_j1·x_j .. sin 2πC_jk·x_j, cos 2πC_j1·x_j .. cos 2πC_jk·x_j]`` for each of
    the first ``m`` features ``j`` (``C: (m, k)``), then the other features as they are (all
    of them, the embedded ones too, with ``keep_inputs``).

    ``backward(g)`` stores ``dC[j, i] = Σ_b 2π x[b, j] (g_sin cos a − g_cos sin a)`` and returns
    ``∂L/∂x``, one number at a time.
    """

    def __init__(self, C: np.ndarray, n_features: int, keep_inputs: bool = False) -> None:
        self.C, self.n = np.array(C, dtype=float), n_features
        self.start = 0 if keep_inputs else len(self.C)  # the first feature passed through

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        m, k = self.C.shape
        y = np.zeros((len(x), 2 * m * k + self.n - self.start))
        for b in range(len(x)):
            for j in range(m):
                for i in range(k):
                    a = 2 * np.pi * self.C[j, i] * x[b, j]
                    y[b, 2 * k * j + i] = np.sin(a)
                    y[b, 2 * k * j + k + i] = np.cos(a)
            for j in range(self.start, self.n):
                y[b, 2 * m * k + j - self.start] = x[b, j]
        return y

    def backward(self, g: np.ndarray) -> np.ndarray:
        x, (m, k) = self.x, self.C.shape
        self.dC = np.zeros_like(self.C)
        dx = np.zeros_like(x, dtype=float)
        for b in range(len(x)):
            for j in range(m):
                for i in range(k):
                    a = 2 * np.pi * self.C[j, i] * x[b, j]
                    # d sin(a)/da = cos(a), d cos(a)/da = -sin(a); da/dC = 2πx, da/dx = 2πC
                    delta = g[b, 2 * k * j + i] * np.cos(a) - g[b, 2 * k * j + k + i] * np.sin(a)
                    self.dC[j, i] += 2 * np.pi * x[b, j] * delta
                    dx[b, j] += 2 * np.pi * self.C[j, i] * delta
            for j in range(self.start, self.n):
                dx[b, j] += g[b, 2 * m * k + j - self.start]
        return dx


class PiecewiseLinearEncoding:
    """``y = [e_j1 .. e_jT]`` for each of the first ``m`` features ``j`` (``edges: (m, T + 1)``),
    ``e_jt = (clip(x_j, b_j,t−1, b_jt) − b_j,t−1) / (b_jt − b_j,t−1)`` (0 for a bin that cannot be
    used: of no width, running backwards, or with a width or ``1 / w`` beyond ``dtype``), which
    is ``clip((x_j − b_j,t−1) / (b_jt − b_j,t−1), 0, 1)`` without its overflow, then the
    other features as they are (all of them, the encoded ones too, with ``keep_inputs``).

    ``backward(g)`` returns ``∂L/∂x``, one number at a time: a piece's slope is ``1 / width``
    inside its bin and 0 where the clip holds it at 0 or 1.
    """

    def __init__(
        self, edges: np.ndarray, n_features: int, keep_inputs: bool = False, dtype=np.float64
    ) -> None:
        self.edges, self.n = np.array(edges, dtype=float), n_features
        self.start = 0 if keep_inputs else len(self.edges)  # the first feature passed through
        self.widest = float(np.finfo(dtype).max)
        self.narrowest = 1 / self.widest  # a narrower bin's 1 / w overflows

    def usable(self, low: float, high: float) -> bool:
        """Whether a bin has a width, and a ``1 / w``, that the dtype can hold."""
        return high > low and self.narrowest <= high - low <= self.widest

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        m, T = self.edges.shape[0], self.edges.shape[1] - 1
        y = np.zeros((len(x), m * T + self.n - self.start))
        for b in range(len(x)):
            for j in range(m):
                for t in range(T):
                    low, high = self.edges[j, t], self.edges[j, t + 1]
                    if self.usable(low, high):  # x held within the bin, then its share
                        y[b, T * j + t] = (min(max(x[b, j], low), high) - low) / (high - low)
            for j in range(self.start, self.n):
                y[b, m * T + j - self.start] = x[b, j]
        return y

    def backward(self, g: np.ndarray) -> np.ndarray:
        x = self.x
        m, T = self.edges.shape[0], self.edges.shape[1] - 1
        dx = np.zeros_like(x, dtype=float)
        for b in range(len(x)):
            for j in range(m):
                for t in range(T):
                    low, high = self.edges[j, t], self.edges[j, t + 1]
                    if self.usable(low, high) and low < x[b, j] < high:  # slope 1 / width
                        dx[b, j] += g[b, T * j + t] / (high - low)
            for j in range(self.start, self.n):
                dx[b, j] += g[b, m * T + j - self.start]
        return dx


class SGD:
    """Plain gradient descent: ``W ← W − η g`` for every parameter."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g in zip(params, grads, strict=True):
            p -= self.lr * g


class Momentum:
    """Gradient descent with momentum, in PyTorch's form (``SGD(momentum=μ)``):
    ``v ← μ v + g`` (``v = g`` on the first step), ``W ← W − η v``."""

    def __init__(self, lr: float, momentum: float = 0.9) -> None:
        self.lr, self.momentum = lr, momentum
        self.velocity: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.velocity is None:
            self.velocity = [g.copy() for g in grads]
        else:
            for v, g in zip(self.velocity, grads, strict=True):
                v[...] = self.momentum * v + g
        for p, v in zip(params, self.velocity, strict=True):
            p -= self.lr * v


class Adam:
    """Adam (Kingma & Ba), with the bias corrections written out::

    m ← β1 m + (1 − β1) g          v ← β2 v + (1 − β2) g²
    m̂ = m / (1 − β1ᵗ)              v̂ = v / (1 − β2ᵗ)
    W ← W − η m̂ / (√v̂ + ε)
    """

    def __init__(
        self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.m is None:
            self.m = [np.zeros_like(g) for g in grads]
            self.v = [np.zeros_like(g) for g in grads]
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g**2
            m_hat = m / (1 - self.beta1**self.t)
            v_hat = v / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def tutorial_xor(
    X: np.ndarray,
    y: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    lr: float = 0.1,
    epochs: int = 10_000,
) -> list[float]:
    """The classic tutorial's training loop, verbatim: a 2-4-1 sigmoid network, the summed
    error (``error = y − output``), ``sigmoid_derivative(a)`` and ``W += lr · xᵀ·δ``.

    Updates the arrays ``W1, b1, W2, b2`` in place and returns the loss the tutorial prints,
    ``mean((y − output)²)``, of every epoch (before that epoch's update).
    """
    losses = []
    for _ in range(epochs):
        hidden_output = sigmoid(X @ W1 + b1)
        output = sigmoid(hidden_output @ W2 + b2)
        error = y - output
        losses.append(float(np.mean(np.square(error))))
        d_output = error * sigmoid_derivative(output)
        error_hidden = d_output @ W2.T
        d_hidden = error_hidden * sigmoid_derivative(hidden_output)
        W2 += hidden_output.T @ d_output * lr
        b2 += np.sum(d_output, axis=0, keepdims=True) * lr
        W1 += X.T @ d_hidden * lr
        b1 += np.sum(d_hidden, axis=0, keepdims=True) * lr
    return losses


class TutorialSetup(NamedTuple):
    """The tutorial's setting with scratchnn's fast parts; train it with
    ``setup.model.fit(X, y, loss=setup.loss, optimizer=setup.optimizer, **setup.fit_kwargs)``."""

    model: Any
    loss: Any
    optimizer: Any
    fit_kwargs: dict[str, Any]


def tutorial_setup(
    seed: int = 0, lr: float = TUTORIAL_LR, epochs: int = 10_000, dtype: Any = np.float64
) -> TutorialSetup:
    """The classic tutorial exactly, as scratchnn components (``--preset tutorial``).

    A 2-4-1 network with sigmoid units everywhere and weights from N(0, 1)
    (``init="standard_normal"``, the tutorial's ``np.random.randn``), zero biases, no input
    standardization, full-batch gradient descent, float64. The tutorial's ``lr`` acts on the
    summed error E = ½ Σ (y − a)²; scratchnn's ``MSE(reduction="sum")`` is Σ (a − y)² = 2E,
    so the same step is ``SGD(lr=lr / 2)`` (with the default mean over N samples it would be
    ``SGD(lr=lr · N / 2)``). ``fit_kwargs`` record the mean squared error the tutorial prints
    as the metric ``"mse"``.

    Example:
        >>> setup = tutorial_setup(seed=0)
        >>> setup.optimizer.lr, setup.loss
        (0.05, MSE(reduction='sum'))
    """
    from .layers import Dense as FastDense
    from .layers import Sigmoid
    from .losses import MSE
    from .model import Sequential
    from .optim import get as get_optimizer

    model = Sequential(
        [
            FastDense(2, 4, init="standard_normal"),
            Sigmoid(),
            FastDense(4, 1, init="standard_normal"),
            Sigmoid(),
        ],
        seed=seed,
        dtype=dtype,
    )
    fit_kwargs = {"epochs": epochs, "batch_size": None, "shuffle": False, "metrics": ["mse"]}
    return TutorialSetup(model, MSE(reduction="sum"), get_optimizer("sgd", lr=lr / 2), fit_kwargs)


# Convolution and pooling, loop by loop (scratchnn.reference_conv).
from .reference_conv import (  # noqa: E402
    avg_pool2d,
    avg_pool2d_backward,
    conv2d,
    conv2d_backward,
    max_pool2d,
    max_pool2d_backward,
)

__all__ += [
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
]


# Sequences, a step or a head at a time (scratchnn.reference_sequence).
from .reference_sequence import (  # noqa: E402
    attention,
    attention_backward,
    lstm_backward,
    lstm_forward,
)

__all__ += ["attention", "attention_backward", "lstm_backward", "lstm_forward"]
