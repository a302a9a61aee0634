"""One MNIST training step of scratchnn, op by op: where the time goes besides the matrix
products and Adam's unavoidable memory traffic.

The step is ``Sequential.train_step`` on a batch of 128 MNIST images for the 784-256-128-10
ReLU network with softmax cross-entropy and Adam (lr 1e-3), in float32 and float64. It is taken
apart into the operations it performs, each timed alone over many repetitions (median
microseconds, after warm-up calls), on the model's own arrays:

- the batch gather (``np.take`` of 128 rows into a reused buffer, as ``fit``'s batches do);
- each Dense layer's forward product ``x @ W`` and bias add ``z += b``; each ReLU's
  ``max(z, 0)``;
- the loss forward (log-softmax, the labels' entries, the mean) and backward (softmax minus
  one-hot, scaled), as the library calls them;
- each ReLU's mask ``a > 0`` and the product ``g * mask``; each Dense layer's weight-gradient
  product ``xᵀ g``, bias gradient ``1ᵀ g`` and input-gradient product ``g Wᵀ`` (none for the
  first layer);
- the divergence checks: the gradient's squared norm ``g·g`` (one dot product over all
  parameters), and the ``np.errstate`` blocks that keep overflow quiet while it is checked;
- each pass of Adam's update over the flat parameter vector (``optim.Adam._update``), its
  finiteness check ``Δ·Δ`` and the update ``W -= Δ`` (``Optimizer._apply``).

The passes mirror ``model.py`` and ``optim.py`` as of this script's last change; the library's
own calls are timed too (``optimizer.step``, the whole ``train_step``), so that a difference
between the sum of the parts and the whole shows what the list misses: Python between the
operations, and caches that are colder in a real step than in an operation repeated alone.

Adam's minimum: a fused update must read W, g, m and v and write W, m and v once, 7 passes of
memory over the parameter vector; its floor here is 3.5 times one ``np.copyto`` of that vector
(one read and one write), measured the same way.

    python benchmarks/profile_step.py [--quick] [--reps N]
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from common import (
    MachineLoad,
    markdown_table,
    numpy_kernel_line,
    parse_args,
    say,
)

import scratchnn as snn

SIZES = [784, 256, 128, 10]
BATCH = 128
LR = 1e-3
PRODUCT, ADAM, OTHER = "product", "Adam", "other"


class Op:
    """One timed operation: ``fn`` called ``reps`` times; ``reset`` (untimed) before each call
    restores what an in-place ``fn`` changed, so that every call sees the same values (repeated
    ``step *= g`` would otherwise reach subnormal numbers, which are slow)."""

    def __init__(
        self, name: str, kind: str, fn: Callable[[], Any], reset: Callable[[], Any] | None = None
    ) -> None:
        self.name, self.kind, self.fn, self.reset = name, kind, fn, reset

    def time(self, reps: int, warmup: int = 3) -> float:
        """Median seconds per call."""
        for _ in range(warmup):
            if self.reset is not None:
                self.reset()
            self.fn()
        durations = []
        for _ in range(reps):
            if self.reset is not None:
                self.reset()
            start = time.perf_counter()
            self.fn()
            durations.append(time.perf_counter() - start)
        if self.reset is not None:
            self.reset()  # leave the values as found, for the operations timed next
        return statistics.median(durations)


def restore(target: np.ndarray, saved: np.ndarray) -> Callable[[], None]:
    return lambda: np.copyto(target, saved)


def build_model(dtype: Any, X: np.ndarray, y: np.ndarray) -> snn.Sequential:
    """The MNIST model with its loss and Adam, after a few steps (Adam's state exists)."""
    model = snn.MLP(SIZES, seed=0, dtype=dtype)
    model.fit(
        X[: 4 * BATCH], y[: 4 * BATCH], loss="cross_entropy",
        optimizer=snn.optim.Adam(lr=LR), epochs=1, batch_size=BATCH, verbose=0,
    )  # fmt: skip
    return model


def step_ops(model: snn.Sequential, X: np.ndarray, y: np.ndarray) -> list[Op]:
    """The operations of one ``train_step`` on a shuffled batch of ``X``, in order."""
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(X))[:BATCH]
    xb = np.empty((BATCH, X.shape[1]), dtype=X.dtype)
    yb = np.empty(BATCH, dtype=y.dtype)

    def gather() -> None:
        np.take(X, rows, axis=0, out=xb, mode="clip")
        np.take(y, rows, axis=0, out=yb, mode="clip")

    gather()
    ops = [Op("batch gather (np.take of 128 rows and labels)", OTHER, gather)]
    quiet = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}

    def errstate() -> None:
        with np.errstate(**quiet):
            pass
        with np.errstate(over="ignore", invalid="ignore"):
            pass

    names = [f"{type(layer).__name__.lower()}_{i}" for i, layer in enumerate(model.layers)]
    # Forward, keeping every layer's input for the backward pass.
    inputs, a = [], xb
    for name, layer in zip(names, model.layers, strict=True):
        inputs.append(a)
        if isinstance(layer, snn.Dense):
            W, b = layer.params["W"], layer.params["b"]
            z = a @ W
            ops.append(Op(f"{name} forward: x @ W", PRODUCT, lambda a=a, W=W: a @ W))
            z_work = z.copy()
            ops.append(Op(f"{name} forward: z += b", OTHER, lambda z=z_work, b=b: z.__iadd__(b)))
            z += b
            a = z
        elif isinstance(layer, snn.ReLU):
            zeros = np.zeros(a.shape[1], dtype=a.dtype)
            ops.append(
                Op(f"{name} forward: max(z, 0)", OTHER, lambda a=a, z=zeros: np.maximum(a, z))
            )
            a = np.maximum(a, zeros)
        else:
            ops.append(Op(f"{name} forward", OTHER, lambda a=a, L=layer: L.forward(a, True)))
            a = layer.forward(a, True)
    logits = a
    loss = model.loss
    ops.append(
        Op("loss forward (log-softmax, pick, mean)", OTHER, lambda: loss.forward(logits, yb))
    )
    loss.forward(logits, yb)
    ops.append(Op("loss backward (softmax - one-hot, scaled)", OTHER, loss.backward))
    g = loss.backward()
    ops.append(Op("penalty() (L1/L2 terms; none here)", OTHER, model.penalty))
    # Backward, last layer first.
    for index in reversed(range(len(model.layers))):
        name, layer, x = names[index], model.layers[index], inputs[index]
        if isinstance(layer, snn.ReLU):
            out = np.maximum(x, 0)  # the activation a = max(z, 0) that ReLU keeps
            mask = out > 0
            ops.append(Op(f"{name} backward: mask a > 0", OTHER, lambda o=out: o > 0))
            ops.append(Op(f"{name} backward: g * mask", OTHER, lambda g=g, m=mask: g * m))
            g = g * mask
        elif isinstance(layer, snn.Dense):
            W, gW, gb = layer.params["W"], layer.grads["W"], layer.grads["b"]
            ones = np.ones(len(g), dtype=g.dtype)
            ops.append(
                Op(
                    f"{name} backward: xᵀ g (weight gradient)",
                    PRODUCT,
                    lambda x=x, g=g, gW=gW: np.matmul(x.T, g, out=gW),
                )
            )
            ops.append(
                Op(
                    f"{name} backward: 1ᵀ g (bias gradient)",
                    OTHER,
                    lambda g=g, gb=gb, ones=ones: np.matmul(ones, g, out=gb),
                )
            )
            if index > 0:
                ops.append(
                    Op(f"{name} backward: g Wᵀ (input gradient)", PRODUCT, lambda g=g, W=W: g @ W.T)
                )
                g = g @ W.T
        else:
            ops.append(Op(f"{name} backward", OTHER, lambda g=g, L=layer: L.backward(g)))
    flat = model.parameters().flat
    ops.append(
        Op(
            "gradient-norm check (g·g over all parameters)",
            OTHER,
            lambda: math.isfinite(float(np.dot(flat.grad, flat.grad))),
        )
    )
    ops.append(Op("np.errstate blocks (train_step, optimizer.step)", OTHER, errstate))
    ops += adam_ops(model)
    return ops


def adam_ops(model: snn.Sequential) -> list[Op]:
    """Adam's passes over the flat parameter vector (``optim.Adam._update`` and
    ``Optimizer._apply``), on copies of the model's vector, gradient and Adam state."""
    optimizer = model.optimizer
    flat = model.parameters().flat
    state = optimizer.state[0]
    W, g = flat.value.copy(), flat.grad.copy()
    m, v = state["exp_avg"].copy(), state["exp_avg_sq"].copy()
    step = np.empty_like(W)
    beta1, beta2 = optimizer.betas
    t = max(optimizer.step_count, 1)
    c2 = math.sqrt(1 - beta2**t)
    scale = optimizer.lr / (1 - beta1**t)
    saved = {"W": W.copy(), "m": m.copy(), "v": v.copy()}
    # The values of ``step`` before each pass that updates it in place.
    step_g1 = g * (1 - beta1)
    step_g2 = g * (1 - beta2)
    step_g2g = step_g2 * g  # (1−β2)·g²
    step_sqrt = np.sqrt(v)
    step_div = step_sqrt / c2
    step_eps = step_div + optimizer.eps
    step_final = m / step_eps
    delta = step_final * scale
    return [
        Op("Adam: m *= β1", ADAM, lambda: m.__imul__(beta1), restore(m, saved["m"])),
        Op("Adam: step = g·(1−β1)", ADAM, lambda: np.multiply(g, 1 - beta1, out=step)),
        Op("Adam: m += step", ADAM, lambda: m.__iadd__(step_g1), restore(m, saved["m"])),
        Op("Adam: v *= β2", ADAM, lambda: v.__imul__(beta2), restore(v, saved["v"])),
        Op("Adam: step = g·(1−β2)", ADAM, lambda: np.multiply(g, 1 - beta2, out=step)),
        Op("Adam: step *= g", ADAM, lambda: step.__imul__(g), restore(step, step_g2)),
        Op("Adam: v += step", ADAM, lambda: v.__iadd__(step_g2g), restore(v, saved["v"])),
        Op("Adam: step = √v", ADAM, lambda: np.sqrt(v, out=step)),
        Op("Adam: step /= √(1−β2ᵗ)", ADAM, lambda: step.__itruediv__(c2), restore(step, step_sqrt)),
        Op("Adam: step += ε", ADAM, lambda: step.__iadd__(optimizer.eps), restore(step, step_div)),
        Op(
            "Adam: step = m / step",
            ADAM,
            lambda: np.divide(m, step, out=step),
            restore(step, step_eps),
        ),
        Op(
            "Adam: step *= η/(1−β1ᵗ)", ADAM, lambda: step.__imul__(scale), restore(step, step_final)
        ),
        Op(
            "Adam: Δ·Δ finiteness check",
            ADAM,
            lambda: math.isfinite(float(np.dot(delta, delta))),
        ),
        Op("Adam: W −= Δ", ADAM, lambda: W.__isub__(delta), restore(W, saved["W"])),
    ]


def adam_mirror_error(model: snn.Sequential) -> float:
    """How far the passes timed above are from the library's own update: the largest
    ``|Δ_passes − Δ_library| / max|Δ_library|`` for one step from the model's current gradient,
    computed with public calls (``optimizer.step``, then the weights and the optimizer's state
    restored). Not small means ``optim.py`` changed and this script must follow."""
    optimizer = model.optimizer
    params = model.parameters()
    W, g = params.flat.value, params.flat.grad.copy()
    before, saved = W.copy(), optimizer.state_dict()
    optimizer.step(params)
    library = before - W
    W[...] = before
    optimizer.load_state_dict(saved)
    # The same passes as adam_ops, on fresh copies, for the step the library just took.
    beta1, beta2 = optimizer.betas
    t = optimizer.step_count + 1
    state = optimizer.state[0]
    m = state["exp_avg"] * beta1 + g * (1 - beta1)
    v = state["exp_avg_sq"] * beta2 + (g * (1 - beta2)) * g
    step = np.sqrt(v) / math.sqrt(1 - beta2**t) + optimizer.eps
    mirror = m / step * (optimizer.lr / (1 - beta1**t))
    return float(np.max(np.abs(mirror - library)) / max(float(np.max(np.abs(library))), 1e-30))


def profile(dtype: Any, X: np.ndarray, y: np.ndarray, reps: int) -> None:
    name = np.dtype(dtype).name
    Xd = X.astype(dtype, copy=False)
    model = build_model(dtype, Xd, y)
    ops = step_ops(model, Xd, y)
    mirror_error = adam_mirror_error(model)
    times = [op.time(reps) for op in ops]

    # The library's own calls, for comparison with the sum of their parts.
    rows = np.random.default_rng(1).permutation(len(Xd))[:BATCH]
    xb, yb = Xd[rows], y[rows]
    whole = Op("train_step", OTHER, lambda: model.train_step(xb, yb)).time(reps)
    params = model.parameters()
    adam_call = Op("optimizer.step", ADAM, lambda: model.optimizer.step(params)).time(reps)
    vector = params.flat.value
    source, target = vector.copy(), np.empty_like(vector)
    copy = Op("copy", ADAM, lambda: np.copyto(target, source)).time(reps)

    total = sum(times)
    listed = [(op.name, op.kind, seconds) for op, seconds in zip(ops, times, strict=True)]
    listed += [
        ("sum of the operations above", "", total),
        ("train_step (measured whole)", "", whole),
    ]
    table = [[op, kind, f"{1e6 * s:.1f}", f"{100 * s / whole:.1f}%"] for op, kind, s in listed]
    say(
        f"### One training step, {name}\n\n"
        f"Batch of {BATCH}, 784-256-128-10 ReLU, cross-entropy, Adam over "
        f"{vector.size:,} parameters; median of {reps} calls of each operation.\n"
    )
    say(markdown_table(["op", "kind", "µs", "share of the step"], table))

    by_kind = {kind: sum(s for op, s in zip(ops, times, strict=True) if op.kind == kind)
               for kind in (PRODUCT, ADAM, OTHER)}  # fmt: skip
    floor = 3.5 * copy
    parts = [
        ("matrix products (8)", by_kind[PRODUCT]),
        ("Adam's passes (sum of the rows above)", by_kind[ADAM]),
        ("Adam: optimizer.step (library call)", adam_call),
        ("Adam's minimum (7 vector passes, 3.5x np.copyto)", floor),
        ("everything else (other rows)", by_kind[OTHER]),
        ("not accounted for (whole - sum)", whole - total),
        ("train_step (measured whole)", whole),
    ]
    summary = [[part, f"{1e6 * s:.1f}", f"{100 * s / whole:.1f}%"] for part, s in parts]
    say("\nBy kind:\n")
    say(markdown_table(["part", "µs", "share of the step"], summary))
    beyond = whole - by_kind[PRODUCT] - floor
    say(
        f"\n- beyond the products and Adam's minimum: {1e6 * beyond:.1f} µs per step "
        f"({100 * beyond / whole:.0f}% of it)"
    )
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    verdict = "the same" if mirror_error <= tolerance else "NOT the same: update this script"
    say(
        f"- check: Adam's passes as timed compute {verdict} update as optimizer.step "
        f"(largest difference {mirror_error:.1e} of the largest |Δ|)\n"
    )


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        lambda p: p.add_argument("--reps", type=int, default=300, help="calls per op (300)"),
    )
    load = MachineLoad()
    (X, y), _ = snn.datasets.load_mnist()
    reps = args.reps
    if args.quick:
        X, y, reps = X[:1024], y[:1024], 5
    say("## One training step, op by op (profile_step.py)\n")
    say(numpy_kernel_line() + "  \n")
    for dtype in (np.float32, np.float64):
        profile(dtype, X, y, reps)
    say(load.report())


if __name__ == "__main__":
    main()
