"""What makes scratchnn.sklearn a drop-in for scikit-learn's MLP beyond the parity tests:
sparse input without densifying, divergence as a ValueError that leaves the estimator as it
was, assignable ``coefs_``/``intercepts_``, ``n_iter_no_change=np.inf``, warm starts on other
classes, L-BFGS's limits, learning-rate schedules, the Poisson loss, and pickling."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6", reason="scikit-learn >= 1.6 is the sklearn extra")

import scipy.sparse as sp
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from scratchnn.sklearn import MLPClassifier, MLPRegressor

IGNORE_CONVERGENCE = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _blobs(n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(n_samples=n, centers=3, n_features=4, random_state=0)


def _regression(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(n, 3))
    return X, X[:, 0] + 2 * X[:, 1] * X[:, 2]


# ------------------------------------------------------------------------------ sparse


@IGNORE_CONVERGENCE
def test_sparse_input_trains_and_predicts_without_densifying():
    """4,000 x 40,000 CSR at 0.1% density: dense it would take 1.28 GB. Training (both the
    forward product and the first layer's weight gradient are sparse-dense products) and
    predicting stay within a few tens of MB, the weights and solver state included.
    (benchmarks/bench_sklearn.py measures 100,000 x 50,000.)"""
    rng = np.random.default_rng(0)
    n, m, nnz = 4_000, 40_000, 160_000  # (sp.random would permute all n·m cells)
    rows, columns = rng.integers(0, n, nnz), rng.integers(0, m, nnz)
    X = sp.csr_matrix((rng.uniform(size=nnz), (rows, columns)), shape=(n, m))
    sums = np.asarray(X.sum(axis=1)).ravel()
    y = (sums > np.median(sums)).astype(int)
    dense_bytes = X.shape[0] * X.shape[1] * 8
    clf = MLPClassifier((8,), max_iter=2, batch_size=1000, random_state=0)
    tracemalloc.start()
    try:
        clf.fit(X, y)
        proba = clf.predict_proba(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert proba.shape == (4_000, 2)
    assert peak < dense_bytes / 30, peak  # measured: 21 MB of 1280


@IGNORE_CONVERGENCE
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_input_gives_the_dense_result(fmt, solver):
    X, y = _blobs()
    X[np.abs(X) < 2] = 0.0
    kw = dict(hidden_layer_sizes=(8,), max_iter=30, solver=solver, random_state=0)
    dense = MLPClassifier(**kw).fit(X, y)
    sparse = MLPClassifier(**kw).fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(sparse.coefs_[0], dense.coefs_[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csr_matrix(X).asformat(fmt)), dense.predict_proba(X), atol=1e-12
    )
    if solver == "adam":
        sparse.partial_fit(sp.csr_matrix(X).asformat(fmt), y)
        dense.partial_fit(X, y)
        np.testing.assert_allclose(sparse.coefs_[0], dense.coefs_[0], rtol=1e-9, atol=1e-12)


# -------------------------------------------------------------------------- divergence


def test_divergence_on_a_first_fit_raises_and_leaves_the_estimator_unfitted():
    rng = np.random.default_rng(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    reg = MLPRegressor()
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        reg.fit(X, rng.normal(size=10))
    assert not hasattr(reg, "coefs_") and not hasattr(reg, "model_")
    with pytest.raises(NotFittedError):
        reg.predict(X)


@IGNORE_CONVERGENCE
def test_divergence_in_a_warm_start_restores_the_previous_model():
    X, y = _regression()
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, warm_start=True, random_state=0).fit(
        X, y
    )
    before = reg.predict(X)
    curve = list(reg.loss_curve_)
    with pytest.raises(ValueError, match="non-finite"):
        reg.fit(X * 1e300, y)
    np.testing.assert_array_equal(reg.predict(X), before)
    assert reg.loss_curve_ == curve
    with pytest.raises(ValueError, match="non-finite"):
        reg.partial_fit(X * 1e300, y)
    np.testing.assert_array_equal(reg.predict(X), before)


def test_divergence_with_early_stopping_keeps_the_best_validation_weights():
    """scikit-learn's diverging example (its test_mlp_diverging_loss): the loss overflows;
    training stops there, with a warning, the last validation score NaN and the weights of
    the best validation score (finite)."""
    X, y = load_iris(return_X_y=True)
    reg = MLPRegressor(
        hidden_layer_sizes=100,
        activation="identity",
        solver="sgd",
        learning_rate_init=1,
        max_iter=20,
        early_stopping=True,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="infinite or NaN"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1])
    assert all(np.isfinite(w).all() for w in reg.coefs_)
    assert np.isfinite(reg.predict(X)).all()


# ---------------------------------------------------------------- coefs_ and intercepts_


@IGNORE_CONVERGENCE
def test_coefs_and_intercepts_can_be_assigned_whole_or_in_part():
    X, y = _blobs()
    clf = MLPClassifier((5,), max_iter=30, random_state=0).fit(X, y)
    clf.coefs_ = [np.zeros_like(w) for w in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3)
    clf.intercepts_[1] = np.array([0.0, 5.0, 0.0])
    assert set(clf.predict(X)) == {1}
    clf.coefs_[1][...] = 0.0  # in place: coefs_ are views into the network
    clf.intercepts_[1][:] = [3.0, 0.0, 0.0]
    assert set(clf.predict(X)) == {0}
    assert clf.intercepts_[1] is clf.model_.layers[-1].params["b"]
    clf.coefs_[0] = np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"coefs_\[0\] has shape \(3, 5\)"):
        clf.predict(X)


def test_weights_assigned_before_partial_fit_are_the_starting_point():
    """As scikit-learn allows: set coefs_/intercepts_ (and n_features_in_) on a new estimator,
    then partial_fit continues from them (one SGD step here, checked by hand)."""
    X, y = np.array([[1.0, 2.0]]), np.array([1])
    reg = MLPRegressor(
        hidden_layer_sizes=(1,), activation="identity", solver="sgd", momentum=0.0, alpha=0.0
    )
    reg.set_params(learning_rate_init=0.1)
    reg.coefs_ = [np.array([[1.0], [0.0]]), np.array([[2.0]])]
    reg.intercepts_ = [np.array([0.0]), np.array([0.0])]
    reg.n_features_in_ = 2
    reg.partial_fit(X, y)
    # p = 2·(1·1) = 2, δ = p − y = 1: ∂W2 = h·δ = 1, ∂W1 = x·(δ·W2) = [2, 4], ∂b = δ's.
    np.testing.assert_allclose(reg.coefs_[1], [[2.0 - 0.1 * 1.0]])
    np.testing.assert_allclose(reg.coefs_[0], [[1.0 - 0.1 * 2.0], [0.0 - 0.1 * 4.0]])
    np.testing.assert_allclose(reg.intercepts_[0], [-0.1 * 2.0])


# ------------------------------------------------------------------ stopping and schedules


def test_n_iter_no_change_inf_turns_the_stopping_rule_off():
    X, y = _blobs()
    clf = MLPClassifier((4,), tol=1e9, max_iter=15, n_iter_no_change=np.inf, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(15\)"):
        clf.fit(X, y)
    assert clf.n_iter_ == 15
    assert clf._no_improvement_count == 14


@IGNORE_CONVERGENCE
def test_warm_start_on_other_classes_is_refused_and_changes_nothing():
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=5, warm_start=True, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        clf.fit(X, np.where(y == 2, 7, y))
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])


@IGNORE_CONVERGENCE
def test_invscaling_and_adaptive_learning_rates():
    X, y = _blobs()
    clf = MLPClassifier(
        (4,), solver="sgd", learning_rate="invscaling", power_t=0.25, max_iter=3, random_state=0
    ).fit(X, y)
    assert clf._optimizer.learning_rate == pytest.approx(0.001 / (3 * len(X) + 1) ** 0.25)
    clf = MLPClassifier(
        (4,), solver="sgd", learning_rate="adaptive", tol=10.0, max_iter=500, random_state=0
    ).fit(X, y)
    # Each time the rule fires the rate is divided by 5, until it is at most 1e-6.
    # The first epoch sets best_loss_; after it every epoch counts as no improvement
    # (tol=10), so the rule fires every n_iter_no_change + 1 epochs: 5 divisions, then stop.
    assert clf._optimizer.learning_rate == pytest.approx(0.001 / 5**5)
    assert clf.n_iter_ == 1 + 6 * (clf.n_iter_no_change + 1)


def test_lbfgs_limits_and_dtype():
    X, y = _blobs()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf = MLPClassifier((8,), solver="lbfgs", max_fun=5, random_state=0).fit(X, y)
    assert clf.n_iter_ <= 5
    clf = MLPClassifier((8,), solver="lbfgs", tol=1e-3, random_state=0).fit(X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32 and clf.score(X, y) > 0.95
    assert len(clf.loss_curve_) == clf.n_iter_  # an extra: scikit-learn keeps none for lbfgs
    assert not hasattr(clf, "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


@IGNORE_CONVERGENCE
def test_poisson_loss_predicts_positive_rates():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(300, 2))
    y = rng.poisson(np.exp(1 + X[:, 0] - X[:, 1]))
    reg = MLPRegressor(hidden_layer_sizes=(4,), loss="poisson", solver="lbfgs", random_state=0).fit(
        X, y
    )
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()
    assert np.corrcoef(reg.predict(X), np.exp(1 + X[:, 0] - X[:, 1]))[0, 1] > 0.95
    with pytest.raises(ValueError, match="y >= 0"):
        MLPRegressor(loss="poisson").fit(X, -y)


# ----------------------------------------------------------------------------- pickling


@IGNORE_CONVERGENCE
def test_unpickled_coefs_are_views_of_the_unpickled_network():
    X, y = _blobs()
    clf = MLPClassifier((5,), max_iter=10, random_state=0).fit(X, y)
    before = clf.predict(X)
    other = pickle.loads(pickle.dumps(clf))
    assert other.coefs_[0] is other.model_.layers[0].params["W"]
    other.intercepts_[1][:] = [0.0, 0.0, 50.0]
    assert set(other.predict(X)) == {2}
    np.testing.assert_array_equal(clf.predict(X), before)  # the original is independent


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_every_sklearn_parameter_is_accepted_with_its_default(kind):
    from sklearn.neural_network import MLPClassifier as TheirClassifier
    from sklearn.neural_network import MLPRegressor as TheirRegressor

    ours, theirs = (
        (MLPClassifier, TheirClassifier) if kind == "classifier" else (MLPRegressor, TheirRegressor)
    )
    their_params = theirs().get_params()
    our_defaults = ours().get_params()
    assert {name: our_defaults[name] for name in their_params} == their_params
    assert ours(**their_params).get_params() == our_defaults
