"""Every file scratchnn writes loads again (issue 29): the limits that ``load`` sets on a
model file's metadata scale with what it legitimately holds, ``save`` asks the same question
of what it is about to write and refuses, naming the limit and the way out, instead of
writing a file that ``load`` would refuse; and a model whose state overflowed is not saved
as if it were fine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import scratchnn as snn
from _cli import run
from _model_files import MEMORY_BOUND, load_cost
from scratchnn import _archive
from scratchnn.history import History


def _tiny() -> snn.Sequential:
    model = snn.Sequential([snn.Dense(2, 3), snn.ReLU(), snn.Dense(3, 2)], seed=0)
    X = np.arange(8, dtype=np.float32).reshape(4, 2)
    model.fit(X, np.arange(4) % 2, loss="ce", optimizer="adam", epochs=1, verbose=0)
    return model


def _with_history(model: snn.Sequential, epochs: int, keys: list[str], seed: int = 0):
    """``model`` as if trained for ``epochs`` epochs logging ``keys`` (random numbers)."""
    rng = np.random.default_rng(seed)
    history = History()
    history.epoch = list(range(epochs))
    history.history = {key: rng.random(epochs).tolist() for key in keys}
    model.history = history
    model.epochs_trained = epochs
    return model


def test_a_history_of_100001_epochs_with_validation_and_a_metric_loads_back(tmp_path):
    """The issue's case: 500,005 numbers in the history, refused at load before."""
    keys = ["loss", "val_loss", "accuracy", "val_accuracy", "lr"]
    model = _with_history(_tiny(), 100_001, keys)
    path = tmp_path / "long.npz"
    model.save(path)
    loaded, _, peak = load_cost(lambda: snn.load(path))
    assert isinstance(loaded, snn.Sequential), loaded
    assert loaded.history.to_dict() == model.history.to_dict()
    assert loaded.history.epoch == model.history.epoch
    assert loaded.epochs_trained == 100_001
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"


def test_a_history_over_the_limit_is_refused_at_save_naming_the_limit_and_the_way_out(tmp_path):
    model = _with_history(_tiny(), 500_001, ["loss", "lr"])
    path = tmp_path / "m.npz"
    with pytest.raises(ValueError, match="not saved") as caught:
        model.save(path)
    message = str(caught.value)
    assert "bytes of JSON; at most 16,777,216 are read" in message
    assert "Most of it is the history" in message and "model.history = None" in message
    assert not path.exists()
    model.history = None  # the way out it names
    model.save(path)
    assert snn.load(path).history is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    epochs=st.integers(0, 3_000),
    keys=st.integers(1, 6),
    text=st.lists(st.text(max_size=12), max_size=400),
    budget=st.integers(8, 400),
)
@example(epochs=0, keys=1, text=[], budget=11)  # a history of names and no epochs: none
def test_whatever_save_writes_load_reads(tmp_path_factory, epochs, keys, text, budget):
    """With the parse budget made small (``budget`` KiB), models with histories and
    metadata of every size either save and load back equal, or are refused by save with the
    limit named; never saved and then refused by load."""
    patch = pytest.MonkeyPatch()
    patch.setattr(_archive, "MAX_JSON_PARSED_BYTES", budget * 1024)
    patch.setattr(_archive, "MAX_JSON_VALUES", budget * 1024 // _archive._VALUE_COST)
    try:
        model = _with_history(_tiny(), epochs, [f"k{i}" for i in range(keys)], seed=epochs)
        model.metadata = {"notes": text}
        path = tmp_path_factory.mktemp("p") / "m.npz"
        try:
            model.save(path)
        except ValueError as error:
            assert "not saved" in str(error) and "MiB parsed" in str(error)
            assert not path.exists()
            return
        loaded = snn.load(path)
        assert loaded.metadata == model.metadata
        assert (loaded.history is None) == (model.history is None or not epochs)
        if epochs:
            assert loaded.history.to_dict() == model.history.to_dict()
    finally:
        patch.undo()


def test_the_estimate_bounds_what_parsing_costs():
    """Numbers, short strings and containers: the estimate is at least what json.loads
    allocates (traced), so a document within the budget costs at most the budget."""
    import json
    import tracemalloc

    for text in [
        b"[" + b"1.5," * 200_000 + b"1.5]",
        b"[" + b"123456," * 200_000 + b"1]",
        b"[" + b'"ab",' * 200_000 + b'"ab"]',
        b"[" + b"{}," * 90_000 + b"[]]",
        b'{"a": [' + b'{"k": "v", "n": 0.25},' * 20_000 + b"{}]}",
    ]:
        _, _, _, cost = _archive.json_cost(text)
        decoded = text.decode()
        tracemalloc.start()
        document = json.loads(decoded)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del document
        assert peak <= cost, (text[:20], peak, cost)


# Non-finite state: refused at save, with the reason


def test_a_float32_batchnorm_whose_running_variance_overflowed_is_not_saved(tmp_path):
    """Inputs near 1e20: the batch variance overflows float32. Training refuses that step
    (the running statistics stay finite); and a model whose running_var is infinite anyway
    (set by hand) is refused by save, saying why and what to do; a file already at the path
    is left as it was."""
    rng = np.random.default_rng(0)
    X = (rng.normal(1, 0.5, size=(64, 3)) * 1e20).astype(np.float32)
    y = rng.integers(0, 2, size=64)
    model = snn.Sequential(
        [snn.Dense(3, 4), snn.BatchNorm1d(4), snn.ReLU(), snn.Dense(4, 2)], seed=0
    )
    path = tmp_path / "bn.npz"
    _tiny().save(path)
    before = path.read_bytes()
    with pytest.raises(snn.TrainingDivergedError, match="running_var"):
        model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, verbose=0)
    assert np.isfinite(model.layers[1].buffers["running_var"]).all()
    model.layers[1].buffers["running_var"][0] = np.inf
    with pytest.raises(ValueError) as caught:
        model.save(path)
    message = str(caught.value)
    assert "not saved" in message and "running_var" in message and "NaN or infinite" in message
    assert "float64" in message and "standardize" in message
    assert path.read_bytes() == before
    # The same model in float64, or on standardized inputs, saves and loads.
    model64 = snn.Sequential(
        [snn.Dense(3, 4), snn.BatchNorm1d(4), snn.ReLU(), snn.Dense(4, 2)],
        seed=0,
        dtype="float64",
    )
    model64.fit(X.astype(np.float64), y, loss="ce", optimizer="adam", epochs=2, verbose=0)
    model64.save(path)
    assert np.array_equal(snn.load(path).predict(X), model64.predict(X))


def test_metadata_that_load_would_refuse_is_refused_at_save(tmp_path):
    model = _tiny()
    model.metadata = {"classes": ["a", "b", "c"]}  # three classes for two outputs
    with pytest.raises(ValueError, match=r"not saved.*classes"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# The command line: a table of thousands of text columns


def test_train_on_thousands_of_text_columns_saves_a_file_that_predict_and_info_read(tmp_path):
    rng = np.random.default_rng(0)
    n_columns, n_rows = 3_000, 40
    words = np.array([f"w{i}" for i in range(12)])
    cells = words[rng.integers(len(words), size=(n_rows, n_columns))]
    labels = np.where(rng.random(n_rows) < 0.5, "a", "b")
    lines = [",".join([*(f"t{j}" for j in range(n_columns)), "y"])]
    lines += [",".join([*row, label]) for row, label in zip(cells, labels, strict=True)]
    data = tmp_path / "wide.csv"
    data.write_text("\n".join(lines) + "\n")
    model = tmp_path / "wide.npz"
    status, out, err = run(
        "train", data, "--target", "y", "--epochs", "2", "--layers", "4", "--out", model,
        "--quiet",
    )  # fmt: skip
    assert status == 0, err
    assert f"Model saved to {model}" in out
    status, out, err = run("info", model)
    assert status == 0, err
    assert f"{n_columns} features" in out
    status, out, err = run("predict", model, data)
    assert status == 0, err
    assert out.splitlines()[0].startswith("prediction")
    assert len(out.splitlines()) == n_rows + 1
