"""Training defaults chosen from the number of training rows, so that a default run takes
enough optimizer steps and stops at its best validation epoch.

The rule (``n`` = training rows after the test part is set aside), with a :class:`StepRule`
for arrays (:data:`ARRAYS`) and one for table files (:data:`TABLES`; :data:`TABLE_CLASSES`
for a classifier):

- ``n >= 20,000`` (MNIST-sized): batch 128, 10 epochs, no validation part: many steps per
  epoch already, and the bundled MNIST default keeps its accuracy and time.
- smaller: batch ``2^round(log2(n / rows_per_batch_step))`` clipped to the rule's batch range
  (at most ``n``); a random validation part of 20% (10% from 1,000 rows) for early stopping
  with the best weights restored, patience ``epochs / 10`` clipped to 10..30; and as many
  epochs as give about ``target_steps`` steps, clipped to 10..500. Under 25 rows there is no
  validation part (it would hold under 5 rows): the full epochs run.

Arrays: 4,000 steps in batches of about ``n / 50`` (16..128) at Adam's lr 0.001. Tables:
1,000 steps in batches of about ``n / 25`` (32..512) at lr 0.01: a table's model is an
ensemble of small networks trained side by side, and fewer, larger steps at a larger lr reach
the same scores in a fraction of the time (docs/tables.md); a classifier, whose ensemble is
fitted twice, 250 steps in batches twice as large (about ``n / 12.5``, 64..1024) at lr 0.021:
about as many epochs as 500 steps in TABLES' batches, in half the steps.

A table file's early stopping counts an epoch as an improvement only when the validation
loss falls more than :data:`MIN_IMPROVEMENT` below its last counted best (``--min-delta``): a
fit whose loss creeps down by less stops after its patience instead of running to the last
epoch. The ensemble's members are kept at their lowest loss all the same; a single network
(``--ensemble 1``) and the ``--batch-norm`` ensemble stop with :class:`EarlyStopping`, which
keeps (and refits for) the last counted best, as Keras's does.

Every choice is overridden by its option (``--batch-size``, ``--epochs``, ``--val-split``,
``--early-stopping``, ``--min-delta``, ``--lr``; ``--early-stopping 0`` turns early stopping
off).

For a table file the network and its L2 penalty follow the rows too (:func:`network`,
:func:`auto_l2`): under 20,000 training rows a 64-32 network, from 20,000 rows 128-64, with an
L2 penalty that fades as ``2 / rows`` (``1 / rows`` for a classifier); and the saved model
averages :data:`ENSEMBLE_MEMBERS` such networks, each early-stopped on its own validation
part; a classifier's ensemble is fitted with and without a periodic embedding of the numeric
columns, and the better on validation kept (:data:`NUMERIC_EMBEDDING`). These were chosen on
the tuning tables of ``benchmarks/bench_tables_heldout.py`` and then measured on its
held-out sets (docs/tables.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LARGE = 20_000


@dataclass(frozen=True)
class StepRule:
    """How a run below :data:`LARGE` rows trains: about ``target_steps`` optimizer steps in
    batches of ``2^round(log2(n / rows_per_batch_step))`` clipped to ``batch_range``, at
    learning rate ``lr`` (when ``--lr`` is not given); its early stopping counts an epoch as
    an improvement when the validation loss falls more than ``min_delta`` below its last
    counted best (``--min-delta``)."""

    target_steps: int
    rows_per_batch_step: float
    batch_range: tuple[int, int]
    lr: float
    min_delta: float = 0.0


#: The least fall of a table's validation loss that counts as an improvement for early
#: stopping (``--min-delta``): an absolute 0.001 of the members' data loss, which at the
#: default losses is in fixed units (nats a row for a classifier; for a regression, squared
#: error on the standardized target, where 0.001 is 0.001 of R²), far below the bar's
#: margins. Round 10, for the time bar (3 seeds, cached baselines, one session;
#: docs/tables.md): against 0, the same tables within the margin in all four sets (26 of 26
#: tuning, 67 of 76 held-out), every score within 0.005 of before but cake's (+0.005), and the
#: tables that run to their last epochs while their loss creeps down cut short: Caschool's
#: training 5.0 to 2.3 times HistGradientBoosting's, Star 2.6 to 1.9, EmplUK 2.7 to 2.0, Mroz
#: 4.3 to 3.6. 0.003 cut more (Computers 3.9 to 2.5) but cost the tuning set's Clothing 0.021
#: of R² (+0.022 to +0.001 of the best) and the held-out Labour its place within the margin
#: (-0.029 to -0.031).
MIN_IMPROVEMENT = 1e-3
#: Arrays, image folders and the built-in datasets.
ARRAYS = StepRule(target_steps=4_000, rows_per_batch_step=50, batch_range=(16, 128), lr=1e-3)
#: Table files (a classifier's below LARGE rows: TABLE_CLASSES). Measured on the 15 tuning
#: tables (2 seeds, three 64-32 / 128-64 networks side by side; docs/tables.md): against
#: ARRAYS' rule, the same 13 tables within the bar's margin and the median training time 26x
#: HistGradientBoosting's down to 5x. Then (4 seeds, 64-32 networks for every table): lr 0.01
#: put 14 tables within the margin, against 13 at 0.003, 0.006, 0.008 and 0.015 (0.015 and
#: 0.02 lost Wages).
TABLES = StepRule(
    target_steps=1_000,
    rows_per_batch_step=25,
    batch_range=(32, 512),
    lr=1e-2,
    min_delta=MIN_IMPROVEMENT,
)
#: A classification table's rule below :data:`LARGE` rows (every classifier's, whether it
#: fits its ensemble twice, as :data:`NUMERIC_EMBEDDING`'s auto does with numeric columns, or
#: once). Round 6: half the steps at 1.5 times the learning rate. Measured on the 13
#: classification tables of the tuning set (round 6, 4 seeds, docs/tables.md): against
#: :data:`TABLES`, 11 within the bar's margin as before (glass -0.029 to -0.017, mpg -0.011 to
#: -0.021; titanic, with no numeric column, fits once: 0.796 to 0.795), skulls -0.092 to
#: -0.050, and the training time cut by a third (median 1.4 times HistGradientBoosting's wall
#: time to 0.9), the slowest halved (ModeChoice 4.3 to 2.1, iris 3.2 to 1.4); on the 22
#: held-out ones level
#: (mean change -0.001; Fishing -0.051 to -0.064). On regressions the same rule lost the
#: tuning tables' Wages and Computers (gap -0.019 to -0.035, -0.029 to -0.033) and
#: bench_tables' statecrime (R² 0.41 to 0.27) and macrodata (0.77 to 0.71), so a regression
#: keeps :data:`TABLES`.
#: Round 8: a packed ensemble's epoch steps through all the training rows (each member's own
#: validation rows weighted 0), so its classifier's 500 steps are counted over all of them
#: (``choose(..., epoch_rows=n)``; before, over the rows beside one validation part: 19 steps
#: an epoch counted as 16 for 602 rows, 32 epochs instead of 27). Measured (3-4 seeds): level
#: on the tuning set's 13 classifiers (24 of 26 tables within the margin as before; NaturalPark
#: +0.012, titanic -0.009) and on the held-out sets' (81 of 89 with bench_tables' as before:
#: singer -0.028 to -0.007, Pima.te -0.005 to -0.020, Fishing -0.072 to -0.081), Mroz's training
#: 3.4 to 2.9 times HistGradientBoosting's. Regressions counted the same way lost Crime (R²
#: -0.045 to -0.099 of the best), MCAS (-0.041 to -0.075) and Labour (-0.030 to -0.040), so a
#: regression's steps are still counted beside its validation part.
#: Round 9, for the time bar: batches twice as large (``n / 12.5``, at least 64) and half the
#: steps, so about as many epochs as before, at √2 times the learning rate (0.015 to 0.021); a step
#: of these small networks costs about 1.3 times a step of half the batch (Mroz's embedded fit, 3 x
#: 114-64-32-2: 0.44-0.55 ms at batch 32, 0.56-0.74 at 64). Measured (3 seeds, one session, cached
#: baselines): on the tuning set's 13 classifiers 13 within the margin (12 before; mpg -0.021 to
#: -0.014), mean gap +0.012 to +0.016 (26 of 26 tables with the regressions, 25 before); the same
#: batches at lr 0.015 lost skulls (-0.011 to -0.078) and NaturalPark (+0.011 to -0.054). Then on
#: bench_tables' 6 classifiers (6 within as before; titanic +0.000 to +0.020) and the held-out
#: sets' (80 of 89 tables with bench_tables', 81 before: singer -0.007 to -0.035 and Catsup -0.013
#: to -0.021 out, Pima.te -0.020 to +0.015 in; on 5 splits of each table 67 of the 76 held-out
#: tables against 65), Mroz's training 6.0 to 3.7-5.2 times HistGradientBoosting's, ohio 3.3 to
#: 1.8-2.2, titanic 3.3 to 1.2-1.4. 300 steps in batches of the old size (fewer epochs) at lr 0.015
#: did as well on the held-out classifiers but less on the tuning ones (mean gap +0.012), and its
#: regression part (600 steps) lost Somerville and MCAS beyond the margin. Doubling a regression's
#: batch lost Wages (R² -0.010 to -0.044 at lr 0.02, -0.041 at 0.014), so TABLES is as it was. (The
#: classifiers measured have at most 4,956 rows, batches of at most 256; 1,024 keeps the batch
#: twice TABLES' up to LARGE rows.)
TABLE_CLASSES = StepRule(
    target_steps=250,
    rows_per_batch_step=12.5,
    batch_range=(64, 1024),
    lr=2.1e-2,
    min_delta=MIN_IMPROVEMENT,
)
#: Fewer training rows than this get no validation part (it would hold under 5 rows).
MIN_VALIDATION = 25


#: Hidden layer sizes of a table's network by training rows: ``(fewer rows than, sizes)``;
#: the last one for any number of rows.
#: Measured on the 15 tuning tables (4 seeds; docs/tables.md): one 256-128 network refit on all
#: rows (L2 1/n) was within the bar's margin of the better scikit-learn model on 12 tables
#: (mean gap -0.013); three averaged 256-128 networks on 13 (+0.012) at 1.5 times the time;
#: three averaged 128-64 networks with L2 4/n on 13 (+0.017) at the time of the single
#: 256-128 one, so that is the default.
#: Then with :data:`TABLES`' shorter rule (2 seeds): 64-32 for all rows lost Wages (R² 0.52
#: against HistGradientBoosting's 0.56, 0.57 with 128-64) and was no better below 1,000 rows,
#: where it is half the time. Measured again with one BLAS thread (4 seeds, the 7 tuning
#: tables from 1,000 rows): 64-32 at lr 0.01 kept them within the margin as 128-64 at 0.003
#: did (Wages R² 0.551 against 0.555, Computers 0.897 against 0.897) in about half the time
#: (Computers' whole command 6.6 times HistGradientBoosting's wall time, now 3.5), so 64-32
#: trains every table below :data:`LARGE` rows; the large regime (one network, 10 epochs)
#: keeps 128-64.
NETWORK_SIZES: tuple[tuple[float, tuple[int, ...]], ...] = (
    (LARGE, (64, 32)),
    (math.inf, (128, 64)),
)
#: ``--layers``'s default object: a table file whose ``args.layers`` is this very list got no
#: ``--layers`` and has its sizes from :func:`network`; other data (MNIST, arrays) train this
#: network.
DEFAULT_LAYERS = [256, 128]
#: Networks in a table's model by default (``--ensemble``): 1 is one network refit on all
#: training rows; more are averaged (each early-stopped on its own validation part).
ENSEMBLE_MEMBERS = 3
#: The L2 penalty of a table's network: ``min(L2_MAX, L2_PER_ROW / rows)``, with
#: :data:`L2_PER_ROW_CLASSES` for a classifier. On the tuning tables (4 seeds, 128-64) 4 / rows
#: against 1 / rows: Doctor R² -0.03 against -0.19 and airquality 0.61 against 0.55, glass
#: accuracy 0.70 against 0.79 (docs/tables.md). With 64-32 networks at lr 0.01 (4 seeds, the
#: five classification tables), 1 / rows against 4 / rows: iris 0.967 against 0.950, titanic
#: 0.796 against 0.788, glass 0.738 against 0.709, Mode 0.665 against 0.684, Car 0.398
#: against 0.400; 0.25 / rows was level with 1 / rows. Round 6 (4 seeds, the ten regression
#: tables): 2 / rows kept all ten within the margin as 4 / rows did (Boston +0.014 to +0.030,
#: airquality +0.036 to +0.021, mtcars +0.077 to +0.057) and brought bench_tables' macrodata
#: (203 quarters, whose 4 / rows left the training R² at 0.87) from R² 0.767 to 0.862.
L2_PER_ROW = 2.0
L2_PER_ROW_CLASSES = 1.0
L2_MAX = 0.1
#: How a table's numeric columns are scaled by default (``--numeric-scaling``):
#: ``"standard"`` (mean and standard deviation) or ``"robust"`` (median and interquartile
#: range, then RealMLP's smooth clip; :class:`~scratchnn.tables.TableEncoder`). Measured on
#: the tuning tables in docs/tables.md.
NUMERIC_SCALING = "standard"
#: Whether a table's encoder adds a 0/1 ``a==b`` feature for each pair of numeric columns
#: often equal beyond chance (``--equal-columns``; :mod:`scratchnn.tables.equal_columns`):
#: ``"auto"`` or ``"off"``. Issue 28's eleventh round (3 seeds; docs/tables.md): Fishing's
#: accuracy 0.911 to 0.999 (HistGradientBoosting 0.994), the fresh fourth held-out set's burn
#: +0.000 to +0.151 and bmt -0.025 to -0.012; on the tuning set no table crossed the margin.
EQUAL_COLUMNS = "auto"
#: Early stopping's patience by default: a tenth of the epochs, clipped to this range.
PATIENCE_RANGE = (10, 30)
#: Whether a table's network embeds its numeric columns first (``--numeric-embedding``), by
#: task: ``"none"``, ``"periodic"`` (:class:`~scratchnn.layers.PeriodicEmbedding`, one per
#: ensemble member, :data:`EMBEDDING_FREQUENCIES` frequencies per column,
#: ``--embedding-frequencies``, drawn from ``N(0, EMBEDDING_SIGMA²)``, ``--embedding-sigma``,
#: the numbers passed on beside them) or ``"auto"``: the packed ensemble is fitted with the
#: embedding and without it, on the same validation parts, and the fit with the lower summed
#: validation loss of its members is kept (the embedded fit stops early once it has trailed
#: the plain one for the patience). Measured on the tuning tables in docs/tables.md (round 5,
#: 4 seeds): the embedding alone (σ = 1) brought glass from -0.070 to -0.017 of the better
#: baseline, Cracker from -0.059 to -0.006 and ModeChoice from -0.049 to +0.012, but cost mpg
#: 0.059, survey 0.053 and skulls 0.075 of the six classification tables added to the tuning
#: set this round; "auto" keeps the gains and not the losses. σ = 0.5 (glass -0.064), σ = 2
#: (glass -0.052, Mode -0.025) and 4 or 16 frequencies were no better. On the regression
#: tables the embedding overfits (σ = 1: Clothing R² -0.183, Males -0.051) and the plain
#: network is within the margin on all ten, so regression keeps none (and fits once).
NUMERIC_EMBEDDING = {"classification": "auto", "regression": "none"}
#: ``--numeric-embedding piecewise`` (:class:`~scratchnn.layers.PiecewiseLinearEncoding`, on
#: request only) cuts each numeric column into this many bins (``--embedding-bins``). Measured
#: on the tuning tables in docs/tables.md (round 7, 4 seeds): as every table's default it
#: lifted the regressions (mean gap +0.015 to +0.047) at 1.4 times their training time, and
#: cost the classifiers their choice tables (within the margin 11 to 8 of 13); 4 and 16 bins
#: were no better. Its width, bins x numeric columns, has no cap: with many numeric columns
#: the first layer's product grows with it.
EMBEDDING_BINS = 8
EMBEDDING_FREQUENCIES = 8
EMBEDDING_SIGMA = 1.0
EMBEDDING_KEEP_INPUTS = True
#: The most embedded features by default (``2 · frequencies · numeric columns``): fewer than
#: EMBEDDING_FREQUENCIES frequencies (at least one) where a table has more than 6 numeric
#: columns, since the first layer's product over them is most of the embedded fit's time.
#: Round 7 (the tuning set's classifiers, docs/tables.md): 96 against 160 moved only the
#: tables with more than 6 numeric columns, for about two thirds of their embedded fits'
#: time: Cracker -0.011 to -0.006 of the better baseline, UnempDur +0.004 to +0.001, and
#: glass (9 columns: 5 frequencies, not 8), whose draws swing it by up to 0.1 a split, the
#: same on 16 seeds (0.754 both; -0.017 to +0.000 on 4 seeds; 64 and 128 gave -0.047, -0.041).
EMBEDDING_WIDTH = 96


def table_rule(classification: bool, n: int) -> StepRule:
    """The step rule of a table file of ``n`` training rows: :data:`TABLE_CLASSES` for a
    classifier below :data:`LARGE` rows, else :data:`TABLES` (from LARGE rows only the
    learning rate is the rule's, and it was measured at TABLES')."""
    return TABLE_CLASSES if classification and n < LARGE else TABLES


def network(n: int) -> tuple[list[int], str]:
    """The hidden layer sizes for ``n`` training rows of a table, and the rule in words.

    Example:
        >>> network(4000)
        ([64, 32], 'under 20,000 training rows')
        >>> network(50_000)
        ([128, 64], '20,000 training rows or more')
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


def auto_l2(n: int, classification: bool = False) -> float:
    """The default L2 weight penalty for ``n`` training rows of a table:
    ``min(L2_MAX, L2_PER_ROW / n)``, or :data:`L2_PER_ROW_CLASSES` over ``n`` for a
    classifier.

    Small tables need it most; the penalty fades as rows grow, as a prior's weight does
    against the data's.

    Example:
        >>> auto_l2(5), auto_l2(50), auto_l2(400), auto_l2(40_000)
        (0.1, 0.04, 0.005, 5e-05)
        >>> auto_l2(400, classification=True)
        0.0025
    """
    return min(L2_MAX, l2_per_row(classification) / max(n, 1))


def l2_per_row(classification: bool) -> float:
    """The numerator of :func:`auto_l2`'s ``per_row / n``: :data:`L2_PER_ROW_CLASSES` for a
    classifier, :data:`L2_PER_ROW` for a regression."""
    return L2_PER_ROW_CLASSES if classification else L2_PER_ROW


@dataclass
class Defaults:
    """The settings of one run, and whether each came from the rule or the user."""

    batch_size: int
    epochs: int
    val_split: float
    patience: int | None  # None: no early stopping
    chosen: list[str]  # the settings the rule chose (for the run header)
    lr: float = ARRAYS.lr
    min_delta: float = 0.0  # the least fall of the validation loss that counts

    def record(self, args: Any, epochs: int, seconds: float) -> dict[str, Any]:
        """The run's training settings as saved in the model's metadata (``info`` shows
        them): the command-line options and what the rule chose."""
        return {
            "layers": args.layers,
            "activation": args.activation,
            "loss": args.loss,
            "optimizer": args.optimizer,
            "lr": self.lr,
            "epochs": epochs,
            "batch_size": self.batch_size,
            "schedule": args.schedule,
            "seed": args.seed,
            "val_split": self.val_split,
            "early_stopping": self.patience,
            "min_delta": self.min_delta,
            "test_split": args.test_split,
            "dropout": args.dropout,
            "batch_norm": args.batch_norm,
            "seconds": round(seconds, 4),
        }

    def describe(self, n: int) -> str:
        """One line for the run header.

        Example:
            >>> choose(1000).describe(1000)  # doctest: +NORMALIZE_WHITESPACE
            'Settings for 1,000 training rows: batch 16, lr 0.001, up to 71 epochs, early
            stopping after 10 epochs without an improvement on a random 10% validation part
            (best weights restored) [auto: batch size, learning rate, epochs, validation
            part, early stopping; override with --batch-size, --lr, --epochs, --val-split,
            --early-stopping].'
            >>> choose(1000, rule=TABLES).describe(1000)  # doctest: +NORMALIZE_WHITESPACE
            'Settings for 1,000 training rows: batch 32, lr 0.01, up to 35 epochs, early
            stopping after 10 epochs without an improvement of 0.001 on a random 10%
            validation part (best weights restored) [auto: batch size, learning rate,
            epochs, validation part, early stopping, least improvement; override with
            --batch-size, --lr, --epochs, --val-split, --early-stopping, --min-delta].'
        """
        text = f"Settings for {n:,} training rows: batch {self.batch_size}, lr {self.lr:g}, "
        if self.patience:
            by = f" of {self.min_delta:g}" if self.min_delta else ""
            text += (
                f"up to {self.epochs} epochs, early stopping after {self.patience} epochs "
                f"without an improvement{by} on a random {self.val_split:.0%} validation part "
                "(best weights restored)"
            )
        else:
            text += f"{self.epochs} epochs" + (
                f", a random {self.val_split:.0%} validation part" if self.val_split else ""
            )
        if self.chosen:
            text += (
                f" [auto: {', '.join(self.chosen)}; override with --batch-size, --lr, "
                "--epochs, --val-split, --early-stopping"
                + (", --min-delta]" if "least improvement" in self.chosen else "]")
            )
        return text + "."


def choose(
    n: int,
    batch_size: int | None = None,
    epochs: int | None = None,
    val_split: float | None = None,
    early_stopping: int | None = None,
    rule: StepRule = ARRAYS,
    lr: float | None = None,
    epoch_rows: int | None = None,
    min_delta: float | None = None,
) -> Defaults:
    """The settings for ``n`` training rows by ``rule`` (:data:`ARRAYS`, :data:`TABLES` or
    :data:`TABLE_CLASSES`, :func:`table_rule`); given values win over the rule (None: the
    rule's, also for ``min_delta``, early stopping's least improvement). The rule's steps are
    counted over ``epoch_rows`` rows an epoch (None: the rows left beside the validation part;
    a packed ensemble's epoch steps through all ``n``, each member's own validation rows
    weighted 0 in its loss).

    Example:
        >>> d = choose(60_000)
        >>> d.batch_size, d.epochs, d.val_split, d.patience
        (128, 10, 0.0, None)
        >>> d = choose(120)
        >>> d.batch_size, d.epochs, d.val_split, d.patience
        (16, 500, 0.2, 30)
        >>> d = choose(5000, rule=TABLES)
        >>> d.batch_size, d.epochs, d.val_split, d.patience, d.min_delta
        (256, 56, 0.1, 10, 0.001)
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
            low, high = rule.batch_range
            batch_size = 2 ** round(math.log2(max(n / rule.rows_per_batch_step, 1)))
            batch_size = min(max(batch_size, low), high, fit_rows)
    if epochs is None:
        chosen.append("epochs")
        if n >= LARGE:
            epochs = 10
        else:
            steps = math.ceil((fit_rows if epoch_rows is None else epoch_rows) / batch_size)
            epochs = min(max(math.ceil(rule.target_steps / steps), 10), 500)
    if early_stopping is None:
        chosen.append("early stopping")
        low, high = PATIENCE_RANGE
        patience = min(max(epochs // 10, low), high) if val_split > 0 else None
    else:
        patience = early_stopping or None
        if patience and val_split == 0:
            raise ValueError(
                f"--early-stopping {early_stopping} needs a validation part, but there is none "
                f"for {n:,} training rows; pass --val-split (e.g. 0.1) too."
            )
    if lr is None:
        chosen.append("learning rate")
        lr = rule.lr
    if min_delta is None:
        min_delta = rule.min_delta if patience else 0.0
        if min_delta:
            chosen.append("least improvement")
    elif min_delta and not patience:
        raise ValueError(
            f"--min-delta {min_delta:g} needs early stopping, but there is none for {n:,} "
            "training rows"
            + (" (--early-stopping 0)" if early_stopping == 0 else "")
            + "; pass --early-stopping N"
            + (" and --val-split (e.g. 0.1)" if val_split == 0 else "")
            + ", or leave --min-delta out."
        )
    order = ["batch size", "learning rate", "epochs", "validation part", "early stopping",
             "least improvement"]  # fmt: skip
    chosen = [c for c in order if c in chosen]
    return Defaults(batch_size, epochs, val_split, patience, chosen, lr, min_delta)
