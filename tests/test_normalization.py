"""BatchNorm1d, LayerNorm and Dropout: torch as the oracle for the normalization layers
(forward, backward, running statistics, train and eval mode), finite differences for whole
models, and Dropout's statistics, seeding and bookkeeping.

torch's ``BatchNorm1d`` keeps ``running_var`` as the *unbiased* batch variance (n/(n-1)) while
normalizing with the biased one; scratchnn documents the same, so in float64 the two should
agree to rounding error: within 1e-10 here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as snn
from oracles import central_differences, to_numpy, to_torch

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)

TOL = {"rtol": 1e-10, "atol": 1e-10}


pytestmark = pytest.mark.usefixtures("single_threaded_torch")


def build_float64(layer: snn.Layer, rng: np.random.Generator) -> snn.Layer:
    """Build ``layer`` in float64 with random γ and β (when affine), so that the test depends
    on them."""
    layer.build(dtype=np.float64)
    if layer.affine:
        layer.params["gamma"] = rng.uniform(0.5, 2.0, size=layer.num_features)
        layer.params["beta"] = rng.normal(size=layer.num_features)
    return layer


def torch_twin(layer: snn.Layer) -> torch.nn.Module:
    """The torch module with the same configuration and current γ, β (and running stats)."""
    if isinstance(layer, snn.BatchNorm1d):
        module = torch.nn.BatchNorm1d(
            layer.num_features,
            eps=layer.eps,
            momentum=layer.momentum,
            affine=layer.affine,
            dtype=torch.float64,
        )
        with torch.no_grad():
            module.running_mean.copy_(to_torch(layer.buffers["running_mean"]))
            module.running_var.copy_(to_torch(layer.buffers["running_var"]))
    else:
        module = torch.nn.LayerNorm(
            layer.num_features,
            eps=layer.eps,
            elementwise_affine=layer.affine,
            dtype=torch.float64,
        )
    if layer.affine:
        with torch.no_grad():
            module.weight.copy_(to_torch(layer.params["gamma"]))
            module.bias.copy_(to_torch(layer.params["beta"]))
    return module


def compare_step(layer: snn.Layer, module: torch.nn.Module, x, grad_out, training: bool):
    """One forward and backward through both; compare output, ∂L/∂x, ∂L/∂γ, ∂L/∂β."""
    module.train(training)
    if module.weight is not None:
        module.weight.grad = module.bias.grad = None
    out = layer.forward(x, training=training)
    grad_in = layer.backward(grad_out)

    x_t = to_torch(x, requires_grad=True)
    out_t = module(x_t)
    out_t.backward(to_torch(grad_out))

    mode = "train" if training else "eval"
    assert out.dtype == np.float64 and out.shape == x.shape
    np.testing.assert_allclose(out, to_numpy(out_t), **TOL, err_msg=f"{mode} forward")
    np.testing.assert_allclose(grad_in, to_numpy(x_t.grad), **TOL, err_msg=f"{mode} ∂L/∂x")
    if layer.affine:
        np.testing.assert_allclose(
            layer.grads["gamma"], to_numpy(module.weight.grad), **TOL, err_msg=f"{mode} ∂L/∂γ"
        )
        np.testing.assert_allclose(
            layer.grads["beta"], to_numpy(module.bias.grad), **TOL, err_msg=f"{mode} ∂L/∂β"
        )
    else:
        assert not layer.params and not layer.grads


def assert_running_stats_match(layer: snn.BatchNorm1d, module: torch.nn.BatchNorm1d, what: str):
    np.testing.assert_allclose(
        layer.buffers["running_mean"], to_numpy(module.running_mean), **TOL, err_msg=what
    )
    np.testing.assert_allclose(
        layer.buffers["running_var"], to_numpy(module.running_var), **TOL, err_msg=what
    )


def batch(rng: np.random.Generator, n: int, features: int, loc: float, scale: float):
    # Per-feature offsets and scales, so that each feature has its own statistics.
    offsets = loc * rng.uniform(-1, 1, size=features)
    scales = scale * rng.uniform(0.5, 1.5, size=features)
    return offsets + scales * rng.normal(size=(n, features))


# --------------------------------------------------------------------------------------------
# 1. Against torch: forward, backward, running statistics, train and eval mode
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(2, 17), min_size=1, max_size=4),
    features=st.integers(1, 9),
    affine=st.booleans(),
    eps=st.sampled_from([1e-5, 1e-3, 0.1]),
    momentum=st.sampled_from([0.1, 0.01, 0.5, 1.0]),
    loc=st.sampled_from([0.0, 3.0, 100.0]),
    scale=st.sampled_from([0.01, 1.0, 20.0]),
    seed=st.integers(0, 2**16),
)
def test_batchnorm_matches_torch(sizes, features, affine, eps, momentum, loc, scale, seed):
    rng = np.random.default_rng(seed)
    layer = build_float64(snn.BatchNorm1d(features, eps=eps, momentum=momentum, affine=affine), rng)
    module = torch_twin(layer)

    for step, n in enumerate(sizes):  # several training batches, of varying sizes
        x = batch(rng, n, features, loc, scale)
        compare_step(layer, module, x, rng.normal(size=x.shape), training=True)
        assert_running_stats_match(layer, module, f"after training batch {step + 1}")

    # Inference: the running statistics normalize, and are left unchanged.
    mean, var = layer.buffers["running_mean"].copy(), layer.buffers["running_var"].copy()
    for n in (1, 5):
        x = batch(rng, n, features, loc, scale)
        compare_step(layer, module, x, rng.normal(size=x.shape), training=False)
    np.testing.assert_array_equal(layer.buffers["running_mean"], mean)
    np.testing.assert_array_equal(layer.buffers["running_var"], var)
    assert_running_stats_match(layer, module, "after inference")


def test_batchnorm_defaults_match_torch():
    layer, module = snn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    assert (layer.eps, layer.momentum, layer.affine) == (module.eps, module.momentum, module.affine)
    layer.build(dtype=np.float64)
    np.testing.assert_array_equal(layer.buffers["running_mean"], to_numpy(module.running_mean))
    np.testing.assert_array_equal(layer.buffers["running_var"], to_numpy(module.running_var))
    np.testing.assert_array_equal(layer.params["gamma"], to_numpy(module.weight))
    np.testing.assert_array_equal(layer.params["beta"], to_numpy(module.bias))


def test_batchnorm_running_var_is_unbiased():
    # Spelled out once: with momentum 1 the running statistics *are* the last batch's.
    x = np.array([[1.0, 10.0], [2.0, 20.0], [6.0, 0.0]])
    layer = snn.BatchNorm1d(2, momentum=1.0)
    layer.build(dtype=np.float64)
    layer.forward(x, training=True)
    np.testing.assert_allclose(layer.buffers["running_mean"], x.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(layer.buffers["running_var"], x.var(axis=0, ddof=1), rtol=1e-15)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 12),
    features=st.integers(1, 9),
    affine=st.booleans(),
    eps=st.sampled_from([1e-5, 1e-3, 0.1]),
    loc=st.sampled_from([0.0, 3.0, 100.0]),
    scale=st.sampled_from([0.01, 1.0, 20.0]),
    seed=st.integers(0, 2**16),
)
def test_layernorm_matches_torch(n, features, affine, eps, loc, scale, seed):
    rng = np.random.default_rng(seed)
    layer = build_float64(snn.LayerNorm(features, eps=eps, affine=affine), rng)
    module = torch_twin(layer)
    for training in (True, False):  # the same function in both modes
        x = batch(rng, n, features, loc, scale)
        compare_step(layer, module, x, rng.normal(size=x.shape), training=training)
    assert not layer.buffers


def test_layernorm_defaults_match_torch():
    layer, module = snn.LayerNorm(4), torch.nn.LayerNorm(4)
    assert (layer.eps, layer.affine) == (module.eps, module.elementwise_affine)


# --------------------------------------------------------------------------------------------
# 2. Finite differences
# --------------------------------------------------------------------------------------------

GRADCHECK_MODELS = [
    pytest.param(
        lambda: [
            snn.Dense(5, 8),
            snn.BatchNorm1d(8),
            snn.Tanh(),
            snn.Dense(8, 6),
            snn.LayerNorm(6),
            snn.GELU(),
            snn.Dense(6, 3),
        ],
        "ce",
        id="batchnorm_layernorm",
    ),
    pytest.param(
        lambda: [
            snn.Dense(4, 7, bias=False),
            snn.BatchNorm1d(7, eps=0.1, momentum=0.5, affine=False),
            snn.Sigmoid(),
            snn.Dense(7, 5),
            snn.LayerNorm(5, eps=0.01, affine=False),
            snn.Dense(5, 2),
        ],
        "mse",
        id="not_affine_custom_eps",
    ),
    pytest.param(
        lambda: [snn.BatchNorm1d(4), snn.Dense(4, 6, activation="tanh"), snn.LayerNorm(6)],
        "mse",
        id="normalized_input_and_output",
    ),
]


def randomize_affine(model: snn.Sequential, rng: np.random.Generator) -> None:
    for p in model.parameters():
        if p.name.endswith((".gamma", ".beta", ".b")):
            p.value[...] = rng.uniform(0.5, 1.5, size=p.value.shape)


@pytest.mark.parametrize(("make_layers", "loss"), GRADCHECK_MODELS)
def test_gradcheck_models_with_normalization(make_layers, loss):
    rng = np.random.default_rng(0)
    model = snn.Sequential(make_layers(), seed=1, dtype=np.float64)
    randomize_affine(model, rng)
    X = rng.normal(loc=1.0, scale=2.0, size=(6, model.in_features))
    y = rng.integers(0, 3, size=6) if loss == "ce" else rng.normal(size=(6, model.out_features))
    result = snn.gradcheck(model, loss, X, y)
    assert result.passed, str(result)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_eval_mode_gradients_by_finite_differences(affine):
    # snn.gradcheck runs in training mode; at inference BatchNorm is a fixed affine map of its
    # input, checked here at the layer level with L = Σ G ⊙ BN(x).
    rng = np.random.default_rng(2)
    layer = build_float64(snn.BatchNorm1d(5, eps=0.01, affine=affine), rng)
    for _ in range(3):  # non-trivial running statistics
        layer.forward(batch(rng, 8, 5, 2.0, 3.0), training=True)
    x = batch(rng, 4, 5, 2.0, 3.0)
    G = rng.normal(size=x.shape)

    def loss() -> float:
        return float(np.sum(G * layer.forward(x, training=False)))

    loss()
    grad_x = layer.backward(G)
    targets = [("input", x, grad_x)]
    targets += [(name, layer.params[name], layer.grads[name].copy()) for name in layer.params]
    stats = [b.copy() for b in layer.buffers.values()]
    for name, values, analytic in targets:
        np.testing.assert_allclose(
            analytic,
            central_differences(loss, values, 1e-6),
            rtol=1e-7,
            atol=1e-9,
            err_msg=name,
        )
    for before, after in zip(stats, layer.buffers.values(), strict=True):
        np.testing.assert_array_equal(after, before)


# --------------------------------------------------------------------------------------------
# 3. BatchNorm needs two samples per training batch
# --------------------------------------------------------------------------------------------


def test_batchnorm_training_batch_of_one_raises():
    layer = snn.BatchNorm1d(3)
    layer.build(dtype=np.float64)
    with pytest.raises(ValueError, match="at least 2 samples") as info:
        layer.forward(np.ones((1, 3)), training=True)
    assert "batch_size" in str(info.value)  # says what to change
    np.testing.assert_array_equal(layer.buffers["running_mean"], np.zeros(3))
    np.testing.assert_array_equal(layer.buffers["running_var"], np.ones(3))
    # Inference has no such limit.
    assert layer.forward(np.ones((1, 3)), training=False).shape == (1, 3)


def bn_model(seed: int = 0) -> snn.Sequential:
    return snn.Sequential(
        [snn.Dense(4, 8), snn.BatchNorm1d(8), snn.ReLU(), snn.Dense(8, 3)], seed=seed
    )


@pytest.mark.parametrize(
    ("n", "kwargs"),
    [
        pytest.param(9, {"batch_size": 4}, id="last_batch_of_1"),
        pytest.param(8, {"batch_size": 1}, id="batch_size_1"),
        pytest.param(1, {"batch_size": None}, id="full_batch_of_1"),
        pytest.param(11, {"batch_size": 3, "validation_split": 0.1}, id="after_validation_split"),
    ],
)
def test_fit_refuses_a_batch_of_one_before_training(n, kwargs):
    model = bn_model()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, 4)), rng.integers(0, 3, size=n)
    weights = model.get_weights()
    shuffle_state = model.rngs.shuffle.bit_generator.state
    with pytest.raises(ValueError, match="batch of 1") as info:
        model.fit(X, y, loss="ce", optimizer="sgd", epochs=2, verbose=0, **kwargs)
    assert "BatchNorm1d" in str(info.value) and "batch_size" in str(info.value)
    np.testing.assert_array_equal(model.get_weights(), weights)  # parameters and buffers
    assert model.rngs.shuffle.bit_generator.state == shuffle_state
    assert model.epochs_trained == 0 and model.optimizer is None and model.history is None


def test_fit_with_batchnorm_and_a_last_batch_of_two_trains():
    model = bn_model()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 4)), rng.integers(0, 3, size=10)
    history = model.fit(X, y, loss="ce", optimizer="sgd", batch_size=4, epochs=2, verbose=0)
    assert len(history) == 2
    assert not np.array_equal(model.layers[1].buffers["running_mean"], np.zeros(8))


def test_layernorm_trains_on_batches_of_one():
    model = snn.Sequential([snn.Dense(4, 8), snn.LayerNorm(8), snn.ReLU(), snn.Dense(8, 3)])
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    history = model.fit(X, y, loss="ce", optimizer="sgd", batch_size=2, epochs=1, verbose=0)
    assert len(history) == 1


# --------------------------------------------------------------------------------------------
# 4. Dropout
# --------------------------------------------------------------------------------------------


def dropout(p: float, seed: int = 0) -> snn.Dropout:
    layer = snn.Dropout(p)
    layer.rng = np.random.default_rng(seed)
    return layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_is_the_identity_at_inference(dtype):
    layer = dropout(0.5)
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(dtype)
    state = layer.rng.bit_generator.state
    out = layer.forward(x, training=False)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == dtype
    grad = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(grad), grad)
    assert layer.rng.bit_generator.state == state  # no random numbers drawn


def test_dropout_inference_after_training_forgets_the_mask():
    layer = dropout(0.5)
    x = np.ones((4, 4))
    layer.forward(x, training=True)
    layer.forward(x, training=False)
    np.testing.assert_array_equal(layer.backward(x), x)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_preserves_the_mean_in_training(p, dtype):
    x = np.full((500, 2000), 3.0, dtype=dtype)
    n = x.size
    out = dropout(p).forward(x, training=True)
    assert out.dtype == dtype
    kept = out != 0
    # Bounds of 6 standard deviations: generous, yet far below what a wrong p or scale gives.
    # The kept fraction is 1 - p (standard deviation sqrt(p(1-p)/n) ≤ 5e-4)...
    assert abs(kept.mean() - (1 - p)) < 6 * np.sqrt(p * (1 - p) / n)
    # ...each kept element is scaled by 1/(1-p)...
    np.testing.assert_allclose(out[kept], 3.0 / (1 - p), rtol=1e-6)
    # ...so the mean is preserved, E[y] = x (relative standard deviation sqrt(p/(1-p)/n)).
    assert abs(out.mean(dtype=np.float64) / 3.0 - 1) < 6 * np.sqrt(p / (1 - p) / n)


def test_dropout_p_zero_is_the_identity_in_training():
    layer = dropout(0.0)
    x = np.random.default_rng(0).normal(size=(7, 3))
    np.testing.assert_array_equal(layer.forward(x, training=True), x)
    grad = np.random.default_rng(1).normal(size=x.shape)
    np.testing.assert_array_equal(layer.backward(grad), grad)


def test_dropout_backward_uses_the_forward_mask():
    rng = np.random.default_rng(0)
    layer = dropout(0.3)
    x = rng.uniform(1.0, 2.0, size=(40, 30))  # no zeros of its own
    out = layer.forward(x, training=True)
    grad_out = rng.uniform(1.0, 2.0, size=x.shape)
    grad_in = layer.backward(grad_out)
    dropped = out == 0
    assert 0 < dropped.mean() < 1
    np.testing.assert_array_equal(grad_in == 0, dropped)
    np.testing.assert_allclose(grad_in[~dropped], grad_out[~dropped] / 0.7, rtol=1e-15)
    # Exactly: with an input of ones the output *is* the scaled mask.
    ones = np.ones((40, 30))
    mask = layer.forward(ones, training=True)
    np.testing.assert_array_equal(layer.backward(grad_out), grad_out * mask)
    np.testing.assert_array_equal(layer.backward(grad_out), grad_out * mask)  # no accumulation


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan"), "0.5", None])
def test_dropout_invalid_p_raises(p):
    with pytest.raises(ValueError, match="p must be a finite number in"):
        snn.Dropout(p)


def dropout_model(seed, p: float = 0.5) -> snn.Sequential:
    # Dense then Dropout: the zeros of the output are the dropout mask.
    return snn.Sequential([snn.Dense(6, 40), snn.Dropout(p)], seed=seed, dtype=np.float64)


def test_dropout_masks_come_from_the_model_seed():
    X = np.random.default_rng(0).uniform(1, 2, size=(30, 6))
    a, b, c = dropout_model(7), dropout_model(7), dropout_model(8)
    first = a.forward(X, training=True) == 0
    np.testing.assert_array_equal(b.forward(X, training=True) == 0, first)
    assert not np.array_equal(c.forward(X, training=True) == 0, first)
    second = a.forward(X, training=True) == 0
    assert not np.array_equal(second, first), "each training pass must draw a new mask"
    np.testing.assert_array_equal(b.forward(X, training=True) == 0, second)


def test_training_with_dropout_is_reproducible_from_the_seed():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), rng.integers(0, 3, size=40)

    def train(seed):
        model = snn.Sequential(
            [snn.Dense(5, 16, activation="relu"), snn.Dropout(0.4), snn.Dense(16, 3)], seed=seed
        )
        model.fit(X, y, loss="ce", optimizer="adam", epochs=3, batch_size=8, verbose=0)
        return model.get_weights()

    np.testing.assert_array_equal(train(3), train(3))
    assert not np.array_equal(train(3), train(4))


def dense_weights(model: snn.Sequential) -> list[np.ndarray]:
    return [
        array.copy()
        for layer in model.layers
        if isinstance(layer, snn.Dense)
        for array in layer.params.values()
    ]


WITH_AND_WITHOUT_DROPOUT = [
    pytest.param(
        lambda: [snn.Dense(4, 8, activation="relu"), snn.Dense(8, 3)],
        lambda: [snn.Dense(4, 8, activation="relu"), snn.Dropout(0.5), snn.Dense(8, 3)],
        id="between_dense_layers",
    ),
    pytest.param(
        lambda: [snn.Dense(4, 8), snn.ReLU(), snn.Dense(8, 8), snn.Tanh(), snn.Dense(8, 3)],
        lambda: [
            snn.Dense(4, 8),
            snn.ReLU(),
            snn.Dropout(0.2),
            snn.Dense(8, 8),
            snn.Tanh(),
            snn.Dropout(0.2),
            snn.Dense(8, 3),
        ],
        id="after_each_activation",
    ),
    pytest.param(
        lambda: [snn.Dense(4, 8, activation="relu"), snn.Dense(8, 3)],
        lambda: [snn.Dropout(0.1), snn.Dense(4, 8, activation="relu"), snn.Dense(8, 3)],
        id="on_the_input",
    ),
    pytest.param(
        lambda: [snn.Dense(4, 8, activation="relu"), snn.Dense(8, 3)],
        lambda: [snn.Dense(4, 8, activation="relu"), snn.Dense(8, 3), snn.Dropout(0.5)],
        id="at_the_end",
    ),
]


@pytest.mark.parametrize(("without", "with_dropout"), WITH_AND_WITHOUT_DROPOUT)
def test_adding_dropout_keeps_the_initial_weights(without, with_dropout):
    # ModelRNGs promises: "adding dropout (which draws from `layers`) does not change the
    # initial weights or the batch order".
    plain = snn.Sequential(without(), seed=11)
    dropped = snn.Sequential(with_dropout(), seed=11)
    for i, (a, b) in enumerate(zip(dense_weights(plain), dense_weights(dropped), strict=True)):
        np.testing.assert_array_equal(b, a, err_msg=f"Dense array {i} changed")


@pytest.mark.parametrize(("without", "with_dropout"), WITH_AND_WITHOUT_DROPOUT)
def test_adding_dropout_keeps_the_batch_order(without, with_dropout):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, size=20)
    plain = snn.Sequential(without(), seed=11)
    dropped = snn.Sequential(with_dropout(), seed=11)
    assert plain.rngs.shuffle.bit_generator.state == dropped.rngs.shuffle.bit_generator.state
    for model in (plain, dropped):
        model.fit(X, y, loss="ce", optimizer="sgd", epochs=3, batch_size=6, verbose=0)
    # Both drew the same permutations, so the shuffle streams are still in step.
    assert plain.rngs.shuffle.bit_generator.state == dropped.rngs.shuffle.bit_generator.state
    order = plain.rngs.shuffle.permutation(20)
    np.testing.assert_array_equal(dropped.rngs.shuffle.permutation(20), order)


def test_gradcheck_passes_with_dropout():
    rng = np.random.default_rng(0)
    model = snn.Sequential(
        [
            snn.Dense(5, 12, activation="tanh"),
            snn.Dropout(0.4),
            snn.Dense(12, 6),
            snn.LayerNorm(6),
            snn.Dropout(0.2),
            snn.Dense(6, 3),
        ],
        seed=2,
        dtype=np.float64,
    )
    X, y = rng.normal(size=(7, 5)), rng.integers(0, 3, size=7)
    state = [layer.rng.bit_generator.state for layer in model.layers]
    result = snn.gradcheck(model, "ce", X, y)
    assert result.passed, str(result)
    # gradcheck works on a copy: the model's own dropout streams were not advanced by it.
    assert [layer.rng.bit_generator.state for layer in model.layers] == state
    # The masks are not trivial: in training mode the model is a different function.
    assert not np.allclose(model.forward(X, training=True), model.forward(X))


# --------------------------------------------------------------------------------------------
# 5. Save and load
# --------------------------------------------------------------------------------------------

SAVE_MODELS = [
    pytest.param(
        lambda: [
            snn.Dense(5, 12),
            snn.BatchNorm1d(12, eps=1e-3, momentum=0.2),
            snn.ReLU(),
            snn.Dropout(0.3),
            snn.Dense(12, 8),
            snn.LayerNorm(8, eps=1e-4),
            snn.Tanh(),
            snn.Dense(8, 3),
        ],
        np.float32,
        id="float32_affine",
    ),
    pytest.param(
        lambda: [
            snn.Dense(5, 12),
            snn.BatchNorm1d(12, affine=False),
            snn.Dropout(0.5),
            snn.Dense(12, 8),
            snn.LayerNorm(8, affine=False),
            snn.Dense(8, 3),
        ],
        np.float64,
        id="float64_not_affine",
    ),
]


@pytest.mark.parametrize(("make_layers", "dtype"), SAVE_MODELS)
def test_save_load_round_trip_is_bit_identical(make_layers, dtype, tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 5)), rng.integers(0, 3, size=50)
    model = snn.Sequential(make_layers(), seed=5, dtype=dtype)
    model.fit(X, y, loss="ce", optimizer="adam", epochs=3, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = snn.load(path)

    assert loaded.get_config() == model.get_config()
    assert loaded.dtype == model.dtype
    for ours, theirs in zip(model.layers, loaded.layers, strict=True):
        assert type(theirs) is type(ours) and theirs.get_config() == ours.get_config()
        assert theirs.buffers.keys() == ours.buffers.keys()
        for name in ours.buffers:
            assert theirs.buffers[name].dtype == ours.buffers[name].dtype
            np.testing.assert_array_equal(theirs.buffers[name], ours.buffers[name], err_msg=name)
    np.testing.assert_array_equal(loaded.get_weights(), model.get_weights())
    prediction = loaded.predict(X)
    assert prediction.dtype == dtype
    np.testing.assert_array_equal(prediction, model.predict(X))

    # Training continues identically: same dropout masks, batch order and BN statistics.
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    loaded.fit(X, y, epochs=2, batch_size=16, verbose=0)
    np.testing.assert_array_equal(loaded.get_weights(), model.get_weights())
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
