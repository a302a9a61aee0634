"""What the command line's DATA argument can name, loaded and split for training.

DATA is one of: nothing (the bundled MNIST), a built-in name (``mnist``, ``digits``, ``xor``,
``spirals``, ``moons``, ``circles``, ``blobs``, ``curve``), a folder holding MNIST-format IDX
files (e.g. Fashion-MNIST), or a ``.csv`` / ``.npz`` file with a ``--target`` column.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..datasets.idx import load_idx
from ..errors import DataFileError

SYNTHETIC = {
    "xor": lambda seed: datasets.xor(np.float64),
    "spirals": lambda seed: datasets.spirals(600, 3, seed=seed, dtype=np.float64),
    "moons": lambda seed: datasets.moons(400, seed=seed, dtype=np.float64),
    "circles": lambda seed: datasets.circles(400, seed=seed, dtype=np.float64),
    "blobs": lambda seed: datasets.blobs(600, seed=seed, dtype=np.float64),
    "curve": lambda seed: datasets.regression_curve(400, seed=seed, dtype=np.float64),
}
BUILTIN = ["mnist", "digits", *SYNTHETIC]
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass
class Dataset:
    """A training/test split with what is needed to read new data like it later."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    target: str | None = None
    classes: list[Any] | None = None
    images: bool = False  # pixel data scaled to [0, 1]: no standardization needed
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return "classification" if self.classes is not None else "regression"

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def split(
    X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random split; ``test_fraction`` 0 tests on the training data itself."""
    if test_fraction <= 0:
        return X, y, X, y
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = max(1, round(len(X) * test_fraction))
    if n_test >= len(X):
        raise ValueError(f"--test-split {test_fraction} leaves no training samples.")
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def _idx_folder(folder: Path) -> Dataset:
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        found = next((p for p in candidates if p.exists()), None)
        if found is None:
            raise FileNotFoundError(
                f"{folder} has no {stem}[.gz]; an IDX folder holds the four MNIST-format files "
                f"({', '.join(IDX_FILES.values())})."
            )
        arrays[key] = load_idx(found)
    scale = lambda images: images.reshape(len(images), -1).astype(np.float32) / 255  # noqa: E731
    names = [f"pixel{i}" for i in range(int(np.prod(arrays["train_images"].shape[1:])))]
    labels = sorted(set(arrays["train_labels"].tolist()))
    return Dataset(
        folder.name,
        scale(arrays["train_images"]),
        arrays["train_labels"].astype(np.int64),
        scale(arrays["test_images"]),
        arrays["test_labels"].astype(np.int64),
        names,
        classes=[int(c) for c in range(max(labels) + 1)],
        images=True,
    )


def load(
    spec: str | None, target: str | None, test_split: float, seed: int, task: str = "auto"
) -> Dataset:
    """Resolve DATA for ``train``."""
    name = (spec or "mnist").lower()
    if spec is None or name == "mnist":
        (X_train, y_train), (X_test, y_test) = datasets.load_mnist()
        names = [f"pixel{i}" for i in range(784)]
        return Dataset(
            "mnist", X_train, y_train, X_test, y_test, names, None, list(range(10)), True
        )
    if name == "digits":
        X, y = datasets.load_digits()
        X_train, y_train, X_test, y_test = split(X / 16, y, test_split or 0.25, seed)
        names = [f"pixel{i}" for i in range(64)]
        return Dataset(
            "digits", X_train, y_train, X_test, y_test, names, None, list(range(10)), True
        )
    if name in SYNTHETIC:
        X, y = SYNTHETIC[name](seed)
        regression = name == "curve"
        if name == "xor":
            y = y.ravel().astype(np.int64)
            parts = (X, y, X, y)  # four points: train and test on all of them
        else:
            parts = split(X, y, test_split, seed)
        names = [f"x{i}" for i in range(X.shape[1])]
        classes = None if regression else [int(c) for c in range(int(y.max()) + 1)]
        return Dataset(name, *parts, names, None, classes)
    path = Path(spec)
    if path.is_dir():
        return _idx_folder(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No such file or folder: {spec!r}. DATA is a .csv or .npz file, a folder of IDX "
            f"files, or one of: {', '.join(BUILTIN)}."
        )
    if target is None:
        columns = _columns(path)
        raise ValueError(
            f"Name the target column of {path.name} with --target. Columns: {', '.join(columns)}."
        )
    table = datasets.load_table(path, target=target, task=task)
    y = table.y
    X_train, y_train, X_test, y_test = split(table.X, y, test_split, seed)
    return Dataset(
        path.name, X_train, y_train, X_test, y_test, table.feature_names, target, table.classes
    )


def is_table_file(spec: str | None) -> bool:
    """True when DATA names a table file (not a built-in name or an IDX folder); such files go
    through the raw-table path (:mod:`scratchnn.cli.tabular`)."""
    if spec is None:
        return False
    path = Path(spec)
    if spec.lower() in BUILTIN and not path.exists():
        return False
    return path.is_file()


def _columns(path: Path) -> list[str]:
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return list(archive.files)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile):
            raise DataFileError(f"{path} is not a readable .npz archive of arrays.") from None
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [name.strip() for name in next(csv.reader(handle), [])]


def load_for_model(spec: str, metadata: dict[str, Any], need_target: bool) -> Dataset:
    """Resolve DATA for ``evaluate``/``predict`` with a trained model: a built-in name gives
    its test split; a file is read with the model's feature columns, target and classes."""
    name = spec.lower()
    if name in BUILTIN and not Path(spec).exists():
        trained_on = metadata.get("dataset")
        seed = int(metadata.get("training", {}).get("seed", 0))
        split_fraction = float(metadata.get("training", {}).get("test_split", 0.2))
        data = load(spec, None, split_fraction, seed)
        if trained_on and trained_on != data.name:
            raise ValueError(f"This model was trained on {trained_on!r}, not {data.name!r}.")
        return data
    path = Path(spec)
    if path.is_dir():
        return _idx_folder(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file: {spec!r}.")
    features = metadata.get("feature_names")
    target = metadata.get("target")
    if features is None:
        raise ValueError(
            "This model does not record its feature columns (it was not trained from a file by "
            "the command line), so it cannot read a CSV file."
        )
    columns = _columns(path)
    # predict never reads the target column, even where the file has one
    has_target = need_target and target is not None and target in columns
    if need_target and (target is None or target not in columns):
        raise ValueError(
            f"{path.name} has no target column {target!r}, which evaluate needs. "
            f"Columns: {', '.join(columns)}."
        )
    table = datasets.load_table(
        path,
        target=target if has_target else None,
        features=features,
        task=metadata.get("task", "auto"),
        classes=metadata.get("classes"),
    )
    y = table.y if table.y is not None else np.zeros(len(table.X), dtype=np.int64)
    return Dataset(
        path.name,
        table.X,
        y,
        table.X,
        y,
        features,
        target,
        metadata.get("classes"),
        extra={"has_target": has_target},
    )
