"""The model: a sequence of layers, trained end to end."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import shapes
from ._registry import models
from ._validation import (
    cast_rows,
    check_dtype,
    check_inputs,
    check_positive_int,
    check_seed,
    columns_by_name,
)
from .batches import PREDICT_BATCH, is_batch_source, predict_source
from .errors import TrainingDivergedError
from .history import History
from .layers import BatchNorm1d, Dense, Dropout, Layer, get_activation, layers
from .layers.base import walk
from .losses import Loss
from .parameters import Parameters, ParameterStore

if TYPE_CHECKING:
    from .callbacks import Callback
    from .optim import Optimizer
    from .schedules import Schedule

__all__ = [
    "MLP",
    "PREDICT_BATCH",
    "ModelRNGs",
    "Sequential",
    "TrainStep",
    "is_batch_source",
    "mlp_layers",
]


def _training() -> Any:
    """The training loop's module, imported on first use (with its callbacks, schedules and
    metrics) so that ``import scratchnn`` stays quick."""
    from . import training

    return training


class ModelRNGs(NamedTuple):
    """Independent random streams, all derived from the model's one ``seed``: adding dropout
    (which draws from ``layers``) does not change the initial weights or the batch order."""

    init: np.random.Generator
    shuffle: np.random.Generator
    layers: np.random.Generator


def _physical_memory() -> float:
    """Bytes of RAM on this machine (infinite where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return math.inf


class TrainStep(NamedTuple):
    """What :meth:`Sequential.train_step` returns."""

    #: The batch's loss, including the layers' L1/L2 penalties (before the update).
    loss: float
    #: The network's output for the batch (before the update), ``(batch, *output_shape)``.
    output: np.ndarray


@models.register()
class Sequential:
    """A stack of layers applied one after the other: ``y = f_L(... f_2(f_1(x)))``.

    Args:
        layers: the layers, first to last. The first layer that declares its input shape
            (e.g. ``Dense(784, ...)``: 784 features) sets the model's input shape, unless
            ``input_shape`` is given.
        seed: seeds every random choice the model makes (initial weights, batch order,
            dropout masks): the same seed gives bit-identical training. None draws fresh
            entropy from the operating system.
        dtype: ``np.float32`` (default, fast) or ``np.float64`` (for gradient checks); kept
            end to end.
        input_shape: the shape of one input sample, without the batch axis, e.g.
            ``(1, 28, 28)`` for one-channel images or ``(None, 16)`` for sequences of any
            length; None infers it from the first layer that declares one. Every layer's
            output shape is computed from it, and checked against the next layer, at build.

    Example:
        >>> import numpy as np, scratchnn as snn
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
        >>> y = np.array([0, 1, 1, 0])
        >>> layers = [snn.Dense(2, 4), snn.Tanh(), snn.Dense(4, 1), snn.Sigmoid()]
        >>> model = snn.Sequential(layers, seed=0)
        >>> history = model.fit(X, y, loss="mse", optimizer=snn.optim.Adam(lr=0.05), epochs=500,
        ...                     batch_size=None, verbose=0)
        >>> bool(np.all(np.abs(model.predict(X).ravel() - y) < 0.2))
        True

    All of the model's parameters live in one flat vector (``model.parameters().flat``); each
    layer's ``params`` are named views into it.
    """

    def __init__(
        self,
        layers: Iterable[Layer],
        seed: int | None = None,
        dtype: Any = np.float32,
        input_shape: Sequence[int | None] | None = None,
    ) -> None:
        self.layers: list[Layer] = list(layers)
        if not self.layers:
            raise ValueError("A Sequential model needs at least one layer.")
        seen: set[int] = set()
        for layer in self.layers:
            if id(layer) in seen:
                raise ValueError(
                    f"{layer!r} appears twice in the model; each position needs its own layer "
                    "object (a shared one would have one set of gradients for two uses)."
                )
            seen.add(id(layer))
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential takes Layer instances; received {layer!r} of type "
                    f"{type(layer).__name__}."
                )
            if getattr(layer, "_in_model", False):
                raise ValueError(
                    f"{layer!r} already belongs to a model; a layer's parameters live in its "
                    "model's store, so create a new layer (or use model.clone())."
                )
        self.dtype = check_dtype(dtype)
        self.seed = check_seed(seed)
        sequence = np.random.SeedSequence(seed)
        init_seq, shuffle_seq, layer_seq = sequence.spawn(3)
        self.rngs = ModelRNGs(
            *(np.random.default_rng(s) for s in (init_seq, shuffle_seq, layer_seq))
        )
        self._input_shape_given = None if input_shape is None else _check_shape(input_shape)
        #: One sample's shape before the first layer and after each layer (None: any size).
        self.shapes = shapes.infer_shapes(self.layers, self._input_shape_given)
        count = self._parameter_count()
        try:
            if count * self.dtype.itemsize * 2 > _physical_memory():  # values and gradients
                raise MemoryError
            self._build(init_seq.spawn(len(self.layers)), layer_seq.spawn(len(self.layers)))
        except MemoryError:
            raise ValueError(
                f"The model's {count:,} parameters ({count * self.dtype.itemsize / 2**30:.1f} "
                "GiB, twice that with gradients) do not fit in memory. Use smaller layers."
            ) from None
        # What fit() used last, remembered so that a later fit() continues with the same ones
        # (as Keras's compile), and saved with the model.
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.schedule: Schedule | None = None
        self.history: History | None = None
        #: Optional front end for raw data: ``transform(X)`` turns what the user passes (e.g. a
        #: table with strings and missing values) into the ``(n, in_features)`` float matrix.
        #: fit, evaluate and predict apply it at the boundary; it is saved with the model.
        self.preprocessor: Any = None
        #: Optional target transform: ``transform(y)`` before the loss (e.g. standardizing a
        #: regression target) and ``inverse_transform(output)`` in ``predict``.
        self.target_transform: Any = None
        self.epochs_trained = 0
        self.stop_training = False
        #: While ``fit`` trains on several threads: its :class:`scratchnn.sharded.Shards`,
        #: which ``train_step`` asks for the forward and backward passes (None otherwise).
        self.shards: Any = None
        #: Free-form, JSON-compatible facts saved with the model, e.g. the feature names, the
        #: target column and the class labels of the data it was trained on (the command line
        #: uses these to read new data and to decode predictions).
        self.metadata: dict[str, Any] = {}

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """One input sample's shape, without the batch axis: ``(784,)`` for rows of 784
        features, ``(1, 28, 28)`` for images; None on an axis of any size."""
        return self.shapes[0]

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        """One output sample's shape, e.g. ``(10,)`` for ten logits per row."""
        return self.shapes[-1]

    @property
    def in_features(self) -> int | None:
        """The number of input features of a model that takes rows of features (the size of
        ``input_shape`` when it has one axis); None for other inputs (images, sequences)."""
        return self.input_shape[0] if len(self.input_shape) == 1 else None

    @property
    def out_features(self) -> int | None:
        """The size of the output's last axis: outputs per row, or classes per position."""
        return self.output_shape[-1] if self.output_shape else None

    def _parameter_count(self) -> int:
        """Parameters the layers declare, counted before allocating any (for the message of
        a model too large for memory); layers that do not declare theirs count 0 here."""
        total = 0
        for layer, shape in zip(self.layers, self.shapes, strict=False):
            declared = layer.parameter_shapes(shape)
            total += sum(shapes.size(s) for s in (declared or {}).values())
        return total

    def _build(
        self, init_seeds: list[np.random.SeedSequence], layer_seeds: list[np.random.SeedSequence]
    ) -> None:
        drawing = 0  # rank among layers that draw at build: picks the initialization stream
        for i, layer in enumerate(self.layers):
            following = self.layers[i + 1] if i + 1 < len(self.layers) else None
            seed = init_seeds[drawing]
            drawing += layer.draws_at_build
            if not layer.built:
                hint = following.recommended_init if following is not None else None
                layer.build(np.random.default_rng(seed), self.dtype, init_hint=hint)
            layer.rng = np.random.default_rng(layer_seeds[i])
            inner = [sub for _, sub in walk(layer)][1:]  # a container's layers, depth first
            for sub, seed in zip(inner, layer_seeds[i].spawn(len(inner)), strict=True):
                sub.rng = np.random.default_rng(seed)
            for sub in (layer, *inner):
                sub.dtype = self.dtype
                for name, buffer in list(sub.buffers.items()):
                    sub.buffers.bind(name, buffer.astype(self.dtype))
                sub._in_model = True
        self._store = ParameterStore(self.named_layers(), self.dtype)
        self._buffers = [b for _, layer in self.named_layers() for b in layer.buffers.values()]
        self._buffers_before_step = [b.copy() for b in self._buffers]

    def named_layers(self) -> list[tuple[str, Layer]]:
        """Every layer with its name, depth first: ``dense_0``, ``relu_1``, and the layers
        inside a container as ``residual_2.layernorm_0``, ... (the parameters' prefixes)."""
        named: list[tuple[str, Layer]] = []

        def visit(prefix: str, layer: Layer) -> None:
            named.append((prefix, layer))
            for j, sub in enumerate(layer.sublayers()):
                visit(f"{prefix}.{type(sub).__name__.lower()}_{j}", sub)

        for i, layer in enumerate(self.layers):
            visit(f"{type(layer).__name__.lower()}_{i}", layer)
        return named

    # The four steps of training, for learners who write their own loop.

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Apply every layer in turn. ``training=True`` caches what ``backward`` needs and
        enables training-only behaviour (dropout). Shapes: ``(batch, in)`` → ``(batch, out)``."""
        x = np.asarray(x, dtype=self.dtype)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate ``∂L/∂output`` through every layer, last to first, filling each
        layer's ``grads``; returns ``∂L/∂input``. ``fit`` passes ``input_grad=False``: it
        needs only the parameter gradients, and the first layer can then skip its ``g·Wᵀ``."""
        first, *rest = self.layers
        for layer in reversed(rest):
            grad = layer.backward(grad)
        if not input_grad and first.can_skip_input_grad:
            return first.backward(grad, input_grad=False)
        return first.backward(grad)

    def penalty(self) -> float:
        """The sum of the layers' regularization terms (L1/L2), added to the training loss.

        Computed from the layers as they are now, so ``model.layers[0].l2 = 1e-3`` after
        building takes effect in the loss as it does in the gradient."""
        total = 0.0
        for layer in self.layers:
            if layer.has_penalty:
                total += layer.penalty()
        return total

    def train_step(self, x: np.ndarray, y: np.ndarray, sample_weight: Any = None) -> TrainStep:
        """One step of gradient descent on one batch, with ``self.loss`` and ``self.optimizer``
        (``fit`` sets them; a hand-written loop may too)::

            output = self.forward(x, training=True)                   # forward pass
            loss = self.loss.forward(output, y) + self.penalty()      # loss (+ L1/L2)
            self.backward(self.loss.backward())                       # backpropagation
            self.optimizer.step(self.parameters())                    # W ← W − η·∇W

        Guarded: if the loss, the gradient or the update is NaN or infinite, the step is not
        applied (weights and BatchNorm statistics stay as they were) and
        :class:`~scratchnn.errors.TrainingDivergedError` is raised. Override this method to
        change what a step does; ``fit`` calls it for every batch.

        Args:
            x: the batch's inputs, ``(batch, in_features)``, already in the model's dtype.
            y: its targets, as ``self.loss.prepare_targets`` returns them.
            sample_weight: one weight per row, or None.

        Returns:
            The batch's ``loss`` and ``output`` (both from before the update).
        """
        if self.loss is None or self.optimizer is None:
            raise ValueError(
                "train_step needs model.loss and model.optimizer; set them, or call fit once."
            )
        if self._buffers:  # to undo BatchNorm's running statistics if the step is refused
            for saved, buffer in zip(self._buffers_before_step, self._buffers, strict=True):
                np.copyto(saved, buffer)
        return TrainStep(*self._guarded_step(x, y, sample_weight))

    # Overflow on the way is not warned about: its result is caught here, with a message.
    # (As a decorator, np.errstate costs a third less per call than a with-block; and the
    # optimizer is told not to enter it again. A small network's step is a few dozen NumPy
    # calls, and each entry costs about as much as one of them.)
    @np.errstate(over="ignore", invalid="ignore", divide="ignore")
    def _guarded_step(
        self, x: np.ndarray, y: np.ndarray, sample_weight: Any
    ) -> tuple[float, np.ndarray]:
        """train_step's forward pass, loss, backward pass and update: ``(loss, output)``, or
        :class:`TrainingDivergedError` with nothing applied if any of them is not finite."""
        shards = self.shards
        output = self.forward(x, training=True) if shards is None else shards.forward(x)
        for buffer in self._buffers:  # BatchNorm's running statistics (a few numbers each)
            if not math.isfinite(float(buffer.sum())):
                self._refuse_step(
                    "A running statistic (e.g. BatchNorm's running_var) became infinite or "
                    "NaN: the inputs are too large for the model's dtype. Standardize them, "
                    "or use dtype=np.float64",
                    {"loss": math.nan},
                )
        loss = self.loss.forward(output, y, sample_weight) + self.penalty()
        if not math.isfinite(loss):
            self._refuse_step(f"The loss became {loss}", {"loss": loss}, output)
        if shards is None:
            self.backward(self.loss.backward(), input_grad=False)
        else:  # each thread its shard's rows; the model's gradients become their sum
            shards.backward(self.loss.backward())
        # A finite squared norm (one BLAS dot product) means every gradient entry is finite.
        parameters = self._store.parameters
        grad = parameters.flat.grad
        if not math.isfinite(float(np.dot(grad, grad))):
            self._refuse_step(
                "The gradient became infinite or NaN",
                {"loss": loss, "gradient_norm": math.inf},
            )
        try:
            if shards is not None and getattr(self.optimizer, "elementwise", False):
                self.optimizer.step(parameters, run=shards, quiet=True)  # in pieces, on threads
            else:
                self.optimizer.step(parameters, quiet=True)
        except TrainingDivergedError as error:
            self._refuse_step(str(error), {"loss": loss, "update": math.inf})
        return loss, output

    def _refuse_step(
        self, problem: str, logs: dict[str, float], output: np.ndarray | None = None
    ) -> None:
        for saved, buffer in zip(self._buffers_before_step, self._buffers, strict=True):
            np.copyto(buffer, saved)
        if not problem.endswith("."):
            problem += "; the step was not applied."
        from . import diagnostics  # on first use, as the training loop is (a quick import)

        advice = diagnostics.divergence_advice(self.loss, output)  # the loss's fault, or the step's
        raise TrainingDivergedError(
            f"{problem} The model keeps its last finite weights. {advice}", logs=logs
        )

    def parameters(self) -> Parameters:
        """All parameters by name (``"dense_0.W"``, ...), plus ``.flat``: the one vector of
        values and one of gradients that back them, which optimizers update."""
        return self._store.parameters

    # Keras-style conveniences.

    def fit(
        self,
        X: Any,
        y: Any = None,
        loss: Loss | str | None = None,
        optimizer: Optimizer | str | None = None,
        epochs: int = 1,
        batch_size: int | None = 32,
        shuffle: bool = True,
        validation_data: tuple[Any, ...] | None = None,
        metrics: Sequence[Any] | str | None = None,
        verbose: int | str = "auto",
        *,
        schedule: Schedule | str | None = None,
        validation_split: float = 0.0,
        callbacks: Sequence[Callback] | None = None,
        sample_weight: Any = None,
        class_weight: Any = None,
        threads: int | None = None,
    ) -> History:
        """Train with mini-batch gradient descent.

        Args:
            X: inputs, ``(n_samples, in_features)``; or a
                :class:`~scratchnn.streaming.BatchSource` for data larger than memory (memmap,
                ``.npy``, Dask, Parquet, generators), read batch by batch; y is then None.
            y: targets, as ``loss`` expects them (class labels ``(n_samples,)`` for
                cross-entropy; ``(n_samples, outputs)`` or ``(n_samples,)`` otherwise).
            loss: a Loss or its name. Remembered: later calls may leave it out.
            optimizer: an Optimizer or its name. Remembered with its state, so a second
                ``fit`` continues where the first stopped.
            epochs: passes over the data.
            batch_size: samples per gradient step; None uses the whole set (full batch).
            shuffle: reshuffle the samples every epoch (from the model's seeded stream).
            validation_data: ``(X_val, y_val)`` (or with weights) evaluated after every epoch.
            metrics: names or functions, e.g. ``["accuracy", "f1"]``, computed over each
                epoch's training predictions and on the validation data.
            verbose: 0 silent, 1 a progress bar (tqdm), 2 one line per epoch; "auto" is 1 in
                a terminal or a notebook and 0 otherwise; "plot" (in a notebook) adds a live
                loss curve (:class:`~scratchnn.callbacks.LivePlot`). In a Jupyter kernel the
                bar is tqdm's notebook widget.
            schedule: a learning-rate Schedule (or its name), stepped after every epoch.
                Remembered like the optimizer (and restarted when a new optimizer is given).
            validation_split: hold out this fraction of the samples (the last ones, before
                shuffling) as validation data.
            callbacks: Callback objects (EarlyStopping, ModelCheckpoint, ...).
            sample_weight: one weight >= 0 per sample; the loss becomes a weighted mean.
            class_weight: ``{class: weight}`` or ``"balanced"``, multiplied into the sample
                weights (classification losses only).
            threads: train on this many threads, each batch split into that many shards
                (:mod:`scratchnn.sharded`); None (default) uses the cores NumPy may use when
                a step has enough work to pay for it, and one thread otherwise. A seed gives
                bit-identical training for a given thread count; ``threads=1`` is the
                single-threaded step. The verbose header says which was chosen, and why.

        Returns:
            The :class:`History` of per-epoch loss, metrics and learning rate (also
            ``model.history``).

        Raises:
            ValueError: on bad input (wrong shapes, NaN/inf, labels out of range, empty
                arrays), before any weight changes.
            TrainingDivergedError: if a step's loss, gradient or update becomes NaN or
                infinite; that step is not applied, so the model keeps its last finite weights.
        """
        return _training().fit(
            self,
            X,
            y,
            loss=loss,
            optimizer=optimizer,
            schedule=schedule,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            validation_data=validation_data,
            validation_split=validation_split,
            metrics=metrics,
            callbacks=callbacks,
            sample_weight=sample_weight,
            class_weight=class_weight,
            threads=threads,
            verbose=verbose,
        )

    def predict(self, X: Any, batch_size: int | None = None) -> np.ndarray:
        """The network's output for each sample of ``X``: ``(n_samples, *output_shape)``.

        These are raw outputs: logits if the last layer is linear. ``model.loss``
        ``.output_transform`` turns them into probabilities (softmax/sigmoid). ``X`` may be a
        :class:`~scratchnn.streaming.BatchSource` (read batch by batch)."""
        if batch_size is not None:
            batch_size = check_positive_int("batch_size", batch_size)
        if is_batch_source(X):
            return predict_source(self, X, batch_size)
        X = self.encode_inputs(X, convert=False)  # converted a batch at a time below
        out = self.forward_in_batches(X, batch_size)
        if self.target_transform is not None:
            out = self.target_transform.inverse_transform(out)
        return out

    @property
    def takes_integers(self) -> bool:
        """Whether the first layer takes whole numbers (token ids), not floats."""
        return getattr(self.layers[0], "input_kind", "float") == "int"

    def encode_inputs(self, X: Any, convert: bool = True) -> np.ndarray:
        """``X`` as the validated ``(n_samples, *input_shape)`` array of the model's dtype
        (whole numbers as ``intp`` for a first layer that takes token ids), through the
        ``preprocessor`` first if the model has one. With ``convert=False`` it is checked but
        keeps its own dtype (``predict`` converts it a batch at a time, so a large float64
        input is never copied whole)."""
        if self.preprocessor is not None:
            X = self.preprocessor.transform(X)
        else:  # a DataFrame's columns matched by name, when the model knows its features
            X = columns_by_name(X, (self.metadata or {}).get("feature_names"))
        return check_inputs(
            X, self.input_shape, self.dtype, self.layers[0], convert, self.takes_integers
        )

    def forward_in_batches(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The forward pass in inference mode over validated inputs (as ``encode_inputs``
        returns them), ``batch_size`` samples at a time (default ``PREDICT_BATCH``); each batch
        is converted to the model's dtype on its own."""
        batch = batch_size or PREDICT_BATCH
        if len(X) <= batch:
            out = self.forward(self._cast(X))
            # An identity-like network may hand back its input: never return the caller's array.
            return out.copy() if np.may_share_memory(out, X) else out
        out = None
        for start in range(0, len(X), batch):
            result = self.forward(self._cast(X[start : start + batch]))
            if out is None:  # the output's shape is known once the first batch is through
                out = np.empty((len(X), *result.shape[1:]), dtype=self.dtype)
            out[start : start + batch] = result
        return out

    def _cast(self, rows: np.ndarray) -> np.ndarray:
        if self.takes_integers:
            return rows
        return cast_rows(rows, "X", self.dtype)

    def evaluate(
        self,
        X: Any,
        y: Any = None,
        loss: Loss | str | None = None,
        metrics: Sequence[Any] | str | None = None,
        sample_weight: Any = None,
    ) -> dict[str, float]:
        """``{"loss": ..., metric: ...}`` on ``(X, y)`` in inference mode; the loss defaults to
        the one ``fit`` used. The loss includes the layers' L1/L2 penalties, as in ``fit``.
        ``X`` may be a :class:`~scratchnn.streaming.BatchSource` (then y is None)."""
        return _training().evaluate(self, X, y, loss, metrics, sample_weight)

    def get_weights(self) -> np.ndarray:
        """A copy of all parameters and buffers as one flat vector (see ``set_weights``)."""
        pieces = [self.parameters().flat.value, *(b.ravel() for b in self._buffers)]
        return np.concatenate(pieces)

    def set_weights(self, weights: np.ndarray) -> None:
        """Restore what ``get_weights`` returned (same architecture)."""
        weights = np.asarray(weights)
        expected = self.parameters().flat.value.size + sum(b.size for b in self._buffers)
        if weights.shape != (expected,):
            raise ValueError(f"Expected {expected} weights; received shape {weights.shape}.")
        flat = self.parameters().flat.value
        flat[...] = weights[: flat.size]
        offset = flat.size
        for buffer in self._buffers:
            buffer.reshape(-1)[...] = weights[offset : offset + buffer.size]
            offset += buffer.size

    def save(self, path: str | os.PathLike, include_optimizer: bool = True) -> None:
        """Write the model to one ``.npz`` file, atomically: every parameter and buffer, the
        architecture as JSON, and (with ``include_optimizer``) the loss, optimizer and schedule
        state, random-generator states and training position, so training resumes exactly.
        Load it with :func:`scratchnn.load`."""
        from .io import save

        save(self, path, include_optimizer=include_optimizer)

    def summary(self) -> str:
        """A table of layers, output shapes (the batch axis first, as ``None``) and parameter
        counts (of the built arrays), with the total."""
        rows = [("Layer", "Output shape", "Params")]
        for i, (layer, shape) in enumerate(zip(self.layers, self.shapes[1:], strict=True)):
            count = sum(a.size for _, inner in walk(layer) for a in inner.params.values())
            rows.append((f"{i}: {layer!r}", shapes.with_batch(shape), f"{count:,}"))
        widths = [max(len(row[c]) for row in rows) for c in range(3)]
        line = "-" * (sum(widths) + 4)

        def fmt(row: tuple[str, str, str]) -> str:
            return f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"

        total = self.parameters().flat.value.size
        body = [fmt(rows[0]), line, *map(fmt, rows[1:]), line]
        given = (
            f"input features: {self.in_features}"
            if self.in_features is not None
            else f"input shape: {shapes.with_batch(self.input_shape)}"
        )
        body.append(f"Total parameters: {total:,} ({self.dtype.name}, {given})")
        return "\n".join(body)

    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-compatible data (weights excluded)."""
        config: dict[str, Any] = {
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
            "seed": self.seed,
            "dtype": self.dtype.name,
        }
        if self._input_shape_given is not None:  # written only when given (older files lack it)
            config["input_shape"] = list(self._input_shape_given)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A new, freshly initialized model with the architecture of ``config``."""
        built = [layers.create(spec, Layer) for spec in config["layers"]]
        return cls(
            built,
            seed=config.get("seed"),
            dtype=config.get("dtype", "float32"),
            input_shape=config.get("input_shape"),
        )

    def clone(self, dtype: Any = None) -> Sequential:
        """An independent copy with the same layers and weights, optionally in another dtype
        (loss, optimizer and history are not copied). Works for unregistered custom layers."""
        layers = copy.deepcopy(self.layers)
        for layer in layers:
            layer._in_model = False  # the copies join the new model's own parameter store
        return Sequential(
            layers,
            seed=self.seed,
            dtype=self.dtype if dtype is None else dtype,
            input_shape=self._input_shape_given,
        )

    def __reduce__(self):
        """Pickling (and ``copy.deepcopy``) goes through the safe ``.npz`` format: a model's
        parameters are views into one flat vector, which pickling the arrays one by one would
        silently break. Every layer must be registered (see :class:`Layer`)."""
        from . import io

        for layer in self.layers:
            try:
                registered = layers.lookup(type(layer).__name__) is type(layer)
            except ValueError:
                registered = False
            if not registered:
                raise TypeError(
                    f"{type(layer).__name__} is not registered, so a model containing it cannot "
                    "be pickled; decorate the class with @scratchnn.layers.layers.register()."
                )
        return io.loads, (io.dumps(self),)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], dtype={self.dtype.name})"

    def _repr_html_(self) -> str | None:
        """What a notebook shows for the model: :meth:`summary` as an HTML table (None, so the
        repr is shown instead, for a model whose summary cannot be drawn)."""
        from .notebook import summary_html

        try:
            return summary_html(self)
        except (ValueError, TypeError):
            return None


def _check_shape(shape: Any) -> tuple[int | None, ...]:
    """``input_shape`` as a tuple of sizes >= 1 (or None), refused with the value quoted."""
    try:
        sizes = tuple(shape)
    except TypeError:
        sizes = None
    if not sizes or not all(
        size is None or (isinstance(size, (int, np.integer)) and not isinstance(size, bool))
        for size in sizes
    ):
        raise ValueError(
            "input_shape must be a non-empty tuple of sizes (whole numbers >= 1, or None for "
            f"any size), one per axis of a sample. Received: input_shape={shape!r}."
        )
    sizes = tuple(None if size is None else int(size) for size in sizes)
    if any(size is not None and size < 1 for size in sizes):
        raise ValueError(f"input_shape's sizes must be >= 1. Received: input_shape={shape!r}.")
    return sizes


def mlp_layers(
    sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    output: str | None = None,
    init: str = "auto",
    *,
    batch_norm: bool = False,
    dropout: float = 0.0,
    l1: float = 0.0,
    l2: float = 0.0,
) -> list[Layer]:
    """The layers of a multi-layer perceptron: for each hidden size the block
    ``Dense → [BatchNorm1d] → activation → [Dropout]``, then ``Dense → [output activation]``.

    The one place the block is written: :func:`MLP`, the command line, the Playground and the
    scikit-learn estimators all build their networks with it.

    Args:
        sizes: ``[inputs, hidden..., outputs]``, e.g. ``[784, 256, 128, 10]``.
        activation: the hidden layers' activation, or one per hidden layer.
        output: activation after the last layer; None leaves it linear (logits).
        init: the Dense layers' weight initializer; "auto" picks He for the ReLU family,
            Glorot otherwise.
        batch_norm: a ``BatchNorm1d`` after each hidden Dense, before its activation.
        dropout: a ``Dropout(dropout)`` after each hidden activation (0: none).
        l1, l2: weight penalties of every Dense layer.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"MLP needs at least [inputs, outputs] sizes. Received: {sizes!r}.")
    hidden = len(sizes) - 2
    if isinstance(activation, str):
        activation = [activation] * hidden
    activation = list(activation)
    if len(activation) != hidden:
        raise ValueError(
            f"{len(activation)} activations given for {hidden} hidden layers: give one name, "
            "or one per hidden layer."
        )
    stack: list[Layer] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        stack.append(Dense(n_in, n_out, init=init, l1=l1, l2=l2))
        if i == hidden:  # the output layer
            if output is not None:
                stack.append(get_activation(output))
            break
        if batch_norm:
            stack.append(BatchNorm1d(n_out))
        stack.append(get_activation(activation[i]))
        if dropout:
            stack.append(Dropout(dropout))
    return stack


def MLP(  # noqa: N802 - a factory that reads like a class, as Keras's and PyTorch's do
    sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    output: str | None = None,
    seed: int | None = None,
    dtype: Any = np.float32,
    init: str = "auto",
    *,
    batch_norm: bool = False,
    dropout: float = 0.0,
) -> Sequential:
    """A multi-layer perceptron: ``Dense`` layers of the given sizes with activations between
    (the layers of :func:`mlp_layers`).

    Args:
        sizes: ``[inputs, hidden..., outputs]``, e.g. ``[784, 256, 128, 10]``.
        activation: the hidden layers' activation, or one per hidden layer.
        output: activation after the last layer; None (default) leaves it linear (logits, for
            ``CrossEntropy(from_logits=True)`` or regression).
        seed, dtype: as for :class:`Sequential`.
        init: weight initializer; "auto" picks He for the ReLU family, Glorot otherwise.
        batch_norm: a ``BatchNorm1d`` after each hidden ``Dense``.
        dropout: a ``Dropout`` of this rate after each hidden activation.

    Example:
        >>> MLP([784, 256, 128, 10]).summary().splitlines()[-1]
        'Total parameters: 235,146 (float32, input features: 784)'
    """
    layers = mlp_layers(sizes, activation, output, init, batch_norm=batch_norm, dropout=dropout)
    return Sequential(layers, seed=seed, dtype=dtype)
