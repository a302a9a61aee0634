"""Writing files so that nothing is lost: all or nothing.

:func:`atomic_write` writes to a temporary file beside the target and renames it over the
target only when everything was written and flushed to disk. What it guarantees:

- a failure, an exception or Ctrl-C inside the block leaves the target as it was, and removes
  the temporary file;
- SIGTERM during the block removes the temporary file, then the process ends as SIGTERM would
  have ended it (or runs the handler that was installed before);
- a temporary file left by a save that was killed outright (SIGKILL, power loss) is removed by
  the next save to the same target, once its writer is gone;
- the new file keeps the permission bits of the file it replaces (a private 0600 file stays
  private); a new file gets those of an ordinary ``open()``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

#: A temporary file of a dead writer is removed once it has not changed for this long.
STALE_SECONDS = 60.0
#: Temporary files without a writer's process id (older versions): removed after this long.
STALE_UNTAGGED_SECONDS = 3600.0


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path``; when the block succeeds, flush it to disk and
    rename it over ``path`` in one step. If anything fails (or the process is terminated),
    ``path`` keeps its previous content and the temporary file is removed.

    Args:
        path: the file to write (its folder must exist).
        mode: ``"wb"`` or ``"w"`` (text, with ``newline=""``).

    Raises:
        FileNotFoundError: the folder does not exist.

    Example::

        with atomic_write("weights.bin") as handle:
            handle.write(data)
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"Cannot write {path}: the folder {directory} does not exist.")
    remove_stale_temporaries(path)
    text = "b" not in mode
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
        mode=mode,
        dir=directory,
        prefix=f".{path.name}.{os.getpid()}.",
        suffix=".tmp",
        delete=False,
        **({"newline": ""} if text else {}),
    )
    try:
        with handle, _removed_on_sigterm(handle.name):
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _mode_for(path))
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


def _mode_for(path: Path) -> int:
    """The permission bits of the file being replaced, or those ``open()`` gives a new one."""
    try:
        existing = os.stat(path)
    except OSError:
        existing = None
    if existing is not None and stat.S_ISREG(existing.st_mode):
        return stat.S_IMODE(existing.st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def _removed_on_sigterm(temporary: str) -> Iterator[None]:
    """While the block runs, SIGTERM first removes ``temporary``, then does what it would
    have done: end the process (the default), or run the handler installed before. Only the
    main thread can handle signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_IGN, None):  # ignored, or set outside Python: leave it be
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        if callable(previous):
            previous(signum, frame)  # an exception from it unwinds atomic_write: cleaned up
            return
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)  # end as SIGTERM would have, now

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that saves to ``path`` left behind when they were killed:
    those whose writing process is gone and that have not changed for ``STALE_SECONDS``
    (and, from versions that did not record the process, those untouched for an hour).
    Returns the files removed; files that cannot be removed are left alone."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)\.)?[a-z0-9_]{{8}}\.tmp\Z")
    removed = []
    now = time.time()
    try:
        candidates = [entry for entry in os.scandir(directory) if pattern.match(entry.name)]
    except OSError:
        return removed
    for entry in candidates:
        pid = pattern.match(entry.name).group(1)
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            stale = (
                age > STALE_UNTAGGED_SECONDS
                if pid is None
                else age > STALE_SECONDS and not _alive(int(pid))
            )
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (assumed so where that cannot be asked
    safely: on Windows, ``os.kill(pid, 0)`` would terminate it)."""
    if os.name == "nt" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True
