"""A fit that stops on a fault leaves the model consistent and says so: a memory-mapped file
truncated mid-epoch (an error, never SIGBUS), a streamed file's bad value named by its row in
the file, a generator that raises midway, an exception raised in a callback."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.streaming import ArraySource, IterableSource


def _model():
    return snn.Sequential([snn.Dense(8, 4), snn.Tanh(), snn.Dense(4, 2)], seed=0)


def test_a_memory_mapped_file_truncated_mid_epoch_stops_with_an_error_not_sigbus(tmp_path):
    script = textwrap.dedent(
        """
        import os, numpy as np, scratchnn as snn
        from scratchnn.streaming import ArraySource
        rng = np.random.default_rng(0)
        np.save("X.npy", rng.normal(size=(4000, 8)).astype(np.float32))
        np.save("y.npy", rng.integers(0, 2, 4000))

        class Truncate(snn.callbacks.Callback):
            def on_batch_end(self, batch, logs):
                if batch == 2:
                    os.truncate("X.npy", 128 + 8 * 4 * 1000)  # the header and 1,000 rows

        model = snn.Sequential([snn.Dense(8, 4), snn.Tanh(), snn.Dense(4, 2)], seed=0)
        source = ArraySource("X.npy", "y.npy", block_rows=500)
        try:
            model.fit(source, loss="cross_entropy", optimizer="adam", batch_size=100,
                      shuffle=False, callbacks=[Truncate()], verbose=0)
        except ValueError as error:
            print("REFUSED", error, getattr(error, "__notes__", ""))
        print("EPOCHS", model.epochs_trained, bool(np.isfinite(model.get_weights()).all()))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, (run.returncode, run.stderr)  # -7 would be SIGBUS
    assert "REFUSED" in run.stdout and "was truncated while it was being read" in run.stdout
    assert "X.npy" in run.stdout and "last" in run.stdout
    assert "EPOCHS 0 True" in run.stdout


def test_a_streamed_bad_value_is_named_by_its_row_in_the_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8)).astype(np.float32)
    X[1234, 5] = np.nan
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", rng.integers(0, 2, 3000))
    source = ArraySource(tmp_path / "X.npy", tmp_path / "y.npy", block_rows=256)
    with pytest.raises(ValueError, match=r"row 1234 is the first with NaN"):
        _model().fit(source, loss="cross_entropy", optimizer="adam", batch_size=64, verbose=0)


def test_a_generator_that_raises_midway_leaves_the_model_at_its_last_completed_step():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 8)), rng.integers(0, 2, 64)

    def batches():
        for start in range(0, 64, 16):
            if start == 32:
                raise RuntimeError("the database connection was lost")
            yield X[start : start + 16], y[start : start + 16]

    model = _model()
    with pytest.raises(RuntimeError, match="connection was lost") as caught:
        model.fit(IterableSource(batches), loss="cross_entropy", optimizer="sgd",
                  batch_size=16, shuffle=False, verbose=0)  # fmt: skip
    assert "after 32 of its samples" in " ".join(caught.value.__notes__)
    assert model.epochs_trained == 0
    reference = _model()  # the same two steps, taken on purpose
    reference.fit(X[:32], y[:32], loss="cross_entropy", optimizer="sgd", batch_size=16,
                  shuffle=False, verbose=0)  # fmt: skip
    np.testing.assert_allclose(model.get_weights(), reference.get_weights(), rtol=1e-6)


def test_an_exception_in_a_callback_keeps_the_earlier_history():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 8)), rng.integers(0, 2, 64)
    model = _model()
    first = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, verbose=0)

    class Interrupt(snn.callbacks.Callback):
        def on_batch_end(self, batch, logs):
            if batch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        model.fit(X, y, epochs=2, callbacks=[Interrupt()], verbose=0)
    assert model.history is first and len(model.history) == 3
    assert model.epochs_trained == 3
    assert "epochs_trained (3)" in " ".join(caught.value.__notes__)


def test_a_running_statistic_that_overflows_refuses_the_step():
    """float32 BatchNorm on inputs near 1e20: the variance overflows to inf. The step is
    refused with the cause (and the statistics stay finite), instead of a model that predicts
    one value everywhere and a file that will not load."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3)) * 1e20
    y = rng.integers(0, 2, 32)
    model = snn.Sequential([snn.Dense(3, 4), snn.BatchNorm1d(4), snn.Dense(4, 2)], seed=0)
    with pytest.raises(snn.TrainingDivergedError, match=r"running_var.*Standardize"):
        model.fit(X, y, loss="cross_entropy", optimizer="adam", batch_size=8, verbose=0)
    assert np.isfinite(model.layers[1].buffers["running_var"]).all()


def test_a_dataframe_fit_remembers_its_columns_and_predict_matches_them_by_name():
    pd = pytest.importorskip("pandas", reason="DataFrames come from pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(64, 3)), columns=["a", "b", "c"])
    y = (frame["a"] > 0).astype(int).to_numpy()
    model = snn.Sequential([snn.Dense(3, 2)], seed=0)
    model.fit(frame, y, loss="cross_entropy", optimizer="adam", epochs=2, verbose=0)
    assert model.metadata["feature_names"] == ["a", "b", "c"]
    np.testing.assert_array_equal(model.predict(frame[["c", "a", "b"]]), model.predict(frame))
    with pytest.raises(ValueError, match=r"columns do not match.*missing"):
        model.predict(frame[["a", "b"]].assign(d=1.0))
