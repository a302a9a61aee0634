r"""Recurrent layers: RNN, LSTM and GRU, with full backpropagation through time (BPTT).

A recurrent layer reads a sequence ``x_1 … x_T`` one step at a time, carrying a state ``h``
from step to step. Every step shares the same weights, so the backward pass walks the steps in
reverse, adding each step's share of the weight gradients, and hands the gradient of the state
back one step at a time (see the docs page "Sequences" for the derivation).

Two things make the NumPy version fast:

- the input projection of *every* step, ``x_t W + b``, is one matrix product over the whole
  sequence before the loop (``(T·B, F) @ (F, G·H)``), and likewise ``∂L/∂W``, ``∂L/∂U`` and
  ``∂L/∂x`` are one product each after the backward loop;
- inside the loop, each step costs one product with the recurrent weights, ``h_{t-1} U``.

Conventions follow PyTorch's (gate order, formulas), so the two agree to rounding error:
scratchnn's ``W`` is PyTorch's ``weight_ih_l0`` transposed, ``U`` is ``weight_hh_l0``
transposed, and ``b`` is ``bias_ih_l0 + bias_hh_l0`` (the GRU keeps the two apart, because its
reset gate multiplies the hidden side's bias).

Padded batches: ``forward(x, lengths=...)`` gives each sequence its own length. Past its end a
sequence's state is carried unchanged and its outputs are 0 (PyTorch's packed sequences), so
the final state is the state after the last real step.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .. import initializers
from .._validation import check_bool, check_choice, check_positive_int
from ..functional import sigmoid
from ..shapes import Shape
from .base import Layer, layers
from .dense import _initializer_name

__all__ = ["GRU", "LSTM", "RNN"]


def _contiguous_transpose(U: np.ndarray) -> np.ndarray:
    """``Uᵀ`` as a C-contiguous copy: the backward multiplies by it once per step, and BLAS
    runs the small product ``dz Uᵀ`` about twice as fast from a contiguous matrix as from the
    transposed view."""
    return np.ascontiguousarray(U.T)


class _Recurrent(Layer):
    """What RNN, LSTM and GRU share: the weights ``W`` (input to gates), ``U`` (state to
    gates) and ``b``, the input projection before the loop, padding masks, the outputs, and the
    weight gradients after the backward loop. A cell implements ``_run`` (the forward loop)
    and ``_run_backward`` (the reverse loop)."""

    # One small product and a few elementwise passes per time step: shards of the batch
    # only make the threads queue for the GIL (LSTM LM of bench_sequence: 57 -> 69 ms a step).
    shards_well = False

    #: Number of gates G: the weights hold G blocks of ``hidden_size`` columns.
    gates: ClassVar[int] = 1
    #: Number of state arrays (1: h; 2 for the LSTM: h and c).
    states: ClassVar[int] = 1
    #: Whether the hidden side has its own bias (the GRU's ``b_h``).
    hidden_bias: ClassVar[bool] = False

    def __init__(
        self,
        in_features: int,
        hidden_size: int,
        return_sequences: bool = True,
        init: str | Any = "auto",
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("in_features", in_features)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.return_sequences = check_bool("return_sequences", return_sequences)
        if init != "auto":
            initializers.get(init)
        self.init = init
        #: The state after the last step of the last forward: a tuple (h,) or (h, c).
        self.state: tuple[np.ndarray, ...] | None = None
        #: ∂L/∂(initial state) after backward, as a tuple like ``state``.
        self.initial_state_grad: tuple[np.ndarray, ...] | None = None

    # Shapes ---------------------------------------------------------------------------------

    @property
    def input_shape(self) -> Shape:
        return (None, self.input_size)

    def output_shape(self, input_shape: Shape) -> Shape:
        if self.return_sequences:
            return (input_shape[0], self.hidden_size)
        return (self.hidden_size,)

    def parameter_shapes(self, input_shape: Shape = ()) -> dict[str, tuple[int, ...]]:
        width = self.gates * self.hidden_size
        shapes = {
            "W": (self.input_size, width),
            "U": (self.hidden_size, width),
            "b": (width,),
        }
        if self.hidden_bias:
            shapes["b_h"] = (width,)
        return shapes

    def buffer_shapes(self, input_shape: Shape = ()) -> dict[str, tuple[int, ...]]:
        return {}

    def build(self, rng=None, dtype=np.float32, init_hint=None) -> None:
        super().build(rng, dtype, init_hint)
        rng = np.random.default_rng() if rng is None else rng
        bound = 1 / math.sqrt(self.hidden_size)
        for name, shape in self.parameter_shapes().items():
            if self.init == "auto":  # PyTorch's default: every array from U(-1/√H, 1/√H)
                values = rng.uniform(-bound, bound, size=shape).astype(self.dtype)
            elif name.startswith("b"):
                values = np.zeros(shape, dtype=self.dtype)
            else:
                values = initializers.get(self.init)(shape, rng, self.dtype)
            self.params[name] = values
            self.grads[name] = np.zeros(shape, dtype=self.dtype)

    # Forward --------------------------------------------------------------------------------

    def _initial(self, initial_state: Any, batch: int, dtype: np.dtype) -> list[np.ndarray]:
        shape = (batch, self.hidden_size)
        if initial_state is None:
            return [np.zeros(shape, dtype=dtype) for _ in range(self.states)]
        given = (initial_state,) if isinstance(initial_state, np.ndarray) else initial_state
        given = tuple(given)
        if len(given) != self.states or any(np.shape(s) != shape for s in given):
            what = "(h, c), two arrays" if self.states == 2 else "h, an array"
            raise ValueError(
                f"{self!r}: initial_state must be {what} of shape {shape}; received "
                f"{[np.shape(s) for s in given]}."
            )
        return [np.array(s, dtype=dtype) for s in given]

    def _step_mask(self, lengths: Any, batch: int, steps: int) -> np.ndarray | None:
        """``(T, B, 1)`` booleans, True where step t is inside sequence b; None for no
        padding."""
        if lengths is None:
            return None
        lengths = np.asarray(lengths)
        if (
            lengths.shape != (batch,)
            or lengths.dtype.kind not in "iu"
            or (lengths.size and (lengths.min() < 1 or lengths.max() > steps))
        ):
            raise ValueError(
                f"{self!r}: lengths must be {batch} integers in [1, {steps}] (one per sequence "
                f"of the batch); received {lengths!r}."
            )
        return (np.arange(steps)[:, None] < lengths[None, :])[:, :, None]

    def forward(
        self,
        x: np.ndarray,
        training: bool = False,
        initial_state: Any = None,
        lengths: Any = None,
    ) -> np.ndarray:
        """Run the sequence.

        Args:
            x: ``(batch, time, in_features)``.
            training: unused (no training-only behaviour).
            initial_state: h0 ``(batch, hidden)`` (RNN, GRU) or ``(h0, c0)`` (LSTM); zeros
                if None.
            lengths: ``(batch,)`` integers, each sequence's length (for padded batches).

        Returns:
            ``(batch, time, hidden)`` with ``return_sequences`` (0 past each length), else the
            final state h ``(batch, hidden)``.
        """
        if not self.built:
            self.build(dtype=x.dtype)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(
                f"{self!r} takes (batch, time, {self.input_size}) inputs; received an array of "
                f"shape {x.shape}."
            )
        batch, steps, _ = x.shape
        self._mask = self._step_mask(lengths, batch, steps)
        # Time-major from here on: step t is the contiguous block xt[t].
        self._xt = xt = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=self.dtype)
        W, b = self.params["W"], self.params["b"]
        # Every step's input projection in one product: (T·B, F) @ (F, G·H).
        zx = (xt.reshape(-1, self.input_size) @ W).reshape(steps, batch, -1)
        zx += b
        state = self._initial(initial_state, batch, self.dtype)
        hs = self._run(zx, state)  # (T+1, B, H): hs[0] is h0
        self.state = tuple(s.copy() for s in self._final_state())
        if not self.return_sequences:
            return hs[-1].copy()
        out = hs[1:] if self._mask is None else np.where(self._mask, hs[1:], 0)
        return out.transpose(1, 0, 2)

    def _carry(self, t: int, new: np.ndarray, old: np.ndarray) -> np.ndarray:
        """The state after step t: ``new``, or ``old`` where step t is past a sequence's end."""
        if self._mask is None:
            return new
        return np.where(self._mask[t], new, old)

    def _run(self, zx: np.ndarray, state: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    #: Names of the gates' blocks in ``W``'s columns, in order (PyTorch's).
    gate_names: ClassVar[tuple[str, ...]] = ()

    def internals(self) -> dict[str, np.ndarray]:
        """What the last forward computed inside, batch-major, for inspection and plots:
        every step's state ``h`` ``(batch, time, hidden)`` and, for the gated cells, each
        gate's activations (the LSTM's ``i, f, g, o`` and cell ``c``; the GRU's ``r, z, n``)."""
        H = self.hidden_size
        arrays = {"h": self._hs[1:].transpose(1, 0, 2).copy()}
        acts = getattr(self, "_acts", None)
        for k, name in enumerate(self.gate_names):
            arrays[name] = acts[:, :, k * H : (k + 1) * H].transpose(1, 0, 2).copy()
        if self.states == 2:
            arrays["c"] = self._cs[1:].transpose(1, 0, 2).copy()
        return arrays

    def _final_state(self) -> tuple[np.ndarray, ...]:
        return (self._hs[-1],)

    # Backward -------------------------------------------------------------------------------

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """BPTT: fill ``grads`` and return ``∂L/∂x`` ``(batch, time, in_features)``; the
        gradient of the initial state is left in ``initial_state_grad``."""
        steps, batch, _ = self._xt.shape
        hidden = self.hidden_size
        if self.return_sequences:
            dh_seq = np.ascontiguousarray(grad_out.transpose(1, 0, 2))
            if self._mask is not None:
                dh_seq *= self._mask  # padded outputs are constant 0
            dh_final = np.zeros((batch, hidden), dtype=self.dtype)
        else:  # only the final state is an output
            dh_seq = None
            dh_final = np.array(grad_out, dtype=self.dtype)
        dzx, dzh, d_initial = self._run_backward(dh_seq, dh_final)
        self.initial_state_grad = d_initial
        gates = self.gates * hidden
        dzx_rows = dzx.reshape(-1, gates)
        dzh_rows = dzx_rows if dzh is None else dzh.reshape(-1, gates)
        # The weight gradients of all steps in one product each: Σ_t x_tᵀ dz_t, Σ_t h_{t-1}ᵀ dz_t.
        np.matmul(self._xt.reshape(-1, self.input_size).T, dzx_rows, out=self.grads["W"])
        np.matmul(self._hs[:-1].reshape(-1, hidden).T, dzh_rows, out=self.grads["U"])
        np.sum(dzx_rows, axis=0, out=self.grads["b"])
        if self.hidden_bias:
            np.sum(dzh_rows, axis=0, out=self.grads["b_h"])
        dx = (dzx_rows @ self.params["W"].T).reshape(steps, batch, self.input_size)
        return dx.transpose(1, 0, 2)

    def _run_backward(
        self, dh_seq: np.ndarray | None, dh_final: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None, tuple[np.ndarray, ...]]:
        """The reverse loop: ``(∂L/∂zx, ∂L/∂zh or None if the same, ∂L/∂initial state)``."""
        raise NotImplementedError

    def _split_carry(self, t: int, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Where step t was skipped (padding), the state's gradient passes straight through to
        step t-1: ``(part to the cell, part carried past it)``."""
        if self._mask is None:
            return grad, None
        m = self._mask[t]
        return np.where(m, grad, 0), np.where(m, 0, grad)

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.input_size,
            "hidden_size": self.hidden_size,
            "return_sequences": self.return_sequences,
            "init": _initializer_name(self.init, "auto"),
        }


@layers.register("simple_rnn", "elman")
class RNN(_Recurrent):
    r"""The simple (Elman) recurrent layer, PyTorch's ``nn.RNN``.

    .. math::
        h_t = f(x_t W + h_{t-1} U + b), \qquad f = \tanh \text{ or ReLU}

    BPTT, with :math:`δ_t = ∂L/∂h_t` (from the output at step t plus the next step):

    .. math::
        dz_t = δ_t ⊙ f'(z_t), \qquad δ_{t-1} \mathrel{+}= dz_t U^T, \qquad
        ∂L/∂W = \sum_t x_t^T dz_t, \quad ∂L/∂U = \sum_t h_{t-1}^T dz_t, \quad
        ∂L/∂b = \sum_t dz_t

    Args:
        in_features: features per step F.
        hidden_size: state size H.
        return_sequences: return every step's h ``(batch, time, H)`` (True) or the last
            ``(batch, H)``.
        nonlinearity: ``"tanh"`` (default) or ``"relu"``.
        init: ``"auto"`` (PyTorch's U(-1/√H, 1/√H) for every array) or an initializer name
            for ``W`` and ``U`` (biases then start at 0).

    Shapes: x ``(batch, time, F)``; W ``(F, H)``, U ``(H, H)``, b ``(H,)``.

    Example:
        >>> rnn = RNN(3, 5)
        >>> rnn.build(np.random.default_rng(0), np.float64)
        >>> rnn.forward(np.ones((2, 4, 3))).shape
        (2, 4, 5)
    """

    def __init__(
        self,
        in_features: int,
        hidden_size: int,
        return_sequences: bool = True,
        nonlinearity: str = "tanh",
        init: str | Any = "auto",
    ) -> None:
        super().__init__(in_features, hidden_size, return_sequences, init)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))

    def _run(self, zx: np.ndarray, state: list[np.ndarray]) -> np.ndarray:
        U = self.params["U"]
        self._hs = hs = np.empty((zx.shape[0] + 1, *state[0].shape), dtype=self.dtype)
        hs[0] = state[0]
        for t in range(zx.shape[0]):
            z = zx[t] + hs[t] @ U
            h = np.tanh(z) if self.nonlinearity == "tanh" else np.maximum(z, 0)
            hs[t + 1] = self._carry(t, h, hs[t])
        return hs

    def _run_backward(self, dh_seq, dh_final):
        U_T = _contiguous_transpose(self.params["U"])
        hs = self._hs
        dz = np.empty((hs.shape[0] - 1, *dh_final.shape[:1], self.hidden_size), dtype=self.dtype)
        dh = dh_final
        for t in reversed(range(dz.shape[0])):
            if dh_seq is not None:
                dh = dh + dh_seq[t]
            dh, carried = self._split_carry(t, dh)
            h = hs[t + 1]
            # f'(z) from the output: 1 - h² for tanh, [h > 0] for ReLU.
            dz[t] = dh * (1 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0)
            dh = dz[t] @ U_T
            if carried is not None:
                dh += carried
        return dz, None, (dh,)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "nonlinearity": self.nonlinearity}


@layers.register()
class LSTM(_Recurrent):
    r"""Long short-term memory, PyTorch's ``nn.LSTM`` (gate order i, f, g, o).

    .. math::
        z_t &= x_t W + h_{t-1} U + b = [z^i, z^f, z^g, z^o] \\
        i_t = σ(z^i), \quad f_t &= σ(z^f), \quad g_t = \tanh(z^g), \quad o_t = σ(z^o) \\
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, &\qquad h_t = o_t ⊙ \tanh(c_t)

    BPTT, with :math:`δh_t` and :math:`δc_t` the gradients reaching step t from its output and
    from step t+1:

    .. math::
        δc_t &\mathrel{+}= δh_t ⊙ o_t ⊙ (1 - \tanh^2 c_t) \\
        dz^o = δh_t ⊙ \tanh c_t ⊙ o(1-o), \quad
        dz^i &= δc_t ⊙ g ⊙ i(1-i), \quad
        dz^f = δc_t ⊙ c_{t-1} ⊙ f(1-f), \quad
        dz^g = δc_t ⊙ i ⊙ (1-g^2) \\
        δh_{t-1} = dz_t U^T, &\qquad δc_{t-1} = δc_t ⊙ f_t

    The cell state's path, ``δc_{t-1} = δc_t ⊙ f_t``, has no matrix product and no squashing:
    this is why gradients survive many more steps than in the simple RNN.

    Args:
        in_features: features per step F.
        hidden_size: state size H.
        return_sequences: return every step's h (True) or only the last.
        init: ``"auto"`` (PyTorch's U(-1/√H, 1/√H) for every array) or an initializer name
            for ``W`` and ``U`` (biases then start at 0).

    Shapes: x ``(batch, time, F)``; W ``(F, 4H)``, U ``(H, 4H)``, b ``(4H,)``. The state is
    ``(h, c)``, each ``(batch, H)``.

    The same step written out for one sequence, gate by gate:
    :func:`scratchnn.reference.lstm_forward` (the tests check this layer against it).
    """

    gates = 4
    states = 2
    gate_names = ("i", "f", "g", "o")

    def _run(self, zx: np.ndarray, state: list[np.ndarray]) -> np.ndarray:
        U, H = self.params["U"], self.hidden_size
        steps = zx.shape[0]
        self._hs = hs = np.empty((steps + 1, *state[0].shape), dtype=self.dtype)
        self._cs = cs = np.empty_like(hs)
        self._acts = acts = np.empty_like(zx)  # i, f, g, o after their squashing
        self._tanh_c = tanh_c = np.empty_like(hs[1:])
        hs[0], cs[0] = state
        # All four gates with one tanh per step: σ(z) = ½ + ½ tanh(z/2). The halving is folded
        # into the pre-activations once (zx and U scaled by ½ on the i, f, o columns), and
        # a = m ⊙ tanh(z) + k turns the i, f, o columns into sigmoids (m = ½, k = ½; g: 1, 0).
        m, k = self._gate_affine()
        zx *= m
        U = U * m
        for t in range(steps):
            a = acts[t]
            np.matmul(hs[t], U, out=a)
            a += zx[t]
            np.tanh(a, out=a)
            a *= m
            a += k
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c = f * cs[t]
            c += i * g
            np.tanh(c, out=tanh_c[t])
            cs[t + 1] = self._carry(t, c, cs[t])
            hs[t + 1] = self._carry(t, o * tanh_c[t], hs[t])
        return hs

    def _gate_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``(m, k)``: ½ and ½ on the sigmoid gates' columns (i, f, o), 1 and 0 on g's."""
        H = self.hidden_size
        sigmoid_columns = np.ones(4 * H, dtype=bool)
        sigmoid_columns[2 * H : 3 * H] = False
        m = np.where(sigmoid_columns, 0.5, 1.0).astype(self.dtype)
        k = np.where(sigmoid_columns, 0.5, 0.0).astype(self.dtype)
        return m, k

    def _final_state(self) -> tuple[np.ndarray, ...]:
        return (self._hs[-1], self._cs[-1])

    def _run_backward(self, dh_seq, dh_final):
        U_T, H = _contiguous_transpose(self.params["U"]), self.hidden_size
        acts, cs, tanh_c = self._acts, self._cs, self._tanh_c
        dz = np.empty_like(acts)
        dh, dc = dh_final, np.zeros_like(dh_final)
        for t in reversed(range(acts.shape[0])):
            if dh_seq is not None:
                dh = dh + dh_seq[t]
            dh, carried_h = self._split_carry(t, dh)
            dc, carried_c = self._split_carry(t, dc)
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            tc = tanh_c[t]
            dc = dc + dh * o * (1 - tc * tc)
            d = dz[t]
            d[:, :H] = dc * g * i * (1 - i)
            d[:, H : 2 * H] = dc * cs[t] * f * (1 - f)
            d[:, 2 * H : 3 * H] = dc * i * (1 - g * g)
            d[:, 3 * H :] = dh * tc * o * (1 - o)
            dh = d @ U_T
            dc = dc * f
            if carried_h is not None:
                dh += carried_h
                dc += carried_c
        return dz, None, (dh, dc)


@layers.register()
class GRU(_Recurrent):
    r"""Gated recurrent unit, PyTorch's ``nn.GRU`` (gate order r, z, n).

    .. math::
        a_t = x_t W + b, \qquad s_t = h_{t-1} U + b_h \qquad
        \text{(each split into } r, z, n \text{ blocks)} \\
        r_t = σ(a^r + s^r), \quad z_t = σ(a^z + s^z), \quad
        n_t = \tanh(a^n + r_t ⊙ s^n), \quad h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    The reset gate multiplies the hidden side's ``s^n`` including its bias, so the GRU keeps
    two biases (``b`` and ``b_h``), as PyTorch.

    BPTT, with :math:`δ_t = ∂L/∂h_t`:

    .. math::
        dn = δ_t ⊙ (1 - z), \quad dz = δ_t ⊙ (h_{t-1} - n), \quad
        da^n = dn ⊙ (1 - n^2), \quad dr = da^n ⊙ s^n \\
        da = [dr ⊙ r(1-r),\ dz ⊙ z(1-z),\ da^n], \qquad
        ds = [da^r,\ da^z,\ da^n ⊙ r], \qquad
        δ_{t-1} = δ_t ⊙ z + ds\, U^T

    Args:
        in_features: features per step F.
        hidden_size: state size H.
        return_sequences: return every step's h (True) or only the last.
        init: ``"auto"`` (PyTorch's U(-1/√H, 1/√H) for every array) or an initializer name
            for ``W`` and ``U`` (biases then start at 0).

    Shapes: x ``(batch, time, F)``; W ``(F, 3H)``, U ``(H, 3H)``, b and b_h ``(3H,)``.
    """

    gates = 3
    hidden_bias = True
    gate_names = ("r", "z", "n")

    def _run(self, zx: np.ndarray, state: list[np.ndarray]) -> np.ndarray:
        U, b_h, H = self.params["U"], self.params["b_h"], self.hidden_size
        steps = zx.shape[0]
        self._hs = hs = np.empty((steps + 1, *state[0].shape), dtype=self.dtype)
        self._acts = acts = np.empty_like(zx)  # r, z, n
        self._sn = sn = np.empty_like(hs[1:])  # the hidden side of n, before the reset gate
        hs[0] = state[0]
        for t in range(steps):
            s = hs[t] @ U
            s += b_h
            a = acts[t]
            sigmoid(zx[t, :, : 2 * H] + s[:, : 2 * H], out=a[:, : 2 * H])
            r, z = a[:, :H], a[:, H : 2 * H]
            sn[t] = s[:, 2 * H :]
            np.tanh(zx[t, :, 2 * H :] + r * sn[t], out=a[:, 2 * H :])
            n = a[:, 2 * H :]
            hs[t + 1] = self._carry(t, (1 - z) * n + z * hs[t], hs[t])
        return hs

    def _run_backward(self, dh_seq, dh_final):
        U_T, H = _contiguous_transpose(self.params["U"]), self.hidden_size
        acts, hs, sn = self._acts, self._hs, self._sn
        dzx = np.empty_like(acts)
        dzh = np.empty_like(acts)
        dh = dh_final
        for t in reversed(range(acts.shape[0])):
            if dh_seq is not None:
                dh = dh + dh_seq[t]
            dh, carried = self._split_carry(t, dh)
            a = acts[t]
            r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
            dan = dh * (1 - z) * (1 - n * n)
            dx_t, ds_t = dzx[t], dzh[t]
            dx_t[:, :H] = dan * sn[t] * r * (1 - r)
            dx_t[:, H : 2 * H] = dh * (hs[t] - n) * z * (1 - z)
            dx_t[:, 2 * H :] = dan
            ds_t[:, : 2 * H] = dx_t[:, : 2 * H]
            ds_t[:, 2 * H :] = dan * r
            dh = dh * z + ds_t @ U_T
            if carried is not None:
                dh += carried
        return dzx, dzh, (dh,)
