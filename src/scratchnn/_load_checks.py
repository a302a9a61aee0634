"""What a model file may contain: the checks that :func:`scratchnn.load` applies to its
metadata and state before trusting them.

Each check raises :class:`_Refused` with a sentence about what is wrong; the loader adds the
file's name and turns it into a :class:`~scratchnn.errors.DataFileError`. The architecture is
checked (and the size of every array predicted) from the *unbuilt* layers, so that nothing is
allocated for a model the file cannot back with bytes of its own.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from . import shapes
from .layers import Layer, layers

#: A model has at most this many layers.
MAX_LAYERS = 4096
#: Counters restored from a file (epochs, schedule positions) are at most this.
MAX_EPOCHS = 10**7
#: Optimizer steps restored from a file are at most this (exact in a float64).
MAX_STEPS = 2**53
#: History entries (names) and per-name length.
MAX_HISTORY_KEYS = 256

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
#: Optimizer state arrays that are running sums or averages of squares: never negative.
_NON_NEGATIVE_STATE = {"exp_avg_sq", "max_exp_avg_sq", "square_avg", "sum"}


class InvalidFileError(Exception):
    """A reason to refuse the file (the loader adds its name)."""


class UnregisteredClassError(InvalidFileError):
    """The file names a class that this program has not registered: the file may well be
    sound, and the fix is in the program (the loader says so instead of "damaged")."""


#: How a program registers a class of each kind that a model file names.
_REGISTER = {
    "layer": "@snn.layers.layers.register() above `class {name}(snn.Layer)`",
    "loss": "@snn.losses.losses.register() above `class {name}(snn.losses.Loss)`",
    "optimizer": "@snn.optim.optimizers.register() above `class {name}(snn.optim.Optimizer)`",
    "schedule": "@snn.schedules.schedules.register() above `class {name}(snn.schedules.Schedule)`",
}


def check_registered(registry: Any, name: Any) -> None:
    """Refuse, naming the class and how to register it, a class name that ``registry`` does
    not know (and leave other problems with the name to the checks that follow)."""
    if not isinstance(name, str):
        return
    try:
        registry.lookup(name)
    except ValueError:
        how = _REGISTER.get(registry.kind, "its registry's register() decorator").format(name=name)
        raise UnregisteredClassError(
            f"Unknown {registry.kind} {short(name)}: the file holds a {registry.kind} of this "
            "class, which is not registered in this program, so the model cannot be rebuilt "
            f"(the file itself may well be sound). Define the class (or import the module that "
            f"defines it) with {how}, then load the file again."
        ) from None


def _check_layers_registered(spec: Any) -> None:
    """``check_registered`` for a layer spec and, in a container's config, its sublayers."""
    if not isinstance(spec, dict):
        return
    check_registered(layers, spec.get("class_name"))
    config = spec.get("config")
    inner = config.get("layers") if isinstance(config, dict) else None
    if isinstance(inner, list):
        for sub in inner:
            _check_layers_registered(sub)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(what: str, value: Any, low: int, high: int) -> int:
    if not is_int(value) or not low <= value <= high:
        raise InvalidFileError(
            f"{what} must be a whole number in [{low}, {high}]; it is {short(value)}."
        )
    return value


def check_type(what: str, value: Any, kind: type | tuple[type, ...], optional=False) -> Any:
    if optional and value is None:
        return value
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        names = {"dict": "a JSON object", "list": "a JSON list", "str": "a string"}.get(
            names, names
        )
        raise InvalidFileError(f"{what} must be {names}; it is {short(value)}.")
    return value


def short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters, for error messages about a file's contents."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# The architecture


def layer_specs(model: Any) -> tuple[list[dict[str, Any]], Any, Any, Any]:
    """The model section's ``(layer specs, seed, dtype, input shape or None)``, their types
    checked."""
    check_type("the model section", model, dict)
    specs = check_type("the model's layers", model.get("layers"), list)
    if not 1 <= len(specs) <= MAX_LAYERS:
        raise InvalidFileError(
            f"a model has 1 to {MAX_LAYERS} layers; this one lists {len(specs):,}."
        )
    for i, spec in enumerate(specs):
        check_type(f"layer {i}", spec, dict)
        check_type(f"layer {i}'s class_name", spec.get("class_name"), str)
        check_type(f"layer {i}'s config", spec.get("config", {}), dict)
    seed = model.get("seed")
    if seed is not None and (not is_int(seed) or seed < 0):
        raise InvalidFileError(
            f"the seed must be a whole number >= 0 or null; it is {short(seed)}."
        )
    dtype = model.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise InvalidFileError(f"the dtype must be 'float32' or 'float64'; it is {short(dtype)}.")
    input_shape = model.get("input_shape")
    if input_shape is not None:
        check_type("the model's input_shape", input_shape, list)
        if not 1 <= len(input_shape) <= 8:
            raise InvalidFileError(f"the input_shape {short(input_shape)} has 1 to 8 axes.")
        for size in input_shape:
            if size is not None:
                check_int("an input_shape size", size, 1, 2**62)
        input_shape = tuple(input_shape)
    return specs, seed, np.dtype(dtype), input_shape


def create_layers(specs: list[dict[str, Any]]) -> list[Layer]:
    """The layers, constructed (their arguments validated) but not built: nothing allocated."""
    created = []
    for i, spec in enumerate(specs):
        _check_layers_registered(spec)
        try:
            created.append(layers.create(spec, Layer))
        except (ValueError, TypeError) as error:
            raise InvalidFileError(f"layer {i} ({spec['class_name']}): {error}") from None
    return created


def predicted_arrays(
    created: list[Layer], capacity: int, input_shape: Any = None
) -> tuple[int, list[dict[str, tuple[int, ...]] | None]]:
    """The number of parameters and each layer's buffer shapes that the unbuilt layers will
    create, as each layer declares them (``parameter_shapes``/``buffer_shapes``) for the
    shape it receives; None for a layer that does not declare them (a custom layer that
    creates its arrays in ``build``), whose input and output together must then hold at most
    ``capacity`` values (what the file could hold).

    Raises:
        InvalidFileError: the shapes do not chain, a declared size is absurd, or an
            undeclared layer's size exceeds ``capacity``.
    """
    try:
        chain = shapes.infer_shapes(created, input_shape)
    except ValueError as error:
        raise InvalidFileError(f"the layers do not fit together: {error}") from None
    total, buffers = 0, []
    for i, (layer, shape) in enumerate(zip(created, chain, strict=False)):
        for axis, size in enumerate(chain[i + 1]):
            if size is not None:
                check_int(f"layer {i}'s output size on axis {axis + 1}", size, 1, 2**62)
        parameters = layer.parameter_shapes(shape)
        declared = layer.buffer_shapes(shape)
        if parameters is None or declared is None:
            known = [s for s in (*shape, *chain[i + 1]) if s is not None]
            if math.prod(known) > capacity:
                raise InvalidFileError(
                    f"layer {i} ({type(layer).__name__}) maps {shapes.describe(shape)} to "
                    f"{shapes.describe(chain[i + 1])}: a layer of that size may need more than "
                    f"the {capacity:,} values the file could hold."
                )
            buffers.append(None)
            continue
        for name, array_shape in (*parameters.items(), *declared.items()):
            for size in array_shape:
                check_int(f"layer {i}'s array {name!r} size", size, 0, capacity)
        total += sum(shapes.size(s) for s in parameters.values())
        if total > capacity:
            raise InvalidFileError(
                f"the layers declare {total:,} parameters or more; the file could hold at "
                f"most {capacity:,} values."
            )
        buffers.append(dict(declared))
    return total, buffers


# Restored state


def check_finite(what: str, array: np.ndarray, low: float | None = -math.inf) -> None:
    """Every entry finite (and ``>= low``; ``low=None`` means ``> 0``)."""
    with np.errstate(all="ignore"):
        total = float(np.sum(array, dtype=np.float64)) if array.size else 0.0
        if not math.isfinite(total) and not np.isfinite(array).all():
            raise InvalidFileError(f"{what} holds NaN or infinite values.")
    if low is None:
        if array.size and not (array > 0).all():
            raise InvalidFileError(f"{what} must be positive everywhere; it holds values <= 0.")
    elif low > -math.inf and array.size and not (array >= low).all():
        raise InvalidFileError(f"{what} must be >= {low} everywhere; it holds smaller values.")


def buffer_low(layer: Layer, name: str) -> float | None:
    """The lowest value a buffer may hold (None: strictly positive), -inf when unbounded, as
    the layer declares in ``buffer_lows`` (``"0.running_var"`` is sublayer 0's)."""
    *path, own = name.split(".")
    for index in path:
        layer = layer.sublayers()[int(index)]
    return layer.buffer_lows.get(own, -math.inf)


def optimizer_layout(info: Any, parameters: int) -> tuple[int, list[list[str]]]:
    """The saved optimizer section's ``(step_count, state names per tensor)``, checked
    against a model with ``parameters`` values (one flat tensor)."""
    check_type("the optimizer section", info, dict)
    check_type("the optimizer's class_name", info.get("class_name"), str)
    check_type("the optimizer's config", info.get("config"), dict)
    steps = check_int("the optimizer's step_count", info.get("step_count"), 0, MAX_STEPS)
    shapes = check_type("the optimizer's shapes", info.get("shapes"), list)
    names = check_type("the optimizer's state_names", info.get("state_names"), list)
    if shapes not in ([], [[parameters]]):
        raise InvalidFileError(
            f"the optimizer's state is for parameter shapes {short(shapes)}, but the model "
            f"has one vector of {parameters} parameters."
        )
    if len(names) != len(shapes):
        raise InvalidFileError("the optimizer's state_names and shapes differ in length.")
    for group in names:
        check_type("the optimizer's state names", group, list)
        if len(group) > 8 or len(set(map(str, group))) != len(group):
            raise InvalidFileError(
                f"the optimizer's state names {short(group)} are not distinct names."
            )
        for name in group:
            if not isinstance(name, str) or not _NAME.match(name):
                raise InvalidFileError(f"{short(name)} is not an optimizer state name.")
    return steps, names


def check_optimizer_state(optimizer: Any, names: list[list[str]]) -> None:
    """After ``load_state_dict``: the state is what this optimizer keeps, finite, in range."""
    expected = set(getattr(optimizer, "_state_names", ()))
    for tensors in optimizer.state:
        if set(tensors) != expected:
            raise InvalidFileError(
                f"{type(optimizer).__name__} keeps the state {sorted(expected)}, but the file "
                f"holds {sorted(tensors)}."
            )
        for name, array in tensors.items():
            check_finite(f"the optimizer state {name!r}", array, optimizer_state_low(name))


def optimizer_state_low(name: str) -> float:
    """The lowest value the optimizer state array ``name`` may hold (0 for running sums or
    averages of squares, else -inf)."""
    return 0.0 if name in _NON_NEGATIVE_STATE else -math.inf


def check_schedule_state(schedule: Any, state: Any) -> None:
    """The saved position of a schedule: exactly the keys of a fresh one, each a value of the
    same kind in its range (counters whole and <= ``MAX_EPOCHS``, rates finite and >= 0)."""
    check_type("the schedule's state", state, dict)
    fresh = schedule.state_dict()
    if set(state) != set(fresh):
        raise InvalidFileError(
            f"a {type(schedule).__name__} schedule's state has the keys {sorted(fresh)}; the "
            f"file gives {short(sorted(map(str, state)))}."
        )
    for key, value in state.items():
        what = f"the schedule's {key}"
        default = fresh[key]
        if key == "base_lr":
            if value is not None and not (is_number(value) and 0 <= value < math.inf):
                raise InvalidFileError(
                    f"{what} must be a finite number >= 0; it is {short(value)}."
                )
        elif is_int(default):
            check_int(what, value, 0, MAX_EPOCHS)
        elif isinstance(default, float):
            if not is_number(value) or math.isnan(value):
                raise InvalidFileError(f"{what} must be a number; it is {short(value)}.")
        elif type(value) is not type(default):
            raise InvalidFileError(f"{what} must be like {short(default)}; it is {short(value)}.")


def check_rng_state(what: str, state: Any, fresh: dict[str, Any]) -> None:
    """A bit generator's state: the same structure as a fresh one's, with whole numbers of at
    most 128 bits where it has them."""
    if isinstance(fresh, dict):
        check_type(what, state, dict)
        if set(state) != set(fresh):
            raise InvalidFileError(f"{what} has the keys {short(sorted(map(str, state)))}.")
        for key in fresh:
            check_rng_state(f"{what}[{key!r}]", state[key], fresh[key])
    elif is_int(fresh):
        check_int(what, state, 0, 2**128 - 1)
    elif state != fresh:
        raise InvalidFileError(f"{what} is {short(state)}, not {short(fresh)}.")


def check_history(history: Any, epochs: int) -> None:
    """``{name: [one number per epoch]}``: names are strings, lists equally long, no longer
    than the epochs trained."""
    check_type("the history", history, dict)
    if len(history) > MAX_HISTORY_KEYS:
        raise InvalidFileError(
            f"the history has {len(history)} entries (at most {MAX_HISTORY_KEYS})."
        )
    lengths = set()
    for key, values in history.items():
        check_type(f"the history's {short(key)}", values, list)
        if not all(is_number(value) for value in values):
            raise InvalidFileError(f"the history's {key!r} holds something that is not a number.")
        lengths.add(len(values))
    if len(lengths) > 1:
        raise InvalidFileError(f"the history's lists differ in length ({sorted(lengths)}).")
    if lengths and lengths.pop() > epochs:
        raise InvalidFileError("the history is longer than the epochs trained.")


#: The metadata keys the command line reads, and what each must be.
_CLI_METADATA = {
    "dataset": str,
    "feature_names": list,
    "target": (str, int),
    "classes": list,
    "task": str,
    "training": dict,
    "metrics": dict,
}


def check_metadata(metadata: Any, out_features: int) -> None:
    """The free-form metadata is a JSON object; the keys the command line reads have the
    types it writes (feature names are strings, classes a list of labels matching the
    output, metrics a table of numbers)."""
    check_type("the metadata", metadata, dict, optional=True)
    for key, kind in _CLI_METADATA.items():
        check_type(f"metadata[{key!r}]", (metadata or {}).get(key), kind, optional=True)
    metadata = metadata or {}
    if metadata.get("feature_names") is not None and not all(
        isinstance(name, str) for name in metadata["feature_names"]
    ):
        raise InvalidFileError("metadata['feature_names'] must be a list of strings.")
    classes = metadata.get("classes")
    if classes is not None:
        if not all(isinstance(c, (str, int, float, bool)) for c in classes):
            raise InvalidFileError(
                "metadata['classes'] must be a list of labels (strings or numbers)."
            )
        if len(classes) != out_features and not (out_features == 1 and len(classes) == 2):
            raise InvalidFileError(
                f"metadata['classes'] lists {len(classes)} classes for a model with "
                f"{out_features} outputs."
            )
    for split, row in (metadata.get("metrics") or {}).items():
        check_type(f"metadata['metrics'][{split!r}]", row, dict)
        if not all(is_number(value) for value in row.values()):
            raise InvalidFileError(f"metadata['metrics'][{split!r}] must map names to numbers.")
