"""Convolutional networks as models: a LeNet-style Sequential builds, shows its shapes, trains,
predicts, saves and loads; the whole network against a PyTorch twin for several Adam steps;
gradcheck and trace_step on a CNN; seeds; hostile files declaring huge kernels."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from _model_files import MEMORY_BOUND, load_cost, with_metadata
from oracles import to_numpy, to_torch
from scratchnn import io as snn_io


def lenet(dtype=np.float32, seed: int = 0, size: int = 12) -> snn.Sequential:
    """A small LeNet: conv 3x3x4 -> pool -> conv 3x3x8 -> pool -> dense 16 -> 3."""
    after = ((size - 2) // 2 - 2) // 2
    return snn.Sequential(
        [
            snn.Conv2D(1, 4, 3),
            snn.ReLU(),
            snn.MaxPool2D(2),
            snn.Conv2D(4, 8, 3),
            snn.ReLU(),
            snn.MaxPool2D(2),
            snn.Flatten(),
            snn.Dense(8 * after * after, 16),
            snn.ReLU(),
            snn.Dense(16, 3),
        ],
        seed=seed,
        dtype=dtype,
        input_shape=(1, size, size),
    )


def stripes(n: int = 48, size: int = 12, seed: int = 0):
    """Three classes of noisy images: a horizontal bar, a vertical bar, or a diagonal."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = rng.uniform(0, 0.3, size=(n, 1, size, size))
    for i, label in enumerate(y):
        k = rng.integers(2, size - 2)
        if label == 0:
            X[i, 0, k, :] = 1
        elif label == 1:
            X[i, 0, :, k] = 1
        else:
            X[i, 0, np.arange(size), np.arange(size)] = 1
    return X.astype(np.float32), y


def test_a_lenet_builds_and_its_summary_shows_every_shape():
    model = lenet(size=28)
    text = model.summary()
    for shape in [
        "(None, 4, 26, 26)",
        "(None, 4, 13, 13)",
        "(None, 8, 11, 11)",
        "(None, 8, 5, 5)",
        "(None, 200)",
        "(None, 16)",
        "(None, 3)",
    ]:
        assert shape in text, text
    assert model.output_shape == (3,)
    expected = (4 * 9 + 4) + (8 * 4 * 9 + 8) + (200 * 16 + 16) + (16 * 3 + 3)
    assert sum(p.value.size for p in model.parameters()) == expected
    assert f"{expected:,}" in text


def test_a_lenet_learns_predicts_saves_and_loads(tmp_path):
    X, y = stripes(96)
    X_test, y_test = stripes(48, seed=1)
    model = lenet()
    model.fit(
        X,
        y,
        loss="cross_entropy",
        optimizer=snn.optim.Adam(lr=0.01),
        epochs=15,
        batch_size=16,
        verbose=0,
    )
    assert model.evaluate(X_test, y_test, metrics=["accuracy"])["accuracy"] >= 0.9
    assert model.predict(X_test).shape == (48, 3)
    model.save(tmp_path / "cnn.npz")
    loaded = snn.load(tmp_path / "cnn.npz")
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    assert loaded.summary() == model.summary()
    # fit continues exactly where it stopped, in the original and in the loaded copy
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    loaded.fit(X, y, epochs=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))


def test_the_same_seed_trains_bit_identical_cnns():
    X, y = stripes(32)

    def trained(seed):
        model = snn.Sequential(
            [
                snn.RandomShift(1, horizontal_flip=True),
                snn.Conv2D(1, 4, 3, padding="same"),
                snn.BatchNorm2d(4),
                snn.ReLU(),
                snn.Dropout2d(0.2),
                snn.AvgPool2D(2),
                snn.GlobalAvgPool2D(),
                snn.Dense(4, 3),
            ],
            seed=seed,
            input_shape=(1, 12, 12),
        )
        model.fit(X, y, loss="ce", optimizer="adam", epochs=2, batch_size=8, verbose=0)
        return (
            model.parameters().values
            if hasattr(model.parameters(), "values")
            else [p.value.copy() for p in model.parameters()]
        )

    first, again, other = trained(3), trained(3), trained(4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_channels_last_images_go_through_to_channels_first():
    X, _ = stripes(32)
    nhwc = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
    first = snn.Sequential([snn.Conv2D(1, 2, 3), snn.Flatten(), snn.Dense(200, 3)], seed=0)
    last = snn.Sequential(
        [snn.ToChannelsFirst(), snn.Conv2D(1, 2, 3), snn.Flatten(), snn.Dense(200, 3)], seed=0
    )
    np.testing.assert_array_equal(last.predict(nhwc), first.predict(X))
    with pytest.raises(ValueError, match="1"):
        first.predict(nhwc)  # (12, 12, 1) images are not (1, H, W): refused, not misread


def test_gradcheck_passes_on_a_cnn_end_to_end():
    X, y = stripes(3)
    model = snn.Sequential(
        [
            snn.Conv2D(1, 2, 3, stride=2, padding=1),
            snn.BatchNorm2d(2),
            snn.Tanh(),
            snn.AvgPool2D(2),
            snn.Conv2D(2, 2, 2, groups=2),
            snn.Flatten(),
            snn.Dense(8, 3),
        ],
        seed=0,
        input_shape=(1, 12, 12),
    )
    result = snn.gradcheck(model, "cross_entropy", X, y)
    assert result.passed, str(result)
    assert all(check.passed for check in result.layers), str(result)


def test_trace_step_shows_a_conv_layers_arrays_with_their_shapes():
    X, y = stripes(4)
    text = str(snn.trace_step(lenet(), X, y, loss="ce", optimizer="sgd"))
    assert "(4, 4, 10, 10)" in text  # the first convolution's output, batch of 4
    assert "(4, 1, 3, 3)" in text  # its kernel and ∂L/∂W


pytorch = pytest.importorskip("torch", minversion="2.13", reason="PyTorch is the oracle")


@pytest.mark.usefixtures("single_threaded_torch")
def test_five_adam_steps_of_a_whole_cnn_match_a_torch_twin():
    X, y = stripes(16)
    X = X.astype(np.float64)
    model = snn.Sequential(
        [
            snn.Conv2D(1, 4, 3, padding=1, bias=False),  # a bias before BatchNorm cancels
            snn.BatchNorm2d(4),
            snn.ReLU(),
            snn.MaxPool2D(2),
            snn.Conv2D(4, 6, 3, stride=2, groups=2),
            snn.ReLU(),
            snn.Flatten(),
            snn.Dense(24, 3),
        ],
        seed=0,
        dtype=np.float64,
        input_shape=(1, 12, 12),
    )
    nn = pytorch.nn
    twin = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, groups=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(24, 3),
    ).double()
    ours = [p for p in model.parameters()]
    theirs = [
        twin[0].weight,
        twin[1].weight,
        twin[1].bias,
        twin[4].weight,
        twin[4].bias,
        twin[7].weight,
        twin[7].bias,
    ]
    with pytorch.no_grad():
        for p, t in zip(ours, theirs, strict=True):
            t.copy_(to_torch(p.value.T if p.value.ndim == 2 else p.value))
    optimizer = pytorch.optim.Adam(twin.parameters(), lr=0.01)
    model.fit(
        X,
        y,
        loss="ce",
        optimizer=snn.optim.Adam(lr=0.01),
        epochs=5,
        batch_size=None,
        shuffle=False,
        verbose=0,
    )
    for _ in range(5):
        optimizer.zero_grad()
        loss = pytorch.nn.functional.cross_entropy(twin(to_torch(X)), to_torch(y))
        loss.backward()
        optimizer.step()
    for p, t in zip(ours, theirs, strict=True):
        value = to_numpy(t)
        np.testing.assert_allclose(
            p.value, value.T if value.ndim == 2 else value, rtol=1e-6, atol=1e-10, err_msg=p.name
        )
    bn = model.layers[1]
    np.testing.assert_allclose(bn.buffers["running_var"], to_numpy(twin[1].running_var), rtol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        {
            "class_name": "Conv2D",
            "config": {"in_channels": 2**20, "out_channels": 2**20, "kernel_size": 3},
        },
        {
            "class_name": "Conv2D",
            "config": {"in_channels": 1, "out_channels": 4, "kernel_size": 2**31},
        },
        {"class_name": "BatchNorm2d", "config": {"num_features": 2**40}},
    ],
)
def test_a_file_declaring_a_huge_kernel_is_refused_before_allocating(tmp_path, layer):
    good = snn_io.dumps(snn.Sequential([snn.Conv2D(1, 2, 3)], seed=0, input_shape=(1, 5, 5)))

    def edit(meta):
        meta["model"]["layers"] = [layer]

    path = tmp_path / "hostile.npz"
    path.write_bytes(with_metadata(good, edit))
    outcome, _, peak = load_cost(lambda: snn.load(path))
    assert isinstance(outcome, snn.DataFileError), repr(outcome)
    assert str(path) in str(outcome)
    assert peak < MEMORY_BOUND


def test_a_diverging_cnn_step_is_refused_and_changes_nothing():
    X, y = stripes(8)
    model = snn.Sequential(
        [
            snn.Conv2D(1, 2, 3),
            snn.BatchNorm2d(2),
            snn.ReLU(),
            snn.MaxPool2D(2),
            snn.Flatten(),
            snn.Dense(50, 3),
        ],
        seed=0,
        input_shape=(1, 12, 12),
    )
    model.layers[0].params["W"][...] = 1e30
    before = [p.value.copy() for p in model.parameters()]
    running = model.layers[1].buffers["running_var"].copy()
    with pytest.raises(snn.TrainingDivergedError, match="not applied"):
        model.fit(X * 1e10, y, loss="cross_entropy", optimizer="sgd", verbose=0)
    for p, value in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.value, value)
    np.testing.assert_array_equal(model.layers[1].buffers["running_var"], running)
