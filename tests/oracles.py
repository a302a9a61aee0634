"""Oracles shared by the tests: PyTorch twins of scratchnn models and central differences.

Fixtures live in ``conftest.py``; the helpers here are plain functions and classes that test
modules import (``from oracles import TorchTwin, to_numpy, to_torch``). torch is imported only
by the helpers that need it, so this module imports without the dev extra; a test module that
uses the torch helpers first calls ``pytest.importorskip("torch")``.

Conventions: scratchnn's ``Dense`` weight ``W`` has shape ``(in, out)`` and computes ``x @ W``;
torch's ``Linear.weight`` has shape ``(out, in)`` and computes ``x @ weight.T``. So
``weight == W.T``, and the gradients transpose the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

import scratchnn as snn
from scratchnn.gradcheck import numeric_gradient

if TYPE_CHECKING:
    import torch

#: float64 rounding error, the default tolerance of a comparison with torch.
RTOL, ATOL = 1e-10, 1e-12


def to_torch(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    """A torch tensor holding a copy of ``array``, in its dtype (float64 stays float64, int64
    class labels stay int64)."""
    import torch

    return torch.from_numpy(np.array(array, copy=True)).requires_grad_(requires_grad)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """The values of ``tensor`` (detached from autograd) as a NumPy array."""
    return tensor.detach().numpy()


class TorchTwin:
    """A torch model, written independently of scratchnn's, given the scratchnn model's
    current weights: the ``i``-th ``Dense`` layer's ``W.T`` and ``b`` become the ``i``-th
    ``Linear`` layer's ``weight`` and ``bias``. Keeps the map from each scratchnn parameter
    name (``"dense_0.W"``) to its torch counterpart.

    Args:
        model: the scratchnn model (its Dense layers in order).
        module: a torch module with as many ``Linear`` layers, of the transposed shapes.
    """

    def __init__(self, model: snn.Sequential, module: torch.nn.Module) -> None:
        import torch

        self.module = module
        dense = [layer for layer in model.layers if isinstance(layer, snn.Dense)]
        self.linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
        assert len(dense) == len(self.linears), (
            f"{len(dense)} Dense layers but {len(self.linears)} Linear"
        )
        by_array: dict[int, tuple[torch.nn.Parameter, bool]] = {}  # id(array) -> (tensor, .T?)
        with torch.no_grad():
            for layer, twin in zip(dense, self.linears, strict=True):
                W = layer.params["W"]
                assert W.T.shape == twin.weight.shape, (layer, twin)
                twin.weight.copy_(to_torch(W.T))
                by_array[id(W)] = (twin.weight, True)
                assert ("b" in layer.params) == (twin.bias is not None), (layer, twin)
                if twin.bias is not None:
                    twin.bias.copy_(to_torch(layer.params["b"]))
                    by_array[id(layer.params["b"])] = (twin.bias, False)
        # Each Parameter's value is the very array the layer holds (a view into the flat store).
        self.params = {p.name: by_array.pop(id(p.value)) for p in model.parameters()}
        assert not by_array, "some layer arrays are not in model.parameters()"

    def value(self, name: str) -> np.ndarray:
        """The torch value of scratchnn's parameter ``name``, in scratchnn's layout."""
        tensor, transposed = self.params[name]
        return to_numpy(tensor.T if transposed else tensor)

    def grad(self, name: str) -> np.ndarray:
        """The torch gradient of scratchnn's parameter ``name``, in scratchnn's layout."""
        tensor, transposed = self.params[name]
        return to_numpy(tensor.grad.T if transposed else tensor.grad)

    def assert_matches(
        self,
        model: snn.Sequential,
        what: str = "",
        grads: bool = False,
        rtol: float = RTOL,
        atol: float = ATOL,
    ) -> None:
        """Assert that every parameter of ``model`` (and its gradient, with ``grads``) equals
        its torch twin's within ``rtol``/``atol``; ``what`` prefixes the failure message."""
        for p in model.parameters():
            np.testing.assert_allclose(
                p.value, self.value(p.name), rtol=rtol, atol=atol, err_msg=f"{what} {p.name}"
            )
            if grads:
                np.testing.assert_allclose(
                    p.grad, self.grad(p.name), rtol=rtol, atol=atol, err_msg=f"{what} ∂{p.name}"
                )


def central_differences(f: Callable[[], float], values: np.ndarray, eps: float) -> np.ndarray:
    """``snn.gradcheck``'s own central differences of the scalar ``f()`` with respect to every
    entry of ``values`` (perturbed in place through a flat view, and restored):
    ``(f(θ + εe_i) - f(θ - εe_i)) / 2ε``, shaped like ``values``.

    For tests of a layer alone (in eval mode, or with a weighted sum as the scalar), which
    ``snn.gradcheck`` does not cover. tests/test_gradcheck*.py keep their own, independent loop
    on purpose: it is the oracle for gradcheck itself.
    """
    assert values.flags.c_contiguous, "values must be perturbable through a flat view"
    return numeric_gradient(values, np.arange(values.size), f, eps).reshape(values.shape)
