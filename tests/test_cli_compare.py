"""``scratchnn compare`` compares honestly: the header states every fixed setting, every row
gets the same learning rate unless asked otherwise, losses meet on a common metric, metrics
on training rows say "train", and its ranking agrees with examples/xor.py."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from scratchnn.cli import compare
from scratchnn.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "xor.py"


def run(capsys, *options: str) -> str:
    assert main(["compare", *options, "--workers", "0"]) == 0
    return capsys.readouterr().out


def table(out: str) -> tuple[list[str], list[list[str]]]:
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    split = lambda line: re.split(r"\s{2,}", line.strip())  # noqa: E731
    rows = [
        split(line) for line in lines[rule + 1 :] if line.strip() and not line.startswith("Loss")
    ]
    return split(lines[rule - 1]), rows


def setup_lines(out: str) -> dict[str, str]:
    """``{setting: text}`` from the header's "  name  text" lines."""
    settings = {}
    for line in out.split("\n\n")[0].splitlines()[1:]:
        name, _, text = line.strip().partition("  ")
        settings[name.strip().rstrip(":")] = text.strip()
    return settings


def ranking(out: str) -> list[str]:
    header, rows = table(out)
    column = next(i for i, name in enumerate(header) if name.startswith("epochs to"))
    return [
        row[0]
        for row in sorted(
            rows, key=lambda r: (r[column] == "-", float(r[column]) if r[column] != "-" else 0)
        )
    ]


def test_the_header_lists_every_fixed_setting(capsys):
    out = run(capsys, "--optimizers", "sgd,momentum,adam", "--epochs", "20", "--seeds", "2")
    settings = setup_lines(out)
    assert set(settings) >= {
        "data", "preprocessing", "network", "init", "activation", "depth", "loss", "optimizer",
        "lr", "training", "seeds", "metric", "rerun a row",
    }  # fmt: skip
    assert settings["data"].startswith("xor: 4 training rows, 2 features, 2 classes")
    assert "no held-out rows" in settings["data"]
    assert settings["preprocessing"].startswith("standardized per feature")
    assert "Dense(in_features=2, out_features=4" in settings["network"]
    assert "Tanh()" in settings["network"] and "(seed s)" in settings["network"]
    assert settings["init"].startswith("auto: He (he_uniform) before ReLU")
    assert settings["activation"] == "tanh" and settings["depth"] == "1"
    # repr shows what differs from the defaults: from_logits=True and mean are CrossEntropy's.
    assert settings["loss"] == "CrossEntropy()"
    assert settings["optimizer"] == (
        "(varied) sgd: SGD(lr=0.1); momentum: SGD(lr=0.1, momentum=0.9); adam: Adam(lr=0.1)"
    )
    assert settings["lr"] == "one shared lr = 0.1 for every row"
    assert settings["training"] == "20 epochs, full batch (4 rows per step), float32"
    assert settings["seeds"].startswith("0, 1 ")
    assert "batch_size=None" in settings["rerun a row"] and "epochs=20" in settings["rerun a row"]
    header, rows = table(out)
    assert header[:4] == ["optimizer", "optimizer (lr)", "final loss", "train accuracy"]
    assert not any(name.startswith("test") for name in header)  # XOR has no held-out rows
    assert [row[1] for row in rows] == ["SGD(lr=0.1)", "SGD(lr=0.1, momentum=0.9)", "Adam(lr=0.1)"]


def test_a_row_can_be_rerun_by_hand_from_the_header(capsys):
    import scratchnn as snn

    out = run(capsys, "--preset", "tutorial", "--optimizers", "adam", "--lr", "0.3",
              "--epochs", "50", "--seeds", "1")  # fmt: skip
    settings = setup_lines(out)
    assert "init='standard_normal'" in settings["network"] and "Sigmoid()" in settings["network"]
    assert settings["preprocessing"] == "none (inputs used as given)"
    # As the header says: the network with seed 0, MSE(), Adam(lr=0.3), 50 full-batch epochs.
    X, y = snn.datasets.xor(np.float64)
    model = snn.Sequential(
        [snn.Dense(2, 4, init="standard_normal"), snn.Sigmoid(),
         snn.Dense(4, 1, init="standard_normal"), snn.Sigmoid()], seed=0,
    )  # fmt: skip
    history = model.fit(X, y, loss=snn.losses.MSE(), optimizer=snn.optim.Adam(lr=0.3),
                        epochs=50, batch_size=None, verbose=0)  # fmt: skip
    _, rows = table(out)
    assert rows[0][2] == f"{history['loss'][-1]:.4f} ± 0.0000"


def _example():
    spec = importlib.util.spec_from_file_location("xor_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_compare_ranks_the_optimizers_as_the_example_does(capsys):
    example = _example()
    expected = [name for name, _, _ in example.optimizer_ranking(range(3), 2000)]
    preset = run(capsys, "--preset", "tutorial", "--optimizers", "sgd,momentum,adam",
                 "--lr", str(example.SHARED_LR), "--epochs", "2000", "--seeds", "3")  # fmt: skip
    assert ranking(preset) == expected
    # The default setup (tanh, cross-entropy, standardized), one shared lr: the same order.
    default = run(capsys, "--optimizers", "sgd,momentum,adam", "--epochs", "1000", "--seeds", "3")
    assert ranking(default) == expected == ["adam", "momentum", "sgd"]


def test_lr_per_row_and_tune_lr_show_the_chosen_rates(capsys):
    out = run(capsys, "--optimizers", "sgd,adam", "--lr-per-row", "--epochs", "5", "--seeds", "1")
    assert setup_lines(out)["lr"].startswith("per row")
    _, rows = table(out)
    assert [row[1] for row in rows] == [
        f"SGD(lr={compare.DEFAULT_LR['sgd']})", f"Adam(lr={compare.DEFAULT_LR['adam']})"
    ]  # fmt: skip
    out = run(capsys, "--optimizers", "sgd,adam", "--tune-lr", "--epochs", "30", "--seeds", "1")
    assert setup_lines(out)["lr"].startswith("tuned per row")
    _, rows = table(out)
    for row in rows:
        lr = float(re.search(r"lr=([\d.e-]+)", row[1]).group(1))
        assert lr in compare.LR_GRID


def test_lr_choices_that_contradict_each_other_are_refused(capsys):
    assert main(["compare", "--optimizers", "sgd", "--lr-per-row", "--tune-lr"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["compare", "--optimizers", "sgd", "--lr-per-row", "--lr", "0.1"]) == 1
    assert "--lr sets one learning rate" in capsys.readouterr().err


def test_losses_are_compared_on_a_common_metric(capsys):
    out = run(capsys, "--losses", "mse,cross-entropy", "--epochs", "200", "--seeds", "1")
    header, _ = table(out)
    assert "final loss (own)" in header
    assert "epochs to train accuracy>=1 (median of reached)" in header
    assert "compare this column, not the losses" in setup_lines(out)["metric"]
    assert setup_lines(out)["loss"] == "(varied) MSE(), CrossEntropy()"


def test_held_out_data_gets_test_columns(capsys):
    out = run(capsys, "--data", "moons", "--depths", "1", "--epochs", "3", "--seeds", "1")
    header, _ = table(out)
    assert "train accuracy" in header and "test accuracy" in header
    assert "held-out test rows" in setup_lines(out)["data"]


def test_the_plot_draws_a_band_per_row_and_a_panel_per_loss(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (the plot extra)")
    rows = []
    for name in ("mse", "cross-entropy"):
        row = compare.Row(name, {}, 0.1, optimizer="SGD(lr=0.1)", loss_name=name)
        row.losses = [np.linspace(1, 0.1, 10) * s for s in (1.0, 1.5)]
        rows.append(row)

    class Args:
        losses, seeds, plot = "mse,cross-entropy", 2, str(tmp_path / "c.png")

    figure = compare._plot(rows, Args, "losses", "accuracy", ["title Fixed setup:"] * 12, "xor")
    axes = figure.axes
    assert len(axes) == 2  # each loss on its own scale
    assert all(len(ax.collections) == 1 for ax in axes)  # the seeds' band
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
