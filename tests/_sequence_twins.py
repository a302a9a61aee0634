"""PyTorch twins of scratchnn's sequence layers, shared by the sequence tests: the torch module
computing the same function as a layer, given the layer's weights, and the map from each
scratchnn parameter to its torch tensor.

Layouts: scratchnn's ``W`` is ``(in, out)`` (``x @ W``), torch's weights are ``(out, in)``, so
each torch weight is scratchnn's transposed. The recurrent layers' ``b`` is torch's
``bias_ih_l0`` (torch's ``bias_hh_l0`` is held at 0, the two only ever appear summed), except
in the GRU, whose ``b_h`` is torch's ``bias_hh_l0``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import scratchnn as snn
from oracles import to_torch

if TYPE_CHECKING:
    import torch


def twin(layer) -> tuple[torch.nn.Module, list[tuple[str, torch.Tensor, bool]]]:
    """The torch module computing the same function, given ``layer``'s weights, and the map
    ``(scratchnn name, torch parameter, transposed)``."""
    import torch

    nn = torch.nn
    if isinstance(layer, snn.Embedding):
        module = nn.Embedding(layer.num_embeddings, layer.embedding_dim)
        pairs = [("W", module.weight, False)]
    elif isinstance(layer, (snn.RNN, snn.LSTM, snn.GRU)):
        if isinstance(layer, snn.RNN):
            module = nn.RNN(
                layer.input_size,
                layer.hidden_size,
                batch_first=True,
                nonlinearity=layer.nonlinearity,
            )
        else:
            module = getattr(nn, type(layer).__name__)(
                layer.input_size, layer.hidden_size, batch_first=True
            )
        pairs = [
            ("W", module.weight_ih_l0, True),
            ("U", module.weight_hh_l0, True),
            ("b", module.bias_ih_l0, False),
        ]
        if isinstance(layer, snn.GRU):
            pairs.append(("b_h", module.bias_hh_l0, False))
        else:
            module.bias_hh_l0.requires_grad_(False)
            with torch.no_grad():
                module.bias_hh_l0.zero_()
    elif isinstance(layer, snn.MultiHeadAttention):
        module = nn.MultiheadAttention(layer.embed_dim, layer.num_heads, batch_first=True)
        pairs = [
            ("W_qkv", module.in_proj_weight, True),
            ("b_qkv", module.in_proj_bias, False),
            ("W_o", module.out_proj.weight, True),
            ("b_o", module.out_proj.bias, False),
        ]
    elif isinstance(layer, snn.LayerNorm):
        module = nn.LayerNorm(layer.num_features, eps=layer.eps)
        pairs = [("gamma", module.weight, False), ("beta", module.bias, False)]
    elif isinstance(layer, snn.Dense):
        module = nn.Linear(layer.in_features, layer.out_features)
        pairs = [("W", module.weight, True), ("b", module.bias, False)]
    else:
        raise AssertionError(layer)
    module = module.double()
    with torch.no_grad():
        for name, tensor, transposed in pairs:
            values = layer.params[name]
            tensor.copy_(to_torch(values.T if transposed else values))
    return module, pairs
