"""Textbook versions of the sequence layers: one sequence, one step or one head at a time.

:class:`scratchnn.LSTM` and :class:`scratchnn.MultiHeadAttention` compute the same numbers for
a whole batch at once (the gates of every step in one product, every head in one batched
product); the tests check them against these. Plain NumPy, named gates, no speed tricks.

>>> import numpy as np
>>> from scratchnn import reference
>>> rng = np.random.default_rng(0)
>>> x, W = rng.normal(size=(5, 3)), rng.normal(size=(3, 8))
>>> U, b = rng.normal(size=(2, 8)), np.zeros(8)
>>> reference.lstm_forward(x, W, U, b)["h"].shape    # h_1 ... h_5, two units each
(5, 2)
"""

from __future__ import annotations

import numpy as np

__all__ = ["attention", "attention_backward", "lstm_backward", "lstm_forward"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def lstm_forward(
    x: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray, h0=None, c0=None
) -> dict[str, np.ndarray]:
    """One LSTM over one sequence ``x`` ``(T, F)``, a step at a time (gate order i, f, g, o).

    ``W: (F, 4H)``, ``U: (H, 4H)``, ``b: (4H,)``. Returns every step's ``h`` and ``c``
    ``(T, H)`` and the gates ``i, f, g, o`` ``(T, H)``, which :func:`lstm_backward` needs.
    """
    H = U.shape[0]
    h = np.zeros(H) if h0 is None else h0
    c = np.zeros(H) if c0 is None else c0
    record = {key: [] for key in ("h", "c", "i", "f", "g", "o")}
    for x_t in x:
        z = x_t @ W + h @ U + b
        i = _sigmoid(z[0:H])  # input gate: how much of the candidate to write
        f = _sigmoid(z[H : 2 * H])  # forget gate: how much of the old cell to keep
        g = np.tanh(z[2 * H : 3 * H])  # candidate values
        o = _sigmoid(z[3 * H : 4 * H])  # output gate: how much of the cell to show
        c = f * c + i * g
        h = o * np.tanh(c)
        for key, value in zip(record, (h, c, i, f, g, o), strict=True):
            record[key].append(value)
    result = {key: np.array(values) for key, values in record.items()}
    result["h0"] = np.zeros(H) if h0 is None else h0
    result["c0"] = np.zeros(H) if c0 is None else c0
    return result


def lstm_backward(
    x: np.ndarray, W: np.ndarray, U: np.ndarray, forward: dict[str, np.ndarray], dh: np.ndarray
) -> dict[str, np.ndarray]:
    """Backpropagation through time for :func:`lstm_forward`, a step at a time, last first.

    ``dh``: ``∂L/∂h_t`` from the outputs, ``(T, H)``. Returns ``dW, dU, db, dx, dh0, dc0``.
    """
    H = U.shape[0]
    h, c, i, f, g, o = (forward[key] for key in ("h", "c", "i", "f", "g", "o"))
    dW, dU, db, dx = np.zeros_like(W), np.zeros_like(U), np.zeros(4 * H), np.zeros_like(x)
    dh_next, dc_next = np.zeros(H), np.zeros(H)
    for t in reversed(range(len(x))):
        h_prev = h[t - 1] if t > 0 else forward["h0"]
        c_prev = c[t - 1] if t > 0 else forward["c0"]
        dh_t = dh[t] + dh_next  # from this step's output and from step t+1
        dc_t = dc_next + dh_t * o[t] * (1 - np.tanh(c[t]) ** 2)  # h = o tanh(c)
        di = dc_t * g[t]
        df = dc_t * c_prev
        dg = dc_t * i[t]
        do = dh_t * np.tanh(c[t])
        dz = np.concatenate(
            [
                di * i[t] * (1 - i[t]),  # σ' = σ(1 − σ)
                df * f[t] * (1 - f[t]),
                dg * (1 - g[t] ** 2),  # tanh' = 1 − tanh²
                do * o[t] * (1 - o[t]),
            ]
        )
        dW += np.outer(x[t], dz)
        dU += np.outer(h_prev, dz)
        db += dz
        dx[t] = W @ dz
        dh_next = U @ dz
        dc_next = dc_t * f[t]  # c_t = f c_{t-1} + ...
    return {"dW": dW, "dU": dU, "db": db, "dx": dx, "dh0": dh_next, "dc0": dc_next}


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False) -> np.ndarray:
    """Scaled dot-product attention for one head: ``softmax(q kᵀ / √d) v``.

    ``q, k, v``: ``(T, d)``. With ``causal``, query ``i`` sees keys ``j <= i`` only.
    Returns ``(output (T, d), weights (T, T))``.
    """
    T, d = q.shape
    scores = q @ k.T / np.sqrt(d)
    if causal:
        scores = np.where(np.tri(T, dtype=bool), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ v, weights


def attention_backward(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, weights: np.ndarray, d_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The backward of :func:`attention`, row by row: ``(dq, dk, dv)``.

    For each row i, the softmax's Jacobian is ``diag(a) − a aᵀ`` (with ``a = weights[i]``);
    it is formed here explicitly, which the fast layer never does.
    """
    d = q.shape[1]
    dv = weights.T @ d_out
    d_weights = d_out @ v.T
    d_scores = np.zeros_like(weights)
    for i, a in enumerate(weights):
        jacobian = np.diag(a) - np.outer(a, a)
        d_scores[i] = jacobian @ d_weights[i]
    d_scores /= np.sqrt(d)
    return d_scores @ k, d_scores.T @ q, dv
