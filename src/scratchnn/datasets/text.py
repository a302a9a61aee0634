"""Bundled text for language models, and the windows a next-token model trains on.

>>> from scratchnn.datasets.text import load_text
>>> text = load_text()              # Tiny Shakespeare, bundled: no download
>>> len(text), text[:14]
(1115394, 'First Citizen:')
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import numpy as np

from .._validation import check_choice, check_positive_int, check_seed

__all__ = ["TEXTS", "load_text", "next_token_windows"]

#: Bundled texts: name -> (file in datasets/data, md5 of the uncompressed text).
TEXTS = {
    "tinyshakespeare": ("tinyshakespeare/input.txt.gz", "6fb458f1232090904fb40fe944165e91"),
}


def load_text(name: str = "tinyshakespeare") -> str:
    """A bundled public-domain text (see its README in ``datasets/data/<name>/`` for its
    provenance and license), its md5 checked.

    Args:
        name: one of :data:`TEXTS` (``"tinyshakespeare"``: 1.1 million characters of
            Shakespeare's plays, 65 distinct).
    """
    check_choice("name", name, tuple(TEXTS))
    path, md5 = TEXTS[name]
    data = gzip.decompress(resources.files(__package__).joinpath("data", path).read_bytes())
    if hashlib.md5(data).hexdigest() != md5:
        raise OSError(f"The bundled text {name!r} is damaged: its md5 is not {md5}.")
    return data.decode("ascii")


def next_token_windows(
    ids: np.ndarray, context: int, n: int, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random windows of a token sequence for next-token training: ``X`` the windows
    ``(n, context)`` and ``y`` the same windows one token later (``y[:, t]`` follows
    ``X[:, t]``).

    Example:
        >>> X, y = next_token_windows(np.arange(10), context=4, n=2, seed=0)
        >>> bool(np.all(y == X + 1))
        True
    """
    ids = np.asarray(ids)
    context = check_positive_int("context", context)
    n = check_positive_int("n", n)
    if ids.ndim != 1 or len(ids) <= context:
        raise ValueError(
            f"next_token_windows needs a 1-D sequence longer than context={context}; "
            f"received shape {ids.shape}."
        )
    starts = np.random.default_rng(check_seed(seed)).integers(0, len(ids) - context, size=n)
    rows = starts[:, None] + np.arange(context + 1)
    windows = ids[rows]
    return windows[:, :-1], windows[:, 1:]
