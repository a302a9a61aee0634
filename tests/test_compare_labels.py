"""``scratchnn compare`` says what its numbers are: the "epochs to" column is a median over the
seeds that reached the goal, and ``--tune-lr`` says when a row chose an end of its grid."""

from __future__ import annotations

import re

from scratchnn.cli import compare
from scratchnn.cli.main import main


def _run(capsys, *options: str) -> str:
    assert main(["compare", *options, "--workers", "0"]) == 0
    return capsys.readouterr().out


def _lines(out: str) -> tuple[list[str], dict[str, str]]:
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    header = re.split(r"\s{2,}", lines[rule - 1].strip())
    settings = {}
    for line in out.split("\n\n")[0].splitlines()[1:]:
        name, _, text = line.strip().partition("  ")
        settings[name.strip().rstrip(":")] = text.strip()
    return header, settings


def test_the_epochs_column_says_it_is_a_median_of_the_seeds_that_got_there(capsys):
    header, _ = _lines(_run(capsys, "--optimizers", "sgd,adam", "--epochs", "20", "--seeds", "2"))
    goal = next(name for name in header if name.startswith("epochs to"))
    assert goal.endswith("(median of reached)")
    assert header[header.index(goal) + 1] == "reached"  # how many seeds: the next column


def test_a_row_that_chose_the_top_or_bottom_of_the_grid_is_told_the_grid_may_be_too_small():
    top, bottom = compare.LR_GRID[-1], compare.LR_GRID[0]
    note = compare._grid_edges({"sgd": top, "adam": 0.1, "momentum": top})
    assert f"sgd, momentum chose the top of the grid ({top:g})" in note
    assert "the best rate may be larger and the grid too small" in note
    note = compare._grid_edges({"adam": bottom})
    assert f"adam chose the bottom of the grid ({bottom:g})" in note
    assert "may be smaller" in note
    assert compare._grid_edges({"adam": 0.1, "sgd": 0.3}) == ""


def test_tune_lr_reports_the_edge_in_its_lr_line(capsys):
    # Plain gradient descent on XOR for 30 epochs wants the largest step that does not diverge.
    out = _run(capsys, "--optimizers", "sgd", "--tune-lr", "--epochs", "30", "--seeds", "1")
    _, settings = _lines(out)
    lr = settings["lr"]
    assert lr.startswith("tuned per row")
    chosen = float(re.search(r"SGD\(lr=([\d.e-]+)\)", out).group(1))
    if chosen == compare.LR_GRID[-1]:
        assert "sgd chose the top of the grid" in lr
    else:  # the note appears exactly when the chosen rate is an end of the grid
        assert ("chose the bottom" in lr) == (chosen == compare.LR_GRID[0])
        assert "chose the top" not in lr
