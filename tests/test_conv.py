"""Convolution, pooling and the image layers: the fast layers against the textbook loops in
``scratchnn.reference``, against PyTorch (float64: values, gradients, several Adam steps, for
every option combination), against central differences, and their shapes, configs and seeds.

Conventions: scratchnn's kernels are PyTorch's (``(out, in/groups, kh, kw)``, NCHW), so
weights are compared without a transpose.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

import scratchnn as snn
from oracles import to_numpy, to_torch
from scratchnn import reference
from scratchnn.layers import conv as conv_module
from scratchnn.layers.base import layers as layer_registry

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)
F = torch.nn.functional

pytestmark = pytest.mark.usefixtures("single_threaded_torch")

RTOL, ATOL = 1e-6, 1e-12  # the brief's 1e-6; they agree to ~1e-14 in practice

# Every option of Conv2D: kernel, stride, padding, dilation, groups (1, 2, depthwise), bias.
KERNELS = [1, 3, (2, 3)]
STRIDES = [1, 2, (2, 1)]
PADDINGS = [0, 1, (2, 1), "same", "valid"]
DILATIONS = [1, 2]
GROUPS = [1, 2, 4]  # 4 = in_channels: depthwise
CONV_CASES = [
    case
    for case in itertools.product(KERNELS, STRIDES, PADDINGS, DILATIONS, GROUPS, [True, False])
    if not (case[2] == "same" and case[1] != 1)
]


@pytest.fixture(params=["batch last", "images first"])
def layout(request, monkeypatch):
    """Both orders of the im2col columns (conv.BATCH_LAST_BELOW picks one by the output's
    width; these small test images would otherwise all take the batch-last one)."""
    monkeypatch.setattr(
        conv_module, "BATCH_LAST_BELOW", 10**9 if request.param == "batch last" else 0
    )
    return request.param


def built(layer: snn.Layer, seed: int = 0) -> snn.Layer:
    layer.build(np.random.default_rng(seed), np.float64)
    return layer


def close(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def torch_pads(conv: snn.Conv2D) -> tuple[int, ...]:
    """``F.pad``'s order: (left, right, top, bottom)."""
    (top, bottom), (left, right) = conv.pads
    return (left, right, top, bottom)


def run_torch_conv(conv: snn.Conv2D, x: np.ndarray, delta: np.ndarray):
    """torch's conv2d on the explicitly padded input (torch's own "same" when asked for)."""
    xt = to_torch(x, requires_grad=True)
    Wt = to_torch(conv.params["W"], requires_grad=True)
    bt = to_torch(conv.params["b"], requires_grad=True) if conv.bias else None
    kwargs = {"stride": conv.stride, "dilation": conv.dilation, "groups": conv.groups}
    if conv.padding == "same":
        y = F.conv2d(xt, Wt, bt, padding="same", **kwargs)
    else:
        y = F.conv2d(F.pad(xt, torch_pads(conv)), Wt, bt, **kwargs)
    y.backward(to_torch(delta))
    return y, xt, Wt, bt


# --------------------------------------------------------------------------------------------
# Conv2D against PyTorch and the textbook loops
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "groups", "bias"), CONV_CASES)
def test_conv2d_matches_torch(kernel, stride, padding, dilation, groups, bias, rng, layout):
    conv = built(
        snn.Conv2D(4, 6 if groups != 4 else 8, kernel, stride, padding, dilation, groups, bias)
    )
    if bias:
        conv.params["b"] = rng.normal(size=conv.out_channels)
    x = rng.normal(size=(2, 4, 9, 8))
    y = conv.forward(x, training=True)
    delta = rng.normal(size=y.shape)
    dx = conv.backward(delta)
    yt, xt, Wt, bt = run_torch_conv(conv, x, delta)
    close(y, to_numpy(yt))
    close(dx, to_numpy(xt.grad))
    close(conv.grads["W"], to_numpy(Wt.grad))
    if bias:
        close(conv.grads["b"], to_numpy(bt.grad))
    # backward overwrites: a second call gives the same gradients
    W_grad = conv.grads["W"].copy()
    np.testing.assert_array_equal(conv.backward(delta), dx)
    np.testing.assert_array_equal(conv.grads["W"], W_grad)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "groups"),
    [(3, 1, 0, 1, 1), (3, 2, 1, 1, 1), ((2, 3), (2, 1), (1, 2), 2, 2), (3, 1, "same", 1, 4)],
)
def test_conv2d_matches_the_textbook_loops(kernel, stride, padding, dilation, groups, rng, layout):
    conv = built(snn.Conv2D(4, 4, kernel, stride, padding, dilation, groups))
    conv.params["b"] = rng.normal(size=4)
    x = rng.normal(size=(2, 4, 7, 6))
    y = conv.forward(x, training=True)
    delta = rng.normal(size=y.shape)
    dx = conv.backward(delta)
    (top, bottom), (left, right) = conv.pads
    args = (conv.stride, (top, bottom, left, right), conv.dilation, groups)
    np.testing.assert_allclose(
        y, reference.conv2d(x, conv.params["W"], conv.params["b"], *args), rtol=1e-12
    )
    dx_ref, dW_ref, db_ref = reference.conv2d_backward(x, conv.params["W"], delta, *args)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(conv.grads["W"], dW_ref, rtol=1e-12)
    np.testing.assert_allclose(conv.grads["b"], db_ref, rtol=1e-12)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "groups"),
    [(3, 1, 0, 1, 1), (2, 2, 1, 1, 2), (3, 1, "same", 2, 4), (4, 3, "valid", 1, 1)],
)
def test_conv1d_matches_torch(kernel, stride, padding, dilation, groups, rng, layout):
    conv = built(snn.Conv1D(4, 8, kernel, stride, padding, dilation, groups))
    conv.params["b"] = rng.normal(size=8)
    x = rng.normal(size=(3, 4, 11))
    y = conv.forward(x, training=True)
    delta = rng.normal(size=y.shape)
    dx = conv.backward(delta)
    xt = to_torch(x, requires_grad=True)
    Wt, bt = to_torch(conv.params["W"], True), to_torch(conv.params["b"], True)
    yt = F.conv1d(F.pad(xt, conv.pads[0]), Wt, bt, stride, 0, dilation, groups)
    yt.backward(to_torch(delta))
    close(y, to_numpy(yt))
    close(dx, to_numpy(xt.grad))
    close(conv.grads["W"], to_numpy(Wt.grad))
    close(conv.grads["b"], to_numpy(bt.grad))


def test_conv2d_skips_the_input_gradient_on_request(rng):
    conv = built(snn.Conv2D(2, 3, 3))
    delta = rng.normal(size=conv.forward(rng.normal(size=(2, 2, 5, 5))).shape)
    assert conv.backward(delta, input_grad=False) is None
    W_grad = conv.grads["W"].copy()
    conv.backward(delta)
    np.testing.assert_array_equal(conv.grads["W"], W_grad)


# --------------------------------------------------------------------------------------------
# Pooling, Flatten, BatchNorm2d against PyTorch and the textbook loops
# --------------------------------------------------------------------------------------------

POOL_CASES = [(2, None, 0), (3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (1, 0)), (2, 1, 0)]


@pytest.mark.parametrize(("kernel", "stride", "padding"), POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch_and_the_textbook_loops(kind, kernel, stride, padding, rng):
    layer = (snn.MaxPool2D if kind == "max" else snn.AvgPool2D)(kernel, stride, padding)
    x = rng.normal(size=(2, 3, 7, 6))
    y = layer.forward(x, training=True)
    delta = rng.normal(size=y.shape)
    dx = layer.backward(delta)
    xt = to_torch(x, requires_grad=True)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    yt = pool(xt, kernel, stride, padding)
    yt.backward(to_torch(delta))
    close(y, to_numpy(yt))
    close(dx, to_numpy(xt.grad))
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    slow, slow_backward = (
        (reference.max_pool2d, reference.max_pool2d_backward)
        if kind == "max"
        else (reference.avg_pool2d, reference.avg_pool2d_backward)
    )
    np.testing.assert_allclose(y, slow(x, k, s, p), rtol=1e-14)
    np.testing.assert_allclose(dx, slow_backward(x, delta, k, s, p), rtol=1e-13, atol=1e-15)


def test_max_pool_routes_ties_to_the_first_maximum_as_torch():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 0] = 1.0  # two equal maxima in the top-left window
    pool = snn.MaxPool2D(2)
    pool.forward(x, training=True)
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    xt = to_torch(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(torch.ones(1, 1, 2, 2, dtype=torch.float64))
    np.testing.assert_array_equal(dx, to_numpy(xt.grad))


def test_global_avg_pool_and_flatten_match_torch(rng):
    x = rng.normal(size=(2, 3, 5, 4))
    for layer, twin in [
        (snn.GlobalAvgPool2D(), lambda t: t.mean(dim=(2, 3))),
        (snn.Flatten(), lambda t: torch.flatten(t, 1)),
        (snn.ToChannelsFirst(), lambda t: t.permute(0, 3, 1, 2)),
    ]:
        y = layer.forward(x, training=True)
        delta = rng.normal(size=y.shape)
        xt = to_torch(x, requires_grad=True)
        yt = twin(xt)
        yt.backward(to_torch(delta))
        close(y, to_numpy(yt))
        close(layer.backward(delta), to_numpy(xt.grad))


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm2d_matches_torch_in_training_and_inference(affine, rng):
    layer = built(snn.BatchNorm2d(3, momentum=0.2, affine=affine))
    twin = torch.nn.BatchNorm2d(3, momentum=0.2, affine=affine).double()
    if affine:
        layer.params["gamma"], layer.params["beta"] = rng.normal(size=3), rng.normal(size=3)
        with torch.no_grad():
            twin.weight.copy_(to_torch(layer.params["gamma"]))
            twin.bias.copy_(to_torch(layer.params["beta"]))
    for step in range(3):
        x = rng.normal(loc=step, scale=2.0, size=(4, 3, 5, 4))
        delta = rng.normal(size=x.shape)
        y = layer.forward(x, training=True)
        dx = layer.backward(delta)
        xt = to_torch(x, requires_grad=True)
        yt = twin.train()(xt)
        yt.backward(to_torch(delta))
        close(y, to_numpy(yt))
        close(dx, to_numpy(xt.grad))
        if affine:
            close(layer.grads["gamma"], to_numpy(twin.weight.grad))
            close(layer.grads["beta"], to_numpy(twin.bias.grad))
            twin.weight.grad = twin.bias.grad = None
    close(layer.buffers["running_mean"], to_numpy(twin.running_mean))
    close(layer.buffers["running_var"], to_numpy(twin.running_var))
    x = rng.normal(size=(2, 3, 5, 4))
    xt = to_torch(x, requires_grad=True)
    yt = twin.eval()(xt)
    delta = rng.normal(size=x.shape)
    yt.backward(to_torch(delta))
    close(layer.forward(x, training=False), to_numpy(yt))
    close(layer.backward(delta), to_numpy(xt.grad))


def test_batchnorm2d_refuses_a_single_value_per_channel():
    with pytest.raises(ValueError, match=r"at least 2 values per channel.*\(1, 2, 1, 1\)"):
        built(snn.BatchNorm2d(2)).forward(np.ones((1, 2, 1, 1)), training=True)


# --------------------------------------------------------------------------------------------
# Several Adam steps, layer by layer, against torch.optim.Adam
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "groups", "bias"), CONV_CASES[::7]
)
def test_five_adam_steps_on_a_conv_match_torch(
    kernel, stride, padding, dilation, groups, bias, rng
):
    conv = built(snn.Conv2D(4, 8, kernel, stride, padding, dilation, groups, bias))
    names = list(conv.params)
    params = [snn.Parameter(n, conv.params[n], conv.grads[n]) for n in names]
    twins = [torch.nn.Parameter(to_torch(conv.params[n])) for n in names]
    ours, theirs = snn.optim.Adam(lr=0.01), torch.optim.Adam(twins, lr=0.01)
    x = rng.normal(size=(2, 4, 8, 7))
    kwargs = {"stride": conv.stride, "dilation": conv.dilation, "groups": groups}
    for _ in range(5):
        y = conv.forward(x, training=True)
        target = np.ones_like(y)
        conv.backward(2 * (y - target) / y.size)  # MSE's gradient
        ours.step(params)
        theirs.zero_grad()
        xt = F.pad(to_torch(x), torch_pads(conv))
        yt = F.conv2d(xt, twins[0], twins[1] if bias else None, **kwargs)
        F.mse_loss(yt, to_torch(target)).backward()
        theirs.step()
    for name, twin in zip(names, twins, strict=True):
        close(conv.params[name], to_numpy(twin))


# --------------------------------------------------------------------------------------------
# Central differences: scratchnn.gradcheck's own difference loop on each layer alone
# --------------------------------------------------------------------------------------------


def layer_gradcheck(layer: snn.Layer, x: np.ndarray, rng: np.random.Generator) -> None:
    """``backward(R)`` of ``f = Σ layer(x) ⊙ R`` against central differences, for the input
    and every parameter (what gradcheck's layer-by-layer check does)."""
    from scratchnn.gradcheck import numeric_gradient

    state = layer.rng.bit_generator.state if layer.rng is not None else None

    def f() -> float:
        if state is not None:
            layer.rng.bit_generator.state = state  # the same random mask every time
        return float(np.sum(layer.forward(x, training=True) * upstream))

    if state is not None:
        layer.rng.bit_generator.state = state
    upstream = rng.standard_normal(layer.forward(x, training=True).shape)
    analytic = {"input": np.array(layer.backward(upstream), copy=True)}
    analytic.update({k: g.copy() for k, g in layer.grads.items()})
    for key, grad in analytic.items():
        values = x if key == "input" else layer.params[key]
        numeric = numeric_gradient(values, np.arange(values.size), f, 1e-6)
        np.testing.assert_allclose(grad.ravel(), numeric, rtol=1e-6, atol=1e-8, err_msg=key)


GRADCHECK_LAYERS = [
    lambda: snn.Conv2D(3, 4, 3, stride=2, padding=1),
    lambda: snn.Conv2D(4, 4, (2, 3), padding="same", dilation=2, groups=2),
    lambda: snn.Conv2D(4, 8, 3, groups=4, bias=False),
    lambda: snn.MaxPool2D(2),
    lambda: snn.MaxPool2D(3, stride=2, padding=1),
    lambda: snn.AvgPool2D(3, stride=2, padding=1),
    lambda: snn.GlobalAvgPool2D(),
    lambda: snn.Flatten(),
    lambda: snn.BatchNorm2d(4),
    lambda: snn.Dropout2d(0.5),
    lambda: snn.RandomShift(2, horizontal_flip=True),
    lambda: snn.ToChannelsFirst(),
    lambda: snn.Reshape((4, 36)),
]


@pytest.mark.parametrize("make", GRADCHECK_LAYERS)
def test_layer_backward_matches_central_differences(make, rng):
    layer = make()
    layer.rng = np.random.default_rng(3)
    if layer.draws_at_build or layer.parameter_shapes((4, 6, 6)):
        layer = built(layer)
        for name in layer.params:  # non-trivial γ, β, b
            layer.params[name] = layer.params[name] + rng.normal(size=layer.params[name].shape)
    channels = layer.in_channels if isinstance(layer, snn.Conv2D) else 4
    layer_gradcheck(layer, rng.normal(size=(2, channels, 6, 6)), rng)


def test_conv1d_backward_matches_central_differences(rng):
    layer = built(snn.Conv1D(3, 4, 3, stride=2, padding="valid", dilation=2))
    layer_gradcheck(layer, rng.normal(size=(2, 3, 11)), rng)


# --------------------------------------------------------------------------------------------
# Shapes, configs, seeds, buffers, errors
# --------------------------------------------------------------------------------------------

SHAPE_CASES = [
    (lambda: snn.Conv2D(1, 32, 5), (1, 28, 28), (32, 24, 24)),
    (lambda: snn.Conv2D(3, 8, 3, padding="same"), (3, 10, 9), (8, 10, 9)),
    (lambda: snn.Conv2D(3, 8, (3, 2), stride=(2, 1), dilation=2), (3, 11, 9), (8, 4, 7)),
    (lambda: snn.Conv2D(4, 4, 3, groups=4), (4, None, 9), (4, None, 7)),
    (lambda: snn.Conv1D(2, 5, 4, stride=2), (2, 20), (5, 9)),
    (lambda: snn.MaxPool2D(2), (32, 24, 24), (32, 12, 12)),
    (lambda: snn.MaxPool2D(3, 2, 1), (8, 7, 8), (8, 4, 4)),
    (lambda: snn.AvgPool2D((2, 3)), (2, 6, 9), (2, 3, 3)),
    (lambda: snn.GlobalAvgPool2D(), (64, 4, 4), (64,)),
    (lambda: snn.Flatten(), (32, 4, 4), (512,)),
    (lambda: snn.Flatten(), (32, None, 4), (None,)),
    (lambda: snn.BatchNorm2d(6), (6, 5, 5), (6, 5, 5)),
    (lambda: snn.Dropout2d(0.1), (6, 5, 5), (6, 5, 5)),
    (lambda: snn.RandomShift(1), (1, 8, 8), (1, 8, 8)),
    (lambda: snn.ToChannelsFirst(), (28, 28, 3), (3, 28, 28)),
    (lambda: snn.Reshape((1, 28, 28)), (784,), (1, 28, 28)),
]


@pytest.mark.parametrize(("make", "sample", "expected"), SHAPE_CASES)
def test_declared_shapes_agree_with_the_built_arrays(make, sample, expected, rng):
    layer = make()
    assert layer.output_shape(sample) == expected
    declared_params = layer.parameter_shapes(sample)
    declared_buffers = layer.buffer_shapes(sample)
    layer = built(layer)
    assert {k: v.shape for k, v in layer.params.items()} == declared_params
    assert {k: v.shape for k, v in layer.grads.items()} == declared_params
    assert {k: v.shape for k, v in layer.buffers.items()} == declared_buffers
    concrete = tuple(7 if s is None else s for s in sample)
    y = layer.forward(rng.normal(size=(2, *concrete)), training=True)
    computed = layer.output_shape(concrete)
    assert y.shape == (2, *computed)
    assert all(e is None or e == c for e, c in zip(expected, computed, strict=True))


def test_input_shapes_are_declared():
    assert snn.Conv2D(3, 8, 3).input_shape == (3, None, None)
    assert snn.Conv1D(3, 8, 3).input_shape == (3, None)
    assert snn.BatchNorm2d(5).input_shape == (5, None, None)
    assert snn.MaxPool2D(2).input_shape == (None, None, None)
    assert snn.Flatten().input_shape is None
    assert snn.ToChannelsFirst().input_shape == (None, None, None)


CONFIG_LAYERS = [
    snn.Conv2D(
        3,
        8,
        (3, 5),
        stride=2,
        padding=(1, 2),
        dilation=(1, 2),
        bias=False,
        init="he_normal",
        bias_init="ones",
    ),
    snn.Conv2D(4, 4, 3, padding="same", groups=4),
    snn.Conv1D(2, 6, 5, padding="valid", groups=2),
    snn.MaxPool2D(3, stride=2, padding=1),
    snn.AvgPool2D((2, 3)),
    snn.GlobalAvgPool2D(),
    snn.Flatten(),
    snn.ToChannelsFirst(),
    snn.Reshape((1, 28, 28)),
    snn.BatchNorm2d(8, eps=1e-3, momentum=0.3, affine=False),
    snn.Dropout2d(0.25),
    snn.RandomShift(3, horizontal_flip=True),
]


@pytest.mark.parametrize("layer", CONFIG_LAYERS, ids=lambda layer: type(layer).__name__)
def test_get_config_round_trips_through_json(layer):
    config = json.loads(json.dumps(layer.get_config()))
    again = layer_registry.lookup(type(layer).__name__).from_config(config)
    assert type(again) is type(layer)
    assert again.get_config() == layer.get_config()
    assert repr(again) == repr(layer)


def test_get_config_writes_every_argument():
    assert snn.Conv2D(1, 2, 3).get_config() == {
        "in_channels": 1,
        "out_channels": 2,
        "kernel_size": 3,
        "stride": 1,
        "padding": 0,
        "dilation": 1,
        "groups": 1,
        "bias": True,
        "init": "auto",
        "bias_init": "zeros",
    }
    assert snn.MaxPool2D(2).get_config() == {"kernel_size": 2, "stride": 2, "padding": 0}


def test_the_same_seed_gives_bit_identical_weights_and_masks():
    def run(seed: int) -> list[np.ndarray]:
        conv = snn.Conv2D(2, 4, 3)
        conv.build(np.random.default_rng(seed), np.float32, init_hint="he_normal")
        drop, shift = snn.Dropout2d(0.5), snn.RandomShift(2, horizontal_flip=True)
        drop.rng, shift.rng = np.random.default_rng(seed), np.random.default_rng(seed)
        x = np.ones((8, 4, 6, 6), dtype=np.float32)
        return [conv.params["W"], drop.forward(x, training=True), shift.forward(x, True)]

    for a, b in zip(run(1), run(1), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(run(1)[0], run(2)[0])


def test_he_and_glorot_use_pytorchs_fans_of_a_conv_kernel():
    shape = (64, 32 // 4, 5, 3)  # groups=4
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    he = snn.initializers.he_normal(shape, np.random.default_rng(0), np.float64)
    assert he.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.03)
    glorot = snn.initializers.glorot_uniform(shape, np.random.default_rng(0), np.float64)
    assert np.abs(glorot).max() <= np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(glorot).max() > 0.99 * np.sqrt(6 / (fan_in + fan_out))


def test_conv_init_follows_the_hint_and_the_auto_rule():
    conv = snn.Conv2D(16, 32, 3)
    conv.build(np.random.default_rng(0), np.float64, init_hint="he_normal")
    assert conv.params["W"].std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.05)
    conv = snn.Conv2D(16, 32, 3)
    conv.build(np.random.default_rng(0), np.float64)  # Glorot uniform: var 2/(fan_in+fan_out)
    assert conv.params["W"].std() == pytest.approx(np.sqrt(2 / (16 * 9 + 32 * 9)), rel=0.05)


def test_im2col_buffers_are_reused_and_a_short_batch_gets_a_view(rng):
    conv = built(snn.Conv2D(2, 3, 3, padding=1))
    conv.forward(rng.normal(size=(8, 2, 6, 6)))
    cols = conv._scratch._flat["cols"]
    conv.backward(rng.normal(size=(8, 3, 6, 6)))
    conv.forward(rng.normal(size=(8, 2, 6, 6)))
    conv.forward(rng.normal(size=(3, 2, 6, 6)))  # the last, shorter batch
    assert conv._scratch._flat["cols"] is cols
    assert np.shares_memory(conv._cols, cols)


def test_outputs_do_not_alias_the_reused_buffers(rng):
    """A caller may keep an output or an input gradient: the next batch must not change it."""
    conv = built(snn.Conv2D(2, 3, 3, padding=1))
    x1, x2 = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(2, 2, 5, 5))
    y1 = conv.forward(x1)
    dx1 = conv.backward(np.ones_like(y1))
    kept_y, kept_dx = y1.copy(), dx1.copy()
    conv.backward(conv.forward(x2) * 3)
    np.testing.assert_array_equal(y1, kept_y)
    np.testing.assert_array_equal(dx1, kept_dx)


def test_float32_is_kept_end_to_end(rng):
    conv = snn.Conv2D(2, 3, 3)
    conv.build(np.random.default_rng(0), np.float32)
    x = rng.normal(size=(2, 2, 5, 5)).astype(np.float32)
    for layer in (conv, snn.MaxPool2D(2), snn.AvgPool2D(1), snn.GlobalAvgPool2D()):
        y = layer.forward(x, training=True)
        assert y.dtype == np.float32
        assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert conv.grads["W"].dtype == np.float32


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: snn.Conv2D(3, 8, 0), r"kernel_size must be an integer >= 1.*kernel_size=0"),
        (lambda: snn.Conv2D(3, 8, (3, 3, 3)), r"sequence of 2 .*kernel_size=\(3, 3, 3\)"),
        (lambda: snn.Conv2D(3, 8, 3, stride=2.0), r"stride must be .*stride=2.0"),
        (lambda: snn.Conv2D(3, 8, 3, padding=-1), r"padding must be .*>= 0.*padding=-1"),
        (lambda: snn.Conv2D(3, 8, 3, padding="full"), r"'same', 'valid'.*padding='full'"),
        (lambda: snn.Conv2D(3, 8, 3, stride=2, padding="same"), r"stride 1.*stride=2"),
        (lambda: snn.Conv2D(3, 8, 3, groups=2), r"groups must divide.*groups=2.*in_channels=3"),
        (lambda: snn.Conv2D(0, 8, 3), r"in_channels must be a positive integer.*=0"),
        (lambda: snn.Conv2D(3, 8, 3, init="nope"), r"Unknown initializer 'nope'"),
        (lambda: snn.MaxPool2D(2, padding=2), r"at most half the kernel.*padding=2"),
        (lambda: snn.Dropout2d(1.0), r"p must be a finite number in \[0, 1\).*p=1.0"),
        (lambda: snn.RandomShift(-1), r"max_shift must be an integer >= 0.*max_shift=-1"),
        (lambda: snn.BatchNorm2d(3, momentum=0), r"momentum must be"),
        (lambda: snn.Reshape(()), r"shape must be a non-empty tuple.*shape=\(\)"),
        (lambda: snn.Reshape((1, 0)), r"shape must be a positive integer.*shape=0"),
    ],
)
def test_bad_arguments_are_refused_with_the_received_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_reshape_refuses_a_sample_of_another_size():
    with pytest.raises(ValueError, match=r"\(10,\) \(10 values\) into \(1, 28, 28\) \(784"):
        snn.Reshape((1, 28, 28)).output_shape((10,))


def test_an_input_smaller_than_the_kernel_is_refused_by_output_shape():
    with pytest.raises(ValueError, match=r"spatial size \(3, 3\)"):
        snn.Conv2D(1, 2, 5).output_shape((1, 3, 3))
    with pytest.raises(ValueError, match=r"spatial size \(1, 1\)"):
        snn.MaxPool2D(2).output_shape((4, 1, 1))


def test_dropout2d_drops_whole_channels_and_keeps_the_mean(rng):
    layer = snn.Dropout2d(0.3)
    layer.rng = np.random.default_rng(0)
    x = np.ones((400, 8, 3, 3))
    y = layer.forward(x, training=True)
    per_channel = y.reshape(400, 8, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 1 / 0.7).all(-1)).all()
    assert y.mean() == pytest.approx(1.0, abs=0.03)
    np.testing.assert_array_equal(layer.backward(x), y)  # linear: the same mask
    assert layer.forward(x, training=False) is x


def test_random_shift_moves_each_image_and_is_the_identity_in_inference():
    layer = snn.RandomShift(1)
    layer.rng = np.random.default_rng(0)
    x = np.zeros((64, 1, 5, 5))
    x[:, 0, 2, 2] = 1.0  # one bright pixel in the middle
    y = layer.forward(x, training=True)
    assert (y.sum(axis=(1, 2, 3)) == 1).all()  # a shift by at most 1 keeps the pixel
    where = np.argwhere(y[:, 0] == 1)[:, 1:]
    assert set(map(tuple, where)) == {(i, j) for i in (1, 2, 3) for j in (1, 2, 3)}
    assert layer.forward(x, training=False) is x


def test_inference_on_a_large_batch_is_convolved_in_bounded_chunks(rng, monkeypatch):
    from scratchnn.layers import conv as conv_module

    layer = built(snn.Conv2D(2, 3, 3, padding=1))
    x = rng.normal(size=(10, 2, 6, 6))
    whole = layer.forward(x, training=True)
    monkeypatch.setattr(conv_module, "INFERENCE_COLUMNS", 2 * 18 * 36)  # two images at a time
    np.testing.assert_allclose(layer.forward(x, training=False), whole, rtol=1e-14)
    assert layer._scratch._flat["cols"].size == 10 * 18 * 36  # the training batch's buffer
    fresh = built(snn.Conv2D(2, 3, 3, padding=1))
    fresh.forward(x, training=False)
    assert fresh._scratch._flat["cols"].size == 2 * 18 * 36  # never more than two images'


@pytest.mark.parametrize(
    "make",
    [
        lambda: snn.Conv2D(4, 3, 3, padding=1),
        lambda: snn.Conv2D(4, 4, (2, 3), stride=2, dilation=(1, 2), groups=4),
        lambda: snn.Conv2D(4, 2, 2, padding="same", bias=False),
        lambda: snn.MaxPool2D(2),
        lambda: snn.MaxPool2D(3, stride=1, padding=1),
        lambda: snn.AvgPool2D(3, stride=2, padding=1),
        lambda: snn.BatchNorm2d(4),
        lambda: snn.Dropout2d(0.5),
        lambda: snn.RandomShift(1, horizontal_flip=True),
        lambda: snn.ToChannelsFirst(),
        lambda: snn.GlobalAvgPool2D(),
    ],
)
def test_scratchnn_gradcheck_passes_on_each_layer(make, rng):
    """snn.gradcheck itself (end to end and layer by layer, float64) on each layer followed
    by Flatten (gradcheck's MSE takes rows of outputs)."""
    layer = make()
    X = rng.normal(size=(2, 4, 6, 6))
    Y = rng.normal(size=(2, math.prod(layer.output_shape(X.shape[1:]))))
    result = snn.gradcheck([layer, snn.Flatten()], "mse", X, Y)
    assert result.passed, str(result)
    assert all(check.passed for check in result.layers), str(result)


@pytest.mark.parametrize(("channels", "batch"), [(1, 1), (1, 3), (2, 1), (3, 4)])
def test_a_returned_input_gradient_survives_the_next_backward(channels, batch, rng, layout):
    """The layer reuses its work buffers from batch to batch; what it returns is its own."""
    conv = built(snn.Conv2D(channels, 2, 3))  # no padding: nothing cut off, no copy for free
    x = rng.normal(size=(batch, channels, 5, 5))
    first = conv.backward(np.ones_like(conv.forward(x, training=True)))
    kept = first.copy()
    conv.forward(2 * x, training=True)
    conv.backward(np.full((batch, 2, 3, 3), 3.0))
    np.testing.assert_array_equal(first, kept)
