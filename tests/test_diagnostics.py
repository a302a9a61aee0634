"""Each of a learner's usual mistakes, made on purpose: the diagnosis names its cause and fix."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from _cli import run
from scratchnn import diagnostics
from scratchnn.diagnostics import DiagnosisWarning

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y_XOR = np.array([[0], [1], [1], [0]], dtype=np.float32)


def _classes(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)  # 3 classes


# A loss that takes probabilities, after a layer that does not give them.


def test_bce_on_a_linear_output_warns_at_fit_and_blames_the_loss_not_the_learning_rate():
    model = snn.Sequential([snn.Dense(2, 4), snn.Tanh(), snn.Dense(4, 1)], seed=0)
    with (
        pytest.warns(DiagnosisWarning, match=r"BinaryCrossEntropy\(\) takes probabilities"),
        pytest.raises(snn.TrainingDivergedError) as caught,
    ):
        model.fit(X_XOR, Y_XOR, loss="bce", optimizer=snn.optim.SGD(lr=0.5), epochs=50,
                  batch_size=None, verbose=0)  # fmt: skip
    message = str(caught.value)
    assert "The cause is the loss, not the step size" in message
    assert "the network's outputs range over [" in message
    assert "loss=BinaryCrossEntropy(from_logits=True)" in message
    assert "end the model with Sigmoid()" in message
    assert "smaller learning rate" not in message


def test_cross_entropy_from_probabilities_after_a_dense_layer_warns():
    X, y = _classes()
    model = snn.Sequential([snn.Dense(4, 3)], seed=0)
    with pytest.warns(DiagnosisWarning, match=r"or end the model with Softmax\(\)"):
        model.fit(X, y, loss=snn.losses.CrossEntropy(from_logits=False), optimizer="adam",
                  epochs=1, verbose=0)  # fmt: skip


def test_a_divergence_of_the_step_size_keeps_its_own_advice():
    # A linear regression with a huge learning rate: the outputs themselves blow up.
    X = np.random.default_rng(0).normal(size=(32, 3)) * 100
    model = snn.Sequential([snn.Dense(3, 1)], seed=0)
    with pytest.raises(snn.TrainingDivergedError) as caught:
        model.fit(X, X.sum(axis=1), loss="mse", optimizer=snn.optim.SGD(lr=10.0), epochs=50,
                  batch_size=None, verbose=0)  # fmt: skip
    assert "Try a smaller learning rate" in str(caught.value)
    assert "The cause is the loss" not in str(caught.value)


def test_divergence_advice_tells_a_mismatch_from_a_step_size_problem():
    bce = snn.losses.BinaryCrossEntropy()
    assert "The cause is the loss" in diagnostics.divergence_advice(bce, np.array([[-0.5]]))
    inside = diagnostics.divergence_advice(bce, np.array([[0.2], [np.nan]]))
    assert inside.startswith("Try a smaller learning rate")  # the outputs were not the problem
    logits = snn.losses.BinaryCrossEntropy(from_logits=True)
    assert diagnostics.divergence_advice(logits, np.array([[-5.0]])).startswith("Try a smaller")


# Squashing twice: a Softmax or Sigmoid before a loss that takes logits.


def test_a_softmax_before_cross_entropy_warns_that_it_is_applied_twice():
    X, y = _classes()
    model = snn.Sequential([snn.Dense(4, 8), snn.ReLU(), snn.Dense(8, 3), snn.Softmax()], seed=0)
    with pytest.warns(DiagnosisWarning) as caught:
        model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=1, verbose=0)
    message = str(caught[0].message)
    assert "The model ends with Softmax(), but CrossEntropy() takes logits" in message
    assert "squashed twice" in message
    assert "Remove the Softmax() layer" in message
    assert "CrossEntropy(from_logits=False)" in message


def test_a_sigmoid_inside_the_last_dense_before_bce_from_logits_warns():
    model = snn.Sequential([snn.Dense(2, 4, activation="tanh"), snn.Dense(4, 1, "sigmoid")])
    with pytest.warns(DiagnosisWarning, match=r"ends with Sigmoid\(\), but BinaryCrossEntropy"):
        model.fit(X_XOR, Y_XOR, loss=snn.losses.BinaryCrossEntropy(from_logits=True),
                  optimizer="adam", epochs=1, verbose=0)  # fmt: skip


def test_the_right_pairings_train_without_a_diagnosis():
    # pytest turns warnings into errors here, so any diagnosis would fail these fits.
    X, y = _classes()
    snn.Sequential([snn.Dense(4, 3)], seed=0).fit(
        X, y, loss="cross_entropy", optimizer="adam", epochs=1, verbose=0
    )
    snn.Sequential([snn.Dense(4, 3), snn.Softmax()], seed=0).fit(
        X, y, loss=snn.losses.CrossEntropy(from_logits=False), optimizer="adam", epochs=1,
        verbose=0,
    )  # fmt: skip
    tutorial = snn.Sequential([snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()])
    tutorial.fit(X_XOR, Y_XOR, loss="bce", optimizer="adam", epochs=1, verbose=0)
    tutorial.fit(X_XOR, Y_XOR, loss="mse", optimizer="adam", epochs=1, verbose=0)  # 0/1 targets
    soft = np.array([0.1, 0.9, 0.8, 0.2])  # probabilities as targets: what BCE takes
    snn.Sequential([snn.Dense(2, 1)]).fit(
        X_XOR, soft, loss=snn.losses.BinaryCrossEntropy(from_logits=True), optimizer="adam",
        epochs=1, verbose=0,
    )  # fmt: skip


# The other kind of loss for the targets.


def test_a_regression_loss_on_class_labels_names_cross_entropy():
    X, y = _classes()
    model = snn.Sequential([snn.Dense(4, 8), snn.ReLU(), snn.Dense(8, 3)], seed=0)
    with pytest.raises(ValueError) as caught:
        model.fit(X, y, loss="mse", optimizer="adam", epochs=1, verbose=0)
    message = str(caught.value)
    assert message.startswith("y has shape (60,), but the model has 3 output(s)")  # the loss's
    assert "MSE() is a regression loss, and y holds whole numbers (3 distinct values" in message
    assert "if these are class labels, use loss='cross_entropy'" in message
    assert model.epochs_trained == 0


def test_a_classification_loss_on_continuous_targets_names_mse():
    X, _ = _classes()
    prices = X[:, 0] * 3.3 + 10
    model = snn.Sequential([snn.Dense(4, 3)], seed=0)
    with pytest.raises(ValueError) as caught:
        model.fit(X, prices, loss="cross_entropy", optimizer="adam", epochs=1, verbose=0)
    assert str(caught.value).startswith("Class labels must be whole numbers")  # the loss's
    assert "CrossEntropy() is a classification loss, and y holds continuous" in str(caught.value)
    assert "use loss='mse'" in str(caught.value)
    binary = snn.Sequential([snn.Dense(4, 1)], seed=0)
    with pytest.raises(ValueError) as caught:
        binary.fit(X, prices, loss=snn.losses.BinaryCrossEntropy(from_logits=True),
                   optimizer="adam", epochs=1, verbose=0)  # fmt: skip
    assert str(caught.value).startswith("BinaryCrossEntropy needs targets in [0, 1]")
    assert "holds continuous values" in str(caught.value)
    assert "a regression), use loss='mse'" in str(caught.value)


# A layer that skipped Layer.__init__.


def test_a_layer_that_skipped_super_init_is_named_with_the_fix():
    class Scale(snn.Layer):
        def __init__(self, factor: float = 2.0) -> None:
            self.factor = factor

        def forward(self, x, training=False):
            return x * self.factor

        def backward(self, grad_out):
            return grad_out * self.factor

    with pytest.raises(AttributeError) as caught:
        snn.Sequential([snn.Dense(2, 2), Scale(), snn.Dense(2, 1)])
    assert "Scale.__init__ did not call super().__init__()" in str(caught.value)
    assert "object has no attribute 'built'" not in str(caught.value)


# Plain gradient descent that has barely moved.


def test_sgd_by_name_on_the_tutorials_xor_hints_at_the_learning_rate():
    model = snn.Sequential([snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()], seed=0)
    with pytest.warns(DiagnosisWarning) as caught:
        model.fit(X_XOR, Y_XOR, loss="mse", optimizer="sgd", epochs=1000, batch_size=None,
                  verbose=0)  # fmt: skip
    message = str(caught[0].message)
    assert "The loss barely moved in 1,000 steps of gradient descent" in message
    assert "learning rate 0.001, which may be too small" in message
    assert "optimizer='sgd' means lr=0.001, PyTorch's and scikit-learn's default" in message
    assert "SGD(lr=0.1)" in message


def test_no_stall_hint_when_the_loss_falls_or_the_model_continues():
    model = snn.Sequential([snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()], seed=0)
    history = model.fit(X_XOR, Y_XOR, loss="mse", optimizer=snn.optim.SGD(lr=0.5), epochs=3000,
                        batch_size=None, verbose=0)  # fmt: skip
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    # A second fit continues a model that has learned: its flat loss is no sign of a small rate.
    model.fit(X_XOR, Y_XOR, optimizer=snn.optim.SGD(lr=1e-6), epochs=1000, batch_size=None,
              verbose=0)  # fmt: skip


def test_the_stall_hint_counts_steps_not_epochs():
    assert diagnostics.STALL_STEPS == 1000
    model = snn.Sequential([snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1), snn.Sigmoid()], seed=0)
    model.fit(X_XOR, Y_XOR, loss="mse", optimizer="sgd", epochs=999, batch_size=None, verbose=0)


# Dead ReLUs and saturated sigmoids, after an epoch.


def test_diagnose_names_dead_relu_units_once_per_fit():
    model = snn.Sequential([snn.Dense(2, 8), snn.ReLU(), snn.Dense(8, 1)], seed=0)
    model.layers[0].params["b"] = np.full(8, -100.0)  # every unit 0 for every input
    found: list[str] = []
    diagnose = diagnostics.Diagnose(report=found.append)
    model.fit(X_XOR, Y_XOR, loss="mse", optimizer="adam", epochs=3, batch_size=None, verbose=0,
              callbacks=[diagnose])  # fmt: skip
    assert len(found) == 1  # three epochs, one report
    assert found[0].startswith("relu_1: 8 of 8 ReLU units are dead (100%")
    assert "try a smaller learning rate, He initialization, or LeakyReLU" in found[0]
    assert diagnose.findings == [(0, found[0])]


def test_diagnose_names_saturated_hidden_sigmoids_as_a_warning_by_default():
    model = snn.Sequential([snn.Dense(2, 6), snn.Sigmoid(), snn.Dense(6, 1)], seed=0)
    model.layers[0].params["W"] = np.full((2, 6), 200.0)
    model.layers[0].params["b"] = np.full(6, -100.0)  # ±100 for every input: saturated
    with pytest.warns(DiagnosisWarning, match=r"sigmoid_1: 100% of the Sigmoid outputs"):
        model.fit(X_XOR, Y_XOR, loss="mse", optimizer="adam", epochs=1, batch_size=None,
                  verbose=0, callbacks=[diagnostics.Diagnose()])  # fmt: skip


def test_unit_health_on_given_data_spares_a_healthy_network_and_the_output_layer():
    model = snn.Sequential(
        [snn.Dense(2, 8), snn.ReLU(), snn.Dense(8, 1, activation="sigmoid")], seed=0
    )
    model.layers[-1].params["W"] = np.full((8, 1), 500.0)  # the output saturated: by design
    assert diagnostics.unit_health(model, X_XOR) == []
    model.layers[0].params["b"] = np.full(8, -100.0)
    assert diagnostics.unit_health(model, X_XOR)[0].startswith("relu_1: 8 of 8 ReLU units")
    with pytest.raises(ValueError, match="dead"):
        diagnostics.unit_health(model, X_XOR, dead=0)


@pytest.mark.parametrize("source", ["named", "table"])
def test_the_command_line_reports_diagnoses_unless_quiet(tmp_path, monkeypatch, source):
    # A named data set trains in cli/commands.py, a CSV table in cli/tabular.py: both report.
    data = ["xor"]
    if source == "table":
        X, y = _classes(40)
        lines = [",".join(f"{v:.4f}" for v in row) + f",{c}" for row, c in zip(X, y, strict=True)]
        (tmp_path / "d.csv").write_text("a,b,c,d,kind\n" + "\n".join(lines) + "\n")
        data = [tmp_path / "d.csv", "--target", "kind"]
    monkeypatch.setattr(diagnostics, "_judge", lambda *a, **k: ["dense_0: example"])  # Diagnose's
    common = ["train", *data, "--epochs", "2"]
    status, out, err = run(*common, "--out", tmp_path / "m.npz")
    assert status == 0, err
    # two epochs, reported once per fit: a classification table's default (auto) fits its
    # ensemble with and without the periodic embedding
    assert out.count("Diagnosis: dense_0: example") == (2 if source == "table" else 1)
    status, out, err = run(*common, "--out", tmp_path / "q.npz", "--quiet")
    assert status == 0, err
    assert "Diagnosis" not in out
