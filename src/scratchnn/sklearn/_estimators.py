"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn's MLP estimators, trained by scratchnn."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from .. import _load_checks as checks
from .. import losses
from ._base import _BaseMLP
from ._losses import OUT_ACTIVATION
from ._persistence import _plain, checked_classes

_PARAMETERS_DOC = """
    Parameters are scikit-learn's, with the same defaults and meaning: ``hidden_layer_sizes``,
    ``activation`` (``"identity"``, ``"logistic"``, ``"tanh"``, ``"relu"``), ``solver``
    (``"lbfgs"``, ``"sgd"``, ``"adam"``), ``alpha`` (L2 penalty), ``batch_size``,
    ``learning_rate`` (``"constant"``, ``"invscaling"``, ``"adaptive"``; SGD only),
    ``learning_rate_init``, ``power_t``, ``max_iter``, ``shuffle``, ``random_state``, ``tol``,
    ``verbose``, ``warm_start``, ``momentum``, ``nesterovs_momentum``, ``early_stopping``,
    ``validation_fraction``, ``beta_1``, ``beta_2``, ``epsilon``, ``n_iter_no_change``
    (``np.inf`` turns the stopping rule off) and ``max_fun`` (L-BFGS's limit on loss
    evaluations). The same ``random_state`` gives the same initial weights, batch order and
    early-stopping split as scikit-learn's MLP.

    scratchnn's extras:

    - ``activation`` may also be ``"leaky_relu"``, ``"elu"``, ``"gelu"``, ``"silu"``, or a list
      with one name per hidden layer;
    - ``solver`` may also be ``"adamw"``, ``"rmsprop"`` or ``"adagrad"``;
    - ``dropout``: drop probability after each hidden activation (stochastic solvers);
    - ``batch_norm``: batch normalization after each hidden ``Dense`` layer;
    - float32 input trains and predicts in float32;
    - :meth:`save`/:meth:`load` in scratchnn's safe ``.npz`` format.

    Fitted attributes are scikit-learn's: ``coefs_``, ``intercepts_`` (live views into the
    network's weights; assigning them, whole or one array at a time, sets the weights),
    ``loss_``, ``loss_curve_`` (also for lbfgs: one value per iteration), ``best_loss_``,
    ``validation_scores_``, ``best_validation_score_``, ``t_``, ``n_iter_``, ``n_layers_``,
    ``n_outputs_``, ``out_activation_``, ``n_features_in_``, ``feature_names_in_``; plus
    ``validation_loss_curve_`` (with early stopping) and ``model_``, the scratchnn
    ``Sequential``.
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: a drop-in for scikit-learn's ``MLPClassifier``.

    Binary problems (and a single class) use one logistic output, multi-class problems a
    softmax output per class, multi-label problems (a 0/1 indicator matrix ``y``) one logistic
    output per label; the loss is scikit-learn's log-loss, summed over outputs and averaged
    over samples.
    """

    __doc__ = (
        (__doc__ or "")
        + _PARAMETERS_DOC
        + (
            '    - ``class_weight``: ``{class: weight}`` or ``"balanced"``, multiplied into the '
            "sample weights.\n"
        )
    )

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str | list[str] = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
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
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
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
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
        )
        self.class_weight = class_weight

    _EXTRA_STATE_KEYS = ("classes", "multilabel")
    #: scikit-learn's MLPClassifier has this attribute (not a parameter) too.
    loss = "log_loss"
    _multilabel = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _loss_name(self) -> str:
        return "log_loss"

    def _scratchnn_loss(self) -> losses.Loss:
        if self.out_activation_ == "softmax":
            return losses.CrossEntropy()
        return losses.BinaryCrossEntropy(from_logits=True)

    def _validate_input(self, X, y, incremental: bool, reset: bool):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"Unknown label type: {kind!r}. MLPClassifier needs class labels (or a 0/1 "
                "indicator matrix for multi-label); use MLPRegressor for continuous targets."
            )
        multilabel = kind == "multilabel-indicator"
        classes = np.arange(y.shape[1]) if multilabel else unique_labels(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._multilabel = multilabel
            self.classes_ = classes
        elif self.warm_start:
            if set(classes.tolist()) != set(np.asarray(self.classes_).tolist()):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                )
        elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
            raise ValueError(
                "`y` has classes not in `self.classes_`. "
                f"`self.classes_` has {self.classes_}. 'y' has {classes}."
            )
        if self.class_weight is not None and self._multilabel:
            raise ValueError("class_weight needs single-label targets, not a multi-label y.")
        return X, y

    def _n_outputs_for(self, y: np.ndarray) -> int:
        if self._multilabel:
            return y.shape[1]
        return len(self.classes_) if len(self.classes_) > 2 else 1

    def _out_activation_for(self) -> str:
        return "softmax" if not self._multilabel and len(self.classes_) > 2 else "logistic"

    def _targets(self, y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        if self._multilabel:
            return y.astype(dtype)
        if len(self.classes_) > 2:
            return np.searchsorted(self.classes_, y)
        # One logistic output: the probability of the second class (none for a single class).
        positive = y == self.classes_[1] if len(self.classes_) == 2 else np.zeros(len(y), bool)
        return positive.astype(dtype).reshape(-1, 1)

    def _stratify(self, targets: np.ndarray) -> np.ndarray | None:
        # As scikit-learn: only single-output problems are stratified (on the 0/1 column).
        if targets.ndim == 2 and targets.shape[1] == 1:
            return targets.astype(bool)
        return None

    def _class_weights(self, y: np.ndarray, n: int) -> np.ndarray | None:
        weights = self.class_weight
        if weights is None:
            return None
        index = np.searchsorted(self.classes_, y)
        if isinstance(weights, str) and weights == "balanced":
            counts = np.bincount(index, minlength=len(self.classes_)).astype(np.float64)
            present = np.count_nonzero(counts)
            return n / (present * counts[index])
        if not isinstance(weights, dict):
            raise ValueError(
                "class_weight must be a dict {label: weight}, 'balanced' or None. "
                f"Received: {weights!r}."
            )
        known = set(np.asarray(self.classes_).tolist())
        unknown = [label for label in weights if _plain(label) not in known]
        if unknown:
            raise ValueError(
                f"class_weight names labels {unknown} that are not classes of y "
                f"({list(self.classes_)})."
            )
        table = np.ones(len(self.classes_))
        for label, weight in weights.items():
            if not (isinstance(weight, (int, float, np.number)) and 0 <= weight < np.inf):
                raise ValueError(
                    f"class_weight[{label!r}] must be a number >= 0. Received: {weight!r}."
                )
            table[np.searchsorted(self.classes_, label)] = weight
        return table[index]

    def _decode(self, proba: np.ndarray) -> np.ndarray:
        if self._multilabel:
            return (proba > 0.5).astype(int)
        if proba.shape[1] == 1:
            if len(self.classes_) == 1:
                return np.repeat(self.classes_, len(proba))
            return self.classes_[(proba[:, 0] > 0.5).astype(int)]
        return self.classes_[proba.argmax(axis=1)]

    def _score_predictions(self, proba: np.ndarray, y: np.ndarray, weights) -> float:
        return accuracy_score(y, self._decode(proba), sample_weight=weights)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)`` (dense or sparse). ``classes``, every label that ``y``
        will ever hold, is required on the first call.

        Returns:
            self.
        """
        if _check_partial_fit_first_call(self, classes):
            self._multilabel = type_of_target(y).startswith("multilabel")
        return self._fit(X, y, sample_weight, incremental=True)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)`` in ``classes_`` order (one column
        per label for multi-label)."""
        proba = self._predict_outputs(X)
        if proba.shape[1] == 1:
            return np.column_stack([1 - proba[:, 0], proba[:, 0]])
        return proba

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))`` (``-inf`` where a probability is 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample (an indicator matrix for multi-label)."""
        return self._decode(self._predict_outputs(X))

    def _extra_state(self) -> dict[str, Any]:
        return {"classes": [_plain(c) for c in self.classes_], "multilabel": self._multilabel}

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        multilabel = checks.check_type("multilabel", state["multilabel"], bool)
        self.classes_ = checked_classes(state["classes"], self.model_.out_features, multilabel)
        self._multilabel = multilabel
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise checks.InvalidFileError(
                    f"params['class_weight'] weighs {checks.short(sorted(map(str, unknown)))}, "
                    "which are not among the classes"
                )


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: a drop-in for scikit-learn's ``MLPRegressor``, with
    one output per target (multi-output ``y`` of shape ``(n_samples, n_targets)`` works).

    ``loss``: ``"squared_error"`` (default, ``½·mean (p − y)²`` as scikit-learn's),
    ``"poisson"`` (half Poisson deviance with an exponential output, for counts ``y >= 0``),
    or scratchnn's extras ``"absolute_error"`` and ``"huber"`` (δ = 1).
    """

    __doc__ = (__doc__ or "") + _PARAMETERS_DOC

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str | list[str] = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
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
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
        )
        self.loss = loss

    def _loss_name(self) -> str:
        return self.loss

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        if not isinstance(self.loss, str) or self.loss not in OUT_ACTIVATION:
            raise checks.InvalidFileError(
                f"params['loss'] must be one of {', '.join(OUT_ACTIVATION)}; it is "
                f"{checks.short(self.loss)}"
            )

    def _scratchnn_loss(self) -> losses.Loss | None:
        kinds = {"squared_error": losses.MSE, "absolute_error": losses.MAE, "huber": losses.Huber}
        return kinds[self.loss]() if self.loss in kinds else None  # no Poisson loss there

    def _validate_input(self, X, y, incremental: bool, reset: bool):
        if self.loss not in OUT_ACTIVATION:
            raise ValueError(
                f"The 'loss' parameter of MLPRegressor must be one of "
                f"{', '.join(OUT_ACTIVATION)}. Received: loss={self.loss!r}."
            )
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(
                f"loss='poisson' needs targets y >= 0 (counts or rates); y has "
                f"{int((y < 0).sum())} negative value(s), the smallest {float(y.min())!r}."
            )
        return X, y

    def _n_outputs_for(self, y: np.ndarray) -> int:
        return 1 if y.ndim == 1 else y.shape[1]

    def _out_activation_for(self) -> str:
        return OUT_ACTIVATION[self.loss]

    def _targets(self, y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return y.reshape(len(y), -1).astype(dtype)

    def _stratify(self, targets: np.ndarray) -> None:
        return None

    def _score_predictions(self, pred: np.ndarray, y: np.ndarray, weights) -> float:
        return r2_score(y, pred[:, 0] if pred.shape[1] == 1 else pred, sample_weight=weights)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)`` (dense or sparse).

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted values, ``(n_samples,)`` (or ``(n_samples, n_targets)``), in the
        network's dtype."""
        out = self._predict_outputs(X)
        return out[:, 0].copy() if out.shape[1] == 1 else out
