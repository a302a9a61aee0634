"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor`` backed by scratchnn.

They follow scikit-learn's conventions (constructor parameters, ``fit``/``partial_fit``/
``predict``/``predict_proba``/``score``, fitted attributes such as ``classes_``,
``loss_curve_`` and ``coefs_``), pass its estimator checks, and work in ``Pipeline``,
``GridSearchCV``, ``cross_val_score`` and ``clone``. Beyond scikit-learn's own MLP they offer
``class_weight``, dropout, batch normalization, a different activation per hidden layer,
leaky ReLU/GELU/ELU/SiLU, MAE and Huber losses, AdamW/RMSProp/Adagrad, and the validation loss
per epoch (``validation_loss_curve_``).

Example:
    >>> from sklearn.datasets import load_iris
    >>> from scratchnn.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True

scikit-learn is imported by this module (``pip install 'scratchnn[sklearn]'``); the rest of
scratchnn never imports it.
"""

from __future__ import annotations

import numbers
import os
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import losses, optim
from .callbacks import Callback
from .layers import BatchNorm1d, Dense, Dropout, Layer, get_activation
from .model import Sequential
from .training import prepare_weights

__all__ = ["MLPClassifier", "MLPRegressor"]

_REGRESSION_LOSSES = {
    "squared_error": losses.MSE,
    "absolute_error": losses.MAE,
    "huber": losses.Huber,
}

#: scikit-learn's activation names, and scratchnn's own.
_ACTIVATION_ALIASES = {"logistic": "sigmoid", "identity": "identity"}
_SOLVERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")


def _activation_list(activation: Any, hidden: tuple[int, ...]) -> list[str]:
    names = [activation] * len(hidden) if isinstance(activation, str) else list(activation)
    if len(names) != len(hidden):
        raise ValueError(
            f"activation lists {len(names)} names for {len(hidden)} hidden layers: give one "
            "name, or one per hidden layer."
        )
    resolved = [_ACTIVATION_ALIASES.get(name, name) for name in names]
    for name in resolved:
        get_activation(name)  # unknown names fail here, listing the known ones
    return resolved


class _Convergence(Callback):
    """scikit-learn's stopping rule: stop when the training loss (or, with early stopping, the
    validation score) has not improved by ``tol`` for more than ``n_iter_no_change`` epochs."""

    def __init__(self, estimator: _BaseMLP, validation: tuple[np.ndarray, np.ndarray] | None):
        self.estimator = estimator
        self.validation = validation

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        est = self.estimator
        est.loss_curve_.append(logs["loss"])
        est.n_iter_ += 1
        est.t_ += est._samples_per_epoch
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {logs['loss']:.8f}")
        if self.validation is not None:
            est.validation_loss_curve_.append(logs["val_loss"])
            score = est._score_encoded(*self.validation)
            est.validation_scores_.append(score)
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_weights = self.model.get_weights()
        else:
            if logs["loss"] > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, logs["loss"])
        if est._no_improvement_count > est.n_iter_no_change:
            est._converged = True
            self.model.stop_training = True


class _BaseMLP(BaseEstimator):
    """Shared machinery of the classifier and the regressor."""

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str | list[str] = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.batch_norm = batch_norm

    # ----------------------------------------------------------------- validation

    def _hidden(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        if any(not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be positive integers. "
                f"Received: {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _check_params(self) -> None:
        checks = [
            (
                "max_iter",
                self.max_iter,
                isinstance(self.max_iter, numbers.Integral) and self.max_iter >= 1,
            ),
            ("alpha", self.alpha, isinstance(self.alpha, numbers.Real) and self.alpha >= 0),
            (
                "learning_rate_init",
                self.learning_rate_init,
                isinstance(self.learning_rate_init, numbers.Real) and self.learning_rate_init > 0,
            ),
            ("tol", self.tol, isinstance(self.tol, numbers.Real) and self.tol >= 0),
            (
                "n_iter_no_change",
                self.n_iter_no_change,
                isinstance(self.n_iter_no_change, numbers.Integral) and self.n_iter_no_change >= 1,
            ),
            (
                "validation_fraction",
                self.validation_fraction,
                isinstance(self.validation_fraction, numbers.Real)
                and 0 < self.validation_fraction < 1,
            ),
            (
                "dropout",
                self.dropout,
                isinstance(self.dropout, numbers.Real) and 0 <= self.dropout < 1,
            ),
            ("solver", self.solver, self.solver in _SOLVERS),
            (
                "batch_size",
                self.batch_size,
                self.batch_size == "auto"
                or (isinstance(self.batch_size, numbers.Integral) and self.batch_size >= 1),
            ),
        ]
        for name, value, ok in checks:
            if not ok:
                allowed = (
                    f" (one of {', '.join(_SOLVERS)}; lbfgs is not offered)"
                    if name == "solver"
                    else ""
                )
                raise ValueError(f"Invalid value for {name}: {value!r}{allowed}.")

    # ----------------------------------------------------------------- building

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _batch(self, n_samples: int) -> int:
        return min(200, n_samples) if self.batch_size == "auto" else min(self.batch_size, n_samples)

    def _optimizer(self) -> optim.Optimizer:
        lr = float(self.learning_rate_init)
        if self.solver == "sgd":
            return optim.SGD(
                lr=lr,
                momentum=self.momentum,
                nesterov=bool(self.nesterovs_momentum and self.momentum > 0),
            )
        if self.solver in ("adam", "adamw"):
            cls = optim.Adam if self.solver == "adam" else optim.AdamW
            return cls(lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        if self.solver == "rmsprop":
            return optim.RMSProp(lr=lr, eps=self.epsilon)
        return optim.Adagrad(lr=lr)

    def _build(self, n_features: int, n_outputs: int, dtype: Any) -> Sequential:
        hidden = self._hidden()
        names = _activation_list(self.activation, hidden)
        stack: list[Layer] = []
        width = n_features
        for size, name in zip(hidden, names, strict=True):
            stack.append(Dense(width, size))
            if self.batch_norm:
                stack.append(BatchNorm1d(size))
            stack.append(get_activation(name))
            if self.dropout:
                stack.append(Dropout(float(self.dropout)))
            width = size
        stack.append(Dense(width, n_outputs))
        seed = self._seed()
        model = Sequential(stack, seed=seed, dtype=dtype)
        # scikit-learn's initialization, so that equal settings start alike: weights and biases
        # uniform in ±√(6 / (fan_in + fan_out)), ±√(2 / ...) before a logistic unit.
        rng = np.random.default_rng(seed)
        dense = [layer for layer in stack if isinstance(layer, Dense)]
        for i, layer in enumerate(dense):
            logistic = [*names, "output"][i] == "sigmoid"
            fan_in, fan_out = layer.params["W"].shape
            bound = np.sqrt((2.0 if logistic else 6.0) / (fan_in + fan_out))
            layer.params["W"] = rng.uniform(-bound, bound, (fan_in, fan_out))
            layer.params["b"] = rng.uniform(-bound, bound, fan_out)
        return model

    def _set_penalty(self, model: Sequential, batch: float) -> None:
        """scikit-learn adds (alpha / 2)·||W||² / n to its loss at each step, n the (weighted)
        number of samples in the batch (``batch`` is that number on average). scratchnn's
        squared error is twice scikit-learn's half squared error, so the regressor doubles
        the penalty to keep the same balance."""
        scale = 1.0 if isinstance(self, RegressorMixin) else 0.5
        for layer in model.layers:
            if isinstance(layer, Dense):
                layer.l2 = scale * float(self.alpha) / batch

    # ----------------------------------------------------------------- training

    def _fit(self, X, y, sample_weight, incremental: bool) -> _BaseMLP:
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True.")
        first = not hasattr(self, "model_") or not (self.warm_start or incremental)
        X, y = self._validate_input(X, y, reset=first, incremental=incremental)
        targets = self._encode(y)
        class_weight = self._class_weight_by_index()
        if sample_weight is not None:  # finite, >= 0, one per sample, not all zero
            sample_weight = prepare_weights(sample_weight, None, targets, None, len(X))
        batch = self._batch(len(X))
        mean_weight = 1.0 if sample_weight is None else float(sample_weight.mean())
        if first:
            for name in ("model_", "loss_curve_"):  # a failed fit leaves the estimator unfitted
                self.__dict__.pop(name, None)
            dtype = np.float32 if X.dtype == np.float32 else np.float64
            model = self._build(X.shape[1], self._n_outputs(), dtype)
            model.loss = self._loss()
            self.loss_curve_, self.validation_loss_curve_ = [], []
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_loss_ = np.inf
            self.best_validation_score_ = -np.inf if self.early_stopping else None
            self.t_ = 0
            self._no_improvement_count = 0
        else:
            model = self.model_
        if not incremental or model.optimizer is None:
            model.optimizer = self._optimizer()  # as scikit-learn: a new optimizer per fit
        self._set_penalty(model, batch * mean_weight)
        self.n_iter_ = 0
        self.model_ = model
        validation = None
        if self.early_stopping and not incremental:
            stratify = y if isinstance(self, ClassifierMixin) and y.ndim == 1 else None
            split = train_test_split(
                np.arange(len(X)),
                random_state=self._seed(),
                test_size=self.validation_fraction,
                stratify=stratify,
            )
            train, held_out = split
            if len(train) < 2 or len(held_out) < 1:
                raise ValueError(
                    "Too few samples for early_stopping with this validation_fraction."
                )
            validation = (X[held_out], targets[held_out])
            X, targets = X[train], targets[train]
            if sample_weight is not None:
                sample_weight = sample_weight[train]
            self.best_loss_ = None
        self._samples_per_epoch = len(X)
        self._converged = False
        self._best_weights = None
        epochs = 1 if incremental else self.max_iter
        self.model_.fit(
            X,
            targets,
            epochs=epochs,
            batch_size=batch,
            shuffle=self.shuffle,
            validation_data=validation,
            callbacks=[_Convergence(self, validation)],
            sample_weight=sample_weight,
            class_weight=class_weight,
            verbose=0,
        )
        if validation is not None and self._best_weights is not None:
            self.model_.set_weights(self._best_weights)
        if not incremental and not self._converged:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def fit(self, X, y, sample_weight=None):
        """Train for up to ``max_iter`` epochs (or until the loss or validation score stops
        improving by ``tol`` for ``n_iter_no_change`` epochs)."""
        return self._fit(X, y, sample_weight, incremental=False)

    # ----------------------------------------------------------------- attributes

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices of the Dense layers, ``(n_in, n_out)`` each (live views)."""
        check_is_fitted(self, "model_")
        return [layer.params["W"] for layer in self.model_.layers if isinstance(layer, Dense)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors of the Dense layers (live views)."""
        check_is_fitted(self, "model_")
        return [layer.params["b"] for layer in self.model_.layers if isinstance(layer, Dense)]

    @property
    def n_layers_(self) -> int:
        return len(self._hidden()) + 2

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.model_.predict(X)

    # ----------------------------------------------------------------- safe files

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted estimator in scratchnn's safe ``.npz`` format (no pickle)."""
        check_is_fitted(self, "model_")
        params = self.get_params()
        if not (params["random_state"] is None or isinstance(params["random_state"], int)):
            params["random_state"] = None  # a RandomState object has no file form
        if isinstance(params.get("class_weight"), dict):
            params["class_weight"] = [[_plain(k), v] for k, v in params["class_weight"].items()]
        params["hidden_layer_sizes"] = list(self._hidden())
        state = {
            "estimator": type(self).__name__,
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None
            if not hasattr(self, "feature_names_in_")
            else [str(n) for n in self.feature_names_in_],
            "loss_curve": self.loss_curve_,
            "validation_loss_curve": self.validation_loss_curve_,
            "validation_scores": self.validation_scores_,
            "best_loss": self.best_loss_,
            "best_validation_score": self.best_validation_score_,
            "n_iter": self.n_iter_,
            "t": self.t_,
            **self._extra_state(),
        }
        self.model_.metadata = {**self.model_.metadata, "sklearn": state}
        self.model_.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> _BaseMLP:
        """Load an estimator written by :meth:`save`."""
        from .io import load

        model = load(path)
        state = model.metadata.get("sklearn")
        if not state or state.get("estimator") != cls.__name__:
            found = state.get("estimator") if state else "a plain scratchnn model"
            raise ValueError(f"{path} holds {found}, not a {cls.__name__}.")
        params = dict(state["params"])
        if isinstance(params.get("class_weight"), list):
            params["class_weight"] = {k: v for k, v in params["class_weight"]}
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        estimator = cls(**params)
        estimator.model_ = model
        estimator.n_features_in_ = state["n_features_in"]
        if state["feature_names_in"] is not None:
            estimator.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        estimator.loss_curve_ = state["loss_curve"]
        estimator.validation_loss_curve_ = state["validation_loss_curve"]
        estimator.validation_scores_ = state["validation_scores"]
        estimator.best_loss_ = state["best_loss"]
        estimator.best_validation_score_ = state["best_validation_score"]
        estimator.n_iter_, estimator.t_ = state["n_iter"], state["t"]
        estimator._no_improvement_count = 0
        estimator._restore_extra_state(state)
        return estimator

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _class_weight_by_index(self) -> dict[int, float] | str | None:
        return None

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        pass


def _plain(value: Any) -> Any:
    """NumPy scalars as plain Python values (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier, trained by scratchnn.

    Binary problems use one sigmoid output with binary cross-entropy, multi-class problems a
    softmax over one output per class with cross-entropy, and multi-label problems (a 0/1
    indicator matrix ``y``) one sigmoid output per label.

    Parameters are scikit-learn's ``MLPClassifier``'s (``hidden_layer_sizes``, ``activation``,
    ``solver``, ``alpha``, ``batch_size``, ``learning_rate_init``, ``max_iter``, ``shuffle``,
    ``random_state``, ``tol``, ``verbose``, ``warm_start``, ``momentum``,
    ``nesterovs_momentum``, ``early_stopping``, ``validation_fraction``, ``beta_1``, ``beta_2``,
    ``epsilon``, ``n_iter_no_change``), plus:

    - ``activation`` may also be ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"silu"``, or a list
      with one name per hidden layer; ``solver`` may also be ``"adamw"``, ``"rmsprop"`` or
      ``"adagrad"`` (there is no ``"lbfgs"``);
    - ``dropout``: drop probability after each hidden activation;
    - ``batch_norm``: batch normalization after each hidden Dense layer;
    - ``class_weight``: ``{class: weight}`` or ``"balanced"``.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_``, ``loss_curve_``,
    ``best_loss_``, ``validation_loss_curve_``, ``validation_scores_``,
    ``best_validation_score_``, ``n_iter_``, ``t_``, ``coefs_``, ``intercepts_``,
    ``n_outputs_``, ``out_activation_``, and ``model_`` (the scratchnn ``Sequential``).
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str | list[str] = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        dropout: float = 0.0,
        batch_norm: bool = False,
        class_weight: dict | str | None = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            dropout=dropout,
            batch_norm=batch_norm,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _validate_input(self, X, y, reset: bool, incremental: bool):
        X, y = validate_data(
            self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"Unknown label type: {kind!r}. MLPClassifier needs class labels.")
        if reset or not hasattr(self, "classes_"):
            if incremental and not hasattr(self, "classes_") and self._partial_classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._multilabel = kind == "multilabel-indicator"
            if self._multilabel:
                self.classes_ = np.arange(y.shape[1])
            else:
                self.classes_ = (
                    np.asarray(self._partial_classes)
                    if incremental and self._partial_classes is not None
                    else unique_labels(y)
                )
            if len(self.classes_) < 2:
                raise ValueError(
                    f"The target has only one class ({_plain(self.classes_[0])!r}); a "
                    "classifier needs at least 2 classes."
                )
        elif not self._multilabel:
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unseen):
                raise ValueError(
                    f"y holds labels {list(unseen)} not seen before ({list(self.classes_)})."
                )
        return X, y

    _partial_classes = None

    def _class_weight_by_index(self) -> dict[int, float] | str | None:
        """``class_weight`` keyed by class label, as the model's encoded class positions."""
        weights = self.class_weight
        if weights is None or weights == "balanced":
            return weights
        if not isinstance(weights, dict):
            raise ValueError(
                f"class_weight must be a dict {{label: weight}}, 'balanced' or None. "
                f"Received: {weights!r}."
            )
        unknown = [label for label in weights if label not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(
                f"class_weight names labels {unknown} that are not classes of y "
                f"({list(self.classes_)})."
            )
        return {
            int(np.searchsorted(self.classes_, label)): float(w) for label, w in weights.items()
        }

    def _n_outputs(self) -> int:
        return 1 if len(self.classes_) == 2 and not self._multilabel else len(self.classes_)

    @property
    def n_outputs_(self) -> int:
        check_is_fitted(self, "model_")
        return self.model_.out_features

    @property
    def out_activation_(self) -> str:
        check_is_fitted(self, "model_")
        return "softmax" if isinstance(self.model_.loss, losses.CrossEntropy) else "logistic"

    def _loss(self) -> losses.Loss:
        if self._n_outputs() == 1 or self._multilabel:
            return losses.BinaryCrossEntropy(from_logits=True)
        return losses.CrossEntropy()

    def _encode(self, y: np.ndarray) -> np.ndarray:
        if self._multilabel:
            return y.astype(np.float64)
        indices = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:
            return indices.astype(np.float64).reshape(-1, 1)
        return indices

    def _score_encoded(self, X: np.ndarray, targets: np.ndarray) -> float:
        proba = self.model_.loss.output_transform(self.model_.predict(X))
        if self._multilabel:
            return float(np.mean(np.all((proba >= 0.5) == (targets >= 0.5), axis=1)))
        if proba.shape[1] == 1:
            return float(np.mean((proba[:, 0] >= 0.5) == (targets[:, 0] >= 0.5)))
        return float(np.mean(proba.argmax(axis=1) == targets))

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``. ``classes`` (all labels) is required on the first call."""
        if not hasattr(self, "model_"):
            self._partial_classes = None if classes is None else unique_labels(classes)
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"classes={list(classes)} differs from the classes of the first call "
                f"({list(self.classes_)})."
            )
        return self._fit(X, y, sample_weight, incremental=True)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)`` (columns in ``classes_`` order)."""
        outputs = self._outputs(X)
        proba = self.model_.loss.output_transform(outputs)
        if proba.shape[1] == 1 and not self._multilabel:
            return np.column_stack([1 - proba[:, 0], proba[:, 0]])
        return proba

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))``, computed without taking the log of 0."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample (an indicator matrix for multi-label)."""
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba >= 0.5).astype(int)
        return self.classes_[proba.argmax(axis=1)]

    def _extra_state(self) -> dict[str, Any]:
        return {"classes": [_plain(c) for c in self.classes_], "multilabel": self._multilabel}

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        self.classes_ = np.asarray(state["classes"])
        self._multilabel = state["multilabel"]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, trained by scratchnn, with one linear output per
    target (multi-output ``y`` of shape ``(n_samples, n_targets)`` works).

    Parameters are scikit-learn's ``MLPRegressor``'s (see :class:`MLPClassifier` for the
    list and scratchnn's additions), plus ``loss``: ``"squared_error"`` (default; scratchnn's
    MSE, the mean of ``(p - y)²``), ``"absolute_error"`` (MAE) or ``"huber"``.
    """

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str | list[str] = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            dropout=dropout,
            batch_norm=batch_norm,
        )
        self.loss = loss

    def _validate_input(self, X, y, reset: bool, incremental: bool):
        if self.loss not in _REGRESSION_LOSSES:
            raise ValueError(
                f"Invalid value for loss: {self.loss!r} (one of {', '.join(_REGRESSION_LOSSES)})."
            )
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if reset:
            self._y_columns = 1 if y.ndim == 1 else y.shape[1]
        return X, y

    def _n_outputs(self) -> int:
        return self._y_columns

    @property
    def n_outputs_(self) -> int:
        check_is_fitted(self, "model_")
        return self.model_.out_features

    out_activation_ = "identity"

    def _loss(self) -> losses.Loss:
        return _REGRESSION_LOSSES[self.loss]()

    def _encode(self, y: np.ndarray) -> np.ndarray:
        return y.reshape(len(y), -1).astype(np.float64)

    def _score_encoded(self, X: np.ndarray, targets: np.ndarray) -> float:
        from sklearn.metrics import r2_score

        return float(r2_score(targets, self.model_.predict(X)))

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted values, ``(n_samples,)`` (or ``(n_samples, n_targets)``)."""
        out = self._outputs(X)
        return out[:, 0] if self._y_columns == 1 else out

    def _extra_state(self) -> dict[str, Any]:
        return {"y_columns": self._y_columns}

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        self._y_columns = state["y_columns"]
