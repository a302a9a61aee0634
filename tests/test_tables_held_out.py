"""evaluate's held-out rows on the training file are exactly the rows train held out, when
the file has duplicate rows too (issue 29): the saved fingerprints keep each row's
multiplicity."""

from __future__ import annotations

import re

import numpy as np

from _cli import run
from scratchnn.tables.reading import held_out_mask, row_fingerprints


def test_held_out_rows_are_counted_with_their_multiplicity():
    columns = {"x": np.array(["1", "2", "1", "1", "3", "2"]), "y": np.array(["a"] * 6)}
    fingerprints = row_fingerprints(columns)
    held = np.sort(fingerprints[[2, 4]])  # one copy of "1,a" and the only "3,a"
    mask, copies = held_out_mask(fingerprints, held)
    assert mask.sum() == 2
    assert sorted(columns["x"][mask].tolist()) == ["1", "3"]
    assert copies == 1  # "1,a" was trained on too
    mask, copies = held_out_mask(fingerprints, fingerprints[[0, 2, 3]])  # every copy held out
    assert columns["x"][mask].tolist() == ["1", "1", "1"] and copies == 0
    # an older file's fingerprints, each listed once
    mask, _ = held_out_mask(fingerprints, np.unique(fingerprints[[0, 2]]))
    assert mask.sum() == 1


def test_evaluate_on_a_file_of_duplicated_rows_reports_trains_held_out_count(tmp_path):
    """150 rows with random labels, each repeated 4 times (the issue's case: evaluate said
    352 held out and scored 0.85 "held-out" accuracy on random labels)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 2)).round(4)
    labels = rng.choice(["a", "b"], size=150)
    rows = [f"{a},{b},{c}" for (a, b), c in zip(x, labels, strict=True)] * 4
    data = tmp_path / "dup.csv"
    data.write_text("x1,x2,y\n" + "\n".join(rows) + "\n")
    model = tmp_path / "dup.npz"
    status, out, err = run("train", data, "--target", "y", "--epochs", "3", "--out", model)
    assert status == 0, err
    held_by_train = int(re.search(r"([\d,]+) were held out as its test part", out)[1])
    assert 0 < held_by_train < 600
    status, out, err = run("evaluate", model, data)
    assert status == 0, err
    said = re.search(
        r"([\d,]+) of its rows were held out from training.*?([\d,]+) were trained", out
    )
    assert said, out
    assert int(said[1].replace(",", "")) == held_by_train
    assert int(said[2].replace(",", "")) == 600 - held_by_train
    assert "identical copy among the rows trained on" in out  # and the leak is named
