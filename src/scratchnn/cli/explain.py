"""``scratchnn explain``: one training step of the tutorial's network, every array printed.

``scratchnn explain xor --steps 1`` runs :func:`scratchnn.trace_step` on the tutorial's 2-4-1
sigmoid network (weights from N(0, 1), float64) and prints, per layer, ``z``, ``a``,
``δ = ∂L/∂z``, ``∂L/∂W``, ``∂L/∂b`` and the update, with their shapes. In the tutorial's
convention (the default) the numbers are the tutorial's own variables (``hidden_input``,
``d_output``, ...); ``--convention scratchnn`` shows scratchnn's mean loss and signs instead.
"""

from __future__ import annotations

import argparse

import numpy as np

from .. import datasets, losses, optim, reference
from ..trace import trace_step

#: Problems small enough to print: the tutorial's.
PROBLEMS = ("xor",)


def run(args: argparse.Namespace) -> int:
    if args.data not in PROBLEMS:
        raise ValueError(
            f"explain prints every array of a step, so it takes the tutorial's problem: "
            f"{', '.join(PROBLEMS)}. Received: {args.data!r}."
        )
    X, y = datasets.xor(np.float64)
    setup = reference.tutorial_setup(seed=args.seed, lr=args.lr)
    model = setup.model
    if args.convention == "tutorial":
        loss, optimizer = setup.loss, setup.optimizer  # summed error, SGD(lr = lr/2)
    else:
        loss = losses.MSE()  # the mean over the 4 rows: the same step needs lr · 4/2
        optimizer = optim.SGD(lr=args.lr * len(X) / 2)
    for step in range(1, args.steps + 1):
        trace = trace_step(model, X, y, loss, optimizer, args.convention, apply=True)
        print(f"=== step {step} of {args.steps} ===")
        print(trace.format(precision=args.precision))
        print()
    return 0


def add_parser(sub: argparse._SubParsersAction, positive_int, positive_float) -> None:
    """Register ``scratchnn explain`` on the command line's subparsers."""
    explain = sub.add_parser(
        "explain",
        help="one training step of the tutorial's network, every array printed",
        description="Run training steps of the tutorial's 2-4-1 sigmoid network on XOR "
        "and print every layer's z, a, δ = ∂L/∂z, ∂L/∂W, ∂L/∂b and update, with shapes.",
    )
    explain.add_argument("data", nargs="?", default="xor", choices=PROBLEMS)
    explain.add_argument("--steps", type=positive_int, default=1, help="steps to show (default 1)")
    explain.add_argument(
        "--convention",
        choices=["tutorial", "scratchnn"],
        default="tutorial",
        help="tutorial (default): summed error, δ = (y − output)·σ', the tutorial's variables; "
        "scratchnn: the mean squared error, δ = ∂L/∂z",
    )
    explain.add_argument(
        "--lr",
        type=positive_float,
        default=reference.TUTORIAL_LR,
        help="the tutorial's lr (default 0.1)",
    )
    explain.add_argument("--seed", type=int, default=0, help="initial weights (default 0)")
    explain.add_argument("--precision", type=positive_int, default=4, help="decimals (default 4)")
    explain.set_defaults(handler=run)
