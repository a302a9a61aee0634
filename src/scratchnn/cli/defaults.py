"""Training defaults chosen from the number of training rows, so that a default run takes
enough optimizer steps and stops at its best validation epoch.

The rule (``n`` = training rows after the test part is set aside):

- ``n >= 20,000`` (MNIST-sized): batch 128, 10 epochs, no validation part: many steps per
  epoch already, and the bundled MNIST default keeps its accuracy and time.
- smaller: batch ``2^round(log2(n / 50))`` clipped to 16..128 (at most ``n``); a random
  validation part of 20% (10% from 1,000 rows) for early stopping with the best weights
  restored, patience ``epochs / 10`` clipped to 10..30; and as many epochs as give about
  4,000 steps, clipped to 10..500. Under 25 rows there is no validation part (it would hold
  under 5 rows): the full epochs run.

Every choice is overridden by its option (``--batch-size``, ``--epochs``, ``--val-split``,
``--early-stopping``; ``--early-stopping 0`` turns early stopping off).

For a table file the network and its L2 penalty follow the rows too (:func:`network`,
:func:`auto_l2`): under 50 training rows a 64-32 network, from 50 rows 256-128 with an L2
penalty that fades as ``1 / rows``. The sizes were chosen on the tuning tables of
``benchmarks/bench_tables_heldout.py`` and measured once on its held-out tables
(docs/tables.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LARGE = 20_000
TARGET_STEPS = 4_000
#: Fewer training rows than this get no validation part (it would hold under 5 rows).
MIN_VALIDATION = 25


#: Hidden layer sizes of a table's network by training rows: ``(fewer rows than, sizes)``;
#: the last one for any number of rows (also the default of data that is not a table).
#: Measured on the tuning tables (refit on all training rows, 2 seeds): 64-32 under 1,000
#: rows and 128-64 under 10,000 lost to 256-128 on 9 of 13 tables (Boston R² 0.877 and 0.898
#: against 0.910, glass accuracy 0.709 against 0.744, Cigar R² 0.736 against 0.785); only the
#: 32-row mtcars (R² 0.482 against 0.332) gained from the small network.
NETWORK_SIZES: tuple[tuple[float, tuple[int, ...]], ...] = (
    (50, (64, 32)),
    (math.inf, (256, 128)),
)
#: ``--layers``'s default object: a table file whose ``args.layers`` is this very list got no
#: ``--layers`` and has its sizes from :func:`network`; other data train this network.
DEFAULT_LAYERS = [256, 128]
#: Networks in a table's model by default (``--ensemble``): 1 is one network refit on all
#: training rows; more are averaged (each early-stopped on its own validation part).
ENSEMBLE_MEMBERS = 1
#: The L2 penalty of a table's network: ``min(L2_MAX, L2_PER_ROW / rows)``.
L2_PER_ROW = 1.0
L2_MAX = 0.1


def network(n: int) -> tuple[list[int], str]:
    """The hidden layer sizes for ``n`` training rows of a table, and the rule in words.

    Example:
        >>> network(40)
        ([64, 32], 'under 50 training rows')
        >>> network(400)
        ([256, 128], '50 training rows or more')
    """
    low = 0.0
    for below, sizes in NETWORK_SIZES:
        if n < below:
            if math.isinf(below):
                return list(sizes), f"{low:,.0f} training rows or more"
            words = f"under {below:,.0f}" if low == 0 else f"{low:,.0f} to {below - 1:,.0f}"
            return list(sizes), f"{words} training rows"
        low = below
    return list(NETWORK_SIZES[-1][1]), "any number of rows"


def auto_l2(n: int) -> float:
    """The default L2 weight penalty for ``n`` training rows of a table:
    ``min(L2_MAX, L2_PER_ROW / n)``.

    Small tables need it most; the penalty fades as rows grow, as a prior's weight does
    against the data's.

    Example:
        >>> auto_l2(5), auto_l2(50), auto_l2(400), auto_l2(40_000)
        (0.1, 0.02, 0.0025, 2.5e-05)
    """
    return min(L2_MAX, L2_PER_ROW / max(n, 1))


@dataclass
class Defaults:
    """The settings of one run, and whether each came from the rule or the user."""

    batch_size: int
    epochs: int
    val_split: float
    patience: int | None  # None: no early stopping
    chosen: list[str]  # the settings the rule chose (for the run header)

    def record(self, args: Any, epochs: int, seconds: float) -> dict[str, Any]:
        """The run's training settings as saved in the model's metadata (``info`` shows
        them): the command-line options and what the rule chose."""
        return {
            "layers": args.layers,
            "activation": args.activation,
            "loss": args.loss,
            "optimizer": args.optimizer,
            "lr": args.lr,
            "epochs": epochs,
            "batch_size": self.batch_size,
            "schedule": args.schedule,
            "seed": args.seed,
            "val_split": self.val_split,
            "early_stopping": self.patience,
            "test_split": args.test_split,
            "dropout": args.dropout,
            "batch_norm": args.batch_norm,
            "seconds": round(seconds, 2),
        }

    def describe(self, n: int) -> str:
        """One line for the run header.

        Example:
            >>> choose(1000).describe(1000)  # doctest: +NORMALIZE_WHITESPACE
            'Settings for 1,000 training rows: batch 16, up to 71 epochs, early stopping
            after 10 epochs without improvement on a random 10% validation part (best weights
            restored) [auto: batch size, epochs, validation part, early stopping; override
            with --batch-size, --epochs, --val-split, --early-stopping].'
        """
        text = f"Settings for {n:,} training rows: batch {self.batch_size}, "
        if self.patience:
            text += (
                f"up to {self.epochs} epochs, early stopping after {self.patience} epochs "
                f"without improvement on a random {self.val_split:.0%} validation part (best "
                "weights restored)"
            )
        else:
            text += f"{self.epochs} epochs" + (
                f", a random {self.val_split:.0%} validation part" if self.val_split else ""
            )
        if self.chosen:
            text += (
                f" [auto: {', '.join(self.chosen)}; override with --batch-size, --epochs, "
                "--val-split, --early-stopping]"
            )
        return text + "."


def choose(
    n: int,
    batch_size: int | None = None,
    epochs: int | None = None,
    val_split: float | None = None,
    early_stopping: int | None = None,
) -> Defaults:
    """The settings for ``n`` training rows; given values win over the rule.

    Example:
        >>> d = choose(60_000)
        >>> d.batch_size, d.epochs, d.val_split, d.patience
        (128, 10, 0.0, None)
        >>> d = choose(120)
        >>> d.batch_size, d.epochs, d.val_split, d.patience
        (16, 500, 0.2, 30)
    """
    chosen = []
    if val_split is None:
        chosen.append("validation part")
        val_split = 0.0 if n >= LARGE or n < MIN_VALIDATION else (0.2 if n < 1000 else 0.1)
    fit_rows = max(1, round(n * (1 - val_split)))
    if batch_size is None:
        chosen.append("batch size")
        if n >= LARGE:
            batch_size = 128
        else:
            batch_size = 2 ** round(math.log2(max(n, 1) / 50)) if n > 50 else 16
            batch_size = min(max(batch_size, 16), 128, fit_rows)
    if epochs is None:
        chosen.append("epochs")
        if n >= LARGE:
            epochs = 10
        else:
            steps = math.ceil(fit_rows / batch_size)
            epochs = min(max(math.ceil(TARGET_STEPS / steps), 10), 500)
    if early_stopping is None:
        chosen.append("early stopping")
        patience = min(max(epochs // 10, 10), 30) if val_split > 0 else None
    else:
        patience = early_stopping or None
        if patience and val_split == 0:
            raise ValueError(
                f"--early-stopping {early_stopping} needs a validation part, but there is none "
                f"for {n:,} training rows; pass --val-split (e.g. 0.1) too."
            )
    order = ["batch size", "epochs", "validation part", "early stopping"]
    return Defaults(batch_size, epochs, val_split, patience, [c for c in order if c in chosen])
