"""The ``scratchnn`` command line (see ``scratchnn --help``)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
