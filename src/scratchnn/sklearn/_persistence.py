"""Saving and loading the estimators in scratchnn's safe ``.npz`` format (no pickle): the
network's file, with the estimator's parameters and fitted attributes in its metadata."""

from __future__ import annotations

import itertools
import json
import math
import numbers
import os
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import _load_checks as checks
from ..errors import DataFileError
from ..layers import Dense

#: The keys of the estimator's part of the file (``metadata["sklearn"]``), as ``save`` writes
#: them; each estimator adds its own (``_EXTRA_STATE_KEYS``).
_STATE_KEYS = (
    "estimator",
    "params",
    "n_features_in",
    "feature_names_in",
    "loss",
    "loss_curve",
    "validation_loss_curve",
    "validation_scores",
    "best_loss",
    "best_validation_score",
    "n_iter",
    "t",
    "out_activation",
)
#: The parameters that are flags.
_FLAGS = ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping", "batch_norm")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class SaveLoad:
    """``save``/``load`` for :class:`_BaseMLP` (a mixin)."""

    #: The estimator's own keys of the saved state, besides ``_STATE_KEYS``.
    _EXTRA_STATE_KEYS: tuple[str, ...] = ()

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted estimator in scratchnn's safe ``.npz`` format (no pickle). The
        solver's state is not saved: ``partial_fit`` after :meth:`load` starts a new one."""
        check_is_fitted(self, "coefs_")
        self._sync_weights()
        params = self.get_params()
        if not (params["random_state"] is None or _is_int(params["random_state"])):
            params["random_state"] = None  # a RandomState object has no file form
        if isinstance(params.get("class_weight"), dict):
            params["class_weight"] = [[_plain(k), v] for k, v in params["class_weight"].items()]
        params["hidden_layer_sizes"] = list(self._hidden())
        if params["n_iter_no_change"] == math.inf:
            params["n_iter_no_change"] = "inf"
        state = {
            "estimator": type(self).__name__,
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None
            if not hasattr(self, "feature_names_in_")
            else [str(n) for n in self.feature_names_in_],
            "loss": _plain(getattr(self, "loss_", None)),
            "loss_curve": [_plain(v) for v in self.loss_curve_],
            "validation_loss_curve": [_plain(v) for v in self.validation_loss_curve_],
            "validation_scores": self.validation_scores_,
            "best_loss": _plain(getattr(self, "best_loss_", None)),
            "best_validation_score": _plain(self.best_validation_score_),
            "n_iter": int(self.n_iter_),
            "t": int(self.t_),
            "out_activation": self.out_activation_,
            **self._extra_state(),
        }
        self.model_.metadata = {**self.model_.metadata, "sklearn": state}
        self.model_.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SaveLoad:
        """Load an estimator written by :meth:`save`.

        The file is checked as :func:`scratchnn.load` checks a model file (layout, sizes,
        finite weights), and then the estimator's own part of it: exactly the keys ``save``
        writes, each of the kind and in the range it writes, and parameters, classes and
        feature counts that describe the network the file holds.

        Raises:
            FileNotFoundError: no such file.
            DataFileError: (a ``ValueError``) the file holds another estimator or a plain
                scratchnn model, or anything in it is damaged or inconsistent; the message
                names the file, the problem and what to do.
        """
        from ..io import load

        try:
            model = load(path)
        except DataFileError as error:
            raise DataFileError(f"{str(error).rstrip('.')}. {_way_out(cls.__name__)}") from None
        state = model.metadata.get("sklearn")
        if not isinstance(state, dict) or state.get("estimator") != cls.__name__:
            raise DataFileError(_not_this_estimator(cls.__name__, path, state))
        try:
            return cls._from_state(state, model)
        except checks.InvalidFileError as error:
            raise DataFileError(
                f"{path} is damaged or inconsistent: {str(error).rstrip('.')}. "
                f"{_way_out(cls.__name__)}"
            ) from None

    @classmethod
    def _from_state(cls, state: dict[str, Any], model: Any) -> SaveLoad:
        """The estimator that ``state`` (checked here first) describes, around ``model``."""
        _check_keys("the estimator's saved state", state, _STATE_KEYS + cls._EXTRA_STATE_KEYS)
        n_features = checks.check_int("n_features_in", state["n_features_in"], 1, 2**62)
        estimator = cls(**_checked_params(cls, state["params"]))
        _check_network(estimator, model, n_features)
        names = checks.check_type(
            "feature_names_in", state["feature_names_in"], list, optional=True
        )
        if names is not None and (
            len(names) != n_features or not all(isinstance(n, str) for n in names)
        ):
            raise checks.InvalidFileError(
                f"feature_names_in must list {n_features} column names (strings), one per "
                f"feature; it is {checks.short(names)}"
            )
        curves = {
            key: _numbers(key, state[key], optional=key == "validation_scores")
            for key in ("loss_curve", "validation_loss_curve", "validation_scores")
        }
        for key in ("loss", "best_loss", "best_validation_score"):
            _number(key, state[key], finite=key == "loss")
        estimator._bind(model)
        estimator.n_features_in_ = n_features
        if names is not None:
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        if state["loss"] is not None:
            estimator.loss_ = state["loss"]
        estimator.loss_curve_ = curves["loss_curve"]
        estimator.validation_loss_curve_ = curves["validation_loss_curve"]
        estimator.validation_scores_ = curves["validation_scores"]
        estimator.best_loss_ = state["best_loss"]
        estimator.best_validation_score_ = state["best_validation_score"]
        estimator.n_iter_ = checks.check_int("n_iter", state["n_iter"], 0, checks.MAX_EPOCHS)
        estimator.t_ = checks.check_int("t", state["t"], 0, checks.MAX_STEPS)
        estimator._restore_extra_state(state)  # the classes, checked against the outputs
        expected = estimator._out_activation_for()
        if state["out_activation"] != expected:
            raise checks.InvalidFileError(
                f"out_activation is {checks.short(state['out_activation'])}, but this "
                f"{cls.__name__} needs {expected!r}"
            )
        estimator.out_activation_ = expected
        estimator.n_outputs_ = model.out_features
        estimator.n_layers_ = len(estimator.coefs_) + 1
        estimator._no_improvement_count = 0
        estimator._optimizer = None
        return estimator


def _way_out(name: str) -> str:
    return (
        f"{name}.load reads the files that {name}.save(path) writes: save the fitted "
        "estimator again, or use an undamaged copy of the file."
    )


def _not_this_estimator(name: str, path: Any, state: Any) -> str:
    """Why a file that is a sound model file is not one of ``name``'s, and what to do."""
    found = state.get("estimator") if isinstance(state, dict) else None
    if isinstance(found, str) and found in ("MLPClassifier", "MLPRegressor"):
        return (
            f"{path} holds an {found}, not an {name}: load it with "
            f"scratchnn.sklearn.{found}.load(path)."
        )
    if state is None:
        return (
            f"{path} holds a plain scratchnn model, not an {name}: load it with "
            f"scratchnn.load(path), or fit an {name} and save it with its save(path)."
        )
    return (
        f"{path} is damaged or inconsistent: its estimator section names "
        f"{checks.short(found)}, not {name!r}. {_way_out(name)}"
    )


def _check_keys(what: str, mapping: dict[str, Any], expected: tuple[str, ...]) -> None:
    """Refuse ``mapping`` unless it has exactly the keys ``expected``, naming the difference."""
    checks.check_type(what, mapping, dict)
    missing = [key for key in expected if key not in mapping]
    extra = sorted(map(str, set(mapping) - set(expected)))
    if missing or extra:
        parts = [f"lacks {', '.join(map(repr, missing))}"] if missing else []
        if extra:
            parts.append(f"has keys that save never writes: {checks.short(extra)}")
        raise checks.InvalidFileError(f"{what} {' and '.join(parts)}")


def _checked_params(cls: type, params: Any) -> dict[str, Any]:
    """The saved parameters, in the form the constructor takes, each checked by the rule the
    estimator declares for it (``_check_params``) after the kinds of the flags, the random
    state and the class weights."""
    _check_keys("the estimator's params", params, tuple(cls().get_params()))
    params = dict(params)
    for name in _FLAGS:
        checks.check_type(f"params[{name!r}]", params[name], bool)
    verbose = params["verbose"]
    if not isinstance(verbose, (bool, int)) or verbose < 0:
        raise checks.InvalidFileError(
            f"params['verbose'] must be a flag or a whole number >= 0; it is "
            f"{checks.short(verbose)}"
        )
    if params["random_state"] is not None:
        checks.check_int("params['random_state']", params["random_state"], 0, 2**32 - 1)
    sizes = checks.check_type("params['hidden_layer_sizes']", params["hidden_layer_sizes"], list)
    for size in sizes:
        checks.check_int("a hidden layer size", size, 1, 2**62)
    params["hidden_layer_sizes"] = tuple(sizes)
    activation = params["activation"]
    if not isinstance(activation, str):
        checks.check_type("params['activation']", activation, list)
        for name in activation:
            checks.check_type("an activation name", name, str)
    if params.get("n_iter_no_change") == "inf":
        params["n_iter_no_change"] = np.inf
    if "class_weight" in params:
        params["class_weight"] = _checked_class_weight(params["class_weight"])
    estimator = cls(**params)
    try:
        estimator._check_params()
        estimator._stack([1, *estimator._hidden(), 1])  # the activation names
    except ValueError as error:
        raise checks.InvalidFileError(
            f"its saved parameters are refused ({str(error).rstrip('.')})"
        ) from None
    return params


def _checked_class_weight(saved: Any) -> Any:
    """``None``, ``"balanced"`` or the ``[[label, weight], ...]`` pairs as a dict."""
    if saved is None or saved == "balanced":
        return saved
    pairs = checks.check_type("params['class_weight']", saved, list)
    weights = {}
    for pair in pairs:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not isinstance(pair[0], (str, int, float))
            or not checks.is_number(pair[1])
            or not 0 <= pair[1] < math.inf
            or pair[0] in weights
        ):
            raise checks.InvalidFileError(
                "params['class_weight'] must be null, 'balanced', or distinct [label, weight] "
                f"pairs with weights >= 0; it holds {checks.short(pair)}"
            )
        weights[pair[0]] = pair[1]
    return weights


def _check_network(estimator: Any, model: Any, n_features: int) -> None:
    """Refuse a network that is not the one the saved parameters build: the same Dense sizes
    (``n_features_in``, ``hidden_layer_sizes``, the outputs), activations, batch
    normalization and dropout, layer by layer."""
    actual = model.get_config()["layers"]
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    hidden = list(estimator._hidden())
    if not dense or [layer.out_features for layer in dense[:-1]] != hidden:
        raise checks.InvalidFileError(
            f"hidden_layer_sizes is {checks.short(tuple(hidden))}, but the network's hidden "
            f"layers have {checks.short(tuple(layer.out_features for layer in dense[:-1]))} "
            "units"
        )
    if dense[0].in_features != n_features:
        raise checks.InvalidFileError(
            f"n_features_in is {n_features:,}, but the network's first layer takes "
            f"{dense[0].in_features:,} features"
        )
    units = [n_features, *hidden, model.out_features]
    expected = [
        {"class_name": type(layer).__name__, "config": layer.get_config()}
        for layer in estimator._stack(units)
    ]
    expected = json.loads(json.dumps(expected))  # tuples as lists, as in the file
    for index, (have, want) in enumerate(itertools.zip_longest(actual, expected)):
        if have != want:
            raise checks.InvalidFileError(
                f"layer {index} of the network is {_describe(have)}, but the saved parameters "
                f"(activation, batch_norm, dropout) build {_describe(want)} there"
            )


def _describe(spec: dict[str, Any] | None) -> str:
    return "missing" if spec is None else checks.short(spec)


def _number(what: str, value: Any, finite: bool) -> None:
    """``value`` is null or a number (finite, or at least not NaN, as ``finite`` asks)."""
    if value is None:
        return
    if not checks.is_number(value) or math.isnan(value) or (finite and math.isinf(value)):
        kind = "a finite number" if finite else "a number"
        raise checks.InvalidFileError(f"{what} must be null or {kind}; it is {checks.short(value)}")


def _numbers(what: str, values: Any, optional: bool) -> list[float] | None:
    """A list of finite numbers (or null where ``optional``)."""
    checks.check_type(what, values, list, optional=optional)
    for value in values or ():
        if not checks.is_number(value) or not math.isfinite(value):
            raise checks.InvalidFileError(
                f"{what} must be a list of finite numbers; it holds {checks.short(value)}"
            )
    return values


def checked_classes(saved: Any, outputs: int, multilabel: bool) -> np.ndarray:
    """The classifier's saved ``classes_``: distinct labels of one kind, sorted (as
    ``np.unique`` gives them, which prediction relies on), as many as the network's
    ``outputs`` need (one output for two classes or one, one per class beyond, one per
    label for multi-label)."""
    classes = checks.check_type("classes", saved, list)
    kinds = {type(label) for label in classes}
    if not classes or len(kinds) != 1 or not kinds <= {str, int, float, bool}:
        raise checks.InvalidFileError(
            f"classes must be a non-empty list of labels of one kind (strings or numbers); it "
            f"is {checks.short(classes)}"
        )
    if any(isinstance(label, float) and math.isnan(label) for label in classes) or any(
        b <= a for a, b in itertools.pairwise(classes)
    ):
        raise checks.InvalidFileError(
            f"classes must be distinct and sorted (as fit stores them); they are "
            f"{checks.short(classes)}"
        )
    needed = len(classes) if multilabel or len(classes) > 2 else 1
    if needed != outputs:
        raise checks.InvalidFileError(
            f"classes lists {len(classes):,} labels, which need {needed:,} network output(s), "
            f"but the network has {outputs:,}"
        )
    return np.asarray(classes)


def _plain(value: Any) -> Any:
    """NumPy scalars as plain Python values (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value
