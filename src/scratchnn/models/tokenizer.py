"""A character-level tokenizer: each distinct character of a text is one token."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._registry import components

__all__ = ["CharTokenizer"]


@components.register()
class CharTokenizer:
    """Maps characters to token ids ``0 .. V-1`` and back.

    Args:
        chars: the vocabulary, one character per token, in id order (no repeats).

    Example:
        >>> tokenizer = CharTokenizer.from_text("hello")
        >>> tokenizer.chars, tokenizer.encode("hole").tolist()
        ('ehlo', [1, 3, 2, 0])
        >>> tokenizer.decode([1, 0, 2, 2, 3])
        'hello'
    """

    def __init__(self, chars: Iterable[str]) -> None:
        chars = tuple(chars)
        if not chars or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError(
                "CharTokenizer needs a non-empty vocabulary of single characters; received "
                f"{chars[:10]!r}."
            )
        if len(set(chars)) != len(chars):
            repeated = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"CharTokenizer's vocabulary repeats {repeated!r}.")
        self.chars = "".join(chars)
        self._ids = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The vocabulary of ``text``: its distinct characters, sorted."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"from_text needs a non-empty string; received {text!r:.40}.")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``, ``(len(text),)``."""
        try:
            return np.fromiter((self._ids[c] for c in text), dtype=np.intp, count=len(text))
        except KeyError as error:
            position = next(i for i, c in enumerate(text) if c not in self._ids)
            raise ValueError(
                f"{error.args[0]!r} (at position {position}) is not in the tokenizer's "
                f"vocabulary of {self.vocab_size} characters."
            ) from None

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The text of token ids."""
        ids = np.asarray(ids, dtype=np.intp).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"Token ids must be in [0, {self.vocab_size}); received ids from {ids.min()} "
                f"to {ids.max()}."
            )
        return "".join(self.chars[i] for i in ids)

    def to_json(self) -> str:
        """The tokenizer as JSON (what a model file carries)."""
        return json.dumps(self.get_config())

    @classmethod
    def from_json(cls, text: str) -> CharTokenizer:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("chars"), str):
            raise ValueError(f"Not a CharTokenizer's JSON: {text[:80]!r}.")
        return cls(data["chars"])

    def get_config(self) -> dict[str, Any]:
        return {"chars": self.chars}

    # Inside a model file. The tokenizer is plain JSON, so it travels in the model's free-form
    # ``metadata`` (saved and loaded with the model, bounded like the rest of the file's JSON).

    def attach(self, model: Any) -> None:
        """Store this tokenizer in ``model.metadata["tokenizer"]``, so that ``model.save``
        writes it into the file and :meth:`from_model` (and :func:`generate`) find it after
        ``scratchnn.load``."""
        model.metadata["tokenizer"] = {
            "class_name": type(self).__name__,
            "config": self.get_config(),
        }

    @classmethod
    def from_model(cls, model: Any) -> CharTokenizer | None:
        """The tokenizer :meth:`attach` stored in ``model`` (None if it has none)."""
        spec = getattr(model, "metadata", {}).get("tokenizer")
        if spec is None:
            return None
        if not isinstance(spec, dict) or spec.get("class_name") != cls.__name__:
            raise ValueError(f"The model's metadata holds no CharTokenizer: {spec!r:.80}.")
        return cls.from_json(json.dumps(spec.get("config")))

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(config, arrays)``, the protocol of the file format's components."""
        return self.get_config(), {}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> CharTokenizer:
        return cls.from_json(json.dumps(config))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and other.chars == self.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"CharTokenizer({self.vocab_size} characters)"
