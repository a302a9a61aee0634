"""The layer protocol that every layer follows."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._registry import Configurable, Registry
from ..parameters import ArrayDict

layers: Registry[type[Layer]] = Registry("layer")


class Layer(Configurable):
    """A differentiable function of a batch, with optional parameters.

    The protocol is two methods that mirror each other:

    - ``forward(x, training)`` computes the output and caches what ``backward`` needs;
    - ``backward(grad_out)`` takes ``∂L/∂output`` and returns ``∂L/∂input`` by the chain rule,
      and *overwrites* ``self.grads`` with ``∂L/∂param`` for each parameter. It never
      accumulates, so calling it twice with the same ``grad_out`` gives the same result.

    Parameters and gradients are named arrays: ``layer.params["W"]``, ``layer.grads["W"]``.
    Assigning ``layer.params["W"] = values`` copies the values in place (shapes must match).

    Writing your own layer: subclass, create parameters in ``build`` (if any), implement
    ``forward`` and ``backward``, register it with ``@layers.register()`` so that models
    containing it can be saved, and check it with :func:`scratchnn.gradcheck`.
    """

    #: The weight initializer that suits a Dense layer *feeding* this layer (see Dense's
    #: ``init="auto"``): He for the ReLU family, Glorot otherwise. None for non-activations.
    recommended_init: ClassVar[str | None] = None

    #: False for layers whose ``build`` draws no random numbers (activations, dropout,
    #: normalization, preprocessing). A model gives every other layer its own initialization
    #: stream, numbered among such layers only, so inserting any of these layers does not
    #: change the initial weights of the others.
    draws_at_build: ClassVar[bool] = True

    #: True for layers whose ``backward`` accepts ``input_grad=False`` to skip computing
    #: ``∂L/∂input`` (a model's first layer has no use for it during training).
    can_skip_input_grad: ClassVar[bool] = False

    #: True for layers whose training-mode statistics need more than one sample per batch.
    needs_batch_statistics: ClassVar[bool] = False

    def __init__(self) -> None:
        self.params = ArrayDict(owner=self)
        self.grads = ArrayDict(owner=self)
        #: Non-trainable state saved with the model (e.g. BatchNorm's running statistics).
        self.buffers = ArrayDict(owner=self)
        self.built = False
        self.dtype: np.dtype | None = None
        #: The layer's own random stream (dropout masks); a model gives each layer one.
        self.rng: np.random.Generator | None = None

    def build(
        self,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
        init_hint: str | None = None,
    ) -> None:
        """Create and initialize the parameters (none here), drawing from ``rng``.

        A model calls this with its seeded generator and dtype; ``init_hint`` names the
        initializer that suits the layer that follows (see ``recommended_init``).
        """
        self.dtype = np.dtype(dtype)
        self.built = True

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def has_penalty(self) -> bool:
        """Whether ``penalty()`` can be non-zero (so that models skip it otherwise)."""
        return False

    def penalty(self) -> float:
        """The regularization term this layer adds to the loss (0 unless it has one)."""
        return 0.0

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training)

    @property
    def in_features(self) -> int | None:
        """Number of input features this layer requires, or None if it takes any."""
        return None

    def output_features(self, in_features: int) -> int:
        """Number of output features given ``in_features`` inputs (unchanged by default)."""
        return in_features
