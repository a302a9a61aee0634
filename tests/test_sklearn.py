"""The scikit-learn estimators: scikit-learn's own estimator checks, meta-estimators and joblib,
parity with scikit-learn's MLPClassifier/MLPRegressor (exact training trajectories from the
same initial weights, and test accuracy/R² on real data), the fitted attributes, sample and
class weights, the scratchnn extras (activations, losses, dropout, batch norm, solvers),
partial_fit, warm_start, early stopping, parameter validation, and saving/pickling."""

from __future__ import annotations

import copy
import pickle
from itertools import pairwise

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6", reason="scikit-learn >= 1.6 is the sklearn extra")

from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import (
    load_digits,
    make_blobs,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

import scratchnn as snn
from scratchnn import losses, optim
from scratchnn.sklearn import MLPClassifier, MLPRegressor

#: For tests that run deliberately few epochs: reaching max_iter is expected there.
IGNORE_CONVERGENCE = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------------------------- data


def _blobs(n: int = 150, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated blobs in 4-D: every reasonable network classifies them."""
    return make_blobs(
        n_samples=n, centers=classes, n_features=4, cluster_std=1.0, random_state=seed
    )


def _regression(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 3))
    y = X[:, 0] + 2 * X[:, 1] * X[:, 2] + 0.05 * rng.normal(size=n)
    return X, y


def _assert_same_weights(a, b) -> None:
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(wa, wb)


# -------------------------------------------------------------- scikit-learn's own checks


# scikit-learn's own common test (sklearn/tests/test_common.py) runs these checks inside
# ignore_warnings(category=ConvergenceWarning, ...): several checks fit on purpose with too few
# iterations. Only ConvergenceWarning is ignored here; every other warning still fails.
@IGNORE_CONVERGENCE
@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------------- meta-estimators


def test_pipeline_with_standard_scaler_on_raw_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    pipe = make_pipeline(
        StandardScaler(), MLPClassifier((32,), learning_rate_init=0.01, random_state=0)
    )
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.95
    assert pipe.predict_proba(X_test).shape == (len(X_test), 10)
    assert pipe[-1].n_features_in_ == 64


@IGNORE_CONVERGENCE
def test_cross_val_score_classifier_and_regressor():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        MLPClassifier((32,), learning_rate_init=0.01, max_iter=50, random_state=0),
    )
    scores = cross_val_score(pipe, X[:600], y[:600], cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.83  # unshuffled folds of 600 digits (scikit-learn's MLP: 0.873)
    assert scores.min() > 0.75
    X, y = _regression(150)
    r2 = cross_val_score(
        MLPRegressor(
            hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=150, random_state=0
        ),
        X,
        y,
        cv=3,
    )
    assert r2.min() > 0.8


@IGNORE_CONVERGENCE  # propagated to the loky workers by scikit-learn's joblib wrapper
def test_grid_search_is_identical_with_one_and_two_jobs():
    X, y = load_digits(return_X_y=True)
    X, y = X[:450], y[:450]
    grid = {
        "mlpclassifier__hidden_layer_sizes": [(8,), (16,)],
        "mlpclassifier__alpha": [1e-4, 1.0],
    }
    searches = []
    for n_jobs in (1, 2):
        pipe = make_pipeline(
            StandardScaler(),
            MLPClassifier(learning_rate_init=0.01, max_iter=20, random_state=0),
        )
        search = GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs, error_score="raise")
        searches.append(search.fit(X, y))
    serial, parallel = searches
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    assert serial.best_params_ == parallel.best_params_
    assert serial.best_score_ > 0.85
    best = serial.best_estimator_[-1]
    assert best.hidden_layer_sizes == serial.best_params_["mlpclassifier__hidden_layer_sizes"]
    np.testing.assert_array_equal(serial.predict(X), parallel.predict(X))


def test_clone_gives_an_unfitted_copy_that_refits_identically():
    X, y = _blobs()
    est = MLPClassifier((8,), activation=["tanh"], learning_rate_init=0.01, random_state=3)
    est.fit(X, y)
    copy_ = clone(est)
    with pytest.raises(NotFittedError):
        check_is_fitted(copy_)
    assert not hasattr(copy_, "model_")
    assert copy_.get_params() == est.get_params()
    copy_.fit(X, y)  # the same random_state: bit-identical training
    assert copy_.model_ is not est.model_
    np.testing.assert_array_equal(copy_.predict_proba(X), est.predict_proba(X))
    assert copy_.loss_curve_ == est.loss_curve_


def _fit_and_score(estimator, X, y):
    estimator.fit(X, y)
    return estimator.score(X, y), estimator.loss_curve_


def test_joblib_parallel_training_and_prediction_match_serial():
    X, y = _blobs(200)
    base = MLPClassifier((8,), learning_rate_init=0.01, random_state=0)
    jobs = [delayed(_fit_and_score)(clone(base).set_params(random_state=s), X, y) for s in range(4)]
    serial = Parallel(n_jobs=1)(jobs)
    parallel = Parallel(n_jobs=2, backend="loky")(jobs)
    for (score, curve), (score_p, curve_p) in zip(serial, parallel, strict=True):
        assert score == score_p
        # (Bit-identical here; the tolerance only allows a BLAS that sums differently with
        # the fewer threads that loky gives each worker.)
        np.testing.assert_allclose(curve, curve_p, rtol=1e-12)
    # A fitted estimator crosses into worker processes (pickled) and predicts the same there.
    fitted = base.fit(X, y)
    chunks = np.array_split(X, 4)
    proba = Parallel(n_jobs=2, backend="loky")(delayed(fitted.predict_proba)(c) for c in chunks)
    np.testing.assert_allclose(np.vstack(proba), fitted.predict_proba(X), rtol=1e-12)


# -------------------------------------------------------------------- fitted attributes


def _relu(z):
    return np.maximum(z, 0)


def test_classifier_fitted_attributes():
    X, y = _blobs()
    clf = MLPClassifier((8, 5), learning_rate_init=0.01, max_iter=1000, random_state=0).fit(X, y)
    assert clf.n_iter_ < clf.max_iter  # converged: no ConvergenceWarning (it would fail)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 4
    assert not hasattr(clf, "feature_names_in_")  # NumPy input has no column names
    assert isinstance(clf.model_, snn.Sequential)
    assert len(clf.loss_curve_) == clf.n_iter_
    assert np.all(np.isfinite(clf.loss_curve_))
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.t_ == clf.n_iter_ * len(X)
    assert [w.shape for w in clf.coefs_] == [(4, 8), (8, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (5,), (3,)]
    assert clf.n_layers_ == 4
    assert clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    assert clf.validation_loss_curve_ == []
    assert clf.validation_scores_ is None
    assert clf.best_validation_score_ is None
    # coefs_ and intercepts_ mean what they mean in scikit-learn: the forward pass.
    h = X
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1], strict=True):
        h = _relu(h @ W + b)
    logits = h @ clf.coefs_[-1] + clf.intercepts_[-1]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-10)
    assert clf.score(X, y) > 0.95


def test_binary_classifier_has_one_logistic_output():
    X, y = _blobs(classes=2)
    clf = MLPClassifier((6,), learning_rate_init=0.01, random_state=0).fit(X, y)
    assert clf.n_outputs_ == 1
    assert clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == (6, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    logit = _relu(X @ clf.coefs_[0] + clf.intercepts_[0]) @ clf.coefs_[1] + clf.intercepts_[1]
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logit[:, 0])), rtol=1e-10)
    np.testing.assert_array_equal(
        clf.predict_log_proba(X), np.log(proba)
    )  # (log of 0 gives -inf, never a warning)
    assert clf.score(X, y) > 0.95


def test_regressor_fitted_attributes_and_multi_output():
    X, y = _regression()
    reg = MLPRegressor(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=500, random_state=0
    ).fit(X, y)
    assert reg.n_iter_ < 500
    assert reg.n_outputs_ == 1
    assert reg.out_activation_ == "identity"
    assert reg.predict(X).shape == (len(X),)
    assert [w.shape for w in reg.coefs_] == [(3, 16), (16, 1)]
    assert reg.best_loss_ == min(reg.loss_curve_)
    manual = _relu(X @ reg.coefs_[0] + reg.intercepts_[0]) @ reg.coefs_[1] + reg.intercepts_[1]
    np.testing.assert_allclose(reg.predict(X), manual[:, 0], rtol=1e-10)
    assert reg.score(X, y) > 0.9

    Y = np.column_stack([y, X[:, 0] - X[:, 2]])
    multi = MLPRegressor(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=500, random_state=0
    ).fit(X, Y)
    assert multi.n_outputs_ == 2
    assert multi.coefs_[-1].shape == (16, 2)
    assert multi.predict(X).shape == (len(X), 2)
    assert multi.score(X, Y) > 0.9


def test_feature_names_in_with_a_dataframe(tmp_path):
    pd = pytest.importorskip("pandas", reason="feature_names_in_ needs a DataFrame (pandas)")
    X, y = _blobs()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier((6,), learning_rate_init=0.01, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    clf.save(tmp_path / "clf.npz")
    loaded = MLPClassifier.load(tmp_path / "clf.npz")
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


@pytest.mark.parametrize("labels", [np.array([3, 7, 9]), np.array(["cat", "dog", "emu"])])
def test_labels_are_returned_as_given(labels):
    X, y = _blobs()
    clf = MLPClassifier((8,), learning_rate_init=0.01, random_state=0).fit(X, labels[y])
    np.testing.assert_array_equal(clf.classes_, labels)
    predicted = clf.predict(X)
    assert predicted.dtype.kind == labels.dtype.kind
    assert set(predicted) <= set(labels)
    assert np.mean(predicted == labels[y]) > 0.95
    assert clf.score(X, labels[y]) > 0.95


def test_binary_string_labels():
    X, y = _blobs(classes=2)
    labels = np.array(["no", "yes"])[y]
    clf = MLPClassifier((6,), learning_rate_init=0.01, random_state=0).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    assert clf.predict(X).dtype.kind == "U"
    assert clf.score(X, labels) > 0.95


@IGNORE_CONVERGENCE
def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(n_samples=200, n_features=6, n_classes=3, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier((32,), learning_rate_init=0.01, max_iter=500, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_outputs_ == 3
    assert clf.out_activation_ == "logistic"
    predicted = clf.predict(X)
    assert predicted.shape == Y.shape
    assert set(np.unique(predicted)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    assert np.all((proba >= 0) & (proba <= 1))
    assert not np.allclose(proba.sum(axis=1), 1.0)  # independent sigmoids, not a softmax
    np.testing.assert_array_equal(predicted, (proba >= 0.5).astype(int))
    assert clf.score(X, Y) > 0.85  # subset accuracy: all three labels right


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_dtype_is_kept(dtype):
    X, y = _blobs()
    X = X.astype(dtype)
    clf = MLPClassifier((8,), learning_rate_init=0.01, random_state=0).fit(X, y)
    assert clf.model_.dtype == dtype
    assert clf.predict_proba(X).dtype == dtype
    assert clf.coefs_[0].dtype == dtype
    Xr, yr = _regression()
    reg = MLPRegressor(
        hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=500, random_state=0
    )
    reg.fit(Xr.astype(dtype), yr)
    assert reg.model_.dtype == dtype
    assert reg.predict(Xr.astype(dtype)).dtype == dtype


def test_integer_input_trains_in_float64():
    X, y = _blobs()
    clf = MLPClassifier((8,), learning_rate_init=0.01, random_state=0)
    clf.fit(np.round(X * 10).astype(np.int64), y)
    assert clf.model_.dtype == np.float64


# ------------------------------------------------------------------ sample/class weights


def _weighted_pair(Est, repeated_or_removed: str, partial: bool):
    """Fit once with integer sample weights and once on the data repeated that many times
    (0 = removed), full batch so that the order of the samples does not matter."""
    if Est is MLPClassifier:
        X, y = _blobs(60)
        kw = {"classes": [0, 1, 2]} if partial else {}
    else:
        X, y = _regression(60)
        kw = {}
    rng = np.random.default_rng(1)
    if repeated_or_removed == "repeated":
        weights = rng.integers(0, 4, size=len(X))
    else:
        weights = (rng.uniform(size=len(X)) > 0.3).astype(int)
    weights[:6] = 1  # every class keeps samples
    params = dict(
        hidden_layer_sizes=(6,),
        learning_rate_init=0.01,
        max_iter=15,
        random_state=0,
        alpha=0.01,
    )
    X_rep, y_rep = np.repeat(X, weights, axis=0), np.repeat(y, weights, axis=0)
    weighted = Est(**params, batch_size=len(X))
    repeated = Est(**params, batch_size=len(X_rep))
    if partial:
        for _ in range(3):
            weighted.partial_fit(X, y, sample_weight=weights, **kw)
            repeated.partial_fit(X_rep, y_rep, **kw)
    else:
        weighted.fit(X, y, sample_weight=weights)
        repeated.fit(X_rep, y_rep)
    return weighted, repeated, X


@IGNORE_CONVERGENCE
@pytest.mark.parametrize("partial", [False, True], ids=["fit", "partial_fit"])
@pytest.mark.parametrize("kind", ["repeated", "removed"])
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_integer_sample_weights_equal_repetition(Est, kind, partial):
    weighted, repeated, X = _weighted_pair(Est, kind, partial)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)
    for a, b in zip(weighted.coefs_, repeated.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(weighted.model_.predict(X), repeated.model_.predict(X), atol=1e-8)


@IGNORE_CONVERGENCE
def test_sample_weights_change_training_and_are_validated():
    X, y = _blobs(60)
    kw = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    plain = MLPClassifier(**kw).fit(X, y)
    weighted = MLPClassifier(**kw).fit(X, y, sample_weight=np.linspace(0.1, 3, len(X)))
    assert plain.loss_curve_ != weighted.loss_curve_
    with pytest.raises(ValueError, match="one weight per sample"):
        MLPClassifier(**kw).fit(X, y, sample_weight=np.ones(len(X) - 1))
    with pytest.raises(ValueError, match=">= 0"):
        MLPClassifier(**kw).fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="all zero"):
        MLPClassifier(**kw).fit(X, y, sample_weight=np.zeros(len(X)))


def _imbalanced() -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping classes, 14% minority: unweighted, the minority is never predicted."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(220, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=220) > 1.3).astype(int)
    return X, y


@IGNORE_CONVERGENCE
@pytest.mark.parametrize("class_weight", [{1: 10.0}, "balanced"])
def test_class_weight_raises_minority_recall(class_weight):
    X, y = _imbalanced()
    kw = dict(hidden_layer_sizes=(8,), random_state=0)
    plain = MLPClassifier(**kw).fit(X, y)
    weighted = MLPClassifier(**kw, class_weight=class_weight).fit(X, y)
    plain_recall = recall_score(y, plain.predict(X))
    weighted_recall = recall_score(y, weighted.predict(X))
    assert weighted_recall > plain_recall + 0.3, (plain_recall, weighted_recall)


@IGNORE_CONVERGENCE
def test_class_weight_equals_the_matching_sample_weight():
    X, y = _blobs(60)
    kw = dict(hidden_layer_sizes=(6,), batch_size=len(X), max_iter=10, random_state=0, alpha=0.0)
    by_class = MLPClassifier(**kw, class_weight={0: 1.0, 1: 3.0, 2: 0.5}).fit(X, y)
    by_sample = MLPClassifier(**kw).fit(X, y, sample_weight=np.array([1.0, 3.0, 0.5])[y])
    np.testing.assert_allclose(by_class.loss_curve_, by_sample.loss_curve_, rtol=1e-10)


@IGNORE_CONVERGENCE
@pytest.mark.parametrize(
    ("labels", "class_weight"),
    [
        pytest.param(np.array([3, 7]), {7: 10.0}, id="int-labels"),
        pytest.param(np.array(["neg", "pos"]), {"pos": 10.0}, id="str-labels"),
    ],
)
def test_class_weight_keys_are_class_labels(labels, class_weight):
    X, y = _imbalanced()
    clf = MLPClassifier((8,), random_state=0, class_weight=class_weight).fit(X, labels[y])
    assert recall_score(labels[y], clf.predict(X), pos_label=labels[1]) > 0.5


# ------------------------------------------------------------------- scratchnn's extras


def _layer_names(est) -> list[str]:
    return [type(layer).__name__ for layer in est.model_.layers]


@IGNORE_CONVERGENCE
def test_one_activation_per_hidden_layer():
    X, y = _blobs()
    clf = MLPClassifier(
        (8, 6), activation=["relu", "tanh"], learning_rate_init=0.01, random_state=0
    ).fit(X, y)
    assert _layer_names(clf) == ["Dense", "ReLU", "Dense", "Tanh", "Dense"]
    assert clf.score(X, y) > 0.95


@pytest.mark.parametrize(
    ("activation", "layer"),
    [
        ("leaky_relu", "LeakyReLU"),
        ("gelu", "GELU"),
        ("elu", "ELU"),
        ("silu", "SiLU"),
        ("tanh", "Tanh"),
        ("logistic", "Sigmoid"),
        ("identity", "Identity"),
    ],
)
def test_activations(activation, layer):
    X, y = _blobs()
    clf = MLPClassifier(
        (8,), activation=activation, learning_rate_init=0.01, max_iter=500, random_state=0
    ).fit(X, y)
    assert _layer_names(clf) == ["Dense", layer, "Dense"]
    assert clf.score(X, y) > 0.95


def test_regression_losses_mae_and_huber_resist_outliers():
    """15% of the targets are shifted by +10: the squared error follows them, MAE ignores
    them, Huber (linear beyond δ=1) sits between."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(200, 1))
    y = np.sin(X[:, 0]) + 0.05 * rng.normal(size=200)
    y[rng.choice(200, 30, replace=False)] += 10
    X_clean = np.linspace(-2, 2, 50)[:, None]
    errors = {}
    for loss, cls in [
        ("squared_error", losses.MSE),
        ("absolute_error", losses.MAE),
        ("huber", losses.Huber),
    ]:
        reg = MLPRegressor(
            hidden_layer_sizes=(16,),
            loss=loss,
            learning_rate_init=0.01,
            batch_size=50,
            max_iter=300,
            random_state=0,
        ).fit(X, y)
        assert type(reg.model_.loss) is cls
        errors[loss] = np.abs(reg.predict(X_clean) - np.sin(X_clean[:, 0])).mean()
    assert errors["absolute_error"] < 0.2
    assert errors["huber"] < 0.4
    assert errors["squared_error"] > 1.0
    assert errors["absolute_error"] < errors["huber"] < errors["squared_error"]


def test_dropout_and_batch_norm():
    X, y = _blobs(160)
    clf = MLPClassifier(
        (16, 8),
        dropout=0.2,
        batch_norm=True,
        learning_rate_init=0.01,
        batch_size=32,
        random_state=0,
    ).fit(X, y)
    assert _layer_names(clf) == [
        "Dense",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
        "Dense",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
        "Dense",
    ]
    assert [w.shape for w in clf.coefs_] == [(4, 16), (16, 8), (8, 3)]  # Dense layers only
    # Inference is deterministic: no dropout, running batch-norm statistics.
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(clf.predict_proba(X[:7]), clf.predict_proba(X)[:7])
    assert clf.score(X, y) > 0.95
    plain = MLPClassifier((16, 8), learning_rate_init=0.01, batch_size=32, random_state=0)
    assert plain.fit(X, y).loss_curve_[:3] != clf.loss_curve_[:3]


@pytest.mark.parametrize(
    ("solver", "optimizer"),
    [
        ("adam", None),
        ("sgd", None),
        ("lbfgs", None),
        ("adamw", optim.AdamW),
        ("rmsprop", optim.RMSProp),
        ("adagrad", optim.Adagrad),
    ],
)
def test_solvers(solver, optimizer):
    X, y = _blobs()
    clf = MLPClassifier(
        (8,), solver=solver, learning_rate_init=0.01, max_iter=500, random_state=0
    ).fit(X, y)
    if optimizer is not None:  # scratchnn's own optimizers drive the extra solvers
        assert type(clf._optimizer.optimizer) is optimizer
        assert clf._optimizer.optimizer.lr == 0.01
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 2
    assert clf.score(X, y) > 0.95


# ------------------------------------------------------------------------ partial_fit


def test_partial_fit_needs_classes_on_the_first_call():
    X, y = _blobs()
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)


def test_partial_fit_improves_over_calls_without_convergence_warnings():
    X, y = _blobs()
    clf = MLPClassifier((8,), learning_rate_init=0.01, random_state=0)
    for _ in range(20):  # warnings are errors: partial_fit never warns about max_iter
        clf.partial_fit(X, y, classes=[0, 1, 2])
    # As scikit-learn: n_iter_ counts the epochs of the last call, loss_curve_ all of them.
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 20
    assert clf.t_ == 20 * len(X)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 3
    assert np.all(np.diff(clf.loss_curve_[:10]) < 0)
    assert clf.score(X, y) > 0.95

    Xr, yr = _regression()
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    for _ in range(20):
        reg.partial_fit(Xr, yr)
    assert reg.loss_curve_[-1] < reg.loss_curve_[0] / 3


def test_partial_fit_in_mini_batches_with_classes_absent_from_the_first():
    X, y = _blobs()
    order = np.argsort(y, kind="stable")  # the first chunk holds class 0 only
    clf = MLPClassifier((8,), learning_rate_init=0.01, random_state=0)
    for _ in range(5):
        for chunk in np.array_split(order, 5):
            clf.partial_fit(X[chunk], y[chunk], classes=np.array([2, 0, 1]))
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_outputs_ == 3
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 25


def test_partial_fit_rejects_other_classes_and_unseen_labels():
    X, y = _blobs()
    clf = MLPClassifier((8,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"`y` has classes not in `self\.classes_`"):
        clf.partial_fit(X, np.where(y == 2, 5, y))
    clf.partial_fit(X, y, classes=[2, 1, 0])  # the same classes, in any order


def test_partial_fit_is_one_epoch_of_fit():
    X, y = _blobs()
    kw = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=0)
    partial = MLPClassifier(**kw).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(1\) reached"):
        full = MLPClassifier(**kw, max_iter=1).fit(X, y)
    _assert_same_weights(partial, full)
    assert partial.loss_curve_ == full.loss_curve_


# -------------------------------------------------------- convergence, warm start, stopping


def test_convergence_warning_when_max_iter_is_reached():
    X, y = _blobs()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        clf = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3
    Xr, yr = _regression()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(Xr, yr)


def test_converged_fit_stops_by_the_tol_rule():
    """Training stops once the loss has not improved by tol for more than n_iter_no_change
    epochs (scikit-learn's rule), with no warning."""
    X, y = _blobs()
    clf = MLPClassifier(
        (8,), learning_rate_init=0.01, tol=1e-2, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    curve = np.array(clf.loss_curve_)
    assert 5 < clf.n_iter_ < clf.max_iter
    # Epoch i "did not improve" when its loss exceeds the best loss before it minus tol.
    no_improvement = curve[1:] > np.minimum.accumulate(curve)[:-1] - 1e-2
    assert no_improvement[-4:].all()  # n_iter_no_change + 1 = 4 epochs in a row...
    assert not no_improvement[-5]  # ...for the first time
    assert clf.best_loss_ == curve.min()


@IGNORE_CONVERGENCE
def test_warm_start_continues_from_the_previous_weights():
    X, y = _blobs()
    kw = dict(
        hidden_layer_sizes=(8,), learning_rate_init=0.01, batch_size=32, tol=0.0, random_state=0
    )
    warm = MLPClassifier(**kw, max_iter=5, warm_start=True).fit(X, y)
    first_curve = list(warm.loss_curve_)
    warm.fit(X, y)
    # As scikit-learn: n_iter_ restarts from 0 at every fit, even with warm_start, while
    # loss_curve_ and t_ accumulate; the weights carry over, and each fit starts a fresh
    # optimizer (so a changed learning rate or solver takes effect).
    assert warm.n_iter_ == 5 and len(warm.loss_curve_) == 10
    assert warm.t_ == 10 * len(X)
    assert warm.loss_curve_[:5] == first_curve
    assert warm.loss_curve_[5] < first_curve[0] / 2  # did not start over
    assert warm._optimizer.t == 5 * -(-len(X) // 32)  # Adam's step count: this fit's only

    cold = MLPClassifier(**kw, max_iter=5).fit(X, y)
    before = [w.copy() for w in cold.coefs_]
    cold.fit(X, y)  # no warm_start: starts over, from the same initial weights
    assert cold.n_iter_ == len(cold.loss_curve_) == 5
    assert cold.loss_curve_ == first_curve
    for a, b in zip(before, cold.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


@IGNORE_CONVERGENCE
def test_warm_start_fit_uses_the_new_learning_rate():
    X, y = _blobs()
    clf = MLPClassifier((8,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(learning_rate_init=0.05, solver="sgd").fit(X, y)
    assert type(clf._optimizer).__name__ == "SGD"
    assert clf._optimizer.learning_rate == 0.05


def _held_out_rows(est, n: int) -> np.ndarray:
    """The validation rows early_stopping held out, found as scikit-learn finds them: the
    random state first draws the initial weights (W then b, layer by layer), then splits
    (stratified only for single-output classification, not used here)."""
    rs = check_random_state(est.random_state)
    units = [est.n_features_in_, *est.hidden_layer_sizes, est.n_outputs_]
    for fan_in, fan_out in pairwise(units):
        rs.uniform(size=(fan_in, fan_out))
        rs.uniform(size=fan_out)
    _, held_out = train_test_split(np.arange(n), random_state=rs, test_size=est.validation_fraction)
    return held_out


def test_early_stopping_stops_and_restores_the_best_validation_weights():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16, y[:400]
    clf = MLPClassifier(
        (64,), early_stopping=True, learning_rate_init=0.01, n_iter_no_change=5, random_state=1
    ).fit(X, y)
    assert clf.n_iter_ < 50  # no ConvergenceWarning either
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == clf.n_iter_
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_loss_ is None  # as in scikit-learn
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.t_ == clf.n_iter_ * (len(X) - 40)  # the held-out 10% is not trained on
    held_out = _held_out_rows(clf, len(X))
    assert len(held_out) == 40
    assert clf.score(X[held_out], y[held_out]) == clf.best_validation_score_


def test_early_stopping_regressor_scores_r2():
    X, y = _regression(200)
    reg = MLPRegressor(
        hidden_layer_sizes=(32,),
        early_stopping=True,
        learning_rate_init=0.01,
        n_iter_no_change=5,
        random_state=0,
    ).fit(X, y)
    assert reg.n_iter_ < reg.max_iter
    assert len(reg.validation_scores_) == reg.n_iter_
    held_out = _held_out_rows(reg, len(X))
    assert reg.score(X[held_out], y[held_out]) == pytest.approx(reg.best_validation_score_)
    assert reg.best_validation_score_ > 0.8


def test_partial_fit_after_an_early_stopping_fit():
    """As scikit-learn: partial_fit refuses early_stopping, and leaves the model as it was."""
    X, y = _blobs()
    clf = MLPClassifier((8,), early_stopping=True, learning_rate_init=0.01, random_state=0)
    clf.fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_verbose_prints_one_line_per_iteration(capsys):
    X, y = _blobs()
    clf = MLPClassifier((8,), learning_rate_init=0.01, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    # One line per iteration, then scikit-learn's reason for stopping.
    assert len(lines) == clf.n_iter_ + 1
    assert lines[0].startswith("Iteration 1, loss = ")
    assert float(lines[-2].split("= ")[1]) == pytest.approx(clf.loss_curve_[-1], rel=1e-6)
    assert lines[-1].startswith("Training loss did not improve more than tol=")
    MLPClassifier((8,), learning_rate_init=0.01, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------- parameter checks


@pytest.mark.parametrize(
    ("Est", "params", "match"),
    [
        (MLPClassifier, {"solver": "newton"}, "'solver' parameter of MLPClassifier"),
        (MLPRegressor, {"solver": "lbfgs", "dropout": 0.5}, "needs a stochastic solver"),
        (MLPClassifier, {"learning_rate": "fast"}, "learning_rate"),
        (MLPClassifier, {"power_t": -1.0}, "power_t"),
        (MLPClassifier, {"max_fun": 0}, "max_fun"),
        (MLPClassifier, {"momentum": 1.5}, "momentum"),
        (MLPClassifier, {"n_iter_no_change": 2.5}, "np.inf"),
        (MLPClassifier, {"alpha": -1.0}, "alpha"),
        (MLPClassifier, {"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes must be positive"),
        (MLPClassifier, {"hidden_layer_sizes": (-3,)}, "hidden_layer_sizes must be positive"),
        (MLPClassifier, {"hidden_layer_sizes": (4.5,)}, "hidden_layer_sizes must be positive"),
        (
            MLPClassifier,
            {"hidden_layer_sizes": (8, 8), "activation": ["relu"]},
            "1 names for 2 hidden layers",
        ),
        (
            MLPRegressor,
            {"hidden_layer_sizes": (8,), "activation": ["relu", "tanh"]},
            "2 names for 1 hidden layers",
        ),
        (MLPClassifier, {"activation": "swishy"}, "swishy"),
        (MLPRegressor, {"loss": "hinge"}, "loss"),
        (MLPClassifier, {"max_iter": 0}, "max_iter"),
        (MLPClassifier, {"learning_rate_init": 0.0}, "learning_rate_init"),
        (MLPClassifier, {"batch_size": 0}, "batch_size"),
        (MLPClassifier, {"tol": -1.0}, "tol"),
        (MLPClassifier, {"n_iter_no_change": 0}, "n_iter_no_change"),
        (MLPClassifier, {"validation_fraction": 1.0}, "validation_fraction"),
        (MLPClassifier, {"dropout": 1.0}, "dropout"),
    ],
)
def test_invalid_parameters_raise_value_error_at_fit(Est, params, match):
    X, y = _blobs(30) if Est is MLPClassifier else _regression(30)
    est = Est(**params)  # the constructor only stores (scikit-learn's convention)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "model_")


@pytest.mark.parametrize("class_weight", ["auto", {0: -1.0}, [1.0, 2.0]])
def test_invalid_class_weight(class_weight):
    X, y = _blobs(30)
    est = MLPClassifier(class_weight=class_weight)
    with pytest.raises(ValueError, match="class_weight"):
        est.fit(X, y)
    # (Unlike the parameters above, class_weight is only checked once the network is built,
    # so the failed fit leaves a model_ behind.)


def test_single_class_is_accepted_as_in_sklearn():
    """One class: one logistic output trained towards 0, predict returns the class, and
    predict_proba has scikit-learn's two columns."""
    X, _ = _blobs(30)
    y = np.full(len(X), "only")
    ours = MLPClassifier((4,), max_iter=20, random_state=0)
    theirs = SkMLPClassifier((4,), max_iter=20, random_state=0)
    with pytest.warns(ConvergenceWarning):
        ours.fit(X, y)
    with pytest.warns(ConvergenceWarning):
        theirs.fit(X, y)
    assert ours.predict(X).tolist() == ["only"] * len(X)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)


def test_regression_targets_are_refused_by_the_classifier():
    X, y = _regression(30)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, y)


# ------------------------------------------------------------------ saving and pickling


def _assert_same_estimator(a, b, X) -> None:
    assert type(a) is type(b)
    assert a.n_features_in_ == b.n_features_in_
    assert a.loss_curve_ == b.loss_curve_
    assert a.validation_loss_curve_ == b.validation_loss_curve_
    assert a.validation_scores_ == b.validation_scores_
    assert a.best_loss_ == b.best_loss_
    assert a.best_validation_score_ == b.best_validation_score_
    assert (a.n_iter_, a.t_) == (b.n_iter_, b.t_)
    assert a.n_outputs_ == b.n_outputs_
    assert a.out_activation_ == b.out_activation_
    assert a.model_.dtype == b.model_.dtype
    _assert_same_weights(a, b)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    if isinstance(a, MLPClassifier):
        np.testing.assert_array_equal(a.classes_, b.classes_)
        assert a.classes_.dtype.kind == b.classes_.dtype.kind
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def _fitted_variants():
    """Estimators that exercise what save/pickle must keep."""
    X, y = _blobs()
    Xr, yr = _regression()
    Xm, Ym = make_multilabel_classification(n_samples=80, n_features=4, n_classes=3, random_state=0)
    strings = np.array(["cat", "dog", "emu"])[y]
    return {
        "classifier-strings": (
            MLPClassifier(
                (8, 6),
                activation=["tanh", "gelu"],
                dropout=0.1,
                batch_norm=True,
                class_weight="balanced",
                batch_size=32,
                solver="rmsprop",
                random_state=0,
            ),
            X.astype(np.float32),
            strings,
        ),
        "classifier-int-class-weight": (
            MLPClassifier((8,), class_weight={0: 2.0, 1: 1.0, 2: 0.5}, random_state=0),
            X,
            y,
        ),
        "binary-early-stopping": (
            MLPClassifier((8,), early_stopping=True, learning_rate_init=0.01, random_state=0),
            X,
            (y == 1).astype(int),
        ),
        "multilabel": (MLPClassifier((8,), random_state=0), Xm, Ym),
        "regressor-huber": (
            MLPRegressor(hidden_layer_sizes=(8,), loss="huber", random_state=0),
            Xr,
            yr,
        ),
        "regressor-multi-output": (
            MLPRegressor(
                hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.01, random_state=0
            ),
            Xr,
            np.column_stack([yr, -yr]),
        ),
    }


_VARIANTS = sorted(_fitted_variants())


@IGNORE_CONVERGENCE
@pytest.mark.parametrize("variant", _VARIANTS)
def test_save_load_round_trip_without_pickle(variant, tmp_path):
    est, X, y = _fitted_variants()[variant]
    est.set_params(max_iter=20).fit(X, y)
    path = tmp_path / "estimator.npz"
    est.save(path)
    with np.load(path, allow_pickle=False) as archive:  # a plain .npz: no pickled objects
        assert "__metadata__" in archive.files
        assert all(archive[name].dtype != object for name in archive.files)
    loaded = type(est).load(path)
    _assert_same_estimator(est, loaded, X)
    expected = est.get_params()
    got = loaded.get_params()
    # random_state is not saved (load gives None; it may be a RandomState); the rest is.
    expected.pop("random_state")
    got.pop("random_state")
    assert got == expected
    # Training resumes exactly (the random generators are in the file) from a new solver:
    # the solver's running state (Adam's moments) is not saved; pickling keeps it.
    if est.early_stopping:
        return  # partial_fit refuses early_stopping=True, as scikit-learn's
    est._optimizer = None
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    _assert_same_estimator(est, loaded, X)


@IGNORE_CONVERGENCE
def test_load_refuses_the_wrong_estimator_or_a_plain_model(tmp_path):
    Xr, yr = _regression(40)
    MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(Xr, yr).save(
        tmp_path / "reg.npz"
    )
    with pytest.raises(ValueError, match="holds an MLPRegressor, not an MLPClassifier"):
        MLPClassifier.load(tmp_path / "reg.npz")
    assert isinstance(MLPRegressor.load(tmp_path / "reg.npz"), MLPRegressor)
    snn.MLP([3, 4, 1], seed=0).save(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="plain scratchnn model"):
        MLPRegressor.load(tmp_path / "plain.npz")


def test_save_needs_a_fitted_estimator(tmp_path):
    with pytest.raises(NotFittedError):
        MLPClassifier().save(tmp_path / "never.npz")


@IGNORE_CONVERGENCE
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
@pytest.mark.parametrize("variant", _VARIANTS)
def test_pickle_and_deepcopy_round_trip(variant, how):
    est, X, y = _fitted_variants()[variant]
    est.set_params(max_iter=20).fit(X, y)
    other = pickle.loads(pickle.dumps(est)) if how == "pickle" else copy.deepcopy(est)
    assert other.model_ is not est.model_
    assert other.get_params() == est.get_params()
    _assert_same_estimator(est, other, X)
    if est.early_stopping:
        return
    est.partial_fit(X, y)  # the copy is independent...
    with pytest.raises(AssertionError):
        _assert_same_weights(est, other)
    other.partial_fit(X, y)  # ...and resumes exactly as the original did
    _assert_same_estimator(est, other, X)


def test_unfitted_estimator_pickles():
    est = MLPClassifier((4, 3), activation=["relu", "elu"], class_weight={0: 2.0})
    other = pickle.loads(pickle.dumps(est))
    assert other.get_params() == est.get_params()
    assert not hasattr(other, "model_")
