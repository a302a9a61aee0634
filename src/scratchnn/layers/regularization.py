"""Dropout: randomly silence units while training, so the network cannot rely on any one."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_number
from .base import ParameterFree, layers


@layers.register()
class Dropout(ParameterFree):
    r"""Inverted dropout with drop probability :math:`p`.

    Training: each element is kept with probability :math:`1 - p` and scaled by
    :math:`1/(1-p)`, so the expected output equals the input:

    .. math::
        m_{ij} \sim \operatorname{Bernoulli}(1 - p), \qquad
        y = x ⊙ m / (1 - p), \qquad ∂L/∂x = ∂L/∂y ⊙ m / (1 - p)

    Inference: the identity (no rescaling is needed, thanks to the training-time scale).
    The masks come from the layer's own random stream, which a model derives from its seed.

    Args:
        p: probability of dropping each element, in [0, 1).

    Shapes: any → same.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_number("p", p, 0.0, 1.0, high_open=True)
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.p == 0:
            self._mask = None
            return x
        if self.rng is None:
            self.rng = np.random.default_rng()
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        keep = self.rng.random(self.mask_shape(x), dtype=dtype) >= self.p
        self._mask = keep * dtype.type(1 / (1 - self.p))
        return x * self._mask

    def mask_shape(self, x: np.ndarray) -> tuple[int, ...]:
        """One mask entry per element (a subclass may share one across axes, by broadcast)."""
        return x.shape

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._mask is None:
            return grad_out
        return grad_out * self._mask

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
