"""``scratchnn compare``: the tutorial's "next steps" as experiments. The same network on the
same data, varying one thing (activation, optimizer, loss or depth) over several seeds."""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import data as data_module
from .build import build_model, make_optimizer
from .tasks import make_task

#: Learning rates that suit small full-batch problems, used when --lr is not given.
DEFAULT_LR = {
    "sgd": 0.5,
    "momentum": 0.1,
    "nesterov": 0.1,
    "rmsprop": 0.01,
    "adagrad": 0.1,
    "adam": 0.01,
    "adamw": 0.01,
}

#: The option that varies, and the setting it varies.
DIMENSIONS = {
    "activations": "activation",
    "optimizers": "optimizer",
    "losses": "loss",
    "depths": "depth",
}


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


def run(args: argparse.Namespace) -> int:
    dimension, values = _varied(args)
    data = data_module.load(args.data, args.target, args.test_split, 0)
    n_classes = None if data.classes is None else len(data.classes)
    width = args.width or (4 if data.name == "xor" else 16)
    batch = args.batch_size if args.batch_size else None
    curves: dict[str, list[float]] = {}
    rows = []
    for value in values:
        settings = {
            "activation": args.activation,
            "optimizer": args.optimizer,
            "loss": args.loss,
            "depth": args.depth,
        }
        settings[DIMENSIONS[dimension]] = value
        depth = int(settings["depth"]) if str(settings["depth"]).isdigit() else None
        if depth is None:
            raise ValueError(f"--depths takes whole numbers; received {settings['depth']!r}.")
        task = make_task(settings["loss"], n_classes)
        lr = args.lr if args.lr is not None else DEFAULT_LR.get(settings["optimizer"], 0.01)
        finals, accuracies, reached, seconds, histories = [], [], [], [], []
        for seed in range(args.seeds):
            model = build_model(data, task, [width] * depth, settings["activation"], seed=seed)
            start = time.perf_counter()
            history = model.fit(
                data.X_train,
                task.encode(data.y_train),
                loss=task.loss,
                optimizer=make_optimizer(settings["optimizer"], lr),
                epochs=args.epochs,
                batch_size=batch,
                verbose=0,
            )
            seconds.append(time.perf_counter() - start)
            losses = np.array(history["loss"])
            histories.append(losses)
            finals.append(losses[-1])
            below = np.flatnonzero(losses < args.threshold)
            reached.append(int(below[0]) + 1 if below.size else None)
            if n_classes is not None:
                predicted = task.decode(model.predict(data.X_test))
                accuracies.append(float(np.mean(predicted == data.y_test)))
        curves[value] = np.mean(histories, axis=0).tolist()
        hits = [r for r in reached if r is not None]
        rows.append(
            [
                value,
                f"{np.mean(finals):.4f} ± {np.std(finals):.4f}",
                f"{np.mean(accuracies):.2%}" if accuracies else "-",
                f"{np.median(hits):.0f}" if hits else "-",
                f"{len(hits)}/{len(reached)}",
                f"{np.mean(seconds):.2f}",
            ]
        )
    header = [
        DIMENSIONS[dimension],
        "final loss",
        "test accuracy",
        f"epochs to loss<{args.threshold:g}",
        "reached",
        "seconds",
    ]
    seeds = f"{args.seeds} seed" + ("s" if args.seeds != 1 else "")
    print(
        f"{data.name}: {seeds} each, {args.epochs} epochs, hidden width {width}; "
        f"varying the {DIMENSIONS[dimension]}.\n"
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    if args.plot:
        from ..plot import loss_curves

        loss_curves(
            curves, path=args.plot, title=f"{data.name}: varying the {DIMENSIONS[dimension]}"
        )
        print(f"\nLoss curves written to {args.plot}")
    return 0
