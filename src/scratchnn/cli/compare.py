"""``scratchnn compare``: the tutorial's "next steps" as experiments. The same network on the
same data, varying one thing (activation, optimizer, loss or depth) over several seeds.

An honest comparison changes one thing only, and says what it held fixed: the header lists the
whole setup (data, preprocessing, network, init, loss, every row's optimizer and learning
rate, epochs, batch, seeds), enough to rerun any row by hand. Every row gets the *same*
learning rate unless ``--lr-per-row`` (each optimizer's usual one) or ``--tune-lr`` (the best
of a small sweep, per row) is asked for, and then the lr is shown in the row. Different losses
are compared on a common metric (accuracy, or MSE for regression), never on each other's
values; metrics on the training rows say "train", and "test" is written only for held-out rows.
"""

from __future__ import annotations

import argparse
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._files import atomic_write
from ..distributed.trials import TrialsLostError, lost_summary, map_trials
from ..errors import TrainingDivergedError
from ..layers import Dense, Layer, Standardize, get_activation
from ..model import Sequential
from ..trace import short_repr
from . import outputs
from .build import make_optimizer
from .search import placement
from .tabular import load_for_trials
from .tasks import make_task

#: Each optimizer's usual learning rate for small full-batch problems (--lr-per-row).
DEFAULT_LR = {
    "sgd": 0.5,
    "momentum": 0.1,
    "nesterov": 0.1,
    "rmsprop": 0.01,
    "adagrad": 0.1,
    "adam": 0.01,
    "adamw": 0.01,
}

#: The one learning rate every row gets when neither --lr nor a per-row choice is given.
SHARED_LR = 0.1

#: The sweep of --tune-lr (each value costs one run per seed).
LR_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)

#: The option that varies, and the setting it varies.
DIMENSIONS = {
    "activations": "activation",
    "optimizers": "optimizer",
    "losses": "loss",
    "depths": "depth",
}

#: --preset tutorial: the classic tutorial's network (see docs/tutorial.md).
TUTORIAL = {"activation": "sigmoid", "loss": "mse", "init": "standard_normal", "width": 4}


def _varied(args: argparse.Namespace) -> tuple[str, list[str]]:
    given = [name for name in DIMENSIONS if getattr(args, name)]
    if len(given) != 1:
        raise ValueError(
            "compare varies exactly one thing: give one of --activations, --optimizers, "
            f"--losses or --depths (received {len(given)})."
        )
    name = given[0]
    values = [v.strip() for v in getattr(args, name).split(",") if v.strip()]
    if not values:
        raise ValueError(f"--{name} needs at least one value.")
    return name, values


@dataclass
class Row:
    """One value of the varied setting, trained once per seed."""

    value: str
    settings: dict[str, Any]
    lr: float
    optimizer: str = ""
    finals: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)
    test_metric: list[float] = field(default_factory=list)
    reached: list[int | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    losses: list[np.ndarray] = field(default_factory=list)
    metric_curves: list[np.ndarray] = field(default_factory=list)
    model: str = ""
    loss_name: str = ""


def _option(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    return getattr(args, name, default)


def _settings(args: argparse.Namespace, dimension: str, value: str) -> dict[str, Any]:
    settings = {
        "activation": args.activation,
        "optimizer": args.optimizer,
        "loss": args.loss,
        "depth": args.depth,
    }
    settings[DIMENSIONS[dimension]] = value
    if not str(settings["depth"]).isdigit():
        raise ValueError(f"--depths takes whole numbers; received {settings['depth']!r}.")
    settings["depth"] = int(settings["depth"])
    return settings


def _model(data, task, settings, width, init, standardize, seed) -> Sequential:
    """``[Standardize] → (Dense → activation) × depth → Dense → [output activation]``, with
    every Dense drawing from ``init``; its ``repr`` is the exact network, for rerunning a row."""
    stack: list[Layer] = []
    if standardize:
        scaler = Standardize(data.n_features)
        scaler.adapt(data.X_train)
        stack.append(scaler)
    n_in = data.n_features
    for _ in range(settings["depth"]):
        stack += [Dense(n_in, width, init=init), get_activation(settings["activation"])]
        n_in = width
    stack.append(Dense(n_in, task.n_outputs, init=init))
    if task.output_activation is not None:
        stack.append(get_activation(task.output_activation))
    return Sequential(stack, seed=seed, dtype=np.float32)


def _train_row(row: Row, data, n_classes, args, width, init, standardize, batch, metric) -> None:
    settings = row.settings
    task = make_task(settings["loss"], n_classes)
    row.loss_name = repr(task.loss)
    held_out = data.X_test is not data.X_train
    for seed in range(args.seeds):
        model = _model(data, task, settings, width, init, standardize, seed)
        optimizer = make_optimizer(settings["optimizer"], row.lr)
        row.optimizer, row.model = short_repr(optimizer), repr(model)
        start = time.perf_counter()
        history = model.fit(
            data.X_train,
            task.encode(data.y_train),
            loss=task.loss,
            optimizer=optimizer,
            epochs=args.epochs,
            batch_size=batch,
            metrics=[metric],
            verbose=0,
        )
        row.seconds.append(time.perf_counter() - start)
        curve = np.array(history["loss"])
        row.losses.append(curve)
        row.metric_curves.append(np.array(history[metric]))
        row.finals.append(float(curve[-1]))
        row.train_metric.append(_metric(model, task, data.X_train, data.y_train, metric))
        if held_out:
            row.test_metric.append(_metric(model, task, data.X_test, data.y_test, metric))
        row.reached.append(_first_epoch(row, args, metric))


def _trained_row(row: Row, context: tuple[Any, ...]) -> Row:
    """``row`` trained on every seed: one trial of :func:`scratchnn.distributed.map_trials`."""
    _train_row(row, *context)
    return row


def _metric(model, task, X, y, metric: str) -> float:
    outputs = model.predict(X)
    if metric == "accuracy":
        return float(np.mean(task.decode(outputs) == y))
    return float(np.mean((task.decode(outputs).reshape(len(y), -1) - y.reshape(len(y), -1)) ** 2))


def _first_epoch(row: Row, args: argparse.Namespace, metric: str) -> int | None:
    """Epochs until the threshold: on the loss, or on the common metric when losses vary."""
    if args.losses and metric == "accuracy":
        hits = np.flatnonzero(row.metric_curves[-1] >= args.target_accuracy)
    elif args.losses:
        hits = np.flatnonzero(row.metric_curves[-1] < args.threshold)
    else:
        hits = np.flatnonzero(row.losses[-1] < args.threshold)
    return int(hits[0]) + 1 if hits.size else None


def _choose_lrs(args, dimension, values, data, n_classes, width, init, standardize, batch, metric):
    """The learning rate of each row, and how it was chosen."""
    lr_per_row, tune = _option(args, "lr_per_row", False), _option(args, "tune_lr", False)
    if lr_per_row and tune:
        raise ValueError("Give --lr-per-row or --tune-lr, not both.")
    if lr_per_row and args.lr is not None:
        raise ValueError("--lr sets one learning rate for every row; drop it with --lr-per-row.")
    if tune:
        chosen = {}
        for value in values:
            best = None
            for lr in LR_GRID:
                trial = Row(value, _settings(args, dimension, value), lr)
                with np.errstate(all="ignore"):
                    try:
                        _train_row(trial, data, n_classes, args, width, init, standardize, batch,
                                   metric)  # fmt: skip
                    except TrainingDivergedError:  # a diverging lr is simply not chosen
                        continue
                score = float(np.mean(trial.finals))
                if np.isfinite(score) and (best is None or score < best[0]):
                    best = (score, lr)
            if best is None:
                raise ValueError(
                    f"No learning rate of {LR_GRID} trains {value!r} without diverging."
                )
            chosen[value] = best[1]
        how = f"tuned per row: the lowest mean final training loss of lr in {list(LR_GRID)}"
        return chosen, how + _grid_edges(chosen)
    if lr_per_row:
        lrs = {v: DEFAULT_LR.get(_settings(args, dimension, v)["optimizer"], 0.01) for v in values}
        return lrs, "per row: each optimizer's usual lr (--lr-per-row)"
    shared = args.lr if args.lr is not None else SHARED_LR
    return {v: shared for v in values}, f"one shared lr = {shared:g} for every row"


def _grid_edges(chosen: dict) -> str:
    """What to add to the lr line when rows chose an end of LR_GRID: the best rate may lie
    beyond it, so the grid may be too small."""
    notes = []
    for edge, side, where in ((LR_GRID[-1], "top", "larger"), (LR_GRID[0], "bottom", "smaller")):
        rows = [str(value) for value, lr in chosen.items() if lr == edge]
        if rows:
            notes.append(
                f"; {', '.join(rows)} chose the {side} of the grid ({edge:g}), so the best rate "
                f"may be {where} and the grid too small (rerun with --lr set to a {where} "
                "value in place of --tune-lr)"
            )
    return "".join(notes)


def _describe_data(data, held_out: bool, n_classes) -> str:
    kind = f"{n_classes} classes" if n_classes else "regression"
    text = f"{data.name}: {len(data.X_train)} training rows, {data.n_features} features, {kind}; "
    if held_out:
        return text + f"{len(data.X_test)} held-out test rows"
    return text + 'no held-out rows, so every metric is on the training rows ("train")'


def run(args: argparse.Namespace) -> int:
    outputs.check(args, [("--plot", args.plot, "image")], outputs.existing("--data", args.data))
    dimension, values = _varied(args)
    preset = _option(args, "preset")
    if args.activation is None:
        args.activation = TUTORIAL["activation"] if preset == "tutorial" else "tanh"
    if preset == "tutorial" and args.loss == "auto":
        args.loss = TUTORIAL["loss"]
    data = load_for_trials(args, 0)
    held_out = data.X_test is not data.X_train
    n_classes = None if data.classes is None else len(data.classes)
    width = args.width or (TUTORIAL["width"] if preset == "tutorial" or data.name == "xor" else 16)
    init = _option(args, "init") or (TUTORIAL["init"] if preset == "tutorial" else "auto")
    standardize_option = _option(args, "standardize", "auto") or "auto"
    if preset == "tutorial" and standardize_option == "auto":
        standardize_option = "no"
    standardize = None if standardize_option == "auto" else standardize_option == "yes"
    if standardize is None:
        standardize = not data.images
    batch = args.batch_size if args.batch_size else None
    metric = "accuracy" if n_classes is not None else "mse"
    for value in values:  # unknown names fail here, before any training (or any worker)
        settings = _settings(args, dimension, value)
        make_task(settings["loss"], n_classes)
        get_activation(settings["activation"])
        make_optimizer(settings["optimizer"], 0.1)
    lrs, lr_rule = _choose_lrs(
        args, dimension, values, data, n_classes, width, init, standardize, batch, metric
    )
    rows = [Row(value, _settings(args, dimension, value), lrs[value]) for value in values]
    context = (data, n_classes, args, width, init, standardize, batch, metric)
    workers, where = placement(args, len(rows))
    lost: TrialsLostError | None = None
    try:
        rows = map_trials(  # one Dask task per row, or in this process (--workers 0)
            _trained_row, rows, context, workers=workers, scheduler=_option(args, "scheduler")
        )
    except TrialsLostError as error:  # the cluster is gone: show the rows it finished
        lost, total, rows = error, len(rows), list(error.finished.values())
        if not rows:
            raise TrialsLostError(
                f"{lost_summary(lost.reason, 0, total, lost.why, 'row')}; nothing to show. Run "
                "the comparison again on a cluster with workers (or --workers 0).",
                lost.reason, {}, lost.lost, total, lost.why,
            ) from None  # fmt: skip

    if args.losses:
        goal = (
            f"epochs to train accuracy>={args.target_accuracy:g}"
            if metric == "accuracy"
            else f"epochs to train MSE<{args.threshold:g}"
        )
    else:
        goal = f"epochs to loss<{args.threshold:g}"
    goal += " (median of reached)"  # over the seeds that got there: "reached" counts them
    header = [
        DIMENSIONS[dimension],
        "optimizer (lr)",
        "final loss" if not args.losses else "final loss (own)",
        f"train {metric}",
        *([f"test {metric}"] if held_out else []),
        goal,
        "reached",
        "seconds",
    ]
    table = []
    for row in rows:
        hits = [r for r in row.reached if r is not None]
        cells = [
            row.value,
            row.optimizer,
            f"{np.mean(row.finals):.4f} ± {np.std(row.finals):.4f}",
            _format_metric(row.train_metric, metric),
            *([_format_metric(row.test_metric, metric)] if held_out else []),
            f"{np.median(hits):.0f}" if hits else "-",
            f"{len(hits)}/{len(row.reached)}",
            f"{np.mean(row.seconds):.2f}",
        ]
        table.append(cells)

    setup = _setup_lines(
        args, dimension, rows, data, held_out, n_classes, width, init, standardize,
        batch, lr_rule, metric,
    )  # fmt: skip
    print("\n".join(setup) + "\n")
    print(f"Ran on {where} (each row is a pure function of its settings and seeds).\n")
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for cells in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))
    if args.plot:
        _plot(rows, args, dimension, metric, setup, data.name)
        print(f"\nLoss curves written to {args.plot}")
    if lost is not None:
        raise TrialsLostError(
            f"{lost_summary(lost.reason, len(rows), total, lost.why, 'row')}; the table shows "
            "the finished rows. Run the comparison again on a cluster with workers.",
            lost.reason, lost.finished, lost.lost, total, lost.why,
        )  # fmt: skip
    return 0


def _format_metric(values: list[float], metric: str) -> str:
    if not values:
        return "-"
    if metric == "accuracy":
        return f"{np.mean(values):.2%}"
    return f"{np.mean(values):.4f}"


def _setup_lines(
    args,
    dimension,
    rows,
    data,
    held_out,
    n_classes,
    width,
    init,
    standardize,
    batch,
    lr_rule,
    metric,
) -> list[str]:
    """The fixed setup, one setting per line: enough to rerun any row by hand."""
    varied = DIMENSIONS[dimension]
    seeds = f"{args.seeds} seed" + ("s" if args.seeds != 1 else "")
    first = rows[0]

    def fixed(name: str, text: str) -> str:
        return f"  {name:<14} {'(varied) ' if name == varied else ''}{text}"

    n_rows = len(data.X_train)
    lines = [
        f"{data.name}: {seeds} each, {args.epochs} epochs, hidden width {width}; "
        f"varying the {varied}. Fixed setup:",
        fixed("data", _describe_data(data, held_out, n_classes)),
        fixed(
            "preprocessing",
            "standardized per feature (mean 0, std 1, fitted on the training rows)"
            if standardize
            else "none (inputs used as given)",
        ),
        fixed("network", f"{first.model} (seed s)"),
        fixed(
            "init",
            f"{init}: W ~ N(0, 1) from the seed, b = 0"
            if init == "standard_normal"
            else f"{init}: He (he_uniform) before ReLU-like units, Glorot (glorot_uniform) "
            "otherwise; b = 0"
            if init == "auto"
            else f"{init}; b = 0",
        ),
        fixed("activation", ", ".join(sorted({r.settings["activation"] for r in rows}))),
        fixed("depth", ", ".join(sorted({str(r.settings["depth"]) for r in rows}))),
        fixed("loss", ", ".join(dict.fromkeys(r.loss_name for r in rows))),
        fixed("optimizer", "; ".join(f"{r.value}: {r.optimizer}" for r in rows)),
        fixed("lr", lr_rule),
        fixed(
            "training",
            f"{args.epochs} epochs, "
            + (f"batches of {batch}, shuffled" if batch else f"full batch ({n_rows} rows per step)")
            + ", float32",
        ),
        fixed("seeds", f"{', '.join(map(str, range(args.seeds)))} (initial weights and shuffling)"),
        fixed(
            "metric",
            f"{metric} on the training rows"
            + (" and on the held-out test rows" if held_out else " (no held-out rows)")
            + (
                "; the losses differ, so compare this column, not the losses" if args.losses else ""
            ),
        ),
        f"  rerun a row:   model.fit(X, y, loss={first.loss_name}, optimizer=<the row's>, "
        f"epochs={args.epochs}, batch_size={batch}), model as above with seed=s",
    ]
    return lines


def _plot(rows: list[Row], args, dimension: str, metric: str, setup: list[str], name: str) -> Any:
    """Mean curves with the seeds' min-max band; each loss on its own panel when losses vary."""
    from matplotlib.figure import Figure

    panels = len(rows) if args.losses else 1
    figure = Figure(figsize=(5.2 * panels + (1.2 if panels == 1 else 0), 5.0), layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for i, row in enumerate(rows):
        ax = axes[i if args.losses else 0]
        curves = np.array(row.losses)
        epochs = np.arange(1, curves.shape[1] + 1)
        label = f"{row.value} ({row.optimizer})"
        (line,) = ax.plot(epochs, curves.mean(axis=0), label=label)
        if len(curves) > 1:
            ax.fill_between(
                epochs, curves.min(axis=0), curves.max(axis=0), color=line.get_color(), alpha=0.2
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"training loss: {row.loss_name}" if args.losses else "training loss")
        if np.all(curves > 0):
            ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        if args.losses:
            ax.set_title(f"{row.value} (own scale)", fontsize=9)
    band = "; band: min-max over the seeds" if args.seeds > 1 else ""
    title = setup[0].replace(". Fixed setup:", "") + band
    width = 110 * panels  # characters per line of the setup at fontsize 7
    details = [textwrap.fill(line.strip(), width, subsequent_indent="    ") for line in setup[1:13]]
    figure.suptitle(title + "\n" + "\n".join(details), fontsize=7, ha="left", x=0.01)
    with atomic_write(args.plot) as handle:
        figure.savefig(handle, format="png", dpi=100)
    return figure
