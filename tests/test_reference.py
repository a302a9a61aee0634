"""The fast layer and optimizers compute what the textbook versions in
``scratchnn.reference`` compute, to float64 rounding."""

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import reference


def test_dense_matches_the_textbook_dense(rng):
    fast = snn.Dense(5, 3)
    fast.build(rng, np.float64)
    fast.params["b"] = rng.normal(size=3)
    slow = reference.Dense(fast.params["W"], fast.params["b"])
    x, delta = rng.normal(size=(7, 5)), rng.normal(size=(7, 3))
    np.testing.assert_allclose(fast.forward(x), slow.forward(x), rtol=1e-14)
    np.testing.assert_allclose(fast.backward(delta), slow.backward(delta), rtol=1e-14)
    np.testing.assert_allclose(fast.grads["W"], slow.dW, rtol=1e-14)
    np.testing.assert_allclose(fast.grads["b"], slow.db, rtol=1e-14)


def test_sigmoid_layer_uses_the_tutorials_derivative(rng):
    z, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    layer = snn.Sigmoid()
    a = layer.forward(z)
    np.testing.assert_allclose(a, reference.sigmoid(z), rtol=1e-15)
    np.testing.assert_allclose(layer.backward(g), g * reference.sigmoid_derivative(a), rtol=1e-15)


OPTIMIZERS = [
    (lambda: snn.optim.SGD(lr=0.1), lambda: reference.SGD(lr=0.1)),
    (lambda: snn.optim.SGD(lr=0.05, momentum=0.9), lambda: reference.Momentum(0.05, 0.9)),
    (lambda: snn.optim.Adam(lr=0.01), lambda: reference.Adam(lr=0.01)),
    (
        lambda: snn.optim.Adam(lr=0.003, betas=(0.8, 0.99), eps=1e-6),
        lambda: reference.Adam(lr=0.003, beta1=0.8, beta2=0.99, eps=1e-6),
    ),
]


@pytest.mark.parametrize(("make_fast", "make_slow"), OPTIMIZERS)
def test_optimizer_matches_the_textbook_rule_for_50_steps(make_fast, make_slow, rng):
    shapes = [(3, 4), (4,), (4, 1)]
    values = [rng.normal(size=s) for s in shapes]
    fast_params = [snn.Parameter(f"p{i}", v.copy(), np.zeros_like(v)) for i, v in enumerate(values)]
    slow_params = [v.copy() for v in values]
    fast, slow = make_fast(), make_slow()
    for _ in range(50):
        grads = [rng.normal(size=s) for s in shapes]
        for p, g in zip(fast_params, grads, strict=True):
            p.grad[...] = g
        fast.step(fast_params)
        slow.step(slow_params, grads)
    for p, expected in zip(fast_params, slow_params, strict=True):
        np.testing.assert_allclose(p.value, expected, rtol=1e-12, atol=1e-14)


def test_a_model_trained_with_fit_equals_the_textbook_loop():
    """The whole pipeline (flat store, fit's loop, MSE's gradient, SGD) against the
    tutorial's loop on the same starting weights, with the tutorial's lr mapped."""
    X, y = snn.datasets.xor(np.float64)
    model = snn.Sequential(
        [
            snn.Dense(2, 4, init="standard_normal"),
            snn.Sigmoid(),
            snn.Dense(4, 1, init="standard_normal"),
            snn.Sigmoid(),
        ],
        seed=0,
        dtype=np.float64,
    )
    W1, b1 = model.layers[0].params["W"].copy(), model.layers[0].params["b"][None].copy()
    W2, b2 = model.layers[2].params["W"].copy(), model.layers[2].params["b"][None].copy()
    expected = reference.tutorial_xor(X, y, W1, b1, W2, b2, lr=0.1, epochs=500)
    history = model.fit(
        X,
        y,
        loss=snn.losses.MSE(reduction="sum"),
        optimizer=snn.optim.SGD(lr=0.05),  # the tutorial's lr / 2 on the summed error
        epochs=500,
        batch_size=None,
        shuffle=False,
        metrics=["mse"],
        verbose=0,
    )
    np.testing.assert_allclose(history["mse"], expected, rtol=1e-12)
    np.testing.assert_allclose(model.layers[0].params["W"], W1, rtol=1e-12)
    np.testing.assert_allclose(model.layers[2].params["b"], b2.ravel(), rtol=1e-12)
