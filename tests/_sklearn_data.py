"""The small real data sets that the scikit-learn estimator tests share (cached per process)."""

from __future__ import annotations

from functools import cache

import numpy as np
from sklearn.datasets import load_digits, make_friedman1
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


@cache
def digits_split() -> tuple[np.ndarray, ...]:
    """Digits, 75/25 split, standardized on the training part."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@cache
def friedman_split() -> tuple[np.ndarray, ...]:
    """make_friedman1 (600 samples, noise 0.5), 75/25 split; X and y standardized on the
    training part (y too, so that the MLPs' default learning rate and tol suit it)."""
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    mean, std = y_train.mean(), y_train.std()
    return (
        scaler.transform(X_train),
        scaler.transform(X_test),
        (y_train - mean) / std,
        (y_test - mean) / std,
    )
