r"""Recurrent layers: RNN, LSTM and GRU, with full backpropagation through time (BPTT).

A recurrent layer reads a sequence ``x_1 … x_T`` one step at a time, carrying a state ``h``
from step to step. Every step shares the same weights, so the backward pass walks the steps in
reverse, adding each step's share of the weight gradients, and hands the gradient of the state
back one step at a time (see the docs page "Sequences" for the derivation).

What makes the NumPy version fast:

- the input projection of *every* step, ``x_t W + b``, is one matrix product over the whole
  sequence before the loop (``(B·T, F) @ (F, G·H)``; the LSTM instead stacks ``x_t`` under
  ``h_{t-1}`` and multiplies both by ``[U; W]`` in its one product per step), and likewise
  ``∂L/∂W``, ``∂L/∂U`` and ``∂L/∂x`` are one product each after the backward loop;
- inside the loop, each step costs one product with the recurrent weights and a few
  elementwise passes, written into work arrays that are kept from call to call;
- the loop runs **feature-major**: a step's state is stored as ``hᵀ`` ``(H, B)`` and its
  gates as ``zᵀ = Uᵀ hᵀ + …`` ``(G·H, B)``. Each gate is then a contiguous block of rows
  (``zᵀ[:H]`` is the first gate), and BLAS runs the product ``(G·H, H) @ (H, B)`` faster than
  the batch-major ``(B, H) @ (H, G·H)`` (about 1.3x on 2 cores, 1.6x on one, at H = 256 and
  B = 16). The layouts change once per call, outside the loop: the input projection (the
  LSTM: the input) is transposed to ``(T, ·, B)`` before it, the outputs back to
  ``(batch, time, H)`` after it, and each step's gate gradients are stored batch-first for
  the weight products.

The formulas in the docstrings are written batch-major (``x_t W``, ``h_{t-1} U``), as in the
docs; the code computes their transposes.

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


class _Recurrent(Layer):
    """What RNN, LSTM and GRU share: the weights ``W`` (input to gates), ``U`` (state to
    gates) and ``b``, the input projection before the loop, padding masks, the outputs, and the
    weight gradients after the backward loop. A cell implements ``_run`` (the forward loop)
    and ``_run_backward`` (the reverse loop), both feature-major: states ``(H, B)``, gates
    ``(G·H, B)``."""

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
        self._work: dict[str, np.ndarray] = {}
        self._keep_work = False

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

    def _array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A work array (uninitialized). In training it is kept for the next call (a new one
        only when the shape changes), so a step does not page in fresh memory for each of its
        arrays; outside training nothing is kept beyond what the last forward caches."""
        array = self._work.get(name)
        if array is None or array.shape != shape or array.dtype != self.dtype:
            array = np.empty(shape, dtype=self.dtype)
            if self._keep_work:
                self._work[name] = array
        return array

    # Forward --------------------------------------------------------------------------------

    def _initial(self, initial_state: Any, batch: int) -> list[np.ndarray]:
        """The initial state, feature-major: a list of ``(H, B)`` arrays."""
        shape = (batch, self.hidden_size)
        if initial_state is None:
            return [np.zeros(shape[::-1], dtype=self.dtype) for _ in range(self.states)]
        given = (initial_state,) if isinstance(initial_state, np.ndarray) else initial_state
        given = tuple(given)
        if len(given) != self.states or any(np.shape(s) != shape for s in given):
            what = "(h, c), two arrays" if self.states == 2 else "h, an array"
            raise ValueError(
                f"{self!r}: initial_state must be {what} of shape {shape}; received "
                f"{[np.shape(s) for s in given]}."
            )
        return [np.ascontiguousarray(np.asarray(s, dtype=self.dtype).T) for s in given]

    def _step_mask(self, lengths: Any, batch: int, steps: int) -> np.ndarray | None:
        """``(T, 1, B)`` booleans, True where step t is inside sequence b; None for no
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
        return (np.arange(steps)[:, None] < lengths[None, :])[:, None, :]

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
            training: whether a backward follows: in training the layer keeps its work
                arrays from call to call (no training-only math).
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
        self._keep_work = bool(training)
        if not training:
            self._work.clear()  # (a large batch to predict leaves no work arrays behind)
        self._x = x = np.ascontiguousarray(x, dtype=self.dtype)
        hs = self._run(x, self._initial(initial_state, batch))  # (T+1, H, B): hs[0] is h0ᵀ
        self.state = tuple(s.T.copy() for s in self._final_state())
        if not self.return_sequences:
            return hs[-1].T.copy()
        out = hs[1:] if self._mask is None else np.where(self._mask, hs[1:], 0)
        return np.ascontiguousarray(out.transpose(2, 0, 1))

    def _project(self, x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Every step's input projection ``x_t W + b`` in one product ``(B·T, F) @ (F, G·H)``,
        returned feature-major, ``(T, G·H, B)``: step t's block ``zx[t]`` is contiguous."""
        batch, steps, _ = x.shape
        rows = self._array("dz", (batch, steps, W.shape[1]))  # free until the backward loop
        np.matmul(x.reshape(-1, self.input_size), W, out=rows.reshape(-1, W.shape[1]))
        rows += b
        zx = self._array("zx", (steps, W.shape[1], batch))
        np.copyto(zx, rows.transpose(1, 2, 0))
        return zx

    def _carry(self, t: int, new: np.ndarray, old: np.ndarray) -> None:
        """The state after step t, in place: ``new`` keeps ``old`` where step t is past a
        sequence's end."""
        if self._mask is not None:
            np.copyto(new, old, where=~self._mask[t])

    def _run(self, x: np.ndarray, state: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    #: Names of the gates' blocks in ``W``'s columns, in order (PyTorch's).
    gate_names: ClassVar[tuple[str, ...]] = ()

    def internals(self) -> dict[str, np.ndarray]:
        """What the last forward computed inside, batch-major, for inspection and plots:
        every step's state ``h`` ``(batch, time, hidden)`` and, for the gated cells, each
        gate's activations (the LSTM's ``i, f, g, o`` and cell ``c``; the GRU's ``r, z, n``)."""
        H = self.hidden_size
        arrays = {"h": self._hs[1:].transpose(2, 0, 1).copy()}
        acts = getattr(self, "_acts", None)
        for k, name in enumerate(self.gate_names):
            arrays[name] = acts[:, k * H : (k + 1) * H].transpose(2, 0, 1).copy()
        if self.states == 2:
            arrays["c"] = self._cs[1:].transpose(2, 0, 1).copy()
        return arrays

    def _final_state(self) -> tuple[np.ndarray, ...]:
        return (self._hs[-1],)

    # Backward -------------------------------------------------------------------------------

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """BPTT: fill ``grads`` and return ``∂L/∂x`` ``(batch, time, in_features)``; the
        gradient of the initial state is left in ``initial_state_grad``."""
        batch, steps, _ = self._x.shape
        hidden = self.hidden_size
        if self.return_sequences:
            dh_seq = grad_out.transpose(1, 2, 0)  # a feature-major view, as hs: (T, H, B)
            if self._mask is not None:
                dh_seq = dh_seq * self._mask  # padded outputs are constant 0
            dh_final = np.zeros((hidden, batch), dtype=self.dtype)
        else:  # only the final state is an output
            dh_seq = None
            dh_final = np.ascontiguousarray(np.asarray(grad_out, dtype=self.dtype).T)
        dzx, dzh, d_initial = self._run_backward(dh_seq, dh_final)
        self.initial_state_grad = tuple(d.T.copy() for d in d_initial)
        gates = self.gates * hidden
        dzx_rows = dzx.reshape(-1, gates)  # batch-first rows (b, t), as x's
        dzh_rows = dzx_rows if dzh is None else dzh.reshape(-1, gates)
        h_prev = self._array("h_prev", (batch, steps, hidden))
        np.copyto(h_prev, self._hs[:-1].transpose(2, 0, 1))
        # The weight gradients of all steps in one product each: Σ_t x_tᵀ dz_t, Σ_t h_{t-1}ᵀ dz_t.
        np.matmul(self._x.reshape(-1, self.input_size).T, dzx_rows, out=self.grads["W"])
        np.matmul(h_prev.reshape(-1, hidden).T, dzh_rows, out=self.grads["U"])
        np.sum(dzx_rows, axis=0, out=self.grads["b"])
        if self.hidden_bias:
            np.sum(dzh_rows, axis=0, out=self.grads["b_h"])
        return (dzx_rows @ self.params["W"].T).reshape(batch, steps, self.input_size)

    def _gradient_rows(self, name: str = "dz") -> np.ndarray:
        """``(B, T, G·H)``: where the reverse loop stores each step's gate gradients,
        batch-first (``rows[:, t] = dzᵀ``) for the weight products after the loop. (The
        forward's input projection uses the array named "dz" before it is transposed.)"""
        batch, steps, _ = self._x.shape
        return self._array(name, (batch, steps, self.gates * self.hidden_size))

    def _run_backward(
        self, dh_seq: np.ndarray | None, dh_final: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None, tuple[np.ndarray, ...]]:
        """The reverse loop: ``(∂L/∂zx, ∂L/∂zh or None if the same, ∂L/∂initial state)``,
        the first two as :meth:`_gradient_rows`, the last feature-major."""
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

    def _run(self, x: np.ndarray, state: list[np.ndarray]) -> np.ndarray:
        zx = self._project(x, self.params["W"], self.params["b"])  # (T, H, B)
        U_T = np.ascontiguousarray(self.params["U"].T)
        steps = zx.shape[0]
        self._hs = hs = self._array("hs", (steps + 1, *state[0].shape))
        hs[0] = state[0]
        for t in range(steps):
            h = hs[t + 1]
            np.matmul(U_T, hs[t], out=h)  # (h_{t-1} U)ᵀ
            h += zx[t]
            if self.nonlinearity == "tanh":
                np.tanh(h, out=h)
            else:
                np.maximum(h, 0, out=h)
            self._carry(t, h, hs[t])
        return hs

    def _run_backward(self, dh_seq, dh_final):
        U, hs = self.params["U"], self._hs
        dz = self._gradient_rows()
        d = self._array("d", dh_final.shape)
        dh = dh_final
        for t in reversed(range(hs.shape[0] - 1)):
            if dh_seq is not None:
                dh = dh + dh_seq[t]
            dh, carried = self._split_carry(t, dh)
            h = hs[t + 1]
            # f'(z) from the output: 1 - h² for tanh, [h > 0] for ReLU.
            if self.nonlinearity == "tanh":
                np.multiply(h, h, out=d)
                np.subtract(1, d, out=d)
            else:
                np.greater(h, 0, out=d)
            d *= dh
            np.copyto(dz[:, t], d.T)
            dh = U @ d  # (dz_t Uᵀ)ᵀ
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

    def _run(self, x: np.ndarray, state: list[np.ndarray]) -> np.ndarray:
        H, F = self.hidden_size, self.input_size
        batch, steps, _ = x.shape
        # One product per step for both sides: z_t = [h_{t-1}, x_t] [U; W] + b, computed as
        # zᵀ = [U; W]ᵀ [h_{t-1}ᵀ; x_tᵀ] from hx[t], which stacks h_{t-1}ᵀ on x_tᵀ ((H + F, B)).
        # (On 2 cores this is faster than one product for every step's x_t W before the loop
        # and its transpose: the larger per-step product keeps both cores busier.)
        # All four gates with one tanh: σ(z) = ½ + ½ tanh(z/2). The halving is folded into
        # the weights once (U, W and b scaled by ½ on the i, f, o columns); in the loop,
        # ½ + ½ tanh turns the i, f, o rows into sigmoids.
        # The bias rides in the same product: a row of ones under x_tᵀ and b as the last
        # column of [U; W; b]ᵀ (one pass over the gates fewer per step).
        half = self._sigmoid_halving()
        U, W, b = self.params["U"], self.params["W"], self.params["b"]
        UWb_T = np.ascontiguousarray((np.concatenate([U, W, b[None, :]]) * half).T)
        hx = self._array("hx", (steps + 1, H + F + 1, batch))
        np.copyto(hx[:steps, H : H + F], x.transpose(1, 2, 0))
        hx[steps, H : H + F] = 0
        hx[:, H + F] = 1
        self._hs = hs = hx[:, :H]  # hs[t] = h_tᵀ, (T+1, H, B)
        self._cs = cs = self._array("cs", (steps + 1, H, batch))
        self._acts = acts = self._array("acts", (steps, 4 * H, batch))  # i, f, g, o squashed
        self._tanh_c = tanh_c = self._array("tanh_c", (steps, H, batch))
        ig = self._array("ig", (H, batch))
        hs[0], cs[0] = state
        for t in range(steps):
            a = acts[t]
            np.matmul(UWb_T, hx[t], out=a)  # zᵀ = Uᵀ h_{t-1}ᵀ + Wᵀ x_tᵀ + bᵀ·1
            np.tanh(a, out=a)
            for sigmoid_rows in (a[: 2 * H], a[3 * H :]):  # i, f and o
                sigmoid_rows *= 0.5
                sigmoid_rows += 0.5
            i, f, g, o = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
            c = cs[t + 1]  # c_t = f ⊙ c_{t-1} + i ⊙ g
            np.multiply(f, cs[t], out=c)
            c += np.multiply(i, g, out=ig)
            np.tanh(c, out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=hs[t + 1])  # h_t = o ⊙ tanh(c_t)
            self._carry(t, c, cs[t])
            self._carry(t, hs[t + 1], hs[t])
        return hs

    def _sigmoid_halving(self) -> np.ndarray:
        """``(4H,)``: ½ on the sigmoid gates' columns (i, f, o), 1 on g's."""
        H = self.hidden_size
        half = np.full(4 * H, 0.5, dtype=self.dtype)
        half[2 * H : 3 * H] = 1
        return half

    def _final_state(self) -> tuple[np.ndarray, ...]:
        return (self._hs[-1], self._cs[-1])

    def _run_backward(self, dh_seq, dh_final):
        U, H = self.params["U"], self.hidden_size
        acts, cs, tanh_c = self._acts, self._cs, self._tanh_c
        dz = self._gradient_rows()
        d = self._array("d", acts.shape[1:])  # this step's dzᵀ, (4H, B)
        slopes = self._array("slopes", acts.shape[1:])
        dh_next = self._array("dh_next", dh_final.shape)  # δh_t from step t+1: (dz_{t+1} Uᵀ)ᵀ
        dh_sum = self._array("dh_sum", dh_final.shape)
        term = self._array("term", dh_final.shape)
        np.copyto(dh_next, dh_final)
        dc = np.zeros_like(dh_final)
        for t in reversed(range(acts.shape[0])):
            dh = dh_next if dh_seq is None else np.add(dh_next, dh_seq[t], out=dh_sum)
            dh, carried_h = self._split_carry(t, dh)
            dc, carried_c = self._split_carry(t, dc)
            a = acts[t]
            i, f, g, o = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
            tc = tanh_c[t]
            # δc_t += δh_t ⊙ o ⊙ (1 - tanh² c_t)
            np.multiply(tc, tc, out=term)
            np.subtract(1, term, out=term)
            term *= o
            term *= dh
            dc += term
            # Each gate's slope from its output: σ' = a(1 - a) for i, f, o; 1 - g² for g.
            np.subtract(1, a, out=slopes)
            slopes *= a
            slope_g = slopes[2 * H : 3 * H]
            np.multiply(g, g, out=slope_g)
            np.subtract(1, slope_g, out=slope_g)
            # dz^i = δc ⊙ g ⊙ σ'_i,  dz^f = δc ⊙ c_{t-1} ⊙ σ'_f,  dz^g = δc ⊙ i ⊙ (1 - g²),
            # dz^o = δh ⊙ tanh c ⊙ σ'_o
            np.multiply(dc, g, out=d[:H])
            np.multiply(dc, cs[t], out=d[H : 2 * H])
            np.multiply(dc, i, out=d[2 * H : 3 * H])
            np.multiply(dh, tc, out=d[3 * H :])
            d *= slopes
            np.copyto(dz[:, t], d.T)
            np.matmul(U, d, out=dh_next)  # δh_{t-1} = (dz_t Uᵀ)ᵀ
            dc *= f  # δc_{t-1} = δc_t ⊙ f_t
            if carried_h is not None:
                dh_next += carried_h
                dc += carried_c
        return dz, None, (dh_next, dc)


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

    def _run(self, x: np.ndarray, state: list[np.ndarray]) -> np.ndarray:
        H = self.hidden_size
        zx = self._project(x, self.params["W"], self.params["b"])  # a_tᵀ, (T, 3H, B)
        U_T = np.ascontiguousarray(self.params["U"].T)
        steps, _, batch = zx.shape
        b_h = np.repeat(self.params["b_h"][:, None], batch, axis=1)  # (3H, B)
        self._hs = hs = self._array("hs", (steps + 1, H, batch))
        self._acts = acts = self._array("acts", zx.shape)  # r, z, n
        self._sn = sn = self._array("sn", (steps, H, batch))  # the hidden side of n
        s = self._array("s", zx.shape[1:])
        hs[0] = state[0]
        for t in range(steps):
            np.matmul(U_T, hs[t], out=s)  # s_tᵀ = (h_{t-1} U + b_h)ᵀ
            s += b_h
            a = acts[t]
            rz = a[: 2 * H]
            sigmoid(np.add(zx[t, : 2 * H], s[: 2 * H], out=rz), out=rz)
            r, z = a[:H], a[H : 2 * H]
            sn[t] = s[2 * H :]
            n = a[2 * H :]  # n = tanh(a^n + r ⊙ s^n)
            np.multiply(r, sn[t], out=n)
            n += zx[t, 2 * H :]
            np.tanh(n, out=n)
            h = hs[t + 1]  # h_t = (1 - z) ⊙ n + z ⊙ h_{t-1} = n + z ⊙ (h_{t-1} - n)
            np.subtract(hs[t], n, out=h)
            h *= z
            h += n
            self._carry(t, h, hs[t])
        return hs

    def _run_backward(self, dh_seq, dh_final):
        U, H = self.params["U"], self.hidden_size
        acts, hs, sn = self._acts, self._hs, self._sn
        dzx = self._gradient_rows()
        dzh = self._gradient_rows("dzh")
        dx_t = self._array("da", acts.shape[1:])  # this step's ∂L/∂aᵀ, (3H, B)
        ds_t = self._array("ds", acts.shape[1:])  # and ∂L/∂sᵀ
        dh = dh_final
        for t in reversed(range(acts.shape[0])):
            if dh_seq is not None:
                dh = dh + dh_seq[t]
            dh, carried = self._split_carry(t, dh)
            a = acts[t]
            r, z, n = a[:H], a[H : 2 * H], a[2 * H :]
            dan = dh * (1 - z) * (1 - n * n)
            dx_t[:H] = dan * sn[t] * r * (1 - r)
            dx_t[H : 2 * H] = dh * (hs[t] - n) * z * (1 - z)
            dx_t[2 * H :] = dan
            ds_t[: 2 * H] = dx_t[: 2 * H]
            ds_t[2 * H :] = dan * r
            np.copyto(dzx[:, t], dx_t.T)
            np.copyto(dzh[:, t], ds_t.T)
            dh = dh * z + U @ ds_t
            if carried is not None:
                dh += carried
        return dzx, dzh, (dh,)
