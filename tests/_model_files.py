"""Helpers for tests that take model files apart and put them back together (no pytest here)."""

from __future__ import annotations

import io
import json
import threading
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import scratchnn as snn

#: What a refused file may cost at most (the issue's bar), in bytes of traced memory.
MEMORY_BOUND = 200 * 2**20


def small_model(with_schedule: bool = True) -> snn.Sequential:
    """A trained model with every kind of saved state: BatchNorm and Standardize buffers,
    Adam moments, a cosine schedule with restarts, random states, history and metadata."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3))
    y = np.arange(24) % 2
    model = snn.Sequential(
        [
            snn.Standardize(3),
            snn.Dense(3, 4),
            snn.BatchNorm1d(4),
            snn.ReLU(),
            snn.Dropout(0.1),
            snn.Dense(4, 2),
        ],
        seed=0,
    )
    model.layers[0].adapt(X)
    schedule = snn.schedules.CosineAnnealing(T_max=2, warm_restarts=True) if with_schedule else None
    model.fit(X, y, loss="ce", optimizer="adam", schedule=schedule, epochs=3, verbose=0)
    model.metadata = {"classes": ["no", "yes"], "feature_names": ["a", "b", "c"]}
    return model


def members(data: bytes) -> dict[str, bytes]:
    """The raw bytes of every member of a zip archive, by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def zip_bytes(entries: dict[str, bytes] | list[tuple[str, bytes]], deflate=()) -> bytes:
    """A zip of ``entries`` (stored, except names in ``deflate``); a list allows duplicates."""
    buffer = io.BytesIO()
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": wanted here
        for name, content in items:
            method = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=method)
    return buffer.getvalue()


def npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def metadata(data: bytes) -> dict[str, Any]:
    raw = members(data)["__metadata__.npy"]
    return json.loads(np.load(io.BytesIO(raw)).tobytes().decode("utf-8"))


def with_metadata(data: bytes, edit: Callable[[dict], Any] | None = None, raw=None) -> bytes:
    """The model file ``data`` with its JSON edited in place by ``edit`` (or replaced by the
    bytes ``raw``); every other member is copied byte for byte."""
    entries = members(data)
    if raw is None:
        meta = metadata(data)
        edit(meta)
        raw = json.dumps(meta).encode("utf-8")
    entries["__metadata__.npy"] = npy(np.frombuffer(raw, dtype=np.uint8))
    return zip_bytes(entries)


def with_member(data: bytes, name: str, content: bytes | None) -> bytes:
    """The model file with member ``name`` (``"parameters"`` for ``parameters.npy``) replaced,
    added, or (``None``) removed."""
    entries = members(data)
    if content is None:
        del entries[f"{name}.npy"]
    else:
        entries[f"{name}.npy"] = content
    return zip_bytes(entries)


def load_cost(load: Callable[[], Any], timeout: float = 60.0) -> tuple[Any, float, int]:
    """``(result or exception, seconds, peak traced bytes)`` of ``load()``, run in a thread so
    that a hang fails the test instead of blocking the suite."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(load())
        except BaseException as error:
            outcome.append(error)

    tracemalloc.start()
    start = time.perf_counter()
    try:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if worker.is_alive():
        raise AssertionError(f"load did not return within {timeout} s (a hang)")
    return outcome[0], seconds, peak


def write(folder: Path, data: bytes, name: str = "model.npz") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
