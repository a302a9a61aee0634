"""What the classifier and the regressor share: parameters, building the network, the
stochastic and L-BFGS training loops with scikit-learn's stopping rules, and the fitted
attributes."""

from __future__ import annotations

import math
import numbers
import warnings
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils import shuffle as sk_shuffle
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import optim
from ..errors import TrainingDivergedError
from ..layers import Dense, get_activation
from ..model import Sequential, mlp_layers
from ..training import prepare_weights
from . import _optimizers
from ._losses import loss_value
from ._network import Network
from ._persistence import SaveLoad, _is_int

#: scikit-learn's activation names, and scratchnn's own.
_ACTIVATION_ALIASES = {"logistic": "sigmoid"}
_STOCHASTIC = ("adam", "sgd", "adamw", "rmsprop", "adagrad")
_SOLVERS = ("lbfgs", *_STOCHASTIC)
_SCHEDULES = ("constant", "invscaling", "adaptive")

#: What fit sets; a first fit that fails removes them all again (the estimator stays unfitted).
_FITTED = (
    "model_",
    "coefs_",
    "intercepts_",
    "n_iter_",
    "t_",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "validation_loss_curve_",
    "n_outputs_",
    "n_layers_",
    "out_activation_",
    "classes_",
    "n_features_in_",
    "feature_names_in_",
    "_optimizer",
    "_no_improvement_count",
)

_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)


def _activation_names(activation: Any, hidden: tuple[int, ...]) -> list[str]:
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


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _BaseMLP(SaveLoad, BaseEstimator):
    """Shared machinery of :class:`MLPClassifier` and :class:`MLPRegressor`."""

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
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm

    # ------------------------------------------------------------------ validation

    def _hidden(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if _is_int(sizes) else tuple(np.ravel(sizes).tolist())
        if not sizes or any(not _is_int(s) or s < 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be positive integers (one per hidden layer). "
                f"Received: hidden_layer_sizes={self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _check_params(self) -> None:
        """Every parameter against the rule scikit-learn declares for it (plus ours)."""
        p = self
        rules = [
            ("solver", p.solver in _SOLVERS, f"one of {', '.join(_SOLVERS)}"),
            ("learning_rate", p.learning_rate in _SCHEDULES, f"one of {', '.join(_SCHEDULES)}"),
            ("alpha", _is_real(p.alpha) and 0 <= p.alpha < math.inf, "a number >= 0"),
            (
                "batch_size",
                p.batch_size == "auto" or (_is_int(p.batch_size) and p.batch_size >= 1),
                "'auto' or an integer >= 1",
            ),
            (
                "learning_rate_init",
                _is_real(p.learning_rate_init) and 0 < p.learning_rate_init < math.inf,
                "a number > 0",
            ),
            ("power_t", _is_real(p.power_t) and 0 <= p.power_t < math.inf, "a number >= 0"),
            ("max_iter", _is_int(p.max_iter) and p.max_iter >= 1, "an integer >= 1"),
            ("max_fun", _is_int(p.max_fun) and p.max_fun >= 1, "an integer >= 1"),
            ("tol", _is_real(p.tol) and 0 <= p.tol < math.inf, "a number >= 0"),
            ("momentum", _is_real(p.momentum) and 0 <= p.momentum <= 1, "a number in [0, 1]"),
            (
                "validation_fraction",
                _is_real(p.validation_fraction) and 0 <= p.validation_fraction < 1,
                "a number in [0, 1)",
            ),
            ("beta_1", _is_real(p.beta_1) and 0 <= p.beta_1 < 1, "a number in [0, 1)"),
            ("beta_2", _is_real(p.beta_2) and 0 <= p.beta_2 < 1, "a number in [0, 1)"),
            ("epsilon", _is_real(p.epsilon) and 0 < p.epsilon < math.inf, "a number > 0"),
            (
                "n_iter_no_change",
                (_is_int(p.n_iter_no_change) and p.n_iter_no_change >= 1)
                or (_is_real(p.n_iter_no_change) and p.n_iter_no_change == math.inf),
                "an integer >= 1, or np.inf to turn the stopping rule off",
            ),
            ("dropout", _is_real(p.dropout) and 0 <= p.dropout < 1, "a number in [0, 1)"),
        ]
        for name, ok, allowed in rules:
            if not ok:
                raise ValueError(
                    f"The '{name}' parameter of {type(self).__name__} must be {allowed}. "
                    f"Received: {name}={getattr(self, name)!r}."
                )
        if self.solver == "lbfgs" and self.dropout:
            raise ValueError(
                f"dropout={self.dropout!r} needs a stochastic solver: L-BFGS needs the same "
                "loss at every evaluation. Use solver='adam' or 'sgd', or dropout=0."
            )
        self._hidden()

    # ------------------------------------------------------------------ building

    def _build(self, n_features: int, n_outputs: int, dtype: Any) -> Sequential:
        """A fresh network, initialized as scikit-learn initializes it: from the estimator's
        random state, layer by layer, W then b, each uniform in ±√(f / (fan_in + fan_out))
        with f = 2 for a logistic activation and 6 otherwise. The same ``random_state``
        gives the same initial weights as scikit-learn's MLP."""
        hidden = self._hidden()
        names = _activation_names(self.activation, hidden)
        units = [n_features, *hidden, n_outputs]
        logistic = [self.activation == "logistic" or name == "sigmoid" for name in names]
        logistic.append(self.activation == "logistic")
        initial = []
        for fan_in, fan_out, is_logistic in zip(units[:-1], units[1:], logistic, strict=True):
            bound = np.sqrt((2.0 if is_logistic else 6.0) / (fan_in + fan_out))
            W = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            b = self._random_state.uniform(-bound, bound, fan_out)
            initial.append((W, b))
        stack = self._stack(units)
        # The dropout masks' stream: from random_state (drawn after the initial weights, so
        # that those stay scikit-learn's).
        seed = None
        if _is_int(self.random_state):
            seed = int(self.random_state)
        elif self.random_state is not None:
            seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        model = Sequential(stack, seed=seed, dtype=dtype)
        dense = [layer for layer in stack if isinstance(layer, Dense)]
        for layer, (W, b) in zip(dense, initial, strict=True):
            layer.params["W"] = W
            layer.params["b"] = b
        return model

    def _stack(self, units: list[int]) -> list:
        """The network's layers (unbuilt) for ``[n_features, *hidden, n_outputs]`` units:
        the one place the estimators' architecture is written (``load`` compares a file's
        network with it)."""
        names = _activation_names(self.activation, tuple(units[1:-1]))
        return mlp_layers(
            units, names, batch_norm=bool(self.batch_norm), dropout=float(self.dropout or 0.0)
        )

    def _model_from_attributes(self) -> Sequential:
        """A network holding the ``coefs_``/``intercepts_`` a user assigned to an estimator
        that has no network yet (scikit-learn lets one set them before ``partial_fit``)."""
        coefs = [np.asarray(c) for c in self.coefs_]
        intercepts = [np.asarray(b) for b in self.intercepts_]
        hidden = self._hidden()
        shapes = [c.shape for c in coefs]
        if (
            len(coefs) != len(hidden) + 1
            or len(intercepts) != len(coefs)
            or any(len(s) != 2 for s in shapes)
            or [s[1] for s in shapes[:-1]] != list(hidden)
            or any(a[1] != b[0] for a, b in pairwise(shapes))
            or [b.shape for b in intercepts] != [(s[1],) for s in shapes]
        ):
            raise ValueError(
                f"coefs_ of shapes {shapes} and intercepts_ of shapes "
                f"{[b.shape for b in intercepts]} do not make a network with "
                f"hidden_layer_sizes={hidden}: need (n_features, {hidden[0]}), ..., "
                f"({hidden[-1]}, n_outputs) and one intercept per column."
            )
        dtype = coefs[0].dtype if coefs[0].dtype in (np.float32, np.float64) else np.float64
        model = self._build_plain([s[0] for s in shapes] + [shapes[-1][1]], dtype)
        dense = [layer for layer in model.layers if isinstance(layer, Dense)]
        for layer, W, b in zip(dense, coefs, intercepts, strict=True):
            layer.params["W"], layer.params["b"] = W, b
        return model

    def _build_plain(self, units: list[int], dtype: Any) -> Sequential:
        names = _activation_names(self.activation, self._hidden())
        return Sequential(mlp_layers(units, names), dtype=dtype)

    def _bind(self, model: Sequential) -> None:
        """``coefs_``/``intercepts_`` as live views into the network's weights."""
        self.model_ = model
        dense = [layer for layer in model.layers if isinstance(layer, Dense)]
        self.coefs_ = [layer.params["W"] for layer in dense]
        self.intercepts_ = [layer.params["b"] for layer in dense]

    def _sync_weights(self) -> None:
        """Copy into the network any array a user assigned to ``coefs_``/``intercepts_``
        (``est.coefs_[0] = W`` or ``est.coefs_ = [...]``), and view them again."""
        if not hasattr(self, "model_"):
            if hasattr(self, "coefs_") and hasattr(self, "intercepts_"):
                self._bind(self._model_from_attributes())
            return
        dense = [layer for layer in self.model_.layers if isinstance(layer, Dense)]
        for attribute, name in (("coefs_", "W"), ("intercepts_", "b")):
            arrays = getattr(self, attribute)
            if len(arrays) != len(dense):
                raise ValueError(
                    f"{attribute} holds {len(arrays)} arrays; this network has {len(dense)} layers."
                )
            for i, (array, layer) in enumerate(zip(arrays, dense, strict=True)):
                view = layer.params[name]
                if array is not view:
                    value = np.asarray(array)
                    if value.shape != view.shape:
                        raise ValueError(
                            f"{attribute}[{i}] has shape {value.shape}; the network needs "
                            f"{view.shape}."
                        )
                    view[...] = value
                    arrays[i] = view
            setattr(self, attribute, list(arrays))

    def _network(self) -> Network:
        return Network(self.model_, self._loss_name(), self.out_activation_, self.alpha)

    def _make_optimizer(self, size: int, dtype: np.dtype):
        lr = float(self.learning_rate_init)
        if self.solver == "sgd":
            return _optimizers.SGD(
                size,
                dtype,
                lr,
                self.learning_rate,
                self.momentum,
                bool(self.nesterovs_momentum),
                self.power_t,
            )
        if self.solver == "adam":
            return _optimizers.Adam(size, dtype, lr, self.beta_1, self.beta_2, self.epsilon)
        if self.solver == "adamw":
            inner = optim.AdamW(lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        elif self.solver == "rmsprop":
            inner = optim.RMSProp(lr=lr, eps=self.epsilon)
        else:
            inner = optim.Adagrad(lr=lr)
        return _optimizers.Extra(inner, self.learning_rate, self.power_t)

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` ``(n_samples, n_features)`` (dense or scipy.sparse CSR/CSC)
        and ``y``. ``sample_weight`` (optional) weighs each sample's loss.

        Returns:
            self.

        Raises:
            ValueError: on invalid parameters or input, and when training diverges (the
                weights stop being finite); then the estimator is left as it was before.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True

    def _fit(self, X, y, sample_weight, incremental: bool):
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        saved = None if first else self._snapshot()
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                return self._fit_inner(X, y, sample_weight, incremental, first)
        except BaseException:
            if first:
                for name in _FITTED:
                    self.__dict__.pop(name, None)
            elif saved is not None:
                self._restore(saved)
            raise

    def _snapshot(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k.endswith("_") and k != "model_"}
        for key in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
            if isinstance(state.get(key), list):
                state[key] = list(state[key])
        if hasattr(self, "model_"):
            state["__weights"] = self.model_.get_weights()
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        weights = state.pop("__weights", None)
        self.__dict__.update(state)
        if weights is not None and hasattr(self, "model_"):
            self.model_.set_weights(weights)
            self._bind(self.model_)

    def _fit_inner(self, X, y, sample_weight, incremental: bool, first: bool):
        X, y = self._validate_input(X, y, incremental, reset=first)
        if sp.issparse(X) and X.format != "csr":
            X = X.tocsr()  # row batches of CSR are cheap
        n = X.shape[0]
        if sample_weight is not None:
            sample_weight = prepare_weights(sample_weight, None, y, None, n)
        self._random_state = check_random_state(self.random_state)
        n_outputs = self._n_outputs_for(y)
        if first:
            self.out_activation_ = self._out_activation_for()
            self.n_outputs_ = n_outputs
            self.n_layers_ = len(self._hidden()) + 2
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
            self._bind(self._build(X.shape[1], n_outputs, dtype))
            # The matching scratchnn loss, so that model_ works on its own (evaluate,
            # output_transform, the command line); training uses scikit-learn's scaling.
            self.model_.loss = self._scratchnn_loss()
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self.validation_loss_curve_ = []
            self._no_improvement_count = 0
            self._optimizer = None
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None
        else:
            self._sync_weights()
            if self.model_.out_features != n_outputs:
                raise ValueError(
                    f"y has {n_outputs} output(s) but the fitted network has "
                    f"{self.model_.out_features}; fit without warm_start to start again."
                )
            self.out_activation_ = self._out_activation_for()
            self.n_outputs_ = n_outputs
            self.n_layers_ = len(self.coefs_) + 1
            self._fill_defaults()
        model = self.model_
        if X.dtype != model.dtype:
            X = X.astype(model.dtype)
        targets = self._targets(y, model.dtype)
        class_weights = self._class_weights(y, n)
        if class_weights is not None:
            sample_weight = (
                class_weights if sample_weight is None else sample_weight * class_weights
            )
        net = self._network()
        if self.solver == "lbfgs":
            self._fit_lbfgs(net, X, targets, sample_weight)
        else:
            self._fit_stochastic(net, X, y, targets, sample_weight, incremental)
        if not np.isfinite(net.flat.value).all():
            raise ValueError(_NON_FINITE)
        return self

    def _fill_defaults(self) -> None:
        """State a user who assigned ``coefs_`` by hand may not have set."""
        defaults = {
            "n_iter_": 0,
            "t_": 0,
            "loss_curve_": [],
            "validation_loss_curve_": [],
            "_no_improvement_count": 0,
            "_optimizer": None,
            "best_loss_": None if self.early_stopping else np.inf,
            "validation_scores_": [] if self.early_stopping else None,
            "best_validation_score_": -np.inf if self.early_stopping else None,
        }
        for name, value in defaults.items():
            if not hasattr(self, name):
                setattr(self, name, value)
        if self.early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        if not self.early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped",
                stacklevel=4,
            )
        return int(np.clip(self.batch_size, 1, n))

    def _split(self, X, y, targets, weights):
        """scikit-learn's early-stopping split: ``validation_fraction`` held out, stratified
        for single-output classification, drawn from the estimator's random state."""
        stratify = self._stratify(targets)
        train, held = train_test_split(
            np.arange(X.shape[0]),
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if len(held) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        w_train = None if weights is None else weights[train]
        w_held = None if weights is None else weights[held]
        validation = (X[held], y[held], targets[held], w_held)
        return X[train], targets[train], w_train, validation

    def _fit_stochastic(self, net, X, y, targets, weights, incremental: bool) -> None:
        flat = net.flat
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer(flat.value.size, flat.value.dtype)
        validation = None
        if self.early_stopping:
            X, targets, weights, validation = self._split(X, y, targets, weights)
            self._best_weights = self.model_.get_weights()
        n = X.shape[0]
        batch = self._batch_size(n)
        if any(layer.needs_batch_statistics for layer in self.model_.layers) and (
            batch == 1 or n % batch == 1
        ):
            raise ValueError(
                f"batch_norm=True needs at least 2 samples per batch, but {n} samples in "
                f"batches of {batch} leave a batch of 1. Choose another batch_size."
            )
        reorder = self.shuffle and batch < n  # one full batch: the order changes nothing
        self.n_iter_ = 0
        try:
            self._epochs(net, X, targets, weights, validation, batch, reorder, incremental)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if validation is not None:
            self.model_.set_weights(self._best_weights)
        self._best_weights = None

    def _epochs(self, net, X, targets, weights, validation, batch, reorder, incremental):
        """scikit-learn's epoch loop: shuffle, mini-batch steps, the loss curve, the
        stopping rule (training loss, or validation score with early stopping), the
        learning-rate schedule.

        This loop is not :func:`scratchnn.training.fit`, on purpose: the estimators promise
        scikit-learn's exact behaviour (its shuffling from ``random_state``, its loss with
        ``alpha`` on the summed weights, its ``tol``/``n_iter_no_change`` rule, its learning-
        rate schedules, sparse input), so that their loss curves equal scikit-learn's to 1e-9
        (tests/test_sklearn_parity.py). Each step is the same forward/backward as the model's,
        on the same flat parameter vector."""
        flat, optimizer, n = net.flat, self._optimizer, X.shape[0]
        dense = not sp.issparse(X)
        if reorder and dense:
            X_buffer = np.empty((batch, X.shape[1]), dtype=X.dtype)
        sample_idx = np.arange(n)
        for _ in range(self.max_iter):
            if self.shuffle:
                sample_idx = sk_shuffle(sample_idx, random_state=self._random_state)
            accumulated = 0.0
            diverged = False
            for start in range(0, n, batch):
                stop = min(start + batch, n)
                if reorder:
                    rows = sample_idx[start:stop]
                    # Dense rows are gathered into one reused buffer; CSR rows by slicing.
                    Xb = (
                        np.take(X, rows, axis=0, out=X_buffer[: stop - start]) if dense else X[rows]
                    )
                else:
                    rows = slice(start, stop)
                    Xb = X[rows]
                wb = None if weights is None else weights[rows]
                batch_loss = net.loss_grad(Xb, targets[rows], wb)
                if not math.isfinite(batch_loss):
                    diverged = True
                    break
                try:
                    optimizer.update(flat.value, flat.grad)
                except TrainingDivergedError:
                    diverged = True
                    break
                accumulated += batch_loss * (stop - start)
            self.n_iter_ += 1
            self.loss_ = accumulated / n if not diverged else math.nan
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            self._update_no_improvement_count(net, validation)
            if diverged:
                if validation is None:
                    raise ValueError(
                        f"{_NON_FINITE} (The training loss became infinite or NaN in "
                        f"iteration {self.n_iter_}; a smaller learning_rate_init may help.)"
                    )
                warnings.warn(
                    f"The training loss became infinite or NaN in iteration {self.n_iter_}; "
                    "training stopped and the weights with the best validation score were "
                    "kept. A smaller learning_rate_init may help.",
                    ConvergenceWarning,
                    stacklevel=4,
                )
                break
            optimizer.iteration_ends(self.t_)
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if validation is not None else "Training loss"
                msg = (
                    f"{what} did not improve more than tol={self.tol:f} for "
                    f"{self.n_iter_no_change} consecutive epochs."
                )
                if optimizer.trigger_stopping(msg, self.verbose):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                    "the optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=5,
                )

    def _update_no_improvement_count(self, net, validation) -> None:
        if validation is not None:
            X_val, y_val, t_val, w_val = validation
            p = net.predict(X_val)
            if np.isfinite(p).all():
                score = float(self._score_predictions(p, y_val, w_val))
                val_loss = loss_value(p, t_val, w_val, self._loss_name(), self.out_activation_)
            else:
                score = val_loss = math.nan
            self.validation_scores_.append(score)
            self.validation_loss_curve_.append(val_loss)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_weights = self.model_.get_weights()
        else:
            last = self.loss_curve_[-1]
            if last > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last < self.best_loss_:
                self.best_loss_ = last

    def _fit_lbfgs(self, net, X, targets, weights) -> None:
        """L-BFGS-B (scipy) over the network's one flat parameter vector: ``max_iter``
        iterations and ``max_fun`` loss evaluations at most, stopping when the largest
        gradient entry is below ``tol``."""
        flat = net.flat
        last = {"loss": math.nan}

        def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            flat.value[...] = theta
            value = net.loss_grad(X, targets, weights)
            last["loss"] = value
            return value, flat.grad.astype(np.float64)

        curve = []

        def record(_xk: np.ndarray) -> None:
            curve.append(last["loss"])
            if self.verbose:
                print(f"Iteration {len(curve)}, loss = {last['loss']:.8f}")

        result = scipy.optimize.minimize(
            loss_and_grad,
            flat.value.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            callback=record,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )
        flat.value[...] = result.x
        self.loss_ = float(result.fun)
        self.best_loss_ = self.loss_  # L-BFGS's iterates only go down
        self.loss_curve_ = curve
        self.n_iter_ = min(int(result.nit), self.max_iter)
        if result.status != 0:
            message = result.message
            message = message.decode("latin1") if isinstance(message, bytes) else message
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status="
                f"{result.status}): {message}. Increase the number of iterations (max_iter) "
                "or the number of loss evaluations (max_fun), or scale the data.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight=None, *_buffers):
        """The penalised loss and its gradient at ``packed_coef_inter``, both packed in
        scikit-learn's order (every ``coefs_`` raveled, then every ``intercepts_``), with ``y``
        binarized as scikit-learn binarizes it. The objective L-BFGS minimizes; kept under
        scikit-learn's private name so that its gradient test runs unchanged."""
        self._sync_weights()
        net = self._network()
        net.flat.value[net.sklearn_order] = packed_coef_inter
        y = np.asarray(y)
        y = y.reshape(len(y), -1)
        targets = y.argmax(axis=1) if self.out_activation_ == "softmax" else y
        if targets.dtype.kind == "f" or self.out_activation_ != "softmax":
            targets = targets.astype(self.model_.dtype)
        value = net.loss_grad(X, targets, sample_weight)
        return value, net.flat.grad[net.sklearn_order].astype(np.float64)

    # ------------------------------------------------------------------ predicting

    def _predict_outputs(self, X) -> np.ndarray:
        """The network's predictions after the output activation, ``(n, n_outputs_)``."""
        check_is_fitted(self, "coefs_")
        self._sync_weights()
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False
        )
        if sp.issparse(X) and X.format != "csr":
            X = X.tocsr()
        if X.dtype != self.model_.dtype:
            X = X.astype(self.model_.dtype)
        return self._network().predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "model_" in self.__dict__:
            self._sync_weights()  # the unpickled arrays become views of the network again

    # Hooks the classifier and the regressor fill in.

    def _class_weights(self, y: np.ndarray, n: int) -> np.ndarray | None:
        return None

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore_extra_state(self, state: dict[str, Any]) -> None:
        pass
