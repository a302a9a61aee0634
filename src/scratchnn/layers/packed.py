r"""A packed ensemble: ``K`` independent networks trained side by side in one model, each layer
one batched matrix product over the members instead of ``K`` products (the "packed" or
"batched" ensembles of TabM, Gorishniy et al. 2024, without their shared weights).

Every member keeps its own weights and gradients; only the arithmetic is stacked. A
:class:`PackedPeriodicEmbedding` in front gives every member its own frequencies. The members'
outputs come out side by side, ``(batch, K, out)``; :class:`~scratchnn.losses.EachMember`
trains each member on its own loss, and :func:`unpacked` turns the trained members into the
ordinary ensemble model, ``Average([Chain([Dense, ...]), ...])``, which saves, predicts and
exports to ONNX like any other.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .. import initializers
from .._validation import check_number, check_positive_int
from ..shapes import Shape
from .activations import Activation
from .base import Layer, layers
from .dense import Dense
from .ensemble import Average, Chain
from .numeric_embedding import TWO_PI, PeriodicEmbedding
from .regularization import Dropout

__all__ = ["PackedDense", "PackedPeriodicEmbedding", "pack", "packable", "unpacked"]


@layers.register()
class PackedDense(Layer):
    r"""``K`` fully connected layers side by side, member ``k`` with its own ``W_k`` and
    ``b_k``:

    .. math::
        z_k = x_k W_k + b_k \qquad (k = 1, \dots, K)

    The first layer of a packed network gives every member the same input: ``x_k = x``.

    Backward, given ``g_k = ∂L/∂z_k``:

    .. math::
        ∂L/∂W_k = x_k^T g_k, \qquad ∂L/∂b_k = \sum_{batch} g_k, \qquad
        ∂L/∂x_k = g_k W_k^T \quad \Bigl(\text{shared input: } ∂L/∂x = \sum_k g_k W_k^T\Bigr)

    Args:
        in_features: size of each member's input row.
        out_features: size of each member's output row.
        members: how many members ``K``.
        shared_input: whether the input is one ``(batch, in)`` array for all members (the
            first layer) rather than ``(batch, K, in)``.
        init: the initializer of each member's ``W_k`` (``"auto"``: He after a ReLU-family
            activation, else Glorot; the model's hint), drawn member by member with the
            shape of one Dense layer's weights.
        l2: the L2 penalty λ₂ on every member's weights: :math:`λ_2 \sum_k \sum W_k^2` in the
            loss, :math:`2 λ_2 W_k` in ``∂L/∂W_k``.

    Shapes:
        x: ``(batch, in)`` (shared) or ``(batch, K, in)``, W: ``(K, in, out)``,
        b: ``(K, out)``, z: ``(batch, K, out)``.

    The outputs are views of a ``(K, batch, out)`` array: the next layer's product reads each
    member's rows contiguously, with no copy between layers.

    Example:
        >>> layer = PackedDense(3, 2, members=4, shared_input=True)
        >>> layer.build(np.random.default_rng(0), np.float64)
        >>> layer.forward(np.ones((5, 3))).shape
        (5, 4, 2)
        >>> x = np.ones((5, 3))
        >>> bool(np.allclose(layer.forward(x)[:, 1], layer.member(1).forward(x)))
        True
    """

    can_skip_input_grad = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        members: int,
        shared_input: bool = False,
        init: str = "auto",
        l2: float = 0.0,
    ) -> None:
        super().__init__()
        self._in = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.members = check_positive_int("members", members)
        self.shared_input = bool(shared_input)
        if init != "auto":
            initializers.get(init)
        self.init = init
        self.l2 = check_number("l2", l2, 0.0)
        #: Where the initial draws of W's rows go (None: in order). :func:`pack` sets it after
        #: a blocks-order embedding, to its feature_order: each row is drawn where the
        #: unpacked member's Dense layer has it, so that a seed starts the same network as
        #: in PeriodicEmbedding's order. (Not part of the config: it only places draws.)
        self.drawn_order: np.ndarray | None = None
        self._x: np.ndarray | None = None
        self._ones = np.ones(0)

    @property
    def in_features(self) -> int:
        return self._in

    @property
    def input_shape(self) -> Shape:
        return (self._in,) if self.shared_input else (self.members, self._in)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (self.members, self.out_features)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        k = self.members
        return {"W": (k, self._in, self.out_features), "b": (k, self.out_features)}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def build(
        self,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
        init_hint: str | None = None,
    ) -> None:
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        init = initializers.get(init_hint or "glorot_uniform" if self.init == "auto" else self.init)
        shape = (self._in, self.out_features)
        W = np.stack([init(shape, r, self.dtype) for r in rng.spawn(self.members)])
        if self.drawn_order is not None:
            W[:, self.drawn_order] = W.copy()  # row p drawn for the feature at drawn_order[p]
        self.params["W"] = W
        self.params["b"] = np.zeros((self.members, self.out_features), dtype=self.dtype)
        for name, value in self.params.items():
            self.grads[name] = np.zeros_like(value)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        xk = x if self.shared_input else x.transpose(1, 0, 2)  # (K, batch, in), or shared
        self._x = xk
        z = np.matmul(xk, self.params["W"])  # (K, batch, out)
        z += self.params["b"][:, None, :]
        return z.transpose(1, 0, 2)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads`` and return ``∂L/∂x`` (None with ``input_grad=False``)."""
        g = grad_out.transpose(1, 0, 2)  # (K, batch, out)
        x, W = self._x, self.params["W"]
        np.matmul(x.T if self.shared_input else x.transpose(0, 2, 1), g, out=self.grads["W"])
        if self.l2:
            self.grads["W"] += (2 * self.l2) * W
        rows = g.shape[1]
        ones = self._ones  # ∂L/∂b_k = 1ᵀ g_k, a BLAS product (as Dense)
        if ones.shape[0] < rows or ones.dtype != g.dtype:  # (kept for an epoch's last batch)
            ones = self._ones = np.ones(rows, dtype=g.dtype)
        np.matmul(ones[:rows], g, out=self.grads["b"])
        if not input_grad:
            return None
        if self.out_features == 1:  # g_k W_kᵀ of one column is an outer product: no BLAS call
            dx = g * W.transpose(0, 2, 1)  # (K, batch, 1) x (K, 1, in)
            return dx.sum(axis=0) if self.shared_input else dx.transpose(1, 0, 2)
        # ∂L/∂x_k = g_k W_kᵀ, written C-contiguous (K, batch, in) as the layer below keeps its
        # activations: the activation's backward then reads both in one order (computing
        # W_k g_kᵀ and reading it transposed was 3x slower through ReLU at batch 512).
        # (Wᵀ copied contiguous first: NumPy's stacked product of a transposed operand is
        # slower than the copy and a plain product, 32+4 µs against 44 for 3 x 64 x 32.)
        dx = np.matmul(g, np.ascontiguousarray(W.transpose(0, 2, 1)))  # (K, batch, in)
        return dx.sum(axis=0) if self.shared_input else dx.transpose(1, 0, 2)

    @property
    def has_penalty(self) -> bool:
        return bool(self.l2)

    def penalty(self) -> float:
        flat = self.params["W"].ravel()
        return self.l2 * float(np.dot(flat, flat))

    def member(self, k: int) -> Dense:
        """Member ``k`` as a :class:`~scratchnn.layers.Dense` layer of its own (a copy of its
        weights)."""
        dense = Dense(self._in, self.out_features, l2=self.l2)
        dense.build(np.random.default_rng(0), self.dtype)  # (its draws are overwritten)
        dense.params["W"][...] = self.params["W"][k]
        dense.params["b"][...] = self.params["b"][k]
        return dense

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self._in,
            "out_features": self.out_features,
            "members": self.members,
            "shared_input": self.shared_input,
            "init": self.init,
            "l2": self.l2,
        }


@layers.register()
class PackedPeriodicEmbedding(Layer):
    r"""``K`` :class:`~scratchnn.layers.PeriodicEmbedding` layers side by side, member ``k``
    with its own frequencies ``C_k``, all reading the same row ``x``:

    .. math::
        a_{kji} = 2π\, C_{kji}\, x_j, \qquad
        y_k = \bigl[\sin a_{k··},\ \cos a_{k··},\ x_s, \dots, x_{n-1}\bigr]

    where :math:`\sin a_{k··}` is member ``k``'s ``m·k`` sines, feature by feature
    (:math:`\sin a_{k00}, \dots, \sin a_{k0,k-1}, \sin a_{k10}, \dots`), and
    :math:`\cos a_{k··}` its cosines in the same order. These are one PeriodicEmbedding's
    features in another order (it keeps each feature's sines and cosines together):
    ``y[..., layer.feature_order()]`` is PeriodicEmbedding's order, and :func:`unpacked`
    reorders the next Dense layer's rows to match. In this order the sines, the cosines and
    their gradients are whole rows of ``m·k`` numbers, which NumPy runs through 2-3 times
    faster than runs of ``k`` (``order="features"`` keeps PeriodicEmbedding's order: files
    saved before this order have it).

    Backward, given ``g_k = ∂L/∂y_k`` split as the output is:

    .. math::
        δ_{kji} = g^{\sin}_{kji} \cos a_{kji} - g^{\cos}_{kji} \sin a_{kji}, \qquad
        ∂L/∂C_{kji} = 2π \sum_{batch} x_j\, δ_{kji}, \qquad
        ∂L/∂x_j = 2π \sum_k \sum_i C_{kji}\, δ_{kji}\ (j < m), \qquad
        ∂L/∂x_{s:} \mathrel{+}= \sum_k g^{rest}_k

    (the input is shared, so its gradient sums the members'). Frequencies of its own keep a
    member whole: its early-stopped best epoch restores its embedding with its Dense layers.

    Args:
        in_features: features per row ``n``.
        numeric: how many of the first features to embed (``m``; None: all).
        frequencies: frequencies ``k`` per feature.
        members: how many members ``K``.
        sigma: the standard deviation of the frequencies' initialization, ``N(0, σ²)``.
        keep_inputs: whether the embedded numbers pass through too (``s = 0``, else ``m``).
        order: ``"blocks"`` (all sines, then all cosines, as above) or ``"features"``
            (PeriodicEmbedding's order, each feature's sines then its cosines).

    Shapes:
        x: ``(batch, n)``, C: ``(K, m, k)``, y: ``(batch, K, 2·k·m + n - s)``, a view of a
        ``(K, batch, ...)`` array, as :class:`PackedDense` keeps its outputs.

    Example:
        >>> layer = PackedPeriodicEmbedding(3, numeric=2, frequencies=4, members=5)
        >>> layer.build(np.random.default_rng(0), np.float64)
        >>> x = np.ones((6, 3))
        >>> layer.forward(x).shape
        (6, 5, 17)
        >>> member = layer.forward(x)[:, 1]  # member 1, in PeriodicEmbedding's order:
        >>> bool(np.allclose(member[:, layer.feature_order()], layer.member(1).forward(x)))
        True
    """

    can_skip_input_grad = True
    ORDERS = ("blocks", "features")

    def __init__(
        self,
        in_features: int,
        numeric: int | None = None,
        frequencies: int = 8,
        members: int = 1,
        sigma: float = 0.1,
        keep_inputs: bool = False,
        order: str = "blocks",
    ) -> None:
        super().__init__()
        one = PeriodicEmbedding(in_features, numeric, frequencies, sigma, keep_inputs)
        self._in, self.numeric, self.frequencies = one.in_features, one.numeric, one.frequencies
        self.sigma, self.keep_inputs = one.sigma, one.keep_inputs
        self.out_features, self.passed = one.out_features, one.passed
        self.members = check_positive_int("members", members)
        if order not in self.ORDERS:
            raise ValueError(f"order must be one of {self.ORDERS}. Received: order={order!r}.")
        self.order = order
        self._x: np.ndarray | None = None
        self._sin: np.ndarray | None = None
        self._cos: np.ndarray | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PackedPeriodicEmbedding:
        # a config without an order was saved before the blocks order: its next layer's
        # weights expect PeriodicEmbedding's order
        return cls(**{"order": "features", **config})

    def feature_order(self) -> np.ndarray:
        """The index that puts one member's outputs in PeriodicEmbedding's order (feature
        ``j``'s ``k`` sines, its ``k`` cosines, then the next feature's; the passed-through
        features last): ``y_k[..., index]``. The identity for ``order="features"``."""
        return self._from_blocks() if self.order == "blocks" else np.arange(self.out_features)

    def _from_blocks(self) -> np.ndarray:
        """The blocks order's positions in PeriodicEmbedding's: ``(j, sin|cos, i)`` reads
        ``(sin|cos, j, i)``."""
        m, k = self.numeric, self.frequencies
        index = np.arange(self.out_features)
        index[: 2 * m * k] = np.arange(2 * m * k).reshape(2, m, k).transpose(1, 0, 2).ravel()
        return index

    @property
    def in_features(self) -> int:
        return self._in

    @property
    def input_shape(self) -> Shape:
        return (self._in,)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (self.members, self.out_features)

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {"C": (self.members, self.numeric, self.frequencies)}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def build(
        self,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
        init_hint: str | None = None,
    ) -> None:
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        shape = (self.numeric, self.frequencies)  # drawn member by member, as PackedDense's W
        draws = [self.sigma * r.standard_normal(shape) for r in rng.spawn(self.members)]
        self.params["C"] = np.stack(draws).astype(self.dtype)
        self.grads["C"] = np.zeros_like(self.params["C"])

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not self.built:
            self.build(dtype=x.dtype)
        q, K = self.numeric * self.frequencies, self.members
        self._x = x
        # x_j repeated k times, (batch, m·k) in C's order: the product with each member's
        # 2πC then broadcasts over whole rows (over k alone it ran 3x slower)
        self._xr = np.repeat(x[:, : self.numeric], self.frequencies, axis=1)
        angles = self._xr * (TWO_PI * self.params["C"]).reshape(K, 1, q)  # (K, batch, m·k)
        out = np.empty((K, len(x), self.out_features), dtype=angles.dtype)
        self._sin, self._cos = out[:, :, :q], out[:, :, q : 2 * q]  # views, read by backward
        np.sin(angles, out=self._sin)
        np.cos(angles, out=self._cos)
        out[:, :, 2 * q :] = x[None, :, self.passed :]
        y = out.transpose(1, 0, 2)
        return y if self.order == "blocks" else y[..., self._from_blocks()]

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads["C"]`` and return ``∂L/∂x`` (None with ``input_grad=False``)."""
        m, k, K, x = self.numeric, self.frequencies, self.members, self._x
        q = m * k
        if self.order == "features":  # to the blocks order the arithmetic runs in
            blocks = np.empty_like(grad_out)
            blocks[..., self._from_blocks()] = grad_out
            grad_out = blocks
        g = grad_out.transpose(1, 0, 2)  # (K, batch, out)
        delta = g[:, :, :q] * self._cos  # ∂L/∂a: (K, batch, m·k)
        delta -= g[:, :, q : 2 * q] * self._sin
        grads = np.einsum("bq,kbq->kq", self._xr, delta).reshape(K, m, k)
        np.multiply(TWO_PI, grads, out=self.grads["C"])
        if not input_grad:
            return None
        grad_x = np.zeros(x.shape, dtype=grad_out.dtype)
        two_pi_c = (TWO_PI * self.params["C"]).reshape(K, q)
        grad_x[:, :m] = np.einsum("kbq,kq->bq", delta, two_pi_c).reshape(len(x), m, k).sum(-1)
        grad_x[:, self.passed :] += g[:, :, 2 * q :].sum(axis=0)
        return grad_x

    def member(self, k: int) -> PeriodicEmbedding:
        """Member ``k`` as a :class:`~scratchnn.layers.PeriodicEmbedding` of its own (a copy
        of its frequencies; its outputs are this layer's in :meth:`feature_order`)."""
        one = PeriodicEmbedding(
            self._in, self.numeric, self.frequencies, self.sigma, self.keep_inputs
        )
        one.build(np.random.default_rng(0), self.dtype)  # (its draws are overwritten)
        one.params["C"][...] = self.params["C"][k]
        return one

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self._in,
            "numeric": self.numeric,
            "frequencies": self.frequencies,
            "members": self.members,
            "sigma": self.sigma,
            "keep_inputs": self.keep_inputs,
            "order": self.order,
        }


#: The layers that hold ``members`` of their own, each with a ``member(k)``.
PACKED = (PackedDense, PackedPeriodicEmbedding)


def _elementwise(layer: Layer) -> bool:
    return isinstance(layer, (Activation, Dropout))


def packable(stack: list[Layer]) -> str | None:
    """Why the network ``stack`` cannot be packed by :func:`pack`, or None if it can: after
    its first Dense layer (or its PeriodicEmbedding, which becomes each member's own) it may
    hold only Dense layers (no L1 penalty, no activation of their own) and activations or
    dropout between them."""
    dense = [i for i, layer in enumerate(stack) if isinstance(layer, Dense)]
    if not dense:
        return "it has no Dense layer"
    embedding = [
        i for i, layer in enumerate(stack[: dense[0]]) if isinstance(layer, PeriodicEmbedding)
    ]
    members_from = embedding[0] + 1 if embedding else dense[0]  # each member's own layers
    for layer in stack[members_from : dense[0]]:
        if not _elementwise(layer):
            return (
                f"{type(layer).__name__} comes between the PeriodicEmbedding and the first "
                "Dense layer (each member's layers from the embedding on must be Dense or "
                "elementwise; put it before the embedding)"
            )
    for layer in stack[dense[0] :]:
        if isinstance(layer, Dense):
            if layer.l1 or layer.activation is not None or not layer.bias:
                return f"{layer!r} has an L1 penalty, its own activation or no bias"
        elif not _elementwise(layer):
            return f"it holds {type(layer).__name__}, which acts across a row's features"
    return None


def pack(stack: list[Layer], members: int) -> list[Layer]:
    """The network ``stack`` (``[front..., Dense, activation, ..., Dense]``, unbuilt) with
    ``members`` members side by side: every Dense a :class:`PackedDense`, a
    ``PeriodicEmbedding`` in front a :class:`PackedPeriodicEmbedding` (frequencies per
    member), the other layers before the first Dense (a ``Standardize``) shared by all members
    and the elementwise layers between the Dense layers acting on every member's rows. The
    first PackedDense reads a shared input unless an embedding split it per member.
    :func:`unpacked` turns the trained result back into ordinary layers.

    Example:
        >>> from scratchnn import ReLU
        >>> [type(layer).__name__ for layer in pack([Dense(3, 4), ReLU(), Dense(4, 1)], 5)]
        ['PackedDense', 'ReLU', 'PackedDense']
    """
    why = packable(stack)
    if why is not None:
        raise ValueError(f"This network cannot be packed: {why}.")
    first = next(i for i, layer in enumerate(stack) if isinstance(layer, Dense))
    packed: list[Layer] = []
    for layer in stack[:first]:
        if isinstance(layer, PeriodicEmbedding):
            layer = PackedPeriodicEmbedding(
                layer.in_features,
                layer.numeric,
                layer.frequencies,
                members,
                layer.sigma,
                layer.keep_inputs,
            )
        packed.append(layer)
    for layer in stack[first:]:
        if isinstance(layer, Dense):
            # the packed layer before it (elementwise ones between them keep the order); none:
            # the first Dense layer reads the shared front's output
            before = next((done for done in reversed(packed) if isinstance(done, PACKED)), None)
            dense = PackedDense(
                layer.in_features,
                layer.out_features,
                members,
                shared_input=before is None,
                init=layer.init,
                l2=layer.l2,
            )
            if isinstance(before, PackedPeriodicEmbedding) and before.order == "blocks":
                dense.drawn_order = before.feature_order()
            packed.append(dense)
        else:
            packed.append(layer)
    return packed


def unpacked(packed: list[Layer]) -> list[Layer]:
    """The trained members of a packed network (as :func:`pack` made it) as ordinary layers:
    copies of the shared front layers, then ``Average([Chain([Dense, ReLU, ...]), ...])``,
    member ``k`` with member ``k``'s weights (a chain starts with its ``PeriodicEmbedding``
    where the network had a packed one, and the next Dense layer's rows follow that
    embedding's order: :meth:`PackedPeriodicEmbedding.feature_order`). Every layer is new,
    so the result makes a model of its own while the packed one lives on.

    Example:
        >>> from scratchnn import ReLU
        >>> net = pack([Dense(3, 4), ReLU(), Dense(4, 1)], 2)
        >>> for layer in net:
        ...     layer.build(np.random.default_rng(0), np.float64)
        >>> x = out = np.ones((5, 3))
        >>> for layer in net:
        ...     out = layer.forward(out)
        >>> [average] = unpacked(net)
        >>> bool(np.allclose(average.forward(x), out.mean(axis=1)))
        True
    """
    first = next(i for i, layer in enumerate(packed) if isinstance(layer, PACKED))
    sizes = {layer.members for layer in packed if isinstance(layer, PACKED)}
    if len(sizes) != 1:
        raise ValueError(f"A packed network's layers must share one member count; {sizes}.")
    chains = []
    for k in range(sizes.pop()):
        chain, order = [], None
        for layer in packed[first:]:
            if isinstance(layer, PACKED):
                one = layer.member(k)
                if isinstance(layer, PackedPeriodicEmbedding):
                    order = layer.feature_order()
                elif order is not None:  # the rows of W in the member's embedding's order
                    one.params["W"][...] = one.params["W"][order]
                    order = None
            else:
                one = type(layer).from_config(layer.get_config())  # an elementwise layer's copy
            chain.append(one)
        chains.append(Chain(chain))
    front = copy.deepcopy(packed[:first])  # (its weights and buffers too, as clone copies)
    for layer in front:
        layer._in_model = False
    return [*front, Average(chains)]
