"""Writing files so that nothing is lost: all or nothing."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path``; when the block succeeds, flush it to disk and
    rename it over ``path`` in one step. If anything fails (or the process dies), ``path`` keeps
    its previous content and the temporary file is removed.

    Example::

        with atomic_write("weights.bin") as handle:
            handle.write(data)
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"Cannot write {path}: the folder {directory} does not exist.")
    text = "b" not in mode
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
        mode=mode,
        dir=directory,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
        **({"newline": ""} if text else {}),
    )
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)  # the permissions an ordinary open() gives
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where supported
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
