"""Initializers: the spread each name promises, and why it matters for the tutorial's net."""

import contextlib

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.diagnostics import DiagnosisWarning


@pytest.mark.parametrize(("name", "std"), [("normal", 0.01), ("standard_normal", 1.0)])
def test_normal_initializers_have_the_stated_standard_deviation(name, std):
    w = snn.initializers.get(name)((400, 500), np.random.default_rng(0), np.float64)
    assert w.std() == pytest.approx(std, rel=0.01)
    assert abs(w.mean()) < 0.01 * std


def test_randn_is_an_alias_and_dense_saves_the_name():
    assert snn.initializers.get("randn") is snn.initializers.standard_normal
    layer = snn.Dense(2, 4, init="standard_normal")
    assert snn.Dense.from_config(layer.get_config()).init == "standard_normal"


@pytest.mark.slow
def test_the_tutorials_network_learns_from_standard_normal_but_not_from_normal():
    X, y = snn.datasets.xor(np.float64)
    finals = {}
    for init in ("normal", "standard_normal"):
        model = snn.Sequential(
            [snn.Dense(2, 4, init=init), snn.Sigmoid(), snn.Dense(4, 1, init=init), snn.Sigmoid()],
            seed=0,
            dtype=np.float64,
        )
        # The stalled run is told of its plateau (scratchnn.diagnostics), the other is not.
        stall = pytest.warns(DiagnosisWarning, match="init='normal' has std 0.01")
        with stall if init == "normal" else contextlib.nullcontext():
            history = model.fit(
                X,
                y,
                loss=snn.losses.MSE(reduction="sum"),
                optimizer=snn.optim.SGD(lr=0.05),
                epochs=10_000,
                batch_size=None,
                verbose=0,
            )
        finals[init] = history["loss"][-1]
    assert finals["standard_normal"] < 0.05  # summed over the 4 points
    assert finals["normal"] > 0.9  # still ~4 × 0.25: every output near 0.5
