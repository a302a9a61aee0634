"""One training run of the playground: the points, the scratchnn model, and its frames.

A frame is what the page draws: the losses, every Dense layer's weights and biases, and
heatmaps of the output and of every hidden neuron over the plane, each quantized to bytes
(0 = the low end of the colour scale, 255 = the high end) and base64-encoded.

Example:
    >>> session = Session(Config(problem="xor", hidden=[3]))
    >>> frame = session.train(epochs=2)
    >>> frame["epoch"], len(frame["neurons"]), len(frame["neurons"][0])
    (2, 1, 3)
"""

from __future__ import annotations

import base64
import math
import os
import tempfile
import threading
import time
from typing import Any

import numpy as np

from .. import callbacks, losses, optim
from ..errors import TrainingDivergedError
from ..layers import Activation, Dense, Sigmoid
from ..model import Sequential, mlp_layers
from . import data, inspector
from .config import Config

#: Cells per side of the output's heatmap.
GRID = 50
#: Cells per side of each hidden neuron's heatmap.
NEURON_GRID = GRID // 2
#: A playing run stops after this many epochs.
MAX_EPOCHS = 100_000
#: A playing run stops when no frame was asked for during this many seconds.
IDLE_STOP = 10.0
#: Longest wait, in seconds, of a frame request for the trainer's batch and back.
HANDSHAKE = 0.25

#: Optimizer name -> constructor taking the learning rate (as the command line's).
OPTIMIZERS = {
    "sgd": lambda lr: optim.SGD(lr=lr),
    "momentum": lambda lr: optim.SGD(lr=lr, momentum=0.9),
    "rmsprop": lambda lr: optim.RMSProp(lr=lr),
    "adam": lambda lr: optim.Adam(lr=lr),
    "adamw": lambda lr: optim.AdamW(lr=lr),
}

# Colour-scale ends of each hidden activation's heatmap (values outside are clipped).
_RANGES = {"sigmoid": (0.0, 1.0)}


def build_model(config: Config) -> Sequential:
    """The network of ``config``: per hidden layer ``Dense`` [``BatchNorm1d``] activation
    [``Dropout``], then ``Dense(., 1)``, followed by ``Sigmoid`` for classification with MSE
    (the tutorial's network); cross-entropy and regression keep a linear output."""
    l1 = config.reg_rate if config.regularization == "l1" else 0.0
    l2 = config.reg_rate if config.regularization == "l2" else 0.0
    layers = mlp_layers(
        [len(config.features), *config.hidden, 1],
        config.activation,
        batch_norm=config.batch_norm,
        dropout=config.dropout,
        l1=l1,
        l2=l2,
    )
    if config.kind == "classification" and config.loss == "mse":
        layers.append(Sigmoid())
    return Sequential(layers, seed=config.seed)


def make_loss(config: Config) -> losses.Loss:
    """MSE, or binary cross-entropy on the output logit."""
    if config.kind == "classification" and config.loss == "cross_entropy":
        return losses.BinaryCrossEntropy(from_logits=True)
    return losses.MSE()


def _bytes(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` mapped linearly from [low, high] to 0..255 (clipped; NaN to the middle)."""
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged run: inf and NaN
        scaled = np.clip((values - low) * (255 / (high - low)), 0, 255)
    return np.rint(np.nan_to_num(scaled, nan=127.5)).astype(np.uint8)


def encode(values: np.ndarray, low: float, high: float) -> str:
    """``values`` mapped linearly from [low, high] to bytes 0..255 (clipped), base64."""
    return base64.b64encode(_bytes(values, low, high).tobytes()).decode("ascii")


def encode_columns(values: np.ndarray, low: float, high: float) -> list[str]:
    """:func:`encode` of every column of ``values`` ``(n, k)``, in one pass."""
    columns = np.ascontiguousarray(_bytes(values, low, high).T)
    return [base64.b64encode(column.tobytes()).decode("ascii") for column in columns]


class Session:
    """The points, model, loss and optimizer of one configuration, trained epoch by epoch.

    Args:
        config: the checked configuration.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        points, targets = data.make_points(
            config.problem, config.n_points, config.noise, config.seed
        )
        n_train = len(points) if config.problem == "tutorial-xor" else None
        if n_train is None:
            n_train = max(1, min(len(points) - 1, round(len(points) * config.train_ratio)))
        self.points, self.targets, self.n_train = points, targets, n_train
        X = data.features(points, config.features)
        self.X_train, self.y_train = X[:n_train], targets[:n_train]
        self.X_test, self.y_test = X[n_train:], targets[n_train:]
        self.model = build_model(config)
        self.loss = make_loss(config)
        self.optimizer = OPTIMIZERS[config.optimizer](config.lr)
        self.grid = data.grid(config.problem, GRID)
        self.grid_features = data.features(self.grid, config.features)
        self.epoch = 0
        self.train_losses: list[float] = []
        self.test_losses: list[float] = []
        self.diverged: str | None = None
        #: The accuracy on the training and test points (classification; else None).
        self.accuracy: tuple[float | None, float | None] = (None, None)
        #: Dead and saturated hidden units after the last epoch (see :func:`health`).
        self.health: dict[str, Any] = {"dead": [], "saturated": [], "message": None}
        # The weights the run started from: a side-by-side run starts from them too.
        self.initial_weights = self.model.get_weights()
        #: Held while the model changes (an epoch, the inspector's step) or is saved.
        self.lock = threading.RLock()
        # Frames are drawn from a copy of the weights (``_view``), published by the training
        # thread between batches, so drawing never touches the model being trained.
        self._view = self.model.clone()
        self._view_lock = threading.Lock()
        self._published = (self.model.get_weights(), 0, 0)  # (weights, version, epoch)
        # The drawing of the published weights, made once: (version, heatmaps and links).
        self._drawing: tuple[int, dict[str, Any]] | None = None
        self._published_at = 0.0
        self._publish_lock = threading.Lock()
        self._trainer: threading.Thread | None = None
        self._play_lock = threading.RLock()
        self._stop = threading.Event()
        self._last_poll = time.monotonic()
        self._publisher = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: self._tick())
        # The handshake between a frame request and the training thread: the request asks
        # (_wanted) and the trainer publishes its weights at the end of its batch (_taken).
        self._wanted = threading.Event()
        self._taken = threading.Event()
        self.record_losses()

    # Training.

    @property
    def batch_size(self) -> int:
        return min(self.config.batch_size, self.n_train)

    def train(self, epochs: int = 1) -> dict[str, Any]:
        """Train ``epochs`` passes over the training points and return the frame after them
        (the Step button). A diverging run stops and says so in the frame."""
        start = len(self.train_losses)
        for _ in range(epochs):
            if not self._train_epoch():
                break
        return self.frame(since=start)

    def _train_epoch(self) -> bool:
        """One epoch with ``Sequential.fit`` (so an exported script that calls
        ``fit(epochs=N)`` once retrains to the same weights); False once diverged."""
        with self.lock:
            if self.diverged:
                return False
            first = self.model.optimizer is None
            try:
                # A diverging loss overflows on its way to inf; fit catches that (as below),
                # so NumPy's overflow warning would only repeat it.
                with np.errstate(over="ignore", invalid="ignore"):
                    self.model.fit(
                        self.X_train,
                        self.y_train,
                        loss=self.loss if first else None,
                        optimizer=self.optimizer if first else None,
                        epochs=1,
                        batch_size=self.batch_size,
                        callbacks=[self._publisher],
                        verbose=0,
                    )
            except TrainingDivergedError as error:
                # fit keeps the last finite weights: show them and their losses as they are.
                self.diverged = f"{error} Reset starts the run again."
                self.record_losses()
                self.publish()
                return False
            self.epoch += 1
            self.record_losses()
            self.publish()
            return True

    def start_from(self, other: Session) -> bool:
        """Start from the weights ``other`` started from (side-by-side runs), if the two
        networks have the same parameter shapes; returns whether it did. Only before
        training; ``other`` is not touched (it may be playing)."""
        if self.epoch or self.model.optimizer is not None:
            raise ValueError("start_from() is for a run that has not trained yet.")
        shapes = [p.value.shape for p in other.model.parameters()]
        if shapes != [p.value.shape for p in self.model.parameters()] or (
            other.initial_weights.shape != self.initial_weights.shape
        ):
            return False
        self.model.set_weights(other.initial_weights)
        self.initial_weights = other.initial_weights.copy()
        self.train_losses.clear()
        self.test_losses.clear()
        self.record_losses()
        self.publish()
        return True

    # Playing: a background thread trains epoch after epoch while the page draws frames.

    @property
    def playing(self) -> bool:
        return self._trainer is not None and self._trainer.is_alive()

    def play(self) -> None:
        """Start training in a background thread (no-op while playing). It stops on
        ``pause()``, on divergence, after ``MAX_EPOCHS`` epochs, or when no frame was asked
        for during ``IDLE_STOP`` seconds (the page was closed).

        Play, pause and stop take turns (one lock), so concurrent requests never see a
        thread that is created but not started."""
        with self._play_lock:
            if self.playing and not self._stop.is_set():
                return
            if self.diverged:
                return  # nothing to train: the page shows the diverged state
            self._stop_locked(wait=True)  # a thread still finishing its epoch after pause()
            self._stop.clear()
            self._last_poll = time.monotonic()
            trainer = threading.Thread(target=self._run, daemon=True, name="playground")
            trainer.start()
            self._trainer = trainer

    def _run(self) -> None:
        while (
            not self._stop.is_set()
            and self.epoch < MAX_EPOCHS
            and time.monotonic() - self._last_poll < IDLE_STOP
            and self._train_epoch()
        ):
            pass

    def pause(self) -> dict[str, Any]:
        """Stop the training thread at the end of its epoch; returns the frame after it."""
        self.stop()
        return self.frame()

    def stop(self, wait: bool = True) -> None:
        """Stop the training thread at the end of its epoch (and, with ``wait``, wait for
        that)."""
        if not wait:
            self._stop.set()  # no lock: the server evicting a run must never block
            return
        with self._play_lock:
            self._stop_locked(wait=True)

    def _stop_locked(self, wait: bool) -> None:
        self._stop.set()
        trainer = self._trainer
        if wait and trainer is not None and trainer is not threading.current_thread():
            trainer.join(timeout=60)

    def _tick(self) -> None:
        """After every batch: if a frame is wanted, publish the weights and draw them.

        The training thread draws (a forward pass over the grid, a few milliseconds) because
        it holds the interpreter anyway: a request thread drawing while it trains would have
        to win the GIL back after every small NumPy call, which made a frame take 25-70 ms."""
        if self._wanted.is_set():
            self._wanted.clear()
            self.publish()
            self.drawing()
            self._taken.set()

    def publish(self) -> None:
        """Make the model's current weights the ones frames are drawn from."""
        weights = self.model.get_weights()
        with self._publish_lock:
            version = self._published[1] + 1
            self._published = (weights, version, self.epoch)
            self._published_at = time.monotonic()

    def record_losses(self) -> None:
        """Append the current train and test losses to the history; note the accuracies and
        the hidden units' health (one inference pass over each set of points)."""
        hidden, train = self._outputs(self.X_train)
        test = self._outputs(self.X_test)[1] if len(self.X_test) else None
        self.train_losses.append(self._loss_of(train, self.y_train))
        self.test_losses.append(math.nan if test is None else self._loss_of(test, self.y_test))
        if self.config.kind == "classification":
            self.accuracy = (
                self._accuracy_of(train, self.y_train),
                None if test is None else self._accuracy_of(test, self.y_test),
            )
        self.health = health(hidden, self.config.activation)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> float:
        """The mean data loss (without the L1/L2 penalty) of the model on ``(X, y)``."""
        return self._loss_of(self._outputs(X)[1], y)

    def _outputs(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """The hidden activations and the raw output of the model at ``X`` (inference)."""
        with np.errstate(all="ignore"):  # a diverged run: inf and NaN
            *hidden, output = self.layer_outputs(self.model, X, transform=False)
        return hidden, output

    def _loss_of(self, output: np.ndarray, y: np.ndarray) -> float:
        prepared = self.loss.prepare_targets(y, 1, self.model.dtype)
        with np.errstate(all="ignore"):  # a diverged run's loss is inf
            return float(self.loss.forward(output, prepared))

    def _accuracy_of(self, output: np.ndarray, y: np.ndarray) -> float:
        """The share of points whose class (probability >= 0.5) is their label."""
        with np.errstate(all="ignore"):
            probability = self.loss.output_transform(output)
        return float(np.mean((probability >= 0.5) == (y >= 0.5)))

    # What the page draws.

    def output_range(self) -> tuple[float, float]:
        """Colour-scale ends of the output heatmap: probabilities for classification."""
        return (0.0, 1.0) if self.config.kind == "classification" else (-1.0, 1.0)

    def layer_outputs(
        self, model: Sequential, X: np.ndarray, transform: bool = True
    ) -> list[np.ndarray]:
        """Each hidden layer's activations (after the activation function, in inference mode)
        and the shown output of ``model`` at inputs ``X`` (the raw output with
        ``transform=False``), applying its layers one by one."""
        layers = model.layers
        last_dense = max(i for i, layer in enumerate(layers) if isinstance(layer, Dense))
        outputs = []
        x = np.asarray(X, dtype=model.dtype)
        for i, layer in enumerate(layers):
            x = layer.forward(x, training=False)
            if i < last_dense and isinstance(layer, Activation):
                outputs.append(x)
        outputs.append(self.loss.output_transform(x) if transform else x)
        return outputs

    def frame(self, since: int = 0, version: int | None = None) -> dict[str, Any]:
        """The state to draw: the last published weights' heatmaps and links, and the losses
        recorded from index ``since`` on. With ``version`` equal to the published one, the
        drawing is left out (``"unchanged": true``): the page already shows it."""
        self._last_poll = time.monotonic()
        if self.playing and version is not None:
            self._taken.clear()
            self._wanted.set()
            self._taken.wait(timeout=HANDSHAKE)  # the weights after the current batch
        with self._publish_lock:
            _, published, epoch = self._published
        n = min(len(self.train_losses), len(self.test_losses))
        since = min(max(0, since), n)
        frame: dict[str, Any] = {
            "version": published,
            "epoch": epoch,
            "playing": self.playing,
            "train_loss": _finite(self.train_losses[n - 1]),
            "test_loss": _finite(self.test_losses[n - 1]),
            "history": {
                "from": since,
                "train": [_finite(v) for v in self.train_losses[since:n]],
                "test": [_finite(v) for v in self.test_losses[since:n]],
            },
            "diverged": self.diverged,
            "train_accuracy": self.accuracy[0],
            "test_accuracy": self.accuracy[1],
            "health": self.health,
        }
        if version == published:
            frame["unchanged"] = True
            return frame
        drawn_version, drawing = self.drawing()
        frame.update(drawing, version=drawn_version)
        return frame

    def drawing(self) -> tuple[int, dict[str, Any]]:
        """The heatmaps and links of the published weights, with their version (drawn once
        per version)."""
        with self._view_lock:
            with self._publish_lock:
                weights, version, _ = self._published
                cached = self._drawing
            if cached is None or cached[0] != version:
                cached = (version, self._draw(weights))
                with self._publish_lock:
                    self._drawing = cached
            return cached

    def _draw(self, weights: np.ndarray) -> dict[str, Any]:
        """The heatmaps and links of ``weights``."""
        frame: dict[str, Any] = {}
        view = self._view
        view.set_weights(weights)
        with np.errstate(over="ignore", invalid="ignore"):
            *hidden, output = self.layer_outputs(view, self.grid_features)
        low, high = _RANGES.get(self.config.activation, (-1.0, 1.0))
        dense = [layer for layer in view.layers if isinstance(layer, Dense)]
        frame["output"] = encode(output.ravel(), *self.output_range())
        # Every other cell of every other row: the neurons' small heatmaps need no more.
        frame["neurons"] = [
            encode_columns(
                values.reshape(GRID, GRID, -1)[::2, ::2].reshape(NEURON_GRID**2, -1), low, high
            )
            for values in hidden
        ]
        frame["weights"] = [layer.params["W"].tolist() for layer in dense]
        frame["biases"] = [layer.params["b"].tolist() for layer in dense]
        return frame

    def describe(self) -> dict[str, Any]:
        """The parts that do not change while training: config, points, feature heatmaps."""
        _, half, centre = data.PROBLEMS[self.config.problem]
        names = list(data.FEATURES)
        feature_maps = data.features(self.grid, names)
        scale = np.abs(feature_maps).max(axis=0) + 1e-12
        return {
            "config": self.config.to_dict(),
            "kind": self.config.kind,
            "grid": GRID,
            "neuron_grid": NEURON_GRID,
            "domain": [centre - half, centre + half],
            "points": self.points.round(4).tolist(),
            "targets": self.targets.ravel().round(4).tolist(),
            "n_train": self.n_train,
            "feature_maps": {
                name: encode(feature_maps[:, j] / scale[j], -1, 1) for j, name in enumerate(names)
            },
            "layers": [repr(layer) for layer in self.model.layers],
            "frame": self.frame(),
        }

    # Gradients.

    def next_batch(self) -> np.ndarray:
        """Row indices of the batch the inspector and gradcheck use: the first
        ``batch_size`` training rows (the same batch every time, so results can be compared)."""
        return np.arange(self.batch_size)

    def inspect(self) -> dict[str, Any]:
        """One traced training step on the inspector's batch, applied to the model (see
        :func:`scratchnn.playground.inspector.trace`), with the frame after it.

        Raises:
            ValueError: when the run diverged, or as :func:`~scratchnn.playground.inspector.trace`.
        """
        self.stop()
        if self.diverged:
            raise ValueError("This run diverged; reset it (or lower the learning rate) first.")
        rows = self.next_batch()
        with self.lock:
            result = inspector.trace(
                self.model,
                self.loss,
                self.optimizer,
                self.X_train[rows],
                self.y_train[rows],
                penalty=self.config.regularization if self.config.reg_rate else None,
                batch_norm=self.config.batch_norm,
            )
            self.publish()
            start = len(self.train_losses)
            self.record_losses()
        return {"batch": rows.tolist(), **result, "frame": self.frame(since=start)}

    def check_gradients(self, entries_per_parameter: int = 4) -> dict[str, Any]:
        """Analytic against finite-difference gradients on the inspector's batch (see
        :func:`scratchnn.playground.inspector.check_gradients`)."""
        rows = self.next_batch()
        with self.lock:
            model = self.model.clone()
        return inspector.check_gradients(
            model, self.loss, self.X_train[rows], self.y_train[rows], entries_per_parameter
        )

    # Export.

    def export_npz(self) -> bytes:
        """The trained model as a scratchnn ``.npz`` (``snn.load`` reads it)."""
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.npz")
            with self.lock:
                self.model.metadata["playground"] = self.config.to_dict()
                self.model.save(path)
            with open(path, "rb") as file:
                return file.read()

    def export_script(self) -> str:
        """A short Python script that rebuilds the points and the network and retrains it."""
        from .export import script

        with self.lock:
            return script(self.config, self.epoch)


#: A unit is saturated when this share of the training points drives it to an end of its range.
SATURATED_SHARE = 0.95
# Where a sigmoid's and a tanh's outputs count as saturated: within 0.01 of an end.
_SATURATION = {"sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99)}


def health(hidden: list[np.ndarray], activation: str) -> dict[str, Any]:
    """Dead and saturated hidden units, from each hidden layer's activations on the training
    points: a ReLU unit is dead when it is 0 on every point (no gradient reaches its
    weights again); a sigmoid or tanh unit is saturated when on at least
    :data:`SATURATED_SHARE` of the points it is within 0.01 of an end of its range (its
    gradient nearly vanishes). Units are ``[layer, unit]``, counting from 0.

    Example:
        >>> health([np.array([[0.0, 1.0], [0.0, 2.0]])], "relu")["message"][:43]
        '1 of 2 ReLU units dead (0 on every training'
    """
    dead: list[list[int]] = []
    saturated: list[list[int]] = []
    for layer, values in enumerate(hidden):
        if activation == "relu":
            dead += [[layer, int(j)] for j in np.flatnonzero(np.all(values <= 0, axis=0))]
        elif activation in _SATURATION:
            low, high = _SATURATION[activation]
            share = np.mean((values <= low) | (values >= high) | ~np.isfinite(values), axis=0)
            saturated += [[layer, int(j)] for j in np.flatnonzero(share >= SATURATED_SHARE)]
    total = sum(values.shape[1] for values in hidden)
    message = None
    for units, what in [
        (dead, "ReLU units dead (0 on every training point)"),
        (
            saturated,
            f"{activation} units saturated (at an end of their range "
            f"on {SATURATED_SHARE:.0%} of the training points)",
        ),
    ]:
        if units:
            where = "; ".join(
                f"layer {layer} unit{'s' if len(js) > 1 else ''} {', '.join(map(str, js))}"
                for layer, js in _by_layer(units).items()
            )
            message = f"{len(units)} of {total} {what}: {where}. Lower the learning rate or reset."
    return {"dead": dead, "saturated": saturated, "message": message}


def _by_layer(units: list[list[int]]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for layer, j in units:
        grouped.setdefault(layer, []).append(j)
    return grouped


def _finite(value: float) -> float | None:
    """JSON has no NaN: None instead."""
    return value if math.isfinite(value) else None
