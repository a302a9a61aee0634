"""A learner's own layer saves and loads back equal, or is refused with the fix named.

Each test registers its layer classes under names no other test uses and removes them again,
so that the registry stays as the package made it."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn._registry import normalize_name
from scratchnn.layers.base import ParameterFree, layers


@pytest.fixture
def register():
    """``register(cls)``: register a test's layer class, removed again after the test."""
    added: list[str] = []

    def add(cls: type) -> type:
        layers.register()(cls)
        added.append(cls.__name__)
        return cls

    yield add
    for name in added:
        layers._entries.pop(normalize_name(name), None)
        layers._canonical.pop(name, None)


class Leaky(ParameterFree):
    """``a = z`` for ``z > 0``, ``a = alpha·z`` otherwise: an argument stored under its own
    name, and no ``get_config`` written."""

    def __init__(self, alpha: float = 0.1) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x, training=False):
        self._slope = np.where(x > 0, 1.0, self.alpha).astype(x.dtype)
        return x * self._slope

    def backward(self, grad_out):
        return grad_out * self._slope


def _model(layer) -> snn.Sequential:
    return snn.Sequential([snn.Dense(3, 4), layer, snn.Dense(4, 2)], seed=0)


def test_a_registered_custom_layer_loads_back_with_its_non_default_argument(register, tmp_path):
    register(Leaky)
    model = _model(Leaky(alpha=0.3))
    X = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    model.fit(X, np.zeros((16, 2)), loss="mse", optimizer="adam", epochs=2, verbose=0)
    model.save(tmp_path / "leaky.npz")
    loaded = snn.load(tmp_path / "leaky.npz")
    assert loaded.layers[1].alpha == 0.3  # not the default 0.1
    assert loaded.get_config() == model.get_config()
    assert loaded.get_config()["layers"][1] == {"class_name": "Leaky", "config": {"alpha": 0.3}}
    # The negative slope matters to the predictions: they are equal only with alpha = 0.3.
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert repr(loaded.layers[1]) == "Leaky(alpha=0.3)"


def test_numpy_scalars_and_tuples_become_json_values(register):
    class Shift(ParameterFree):
        def __init__(self, offset=0.0, axes=(0,)) -> None:
            super().__init__()
            self.offset, self.axes = offset, axes

        def forward(self, x, training=False):
            return x + self.offset

        def backward(self, grad_out):
            return grad_out

    register(Shift)
    config = Shift(np.float32(0.5), (1, 2)).get_config()
    assert config == {"offset": 0.5, "axes": [1, 2]}
    assert type(config["offset"]) is float


def test_an_argument_not_stored_under_its_name_refuses_to_save(register, tmp_path):
    class Scale(ParameterFree):
        def __init__(self, factor: float = 2.0) -> None:
            super().__init__()
            self._factor = factor  # not self.factor: get_config cannot find it

        def forward(self, x, training=False):
            return x * self._factor

        def backward(self, grad_out):
            return grad_out * self._factor

    register(Scale)
    model = _model(Scale(3.0))
    with pytest.raises(NotImplementedError) as caught:
        model.save(tmp_path / "scale.npz")
    message = str(caught.value)
    assert "'factor' is not stored as self.factor" in message
    assert "Scale.get_config()" in message
    assert not (tmp_path / "scale.npz").exists()  # nothing half-written
    assert repr(model.layers[1]) == "Scale(...)"  # describing it still works


def test_a_value_json_cannot_hold_and_star_kwargs_are_refused_naming_get_config(register):
    class Holds(ParameterFree):
        def __init__(self, table=None) -> None:
            super().__init__()
            self.table = table

    class Open(ParameterFree):
        def __init__(self, **options) -> None:
            super().__init__()
            self.options = options

    with pytest.raises(NotImplementedError, match=r"self\.table is array.*Holds\.get_config"):
        Holds(np.ones(3)).get_config()
    with pytest.raises(NotImplementedError, match=r"takes \*\*options: write Open\.get_config"):
        Open(a=1).get_config()


def test_loading_an_unregistered_class_names_it_and_how_to_register_it(register, tmp_path):
    register(Leaky)
    _model(Leaky(alpha=0.3)).save(tmp_path / "leaky.npz")
    layers._entries.pop(normalize_name("Leaky"))  # a new program that has not defined it
    layers._canonical.pop("Leaky")
    with pytest.raises(snn.DataFileError) as caught:
        snn.load(tmp_path / "leaky.npz")
    message = str(caught.value)
    assert "damaged" not in message
    assert "Unknown layer 'Leaky': the file holds a layer of this class" in message
    assert "@snn.layers.layers.register() above `class Leaky(snn.Layer)`" in message


def test_an_unregistered_layer_inside_a_container_is_named_too(register, tmp_path):
    register(Leaky)
    model = snn.Sequential([snn.Dense(3, 3), snn.Residual([snn.Dense(3, 3), Leaky(0.2)])], seed=0)
    model.save(tmp_path / "residual.npz")
    assert snn.load(tmp_path / "residual.npz").layers[1].layers[1].alpha == 0.2
    layers._entries.pop(normalize_name("Leaky"))
    layers._canonical.pop("Leaky")
    with pytest.raises(
        snn.DataFileError, match="Unknown layer 'Leaky': the file holds a layer of this class"
    ):
        snn.load(tmp_path / "residual.npz")


def test_a_layer_whose_init_skips_super_init_is_told_to_call_it():
    class Scale(snn.Layer):
        def __init__(self, factor: float = 2.0) -> None:
            self.factor = factor  # forgot super().__init__()

        def forward(self, x, training=False):
            return x * self.factor

        def backward(self, grad_out):
            return grad_out * self.factor

    with pytest.raises(AttributeError) as caught:
        snn.Sequential([snn.Dense(2, 2), Scale()])
    message = str(caught.value)
    assert "Scale.__init__ did not call super().__init__()" in message
    assert "Add super().__init__() as the first line of Scale.__init__" in message
    # Other missing attributes keep Python's own message, and hasattr still answers False.
    assert not hasattr(Scale(), "built")
    with pytest.raises(AttributeError, match="'Scale' object has no attribute 'nothing'"):
        _ = Scale().nothing


def test_loading_a_file_whose_loss_is_unregistered_names_the_loss_and_its_registry(tmp_path):
    class HalfMSE(snn.losses.MSE):
        def forward(self, prediction, target, sample_weight=None):
            return 0.5 * super().forward(prediction, target, sample_weight)

        def backward(self):
            return 0.5 * super().backward()

    snn.losses.losses.register()(HalfMSE)
    try:
        model = snn.Sequential([snn.Dense(2, 1)], seed=0)
        model.fit(np.ones((4, 2)), np.ones(4), loss=HalfMSE(), optimizer="adam", verbose=0)
        model.save(tmp_path / "half.npz")
        assert type(snn.load(tmp_path / "half.npz").loss) is HalfMSE
    finally:
        snn.losses.losses._entries.pop(normalize_name("HalfMSE"))
        snn.losses.losses._canonical.pop("HalfMSE")
    with pytest.raises(snn.DataFileError) as caught:
        snn.load(tmp_path / "half.npz")
    assert "Unknown loss 'HalfMSE'" in str(caught.value)
    assert "@snn.losses.losses.register() above `class HalfMSE(snn.losses.Loss)`" in str(
        caught.value
    )
    assert "damaged" not in str(caught.value)
