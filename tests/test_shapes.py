"""Shapes through the core: a model of layers on 4-D input (images) and on 3-D input
(sequences, with a container layer) builds, shows its shapes, trains on arrays and on streamed
data, saves and loads, predicts in batches, and passes gradcheck and trace_step, with no
special case for its layers anywhere in the core. The layers here exist only for the test."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import shapes
from scratchnn.layers.base import Container, Layer, layers
from scratchnn.streaming import ArraySource


@layers.register()
class ChannelScale(Layer):
    """``y[c] = s[c] · x[c]`` on ``(channels, height, width)`` samples."""

    draws_at_build = False

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    @property
    def input_shape(self):
        return (self.channels, None, None)

    def parameter_shapes(self, input_shape):
        return {"s": (self.channels,)}

    def buffer_shapes(self, input_shape):
        return {}

    def build(self, rng=None, dtype=np.float32, init_hint=None):
        super().build(rng, dtype, init_hint)
        self.params["s"] = np.linspace(0.5, 1.5, self.channels).astype(self.dtype)
        self.grads["s"] = np.zeros(self.channels, dtype=self.dtype)

    def forward(self, x, training=False):
        self._x = x
        return x * self.params["s"][:, None, None]

    def backward(self, grad_out):
        np.einsum("nchw,nchw->c", grad_out, self._x, out=self.grads["s"])
        return grad_out * self.params["s"][:, None, None]

    def get_config(self):
        return {"channels": self.channels}


@layers.register()
class Rows(Layer):
    """Flattens each sample to one row: ``(c, h, w)`` → ``(c·h·w,)``."""

    draws_at_build = False

    def output_shape(self, input_shape):
        return (None,) if None in input_shape else (shapes.size(input_shape),)

    def parameter_shapes(self, input_shape):
        return {}

    def buffer_shapes(self, input_shape):
        return {}

    def forward(self, x, training=False):
        self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad_out):
        return grad_out.reshape(self._shape)


@layers.register()
class Skip(Container):
    """``x + f(x)``, f the sublayers (a residual connection)."""

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        out = x
        for layer in self.layers:
            out = layer.forward(out, training)
        return x + out

    def backward(self, grad_out):
        grad = grad_out
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad_out + grad


@layers.register()
class LastStep(Layer):
    """The last time step of each sequence: ``(time, features)`` → ``(features,)``."""

    draws_at_build = False

    @property
    def input_shape(self):
        return (None, None)

    def output_shape(self, input_shape):
        return (input_shape[-1],)

    def parameter_shapes(self, input_shape):
        return {}

    def buffer_shapes(self, input_shape):
        return {}

    def forward(self, x, training=False):
        self._shape = x.shape
        return x[:, -1, :]

    def backward(self, grad_out):
        grad = np.zeros(self._shape, dtype=grad_out.dtype)
        grad[:, -1, :] = grad_out
        return grad


def image_model(dtype=np.float32, seed=0):
    return snn.Sequential(
        [ChannelScale(2), snn.ReLU(), Rows(), snn.Dense(2 * 3 * 3, 3)],
        seed=seed,
        dtype=dtype,
        input_shape=(2, 3, 3),
    )


def sequence_model(dtype=np.float32, seed=0):
    return snn.Sequential(
        [
            snn.Dense(4, 6),
            Skip([snn.LayerNorm(6), snn.Dense(6, 6), snn.Tanh(), snn.Dropout(0.1)]),
            LastStep(),
            snn.Dense(6, 2),
        ],
        seed=seed,
        dtype=dtype,
        input_shape=(None, 4),
    )


def images(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2, 3, 3)).astype(np.float32)
    return X, (X[:, 0].sum(axis=(1, 2)) > 0).astype(int) + (X[:, 1, 0, 0] > 1)


def sequences(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5, 4)).astype(np.float32)
    return X, (X[:, -1, 0] > 0).astype(int)


def test_the_chain_of_shapes_and_the_summary():
    model = image_model()
    assert model.input_shape == (2, 3, 3) and model.output_shape == (3,)
    assert model.shapes == [(2, 3, 3), (2, 3, 3), (2, 3, 3), (18,), (3,)]
    text = model.summary()
    assert "(None, 2, 3, 3)" in text and "(None, 18)" in text
    assert "input shape: (None, 2, 3, 3)" in text
    assert model.in_features is None and model.out_features == 3
    seq = sequence_model()
    assert seq.shapes[1:] == [(None, 6), (None, 6), (6,), (2,)]
    assert "(None, None, 6)" in seq.summary()
    # counted from the built arrays: 2 scales + 18*3+3; the sequence model's nested Dense too
    assert image_model().parameters().flat.value.size == 2 + 18 * 3 + 3
    assert seq.parameters().flat.value.size == (4 * 6 + 6) + (6 + 6) + (6 * 6 + 6) + (6 * 2 + 2)
    assert "skip_1.dense_1.W" in seq.parameters().names()
    rows = [line.split()[-1] for line in seq.summary().splitlines()[2:6]]
    assert sum(int(count.replace(",", "")) for count in rows) == seq.parameters().flat.value.size


def test_a_chain_that_does_not_fit_names_both_layers_and_the_fix():
    with pytest.raises(
        ValueError,
        match=r"Dense\(in_features=18, out_features=3\) expects 18 features, but the input "
        r"before it gives \(2, 3, 3\); put Flatten\(\) between them",
    ):
        snn.Sequential([ChannelScale(2), snn.Dense(18, 3)], input_shape=(2, 3, 3))
    with pytest.raises(ValueError, match=r"ChannelScale\(channels=3\) expects \(3, None, None\)"):
        snn.Sequential([ChannelScale(2), ChannelScale(3)], input_shape=(2, 3, 3))


def test_inputs_of_the_wrong_rank_or_size_are_refused_with_the_expected_shape():
    model = image_model()
    with pytest.raises(
        ValueError,
        match=r"X must be 4-D \(n_samples, 2, 3, 3\); received shape \(5, 18\). "
        r"Reshape it with X.reshape\(len\(X\), 2, 3, 3\)",
    ):
        model.predict(np.zeros((5, 18)))
    with pytest.raises(ValueError, match=r"samples of shape \(2, 4, 3\).*axis 2 must be 3"):
        model.predict(np.zeros((5, 2, 4, 3)))
    with pytest.raises(ValueError, match=r"X must be 2-D \(n_samples, n_features\)"):
        snn.MLP([4, 2]).predict(np.zeros((3, 2, 2)))  # 2-D models keep their message


@pytest.mark.parametrize("build", [image_model, sequence_model], ids=["images", "sequences"])
def test_fit_stream_save_load_and_batched_predict(build, tmp_path):
    X, y = images() if build is image_model else sequences()
    model = build()
    history = model.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer="adam",
        epochs=3,
        batch_size=8,
        metrics=["accuracy"],
        verbose=0,
    )
    assert len(history) == 3 and np.isfinite(history.history["loss"]).all()
    streamed = build()
    streamed.fit(
        ArraySource(X, y),
        loss="cross_entropy",
        optimizer="adam",
        epochs=3,
        batch_size=8,
        shuffle=False,
        verbose=0,
    )
    in_memory = build()
    in_memory.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer="adam",
        epochs=3,
        batch_size=8,
        shuffle=False,
        verbose=0,
    )
    np.testing.assert_array_equal(streamed.get_weights(), in_memory.get_weights())
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = snn.load(path)
    assert loaded.shapes == model.shapes
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(model.predict(X, batch_size=7), model.predict(X))
    assert model.predict(ArraySource(X), batch_size=6).shape == (
        len(X),
        3 if build is image_model else 2,
    )
    # training continues exactly after loading (optimizer, random streams of nested layers)
    again = snn.load(path)
    model.fit(X, y, epochs=1, verbose=0)
    again.fit(X, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_weights(), again.get_weights())


@pytest.mark.parametrize("build", [image_model, sequence_model], ids=["images", "sequences"])
def test_gradcheck_and_trace_step(build):
    X, y = images(6) if build is image_model else sequences(6)
    model = build(dtype=np.float64)
    result = snn.gradcheck(model, "cross_entropy", X.astype(np.float64), y)
    assert result.passed, result
    trace = snn.trace_step(model, X, y, loss="cross_entropy", optimizer="sgd")
    first = type(model.layers[0]).__name__
    assert first in str(trace)
    before = model.get_weights()
    snn.trace_step(model, X, y, loss="cross_entropy", optimizer="sgd", apply=True)
    assert not np.array_equal(before, model.get_weights())


def test_seeds_are_bit_identical_for_nested_layers():
    X, y = sequences()
    a, b = sequence_model(seed=3), sequence_model(seed=3)
    for model in (a, b):
        model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(a.get_weights(), b.get_weights())


def test_a_hostile_file_with_a_huge_declared_layer_is_refused_before_allocating(tmp_path):
    import json

    model = image_model()
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(bytes(arrays["__metadata__"]))
    meta["model"]["layers"][0]["config"]["channels"] = 10**12
    meta["model"]["input_shape"] = [10**12, 3, 3]
    meta["model"]["layers"][3]["config"]["in_features"] = 9 * 10**12
    arrays["__metadata__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(snn.DataFileError, match=r"array .s. size must be a whole number in \[0, "):
        snn.load(path)


def test_dense_after_a_flatten_of_images_of_any_size_gives_its_outputs():
    model = snn.Sequential([ChannelScale(2), Rows(), snn.Dense(18, 3)])  # no input_shape
    assert model.input_shape == (2, None, None) and model.output_shape == (3,)
    X, y = images(16)
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=1, verbose=0)
    assert model.predict(X).shape == (16, 3)
