"""Where the numbers live: named parameter arrays, and one flat store that owns them all.

A model keeps every parameter in one contiguous vector and every gradient in another. Each
layer's ``params["W"]`` and ``grads["W"]`` are *views* into those vectors, so

- a learner reads and writes named arrays, exactly as on the whiteboard;
- an optimizer updates the whole model with a handful of vectorised in-place passes over one
  vector instead of a Python loop over many small arrays;
- saving, gradient clipping and gradient checking are one-liners over the vector.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

#: A :class:`scratchnn.layers.Layer` (anything with ``params`` and ``grads`` ArrayDicts). Not
#: imported: layers are built on this module, not the other way round.
Layer = Any


class ArrayDict(dict):
    """A dict of named arrays whose entries are updated *in place*.

    ``params["W"] = new_values`` copies the values into the existing array (after checking the
    shape), so the array stays a view into the model's flat store. Use ``bind`` to replace the
    array itself.
    """

    def __init__(self, owner: object = "this layer") -> None:
        super().__init__()
        self._owner = owner  # named in error messages

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        if name not in self:
            super().__setitem__(name, value)
            return
        target = self[name]
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(
                f"{self._owner}: {name!r} has shape {target.shape}; cannot assign an array of "
                f"shape {value.shape}."
            )
        target[...] = value

    def __missing__(self, name: str) -> np.ndarray:
        hint = (
            " It has no arrays until it is built: a model builds its layers, a layer builds "
            "itself on its first forward, or call .build() yourself."
            if not self
            else f" It has: {', '.join(self)}."
        )
        raise KeyError(f"{self._owner} has no array {name!r}.{hint}")

    def bind(self, name: str, array: np.ndarray) -> None:
        """Make ``name`` refer to ``array`` itself (no copy)."""
        super().__setitem__(name, array)


class Parameter(NamedTuple):
    """A named parameter: its values and the gradient of the loss with respect to them.

    Both arrays have the same shape; an optimizer updates ``value`` in place from ``grad``.
    """

    name: str
    value: np.ndarray
    grad: np.ndarray


class Parameters(Sequence[Parameter]):
    """The parameters of a model, by name, backed by one flat vector of values and one of
    gradients (``flat``), which is what the optimizers update."""

    def __init__(self, named: list[Parameter], flat: Parameter) -> None:
        self._named = named
        self.flat = flat

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, str):
            for parameter in self._named:
                if parameter.name == index:
                    return parameter
            raise KeyError(f"No parameter named {index!r}. Names: {', '.join(self.names())}.")
        return self._named[index]

    def __len__(self) -> int:
        return len(self._named)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._named)

    def names(self) -> list[str]:
        return [parameter.name for parameter in self._named]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{p.name}{p.value.shape}" for p in self._named)
        return f"Parameters({shapes}; {self.flat.value.size} values, {self.flat.value.dtype})"


class ParameterStore:
    """Allocates the flat value and gradient vectors of a model and rebinds every layer's named
    arrays to views into them, keeping their current values.

    Args:
        named_layers: ``(prefix, layer)`` pairs, in order; parameter ``W`` of layer ``dense_0``
            is named ``"dense_0.W"``.
        dtype: the floating dtype of the whole model.
    """

    def __init__(self, named_layers: Iterable[tuple[str, Layer]], dtype: np.dtype) -> None:
        named_layers = list(named_layers)
        total = sum(array.size for _, layer in named_layers for array in layer.params.values())
        self.values = np.zeros(total, dtype=dtype)
        self.grads = np.zeros(total, dtype=dtype)
        named: list[Parameter] = []
        offset = 0
        for prefix, layer in named_layers:
            for name, array in list(layer.params.items()):
                end = offset + array.size
                value_view = self.values[offset:end].reshape(array.shape)
                grad_view = self.grads[offset:end].reshape(array.shape)
                value_view[...] = array
                layer.params.bind(name, value_view)
                layer.grads.bind(name, grad_view)
                named.append(Parameter(f"{prefix}.{name}", value_view, grad_view))
                offset = end
        self.parameters = Parameters(named, Parameter("all", self.values, self.grads))
