"""Datasets: MNIST (bundled), the IDX reader, CSV/.npz tables, scikit-learn's digits, and
small generated problems (XOR, spirals, moons, circles, blobs, a regression curve)."""

from .idx import load_idx
from .mnist import load_mnist
from .synthetic import blobs, circles, moons, regression_curve, spirals, xor
from .tabular import Table, encode_target, load_csv, load_npz_table, load_table


def load_digits() -> tuple[object, object]:
    """The 8x8 handwritten digits that scikit-learn ships: ``X`` (1797, 64) float32 with pixel
    values 0..16, and labels ``y`` (1797,). Needs scikit-learn (``pip install scikit-learn``)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError(
            "The digits dataset comes with scikit-learn: pip install 'scratchnn[sklearn]'."
        ) from None
    import numpy as np

    digits = sklearn_digits()
    return digits.data.astype(np.float32), digits.target.astype(np.int64)


__all__ = [
    "Table",
    "blobs",
    "circles",
    "encode_target",
    "load_csv",
    "load_digits",
    "load_idx",
    "load_mnist",
    "load_npz_table",
    "load_table",
    "moons",
    "regression_curve",
    "spirals",
    "xor",
]
