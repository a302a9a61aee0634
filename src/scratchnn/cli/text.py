"""``scratchnn train-text`` and ``scratchnn generate``: a character-level language model (the
small GPT of docs/sequences.md, or an LSTM) trained on a UTF-8 text file, and text sampled
from the saved model.

``scratchnn train-text FILE`` reads the file (bounded: at most :data:`MAX_TEXT_BYTES`),
builds the character tokenizer, trains on the first 90% of the text and validates on the
rest, printing the validation loss, the bits per character and a sample as it goes, and saves
the model with its tokenizer inside. ``scratchnn generate MODEL --prompt TEXT`` continues a
prompt. Every choice the command makes from the data (the model's size, the context, the
epochs, the batch) is printed in the header, with the option that overrides it.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import __version__, optim, schedules
from ..datasets.text import load_text
from ..io import load
from ..layers import LSTM, Dense, Dropout, Embedding, Layer
from ..model import Sequential
from ..models import GPT, CharTokenizer, context_length, generate
from . import outputs
from .terminal import printable
from .text_file import Text, read_text

#: The shortest text a model is trained on.
MIN_CHARACTERS = 200
#: Built-in texts, by the name ``--data`` takes.
BUILT_IN = {"shakespeare": "tinyshakespeare", "tinyshakespeare": "tinyshakespeare"}
#: About this many optimizer steps when ``--epochs`` is not given (1 to 50 epochs).
TARGET_STEPS, MAX_EPOCHS = 1000, 50
#: Validation logits held at once: at most this many floats (and 1,024 windows).
MAX_VALIDATION_FLOATS = 1 << 24


@dataclass(frozen=True)
class Shape:
    """A language model's size: blocks (GPT) or stacked LSTMs, heads (GPT only), width (the
    GPT's features per position, the LSTM's state), context (characters per window)."""

    layers: int
    heads: int
    width: int
    context: int
    lr: float


#: Presets by model; ``base`` is the issue's GPT (4 blocks, 4 heads, 128 wide, context 128) and
#: the benchmark's LSTM (Embedding(65, 128) → LSTM(128, 256) → Dense(256, 65)).
PRESETS = {
    "gpt": {
        "tiny": Shape(2, 2, 32, 32, 3e-3),
        "small": Shape(2, 4, 64, 64, 2e-3),
        "base": Shape(4, 4, 128, 128, 1e-3),
    },
    "lstm": {
        "tiny": Shape(1, 0, 64, 32, 3e-3),
        "small": Shape(1, 0, 128, 64, 2e-3),
        "base": Shape(1, 0, 256, 128, 2e-3),
    },
}
#: The preset chosen by the number of training characters: tiny under 50,000, small under
#: 500,000, base from there.
PRESET_BY_SIZE = ((50_000, "tiny"), (500_000, "small"))


def _source(args: argparse.Namespace) -> Text:
    if args.data is not None and args.dataset is not None:
        raise ValueError(
            f"Pass FILE or --data, not both (received FILE {args.data} and --data {args.dataset})."
        )
    if args.data is None:
        name = BUILT_IN[args.dataset or "shakespeare"]
        text = load_text(name)
        if args.max_tokens is not None:
            text = text[: args.max_tokens]
        return Text("Tiny Shakespeare (bundled)", text)
    return read_text(args.data, args.max_tokens)


# --------------------------------------------------------------------------------------------
# The model and its settings
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """Every decision of a run, and which of them were made from the data."""

    model: str
    preset: str
    shape: Shape
    epochs: int
    batch_size: int
    lr: float
    sample_every: int
    prompt: str
    chosen: list[str]


def build_language_model(
    kind: str, vocab_size: int, shape: Shape, dropout: float = 0.0, seed: int = 0
) -> Sequential:
    """A character-level language model: token ids ``(batch, time)`` to logits ``(batch,
    time, vocab_size)``.

    ``"gpt"``: :func:`scratchnn.models.GPT` of ``shape.layers`` blocks. ``"lstm"``:
    ``Embedding(V, width/2) → LSTM(width/2, width) → … → Dense(width, V)`` with ``shape.layers``
    LSTMs (and dropout after each, in training, if ``dropout``).
    """
    if kind == "gpt":
        return GPT(
            vocab_size,
            shape.context,
            width=shape.width,
            depth=shape.layers,
            heads=shape.heads,
            dropout=dropout,
            seed=seed,
        )
    embedding = max(1, shape.width // 2)
    layers: list[Layer] = [Embedding(vocab_size, embedding)]
    size = embedding
    for _ in range(shape.layers):
        layers.append(LSTM(size, shape.width))
        if dropout:
            layers.append(Dropout(dropout))
        size = shape.width
    layers.append(Dense(shape.width, vocab_size))
    return Sequential(layers, seed=seed)


def _shape(args: argparse.Namespace, n_train: int, n_val: int, chosen: list[str]) -> tuple:
    """``(preset name, Shape)`` from ``--preset`` or the size of the text, with the
    ``--layers/--heads/--width/--context`` given on top; the context shortened to fit a short
    text unless given."""
    if args.model == "lstm" and args.heads is not None:
        raise ValueError("--heads is for --model gpt; an LSTM has no attention heads.")
    preset = args.preset
    if preset is None:
        preset = next((name for limit, name in PRESET_BY_SIZE if n_train < limit), "base")
        chosen.append("preset")
    shape = PRESETS[args.model][preset]
    given = {k: getattr(args, k) for k in ("layers", "heads", "width", "context")}
    shape = replace(shape, **{k: v for k, v in given.items() if v is not None})
    if args.model == "gpt" and shape.width % shape.heads:
        raise ValueError(
            f"The GPT's width must be a multiple of its heads; received width {shape.width} "
            f"and {shape.heads} heads. Pick --width and --heads to fit (e.g. --width "
            f"{shape.heads * max(1, round(shape.width / shape.heads))})."
        )
    room = min(n_train, n_val) - 1  # a window needs context + 1 characters (its targets)
    if room < 2:
        raise ValueError(
            f"--val-split {args.val_split:g} leaves {n_train:,} characters to train on and "
            f"{n_val:,} to validate on; each part needs at least 3. Use a --val-split nearer "
            "0.1."
        )
    if shape.context > room:
        if args.context is not None:
            raise ValueError(
                f"--context {args.context} needs at least {args.context + 1} characters in "
                f"both parts of the text, but the validation part has {n_val:,} and the "
                f"training part {n_train:,}. Use --context {room} or less, a larger "
                "--val-split, or a longer text."
            )
        shape = replace(shape, context=room)
        chosen.append("context")
    return preset, shape


def _plan(args: argparse.Namespace, n_train: int, n_val: int, vocab: CharTokenizer) -> Plan:
    chosen: list[str] = []
    preset, shape = _shape(args, n_train, n_val, chosen)
    windows = (n_train - 1) // shape.context
    batch = args.batch_size
    if batch is None:
        batch = min(32, windows)
        chosen.append("batch size")
    steps = math.ceil(windows / batch)
    epochs = args.epochs
    if epochs is None:
        epochs = max(1, min(MAX_EPOCHS, round(TARGET_STEPS / steps)))
        chosen.append("epochs")
    sample_every = args.sample_every
    if sample_every is None:
        sample_every = max(1, math.ceil(epochs / 10))
        chosen.append("sample every")
    lr = args.lr if args.lr is not None else shape.lr
    prompt = args.prompt
    if prompt is None:
        prompt = "\n" if "\n" in vocab.chars else vocab.chars[0]
    else:
        check_prompt(prompt, vocab, "--prompt")
    return Plan(args.model, preset, shape, epochs, batch, lr, sample_every, prompt, chosen)


def check_prompt(prompt: str, tokenizer: CharTokenizer, option: str = "--prompt") -> None:
    """Refuse a prompt with characters outside ``tokenizer``'s vocabulary, naming them all."""
    if not prompt:
        raise ValueError(f"{option} is empty; generating needs at least one character.")
    missing = sorted(set(prompt) - set(tokenizer.chars))
    if missing:
        names = ", ".join(repr(c) for c in missing[:20]) + (", ..." if len(missing) > 20 else "")
        raise ValueError(
            f"{option} has {len(missing)} character{'s' * (len(missing) > 1)} that the model's "
            f"vocabulary of {tokenizer.vocab_size} characters lacks: {names}. Use only "
            "characters of the training text (scratchnn info MODEL lists them)."
        )


def windows(ids: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive, non-overlapping windows of ``ids`` and their targets one character later:
    one pass over the text (the last characters that fill no window are left out)."""
    n = (len(ids) - 1) // context
    X = ids[: n * context].reshape(n, context)
    y = ids[1 : n * context + 1].reshape(n, context)
    return X, y


# --------------------------------------------------------------------------------------------
# train-text
# --------------------------------------------------------------------------------------------


def _fit(
    model: Sequential,
    plan: Plan,
    args: argparse.Namespace,
    train_ids: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray],
) -> tuple[int, int, float]:
    """Train ``plan.epochs`` epochs, each one pass over the training text in windows that start
    at a random offset (so that no character is always the first of its window), in shuffled
    order; print a line per epoch and the samples. At the end, the weights of the epoch with
    the lowest validation loss are put back (unless ``--keep-last``), as nanoGPT keeps its best
    checkpoint. Returns ``(epochs done, the kept epoch, its val_loss)`` (fewer epochs after
    Ctrl-C)."""
    context = plan.shape.context
    # An offset o leaves (n - o - 1) // context windows: at least one for o < n - context.
    highest = min(context, len(train_ids) - context)
    offsets = np.random.default_rng(args.seed).integers(0, highest, size=plan.epochs)
    options: dict[str, Any] = {
        "loss": "sequence_cross_entropy",
        "optimizer": optim.AdamW(lr=plan.lr, weight_decay=0.01, clip_norm=1.0),
        "schedule": schedules.CosineAnnealing(T_max=plan.epochs, eta_min=plan.lr / 10),
    }
    done, val_loss = 0, float("nan")
    best: tuple[float, int, np.ndarray | None] = (math.inf, 0, None)
    for epoch in range(1, plan.epochs + 1):
        X, y = windows(train_ids[int(offsets[epoch - 1]) :], context)
        start = time.perf_counter()
        history = model.fit(  # the optimizer and schedule carry on from one call to the next
            X,
            y,
            epochs=1,
            batch_size=plan.batch_size,
            validation_data=validation,
            verbose=0,
            **options,
        )
        options = {}
        seconds = max(time.perf_counter() - start, 1e-6)
        if len(history):
            done, val_loss = epoch, float(history["val_loss"][-1])
            if val_loss < best[0]:
                best = (val_loss, epoch, None if args.keep_last else model.get_weights())
        if history.interrupted:
            print("Interrupted: saving the model as it is now.")
            break
        if args.quiet:
            continue
        print(
            f"epoch {epoch:{len(str(plan.epochs))}d}/{plan.epochs}  loss "
            f"{history['loss'][-1]:.3f}  val_loss {val_loss:.3f}  val bits/char "
            f"{val_loss / math.log(2):.3f}  ({seconds:.1f} s, {X.size / seconds:,.0f} "
            "characters/s)"
        )
        if args.samples and (epoch % plan.sample_every == 0 or epoch == plan.epochs):
            try:
                sample = _sample(model, plan.prompt, args.samples, epoch)
            except KeyboardInterrupt:  # Ctrl-C while sampling: the model is whole, keep it
                print("Interrupted: saving the model as it is now.")
                break
            print(_indent(sample.lstrip("\n")))
    if args.keep_last or best[2] is None or best[1] == done:
        return done, done, val_loss
    model.set_weights(best[2])
    print(
        f"Kept the weights of epoch {best[1]}, whose validation loss ({best[0]:.4f}) was the "
        f"lowest (the last epoch's: {val_loss:.4f}; --keep-last keeps the last)."
    )
    return done, best[1], best[0]


def _sample(model: Sequential, prompt: str, n: int, seed: int) -> str:
    return str(generate(model, prompt, n, temperature=0.8, seed=seed))


def _indent(text: str) -> str:
    return printable("  " + text.replace("\n", "\n  "))


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' * (n != 1)}"


def _describe_shape(plan: Plan) -> str:
    s = plan.shape
    if plan.model == "gpt":
        blocks, heads = _count(s.layers, "block"), _count(s.heads, "head")
        return f"GPT, {blocks}, {heads}, width {s.width}, context {s.context}"
    stack = f"{s.layers} LSTMs" if s.layers > 1 else "LSTM"
    return f"{stack} of width {s.width} (embedding {max(1, s.width // 2)}), context {s.context}"


def train_text(args: argparse.Namespace) -> int:
    """``scratchnn train-text``: see the module's docstring."""
    outputs.check(args, [("--out", args.out, "model")], outputs.existing("FILE", args.data))
    source = _source(args)
    if args.fraction is not None:
        source.text = source.text[: max(1, round(len(source.text) * args.fraction))]
    if not source.text.strip():
        raise ValueError(
            f"{source.name} holds only white space. Pass a text with some words in it."
        )
    if len(source.text) < MIN_CHARACTERS:
        cut = " (after --max-tokens/--fraction)" if args.max_tokens or args.fraction else ""
        raise ValueError(
            f"{source.name} has {len(source.text):,} characters{cut}; a language model needs "
            f"at least {MIN_CHARACTERS} to train and validate on. Pass a longer text."
        )
    tokenizer = CharTokenizer.from_text(source.text)
    ids = tokenizer.encode(source.text)
    split = len(ids) - max(1, round(len(ids) * args.val_split))
    train_ids, val_ids = ids[:split], ids[split:]
    plan = _plan(args, len(train_ids), len(val_ids), tokenizer)
    context = plan.shape.context
    n_windows = (len(train_ids) - 1) // context
    X_val, y_val = windows(val_ids, context)
    cap = max(1, min(1024, MAX_VALIDATION_FLOATS // (context * tokenizer.vocab_size)))
    X_val, y_val = X_val[:cap], y_val[:cap]
    model = build_language_model(
        plan.model, tokenizer.vocab_size, plan.shape, args.dropout, args.seed
    )
    tokenizer.attach(model)
    n_params = model.parameters().flat.value.size

    # The header: every decision, and the option that changes it.
    extra = f"; {source.note}" if source.note else ""
    print(
        f"Text: {source.name}, {len(source.text):,} characters "
        f"({tokenizer.vocab_size} distinct: the vocabulary){extra}."
    )
    print(
        f"Training on the first {len(train_ids):,} characters (about {n_windows:,} "
        f"windows of {context} per epoch, from a random offset), validating on the last "
        f"{len(val_ids):,} ({len(X_val) * context:,} characters in {_count(len(X_val), 'window')}) "
        f"[--val-split {args.val_split:g}]."
    )
    auto = f" [auto: {', '.join(plan.chosen)}]" if plan.chosen else ""
    print(
        f"Model: {_describe_shape(plan)}: {n_params:,} parameters (preset {plan.preset}; "
        f"--preset tiny|small|base, --layers, --heads, --width, --context)."
    )
    sample = (
        f"a sample of {args.samples} characters every {plan.sample_every} epoch"
        f"{'s' * (plan.sample_every > 1)} from the prompt {plan.prompt!r} (temperature 0.8)"
        if args.samples
        else "no samples"
    )
    keep = "the last kept" if args.keep_last else "the best on validation kept"
    print(
        f"Settings: AdamW (lr {plan.lr:g}, weight decay 0.01, gradients clipped at norm 1), "
        f"cosine schedule to lr/10, batches of {plan.batch_size}, {plan.epochs} epochs "
        f"({keep}), {sample}{auto}; override with --lr, --batch-size, --epochs, "
        f"--keep-last, --samples, --sample-every, --prompt."
    )
    print(f"A uniform guess scores {math.log2(tokenizer.vocab_size):.3f} bits per character.")

    start = time.perf_counter()
    epochs, kept, val_loss = _fit(model, plan, args, train_ids, (X_val, y_val))
    seconds = time.perf_counter() - start
    bits = val_loss / math.log(2)
    print(
        f"\nTrained {epochs} epochs in {seconds:.1f} s: validation loss {val_loss:.4f}, "
        f"{bits:.3f} bits per character" + (f" (epoch {kept})." if kept != epochs else ".")
    )
    model.metadata.update(
        {
            "text": {
                "source": source.name,
                "characters": len(source.text),
                "vocab_size": tokenizer.vocab_size,
                "model": plan.model,
                "preset": plan.preset,
                "layers": plan.shape.layers,
                "heads": plan.shape.heads,
                "width": plan.shape.width,
                "context": context,
                "prompt": plan.prompt,
            },
            "training": {
                "epochs": epochs,
                "kept_epoch": kept,
                "batch_size": plan.batch_size,
                "lr": plan.lr,
                "seed": args.seed,
                "seconds": round(seconds, 1),
            },
            "metrics": (
                {"validation": {"loss": val_loss, "bits_per_character": bits}}
                if math.isfinite(val_loss)
                else {}
            ),
            "scratchnn_version": __version__,
        }
    )
    model.save(args.out)
    print(
        f"Model saved to {args.out} (with its tokenizer): scratchnn generate {args.out} "
        "--prompt TEXT"
    )
    return 0


# --------------------------------------------------------------------------------------------
# generate, and info's lines
# --------------------------------------------------------------------------------------------


def language_model(model: Sequential, path: str) -> CharTokenizer:
    """The tokenizer of a language model file; a clear error for any other model."""
    tokenizer = CharTokenizer.from_model(model)
    if tokenizer is None or not model.layers or not isinstance(model.layers[0], Embedding):
        raise ValueError(
            f"MODEL {path} is not a language model (it has no character tokenizer); generate "
            "takes a model saved by scratchnn train-text. For other models use scratchnn "
            "predict."
        )
    embedding, head = model.layers[0], model.layers[-1]
    sizes = {embedding.num_embeddings, getattr(head, "out_features", tokenizer.vocab_size)}
    if sizes != {tokenizer.vocab_size}:
        raise ValueError(
            f"MODEL {path} is damaged: its tokenizer has {tokenizer.vocab_size} characters, "
            f"but the network takes {embedding.num_embeddings} tokens and gives "
            f"{getattr(head, 'out_features', '?')}. Train it again with scratchnn train-text."
        )
    return tokenizer


def _recorded(model: Sequential) -> dict[str, Any]:
    """What train-text recorded in ``model.metadata["text"]`` (``{}`` if nothing usable)."""
    recorded = model.metadata.get("text")
    return recorded if isinstance(recorded, dict) else {}


def refuse_language_model(model: Sequential, path: str, command: str) -> None:
    """``evaluate`` and ``predict`` read tables; a language model gets a pointer to
    ``generate`` instead of a message about feature columns."""
    if info_lines(model):
        raise ValueError(
            f"MODEL {path} is a character-level language model, which {command} cannot run on "
            f"a table. Use scratchnn generate {path} --prompt TEXT."
        )


def generate_command(args: argparse.Namespace) -> int:
    """``scratchnn generate``: the prompt and its continuation, printed inertly."""
    model = load(args.model)
    tokenizer = language_model(model, args.model)
    prompt = args.prompt
    if prompt is None:
        prompt = _recorded(model).get("prompt")
        if not isinstance(prompt, str) or not prompt or set(prompt) - set(tokenizer.chars):
            prompt = "\n" if "\n" in tokenizer.chars else tokenizer.chars[0]
    check_prompt(prompt, tokenizer)
    text = generate(
        model,
        prompt,
        args.tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        context=_window(model),
    )
    print(printable(text))
    return 0


def _window(model: Sequential) -> int | None:
    """The characters a model reads per step when generating: a GPT's context; for a recurrent
    model, the window it was trained on (recorded by train-text)."""
    context = context_length(model)
    if context is not None:
        return context
    recorded = _recorded(model).get("context")
    return recorded if isinstance(recorded, int) and recorded > 0 else None


def info_lines(model: Sequential) -> list[str]:
    """What ``scratchnn info`` adds for a language model (nothing for another model)."""
    try:
        tokenizer = CharTokenizer.from_model(model)
    except ValueError:
        return []
    if tokenizer is None:
        return []
    recorded = _recorded(model)
    window = _window(model)
    context = f", context {window}" if window else ""
    source = f", trained on {recorded['source']}" if recorded.get("source") else ""
    shown = repr(tokenizer.chars[:80]) + ("..." if tokenizer.vocab_size > 80 else "")
    return [
        f"Language model: character-level, {tokenizer.vocab_size} characters{context}{source}"
        " (scratchnn generate MODEL --prompt TEXT)",
        f"Vocabulary: {shown}",
    ]


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------


def add_parser(
    sub: argparse._SubParsersAction, positive_int, positive_float, fraction, non_negative_int
) -> None:
    """Register ``scratchnn train-text`` and ``scratchnn generate``."""
    train = sub.add_parser(
        "train-text",
        help="train a character-level language model (GPT or LSTM) on a text file",
        description="Train a character-level language model on FILE (UTF-8 text; default: the "
        "bundled Tiny Shakespeare), print the validation loss, bits per character and a "
        "sample per epoch, and save the model with its tokenizer.",
    )
    train.add_argument("data", nargs="?", metavar="FILE", help="a UTF-8 text file")
    train.add_argument(
        "--data",
        dest="dataset",
        choices=sorted(BUILT_IN),
        help="a bundled text instead of FILE: shakespeare (Tiny Shakespeare, 1.1 million "
        "characters; the default without FILE)",
    )
    train.add_argument(
        "--model",
        choices=["gpt", "lstm"],
        default="gpt",
        help="gpt (default): the small GPT of docs/sequences.md; lstm: Embedding, LSTM, Dense",
    )
    train.add_argument(
        "--preset",
        choices=["tiny", "small", "base"],
        default=None,
        help="the model's size: tiny (GPT 2 blocks x 2 heads, width 32, context 32; LSTM 64 "
        "wide), small (2 x 4, width 64, context 64; LSTM 128), base (4 x 4, width 128, context "
        "128; LSTM 256). Default: tiny under 50,000 training characters, small under 500,000, "
        "else base",
    )
    train.add_argument(
        "--layers",
        metavar="N",
        type=positive_int,
        help="GPT blocks, or stacked LSTMs (default: the preset's)",
    )
    train.add_argument(
        "--heads", metavar="N", type=positive_int, help="GPT attention heads per block"
    )
    train.add_argument(
        "--width",
        metavar="N",
        type=positive_int,
        help="GPT features per position, or the LSTM's state size",
    )
    train.add_argument(
        "--context",
        metavar="N",
        type=positive_int,
        help="characters per training window (default: the preset's, shortened to fit a "
        "short text)",
    )
    train.add_argument(
        "--dropout",
        metavar="RATE",
        type=fraction,
        default=0.0,
        help="dropout in training (default 0)",
    )
    train.add_argument(
        "--epochs",
        metavar="N",
        type=positive_int,
        help=f"passes over the training text (default: about {TARGET_STEPS:,} steps' worth, "
        f"1..{MAX_EPOCHS})",
    )
    train.add_argument(
        "--batch-size",
        metavar="N",
        type=positive_int,
        help="windows per step (default 32, fewer if the text has fewer)",
    )
    train.add_argument(
        "--lr",
        type=positive_float,
        help="AdamW's learning rate (default: 0.003 tiny, 0.002 small, 0.001 base GPT, 0.002 "
        "base LSTM)",
    )
    train.add_argument("--seed", type=int, default=0, help="(default 0)")
    quick = train.add_mutually_exclusive_group()
    quick.add_argument(
        "--max-tokens",
        type=positive_int,
        metavar="N",
        help="train on the first N characters only (only they are read)",
    )
    quick.add_argument(
        "--fraction",
        type=_fraction_positive,
        metavar="F",
        help="train on the first fraction F of the text, in (0, 1]",
    )
    train.add_argument(
        "--val-split",
        type=_fraction_positive,
        default=0.1,
        metavar="FRACTION",
        help="the end of the text held out for validation (default 0.1)",
    )
    train.add_argument(
        "--samples",
        type=non_negative_int,
        default=200,
        metavar="N",
        help="characters generated per sample (default 200; 0: no samples)",
    )
    train.add_argument(
        "--sample-every",
        type=positive_int,
        metavar="EPOCHS",
        help="a sample every EPOCHS epochs, and after the last (default: about 10 samples)",
    )
    train.add_argument(
        "--prompt",
        metavar="TEXT",
        help="what the samples continue (default: a line break, if the text has one)",
    )
    train.add_argument(
        "--keep-last",
        action="store_true",
        help="save the weights of the last epoch (default: those of the epoch with the lowest "
        "validation loss)",
    )
    train.add_argument("--out", default="model.npz", help="model file (default model.npz)")
    outputs.add_force_option(train)
    train.add_argument("--quiet", action="store_true", help="no lines per epoch, no samples")
    train.set_defaults(handler=train_text)

    gen = sub.add_parser(
        "generate",
        help="text from a language model saved by train-text",
        description="Continue a prompt with a language model saved by scratchnn train-text "
        "and print the prompt and its continuation.",
    )
    gen.add_argument("model", metavar="MODEL")
    gen.add_argument(
        "--prompt",
        metavar="TEXT",
        help="the text to continue (default: the prompt of train-text's samples)",
    )
    gen.add_argument(
        "--tokens",
        type=positive_int,
        default=500,
        metavar="N",
        help="characters to add (default 500)",
    )
    gen.add_argument(
        "--temperature",
        metavar="T",
        type=_non_negative_float,
        default=0.8,
        help="below 1 sharper, above 1 more random, 0 the most likely character (default 0.8)",
    )
    gen.add_argument(
        "--top-k",
        type=positive_int,
        metavar="K",
        help="sample among the K most likely characters only (default: all)",
    )
    gen.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the same seed gives the same text (default 0; pick another for another sample)",
    )
    gen.set_defaults(handler=generate_command)


def _fraction_positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], received {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, received {text!r}")
    return value
