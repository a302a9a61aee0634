"""layers/packed.py's PackedPeriodicEmbedding (K periodic embeddings side by side, one per
ensemble member) and the table CLI's ``--numeric-embedding auto``: central differences in
float64, K separate PeriodicEmbedding layers, the loop-by-loop reference and PyTorch as
oracles; pack/unpacked, early stopping per member, two threads, files, ONNX and the CLI's
choice between the embedded and the plain ensemble."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scratchnn as snn
from _cli import run
from oracles import central_differences
from scratchnn import losses, reference
from scratchnn.callbacks import EarlyStoppingEachMember
from scratchnn.layers import Average, PackedDense, PackedPeriodicEmbedding, PeriodicEmbedding
from scratchnn.layers.packed import pack, unpacked

K = 3


def embedding(numeric: int = 3, keep_inputs: bool = False, seed: int = 0, order: str = "blocks"):
    """A float64 PackedPeriodicEmbedding of 5 features, 4 frequencies, K members."""
    layer = PackedPeriodicEmbedding(
        5, numeric, 4, members=K, sigma=0.7, keep_inputs=keep_inputs, order=order
    )
    layer.build(np.random.default_rng(seed), np.float64)
    return layer


def network(numeric: int = 3, keep_inputs: bool = True, seed: int = 0) -> snn.Sequential:
    """PeriodicEmbedding -> Dense -> ReLU -> Dense(2), packed K times."""
    front = PeriodicEmbedding(5, numeric, 4, sigma=0.7, keep_inputs=keep_inputs)
    stack = [front, snn.Dense(front.out_features, 6), snn.ReLU(), snn.Dense(6, 2)]
    return snn.Sequential(pack(stack, K), seed=seed, dtype=np.float64)


def data(rows: int = 40, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5))
    return X, np.stack([np.sin(2 * X[:, 0]), X[:, 1] * X[:, 3]], axis=1)


@pytest.mark.parametrize("order", ["blocks", "features"])
@pytest.mark.parametrize("keep_inputs", [False, True], ids=["rest", "keep-inputs"])
@pytest.mark.parametrize("numeric", [5, 3])
def test_central_differences_of_the_layer(numeric, keep_inputs, order):
    """∂L/∂C and ∂L/∂x of L = Σ g·y against central differences, float64."""
    layer = embedding(numeric, keep_inputs, order=order)
    x = np.random.default_rng(2).normal(size=(6, 5))
    g = np.random.default_rng(3).normal(size=(6, K, layer.out_features))
    layer.forward(x)
    grad_x = layer.backward(g)

    def loss() -> float:
        return float(np.sum(layer.forward(x) * g))

    np.testing.assert_allclose(
        layer.grads["C"], central_differences(loss, layer.params["C"], 1e-6), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(grad_x, central_differences(loss, x, 1e-6), rtol=1e-6, atol=1e-8)
    assert layer.backward(g, input_grad=False) is None  # a first layer skips ∂L/∂x


@pytest.mark.parametrize("order", ["blocks", "features"])
@pytest.mark.parametrize("keep_inputs", [False, True], ids=["rest", "keep-inputs"])
def test_equals_k_periodic_embeddings_and_the_reference(keep_inputs, order):
    """Member k's slice of the output (in PeriodicEmbedding's order: feature_order), its
    ∂L/∂C_k and its share of ∂L/∂x are those of one PeriodicEmbedding with C_k (and of the
    loop-by-loop reference); the input gradient sums the members'."""
    layer = embedding(3, keep_inputs, order=order)
    x = np.random.default_rng(2).normal(size=(6, 5)) * 2
    g = np.random.default_rng(3).normal(size=(6, K, layer.out_features))
    y = layer.forward(x)
    assert y.shape == (6, K, 2 * 4 * 3 + (5 if keep_inputs else 2))
    grad_x = layer.backward(g)
    total = np.zeros_like(x)
    index = layer.feature_order()
    assert sorted(index) == list(range(layer.out_features))
    assert (order == "features") == (index == np.arange(layer.out_features)).all()
    for k in range(K):
        one = layer.member(k)
        slow = reference.PeriodicEmbedding(layer.params["C"][k], 5, keep_inputs)
        np.testing.assert_allclose(y[:, k][:, index], one.forward(x), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(y[:, k][:, index], slow.forward(x), rtol=1e-12, atol=1e-13)
        total += slow.backward(g[:, k][:, index])
        np.testing.assert_allclose(layer.grads["C"][k], slow.dC, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, total, rtol=1e-10, atol=1e-12)


def test_values_gradients_and_adam_steps_match_torch():
    """K embedded MLPs in PyTorch, written from the formula with the same weights: the packed
    model's loss, gradients and eight Adam steps match."""
    torch = pytest.importorskip("torch")
    model = network(numeric=5)
    embed, first, _, last = model.layers
    C = torch.tensor(embed.params["C"].copy(), requires_grad=True)
    weights = [
        torch.tensor(layer.params[name].copy(), requires_grad=True)
        for layer in (first, last)
        for name in ("W", "b")
    ]
    X, y = data(24)
    X_t, y_t = torch.tensor(X), torch.tensor(y)

    def torch_loss():
        a = (2 * torch.pi * X_t[None, :, :, None] * C[:, None]).reshape(K, len(X), -1)
        waves = torch.cat([torch.sin(a), torch.cos(a)], dim=2)  # all sines, then all cosines
        inputs = torch.cat([waves, X_t[None].expand(K, -1, -1)], dim=2)
        hidden = torch.relu(inputs @ weights[0] + weights[1][:, None])
        out = hidden @ weights[2] + weights[3][:, None]  # (K, batch, 2)
        return sum(torch.mean((out[k] - y_t) ** 2) for k in range(K))

    loss = losses.EachMember("mse", K)
    optimizer = snn.optim.Adam(lr=0.02)
    optimizer_t = torch.optim.Adam([C, *weights], lr=0.02)
    for step in range(8):
        value = loss(model.forward(X, training=True), y)
        model.backward(loss.backward())
        optimizer_t.zero_grad()
        value_t = torch_loss()
        value_t.backward()
        np.testing.assert_allclose(value, value_t.item(), rtol=1e-10, err_msg=f"step {step}")
        np.testing.assert_allclose(embed.grads["C"], C.grad.numpy(), rtol=1e-8, atol=1e-10)
        optimizer.step(model.parameters())
        optimizer_t.step()
    np.testing.assert_allclose(embed.params["C"], C.detach().numpy(), rtol=1e-8, atol=1e-10)


def test_pack_gives_each_member_its_embedding_and_unpacked_predicts_the_mean(tmp_path):
    """pack() makes the PeriodicEmbedding a PackedPeriodicEmbedding and the first PackedDense
    reads each member's own rows; unpacked() starts each member's chain with its own
    PeriodicEmbedding, predicts the members' mean and survives a file."""
    model = network()
    embed, first = model.layers[:2]
    assert isinstance(embed, PackedPeriodicEmbedding) and embed.keep_inputs
    assert isinstance(first, PackedDense) and not first.shared_input
    X, y = data()
    model.fit(X, y, loss=losses.EachMember("mse", K), optimizer="adam", epochs=3,
              batch_size=8, verbose=0)  # fmt: skip
    ensemble = snn.Sequential(unpacked(model.layers), seed=0, dtype=np.float64)
    [average] = ensemble.layers
    assert isinstance(average, Average)
    for k, chain in enumerate(average.sublayers()):
        assert isinstance(chain.layers[0], PeriodicEmbedding)
        np.testing.assert_array_equal(chain.layers[0].params["C"], embed.params["C"][k])
    np.testing.assert_allclose(ensemble.predict(X), model.predict(X).mean(axis=1), atol=1e-12)
    ensemble.save(tmp_path / "e.npz")
    np.testing.assert_allclose(snn.load(tmp_path / "e.npz").predict(X), ensemble.predict(X))
    model.save(tmp_path / "p.npz")  # the packed model itself, as a layer config and weights
    np.testing.assert_array_equal(snn.load(tmp_path / "p.npz").predict(X), model.predict(X))


def test_a_seed_starts_the_same_network_in_either_order():
    """pack() draws the first Dense layer's rows where the unpacked member's layer has them,
    so the blocks order changes the arithmetic's layout, not the network a seed starts."""
    X, _ = data()
    blocks = network(seed=5)
    config = blocks.get_config()
    config["layers"][0]["config"]["order"] = "features"  # (its layers draw in order)
    features = snn.Sequential.from_config(config)
    assert blocks.layers[0].order == "blocks" and features.layers[0].order == "features"
    np.testing.assert_allclose(blocks.predict(X), features.predict(X), rtol=1e-12, atol=1e-13)
    index = blocks.layers[0].feature_order()
    np.testing.assert_array_equal(blocks.layers[1].params["W"][:, index],
                                  features.layers[1].params["W"])  # fmt: skip


def test_a_config_without_an_order_keeps_periodic_embeddings_order(tmp_path):
    """A packed embedding saved before the blocks order (its config has no "order") loads in
    PeriodicEmbedding's order, so the weights after it still read the features they were
    trained on: the same predictions from the file, and its members' outputs as they were."""
    model = network()
    old = model.get_config()
    old["layers"][0]["config"]["order"] = "features"
    model = snn.Sequential.from_config(old)
    X, _ = data()
    expected = model.predict(X)
    model.save(tmp_path / "old.npz")
    with np.load(tmp_path / "old.npz") as archive:  # written as an older scratchnn wrote it
        arrays = dict(archive)
    metadata = json.loads(bytes(arrays["__metadata__"]).decode())
    del metadata["model"]["layers"][0]["config"]["order"]
    arrays["__metadata__"] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(tmp_path / "before.npz", **arrays)
    loaded = snn.load(tmp_path / "before.npz")
    assert loaded.layers[0].order == "features"
    np.testing.assert_array_equal(loaded.predict(X), expected)
    embed = loaded.layers[0]
    for k in range(K):
        np.testing.assert_allclose(embed.forward(X)[:, k], embed.member(k).forward(X))


def test_early_stopping_each_member_restores_each_members_frequencies():
    """A member kept at its best epoch gets that epoch's frequencies back with its Dense
    weights: the embedding is part of the member, not shared."""
    model = network()
    X, y = data(60)
    weights = np.ones((60, K))
    for k in range(K):
        weights[k * 10 : k * 10 + 10, k] = 0  # each member holds out ten rows of its own
    held = (weights == 0).any(axis=1)
    stopper = EarlyStoppingEachMember(X[held], y[held], 1 - weights[held], losses.MSE(), 2)
    snapshots = []
    model.fit(X, y, sample_weight=weights, loss=losses.EachMember("mse", K),
              optimizer=snn.optim.Adam(0.01), epochs=25, batch_size=10, verbose=0,
              callbacks=[stopper,
              snn.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(
                  model.layers[0].params["C"].copy()))])  # fmt: skip
    assert len(set(stopper.best_epochs)) > 1  # the members stopped apart
    for k, best in enumerate(stopper.best_epochs):
        np.testing.assert_array_equal(model.layers[0].params["C"][k], snapshots[best][k])
        assert (
            not np.array_equal(snapshots[-1][k], snapshots[best][k]) or best == len(snapshots) - 1
        )  # a member kept before the last epoch got older frequencies back


def test_two_threads_train_as_one():
    """Sharding a packed embedded model over two threads gives one thread's weights."""

    def trained(threads: int) -> snn.Sequential:
        model = network(seed=4)
        X, y = data(64)
        model.fit(X, y, loss=losses.EachMember("mse", K), optimizer="adam", epochs=3,
                  batch_size=32, verbose=0, threads=threads)  # fmt: skip
        return model

    one, two = trained(1), trained(2)
    assert two.history.threads.threads == 2
    for a, b in zip(one.get_weights(), two.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_trace_step_summary_and_config():
    model = network(numeric=5)
    X, y = data(7)
    trace = snn.trace_step(model, X, y, losses.EachMember("mse", K), snn.optim.SGD(lr=0.1))
    first = trace.layers[0]
    assert first.output.shape == (7, K, 2 * 4 * 5 + 5) and first.grads["C"].shape == (K, 5, 4)
    table = model.summary()
    assert f"(None, {K}, 45)" in table and "PackedPeriodicEmbedding" in table
    config = model.layers[0].get_config()
    assert PackedPeriodicEmbedding.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="numeric"):
        PackedPeriodicEmbedding(3, numeric=4, members=2)
    with pytest.raises(ValueError, match=r"order must be one of \('blocks', 'features'\)"):
        PackedPeriodicEmbedding(3, members=2, order="rows")


def test_pack_refuses_a_layer_across_features_after_the_embedding():
    """Each member's layers run from its embedding on: a Standardize between the embedding
    and the first Dense would be rebuilt unfitted in every member, so pack refuses it and says
    where it may go; before the embedding it stays shared."""
    embed = PeriodicEmbedding(3, 3, 2)
    with pytest.raises(ValueError, match="Standardize comes between the PeriodicEmbedding"):
        pack([embed, snn.Standardize(12), snn.Dense(12, 2)], K)
    front = [snn.Standardize(3), PeriodicEmbedding(3, 3, 2), snn.Dense(12, 2)]
    assert [type(layer).__name__ for layer in pack(front, K)] == [
        "Standardize", "PackedPeriodicEmbedding", "PackedDense",
    ]  # fmt: skip


@pytest.mark.parametrize("numeric", [5, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["blocks", "features"])
def test_onnx_export_matches_predict(numeric, dtype, order, tmp_path):
    """The packed model (in either order) and its unpacked ensemble both export:
    onnxruntime's outputs equal predict's at several batch sizes and both ends of the
    opsets."""
    pytest.importorskip("onnx", reason="ONNX export is an optional extra: scratchnn[onnx]")
    ort = pytest.importorskip("onnxruntime", reason="the ONNX extra: scratchnn[onnx]")
    from scratchnn.onnx import MIN_OPSET, default_opset

    front = PeriodicEmbedding(5, numeric, 4, sigma=0.7, keep_inputs=numeric == 3)
    stack = [front, snn.Dense(front.out_features, 6), snn.ReLU(), snn.Dense(6, 2)]
    packed = pack(stack, K)
    packed[0].order = order
    model = snn.Sequential(packed, seed=0, dtype=dtype)
    X, y = data(32)
    model.fit(X, y, loss=losses.EachMember("mse", K), optimizer="adam", epochs=2, batch_size=8,
              verbose=0)  # fmt: skip
    ensemble = snn.Sequential(unpacked(model.layers), seed=0, dtype=dtype)
    X = X.astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for which, net in (("packed", model), ("ensemble", ensemble)):
        for opset in sorted({MIN_OPSET, default_opset()}):
            path = tmp_path / f"{which}{opset}.onnx"
            snn.export_onnx(net, path, opset=opset)
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            for n in (1, 7):
                (out,) = session.run(None, {"input": X[:n]})
                np.testing.assert_allclose(out, net.predict(X[:n]), rtol=tol, atol=tol)


# --- the table CLI: --numeric-embedding auto ------------------------------------------------


def rings(tmp_path, rows: int = 240) -> str:
    """A classification table whose class is a ring in one numeric column: a periodic
    embedding's kind of signal, with a category and a noise column beside it."""
    rng = np.random.default_rng(0)
    r = rng.uniform(-3, 3, rows)
    noise = rng.normal(size=rows)
    kind = np.where(np.sin(3 * r) > 0, "in", "out")
    colour = rng.choice(["red", "blue"], rows)
    lines = ["r,noise,colour,kind"] + [
        f"{a:.4f},{b:.4f},{c},{d}" for a, b, c, d in zip(r, noise, colour, kind, strict=True)
    ]
    path = tmp_path / "rings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_auto_fits_both_and_keeps_the_lower_validation_loss(tmp_path):
    path = rings(tmp_path)
    code, out, err = run("train", path, "--target", "kind", "--out", tmp_path / "a.npz")
    assert code == 0, err
    assert "Numeric embedding: auto: the ensemble is fitted twice" in out
    assert "Fitting the ensemble with the periodic embedding:" in out
    assert "Fitting the ensemble without the periodic embedding:" in out
    training = snn.load(tmp_path / "a.npz").metadata["training"]
    compared = training["numeric_embedding_losses"]
    assert set(compared) == {"periodic", "none"}
    assert training["numeric_embedding"] == min(compared, key=compared.get) == "periodic"
    assert "Numeric embedding kept: periodic (the members' validation loss" in out
    [average] = snn.load(tmp_path / "a.npz").layers
    assert all(isinstance(chain.layers[0], PeriodicEmbedding) for chain in average.sublayers())
    # the same seed gives the same choice and the same file's predictions
    code, _, err = run("train", path, "--target", "kind", "--out", tmp_path / "b.npz")
    assert code == 0, err
    rng = np.random.default_rng(5)
    X = {"r": rng.uniform(-3, 3, 9), "noise": rng.normal(size=9), "colour": ["red"] * 9}
    first, again = snn.load(tmp_path / "a.npz"), snn.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(first.predict(X), again.predict(X))


def test_cli_defaults_by_task_and_the_explicit_choices(tmp_path):
    """Regression keeps the plain network by default; --numeric-embedding periodic and none
    fit once, and auto with one network (no packed ensemble) says it builds none."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    lines = ["a,b,c,y"] + [f"{a:.4f},{b:.4f},{c:.4f},{a + 2 * b:.4f}" for a, b, c in X]
    (tmp_path / "reg.csv").write_text("\n".join(lines) + "\n")
    code, out, err = run("train", tmp_path / "reg.csv", "--target", "y", "--out",
                         tmp_path / "r.npz")  # fmt: skip
    assert code == 0, err
    assert "Numeric embedding" not in out and "Fitting the ensemble" not in out
    training = snn.load(tmp_path / "r.npz").metadata["training"]
    assert training["numeric_embedding"] == "none" and training["numeric_embedding_losses"] is None
    path = rings(tmp_path)
    for choice in ("periodic", "none"):
        code, out, err = run("train", path, "--target", "kind", "--numeric-embedding", choice,
                             "--out", tmp_path / f"{choice}.npz")  # fmt: skip
        assert code == 0, err
        assert "Fitting the ensemble" not in out
        assert snn.load(tmp_path / f"{choice}.npz").metadata["training"]["numeric_embedding"] == (
            choice
        )
    code, out, err = run("train", path, "--target", "kind", "--ensemble", 1, "--out",
                         tmp_path / "one.npz")  # fmt: skip
    assert code == 0, err
    assert "Numeric embedding: none (auto compares the two only in a packed ensemble" in out


def test_trailing_stops_a_fit_that_stays_behind_the_reference():
    """_Trailing stops after `patience` epochs in a row whose best loss is above the
    reference's best at the same epoch, and not while it keeps up."""
    from scratchnn.cli.tabular import _Trailing

    class Model:
        stop_training = False

    def stopped_at(losses_by_epoch: list[float]) -> int | None:
        trailing = _Trailing([1.0, 0.8, 0.6, 0.5, 0.5, 0.5, 0.5], patience=3)
        trailing.model = Model()
        trailing.on_train_begin({})
        for epoch, value in enumerate(losses_by_epoch):
            trailing.on_epoch_end(epoch, {"val_data_loss": value})
            if trailing.model.stop_training:
                return epoch
        return None

    assert stopped_at([2.0, 2.0, 2.0, 2.0]) == 2  # behind from the first epoch
    assert stopped_at([0.9, 0.7, 0.55, 0.45, 0.45, 0.45, 0.45, 0.45]) is None  # keeps up
    assert stopped_at([0.9, 0.9, 0.9, 0.9, 0.4]) == 3  # behind at epochs 1-3, too late after
    assert stopped_at([0.9, 0.9, 0.4, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]) is None  # its best holds


def test_cli_auto_interrupted_in_the_plain_fit_keeps_it(tmp_path, monkeypatch):
    """Ctrl-C during the first (plain) fit saves that fit's model, as any interrupted run
    does, and does not start the embedded one."""
    import os
    import signal

    original = EarlyStoppingEachMember.on_epoch_logs

    def interrupting(self, epoch, logs):
        original(self, epoch, logs)
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(EarlyStoppingEachMember, "on_epoch_logs", interrupting)
    code, out, err = run("train", rings(tmp_path), "--target", "kind", "--out",
                         tmp_path / "i.npz")  # fmt: skip
    assert code == 0, err
    assert "Fitting the ensemble with the periodic embedding:" not in out
    assert "Numeric embedding kept: none (interrupted before the embedded fit)." in out
    training = snn.load(tmp_path / "i.npz").metadata["training"]
    assert training["numeric_embedding"] == "none" and training["epochs"] <= 3


def test_cli_auto_interrupted_in_the_embedded_fit_keeps_the_plain_one(tmp_path, monkeypatch):
    """Ctrl-C during the embedded fit keeps the finished plain fit, says so, and the run
    counts as interrupted (no not-converged check on a fit that was cut)."""
    import os
    import signal

    original = EarlyStoppingEachMember.on_epoch_logs
    fits: list[int] = []

    def interrupting(self, epoch, logs):
        original(self, epoch, logs)
        if epoch == 0:
            fits.append(id(self))
        if len(fits) == 2 and epoch == 1:  # the second fit's second epoch
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(EarlyStoppingEachMember, "on_epoch_logs", interrupting)
    code, out, err = run(
        "train", rings(tmp_path), "--target", "kind", "--out", tmp_path / "i.npz", "--jobs", 1
    )  # fmt: skip  (both fits here)
    assert code == 0, err
    assert "Fitting the ensemble with the periodic embedding:" in out
    assert "Numeric embedding kept: none (interrupted during the embedded fit)." in out
    assert "Interrupted: evaluating and saving the model as it is now." in out
    assert "may not have converged" not in err
    model = snn.load(tmp_path / "i.npz")
    assert model.metadata["training"]["numeric_embedding"] == "none"
    assert model.metadata["training"]["numeric_embedding_losses"] is None
    [average] = model.layers
    assert not any(isinstance(chain.layers[0], PeriodicEmbedding) for chain in average.sublayers())
