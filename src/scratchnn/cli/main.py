"""The ``scratchnn`` command: ``scratchnn train``, ``evaluate``, ``predict``, ``info``,
``demo``, ``compare``, ``export``, ``train-text`` and ``generate``. Errors print one line on
stderr and exit non-zero."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from .. import __version__
from .._archive import not_a_regular_file
from ..errors import DataFileError, NotConvergedWarning
from ..tables.encoder import MAX_CATEGORIES
from ..tables.roles import MAX_CODES
from . import (
    commands,
    compare,
    demo,
    explain,
    failures,
    outputs,
    playground,
    preset,
    search,
    terminal,
    text,
)
from . import data as data_module
from .build import OPTIMIZERS, SCHEDULES, parse_layers
from .defaults import DEFAULT_LAYERS
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
_fraction_or_one = _number(float, lambda v: 0 < v <= 1, "a fraction in (0, 1]")


_non_negative_int = _number(int, lambda v: v >= 0, "a whole number >= 0")
_non_negative_float = _number(float, lambda v: 0 <= v < float("inf"), "a number >= 0")
_at_least_two = _number(int, lambda v: v >= 2, "a whole number >= 2")


def _table_options(command: argparse.ArgumentParser) -> None:
    """How a table file is read (train, evaluate and predict)."""
    command.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="field separator, or 'tab' (default: sniffed among comma, semicolon, tab, pipe)",
    )
    command.add_argument(
        "--encoding", help="text encoding, e.g. latin-1 (default: UTF-8, with or without BOM)"
    )
    command.add_argument(
        "--no-header",
        action="store_true",
        help="the first line is data; columns are named col1, col2, ... (default: names)",
    )
    add_decimal_option(command)


def add_decimal_option(command: argparse.ArgumentParser) -> None:
    """``--decimal``: the decimal mark of a table's numbers."""
    command.add_argument(
        "--decimal",
        choices=[".", ","],
        default=None,
        help="decimal mark of the numbers: ',' reads 0,5 as 0.5 (and 1.234,5 as 1234.5); "
        "default '.', and a column that looks like decimal-comma numbers is refused, naming it",
    )


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
        + ", ".join(["mnist", "digits", *data_module.SYNTHETIC]),
    )
    train.add_argument("--target", metavar="COL", help="target column of a table file")
    train.add_argument(
        "--task",
        choices=["auto", "classification", "regression"],
        default="auto",
        help="auto (default): text or at most 20 distinct whole numbers are classes, "
        "otherwise regression",
    )
    _table_options(train)
    train.add_argument(
        "--drop", metavar="COLS", help="comma-separated columns to leave out (default: none)"
    )
    train.add_argument(
        "--features",
        metavar="COLS",
        help="use exactly these comma-separated columns (default: all but row numbers, "
        "identifiers and constant columns)",
    )
    train.add_argument(
        "--categorical",
        metavar="COLS",
        help="columns of numbers to one-hot encode as categories (default: text columns, and "
        "whole-number codes of a balanced panel's units, e.g. a state over years)",
    )
    train.add_argument(
        "--missing",
        metavar="TOKENS",
        help="comma-separated texts read as missing (default: empty,NA,N/A,NaN,nan,null,None,?)",
    )
    train.add_argument(
        "--missing-indicator",
        action="store_true",
        help="add a 0/1 'was missing' feature per numeric column with missing values "
        "(default: off; missing numbers get the training median)",
    )
    train.add_argument(
        "--numeric-scaling",
        choices=["standard", "robust"],
        default=None,
        help="table files: standard ((x - mean) / std) or robust ((x - median) / IQR, then "
        "the smooth clip z / sqrt(1 + (z/3)^2)) for numeric columns (default standard)",
    )
    train.add_argument(
        "--equal-columns",
        choices=["auto", "off"],
        default=None,
        help="table files: auto adds a 0/1 feature a==b for each pair of numeric columns that "
        "the training rows show equal in 2-98%% of rows (10 or more), 3 times as often as "
        "chance, on 2 or more values (a choice table's price paid and the chosen option's "
        "price); off: none (default auto)",
    )
    train.add_argument(
        "--numeric-embedding",
        choices=["auto", "none", "periodic", "piecewise"],
        default=None,
        help="table files: periodic puts a PeriodicEmbedding in front of each network: K "
        "learned frequencies c per numeric column, [sin 2πcx, cos 2πcx] beside x; auto fits "
        "the ensemble with and without it and keeps the lower validation loss (default auto "
        "for classification, none for regression); piecewise puts a PiecewiseLinearEncoding "
        "there instead: B bins per numeric column between the quantiles of its training "
        "values, how far x has come through each (0 to 1), beside x",
    )
    train.add_argument(
        "--embedding-bins",
        type=_positive_int,
        default=None,
        metavar="B",
        help="bins per numeric column of the piecewise-linear encoding (default 8)",
    )
    train.add_argument(
        "--embedding-frequencies",
        type=_positive_int,
        default=None,
        metavar="K",
        help="frequencies per numeric column of the periodic embedding (default 8, fewer "
        "beyond 6 numeric columns: about 96 embedded features, at least 1 per column)",
    )
    train.add_argument(
        "--embedding-sigma",
        type=_positive_float,
        default=None,
        metavar="S",
        help="the standard deviation of the periodic embedding's initial frequencies (default 1)",
    )
    train.add_argument(
        "--max-categories",
        type=_at_least_two,
        default=MAX_CATEGORIES,
        metavar="N",
        help=f"one-hot columns per categorical column; rarer categories are pooled (default "
        f"{MAX_CATEGORIES}; the unit codes of a panel, numbers read as categories, keep one "
        f"column each, up to {MAX_CODES} whatever N is)",
    )
    train.add_argument(
        "--layers",
        type=_layers,
        default=DEFAULT_LAYERS,
        metavar="SIZES",
        help="hidden layer sizes, e.g. 128,64 (default 256,128; for a table file 64,32, 128,64 "
        "from 20,000 training rows)",
    )
    train.add_argument(
        "--model",
        choices=["mlp", "cnn"],
        default="mlp",
        help="mlp (default): Dense layers of --layers sizes; cnn: the LeNet-style CNN of "
        "docs/cnn.md (conv 5x5x32, pool, conv 5x5x64, pool, dense 128; random shifts of up to "
        "2 pixels, dropout 0.25) for square images: mnist or a folder of IDX images",
    )
    train.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    train.add_argument(
        "--init",
        default="auto",
        help="weight initializer, e.g. glorot_uniform, he_normal, standard_normal (N(0, 1)), "
        "normal (N(0, 0.01²)); default auto (He before ReLU, else Glorot)",
    )
    train.add_argument(
        "--loss",
        choices=LOSS_NAMES,
        default="auto",
        help="auto (default): cross-entropy for classes, mse for regression; poisson: the "
        "Poisson loss on log-rates for a count target (predictions are expected counts)",
    )
    train.add_argument(
        "--optimizer", choices=list(OPTIMIZERS), default="adam", help="(default adam)"
    )
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default 0.001; for a table file 0.01, 0.021 for a classifier)",
    )
    train.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="cosine",
        help="learning-rate schedule over the epochs (default cosine)",
    )
    train.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="passes over the data (default: from the number of training rows n: 10 from "
        "20,000 rows, else about 4,000 steps' worth, for a table file 1,000 (250 for a "
        "classifier), 10..500)",
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="(default: 128 from 20,000 rows, else n/50 rounded to a power of two, 16..128; "
        "for a table file n/25, 32..512, and n/12.5, 64..1024, for a classifier)",
    )
    train.add_argument(
        "--val-split",
        type=_fraction,
        default=None,
        metavar="FRACTION",
        help="random fraction of the training rows held out for early stopping (default: "
        "0.2 under 1,000 rows, 0.1 under 20,000, none from 20,000 or under 25)",
    )
    train.add_argument(
        "--test-split",
        type=_fraction,
        default=0.2,
        metavar="FRACTION",
        help="test fraction for data without a test set (default 0.2; 0: no test part)",
    )
    train.add_argument(
        "--no-test-split",
        dest="test_split",
        action="store_const",
        const=0.0,
        help="train on every row of a table file (the same as --test-split 0)",
    )
    train.add_argument(
        "--test",
        metavar="FILE",
        help="a table file of test rows (your own split): train on every row of DATA, test on FILE",
    )
    train.add_argument(
        "--no-refit",
        dest="refit",
        action="store_false",
        help="table files: save the model of the fit part (default: once early stopping has "
        "chosen the epochs on the validation part, train again on all training rows)",
    )
    train.add_argument(
        "--ensemble",
        type=_positive_int,
        default=None,
        metavar="K",
        help="table files: average K networks in one model, each early-stopped on its own "
        "random validation part (default 3; 1: one network, refit on all training rows)",
    )
    train.add_argument(
        "--target-transform",
        choices=["auto", "none", "log1p"],
        default="auto",
        help="regression targets of table files: log1p trains on log(1 + y), for skewed "
        "targets >= 0 (default auto: none; count targets are named in the header)",
    )
    train.add_argument(
        "--early-stopping",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="stop after N epochs without validation improvement and keep the best weights; "
        "0 turns it off (default: epochs/10, 10..30, whenever there is a validation part)",
    )
    train.add_argument(
        "--min-delta",
        type=_non_negative_float,
        default=None,
        metavar="D",
        help="early stopping counts an epoch as an improvement when the validation loss falls "
        "more than D below the last counted best (default 0.001 for table files, whose losses "
        "are per row, on a standardized target for regression; 0 elsewhere); an ensemble's "
        "members are still kept at their lowest loss",
    )
    train.add_argument(
        "--dropout",
        type=_fraction,
        default=0.0,
        help="dropout rate after each hidden layer (default 0)",
    )
    train.add_argument("--batch-norm", action="store_true", help="(default: off)")
    train.add_argument(
        "--l2",
        type=_non_negative_float,
        default=None,
        help="L2 penalty on the Dense weights (default for table files: min(0.1, 2/rows) for "
        "regression, min(0.1, 1/rows) for classes; 0 elsewhere)",
    )
    train.add_argument(
        "--standardize",
        choices=["auto", "yes", "no"],
        default="auto",
        help="standardize features inside the model (auto, the default: except images; "
        "table files are always encoded and standardized)",
    )
    train.add_argument("--seed", type=int, default=0, help="(default 0)")
    train.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="threads to train on, each batch split among them (default: the cores, when a "
        "step has enough work; the same seed and count give the same model)",
    )
    train.add_argument(
        "--jobs",
        type=int,
        choices=[1, 2],
        default=None,
        help="processes for a table's two fits under --numeric-embedding auto: 2 runs the "
        "fit with the embedding in a second process beside the one without (default: 2 on "
        "Linux with two cores, when each fit's steps use one; the same model either way)",
    )
    train.add_argument("--out", default="model.npz", help="model file (default model.npz)")
    train.add_argument("--plot", metavar="PNG", help="write the training curves")
    outputs.add_force_option(train)
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument(
        "--preset",
        choices=["tutorial"],
        default=None,
        help="tutorial: the classic tutorial's settings (4 sigmoid units, MSE, full-batch "
        "SGD at its lr 0.1 on the summed error, no schedule, raw inputs, 10,000 epochs)",
    )
    train.set_defaults(handler=preset.train)

    evaluate = sub.add_parser("evaluate", help="metrics of a saved model on data")
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("data", metavar="DATA")
    _table_options(evaluate)
    evaluate.set_defaults(handler=commands.evaluate)

    predict = sub.add_parser("predict", help="predictions of a saved model as CSV")
    predict.add_argument("model", metavar="MODEL")
    predict.add_argument("data", metavar="DATA")
    predict.add_argument("--out", metavar="CSV", help="output file (default: standard output)")
    predict.add_argument(
        "--raw-labels",
        action="store_true",
        help="write the labels exactly as trained on (default: a label that a spreadsheet "
        "would run as a formula, such as =HYPERLINK(...), gets a leading apostrophe, and "
        "control characters are escaped)",
    )
    outputs.add_force_option(predict)
    _table_options(predict)
    predict.set_defaults(handler=commands.predict)

    info = sub.add_parser("info", help="what a model file holds")
    info.add_argument("model", metavar="MODEL")
    info.set_defaults(handler=commands.info)

    demos = sub.add_parser("demo", help="a small problem trained live")
    demos.add_argument("name", choices=list(demo.DEMOS))
    demos.add_argument("--epochs", type=_positive_int, default=None)
    demos.add_argument("--seed", type=int, default=0)
    demos.add_argument("--plot", metavar="PNG", help="decision boundary / confusion matrix")
    demos.add_argument("--quiet", action="store_true", help="no progress lines")
    outputs.add_force_option(demos)
    demos.add_argument(
        "--preset",
        choices=["tutorial"],
        default=None,
        help="xor only: the classic tutorial exactly (N(0, 1) weights, summed error, lr 0.1)",
    )
    demos.set_defaults(handler=demo.run)

    comp = sub.add_parser(
        "compare",
        help="vary one thing over several seeds",
        description="Train the same network on the same data, varying one "
        "thing, and print a table (and plot) of the results.",
    )
    comp.add_argument("--data", default="xor", help="as train's DATA (default xor)")
    comp.add_argument("--target", metavar="COL")
    add_decimal_option(comp)
    comp.add_argument("--activations", metavar="LIST", help="e.g. sigmoid,tanh,relu")
    comp.add_argument("--optimizers", metavar="LIST", help="e.g. sgd,momentum,adam")
    comp.add_argument("--losses", metavar="LIST", help="e.g. mse,cross-entropy")
    comp.add_argument("--depths", metavar="LIST", help="numbers of hidden layers, e.g. 1,2,3")
    comp.add_argument(
        "--activation", default=None, help="default tanh (sigmoid with --preset tutorial)"
    )
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
        help="one learning rate for every row (default 0.1)",
    )
    comp.add_argument(
        "--lr-per-row",
        action="store_true",
        help="give each optimizer its usual learning rate instead (shown in the table)",
    )
    comp.add_argument(
        "--tune-lr",
        action="store_true",
        help="pick each row's learning rate from a small sweep (shown in the table)",
    )
    comp.add_argument(
        "--init",
        default=None,
        help="weight initializer, e.g. standard_normal (N(0, 1)), normal (N(0, 0.01²)); "
        "default auto (He before ReLU, else Glorot)",
    )
    comp.add_argument(
        "--standardize",
        choices=["auto", "yes", "no"],
        default="auto",
        help="standardize the features inside the model (auto: except images)",
    )
    comp.add_argument(
        "--preset",
        choices=["tutorial"],
        default=None,
        help="tutorial: the classic tutorial's network (sigmoid, MSE, N(0, 1) weights, "
        "width 4, inputs as given)",
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
    comp.add_argument(
        "--target-accuracy",
        type=_fraction_or_one,
        default=1.0,
        help="with --losses: training accuracy counted as learned (default 1.0)",
    )
    comp.add_argument("--test-split", type=_fraction, default=0.2)
    comp.add_argument("--plot", metavar="PNG", help="write the mean loss curves")
    outputs.add_force_option(comp)
    search.add_cluster_options(comp)
    comp.set_defaults(handler=compare.run)

    export = sub.add_parser("export", help="export a model to ONNX")
    export.add_argument("model", metavar="MODEL")
    export.add_argument("out", metavar="OUT.onnx")
    export.add_argument("--opset", type=_positive_int, default=None)
    outputs.add_force_option(export)
    export.set_defaults(handler=_export)

    playground.add_parser(sub)
    explain.add_parser(sub, _positive_int, _positive_float)
    search.add_parser(sub, _positive_int, _fraction)
    add_decimal_option(sub.choices["search"])
    text.add_parser(sub, _positive_int, _positive_float, _fraction, _non_negative_int)
    return parser


def _export(args: argparse.Namespace) -> int:
    from ..io import load
    from ..onnx import export_onnx

    outputs.check(args, [("OUT.onnx", args.out, "onnx")], outputs.existing("MODEL", args.model))
    export_onnx(load(args.model), args.out, opset=args.opset)
    print(f"Exported {args.model} to {args.out}")
    return 0


def _refuse_endless_inputs(args: argparse.Namespace) -> None:
    """Refuse a DATA (or ``--test``) file that is a device, a FIFO or a socket (``/dev/zero``
    would be read without end), in the words ``load`` uses for such a model file."""
    for name in ("data", "test"):
        path = getattr(args, name, None)
        if isinstance(path, str) and os.path.exists(path) and not os.path.isdir(path):
            refusal = not_a_regular_file(path, os.stat(path).st_mode, "a data file (.csv, .npz)")
            if refusal is not None:
                raise DataFileError(refusal)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Every failure prints one line on stderr, ``scratchnn <command>: error: <what is wrong>``,
    and returns non-zero: 2 for a usage error, 1 for a failed command (MemoryError and
    unexpected errors included), 130 after Ctrl-C, 141 when the reader of stdout left.
    Warnings of the run (NumPy's numeric ones included) are summed up in at most one more
    line. ``--debug`` shows tracebacks and warnings as Python prints them instead.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except Exception as error:  # an argument's conversion failed unexpectedly
        print(f"scratchnn: error: {failures.describe(error)}", file=sys.stderr)
        return 2
    if args.debug:
        _refuse_endless_inputs(args)
        return args.handler(args)
    with terminal.inert_output():  # control characters of names and labels printed escaped
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """``args.handler(args)``, with main's handling of errors, Ctrl-C and warnings."""
    with failures.WarningSummary() as warned:
        # fit's warning speaks Python (epochs=...); a table's training says it in the CLI's
        # words (--epochs), from the data loss.
        warnings.filterwarnings("ignore", category=NotConvergedWarning)
        try:
            _refuse_endless_inputs(args)
            status = args.handler(args)
        except KeyboardInterrupt:
            print("scratchnn: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `scratchnn predict ... | head`: the reader left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except Exception as error:
            note = f" (after the warning: {warned.line()})" if warned.line() else ""
            print(
                f"scratchnn {args.command}: error: "
                f"{terminal.printable(failures.describe(error), lines=False)}{note}",
                file=sys.stderr,
            )
            return 1
    if warned.line():
        print(f"scratchnn {args.command}: warning: {warned.line()}", file=sys.stderr)
    return status
