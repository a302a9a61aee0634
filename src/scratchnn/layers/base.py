"""The layer protocol that every layer follows."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._registry import Configurable, Registry
from ..parameters import ArrayDict
from ..shapes import Shape, Spec

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

    #: The lowest value each buffer may hold, checked when a file is loaded: a number (e.g.
    #: 0.0 for a running variance) or None for "strictly positive" (a divisor).
    buffer_lows: ClassVar[dict[str, float | None]] = {}

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

    # Shapes. A layer declares the shape of one sample it takes (without the batch axis) and
    # computes the shape it gives; the model checks the chain once, when it is built. See
    # scratchnn.shapes for the notation (None: any size; a leading ...: any leading axes).

    @property
    def input_shape(self) -> Spec | None:
        """The shape of one input sample this layer takes, e.g. ``(..., 784)`` for Dense
        (784 features on the last axis) or ``(1, None, None)`` for a one-channel image of any
        size; None if it takes any shape (activations, dropout).

        The default comes from ``in_features``, so a layer written before shapes existed
        (overriding ``in_features`` and ``output_features``) keeps working."""
        features = self.in_features
        return None if features is None else (..., features)

    def output_shape(self, input_shape: Shape) -> Shape:
        """The shape of one output sample, given one input sample's ``input_shape``.

        The default maps the last axis through ``output_features`` (the identity unless
        overridden): elementwise layers keep their input's shape."""
        if not input_shape or input_shape[-1] is None:
            return tuple(input_shape)
        return (*input_shape[:-1], self.output_features(input_shape[-1]))

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]] | None:
        """The shapes of the parameters ``build`` will create, from the configuration and the
        input shape alone, before anything is allocated: the model counts them (a model too
        large for memory is refused before building) and the loader checks a file's arrays
        against them. None means "not declared" (a custom layer that creates its arrays in
        ``build``): the loader then bounds the layer by what the file can hold."""
        return {} if self.built and not self.params else None

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]] | None:
        """The shapes of the buffers (saved non-trainable state) the layer keeps; as
        ``parameter_shapes``."""
        return {} if self.built and not self.buffers else None

    @property
    def in_features(self) -> int | None:
        """Number of input features (the last axis) this layer requires, or None if it takes
        any. New layers declare ``input_shape`` instead."""
        return None

    def output_features(self, in_features: int) -> int:
        """Number of output features given ``in_features`` inputs (unchanged by default)."""
        return in_features


class ParameterFree(Layer):
    """A layer without parameters or buffers that keeps its input's shape (activations,
    dropout): it declares so, and the model and the loader need to know nothing else of it."""

    draws_at_build = False

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}
