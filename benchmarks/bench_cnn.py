"""LeNet training on MNIST: scratchnn against a hand-written im2col NumPy loop and PyTorch eager,
each conv layer against its own matrix products, and the peak memory of an epoch.

The workload: the LeNet-style CNN of docs/cnn.md (conv 5x5x32, ReLU, 2x2 max pool, conv 5x5x64,
ReLU, pool, dense 1024-128, ReLU, dense 128-10; :func:`scratchnn.models.LeNet`), softmax
cross-entropy, Adam (lr 1e-3, PyTorch's defaults otherwise), batches of 128 MNIST images
``(128, 1, 28, 28)``, the same batches in the same order for every implementation (one fixed
permutation, no reshuffling), every implementation starting from scratchnn's initial weights.
What is timed is forward + backward + Adam over ``--batches`` batches (60 by default, 7,680
images; the table also shows the time scaled to a 469-batch epoch), in float32 and float64.

The implementations take their turns in rounds (a warm-up round first, untimed), so a slow spell
of the machine hits all of them; every ratio is the median over rounds of the ratio within a
round (paired), as bench_mnist.py does. PyTorch runs with as many threads as NumPy's BLAS has.

- **scratchnn**: ``LeNet(seed=0).fit(X, y, epochs=1, batch_size=128, shuffle=False)`` on the
  batches, the same model and Adam state continuing round after round.
- **hand-written im2col NumPy**: the loop a competent user writes from a tutorial: im2col by
  ``sliding_window_view`` + ``reshape`` (a copy), rows ``(n·i·j, c·p·q)``, one product per conv
  layer, col2im by a loop over kernel positions, max pooling by ``reshape(..., 2, ..., 2).max``
  with an equality mask, temporaries allocated freely, Adam one array at a time.
- **PyTorch eager**: ``nn.Sequential`` of ``Conv2d``/``ReLU``/``MaxPool2d``/``Linear``,
  ``F.cross_entropy``, ``torch.optim.Adam``.
- **GEMM bounds**: for each conv layer, its three products alone (forward ``W·cols``, ``∂L/∂W``,
  and ``∂L/∂cols``, except for the first layer, which needs no input gradient) on arrays of the
  same shapes, against that layer's own forward + backward in scratchnn.
- **memory**: one round of the batches in a fresh process per implementation; the peak resident
  size (``VmHWM``, reset after loading the data) and how far it rises above the loaded data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from common import (
    MachineLoad,
    Targets,
    blas_threads,
    fmt,
    markdown_table,
    median,
    numpy_kernel_line,
    parse_args,
    say,
    settle,
    timed,
    torch_description,
)

import scratchnn as snn
from scratchnn.models import LeNet

BATCH = 128
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
EPOCH_BATCHES = 469  # 60,000 images in batches of 128
IMPLEMENTATIONS = ("scratchnn", "hand-written im2col NumPy", "PyTorch eager")


def data(batches: int, batch: int, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first ``batches·batch`` images of one fixed permutation of MNIST, and 2,000 test
    images for the sanity check of accuracy."""
    (X, y), (X_test, y_test) = snn.datasets.load_mnist(images=True, dtype=dtype)
    order = np.random.default_rng(0).permutation(len(X))[: batches * batch]
    return X[order], y[order], X_test[:2000], y_test[:2000]


def initial_weights(dtype) -> list[np.ndarray]:
    """scratchnn's initial weights of ``LeNet(seed=0)``: conv1 W, b, conv2 W, b, dense1 W, b,
    dense2 W, b (Dense's W as ``(in, out)``)."""
    return [p.value.copy() for p in LeNet(seed=0, dtype=dtype).parameters()]


class Scratchnn:
    name = "scratchnn"

    def __init__(self, X, y, dtype) -> None:
        self.X, self.y = X, y
        self.model = LeNet(seed=0, dtype=dtype)
        self.optimizer = snn.optim.Adam(lr=LR, betas=BETAS, eps=EPS)

    def epoch(self) -> None:
        self.model.fit(
            self.X,
            self.y,
            loss="cross_entropy",
            optimizer=self.optimizer,
            epochs=1,
            batch_size=BATCH,
            shuffle=False,
            verbose=0,
        )

    def predict(self, X) -> np.ndarray:
        return self.model.predict(X)


class HandLoop:
    """The tutorial's im2col CNN, written as a user would (see the module's docstring)."""

    name = "hand-written im2col NumPy"

    def __init__(self, X, y, dtype) -> None:
        self.X, self.y, self.dtype = X, y, np.dtype(dtype)
        self.params = initial_weights(dtype)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    @staticmethod
    def im2col(x: np.ndarray, k: int) -> np.ndarray:
        n, _, h, w = x.shape
        windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * (h - k + 1) * (w - k + 1), -1)

    @staticmethod
    def col2im(d_cols: np.ndarray, shape: tuple[int, ...], k: int) -> np.ndarray:
        n, c, h, w = shape
        ho, wo = h - k + 1, w - k + 1
        fields = d_cols.reshape(n, ho, wo, c, k, k)
        dx = np.zeros(shape, dtype=d_cols.dtype)
        for p in range(k):
            for q in range(k):
                dx[:, :, p : p + ho, q : q + wo] += fields[:, :, :, :, p, q].transpose(0, 3, 1, 2)
        return dx

    def conv_forward(self, x, W, b):
        n, _, h, w = x.shape
        o, _, k, _ = W.shape
        cols = self.im2col(x, k)
        z = cols @ W.reshape(o, -1).T + b
        return z.reshape(n, h - k + 1, w - k + 1, o).transpose(0, 3, 1, 2), cols

    def conv_backward(self, g, cols, W, x_shape, input_grad=True):
        o, _, k, _ = W.shape
        g_rows = g.transpose(0, 2, 3, 1).reshape(-1, o)
        dW = (g_rows.T @ cols).reshape(W.shape)
        db = g_rows.sum(axis=0)
        dx = self.col2im(g_rows @ W.reshape(o, -1), x_shape, k) if input_grad else None
        return dx, dW, db

    @staticmethod
    def pool_forward(a):
        n, c, h, w = a.shape
        blocks = a.reshape(n, c, h // 2, 2, w // 2, 2)
        out = blocks.max(axis=(3, 5))
        mask = blocks == out[:, :, :, None, :, None]
        return out, mask

    @staticmethod
    def pool_backward(g, mask):
        n, c, h2, _, w2, _ = mask.shape
        return (mask * g[:, :, :, None, :, None]).reshape(n, c, 2 * h2, 2 * w2)

    def forward(self, x, cache=None):
        W1, b1, W2, b2, W3, b3, W4, b4 = self.params
        z1, cols1 = self.conv_forward(x, W1, b1)
        a1 = np.maximum(z1, 0)
        p1, mask1 = self.pool_forward(a1)
        z2, cols2 = self.conv_forward(p1, W2, b2)
        a2 = np.maximum(z2, 0)
        p2, mask2 = self.pool_forward(a2)
        f = p2.reshape(len(x), -1)
        h = np.maximum(f @ W3 + b3, 0)
        logits = h @ W4 + b4
        if cache is not None:  # what backward needs (not self or cache: no reference cycle)
            cache.update({k: v for k, v in locals().items() if k not in ("self", "cache")})
        return logits

    def step(self, x, y) -> float:
        c: dict = {}
        logits = self.forward(x, c)
        shifted = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        n = len(x)
        loss = -np.log(p[np.arange(n), y]).mean()
        g = p
        g[np.arange(n), y] -= 1
        g /= n  # ∂L/∂logits = (softmax - onehot) / n
        W1, _, W2, _, W3, _, W4, _ = self.params
        dW4, db4 = c["h"].T @ g, g.sum(axis=0)
        gh = (g @ W4.T) * (c["h"] > 0)
        dW3, db3 = c["f"].T @ gh, gh.sum(axis=0)
        gp2 = (gh @ W3.T).reshape(c["p2"].shape)
        gz2 = self.pool_backward(gp2, c["mask2"]) * (c["z2"] > 0)
        gp1, dW2, db2 = self.conv_backward(gz2, c["cols2"], W2, c["p1"].shape)
        gz1 = self.pool_backward(gp1, c["mask1"]) * (c["z1"] > 0)
        _, dW1, db1 = self.conv_backward(gz1, c["cols1"], W1, x.shape, input_grad=False)
        grads = [dW1, db1, dW2, db2, dW3, db3, dW4, db4]
        self.t += 1
        b1, b2 = BETAS
        for param, grad, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m[...] = b1 * m + (1 - b1) * grad
            v[...] = b2 * v + (1 - b2) * grad * grad
            m_hat = m / (1 - b1**self.t)
            v_hat = v / (1 - b2**self.t)
            param -= LR * m_hat / (np.sqrt(v_hat) + EPS)
        return float(loss)

    def epoch(self) -> None:
        for start in range(0, len(self.X), BATCH):
            self.step(self.X[start : start + BATCH], self.y[start : start + BATCH])

    def predict(self, X) -> np.ndarray:
        return np.concatenate([self.forward(X[i : i + 500]) for i in range(0, len(X), 500)])


class Torch:
    name = "PyTorch eager"

    def __init__(self, X, y, dtype) -> None:
        import torch

        self.torch = torch
        nn = torch.nn
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(1024, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        ).to(torch.float64 if dtype == np.float64 else torch.float32)
        with torch.no_grad():
            params = list(self.net.parameters())
            for param, value in zip(params, initial_weights(dtype), strict=True):
                param.copy_(torch.from_numpy(value.T.copy() if value.ndim == 2 else value))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=LR, betas=BETAS, eps=EPS)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)

    def epoch(self) -> None:
        F = self.torch.nn.functional
        for start in range(0, len(self.X), BATCH):
            xb, yb = self.X[start : start + BATCH], self.y[start : start + BATCH]
            self.optimizer.zero_grad()
            loss = F.cross_entropy(self.net(xb), yb)
            loss.backward()
            self.optimizer.step()
            loss.item()

    def predict(self, X) -> np.ndarray:
        with self.torch.no_grad():
            return self.net(self.torch.from_numpy(X)).numpy()


def conv_layer_bounds(dtype, repeats: int, batch: int = BATCH) -> list[list[str]]:
    """Each conv layer's forward + backward in scratchnn against its products alone."""
    model = LeNet(seed=0, dtype=dtype)
    x = np.random.default_rng(0).random((batch, 1, 28, 28)).astype(dtype)
    rows = []
    for index, layer in enumerate(model.layers):
        if not isinstance(layer, snn.Conv2D):
            x = layer.forward(x, training=True)
            continue
        first = index == 0
        y = layer.forward(x, training=True)
        delta = np.ones_like(y)
        n_out, K, M = layer.out_channels, layer.params["W"][0].size, y.size // layer.out_channels
        W, cols, z = (np.ones(shape, dtype) for shape in ((n_out, K), (K, M), (n_out, M)))
        dW, d_cols = np.empty((n_out, K), dtype), np.empty((K, M), dtype)

        def products(W=W, cols=cols, z=z, dW=dW, d_cols=d_cols, first=first) -> None:
            np.matmul(W, cols, out=z)
            np.matmul(z, cols.T, out=dW)
            if not first:
                np.matmul(W.T, z, out=d_cols)

        def layer_step(layer=layer, x=x, delta=delta, first=first) -> None:
            layer.forward(x, training=True)
            layer.backward(delta, input_grad=not first)

        times = {"layer": [], "gemm": []}
        for fn in (layer_step, products):  # warm-up
            fn()
        for _ in range(repeats):
            for key, fn in (("layer", layer_step), ("gemm", products)):
                settle()
                times[key].append(timed(fn))
        ratio = median([a / b for a, b in zip(times["layer"], times["gemm"], strict=True)])
        gemms = "2 (no input gradient)" if first else "3"
        rows.append(
            [
                f"{index}: {layer!r}",
                f"({n_out}, {K}) x ({K}, {M})",
                gemms,
                fmt(1e3 * median(times["layer"])),
                fmt(1e3 * median(times["gemm"])),
                f"{ratio:.2f}x",
            ]
        )
        x = y
    return rows


def run_dtype(dtype, batches: int, repeats: int):
    X, y, X_test, y_test = data(batches, BATCH, dtype)
    trainers = [Scratchnn(X, y, dtype), HandLoop(X, y, dtype)]
    try:
        trainers.append(Torch(X, y, dtype))
    except ImportError:
        say("PyTorch is not installed: its column is skipped.")
    times = {t.name: [] for t in trainers}
    for t in trainers:  # warm-up round
        t.epoch()
    say(f"{np.dtype(dtype).name}: scratchnn trains {trainers[0].model.history.threads.describe()}")
    for _ in range(repeats):
        for t in trainers:
            settle()
            times[t.name].append(timed(t.epoch))
    accuracy = {
        t.name: float((t.predict(X_test).argmax(axis=1) == y_test).mean()) for t in trainers
    }
    return trainers, times, accuracy


def paired(times: dict[str, list[float]], name: str, reference: str) -> float | None:
    if name not in times or reference not in times:
        return None
    return median([a / b for a, b in zip(times[name], times[reference], strict=True)])


def child(implementation: str, batches: int) -> None:
    """One epoch of ``implementation`` in this fresh process: print its memory as JSON."""
    import gc

    from bench_memory import reset_peak, rss_bytes

    X, y, _, _ = data(batches, BATCH, np.float32)
    cls = {"scratchnn": Scratchnn, "hand-written im2col NumPy": HandLoop}[implementation]
    trainer = cls(X, y, np.float32)
    gc.collect()
    loaded, reset = rss_bytes(), reset_peak()
    trainer.epoch()
    print(json.dumps({"loaded": loaded, "peak": high_water_bytes(), "reset": reset}))


def high_water_bytes() -> int:
    """VmHWM, the peak resident size since the reset (ru_maxrss would include the parent's
    size at the fork, this process being started from a large benchmark process)."""
    with open("/proc/self/status", encoding="ascii") as file:
        for line in file:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory(batches: int) -> dict[str, dict]:
    results = {}
    for name in ("hand-written im2col NumPy", "scratchnn"):
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            name,
            "--batches",
            str(batches),
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
    return results


def main() -> None:
    def extra(parser) -> None:
        parser.add_argument("--batches", type=int, default=60, help="batches of 128 per round")
        parser.add_argument("--repeats", type=int, default=3, help="timed rounds per dtype")
        parser.add_argument("--child", help=__import__("argparse").SUPPRESS)

    args = parse_args(__doc__.splitlines()[0], extra)
    if args.quick:
        args.batches, args.repeats = 2, 1
    if args.child:
        child(args.child, args.batches)
        return
    threads = blas_threads()
    load = MachineLoad()
    targets = Targets()
    say("## LeNet on MNIST: scratchnn, a hand-written im2col loop, PyTorch (bench_cnn.py)\n")
    say(numpy_kernel_line() + "  ")
    try:
        import torch

        torch.set_num_threads(threads)
        say(f"PyTorch: {torch_description(torch)}  ")
    except ImportError:
        pass
    say(
        f"{args.batches} batches of {BATCH} images per round, {args.repeats} timed rounds after "
        "a warm-up round; forward + backward + Adam.\n"
    )
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        trainers, times, accuracy = run_dtype(dtype, args.batches, args.repeats)
        rows = []
        for t in trainers:
            seconds = median(times[t.name])
            rows.append(
                [
                    t.name,
                    fmt(seconds),
                    fmt(seconds * EPOCH_BATCHES / args.batches),
                    fmt(paired(times, t.name, "scratchnn")),
                    f"{accuracy[t.name]:.3f}",
                ]
            )
        say(f"### {name}\n")
        say(
            markdown_table(
                [
                    "implementation",
                    f"s / {args.batches} batches",
                    "s / epoch (scaled)",
                    "time / scratchnn's (paired)",
                    "test accuracy (2,000)",
                ],
                rows,
            )
        )
        say()
        hand = paired(times, "scratchnn", "hand-written im2col NumPy")
        eager = paired(times, "scratchnn", "PyTorch eager")
        targets.at_most(f"{name}: scratchnn / hand-written im2col loop", hand, 1.0)
        targets.at_most(f"{name}: scratchnn / PyTorch eager", eager, 1.5)
        bound_batch = 16 if args.quick else BATCH
        say(
            f"Each conv layer's forward + backward against its products alone ({name}, batch "
            f"{bound_batch}, ms):\n"
        )
        say(
            markdown_table(
                [
                    "layer",
                    "product shapes (forward)",
                    "products",
                    "layer ms",
                    "products ms",
                    "layer / products",
                ],
                conv_layer_bounds(dtype, max(args.repeats, 3), bound_batch),
            )
        )
        say()
    mem = memory(args.batches)
    rows = []
    for name, m in mem.items():
        rows.append(
            [
                name,
                f"{m['loaded'] / 2**20:.0f}",
                f"{m['peak'] / 2**20:.0f}",
                f"{(m['peak'] - m['loaded']) / 2**20:.0f}",
            ]
        )
    say("### Peak memory of one round (float32, fresh process each)\n")
    say(markdown_table(["implementation", "loaded MiB", "peak MiB", "above loaded MiB"], rows))
    say()
    ratio = mem["scratchnn"]["peak"] / mem["hand-written im2col NumPy"]["peak"]
    targets.at_most("peak RSS, scratchnn / hand-written loop", ratio, 1.5)
    say("### Targets\n")
    say(targets.markdown())
    say(load.report())


if __name__ == "__main__":
    main()
