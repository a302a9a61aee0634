"""The examples run, and the main job meets its promise (>= 97.5% on MNIST's test set)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_xor_example_reproduces_the_tutorial(capsys):
    xor = _load("xor")
    model = xor.seed_network(seed=0)
    X, y = xor.snn.datasets.xor()
    assert np.all(np.abs(model.predict(X) - y) < 0.1)
    assert xor.epochs_to_threshold("tanh", "adam", seed=0, max_epochs=2000) is not None
    assert "epoch     0" in capsys.readouterr().out


@pytest.mark.slow
def test_mnist_main_job_reaches_97_5_percent(capsys):
    accuracy = _load("mnist").main()
    out = capsys.readouterr().out
    assert "Test accuracy" in out and "Epoch 6/6" in out
    assert accuracy >= 0.975


def test_toolkit_example_trains_checkpoints_and_resumes(tmp_path, capsys):
    results = _load("toolkit").main(samples=3000, epochs=4, workdir=str(tmp_path))
    assert results["accuracy"] > 0.85
    assert {p.name for p in tmp_path.iterdir()} == {"best.npz", "halfway.npz", "log.csv"}
    assert "Resuming from epoch 2" in capsys.readouterr().out
