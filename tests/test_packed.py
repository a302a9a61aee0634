"""layers/packed.py (PackedDense, pack, packable, unpacked), losses.EachMember,
callbacks.EarlyStoppingEachMember and the table CLI's packed ensemble: finite differences in
float64, K separate Dense layers and PyTorch (values, gradients and Adam steps of K independent
MLPs) as oracles, per-member sample weights, files, and the CLI's model and reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratchnn as snn
from _cli import run
from oracles import central_differences
from scratchnn import losses
from scratchnn.callbacks import EarlyStoppingEachMember, LambdaCallback
from scratchnn.layers import Average, Chain, PackedDense
from scratchnn.layers.packed import pack, packable, unpacked
from scratchnn.preparation import prepare_weights

K = 3


def built(layer: PackedDense, seed: int = 0) -> PackedDense:
    """``layer`` built in float64 with non-zero biases (so that they are compared too)."""
    layer.build(np.random.default_rng(seed), np.float64)
    layer.params["b"][...] = np.random.default_rng(seed + 100).normal(size=layer.params["b"].shape)
    return layer


def layer_input(layer: PackedDense, rows: int = 6, seed: int = 1) -> np.ndarray:
    shape = (rows, *layer.input_shape)
    return np.random.default_rng(seed).normal(size=shape)


def mlp(features: int = 3, hidden: int = 5, outputs: int = 2, l2: float = 0.0) -> list:
    return [
        snn.Dense(features, hidden, l2=l2),
        snn.ReLU(),
        snn.Dense(hidden, hidden, l2=l2),
        snn.ReLU(),
        snn.Dense(hidden, outputs, l2=l2),
    ]


def packed_model(l2: float = 0.0, outputs: int = 2, seed: int = 0) -> snn.Sequential:
    model = snn.Sequential(pack(mlp(outputs=outputs, l2=l2), K), seed=seed, dtype="float64")
    rng = np.random.default_rng(seed + 7)
    for layer in model.layers:
        if isinstance(layer, PackedDense):
            layer.params["b"][...] = rng.normal(size=layer.params["b"].shape) * 0.1
    return model


# --- PackedDense: finite differences, K Dense layers, PyTorch -------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_gradcheck(shared, l2):
    first = PackedDense(3, 4, K, shared_input=shared, l2=l2)
    model = snn.Sequential(
        [first, snn.Tanh(), PackedDense(4, 2, K, l2=l2)], seed=0, dtype="float64"
    )
    X = layer_input(first)
    y = np.random.default_rng(2).normal(size=(6, 2))
    result = snn.gradcheck(model, losses.EachMember("mse", K), X, y)
    assert result.passed, str(result)
    assert "input" in result.errors


@pytest.mark.parametrize("outputs", [4, 1])  # (one output: ∂L/∂x as an outer product)
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
def test_central_differences_of_the_layer_alone_with_l2(shared, outputs):
    """L = Σ G ⊙ z + λ Σ W²: the layer's own backward and penalty, without gradcheck."""
    layer = built(PackedDense(3, outputs, K, shared_input=shared, l2=0.3))
    x = layer_input(layer)
    G = np.random.default_rng(3).normal(size=(6, K, outputs))

    def f() -> float:
        return float(np.sum(G * layer.forward(x))) + layer.penalty()

    f()
    dx = layer.backward(G)
    for name in ("W", "b"):
        numeric = central_differences(f, layer.params[name], 1e-6)
        np.testing.assert_allclose(layer.grads[name], numeric, rtol=1e-7, atol=1e-8, err_msg=name)
    np.testing.assert_allclose(dx, central_differences(f, x, 1e-6), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("outputs", [4, 1])
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
def test_equals_k_separate_dense_layers(shared, outputs):
    layer = built(PackedDense(3, outputs, K, shared_input=shared, l2=0.1))
    x = layer_input(layer)
    g = np.random.default_rng(4).normal(size=(6, K, outputs))
    z = layer.forward(x, training=True)
    assert z.shape == (6, K, outputs)
    dx = layer.backward(g)
    dx_members = []
    for k in range(K):
        dense = layer.member(k)
        assert isinstance(dense, snn.Dense) and dense.l2 == 0.1
        x_k = x if shared else x[:, k]
        np.testing.assert_allclose(z[:, k], dense.forward(x_k, training=True), rtol=1e-13)
        dx_members.append(dense.backward(g[:, k]))
        np.testing.assert_allclose(layer.grads["W"][k], dense.grads["W"], rtol=1e-12)
        np.testing.assert_allclose(layer.grads["b"][k], dense.grads["b"], rtol=1e-12)
    expected = np.sum(dx_members, axis=0) if shared else np.stack(dx_members, axis=1)
    np.testing.assert_allclose(dx, expected, rtol=1e-12, atol=1e-14)
    # backward overwrites (never accumulates), and a first layer may skip ∂L/∂x
    np.testing.assert_array_equal(layer.backward(g), dx)
    before = {name: grad.copy() for name, grad in layer.grads.items()}
    assert layer.backward(g, input_grad=False) is None
    for name, grad in layer.grads.items():
        np.testing.assert_array_equal(grad, before[name])


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
def test_values_and_gradients_match_torch(shared):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: the dev extra")
    layer = built(PackedDense(3, 4, K, shared_input=shared, l2=0.2))
    x = layer_input(layer, rows=7)
    g = np.random.default_rng(5).normal(size=(7, K, 4))
    z = layer.forward(x, training=True)
    dx = layer.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    W_t = torch.tensor(layer.params["W"].copy(), requires_grad=True)
    b_t = torch.tensor(layer.params["b"].copy(), requires_grad=True)
    if shared:
        z_t = torch.einsum("ni,kio->nko", x_t, W_t) + b_t
    else:
        z_t = torch.bmm(x_t.transpose(0, 1), W_t).transpose(0, 1) + b_t
    objective = (z_t * torch.tensor(g)).sum() + 0.2 * (W_t**2).sum()
    objective.backward()
    np.testing.assert_allclose(z, z_t.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.grads["W"], W_t.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.grads["b"], b_t.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert layer.penalty() == pytest.approx(0.2 * (W_t**2).sum().item(), rel=1e-13)


def per_member_weights(n: int) -> np.ndarray:
    """(n, K) weights with zeros (rows a member leaves out), uneven positives, and member 1
    weighing nothing in the second batch of 8."""
    rng = np.random.default_rng(11)
    w = rng.choice([0.0, 0.5, 1.0, 2.0], size=(n, K), p=[0.3, 0.2, 0.3, 0.2])
    w[8:16, 1] = 0.0
    w[0, :] = 1.0
    return w


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "per_member"])
def test_adam_steps_equal_k_torch_mlps_trained_alone(weighted):
    """fit(EachMember("mse")) on the packed model moves every member exactly as PyTorch's Adam
    moves that member's own MLP, trained alone on its (weighted) mean squared error + λΣW²."""
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: the dev extra")
    l2, lr, n, batch = 0.01, 0.02, 24, 8
    model = packed_model(l2=l2)
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    weights = per_member_weights(n) if weighted else None
    packed = [layer for layer in model.layers if isinstance(layer, PackedDense)]
    twins = []
    for k in range(K):
        params = []
        for layer in packed:
            params += [
                torch.tensor(layer.params["W"][k].copy(), requires_grad=True),
                torch.tensor(layer.params["b"][k].copy(), requires_grad=True),
            ]
        twins.append((params, torch.optim.Adam(params, lr=lr)))

    model.fit(X, y, loss=losses.EachMember("mse", K), optimizer=snn.optim.Adam(lr=lr), epochs=3,
              batch_size=batch, shuffle=False, sample_weight=weights, verbose=0)  # fmt: skip

    for _ in range(3):
        for start in range(0, n, batch):
            xb, yb = torch.tensor(X[start : start + batch]), torch.tensor(y[start : start + batch])
            for k, (params, optimizer) in enumerate(twins):
                h = xb
                for i in range(0, len(params), 2):
                    h = h @ params[i] + params[i + 1]
                    if i + 2 < len(params):
                        h = torch.relu(h)
                rows = ((h - yb) ** 2).mean(dim=1)
                if weights is None:
                    data = rows.mean()
                else:
                    w = torch.tensor(weights[start : start + batch, k])
                    data = (w * rows).sum() / w.sum() if w.sum() > 0 else rows.sum() * 0
                penalty = sum((W**2).sum() for W in params[0::2])
                optimizer.zero_grad()
                (data + l2 * penalty).backward()
                optimizer.step()
    for k, (params, _) in enumerate(twins):
        for j, layer in enumerate(packed):
            for name, param in zip("Wb", params[2 * j : 2 * j + 2], strict=True):
                np.testing.assert_allclose(
                    layer.params[name][k], param.detach().numpy(), rtol=1e-9, atol=1e-12,
                    err_msg=f"member {k}, layer {j}, {name}",
                )  # fmt: skip
    start = packed_model(l2=l2)
    moved = np.abs(packed[0].params["W"] - start.layers[0].params["W"]).max()
    assert moved > 0.02  # the steps did move the weights


# --- EachMember -------------------------------------------------------------------------------


def member_sum(base: losses.Loss, p: np.ndarray, y: np.ndarray, w: np.ndarray | None):
    """Σ_k base(p[:, k], y, w_k) and each member's gradient, from the base loss alone."""
    total, grads = 0.0, []
    for k in range(p.shape[1]):
        w_k = None if w is None else (w[:, k] if w.ndim == 2 else w)
        if w_k is not None and not w_k.any():
            grads.append(np.zeros_like(p[:, k]))
            continue
        total += base.forward(p[:, k], y, w_k)
        grads.append(base.backward())
    return total, np.stack(grads, axis=1)


@pytest.mark.parametrize("base", ["mse", "cross_entropy"])
@pytest.mark.parametrize("weights", [None, "per_sample", "per_member", "one_member_empty"])
def test_each_member_is_the_sum_of_the_members_base_losses(base, weights):
    rng = np.random.default_rng(7)
    n, outputs = 8, 3
    p = rng.normal(size=(n, K, outputs))
    y = rng.integers(0, outputs, n) if base == "cross_entropy" else rng.normal(size=(n, outputs))
    w = {
        None: None,
        "per_sample": rng.uniform(0.1, 2.0, n),
        "per_member": rng.uniform(0.0, 2.0, (n, K)),
        "one_member_empty": np.where(np.arange(K) == 2, 0.0, rng.uniform(0.1, 2.0, (n, K))),
    }[weights]
    loss = losses.EachMember(base, members=K)
    value = loss(p, y, w)
    grad = loss.backward()
    expected, expected_grad = member_sum(losses.get(base), p, y, w)
    assert value == pytest.approx(expected, rel=1e-12)
    assert grad.shape == p.shape
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)
    if weights == "one_member_empty":
        assert not grad[:, 2].any()


@pytest.mark.parametrize("base", ["mse", "cross_entropy", "poisson"])
def test_each_member_each_is_every_members_own_loss(base):
    """each(): member k's own weighted loss, 0 for a member with no weight (MSE's all
    members at once, the others member by member), against PyTorch's per-sample losses."""
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: the dev extra")
    functional = torch.nn.functional
    rng = np.random.default_rng(11)
    n, outputs = 9, 2
    p = rng.normal(size=(n, K, outputs))
    y = {
        "mse": rng.normal(size=(n, outputs)),
        "cross_entropy": rng.integers(0, outputs, n),
        "poisson": rng.poisson(2.0, (n, outputs)).astype(float),
    }[base]
    w = rng.uniform(0.0, 2.0, (n, K))
    w[:, 1] = 0.0
    own = losses.EachMember(base, K).each(p, y, w)
    per_sample = {
        "mse": lambda p_k, y_k: functional.mse_loss(p_k, y_k, reduction="none").mean(1),
        "cross_entropy": lambda p_k, y_k: functional.cross_entropy(p_k, y_k, reduction="none"),
        "poisson": lambda p_k, y_k: functional.poisson_nll_loss(p_k, y_k, reduction="none").mean(1),
    }[base]
    expected = []
    for k in (0, 2):
        values = per_sample(torch.tensor(p[:, k]), torch.tensor(y)).numpy()
        expected.append(np.sum(w[:, k] * values) / np.sum(w[:, k]))
    assert own.shape == (K,) and own[1] == 0.0
    np.testing.assert_allclose(own[[0, 2]], expected, rtol=1e-12)


class _Generic(losses.MSE):
    """MSE by another type: EachMember's general path, the fast one's oracle."""


class _GenericCrossEntropy(losses.CrossEntropy):
    pass


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("base", "general", "outputs"),
    [("mse", _Generic, 3), ("cross_entropy", _GenericCrossEntropy, 4),
     ("cross_entropy", _GenericCrossEntropy, 300)],  # (many classes: no classes² one-hot)
)  # fmt: skip
def test_each_member_fast_paths_equal_the_general_one(base, general, outputs, dtype):
    rng = np.random.default_rng(12)
    n = 10
    p = rng.normal(size=(n, K, outputs)).astype(dtype)
    if base == "mse":
        y = rng.normal(size=(n, outputs)).astype(dtype)
    else:
        y = rng.integers(0, outputs, n)
        p[0, 0, (y[0] + 1) % outputs] = -np.inf  # a class given no chance: still finite
    tolerance = 1e-12 if dtype == np.float64 else 2e-6
    for w in (None, rng.uniform(0, 2, n), rng.uniform(0, 2, (n, K)), np.zeros((n, K))):
        fast, slow = losses.EachMember(base, K), losses.EachMember(general(), K)
        value, expected = fast(p, y, w), slow(p, y, w)
        assert math.isfinite(value)
        assert value == pytest.approx(expected, rel=tolerance, abs=1e-12)
        grad = fast.backward()
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad, slow.backward(), rtol=tolerance, atol=1e-7)
        np.testing.assert_array_equal(fast.backward(), grad)  # backward twice: the same


def test_each_member_refuses_sample_weights_of_another_shape():
    p, y = np.zeros((4, K, 2)), np.zeros((4, 2))
    for loss in (losses.EachMember("mse", K), losses.EachMember(_Generic(), K)):
        for shape in [(1,), (1, K), (4, 1), (4, K + 1), (5,)]:
            with pytest.raises(ValueError, match=rf"must have shape \(4,\).*\(4, {K}\)"):
                loss(p, y, np.ones(shape))


def test_each_member_mse_and_cross_entropy_refuse_targets_of_another_shape():
    loss = losses.EachMember("mse", K)
    for target in (np.zeros((4, 3)), np.zeros((5, 2)), np.zeros(4)):
        with pytest.raises(ValueError, match=r"need targets of shape \(4, 2\)"):
            loss(np.zeros((4, K, 2)), target)
        with pytest.raises(ValueError, match=r"need targets of shape \(4, 2\)"):
            loss.each(np.zeros((4, K, 2)), target, np.ones((4, K)))
    cross_entropy = losses.EachMember("cross_entropy", K)
    with pytest.raises(ValueError, match=r"need 4 class labels; received labels of shape \(5,\)"):
        cross_entropy(np.zeros((4, K, 2)), np.zeros(5, dtype=int))


def test_each_member_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: the dev extra")
    rng = np.random.default_rng(8)
    p, y = rng.normal(size=(9, K, 4)), rng.integers(0, 4, 9)
    w = rng.uniform(0.0, 2.0, (9, K))
    w[:, 0] = np.where(np.arange(9) < 4, 0.0, w[:, 0])  # member 0 leaves four rows out
    loss = losses.EachMember("cross_entropy", K)
    value, grad = loss(p, y, w), loss.backward()
    p_t = torch.tensor(p, requires_grad=True)
    each = torch.nn.functional.cross_entropy(
        p_t.reshape(-1, 4), torch.tensor(np.repeat(y, K)), reduction="none"
    ).reshape(9, K)
    w_t = torch.tensor(w)
    expected = ((w_t * each).sum(0) / w_t.sum(0)).sum()
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, p_t.grad.numpy(), rtol=1e-11, atol=1e-15)


def test_each_member_with_no_weight_at_all_is_zero():
    loss = losses.EachMember("mse", K)
    p = np.ones((4, K, 1))
    assert loss(p, np.zeros((4, 1)), np.zeros((4, K))) == 0.0
    grad = loss.backward()
    assert grad.shape == p.shape and not grad.any()
    assert loss(p, np.zeros((4, 1)), np.zeros(4)) == 0.0
    # and the next call with weights is a real loss again
    assert loss(p, np.zeros((4, 1))) == pytest.approx(K * 1.0)
    assert loss.backward().any()


def test_each_member_refuses_wrong_prediction_shapes_and_bases():
    loss = losses.EachMember("mse", K)
    for shape in [(4, 2), (4, K + 1, 2), (4, K, 1, 1)]:
        with pytest.raises(ValueError, match=rf"shape \(batch, {K}, outputs\).*{shape[1]}"):
            loss(np.zeros(shape), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="reduction='mean'"):
        losses.EachMember(losses.MSE(reduction="sum"), K)
    with pytest.raises(ValueError, match="members"):
        losses.EachMember("mse", 0)


def test_each_member_config_round_trip():
    loss = losses.EachMember({"class_name": "Huber", "config": {"delta": 0.5}}, members=4)
    config = loss.get_config()
    assert config["members"] == 4 and config["base"]["class_name"] == "Huber"
    again = losses.get({"class_name": "EachMember", "config": config})
    assert isinstance(again, losses.EachMember) and again.get_config() == config
    assert again.base.delta == 0.5 and again.weights_per_sample == 4
    assert losses.EachMember("cross_entropy", 2).is_classification
    p, y = np.random.default_rng(9).normal(size=(5, 4, 2)), np.zeros((5, 2))
    assert again(p, y) == pytest.approx(loss(p, y), rel=1e-15)


# --- sample weights through fit ---------------------------------------------------------------


def test_fit_takes_per_member_weights_only_with_a_loss_that_wants_them():
    X, y = np.random.default_rng(10).normal(size=(24, 3)), np.zeros((24, 2))
    w = per_member_weights(24)
    model = packed_model()
    history = model.fit(X, y, loss=losses.EachMember("mse", K), optimizer="adam",
                        sample_weight=w, epochs=1, batch_size=8, verbose=0)  # fmt: skip
    assert np.isfinite(history["loss"]).all()
    plain = snn.Sequential(mlp(), seed=0, dtype="float64")
    with pytest.raises(ValueError, match=r"one weight per sample, shape \(24,\); received shape"):
        plain.fit(X, y, loss="mse", optimizer="adam", sample_weight=w, epochs=1, verbose=0)
    for bad in (np.ones((24, K + 1)), np.ones((24, 1)), np.ones(23), np.ones((24, K, 1))):
        with pytest.raises(ValueError, match=rf"\(24,\) or .*\(24, {K}\)"):
            model.fit(X, y, loss=losses.EachMember("mse", K), sample_weight=bad, verbose=0,
                      optimizer="adam")  # fmt: skip
    with pytest.raises(ValueError, match="finite and >= 0"):
        model.fit(X, y, loss=losses.EachMember("mse", K), sample_weight=-w, verbose=0,
                  optimizer="adam")  # fmt: skip


def test_class_weight_scales_every_member_alike():
    y = np.array([0, 1, 1, 0, 2])
    w = np.random.default_rng(12).uniform(0.5, 1.0, (5, K))
    loss = losses.EachMember("cross_entropy", K)
    got = prepare_weights(w, {1: 3.0}, y, loss, 5)
    np.testing.assert_allclose(got, w * np.array([1.0, 3.0, 3.0, 1.0, 1.0])[:, None])


# --- EarlyStoppingEachMember -----------------------------------------------------------------


def early_stopped(patience: int = 3, l2: float = 1e-3, min_delta: float = 0.0):
    """A packed model fit to noise with each member early-stopped on its own 10 of 40 rows,
    with every epoch's weights and each member's own validation loss (recomputed here)."""
    rng = np.random.default_rng(13)
    n = 40
    X, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))  # noise: the members overfit
    val = np.zeros((n, K))
    for k in range(K):
        val[rng.choice(n, 10, replace=False), k] = 1.0
    model = packed_model(l2=l2)
    packed = [layer for layer in model.layers if isinstance(layer, PackedDense)]
    base = losses.MSE()
    stopper = EarlyStoppingEachMember(X, y, val, base, patience, min_delta)
    snapshots, own, logged = [], [], []

    def record(epoch, logs):
        snapshots.append([{k: v.copy() for k, v in layer.params.items()} for layer in packed])
        out = model.predict(X)
        data = [base.forward(out[:, k], y, val[:, k]) for k in range(K)]
        penalty = [
            sum(l2 * np.sum(layer.params["W"][k] ** 2) for layer in packed) for k in range(K)
        ]
        own.append((np.add(data, penalty), np.array(data)))
        logged.append((logs.get("val_loss"), logs.get("val_data_loss")))

    history = model.fit(X, y, sample_weight=1 - val, loss=losses.EachMember("mse", K),
                        optimizer=snn.optim.Adam(lr=0.03), epochs=300, batch_size=10,
                        callbacks=[stopper, LambdaCallback(on_epoch_end=record)],
                        verbose=0)  # fmt: skip
    return model, packed, stopper, history, snapshots, own, logged


def replayed(own, k: int, epochs: int, patience: int, min_delta: float = 0.0):
    """The patience rule replayed on member ``k``'s own data losses (the penalty left out: it
    falls as the weights shrink): its lowest loss and that epoch, the epoch it is done at, and
    how many of its new lows fell by no more than ``min_delta`` (and so did not count)."""
    counted, best, best_epoch, wait, uncounted = np.inf, np.inf, None, 0, 0
    for epoch in range(epochs):
        value = own[epoch][1][k]
        if value < best:
            best, best_epoch = value, epoch
        if value < counted:
            counted, wait = value - min_delta, 0
        else:
            uncounted += best_epoch == epoch
            wait += 1
            if wait == patience:
                break
    return best, best_epoch, epoch, uncounted


def assert_kept(packed, snapshot, k: int) -> None:
    """Member ``k``'s weights in every packed layer are those of ``snapshot``'s epoch."""
    for layer, saved in zip(packed, snapshot, strict=True):
        for name in ("W", "b"):
            np.testing.assert_array_equal(layer.params[name][k], saved[name][k])


def test_early_stopping_each_member_watches_the_data_loss_not_the_penalty():
    """With a strong L2 penalty the loss with the penalty keeps falling as the weights
    shrink; the members stop on their data loss (as the single network's EarlyStopping
    watches val_data_loss), at other epochs than the penalised loss would give."""
    _, _, stopper, history, _, own, _ = early_stopped(patience=3, l2=0.05)

    def best_epochs(column: int) -> list[int]:
        found = []
        for k in range(K):
            values = [own[epoch][column][k] for epoch in range(len(history))]
            best = int(np.argmin(values[: stopper.best_epochs[k] + 4]))
            found.append(best)
        return found

    assert stopper.best_epochs == best_epochs(1)
    assert stopper.best_epochs != best_epochs(0), "the penalty made no difference: raise l2"


def test_early_stopping_each_member_keeps_each_members_own_best_epoch():
    patience = 3
    _, packed, stopper, history, snapshots, own, logged = early_stopped(patience)
    epochs = len(history)
    assert epochs < 300, "the members never stopped improving: make the problem overfit"
    assert len(own) == epochs
    for (total, data), (val_loss, val_data_loss) in zip(own, logged, strict=True):
        assert val_loss == pytest.approx(float(total.sum()), rel=1e-10)  # the sums over members
        assert val_data_loss == pytest.approx(float(data.sum()), rel=1e-10)
    done_at = []
    for k in range(K):
        best, best_epoch, done, _ = replayed(own, k, epochs, patience)
        done_at.append(done)
        assert stopper.best_epochs[k] == best_epoch, k
        assert stopper.best[k] == pytest.approx(best, rel=1e-10)
        assert_kept(packed, snapshots[best_epoch], k)
    assert epochs == max(done_at) + 1  # stopped when the last member ran out of patience
    assert len(set(stopper.best_epochs)) > 1, "one best epoch for all: not told apart"
    final = snapshots[-1][0]["W"]
    assert any(not np.array_equal(packed[0].params["W"][k], final[k]) for k in range(K))


@pytest.mark.parametrize("min_delta", [0.01, 0.05])
def test_early_stopping_each_member_min_delta_counts_only_a_fall_beyond_it(min_delta):
    """With ``min_delta`` an epoch resets a member's patience only when its data loss falls
    more than ``min_delta`` below the last counted best; its weights are still those of its
    lowest loss, counted or not. Replayed on the members' own losses."""
    patience = 3
    _, packed, stopper, history, snapshots, own, _ = early_stopped(patience, min_delta=min_delta)
    _, _, _, plain, _, _, _ = early_stopped(patience)
    assert len(history) < len(plain), "min_delta stopped no sooner: raise it"
    uncounted, done_at = 0, []
    for k in range(K):
        best, best_epoch, done, lows = replayed(own, k, len(history), patience, min_delta)
        uncounted += lows
        done_at.append(done)
        assert stopper.best_epochs[k] == best_epoch, k
        assert stopper.best[k] == pytest.approx(best, rel=1e-10)
        assert_kept(packed, snapshots[best_epoch], k)
    assert len(history) == max(done_at) + 1  # stopped when the last member ran out of patience
    assert uncounted, "no best epoch fell by less than min_delta: the rule was not exercised"


def test_early_stopping_each_member_rejects_a_bad_min_delta():
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStoppingEachMember(np.zeros((6, 3)), np.zeros((6, 2)), np.ones((6, K)),
                                losses.MSE(), 2, min_delta=float("nan"))  # fmt: skip


def test_early_stopping_each_member_val_loss_reaches_the_history():
    """The val_loss and val_data_loss it logs are in fit's History (as EarlyStopping's
    validation losses are), one per epoch."""
    _, _, _, history, _, own, _ = early_stopped()
    assert "val_loss" in history and "val_data_loss" in history, list(history.history)
    np.testing.assert_allclose(history["val_loss"], [t.sum() for t, _ in own], rtol=1e-10)
    np.testing.assert_allclose(history["val_data_loss"], [d.sum() for _, d in own], rtol=1e-10)


def test_early_stopping_each_member_needs_matching_packed_layers():
    X, y = np.zeros((6, 3)), np.zeros((6, 2))
    with pytest.raises(ValueError, match=r"weights must have shape \(6, members\)"):
        EarlyStoppingEachMember(X, y, np.ones(6), losses.MSE(), 2)
    stopper = EarlyStoppingEachMember(X, y, np.ones((6, K + 1)), losses.MSE(), 2)
    with pytest.raises(ValueError, match=f"packed layers with {K + 1} members"):
        packed_model().fit(X, y, loss=losses.EachMember("mse", K), optimizer="adam",
                           callbacks=[stopper], verbose=0)  # fmt: skip


# --- pack, packable, unpacked -----------------------------------------------------------------


def test_pack_unpacked_predicts_the_members_mean_and_survives_a_file(tmp_path):
    stack = mlp(l2=0.01)
    stack.insert(2, snn.Dropout(0.2))
    net = pack(stack, K)
    assert [type(layer).__name__ for layer in net] == [
        "PackedDense", "ReLU", "Dropout", "PackedDense", "ReLU", "PackedDense",
    ]  # fmt: skip
    assert [layer.shared_input for layer in net if isinstance(layer, PackedDense)] == [
        True, False, False,
    ]  # fmt: skip
    model = snn.Sequential(net, seed=1, dtype="float64")
    X = np.random.default_rng(14).normal(size=(30, 3)) * 2 + 1
    out = model.predict(X)
    assert out.shape == (30, K, 2)
    ensemble = snn.Sequential(unpacked(model.layers), dtype="float64")
    [average] = ensemble.layers
    assert isinstance(average, Average) and len(average.layers) == K
    for k, chain in enumerate(average.layers):
        assert isinstance(chain, Chain)
        kinds = [type(layer).__name__ for layer in chain.layers]
        assert kinds == ["Dense", "ReLU", "Dropout", "Dense", "ReLU", "Dense"]
        np.testing.assert_array_equal(chain.layers[0].params["W"], net[0].params["W"][k])
        np.testing.assert_array_equal(chain.layers[3].params["W"], net[3].params["W"][k])
        np.testing.assert_array_equal(chain.layers[5].params["b"], net[5].params["b"][k])
    np.testing.assert_allclose(ensemble.predict(X), out.mean(axis=1), rtol=1e-12, atol=1e-14)
    path = tmp_path / "ensemble.npz"
    ensemble.save(path)
    again = snn.load(path)
    np.testing.assert_array_equal(again.predict(X), ensemble.predict(X))
    model.save(tmp_path / "packed.npz")  # the packed model is a file of its own too
    np.testing.assert_array_equal(snn.load(tmp_path / "packed.npz").predict(X), out)


def test_unpacked_with_a_shared_front_layer_makes_a_model(tmp_path):
    """pack keeps the layers before the first Dense (a Standardize) shared; the unpacked
    layers of the trained packed model must make a model of their own, as without them."""
    front = snn.Standardize(3)
    model = snn.Sequential(pack([front, *mlp()], K), seed=1, dtype="float64")
    X = np.random.default_rng(16).normal(size=(20, 3)) * 2 + 1
    front.adapt(X)
    out = model.predict(X)
    ensemble = snn.Sequential(unpacked(model.layers), dtype="float64")
    assert [type(layer).__name__ for layer in ensemble.layers] == ["Standardize", "Average"]
    np.testing.assert_allclose(ensemble.predict(X), out.mean(axis=1), rtol=1e-12, atol=1e-14)
    ensemble.save(tmp_path / "front.npz")
    np.testing.assert_array_equal(snn.load(tmp_path / "front.npz").predict(X), ensemble.predict(X))


def test_pack_refuses_what_acts_across_features():
    with_norm = [snn.Dense(3, 4), snn.BatchNorm1d(4), snn.ReLU(), snn.Dense(4, 1)]
    assert "BatchNorm1d" in packable(with_norm)
    with pytest.raises(ValueError, match="cannot be packed: it holds BatchNorm1d"):
        pack(with_norm, K)
    assert "no Dense" in packable([snn.Standardize(3)])
    assert "activation" in packable([snn.Dense(3, 4, activation="relu"), snn.Dense(4, 1)])
    assert "L1" in packable([snn.Dense(3, 4, l1=0.1)])
    assert packable(mlp()) is None
    assert packable([snn.BatchNorm1d(3), *mlp()]) is None  # before the first Dense: shared


def test_an_explicit_init_wins_over_the_models_hint():
    """Dense keeps its own ``init`` whatever hint the model passes; so must PackedDense (and so
    a packed Dense(init=...) keeps it)."""
    dense = snn.Dense(3, 4, init="zeros")
    dense.build(np.random.default_rng(0), np.float64, init_hint="he_uniform")
    assert not dense.params["W"].any()
    layer = PackedDense(3, 4, K, shared_input=True, init="zeros")
    layer.build(np.random.default_rng(0), np.float64, init_hint="he_uniform")
    assert not layer.params["W"].any(), "init='zeros' was overridden by the hint"


def test_auto_init_draws_each_member_apart_and_config_round_trips():
    layer = built(PackedDense(6, 5, K, init="auto", l2=0.5))
    W = layer.params["W"]
    assert W.shape == (K, 6, 5) and layer.params["b"].shape == (K, 5)
    assert not np.array_equal(W[0], W[1]) and not np.array_equal(W[1], W[2])
    config = layer.get_config()
    assert config == {"in_features": 6, "out_features": 5, "members": K,
                      "shared_input": False, "init": "auto", "l2": 0.5}  # fmt: skip
    assert PackedDense.from_config(config).get_config() == config
    for bad in ({"members": 0}, {"l2": -1.0}, {"init": "no_such_init"}):
        with pytest.raises((ValueError, KeyError)):
            PackedDense(3, 2, **{"members": 2, **bad})


# --- the table CLI ---------------------------------------------------------------------------


def table(tmp_path, task: str) -> str:
    rng = np.random.default_rng(15)
    X = rng.normal(size=(200, 3))
    if task == "regression":
        target = [f"{v:.4f}" for v in X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=200)]
    else:
        target = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    path = tmp_path / f"{task}.csv"
    lines = [
        "a,b,c,y",
        *(",".join([*(f"{v:.4f}" for v in r), t]) for r, t in zip(X, target, strict=True)),
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def weights_of(model: snn.Sequential) -> np.ndarray:
    return model.parameters().flat.value.copy()


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_cli_trains_the_default_ensemble_packed_and_saves_the_average(tmp_path, task):
    path = table(tmp_path, task)
    code, out, err = run("train", path, "--target", "y", "--out", tmp_path / "a.npz", "--seed", 3)
    assert code == 0, err
    assert "side by side" in out and "PackedDense" in out
    model = snn.load(tmp_path / "a.npz")
    first = model.layers[0]
    assert isinstance(first, Average) and len(first.layers) == 3
    assert all(isinstance(member, Chain) for member in first.layers)
    assert all(not isinstance(layer, PackedDense) for c in first.layers for layer in c.layers)
    if task == "regression":  # the same seed, the same bits
        code, _, err = run("train", path, "--target", "y", "--out", tmp_path / "b.npz",
                           "--seed", 3)  # fmt: skip
        assert code == 0, err
        again = snn.load(tmp_path / "b.npz")
        np.testing.assert_array_equal(weights_of(model), weights_of(again))
        members = first.layers
        assert not np.array_equal(
            members[0].layers[0].params["W"], members[1].layers[0].params["W"]
        )


def test_cli_packed_ensemble_with_the_plateau_schedule(tmp_path):
    """--schedule plateau monitors val_loss; the packed ensemble's validation losses (its
    members' own validation parts) must feed it, as the single network's do."""
    path = table(tmp_path, "regression")
    code, out, err = run("train", path, "--target", "y", "--out", tmp_path / "p.npz",
                         "--seed", 1, "--schedule", "plateau", "--epochs", 15)  # fmt: skip
    assert code == 0, err
    assert "side by side" in out
    assert isinstance(snn.load(tmp_path / "p.npz").layers[0], Average)


def test_member_weights_hold_out_a_different_part_per_member():
    from scratchnn.cli.tabular import member_weights

    w = member_weights(50, 4, 0.2, seed=5)
    assert w.shape == (50, 4) and set(np.unique(w)) == {0.0, 1.0}
    assert (w == 0).sum(axis=0).tolist() == [10] * 4
    assert len({tuple(np.flatnonzero(w[:, k] == 0)) for k in range(4)}) == 4
    np.testing.assert_array_equal(w, member_weights(50, 4, 0.2, seed=5))
    assert not np.array_equal(w, member_weights(50, 4, 0.2, seed=6))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own-input"])
def test_onnx_export_matches_predict(shared, dtype, tmp_path):
    """A packed model exports as MatMul over the members' stacked weights: onnxruntime's
    (batch, K, outputs) equals predict's at several batch sizes and both ends of the opsets."""
    pytest.importorskip("onnx", reason="ONNX export is an optional extra: scratchnn[onnx]")
    ort = pytest.importorskip("onnxruntime", reason="the ONNX extra: scratchnn[onnx]")
    from scratchnn.onnx import MIN_OPSET, default_opset

    rng = np.random.default_rng(3)
    stack = [PackedDense(4, 6, K, shared_input=True), snn.ReLU(), PackedDense(6, 2, K)]
    if not shared:  # an input already split per member: (batch, K, 4)
        stack = [PackedDense(4, 6, K), snn.Tanh(), PackedDense(6, 2, K)]
    model = snn.Sequential(stack, seed=0, dtype=dtype)
    X = rng.normal(size=(64, 4) if shared else (64, K, 4)) * 3
    model.fit(X, rng.normal(size=(64, 2)), loss=losses.EachMember("mse", K), optimizer="adam",
              epochs=2, batch_size=16, verbose=0)  # fmt: skip
    X = X.astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for opset in sorted({MIN_OPSET, default_opset()}):
        path = tmp_path / f"m{opset}.onnx"
        snn.export_onnx(model, path, opset=opset)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for n in (1, 7, 64):
            (out,) = session.run(None, {"input": X[:n]})
            assert out.shape == (n, K, 2) and out.dtype == dtype
            np.testing.assert_allclose(out, model.predict(X[:n]), rtol=tol, atol=tol)


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "own-input"])
def test_matches_the_member_by_member_reference(shared):
    """The batched products equal K textbook Dense layers (scratchnn.reference), forward and
    backward, to float64 rounding (the l2 penalty's gradient is the layer's own, added after)."""
    from scratchnn import reference

    rng = np.random.default_rng(5)
    layer = PackedDense(4, 3, K, shared_input=shared)
    layer.build(rng, np.float64)
    layer.params["b"][...] = rng.normal(size=layer.params["b"].shape)
    slow = reference.PackedDense(layer.params["W"], layer.params["b"], shared_input=shared)
    x = rng.normal(size=(6, 4) if shared else (6, K, 4))
    g = rng.normal(size=(6, K, 3))
    np.testing.assert_allclose(layer.forward(x), slow.forward(x), rtol=1e-12, atol=1e-12)
    dx = layer.backward(g)
    np.testing.assert_allclose(dx, slow.backward(g), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], slow.dW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], slow.db, rtol=1e-12, atol=1e-12)


def test_trace_step_and_summary():
    """trace_step records the packed layers' (batch, K, ...) arrays and leaves the model as it
    was; summary shows the members' axis and counts every member's parameters."""
    model = snn.Sequential(
        [PackedDense(3, 5, K, shared_input=True), snn.ReLU(), PackedDense(5, 2, K)],
        seed=0, dtype=np.float64,
    )  # fmt: skip
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    before = model.get_weights()
    trace = snn.trace_step(model, X, y, losses.EachMember("mse", K), snn.optim.SGD(lr=0.1))
    first, last = trace.layers[0], trace.layers[2]
    assert first.input.shape == (7, 3) and first.output.shape == (7, K, 5)
    assert first.grads["W"].shape == (K, 3, 5) and first.grad_input.shape == (7, 3)
    assert last.grad_output.shape == (7, K, 2) and last.updates["b"].shape == (K, 2)
    assert np.array_equal(model.get_weights(), before)  # a trace leaves the model as it was
    table = model.summary()
    assert f"(None, {K}, 5)" in table and f"(None, {K}, 2)" in table
    assert f"Total parameters: {K * (3 * 5 + 5) + K * (5 * 2 + 2)}" in table


def test_a_packed_model_trains_on_two_threads_as_on_one(rng):
    """Sharding a packed model: its L2 counted once, the members' (batch, K) weights split
    with the rows; the weights equal one thread's."""
    X = rng.normal(size=(90, 4))
    y = rng.normal(size=(90, 1))
    weights = rng.integers(0, 2, size=(90, 3)).astype(float)

    def trained(threads: int) -> snn.Sequential:
        stack = [PackedDense(4, 16, 3, shared_input=True, l2=1e-2), snn.ReLU(),
                 PackedDense(16, 1, 3, l2=1e-2)]  # fmt: skip
        model = snn.Sequential(stack, seed=2, dtype=np.float64)
        model.fit(X, y, sample_weight=weights, loss=losses.EachMember("mse", 3),
                  optimizer="adam", epochs=3, batch_size=32, verbose=0,
                  threads=threads)  # fmt: skip
        return model

    one, two = trained(1), trained(2)
    assert two.history.threads.threads == 2
    np.testing.assert_allclose(weights_of(two), weights_of(one), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(two.history["loss"], one.history["loss"], rtol=1e-12)


def test_cli_table_takes_a_thread_count(tmp_path):
    """--threads reaches a table's packed fit (it was ignored there); the default keeps a
    small table's steps on one thread, where sharing them does not pay."""
    path = table(tmp_path, "regression")
    code, _, err = run("train", path, "--target", "y", "--out", tmp_path / "t.npz",
                       "--threads", 2)  # fmt: skip
    assert code == 0, err
    assert snn.load(tmp_path / "t.npz").metadata["training"]["threads"] == 2
    code, _, err = run("train", path, "--target", "y", "--out", tmp_path / "d.npz")
    assert code == 0, err
    assert snn.load(tmp_path / "d.npz").metadata["training"]["threads"] == 1
