r"""Multi-head self-attention: every position of a sequence looks at every other position (or,
with a causal mask, at the positions before it) and takes a weighted average of their values.

For one head, with queries, keys and values :math:`Q = xW_q`, :math:`K = xW_k`,
:math:`V = xW_v` (each ``(T, d)``):

.. math::
    S = \frac{Q K^T}{\sqrt d}, \qquad A = \operatorname{softmax}_{\text{rows}}(S), \qquad
    O = A V

Its backward, with :math:`dO = ∂L/∂O`:

.. math::
    dV = A^T dO, \qquad dA = dO\, V^T, \qquad
    dS = A ⊙ \bigl(dA - \textstyle\sum_j (dA ⊙ A)_{\cdot j}\bigr), \qquad
    dQ = \frac{dS\, K}{\sqrt d}, \qquad dK = \frac{dS^T Q}{\sqrt d}

The middle step is the Jacobian-vector product of the row softmax,
:math:`∂A_{ij}/∂S_{ik} = A_{ij}(δ_{jk} - A_{ik})`, applied without forming the Jacobian. A
masked score is :math:`-∞`, so its weight is exactly 0, and so is its gradient
(:math:`dS_{ij} = A_{ij}(\dots) = 0`): the mask needs no code of its own in the backward.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import initializers
from .._validation import check_bool, check_number, check_positive_int
from ..functional import softmax
from ..shapes import Shape
from .base import Layer, layers
from .dense import _initializer_name

__all__ = ["MultiHeadAttention", "masked_softmax"]


def masked_softmax(scores: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """Row softmax of ``scores`` over the last axis where ``allowed`` (broadcast) is True; the
    other entries get weight exactly 0. A row with nothing allowed gets all zeros (its output
    is then 0, where PyTorch gives NaN)."""
    if allowed is None:
        return softmax(scores)
    scores = np.where(allowed, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    top[~np.isfinite(top)] = 0  # a fully masked row: exp(-inf) = 0 everywhere
    weights = np.exp(scores - top)
    total = weights.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    weights /= total
    return weights


def _transposed(a: np.ndarray) -> np.ndarray:
    """The last two axes swapped, as a contiguous array (for a fast batched product)."""
    return np.ascontiguousarray(a.swapaxes(-1, -2))


@layers.register("mha", "self_attention")
class MultiHeadAttention(Layer):
    r"""Multi-head scaled dot-product self-attention, PyTorch's ``nn.MultiheadAttention``
    with ``batch_first=True`` and the same input as query, key and value.

    .. math::
        [Q, K, V] = x W_{qkv} + b_{qkv}, \qquad
        O_h = \operatorname{softmax}\Bigl(\frac{Q_h K_h^T}{\sqrt d} + M\Bigr) V_h, \qquad
        y = [O_1, …, O_n] W_o + b_o

    with ``n`` heads of ``d = embed_dim / n`` features each, and :math:`M` the mask
    (:math:`-∞` where a query may not look: later positions with ``causal=True``, padded keys
    with ``key_padding_mask``). Dropout, in training, drops attention weights (then rescales
    by :math:`1/(1-p)`), as PyTorch does. The backward is in the module's docstring; every head
    and every sequence of the batch goes through one batched product per step.

    The weights of the last forward, ``(batch, heads, time, time)``, stay in
    ``attention_weights`` (before dropout) for plots and inspection.

    Args:
        embed_dim: features per position E.
        num_heads: heads n (E must be a multiple of n).
        causal: position t attends only to positions ≤ t (a language model's mask).
        dropout: probability p of dropping each attention weight in training.
        bias: learn the biases ``b_qkv`` and ``b_o``.
        init: initializer of ``W_qkv`` and ``W_o`` (Glorot uniform); biases start at 0.

    Shapes: x ``(batch, time, E)`` → y ``(batch, time, E)``; W_qkv ``(E, 3E)`` (columns:
    queries, keys, values, each split into heads), b_qkv ``(3E,)``, W_o ``(E, E)``,
    b_o ``(E,)``. PyTorch's ``in_proj_weight`` is ``W_qkv.T``, ``out_proj.weight`` is
    ``W_o.T``.

    One head in a few lines, as the oracle of the tests: :func:`scratchnn.reference.attention`.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        causal: bool = False,
        dropout: float = 0.0,
        bias: bool = True,
        init: str | Any = "glorot_uniform",
    ) -> None:
        super().__init__()
        self.embed_dim = check_positive_int("embed_dim", embed_dim)
        self.num_heads = check_positive_int("num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim must be a multiple of num_heads. Received: embed_dim={embed_dim}, "
                f"num_heads={num_heads}."
            )
        self.causal = check_bool("causal", causal)
        self.dropout = check_number("dropout", dropout, 0.0, 1.0, high_open=True)
        self.bias = check_bool("bias", bias)
        initializers.get(init)
        self.init = init
        self.attention_weights: np.ndarray | None = None

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def input_shape(self) -> Shape:
        return (None, self.embed_dim)

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def parameter_shapes(self, input_shape: Shape = ()) -> dict[str, tuple[int, ...]]:
        E = self.embed_dim
        shapes = {"W_qkv": (E, 3 * E), "b_qkv": (3 * E,), "W_o": (E, E), "b_o": (E,)}
        if not self.bias:
            del shapes["b_qkv"], shapes["b_o"]
        return shapes

    def buffer_shapes(self, input_shape: Shape = ()) -> dict[str, tuple[int, ...]]:
        return {}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        for name, shape in self.parameter_shapes().items():
            if name.startswith("W"):
                values = initializers.get(self.init)(shape, rng, self.dtype)
            else:
                values = np.zeros(shape, dtype=self.dtype)
            self.params[name] = values
            self.grads[name] = np.zeros(shape, dtype=self.dtype)

    def _allowed(self, steps: int, key_padding_mask: Any, batch: int) -> np.ndarray | None:
        """Booleans broadcasting to ``(batch, heads, T, T)``: True where query i may look at
        key j."""
        allowed = None
        if self.causal:
            allowed = np.tri(steps, dtype=bool)  # j <= i
        if key_padding_mask is not None:
            pad = np.asarray(key_padding_mask)
            if pad.shape != (batch, steps) or pad.dtype != bool:
                raise ValueError(
                    f"{self!r}: key_padding_mask must be booleans of shape {(batch, steps)} "
                    f"(True where a key is padding); received {pad.dtype} of shape {pad.shape}."
                )
            keys = ~pad[:, None, None, :]
            allowed = keys if allowed is None else allowed & keys
        return allowed

    def forward(
        self, x: np.ndarray, training: bool = False, key_padding_mask: Any = None
    ) -> np.ndarray:
        """Attend.

        Args:
            x: ``(batch, time, E)``.
            training: apply dropout to the attention weights.
            key_padding_mask: optional ``(batch, time)`` booleans, True where a position is
                padding (no query attends to it), PyTorch's convention.
        """
        if not self.built:
            self.build(dtype=x.dtype)
        E, n, d = self.embed_dim, self.num_heads, self.head_dim
        if x.ndim != 3 or x.shape[2] != E:
            raise ValueError(
                f"{self!r} takes (batch, time, {E}) inputs; received an array of shape {x.shape}."
            )
        batch, steps, _ = x.shape
        self._x_rows = x_rows = x.reshape(-1, E)
        qkv = x_rows @ self.params["W_qkv"]
        if self.bias:
            qkv += self.params["b_qkv"]
        # (B·T, 3E) -> (3, B, heads, T, d): queries, keys, values of every head at once.
        # Contiguous copies: NumPy's batched matmul is fast only on contiguous matrices (a
        # transposed view costs ~30x).
        q, k, v = np.ascontiguousarray(qkv.reshape(batch, steps, 3, n, d).transpose(2, 0, 3, 1, 4))
        self._q, self._k, self._v = q, k, v
        self._scale = 1 / math.sqrt(d)
        scores = q @ _transposed(k)  # (B, heads, T, T)
        scores *= self._scale
        self.attention_weights = weights = masked_softmax(
            scores, self._allowed(steps, key_padding_mask, batch)
        )
        self._drop = None
        if training and self.dropout:
            if self.rng is None:
                self.rng = np.random.default_rng()
            keep = self.rng.random(weights.shape, dtype=weights.dtype) >= self.dropout
            self._drop = keep * weights.dtype.type(1 / (1 - self.dropout))
            weights = weights * self._drop
        self._weights_used = weights
        heads_out = weights @ v  # (B, heads, T, d), both contiguous
        self._o_rows = o_rows = heads_out.transpose(0, 2, 1, 3).reshape(-1, E)
        y = o_rows @ self.params["W_o"]
        if self.bias:
            y += self.params["b_o"]
        return y.reshape(batch, steps, E)

    def internals(self) -> dict[str, np.ndarray]:
        """What the last forward computed inside, for inspection and plots: the attention
        weights ``(batch, heads, time, time)`` (row i: how query i spread its attention over
        the keys, before dropout)."""
        return {"attention_weights": self.attention_weights.copy()}

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        E, n, d = self.embed_dim, self.num_heads, self.head_dim
        batch, steps = grad_out.shape[:2]
        g_rows = grad_out.reshape(-1, E)
        # The output projection, as in Dense.
        np.matmul(self._o_rows.T, g_rows, out=self.grads["W_o"])
        if self.bias:
            np.sum(g_rows, axis=0, out=self.grads["b_o"])
        d_heads = (g_rows @ self.params["W_o"].T).reshape(batch, steps, n, d)
        d_heads = np.ascontiguousarray(d_heads.transpose(0, 2, 1, 3))
        q, k, v, weights = self._q, self._k, self._v, self.attention_weights
        # O = A V: dV = Aᵀ dO (with A the weights after dropout), dA = dO Vᵀ.
        dv = _transposed(self._weights_used) @ d_heads
        d_weights = d_heads @ _transposed(v)
        if self._drop is not None:
            d_weights *= self._drop
        # Row softmax: dS = A ⊙ (dA − Σⱼ dA ⊙ A). Masked weights are 0, so are their gradients.
        d_scores = d_weights
        d_scores -= np.einsum("bhij,bhij->bhi", d_weights, weights)[..., None]
        d_scores *= weights
        d_scores *= self._scale
        dq = d_scores @ k
        dk = _transposed(d_scores) @ q
        # Back to (B·T, 3E), the layout of the fused projection: (B, T, 3, heads, d).
        dqkv = np.empty((batch, steps, 3, n, d), dtype=dq.dtype)
        for j, part in enumerate((dq, dk, dv)):
            dqkv[:, :, j] = part.transpose(0, 2, 1, 3)
        dqkv = dqkv.reshape(-1, 3 * E)
        np.matmul(self._x_rows.T, dqkv, out=self.grads["W_qkv"])
        if self.bias:
            np.sum(dqkv, axis=0, out=self.grads["b_qkv"])
        return (dqkv @ self.params["W_qkv"].T).reshape(batch, steps, E)

    def get_config(self) -> dict[str, Any]:
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "causal": self.causal,
            "dropout": self.dropout,
            "bias": self.bias,
            "init": _initializer_name(self.init, "glorot_uniform"),
        }
