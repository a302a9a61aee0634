"""What a writing command checks before it starts: that none of its outputs is one of its
inputs, that no output would replace a file of another kind (unless ``--force``), that its
outputs are distinct, and that the optional extras they need (matplotlib for ``--plot``) are
installed. All of it before any training, so that a refusal costs nothing.

Example:
    >>> import argparse, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> data = folder / "data.csv"
    >>> _ = data.write_text("a,y\\n1,0\\n")
    >>> args = argparse.Namespace(force=False)
    >>> try:
    ...     check(args, [("--out", str(data), "model")], [("DATA", str(data))])
    ... except ValueError as error:
    ...     print("refused:", "DATA" in str(error))
    refused: True
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from .._files import check_output_path, check_outputs_differ


def add_force_option(command: argparse.ArgumentParser) -> None:
    """``--force`` (also ``--overwrite``): replace an existing output of another kind."""
    command.add_argument(
        "--force",
        "--overwrite",
        dest="force",
        action="store_true",
        help="replace an existing output file that holds another kind of file (never one "
        "of the command's inputs, never a folder)",
    )


def existing(label: str, path: str | None) -> list[tuple[str, str]]:
    """``[(label, path)]`` when ``path`` names an existing file or folder, else ``[]`` (a
    built-in data set's name, such as ``mnist``, is not a file)."""
    return [(label, path)] if path and os.path.lexists(path) else []


def check(
    args: argparse.Namespace,
    outputs: Sequence[tuple[str, str | None, str]],
    inputs: Sequence[tuple[str, str]] = (),
) -> None:
    """Refuse the command's outputs before it does any work.

    Args:
        args: the parsed command line (``args.force`` where the command has ``--force``).
        outputs: ``(option, path, kind)`` per output: ``("--out", "m.npz", "model")``; a
            path of None or ``"-"`` (standard output) is skipped. Kinds as
            :func:`scratchnn._files.check_output_path` takes them.
        inputs: ``(label, path)`` per file the command reads, e.g. ``("DATA", "t.csv")``.

    Raises:
        ValueError: an output is an input, or two outputs are one file.
        OSError: an output is a folder, holds another kind of file, or cannot be created.
        ImportError: an image output without matplotlib installed (with the install hint).
    """
    named = [(option, path, kind) for option, path, kind in outputs if path and path != "-"]
    check_outputs_differ([(option, path) for option, path, _ in named])
    force = bool(getattr(args, "force", False))
    for option, path, kind in named:
        check_output_path(path, inputs, kind, force=force, option=option)
        if kind == "image":
            _require_matplotlib(option, path)


def _require_matplotlib(option: str, path: str) -> None:
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise ImportError(
            f"{option} {path} needs matplotlib, which is not installed: pip install "
            "'scratchnn[plot]' (or leave out the option)."
        ) from None
