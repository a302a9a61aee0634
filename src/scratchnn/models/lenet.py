r"""A LeNet-style convolutional network for small images (MNIST, Fashion-MNIST).

.. code-block:: text

    images (batch, C, 28, 28)
    [RandomShift(m)]                                 training only, when augment > 0
    Conv2D(C, 32, 5) → ReLU → MaxPool2D(2)           (batch, 32, 12, 12)
    Conv2D(32, 64, 5) → ReLU → MaxPool2D(2)          (batch, 64, 4, 4)
    Flatten → Dense(1024, 128) → ReLU [→ Dropout(p)]
    Dense(128, classes)                              logits (batch, classes)

Two convolutions of 5×5 kernels, each followed by a 2×2 max pool, then a small MLP: the
architecture of LeCun's LeNet-5 with ReLU and max pooling in place of its tanh and
subsampling, as today's tutorials write it. Train it with ``loss="cross_entropy"``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_bool, check_int, check_number, check_positive_int
from ..layers import (
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    RandomShift,
    ReLU,
    Reshape,
)
from ..model import Sequential

__all__ = ["LeNet"]


def LeNet(  # noqa: N802 - a factory that reads like a class, as MLP
    in_channels: int = 1,
    image_size: int = 28,
    classes: int = 10,
    channels: tuple[int, int] = (32, 64),
    hidden: int = 128,
    kernel_size: int = 5,
    dropout: float = 0.0,
    augment: int = 0,
    flat_input: bool = False,
    seed: int | None = None,
    dtype: Any = np.float32,
) -> Sequential:
    """A LeNet-style CNN as a :class:`~scratchnn.Sequential` (see the module's docstring).

    Args:
        in_channels: channels of the input images (1 for MNIST).
        image_size: height and width of the (square) input images.
        classes: outputs (logits).
        channels: output channels of the two convolutions.
        hidden: units of the hidden Dense layer.
        kernel_size: of both convolutions (no padding).
        dropout: dropout before the last layer (0: none).
        augment: shift training images by up to this many pixels (:class:`RandomShift`, a
            seeded, training-only layer; 0: none).
        flat_input: take rows of ``C·H·W`` pixels (as an MLP does) and reshape them into
            images first (:class:`Reshape`); the command line's ``--model cnn`` does.
        seed, dtype: as :class:`~scratchnn.Sequential`'s.

    Example:
        >>> model = LeNet(seed=0)
        >>> model.output_shape, sum(p.value.size for p in model.parameters())
        ((10,), 184586)
    """
    in_channels = check_positive_int("in_channels", in_channels)
    image_size = check_positive_int("image_size", image_size)
    check_int("augment", augment, 0)
    check_number("dropout", dropout, 0.0, 1.0, high_open=True)
    first, second = (check_positive_int("channels", c) for c in channels)
    k = check_positive_int("kernel_size", kernel_size)
    side = ((image_size - k + 1) // 2 - k + 1) // 2
    if side < 1:
        raise ValueError(
            f"LeNet with kernel_size={k} needs images of at least {2 * (k - 1) + 2 + k} pixels "
            f"per side. Received: image_size={image_size}."
        )
    image = (in_channels, image_size, image_size)
    layers: list[Layer] = [Reshape(image)] if check_bool("flat_input", flat_input) else []
    layers += [RandomShift(augment)] if augment else []
    layers += [
        Conv2D(in_channels, first, k),
        ReLU(),
        MaxPool2D(2),
        Conv2D(first, second, k),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Dense(second * side * side, check_positive_int("hidden", hidden)),
        ReLU(),
    ]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(hidden, check_positive_int("classes", classes)))
    input_shape = (math.prod(image),) if flat_input else image
    return Sequential(layers, seed=seed, dtype=dtype, input_shape=input_shape)
