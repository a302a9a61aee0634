"""PyTorch (float64) as an independent oracle for scratchnn's forward and backward passes,
losses and optimizers.

scratchnn's docstrings promise that formulas and defaults follow PyTorch's, so in float64 the
two libraries should agree to rounding error. Every comparison here is against torch's own
implementation (``torch.nn.functional``, ``torch.nn`` modules, autograd, ``torch.optim``), never
against a formula re-derived in the test.

Conventions: scratchnn's ``Dense`` weight ``W`` has shape ``(in, out)`` and computes ``x @ W``;
torch's ``Linear.weight`` has shape ``(out, in)`` and computes ``x @ weight.T``. So
``weight == W.T``, and the gradients transpose the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

import scratchnn as snn
from oracles import TorchTwin, to_numpy, to_torch
from scratchnn import optim

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)
F = torch.nn.functional

# Activation and loss values and gradients: float64 rounding error only. The atol covers
# entries that are (nearly) zero, where any relative tolerance is meaningless, e.g. GELU(-30)
# which is 0 in torch (1 + erf underflows) and -1.5e-196 in scratchnn (erfc tail).
RTOL, ATOL = 1e-10, 1e-12
# Whole models and multi-step training: the brief's 1e-6 relative. They agree to 1e-13 in
# practice; the looser bound keeps the tests robust to summation order in matmuls.
MODEL_RTOL, MODEL_ATOL = 1e-6, 1e-12


pytestmark = pytest.mark.usefixtures("single_threaded_torch")


def activation_input(
    rng: np.random.Generator, low: float = -30.0, high: float = 30.0
) -> np.ndarray:
    """An ``(8, 16)`` float64 batch spanning ``[low, high]``: an even grid, random values,
    and the points where activations have kinks or switch branches, shuffled so that every
    row (a softmax row) spans a wide range."""
    special = [0.0, -0.0, 1e-8, -1e-8, 1e-300, -1e-300, 1.0, -1.0]
    grid = np.linspace(low, high, 61)
    noise = rng.normal(scale=3.0, size=128 - len(grid) - len(special))
    x = np.concatenate([grid, noise, special])
    rng.shuffle(x)
    return x.reshape(8, 16)


# --------------------------------------------------------------------------------------------
# 1. Activations
# --------------------------------------------------------------------------------------------

ACTIVATIONS = [
    pytest.param(snn.Identity, lambda x: x, id="identity"),
    pytest.param(snn.Sigmoid, torch.sigmoid, id="sigmoid"),
    pytest.param(snn.Tanh, torch.tanh, id="tanh"),
    pytest.param(snn.ReLU, F.relu, id="relu"),
    pytest.param(snn.LeakyReLU, F.leaky_relu, id="leaky_relu"),
    pytest.param(lambda: snn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2), id="leaky_relu_0.2"),
    pytest.param(lambda: snn.LeakyReLU(1.5), lambda x: F.leaky_relu(x, 1.5), id="leaky_relu_1.5"),
    pytest.param(snn.ELU, F.elu, id="elu"),
    pytest.param(lambda: snn.ELU(0.5), lambda x: F.elu(x, 0.5), id="elu_0.5"),
    pytest.param(lambda: snn.ELU(2.5), lambda x: F.elu(x, 2.5), id="elu_2.5"),
    pytest.param(snn.GELU, F.gelu, id="gelu"),
    pytest.param(
        lambda: snn.GELU(approximate="tanh"),
        lambda x: F.gelu(x, approximate="tanh"),
        id="gelu_tanh",
    ),
    pytest.param(snn.SiLU, F.silu, id="silu"),
    pytest.param(snn.Softmax, lambda x: F.softmax(x, dim=-1), id="softmax"),
]


def check_activation(make_layer, torch_fn, x: np.ndarray, rng: np.random.Generator) -> None:
    layer = make_layer()
    grad_out = rng.normal(size=x.shape)
    x_before = x.copy()

    out = layer.forward(x, training=True)
    grad_in = layer.backward(grad_out)

    x_t = to_torch(x, requires_grad=True)
    out_t = torch_fn(x_t)
    out_t.backward(to_torch(grad_out))

    np.testing.assert_array_equal(x, x_before, err_msg="forward modified its input")
    assert out.shape == x.shape and out.dtype == np.float64
    assert grad_in.shape == x.shape and grad_in.dtype == np.float64
    np.testing.assert_allclose(out, to_numpy(out_t), rtol=RTOL, atol=ATOL, err_msg="forward")
    np.testing.assert_allclose(
        grad_in, to_numpy(x_t.grad), rtol=RTOL, atol=ATOL, err_msg="backward"
    )


@pytest.mark.parametrize(("make_layer", "torch_fn"), ACTIVATIONS)
def test_activation_matches_torch(make_layer, torch_fn):
    rng = np.random.default_rng(0)
    check_activation(make_layer, torch_fn, activation_input(rng), rng)


@pytest.mark.parametrize(("make_layer", "torch_fn"), ACTIVATIONS)
def test_activation_matches_torch_at_extreme_inputs(make_layer, torch_fn):
    # The activations module promises stability at ±1000; warnings are errors, so an
    # overflow in exp would fail here too.
    rng = np.random.default_rng(1)
    check_activation(make_layer, torch_fn, activation_input(rng, -1000.0, 1000.0), rng)


# --------------------------------------------------------------------------------------------
# 2. Losses
# --------------------------------------------------------------------------------------------


def softmax_rows(z: np.ndarray) -> np.ndarray:
    return to_numpy(torch.softmax(to_torch(z), dim=-1))


def regression_data(rng):
    prediction = rng.normal(scale=2.0, size=(8, 3))
    target = rng.normal(size=(8, 3))
    target[0] = prediction[0]  # d == 0: MAE's subgradient sign(0) = 0, as torch's
    target[1, 0] = prediction[1, 0] + 0.25  # |d| == delta exactly for Huber(0.25)
    target[1, 1] = prediction[1, 1] - 1.0  # |d| == delta exactly for Huber(1.0)
    return prediction, target


def probability_data(rng):
    prediction = rng.uniform(0.02, 0.98, size=(8, 3))
    target = rng.uniform(0.0, 1.0, size=(8, 3))  # soft targets
    target[:4] = np.round(target[:4])  # and hard 0/1 targets
    return prediction, target


def saturated_probability_data(rng):
    # Probabilities at or near 0 and 1: torch clamps each log at -100 and p(1-p) at 1e-12.
    prediction = np.array([[0.0, 1.0, 1e-300, 1 - 1e-16], [0.0, 1.0, 1e-13, 0.5]])
    target = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.3]])
    return prediction, target


def binary_logit_data(rng):
    prediction = np.linspace(-30.0, 30.0, 24).reshape(8, 3)
    target = rng.uniform(0.0, 1.0, size=(8, 3))
    target[:4] = np.round(target[:4])
    return prediction, target


def logits_with_labels(rng):
    logits = rng.normal(scale=3.0, size=(10, 5))
    logits[0] = [-30.0, 30.0, 0.0, 15.0, -15.0]  # a near-saturated row
    return logits, rng.integers(0, 5, size=10)


def logits_with_probabilities(rng):
    logits = rng.normal(scale=3.0, size=(10, 5))
    target = rng.dirichlet(np.ones(5), size=10)
    target[0] = np.eye(5)[2]  # a one-hot row
    target[1] *= 2.5  # unnormalized: torch's loss is still -Σ y log p, gradient p·Σy - y
    return logits, target


def probabilities_with_labels(rng):
    logits, labels = logits_with_labels(rng)
    logits[0] /= 3  # keep every probability above machine epsilon, where scratchnn clips
    return softmax_rows(logits), labels


def probabilities_with_probabilities(rng):
    logits, target = logits_with_probabilities(rng)
    return softmax_rows(logits), target


def log_rates_with_counts(rng):
    return rng.normal(size=(8, 3)), rng.poisson(2.0, size=(8, 3)).astype(float)


LOSSES = [
    pytest.param(snn.losses.MSE, regression_data, F.mse_loss, id="mse"),
    pytest.param(snn.losses.MAE, regression_data, F.l1_loss, id="mae"),
    pytest.param(snn.losses.Huber, regression_data, F.huber_loss, id="huber"),
    pytest.param(
        lambda: snn.losses.Huber(delta=0.25),
        regression_data,
        lambda p, t: F.huber_loss(p, t, delta=0.25),
        id="huber_0.25",
    ),
    pytest.param(
        lambda: snn.losses.Huber(delta=3.0),
        regression_data,
        lambda p, t: F.huber_loss(p, t, delta=3.0),
        id="huber_3",
    ),
    pytest.param(
        snn.losses.Poisson,
        log_rates_with_counts,
        lambda p, t: F.poisson_nll_loss(p, t, log_input=True, full=False),
        id="poisson",
    ),
    pytest.param(snn.losses.BinaryCrossEntropy, probability_data, F.binary_cross_entropy, id="bce"),
    pytest.param(
        lambda: snn.losses.BinaryCrossEntropy(from_logits=True),
        binary_logit_data,
        F.binary_cross_entropy_with_logits,
        id="bce_logits",
    ),
    pytest.param(snn.losses.CrossEntropy, logits_with_labels, F.cross_entropy, id="ce_labels"),
    pytest.param(
        snn.losses.CrossEntropy, logits_with_probabilities, F.cross_entropy, id="ce_probabilities"
    ),
    pytest.param(
        lambda: snn.losses.CrossEntropy(from_logits=False),
        probabilities_with_labels,
        lambda p, t: F.nll_loss(torch.log(p), t),
        id="ce_from_probs_labels",
    ),
    pytest.param(
        lambda: snn.losses.CrossEntropy(from_logits=False),
        probabilities_with_probabilities,
        lambda p, t: -(t * torch.log(p)).sum(dim=1).mean(),
        id="ce_from_probs_probabilities",
    ),
]


@pytest.mark.parametrize(("make_loss", "make_data", "torch_loss"), LOSSES)
def test_loss_matches_torch(make_loss, make_data, torch_loss):
    prediction, target = make_data(np.random.default_rng(2))
    loss = make_loss()

    value = loss(prediction, target)
    grad = loss.backward()

    prediction_t = to_torch(prediction, requires_grad=True)
    value_t = torch_loss(prediction_t, to_torch(target))
    value_t.backward()

    assert isinstance(value, float)
    assert grad.shape == prediction.shape and grad.dtype == np.float64
    np.testing.assert_allclose(value, value_t.item(), rtol=RTOL, atol=ATOL, err_msg="value")
    np.testing.assert_allclose(
        grad, to_numpy(prediction_t.grad), rtol=RTOL, atol=ATOL, err_msg="gradient"
    )


def test_bce_saturated_probabilities_match_torch():
    # Probabilities at or near 0 and 1, where both libraries clamp each log at -100 and the
    # gradient's denominator p(1-p) at "1e-12". torch's clamp constant is the float32 1e-12,
    # 9.999999960041972e-13, so its clamped gradients are larger by 4e-9 relative than
    # scratchnn's (which clamps at the float64 1e-12): hence rtol 1e-8 here, not 1e-10.
    prediction, target = saturated_probability_data(np.random.default_rng(2))
    loss = snn.losses.BinaryCrossEntropy()
    value = loss(prediction, target)
    grad = loss.backward()

    prediction_t = to_torch(prediction, requires_grad=True)
    value_t = F.binary_cross_entropy(prediction_t, to_torch(target))
    value_t.backward()

    np.testing.assert_allclose(value, value_t.item(), rtol=RTOL, atol=ATOL, err_msg="value")
    np.testing.assert_allclose(grad, to_numpy(prediction_t.grad), rtol=1e-8, err_msg="gradient")


# --------------------------------------------------------------------------------------------
# 3. Whole models: forward, loss, every parameter gradient, input gradient
# --------------------------------------------------------------------------------------------


nn = torch.nn


def linear(n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
    return nn.Linear(n_in, n_out, bias=bias, dtype=torch.float64)


def torch_mlp(sizes, *activations: Callable[[], nn.Module], output=None, bias=True):
    """``Linear`` layers of the given sizes with the given activation between each pair (one
    factory for all hidden layers, or one per hidden layer), and ``output`` at the end."""
    hidden = len(sizes) - 2
    if len(activations) == 1:
        activations *= hidden
    assert len(activations) == hidden
    modules: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        modules.append(linear(n_in, n_out, bias=bias))
        if i < hidden:
            modules.append(activations[i]())
    if output is not None:
        modules.append(output())
    return nn.Sequential(*modules)


def randomize_biases(model: snn.Sequential, rng: np.random.Generator) -> None:
    """Biases start at zero; random ones make the forward pass and the test depend on them."""
    for p in model.parameters():
        if p.name.endswith(".b"):
            p.value[...] = rng.normal(scale=0.5, size=p.value.shape)


def mlp(sizes, activation, seed, **kwargs):
    return lambda: snn.MLP(sizes, activation=activation, seed=seed, dtype=np.float64, **kwargs)


def sequential(*layers: Callable[[], snn.Layer], seed: int):
    return lambda: snn.Sequential([make() for make in layers], seed=seed, dtype=np.float64)


# (scratchnn loss, torch loss) pairs, by the kind of target the model is trained on.
MODEL_LOSSES = {
    "mse": (snn.losses.MSE, F.mse_loss),
    "ce": (snn.losses.CrossEntropy, F.cross_entropy),
    "bce_logits": (
        lambda: snn.losses.BinaryCrossEntropy(from_logits=True),
        F.binary_cross_entropy_with_logits,
    ),
    "ce_from_probs": (
        lambda: snn.losses.CrossEntropy(from_logits=False),
        lambda p, t: F.nll_loss(torch.log(p), t),
    ),
}

# (scratchnn model, the same architecture written in torch, loss kind)
MODELS = [
    pytest.param(mlp([4, 3], "relu", 0), lambda: torch_mlp([4, 3]), "mse", id="mlp_0_hidden"),
    pytest.param(
        mlp([4, 8, 3], "relu", 1),
        lambda: torch_mlp([4, 8, 3], nn.ReLU),
        "ce",
        id="mlp_1_hidden_relu",
    ),
    pytest.param(
        mlp([5, 16, 16, 2], "tanh", 2),
        lambda: torch_mlp([5, 16, 16, 2], nn.Tanh),
        "mse",
        id="mlp_2_hidden_tanh",
    ),
    pytest.param(
        mlp([6, 7, 9, 5, 4], "sigmoid", 3),
        lambda: torch_mlp([6, 7, 9, 5, 4], nn.Sigmoid),
        "ce",
        id="mlp_3_hidden_sigmoid",
    ),
    pytest.param(
        mlp([3, 12, 10, 8, 6, 5], ["gelu", "silu", "elu", "leaky"], 4),
        lambda: torch_mlp([3, 12, 10, 8, 6, 5], nn.GELU, nn.SiLU, nn.ELU, nn.LeakyReLU),
        "ce",
        id="mlp_4_hidden_mixed",
    ),
    pytest.param(
        mlp([6, 20, 20, 20, 20, 3], "swish", 5, output="sigmoid"),
        lambda: torch_mlp([6, 20, 20, 20, 20, 3], nn.SiLU, output=nn.Sigmoid),
        "mse",
        id="mlp_4_hidden_silu_sigmoid_output",
    ),
    pytest.param(
        mlp([5, 11, 1], "tanh", 6),
        lambda: torch_mlp([5, 11, 1], nn.Tanh),
        "bce_logits",
        id="mlp_binary_logits",
    ),
    pytest.param(
        sequential(
            lambda: snn.Dense(4, 9, activation="relu"),
            lambda: snn.Dense(9, 7, activation="tanh", bias=False),
            lambda: snn.Dense(7, 3),
            seed=7,
        ),
        lambda: nn.Sequential(
            linear(4, 9), nn.ReLU(), linear(9, 7, bias=False), nn.Tanh(), linear(7, 3)
        ),
        "ce",
        id="dense_activation_shorthand_and_no_bias",
    ),
    pytest.param(
        sequential(
            lambda: snn.Dense(5, 8, bias=False),
            lambda: snn.LeakyReLU(0.3),
            lambda: snn.Dense(8, 8),
            lambda: snn.ELU(1.7),
            lambda: snn.Dense(8, 6, activation=snn.GELU(approximate="tanh")),
            lambda: snn.Dense(6, 4),
            lambda: snn.Softmax(),
            seed=8,
        ),
        lambda: nn.Sequential(
            linear(5, 8, bias=False),
            nn.LeakyReLU(0.3),
            linear(8, 8),
            nn.ELU(1.7),
            linear(8, 6),
            nn.GELU(approximate="tanh"),
            linear(6, 4),
            nn.Softmax(dim=-1),
        ),
        "ce_from_probs",
        id="sequential_softmax_output",
    ),
    pytest.param(
        sequential(
            lambda: snn.Dense(3, 6, bias=False),
            lambda: snn.Identity(),
            lambda: snn.Dense(6, 5, activation="sigmoid", bias=False),
            lambda: snn.Dense(5, 2, bias=False),
            seed=9,
        ),
        lambda: torch_mlp([3, 6, 5, 2], nn.Identity, nn.Sigmoid, bias=False),
        "mse",
        id="sequential_no_bias_anywhere",
    ),
]


def make_targets(kind: str, out_features: int, batch: int, rng: np.random.Generator):
    if kind in ("ce", "ce_from_probs"):
        return rng.integers(0, out_features, size=batch)
    if kind == "bce_logits":
        return rng.integers(0, 2, size=(batch, out_features)).astype(np.float64)
    return rng.normal(size=(batch, out_features))


@pytest.mark.parametrize(("make_model", "make_torch_model", "loss_kind"), MODELS)
def test_model_forward_and_backward_match_torch(make_model, make_torch_model, loss_kind):
    rng = np.random.default_rng(3)
    model = make_model()
    randomize_biases(model, rng)
    twin = TorchTwin(model, make_torch_model())
    X = rng.normal(size=(12, model.in_features))
    y = make_targets(loss_kind, model.out_features, len(X), rng)
    make_loss, torch_loss = MODEL_LOSSES[loss_kind]
    loss = make_loss()

    out = model.forward(X, training=True)
    value = loss(out, y)
    grad_X = model.backward(loss.backward())

    X_t = to_torch(X, requires_grad=True)
    out_t = twin.module(X_t)
    value_t = torch_loss(out_t, to_torch(y))
    value_t.backward()

    tol = {"rtol": MODEL_RTOL, "atol": MODEL_ATOL}
    np.testing.assert_allclose(out, to_numpy(out_t), **tol, err_msg="forward output")
    np.testing.assert_allclose(value, value_t.item(), **tol, err_msg="loss value")
    np.testing.assert_allclose(grad_X, to_numpy(X_t.grad), **tol, err_msg="input gradient")
    assert len(model.parameters()) == len(list(twin.module.parameters()))
    for p in model.parameters():
        np.testing.assert_allclose(p.grad, twin.grad(p.name), **tol, err_msg=f"grad {p.name}")


# --------------------------------------------------------------------------------------------
# 4. Optimizers: training trajectories and defaults
# --------------------------------------------------------------------------------------------

# (scratchnn class, torch class, keyword arguments both accept under the same names)
OPTIMIZERS = [
    pytest.param(optim.SGD, torch.optim.SGD, {"lr": 0.1}, id="sgd"),
    pytest.param(optim.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}, id="sgd_momentum"),
    pytest.param(
        optim.SGD,
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.8, "dampening": 0.3},
        id="sgd_momentum_dampening",
    ),
    pytest.param(
        optim.SGD,
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        id="sgd_nesterov",
    ),
    pytest.param(
        optim.SGD, torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.05}, id="sgd_weight_decay"
    ),
    pytest.param(
        optim.SGD,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        id="sgd_nesterov_weight_decay",
    ),
    pytest.param(optim.RMSProp, torch.optim.RMSprop, {}, id="rmsprop"),
    pytest.param(
        optim.RMSProp, torch.optim.RMSprop, {"lr": 0.005, "centered": True}, id="rmsprop_centered"
    ),
    pytest.param(
        optim.RMSProp,
        torch.optim.RMSprop,
        {"lr": 0.005, "momentum": 0.9, "alpha": 0.9},
        id="rmsprop_momentum",
    ),
    pytest.param(
        optim.RMSProp,
        torch.optim.RMSprop,
        {"weight_decay": 0.1, "momentum": 0.5, "centered": True, "eps": 1e-6},
        id="rmsprop_weight_decay_centered_momentum",
    ),
    pytest.param(optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1}, id="adagrad"),
    pytest.param(
        optim.Adagrad,
        torch.optim.Adagrad,
        {"lr": 0.1, "lr_decay": 0.2, "initial_accumulator_value": 0.5},
        id="adagrad_lr_decay_initial_accumulator",
    ),
    pytest.param(
        optim.Adagrad,
        torch.optim.Adagrad,
        {"lr": 0.1, "weight_decay": 0.05, "eps": 1e-6},
        id="adagrad_weight_decay",
    ),
    pytest.param(optim.Adam, torch.optim.Adam, {}, id="adam_default"),
    pytest.param(optim.Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True}, id="adam_amsgrad"),
    pytest.param(
        optim.Adam,
        torch.optim.Adam,
        {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1},
        id="adam_weight_decay",
    ),
    pytest.param(optim.AdamW, torch.optim.AdamW, {}, id="adamw_default"),
    pytest.param(
        optim.AdamW,
        torch.optim.AdamW,
        {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True},
        id="adamw_weight_decay_amsgrad",
    ),
]

OPTIMIZER_PAIRS = [
    pytest.param(optim.SGD, torch.optim.SGD, id="sgd"),
    pytest.param(optim.RMSProp, torch.optim.RMSprop, id="rmsprop"),
    pytest.param(optim.Adagrad, torch.optim.Adagrad, id="adagrad"),
    pytest.param(optim.Adam, torch.optim.Adam, id="adam"),
    pytest.param(optim.AdamW, torch.optim.AdamW, id="adamw"),
]


def classification_problem(seed: int = 4):
    """A small random classification batch and a fresh float64 MLP to train on it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(24, 6))
    y = rng.integers(0, 4, size=24)
    model = snn.MLP([6, 10, 8, 4], activation="tanh", seed=seed, dtype=np.float64)
    randomize_biases(model, rng)
    return model, X, y


def torch_classification_model() -> nn.Sequential:
    return torch_mlp([6, 10, 8, 4], nn.Tanh)


def train_step(model: snn.Sequential, loss: snn.losses.Loss, optimizer, X, y) -> float:
    """The manual training loop of scratchnn's tutorial: forward, loss, backward, step."""
    value = loss(model.forward(X, training=True), y)
    model.backward(loss.backward())
    optimizer.step(model.parameters())
    return value


@pytest.mark.parametrize(("snn_class", "torch_class", "kwargs"), OPTIMIZERS)
def test_optimizer_trajectory_matches_torch(snn_class, torch_class, kwargs):
    model, X, y = classification_problem()
    twin = TorchTwin(model, torch_classification_model())
    loss = snn.losses.CrossEntropy()
    optimizer = snn_class(**kwargs)
    optimizer_t = torch_class(twin.module.parameters(), **kwargs)
    X_t, y_t = to_torch(X), to_torch(y)
    start = model.parameters().flat.value.copy()

    for step in range(1, 11):
        value = train_step(model, loss, optimizer, X, y)
        optimizer_t.zero_grad()
        value_t = F.cross_entropy(twin.module(X_t), y_t)
        value_t.backward()
        optimizer_t.step()

        np.testing.assert_allclose(value, value_t.item(), rtol=MODEL_RTOL, err_msg=f"step {step}")
        twin.assert_matches(model, f"after step {step}:", rtol=MODEL_RTOL, atol=MODEL_ATOL)

    assert optimizer.step_count == 10
    moved = np.abs(model.parameters().flat.value - start).max()
    assert moved > 1e-3, "training barely moved the weights: the comparison proves little"


@pytest.mark.parametrize(("snn_class", "torch_class"), OPTIMIZER_PAIRS)
def test_optimizer_defaults_match_torch(snn_class, torch_class):
    ours = snn_class().get_config()
    theirs = torch_class([torch.zeros(1, requires_grad=True)]).defaults
    # Every scratchnn hyperparameter has a torch namesake, but for the gradient clipping that
    # torch does outside the optimizer (and decoupled decay, where torch lacks it)...
    extras = {
        "clip_norm": None,
        "clip_value": None,
        "decoupled_weight_decay": snn_class is optim.AdamW,
    }
    for name, default in extras.items():
        if name not in theirs:
            assert ours.pop(name) == default, name
    assert set(ours) <= set(theirs), f"names unknown to torch: {set(ours) - set(theirs)}"
    # ...with the same default value.
    assert ours == {name: theirs[name] for name in ours}


# --------------------------------------------------------------------------------------------
# 5. Optimizer state_dict round trip
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("snn_class", "torch_class", "kwargs"), OPTIMIZERS)
def test_optimizer_state_dict_round_trip_is_exact(snn_class, torch_class, kwargs):
    # scratchnn only (torch_class is unused): the same configurations as the trajectory test.
    first_steps, more_steps = 4, 5
    loss = snn.losses.CrossEntropy()

    # Uninterrupted run.
    model, X, y = classification_problem()
    optimizer = snn_class(**kwargs)
    for _ in range(first_steps + more_steps):
        train_step(model, loss, optimizer, X, y)

    # Interrupted run: save, restore into a default-constructed optimizer (so the
    # hyperparameters must come from the state dict too), continue.
    resumed, X, y = classification_problem()
    before = snn_class(**kwargs)
    for _ in range(first_steps):
        train_step(resumed, loss, before, X, y)
    state = before.state_dict()
    after = snn_class()
    after.load_state_dict(state)
    assert after.get_config() == before.get_config()
    assert after.step_count == first_steps
    for _ in range(more_steps):
        train_step(resumed, loss, after, X, y)

    np.testing.assert_array_equal(resumed.parameters().flat.value, model.parameters().flat.value)
    assert after.step_count == optimizer.step_count
    final = after.state_dict()
    expected = optimizer.state_dict()
    assert final["config"] == expected["config"]
    assert len(final["state"]) == len(expected["state"])
    for got, want in zip(final["state"], expected["state"], strict=True):
        assert got.keys() == want.keys()
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_state_is_in_torchs_units(amsgrad):
    """exp_avg, exp_avg_sq (and max_exp_avg_sq) equal PyTorch's state after ten steps."""
    model, X, y = classification_problem()
    twin = TorchTwin(model, torch_classification_model())
    loss = snn.losses.CrossEntropy()
    optimizer = optim.Adam(lr=0.01, amsgrad=amsgrad)
    optimizer_t = torch.optim.Adam(twin.module.parameters(), lr=0.01, amsgrad=amsgrad)
    X_t, y_t = to_torch(X), to_torch(y)
    for _ in range(10):
        train_step(model, loss, optimizer, X, y)
        optimizer_t.zero_grad()
        F.cross_entropy(twin.module(X_t), y_t).backward()
        optimizer_t.step()
    (state,) = optimizer.state_dict()["state"]
    names = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if amsgrad else [])
    assert sorted(state) == sorted(names)
    for name in names:
        pieces = []
        for p in model.parameters():  # the flat vector's order
            tensor, transposed = twin.params[p.name]
            value = optimizer_t.state[tensor][name]
            pieces.append(to_numpy(value.T if transposed else value).ravel())
        theirs = np.concatenate(pieces)
        assert theirs.shape == state[name].shape
        np.testing.assert_allclose(state[name], theirs, rtol=1e-10, atol=1e-300, err_msg=name)
