"""The layer protocol that every layer follows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from .._registry import Configurable, Registry
from ..parameters import ArrayDict
from ..shapes import Shape, Spec, infer_shapes

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

    #: False for layers whose work is many small steps (a loop over time): on shards of a
    #: batch, one per thread, they run slower than on the whole batch, so ``fit`` keeps such a
    #: model on one thread unless told otherwise (:func:`scratchnn.sharded.plan`).
    shards_well: ClassVar[bool] = True

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

    def __getattr__(self, name: str) -> Any:
        # Python calls this only for an attribute that normal lookup did not find, so a layer
        # that is whole never gets here: it names the usual cause of a missing base attribute.
        if name in _BASE_ATTRIBUTES:
            klass = type(self).__name__
            raise AttributeError(
                f"{klass} has no {name!r}: {klass}.__init__ did not call super().__init__(), "
                f"which gives every layer its params, grads, buffers, built, dtype and rng. Add "
                f"super().__init__() as the first line of {klass}.__init__."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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

    def sublayers(self) -> list[Layer]:
        """The layers inside this one (see :class:`Container`); none for a plain layer."""
        return []

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    #: Whether ``penalty()`` can be non-zero (so that models skip it otherwise). A plain
    #: attribute here, read at every step; a layer with L1/L2 makes it a property.
    has_penalty: bool = False

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


#: What ``Layer.__init__`` sets up on every layer (see ``Layer.__getattr__``).
_BASE_ATTRIBUTES = frozenset({"params", "grads", "buffers", "built", "dtype", "rng"})


class ParameterFree(Layer):
    """A layer without parameters or buffers that keeps its input's shape (activations,
    dropout): it declares so, and the model and the loader need to know nothing else of it."""

    draws_at_build = False

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]]:
        return {}


class Container(Layer):
    """A layer made of other layers (e.g. ``Residual``: ``x + f(x)``), which a model walks
    like its own: each sublayer is built with its own initialization stream, its parameters
    are views into the model's flat vector (named ``residual_3.dense_0.W``), it gets its own
    random stream, and its buffers are saved (``buffer.3.0.running_mean``).

    A subclass implements ``forward`` and ``backward`` in terms of ``self.layers``; this class
    gives it the shapes (the chain through the sublayers), the configuration (the sublayers'
    specs), the penalty and the build.

    Args:
        layers: the sublayers, first to last (each a new Layer object).
    """

    def __init__(self, layers: list[Layer]) -> None:
        super().__init__()
        self.layers = list(layers)
        if not self.layers or not all(isinstance(layer, Layer) for layer in self.layers):
            raise TypeError(
                f"{type(self).__name__} takes a non-empty list of Layer instances; received "
                f"{layers!r}."
            )
        if len({id(layer) for layer in self.layers}) != len(self.layers):
            raise ValueError(f"{type(self).__name__} received the same layer object twice.")

    def sublayers(self) -> list[Layer]:
        return self.layers

    @property
    def draws_at_build(self) -> bool:  # type: ignore[override]
        return any(layer.draws_at_build for layer in self.layers)

    @property
    def needs_batch_statistics(self) -> bool:  # type: ignore[override]
        return any(layer.needs_batch_statistics for layer in self.layers)

    @property
    def input_shape(self) -> Spec | None:
        return next((layer.input_shape for layer in self.layers if layer.input_shape), None)

    def output_shape(self, input_shape: Shape) -> Shape:
        return infer_shapes(self.layers, input_shape)[-1]

    def _declared(self, input_shape: Shape, buffers: bool) -> dict[str, tuple[int, ...]] | None:
        declared: dict[str, tuple[int, ...]] = {}
        for j, (layer, shape) in enumerate(
            zip(self.layers, infer_shapes(self.layers, input_shape), strict=False)
        ):
            own = layer.buffer_shapes(shape) if buffers else layer.parameter_shapes(shape)
            if own is None:
                return None
            declared.update({f"{j}.{name}": s for name, s in own.items()})
        return declared

    def parameter_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]] | None:
        """The sublayers' parameters, named ``"<index>.<name>"``."""
        return self._declared(input_shape, buffers=False)

    def buffer_shapes(self, input_shape: Shape) -> dict[str, tuple[int, ...]] | None:
        """The sublayers' buffers, named ``"<index>.<name>"``."""
        return self._declared(input_shape, buffers=True)

    def build(
        self,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
        init_hint: str | None = None,
    ) -> None:
        super().build(rng, dtype, init_hint)
        seeds = (rng if rng is not None else np.random.default_rng()).spawn(len(self.layers))
        for j, layer in enumerate(self.layers):
            following = self.layers[j + 1] if j + 1 < len(self.layers) else None
            if not layer.built:
                hint = following.recommended_init if following is not None else init_hint
                layer.build(seeds[j], dtype, init_hint=hint)

    @property
    def has_penalty(self) -> bool:
        return any(layer.has_penalty for layer in self.layers)

    def penalty(self) -> float:
        return sum(layer.penalty() for layer in self.layers if layer.has_penalty)

    def get_config(self) -> dict[str, Any]:
        return {
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ]
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Container:
        config = dict(config)
        config["layers"] = [layers.create(spec, Layer) for spec in config["layers"]]
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}([{', '.join(map(repr, self.layers))}])"


def walk(layer: Layer, path: str = "") -> Iterator[tuple[str, Layer]]:
    """``(path, layer)`` for ``layer`` and, depth first, every layer inside it: ``"3"``, then
    ``"3.0"``, ``"3.1"``, ... for the sublayers of a container at position 3."""
    yield path, layer
    for j, sub in enumerate(layer.sublayers()):
        yield from walk(sub, f"{path}.{j}" if path else str(j))


def named_arrays(layer: Layer, kind: str = "params") -> Iterator[tuple[str, np.ndarray]]:
    """The ``params``, ``grads`` or ``buffers`` of ``layer`` and of every layer inside it,
    named relative to it: ``W`` for its own, ``0.W`` for its first sublayer's."""
    for path, inner in walk(layer):
        for name, array in getattr(inner, kind).items():
            yield (f"{path}.{name}" if path else name), array


def named_buffers(layer: Layer) -> Iterator[tuple[str, np.ndarray]]:
    """The buffers of ``layer`` and of the layers inside it (``running_mean``,
    ``0.running_mean``, ...): what a model file saves for it."""
    return named_arrays(layer, "buffers")
