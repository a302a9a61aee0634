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
renamed over the target), so a crash mid-save leaves any previous file intact. Loading never
unpickles, reads only the members listed above (stored uncompressed, as ``np.savez`` writes
them), checks every declared size and shape against the architecture before reading or
allocating, and refuses anything that is not exactly this layout (see :func:`load`).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import _load_checks as checks
from . import losses as losses_module
from . import optim
from . import schedules as schedules_module
from ._archive import Archive, metadata_over_limits, open_archive
from ._files import atomic_write
from ._registry import components, models
from ._version import __version__
from .errors import DataFileError
from .history import History
from .layers.base import named_buffers

#: A :class:`scratchnn.Sequential`: built from the registry of model classes, which the model
#: module fills, so this module (below it) never imports it.
Sequential = Any

FORMAT = "scratchnn"
FORMAT_VERSION = 1
#: Optional fitted components of a model, saved as JSON config plus ``<name>.<array>`` arrays.
#: Their classes come from the registry of components: a front end (the table encoder of
#: scratchnn.tables, a tokenizer) registers its own, and the package declares where each lives.
_COMPONENTS = ("preprocessor", "target_transform")


def _metadata(model: Sequential, include_optimizer: bool) -> tuple[dict[str, Any], dict]:
    arrays: dict[str, np.ndarray] = {"parameters": model.parameters().flat.value}
    for index, layer in enumerate(model.layers):
        for name, buffer in named_buffers(layer):  # a container's as buffer.3.0.running_mean
            arrays[f"buffer.{index}.{name}"] = buffer
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "scratchnn_version": __version__,
        "model": model.get_config(),
        "epochs_trained": model.epochs_trained,
        # (a history of no epochs is none: its names with empty lists would load as one)
        "history": model.history.to_dict()
        if model.history is not None and len(model.history)
        else None,
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
            "layers": [layer.rng.bit_generator.state for _, layer in model.named_layers()],
        }
    return meta, arrays


def _arrays(model: Sequential, include_optimizer: bool) -> dict[str, np.ndarray]:
    meta, arrays = _metadata(model, include_optimizer)
    encoded = json.dumps(meta).encode("utf-8")
    _refuse_unloadable(model, meta, encoded, arrays)
    arrays["__metadata__"] = np.frombuffer(encoded, dtype=np.uint8)
    return arrays


def _refuse_unloadable(
    model: Sequential, meta: dict[str, Any], encoded: bytes, arrays: dict[str, np.ndarray]
) -> None:
    """Raise ValueError, naming the limit and the way out, rather than write a file that
    :func:`load` would refuse: metadata over the limits that load sets (a very long history,
    a table encoder of very many text columns), or NaN or infinite state (a float32
    BatchNorm whose running variance overflowed)."""
    reason = metadata_over_limits(encoded)
    if reason is not None:
        sizes = {key: len(json.dumps(meta.get(key))) for key in ("history", *_COMPONENTS)}
        sizes["metadata"] = len(json.dumps(meta.get("metadata")))
        largest = max(sizes, key=sizes.__getitem__)
        way_out = {
            "history": "drop the history before saving (model.history = None)",
            "preprocessor": "train on fewer text columns (--drop, --features) or fewer "
            "categories (--max-categories)",
            "metadata": "keep less in model.metadata",
        }.get(largest, f"drop model.{largest}")
        raise ValueError(
            f"The model was not saved: {reason}, so the file would not load again. Most of it "
            f"is the {largest} ({sizes[largest]:,} bytes of JSON): {way_out}."
        )
    try:
        checks.check_metadata(meta.get("metadata"), model.out_features)
    except checks.InvalidFileError as error:
        raise ValueError(
            f"The model was not saved: {str(error).rstrip('.')}, which load refuses (the command "
            "line reads these keys of model.metadata). Fix or remove that key, and save again."
        ) from None
    try:
        checks.check_finite("the parameters", arrays["parameters"])
        for index, layer in enumerate(model.layers):
            for name, buffer in named_buffers(layer):
                low = checks.buffer_low(layer, name)
                checks.check_finite(f"buffer {index}.{name}", buffer, low)
        for key, value in arrays.items():
            if key.startswith("optimizer."):
                low = checks.optimizer_state_low(key.rsplit(".", 1)[1])
                checks.check_finite(f"the optimizer state {key!r}", value, low)
    except checks.InvalidFileError as error:
        raise ValueError(
            f"The model was not saved: {str(error).rstrip('.')}, which load refuses (and "
            "predictions made with such state are meaningless). It overflowed in training "
            "(float32 holds numbers up to 3.4e38): standardize the inputs (e.g. a "
            "snn.Standardize first layer) or use dtype='float64', and train again."
        ) from None


def dumps(model: Sequential, include_optimizer: bool = True) -> bytes:
    """The bytes ``save`` would write (used to pickle a model without pickling NumPy views)."""
    buffer = io.BytesIO()
    np.savez(buffer, **_arrays(model, include_optimizer))
    return buffer.getvalue()


def loads(data: bytes) -> Sequential:
    """The model that :func:`dumps` encoded, checked as :func:`load` checks a file."""
    return _load(bytes(data), "<bytes>")


def save(model: Sequential, path: str | os.PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` to ``path`` atomically (see the module documentation for the layout)."""
    path = Path(path)
    arrays = _arrays(model, include_optimizer)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)


def load(path: str | os.PathLike) -> Sequential:
    """Load a model written by ``Sequential.save``: weights, buffers, and (when saved) loss,
    optimizer, schedule, random states and training position, so ``fit`` continues exactly.

    Nothing in the file is trusted before it is checked, and nothing is allocated for it
    before its size is known to match the architecture the file declares: a hostile file
    costs at most the time and memory of a legitimate model of its own size. Only the members
    a model needs are read; others are ignored unread. Nothing in it is executed.

    Raises:
        FileNotFoundError: no such file (PermissionError and other OSErrors of the file
            system pass through as they are).
        DataFileError: for anything else: not a regular file (a folder, FIFO or device), not
            a scratchnn model, truncated or corrupt, from a newer format version, carrying a
            pickled object, declaring arrays its architecture does not have, or holding state
            that is out of range (NaN or infinite weights, malformed optimizer, schedule,
            random-generator or history state). The message says what is wrong.
    """
    return _load(Path(path), str(path))


def _load(source: Path | bytes, name: str) -> Sequential:
    """Open, check and restore; every failure but a missing or unreadable file becomes a
    DataFileError that names the file."""
    try:
        with open_archive(source) as archive:
            return _build(_read_metadata(archive), archive)
    except (DataFileError, FileNotFoundError, PermissionError):
        raise
    except checks.UnregisteredClassError as error:  # the file is fine; the program lacks a class
        raise DataFileError(f"{name}: {error}") from None
    except checks.InvalidFileError as error:
        raise DataFileError(f"{name} is damaged or inconsistent: {error}") from None
    except (ValueError, TypeError) as error:  # a constructor refused a saved setting
        raise DataFileError(f"{name} is damaged or inconsistent: {error}") from None
    except Exception as error:  # KeyError, OverflowError, RecursionError, MemoryError, ...
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise DataFileError(f"{name} is damaged or inconsistent ({detail}).") from None


def _read_metadata(archive: Archive) -> dict[str, Any]:
    """The file's JSON metadata, if it is scratchnn's in a format version this one reads."""
    name = archive.name
    if "__metadata__" not in archive:
        raise DataFileError(f"{name} is a NumPy archive but not a scratchnn model (no metadata).")
    meta = archive.json("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataFileError(f"{name} is not a scratchnn model file (unknown format).")
    version = meta.get("format_version")
    if not checks.is_int(version) or version < 1:
        raise DataFileError(
            f"{name} uses format version {version!r}, which is not one that scratchnn wrote "
            f"(1 to {FORMAT_VERSION})."
        )
    if version > FORMAT_VERSION:
        raise DataFileError(
            f"{name} uses format version {version!r}, newer than this scratchnn "
            f"({__version__}) reads (up to {FORMAT_VERSION}). Upgrade scratchnn to load it."
        )
    return meta


def _build(meta: dict[str, Any], archive: Archive) -> Sequential:
    """Check the architecture and the declared size of every array against each other and
    against the file, then (only then) build the model and restore its state."""
    specs, seed, dtype, input_shape = checks.layer_specs(meta.get("model"))
    checks.check_int("epochs_trained", meta.get("epochs_trained", 0), 0, checks.MAX_EPOCHS)
    created = checks.create_layers(specs)
    total, buffers = checks.predicted_arrays(created, archive.size // dtype.itemsize, input_shape)
    declared = [("parameters", (total,))] if None not in buffers else []
    for index, shapes in enumerate(buffers):
        declared += [(f"buffer.{index}.{key}", shape) for key, shape in (shapes or {}).items()]
    if meta.get("optimizer") and None not in buffers:
        _, groups = checks.optimizer_layout(meta["optimizer"], total)
        declared += [
            (f"optimizer.{i}.{key}", (total,)) for i, group in enumerate(groups) for key in group
        ]
    for key, shape in declared:
        _expect(archive, key, shape, dtype)
    model = models.lookup("Sequential")(created, seed=seed, dtype=dtype, input_shape=input_shape)
    _restore(model, meta, archive)
    return model


def _expect(archive: Archive, key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Refuse the file unless member ``key`` declares ``shape`` and ``dtype`` (header only)."""
    stored_shape, stored_dtype = archive.header(key)
    if stored_shape != shape or stored_dtype.newbyteorder("=") != dtype:
        raise checks.InvalidFileError(
            f"{key!r} holds {stored_dtype} values of shape {stored_shape}, but the architecture "
            f"needs {dtype} values of shape {shape}."
        )


def _restore(model: Sequential, meta: dict[str, Any], arrays: Archive) -> None:
    """Copy the file's checked state into the freshly built ``model``."""
    flat = model.parameters().flat.value
    values = arrays.array("parameters", flat.shape, flat.dtype)
    checks.check_finite("the parameters", values)
    flat[...] = values
    for index, layer in enumerate(model.layers):
        for name, buffer in named_buffers(layer):
            stored = arrays.array(f"buffer.{index}.{name}", buffer.shape, buffer.dtype)
            checks.check_finite(f"buffer {index}.{name}", stored, checks.buffer_low(layer, name))
            buffer[...] = stored
    model.epochs_trained = meta.get("epochs_trained", 0)
    checks.check_metadata(meta.get("metadata"), model.out_features)
    model.metadata = dict(meta.get("metadata") or {})
    if meta.get("loss"):
        loss = checks.check_type("the loss", meta["loss"], dict)
        checks.check_registered(losses_module.losses, loss.get("class_name"))
        model.loss = losses_module.get(loss)
    if meta.get("optimizer"):
        model.optimizer = _restore_optimizer(meta["optimizer"], flat, arrays)
    if meta.get("schedule"):
        model.schedule = _restore_schedule(meta["schedule"])
    if meta.get("rng"):
        _restore_rngs(model, meta["rng"])
    if meta.get("history"):
        model.history = _restore_history(meta["history"], model.epochs_trained)
    _restore_components(model, meta, arrays)


def _restore_optimizer(info: Any, flat: np.ndarray, arrays: Archive) -> optim.Optimizer:
    """The saved optimizer with its state: arrays of the parameters' shape and dtype, finite,
    and exactly the state this optimizer keeps."""
    _, groups = checks.optimizer_layout(info, flat.size)
    checks.check_registered(optim.optimizers, info["class_name"])
    optimizer = optim.get({"class_name": info["class_name"], "config": info["config"]})
    state = [
        {key: arrays.array(f"optimizer.{i}.{key}", flat.shape, flat.dtype) for key in group}
        for i, group in enumerate(groups)
    ]
    optimizer.load_state_dict(
        {
            "class_name": info["class_name"],
            "config": info["config"],
            "step_count": info["step_count"],
            "shapes": info["shapes"],
            "state": state,
        }
    )
    checks.check_optimizer_state(optimizer, groups)
    return optimizer


def _restore_schedule(info: Any) -> schedules_module.Schedule:
    """The saved schedule at its saved position (keys, kinds and ranges checked first)."""
    checks.check_type("the schedule section", info, dict)
    checks.check_registered(schedules_module.schedules, info.get("class_name"))
    schedule = schedules_module.get(
        {
            "class_name": checks.check_type(
                "the schedule's class_name", info.get("class_name"), str
            ),
            "config": checks.check_type("the schedule's config", info.get("config"), dict),
        }
    )
    checks.check_schedule_state(schedule, info.get("state"))
    schedule.load_state_dict(info["state"])
    if schedule.started and type(schedule).lr_at is not schedules_module.Schedule.lr_at:
        rate = schedule.lr_at(schedule.last_epoch)
        if not (checks.is_number(rate) and 0 <= rate < float("inf")):
            raise checks.InvalidFileError(f"the schedule's saved position gives the rate {rate!r}.")
    return schedule


def _restore_rngs(model: Sequential, info: Any) -> None:
    """The random generators' states (each checked against a fresh generator's structure)."""
    checks.check_type("the random states", info, dict)
    generators = {"shuffle": model.rngs.shuffle, "init": model.rngs.init}
    states = checks.check_type("the layers' random states", info.get("layers"), list)
    every = [layer for _, layer in model.named_layers()]  # with the layers inside containers
    if len(states) != len(every):
        raise checks.InvalidFileError(
            f"the file has {len(states)} layer random states for {len(every)} layers."
        )
    pairs = [(f"the {key} generator's state", generators[key], info.get(key)) for key in generators]
    pairs += [
        (f"layer {i}'s random state", layer.rng, state)
        for i, (layer, state) in enumerate(zip(every, states, strict=True))
    ]
    for what, generator, state in pairs:
        checks.check_rng_state(what, state, generator.bit_generator.state)
        generator.bit_generator.state = state


def _restore_history(saved: Any, epochs: int) -> History:
    """The per-epoch history, numbered so that its last epoch is the last one trained."""
    checks.check_history(saved, epochs)
    history = History()
    length = len(next(iter(saved.values()), []))
    for i in range(length):
        history.append(epochs - length + i, {key: values[i] for key, values in saved.items()})
    return history


def _restore_components(model: Sequential, meta: dict[str, Any], arrays: dict) -> None:
    """Rebuild ``model.preprocessor`` / ``model.target_transform`` (files before they existed
    have neither, and load as before)."""
    if not any(meta.get(attribute) for attribute in _COMPONENTS):
        return
    for attribute in _COMPONENTS:
        info = meta.get(attribute)
        if info:
            kind = components.lookup(
                checks.check_type(f"the {attribute}'s class", info.get("class_name"), str)
            )
            named = {key: arrays[f"{attribute}.{key}"] for key in info["arrays"]}
            setattr(model, attribute, kind.from_state(info["config"], named))
