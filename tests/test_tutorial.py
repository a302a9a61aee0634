"""The learner's path: the classic tutorial, written from its text alone in plain NumPy,
reproduced by scratchnn to 1e-10; the tutorial presets of the command line; the tutorial page.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import reference
from scratchnn.cli.main import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def learners_script(epochs: int = 10_000):
    """What a learner writes from the tutorial's text: 2-4-1 sigmoid network, standard normal
    weights, summed error, sigmoid_derivative(a), lr 0.1, 10,000 epochs, plain NumPy."""
    np.random.seed(42)  # noqa: NPY002 - the tutorial's own global seeding, on purpose

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def sigmoid_derivative(x):
        return x * (1 - x)

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([[0], [1], [1], [0]])
    W1 = np.random.randn(2, 4)  # noqa: NPY002
    b1 = np.zeros((1, 4))
    W2 = np.random.randn(4, 1)  # noqa: NPY002
    b2 = np.zeros((1, 1))
    initial = [a.copy() for a in (W1, b1, W2, b2)]
    lr = 0.1
    printed = []
    for epoch in range(epochs):
        hidden_output = sigmoid(np.dot(X, W1) + b1)
        output = sigmoid(np.dot(hidden_output, W2) + b2)
        error = y - output
        d_output = error * sigmoid_derivative(output)
        error_hidden = d_output.dot(W2.T)
        d_hidden = error_hidden * sigmoid_derivative(hidden_output)
        W2 += hidden_output.T.dot(d_output) * lr
        b2 += np.sum(d_output, axis=0, keepdims=True) * lr
        W1 += X.T.dot(d_hidden) * lr
        b1 += np.sum(d_hidden, axis=0, keepdims=True) * lr
        if epoch % 1000 == 0:
            printed.append(np.mean(np.square(y - output)))
            print(f"Epoch {epoch}, Loss: {printed[-1]}")
    return initial, printed, (W1, b1, W2, b2)


def test_the_learners_script_switched_to_scratchnn_prints_the_same_losses(capsys):
    (W1, b1, W2, b2), printed, final = learners_script()
    # The switch, as the README's tutorial section writes it.
    X, y = snn.datasets.xor(np.float64)
    model = snn.Sequential(
        [snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()], dtype=np.float64
    )
    model.layers[0].params["W"] = W1  # the tutorial's starting weights, copied in
    model.layers[0].params["b"] = b1.ravel()
    model.layers[2].params["W"] = W2
    model.layers[2].params["b"] = b2.ravel()
    history = model.fit(
        X,
        y,
        loss=snn.losses.MSE(reduction="sum"),  # the tutorial's summed error (×2)
        optimizer=snn.optim.SGD(lr=0.1 / 2),  # so the tutorial's lr 0.1 becomes 0.05
        epochs=10_000,
        batch_size=None,
        shuffle=False,
        metrics=["mse"],  # the mean squared error the tutorial prints
        verbose=0,
    )
    ours = history["mse"][::1000]
    assert len(ours) == len(printed) == 10
    np.testing.assert_allclose(ours, printed, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[0].params["W"], final[0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[2].params["b"], final[3].ravel(), rtol=0, atol=1e-10)
    assert printed[-1] < 0.01  # and the tutorial's network did learn XOR
    assert "Epoch 9000, Loss: " in capsys.readouterr().out


def test_the_preset_equals_the_tutorials_own_loop_after_10000_epochs():
    setup = reference.tutorial_setup(seed=3)
    W1, W2 = (setup.model.layers[i].params["W"].copy() for i in (0, 2))
    b1, b2 = np.zeros((1, 4)), np.zeros((1, 1))
    X, y = snn.datasets.xor(np.float64)
    expected = reference.tutorial_xor(X, y, W1, b1, W2, b2, lr=reference.TUTORIAL_LR)
    history = setup.model.fit(
        X, y, loss=setup.loss, optimizer=setup.optimizer, verbose=0, **setup.fit_kwargs
    )
    np.testing.assert_allclose(history["mse"], expected, rtol=0, atol=1e-10)
    for index, (W, b) in zip((0, 2), ((W1, b1), (W2, b2)), strict=True):
        np.testing.assert_allclose(setup.model.layers[index].params["W"], W, atol=1e-10)
        np.testing.assert_allclose(setup.model.layers[index].params["b"], b.ravel(), atol=1e-10)


def test_demo_xor_preset_prints_the_tutorials_losses(capsys, tmp_path):
    assert main(["demo", "xor", "--preset", "tutorial", "--plot", str(tmp_path / "b.png")]) == 0
    out = capsys.readouterr().out
    losses = [float(v) for v in re.findall(r"Epoch \d+, Loss: (\S+)", out)]
    setup = reference.tutorial_setup(seed=0)
    W1, W2 = (setup.model.layers[i].params["W"].copy() for i in (0, 2))
    X, y = snn.datasets.xor(np.float64)
    expected = reference.tutorial_xor(X, y, W1, np.zeros((1, 4)), W2, np.zeros((1, 1)))
    np.testing.assert_allclose(losses, expected[::1000], rtol=0, atol=1e-10)
    assert "SGD(lr=0.05) on MSE(reduction='sum')" in out
    assert "XOR learned." in out
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_xor_quiet_prints_no_progress(capsys):
    assert main(["demo", "xor", "--epochs", "500", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "epoch" not in out.lower().replace("--epochs", "")
    assert "input    output  target" in out


def test_demo_preset_is_refused_where_it_does_not_apply(capsys):
    assert main(["demo", "spirals", "--preset", "tutorial"]) == 1
    assert "use it with 'demo xor'" in capsys.readouterr().err


def test_train_preset_sets_the_tutorials_settings(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "xor", "--preset", "tutorial", "--epochs", "20", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "the tutorial's lr 0.1 on its summed error ½ Σ (y − a)² is lr 0.2" in out
    model = snn.load(tmp_path / "model.npz")
    assert isinstance(model.optimizer, snn.optim.SGD) and model.optimizer.lr == pytest.approx(0.2)
    assert isinstance(model.loss, snn.losses.MSE)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "Sigmoid", "Dense", "Sigmoid"]
    assert "N(0, 1) initial weights" in out
    assert [model.layers[i].init for i in (0, 2)] == ["standard_normal", "standard_normal"]


def test_explain_prints_the_tutorials_variables(capsys):
    assert main(["explain", "xor", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("=== step") == 2
    setup = reference.tutorial_setup(seed=0)
    X, y = snn.datasets.xor(np.float64)
    W1, W2 = (setup.model.layers[i].params["W"] for i in (0, 2))
    hidden = reference.sigmoid(X @ W1)
    output = reference.sigmoid(hidden @ W2)
    d_output = (y - output) * reference.sigmoid_derivative(output)
    first_step = out.split("=== step 2")[0]
    assert "d_output (δ2) = error ⊙ a2 ⊙ (1 − a2)   (4, 1)" in first_step
    for value in d_output.ravel():
        assert f"{value:.4f}" in first_step
    assert "the tutorial's η = 0.1" in first_step


def test_explain_refuses_other_data(capsys):
    with pytest.raises(SystemExit):
        main(["explain", "moons"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
def test_every_example_of_the_tutorial_page_runs(capsys):
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```python[^\n]*\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), namespace)  # our own page
    assert capsys.readouterr().out


def test_explain_in_scratchnns_convention_shows_the_mean_loss_gradient(capsys):
    assert main(["explain", "--convention", "scratchnn"]) == 0
    out = capsys.readouterr().out
    assert "optimizer SGD(lr=0.2)" in out  # the tutorial's 0.1 on the mean over 4 rows
    assert "δ2 = ∂L/∂z2 = ∂L/∂a2 ⊙ a2 ⊙ (1 − a2)   (4, 1)" in out
    assert "the tutorial's η = 0.1" in out
