"""The optimizer step alone: after the matrix products, the largest cost of a training epoch.

An Adam step does a few operations per parameter, but over every parameter of the model, every
step: on the MNIST MLP (235,146 parameters) it is most of what an epoch spends outside the
matrix products. This script measures it on its own, on a parameter vector of that size, in
float32 and float64:

- **Adam step**: scratchnn's ``Adam.step`` (ten in-place NumPy passes over the flat parameter
  vector), the textbook NumPy Adam a user writes (one array, temporaries allocated freely),
  ``torch.optim.Adam`` (its default multi-tensor "foreach" implementation) and
  ``Adam(fused=True)`` (one pass, in compiled code, on PyTorch's thread pool), each with the
  same number of threads as NumPy's BLAS.
- **The ten passes**: each NumPy operation of scratchnn's update timed alone, so the table
  shows what a step is made of (the square root costs several multiplications).
- **A second core?** NumPy runs elementwise operations on one core. The same update split in
  two halves, one on a worker thread (NumPy releases the GIL in its loops), timed twice: on an
  idle machine, and right after a matrix product, as in training. After each product OpenBLAS's
  idle pool thread keeps spinning for about 0.1 s, holding the second core: in training the
  worker thread then finds no free core, and the split no longer pays. A last experiment
  confirms it: with the pool thread's priority lowered (nice 19), the split pays again after
  a product. A library cannot lower the priority of its host process's threads (it cannot be
  undone), so scratchnn's optimizers stay single-threaded.

Medians of repeated steps, each after a warm-up; the state is updated in place throughout.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable

import numpy as np
from common import (
    MachineLoad,
    blas_threads,
    markdown_table,
    measure,
    numpy_kernel_line,
    parse_args,
    say,
    settle,
)

import scratchnn as snn
from scratchnn.parameters import Parameter

#: The parameters of the MNIST MLP 784-256-128-10 (weights and biases).
N_PARAMETERS = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
BETA1, BETA2, EPS, LR = 0.9, 0.999, 1e-8, 1e-3


def median_microseconds(fn: Callable[[], object], repeats: int) -> float:
    """The median time of ``fn`` after 5 warm-up calls, in µs."""
    return 1e6 * measure(fn, repeats, warmup=5)[0]


class Vectors:
    """A parameter vector, its gradient, and Adam's state, all of one dtype."""

    def __init__(self, n: int, dtype) -> None:
        rng = np.random.default_rng(0)
        self.value = rng.standard_normal(n).astype(dtype)
        self.grad = (1e-3 * rng.standard_normal(n)).astype(dtype)
        self.m = np.zeros(n, dtype)
        self.v = np.zeros(n, dtype)
        self.step = np.empty(n, dtype)


def scratchnn_step(n: int, dtype) -> Callable[[], None]:
    model_value = Parameter("flat", *_value_and_grad(n, dtype))
    optimizer = snn.optim.Adam(lr=LR)
    return lambda: optimizer.step(model_value)


def _value_and_grad(n: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    vectors = Vectors(n, dtype)
    return vectors.value, vectors.grad


def textbook_step(n: int, dtype) -> Callable[[], None]:
    """Adam as the formulas read, the way a tutorial's loop writes it."""
    x = Vectors(n, dtype)
    t = [0]

    def step() -> None:
        t[0] += 1
        x.m = BETA1 * x.m + (1 - BETA1) * x.grad
        x.v = BETA2 * x.v + (1 - BETA2) * x.grad**2
        m_hat = x.m / (1 - BETA1 ** t[0])
        v_hat = x.v / (1 - BETA2 ** t[0])
        x.value -= LR * m_hat / (np.sqrt(v_hat) + EPS)

    return step


def torch_step(n: int, dtype, fused: bool) -> Callable[[], None]:
    import torch

    value, grad = _value_and_grad(n, dtype)
    parameter = torch.nn.Parameter(torch.from_numpy(value))
    parameter.grad = torch.from_numpy(grad)
    optimizer = torch.optim.Adam([parameter], lr=LR, fused=fused)
    return optimizer.step


def adam_passes(x: Vectors, t: int, lo: int = 0, hi: int | None = None) -> None:
    """scratchnn's update (``Adam._update``) on the slice ``[lo, hi)`` of the vectors."""
    value, g, m, v, s = (a[lo:hi] for a in (x.value, x.grad, x.m, x.v, x.step))
    m *= BETA1
    m += g
    v *= BETA2
    np.multiply(g, g, out=s)
    v += s
    root_c2, root_b2 = math.sqrt(1 - BETA2**t), math.sqrt(1 - BETA2)
    np.sqrt(v, out=s)
    s += EPS * root_c2 / root_b2
    np.divide(m, s, out=s)
    s *= LR * (1 - BETA1) * root_c2 / ((1 - BETA1**t) * root_b2)
    value -= s


def pass_table(n: int, dtype, repeats: int) -> str:
    x = Vectors(n, dtype)
    x.v += 1e-6  # a realistic second moment (square roots of zeros are not representative)
    g, m, v, s, value = x.grad, x.m, x.v, x.step, x.value
    passes = [
        ("m̃ ← β1·m̃", lambda: np.multiply(m, BETA1, out=m)),
        ("m̃ ← m̃ + g", lambda: np.add(m, g, out=m)),
        ("ṽ ← β2·ṽ", lambda: np.multiply(v, BETA2, out=v)),
        ("s ← g·g", lambda: np.multiply(g, g, out=s)),
        ("ṽ ← ṽ + s", lambda: np.add(v, s, out=v)),
        ("s ← √ṽ", lambda: np.sqrt(v, out=s)),
        ("s ← s + ε'", lambda: np.add(s, 1e-8, out=s)),
        ("s ← m̃ / s", lambda: np.divide(m, s, out=s)),
        ("s ← η'·s", lambda: np.multiply(s, 1e-3, out=s)),
        ("W ← W − s", lambda: np.subtract(value, s, out=value)),
    ]
    rows = []
    total = 0.0
    for name, fn in passes:
        micro = median_microseconds(fn, repeats)
        total += micro
        rows.append([name, f"{micro:.1f}"])
    rows.append(["**sum of the ten**", f"**{total:.1f}**"])
    return markdown_table(["pass", "µs"], rows)


class SplitUpdate:
    """The update in two halves: the caller's thread takes the first, a worker the second.

    The worker waits on a lock; a step releases it, updates its own half and waits for the
    worker's "done". Both halves run at once only if the worker finds a free core."""

    def __init__(self, n: int, dtype) -> None:
        self.x = Vectors(n, dtype)
        self.half = n // 2
        self.t = 0
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.stopping = False
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.worker.start()

    def _work(self) -> None:
        while True:
            self.go.acquire()
            if self.stopping:
                return
            adam_passes(self.x, self.t, self.half, None)
            self.done.release()

    def step(self) -> None:
        self.t += 1
        self.go.release()
        adam_passes(self.x, self.t, 0, self.half)
        self.done.acquire()

    def close(self) -> None:
        self.stopping = True
        self.go.release()
        self.worker.join()


def second_core_rows(n: int, dtype, repeats: int, single_too: bool = True) -> list[list[str]]:
    one = Vectors(n, dtype)
    t = [0]

    def single() -> None:
        t[0] += 1
        adam_passes(one, t[0])

    split = SplitUpdate(n, dtype)
    a = np.random.default_rng(1).standard_normal((128, 784)).astype(dtype)
    w = np.random.default_rng(2).standard_normal((784, 256)).astype(dtype)
    product = np.empty((128, 256), dtype)

    def after_product(step: Callable[[], None]) -> Callable[[], float]:
        def run() -> float:
            np.matmul(a, w, out=product)  # wakes OpenBLAS's pool; it then spins a while
            start = time.perf_counter()
            step()
            return time.perf_counter() - start

        return run

    rows = []
    try:
        steps = [("one thread", single)] if single_too else []
        for label, step in [*steps, ("two threads", split.step)]:
            settle()
            idle = median_microseconds(step, repeats)
            timed = after_product(step)
            for _ in range(5):
                timed()
            busy = 1e6 * float(np.median([timed() for _ in range(repeats)]))
            rows.append([label, f"{idle:.0f}", f"{busy:.0f}"])
    finally:
        split.close()
    return rows


def lower_native_threads_priority() -> int:
    """Give every thread of this process that Python did not start (OpenBLAS's pool, and
    PyTorch's if loaded) the lowest priority, nice 19, so that a spinning pool thread yields
    its core to any other runnable thread at once. An experiment to confirm the diagnosis, not
    something a library may do: an unprivileged process cannot undo it, so it comes last."""
    python_threads = {t.native_id for t in threading.enumerate()}
    lowered = 0
    for tid in map(int, os.listdir("/proc/self/task")):
        if tid not in python_threads:
            os.setpriority(os.PRIO_PROCESS, tid, 19)
            lowered += 1
    return lowered


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n = 20_000 if args.quick else N_PARAMETERS
    repeats = 5 if args.quick else 200
    load = MachineLoad()
    try:
        import torch

        torch.set_num_threads(blas_threads())
    except ImportError:
        torch = None

    say("## The optimizer step alone\n")
    say(
        f"Adam on a vector of {n:,} parameters (the MNIST MLP's), µs per step, median of "
        f"{repeats}. {numpy_kernel_line()}; PyTorch threads: "
        f"{torch.get_num_threads() if torch else 'not installed'}.\n"
    )
    rows = []
    for dtype in (np.float32, np.float64):
        cells = [np.dtype(dtype).name]
        makers: list[Callable[[], Callable[[], object]] | None] = [
            lambda d=dtype: scratchnn_step(n, d),
            lambda d=dtype: textbook_step(n, d),
            (lambda d=dtype: torch_step(n, d, fused=False)) if torch else None,
            (lambda d=dtype: torch_step(n, d, fused=True)) if torch else None,
        ]
        for make in makers:
            if make is None:
                cells.append("—")
                continue
            settle()
            cells.append(f"{median_microseconds(make(), repeats):.0f}")
        rows.append(cells)
    headers = ["dtype", "scratchnn Adam", "textbook NumPy", "PyTorch Adam", "PyTorch fused"]
    say(markdown_table(headers, rows))

    for dtype in (np.float32, np.float64):
        say(f"\n### scratchnn's ten passes, {np.dtype(dtype).name}\n")
        say(pass_table(n, dtype, repeats))

    say("\n### A second core for the update?\n")
    say(
        "The same update, in one thread or split over two; µs per step on an idle machine, and "
        "right after a matrix product (as in training, where OpenBLAS's pool thread is still "
        "spinning on the second core):\n"
    )
    rows = []
    for dtype in (np.float32, np.float64):
        rows += [[np.dtype(dtype).name, *row] for row in second_core_rows(n, dtype, repeats)]
    if hasattr(os, "setpriority") and os.path.isdir("/proc/self/task"):
        lowered = lower_native_threads_priority()
        for dtype in (np.float32, np.float64):
            rows += [
                [np.dtype(dtype).name, f"{row[0]}, pool at nice 19", *row[1:]]
                for row in second_core_rows(n, dtype, repeats, single_too=False)
            ]
        note = (
            f"\nLast rows: the experiment that confirms the diagnosis. The {lowered} threads "
            "that Python did not start (OpenBLAS's pool, PyTorch's) were given the lowest "
            "priority, nice 19: a spinning pool thread then yields its core to the worker at "
            "once, and the split pays after a product too. A library cannot do this to its "
            "host process (it lowers foreign threads' priority for good), so scratchnn does not."
        )
    else:
        note = ""
    say(markdown_table(["dtype", "update", "idle machine", "after a product"], rows))
    say(note)
    say("")
    say(load.report())


if __name__ == "__main__":
    main()
