"""Saving and loading models: one ``.npz`` file of arrays plus JSON metadata. Never pickle.

File layout (a standard NumPy ``.npz``, i.e. a zip of ``.npy`` arrays):

==========================  ===============================================================
``__metadata__``            UTF-8 JSON as a uint8 array: format name and version, package
                            version, the architecture (``Sequential.get_config()``), dtype,
                            and optionally the loss, optimizer and schedule configurations
                            and states, the random generators' states, the epochs trained
                            and the history.
``parameters``              the model's flat parameter vector
``buffer.<layer>.<name>``   non-trainable state, e.g. BatchNorm's running statistics
``optimizer.<i>.<name>``    optimizer state arrays (momentum buffers, moment estimates)
==========================  ===============================================================

Files are written atomically (a temporary file in the same folder, flushed, fsync'ed, then
renamed over the target), so a crash mid-save leaves any previous file intact. Loading uses
``allow_pickle=False`` and refuses anything that is not exactly this layout.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, optim
from . import losses as losses_module
from . import schedules as schedules_module
from ._files import atomic_write
from .errors import DataFileError
from .model import Sequential

FORMAT = "scratchnn"
FORMAT_VERSION = 1
#: Optional fitted components of a model, saved as JSON config plus ``<name>.<array>`` arrays.
_COMPONENTS = ("preprocessor", "target_transform")


def _metadata(model: Sequential, include_optimizer: bool) -> tuple[dict[str, Any], dict]:
    arrays: dict[str, np.ndarray] = {"parameters": model.parameters().flat.value}
    for index, layer in enumerate(model.layers):
        for name, buffer in layer.buffers.items():
            arrays[f"buffer.{index}.{name}"] = buffer
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "scratchnn_version": __version__,
        "model": model.get_config(),
        "epochs_trained": model.epochs_trained,
        "history": None if model.history is None else model.history.to_dict(),
        "metadata": model.metadata,
        "loss": None,
        "optimizer": None,
        "schedule": None,
        "rng": None,
    }
    if model.loss is not None:
        meta["loss"] = {"class_name": type(model.loss).__name__, "config": model.loss.get_config()}
    for attribute in _COMPONENTS:  # a fitted table encoder / target scaler (scratchnn.tables)
        component = getattr(model, attribute, None)
        if component is not None:
            config, named = component.get_state()
            meta[attribute] = {"class_name": type(component).__name__, "config": config}
            meta[attribute]["arrays"] = sorted(named)
            arrays.update({f"{attribute}.{key}": value for key, value in named.items()})
    if include_optimizer:
        if model.optimizer is not None:
            state = model.optimizer.state_dict()
            for i, tensors in enumerate(state["state"]):
                for name, array in tensors.items():
                    arrays[f"optimizer.{i}.{name}"] = array
            meta["optimizer"] = {
                "class_name": state["class_name"],
                "config": state["config"],
                "step_count": state["step_count"],
                "shapes": state["shapes"],
                "state_names": [sorted(tensors) for tensors in state["state"]],
            }
        if model.schedule is not None:
            meta["schedule"] = {
                "class_name": type(model.schedule).__name__,
                "config": model.schedule.get_config(),
                "state": model.schedule.state_dict(),
            }
        meta["rng"] = {
            "shuffle": model.rngs.shuffle.bit_generator.state,
            "init": model.rngs.init.bit_generator.state,
            "layers": [layer.rng.bit_generator.state for layer in model.layers],
        }
    return meta, arrays


def _arrays(model: Sequential, include_optimizer: bool) -> dict[str, np.ndarray]:
    meta, arrays = _metadata(model, include_optimizer)
    encoded = json.dumps(meta).encode("utf-8")
    arrays["__metadata__"] = np.frombuffer(encoded, dtype=np.uint8)
    return arrays


def dumps(model: Sequential, include_optimizer: bool = True) -> bytes:
    """The bytes ``save`` would write (used to pickle a model without pickling NumPy views)."""
    buffer = io.BytesIO()
    np.savez(buffer, **_arrays(model, include_optimizer))
    return buffer.getvalue()


def loads(data: bytes) -> Sequential:
    """The model that :func:`dumps` encoded."""
    meta, arrays = _parse(io.BytesIO(data), "<bytes>")
    return _build(meta, arrays, "<bytes>")


def save(model: Sequential, path: str | os.PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` to ``path`` atomically (see the module documentation for the layout)."""
    path = Path(path)
    arrays = _arrays(model, include_optimizer)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every array of the file and its parsed metadata, or a DataFileError that says why not."""
    if not path.exists():
        raise FileNotFoundError(f"No model file at {path}.")
    with open(path, "rb") as handle:
        return _parse(handle, str(path))


def _parse(handle: Any, name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if handle.read(4) != b"PK\x03\x04":  # every .npz is a zip archive
        raise DataFileError(
            f"{name} is not a scratchnn model file: it is not an .npz (zip) archive."
        )
    handle.seek(0)
    try:
        with np.load(handle, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataFileError(
                f"{name} contains a pickled Python object. scratchnn files never do, and "
                "loading one could run arbitrary code, so it was refused."
            ) from None
        raise DataFileError(f"{name} is not a readable .npz file ({error}).") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DataFileError(
            f"{name} is not a scratchnn model file, or it is truncated or corrupt ({error})."
        ) from None
    if "__metadata__" not in arrays:
        raise DataFileError(f"{name} is a NumPy archive but not a scratchnn model (no metadata).")
    metadata = arrays.pop("__metadata__")
    if not isinstance(metadata, np.ndarray) or metadata.dtype != np.uint8:
        raise DataFileError(f"{name}: the model metadata is not in scratchnn's format.")
    try:
        meta = json.loads(metadata.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataFileError(f"{name}: the model metadata is corrupt ({error}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataFileError(f"{name} is not a scratchnn model file (unknown format).")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataFileError(
            f"{name} uses format version {version!r}, newer than this scratchnn "
            f"({__version__}) reads (up to {FORMAT_VERSION}). Upgrade scratchnn to load it."
        )
    return meta, arrays


def load(path: str | os.PathLike) -> Sequential:
    """Load a model written by ``Sequential.save``: weights, buffers, and (when saved) loss,
    optimizer, schedule, random states and training position, so ``fit`` continues exactly.

    Raises:
        FileNotFoundError: no such file.
        DataFileError: the file is truncated, corrupt, not a scratchnn model, from a newer
            format version, or carries a pickled object. Nothing in it is executed.
    """
    path = Path(path)
    meta, arrays = _read(path)
    return _build(meta, arrays, str(path))


def _build(meta: dict[str, Any], arrays: dict[str, np.ndarray], name: str) -> Sequential:
    try:
        model = Sequential.from_config(meta["model"])
        _restore(model, meta, arrays)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise DataFileError(f"{name} is damaged or inconsistent: {error}") from None
    return model


def _restore(model: Sequential, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    flat = model.parameters().flat.value
    values = arrays["parameters"]
    if values.shape != flat.shape or values.dtype != flat.dtype:
        raise ValueError(
            f"the architecture needs {flat.size} {flat.dtype} parameters but the file holds "
            f"{values.size} {values.dtype}"
        )
    flat[...] = values
    for index, layer in enumerate(model.layers):
        for name, buffer in layer.buffers.items():
            stored = arrays[f"buffer.{index}.{name}"]
            if stored.shape != buffer.shape:
                raise ValueError(f"buffer {index}.{name} has shape {stored.shape}")
            buffer[...] = stored
    model.epochs_trained = int(meta.get("epochs_trained", 0))
    model.metadata = dict(meta.get("metadata") or {})
    if meta.get("loss"):
        model.loss = losses_module.get(meta["loss"])
    if meta.get("optimizer"):
        info = meta["optimizer"]
        optimizer = optim.get({"class_name": info["class_name"], "config": info["config"]})
        optimizer.load_state_dict(
            {
                "class_name": info["class_name"],
                "config": info["config"],
                "step_count": info["step_count"],
                "shapes": info["shapes"],
                "state": [
                    {name: arrays[f"optimizer.{i}.{name}"] for name in names}
                    for i, names in enumerate(info["state_names"])
                ],
            }
        )
        model.optimizer = optimizer
    if meta.get("schedule"):
        info = meta["schedule"]
        schedule = schedules_module.get(
            {"class_name": info["class_name"], "config": info["config"]}
        )
        schedule.load_state_dict(info["state"])
        model.schedule = schedule
    if meta.get("rng"):
        model.rngs.shuffle.bit_generator.state = meta["rng"]["shuffle"]
        model.rngs.init.bit_generator.state = meta["rng"]["init"]
        for layer, state in zip(model.layers, meta["rng"]["layers"], strict=True):
            layer.rng.bit_generator.state = state
    if meta.get("history"):
        from .history import History

        history = History()
        first = model.epochs_trained - len(next(iter(meta["history"].values()), []))
        for i in range(len(next(iter(meta["history"].values()), []))):
            history.append(first + i, {key: values[i] for key, values in meta["history"].items()})
        model.history = history
    _restore_components(model, meta, arrays)


def _restore_components(model: Sequential, meta: dict[str, Any], arrays: dict) -> None:
    """Rebuild ``model.preprocessor`` / ``model.target_transform`` (files before they existed
    have neither, and load as before)."""
    if not any(meta.get(attribute) for attribute in _COMPONENTS):
        return
    from .tables import TableEncoder, TargetScaler

    kinds = {"TableEncoder": TableEncoder, "TargetScaler": TargetScaler}
    for attribute in _COMPONENTS:
        info = meta.get(attribute)
        if info:
            named = {key: arrays[f"{attribute}.{key}"] for key in info["arrays"]}
            setattr(model, attribute, kinds[info["class_name"]].from_state(info["config"], named))
