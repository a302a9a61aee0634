"""Datasets: MNIST (bundled), the IDX reader and IDX image folders (Fashion-MNIST), CSV/.npz
tables, scikit-learn's digits, and small generated problems (XOR, spirals, moons, circles,
blobs, a regression curve)."""

from .idx import load_idx
from .images import load_idx_folder
from .mnist import load_mnist
from .synthetic import blobs, circles, moons, regression_curve, spirals, xor
from .tabular import Table, encode_target, load_csv, load_npz_table, load_table


def load_digits(images: bool = False) -> tuple[object, object]:
    """The 8x8 handwritten digits that scikit-learn ships: ``X`` (1797, 64) float32 with pixel
    values 0..16, and labels ``y`` (1797,). Needs scikit-learn (``pip install scikit-learn``).

    ``images=True`` gives one-channel images ``(1797, 1, 8, 8)`` (NCHW) for
    :class:`~scratchnn.Conv2D`."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError(
            "The digits dataset comes with scikit-learn: pip install 'scratchnn[sklearn]'."
        ) from None
    import numpy as np

    digits = sklearn_digits()
    X = digits.data.astype(np.float32)
    if images:
        X = X.reshape(-1, 1, 8, 8)
    return X, digits.target.astype(np.int64)


__all__ = [
    "Table",
    "blobs",
    "circles",
    "encode_target",
    "load_csv",
    "load_digits",
    "load_idx",
    "load_idx_folder",
    "load_mnist",
    "load_npz_table",
    "load_table",
    "moons",
    "regression_curve",
    "spirals",
    "xor",
]
