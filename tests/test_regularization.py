"""L1/L2 weight penalties on Dense layers, gradient clipping and decoupled weight decay, with
torch (float64) as the oracle wherever it has the same feature.

torch has no per-layer penalty: the torch twin adds ``l1·Σ|W| + l2·ΣW²`` of every regularized
layer to its loss explicitly, so autograd derives the penalty's gradient independently of
scratchnn's ``l1·sign(W) + 2·l2·W``.

Conventions: scratchnn's ``Dense`` weight ``W`` is ``(in, out)``; torch's ``Linear.weight`` is
``(out, in)``, so ``weight == W.T``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as snn
from oracles import TorchTwin, to_numpy, to_torch
from scratchnn import optim

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)
F = torch.nn.functional

TOL = {"rtol": 1e-10, "atol": 1e-12}


pytestmark = pytest.mark.usefixtures("single_threaded_torch")


def dense_layers(model: snn.Sequential) -> list[snn.Dense]:
    return [layer for layer in model.layers if isinstance(layer, snn.Dense)]


class PenalizedTwin(TorchTwin):
    """The torch twin (tests/oracles.py) of a Linear + tanh MLP with the scratchnn model's
    current weights, whose loss adds the same L1/L2 penalties explicitly."""

    def __init__(self, model: snn.Sequential) -> None:
        self.dense = dense_layers(model)
        modules: list[torch.nn.Module] = []
        for i, layer in enumerate(self.dense):
            modules.append(
                torch.nn.Linear(
                    layer.in_features, layer.out_features, bias=layer.bias, dtype=torch.float64
                )
            )
            if i < len(self.dense) - 1:
                modules.append(torch.nn.Tanh())
        super().__init__(model, torch.nn.Sequential(*modules))

    def penalty(self) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64)
        for layer, linear in zip(self.dense, self.linears, strict=True):
            if layer.l1:
                total = total + layer.l1 * linear.weight.abs().sum()
            if layer.l2:
                total = total + layer.l2 * (linear.weight**2).sum()
        return total

    def loss(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.module(X), y) + self.penalty()


def regularized_model(
    seed: int = 0, l1=(0.01, 0.0, 0.003), l2=(0.0, 0.02, 0.005), dtype=np.float64
):
    """A float64 tanh MLP [6, 10, 8, 4] whose three Dense layers have the given penalties;
    random biases, so that penalizing them by mistake would show."""
    sizes = [6, 10, 8, 4]
    layers: list[snn.Layer] = []
    for i in range(3):
        activation = "tanh" if i < 2 else None
        layers.append(snn.Dense(sizes[i], sizes[i + 1], activation=activation, l1=l1[i], l2=l2[i]))
    model = snn.Sequential(layers, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    for layer in dense_layers(model):
        if layer.bias:
            layer.params["b"] = rng.normal(scale=2.0, size=layer.out_features)
    return model


def classification_data(seed: int = 0, n: int = 24):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)), rng.integers(0, 4, size=n)


def expected_penalty(model: snn.Sequential) -> float:
    total = 0.0
    for layer in dense_layers(model):
        W = layer.params["W"].astype(np.float64)
        total += layer.l1 * np.abs(W).sum() + layer.l2 * np.square(W).sum()
    return total


# --------------------------------------------------------------------------------------------
# 1. The penalty: value, gradient, and its place in fit / evaluate / gradcheck
# --------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    l1=st.lists(st.sampled_from([0.0, 1e-4, 0.01, 0.5]), min_size=3, max_size=3),
    l2=st.lists(st.sampled_from([0.0, 1e-4, 0.02, 0.5]), min_size=3, max_size=3),
    seed=st.integers(0, 1000),
)
def test_penalty_is_l1_abs_plus_l2_squares_over_weights(l1, l2, seed):
    model = regularized_model(seed, l1, l2)
    np.testing.assert_allclose(model.penalty(), expected_penalty(model), rtol=1e-12, atol=0)
    if not any(l1) and not any(l2):
        assert model.penalty() == 0


def test_penalty_excludes_biases_and_unregularized_layers():
    model = regularized_model(l1=(0.0, 0.0, 0.0), l2=(0.0, 0.0, 0.0))
    assert model.penalty() == 0
    model = regularized_model(l1=(0.1, 0.0, 0.0), l2=(0.0, 0.0, 0.0))
    before = model.penalty()
    for layer in dense_layers(model):
        layer.params["b"] = np.full(layer.out_features, 100.0)  # biases: no effect
    dense_layers(model)[1].params["W"] = np.full((10, 8), 100.0)  # unregularized: no effect
    assert model.penalty() == before
    W = dense_layers(model)[0].params["W"]
    assert before == pytest.approx(0.1 * np.abs(W).sum(), rel=1e-12)


def test_penalty_in_float32():
    model = regularized_model(dtype=np.float32)
    assert model.parameters().flat.value.dtype == np.float32
    np.testing.assert_allclose(model.penalty(), expected_penalty(model), rtol=1e-6)


def test_penalty_gradient_matches_torch():
    model = regularized_model()
    X, y = classification_data()
    # An exact zero weight: the L1 subgradient there is 0 (torch: d|w|/dw = sign(0) = 0).
    dense_layers(model)[0].params["W"][0, 0] = 0.0
    dense_layers(model)[2].params["W"][1, 2] = 0.0
    twin = PenalizedTwin(model)
    loss = snn.losses.CrossEntropy()

    value = loss(model.forward(X, training=True), y) + model.penalty()
    model.backward(loss.backward())

    value_t = twin.loss(to_torch(X), to_torch(y))
    value_t.backward()
    np.testing.assert_allclose(value, value_t.item(), **TOL)
    twin.assert_matches(model, "before training", grads=True)

    # And the penalty's part of the gradient is l1·sign(W) + 2·l2·W exactly.
    unpenalized = regularized_model(l1=(0, 0, 0), l2=(0, 0, 0))
    unpenalized.set_weights(model.get_weights())
    unpenalized.forward(X, training=True)
    unpenalized.backward(loss.backward())
    for plain, layer in zip(dense_layers(unpenalized), dense_layers(model), strict=True):
        W = layer.params["W"]
        np.testing.assert_allclose(
            layer.grads["W"] - plain.grads["W"],
            layer.l1 * np.sign(W) + 2 * layer.l2 * W,
            rtol=1e-12,
            atol=1e-15,
        )
        np.testing.assert_array_equal(layer.grads["b"], plain.grads["b"])


def test_training_with_penalties_matches_torch():
    model = regularized_model(l1=(0.01, 0.02, 0.0), l2=(0.05, 0.0, 0.1))
    X, y = classification_data()
    twin = PenalizedTwin(model)
    optimizer = optim.SGD(lr=0.2, momentum=0.9)
    optimizer_t = torch.optim.SGD(twin.module.parameters(), lr=0.2, momentum=0.9)
    loss = snn.losses.CrossEntropy()
    for step in range(8):
        loss(model.forward(X, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.parameters())
        optimizer_t.zero_grad()
        twin.loss(to_torch(X), to_torch(y)).backward()
        optimizer_t.step()
        twin.assert_matches(model, f"after step {step + 1}")


def test_fit_reports_the_loss_with_the_penalty():
    model = regularized_model()
    X, y = classification_data()
    loss = snn.losses.CrossEntropy()
    expected = loss(model.forward(X), y) + model.penalty()
    assert model.penalty() > 0.01 * expected
    # Full batch: the logged loss is the one computed before the only step.
    history = model.fit(X, y, loss=loss, optimizer=optim.SGD(lr=0.1), batch_size=None, verbose=0)
    np.testing.assert_allclose(history["loss"][0], expected, rtol=1e-12)


def test_fit_reports_the_penalty_with_mini_batches():
    # lr = 0 keeps the weights fixed: each batch's logged loss is its mean loss + penalty, and
    # their sample-weighted mean is the full-data loss + penalty.
    model = regularized_model()
    X, y = classification_data(n=25)
    loss = snn.losses.CrossEntropy()
    expected = loss(model.forward(X), y) + model.penalty()
    history = model.fit(
        X,
        y,
        loss=loss,
        optimizer=optim.SGD(lr=0.0),
        batch_size=7,
        epochs=2,
        validation_data=(X, y),
        verbose=0,
    )
    np.testing.assert_allclose(history["loss"], [expected, expected], rtol=1e-12)
    np.testing.assert_allclose(history["val_loss"], [expected, expected], rtol=1e-12)


def test_evaluate_includes_the_penalty():
    model = regularized_model()
    X, y = classification_data()
    data_loss = snn.losses.CrossEntropy()(model.predict(X), y)
    logs = model.evaluate(X, y, loss="cross_entropy")
    np.testing.assert_allclose(logs["loss"], data_loss + expected_penalty(model), rtol=1e-12)
    assert logs["loss"] > data_loss


@pytest.mark.parametrize(
    ("l1", "l2"),
    [((0.05, 0.0, 0.01), (0.0, 0.1, 0.02)), ((0.3, 0.3, 0.3), (0.0, 0.0, 0.0))],
    ids=["mixed", "l1_only"],
)
def test_gradcheck_passes_with_penalties(l1, l2):
    model = regularized_model(l1=l1, l2=l2)
    X, y = classification_data(n=5)
    result = snn.gradcheck(model, "ce", X, y)
    assert result.passed, str(result)


def test_penalties_survive_save_and_load(tmp_path):
    model = regularized_model()
    model.save(tmp_path / "model.npz")
    loaded = snn.load(tmp_path / "model.npz")
    assert [(d.l1, d.l2) for d in dense_layers(loaded)] == [
        (d.l1, d.l2) for d in dense_layers(model)
    ]
    assert loaded.penalty() == model.penalty()


@pytest.mark.parametrize("kwargs", [{"l1": -0.1}, {"l2": -1e-3}, {"l1": float("inf")}])
def test_negative_penalty_raises(kwargs):
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        snn.Dense(3, 2, **kwargs)


# --------------------------------------------------------------------------------------------
# 2. Gradient clipping
# --------------------------------------------------------------------------------------------

# (scratchnn class, torch class, keyword arguments both accept under the same names)
OPTIMIZERS = [
    pytest.param(optim.SGD, torch.optim.SGD, {"lr": 0.5}, id="sgd"),
    pytest.param(
        optim.SGD,
        torch.optim.SGD,
        {"lr": 0.3, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        id="sgd_nesterov_weight_decay",
    ),
    pytest.param(optim.RMSProp, torch.optim.RMSprop, {"lr": 0.01, "centered": True}, id="rmsprop"),
    pytest.param(
        optim.RMSProp,
        torch.optim.RMSprop,
        {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.1},
        id="rmsprop_momentum",
    ),
    pytest.param(optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.1}, id="adagrad"),
    pytest.param(optim.Adam, torch.optim.Adam, {"lr": 0.05}, id="adam"),
    pytest.param(optim.Adam, torch.optim.Adam, {"lr": 0.05, "amsgrad": True}, id="adam_amsgrad"),
    pytest.param(optim.AdamW, torch.optim.AdamW, {"lr": 0.05, "weight_decay": 0.1}, id="adamw"),
]

# Thresholds that bind at every step (asserted below): the gradient norm starts near 2.3,
# with entries up to 0.7, about half of them above 0.02.
CLIP_NORM, CLIP_VALUE = 0.1, 0.02


@pytest.mark.parametrize("clip", ["norm", "value", "both"])
@pytest.mark.parametrize(("snn_class", "torch_class", "kwargs"), OPTIMIZERS)
def test_clipping_matches_torch(snn_class, torch_class, kwargs, clip):
    model = regularized_model(l1=(0.0, 0.01, 0.0), l2=(0.02, 0.0, 0.0))
    X, y = classification_data()
    twin = PenalizedTwin(model)
    options = {}
    if clip in ("norm", "both"):
        options["clip_norm"] = CLIP_NORM
    if clip in ("value", "both"):
        options["clip_value"] = CLIP_VALUE
    optimizer = snn_class(**kwargs, **options)
    optimizer_t = torch_class(twin.module.parameters(), **kwargs)
    loss = snn.losses.CrossEntropy()
    X_t, y_t = to_torch(X), to_torch(y)
    start = model.parameters().flat.value.copy()

    for step in range(6):
        loss(model.forward(X, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.parameters())

        optimizer_t.zero_grad()
        twin.loss(X_t, y_t).backward()
        grads = [p.grad for p in twin.module.parameters()]
        if clip in ("value", "both"):  # scratchnn clips values first, then the norm
            largest = max(g.abs().max().item() for g in grads)
            assert largest > CLIP_VALUE, f"clip_value inactive at step {step + 1}"
            torch.nn.utils.clip_grad_value_(twin.module.parameters(), CLIP_VALUE)
        if clip in ("norm", "both"):
            norm = torch.nn.utils.clip_grad_norm_(twin.module.parameters(), CLIP_NORM)
            assert norm.item() > CLIP_NORM, f"clip_norm inactive at step {step + 1}"
        optimizer_t.step()
        twin.assert_matches(model, f"after step {step + 1}:")

    assert np.abs(model.parameters().flat.value - start).max() > 1e-3


def random_parameters(rng: np.random.Generator, scale: float) -> list[snn.Parameter]:
    shapes = [(3, 4), (4,), (5, 2)]
    return [
        snn.Parameter(f"p{i}", rng.normal(size=s), scale * rng.normal(size=s))
        for i, s in enumerate(shapes)
    ]


@pytest.mark.parametrize(
    ("scale", "max_norm"),
    [(1.0, 0.5), (1.0, 100.0), (1e-3, 0.5), (10.0, 1e-3)],
    ids=["clipped", "below_max", "tiny_gradient", "large_gradient"],
)
def test_clip_grad_norm_returns_the_norm_before_clipping_as_torch(scale, max_norm):
    parameters = random_parameters(np.random.default_rng(0), scale)
    tensors = [to_torch(p.value, requires_grad=True) for p in parameters]
    for tensor, p in zip(tensors, parameters, strict=True):
        tensor.grad = to_torch(p.grad)
    unclipped = np.sqrt(sum(np.sum(p.grad**2) for p in parameters))

    norm = optim.clip_grad_norm(parameters, max_norm)
    norm_t = torch.nn.utils.clip_grad_norm_(tensors, max_norm)

    assert isinstance(norm, float)
    np.testing.assert_allclose(norm, norm_t.item(), rtol=1e-14)
    np.testing.assert_allclose(norm, unclipped, rtol=1e-14)
    for p, tensor in zip(parameters, tensors, strict=True):
        np.testing.assert_allclose(p.grad, to_numpy(tensor.grad), rtol=1e-14, atol=0)
    clipped = np.sqrt(sum(np.sum(p.grad**2) for p in parameters))
    assert clipped <= max_norm * (1 + 1e-12)


def test_clip_grad_norm_of_a_model_covers_all_parameters():
    model = regularized_model()
    X, y = classification_data()
    loss = snn.losses.CrossEntropy()
    loss(model.forward(X, training=True), y)
    model.backward(loss.backward())
    grads = [p.grad.copy() for p in model.parameters()]
    total = np.sqrt(sum(np.sum(g**2) for g in grads))

    norm = optim.clip_grad_norm(model.parameters(), total / 4)
    np.testing.assert_allclose(norm, total, rtol=1e-14)
    for p, g in zip(model.parameters(), grads, strict=True):  # every layer scaled alike
        np.testing.assert_allclose(p.grad, g * (total / 4) / (total + 1e-6), rtol=1e-14)


def test_clip_grad_value_matches_torch():
    parameters = random_parameters(np.random.default_rng(1), 1.0)
    tensors = [to_torch(p.value, requires_grad=True) for p in parameters]
    for tensor, p in zip(tensors, parameters, strict=True):
        tensor.grad = to_torch(p.grad)
    assert optim.clip_grad_value(parameters, 0.4) is None
    torch.nn.utils.clip_grad_value_(tensors, 0.4)
    for p, tensor in zip(parameters, tensors, strict=True):
        np.testing.assert_array_equal(p.grad, to_numpy(tensor.grad))
        assert np.abs(p.grad).max() == 0.4


# --------------------------------------------------------------------------------------------
# 3. Decoupled weight decay
# --------------------------------------------------------------------------------------------


def train(model: snn.Sequential, optimizer: optim.Optimizer, steps: int = 10) -> None:
    X, y = classification_data()
    loss = snn.losses.CrossEntropy()
    for _ in range(steps):
        loss(model.forward(X, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.parameters())


NO_PENALTY = {"l1": (0, 0, 0), "l2": (0, 0, 0)}


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_with_decoupled_decay_is_adamw(amsgrad):
    adam = regularized_model(**NO_PENALTY)
    adamw = regularized_model(**NO_PENALTY)
    coupled = regularized_model(**NO_PENALTY)
    train(adam, optim.Adam(0.01, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=amsgrad))
    train(adamw, optim.AdamW(0.01, weight_decay=0.1, amsgrad=amsgrad))
    train(coupled, optim.Adam(0.01, weight_decay=0.1, amsgrad=amsgrad))
    np.testing.assert_array_equal(adam.get_weights(), adamw.get_weights())
    assert not np.allclose(coupled.get_weights(), adamw.get_weights(), rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "make_torch",
    [
        pytest.param(
            lambda params: torch.optim.AdamW(params, lr=0.01, weight_decay=0.1), id="AdamW"
        ),
        pytest.param(
            lambda params: torch.optim.Adam(
                params, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True
            ),
            id="Adam_decoupled",
        ),
    ],
)
def test_adamw_matches_torch(make_torch):
    model = regularized_model(**NO_PENALTY)
    twin = PenalizedTwin(model)
    optimizer = optim.Adam(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)
    optimizer_t = make_torch(twin.module.parameters())
    X, y = classification_data()
    loss = snn.losses.CrossEntropy()
    for step in range(10):
        loss(model.forward(X, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.parameters())
        optimizer_t.zero_grad()
        twin.loss(to_torch(X), to_torch(y)).backward()
        optimizer_t.step()
        for i, (layer, linear) in enumerate(zip(dense_layers(model), twin.linears, strict=True)):
            np.testing.assert_allclose(
                layer.params["W"],
                to_numpy(linear.weight.T),
                rtol=1e-12,
                atol=1e-15,
                err_msg=f"W{i} after step {step + 1}",
            )
            np.testing.assert_allclose(
                layer.params["b"],
                to_numpy(linear.bias),
                rtol=1e-12,
                atol=1e-15,
                err_msg=f"b{i} after step {step + 1}",
            )


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_decoupled_weight_decay_formula(momentum):
    rng = np.random.default_rng(0)
    lr, decay = 0.1, 0.3
    value = rng.normal(size=(4, 3))
    parameter = snn.Parameter("w", value.copy(), np.zeros_like(value))
    optimizer = optim.SGD(lr=lr, momentum=momentum, weight_decay=decay, decoupled_weight_decay=True)
    expected = value.copy()
    buffer = None
    for _ in range(5):
        g = rng.normal(size=value.shape)
        parameter.grad[...] = g
        optimizer.step([parameter])
        # W ← W(1 - ηλ) - η·d, where d is g (or the momentum buffer of the raw gradients).
        buffer = g if buffer is None else momentum * buffer + g
        direction = buffer if momentum else g
        expected = expected * (1 - lr * decay) - lr * direction
        np.testing.assert_allclose(parameter.value, expected, rtol=1e-15, atol=1e-16)
        np.testing.assert_array_equal(parameter.grad, g)  # the gradient itself is untouched
