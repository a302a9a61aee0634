"""The IDX reader, the bundled MNIST and load_digits (scikit-learn's digits)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.datasets import load_idx, mnist
from scratchnn.errors import DataFileError


def _idx_bytes(array: np.ndarray, type_code: int, dtype: str) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


@pytest.mark.parametrize(
    ("type_code", "dtype"),
    [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")],
)
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, type_code, dtype, compress):
    array = np.arange(24).reshape(2, 3, 4) % 100
    data = _idx_bytes(array, type_code, dtype)
    path = tmp_path / ("file.idx.gz" if compress else "file.idx")
    path.write_bytes(gzip.compress(data) if compress else data)
    loaded = load_idx(path)
    assert loaded.shape == (2, 3, 4)
    assert loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)


def test_idx_rejects_a_foreign_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello world")
    with pytest.raises(DataFileError, match="not an IDX file"):
        load_idx(path)


def test_idx_rejects_truncation_and_extra_bytes(tmp_path):
    data = _idx_bytes(np.zeros((3, 2)), 0x08, ">u1")
    path = tmp_path / "short.idx"
    path.write_bytes(data[:-1])
    with pytest.raises(DataFileError, match="truncated"):
        load_idx(path)
    path.write_bytes(data + b"\x00")
    with pytest.raises(DataFileError, match="longer than its header"):
        load_idx(path)
    path.write_bytes(data[:6])
    with pytest.raises(DataFileError, match="header is truncated"):
        load_idx(path)


def test_idx_rejects_a_corrupt_gzip_stream(tmp_path):
    compressed = gzip.compress(_idx_bytes(np.zeros((50, 50)), 0x08, ">u1"))
    path = tmp_path / "broken.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataFileError, match="gzip"):
        load_idx(path)


def test_idx_missing_file():
    with pytest.raises(FileNotFoundError):
        load_idx("/nonexistent/train-images-idx3-ubyte.gz")


def test_mnist_shapes_types_and_label_counts():
    (X_train, y_train), (X_test, y_test) = snn.datasets.load_mnist()
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.float32 and X_train.min() >= 0.0 and X_train.max() == 1.0
    assert y_train.dtype == np.int64
    assert np.bincount(y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_raw_images():
    (X_train, _), _ = snn.datasets.load_mnist(normalize=False, flatten=False)
    assert X_train.shape == (60000, 28, 28) and X_train.dtype == np.uint8


def test_mnist_checksum_is_verified(tmp_path, monkeypatch):
    for name in mnist.MD5:
        (tmp_path / name).write_bytes((mnist.DATA_DIR / name).read_bytes())
    damaged = tmp_path / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr(mnist, "DATA_DIR", tmp_path)
    with pytest.raises(DataFileError, match="md5"):
        snn.datasets.load_mnist()


def test_xor_data():
    X, y = snn.datasets.xor()
    assert X.shape == (4, 2) and y.ravel().tolist() == [0, 1, 1, 0]


def test_load_digits():
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    X, y = snn.datasets.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    np.testing.assert_array_equal(X, np.round(X))
    assert sorted(set(y.tolist())) == list(range(10))
    assert np.bincount(y).min() > 150
