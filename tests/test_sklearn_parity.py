"""scratchnn.sklearn against scikit-learn's own MLPClassifier/MLPRegressor: for the same
parameters and ``random_state`` both draw the same initial weights, visit the batches in the
same order and scale loss and penalty alike, so training agrees step for step (to rounding)
for every solver, schedule and loss; and test accuracy/R² on real data (digits, Friedman,
diabetes) is not worse for adam, sgd and lbfgs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6", reason="scikit-learn >= 1.6 is the sklearn extra")

import scipy.sparse as sp
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.preprocessing import StandardScaler

from _sklearn_data import digits_split, friedman_split
from scratchnn.sklearn import MLPClassifier, MLPRegressor

IGNORE_CONVERGENCE = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _case(name: str):
    """``(X, y, sample_weight, estimator kind)`` for one parity case."""
    X_d, _, y_d, _ = digits_split()
    X, y = X_d[:300], y_d[:300]
    X_f, _, y_f, _ = friedman_split()
    if name == "binary":
        return X, (y >= 5).astype(int), None, "classifier"
    if name == "multilabel":
        return X, np.column_stack([y >= 5, y % 2 == 0, y < 3]).astype(int), None, "classifier"
    if name == "weighted":
        weights = np.random.default_rng(0).uniform(0.2, 3.0, size=len(X))
        return X, y, weights, "classifier"
    if name == "sparse":
        X = X_d[:300].copy()
        X[np.abs(X) < 1.0] = 0.0  # ≈70% zeros
        return sp.csr_matrix(X), y, None, "classifier"
    if name == "regression":
        return X_f, y_f, None, "regressor"
    if name == "multi-output":
        return X_f, np.column_stack([y_f, y_f**2]), None, "regressor"
    if name == "poisson":
        counts = np.random.default_rng(0).poisson(np.exp(0.5 * X_f[:, 0] + 0.3 * X_f[:, 1]))
        return X_f, counts, None, "regressor"
    return X, y, None, "classifier"


PARITY = [
    ("multiclass", dict(solver="adam")),
    ("binary", dict(solver="adam")),
    ("multilabel", dict(solver="adam")),
    ("weighted", dict(solver="adam")),
    ("sparse", dict(solver="adam")),
    ("multiclass", dict(solver="adam", early_stopping=True, n_iter_no_change=3)),
    ("multiclass", dict(solver="sgd", momentum=0.9, nesterovs_momentum=False)),
    ("multiclass", dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5)),
    ("multiclass", dict(solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=2)),
    ("multiclass", dict(solver="lbfgs", alpha=1e-2)),
    ("sparse", dict(solver="lbfgs")),
    ("regression", dict(solver="adam", alpha=1.0)),
    ("multi-output", dict(solver="sgd", learning_rate_init=0.01)),
    ("regression", dict(solver="lbfgs")),
    ("poisson", dict(solver="lbfgs", loss="poisson")),
    ("poisson", dict(solver="adam", loss="poisson")),
]


@IGNORE_CONVERGENCE
@pytest.mark.parametrize(("name", "params"), PARITY, ids=[f"{n}-{p}" for n, p in PARITY])
def test_training_matches_sklearn_step_for_step(name, params):
    """Mini-batches of 64 with shuffling, 25 iterations: every loss of the curve agrees with
    scikit-learn's to 1e-9 relative (the products sum in another order, nothing else differs),
    and so do the iteration count, the validation scores and the predictions."""
    X, y, weights, kind = _case(name)
    kw = dict(hidden_layer_sizes=(16,), batch_size=64, max_iter=25, random_state=0, **params)
    ours = (MLPClassifier if kind == "classifier" else MLPRegressor)(**kw)
    theirs = (SkMLPClassifier if kind == "classifier" else SkMLPRegressor)(**kw)
    ours.fit(X, y, sample_weight=weights)
    theirs.fit(X, y, sample_weight=weights)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    if params["solver"] != "lbfgs":  # scikit-learn keeps no curve for lbfgs
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
        assert ours.t_ == theirs.t_
        assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    for a, b in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    if kind == "classifier":
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-8)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7, atol=1e-9)


@IGNORE_CONVERGENCE
def test_partial_fit_and_warm_start_match_sklearn():
    X, y, _, _ = _case("multiclass")
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling", random_state=3)
    ours, theirs = MLPClassifier(**kw), SkMLPClassifier(**kw)
    for start in range(0, 300, 100):
        ours.partial_fit(X[start : start + 100], y[start : start + 100], classes=np.arange(10))
        theirs.partial_fit(X[start : start + 100], y[start : start + 100], classes=np.arange(10))
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    ours.set_params(warm_start=True, max_iter=5).fit(X, y)
    theirs.set_params(warm_start=True, max_iter=5).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.t_ == theirs.t_ and ours.n_iter_ == theirs.n_iter_


#: scikit-learn's defaults but 64 hidden units and batches of 64.
DIGITS_PARAMS = dict(hidden_layer_sizes=(64,), batch_size=64, max_iter=200)


@IGNORE_CONVERGENCE
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_digits_accuracy_not_worse_than_sklearn(solver):
    """Mean test accuracy over random_state 0..2 on the same split with the same settings.
    Training is the same computation, so the scores agree up to the rounding of products
    summed in another order (that is the only allowance: 0.005, ≈2 of the 450 test digits)."""
    X_train, X_test, y_train, y_test = digits_split()
    params = dict(DIGITS_PARAMS, solver=solver)
    if solver == "sgd":
        params["learning_rate_init"] = 0.01
    ours, theirs = [], []
    for seed in range(3):
        mine = MLPClassifier(**params, random_state=seed).fit(X_train, y_train)
        ref = SkMLPClassifier(**params, random_state=seed).fit(X_train, y_train)
        ours.append(mine.score(X_test, y_test))
        theirs.append(ref.score(X_test, y_test))
    assert min(ours) > 0.95
    assert np.mean(ours) >= np.mean(theirs) - 0.005, (ours, theirs)


@IGNORE_CONVERGENCE
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_friedman_r2_not_worse_than_sklearn(solver):
    X_train, X_test, y_train, y_test = friedman_split()
    params = dict(solver=solver, learning_rate_init=0.01 if solver == "sgd" else 0.001)
    ours = [
        MLPRegressor(**params, random_state=s).fit(X_train, y_train).score(X_test, y_test)
        for s in range(3)
    ]
    theirs = [
        SkMLPRegressor(**params, random_state=s).fit(X_train, y_train).score(X_test, y_test)
        for s in range(3)
    ]
    assert min(ours) > 0.8
    assert np.mean(ours) >= np.mean(theirs) - 0.01, (ours, theirs)


@IGNORE_CONVERGENCE
def test_diabetes_r2_is_comparable_to_sklearn():
    """load_diabetes (target standardized), scikit-learn's defaults: R² of an MLP here is
    ≈0.25 and moves by ±0.03 from seed to seed; both must learn something and agree."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    mean, std = y_train.mean(), y_train.std()
    y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    ours = [
        MLPRegressor(random_state=s).fit(X_train, y_train).score(X_test, y_test) for s in range(3)
    ]
    theirs = [
        SkMLPRegressor(random_state=s).fit(X_train, y_train).score(X_test, y_test) for s in range(3)
    ]
    assert min(ours) > 0.15
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.01, (ours, theirs)
