"""Out-of-core training (scratchnn.streaming): streamed batches against the in-memory loop,
the shuffle buffer's bounds, per-batch validation, memory, Dask and Parquet sources."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.batches import _Rows, shuffle_buffer
from scratchnn.callbacks import Callback
from scratchnn.streaming import ArraySource, IterableSource, as_source


def _data(n=300, features=5, classes=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    X = (np.eye(classes, features)[y] + 0.5 * rng.normal(size=(n, features))).astype(dtype)
    return X, y


def _model(features=5, classes=3, dtype=np.float64):
    return snn.MLP([features, 8, classes], activation="tanh", seed=1, dtype=dtype)


FIT = {"loss": "cross_entropy", "optimizer": "adam", "verbose": 0}


def _save(tmp_path, name, array):
    path = tmp_path / name
    np.save(path, array)
    return str(path)


def test_memmap_in_order_equals_in_memory_training(tmp_path):
    X, y = _data()
    reference = _model()
    reference.fit(X, y, epochs=2, batch_size=32, shuffle=False, **FIT)
    model = _model()
    # Blocks of 50 rows do not line up with batches of 32: batches straddle blocks.
    source = ArraySource(_save(tmp_path, "X.npy", X), _save(tmp_path, "y.npy", y), block_rows=50)
    history = model.fit(source, epochs=2, batch_size=32, shuffle=False, **FIT)
    np.testing.assert_array_equal(model.get_weights(), reference.get_weights())
    np.testing.assert_allclose(history.history["loss"], reference.history.history["loss"])


def test_class_weights_and_sample_weights_match_in_memory_training():
    X, y = _data()
    w = np.random.default_rng(2).uniform(0.2, 2.0, size=len(y))
    reference = _model()
    options = dict(epochs=1, batch_size=40, shuffle=False, class_weight={0: 2.0, 2: 0.5}, **FIT)
    reference.fit(X, y, sample_weight=w, **options)
    model = _model()
    model.fit(ArraySource(X, y, w, block_rows=64), **options)
    np.testing.assert_allclose(model.get_weights(), reference.get_weights(), rtol=1e-12)


def test_predict_and_evaluate_stream_equal_in_memory(tmp_path):
    X, y = _data(n=500)
    model = _model()
    model.fit(X, y, epochs=2, **FIT)
    source = ArraySource(_save(tmp_path, "X.npy", X), y, block_rows=70)
    np.testing.assert_allclose(model.predict(source, batch_size=64), model.predict(X))
    streamed = model.evaluate(source, metrics=["accuracy", "top_2_accuracy"])
    whole = model.evaluate(X, y, metrics=["accuracy", "top_2_accuracy"])
    assert streamed.keys() == whole.keys()
    for key in whole:
        assert streamed[key] == pytest.approx(whole[key], rel=1e-12)
    out = np.lib.format.open_memmap(tmp_path / "out.npy", "w+", np.float64, (500, 3))
    assert snn.streaming.predict(model, ArraySource(X), out=out) is out
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), model.predict(X))


def _stream_positions(n, capacity, batch, seed=0):
    """Where each row of an in-order stream comes out of the shuffle buffer."""
    ids = np.arange(n)
    pieces = ((ids[i : i + 7, None], ids[i : i + 7], None) for i in range(0, n, 7))
    rng = np.random.default_rng(seed)
    emitted = [x[:, 0] for x, _, _ in shuffle_buffer(_Rows(pieces), capacity, batch, rng)]
    return emitted, np.concatenate(emitted)


@pytest.mark.parametrize(
    ("n", "capacity", "batch"), [(1000, 100, 16), (50, 100, 8), (97, 10, 3), (20, 3, 8)]
)
def test_shuffle_buffer_emits_every_row_once_and_stays_within_its_window(n, capacity, batch):
    batches, order = _stream_positions(n, capacity, batch)
    assert sorted(order.tolist()) == list(range(n))
    assert all(len(b) == batch for b in batches[:-1]) and 0 < len(batches[-1]) <= batch
    assert not np.array_equal(order, np.arange(n))
    # Each window of capacity rows comes out within its own places: a bounded buffer, not a
    # full shuffle (capacity is at least one batch).
    window = max(capacity, batch)
    positions = np.empty(n, dtype=int)
    positions[order] = np.arange(n)
    assert (positions // window == np.arange(n) // window).all()
    if n > 4 * capacity:
        assert np.abs(positions - np.arange(n)).max() > capacity // 2  # and rows do travel


def test_shuffled_epochs_differ_and_are_reproducible():
    X, y = _data(n=400)
    source = ArraySource(X, y, block_rows=25, shuffle_buffer=60)

    def first_rows(seed):
        rng = np.random.default_rng(seed)
        return [x[0, 0] for x, _, _ in source.batches(32, rng)]

    assert first_rows(0) == first_rows(0)
    assert first_rows(0) != first_rows(1)
    rows = np.concatenate([x for x, _, _ in source.batches(32, np.random.default_rng(0))])
    np.testing.assert_array_equal(np.sort(rows[:, 0]), np.sort(X[:, 0]))


class _Snapshots(Callback):
    def __init__(self):
        self.weights = []

    def on_batch_end(self, batch, logs):
        self.weights.append(self.model.get_weights())


def test_a_bad_batch_is_refused_by_position_with_the_weights_before_it(tmp_path):
    X, y = _data()
    X[150, 2] = np.nan  # in the fifth batch of 32
    model = _model()
    snapshots = _Snapshots()
    source = ArraySource(_save(tmp_path, "X.npy", X), y, block_rows=64)
    with pytest.raises(ValueError, match=r"Batch 5 of epoch 1 \(rows 128\.\.159") as info:
        model.fit(source, epochs=1, batch_size=32, shuffle=False, callbacks=[snapshots], **FIT)
    assert "NaN" in str(info.value) and "before this batch" in str(info.value)
    assert len(snapshots.weights) == 4
    np.testing.assert_array_equal(model.get_weights(), snapshots.weights[-1])


def test_labels_out_of_range_in_a_later_batch_are_named():
    X, y = _data()
    y = y.copy()
    y[299] = 7

    def batches():
        for start in range(0, 300, 100):
            yield X[start : start + 100], y[start : start + 100]

    with pytest.raises(ValueError, match=r"Batch 3 of epoch 1 \(rows 200\.\.299.*7"):
        _model().fit(IterableSource(batches), batch_size=None, shuffle=False, **FIT)


def test_generators_function_runs_many_epochs_but_a_generator_only_one(capsys):
    X, y = _data()

    def batches():
        for start in range(0, 300, 50):
            yield X[start : start + 50], y[start : start + 50]

    model = _model()
    history = model.fit(IterableSource(batches), epochs=3, batch_size=None, **FIT)
    assert len(history.history["loss"]) == 3
    with pytest.raises(ValueError, match=r"one-shot iterator.*generator \*function\*"):
        _model().fit(IterableSource(batches()), epochs=2, batch_size=None, **FIT)
    capsys.readouterr()
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm")
    _model().fit(IterableSource(batches), epochs=1, batch_size=25, **{**FIT, "verbose": 1})
    shown = capsys.readouterr().out
    assert "12batch" in shown.replace(" ", "")  # a count without a total: 300 rows unknown ahead


def test_stream_options_that_need_the_whole_data_set_are_refused():
    X, y = _data()
    source = ArraySource(X, y)
    with pytest.raises(ValueError, match="validation_split"):
        _model().fit(source, validation_split=0.2, **FIT)
    with pytest.raises(ValueError, match="'f1' needs every prediction"):
        _model().fit(source, metrics=["f1"], **FIT)
    with pytest.raises(ValueError, match="takes no y"):
        _model().fit(source, y, **FIT)
    with pytest.raises(ValueError, match="'balanced'"):
        _model().fit(source, class_weight="balanced", **FIT)
    with pytest.raises(ValueError, match="y is None"):
        _model().fit(X, **FIT)
    with pytest.raises(ValueError, match="different numbers of rows: 300 and 299"):
        ArraySource(X, y[:-1])


def test_validation_data_may_be_arrays_or_a_source():
    X, y = _data()
    model = _model()
    history = model.fit(
        ArraySource(X[:200], y[:200]),
        validation_data=ArraySource(X[200:], y[200:]),
        metrics=["accuracy"],
        epochs=2,
        **FIT,
    )
    expected = model.evaluate(X[200:], y[200:], metrics=["accuracy"])
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-12)
    assert history.history["val_accuracy"][-1] == pytest.approx(expected["accuracy"])
    history = model.fit(ArraySource(X[:200], y[:200]), validation_data=(X[200:], y[200:]), **FIT)
    expected = model.evaluate(X[200:], y[200:])
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-12)


def _resident_file_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    raise RuntimeError("no RssFile line")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's /proc")
def test_memory_is_bounded_by_block_and_buffer_not_by_the_data(tmp_path):
    rows, features = 40_000, 256  # 41 MB of float32 on disk
    path = tmp_path / "X.npy"
    X = np.lib.format.open_memmap(path, "w+", np.float32, (rows, features))
    for start in range(0, rows, 5000):
        X[start : start + 5000] = np.random.default_rng(start).normal(size=(5000, features))
    X.flush()
    del X
    y = np.arange(rows) % 2
    model = snn.MLP([features, 8, 2], seed=0)
    source = ArraySource(str(path), y, block_rows=1000, shuffle_buffer=4000)  # 1 MB, 4 MB
    before = _resident_file_kib()
    tracemalloc.start()
    try:
        model.fit(source, epochs=1, batch_size=256, **FIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12e6, f"peak traced allocations {peak / 1e6:.1f} MB for 41 MB of data"
    # The file's pages are released after each block: they do not pile up in this process.
    assert _resident_file_kib() - before < 15_000


def test_dask_source_trains_as_the_same_blocks_in_memory():
    da = pytest.importorskip("dask.array", reason="Dask is the optional 'dask' extra")
    X, y = _data()
    reference = _model()
    reference.fit(ArraySource(X, y, block_rows=60), epochs=2, batch_size=32, **FIT)
    model = _model()
    source = as_source(da.from_array(X, chunks=(60, 5)), y)
    model.fit(source, epochs=2, batch_size=32, **FIT)
    np.testing.assert_array_equal(model.get_weights(), reference.get_weights())
    assert source.n_samples == 300


def test_parquet_folder_trains_predicts_and_names_bad_columns(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="Parquet support is the optional 'parquet' extra")
    import pyarrow.parquet as pq

    X, y = _data()
    folder = tmp_path / "data"
    folder.mkdir()
    for part, start in enumerate((0, 180)):
        rows = slice(start, start + 180)
        table = pa.table({**{f"x{j}": X[rows, j] for j in range(5)}, "label": y[rows]})
        pq.write_table(table, folder / f"part{part}.parquet", row_group_size=50)
    source = as_source(str(folder), "label")
    assert source.n_samples == 300 and len(source.groups) == 4 + 3
    reference = _model()
    reference.fit(X, y, epochs=2, batch_size=30, shuffle=False, **FIT)
    model = _model()
    model.fit(source, epochs=2, batch_size=30, shuffle=False, **FIT)
    np.testing.assert_allclose(model.get_weights(), reference.get_weights(), rtol=1e-12)
    model.fit(source, epochs=1, batch_size=30, **FIT)  # shuffled row groups
    inputs = snn.streaming.ParquetSource(folder, features=[f"x{j}" for j in range(5)])
    np.testing.assert_allclose(model.predict(inputs), model.predict(X))
    pq.write_table(pa.table({"x": ["a", "b"], "label": [0, 1]}), tmp_path / "text.parquet")
    with pytest.raises(ValueError, match=r"Column 'x' .* holds string, not numbers"):
        _model(features=1).fit(as_source(str(tmp_path / "text.parquet"), "label"), **FIT)
    with pytest.raises(ValueError, match="target='nope' is not a column"):
        as_source(str(folder), "nope")


def _parquet(path, X, y, **options):
    """``X``'s columns x0, x1, ... and ``y`` as label, in row groups of 50 rows."""
    pa = pytest.importorskip("pyarrow", reason="Parquet support is the optional 'parquet' extra")
    import pyarrow.parquet as pq

    table = pa.table({**{f"x{j}": X[:, j] for j in range(X.shape[1])}, "label": y})
    pq.write_table(table, path, row_group_size=50, **options)
    return path


def _chunk(path, group: int, column: int) -> tuple[int, int]:
    """Where column ``column`` of row group ``group`` lies in the file: (start, end)."""
    import pyarrow.parquet as pq

    chunk = pq.ParquetFile(path).metadata.row_group(group).column(column)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    return start, start + chunk.total_compressed_size


def _flip(path, start: int, end: int) -> None:
    data = bytearray(path.read_bytes())
    for i in range(start, end):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_parquet_page_checksums_are_verified_and_the_error_names_file_and_row_group(tmp_path):
    import pyarrow.parquet as pq

    X, y = _data(n=150)
    path = _parquet(
        tmp_path / "crc.parquet",
        X,
        y,
        write_page_checksum=True,
        use_dictionary=False,
        compression="none",
    )
    _, end = _chunk(path, 1, 2)
    _flip(path, end - 8, end)  # the last value of x2 in row group 1: the page's bytes
    # Without verification the flipped value is read back as if it were data.
    read = pq.ParquetFile(path).read_row_group(1).column("x2").to_numpy()
    assert read[-1] != X[99, 2]
    source = as_source(str(path), "label")  # the footer is intact: the source is made
    with pytest.raises(snn.errors.DataFileError) as refused:
        _model().fit(source, epochs=1, batch_size=30, shuffle=False, **FIT)
    message = str(refused.value)
    assert f"{str(path)!r}, row group 1 (of 3) cannot be read" in message
    assert "CRC checksum does not match its bytes" in message
    assert "Write the file again from its source" in message


def test_parquet_corrupt_page_header_names_file_and_row_group(tmp_path):
    X, y = _data(n=150)
    folder = tmp_path / "data"
    folder.mkdir()
    _parquet(folder / "a.parquet", X[:100], y[:100])
    path = _parquet(folder / "b.parquet", X[100:], y[100:])
    start, _ = _chunk(path, 0, 0)
    _flip(path, start, start + 6)  # the page header of x0 in b's row group 0
    with pytest.raises(snn.errors.DataFileError) as refused:
        _model().fit(as_source(str(folder), "label"), epochs=1, shuffle=False, **FIT)
    message = str(refused.value)
    assert f"{str(path)!r}, row group 0 (of 1) cannot be read" in message
    assert "page header" in message and "move it out of the folder" in message


def test_parquet_folder_file_missing_a_column_or_of_the_wrong_type_is_named(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="Parquet support is the optional 'parquet' extra")
    import pyarrow.parquet as pq

    X, y = _data(n=150)
    folder = tmp_path / "data"
    folder.mkdir()
    _parquet(folder / "a.parquet", X[:100], y[:100])
    short = _parquet(folder / "b.parquet", X[100:, :4], y[100:])  # no column x4
    with pytest.raises(snn.errors.DataFileError) as refused:
        as_source(str(folder), "label")
    message = str(refused.value)
    assert f"{str(short)!r} (row group 0, its only one) has no column 'x4'" in message
    assert f"which {str(folder / 'a.parquet')!r} has" in message
    assert "Write that file again with them, or move it out of the folder" in message
    table = pa.table(
        {**{f"x{j}": X[100:, j] for j in range(4)}, "x4": ["a"] * 50, "label": y[100:]}
    )
    pq.write_table(table, short, row_group_size=20)
    with pytest.raises(
        ValueError,
        match=r"Column 'x4' of '.*b\.parquet' \(every row group, 0 "
        r"to 2\) holds string, not numbers; encode it first",
    ):
        as_source(str(folder), "label")


def test_parquet_missing_values_and_damaged_footers_are_named(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="Parquet support is the optional 'parquet' extra")
    import pyarrow.parquet as pq

    X, y = _data(n=150)
    column = pa.array([*X[:120, 0], None, *X[121:, 0]])
    table = pa.table({"x0": column, **{f"x{j}": X[:, j] for j in range(1, 5)}, "label": y})
    pq.write_table(table, tmp_path / "nulls.parquet", row_group_size=50)
    with pytest.raises(
        ValueError,
        match=r"nulls\.parquet', row group 2 \(of 3\): column 'x0' "
        r"has 1 missing \(null\) values; fill or drop them",
    ):
        _model().fit(as_source(str(tmp_path / "nulls.parquet"), "label"), shuffle=False, **FIT)
    path = _parquet(tmp_path / "cut.parquet", X, y)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(
        snn.errors.DataFileError,
        match=r"cut\.parquet' is not a Parquet file, "
        r"or it is truncated or damaged: .*Write it again from its source",
    ):
        as_source(str(path), "label")


def test_import_scratchnn_stays_numpy_only():
    code = (
        "import sys, scratchnn, scratchnn.streaming, scratchnn.distributed, scratchnn.cli.main; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', "
        "'pyarrow', 'pandas', 'sklearn'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
