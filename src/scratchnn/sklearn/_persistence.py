"""Saving and loading the estimators in scratchnn's safe ``.npz`` format (no pickle): the
network's file, with the estimator's parameters and fitted attributes in its metadata."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class SaveLoad:
    """``save``/``load`` for :class:`_BaseMLP` (a mixin)."""

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

        Raises:
            ValueError: if the file holds another estimator or a plain scratchnn model.
        """
        from ..io import load

        model = load(path)
        state = model.metadata.get("sklearn")
        if not state or state.get("estimator") != cls.__name__:
            found = state.get("estimator") if state else "a plain scratchnn model"
            raise ValueError(f"{path} holds {found}, not a {cls.__name__}.")
        params = dict(state["params"])
        if isinstance(params.get("class_weight"), list):
            params["class_weight"] = {k: v for k, v in params["class_weight"]}
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        if params.get("n_iter_no_change") == "inf":
            params["n_iter_no_change"] = np.inf
        estimator = cls(**params)
        estimator._bind(model)
        estimator.n_features_in_ = state["n_features_in"]
        if state["feature_names_in"] is not None:
            estimator.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        if state.get("loss") is not None:
            estimator.loss_ = state["loss"]
        estimator.loss_curve_ = state["loss_curve"]
        estimator.validation_loss_curve_ = state["validation_loss_curve"]
        estimator.validation_scores_ = state["validation_scores"]
        estimator.best_loss_ = state["best_loss"]
        estimator.best_validation_score_ = state["best_validation_score"]
        estimator.n_iter_, estimator.t_ = state["n_iter"], state["t"]
        estimator.out_activation_ = state["out_activation"]
        estimator.n_outputs_ = model.out_features
        estimator.n_layers_ = len(estimator.coefs_) + 1
        estimator._no_improvement_count = 0
        estimator._optimizer = None
        estimator._restore_extra_state(state)
        return estimator


def _plain(value: Any) -> Any:
    """NumPy scalars as plain Python values (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value
