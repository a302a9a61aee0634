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
import zipfile
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
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
            mode=mode,
            dir=directory,
            prefix=f".{path.name}.{os.getpid()}.",
            suffix=".tmp",
            delete=False,
            **({"newline": ""} if text else {}),
        )
    except OSError as error:
        raise _naming(error, path) from None
    try:
        with handle, _removed_on_sigterm(handle.name):
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _mode_for(path))
        os.replace(handle.name, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        if isinstance(error, OSError) and handle.name in (error.filename, error.filename2):
            raise _naming(error, path) from None  # the temporary name means nothing to a user
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where supported
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` (of the same class) told about ``path``, not the temporary file beside it."""
    reason = error.strerror or str(error)
    if os.path.isdir(path):
        reason = "it is a folder; name a file (inside it, for instance)"
    return type(error)(f"Cannot write {path}: {reason}.")


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


# Outputs that must not destroy inputs.

#: What each kind of output is, for messages, and the kinds of existing file it may replace.
OUTPUT_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "model": ("a model file", ("model",)),
    "table": ("a CSV table", ("text",)),
    "image": ("a PNG image", ("image",)),
    "onnx": ("an ONNX model", ("binary",)),
}

_FOUND = {
    "model": "a scratchnn model file",
    "archive": "an .npz/zip archive (a data file?)",
    "image": "a PNG image",
    "text": "a text file (a table?)",
    "binary": "a binary file",
}


def kind_of_file(path: str | os.PathLike) -> str:
    """What an existing file holds, judged by its first bytes: ``"empty"``, ``"model"`` (a
    scratchnn model: an ``.npz`` with ``__metadata__``), ``"archive"`` (another zip or
    ``.npz``), ``"image"`` (PNG), ``"text"`` (no NUL byte in the first 8 KiB) or ``"binary"``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = path.write_text("a,b\\n1,2\\n")
        >>> kind_of_file(path)
        'text'
    """
    with open(path, "rb") as handle:
        head = handle.read(8192)
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (OSError, zipfile.BadZipFile):
            return "archive"
        return "model" if "__metadata__.npy" in names else "archive"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16/32 text has NULs: BOM first
        return "text"
    if head[0] == 0x08 and len(head) > 1 and head[1] < 0x20:  # protobuf (ONNX): ir_version
        return "binary"
    return "binary" if b"\x00" in head else "text"


def _labelled(inputs: Any) -> list[tuple[str, str]]:
    pairs = []
    for item in inputs:
        label, path = item if isinstance(item, tuple) else ("the input", item)
        if path is not None and str(path) not in ("", "-"):
            pairs.append((label, os.fspath(path)))
    return pairs


def _same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once links are followed, or the
    same device and inode (a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        first, second = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def check_output_path(
    output: str | os.PathLike,
    inputs: Any = (),
    kind: str = "table",
    force: bool = False,
    option: str = "--out",
) -> None:
    """Refuse, before any work, to write ``output`` where the write would destroy something
    the user gave: one of the command's inputs, or an existing file of another kind.

    Checks, in order (each failure is one sentence naming the paths as the user gave them):

    1. ``output`` is not one of ``inputs``: compared after following symbolic links, and by
       device and inode where both exist (a hard link is the same file);
    2. ``output`` is not a folder nor a special file (a device, a pipe);
    3. an existing ``output`` holds the same kind of file (a model replaces a model, a table
       a table; an empty file anything), unless ``force`` (the command's ``--force``);
    4. its folder exists and a file can be created there (tried with a temporary file, which
       is removed at once).

    Args:
        output: the path to be written.
        inputs: the paths the command reads: paths, or ``(label, path)`` pairs such as
            ``("DATA", "train.csv")``; None, ``""`` and ``"-"`` are skipped.
        kind: what is written: ``"model"``, ``"table"``, ``"image"`` or ``"onnx"``.
        force: replace an existing file of another kind (never an input, never a folder).
        option: the option (or argument) that named ``output``, for messages.

    Raises:
        ValueError: ``output`` is one of the inputs.
        IsADirectoryError: ``output`` is a folder.
        FileExistsError: ``output`` exists and holds another kind of file (and not ``force``).
        FileNotFoundError: the folder of ``output`` does not exist.
        OSError: no file can be created in that folder (read-only, no permission).

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> data = folder / "data.csv"
        >>> _ = data.write_text("a,y\\n1,0\\n")
        >>> check_output_path(folder / "model.npz", [("DATA", data)], kind="model")
        >>> try:
        ...     check_output_path(data, [("DATA", data)], kind="model")
        ... except ValueError as error:
        ...     print(str(error).replace(str(folder), "F")[:52])
        --out F/data.csv is the same file as DATA F/data.csv
    """
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OUTPUT_KINDS)}; received {kind!r}.")
    output = os.fspath(output)
    what, replaceable = OUTPUT_KINDS[kind]
    for label, path in _labelled(inputs):
        if _same_file(output, path):
            raise ValueError(
                f"{option} {output} is the same file as {label} {path}, which this command "
                "reads: writing it would destroy it; choose another file."
            )
    if os.path.isdir(output):
        raise IsADirectoryError(
            f"{option} {output} is a folder; name a file for {what}, e.g. "
            f"{os.path.join(output, 'out' + _SUFFIX[kind])}."
        )
    if os.path.lexists(output):
        try:
            mode = os.stat(output).st_mode
        except OSError:
            mode = 0  # a dangling link: replaced like a missing file
        if mode and not stat.S_ISREG(mode):
            raise FileExistsError(
                f"{option} {output} is not a regular file (a device, pipe or socket); "
                f"name a file for {what}."
            )
        found = kind_of_file(output) if mode else "empty"
        if found != "empty" and found not in replaceable and not force:
            raise FileExistsError(
                f"{option} {output} already holds {_FOUND[found]}, not {what}; writing "
                "would replace it. Choose another file, or pass --force to replace it."
            )
    _probe_folder(output, option)


_SUFFIX = {"model": ".npz", "table": ".csv", "image": ".png", "onnx": ".onnx"}


def _probe_folder(output: str, option: str) -> None:
    """Create and remove a temporary file beside ``output``: the write will be possible."""
    directory = os.path.dirname(output) or "."
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{option} {output}: the folder {directory} does not exist.")
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed and removed at once
            dir=directory, prefix=f".{os.path.basename(output)}.{os.getpid()}.", suffix=".tmp"
        )
    except OSError as error:
        reason = error.strerror or str(error)
        raise type(error)(f"Cannot write {option} {output}: {reason}.") from None
    handle.close()


def check_outputs_differ(outputs: Any) -> None:
    """Refuse two outputs of one command that name the same file (``--out`` and ``--plot``):
    ``outputs`` are ``(option, path)`` pairs; None and ``"-"`` are skipped."""
    named = _labelled(outputs)
    for i, (first, a) in enumerate(named):
        for second, b in named[i + 1 :]:
            if _same_file(a, b):
                raise ValueError(
                    f"{first} {a} and {second} {b} name the same file; each output needs its own."
                )
