"""The examples run (the main job on a slice of MNIST; its 97.5% promise is tested in test_cli)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _modules import load_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    return load_file(EXAMPLES / f"{name}.py", f"example_{name}")


def test_xor_example_reproduces_the_tutorial(capsys):
    xor = _load("xor")
    model = xor.seed_network(seed=0)
    X, y = xor.snn.datasets.xor()
    assert np.all(np.abs(model.predict(X) - y) < 0.1)
    assert xor.epochs_to_threshold("tanh", "adam", seed=0, max_epochs=2000) is not None
    assert "epoch     0" in capsys.readouterr().out


@pytest.mark.slow
def test_mnist_example_runs_on_a_slice_of_mnist(monkeypatch, capsys):
    """The main job's script runs end to end on 2,000 training images. Its 97.5% promise on the
    full set is checked once, on the user's path: test_cli's ``scratchnn train`` test."""
    mnist = _load("mnist")
    (X_train, y_train), (X_test, y_test) = mnist.snn.datasets.load_mnist()
    subset = ((X_train[:2000], y_train[:2000]), (X_test[:1000], y_test[:1000]))
    monkeypatch.setattr(mnist.snn.datasets, "load_mnist", lambda: subset)
    accuracy = mnist.main(epochs=2, fine_tune_epochs=1)
    out = capsys.readouterr().out
    assert "MNIST: 2,000 training and 1,000 test images" in out
    assert "Epoch 2/2" in out and "Learning rate lowered to 0.0001" in out
    assert "Test accuracy" in out
    assert accuracy >= 0.8, accuracy


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::scratchnn.NotConvergedWarning")  # its first half, rightly
def test_toolkit_example_trains_checkpoints_and_resumes(tmp_path, capsys):
    results = _load("toolkit").main(samples=3000, epochs=4, workdir=str(tmp_path))
    assert results["accuracy"] > 0.85
    assert {p.name for p in tmp_path.iterdir()} == {"best.npz", "halfway.npz", "log.csv"}
    assert "Resuming from epoch 2" in capsys.readouterr().out
