"""Image datasets from a folder of IDX files: Fashion-MNIST, KMNIST, EMNIST, or your own.

The folder holds the four files MNIST's site distributes, compressed (``.gz``) or not::

    train-images-idx3-ubyte   train-labels-idx1-ubyte
    t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte

(Fashion-MNIST, Kuzushiji-MNIST and others use the same names and format.) Nothing is
downloaded: give the folder you downloaded them to.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._validation import check_bool
from ..errors import DataFileError
from .idx import load_idx

#: The two splits and their file prefixes.
SPLITS = {"train": "train", "test": "t10k"}


def _find(folder: Path, stem: str) -> Path:
    for name in (
        stem,
        f"{stem}.gz",
        stem.replace("-idx", ".idx"),
        f"{stem.replace('-idx', '.idx')}.gz",
    ):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{folder} has no {stem} (or {stem}.gz). An IDX image folder holds "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        "t10k-labels-idx1-ubyte, each optionally .gz (as MNIST and Fashion-MNIST ship them)."
    )


def load_idx_folder(
    path: str | os.PathLike,
    normalize: bool = True,
    dtype: type = np.float32,
    images: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The training and test images of an IDX folder (Fashion-MNIST's, or any of that form).

    Args:
        path: the folder with ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``
            and the two ``t10k-`` files.
        normalize: scale pixels from 0..255 to [0, 1] in ``dtype``; False keeps the stored type.
        dtype: the floating dtype of normalized images.
        images: ``(n, 1, H, W)`` one-channel images for :class:`~scratchnn.Conv2D` (default);
            False gives rows of ``H·W`` pixels for an MLP.

    Returns:
        ``((X_train, y_train), (X_test, y_test))``, labels as int64, as :func:`load_mnist`.

    Raises:
        FileNotFoundError: if the folder or one of its four files is missing (named).
        DataFileError: if a file is not IDX, the images are not ``(n, H, W)``, the labels are
            not ``(n,)`` or their counts differ.

    Example::

        (X_train, y_train), (X_test, y_test) = load_idx_folder("~/data/fashion-mnist")
    """
    as_images = check_bool("images", images)
    check_bool("normalize", normalize)
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder: {folder} (an IDX image folder was expected).")
    splits = []
    for split, prefix in SPLITS.items():
        image_path = _find(folder, f"{prefix}-images-idx3-ubyte")
        label_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
        pixels, labels = load_idx(image_path), load_idx(label_path)
        if pixels.ndim != 3:
            raise DataFileError(
                f"{image_path} holds an array of shape {pixels.shape}; images of shape "
                "(n, height, width) were expected."
            )
        if labels.ndim != 1 or len(labels) != len(pixels):
            raise DataFileError(
                f"{label_path} holds labels of shape {labels.shape}, but {image_path.name} has "
                f"{len(pixels)} {split} images: one label per image was expected."
            )
        pixels = pixels[:, None] if as_images else pixels.reshape(len(pixels), -1)
        if normalize:
            pixels = pixels.astype(dtype) / dtype(255)
        splits.append((pixels, labels.astype(np.int64)))
    return splits[0], splits[1]
