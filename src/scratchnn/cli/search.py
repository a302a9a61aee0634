"""``scratchnn search``: random or grid search over the network and its training, each trial a
Dask task (a LocalCluster by default, ``--workers N``; an existing cluster with
``--scheduler ADDRESS``; ``--workers 0`` runs the trials one by one in this process).

Every trial is scored on held-out rows of the *training* part only: k folds (``--cv K``) or one
validation split (``--val-split``); the test rows are touched once, by the best configuration,
retrained on all training rows and saved (``--out``). The table ranks every trial.

When the cluster loses every worker or its scheduler for good (or is closed) during the run,
the trials that finished are kept: the table ranks them, the best of them is retrained here
and saved, and the command then fails with one line that says how many trials finished, how
many were lost, and why.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import math
import os
import time
from typing import Any

import numpy as np

from .. import __version__
from .._files import atomic_write
from ..errors import TrainingDivergedError
from ..model import Sequential
from . import data as data_module
from . import outputs
from .build import build_model, make_optimizer
from .tabular import attach_encoder, load_for_trials
from .tasks import LOSS_NAMES, make_task

#: The searched settings: option name → (config key, converter, default choices).
SPACE = {
    "depths": ("depth", int, "1,2"),
    "widths": ("width", int, "16,64"),
    "activations": ("activation", str, "relu,tanh"),
    "optimizers": ("optimizer", str, "adam"),
    "lrs": ("lr", float, "0.001,0.01"),
    "dropouts": ("dropout", float, "0"),
    "batch_sizes": ("batch_size", int, "32,128"),
}


def add_parser(sub: Any, positive_int: Any, fraction: Any) -> None:
    """Register ``scratchnn search`` (with the number types of ``cli.main``)."""
    search = sub.add_parser(
        "search",
        help="random or grid search over networks and training, as Dask tasks",
        description="Try network and training settings on DATA, each trial scored on held-out "
        "training rows (k-fold or a validation split), run as Dask tasks; print the ranked "
        "table, then retrain the best on all training rows, test it and save it.",
    )
    search.add_argument("data", nargs="?", metavar="DATA", help="as train's DATA (default mnist)")
    search.add_argument("--target", metavar="COL", help="target column of a table file")
    search.add_argument("--method", choices=["random", "grid"], default="random")
    search.add_argument(
        "--trials", type=positive_int, default=8, help="random: configurations drawn (default 8)"
    )
    for option, (_, _, default) in SPACE.items():
        extra = (
            "; random search also takes a range LOW:HIGH (log-uniform)" if option == "lrs" else ""
        )
        search.add_argument(
            f"--{option.replace('_', '-')}",
            default=default,
            metavar="LIST",
            help=f"comma-separated choices (default {default}){extra}",
        )
    search.add_argument("--loss", choices=LOSS_NAMES, default="auto")
    search.add_argument("--epochs", type=positive_int, default=20, help="per trial (default 20)")
    search.add_argument(
        "--cv", type=positive_int, default=None, metavar="K", help="score by K-fold CV (K >= 2)"
    )
    search.add_argument(
        "--val-split",
        type=fraction,
        default=0.2,
        metavar="FRACTION",
        help="without --cv: training rows held out for scoring (default 0.2)",
    )
    search.add_argument("--test-split", type=fraction, default=0.2, metavar="FRACTION")
    search.add_argument("--seed", type=int, default=0, help="draws, folds and weights (default 0)")
    add_cluster_options(search, positive_int)
    search.add_argument(
        "--out", default="search_best.npz", help="best model (default: %(default)s)"
    )
    search.add_argument("--results", metavar="CSV", help="write every trial's row to CSV")
    outputs.add_force_option(search)
    search.set_defaults(handler=run)


def add_cluster_options(command: argparse.ArgumentParser, positive_int: Any = int) -> None:
    """``--workers N`` and ``--scheduler ADDRESS``: where the trials run (search, compare)."""
    command.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="run the trials on a local Dask cluster of N worker processes (default: one per "
        "core when Dask is installed; 0: in this process, without Dask)",
    )
    command.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the trials on an existing Dask cluster, e.g. tcp://10.0.0.5:8786",
    )


def _choices(args: argparse.Namespace, option: str) -> list[Any]:
    key, convert, _ = SPACE[option]
    text = getattr(args, option)
    if option == "lrs" and ":" in text:
        low, high = (float(part) for part in text.split(":"))
        if not 0 < low < high < math.inf:
            raise ValueError(f"--lrs LOW:HIGH needs 0 < LOW < HIGH; received {text!r}.")
        if args.method == "grid":
            raise ValueError("--lrs LOW:HIGH is for random search; a grid needs a list.")
        return [("log-uniform", low, high)]
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            values.append(convert(part))
        except ValueError:
            raise ValueError(
                f"--{option.replace('_', '-')} takes comma-separated {convert.__name__} "
                f"values; received {text!r}."
            ) from None
    if key == "optimizer":
        for name in values:
            make_optimizer(name, 0.1)  # an unknown name fails now, with the list of known ones
    if key in ("depth", "width", "batch_size") and min(values) < (0 if key == "depth" else 1):
        raise ValueError(f"--{option.replace('_', '-')} must be whole numbers >= 1.")
    if key == "dropout" and not all(0 <= v < 1 for v in values):
        raise ValueError(f"--dropouts must lie in [0, 1); received {text!r}.")
    return values


def configurations(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The trials' settings: the whole grid, or ``--trials`` random draws from the choices."""
    space = {SPACE[option][0]: _choices(args, option) for option in SPACE}
    if args.method == "grid":
        keys = list(space)
        return [
            dict(zip(keys, values, strict=True)) for values in itertools.product(*space.values())
        ]
    rng = np.random.default_rng(args.seed)
    configs = []
    for _ in range(args.trials):
        config = {}
        for key, values in space.items():
            choice = values[rng.integers(len(values))]
            if isinstance(choice, tuple):  # ("log-uniform", low, high)
                choice = float(np.exp(rng.uniform(np.log(choice[1]), np.log(choice[2]))))
            config[key] = choice
        configs.append(config)
    return configs


@dataclasses.dataclass
class Shared:
    """What every trial reads (sent to each worker once)."""

    data: data_module.Dataset
    folds: list[tuple[np.ndarray, np.ndarray]]
    loss: str
    n_classes: int | None
    epochs: int
    seed: int


def _folds(n: int, cv: int | None, val_split: float, seed: int) -> list[tuple[Any, Any]]:
    order = np.random.default_rng(seed).permutation(n)
    if cv is not None:
        if not 2 <= cv <= n:
            raise ValueError(f"--cv needs 2 <= K <= {n} (the training rows); received {cv}.")
        parts = np.array_split(order, cv)
        return [
            (np.sort(np.concatenate(parts[:k] + parts[k + 1 :])), np.sort(parts[k]))
            for k in range(cv)
        ]
    n_val = round(n * val_split)
    if not 1 <= n_val < n:
        raise ValueError(
            f"--val-split {val_split} of {n} training rows leaves no rows to score on (or to "
            "train on); choose another fraction or --cv K."
        )
    return [(np.sort(order[n_val:]), np.sort(order[:n_val]))]


def train_config(data, config: dict[str, Any], loss: str, n_classes, epochs: int, seed: int):
    """One model of ``config`` trained on ``data.X_train``; returns ``(model, task)``."""
    task = make_task(loss, n_classes)
    model = build_model(
        data, task, [config["width"]] * config["depth"], config["activation"], config["dropout"],
        seed=seed,
    )  # fmt: skip
    model.fit(
        data.X_train,
        task.encode(data.y_train),
        loss=task.loss,
        optimizer=make_optimizer(config["optimizer"], config["lr"]),
        epochs=epochs,
        batch_size=config["batch_size"],
        verbose=0,
    )
    return model, task


def score(model: Sequential, task, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy (classification) or mean squared error (regression)."""
    predicted = task.decode(model.predict(X))
    if task.classes is not None:
        return float(np.mean(predicted == y))
    return float(np.mean((predicted.reshape(len(y), -1) - y.reshape(len(y), -1)) ** 2))


def run_trial(config: dict[str, Any], shared: Shared) -> dict[str, Any]:
    """Train ``config`` on every fold and score it on the fold's held-out rows (a Dask task)."""
    start = time.perf_counter()
    scores = []
    for train_rows, val_rows in shared.folds:
        data = shared.data
        fold = dataclasses.replace(
            data, X_train=data.X_train[train_rows], y_train=data.y_train[train_rows]
        )
        try:
            with np.errstate(all="ignore"):
                model, task = train_config(
                    fold, config, shared.loss, shared.n_classes, shared.epochs, shared.seed
                )
        except TrainingDivergedError:
            scores.append(math.nan)
            continue
        scores.append(score(model, task, data.X_train[val_rows], data.y_train[val_rows]))
    return {**config, "scores": scores, "seconds": time.perf_counter() - start}


def placement(args: argparse.Namespace, n_trials: int) -> tuple[int, str]:
    """Where ``n_trials`` trials run (search's and compare's ``--workers``/``--scheduler``):
    the ``workers`` for :func:`~scratchnn.distributed.map_trials` and the words for the run's
    header. By default a local Dask cluster of one worker process per core (no more than there
    are trials); in this process when Dask is not installed, said once."""
    scheduler = getattr(args, "scheduler", None)
    if scheduler:
        return 0, f"the Dask cluster at {scheduler}"
    workers = getattr(args, "workers", None)
    if workers is None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            print(
                "Dask is not installed (pip install 'scratchnn[dask]'): trials run in this process."
            )
            workers = 0
        else:
            workers = max(1, min(os.cpu_count() or 1, n_trials))
    if workers == 0:
        return 0, "this process"
    plural = "es" if workers > 1 else ""
    return workers, f"a local Dask cluster of {workers} worker process{plural}"


def _rank_key(result: dict[str, Any], higher_is_better: bool) -> float:
    mean = float(np.mean(result["scores"]))
    if not math.isfinite(mean):
        return math.inf  # a diverged trial ranks last
    return -mean if higher_is_better else mean


def run(args: argparse.Namespace) -> int:
    from ..distributed import TrialsLostError, map_trials
    from ..distributed.trials import lost_summary

    outputs.check(
        args,
        [("--out", args.out, "model"), ("--results", args.results, "table")],
        outputs.existing("DATA", args.data),
    )
    data = load_for_trials(args, args.seed)
    n_classes = None if data.classes is None else len(data.classes)
    make_task(args.loss, n_classes)  # a loss that does not fit the target fails now
    configs = configurations(args)
    shared = Shared(
        data, _folds(len(data.X_train), args.cv, args.val_split, args.seed), args.loss,
        n_classes, args.epochs, args.seed,
    )  # fmt: skip
    workers, where = placement(args, len(configs))
    scoring = f"{args.cv}-fold CV" if args.cv else f"a {args.val_split:g} validation split"
    metric = "accuracy" if n_classes is not None else "MSE"
    print(
        f"{args.method.capitalize()} search on {data.name}: {len(configs)} trials, "
        f"{args.epochs} epochs each, scored by {metric} on {scoring} of "
        f"{len(data.X_train):,} training rows; running on {where}."
    )
    start = time.perf_counter()
    lost: TrialsLostError | None = None
    try:
        results = map_trials(run_trial, configs, shared, workers=workers, scheduler=args.scheduler)
    except TrialsLostError as error:  # the cluster is gone; what it finished is kept
        lost, results = error, list(error.finished.values())
    seconds = time.perf_counter() - start
    if lost is not None and not results:
        raise TrialsLostError(
            f"{lost_summary(lost.reason, 0, len(configs), lost.why)}; nothing to rank or "
            "save. Run the search again on a cluster with workers (or --workers 0).",
            lost.reason, {}, lost.lost, lost.total, lost.why,
        )  # fmt: skip
    results.sort(key=lambda r: _rank_key(r, n_classes is not None))
    _print_table(results, metric)
    done = f"{len(results)} of {len(configs)} trials finished" if lost else f"{len(results)} trials"
    print(f"\n{done} in {seconds:.1f} s.")
    if args.results:
        _write_results(args.results, results)
        print(f"Every trial written to {args.results}")
    best = results[0]
    if not math.isfinite(float(np.mean(best["scores"]))):
        if lost is not None:
            raise TrialsLostError(
                f"{lost_summary(lost.reason, len(results), len(configs), lost.why)}; every "
                "finished trial diverged, so nothing was saved. Run the search again on a "
                "cluster with workers, with smaller learning rates (--lrs).",
                lost.reason, lost.finished, lost.lost, lost.total, lost.why,
            )  # fmt: skip
        raise ValueError("Every trial diverged; try smaller learning rates (--lrs).")
    model, task = train_config(data, best, args.loss, n_classes, args.epochs, args.seed)
    held_out = data.X_test is not data.X_train
    test = score(model, task, data.X_test, data.y_test) if held_out else None
    config = {k: best[k] for k in (s[0] for s in SPACE.values())}
    model.metadata = {
        "dataset": data.name,
        "feature_names": data.feature_names,
        "target": data.target,
        "classes": data.classes,
        "task": data.task,
        "training": {
            **config,
            "layers": [best["width"]] * best["depth"],
            "loss": args.loss,
            "epochs": args.epochs,
            "seed": args.seed,
        },
        "search": {
            "method": args.method,
            "trials": len(results),
            **({"trials_lost": len(configs) - len(results)} if lost else {}),
            "scoring": scoring,
            "validation_score": float(np.mean(best["scores"])),
        },
        "scratchnn_version": __version__,
    }
    attach_encoder(model, data)  # a table's model reads the raw file, as train's does
    model.save(args.out)
    shown = "" if test is None else f"; test {metric} {_fmt(test, metric)}"
    print(f"Best: {_describe(best)}{shown}. Retrained on all training rows, saved to {args.out}")
    if lost is not None:
        summary = lost_summary(lost.reason, len(results), len(configs), lost.why)
        raise TrialsLostError(
            f"{summary}; the table ranks the finished trials, and the best of them was "
            f"retrained here and saved to {args.out}. Run the lost trials again on a cluster "
            "with workers.",
            lost.reason, lost.finished, lost.lost, lost.total, lost.why,
        )  # fmt: skip
    return 0


def _fmt(value: float, metric: str) -> str:
    if not math.isfinite(value):
        return "diverged"
    return f"{value:.2%}" if metric == "accuracy" else f"{value:.4g}"


def _describe(result: dict[str, Any]) -> str:
    return (
        f"{result['depth']}x{result['width']} {result['activation']}, {result['optimizer']} "
        f"lr={result['lr']:.3g}, dropout {result['dropout']:g}, batch {result['batch_size']}"
    )


def _print_table(results: list[dict[str, Any]], metric: str) -> None:
    header = ["rank", "depth", "width", "activation", "optimizer", "lr", "dropout", "batch",
              f"val {metric}", "± std", "seconds"]  # fmt: skip
    rows = []
    for rank, r in enumerate(results, start=1):
        mean, std = float(np.mean(r["scores"])), float(np.std(r["scores"]))
        rows.append([
            str(rank), str(r["depth"]), str(r["width"]), r["activation"], r["optimizer"],
            f"{r['lr']:.3g}", f"{r['dropout']:g}", str(r["batch_size"]), _fmt(mean, metric),
            _fmt(std, metric) if math.isfinite(std) else "-", f"{r['seconds']:.1f}",
        ])  # fmt: skip
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _write_results(path: str, results: list[dict[str, Any]]) -> None:
    keys = [s[0] for s in SPACE.values()]
    with atomic_write(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow([*keys, "mean_score", "std_score", "fold_scores", "seconds"])
        for r in results:
            writer.writerow([
                *(r[k] for k in keys), float(np.mean(r["scores"])), float(np.std(r["scores"])),
                " ".join(f"{s:.6g}" for s in r["scores"]), round(r["seconds"], 3),
            ])  # fmt: skip
