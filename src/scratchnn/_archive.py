"""Reading a model file without trusting it: a bounded reader of ``.npz`` (zip) archives.

Nothing in the file is believed until it is checked, and nothing is read or allocated before
its size is known to be one the caller asked for:

- only a regular file is opened (a FIFO, a device or a folder is refused without blocking);
- the zip's central directory (its list of members) is size-checked before ``zipfile``
  parses it, so a small file cannot declare millions of members;
- a member is read only when asked for by name, with the shape and dtype the caller expects:
  its ``.npy`` header is parsed first (bounded), compared with that expectation, and only then
  are its bytes read, in chunks, into an array of exactly that size;
- every member read must be stored uncompressed (as ``np.savez`` writes it), so its bytes are
  really in the file, and the members read together never add up to more bytes than the file
  has: the memory a load costs is bounded by the size of the file (no zip bombs);
- the JSON metadata has limits on its size, its nesting depth and its number of objects and
  arrays, checked on its bytes before it is parsed.

Members nobody asks for are never read. Every failure is a :class:`DataFileError` that names
the file and says what is wrong.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import stat
import struct
import zipfile
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from .errors import DataFileError

#: The metadata's JSON may be at most this long (long strings are cheap to parse: ~1 byte of
#: memory per byte; many small values are not, hence the two limits below).
MAX_JSON_BYTES = 16 * 2**20
#: Nesting deeper than this is refused (scratchnn's own metadata nests about 6 levels).
MAX_JSON_DEPTH = 32
#: Objects and arrays in the metadata (each costs ~70 bytes parsed; a model has a few dozen,
#: plus one list per history entry and one per categorical column of a table encoder).
MAX_JSON_CONTAINERS = 100_000
#: What parsing the metadata may cost, in bytes of Python objects, estimated from its bytes
#: before it is parsed (:func:`json_cost`): a legitimate model's metadata costs what it holds
#: (a history of 100,001 epochs of 5 numbers ~20 MB, a table encoder of 15,000 text columns
#: ~35 MB), and a hostile one of the same size costs no more. ``save`` refuses a model whose
#: metadata would exceed it, so every file ``save`` writes loads again.
MAX_JSON_PARSED_BYTES = 80 * 2**20
#: Estimated bytes per parsed item: a container (an empty dict, 64 bytes, plus its slot in its
#: parent), a string (51 bytes for a short one, plus its slot; its characters are bounded by
#: ``MAX_JSON_BYTES``), and any other value (a float's 24 bytes or an int's 28 to 36, plus
#: its slot, plus a list's spare capacity).
_CONTAINER_COST, _STRING_COST, _VALUE_COST = 72, 60, 40
#: Values in the metadata that are numbers, at most (the parse budget spent on numbers only).
MAX_JSON_VALUES = MAX_JSON_PARSED_BYTES // _VALUE_COST
#: Members of the archive; a model has 2 plus its buffers and optimizer state arrays.
MAX_MEMBERS = 16_384
#: The zip's list of members, in bytes (each entry is ~100 bytes for a model's members).
MAX_DIRECTORY_BYTES = 4 * 2**20
#: An ``.npy`` header (NumPy writes ~128 bytes).
MAX_HEADER_BYTES = 4096
_CHUNK = 2**20

_KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISFIFO: "a FIFO (named pipe)",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


#: What ``open_regular_file`` asks for by default.
_MODEL_FILE = "a model file written by model.save()"


def not_a_regular_file(
    path: str | os.PathLike, mode: int, expected: str = _MODEL_FILE
) -> str | None:
    """The refusal of ``path`` (of ``st_mode`` ``mode``) when it is not a regular file (a
    folder, a FIFO, a device, a socket), naming what it is and ``expected``; None for a
    regular file. Model files and data files are refused in the same words."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS.items() if test(mode)), "not a file")
    return f"{path} is {kind}, not a regular file, so it was not read. Give the path of {expected}."


@contextlib.contextmanager
def open_regular_file(
    path: str | os.PathLike, expected: str = _MODEL_FILE
) -> Iterator[tuple[IO[bytes], int]]:
    """Open ``path`` for reading if it is a regular file: ``(handle, size in bytes)``.

    Opening is non-blocking, so a FIFO with no writer does not hang; the kind of file is
    checked on the opened descriptor (no race with a swap after a check by name). A device
    (``/dev/zero``), a FIFO or a socket, which could be read without end, is never read.

    Args:
        path: the file.
        expected: what the caller wants, for the message (``"a table file"``).

    Raises:
        FileNotFoundError: no such file.
        DataFileError: a folder, FIFO, device or socket.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"No model file at {path}.") from None
    except IsADirectoryError:  # Windows cannot open a folder at all
        raise DataFileError(f"{path} is a folder, not a model file.") from None
    try:
        info = os.fstat(descriptor)
        refusal = not_a_regular_file(path, info.st_mode, expected)
        if refusal is not None:
            raise DataFileError(refusal)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        yield handle, info.st_size


def _directory_size(handle: IO[bytes], size: int, name: str) -> tuple[int, int]:
    """``(members, bytes)`` of the zip's central directory, read from its end record the way
    ``zipfile`` finds it (the end record without a comment, else the last one in the tail),
    including the zip64 record when there is one."""
    tail_length = min(size, 22 + 65535 + 20 + 56)
    handle.seek(size - tail_length)
    tail = handle.read(tail_length)
    at = len(tail) - 22
    if at < 0 or tail[at : at + 4] != b"PK\x05\x06" or tail[-2:] != b"\x00\x00":
        at = tail.rfind(b"PK\x05\x06", 0, len(tail) - 21)
    if at < 0:
        raise DataFileError(
            f"{name} is not a scratchnn model file, or it is truncated: it has no zip "
            "directory (the end of an .npz archive)."
        )
    members, directory = struct.unpack("<HL", tail[at + 10 : at + 16])
    locator = tail[at - 20 : at] if at >= 20 else b""
    if locator[:4] == b"PK\x06\x07":  # zip64: the real counts are in a record further up
        (offset,) = struct.unpack("<Q", locator[8:16])
        if offset + 56 > size:
            raise DataFileError(f"{name}: the zip64 directory record lies outside the file.")
        handle.seek(offset)
        record = handle.read(56)
        if record[:4] != b"PK\x06\x06":
            raise DataFileError(f"{name}: the zip64 directory record is corrupt.")
        members, directory = struct.unpack("<QQ", record[32:48])
    return members, directory


def json_structure(text: bytes, stop_after: int | None = None) -> tuple[int, int, int]:
    """``(nesting depth, objects and arrays, values)`` of the JSON document ``text``, found by
    scanning its bytes (vectorised, no parsing); ``values`` is an upper bound on the number of
    values and keys (one more than its separators ``,`` and ``:``, plus its containers).
    Brackets and separators inside strings are skipped; a quote preceded by an odd run of
    backslashes is inside a string. With ``stop_after``, the scan stops early once the depth
    or either count exceeds it (the counts returned are then partial, but above it).

    Example:
        >>> json_structure(b'{"a": [1, {"b": "[[[,"}], "c": "\\\\"}')
        (3, 3, 9)
    """
    return _scan(text, stop_after)[:3]


def _scan(text: bytes, stop_after: int | None = None) -> tuple[int, int, int, int]:
    """:func:`json_structure`'s three counts and the number of strings (keys included)."""
    deepest = depth = containers = separators = quoted = 0
    inside = False  # whether the chunk starts inside a string
    backslashes_before = 0  # backslashes that end the previous chunk
    for start in range(0, len(text), _CHUNK):  # in chunks: a few MB of work arrays at most
        prefix = b"\\" if backslashes_before % 2 else b""
        data = np.frombuffer(prefix + text[start : start + _CHUNK], dtype=np.uint8)
        quotes = _unescaped_quotes(data)
        marks = np.flatnonzero(
            (data == ord("[")) | (data == ord("{")) | (data == ord("]")) | (data == ord("}"))
            | (data == ord(",")) | (data == ord(":"))
        )  # fmt: skip
        # A mark is outside every string when an even number of quotes precede it.
        marks = data[marks[(np.searchsorted(quotes, marks) + inside) % 2 == 0]]
        opening = (marks == ord("[")) | (marks == ord("{"))
        closing = (marks == ord("]")) | (marks == ord("}"))
        levels = depth + np.cumsum(opening.astype(np.int64) - closing)
        deepest = max(deepest, int(levels.max(initial=0)))
        depth = int(levels[-1]) if levels.size else depth
        containers += int(opening.sum())
        separators += marks.size - int(opening.sum()) - int(closing.sum())
        quoted += quotes.size
        inside ^= bool(quotes.size % 2)
        plain = np.flatnonzero(data != ord("\\"))
        backslashes_before = data.size - 1 - int(plain[-1]) if plain.size else data.size
        if stop_after is not None and max(deepest, separators + containers) > stop_after:
            break
    return deepest, containers, separators + containers + 1, (quoted + 1) // 2


def json_cost(text: bytes) -> tuple[int, int, int, int]:
    """``(nesting depth, objects and arrays, values, estimated bytes parsed)`` of the JSON
    document ``text``, from a scan of its bytes (no parsing): what :data:`MAX_JSON_DEPTH`,
    :data:`MAX_JSON_CONTAINERS` and :data:`MAX_JSON_PARSED_BYTES` bound. The scan stops once
    the estimate is over the limit (the counts are then partial, but above it).

    Example:
        >>> json_cost(b'{"loss": [0.5, 0.25], "lr": [0.001, 0.001]}')
        (2, 3, 9, 496)
    """
    depth, containers, values, strings = _scan(text, stop_after=MAX_JSON_VALUES)
    others = max(values - containers - strings, 0)
    cost = containers * _CONTAINER_COST + strings * _STRING_COST + others * _VALUE_COST
    return depth, containers, values, cost


def metadata_over_limits(text: bytes) -> str | None:
    """Why the JSON document ``text`` is over the limits that :func:`scratchnn.load` sets on
    a model file's metadata (one sentence), or None when it is within them. ``save`` asks the
    same question of what it is about to write, so that a file it writes always loads."""
    if len(text) > MAX_JSON_BYTES:
        return (
            f"the model metadata is {len(text):,} bytes of JSON; at most {MAX_JSON_BYTES:,} "
            "are read"
        )
    depth, containers, values, cost = json_cost(text)
    if depth > MAX_JSON_DEPTH or containers > MAX_JSON_CONTAINERS or cost > MAX_JSON_PARSED_BYTES:
        return (
            f"the model metadata nests {depth} levels deep with {containers:,} objects and "
            f"arrays and {values:,} values or more (about {cost / 2**20:,.0f} MiB once parsed); "
            f"at most {MAX_JSON_DEPTH} levels, {MAX_JSON_CONTAINERS:,} objects and arrays and "
            f"{MAX_JSON_PARSED_BYTES // 2**20} MiB parsed (e.g. {MAX_JSON_VALUES:,} numbers) "
            "are read"
        )
    return None


def _unescaped_quotes(data: np.ndarray) -> np.ndarray:
    """Positions of the quotes in ``data`` that are not escaped by an odd run of backslashes."""
    quotes = np.flatnonzero(data == ord('"'))
    backslashes = np.flatnonzero(data == ord("\\"))
    if not (backslashes.size and quotes.size):
        return quotes
    # Runs of consecutive backslashes: where each starts and ends (inclusive).
    breaks = np.flatnonzero(np.diff(backslashes) != 1)
    starts = backslashes[np.concatenate(([0], breaks + 1))]
    ends = backslashes[np.concatenate((breaks, [backslashes.size - 1]))]
    run = np.minimum(np.searchsorted(ends, quotes - 1), ends.size - 1)
    escaped = (ends[run] == quotes - 1) & ((ends[run] - starts[run]) % 2 == 0)
    return quotes[~escaped]


class Archive:
    """The members of an ``.npz`` file, read only on request and only with expected shapes.

    Args:
        handle: the open file (binary, seekable).
        size: its size in bytes.
        name: how to name it in error messages (the path).
    """

    def __init__(self, handle: IO[bytes], size: int, name: str) -> None:
        self.name = name
        self.size = size
        self._read_bytes = 0
        if handle.read(4) != b"PK\x03\x04":  # every .npz is a zip archive
            raise DataFileError(
                f"{name} is not a scratchnn model file: it is not an .npz (zip) archive."
            )
        members, directory = _directory_size(handle, size, name)
        if members > MAX_MEMBERS or directory > MAX_DIRECTORY_BYTES:
            raise DataFileError(
                f"{name} lists {members:,} members in a {directory:,}-byte directory; a model "
                f"file has a few (at most {MAX_MEMBERS:,} in {MAX_DIRECTORY_BYTES:,} bytes). "
                "It was refused unread."
            )
        handle.seek(0)
        self._zip = zipfile.ZipFile(handle)
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise DataFileError(f"{name} has {len(infos):,} members (at most {MAX_MEMBERS:,}).")
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._duplicates: set[str] = set()
        for info in infos:
            if info.filename in self._members:
                self._duplicates.add(info.filename)
            self._members[info.filename] = info

    def close(self) -> None:
        self._zip.close()

    def __contains__(self, key: str) -> bool:
        return f"{key}.npy" in self._members

    def keys(self) -> list[str]:
        """The names of the array members (as ``np.load`` lists them), none of them read."""
        return [name[:-4] for name in self._members if name.endswith(".npy")]

    def _info(self, key: str) -> zipfile.ZipInfo:
        member = f"{key}.npy"
        info = self._members.get(member)
        if info is None:
            raise DataFileError(f"{self.name} is damaged or incomplete: it has no {key!r} array.")
        if member in self._duplicates:
            raise DataFileError(f"{self.name} holds two members named {member!r}.")
        if info.flag_bits & 0x1:
            raise DataFileError(f"{self.name}: the member {member!r} is encrypted.")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise DataFileError(
                f"{self.name}: the member {member!r} is compressed; scratchnn writes (and reads) "
                "members stored as they are, so that a file cannot claim more memory than it "
                "occupies. Re-save the model with model.save()."
            )
        if info.header_offset + 30 + info.file_size > self.size:
            raise DataFileError(
                f"{self.name} is truncated: the member {member!r} ends past the end of the file."
            )
        if self._read_bytes + info.file_size > self.size:
            raise DataFileError(
                f"{self.name}: its members overlap (together they would hold more bytes than "
                "the file has)."
            )
        return info

    def header(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        """The shape and dtype the member ``key`` declares, reading only its ``.npy`` header."""
        with self._zip.open(self._info(key)) as member:
            shape, dtype, _, _ = self._read_header(key, member)
        return shape, dtype

    def _read_header(
        self, key: str, member: IO[bytes]
    ) -> tuple[tuple[int, ...], np.dtype, bool, int]:
        fmt = np.lib.format
        try:
            version = fmt.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(member, MAX_HEADER_BYTES)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(member, MAX_HEADER_BYTES)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except DataFileError:
            raise
        except Exception as error:  # NumPy raises ValueError, TypeError, SyntaxError, ...
            raise DataFileError(
                f"{self.name}: the member {key!r} is not a readable .npy array ({error})."
            ) from None
        if dtype.hasobject:
            raise DataFileError(
                f"{self.name} contains a pickled Python object (in {key!r}). scratchnn files "
                "never do, and loading one could run arbitrary code, so it was refused."
            )
        return tuple(int(n) for n in shape), dtype, bool(fortran), member.tell()

    def array(self, key: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """The member ``key`` as a new array, if it declares exactly ``shape`` and ``dtype``
        (either byte order); the header is checked before any data is read."""
        dtype = np.dtype(dtype)
        info = self._info(key)
        with self._zip.open(info) as member:
            declared, stored, fortran, offset = self._read_header(key, member)
            if declared != tuple(shape) or stored.newbyteorder("=") != dtype.newbyteorder("="):
                raise DataFileError(
                    f"{self.name} is damaged or inconsistent: {key!r} holds {stored} values of "
                    f"shape {declared}, but the model needs {dtype} values of shape {tuple(shape)}."
                )
            count = math.prod(shape)
            if offset + count * stored.itemsize != info.file_size:
                raise DataFileError(
                    f"{self.name} is damaged: the member {key!r} has {info.file_size:,} bytes, "
                    f"not the {offset + count * stored.itemsize:,} its shape {declared} needs."
                )
            self._read_bytes += info.file_size
            out = np.empty(count, dtype=stored)
            raw = out.view(np.uint8)
            done = 0
            while done < raw.size:
                chunk = member.read(min(_CHUNK, raw.size - done))
                if not chunk:
                    raise DataFileError(f"{self.name} is truncated (in {key!r}).")
                raw[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                done += len(chunk)
            member.read(1)  # reach the end of the member, where zipfile checks its CRC-32
        if fortran:
            out = out.reshape(shape[::-1]).transpose()
        return np.ascontiguousarray(out.reshape(shape), dtype=dtype)

    def __getitem__(self, key: str) -> np.ndarray:
        """The member ``key`` with the shape and dtype its header declares (numbers, booleans
        or strings only). Prefer :meth:`array`, which checks them against an expectation;
        either way the bytes read are bounded by the size of the file."""
        shape, dtype = self.header(key)
        if dtype.kind not in "biufcUS":
            raise DataFileError(f"{self.name}: the member {key!r} holds {dtype} values.")
        return self.array(key, shape, dtype)

    def json(self, key: str) -> Any:
        """The JSON document stored as the ``uint8`` member ``key``, size- and depth-checked."""
        shape, dtype = self.header(key)
        if dtype != np.uint8 or len(shape) != 1:
            raise DataFileError(f"{self.name}: the model metadata is not in scratchnn's format.")
        if shape[0] > MAX_JSON_BYTES:
            raise DataFileError(
                f"{self.name}: the model metadata is {shape[0]:,} bytes of JSON; at most "
                f"{MAX_JSON_BYTES:,} are read."
            )
        raw = self.array(key, shape, np.uint8).tobytes()
        reason = metadata_over_limits(raw)
        if reason is not None:
            raise DataFileError(f"{self.name}: {reason}.")
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            # ValueError covers malformed JSON and integers of more than 4300 digits.
            reason = "nested too deeply" if isinstance(error, RecursionError) else error
            raise DataFileError(f"{self.name}: the model metadata is corrupt ({reason}).") from None
        return document


@contextlib.contextmanager
def open_archive(source: str | os.PathLike | bytes) -> Iterator[Archive]:
    """An :class:`Archive` over a file path (a regular file only) or the bytes of one."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        with io.BytesIO(data) as handle:
            archive = _archive(handle, len(data), "<bytes>")
            try:
                yield archive
            finally:
                archive.close()
        return
    with open_regular_file(source) as (handle, size):
        archive = _archive(handle, size, str(source))
        try:
            yield archive
        finally:
            archive.close()


def _archive(handle: IO[bytes], size: int, name: str) -> Archive:
    try:
        return Archive(handle, size, name)
    except DataFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as error:
        raise DataFileError(
            f"{name} is not a scratchnn model file, or it is truncated or corrupt ({error})."
        ) from None
