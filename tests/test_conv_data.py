"""Image data for convolutional networks: MNIST as (n, 1, 28, 28), IDX image folders
(Fashion-MNIST's layout, written here as small files), scikit-learn's digits as 8x8 images."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.datasets import load_idx_folder
from scratchnn.errors import DataFileError


def _idx(array: np.ndarray) -> bytes:
    """An IDX file of uint8 values."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_folder(folder: Path, n_train: int = 6, n_test: int = 4, gz: bool = True) -> dict:
    """A tiny Fashion-MNIST-like folder: 5x7 images with known pixels and labels."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 5, 7))
        labels = rng.integers(0, 10, size=n)
        for kind, array, dims in (("images", images, 3), ("labels", labels, 1)):
            name = f"{prefix}-{kind}-idx{dims}-ubyte"
            data = _idx(array)
            (folder / (name + ".gz" if gz else name)).write_bytes(
                gzip.compress(data) if gz else data
            )
        arrays[prefix] = (images, labels)
    return arrays


def test_mnist_as_images():
    (X_train, y_train), (X_test, _) = snn.datasets.load_mnist(images=True)
    assert X_train.shape == (60000, 1, 28, 28) and X_test.shape == (10000, 1, 28, 28)
    assert X_train.dtype == np.float32 and X_test.min() >= 0.0 and X_test.max() == 1.0
    assert y_train.shape == (60000,)
    (flat, _), _ = snn.datasets.load_mnist()
    np.testing.assert_array_equal(X_train.reshape(60000, -1), flat)
    (raw, _), _ = snn.datasets.load_mnist(normalize=False, images=True)
    assert raw.dtype == np.uint8 and raw.shape == (60000, 1, 28, 28)
    with pytest.raises(ValueError, match=r"images must be True or False.*images='yes'"):
        snn.datasets.load_mnist(images="yes")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_loads_images_and_labels(tmp_path, gz):
    arrays = write_folder(tmp_path / "fashion", gz=gz)
    (X_train, y_train), (X_test, y_test) = load_idx_folder(tmp_path / "fashion")
    assert y_train.shape == (6,)
    assert X_train.shape == (6, 1, 5, 7) and X_test.shape == (4, 1, 5, 7)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_allclose(X_train[:, 0] * 255, arrays["train"][0], rtol=1e-6)
    np.testing.assert_array_equal(y_test, arrays["t10k"][1])
    (rows, _), _ = load_idx_folder(str(tmp_path / "fashion"), images=False, dtype=np.float64)
    assert rows.shape == (6, 35) and rows.dtype == np.float64
    (raw, _), _ = load_idx_folder(tmp_path / "fashion", normalize=False)
    np.testing.assert_array_equal(raw[:, 0], arrays["train"][0])


def test_idx_folder_names_what_is_missing_or_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such folder"):
        load_idx_folder(tmp_path / "nowhere")
    write_folder(tmp_path / "a")
    (tmp_path / "a" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"no t10k-labels-idx1-ubyte \(or .*\.gz\)"):
        load_idx_folder(tmp_path / "a")
    write_folder(tmp_path / "b")
    (tmp_path / "b" / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros(5))))
    with pytest.raises(DataFileError, match=r"labels of shape \(5,\), but .* has 6 train images"):
        load_idx_folder(tmp_path / "b")
    write_folder(tmp_path / "c")
    (tmp_path / "c" / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(_idx(np.zeros((6, 35))))
    )
    with pytest.raises(DataFileError, match=r"shape \(6, 35\); images of shape"):
        load_idx_folder(tmp_path / "c")


def test_a_small_cnn_learns_an_idx_folder(tmp_path):
    """End to end from files: a folder, a CNN, fit, evaluate."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "bars"
    folder.mkdir()
    for prefix, n in (("train", 64), ("t10k", 32)):
        labels = rng.integers(0, 2, size=n)
        images = rng.integers(0, 60, size=(n, 8, 8))
        for i, label in enumerate(labels):  # class 0: a horizontal bar, class 1: a vertical one
            where = rng.integers(1, 7)
            if label:
                images[i, :, where] = 255
            else:
                images[i, where, :] = 255
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(images))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(labels))
    (X, y), (X_test, y_test) = load_idx_folder(folder)
    model = snn.Sequential(
        [snn.Conv2D(1, 4, 3), snn.ReLU(), snn.MaxPool2D(2), snn.Flatten(), snn.Dense(36, 2)],
        seed=0,
        input_shape=(1, 8, 8),
    )
    model.fit(
        X, y, loss="ce", optimizer=snn.optim.Adam(lr=0.01), epochs=20, batch_size=16, verbose=0
    )
    assert model.evaluate(X_test, y_test, metrics=["accuracy"])["accuracy"] >= 0.9


def test_digits_as_images():
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    X, y = snn.datasets.load_digits(images=True)
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32 and y.shape == (1797,)
    flat, _ = snn.datasets.load_digits()
    np.testing.assert_array_equal(X.reshape(1797, 64), flat)
