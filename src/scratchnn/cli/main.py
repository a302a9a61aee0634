"""The ``scratchnn`` command: ``scratchnn train``, ``evaluate``, ``predict``, ``info``,
``demo``, ``compare`` and ``export``. Errors print one line on stderr and exit non-zero."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ScratchnnError
from . import commands, compare, demo
from .build import OPTIMIZERS, SCHEDULES, parse_layers
from .tasks import LOSS_NAMES


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``scratchnn train: error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(convert, accept, expected: str):
    """An argparse type: ``convert`` the text, and refuse it unless ``accept(value)``."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive whole number")
_fraction = _number(float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")


def _layers(text: str) -> list[int]:
    return parse_layers(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scratchnn",
        description="Neural networks from scratch on NumPy: train, evaluate and use MLPs.",
    )
    parser.add_argument("--version", action="version", version=f"scratchnn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train an MLP and save it",
        description="Train an MLP on DATA (default: the bundled MNIST), print "
        "a table of metrics, and save the model.",
    )
    train.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="a .csv/.npz file, a folder of IDX files, or one of: "
        + ", ".join(["mnist", "digits", *compare.data_module.SYNTHETIC]),
    )
    train.add_argument("--target", metavar="COL", help="target column of a .csv/.npz file")
    train.add_argument("--task", choices=["auto", "classification", "regression"], default="auto")
    train.add_argument(
        "--layers",
        type=_layers,
        default=[256, 128],
        metavar="SIZES",
        help="hidden layer sizes, e.g. 128,64 (default 256,128)",
    )
    train.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    train.add_argument("--loss", choices=LOSS_NAMES, default="auto")
    train.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam")
    train.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate")
    train.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="cosine",
        help="learning-rate schedule over the epochs (default cosine)",
    )
    train.add_argument("--epochs", type=_positive_int, default=10)
    train.add_argument("--batch-size", type=_positive_int, default=128)
    train.add_argument(
        "--val-split",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="hold out this fraction of the training data for validation",
    )
    train.add_argument(
        "--test-split",
        type=_fraction,
        default=0.2,
        metavar="FRACTION",
        help="test fraction for data without a test set (default 0.2)",
    )
    train.add_argument(
        "--early-stopping",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop after N epochs without improvement; keep the best weights",
    )
    train.add_argument("--dropout", type=_fraction, default=0.0)
    train.add_argument("--batch-norm", action="store_true")
    train.add_argument(
        "--standardize",
        choices=["auto", "yes", "no"],
        default="auto",
        help="standardize features inside the model (auto: except images)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="model.npz", help="model file (default model.npz)")
    train.add_argument("--plot", metavar="PNG", help="write the training curves")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(handler=commands.train)

    evaluate = sub.add_parser("evaluate", help="metrics of a saved model on data")
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("data", metavar="DATA")
    evaluate.set_defaults(handler=commands.evaluate)

    predict = sub.add_parser("predict", help="predictions of a saved model as CSV")
    predict.add_argument("model", metavar="MODEL")
    predict.add_argument("data", metavar="DATA")
    predict.add_argument("--out", metavar="CSV", help="output file (default: standard output)")
    predict.set_defaults(handler=commands.predict)

    info = sub.add_parser("info", help="what a model file holds")
    info.add_argument("model", metavar="MODEL")
    info.set_defaults(handler=commands.info)

    demos = sub.add_parser("demo", help="a small problem trained live")
    demos.add_argument("name", choices=list(demo.DEMOS))
    demos.add_argument("--epochs", type=_positive_int, default=None)
    demos.add_argument("--seed", type=int, default=0)
    demos.add_argument("--plot", metavar="PNG", help="decision boundary / confusion matrix")
    demos.add_argument("--quiet", action="store_true")
    demos.set_defaults(handler=demo.run)

    comp = sub.add_parser(
        "compare",
        help="vary one thing over several seeds",
        description="Train the same network on the same data, varying one "
        "thing, and print a table (and plot) of the results.",
    )
    comp.add_argument("--data", default="xor", help="as train's DATA (default xor)")
    comp.add_argument("--target", metavar="COL")
    comp.add_argument("--activations", metavar="LIST", help="e.g. sigmoid,tanh,relu")
    comp.add_argument("--optimizers", metavar="LIST", help="e.g. sgd,momentum,adam")
    comp.add_argument("--losses", metavar="LIST", help="e.g. mse,cross-entropy")
    comp.add_argument("--depths", metavar="LIST", help="numbers of hidden layers, e.g. 1,2,3")
    comp.add_argument("--activation", default="tanh")
    comp.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam")
    comp.add_argument("--loss", choices=LOSS_NAMES, default="auto")
    comp.add_argument("--depth", type=_positive_int, default=1)
    comp.add_argument(
        "--width",
        type=_positive_int,
        default=None,
        help="hidden layer width (default 4 for xor, else 16)",
    )
    comp.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default: one suited to each optimizer)",
    )
    comp.add_argument("--epochs", type=_positive_int, default=1000)
    comp.add_argument(
        "--batch-size", type=_positive_int, default=None, help="default: the whole training set"
    )
    comp.add_argument("--seeds", type=_positive_int, default=3)
    comp.add_argument(
        "--threshold",
        type=_positive_float,
        default=0.05,
        help="loss counted as learned (default 0.05)",
    )
    comp.add_argument("--test-split", type=_fraction, default=0.2)
    comp.add_argument("--plot", metavar="PNG", help="write the mean loss curves")
    comp.set_defaults(handler=compare.run)

    export = sub.add_parser("export", help="export a model to ONNX")
    export.add_argument("model", metavar="MODEL")
    export.add_argument("out", metavar="OUT.onnx")
    export.add_argument("--opset", type=_positive_int, default=None)
    export.set_defaults(handler=_export)
    return parser


def _export(args: argparse.Namespace) -> int:
    from ..io import load
    from ..onnx import export_onnx

    export_onnx(load(args.model), args.out, opset=args.opset)
    print(f"Exported {args.model} to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("scratchnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `scratchnn predict ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, TypeError, OSError, ImportError, ScratchnnError, KeyError) as error:
        if args.debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        print(
            f"scratchnn {args.command}: error: {message or type(error).__name__}", file=sys.stderr
        )
        return 1
