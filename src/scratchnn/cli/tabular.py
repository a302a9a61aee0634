"""``train``/``evaluate``/``predict`` on a raw table file: the roles of its columns, a fitted
:class:`~scratchnn.tables.TableEncoder` (and :class:`~scratchnn.tables.TargetScaler` for
regression) saved inside the model, data-aware training defaults, and evaluation that keeps
held-out rows apart from training rows.
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import __version__, callbacks, diagnostics, losses, sharded
from ..datasets.tabular import encode_target
from ..history import still_improving
from ..io import dumps, load
from ..layers import Average, Chain, Dense, PeriodicEmbedding, PiecewiseLinearEncoding
from ..layers.packed import PackedDense, unpacked
from ..metrics import mae, r2
from ..model import Sequential
from ..tables import (
    MISSING_TOKENS,
    RawTable,
    TableEncoder,
    TargetScaler,
    detect_task,
    infer_roles,
    present_rows,
    read_table,
    row_fingerprints,
)
from ..tables.reading import held_out_mask, is_number
from ..tables.target import MAX_AUTO_CLASSES, count_target
from ..tables.values import infinite_of, numbers_of, text_of
from . import data as data_module
from . import forked
from .build import build_model, make_early_stopping, make_optimizer, make_schedule, verbosity
from .data import Dataset
from .defaults import (
    DEFAULT_LAYERS,
    EMBEDDING_BINS,
    EMBEDDING_FREQUENCIES,
    EMBEDDING_KEEP_INPUTS,
    EMBEDDING_SIGMA,
    EMBEDDING_WIDTH,
    ENSEMBLE_MEMBERS,
    EQUAL_COLUMNS,
    L2_MAX,
    NUMERIC_EMBEDDING,
    NUMERIC_SCALING,
    auto_l2,
    choose,
    l2_per_row,
    network,
    table_rule,
)
from .tasks import Task, make_task, task_of


def _split_option(text: str | None) -> list[str]:
    return [] if not text else [part.strip() for part in text.split(",") if part.strip()]


def tokens_of(args: argparse.Namespace) -> list[str]:
    """The missing-value tokens: ``--missing`` (comma-separated) or the defaults."""
    given = getattr(args, "missing", None)
    return list(MISSING_TOKENS) if given is None else [t.strip() for t in given.split(",")]


def read(
    path: str,
    args: argparse.Namespace,
    options: dict[str, Any] | None = None,
    tokens: Sequence[str] | None = None,
    fingerprints: bool = False,
) -> RawTable:
    """Read DATA with the reading options (``--delimiter``, ``--encoding``, ``--no-header``);
    ``options`` are those the model was trained with, used where the command line gives none;
    ``tokens`` the missing-value tokens (a trained encoder's; default: :func:`tokens_of`);
    ``fingerprints``: hash the rows as written too (for the held-out bookkeeping)."""
    options = options or {}
    tokens = tokens_of(args) if tokens is None else list(tokens)
    delimiter = getattr(args, "delimiter", None) or options.get("delimiter")
    no_header = getattr(args, "no_header", False) or options.get("no_header", False)
    encoding = getattr(args, "encoding", None) or options.get("encoding")
    decimal = getattr(args, "decimal", None) or options.get("decimal")
    raw = read_table(
        path,
        delimiter,
        encoding,
        header=False if no_header else None,
        decimal=decimal,
        missing_tokens=tokens,
        fingerprints=fingerprints,
    )
    if raw.decimal_commas:
        names = raw.decimal_commas
        example = next(
            cell
            for cell in raw.columns[names[0]].tolist()
            if "," in cell and is_number(cell.replace(".", "").replace(",", "."))
        )
        raise ValueError(
            f"{raw.source}: the column{'s' * (len(names) > 1)} {_listed(names[:8])}"
            f"{', ...' if len(names) > 8 else ''} hold{'s' * (len(names) == 1)} numbers written "
            f"with a decimal comma (e.g. {example!r}); pass --decimal , to read them as numbers "
            "(or --decimal . to keep them as text)."
        )
    return raw


def reading_options(args: argparse.Namespace) -> dict[str, Any]:
    """How DATA was read, saved in the model so that ``predict`` reads its files alike."""
    return {
        "delimiter": getattr(args, "delimiter", None),
        "encoding": getattr(args, "encoding", None),
        "no_header": bool(getattr(args, "no_header", False)),
        "decimal": getattr(args, "decimal", None),
    }


def _warn(args: argparse.Namespace, text: str) -> None:
    print(
        f"scratchnn {getattr(args, 'command', None) or 'train'}: warning: {text}", file=sys.stderr
    )


def _target_values(raw: RawTable, target: str | None) -> np.ndarray:
    names = list(raw.columns)
    if target is None:
        raise ValueError(
            f"Name the target column of {raw.source} with --target. Columns: {_listed(names)}."
        )
    if target not in raw.columns:
        hint = ""
        if len(names) == 1:
            hint = " (one column only: is the delimiter right? pass --delimiter)"
        raise ValueError(f"{raw.source} has no column {target!r}. Columns: {_listed(names)}{hint}.")
    return raw.columns[target]


def _drop_missing_target(
    raw: RawTable, target: str, tokens: list[str], fingerprints: np.ndarray
) -> tuple[RawTable, np.ndarray]:
    keep = present_rows(raw.columns[target], tokens)
    if not keep.any():
        raise ValueError(f"Every value of the target {target!r} in {raw.source} is missing.")
    if not keep.all():
        print(f"Dropped {int((~keep).sum()):,} rows whose target {target!r} is missing.")
        raw = raw.take(keep)
        fingerprints = fingerprints[keep]
    return raw, fingerprints


def _numeric_target(raw: RawTable, target: str, tokens: list[str]) -> np.ndarray:
    values = raw.columns[target]
    numbers, missing = numbers_of(values, tokens)
    if numbers is None:
        text, _ = text_of(values, tokens)
        bad = next(t for t in text.tolist() if not is_number(t) and t not in tokens)
        raise ValueError(
            f"A regression target must be numeric, but {target!r} holds {bad!r}. "
            "Use --task classification, or fix the column."
        )
    infinite = infinite_of(values, tokens, missing)
    if infinite.any():
        first = int(np.flatnonzero(infinite)[0])
        raise ValueError(
            f"The target {target!r} holds {int(infinite.sum()):,} infinite number(s) (the first: "
            f"{str(values[first])!r} on {_where(raw, first)}); a target must be finite."
        )
    with np.errstate(over="ignore", invalid="ignore"):
        spread = float(np.std(numbers)), float(np.mean(numbers))
    if not all(math.isfinite(v) for v in spread):
        raise ValueError(
            f"The target {target!r} is too large to train on: values up to "
            f"{np.max(np.abs(numbers)):.3g}, whose squares (for its scale, the squared error "
            "and R²) overflow float64. Divide the column by a power of ten first."
        )
    return numbers


def _where(raw: RawTable, row: int) -> str:
    return f"line {raw.lines[row]}" if raw.lines is not None else f"row {row + 1}"


#: Training needs this many rows with a target at least (one to train on and one to test, or
#: two for a feature that is not constant).
MIN_TRAINING_ROWS = 2


def _check_rows(raw: RawTable, present: np.ndarray) -> None:
    """Refuse a table with fewer than :data:`MIN_TRAINING_ROWS` rows with a target
    (``present``: the mask of those rows), saying how many there are."""
    n, dropped = int(present.sum()), int((~present).sum())
    if n < MIN_TRAINING_ROWS:
        after = f" once the {dropped:,} without a target are dropped" if dropped else ""
        raise ValueError(
            f"{raw.source} has {n} data row{'s' * (n != 1)}{after}; training needs at least "
            f"{MIN_TRAINING_ROWS} (one to train on and one to test, and a column of one row is "
            "constant)."
        )


def _warn_if_identifier(args: argparse.Namespace, target: str, classes: list[Any], n: int) -> None:
    """A classification target with a distinct label in most rows is more likely an
    identifier (or a number to regress on) than a set of classes: say so before training."""
    if n >= 10 and len(classes) > max(MAX_AUTO_CLASSES, n // 2):
        _warn(
            args,
            f"the target {target!r} has {len(classes):,} distinct labels in {n:,} rows, a "
            "different one in most rows: it looks like an identifier, not classes. Check "
            "--target (or use --task regression for numbers).",
        )


def _listed(names: list[str]) -> str:
    """Column names for a message: plain, or quoted where empty or spaced."""
    return ", ".join(n if n and n.strip() == n else repr(n) for n in names)


def _check_columns(raw: RawTable, encoder: TableEncoder) -> None:
    absent = [name for name in encoder.input_columns if name not in raw.columns]
    if absent:
        raise ValueError(
            f"{raw.source} lacks the column(s) {', '.join(map(repr, absent))} that the model "
            f"was trained with. Columns: {_listed(list(raw.columns))}."
        )


def _permutation_split(
    n: int, fraction: float, rng: np.random.Generator, option: str = "--test-split"
) -> tuple:
    order = rng.permutation(n)
    n_out = round(n * fraction) if fraction > 0 else 0
    if fraction > 0:
        n_out = max(1, n_out)
    if n_out >= n:
        raise ValueError(
            f"{option} {fraction} of {n} rows sets {n_out} aside and leaves no row to train on "
            f"(at least 1 is needed): choose a smaller {option}."
        )
    return np.sort(order[n_out:]), np.sort(order[:n_out])


class _Progress(callbacks.Callback):
    """One line every tenth of the epochs (long default runs on small tables)."""

    def __init__(self, epochs: int) -> None:
        self.every = max(1, math.ceil(epochs / 10))
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs):
        done = epoch + 1
        if done % self.every == 0 or done == self.epochs:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in logs.items() if k != "lr")
            print(f"epoch {done}/{self.epochs}: {shown}", flush=True)


def scores(
    model: Sequential,
    task: Task,
    X: np.ndarray,
    y: np.ndarray,
    scaler: TargetScaler | None,
) -> dict[str, float]:
    """Loss and accuracy, or loss, R² and MAE in the target's units. The loss is the data's
    own (``model.evaluate``'s less the weights' L2 penalty, which says nothing about the fit
    and grows with an ensemble's members)."""
    penalty = model.penalty()
    if task.classes is not None:
        result = model.evaluate(X, task.encode(y), metrics=["accuracy"])
        return {**result, "loss": result["loss"] - penalty}
    target = y if scaler is None else scaler.transform(y)
    result = model.evaluate(X, task.encode(target))
    result["loss"] -= penalty
    predicted = model.predict(X).astype(np.float64)
    if scaler is not None:
        predicted = scaler.inverse_transform(predicted)
    truth = y.reshape(len(y), -1)
    return {"loss": result["loss"], "r2": r2(predicted, truth), "mae": mae(predicted, truth)}


class Labelled(NamedTuple):
    """A raw table with its column roles and its encoded target, rows with a missing target
    dropped."""

    raw: RawTable
    roles: Any
    y: np.ndarray
    classes: list[Any] | None
    fingerprints: np.ndarray
    tokens: list[str]


def read_labelled(args: argparse.Namespace) -> Labelled:
    """Read ``args.data``, infer the column roles, detect the task and encode the target
    (``--target``, ``--task``, ``--drop``, ``--features``, ``--categorical``, ``--missing`` where
    the command has them), printing what was decided."""
    tokens = tokens_of(args)
    raw = read(args.data, args, fingerprints=True)
    for notice in raw.notices:
        print(notice)
    _target_values(raw, args.target)
    target = args.target
    _check_rows(raw, present_rows(raw.columns[target], tokens))
    # roles first, on every row in file order (a row counter is one only there)
    roles = infer_roles(
        raw.columns,
        target=target,
        drop=_split_option(getattr(args, "drop", None)),
        features=_split_option(getattr(args, "features", None)) or None,
        categorical=_split_option(getattr(args, "categorical", None)),
        missing_tokens=tokens,
    )
    raw, fingerprints = _drop_missing_target(raw, target, tokens, row_fingerprints(raw))
    task_option = getattr(args, "task", "auto")
    if task_option == "auto":
        kind, why = detect_task(raw.columns[target], tokens)
        other = "regression" if kind == "classification" else "classification"
        print(f"Task: {kind} ({target!r}: {why}); override with --task {other}.")
    else:
        kind = task_option
        print(f"Task: {kind} (--task).")
    for line in roles.describe():
        print(line)
    if kind == "classification":
        text, _ = text_of(raw.columns[target], tokens)
        y, classes = encode_target(text.astype(object), "classification", column=repr(target))
        if len(classes) < 2:
            raise ValueError(
                f"The target {target!r} holds one class only ({str(classes[0])!r}, in all "
                f"{len(y):,} rows with a target); a classifier needs at least two."
            )
        _warn_if_identifier(args, target, classes, len(y))
    else:
        y, classes = _numeric_target(raw, target, tokens), None
    return Labelled(raw, roles, y, classes, fingerprints, tokens)


def numeric_scaling(args: argparse.Namespace) -> tuple[str, str]:
    """How the numeric columns are scaled (``--numeric-scaling``, else
    :data:`~scratchnn.cli.defaults.NUMERIC_SCALING`) and the header's line about it."""
    given = getattr(args, "numeric_scaling", None)
    scaling = given or NUMERIC_SCALING
    why = "--numeric-scaling" if given else "default; --numeric-scaling"
    other = "standard" if scaling == "robust" else "robust"
    if scaling == "robust":
        words = (
            "(x - median) / IQR of the training rows, then smoothly clipped into (-3, 3) by "
            "z / sqrt(1 + (z/3)^2)"
        )
    else:
        words = "(x - mean) / std of the training rows"
    return scaling, f"Numeric columns: {scaling} scaling, {words} ({why} {other})."


def equal_columns(args: argparse.Namespace) -> bool:
    """Whether the encoder looks for equal numeric columns (``--equal-columns``, else
    :data:`~scratchnn.cli.defaults.EQUAL_COLUMNS`)."""
    return (getattr(args, "equal_columns", None) or EQUAL_COLUMNS) == "auto"


def equal_columns_line(args: argparse.Namespace, encoder: TableEncoder) -> str | None:
    """The header's line about the equal-column features: which pairs were found, how
    often they are equal and how far beyond chance (None when none were looked for or found
    and the option was not given)."""
    given = getattr(args, "equal_columns", None) is not None
    if not equal_columns(args):
        return "Equal columns: not looked for (--equal-columns off)." if given else None
    pairs = encoder.equalities
    why = "--equal-columns" if given else "auto; --equal-columns off"
    if encoder.equalities_skipped:
        return f"Equal columns: not looked for, {encoder.equalities_skipped} ({why})."
    if not pairs:
        if not given or not encoder.roles.numeric:
            return None
        return f"Equal columns: no two numeric columns are often equal ({why})."
    shown = ", ".join(
        f"{p.first} = {p.second} in {p.share:.0%}"
        + (" of the rows" if k == 0 else "")
        + f" ({p.times_chance:.0f}x{' chance' * (k == 0)})"
        for k, p in enumerate(pairs[:4])
    )
    more = f", and {len(pairs) - 4} more" if len(pairs) > 4 else ""
    count = f"{len(pairs)} pair{'s' * (len(pairs) > 1)}"
    return f"Equal columns ({count}, a 0/1 feature a==b each): {shown}{more} ({why})."


def numeric_embedding(
    args: argparse.Namespace, numeric: int, classification: bool, packed: bool = True
) -> tuple[str, str]:
    """Whether the network embeds the ``numeric`` columns first (``--numeric-embedding``,
    else :data:`~scratchnn.cli.defaults.NUMERIC_EMBEDDING` for the task; "none" without
    numeric columns): "none", "periodic", "piecewise", or "auto" (the packed ensemble fitted
    with and without the periodic embedding, the better kept; "none" where the ensemble is not
    ``packed``, with a line that says so); and the header's line about it (empty for a default
    "none")."""
    given = getattr(args, "numeric_embedding", None)
    kind = "classification" if classification else "regression"
    choice = (given or NUMERIC_EMBEDDING[kind]) if numeric else "none"
    why = "--numeric-embedding" if given else f"default for {kind}; --numeric-embedding"
    if choice == "auto" and not packed:
        return "none", (
            f"Numeric embedding: none (auto compares the two only in a packed ensemble; {why})."
        )
    if given and given != "none" and not numeric:
        return "none", (
            f"Numeric embedding: none: the table has no numeric columns to embed "
            f"(--numeric-embedding {given})."
        )
    if choice == "none":
        return choice, "" if not given else "Numeric embedding: none (--numeric-embedding)."
    beside = " beside the numbers themselves" if EMBEDDING_KEEP_INPUTS else ""
    if choice == "piecewise":
        bins = _embedding_bins(args)
        return choice, (
            f"Numeric embedding: piecewise-linear, {bins} bin{'s' if bins > 1 else ''} per "
            "numeric column between the quantiles of its training values, how far x has come "
            f"through each (0 to 1){beside}, into the first Dense layer ({why})."
        )
    k, sigma = _embedding_settings(args, numeric)
    what = (
        f"periodic, {k} learned frequenc{'y' if k == 1 else 'ies'} c ~ N(0, {sigma:g}²) per "
        "numeric column, "
        f"[sin 2πcx, cos 2πcx]{beside}"
    )
    if choice == "auto":
        return choice, (
            f"Numeric embedding: auto: the ensemble is fitted twice, with a {what} and without "
            "one, on the same validation parts; the fit with the lower validation loss is kept "
            f"({why} none|periodic|piecewise)."
        )
    return choice, f"Numeric embedding: {what} into the first Dense layer ({why})."


def table_network(
    data: Dataset, task: Task, layers: list[int], args: argparse.Namespace, seed: int,
    numeric: int, members: int = 1, embedding: str | None = None,
) -> Sequential:  # fmt: skip
    """:func:`~scratchnn.cli.build.build_model`'s network for a table's encoded columns, with
    a :class:`~scratchnn.layers.PeriodicEmbedding` of its first ``numeric`` columns (the
    encoder's numeric ones) in front where ``embedding`` (None: :func:`numeric_embedding`'s
    choice; "auto" builds none) is "periodic", a
    :class:`~scratchnn.layers.PiecewiseLinearEncoding` adapted to the training rows where it
    is "piecewise"; ``members`` such networks packed side by side for more than 1 (a periodic
    embedding each; the piecewise encoding, which learns nothing, shared)."""
    if embedding is None:
        embedding = numeric_embedding(args, numeric, task.classes is not None, members > 1)[0]
    front = None
    if embedding == "periodic" and numeric:
        front = _periodic_front(args, data.n_features, numeric)
    elif embedding == "piecewise" and numeric:
        front = _piecewise_front(args, data.n_features, numeric)
        front.adapt(data.X_train)
    return build_model(
        data, task, layers, args.activation, args.dropout, args.batch_norm, False, seed,
        front=front, members=members,
    )  # fmt: skip


def _periodic_front(args: argparse.Namespace, features: int, numeric: int) -> PeriodicEmbedding:
    """The (unbuilt) PeriodicEmbedding of the first ``numeric`` of ``features`` encoded
    columns, with the options' or the defaults' settings."""
    k, sigma = _embedding_settings(args, numeric)
    return PeriodicEmbedding(features, numeric, k, sigma, EMBEDDING_KEEP_INPUTS)


def _piecewise_front(
    args: argparse.Namespace, features: int, numeric: int
) -> PiecewiseLinearEncoding:
    """The (unbuilt, unadapted) PiecewiseLinearEncoding of the first ``numeric`` of
    ``features`` encoded columns, with the option's or the default's bins."""
    return PiecewiseLinearEncoding(features, numeric, _embedding_bins(args), EMBEDDING_KEEP_INPUTS)


def _warn_unused_embedding_options(args: argparse.Namespace, embedding: str, numeric: int) -> None:
    """A warning for each embedding option given that this run's embedding does not read
    (none where the table has no ``numeric`` columns: the header says so)."""
    if not numeric:
        return
    readers = {  # option: the embedding it sets, and the choices that build that one
        "embedding_frequencies": ("periodic", ("periodic", "auto")),
        "embedding_sigma": ("periodic", ("periodic", "auto")),
        "embedding_bins": ("piecewise", ("piecewise",)),
    }
    for option, (kind, choices) in readers.items():
        if getattr(args, option, None) is not None and embedding not in choices:
            _warn(
                args,
                f"--{option.replace('_', '-')} is ignored: it sets the {kind} embedding, and "
                f"this run's numeric embedding is {embedding}; add --numeric-embedding {kind} "
                "to use it.",
            )


def _embedding_bins(args: argparse.Namespace) -> int:
    """The piecewise-linear encoding's bins per numeric column: the option's, else the
    default's."""
    return getattr(args, "embedding_bins", None) or EMBEDDING_BINS


def _embedding_settings(args: argparse.Namespace, numeric: int) -> tuple[int, float]:
    """The periodic embedding's frequencies per column and their initial spread: the
    options, else the defaults (at most ``EMBEDDING_WIDTH / (2 · numeric)`` frequencies, at
    least one, so that many numeric columns do not multiply the first layer's cost)."""
    k = getattr(args, "embedding_frequencies", None) or max(
        1, min(EMBEDDING_FREQUENCIES, EMBEDDING_WIDTH // (2 * max(numeric, 1)))
    )
    sigma = getattr(args, "embedding_sigma", None) or EMBEDDING_SIGMA
    return k, sigma


def table_dataset(args: argparse.Namespace, seed: int) -> Dataset:
    """A raw table as numeric training and test arrays, for ``compare`` and ``search``: the
    roles, task and target as ``train`` decides them, a ``--test-split`` part set aside at
    random (``seed``), and the columns encoded by a :class:`TableEncoder` fitted on the
    training rows only."""
    raw, roles, y, classes, fingerprints, tokens = read_labelled(args)
    rng = np.random.default_rng(seed)
    train_rows, test_rows = _permutation_split(raw.n_rows, args.test_split, rng)
    encoder = TableEncoder(
        missing_tokens=tokens,
        scaling=numeric_scaling(args)[0],
        equal_columns=equal_columns(args),
    ).fit(raw.take(train_rows), roles)
    for notice in encoder.notices:
        print(notice)
    X_train = encoded(encoder, raw.take(train_rows), training=True)
    X_test = encoded(encoder, raw.take(test_rows), training=True) if len(test_rows) else X_train
    y_train = y[train_rows]
    y_test = y[test_rows] if len(test_rows) else y_train
    scaler = None
    if classes is None:  # a regression target in its own units (prices, counts) is scaled
        scaler = TargetScaler().fit(y_train)
        y_train, y_test = scaler.transform(y_train)[:, 0], scaler.transform(y_test)[:, 0]
        print(
            f"The target is standardized (mean {scaler.mean_[0]:.4g}, std "
            f"{scaler.scale_[0]:.4g} on the training rows): MSE is in units of its variance, "
            "1 being as good as predicting the mean."
        )
    extra = {
        "encoder": encoder,
        "target_scaler": scaler,
        "held_out": np.sort(fingerprints[test_rows]),  # with repeats: multiplicity counts
        "reading": reading_options(args),
    }
    return Dataset(
        raw.source, X_train, y_train, X_test, y_test, encoder.feature_names_out(), args.target,
        classes, extra=extra,
    )  # fmt: skip


def attach_encoder(model: Sequential, data: Dataset) -> None:
    """Give a model trained on :func:`table_dataset`'s arrays the table's encoder (and a
    regression target's scaler), so that ``scratchnn predict`` and ``evaluate`` take the raw
    file and answer in the target's units (as for a model of ``train``),
    and the fingerprints of the held-out rows, so that ``evaluate`` on the same file scores
    them apart from the rows trained on."""
    encoder = data.extra.get("encoder")
    if encoder is None:
        return
    model.preprocessor = encoder
    model.target_transform = data.extra["target_scaler"]  # predictions in the target's units
    model.metadata["feature_names"] = encoder.input_columns
    model.metadata["reading"] = data.extra.get("reading") or reading_options(argparse.Namespace())
    held = data.extra["held_out"].astype("<u8").tobytes()
    model.metadata["held_out_rows"] = base64.b64encode(held).decode("ascii")


def load_for_trials(args: argparse.Namespace, seed: int) -> Dataset:
    """DATA for ``compare`` and ``search``: a table file through :func:`table_dataset` (as
    ``train`` reads it: text columns, missing values), anything else as ``train`` loads it."""
    if data_module.is_table_file(args.data):
        return table_dataset(args, seed)
    return data_module.load(args.data, args.target, args.test_split, seed)


class _DataLoss(callbacks.Callback):
    """Adds ``data_loss`` and ``val_data_loss`` to each epoch's logs (in ``on_epoch_logs``,
    so the History and every ``on_epoch_end`` see them) and keeps them: ``loss`` and
    ``val_loss`` less the weights' L2 penalty at the epoch's end. With the penalty in it, a
    small table's validation loss keeps falling only because the weights shrink: the
    not-converged check reads the data's loss instead. It reads ``val_loss`` from the logs,
    so a callback that writes it (EarlyStoppingEachMember) comes before it."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {"loss": [], "val_loss": []}
        self.interrupted = False

    def on_train_begin(self, logs):
        self.history = {"loss": [], "val_loss": []}  # this fit's alone

    def provided_logs(self) -> set[str]:
        return {"data_loss", "val_data_loss"}

    def on_epoch_logs(self, epoch, logs):
        penalty = self.model.penalty()
        for key in ("loss", "val_loss"):
            if key in logs:
                value = logs[key] - penalty
                logs[key.replace("loss", "data_loss")] = value
                self.history[key].append(value)

    def __len__(self) -> int:
        return len(self.history["loss"])

    def __contains__(self, key: str) -> bool:
        return bool(self.history.get(key))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]


#: Whether a count target trains on log(1 + y) by default. Measured on the two count tables of
#: the tuning set (refit, 2 seeds): log1p R² -0.022 and 0.067, the plain standardized target
#: -0.057 and 0.115 (scikit-learn's best: 0.034 and 0.121): R² scores the mean, which log1p
#: predicts too low; so counts train as a plain regression, and --target-transform log1p
#: asks for the transform.
LOG1P_COUNTS = False


class _Trailing(callbacks.Callback):
    """Stops a fit whose best validation data loss so far has been above another fit's best
    at the same epoch (``reference``, that fit's ``val_data_loss`` by epoch: a list, or a
    :class:`~scratchnn.cli.forked.Incoming` whose values arrive as that fit runs in the
    other process) for ``patience`` epochs in a row: under ``--numeric-embedding auto``, the
    embedded fit that trails the plain one that long is not going to be kept, and need not
    run to its end."""

    def __init__(self, reference: Sequence[float] | forked.Incoming, patience: int) -> None:
        self.reference = reference
        self.patience = patience

    def on_train_begin(self, logs):
        self.best, self.behind, self.stopped_epoch = math.inf, 0, None

    def on_epoch_end(self, epoch, logs):
        self.best = min(self.best, logs["val_data_loss"])
        known = self.reference
        if isinstance(known, forked.Incoming):  # waits for the other fit's epoch if need be
            known = known.upto(epoch)
        theirs = float(np.min(known[: epoch + 1]))  # (past their last epoch: their best)
        self.behind = self.behind + 1 if self.best > theirs else 0
        if self.behind >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True


class _Send(callbacks.Callback):
    """Sends each epoch's ``val_data_loss`` to the embedded fit in the second process (the
    reference of its :class:`_Trailing`); ``fit`` calls ``on_epoch_end`` after each epoch it
    adds to the history, so the child receives the history's values, in order."""

    def __init__(self, child: forked.Child) -> None:
        self.child = child

    def on_epoch_end(self, epoch, logs):
        self.child.send(logs["val_data_loss"])


class _MemberBests(NamedTuple):
    """What the run reads of an :class:`~scratchnn.callbacks.EarlyStoppingEachMember` (the
    members' best validation losses and epochs), for a fit that ran in the second process."""

    best: list[float]
    best_epochs: list[int | None]


def _fit_both(
    fit: Any, data_loss: _DataLoss, patience: int, task: Task, second_process: bool
) -> tuple[dict[str, tuple[Any, ...]], dict[str, dict], int | None, str | None]:
    """``--numeric-embedding auto``'s two fits of the packed ensemble, ``fit("none", ...)``
    and ``fit("periodic", ...)`` (``fit(kind, extra_callbacks)``): one after the other, or
    with ``second_process`` at once, the embedded one in a forked child
    (:mod:`scratchnn.cli.forked`) that is told the plain fit's validation loss as it goes, for
    its :class:`_Trailing`. Either way each fit is the same, and so is the output: the
    child's is printed after the plain fit's.

    Returns:
        ``{kind: (model, history, member bests)}``, ``{kind: its data losses}``, the epoch at
        which the embedded fit stopped for trailing (or None), and whether Ctrl-C came
        ``"before"`` or ``"during"`` the embedded fit (None: it did not).
    """
    fits: dict[str, tuple[Any, ...]] = {}
    losses_by_fit: dict[str, dict] = {}
    child = None
    if second_process:

        def embedded(incoming: forked.Incoming, folder: Any) -> dict[str, Any]:
            trailing = _Trailing(incoming, patience)
            model, history, stopper = fit("periodic", [trailing], lines=True)
            if history.interrupted:  # (it ignores Ctrl-C: stopped by a signal of its own)
                raise RuntimeError("the fit was interrupted in the second process")
            # (with its history; a scratch file the parent reads at once: not fsynced, as save does)
            (folder / "model.npz").write_bytes(dumps(model, include_optimizer=False))
            plan = history.threads
            return {
                "diverged": history.diverged, "threads": [plan.threads, plan.reason, plan.asked],
                "best": list(stopper.best), "best_epochs": list(stopper.best_epochs),
                "data_losses": data_loss.history, "stopped_epoch": trailing.stopped_epoch,
            }  # fmt: skip

        try:
            child = forked.Child(embedded)
        except OSError as error:  # no second process to be had: one fit after the other
            print(f"(No second process: {error}. The two fits run one after the other.)")
    try:
        print("Fitting the ensemble without the periodic embedding:")
        sender = [_Send(child)] if child is not None else []
        fits["none"] = fit("none", sender)
        losses_by_fit["none"] = data_loss.history
        if fits["none"][1].interrupted:
            return fits, losses_by_fit, None, "before"  # (the child is stopped below)
        print("Fitting the ensemble with the periodic embedding:")
        if child is not None:
            child.done_sending()
            try:
                done = child.result()
            except KeyboardInterrupt:
                return fits, losses_by_fit, None, "during"
            except forked.ChildError as failed:
                print(f"(The second process did not finish this fit: {failed}. Fitting it here.)")
            else:
                sys.stdout.write(done["stdout"])
                sys.stderr.write(done["stderr"])
                result = done["result"]
                model = load(child.folder / "model.npz")  # its history and epochs too
                model.loss = task.loss
                history = model.history
                history.diverged = result["diverged"]
                history.threads = sharded.Plan(*result["threads"])
                fits["periodic"] = (
                    model,
                    history,
                    _MemberBests(result["best"], result["best_epochs"]),
                )
                losses_by_fit["periodic"] = result["data_losses"]
                return fits, losses_by_fit, result["stopped_epoch"], None
        trailing = _Trailing(fits["none"][1]["val_data_loss"], patience)
        fits["periodic"] = fit("periodic", [trailing])
        losses_by_fit["periodic"] = data_loss.history
        interrupted = "during" if fits["periodic"][1].interrupted else None
        return fits, losses_by_fit, trailing.stopped_epoch, interrupted
    finally:
        if child is not None:
            child.stop()


def _second_process(
    args: argparse.Namespace, embedded_model: Any, batch_size: int
) -> tuple[bool, str]:
    """Whether auto's embedded fit runs in a second process (``--jobs``), and the header's
    line about it ("" for none); ``embedded_model()`` builds that fit's model.

    ``--jobs 2`` runs it there wherever :func:`forked.unavailable` allows and each fit's steps
    use one core (one BLAS thread, no sharded steps); by default, only where the BLAS library
    has no worker threads either (:func:`_blas_without_workers`, as the benchmarks set):
    OpenBLAS starts its workers again in both processes after a fork, and they spin for a
    while, which on the 2-core machine of docs/tables.md took most of what the second process
    saves (Mroz 0.34 s to 0.33, against 0.25 without them)."""
    jobs = getattr(args, "jobs", None)
    if jobs == 1:
        return False, ""
    why = forked.unavailable()
    if not why and not _one_blas_thread():
        why = "the BLAS library's products use several threads"
    if not why and jobs is None and not _blas_without_workers():
        return False, (
            "Jobs: one fit after the other (OPENBLAS_NUM_THREADS=1 lets the two run at once on "
            "two cores: with the BLAS library's worker threads they gain nothing)."
        )
    shards = getattr(args, "threads", None)
    if not why and sharded.plan(embedded_model(), batch_size, shards).threads > 1:
        why = "each step is shared among threads (--threads)"
    if why:
        return False, f"Jobs: one fit after the other ({why}; --jobs 2)." if jobs == 2 else ""
    return True, (
        "Jobs: the fit with the embedding runs in a second process beside the one without "
        f"({'--jobs 2' if jobs else 'auto: two cores, one BLAS thread each'}; --jobs 1: one "
        "after the other)."
    )


def _blas_without_workers() -> bool:
    """Whether the environment started the BLAS library on one thread
    (``OPENBLAS_NUM_THREADS`` or ``OMP_NUM_THREADS`` is 1), so that it has no worker threads
    to start again in a forked process."""
    if os.environ.get("OPENBLAS_NUM_THREADS"):  # (OpenBLAS reads its own variable first)
        return os.environ["OPENBLAS_NUM_THREADS"] == "1"
    return os.environ.get("OMP_NUM_THREADS") == "1"


def _one_blas_thread() -> bool:
    """Whether NumPy's BLAS runs on one thread now (threadpoolctl's answer; without it, only
    where the environment started it on one)."""
    if _blas_without_workers():
        return True
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return False
    blas = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return bool(blas) and all(pool.get("num_threads") == 1 for pool in blas)


def _set_l2(model: Sequential, l2: float) -> None:
    for layer in model.layers:
        if isinstance(layer, (Dense, PackedDense)):
            layer.l2 = l2


def _target_transform(
    args: argparse.Namespace, y: np.ndarray, classes: list[Any] | None
) -> tuple[bool, str]:
    """Whether a regression target trains on ``log(1 + y)`` (``--target-transform``; auto: a
    count target, decided on every row's target), and the words for the header."""
    option = getattr(args, "target_transform", "auto")
    if classes is not None or option == "none":
        return False, ""
    if option == "log1p":
        if (y < 0).any():
            raise ValueError(
                f"--target-transform log1p needs a target >= 0, but {args.target!r} holds "
                f"{y.min():.4g}."
            )
        return True, " as log(1 + y) (--target-transform log1p)"
    reason = count_target(y)
    if reason is None or not LOG1P_COUNTS:
        return False, ""
    return True, f" as log(1 + y) (auto: {reason}; --target-transform none)"


#: A training step whose largest matrix product has fewer multiply-adds than this runs on one
#: BLAS thread: for matrices this small a second thread only spin-waits, and on a busy 2-core
#: machine it made the same small-table run take 2-42 s instead of 0.4-2.0 s (issue 28).
ONE_THREAD_WORK = 4_000_000


def blas_threads(batch_size: int, widths: list[int]) -> tuple[Any, str]:
    """A factory of contexts for the training's BLAS threads (call it for each ``with``) and
    the header's line about it: one thread
    when the step's largest product (``batch_size`` rows through the widest pair of ``widths``)
    is under :data:`ONE_THREAD_WORK` multiply-adds, unless ``OPENBLAS_NUM_THREADS`` or
    ``OMP_NUM_THREADS`` is set (the user's choice) or ``threadpoolctl`` is not installed."""
    import contextlib
    import itertools
    import os

    work = batch_size * max((a * b for a, b in itertools.pairwise(widths)), default=0)
    if work >= ONE_THREAD_WORK:
        return contextlib.nullcontext, ""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name):
            return contextlib.nullcontext, f"BLAS threads: {name}={os.environ[name]} (yours)."
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext, (
            "BLAS threads: the library's default (pip install threadpoolctl lets small "
            "networks train on one thread, which is faster on a busy machine)."
        )
    return lambda: threadpool_limits(limits=1, user_api="blas"), (
        f"BLAS threads: 1 (auto: a step's largest matrix product is {work:,} multiply-adds, "
        "too small to share; set OPENBLAS_NUM_THREADS to choose)."
    )


#: Whether a count target trains with the Poisson loss (on log-rates) by default.
POISSON_COUNTS = False


def _loss_choice(
    args: argparse.Namespace, y: np.ndarray, classes: list[Any] | None, log1p: bool
) -> tuple[str, str]:
    """The loss name for :func:`make_task` (``--loss``; auto: cross-entropy for classes, the
    Poisson loss for a count target where :data:`POISSON_COUNTS`, else mse) and the header's
    words for a Poisson choice (empty otherwise)."""
    option = getattr(args, "loss", "auto")
    if option == "poisson" and classes is None:
        if (y < 0).any():
            raise ValueError(
                f"--loss poisson needs counts (a target >= 0), but {args.target!r} holds "
                f"{y.min():.4g}; use --loss mse."
            )
        if not (y > 0).any():
            raise ValueError(f"--loss poisson needs counts that are not all 0 in {args.target!r}.")
        if log1p:
            raise ValueError(
                "--loss poisson models the counts themselves: drop --target-transform log1p."
            )
        return "poisson", "Loss: Poisson on log-rates (--loss poisson)."
    if option != "auto" or classes is not None or log1p or not POISSON_COUNTS:
        return option, ""
    reason = count_target(y)
    if reason is None:
        return option, ""
    return "poisson", (
        f"Loss: Poisson on log-rates, predictions the expected count (auto: {reason}; "
        "--loss mse for the squared error)."
    )


def _test_file(
    args: argparse.Namespace, path: str, target: str, classes: list[Any] | None,
    tokens: list[str],
) -> tuple[RawTable, np.ndarray]:  # fmt: skip
    """``--test FILE``: its rows with a target, and the target encoded as DATA's was."""
    test_raw = read(path, args, fingerprints=True)
    _target_values(test_raw, target)
    test_raw, _ = _drop_missing_target(
        test_raw, target, tokens, np.zeros(test_raw.n_rows, np.uint64)
    )
    if classes is not None:
        text, _ = text_of(test_raw.columns[target], tokens)
        y, _ = encode_target(text.astype(object), classes=classes, column=repr(target))
    else:
        y = _numeric_target(test_raw, target, tokens)
    return test_raw, y


def _refit(
    args: argparse.Namespace, raw: RawTable, roles: Any, tokens: list[str], y: np.ndarray,
    rows: np.ndarray, classes: list[Any] | None, task: Task, layers: list[int], l2: float,
    log1p: bool, settings: Any, epochs: int, poisson: bool = False,
    equalities: Sequence[Any] = (),
) -> tuple[TableEncoder, TargetScaler | None, Sequential, Any]:  # fmt: skip
    """The encoder, target scaler, model and history of a fresh fit on all training ``rows``
    for ``epochs`` epochs (the count early stopping chose), with no validation part. The
    encoder keeps the ``equalities`` the header showed (found on the fitting rows)."""
    encoder = TableEncoder(
        missing_tokens=tokens,
        missing_indicator=args.missing_indicator,
        max_categories=args.max_categories,
        scaling=numeric_scaling(args)[0],
        equal_columns=list(equalities),
    ).fit(raw.take(rows), roles)
    X = encoded(encoder, raw.take(rows), training=True)
    scaler = TargetScaler(log1p, poisson).fit(y[rows]) if classes is None else None
    target = y[rows] if scaler is None else scaler.transform(y[rows])
    data = Dataset(raw.source, X, y[rows], X, y[rows], encoder.feature_names_out(), args.target)
    model = table_network(data, task, layers, args, args.seed, len(encoder.roles.numeric))
    _set_l2(model, l2)
    history = model.fit(
        X,
        task.encode(target),
        loss=task.loss,
        optimizer=make_optimizer(args.optimizer, settings.lr),
        schedule=make_schedule(args.schedule, epochs, "loss"),
        epochs=epochs,
        batch_size=settings.batch_size,
        verbose=0,
        threads=getattr(args, "threads", None),
    )
    return encoder, scaler, model, history


def _ensemble(
    args: argparse.Namespace, raw: RawTable, encoder: TableEncoder, y: np.ndarray,
    rows: np.ndarray, task: Task, layers: list[int], l2: float, settings: Any,
    scaler: TargetScaler | None, first: Sequential, members: int, threads: Any,
) -> Sequential:  # fmt: skip
    """``first`` and ``members - 1`` more networks (seeds ``args.seed + i``), each trained on
    its own random split of the training ``rows`` with early stopping on the rest, averaged
    in one model (``Average`` of their ``Chain``s)."""
    X_all = encoded(encoder, raw.take(rows), training=True)
    target = task.encode(y[rows] if scaler is None else scaler.transform(y[rows]))
    nets = [first]
    for i in range(1, members):
        split = np.random.default_rng([args.seed, i])
        fit, val = _permutation_split(len(rows), settings.val_split, split, "--val-split")
        data = Dataset(raw.source, X_all[fit], y[rows][fit], X_all[val], y[rows][val],
                       encoder.feature_names_out(), args.target)  # fmt: skip
        net = table_network(data, task, layers, args, args.seed + i, len(encoder.roles.numeric))
        _set_l2(net, l2)
        with threads():
            net.fit(
                X_all[fit],
                target[fit],
                loss=task.loss,
                optimizer=make_optimizer(args.optimizer, settings.lr),
                schedule=make_schedule(args.schedule, settings.epochs, "val_loss"),
                epochs=settings.epochs,
                batch_size=settings.batch_size,
                validation_data=(X_all[val], target[val]),
                callbacks=[make_early_stopping(settings)],
                verbose=0,
                threads=getattr(args, "threads", None),
            )
        nets.append(net)
    model = Sequential(
        [Average([Chain(net.layers) for net in nets])], seed=args.seed, dtype=first.dtype
    )
    model.loss = first.loss
    model.history, model.epochs_trained = first.history, first.epochs_trained
    return model


def member_weights(n: int, members: int, val_split: float, seed: int) -> np.ndarray:
    """``(n, members)``: 1 where member ``k`` trains on a row, 0 where the row is in its own
    random ``val_split`` validation part (drawn from the seed ``[seed, k]``)."""
    weights = np.ones((n, members))
    for k in range(members):
        _, val = _permutation_split(n, val_split, np.random.default_rng([seed, k]), "--val-split")
        weights[val, k] = 0.0
    return weights


def _packed_ensemble(
    args: argparse.Namespace, data: Dataset, target: np.ndarray, task: Task, layers: list[int],
    l2: float, settings: Any, members: int, fit_callbacks: list[callbacks.Callback],
    verbose: int, numeric: int, embedding: str,
) -> tuple[Sequential, Any, callbacks.EarlyStoppingEachMember]:  # fmt: skip
    """``members`` networks trained side by side in one packed model (``layers.packed``) on
    all of ``data``'s training rows, each early-stopped on its own random validation part
    (:func:`member_weights`) and kept at its best epoch; returned as the ordinary ensemble
    model ``Average([Chain(...), ...])``, with the packed fit's history and its stopper.
    ``embedding`` ("none", "periodic" or "piecewise") and ``numeric``, the count of numeric
    columns, say whether the members embed them (a periodic embedding each, or one shared
    piecewise-linear encoding)."""
    model = table_network(data, task, layers, args, args.seed, numeric, members, embedding)
    _set_l2(model, l2)
    weights = member_weights(len(target), members, settings.val_split, args.seed)
    held = (weights == 0).any(axis=1)  # the rows some member holds out
    prepared = task.loss.prepare_targets(target[held], task.n_outputs, model.dtype)
    stopper = callbacks.EarlyStoppingEachMember(
        data.X_train[held].astype(model.dtype), prepared, 1 - weights[held],
        losses.get({"class_name": type(task.loss).__name__, "config": task.loss.get_config()}),
        settings.patience, settings.min_delta,
    )  # fmt: skip
    print(model.summary())
    history = model.fit(
        data.X_train,
        target,
        sample_weight=weights,
        loss=losses.EachMember(task.loss, members),
        optimizer=make_optimizer(args.optimizer, settings.lr),
        schedule=make_schedule(args.schedule, settings.epochs, "val_loss"),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        callbacks=[stopper, *fit_callbacks],  # (the stopper writes the val_loss _DataLoss reads)
        verbose=verbose,
        threads=getattr(args, "threads", None),
    )
    ensemble = Sequential(unpacked(model.layers), seed=args.seed, dtype=model.dtype)
    ensemble.loss = task.loss
    ensemble.history, ensemble.epochs_trained = history, model.epochs_trained
    return ensemble, history, stopper


def train_table(args: argparse.Namespace, metrics_table) -> tuple[Sequential, Any]:
    """``scratchnn train FILE --target COL`` on a raw table: the trained model (with its
    encoder, target scaler and metadata attached) and its history."""
    raw, roles, y, classes, fingerprints, tokens = read_labelled(args)
    target = args.target
    rng = np.random.default_rng(args.seed)
    test_file = getattr(args, "test", None)
    test_raw = None
    if test_file is not None:  # the user's own split: every row of DATA trains
        test_raw, y_test_file = _test_file(args, test_file, target, classes, tokens)
        train_rows, test_rows = np.arange(raw.n_rows), np.arange(0)
    else:
        train_rows, test_rows = _permutation_split(raw.n_rows, args.test_split, rng)

    def settings_for(epoch_rows: int | None = None) -> Any:
        return choose(
            len(train_rows), args.batch_size, args.epochs, args.val_split, args.early_stopping,
            rule=table_rule(classes is not None, len(train_rows)), lr=args.lr,
            epoch_rows=epoch_rows, min_delta=getattr(args, "min_delta", None),
        )  # fmt: skip

    settings = settings_for()
    fit_rows, val_rows = train_rows, train_rows[:0]
    if settings.val_split > 0:
        inner_fit, inner_val = _permutation_split(
            len(train_rows), settings.val_split, rng, "--val-split"
        )
        fit_rows, val_rows = train_rows[inner_fit], train_rows[inner_val]
    members = getattr(args, "ensemble", None) or ENSEMBLE_MEMBERS
    if settings.patience is None:  # members need early stopping on their own validation part
        if (getattr(args, "ensemble", None) or 1) > 1:
            print(
                f"--ensemble {args.ensemble}: one network instead, as there is no early stopping "
                f"for {len(train_rows):,} training rows (pass --val-split and --early-stopping "
                "for an ensemble)."
            )
        members = 1
    # an ensemble's members share one encoder (and target scaler), fitted on all training rows
    encoder_rows = train_rows if members > 1 else fit_rows
    encoder = TableEncoder(
        missing_tokens=tokens,
        missing_indicator=args.missing_indicator,
        max_categories=args.max_categories,
        scaling=numeric_scaling(args)[0],
        equal_columns=equal_columns(args),
    ).fit(raw.take(encoder_rows), roles)
    for notice in encoder.notices:
        print(notice)
    X_fit = encoded(encoder, raw.take(fit_rows), training=True)
    X_val = encoded(encoder, raw.take(val_rows), training=True) if len(val_rows) else None
    X_test = encoded(encoder, raw.take(test_rows), training=True) if len(test_rows) else X_fit
    y_fit, y_val = y[fit_rows], y[val_rows]
    y_test = y[test_rows] if len(test_rows) else y_fit
    if test_raw is not None:
        _check_columns(test_raw, encoder)
        X_test, y_test = encoded(encoder, test_raw, training=True), y_test_file
    log1p, log_why = _target_transform(args, y, classes)
    loss_name, loss_why = _loss_choice(args, y, classes, log1p)
    poisson = loss_name == "poisson"
    scaler = TargetScaler(log1p, poisson).fit(y[encoder_rows]) if classes is None else None
    task = make_task(loss_name, None if classes is None else len(classes))
    layers, layers_why = list(args.layers), "--layers"
    if args.layers is DEFAULT_LAYERS:  # no --layers: the network follows the rows
        layers, rule = network(len(train_rows))
        layers_why = f"auto: {rule}; --layers"
    refit = getattr(args, "refit", True) and settings.patience is not None and members == 1
    # side by side in one packed model where the network allows it (not BatchNorm): a step
    # for all members costs about what one member's step did
    packed = members > 1 and not args.batch_norm
    if packed and classes is not None:
        # a classifier's rule counts the packed ensemble's steps, through all training rows
        # (TABLE_CLASSES); a regression's keeps TABLES' count, which it was measured with
        settings = settings_for(epoch_rows=len(train_rows))

    def prepared(values: np.ndarray) -> np.ndarray:
        return task.encode(values if scaler is None else scaler.transform(values))

    data = Dataset(raw.source, X_fit, y_fit, X_test, y_test, encoder.feature_names_out(), target)
    model = table_network(data, task, layers, args, args.seed, len(encoder.roles.numeric))
    l2 = getattr(args, "l2", None)
    if l2 is None:
        l2 = auto_l2(len(train_rows), classification=classes is not None)
    _set_l2(model, l2)
    monitor = "val_loss" if X_val is not None else "loss"
    # The data's own loss (the L2 penalty taken off) is kept for the not-converged check. One
    # network's early stopping still watches val_loss with the penalty: on the tuning tables of
    # bench_tables_heldout.py, stopping it on the data's validation loss stopped small tables
    # too early, in round 1 (mtcars R² -2.09 against 0.48, airquality 0.21 against 0.55) and
    # again with round 3's rule (11 tables within the margin against 13; Clothing -0.07, Boston
    # -0.05). The packed ensemble's members stop on the data's loss (EarlyStoppingEachMember).
    data_loss = _DataLoss()
    fit_callbacks: list[callbacks.Callback] = [data_loss]
    if settings.patience:
        fit_callbacks.append(make_early_stopping(settings))
    verbose = verbosity(args.quiet)
    if verbose:  # dead ReLUs and saturated units named as training goes
        fit_callbacks.append(diagnostics.Diagnose(report=lambda text: print(f"Diagnosis: {text}")))
    if verbose and settings.epochs > 30:
        fit_callbacks.append(_Progress(settings.epochs))
        verbose = 0
    kind_text = f"{len(classes)} classes" if classes is not None else "regression"
    width = f"{encoder.n_features_out} features"
    if encoder.n_features_out != len(roles.features):
        width = f"{len(roles.features)} columns -> {width}"
    if test_raw is not None:
        testing = f"testing on the {len(X_test):,} rows of {test_raw.source} (--test)"
    elif len(test_rows):
        testing = f"testing on {len(test_rows):,} samples"  # held out at random (--test-split)
    else:
        testing = "no test part (--test-split 0): the test scores below are training scores"
    print(
        f"Training on {raw.source}: {len(train_rows):,} samples, {width}, {kind_text}; {testing}."
    )
    print(settings.describe(len(train_rows)))
    print(f"Network: {'-'.join(map(str, layers)) or 'no hidden layer'} ({layers_why}).")
    how = "--l2"
    if getattr(args, "l2", None) is None:
        per_row, kind = (
            l2_per_row(classes is not None),
            "regression" if classes is None else "classes",
        )
        how = f"auto: min({L2_MAX:g}, {per_row:g} / rows) for {kind}; --l2"
    print(f"L2 weight penalty {l2:g} on every Dense layer ({how}).")
    if roles.numeric:
        print(numeric_scaling(args)[1])
    if line := equal_columns_line(args, encoder):
        print(line)
    embedding, embedding_why = numeric_embedding(
        args, len(roles.numeric), classes is not None, packed
    )
    if embedding_why:
        print(embedding_why)
    _warn_unused_embedding_options(args, embedding, len(roles.numeric))
    if members > 1 and packed:
        print(
            f"Ensemble: {members} networks trained side by side (one packed model), each "
            f"early-stopped on its own random {settings.val_split:.0%} validation part of the "
            f"{len(train_rows):,} training rows and kept at its best epoch, their outputs "
            "averaged in one model (--ensemble 1: one network, refit on all rows)."
        )
    elif members > 1:
        print(
            f"Ensemble: {members} networks (seeds {args.seed}..{args.seed + members - 1}), each "
            f"early-stopped on its own random {settings.val_split:.0%} validation part of the "
            f"{len(train_rows):,} training rows, their outputs averaged in one model "
            "(--ensemble 1: one network, refit on all rows)."
        )
    elif refit:
        print(
            f"Refit: once early stopping has chosen the epochs on the {len(val_rows):,} "
            f"validation rows, the saved model is trained again on all {len(train_rows):,} "
            "training rows for that many epochs (--no-refit saves the model of the "
            f"{len(fit_rows):,} fit rows)."
        )
    elif len(val_rows):
        print(
            f"The saved model is trained on {len(fit_rows):,} rows; {len(val_rows):,} are its "
            "validation part (no refit: --no-refit or no early stopping)."
        )
    if loss_why:
        print(loss_why)
    if scaler is not None and poisson:
        print(
            f"The counts are divided by their training mean ({scaler.scale_[0]:.4g}) inside the "
            "model; predictions come back in its units."
        )
    elif scaler is not None:
        print(
            f"The target is standardized inside the model{log_why} (mean "
            f"{scaler.mean_[0]:.4g}, std {scaler.scale_[0]:.4g}); predictions come back in "
            "its units."
        )
    width = encoder.n_features_out
    if embedding != "none":  # an embedding widens the first product (auto's periodic fit too)
        front = _piecewise_front if embedding == "piecewise" else _periodic_front
        width = front(args, width, len(encoder.roles.numeric)).out_features
    threads, threads_why = blas_threads(settings.batch_size, [width, *layers, task.n_outputs])
    if threads_why:
        print(threads_why)
    second_process = False
    if packed and embedding == "auto":

        def periodic() -> Sequential:  # (built only to ask whether its steps are sharded)
            numeric = len(encoder.roles.numeric)
            return table_network(data, task, layers, args, args.seed, numeric, members, "periodic")

        with threads():
            second_process, jobs_why = _second_process(args, periodic, settings.batch_size)
        if jobs_why:
            print(jobs_why)
    elif getattr(args, "jobs", None) == 2:
        print("Jobs: one fit (--jobs 2 runs --numeric-embedding auto's two fits at once).")
    start = time.perf_counter()
    compared = None  # each kind's validation loss, where auto compares them
    if packed:
        X_fit, y_fit = encoded(encoder, raw.take(train_rows), training=True), y[train_rows]
        if not len(test_rows) and test_raw is None:
            X_test, y_test = X_fit, y_fit
        data = Dataset(raw.source, X_fit, y_fit, X_test, y_test, encoder.feature_names_out(),
                       target)  # fmt: skip
        kept = [c for c in fit_callbacks if not isinstance(c, callbacks.EarlyStopping)]

        def fit(kind: str, extra: list[callbacks.Callback], lines: bool = False) -> tuple[Any, ...]:
            # lines: one line per epoch for a progress bar (the second process's output is
            # printed after it ends, where a bar would show nothing live)
            shown = 2 if lines and verbose == 1 else verbose
            with threads():
                return _packed_ensemble(
                    args, data, prepared(y_fit), task, layers, l2, settings, members,
                    [*kept, *extra], shown, len(encoder.roles.numeric), kind,
                )  # fmt: skip

        if embedding == "auto":
            with threads():  # (the child inherits the BLAS threads)
                fits, losses_by_fit, stopped_epoch, interrupted = _fit_both(
                    fit, data_loss, settings.patience, task, second_process
                )
        else:
            fits = {embedding: fit(embedding, [])}
            losses_by_fit = {embedding: data_loss.history}
        if embedding == "auto" and interrupted:
            # the plain fit, whole or as far as it went; the run counts as interrupted
            embedding, compared = "none", None
            fits["none"][1].interrupted = True
            print(f"Numeric embedding kept: none (interrupted {interrupted} the embedded fit).")
        elif embedding == "auto":  # the same validation parts: the sums compare
            compared = {kind: float(np.sum(fit[2].best)) for kind, fit in fits.items()}
            embedding = min(compared, key=compared.__getitem__)
            cut = ""
            if stopped_epoch is not None:
                cut = (
                    f"; the embedded fit stopped at epoch {stopped_epoch + 1}, "
                    f"{settings.patience} epochs behind"
                )
            print(
                f"Numeric embedding kept: {embedding} (the members' validation loss "
                f"{compared['periodic']:.4g} with the embedding, {compared['none']:.4g} "
                f"without{cut})."
            )
        model, history, member_stop = fits[embedding]
        data_loss.history = losses_by_fit[embedding]  # the kept fit's, for the check below
    else:
        print(model.summary())
        with threads():
            history = model.fit(
                X_fit,
                prepared(y_fit),
                loss=task.loss,
                optimizer=make_optimizer(args.optimizer, settings.lr),
                schedule=make_schedule(args.schedule, settings.epochs, monitor),
                epochs=settings.epochs,
                batch_size=settings.batch_size,
                validation_data=None if X_val is None else (X_val, prepared(y_val)),
                callbacks=fit_callbacks,
                verbose=verbose,
                threads=getattr(args, "threads", None),
            )
    stopped = next((c for c in fit_callbacks if isinstance(c, callbacks.EarlyStopping)), None)
    note = ""
    if stopped is not None and stopped.best_epoch is not None and not packed:
        note = f"; best weights from epoch {stopped.best_epoch + 1} restored"
    trained_rows = len(train_rows) if packed else len(fit_rows)
    unconverged = None
    if not history.interrupted:
        unconverged = still_improving(data_loss, settings.epochs, monitor)
    if unconverged:
        given = "epochs" not in settings.chosen
        limit = f"--epochs {settings.epochs}" if given else f"the cap of {settings.epochs} epochs"
        _warn(
            args,
            f"training stopped at {limit} with the {unconverged}: the model may not have "
            f"converged. Try --epochs {2 * settings.epochs}"
            + (" or a larger --lr." if args.schedule == "none" else "."),
        )
    if members > 1 and not packed and not history.interrupted:
        model, trained_rows = _ensemble(
            args, raw, encoder, y, train_rows, task, layers, l2, settings, scaler, model,
            members, threads,
        ), len(train_rows)  # fmt: skip
        note = "; averaged"
        X_fit, y_fit = encoded(encoder, raw.take(train_rows), training=True), y[train_rows]
        if not len(test_rows) and test_raw is None:
            X_test, y_test = X_fit, y_fit
    if refit and not history.interrupted:
        best = len(history)
        if stopped is not None and stopped.best_epoch is not None:
            best = stopped.best_epoch + 1
        print(
            f"Chose {best} epochs on the validation part{note}; refitting on all "
            f"{len(train_rows):,} training rows."
        )
        with threads():
            encoder, scaler, model, refit_history = _refit(
                args, raw, roles, tokens, y, train_rows, classes, task, layers, l2, log1p,
                settings, best, poisson, encoder.equalities,
            )  # fmt: skip
        note = f"; refit for {best} epochs on all {len(train_rows):,} training rows"
        if test_raw is not None:
            X_test = encoded(encoder, test_raw, training=True)
        elif len(test_rows):
            X_test = encoded(encoder, raw.take(test_rows), training=True)
        X_fit, y_fit = encoded(encoder, raw.take(train_rows), training=True), y[train_rows]
        if not len(test_rows) and test_raw is None:
            X_test, y_test = X_fit, y_fit
        history, trained_rows = refit_history, len(train_rows)
    seconds = time.perf_counter() - start
    if history.interrupted:
        print("Interrupted: evaluating and saving the model as it is now.")
    results = {"train": scores(model, task, X_fit, y_fit, scaler)}
    results["test"] = scores(model, task, X_test, y_test, scaler)
    trained = f"{len(history)} epochs"
    if packed:
        bests = ", ".join(str(e + 1) for e in member_stop.best_epochs if e is not None)
        trained += f" ({members} networks side by side, each kept at its best epoch: {bests})"
    elif members > 1 and note:
        trained += f" (the first of {members} networks, each stopped at its own best)"
        note = ""
    print(f"\nTrained {trained} in {seconds:.1f} s{note}.\n")
    print(metrics_table(results))
    if classes is not None:
        print(f"\nTest accuracy: {results['test']['accuracy']:.2%}")
    else:
        print(f"\nTest R²: {results['test']['r2']:.4f}, MAE: {results['test']['mae']:.4g}")
    held = np.sort(fingerprints[test_rows]) if len(test_rows) else np.zeros(0, np.uint64)
    if test_raw is not None:  # evaluate on the test file scores it as held out
        held = np.sort(row_fingerprints(test_raw))
    print(
        f"The saved model was trained on {trained_rows:,} of the {raw.n_rows:,} rows of "
        f"{raw.source}"
        + (f"; {len(test_rows):,} were held out as its test part." if len(test_rows) else ".")
    )
    model.preprocessor = encoder
    model.target_transform = scaler
    model.metadata = {
        "dataset": raw.source,
        "feature_names": encoder.input_columns,
        "target": target,
        "classes": classes,
        "task": "classification" if classes is not None else "regression",
        "reading": reading_options(args),
        "held_out_rows": base64.b64encode(held.astype("<u8").tobytes()).decode("ascii"),
        "training": {
            **settings.record(args, len(history), seconds),
            "layers": layers,
            "l2": l2,
            "refit": bool(refit and trained_rows == len(train_rows)),
            "ensemble": members,
            "rows_trained": int(trained_rows),
            "threads": history.threads.threads,
            "target_transform": "log1p" if log1p else None,
            "numeric_scaling": encoder.scaling,
            "equal_columns": "auto" if equal_columns(args) else "off",
            "numeric_embedding": embedding,
            "numeric_embedding_losses": compared,
            "loss": loss_name if loss_name != "auto" else args.loss,
        },
        "metrics": results,
        "scratchnn_version": __version__,
    }
    return model, history


def detach(model: Sequential) -> tuple[TableEncoder | None, TargetScaler | None]:
    """Take the encoder and target scaler off a loaded model, so the command line applies them
    itself (and the network sees the encoded matrix)."""
    encoder = getattr(model, "preprocessor", None)
    scaler = getattr(model, "target_transform", None)
    model.preprocessor = None
    model.target_transform = None
    return encoder, scaler


def held_out_fingerprints(metadata: dict[str, Any]) -> np.ndarray:
    """The fingerprints of the rows a model's training held out (empty if not recorded)."""
    text = metadata.get("held_out_rows")
    if not isinstance(text, str):
        return np.zeros(0, np.uint64)
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError:
        return np.zeros(0, np.uint64)
    return np.frombuffer(raw[: len(raw) // 8 * 8], dtype="<u8").astype(np.uint64)


def evaluate_table(
    args: argparse.Namespace, model: Sequential, encoder: TableEncoder,
    scaler: TargetScaler | None, metrics_table,
) -> int:  # fmt: skip
    """``scratchnn evaluate MODEL FILE`` for a model with an encoder."""
    metadata = model.metadata
    tokens = list(encoder.missing_tokens)
    raw = read(args.data, args, metadata.get("reading"), tokens, fingerprints=True)
    target = metadata.get("target")
    _target_values(raw, target)
    raw, fingerprints = _drop_missing_target(raw, target, tokens, row_fingerprints(raw))
    classes = metadata.get("classes")
    if classes is not None:
        text, _ = text_of(raw.columns[target], tokens)
        y, _ = encode_target(text.astype(object), classes=classes, column=repr(target))
    else:
        y = _numeric_target(raw, target, tokens)
    _check_columns(raw, encoder)
    X = encoded(encoder, raw, model.dtype)
    _report_unseen(encoder)
    task = task_of(model, classes)
    print(f"{args.model} on {raw.source} ({len(X):,} samples):\n")
    held, copies = held_out_mask(fingerprints, held_out_fingerprints(metadata))
    results: dict[str, dict[str, float]] = {}
    if held.any() and not held.all():
        print(
            f"{raw.source} is the model's training file: {int(held.sum()):,} of its rows were "
            f"held out from training (its test part), {int((~held).sum()):,} were trained on. "
            "Their scores are shown apart; only the held-out rows measure generalization.\n"
        )
        if copies:
            print(
                f"{copies:,} of the held-out rows have an identical copy among the rows trained "
                f"on ({raw.source} has duplicate rows), so the held-out scores overstate how "
                "well the model generalizes; remove the duplicates before training for an "
                "honest test.\n"
            )
        results["held-out"] = scores(model, task, X[held], y[held], scaler)
        results["training"] = scores(model, task, X[~held], y[~held], scaler)
    else:
        label = "held-out" if held.any() else "data"
        results[label] = scores(model, task, X, y, scaler)
    print(metrics_table(results))
    return 0


def _report_unseen(encoder: TableEncoder) -> None:
    if encoder.unseen_:
        counts = ", ".join(f"{name!r}: {n:,}" for name, n in encoder.unseen_.items())
        print(f"Values not seen in training (encoded as all zeros): {counts}.", file=sys.stderr)
    if encoder.new_missing_:
        counts = ", ".join(f"{name!r}: {n:,}" for name, n in encoder.new_missing_.items())
        print(
            "Missing values in columns that had none in training (filled with the training "
            f"median): {counts}.",
            file=sys.stderr,
        )


def encoded(
    encoder: TableEncoder, raw: RawTable, dtype: Any = np.float32, training: bool = False
) -> np.ndarray:
    """``encoder.transform(raw)``, refusing a value so far from the training range that the
    network's ``dtype`` cannot hold its standardized value (a ``1e308`` where training saw
    numbers near 1), with its line and column."""
    X = encoder.transform(raw)
    limit = float(np.finfo(dtype).max)
    numeric = X[:, : len(encoder.roles.numeric)]
    too_far = ~(np.abs(numeric) <= limit)
    if too_far.any():
        row, j = (int(k) for k in np.argwhere(too_far)[0])
        name = encoder.roles.numeric[j]
        fix = (
            "Fix the value, or train on data that includes such values."
            if not training
            else "The rows trained on (the others are held out) hold no such values: fix the "
            "value, or list it among the missing values (--missing)."
        )
        raise ValueError(
            f"{raw.source}, {_where(raw, row)}: column {name!r} holds "
            f"{str(raw.columns[name][row])!r}, beyond {limit:.3g} standard deviations from the "
            f"mean of the rows trained on (mean {encoder.mean_[j]:.4g}, std "
            f"{encoder.scale_[j]:.4g}): too far for the network's arithmetic. {fix}"
        )
    return X


def table_outputs(
    args: argparse.Namespace, model: Sequential, encoder: TableEncoder,
    scaler: TargetScaler | None,
) -> np.ndarray:  # fmt: skip
    """The network's outputs (regression: in the target's units) for the rows of DATA."""
    raw = read(args.data, args, model.metadata.get("reading"), encoder.missing_tokens)
    _check_columns(raw, encoder)
    X = encoded(encoder, raw, model.dtype)
    _report_unseen(encoder)
    outputs = model.predict(X)
    return outputs if scaler is None else scaler.inverse_transform(outputs)
