"""Look-up of components by name, so that ``"relu"``, ``"adam"`` or ``"glorot_uniform"`` work
everywhere a user would type them, and so that a model's configuration is plain JSON."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def normalize_name(name: str) -> str:
    """``"Leaky-ReLU"``, ``"leaky_relu"`` and ``"leakyrelu"`` all name the same thing."""
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


class Registry(Generic[T]):
    """Maps names to classes (or functions) of one kind: layers, losses, optimizers, ...

    Example:
        >>> losses = Registry("loss")
        >>> @losses.register("mse", "mean_squared_error")
        ... class MSE: ...
        >>> losses.lookup("MSE") is MSE
        True
    """

    def __init__(self, kind: str, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._entries: dict[str, T] = {}
        self._canonical: dict[str, str] = {}
        self._declared: dict[str, str] = {}

    def register(self, *aliases: str, listed: bool = True) -> Callable[[T], T]:
        """Decorator: register an entry under its own ``__name__`` and any ``aliases``.

        ``listed=False`` registers an entry that configs name but a user never types alone
        (a wrapper that needs arguments, such as a packed ensemble's loss): it loads from a
        file but is left out of :meth:`names`, the list an unknown name's error offers."""

        def decorator(entry: T) -> T:
            canonical = entry.__name__  # type: ignore[attr-defined]
            for name in (canonical, *aliases):
                self._entries[normalize_name(name)] = entry
            if listed:
                self._canonical[canonical] = canonical
            return entry

        return decorator

    def declare(self, name: str, module: str) -> None:
        """Say that ``module`` registers ``name`` when imported, without importing it now:
        the first ``lookup(name)`` imports it. This is how a higher layer (e.g. the table front
        end) plugs into a lower one (the file format) that must not import it."""
        self._declared[normalize_name(name)] = module

    def names(self) -> list[str]:
        """The canonical names, sorted, for error messages and documentation."""
        return sorted(self._canonical)

    def lookup(self, name: str) -> T:
        """The entry registered as ``name`` (case, ``-`` and ``_`` are ignored)."""
        key = normalize_name(name)
        if key not in self._entries and key in self._declared:
            importlib.import_module(self._declared.pop(key))
        try:
            return self._entries[key]
        except KeyError:
            raise ValueError(
                f"Unknown {self.kind} {name!r}. Known {self.plural}: {', '.join(self.names())}."
            ) from None

    def create(self, spec: Any, base: type, **kwargs: Any) -> Any:
        """Turn ``spec`` into an instance of ``base``.

        ``spec`` may be an instance (returned as is), a registered name (instantiated with
        ``kwargs``), or a config dict ``{"class_name": ..., "config": {...}}``.
        """
        if isinstance(spec, base):
            return spec
        if isinstance(spec, str):
            return self.lookup(spec)(**kwargs)  # type: ignore[operator]
        if isinstance(spec, dict) and "class_name" in spec:
            entry = self.lookup(spec["class_name"])
            return entry.from_config(spec.get("config", {}))  # type: ignore[attr-defined]
        raise TypeError(
            f"Expected a {self.kind} name (one of {', '.join(self.names())}) or a "
            f"{base.__name__} instance. Received: {spec!r} of type {type(spec).__name__}."
        )


#: Model classes by name (``"Sequential"``), for the file format, which builds what a file
#: describes without importing the module that defines it.
models: Registry[type] = Registry("model")
#: Fitted components a model may carry (a table encoder, a target scaler, a tokenizer), by
#: class name: each has ``get_state() -> (config, arrays)`` and ``from_state(config, arrays)``.
components: Registry[type] = Registry("model component")
#: Figure functions that lower modules draw through without importing the plotting adapter
#: (``History.plot`` draws ``"training_curves"``, which ``scratchnn.plot`` registers).
figures: Registry[Callable[..., Any]] = Registry("figure")


class Configurable:
    """Mixin for components described by their constructor arguments: ``get_config()``
    returns them as JSON-compatible values, ``from_config`` calls the constructor with them,
    and ``repr`` shows them (``Dense(in_features=2, out_features=4)``)."""

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as JSON-compatible values.

        By default they are read from the attributes named like the constructor's parameters,
        as Keras asks every layer to do by hand: ``Scale(factor=0.3)`` that stores
        ``self.factor`` round-trips with no more code. A class that stores an argument under
        another name (or not at all), takes ``*args``/``**kwargs``, or keeps a value JSON cannot
        hold writes its own ``get_config``; until it does, this raises rather than let a saved
        model come back different.

        Raises:
            NotImplementedError: an argument cannot be read back, naming it and the fix.
        """
        return config_from_signature(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        return cls(**config)

    def __repr__(self) -> str:
        # The arguments that differ from the constructor's defaults, as scikit-learn shows.
        defaults = _constructor_defaults(type(self))
        try:
            config = self.get_config()
        except NotImplementedError:  # a custom class whose arguments cannot be read back
            return f"{type(self).__name__}(...)"
        args = ", ".join(
            f"{key}={value!r}"
            for key, value in config.items()
            if not _same(value, defaults.get(key, inspect.Parameter.empty))
        )
        return f"{type(self).__name__}({args})"


@functools.cache
def _constructor_defaults(cls: type) -> Mapping[str, Any]:
    """The default of every constructor parameter along ``cls``'s MRO (the nearest wins).

    Cached per class: a model summary shows dozens of components, and reading a signature
    costs as much as a training step (``object.__init__``'s, parsed from text, most)."""
    defaults: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass is not object and "__init__" in vars(klass):
            for name, parameter in inspect.signature(klass.__init__).parameters.items():
                defaults.setdefault(name, parameter.default)
    return MappingProxyType(defaults)  # (shared by every instance: read-only)


def _same(value: Any, default: Any) -> bool:
    try:
        return default is not inspect.Parameter.empty and bool(value == default)
    except (TypeError, ValueError):
        return False


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def config_from_signature(component: Any) -> dict[str, Any]:
    """``{argument: self.<argument>}`` for every parameter of ``type(component).__init__``,
    each as a JSON-compatible value (NumPy scalars become Python numbers, tuples lists).

    Raises:
        NotImplementedError: an argument is not stored under its own name, the constructor
            takes ``*args`` or ``**kwargs``, or a value is not JSON-compatible; the message
            names the class, the argument and ``get_config``.
    """
    klass = type(component)
    if klass.__init__ is object.__init__:
        return {}
    name = klass.__name__
    fix = (
        f"Store each constructor argument under its own name (self.<argument> = <argument>), "
        f"or write {name}.get_config() returning the arguments (and {name}.from_config if the "
        "constructor needs them changed)."
    )
    try:
        parameters = list(inspect.signature(klass.__init__).parameters.items())[1:]
    except (TypeError, ValueError):  # a constructor Python cannot describe (built in C)
        raise NotImplementedError(
            f"{name}'s constructor has no readable signature: write {name}.get_config() "
            "returning its arguments."
        ) from None
    config: dict[str, Any] = {}
    for argument, parameter in parameters:
        if parameter.kind in _VARIADIC:
            raise NotImplementedError(
                f"{name}'s configuration cannot be derived from its constructor, which takes "
                f"{'*' if parameter.kind is inspect.Parameter.VAR_POSITIONAL else '**'}"
                f"{argument}: write {name}.get_config() returning every argument."
            )
        missing = object()
        value = getattr(component, argument, missing)
        if value is missing:
            raise NotImplementedError(
                f"{name} cannot be saved or described: its constructor argument {argument!r} "
                f"is not stored as self.{argument}, so get_config() cannot read it back. {fix}"
            )
        try:
            config[argument] = _json_value(value)
        except TypeError:
            raise NotImplementedError(
                f"{name} cannot be saved or described: self.{argument} is {value!r} of type "
                f"{type(value).__name__}, which a JSON file cannot hold (allowed: numbers, "
                f"strings, booleans, None, and lists or dicts of them). {fix}"
            ) from None
    return config


def _json_value(value: Any) -> Any:
    """``value`` as plain JSON data; TypeError if it has a part JSON cannot hold."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():  # a NumPy scalar
        item = value.item()
        if isinstance(item, (bool, int, float, str)):
            return item
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _json_value(item) for key, item in value.items()}
    raise TypeError(type(value).__name__)
