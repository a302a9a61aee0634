"""Sequence models: one training step (forward, loss, backward, AdamW) of a small GPT and of an
LSTM language model, scratchnn against PyTorch CPU eager, same shapes, float32.

Workloads (character-level, the bundled Tiny Shakespeare's 65 symbols, batches of random
windows of the text):

- **GPT**: ``scratchnn.models.GPT(65, context=128, width=128, depth=4, heads=4)``, pre-norm
  blocks of causal attention and a GELU MLP; batch 16 x 128 tokens. PyTorch: the same network
  written as a user would (``nn.Embedding``, ``nn.LayerNorm``, ``nn.Linear``,
  ``F.scaled_dot_product_attention(is_causal=True)``, ``nn.GELU(approximate="tanh")``), given
  scratchnn's initial weights.
- **LSTM LM**: ``Embedding(65, 128) → LSTM(128, 256) → Dense(256, 65)``; batch 16 x 128 tokens.
  PyTorch: ``nn.Embedding``, ``nn.LSTM(batch_first=True)`` (its fused CPU kernel), ``nn.Linear``.

Both use ``SequenceCrossEntropy`` / ``F.cross_entropy`` over every position and AdamW
(lr 3e-4, weight decay 0.01). scratchnn's step is the public ``model.train_step`` (with its
divergence guard), on the threads that ``fit`` would use (``scratchnn.sharded.plan``: the batch
in shards, one BLAS thread each, when the step has the work to pay; the plan is printed);
PyTorch's is ``zero_grad, forward, cross_entropy, backward, step`` with the
loss read by ``.item()``. PyTorch runs with as many threads as NumPy's BLAS.

Timing: paired rounds. Each round times ``--steps`` steps of one library, then of the other (the
order alternating between rounds), after a short pause (``common.settle``); the ratio is the
median over rounds of the ratio within a round, so a slow spell of the machine hits both sides.
Tokens per second are ``batch x context / step time``. ``--workload gpt`` or
``--workload lstm`` times only that one.

Peak memory: each implementation runs in a fresh process that resets its resident-set high-water
mark after building the model and one warm-up step (Linux ``/proc/self/clear_refs``), then
takes 3 steps; the table shows the peak above the memory held before those steps (the working
memory of a step: activations, gradients, temporaries).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from contextlib import nullcontext
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
    torch_description,
)

import scratchnn as snn
from scratchnn import sharded
from scratchnn.datasets.text import load_text, next_token_windows
from scratchnn.models import GPT, CharTokenizer

FULL = {
    "gpt": {"context": 128, "width": 128, "depth": 4, "heads": 4, "batch": 16},
    "lstm": {"context": 128, "width": 128, "hidden": 256, "batch": 16},
}
QUICK = {
    "gpt": {"context": 16, "width": 32, "depth": 1, "heads": 2, "batch": 2},
    "lstm": {"context": 16, "width": 16, "hidden": 32, "batch": 2},
}
LR, WEIGHT_DECAY = 3e-4, 0.01
TARGET_RATIO = 1.5  # the bar: a step at most 1.5x PyTorch eager's time


@functools.cache
def _corpus() -> tuple[str, CharTokenizer]:
    text = load_text()
    return text[:200_000], CharTokenizer.from_text(text)


def data(shape: dict) -> tuple[np.ndarray, np.ndarray, int]:
    text, tokenizer = _corpus()
    ids = tokenizer.encode(text[: 100 * shape["batch"] * shape["context"]])
    X, y = next_token_windows(ids, shape["context"], shape["batch"], seed=0)
    return X, y, tokenizer.vocab_size


def scratchnn_model(workload: str, shape: dict, vocab: int) -> snn.Sequential:
    if workload == "gpt":
        model = GPT(vocab, shape["context"], shape["width"], shape["depth"], shape["heads"], seed=0)
    else:
        width, hidden = shape["width"], shape["hidden"]
        model = snn.Sequential(
            [snn.Embedding(vocab, width), snn.LSTM(width, hidden), snn.Dense(hidden, vocab)],
            seed=0,
        )
    model.loss = snn.losses.SequenceCrossEntropy()
    model.optimizer = snn.optim.AdamW(lr=LR, weight_decay=WEIGHT_DECAY)
    return model


def torch_model(torch, model: snn.Sequential, workload: str):
    """The same network in PyTorch, with ``model``'s initial weights."""
    nn, F = torch.nn, torch.nn.functional

    def tensor(array, transpose=False):
        return nn.Parameter(torch.from_numpy(np.array(array.T if transpose else array)))

    def linear(dense):
        module = nn.Linear(dense.in_features, dense.out_features)
        module.weight, module.bias = tensor(dense.params["W"], True), tensor(dense.params["b"])
        return module

    def norm(layer):
        module = nn.LayerNorm(layer.num_features, eps=layer.eps)
        module.weight, module.bias = tensor(layer.params["gamma"]), tensor(layer.params["beta"])
        return module

    layers = model.layers
    embedding = nn.Embedding(layers[0].num_embeddings, layers[0].embedding_dim)
    embedding.weight = tensor(layers[0].params["W"])
    if workload == "lstm":
        lstm_layer = layers[1]
        lstm = nn.LSTM(lstm_layer.input_size, lstm_layer.hidden_size, batch_first=True)
        lstm.weight_ih_l0 = tensor(lstm_layer.params["W"], True)
        lstm.weight_hh_l0 = tensor(lstm_layer.params["U"], True)
        lstm.bias_ih_l0 = tensor(lstm_layer.params["b"])
        lstm.bias_hh_l0 = nn.Parameter(torch.zeros_like(lstm.bias_ih_l0))
        head = linear(layers[2])

        class LSTMLanguageModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding, self.lstm, self.head = embedding, lstm, head

            def forward(self, ids):
                return self.head(self.lstm(self.embedding(ids))[0])

        return LSTMLanguageModel()

    class Block(nn.Module):
        def __init__(self, attend, mlp):
            super().__init__()
            ln1, mha = attend.layers[:2]
            ln2, fc, gelu, proj = mlp.layers[:4]
            self.heads = mha.num_heads
            self.ln1, self.ln2 = norm(ln1), norm(ln2)
            self.qkv = nn.Linear(mha.embed_dim, 3 * mha.embed_dim)
            self.qkv.weight = tensor(mha.params["W_qkv"], True)
            self.qkv.bias = tensor(mha.params["b_qkv"])
            self.out = nn.Linear(mha.embed_dim, mha.embed_dim)
            self.out.weight, self.out.bias = (
                tensor(mha.params["W_o"], True),
                tensor(mha.params["b_o"]),
            )
            self.fc, self.proj = linear(fc), linear(proj)
            self.gelu = nn.GELU(approximate=gelu.approximate)

        def forward(self, x):
            batch, steps, width = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(width, dim=2)
            q, k, v = (a.view(batch, steps, self.heads, -1).transpose(1, 2) for a in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.out(a.transpose(1, 2).reshape(batch, steps, width))
            return x + self.proj(self.gelu(self.fc(self.ln2(x))))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = embedding
            self.position = tensor(layers[1].params["P"])
            self.blocks = nn.ModuleList(
                Block(layers[i], layers[i + 1]) for i in range(2, len(layers) - 2, 2)
            )
            self.ln, self.head = norm(layers[-2]), linear(layers[-1])

        def forward(self, ids):
            x = self.embedding(ids) + self.position[: ids.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln(x))

    return TorchGPT()


class Runner:
    """One implementation's training step on the fixed batch."""

    def __init__(self, library: str, workload: str, shape: dict) -> None:
        X, y, vocab = data(shape)
        self.model = scratchnn_model(workload, shape, vocab)
        self.library = library
        self.threads = nullcontext()
        if library == "scratchnn":
            self.X, self.y = X, y
            self.step = self._scratchnn_step
            # The steps fit would take: on several threads when its plan says so.
            self.plan = sharded.plan(self.model, shape["batch"], None, X.shape[1:])
            if self.plan.threads > 1:
                self.threads = sharded.Shards(self.model, self.plan.threads)
        else:
            import torch

            self.torch = torch
            self.net = torch_model(torch, self.model, workload)
            self.optimizer = torch.optim.AdamW(
                self.net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY
            )
            self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
            self.vocab = vocab
            self.step = self._torch_step

    def _scratchnn_step(self) -> float:
        return self.model.train_step(self.X, self.y).loss

    def _torch_step(self) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.net(self.X)
        loss = self.torch.nn.functional.cross_entropy(
            logits.reshape(-1, self.vocab), self.y.reshape(-1)
        )
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def time_steps(self, steps: int) -> float:
        settle()
        with self.threads:
            start = time.perf_counter()
            for _ in range(steps):
                self.step()
            return (time.perf_counter() - start) / steps


def child(library: str, workload: str, quick: bool) -> None:
    """Peak memory of 3 steps in this fresh process (see the module's docstring); JSON out."""
    if library == "pytorch":
        import torch

        torch.set_num_threads(blas_threads())
    runner = Runner(library, workload, (QUICK if quick else FULL)[workload])
    runner.step()  # warm-up: lazy buffers, the optimizer's state
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)
        reset = True
    except OSError:
        reset = False
    held = status_bytes("VmRSS")
    with runner.threads:
        for _ in range(3):
            runner.step()
    print(json.dumps({"peak": status_bytes("VmHWM"), "held": held, "reset": reset}))


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: now; VmHWM: the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field}")


def peak_memory(library: str, workload: str, quick: bool) -> dict:
    command = [sys.executable, __file__, "--child", library, workload]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        lambda p: (
            p.add_argument("--rounds", type=int, default=7, help="paired rounds (7)"),
            p.add_argument("--steps", type=int, default=3, help="steps timed per round (3)"),
            p.add_argument(
                "--workload",
                choices=("all", *FULL),
                default="all",
                help="time only this workload (all)",
            ),
            p.add_argument("--child", nargs=2, metavar=("LIBRARY", "WORKLOAD"), help="internal"),
        ),
    )
    if args.child:
        child(*args.child, args.quick)
        return
    import torch

    torch.set_num_threads(blas_threads())
    load = MachineLoad()
    shapes = QUICK if args.quick else FULL
    rounds, steps = (1, 1) if args.quick else (args.rounds, args.steps)
    say(numpy_kernel_line())
    say(torch_description(torch))
    targets = Targets()
    rows = []
    for workload, shape in shapes.items():
        if args.workload not in ("all", workload):
            continue
        runners = {lib: Runner(lib, workload, shape) for lib in ("scratchnn", "pytorch")}
        # The first step's losses (the same initial weights and batch) show that the two
        # libraries train the same network; it doubles as the warm-up.
        first = {lib: runner.step() for lib, runner in runners.items()}
        targets.require(
            f"{workload.upper()}: the same network in both libraries",
            abs(first["scratchnn"] - first["pytorch"]) <= 1e-4 * abs(first["pytorch"]),
            f"first-step loss {first['scratchnn']:.6f} (scratchnn), "
            f"{first['pytorch']:.6f} (PyTorch)",
        )
        say(f"{workload.upper()}: scratchnn trains {runners['scratchnn'].plan.describe()}")
        times = {lib: [] for lib in runners}
        ratios = []
        for r in range(rounds):
            order = ["scratchnn", "pytorch"] if r % 2 == 0 else ["pytorch", "scratchnn"]
            measured = {lib: runners[lib].time_steps(steps) for lib in order}
            for lib, seconds in measured.items():
                times[lib].append(seconds)
            ratios.append(measured["scratchnn"] / measured["pytorch"])
        tokens = shape["batch"] * shape["context"]
        ratio = median(ratios)
        for lib in runners:
            memory = peak_memory(lib, workload, args.quick)
            step = median(times[lib])
            rows.append(
                [
                    f"{workload.upper()} {shape}",
                    lib,
                    fmt(1000 * step),
                    f"{tokens / step:,.0f}",
                    fmt(ratio) if lib == "scratchnn" else "1",
                    fmt((memory["peak"] - memory["held"]) / 2**20),
                ]
            )
        targets.at_most(
            f"{workload.upper()} step time, scratchnn / PyTorch eager", ratio, TARGET_RATIO
        )
    headers = [
        "workload",
        "implementation",
        "step (ms)",
        "tokens/s",
        "time / PyTorch",
        "peak above held (MB)",
    ]
    say()
    say(markdown_table(headers, rows))
    say()
    say(
        f"- float32, AdamW, {rounds} paired rounds of {steps} steps; forward + loss + backward "
        "+ update per step; ratio: the median over rounds of the ratio within a round"
    )
    say(targets.markdown())
    say(load.report())


if __name__ == "__main__":
    main()
