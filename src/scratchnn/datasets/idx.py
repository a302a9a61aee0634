"""Reader for the IDX format of MNIST and Fashion-MNIST, gzip-compressed or raw.

Layout (all integers big-endian)::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    then d int32 sizes, then the elements in row-major order.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataFileError

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise DataFileError(
            f"{path}: the gzip stream is corrupt or truncated ({error}). Download the file again."
        ) from None


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into an array of its native shape and type.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        DataFileError: if the file is not IDX, is truncated, or has extra bytes.

    Example:
        >>> from scratchnn.datasets.mnist import DATA_DIR
        >>> images = load_idx(DATA_DIR / "t10k-images-idx3-ubyte.gz")
        >>> images.shape, images.dtype
        ((10000, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DataFileError(
            f"{path} is not an IDX file: its first bytes are {data[:4].hex(' ') or 'missing'}, "
            "expected 00 00 <type> <ndim> with type one of 08 09 0b 0c 0d 0e."
        )
    dtype, ndim = _TYPES[data[2]], data[3]
    header_end = 4 + 4 * ndim
    if ndim == 0 or len(data) < header_end:
        raise DataFileError(f"{path}: the IDX header is truncated or declares 0 dimensions.")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header_end + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "longer than its header says"
        raise DataFileError(
            f"{path} is {problem}: the header declares shape {shape} "
            f"({expected} bytes in all) but the file holds {len(data)} bytes."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_end).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
