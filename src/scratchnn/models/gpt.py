r"""A small GPT: a decoder-only transformer language model, built from plain layers.

.. code-block:: text

    token ids (batch, time)
    Embedding(V, d) → PositionalEmbedding(context, d)
    N × [ Residual([LayerNorm(d), MultiHeadAttention(d, heads, causal=True)]),
          Residual([LayerNorm(d), Dense(d, 4d), GELU(tanh), Dense(4d, d)]) ]
    LayerNorm(d) → Dense(d, V)                                  logits (batch, time, V)

Each block is pre-norm (the layer norm sits inside the residual branch, so the identity path
from the embeddings to the head is never normalized away). Trained with
:class:`~scratchnn.losses.SequenceCrossEntropy` on ``targets = ids shifted by one``, the model
learns ``p(x_{t+1} | x_1 … x_t)``; :func:`generate` samples from it one token at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_int, check_number, check_positive_int, check_seed
from ..functional import softmax
from ..layers import (
    GELU,
    Dense,
    Dropout,
    Embedding,
    Layer,
    LayerNorm,
    MultiHeadAttention,
    PositionalEmbedding,
)
from ..layers.base import walk
from ..layers.residual import Residual
from ..model import Sequential
from .tokenizer import CharTokenizer

__all__ = ["GPT", "attention_maps", "context_length", "generate"]


def GPT(  # noqa: N802 - a factory that reads like a class, as MLP
    vocab_size: int,
    context: int,
    width: int = 128,
    depth: int = 4,
    heads: int = 4,
    mlp_ratio: int = 4,
    dropout: float = 0.0,
    gelu: str = "tanh",
    seed: int | None = None,
    dtype: Any = np.float32,
) -> Sequential:
    """A GPT as a :class:`~scratchnn.Sequential` of plain layers (see the module's docstring).

    Args:
        vocab_size: tokens V.
        context: the longest sequence (positions learned).
        width: features per position d (a multiple of ``heads``).
        depth: transformer blocks N.
        heads: attention heads per block.
        mlp_ratio: the MLP's hidden width, in multiples of d.
        dropout: dropout on the attention weights and after each branch, in training.
        gelu: the MLP's GELU, ``"tanh"`` (GPT-2's approximation, the default: a third of the
            exact one's cost in NumPy) or ``"none"`` (exact, with erf).
        seed, dtype: as for :class:`~scratchnn.Sequential`.

    Example:
        >>> model = GPT(vocab_size=10, context=8, width=16, depth=1, heads=2, seed=0)
        >>> model.forward(np.array([[1, 2, 3]])).shape
        (1, 3, 10)
    """
    vocab_size = check_positive_int("vocab_size", vocab_size)
    context = check_positive_int("context", context)
    width = check_positive_int("width", width)
    depth = check_positive_int("depth", depth)
    heads = check_positive_int("heads", heads)
    mlp_ratio = check_positive_int("mlp_ratio", mlp_ratio)
    dropout = check_number("dropout", dropout, 0.0, 1.0, high_open=True)
    if width % heads:
        raise ValueError(
            f"width must be a multiple of heads. Received: width={width}, heads={heads}."
        )

    def branch_dropout() -> list[Layer]:
        return [Dropout(dropout)] if dropout else []

    layers: list[Layer] = [
        Embedding(vocab_size, width, init="normal"),
        PositionalEmbedding(context, width),
    ]
    for _ in range(depth):
        attend = [LayerNorm(width), MultiHeadAttention(width, heads, causal=True, dropout=dropout)]
        mlp = [
            LayerNorm(width),
            Dense(width, mlp_ratio * width),
            GELU(approximate=gelu),
            Dense(mlp_ratio * width, width),
        ]
        layers.append(Residual(attend + branch_dropout()))
        layers.append(Residual(mlp + branch_dropout()))
    layers += [LayerNorm(width), Dense(width, vocab_size)]
    return Sequential(layers, seed=seed, dtype=dtype)


def context_length(model: Sequential) -> int | None:
    """The longest sequence ``model`` takes: its PositionalEmbedding's ``max_length`` (None if
    it has none, e.g. a recurrent language model)."""
    for layer in model.layers:
        if isinstance(layer, PositionalEmbedding):
            return layer.max_length
    return None


def attention_maps(model: Sequential, ids: Sequence[int] | np.ndarray) -> list[np.ndarray]:
    """The attention weights of every MultiHeadAttention in ``model`` (inside residual blocks
    too, in order) for one inference pass over ``ids``: one ``(batch, heads, time, time)``
    array per layer, row i of a head showing where query i looked. Ready for
    ``matplotlib.pyplot.imshow`` (one image per head).

    Example:
        >>> model = GPT(vocab_size=5, context=4, width=8, depth=2, heads=2, seed=0)
        >>> [a.shape for a in attention_maps(model, [[1, 2, 3]])]
        [(1, 2, 3, 3), (1, 2, 3, 3)]
    """
    model.forward(np.asarray(ids))
    return [
        inner.internals()["attention_weights"]
        for layer in model.layers
        for _, inner in walk(layer)
        if isinstance(inner, MultiHeadAttention)
    ]


def generate(
    model: Sequential,
    prompt: str | Sequence[int] | np.ndarray,
    n: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    tokenizer: CharTokenizer | None = None,
    context: int | None = None,
) -> str | np.ndarray:
    r"""Continue ``prompt`` by ``n`` tokens, sampled one at a time from the model.

    At each step the model reads the last ``context`` tokens and gives the logits ``z`` of the
    next one; the token is drawn from :math:`\operatorname{softmax}(z / T)` restricted to the
    ``top_k`` most likely tokens. ``temperature=0`` takes the most likely token (greedy).

    Args:
        model: a language model: token ids ``(batch, time)`` to logits ``(batch, time, V)``.
        prompt: a string (with ``tokenizer``) or token ids; at least one token.
        n: tokens to add.
        temperature: T >= 0; below 1 sharpens the distribution, above 1 flattens it.
        top_k: sample among the k most likely tokens only (None: all).
        seed: seeds the draws (None: fresh entropy); the same seed gives the same text.
        tokenizer: encodes a string prompt and decodes the result (by default the one
            attached to the model, :meth:`CharTokenizer.attach`, if any).
        context: the most recent tokens the model reads at each step (by default its
            PositionalEmbedding's length; a recurrent model without one reads them all, so
            give it the window it was trained on).

    Returns:
        The prompt and its continuation: a string with a tokenizer, else the ids.
    """
    n = check_int("n", n, 0)
    temperature = check_number("temperature", temperature, 0.0)
    if top_k is not None:
        top_k = check_positive_int("top_k", top_k)
    rng = np.random.default_rng(check_seed(seed))
    if tokenizer is None:
        tokenizer = CharTokenizer.from_model(model)
    if isinstance(prompt, str):
        if tokenizer is None:
            raise ValueError("A string prompt needs the tokenizer that encodes it.")
        ids = tokenizer.encode(prompt)
    else:
        ids = np.asarray(prompt, dtype=np.intp).ravel()
    if ids.size == 0:
        raise ValueError("generate needs a prompt of at least one token.")
    context = context_length(model) if context is None else check_positive_int("context", context)
    ids = list(ids)
    for _ in range(n):
        window = np.array([ids if context is None else ids[-context:]])
        logits = model.forward(window)[0, -1].astype(np.float64)
        if temperature == 0:
            ids.append(int(np.argmax(logits)))
            continue
        logits = logits / temperature
        if top_k is not None and top_k < logits.size:
            cutoff = np.partition(logits, -top_k)[-top_k]
            logits = np.where(logits >= cutoff, logits, -np.inf)
        p = softmax(logits)
        ids.append(int(rng.choice(p.size, p=p)))
    result = np.array(ids, dtype=np.intp)
    return tokenizer.decode(result) if tokenizer is not None else result
