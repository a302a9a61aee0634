"""Saving and loading: bit-identical round trips, the file layout, exact resumption,
atomic writes, and refusal of damaged, foreign or malicious files."""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import warnings
import zipfile

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint

snn_io = importlib.import_module("scratchnn.io")


def _classes(n: int = 48, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    X = 1.5 * np.eye(3, 5)[y] + 0.7 * rng.normal(size=(n, 5))
    return X, y


def _every_layer(dtype) -> snn.Sequential:
    """Every layer type, activation shorthand (by name and with a config), bias=False,
    regularization and a non-default initializer."""
    return snn.Sequential(
        [
            snn.Dense(5, 12, activation="relu"),
            snn.BatchNorm1d(12, momentum=0.2),
            snn.Dropout(0.3),
            snn.Dense(12, 12, activation=snn.LeakyReLU(0.2), bias=False),
            snn.LayerNorm(12),
            snn.Dense(12, 10, activation="tanh", init="he_normal", l2=1e-3),
            snn.ELU(0.5),
            snn.Dense(10, 10, activation="gelu", bias_init="ones"),
            snn.SiLU(),
            snn.Dense(10, 8, activation="sigmoid", l1=1e-4),
            snn.GELU(approximate="tanh"),
            snn.LayerNorm(8, affine=False),
            snn.BatchNorm1d(8, affine=False),
            snn.Identity(),
            snn.Dense(8, 3, activation=snn.Softmax()),
        ],
        seed=11,
        dtype=dtype,
    )


def _trained_every_layer(dtype) -> tuple[snn.Sequential, np.ndarray, np.ndarray]:
    X, y = _classes()
    model = _every_layer(dtype)
    model.fit(
        X,
        y,
        loss=snn.losses.CrossEntropy(from_logits=False),
        optimizer=snn.optim.Adam(lr=0.01),
        schedule=snn.schedules.StepLR(step_size=1, gamma=0.5),
        epochs=2,
        batch_size=16,
        metrics=["accuracy"],
        verbose=0,
    )
    return model, X, y


@pytest.fixture
def saved(tmp_path) -> tuple[snn.Sequential, os.PathLike, np.ndarray]:
    X, y = _classes()
    model = snn.MLP([5, 8, 3], seed=0)
    model.fit(X, y, loss="ce", optimizer="adam", epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    return model, path, X


def _arrays_and_meta(path) -> tuple[dict[str, np.ndarray], dict]:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["__metadata__"].tobytes().decode("utf-8"))
    return arrays, meta


def _rewrite(source, target, edit=None, drop=(), **extra) -> None:
    """Copy a model file with its metadata edited, arrays dropped or added (np.savez)."""
    arrays, meta = _arrays_and_meta(source)
    if edit is not None:
        edit(meta)
    arrays["__metadata__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    for name in drop:
        if name.endswith("*"):  # the first array of that prefix
            name = next(key for key in sorted(arrays) if key.startswith(name[:-1]))
        del arrays[name]
    arrays.update(extra)
    np.savez(target, **arrays)


# Round trips


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_predicts_bit_identically_with_every_layer_type(tmp_path, dtype):
    model, X, _ = _trained_every_layer(dtype)
    path = tmp_path / "every.npz"
    model.save(path)
    loaded = snn.load(path)
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.get_config() == model.get_config()
    assert repr(loaded) == repr(model) and loaded.summary() == model.summary()
    assert np.array_equal(loaded.get_weights(), model.get_weights())
    prediction = loaded.predict(X)
    assert prediction.dtype == np.dtype(dtype)
    assert np.array_equal(prediction, model.predict(X))
    # BatchNorm's running statistics were saved (they are not at their initial values).
    assert not np.array_equal(loaded.layers[1].buffers["running_var"], np.ones(12, dtype))
    assert loaded.epochs_trained == 2
    assert loaded.history.to_dict() == model.history.to_dict()
    assert loaded.history.epoch == [0, 1]
    assert isinstance(loaded.loss, snn.losses.CrossEntropy) and not loaded.loss.from_logits
    assert isinstance(loaded.optimizer, snn.optim.Adam)
    assert loaded.optimizer.lr == model.optimizer.lr == 0.0025
    assert loaded.optimizer.step_count == model.optimizer.step_count == 6
    for mine, theirs in zip(model.optimizer.state, loaded.optimizer.state, strict=True):
        for name in mine:
            assert np.array_equal(mine[name], theirs[name]) and theirs[name].dtype == dtype
    assert isinstance(loaded.schedule, snn.schedules.StepLR)
    assert loaded.schedule.state_dict() == model.schedule.state_dict()
    assert loaded.evaluate(X, _classes()[1]) == model.evaluate(X, _classes()[1])


def test_an_untrained_model_round_trips(tmp_path):
    model = snn.MLP([3, 4, 2], seed=5, dtype=np.float64)
    model.save(tmp_path / "fresh.npz")
    loaded = snn.load(tmp_path / "fresh.npz")
    assert np.array_equal(loaded.get_weights(), model.get_weights())
    assert loaded.loss is None and loaded.optimizer is None and loaded.epochs_trained == 0
    assert loaded.history is None


def test_save_accepts_str_paths_without_the_npz_suffix(tmp_path):
    model = snn.MLP([3, 4, 2], seed=5)
    path = str(tmp_path / "weights.bin")
    model.save(path)
    assert sorted(os.listdir(tmp_path)) == ["weights.bin"]  # no ".npz" appended
    assert np.array_equal(snn.load(path).get_weights(), model.get_weights())


# The file layout


def test_the_file_is_a_plain_npz_without_pickles_and_with_json_metadata(tmp_path):
    model, _, _ = _trained_every_layer(np.float32)
    path = tmp_path / "m.npz"
    model.save(path)
    assert zipfile.is_zipfile(path)
    arrays, meta = _arrays_and_meta(path)  # allow_pickle=False: nothing needs unpickling
    assert all(array.dtype != object for array in arrays.values())
    assert all(not array.dtype.hasobject for array in arrays.values())
    buffers = {"buffer.1.running_mean", "buffer.1.running_var"}
    buffers |= {"buffer.12.running_mean", "buffer.12.running_var"}
    optimizer = {f"optimizer.0.{name}" for name in model.optimizer.state[0]}
    assert len(optimizer) == 2  # Adam's two moment estimates
    assert set(arrays) == {"__metadata__", "parameters"} | buffers | optimizer
    assert arrays["__metadata__"].dtype == np.uint8
    assert np.array_equal(arrays["parameters"], model.parameters().flat.value)
    assert meta["format"] == "scratchnn"
    assert meta["format_version"] == snn_io.FORMAT_VERSION == 1
    assert meta["scratchnn_version"] == snn.__version__
    assert meta["model"] == model.get_config()
    assert meta["model"]["dtype"] == "float32" and meta["model"]["seed"] == 11
    assert meta["model"]["layers"][0] == {
        "class_name": "Dense",
        "config": {
            "in_features": 5,
            "out_features": 12,
            "activation": "relu",
            "init": "auto",
            "bias": True,
            "bias_init": "zeros",
            "l1": 0.0,
            "l2": 0.0,
        },
    }
    assert meta["model"]["layers"][3]["config"]["bias"] is False
    assert meta["epochs_trained"] == 2
    assert meta["loss"] == {
        "class_name": "CrossEntropy",
        "config": {"from_logits": False, "reduction": "mean"},
    }
    assert meta["optimizer"]["class_name"] == "Adam" and meta["optimizer"]["step_count"] == 6
    assert meta["schedule"]["class_name"] == "StepLR"
    assert set(meta["rng"]) == {"shuffle", "init", "layers"}
    assert meta["history"] == model.history.to_dict()


def test_include_optimizer_false_omits_the_optimizer_state(tmp_path):
    model, X, y = _trained_every_layer(np.float64)
    path = tmp_path / "light.npz"
    model.save(path, include_optimizer=False)
    arrays, meta = _arrays_and_meta(path)
    assert not [name for name in arrays if name.startswith("optimizer.")]
    assert meta["optimizer"] is None and meta["schedule"] is None and meta["rng"] is None
    loaded = snn.load(path)
    assert loaded.optimizer is None and loaded.schedule is None
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert os.path.getsize(path) < 0.75 * _saved_size(model, tmp_path / "full.npz")
    with pytest.raises(ValueError, match="needs an optimizer"):
        loaded.fit(X, y, epochs=1, verbose=0)
    loaded.fit(X, y, optimizer="sgd", epochs=1, batch_size=16, verbose=0)  # a fresh optimizer


def _saved_size(model, path) -> int:
    model.save(path)
    return os.path.getsize(path)


# Exact resumption


def _resumable(dtype=np.float32) -> snn.Sequential:
    return snn.Sequential(
        [
            snn.Dense(5, 16, activation="relu"),
            snn.BatchNorm1d(16),
            snn.Dropout(0.25),
            snn.Dense(16, 8),
            snn.Tanh(),
            snn.Dropout(0.1),
            snn.Dense(8, 3),
        ],
        seed=3,
        dtype=dtype,
    )


OPTIMIZERS = {
    "adam": lambda: snn.optim.Adam(lr=0.01),
    "adamw_amsgrad": lambda: snn.optim.AdamW(lr=0.01, amsgrad=True, clip_norm=1.0),
    "sgd_nesterov": lambda: snn.optim.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: snn.optim.RMSProp(lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda: snn.optim.Adagrad(lr=0.05, lr_decay=0.01),
}
SCHEDULES = {
    "step": lambda: snn.schedules.StepLR(step_size=2, gamma=0.5),
    "warmup_cosine": lambda: snn.schedules.Warmup(2, then=snn.schedules.CosineAnnealing(4)),
    "cosine_restarts": lambda: snn.schedules.CosineAnnealing(2, warm_restarts=True, T_mult=2),
    "plateau": lambda: snn.schedules.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5),
    "exponential": lambda: snn.schedules.ExponentialLR(0.8),
}


@pytest.mark.parametrize(
    ("optimizer", "schedule", "dtype"),
    [
        ("adam", "step", np.float32),
        ("adam", "warmup_cosine", np.float64),
        ("adamw_amsgrad", "cosine_restarts", np.float32),
        ("sgd_nesterov", "plateau", np.float32),
        ("rmsprop", "exponential", np.float64),
        ("adagrad", "step", np.float32),
    ],
)
def test_resume_from_a_saved_model_is_bit_identical_to_training_in_one_go(
    tmp_path, optimizer, schedule, dtype
):
    X, y = _classes(50)
    common = {"batch_size": 12, "shuffle": True, "metrics": ["accuracy"], "verbose": 0}
    once = _resumable(dtype)
    h_once = once.fit(
        X,
        y,
        loss="ce",
        optimizer=OPTIMIZERS[optimizer](),
        schedule=SCHEDULES[schedule](),
        epochs=6,
        **common,
    )
    first = _resumable(dtype)
    first.fit(
        X,
        y,
        loss="ce",
        optimizer=OPTIMIZERS[optimizer](),
        schedule=SCHEDULES[schedule](),
        epochs=2,
        **common,
    )
    first.save(tmp_path / "half.npz")
    resumed = snn.load(tmp_path / "half.npz")
    h_resumed = resumed.fit(X, y, epochs=4, **common)  # loss, optimizer, schedule from the file
    assert np.array_equal(resumed.get_weights(), once.get_weights())
    assert resumed.optimizer.lr == once.optimizer.lr
    assert resumed.optimizer.step_count == once.optimizer.step_count == 6 * 5
    assert h_resumed.epoch == [2, 3, 4, 5]
    assert h_resumed.to_dict() == {key: values[2:] for key, values in h_once.to_dict().items()}
    assert np.array_equal(resumed.predict(X), once.predict(X))


def test_without_optimizer_state_resumption_is_not_exact(tmp_path):
    """The control for the test above: the saved state is what makes resumption exact."""
    X, y = _classes(50)
    once = _resumable()
    once.fit(X, y, loss="ce", optimizer="adam", epochs=4, batch_size=12, verbose=0)
    first = _resumable()
    first.fit(X, y, loss="ce", optimizer="adam", epochs=2, batch_size=12, verbose=0)
    first.save(tmp_path / "light.npz", include_optimizer=False)
    resumed = snn.load(tmp_path / "light.npz")
    resumed.fit(X, y, optimizer="adam", epochs=2, batch_size=12, verbose=0)
    assert not np.array_equal(resumed.get_weights(), once.get_weights())


# Atomic writes


def _broken_savez(file, *args, **arrays):
    file.write(b"PK\x03\x04" + b"half-written archive " * 200)
    raise OSError("No space left on device (simulated)")


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_a_failed_save_leaves_the_previous_file_intact_and_no_temporary_file(
    saved, monkeypatch, error
):
    model, path, X = saved
    original = path.read_bytes()
    model.fit(X, _classes()[1], epochs=1, verbose=0)  # different weights to save

    def broken(file, *args, **arrays):
        file.write(b"PK\x03\x04" + b"half-written archive " * 200)
        raise error("simulated failure")

    monkeypatch.setattr(snn_io.np, "savez", broken)
    with pytest.raises(error, match="simulated failure"):
        model.save(path)
    monkeypatch.undo()
    assert os.listdir(path.parent) == ["model.npz"]
    assert path.read_bytes() == original
    assert snn.load(path).epochs_trained == 1


def test_a_failed_first_save_creates_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(snn_io.np, "savez", _broken_savez)
    with pytest.raises(OSError, match="simulated"):
        snn.MLP([2, 2], seed=0).save(tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_save_replaces_an_existing_file(saved):
    model, path, X = saved
    model.fit(X, _classes()[1], epochs=2, verbose=0)
    model.save(path)
    assert os.listdir(path.parent) == ["model.npz"]
    assert snn.load(path).epochs_trained == 3


# Damaged, foreign and malicious files


def _load_refused(path) -> tuple[str, list[str]]:
    """The DataFileError message of load(path), and any files it left open (ResourceWarning
    when the garbage collector closes them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(snn.DataFileError) as info:
            snn.load(path)
        message = str(info.value)
        del info
        gc.collect()
    others = [w for w in caught if not issubclass(w.category, ResourceWarning)]
    assert not others, [str(w.message) for w in others]
    return message, [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def _refused(path, *fragments: str) -> str:
    message, _ = _load_refused(path)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("keep", [0, 4, 30, 200, 0.5, -22, -1])
def test_a_truncated_file_is_refused(saved, tmp_path, keep):
    _, path, _ = saved
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    damaged = tmp_path / "cut.npz"
    damaged.write_bytes(data[:cut])
    _refused(damaged)


def test_loading_a_corrupt_file_closes_it(saved, tmp_path):
    """A truncated archive is refused, and its file handle is closed (not left for the
    garbage collector: 'ResourceWarning: unclosed file')."""
    _, path, _ = saved
    damaged = tmp_path / "cut.npz"
    damaged.write_bytes(path.read_bytes()[:200])
    _, leaks = _load_refused(damaged)
    assert leaks == []


def test_random_bytes_and_text_files_are_refused(tmp_path):
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    _refused(noise)
    text = tmp_path / "model.txt"
    text.write_text("layers: dense(5, 3)\n")
    _refused(text)
    zip_prefix = tmp_path / "prefix.npz"
    zip_prefix.write_bytes(b"PK\x03\x04" + np.random.default_rng(1).bytes(500))
    _refused(zip_prefix)


def test_a_file_that_is_no_pickle_is_not_reported_as_one(tmp_path):
    """Random bytes and text are corrupt or foreign, not 'a pickled Python object'."""
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    text = tmp_path / "model.txt"
    text.write_text("layers: dense(5, 3)\n")
    for path in (noise, text):
        message = _refused(path).replace(str(path), "<path>")  # the path itself says "pickle"
        assert "pickle" not in message, message


def test_a_single_npy_array_file_is_refused(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.arange(10.0))
    _refused(path)


def test_a_zip_whose_metadata_member_is_not_an_array_is_refused(tmp_path):
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__metadata__", json.dumps({"format": "scratchnn"}))
        archive.writestr("parameters.npy", b"not an array")
    _refused(path)


def test_an_npz_without_metadata_is_refused(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, parameters=np.zeros(10, np.float32), other=np.arange(3))
    _refused(path, "not a scratchnn model (no metadata)")


class Payload:
    """Unpickling this creates the directory ``marker``: proof that code ran."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("where", ["extra", "parameters", "metadata"])
def test_an_npz_with_a_pickled_object_is_refused_without_running_it(saved, tmp_path, where):
    _, path, _ = saved
    arrays, _ = _arrays_and_meta(path)
    marker = tmp_path / "payload-ran"
    evil = np.array([Payload(marker)], dtype=object)
    key = {"extra": "evil", "parameters": "parameters", "metadata": "__metadata__"}[where]
    arrays[key] = evil
    malicious = tmp_path / "malicious.npz"
    np.savez(malicious, **arrays)  # np.savez pickles object arrays
    # The control: this payload really runs when the file is unpickled ...
    control_marker = tmp_path / "control-ran"
    control = tmp_path / "control.npz"
    np.savez(control, evil=np.array([Payload(control_marker)], dtype=object))
    with np.load(control, allow_pickle=True) as archive:
        archive["evil"]
    assert control_marker.is_dir()
    # ... but scratchnn never unpickles it: in a member it needs, the file is refused; a
    # member it does not know is ignored without being read.
    if where == "extra":
        assert snn.load(malicious).epochs_trained == 1
    else:
        message = _refused(malicious, "pickled Python object")
        assert "refused" in message
    assert not marker.exists()


def test_a_newer_format_version_is_refused(saved, tmp_path):
    _, path, _ = saved
    newer = tmp_path / "newer.npz"
    _rewrite(path, newer, edit=lambda meta: meta.update(format_version=2))
    _refused(newer, "format version 2", "Upgrade scratchnn")
    odd = tmp_path / "odd.npz"
    _rewrite(path, odd, edit=lambda meta: meta.update(format_version="1"))
    _refused(odd, "format version '1'")


def test_metadata_naming_an_unknown_layer_is_refused(saved, tmp_path):
    _, path, _ = saved

    def edit(meta):
        meta["model"]["layers"][1]["class_name"] = "Conv9d"

    damaged = tmp_path / "unknown.npz"
    _rewrite(path, damaged, edit=edit)
    _refused(damaged, "Unknown layer 'Conv9d'")


@pytest.mark.parametrize(
    ("edit", "drop", "fragment"),
    [
        (lambda meta: meta.update(format="keras"), (), "unknown format"),
        (lambda meta: meta.pop("format"), (), "unknown format"),
        (lambda meta: meta["model"]["layers"][0]["config"].update(out_features=9), (), "damaged"),
        (lambda meta: meta["model"].update(dtype="float64"), (), "damaged"),
        (lambda meta: meta["model"].pop("layers"), (), "damaged"),
        (None, ("parameters",), "damaged"),
        (None, ("optimizer.0.*",), "damaged"),
        (lambda meta: meta["optimizer"].update(class_name="Nadam"), (), "Unknown optimizer"),
        (lambda meta: meta.update(loss={"class_name": "Hinge"}), (), "Unknown loss"),
        (lambda meta: meta["rng"].update(layers=[]), (), "damaged"),
    ],
)
def test_inconsistent_metadata_is_refused(saved, tmp_path, edit, drop, fragment):
    _, path, _ = saved
    damaged = tmp_path / "damaged.npz"
    _rewrite(path, damaged, edit=edit, drop=drop)
    _refused(damaged, fragment)


def test_metadata_that_is_not_json_is_refused(saved, tmp_path):
    _, path, _ = saved
    arrays, _ = _arrays_and_meta(path)
    for raw in (b"{not json", b"\xff\xfe\x00", b"[1, 2, 3]"):
        arrays["__metadata__"] = np.frombuffer(raw, dtype=np.uint8)
        damaged = tmp_path / "garbled.npz"
        np.savez(damaged, **arrays)
        _refused(damaged)


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file at"):
        snn.load(tmp_path / "absent.npz")


# End to end: train, interrupt, load the checkpoint, resume


class StopAfterEpoch(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs):
        if epoch == self.epoch:
            self.model.stop_training = True


class SigintAt(Callback):
    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def _e2e_model() -> snn.Sequential:
    return snn.Sequential(
        [
            snn.Dense(5, 16, activation="relu"),
            snn.BatchNorm1d(16),
            snn.Dropout(0.2),
            snn.Dense(16, 3),
        ],
        seed=21,
    )


TOTAL = 8


def _e2e_fit(model, data, checkpoint_path, extra=(), first=True, epochs=TOTAL, best_only=False):
    X, y, X_val, y_val = data
    stopper = EarlyStopping(monitor="val_loss", patience=100)
    checkpoint = ModelCheckpoint(checkpoint_path, save_best_only=best_only)
    options = {}
    if first:
        options = {
            "loss": "ce",
            "optimizer": snn.optim.Adam(lr=0.02),
            "schedule": snn.schedules.Warmup(2, then=snn.schedules.CosineAnnealing(T_max=6)),
        }
    history = model.fit(
        X,
        y,
        epochs=epochs,
        batch_size=10,
        validation_data=(X_val, y_val),
        metrics=["accuracy"],
        callbacks=[stopper, checkpoint, *extra],
        verbose=0,
        **options,
    )
    assert stopper.stopped_epoch is None  # patience is never exhausted: no early stop
    return history, checkpoint


@pytest.fixture
def e2e_data():
    X, y = _classes(48, seed=4)
    X_val, y_val = _classes(18, seed=5)
    return X, y, X_val, y_val


@pytest.fixture
def uninterrupted(e2e_data, tmp_path):
    model = _e2e_model()
    weights_at_end: list[np.ndarray] = []
    keep = LambdaCallback(on_epoch_end=lambda e, logs: weights_at_end.append(model.get_weights()))
    path = str(tmp_path / "full-{epoch}.npz")
    history, _ = _e2e_fit(model, e2e_data, path, extra=[keep])
    return model, history, weights_at_end


def _check_resumed(resumed, h_resumed, uninterrupted, e2e_data, start):
    model, history, weights_at_end = uninterrupted
    X_val = e2e_data[2]
    assert h_resumed.epoch == list(range(start, TOTAL))
    assert h_resumed.to_dict() == {k: v[start:] for k, v in history.to_dict().items()}
    assert np.array_equal(resumed.get_weights(), model.get_weights())
    assert np.array_equal(resumed.predict(X_val), model.predict(X_val))
    assert resumed.optimizer.step_count == model.optimizer.step_count == TOTAL * 5
    assert resumed.optimizer.lr == model.optimizer.lr
    assert resumed.epochs_trained == TOTAL
    assert len(weights_at_end) == TOTAL


def test_end_to_end_stop_load_checkpoint_and_resume(e2e_data, uninterrupted, tmp_path):
    model = _e2e_model()
    path = str(tmp_path / "ckpt-{epoch:02d}.npz")
    history, checkpoint = _e2e_fit(model, e2e_data, path, extra=[StopAfterEpoch(3)])
    assert len(history) == 4 and model.stop_training
    assert checkpoint.saved == [str(tmp_path / f"ckpt-{e:02d}.npz") for e in range(1, 5)]
    # Each checkpoint holds exactly the weights of its epoch in the uninterrupted run.
    _, _, weights_at_end = uninterrupted
    for epoch, saved in enumerate(checkpoint.saved):
        assert np.array_equal(snn.load(saved).get_weights(), weights_at_end[epoch])
    resumed = snn.load(checkpoint.saved[-1])
    assert resumed.epochs_trained == 4
    h_resumed, _ = _e2e_fit(
        resumed, e2e_data, str(tmp_path / "again-{epoch}.npz"), first=False, epochs=TOTAL - 4
    )
    _check_resumed(resumed, h_resumed, uninterrupted, e2e_data, start=4)


def test_end_to_end_ctrl_c_load_best_checkpoint_and_resume(e2e_data, uninterrupted, tmp_path):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("the test runner replaced Python's SIGINT handler")
    model = _e2e_model()
    path = str(tmp_path / "best.npz")
    history, _ = _e2e_fit(model, e2e_data, path, extra=[SigintAt(5, 2)], best_only=True)
    assert history.interrupted and len(history) == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    best = int(np.argmin(history["val_loss"]))
    resumed = snn.load(path)  # the best epoch so far, not the interrupted one
    assert resumed.epochs_trained == best + 1
    _, _, weights_at_end = uninterrupted
    assert np.array_equal(resumed.get_weights(), weights_at_end[best])
    start = resumed.epochs_trained
    h_resumed, _ = _e2e_fit(
        resumed, e2e_data, str(tmp_path / "again.npz"), first=False, epochs=TOTAL - start
    )
    _check_resumed(resumed, h_resumed, uninterrupted, e2e_data, start=start)
