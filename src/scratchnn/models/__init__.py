"""Ready-made models built from scratchnn's layers: a small GPT and its character tokenizer, and
a LeNet-style CNN for small images.

``scratchnn.models`` is imported on demand (``from scratchnn.models import GPT``), never by
``import scratchnn``.
"""

from .gpt import GPT, attention_maps, context_length, generate
from .lenet import LeNet
from .tokenizer import CharTokenizer

__all__ = ["GPT", "CharTokenizer", "LeNet", "attention_maps", "context_length", "generate"]
