"""Real tables in, good models out: reading raw files, deciding column roles, encoding
numbers and categories, and handling the target, so that a model can be trained on and
predict from a raw table (a file, a pandas DataFrame, or a dict of columns).

pandas is optional: DataFrames are recognised without importing it.

Example:
    >>> import numpy as np
    >>> from scratchnn.tables import TableEncoder, tabular_mlp
    >>> X = {"size": [1.0, 2.0, None, 4.0], "colour": ["red", "blue", "red", None]}
    >>> model = tabular_mlp(X, np.array([0, 1, 0, 1]), hidden=[8], seed=0)
    >>> model.in_features, model.preprocessor.feature_names_out()
    (4, ['size', 'colour=(missing)', 'colour=blue', 'colour=red'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._registry import components
from ..model import MLP
from .encoder import MISSING_CATEGORY, OTHER_CATEGORY, TableEncoder
from .reading import RawTable, read_table, row_fingerprints, sniff_delimiter
from .roles import ColumnRoles, infer_roles
from .target import MAX_AUTO_CLASSES, TargetScaler, detect_task, present_rows
from .values import MISSING_TOKENS, as_columns

# A model file carries its fitted encoder and target scaler; the file format rebuilds them from
# this registry (scratchnn/__init__.py declares that they live here).
components.register()(TableEncoder)
components.register()(TargetScaler)


def tabular_mlp(
    X: Any,
    y: Any,
    hidden: Sequence[int] = (256, 128),
    activation: str = "relu",
    task: str = "auto",
    encoder: TableEncoder | None = None,
    seed: int | None = 0,
) -> Any:
    """An MLP for a raw table: fits a :class:`TableEncoder` on ``X`` (and, for regression, a
    :class:`TargetScaler` on ``y``), builds ``Dense`` layers whose first one takes the
    encoder's output, and attaches both as ``model.preprocessor`` / ``model.target_transform``.

    Train it with ``model.fit(X, y, loss=...)``: cross-entropy on class indices ``0..K-1``
    for classification (``np.unique(labels, return_inverse=True)`` gives them), mse for
    regression. ``model.predict(X)`` then takes raw rows and returns logits, or values in
    the target's units.

    Args:
        X: the training rows: a DataFrame, a dict of columns, or a RawTable.
        y: the training targets (class indices, or numbers for regression).
        hidden: hidden layer sizes.
        activation: the hidden activation.
        task: "auto" (see :func:`detect_task`), "classification" or "regression".
        encoder: an unfitted encoder with your settings (default: ``TableEncoder()``).
        seed: the model's seed.

    Returns:
        A :class:`~scratchnn.Sequential` with ``preprocessor`` and ``target_transform`` set.
    """
    encoder = (encoder or TableEncoder()).fit(X)
    y = np.asarray(y)
    if task == "auto":
        task = detect_task(y)[0]
    if task not in ("classification", "regression"):
        raise ValueError(
            f"task must be 'auto', 'classification' or 'regression'. Received: {task!r}."
        )
    if task == "classification":
        n_out = len(np.unique(y))
        scaler = None
    else:
        n_out = 1 if y.ndim == 1 else y.shape[1]
        scaler = TargetScaler().fit(y)
    model = MLP([encoder.n_features_out, *hidden, n_out], activation=activation, seed=seed)
    model.preprocessor = encoder
    model.target_transform = scaler
    return model


__all__ = [
    "MAX_AUTO_CLASSES",
    "MISSING_CATEGORY",
    "MISSING_TOKENS",
    "OTHER_CATEGORY",
    "ColumnRoles",
    "RawTable",
    "TableEncoder",
    "TargetScaler",
    "as_columns",
    "detect_task",
    "infer_roles",
    "present_rows",
    "read_table",
    "row_fingerprints",
    "sniff_delimiter",
    "tabular_mlp",
]
