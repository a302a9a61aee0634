"""The small GPT (scratchnn.models): its tokenizer, generate, Residual, the training curve
against a PyTorch twin in float64, and the synthetic tasks a correct model learns exactly
(copy and reverse for the GPT, running parity for an LSTM)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnn as snn
from _sequence_twins import twin
from oracles import central_differences, to_numpy, to_torch
from scratchnn import losses, metrics, optim
from scratchnn.datasets.sequences import IGNORE, copy_task, parity_task, reverse_task
from scratchnn.models import GPT, CharTokenizer, attention_maps, context_length, generate

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)
pytestmark = pytest.mark.usefixtures("single_threaded_torch")


def fit(model, task, n, epochs, lr=3e-3, batch=32, seed=100):
    """AdamW through ``model.fit`` on ``n`` sequences of ``task``; the exact-sequence accuracy
    of every epoch, on the training sequences."""
    X, y = task(n, seed=seed)
    history = model.fit(
        X,
        y,
        loss="sequence_cross_entropy",
        optimizer=optim.AdamW(lr=lr, weight_decay=0.0),
        epochs=epochs,
        batch_size=batch,
        metrics=["sequence_accuracy"],
        verbose=0,
    )
    return history["sequence_accuracy"]


def exact_sequence_accuracy(model, X, y) -> float:
    return metrics.sequence_accuracy(model.forward(X), y)  # arg-max of logits = of softmax


# --------------------------------------------------------------------------------------------
# Tokenizer and generate
# --------------------------------------------------------------------------------------------


def test_tokenizer_round_trips_text_and_json():
    text = "To be, or not to be: that is the question.\n"
    tokenizer = CharTokenizer.from_text(text)
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.vocab_size == len(set(text))
    again = CharTokenizer.from_json(tokenizer.to_json())
    assert again == tokenizer and json.loads(tokenizer.to_json()) == {"chars": tokenizer.chars}
    with pytest.raises(ValueError, match=r"'Z' \(at position 2\) is not in the tokenizer's"):
        tokenizer.encode("toZ")
    with pytest.raises(ValueError, match="repeats"):
        CharTokenizer("aab")
    with pytest.raises(ValueError, match=r"Token ids must be in \[0, "):
        tokenizer.decode([999])


def tiny_gpt(seed=0, **kwargs):
    options = {"vocab_size": 7, "context": 8, "width": 16, "depth": 2, "heads": 2}
    return GPT(**{**options, **kwargs}, seed=seed, dtype=np.float64)


def test_gpt_is_causal_and_declares_its_context():
    model = tiny_gpt()
    ids = np.array([[1, 2, 3, 4, 5]])
    changed = ids.copy()
    changed[0, 3] = 6
    a, b = model.forward(ids), model.forward(changed)
    assert a.shape == (1, 5, 7)
    np.testing.assert_array_equal(a[:, :3], b[:, :3])  # the past does not see the future
    assert not np.allclose(a[:, 3:], b[:, 3:])
    assert context_length(model) == 8
    with pytest.raises(ValueError, match="width must be a multiple of heads"):
        GPT(7, 8, width=10, heads=4)


def test_generate_is_seeded_and_greedy_at_temperature_zero():
    model = tiny_gpt()
    tokenizer = CharTokenizer("abcdefg")
    first = generate(model, "abc", 12, temperature=1.0, seed=3, tokenizer=tokenizer)
    assert first == generate(model, "abc", 12, temperature=1.0, seed=3, tokenizer=tokenizer)
    assert first.startswith("abc") and len(first) == 15  # longer than the context: it slides
    greedy = generate(model, [0, 1, 2], 5, temperature=0)
    assert np.array_equal(greedy, generate(model, [0, 1, 2], 5, top_k=1, seed=9))
    ids = [0, 1, 2]
    for _ in range(5):  # greedy by hand
        ids.append(int(np.argmax(model.forward(np.array([ids[-8:]]))[0, -1])))
    np.testing.assert_array_equal(greedy, ids)
    with pytest.raises(ValueError, match="needs the tokenizer"):
        generate(model, "abc", 1)


def test_top_k_samples_only_among_the_k_most_likely():
    model = tiny_gpt()
    logits = model.forward(np.array([[0, 1]]))[0, -1]
    allowed = set(np.argsort(logits)[-2:].tolist())
    drawn = {int(generate(model, [0, 1], 1, top_k=2, seed=s)[-1]) for s in range(30)}
    assert drawn <= allowed and len(drawn) == 2


# --------------------------------------------------------------------------------------------
# Residual
# --------------------------------------------------------------------------------------------


def test_residual_adds_its_branch_and_both_gradient_paths():
    block = snn.Residual([snn.LayerNorm(4), snn.Dense(4, 8), snn.GELU(), snn.Dense(8, 4)])
    block.build(np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    upstream = np.random.default_rng(2).normal(size=x.shape)
    inner = x
    for layer in block.layers:
        inner = layer.forward(inner)
    np.testing.assert_allclose(block.forward(x), x + inner)
    dx = block.backward(upstream)

    def f():
        return float(np.sum(block.forward(x) * upstream))

    np.testing.assert_allclose(dx, central_differences(f, x, 1e-6), atol=1e-8)
    dense = block.layers[1]
    grad = dense.grads["W"].copy()
    np.testing.assert_allclose(grad, central_differences(f, dense.params["W"], 1e-6), atol=1e-8)
    assert block.output_shape((None, 4)) == (None, 4)
    with pytest.raises(ValueError, match="needs the two to have the same shape"):
        snn.Residual([snn.Dense(4, 3)]).output_shape((None, 4))


def test_residual_config_round_trips():
    block = snn.Residual([snn.LayerNorm(8), snn.MultiHeadAttention(8, 2, causal=True)])
    config = json.loads(json.dumps(block.get_config()))
    again = snn.layers.layers.lookup("Residual").from_config(config)
    assert again.get_config() == block.get_config()
    assert repr(again) == repr(block)


# --------------------------------------------------------------------------------------------
# The training curve against PyTorch
# --------------------------------------------------------------------------------------------


class TorchTwinGPT(torch.nn.Module):
    """scratchnn's GPT, layer by layer, in torch modules given the same weights."""

    def __init__(self, model):
        super().__init__()
        self.pairs: list[tuple[snn.Layer, str, torch.Tensor, bool]] = []
        self.steps = torch.nn.ModuleList()
        self.kinds: list[str] = []
        for layer in model.layers:
            if isinstance(layer, snn.PositionalEmbedding):
                module = torch.nn.Module()
                module.P = torch.nn.Parameter(to_torch(layer.params["P"]))
                self.pairs.append((layer, "P", module.P, False))
                kind = "position"
            elif isinstance(layer, snn.Residual):
                module = torch.nn.ModuleList(self._leaf(inner) for inner in layer.layers)
                kind = "residual"
            else:
                module, kind = self._leaf(layer), "plain"
            self.steps.append(module)
            self.kinds.append(kind)

    def _leaf(self, layer):
        if isinstance(layer, snn.GELU):
            return torch.nn.GELU(approximate=layer.approximate)
        module, pairs = twin(layer)
        self.pairs += [(layer, name, tensor, t) for name, tensor, t in pairs]
        return module

    @staticmethod
    def _run(module, x):
        if isinstance(module, torch.nn.MultiheadAttention):
            steps = x.shape[1]
            mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1)
            return module(x, x, x, attn_mask=mask, need_weights=False)[0]
        return module(x)

    def forward(self, ids):
        x = ids
        for module, kind in zip(self.steps, self.kinds, strict=True):
            if kind == "position":
                x = x + module.P[: x.shape[1]]
            elif kind == "residual":
                branch = x
                for inner in module:
                    branch = self._run(inner, branch)
                x = x + branch
            else:
                x = self._run(module, x)
        return x


def test_gpt_loss_curve_equals_pytorch_over_20_adamw_steps():
    model = tiny_gpt(seed=4)
    torch_model = TorchTwinGPT(model)
    loss = losses.SequenceCrossEntropy()
    ours = optim.AdamW(lr=3e-3)
    theirs = torch.optim.AdamW([tensor for *_, tensor, _ in torch_model.pairs], lr=3e-3)
    parameters = model.parameters()
    assert len(parameters) == len(torch_model.pairs)
    curve, torch_curve = [], []
    for step in range(20):
        X, y = copy_task(4, length=4, symbols=6, seed=step)
        curve.append(loss(model.forward(X, training=True), y))
        model.backward(loss.backward(), input_grad=False)
        ours.step(parameters)
        theirs.zero_grad()
        logits = torch_model(torch.from_numpy(X))
        value = torch.nn.functional.cross_entropy(
            logits.reshape(-1, 7), torch.from_numpy(y).reshape(-1), ignore_index=IGNORE
        )
        value.backward()
        theirs.step()
        torch_curve.append(value.item())
    np.testing.assert_allclose(curve, torch_curve, rtol=1e-6)
    for layer, name, tensor, transposed in torch_model.pairs:
        values = to_numpy(tensor)
        np.testing.assert_allclose(
            layer.params[name], values.T if transposed else values, rtol=1e-6, atol=1e-9
        )
    assert curve[-1] < curve[0]


# --------------------------------------------------------------------------------------------
# Synthetic tasks, learned exactly
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("task", [copy_task, reverse_task], ids=["copy", "reverse"])
def test_gpt_learns_copy_and_reverse_of_length_16_exactly(task):
    # Documented in docs/sequences.md: 2 blocks, 2 heads, width 32, 320 steps (seconds).
    model = GPT(vocab_size=9, context=32, width=32, depth=2, heads=2, seed=0)
    fit(model, lambda n, seed: task(n, length=16, symbols=8, seed=seed), n=2048, epochs=5)
    X, y = task(300, length=16, symbols=8, seed=1)  # held out
    assert exact_sequence_accuracy(model, X, y) == 1.0


@pytest.mark.slow
def test_reverse_attention_looks_at_the_mirrored_position():
    # After learning to reverse, a head of the first block puts most of answer position j's
    # attention on the source token it must emit next: the anti-diagonal.
    model = GPT(vocab_size=9, context=32, width=32, depth=2, heads=2, seed=0)
    fit(model, lambda n, seed: reverse_task(n, length=16, symbols=8, seed=seed), 2048, 5)
    X, _ = reverse_task(8, length=16, symbols=8, seed=3)
    maps = attention_maps(model, X)
    assert [m.shape for m in maps] == [(8, 2, 32, 32)] * 2
    # Query 16 + j (the separator, then the answer) predicts source token 15 - j.
    queries = np.arange(16, 32)
    sources = 15 - (queries - 16)
    hits = [maps[0][:, h, queries, sources].mean() for h in range(2)]
    assert max(hits) > 0.5, hits


@pytest.mark.slow
def test_lstm_learns_running_parity_of_16_bits_exactly():
    model = snn.Sequential([snn.Embedding(2, 8), snn.LSTM(8, 16), snn.Dense(16, 2)], seed=0)
    fit(model, lambda n, seed: parity_task(n, length=16, seed=seed), n=1024, epochs=5, lr=1e-2)
    X, y = parity_task(500, length=16, seed=1)
    assert exact_sequence_accuracy(model, X, y) == 1.0


# --------------------------------------------------------------------------------------------
# The GPT as a model: saving (with its tokenizer), gradcheck
# --------------------------------------------------------------------------------------------


def test_gpt_saves_and_loads_with_its_tokenizer(tmp_path):
    tokenizer = CharTokenizer("abcdefg")
    model = tiny_gpt()
    tokenizer.attach(model)
    X, y = copy_task(16, length=3, symbols=6, seed=0)
    model.fit(X, y, loss="sequence_cross_entropy", optimizer="adamw", epochs=1, verbose=0)
    model.save(tmp_path / "gpt.npz")
    again = snn.load(tmp_path / "gpt.npz")
    assert CharTokenizer.from_model(again) == tokenizer
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    text = generate(again, "abc", 5, seed=1)  # the attached tokenizer decodes
    assert text == generate(model, "abc", 5, seed=1) and len(text) == 8
    assert again.parameters().names() == model.parameters().names()


def test_gpt_passes_gradcheck_layer_by_layer():
    model = tiny_gpt(depth=1)
    X = np.array([[0, 1, 2, 3], [4, 5, 6, 0]])
    y = np.array([[1, 2, 3, -100], [5, 6, 0, 1]])
    result = snn.gradcheck(model, "sequence_cross_entropy", X, y, check_input=False, max_entries=12)
    assert result.passed, str(result)


@pytest.mark.slow
def test_the_text_example_trains_samples_and_saves(tmp_path, capsys):
    from pathlib import Path

    from _modules import load_file

    example = load_file(Path(__file__).parents[1] / "examples" / "gpt_text.py", "example_gpt")
    path = tmp_path / "gpt.npz"
    history = example.main(
        epochs=2, windows=32, context=16, width=16, depth=1, heads=2, batch=16, sample=20,
        save=str(path),
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "Tiny Shakespeare: 1,115,394 characters, 65 distinct" in out
    assert out.count("val bits/char") == 2 and "ROMEO:" in out
    assert history["val_loss"][-1] < history["val_loss"][0] < 4.5  # ln 65 = 4.17 at chance
    assert CharTokenizer.from_model(snn.load(path)).vocab_size == 65
