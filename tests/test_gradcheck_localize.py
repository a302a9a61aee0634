"""gradcheck says *where*: the first layer whose backward disagrees with its own forward,
in any position, with or without parameters, and the worst entry's values and ratio."""

import numpy as np
import pytest

import scratchnn as snn


class WrongSquare(snn.Layer):
    """a = x², with the factor 2 forgotten in backward (a parameterless bug)."""

    def forward(self, x, training=False):
        self._x = x
        return x * x

    def backward(self, grad_out):
        return grad_out * self._x


class MeanBiasDense(snn.Dense):
    """A Dense layer whose ∂L/∂b is a mean over the batch instead of a sum."""

    def backward(self, grad_out, input_grad=True):
        grad_in = super().backward(grad_out, input_grad)
        self.grads["b"][...] = grad_out.mean(axis=0)
        return grad_in


CORRECT = [lambda: snn.Dense(3, 3), snn.Tanh, lambda: snn.Dense(3, 2)]
BROKEN = {"without parameters": WrongSquare, "with parameters": lambda: MeanBiasDense(3, 3)}


def batch(n=5, width=3, seed=0):
    return np.random.default_rng(seed).standard_normal((n, width))


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("position", [0, 1, 2], ids=["first", "middle", "last"])
def test_gradcheck_names_the_broken_layer_in_every_position(position, kind):
    layers = [make() for make in CORRECT]
    layers[position] = BROKEN[kind]()
    model = snn.Sequential(layers, seed=0, dtype=np.float64)
    X = batch()
    y = np.random.default_rng(1).standard_normal((5, model.out_features))
    result = snn.gradcheck(model, "mse", X, y)
    assert not result.passed
    culprit = result.first_failure
    assert culprit is not None and culprit.index == position
    assert [check.passed for check in result.layers] == [i != position for i in range(3)]
    broken = "b" if kind == "with parameters" else "input"
    assert not culprit.agrees(broken)
    text = str(result)
    assert f"First failing layer: {position}, {layers[position]!r}" in text
    # The ratio of the worst entry names the bug: half the derivative, or a mean over 5.
    assert culprit.worst[broken].ratio == pytest.approx(0.5 if broken == "input" else 1 / 5)
    assert ("(≈ 1/2)" if broken == "input" else "(≈ 1/5)") in text


def test_the_worst_entry_shows_analytic_numeric_and_ratio():
    model = snn.Sequential(
        [MeanBiasDense(3, 4), snn.Tanh(), snn.Dense(4, 1)], seed=0, dtype=np.float64
    )
    result = snn.gradcheck(model, "mse", batch(), np.zeros(5))
    entry = result.worst["meanbiasdense_0.b"]
    assert entry.analytic == pytest.approx(entry.numeric / 5, rel=1e-6)
    assert result.errors["meanbiasdense_0.b"] == pytest.approx(0.8, rel=1e-6)
    line = next(line for line in str(result).splitlines() if "meanbiasdense_0.b[" in line)
    assert f"analytic {entry.analytic:.6g}, numeric {entry.numeric:.6g}" in line
    assert "ratio 0.2 (≈ 1/5)" in line


@pytest.mark.parametrize("layer", [snn.Tanh(), snn.Softmax(), snn.Sigmoid(), snn.Dense(3, 2)])
def test_a_lone_layer_is_checked_with_its_size_from_x(layer):
    X = batch()
    out = layer.forward(X) if not isinstance(layer, snn.Dense) else np.zeros((5, 2))
    result = snn.gradcheck(layer, "mse", X, np.zeros_like(out))
    assert result.passed, str(result)
    assert len(result.layers) == 1 and result.layers[0].passed


def test_a_lone_broken_layer_is_named():
    result = snn.gradcheck(WrongSquare(), "mse", batch(), np.zeros((5, 3)))
    assert not result.passed
    assert result.first_failure.index == 0
    assert "First failing layer: 0, WrongSquare()" in str(result)


def test_a_list_of_layers_without_a_declared_size():
    result = snn.gradcheck(
        [snn.Tanh(), WrongSquare(), snn.Sigmoid()], "mse", batch(), np.zeros((5, 3))
    )
    assert result.first_failure.index == 1


def test_a_broken_loss_is_blamed_when_every_layer_agrees():
    class HalfGradientMSE(snn.losses.MSE):
        def backward(self):
            return super().backward() / 2

    model = snn.Sequential([snn.Dense(3, 4), snn.Tanh(), snn.Dense(4, 1)], seed=0, dtype=np.float64)
    result = snn.gradcheck(model, HalfGradientMSE(), batch(), np.zeros(5))
    assert not result.passed and result.first_failure is None
    assert "the loss's backward" in str(result)
    assert result.worst["dense_2.W"].ratio == pytest.approx(0.5)


def test_the_original_layer_is_not_changed():
    layer = snn.Dense(3, 2)
    layer.build(np.random.default_rng(0), np.float32)
    before = layer.params["W"].copy()
    snn.gradcheck(layer, "mse", batch(), np.zeros((5, 2)))
    assert layer.params["W"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["W"], before)


@pytest.mark.parametrize(
    ("model", "X", "message"),
    [
        ("a model", batch(), "gradcheck checks a Sequential model, a Layer, or a list"),
        (snn.Dense(4, 2), batch(), r"X has shape \(5, 3\), but Dense.* takes \(n_samples, 4\)"),
    ],
)
def test_refusals(model, X, message):
    with pytest.raises((TypeError, ValueError), match=message):
        snn.gradcheck(model, "mse", X, np.zeros((5, 2)))


def test_kinks_at_exact_zeros_do_not_accuse_a_correct_layer():
    # Dropout zeroes entries, which then sit on ReLU's kink: the layer check moves them off it.
    model = snn.Sequential(
        [snn.Dense(3, 3), snn.Dropout(0.5), snn.ReLU(), snn.ReLU(), snn.LeakyReLU(0.2)],
        seed=0,
        dtype=np.float64,
    )
    result = snn.gradcheck(model, "mse", batch(6), np.zeros((6, 3)))
    assert result.passed and all(check.passed for check in result.layers), str(result)
    assert "Layer by layer" not in str(result)


def test_a_layer_wrong_only_where_the_model_cannot_see_it_is_noted():
    # The last layer's zero weights hide the broken layer from every end-to-end gradient.
    model = snn.Sequential([snn.Dense(3, 3), WrongSquare(), snn.Dense(3, 1)], seed=0,
                           dtype=np.float64)  # fmt: skip
    model.layers[2].params["W"] = np.zeros((3, 1))
    result = snn.gradcheck(model, "mse", batch(), np.zeros(5))
    assert result.passed
    assert result.first_failure.index == 1
    assert "Note: layer 1, WrongSquare(), disagrees on its own" in str(result)
