"""Sequence layers inside models: fit/predict/evaluate on token ids, saving and loading,
gradcheck, trace_step, seeds, gradient clipping and the divergence guard."""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.datasets.sequences import parity_task
from scratchnn.errors import TrainingDivergedError


def lstm_model(seed=0, dtype=np.float32):
    return snn.Sequential(
        [snn.Embedding(2, 8), snn.LSTM(8, 16), snn.Dense(16, 2)], seed=seed, dtype=dtype
    )


def attention_model(seed=0, dtype=np.float64):
    return snn.Sequential(
        [
            snn.Embedding(5, 8),
            snn.SinusoidalEncoding(8),
            snn.MultiHeadAttention(8, 2, causal=True),
            snn.LayerNorm(8),
            snn.GRU(8, 6),
            snn.Dense(6, 5),
        ],
        seed=seed,
        dtype=dtype,
    )


def test_fit_on_token_ids_learns_running_parity_with_sequence_metrics():
    X, y = parity_task(256, length=12, seed=0)
    model = lstm_model()
    history = model.fit(
        X,
        y,
        loss="sequence_cross_entropy",
        optimizer=snn.optim.AdamW(lr=1e-2),
        epochs=12,
        batch_size=32,
        metrics=["sequence_accuracy", "perplexity", "bpc"],
        verbose=0,
    )
    assert history["sequence_accuracy"][-1] == 1.0
    assert history["perplexity"][-1] < 1.05
    assert model.predict(X[:3]).shape == (3, 12, 2)
    logs = model.evaluate(X, y, metrics=["token_accuracy"])
    assert logs["token_accuracy"] == 1.0


def test_same_seed_same_training_bit_for_bit():
    X, y = parity_task(64, length=8, seed=0)
    runs = []
    for _ in range(2):
        model = attention_model(seed=3, dtype=np.float32)
        model.fit(
            X,
            y % 5,
            loss="sequence_cross_entropy",
            optimizer="adamw",
            epochs=2,
            batch_size=16,
            verbose=0,
        )
        runs.append(model.get_weights())
    np.testing.assert_array_equal(*runs)


def test_save_and_load_round_trip(tmp_path):
    X, y = parity_task(64, length=8, seed=0)
    model = attention_model()
    model.fit(
        X, y, loss="sequence_cross_entropy", optimizer="adamw", epochs=1, batch_size=16, verbose=0
    )
    path = tmp_path / "sequence.npz"
    model.save(path)
    again = snn.load(path)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert [type(layer) for layer in again.layers] == [type(layer) for layer in model.layers]


def test_gradcheck_passes_end_to_end_and_layer_by_layer():
    X = np.array([[0, 1, 4, 2], [3, 3, 1, 0]])
    y = np.array([[1, 4, 2, -100], [3, 1, 0, 2]])
    result = snn.gradcheck(attention_model(), "sequence_cross_entropy", X, y, check_input=False)
    assert result.passed, str(result)
    assert len(result.layers) == 6


def test_trace_step_records_every_layer_on_token_ids():
    X, y = parity_task(4, length=6, seed=0)
    model = lstm_model(dtype=np.float64)
    trace = snn.trace_step(model, X, y, snn.losses.SequenceCrossEntropy(), snn.optim.SGD(lr=0.1))
    assert [t.output.shape for t in trace.layers] == [(4, 6, 8), (4, 6, 16), (4, 6, 2)]
    assert trace.layers[1].grads["U"].shape == (16, 64)
    np.testing.assert_array_equal(trace.layers[0].grad_input, np.zeros((4, 6)))


def test_clip_norm_bounds_the_update_of_a_recurrent_model():
    X, y = parity_task(16, length=8, seed=0)
    model = lstm_model(dtype=np.float64)
    before = model.get_weights()
    optimizer = snn.optim.SGD(lr=1.0, clip_norm=1e-3)
    model.fit(X, y, loss="sequence_cross_entropy", optimizer=optimizer, epochs=1,
              batch_size=None, verbose=0)  # fmt: skip
    assert np.linalg.norm(model.get_weights() - before) <= 1e-3 * (1 + 1e-9)


def test_divergence_guard_keeps_the_last_finite_weights():
    X, y = parity_task(16, length=8, seed=0)
    model = lstm_model(dtype=np.float64)
    model.layers[2].params["W"][0, 0] = np.inf  # the loss becomes NaN
    before = model.get_weights()
    with pytest.raises(TrainingDivergedError):
        model.fit(
            X,
            y,
            loss="sequence_cross_entropy",
            optimizer="adamw",
            epochs=1,
            batch_size=None,
            verbose=0,
        )
    np.testing.assert_array_equal(model.get_weights(), before)


def test_model_refuses_float_data_for_an_embedding_and_bad_ids():
    model = lstm_model()
    with pytest.raises(ValueError):
        model.predict(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError):
        model.predict(np.array([[0, 7]]))
