"""Sequential.predict and evaluate on a DataFrame match its columns by name when the model
knows its features (issue 29): reordered columns give the same predictions, missing or
extra ones are refused by name; arrays (and frames of numbered columns) go by position."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn._validation import columns_by_name

pd = pytest.importorskip("pandas", reason="the DataFrame cases need pandas")


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] - 2 * X[:, 2] > 0).astype(int)
    model = snn.MLP([3, 8, 2], seed=0)
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=20, verbose=0)
    model.metadata["feature_names"] = ["a", "b", "c"]
    return model, pd.DataFrame(X, columns=["a", "b", "c"]), y


def test_reordered_columns_predict_what_the_ordered_ones_do(trained):
    model, frame, y = trained
    expected = model.predict(frame.to_numpy())
    assert np.array_equal(model.predict(frame), expected)
    assert np.array_equal(model.predict(frame[["c", "a", "b"]]), expected)
    scores = model.evaluate(frame[["b", "c", "a"]], y, metrics=["accuracy"])
    assert scores == model.evaluate(frame.to_numpy(), y, metrics=["accuracy"])


def test_missing_or_extra_columns_are_refused_by_name(trained):
    model, frame, _ = trained
    with pytest.raises(ValueError, match=r"missing 'c'.*not among the model's features 'd'"):
        model.predict(frame.rename(columns={"c": "d"}))
    with pytest.raises(ValueError, match=r"not among the model's features 'extra'"):
        model.predict(frame.assign(extra=1.0))
    with pytest.raises(ValueError, match="missing 'b'"):
        model.predict(frame[["a", "c"]])


def test_without_names_columns_go_by_position(trained):
    model, frame, _ = trained
    numbered = pd.DataFrame(frame.to_numpy()[:, [2, 0, 1]])  # columns 0, 1, 2: positions
    assert np.array_equal(model.predict(numbered), model.predict(numbered.to_numpy()))
    unnamed = snn.MLP([3, 4, 2], seed=0)  # knows no feature names
    assert np.array_equal(
        unnamed.predict(frame[["c", "a", "b"]]), unnamed.predict(frame[["c", "a", "b"]].to_numpy())
    )
    assert columns_by_name(frame, None) is frame
