r"""Embeddings: token ids to vectors, and where each token sits in its sequence.

A language model reads integer token ids ``(batch, time)``. :class:`Embedding` looks each id up
in a table of learned vectors; :class:`PositionalEmbedding` (learned) and
:class:`SinusoidalEncoding` (fixed) add a vector that depends on the position ``t`` only, since
attention by itself does not know the order of its inputs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .. import initializers
from .._validation import check_number, check_positive_int
from ..shapes import Shape
from .base import Layer, ParameterFree, layers
from .dense import _initializer_name

__all__ = ["Embedding", "PositionalEmbedding", "SinusoidalEncoding", "sinusoidal_table"]


def _token_ids(x: np.ndarray, vocabulary: int, layer: Layer) -> np.ndarray:
    """``x`` as an integer array of ids in ``[0, vocabulary)``; floats holding whole numbers
    are accepted (a model's forward casts its input to the model's dtype)."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)) or not np.array_equal(x, np.round(x)):
            raise ValueError(
                f"{layer!r} takes integer token ids; received {x.dtype} values that are not "
                "whole numbers."
            )
        x = x.astype(np.intp)
    elif x.dtype.kind not in "iub":
        raise ValueError(f"{layer!r} takes integer token ids; received an array of {x.dtype}.")
    if x.size and (x.min() < 0 or x.max() >= vocabulary):
        raise ValueError(
            f"{layer!r} takes token ids in [0, {vocabulary}); received ids from {x.min()} to "
            f"{x.max()}."
        )
    return x


@layers.register()
class Embedding(Layer):
    r"""A learned vector for each token id: row ``x`` of a table ``W``.

    .. math::
        y_{bt} = W_{x_{bt}}, \qquad
        ∂L/∂W_v = \sum_{(b, t):\, x_{bt} = v} ∂L/∂y_{bt}

    The lookup is the product of a one-hot row with ``W``; the backward is its transpose, a
    *scatter-add*: each position's gradient is added to the row of its token (the positions
    grouped by token, each group summed), with no one-hot matrix ever formed. Rows of tokens
    absent from the batch get 0.

    The input is discrete: the output is a step function of the ids, so ``backward`` returns
    zeros of the ids' shape for ``∂L/∂x`` (None with ``input_grad=False``, which a model's
    ``fit`` passes to its first layer, so nothing is computed there).

    Args:
        num_embeddings: vocabulary size V (ids are ``0 .. V-1``).
        embedding_dim: size D of each vector.
        init: initializer of ``W`` (``"standard_normal"``, N(0, 1), as PyTorch's).

    Shapes:
        x: ``(batch, time)`` integer ids (any shape of ids works), W: ``(V, D)``,
        y: ``(batch, time, D)``.

    Example:
        >>> layer = Embedding(10, 4)
        >>> layer.build(np.random.default_rng(0), np.float64)
        >>> layer.forward(np.array([[1, 2, 1]])).shape
        (1, 3, 4)
    """

    #: The model's input validation reads this: the layer takes integer token ids.
    input_kind: ClassVar[str] = "int"
    can_skip_input_grad = True

    def __init__(
        self, num_embeddings: int, embedding_dim: int, init: str | Any = "standard_normal"
    ) -> None:
        super().__init__()
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        initializers.get(init)  # an unknown name fails now, not at build time
        self.init = init
        self._ids: np.ndarray | None = None

    @property
    def input_shape(self) -> Shape:
        return (None,)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.embedding_dim)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"W": (self.num_embeddings, self.embedding_dim)}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        shape = (self.num_embeddings, self.embedding_dim)
        self.params["W"] = initializers.get(self.init)(shape, rng, self.dtype)
        self.grads["W"] = np.zeros(shape, dtype=self.dtype)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build()
        self._ids = _token_ids(x, self.num_embeddings, self)
        return self.params["W"][self._ids]

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads["W"]`` by scatter-add; return zeros shaped like the ids (a step
        function has derivative 0), or None with ``input_grad=False``."""
        grad_w = self.grads["W"]
        grad_w[...] = 0
        ids, rows = self._ids.reshape(-1), grad_out.reshape(-1, self.embedding_dim)
        if ids.size:
            # The positions grouped by token (a stable sort: in their order), each group's
            # rows summed at once: the scatter-add of np.add.at(grad_w, ids, rows), ~6x faster
            # for a language model's batch, as np.add.at adds one row at a time.
            order = np.argsort(ids, kind="stable")
            tokens = ids[order]
            starts = np.flatnonzero(np.r_[True, tokens[1:] != tokens[:-1]])
            grad_w[tokens[starts]] = np.add.reduceat(rows[order], starts, axis=0)
        return np.zeros(self._ids.shape, dtype=grad_out.dtype) if input_grad else None

    def get_config(self) -> dict[str, Any]:
        return {
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "init": _initializer_name(self.init, "standard_normal"),
        }


def _check_length(length: int, max_length: int, layer: Layer) -> None:
    if length > max_length:
        raise ValueError(
            f"{layer!r} takes sequences of at most {max_length} steps; received {length}."
        )


@layers.register()
class PositionalEmbedding(Layer):
    r"""Adds a learned vector for each position: ``y_{bt} = x_{bt} + P_t``.

    .. math::
        ∂L/∂P_t = \sum_b ∂L/∂y_{bt}, \qquad ∂L/∂x = ∂L/∂y

    Positions beyond the input's length get a zero gradient.

    Args:
        max_length: the longest sequence (the rows of ``P``).
        embedding_dim: features per step D.
        init: initializer of ``P`` (``"normal"``, N(0, 0.01²)).

    Shapes: x ``(batch, time, D)`` with ``time <= max_length``, P ``(max_length, D)``,
    y as x.
    """

    def __init__(self, max_length: int, embedding_dim: int, init: str | Any = "normal") -> None:
        super().__init__()
        self.max_length = check_positive_int("max_length", max_length)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        initializers.get(init)
        self.init = init

    @property
    def input_shape(self) -> Shape:
        return (None, self.embedding_dim)

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"P": (self.max_length, self.embedding_dim)}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        shape = (self.max_length, self.embedding_dim)
        self.params["P"] = initializers.get(self.init)(shape, rng, self.dtype)
        self.grads["P"] = np.zeros(shape, dtype=self.dtype)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        self._length = length = x.shape[-2]
        _check_length(length, self.max_length, self)
        return x + self.params["P"][:length]

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        length = self._length
        grad_p = self.grads["P"]
        np.sum(grad_out.reshape(-1, length, self.embedding_dim), axis=0, out=grad_p[:length])
        grad_p[length:] = 0
        return grad_out

    def get_config(self) -> dict[str, Any]:
        return {
            "max_length": self.max_length,
            "embedding_dim": self.embedding_dim,
            "init": _initializer_name(self.init, "normal"),
        }


def sinusoidal_table(length: int, dim: int, base: float = 10000.0) -> np.ndarray:
    r"""The fixed encodings of "Attention is all you need", ``(length, dim)`` in float64:

    .. math::
        E_{t, 2i} = \sin(t / b^{2i/D}), \qquad E_{t, 2i+1} = \cos(t / b^{2i/D})

    Example:
        >>> sinusoidal_table(2, 4).round(3)
        array([[0.   , 1.   , 0.   , 1.   ],
               [0.841, 0.54 , 0.01 , 1.   ]])
    """
    positions = np.arange(length, dtype=np.float64)[:, None]
    frequencies = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = positions * frequencies  # (length, ceil(dim / 2))
    table = np.empty((length, dim))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : dim // 2])
    return table


@layers.register()
class SinusoidalEncoding(ParameterFree):
    r"""Adds the fixed sinusoidal encoding of each position (:func:`sinusoidal_table`):
    ``y_{bt} = x_{bt} + E_t``, ``∂L/∂x = ∂L/∂y``. Nothing is learned, and any length works.

    Args:
        embedding_dim: features per step D.
        base: the base b of the frequencies (10000).

    Shapes: ``(batch, time, D)`` → same.
    """

    def __init__(self, embedding_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.base = check_number("base", base, 1.0, low_open=True)
        self._table = np.zeros((0, self.embedding_dim))

    @property
    def input_shape(self) -> Shape:
        return (None, self.embedding_dim)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        length = x.shape[-2]
        if self._table.shape[0] < length or self._table.dtype != x.dtype:
            size = max(length, 2 * self._table.shape[0])
            self._table = sinusoidal_table(size, self.embedding_dim, self.base).astype(x.dtype)
        return x + self._table[:length]

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out

    def get_config(self) -> dict[str, Any]:
        return {"embedding_dim": self.embedding_dim, "base": self.base}
