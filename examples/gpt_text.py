"""A small GPT learns to write Shakespeare, character by character, on NumPy alone.

    python examples/gpt_text.py                 # 4 blocks, 4 heads, 128 wide, context 128
    python examples/gpt_text.py --epochs 2 --windows 64 --width 32 --depth 1   # seconds

The bundled Tiny Shakespeare (1.1 million characters, 65 distinct; see
``scratchnn/datasets/data/tinyshakespeare/README.md``) is split at 90%: the model trains on
random windows of the first part and is validated on windows of the rest. Every epoch prints
the training and validation loss, the validation bits per character, and a sample generated
from a fixed prompt. The model is saved with its tokenizer at the end (``--save``).
"""

from __future__ import annotations

import argparse
import time

import scratchnn as snn
from scratchnn.datasets.text import load_text, next_token_windows
from scratchnn.models import GPT, CharTokenizer, generate


def main(
    epochs: int = 10,
    windows: int = 4096,
    context: int = 128,
    width: int = 128,
    depth: int = 4,
    heads: int = 4,
    batch: int = 32,
    lr: float = 1e-3,
    sample: int = 200,
    seed: int = 0,
    save: str | None = None,
) -> dict[str, list[float]]:
    text = load_text("tinyshakespeare")
    tokenizer = CharTokenizer.from_text(text)
    ids = tokenizer.encode(text)
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    print(
        f"Tiny Shakespeare: {len(text):,} characters, {tokenizer.vocab_size} distinct; "
        f"training on {len(train_ids):,}, validating on {len(val_ids):,}"
    )
    model = GPT(tokenizer.vocab_size, context, width, depth, heads, seed=seed)
    tokenizer.attach(model)  # saved inside the model file
    print(f"GPT: {depth} blocks, {heads} heads, width {width}, context {context}: "
          f"{model.parameters().flat.value.size:,} parameters")  # fmt: skip
    X_val, y_val = next_token_windows(val_ids, context, max(batch, windows // 8), seed=seed + 1)
    optimizer = snn.optim.AdamW(lr=lr, weight_decay=0.01, clip_norm=1.0)
    curves: dict[str, list[float]] = {"loss": [], "val_loss": [], "val_bits_per_character": []}
    for epoch in range(1, epochs + 1):
        X, y = next_token_windows(train_ids, context, windows, seed=seed + 1000 + epoch)
        start = time.perf_counter()
        history = model.fit(
            X,
            y,
            loss="sequence_cross_entropy",
            optimizer=optimizer,
            epochs=1,
            batch_size=batch,
            validation_data=(X_val, y_val),
            metrics=["bits_per_character"],
            verbose=0,
        )
        seconds = time.perf_counter() - start
        for key, values in curves.items():
            values.append(history[key][-1])
        print(
            f"epoch {epoch:2d}  loss {history['loss'][-1]:.3f}  val_loss "
            f"{history['val_loss'][-1]:.3f}  val bits/char "
            f"{history['val_bits_per_character'][-1]:.3f}  "
            f"({windows * context / seconds:,.0f} tokens/s)"
        )
        print("  " + generate(model, "ROMEO:\n", sample, temperature=0.8, top_k=20, seed=epoch)
              .replace("\n", "\n  "))  # fmt: skip
    if save:
        model.save(save)
        print(
            f"Saved to {save} (with its tokenizer: snn.load, then generate(model, 'ROMEO:', 100))"
        )
    return curves


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--windows", type=int, default=4096, help="training windows per epoch")
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sample", type=int, default=200, help="characters sampled per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="where to save the model (.npz)")
    main(**vars(parser.parse_args()))
