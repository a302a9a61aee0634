"""MNIST handwritten digits, shipped with the package: no download, no network."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .._validation import check_bool
from ..errors import DataFileError
from .idx import load_idx

DATA_DIR = Path(__file__).parent / "data" / "mnist"

#: The official md5 of each compressed file (the values torchvision checks, too).
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def _load_verified(name: str) -> np.ndarray:
    path = DATA_DIR / name
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    if digest != MD5[name]:
        raise DataFileError(
            f"{path} is damaged: its md5 is {digest}, expected {MD5[name]}. Reinstall scratchnn."
        )
    return load_idx(path)


def load_mnist(
    normalize: bool = True, flatten: bool = True, dtype: type = np.float32, images: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The 60,000 training and 10,000 test images of MNIST, with labels 0-9.

    Args:
        normalize: scale pixels from 0..255 to [0, 1] in ``dtype``; False keeps uint8.
        flatten: images as rows of 784 pixels; False keeps ``(28, 28)`` images.
        dtype: the floating dtype of normalized images.
        images: one-channel images ``(n, 1, 28, 28)``, the NCHW layout that
            :class:`~scratchnn.Conv2D` takes (``flatten`` is then ignored).

    Returns:
        ``((X_train, y_train), (X_test, y_test))``, labels as int64, as Keras's
        ``mnist.load_data`` returns them.

    Example:
        >>> (X_train, y_train), (X_test, y_test) = load_mnist()
        >>> X_train.shape, X_train.dtype, y_test[:5]
        ((60000, 784), dtype('float32'), array([7, 2, 1, 0, 4]))
        >>> load_mnist(images=True)[1][0].shape
        (10000, 1, 28, 28)
    """
    splits, images_wanted = [], check_bool("images", images)
    for prefix in ("train", "t10k"):
        pixels = _load_verified(f"{prefix}-images-idx3-ubyte.gz")
        labels = _load_verified(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        if images_wanted:
            pixels = pixels[:, None]  # one channel: (n, 1, 28, 28)
        elif flatten:
            pixels = pixels.reshape(len(pixels), -1)
        if normalize:
            pixels = pixels.astype(dtype) / dtype(255)
        splits.append((pixels, labels))
    return splits[0], splits[1]
