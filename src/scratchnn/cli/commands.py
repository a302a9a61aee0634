"""The train, evaluate, predict and info commands."""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, diagnostics
from .._files import atomic_write
from ..io import load
from ..model import Sequential
from . import data as data_module
from . import outputs, tabular
from . import text as text_model
from .build import build_model, make_early_stopping, make_optimizer, make_schedule, verbosity
from .cnn import build_cnn
from .defaults import choose
from .tasks import Task, make_task, task_of
from .terminal import printable, spreadsheet_safe


def metrics_table(rows: dict[str, dict[str, float]]) -> str:
    """A small aligned table: one row per data split, one column per metric."""
    names = list(next(iter(rows.values())))
    header = ["", *names]
    lines = [header] + [
        [split, *(f"{values[n]:.4f}" for n in names)] for split, values in rows.items()
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    return "\n".join([text[0], "-" * len(text[0]), *text[1:]])


def _scores(model: Sequential, task: Task, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return model.evaluate(X, task.encode(y), metrics=task.metrics)


def train(args: argparse.Namespace) -> int:
    outputs.check(
        args,
        [("--out", args.out, "model"), ("--plot", args.plot, "image")],
        outputs.existing("DATA", args.data),
    )
    if data_module.is_table_file(args.data):
        if getattr(args, "model", "mlp") == "cnn":
            raise ValueError(
                f"--model cnn trains on images (mnist or a folder of IDX images), not on the "
                f"table {args.data}. Use the default --model mlp."
            )
        model, history = tabular.train_table(args, metrics_table)
        _save_and_plot(args, model, history)
        return 0
    data = data_module.load(args.data, args.target, args.test_split, args.seed, args.task)
    n_targets = 1 if data.y_train.ndim == 1 else data.y_train.shape[1]
    n_classes = None if data.classes is None else len(data.classes)
    task = make_task(args.loss, n_classes, n_targets)
    model = (
        build_cnn(data, task, args.seed)
        if getattr(args, "model", "mlp") == "cnn"
        else build_model(
            data,
            task,
            args.layers,
            args.activation,
            args.dropout,
            args.batch_norm,
            None if args.standardize == "auto" else args.standardize == "yes",
            args.seed,
            getattr(args, "init", "auto"),
        )
    )
    settings = choose(
        len(data.X_train), args.batch_size, args.epochs, args.val_split, args.early_stopping,
        lr=args.lr, min_delta=getattr(args, "min_delta", None),
    )  # fmt: skip
    X_fit, y_fit, validation = data.X_train, data.y_train, None
    if settings.val_split > 0:
        order = np.random.default_rng(args.seed).permutation(len(X_fit))
        n_val = max(1, round(len(X_fit) * settings.val_split))
        fit, val = np.sort(order[n_val:]), np.sort(order[:n_val])
        validation = (data.X_train[val], task.encode(data.y_train[val]))
        X_fit, y_fit = data.X_train[fit], data.y_train[fit]
    monitor = "val_loss" if validation is not None else "loss"
    fit_callbacks = []
    if settings.patience:
        fit_callbacks.append(make_early_stopping(settings, monitor))
    if not args.quiet:  # dead ReLUs and saturated units named as training goes
        fit_callbacks.append(diagnostics.Diagnose(report=lambda text: print(f"Diagnosis: {text}")))
    print(
        f"Training on {data.name}: {len(data.X_train):,} samples, {data.n_features} features, "
        + (f"{n_classes} classes" if n_classes else "regression")
        + f"; testing on {len(data.X_test):,} samples."
    )
    print(settings.describe(len(data.X_train)))
    print(model.summary())
    start = time.perf_counter()
    history = model.fit(
        X_fit,
        task.encode(y_fit),
        loss=task.loss,
        optimizer=make_optimizer(args.optimizer, settings.lr),
        schedule=make_schedule(args.schedule, settings.epochs, monitor),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        validation_data=validation,
        metrics=task.metrics,
        callbacks=fit_callbacks,
        verbose=verbosity(args.quiet),
        threads=getattr(args, "threads", None),
    )
    seconds = time.perf_counter() - start
    if history.interrupted:
        print("Interrupted: evaluating and saving the model as it is now.")
    results = {
        "train": _scores(model, task, data.X_train, data.y_train),
        "test": _scores(model, task, data.X_test, data.y_test),
    }
    print(f"\nTrained {len(history)} epochs in {seconds:.1f} s.\n")
    print(metrics_table(results))
    if "accuracy" in results["test"]:
        print(f"\nTest accuracy: {results['test']['accuracy']:.2%}")
    model.metadata = {
        "dataset": data.name,
        "feature_names": data.feature_names,
        "target": data.target,
        "classes": data.classes,
        "task": data.task,
        "training": {
            **settings.record(args, len(history), seconds),
            "threads": history.threads.threads,
        },
        "metrics": results,
        "scratchnn_version": __version__,
    }
    _save_and_plot(args, model, history)
    return 0


def _save_and_plot(args: argparse.Namespace, model: Sequential, history) -> None:
    if args.out:
        model.save(args.out)
        print(f"Model saved to {args.out}")
    if args.plot:
        from ..plot import training_curves

        training_curves(history, path=args.plot)
        print(f"Training curves written to {args.plot}")


def _load_model(path: str) -> tuple[Sequential, dict[str, Any]]:
    model = load(path)
    return model, model.metadata


def evaluate(args: argparse.Namespace) -> int:
    model, metadata = _load_model(args.model)
    text_model.refuse_language_model(model, args.model, "evaluate")
    encoder, scaler = tabular.detach(model)
    if encoder is not None:
        return tabular.evaluate_table(args, model, encoder, scaler, metrics_table)
    data = data_module.load_for_model(args.data, metadata, need_target=True)
    task = task_of(model, metadata.get("classes"))
    results = {"data": _scores(model, task, data.X_test, data.y_test)}
    print(f"{args.model} on {data.name} ({len(data.X_test):,} samples):\n")
    print(metrics_table(results))
    return 0


def predict(args: argparse.Namespace) -> int:
    outputs.check(
        args,
        [("--out", args.out, "table")],
        [*outputs.existing("MODEL", args.model), *outputs.existing("DATA", args.data)],
    )
    model, metadata = _load_model(args.model)
    text_model.refuse_language_model(model, args.model, "predict")
    encoder, scaler = tabular.detach(model)
    if encoder is not None:
        network_outputs = tabular.table_outputs(args, model, encoder, scaler)
    else:
        data = data_module.load_for_model(args.data, metadata, need_target=False)
        network_outputs = model.predict(data.X_test)
    task = task_of(model, metadata.get("classes"), in_units=scaler is not None)
    decoded = task.decode(network_outputs)
    probabilities = task.probabilities(network_outputs)
    raw = bool(getattr(args, "raw_labels", False))
    target = None
    if args.out in (None, "-"):  # with --raw-labels, past the terminal's escaping too
        target = getattr(sys.stdout, "stream", sys.stdout) if raw else sys.stdout
    classes = metadata.get("classes")
    if target is None:
        with atomic_write(args.out, "w") as handle:
            count = write_predictions(handle, decoded, probabilities, classes, raw)
        print(f"{count:,} predictions written to {args.out}", file=sys.stderr)
    else:
        write_predictions(target, decoded, probabilities, classes, raw)
    return 0


def write_predictions(
    handle: Any,
    decoded: np.ndarray,
    probabilities: np.ndarray | None,
    classes: list[Any] | None,
    raw: bool = False,
) -> int:
    """Predictions as CSV: ``prediction`` (the class label, or the value), then ``p_<label>``
    per class where the loss defines probabilities; values with 6 significant digits.

    Labels come from the training file, so they are written defused unless ``raw``: one that
    a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+cmd``, ``@SUM(...)``) gets a
    leading apostrophe, and control characters are escaped
    (:func:`~scratchnn.cli.terminal.spreadsheet_safe`).

    The bytes are what :class:`csv.writer` writes (labels quoted where they need it, ``\\r\\n``
    line ends), but each row is one ``%`` format of Python floats: for 10,000 rows of ten
    probabilities that is 2.5x faster than formatting NumPy scalars field by field, and the
    writing was most of the command's time. Returns the number of rows.
    """
    values = decoded if decoded.ndim == 2 else decoded.reshape(len(decoded), 1)
    if classes is not None:
        header = ["prediction"]
        quoted = [_csv_field(label if raw else spreadsheet_safe(label)) for label in classes]
        labels = [quoted[i] for i in values[:, 0].astype(np.int64).tolist()]
        if probabilities is None:
            lines = labels
        else:
            header += [f"p_{label}" if raw else printable(f"p_{label}") for label in classes]
            row = "%s," + ",".join(["%.6g"] * probabilities.shape[1])
            lines = [
                row % (label, *p) for label, p in zip(labels, probabilities.tolist(), strict=True)
            ]
    else:
        k = values.shape[1]
        header = ["prediction"] if k == 1 else [f"prediction_{j}" for j in range(k)]
        row = ",".join(["%.6g"] * k)
        lines = [row % tuple(v) for v in values.tolist()]
    csv.writer(handle).writerow(header)
    if lines:
        handle.write("\r\n".join(lines) + "\r\n")
    return len(lines)


def _csv_field(value: Any) -> str:
    """``value`` as :class:`csv.writer` writes it (quoted if it holds a comma, quote or
    line break)."""
    out = io.StringIO()
    csv.writer(out).writerow([value])
    return out.getvalue()[:-2]  # without the line end (which also decides the quoting)


def info(args: argparse.Namespace) -> int:
    model, metadata = _load_model(args.model)
    size = Path(args.model).stat().st_size
    print(f"{args.model}: scratchnn model, {size / 1024:.1f} KiB\n")
    print(model.summary())
    for line in text_model.info_lines(model):  # a language model's vocabulary and context
        print(line)
    print(f"\nEpochs trained: {model.epochs_trained}")
    if model.loss is not None:
        print(f"Loss: {model.loss!r}")
    if model.optimizer is not None:
        note = ", lr as the schedule left it" if model.schedule is not None else ""
        print(f"Optimizer: {model.optimizer!r} after {model.optimizer.step_count:,} steps{note}")
    if model.schedule is not None:
        print(f"Schedule: {model.schedule!r}")
    if metadata.get("dataset"):
        classes = metadata.get("classes")
        kind = (
            f"{len(classes)} classes ({', '.join(map(str, classes[:10]))}"
            + (", ...)" if len(classes) > 10 else ")")
            if classes
            else "regression"
        )
        print(
            f"Data: {metadata['dataset']}, {len(metadata.get('feature_names', []))} features, "
            f"target {metadata.get('target')!r}, {kind}"
        )
    encoder = getattr(model, "preprocessor", None)
    if encoder is not None and getattr(encoder, "roles", None) is not None:
        print(f"Preprocessor: {encoder!r}")
        for line in encoder.roles.describe():
            print(f"  {line}")
        pairs = getattr(encoder, "equalities", [])
        if pairs:
            print(f"  Equal columns ({len(pairs)}): {', '.join(p.name for p in pairs)}")
    training = metadata.get("training")
    if training:
        print("Training settings: " + ", ".join(f"{k}={v}" for k, v in training.items()))
    if metadata.get("metrics"):
        print("\nMetrics at save time:\n")
        print(metrics_table(metadata["metrics"]))
    return 0
