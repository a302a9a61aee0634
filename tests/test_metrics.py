"""metrics.py: every metric against scikit-learn's, on random predictions (hypothesis), with
labels and one-hot targets; metric names and aliases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as snn

pytest.importorskip("sklearn", minversion="1.6", reason="scikit-learn >= 1.6 is the oracle here")

from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    top_k_accuracy_score,
)


def _labels_of(prediction):
    return prediction.argmax(axis=1)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    classes=st.integers(6, 9),
    seed=st.integers(0, 2**32 - 1),
    skew=st.floats(0.0, 3.0),
)
def test_classification_metrics_equal_scikit_learn(n, classes, seed, skew):
    rng = np.random.default_rng(seed)
    # Skewed scores make some classes never predicted (precision's 0/0 case).
    prediction = rng.random((n, classes)) + skew * (np.arange(classes) == 0)
    target = rng.integers(0, classes, size=n)
    predicted = _labels_of(prediction)
    labels = np.arange(classes)

    def metric(name):
        return snn.metrics.get(name)[1](prediction, target)

    assert metric("accuracy") == pytest.approx(accuracy_score(target, predicted), abs=1e-12)
    for name, k in (("top_5_accuracy", 5), ("top_3_accuracy", 3), ("top_1_accuracy", 1)):
        expected = top_k_accuracy_score(target, prediction, k=k, labels=labels)
        assert metric(name) == pytest.approx(expected, abs=1e-12), name
    for name, function in (("precision", precision_score), ("recall", recall_score)):
        expected = function(target, predicted, average="macro", zero_division=0)
        assert metric(name) == pytest.approx(expected, abs=1e-12), name
    expected_f1 = f1_score(target, predicted, average="macro", zero_division=0)
    assert metric("f1") == pytest.approx(expected_f1, abs=1e-12)
    # One-hot targets give the same values as labels.
    one_hot = np.eye(classes)[target]
    for name in ("accuracy", "top_3_accuracy", "precision", "recall", "f1"):
        assert snn.metrics.get(name)[1](prediction, one_hot) == metric(name), name


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), outputs=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_binary_metrics_equal_scikit_learn(n, outputs, seed):
    rng = np.random.default_rng(seed)
    prediction = rng.random((n, outputs))
    target = rng.integers(0, 2, size=(n, outputs)).astype(float)
    expected = accuracy_score((target >= 0.5).ravel(), (prediction >= 0.5).ravel())
    assert snn.metrics.get("binary_accuracy")[1](prediction, target) == pytest.approx(expected)
    if outputs == 1:  # one output: the class is prediction >= 0.5
        p, t = (prediction[:, 0] >= 0.5).astype(int), target[:, 0].astype(int)
        assert snn.metrics.accuracy(prediction, target) == pytest.approx(accuracy_score(t, p))
        for name, function in (
            ("precision", precision_score),
            ("recall", recall_score),
            ("f1", f1_score),
        ):
            expected = function(t, p, average="macro", zero_division=0)
            assert snn.metrics.get(name)[1](prediction, target) == pytest.approx(expected), name


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 60),
    outputs=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    constant=st.booleans(),
)
def test_regression_metrics_equal_scikit_learn(n, outputs, seed, constant):
    rng = np.random.default_rng(seed)
    prediction = rng.normal(size=(n, outputs))
    target = prediction + rng.normal(size=(n, outputs))
    if constant:  # a constant target column: R² is 1 if predicted exactly, else 0
        target[:, 0] = 3.0
    for name, function in (
        ("r2", r2_score),
        ("mae", mean_absolute_error),
        ("mse", mean_squared_error),
        ("mean_absolute_error", mean_absolute_error),
        ("r_squared", r2_score),
    ):
        expected = function(target, prediction)
        assert snn.metrics.get(name)[1](prediction, target) == pytest.approx(
            expected, rel=1e-12, abs=1e-12
        ), name
    exact = target.copy()
    assert snn.metrics.r2(exact, target) == r2_score(target, exact) == 1.0


def test_metric_names_resolve_to_their_log_names():
    assert snn.metrics.get("top_3_accuracy")[0] == "top_3_accuracy"
    assert snn.metrics.get("top_5_accuracy")[0] == "top_5_accuracy"
    assert snn.metrics.get("acc")[0] == "accuracy"
    assert snn.metrics.get("F1-Score")[0] == "f1"
    with pytest.raises(ValueError, match="Unknown metric 'auc'"):
        snn.metrics.get("auc")
