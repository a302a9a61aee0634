"""``scratchnn train-text`` and ``scratchnn generate``: a periodic text learned exactly in a
second by a tiny GPT and a tiny LSTM, the header's decisions, the saved file (tokenizer inside)
read by ``generate`` and ``info``, seeded generation, and the refusals of bad input, with
nothing on disk changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from _cli import error_line, run, snapshot
from scratchnn.cli import text as text_command
from scratchnn.cli import text_file
from scratchnn.models import CharTokenizer

#: A text a correct model predicts exactly after a few characters: 8 symbols, period 8.
PERIODIC = "abcdefg\n" * 100
#: Small enough to learn it in a second.
TINY = ["--width", "16", "--layers", "1", "--heads", "2", "--context", "16", "--lr", "0.01"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, str]:
    """``(text file, model file, stdout)`` of one tiny GPT trained on PERIODIC."""
    folder = tmp_path_factory.mktemp("text")
    data, out = folder / "periodic.txt", folder / "gpt.npz"
    data.write_text(PERIODIC, encoding="utf-8")
    status, stdout, stderr = run(
        "train-text", data, *TINY, "--epochs", "25", "--batch-size", "8", "--out", out
    )
    assert status == 0, stderr
    return data, out, stdout


def test_a_tiny_gpt_learns_a_periodic_text_exactly(trained):
    _, out, stdout = trained
    final = stdout.split("Trained 25 epochs in ")[1]
    bits = float(final.split("s: validation loss ")[1].split(", ")[1].split(" bits")[0])
    assert bits < 0.1  # from log2(8) = 3 bits for a uniform guess
    status, generated, stderr = run(
        "generate", out, "--prompt", "abc", "--tokens", "37", "--temperature", "0"
    )
    assert status == 0, stderr
    assert generated == "abc" + "defg\nabc" * 4 + "defg\n" + "\n"  # 40 characters, then print's


def test_the_header_names_every_decision(trained):
    data, out, stdout = trained
    lines = stdout.splitlines()
    assert lines[0] == f"Text: {data}, 800 characters (8 distinct: the vocabulary)."
    assert lines[1].startswith("Training on the first 720 characters (about 44 windows of 16")
    assert "validating on the last 80 (64 characters in 4 windows) [--val-split 0.1]" in lines[1]
    model = snn.load(out)
    n = model.parameters().flat.value.size
    assert lines[2] == (
        f"Model: GPT, 1 block, 2 heads, width 16, context 16: {n:,} parameters (preset tiny; "
        "--preset tiny|small|base, --layers, --heads, --width, --context)."
    )
    assert lines[3].startswith("Settings: AdamW (lr 0.01, weight decay 0.01")
    assert "batches of 8, 25 epochs" in lines[3] and "[auto: preset, sample every]" in lines[3]
    assert lines[4] == "A uniform guess scores 3.000 bits per character."
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 25 and epochs[0].startswith("epoch  1/25  loss ")
    assert " val bits/char " in epochs[-1]
    # The epoch of the lowest validation loss is the one saved.
    losses = [float(line.split("val_loss ")[1].split()[0]) for line in epochs]
    kept = model.metadata["training"]["kept_epoch"]
    assert losses[kept - 1] == min(losses)
    saved = model.metadata["metrics"]["validation"]["loss"]
    assert round(saved, 3) == min(losses)
    assert f"validation loss {saved:.4f}" in stdout
    ids = CharTokenizer.from_model(model).encode(PERIODIC[-80:])
    X_val, y_val = text_command.windows(ids, 16)
    assert model.evaluate(X_val, y_val)["loss"] == pytest.approx(saved, rel=1e-5)


def test_the_model_file_carries_its_tokenizer_and_generate_is_seeded(trained):
    _, out, _ = trained
    model = snn.load(out)
    assert CharTokenizer.from_model(model) == CharTokenizer.from_text(PERIODIC)
    assert model.metadata["text"]["context"] == 16
    hot = ["generate", out, "--prompt", "a", "--tokens", "60", "--temperature", "3"]
    first, again, other = run(*hot, "--seed", "1"), run(*hot, "--seed", "1"), run(*hot)
    assert first[0] == 0 and first == again
    assert other[1] != first[1] and len(first[1]) == 62  # prompt + 60, and print's line end
    status, stdout, _ = run("info", out)
    assert status == 0
    assert "Language model: character-level, 8 characters, context 16, trained on " in stdout
    assert "Vocabulary: '\\nabcdefg'" in stdout


def test_an_lstm_learns_it_too_and_generates_from_its_training_window(tmp_path):
    data, out = tmp_path / "periodic.txt", tmp_path / "lstm.npz"
    data.write_text(PERIODIC, encoding="utf-8")
    options = ["--model", "lstm", "--width", "32", "--context", "16", "--lr", "0.01"]
    status, stdout, stderr = run(
        "train-text", data, *options, "--epochs", "15", "--batch-size", "8", "--quiet", "--out", out
    )
    assert status == 0, stderr
    assert "Model: LSTM of width 32 (embedding 16), context 16" in stdout
    assert not any(line.startswith("epoch ") for line in stdout.splitlines())  # --quiet
    status, generated, _ = run(
        "generate", out, "--prompt", "ab", "--tokens", "30", "--temperature", "0"
    )
    assert generated == ("abcdefg\n" * 4)[:32] + "\n"


def test_a_short_text_shortens_the_context_and_says_so(tmp_path):
    data = tmp_path / "short.txt"
    data.write_text("the cat sat on the mat. " * 10, encoding="utf-8")  # 240 characters
    status, stdout, stderr = run(
        "train-text", data, "--epochs", "1", "--samples", "0", "--out", tmp_path / "m.npz"
    )
    assert status == 0, stderr
    assert "context 23:" in stdout  # the last 24 characters validate: windows of 23 + 1
    assert "[auto: preset, context, batch size, sample every]" in stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty. Pass a UTF-8 text file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00" + b"x" * 300, "is not text: it has a NUL byte at offset 8"),
        ("café ".encode("latin-1") * 60, "is not UTF-8: byte 0xe9 at offset 3"),
        ("hello world ".encode("utf-16") * 30, "is UTF-16 text; train-text reads UTF-8 text"),
        (b"too short\n", "has 10 characters; a language model needs at least 200"),
        (b" \n\t" * 100, "holds only white space"),
    ],
)
def test_files_that_are_not_usable_text_are_refused(tmp_path, content, message):
    data = tmp_path / "input.txt"
    data.write_bytes(content)
    before = snapshot(tmp_path)
    line = error_line(*run("train-text", data, "--out", tmp_path / "m.npz")[::2])
    assert message in line
    assert snapshot(tmp_path) == before


def test_a_file_over_the_limit_is_refused_with_its_size_unless_its_start_is_asked(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(text_file, "MAX_TEXT_BYTES", 4096)
    data = tmp_path / "big.txt"
    data.write_text(PERIODIC * 10, encoding="utf-8")  # 8,000 bytes
    line = error_line(*run("train-text", data, "--out", tmp_path / "m.npz")[::2])
    assert "is 7.8 KiB; train-text reads at most 4.0 KiB of text" in line
    assert "--max-tokens N" in line and not (tmp_path / "m.npz").exists()
    status, stdout, stderr = run(
        "train-text", data, "--max-tokens", "400", *TINY, "--epochs", "1", "--samples", "0",
        "--out", tmp_path / "m.npz",
    )  # fmt: skip
    assert status == 0, stderr
    assert "400 characters" in stdout.splitlines()[0]


def test_bad_options_and_prompts_are_refused_before_any_work(tmp_path, trained):
    data, out, _ = trained
    cases = [
        (["train-text", data, "--model", "lstm", "--heads", "2"], "--heads is for --model gpt"),
        (["train-text", data, "--width", "30", "--heads", "4"], "multiple of its heads"),
        (["train-text", data, "--context", "500"], "--context 500 needs at least 501 characters"),
        (["train-text", data, "--prompt", "xyzé"], "4 characters that the model's vocabulary"),
        (["train-text", data, "--data", "shakespeare"], "Pass FILE or --data, not both"),
        (["train-text", tmp_path / "missing.txt"], "No such file"),
        (["train-text", tmp_path], "is a folder"),
        (["generate", out, "--prompt", "abZ€"], "lacks: 'Z', '€'"),
        (["generate", out, "--tokens", "0"], "expected a positive whole number"),
        (["generate", data], "is not a scratchnn model file"),
    ]
    for argv, message in cases:
        before = snapshot(tmp_path)
        extra = ["--out", tmp_path / "new.npz"] if argv[0] == "train-text" else []
        assert message in error_line(*run(*argv, *extra)[::2]), argv
        assert snapshot(tmp_path) == before


def test_generate_and_predict_tell_models_apart(tmp_path, trained):
    _, out, _ = trained
    mlp = snn.MLP([2, 3, 1], seed=0)
    mlp.save(tmp_path / "mlp.npz")
    line = error_line(*run("generate", tmp_path / "mlp.npz")[::2])
    assert "is not a language model (it has no character tokenizer)" in line
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n", encoding="utf-8")
    line = error_line(*run("predict", out, table)[::2])
    assert "is a character-level language model" in line and "scratchnn generate" in line


def test_the_output_never_replaces_the_input(tmp_path):
    data = tmp_path / "periodic.txt"
    data.write_text(PERIODIC, encoding="utf-8")
    link = tmp_path / "link.npz"
    link.symlink_to(data)
    before = snapshot(tmp_path)
    for out in (data, link):
        line = error_line(*run("train-text", data, "--out", out)[::2])
        assert "is the same file as FILE" in line and "would destroy it" in line
    assert snapshot(tmp_path) == before


def test_windows_are_one_pass_over_the_text():
    X, y = text_command.windows(np.arange(10), 3)
    assert X.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert np.array_equal(y, X + 1)


def test_windows_line_ends_are_read_as_python_reads_text(tmp_path):
    data = tmp_path / "dos.txt"
    data.write_bytes(b"\xef\xbb\xbf" + PERIODIC.replace("\n", "\r\n").encode())  # a BOM, too
    status, stdout, stderr = run(
        "train-text", data, *TINY, "--epochs", "1", "--fraction", "0.5", "--samples", "0",
        "--out", tmp_path / "m.npz",
    )  # fmt: skip
    assert status == 0, stderr
    assert stdout.splitlines()[0] == (
        f"Text: {data}, 400 characters (8 distinct: the vocabulary); 100 Windows line ends "
        "(\\r\\n) read as \\n."
    )
    assert CharTokenizer.from_model(snn.load(tmp_path / "m.npz")).chars == "\nabcdefg"


def test_generate_reads_the_window_it_is_given(trained):
    from scratchnn.models import generate

    model = snn.load(trained[1])
    with pytest.raises(ValueError, match="context"):
        generate(model, "abc", 5, context=0)
    assert generate(model, "abcdefg\n" * 3, 8, temperature=0, context=16).endswith("abcdefg\n")


def test_a_model_file_whose_tokenizer_or_records_do_not_fit_is_refused_clearly(tmp_path):
    from scratchnn.models import GPT

    model = GPT(vocab_size=5, context=8, width=8, depth=1, heads=2, seed=0)
    CharTokenizer.from_text("abcdefg").attach(model)  # 7 characters for 5 tokens
    model.metadata["text"] = ["not", "a", "record"]
    model.save(tmp_path / "odd.npz")
    line = error_line(*run("generate", tmp_path / "odd.npz", "--prompt", "ab")[::2])
    assert "is damaged: its tokenizer has 7 characters, but the network takes 5 tokens" in line
    status, stdout, stderr = run("info", tmp_path / "odd.npz")
    assert status == 0, stderr
    assert "Language model: character-level, 7 characters, context 8 (" in stdout
