"""Datasets: MNIST (bundled), the IDX reader, and small generated problems such as XOR."""

from .idx import load_idx
from .mnist import load_mnist
from .toy import xor

__all__ = ["load_idx", "load_mnist", "xor"]
