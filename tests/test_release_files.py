"""Files saved by the release before shapes (scratchnn 0.1.0 as of 2026-12-06, commit
12e2035, written by its own code into tests/data/release-0.1.0) load with this version,
predict what they predicted then, and keep training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn

FILES = Path(__file__).parent / "data" / "release-0.1.0"
EXPECTED = json.loads((FILES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["predictions"]))
def test_a_release_file_loads_and_predicts_as_it_did(name):
    model = snn.load(FILES / name)
    probe = EXPECTED["probe_table"] if "table" in name else np.array(EXPECTED["probe"])
    np.testing.assert_allclose(
        model.predict(probe), np.array(EXPECTED["predictions"][name]), rtol=1e-6, atol=1e-7
    )
    assert model.input_shape == (model.in_features,)


def test_a_release_file_resumes_training_and_saves_again(tmp_path):
    model = snn.load(FILES / "mlp_adam.npz")
    assert model.epochs_trained == 3 and len(model.history) == 3
    assert model.metadata["note"].startswith("saved by scratchnn 0.1.0")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.epochs_trained == 4
    model.save(tmp_path / "again.npz")
    again = snn.load(tmp_path / "again.npz")
    np.testing.assert_array_equal(again.get_weights(), model.get_weights())
