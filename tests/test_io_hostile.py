"""snn.load against hostile files: every case of issue 12 is refused with a DataFileError that
says what is wrong, without hanging, and within 200 MB of memory; files that a legitimate
model could be cost what such a model costs."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

import scratchnn as snn
from _model_files import (
    MEMORY_BOUND,
    load_cost,
    members,
    npy,
    small_model,
    with_member,
    with_metadata,
    write,
    zip_bytes,
)
from scratchnn import _archive, _load_checks


@pytest.fixture(scope="module")
def model() -> snn.Sequential:
    return small_model()


@pytest.fixture(scope="module")
def good(model) -> bytes:
    """The bytes of a valid model file with every kind of state."""
    from scratchnn import io as snn_io

    return snn_io.dumps(model)


def refused(path, *fragments: str) -> str:
    """Load ``path``: it must raise DataFileError naming the file and every fragment, and
    cost under MEMORY_BOUND bytes."""
    outcome, _, peak = load_cost(lambda: snn.load(path))
    assert isinstance(outcome, snn.DataFileError), repr(outcome)
    message = str(outcome)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"
    return message


def test_the_fixture_file_loads(tmp_path, good, model):
    loaded = snn.load(write(tmp_path, good))
    assert np.array_equal(loaded.get_weights(), model.get_weights())


# Not a regular file: refused without blocking


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_fifo_without_a_writer_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    refused(fifo, "FIFO", "not a regular file")


def test_a_folder_is_refused(tmp_path):
    refused(tmp_path, "folder")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(device):
    refused(device, "character device")


def test_a_symlink_to_a_model_file_loads(tmp_path, good):
    target = write(tmp_path, good)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    assert snn.load(link).epochs_trained == 3


# The archive's structure


def test_a_compressed_member_the_model_needs_is_refused(tmp_path, good):
    entries = members(good)
    path = write(tmp_path, zip_bytes(entries, deflate={"parameters.npy"}))
    refused(path, "'parameters.npy' is compressed")


def test_an_unknown_member_is_ignored_without_being_read(tmp_path, good):
    """A small deflated member that expands to 64 MiB of zeros costs nothing: it is not read
    (np.load would have allocated all of it)."""
    entries = members(good)
    entries["bomb.npy"] = npy(np.zeros(8 * 2**20))
    path = write(tmp_path, zip_bytes(entries, deflate={"bomb.npy"}))
    del entries
    assert path.stat().st_size < 2**20
    outcome, _, peak = load_cost(lambda: snn.load(path))
    assert isinstance(outcome, snn.Sequential), outcome
    assert peak < 16 * 2**20


def test_duplicate_members_are_refused(tmp_path, good):
    entries = list(members(good).items())
    entries.append(("parameters.npy", npy(np.zeros(3, np.float32))))
    path = write(tmp_path, zip_bytes(entries))
    refused(path, "two members named 'parameters.npy'")


def test_an_encrypted_member_is_refused(tmp_path, good):
    data = bytearray(zip_bytes(members(good)))
    # Set bit 0 (encrypted) of every central-directory entry's flags.
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        flags = struct.unpack_from("<H", data, at + 8)[0]
        struct.pack_into("<H", data, at + 8, flags | 1)
        at = data.find(b"PK\x01\x02", at + 4)
    refused(write(tmp_path, bytes(data)), "encrypted")


def test_a_directory_declaring_a_million_members_is_refused_unread(tmp_path, good):
    data = bytearray(good)
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 65535, 65535)  # members on this disk, in total
    struct.pack_into("<L", data, end + 12, 2**31)  # the directory's size in bytes
    refused(write(tmp_path, bytes(data)), "refused unread")


def test_a_member_whose_header_claims_more_bytes_than_it_has_is_refused(tmp_path, good):
    """A header declaring 10**10 values before a few bytes of data: refused, not allocated."""
    import io

    flat = snn.io.loads(good).parameters().flat.value
    for shape in [(10**10,), (flat.size + 1,)]:
        buffer = io.BytesIO()
        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(buffer, header)
        lying = buffer.getvalue() + flat.tobytes()
        refused(write(tmp_path, with_member(good, "parameters", lying)), "'parameters'")


def test_overlapping_members_are_refused(tmp_path, good):
    """Two directory entries pointing at the same bytes: the members read may not add up to
    more than the file holds."""
    flat = snn.io.loads(good).parameters().flat.value
    entries = members(good)
    data = bytearray(zip_bytes(entries))
    # Point optimizer.0.exp_avg's directory entry at the parameters' local header and data.
    offsets = {}
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        name = bytes(data[at + 46 : at + 46 + name_length]).decode()
        offsets[name] = at
        at = data.find(b"PK\x01\x02", at + 4)
    assert npy(flat) == entries["parameters.npy"]
    path = write(tmp_path, bytes(data))
    assert snn.load(path)  # untouched: loads
    source, target = offsets["parameters.npy"], offsets["optimizer.0.exp_avg.npy"]
    # same sizes (both float32 vectors of the parameter count): copy CRC, sizes and offset
    data[target + 16 : target + 28] = data[source + 16 : source + 28]
    data[target + 42 : target + 46] = data[source + 42 : source + 46]
    message = refused(write(tmp_path, bytes(data), "overlap.npz"))
    assert "overlap" in message or "differ" in message


# The JSON metadata


def test_metadata_larger_than_the_limit_is_refused_unread(tmp_path, good):
    raw = b" " * (_archive.MAX_JSON_BYTES + 1)
    refused(write(tmp_path, with_metadata(good, raw=raw)), "bytes of JSON")


@pytest.mark.parametrize("depth", [_archive.MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_metadata_is_refused(tmp_path, good, depth):
    raw = b'{"format": "scratchnn", "x": ' + b"[" * depth + b"]" * depth + b"}"
    refused(write(tmp_path, with_metadata(good, raw=raw)), "metadata")


def test_metadata_with_too_many_objects_is_refused_before_parsing(tmp_path, good):
    """A million empty objects in 3 MiB of JSON would cost ~100 MB parsed: refused unparsed."""
    raw = b"[" + b"{}," * 1_000_000 + b"{}]"
    refused(write(tmp_path, with_metadata(good, raw=raw)), "objects and arrays")


def test_metadata_with_too_many_values_is_refused_before_parsing(tmp_path, good):
    """1.6 million two-letter strings in 8 MiB of JSON would cost ~100 MB parsed; 16 MiB of
    commas cost nothing: both are refused unparsed (the scan stops at the limit)."""
    raw = b"[" + b'"ab",' * 1_600_000 + b"1]"
    refused(write(tmp_path, with_metadata(good, raw=raw)), "values or more")
    raw = b"[" + b"," * (_archive.MAX_JSON_BYTES - 2) + b"]"
    refused(write(tmp_path, with_metadata(good, raw=raw)), "values or more")


def test_a_long_string_in_the_metadata_is_cheap_and_loads(tmp_path, good):
    """Long strings cost one byte per byte: 10 MiB of text in the metadata loads."""
    data = with_metadata(good, lambda meta: meta["metadata"].update(notes="x" * 10 * 2**20))
    outcome, _, peak = load_cost(lambda: snn.load(write(tmp_path, data)))
    assert isinstance(outcome, snn.Sequential), outcome
    assert len(outcome.metadata["notes"]) == 10 * 2**20
    assert peak < MEMORY_BOUND


def test_brackets_and_separators_inside_strings_are_not_counted():
    for text, expected in [
        (b'{"a": [1, {"b": "[[[,"}], "c": "\\\\"}', (3, 3, 9)),
        (b'["\\"[,", {"k]:": "}"}]', (2, 2, 5)),
        (json.dumps({"x": [[["\\" * 3 + '"[,']]]}).encode(), (4, 4, 6)),
        (b"7", (0, 0, 1)),
    ]:
        assert _archive.json_structure(text) == expected, text


def test_the_scan_agrees_with_the_parser_on_random_documents():
    rng = np.random.default_rng(0)
    pieces = ["a", "[", "]", "{", "}", ",", ":", '"', "\\", " "]

    def document(level: int = 0):
        kind = rng.integers(4) if level < 5 else 0
        if kind == 0:
            return "".join(rng.choice(pieces, size=rng.integers(4)))
        if kind == 1:
            return [document(level + 1) for _ in range(rng.integers(3))]
        return {
            "".join(rng.choice(pieces, size=2)) + str(i): document(level + 1)
            for i in range(rng.integers(3))
        }

    def walk(value, level=1):
        if not isinstance(value, (dict, list)):
            return 0, 0
        children = list(value.values()) if isinstance(value, dict) else value
        found = [walk(child, level + 1) for child in children]
        return max([level, *(d for d, _ in found)]), 1 + sum(c for _, c in found)

    for _ in range(300):
        value = document()
        text = json.dumps(value).encode()
        depth, containers, values = _archive.json_structure(text)
        assert (depth, containers) == walk(value), text
        assert values >= containers


def test_a_huge_integer_in_the_metadata_is_refused(tmp_path, good):
    raw = b'{"format": "scratchnn", "format_version": ' + b"9" * 5000 + b"}"
    refused(write(tmp_path, with_metadata(good, raw=raw)), "metadata is corrupt")


# The architecture against the file


def _dense(in_features, out_features):
    return {
        "class_name": "Dense",
        "config": {"in_features": in_features, "out_features": out_features},
    }


@pytest.mark.parametrize(
    "layers",
    [
        [_dense(100_000, 100_000)],  # 40 GB of float32
        [_dense(3, 2**40)],
        [{"class_name": "BatchNorm1d", "config": {"num_features": 2**40}}],
        [{"class_name": "Standardize", "config": {"num_features": 10**12}}],
        [_dense(3, 4)] * 4096 + [_dense(4, 4)],  # more layers than a model may have
    ],
)
def test_a_small_file_declaring_huge_layers_is_refused_before_allocating(tmp_path, good, layers):
    def edit(meta):
        meta["model"]["layers"] = layers
        meta["optimizer"] = meta["schedule"] = meta["rng"] = meta["history"] = None
        meta["metadata"] = {}

    refused(write(tmp_path, with_metadata(good, edit)))


def test_declared_array_shapes_are_checked_before_reading(tmp_path, good):
    def edit(meta):
        meta["optimizer"]["shapes"] = [[10**12]]

    refused(write(tmp_path, with_metadata(good, edit)), "optimizer")


def test_a_large_file_that_holds_its_weights_loads_at_a_bounded_cost(tmp_path):
    """A legitimate 3M-parameter model (12 MB) loads; its cost stays a small multiple of
    the file's size."""
    model = snn.MLP([1000, 3000, 10], seed=0)
    path = tmp_path / "big.npz"
    model.save(path)
    outcome, _, peak = load_cost(lambda: snn.load(path))
    assert isinstance(outcome, snn.Sequential)
    assert peak < 6 * path.stat().st_size


# Restored state


def _set(path_in_meta, value):
    def edit(meta):
        target = meta
        for key in path_in_meta[:-1]:
            target = target[key]
        target[path_in_meta[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (_set(["epochs_trained"], -1), "epochs_trained"),
        (_set(["epochs_trained"], 1e400), "epochs_trained"),
        (_set(["epochs_trained"], True), "epochs_trained"),
        (_set(["model", "seed"], -5), "seed"),
        (_set(["model", "seed"], "zero"), "seed"),
        (_set(["model", "dtype"], "int8"), "dtype"),
        (_set(["model", "layers"], "dense"), "layers"),
        (_set(["model", "layers"], ["relu"]), "layer 0"),
        (_set(["model", "layers"], []), "1 to"),
        (_set(["model"], None), "model section"),
        (_set(["loss"], "mse"), "loss"),
        (_set(["optimizer", "step_count"], -1), "step_count"),
        (_set(["optimizer", "step_count"], 2**64), "step_count"),
        (_set(["optimizer", "step_count"], 1.5), "step_count"),
        (_set(["optimizer", "state_names"], [["exp_avg", "bogus"]]), "optimizer"),
        (_set(["optimizer", "state_names"], [["exp_avg"]]), "keeps the state"),
        (_set(["optimizer", "state_names"], [["../../x"]]), "state name"),
        (_set(["optimizer", "config"], {"lr": float("nan")}), "lr"),
        (_set(["optimizer", "config"], {"betas": [0.9]}), "betas"),
        (_set(["optimizer", "config"], {"bogus": 1}), "bogus"),
        (_set(["schedule", "state", "last_epoch"], 10**18), "last_epoch"),
        (_set(["schedule", "state", "last_epoch"], float("inf")), "last_epoch"),
        (_set(["schedule", "state", "base_lr"], float("nan")), "base_lr"),
        (_set(["schedule", "state", "base_lr"], "fast"), "base_lr"),
        (_set(["schedule", "state", "lr_at"], 5), "keys"),
        (_set(["schedule", "state", "__class__"], 5), "keys"),
        (_set(["schedule", "config", "T_max"], 0), "T_max"),
        (_set(["schedule", "class_name"], 7), "class_name"),
        (_set(["rng", "shuffle", "state", "state"], 2**200), "shuffle"),
        (_set(["rng", "shuffle", "state", "inc"], -1), "shuffle"),
        (_set(["rng", "shuffle", "bit_generator"], "MT19937"), "shuffle"),
        (_set(["rng", "init"], "seed"), "init"),
        (_set(["rng", "layers"], []), "random states"),
        (_set(["history", "loss"], [1.0]), "differ in length"),
        (_set(["history", "loss"], ["x", 1, 2]), "not a number"),
        (_set(["history", "loss"], 5), "history"),
        (_set(["history"], {"loss": [0.1] * 4, "lr": [0.1] * 4}), "longer than"),
        (_set(["metadata"], [1, 2]), "metadata"),
        (_set(["metadata", "classes"], "no,yes"), "classes"),
        (_set(["metadata", "classes"], ["a", "b", "c"]), "3 classes"),
        (_set(["metadata", "classes"], [{"x": 1}, 2]), "labels"),
        (_set(["metadata", "feature_names"], [1, 2, 3]), "feature_names"),
        (_set(["metadata", "training"], "fast"), "training"),
        (_set(["metadata", "metrics"], {"test": {"accuracy": "high"}}), "metrics"),
    ],
)
def test_malformed_state_is_refused_with_what_is_wrong(tmp_path, good, edit, fragment):
    refused(write(tmp_path, with_metadata(good, edit)), fragment)


def test_a_schedule_position_that_looped_forever_is_refused(tmp_path, good):
    """With warm restarts, CosineAnnealing walks its periods in a loop: a saved position of
    10**18 epochs (or infinity) would never finish."""
    refused(write(tmp_path, with_metadata(good, _set(["schedule", "state", "last_epoch"], 10**18))))


def _array_member(good, key, change):
    arrays = members(good)
    array = np.load(__import__("io").BytesIO(arrays[f"{key}.npy"]))
    return with_member(good, key, npy(change(array.copy())))


def _put(index, value):
    def change(array):
        array[index] = value
        return array

    return change


@pytest.mark.parametrize(
    ("key", "change", "fragment"),
    [
        ("parameters", _put(0, np.nan), "parameters holds NaN"),
        ("parameters", _put(-1, np.inf), "parameters holds NaN"),
        ("parameters", lambda a: a.astype(np.float64), "float32"),
        ("parameters", lambda a: a[:-1], "shape"),
        ("parameters", lambda a: a.reshape(1, -1), "shape"),
        ("parameters", lambda a: a.astype(">f4"), None),  # big-endian: the same values, loads
        ("buffer.2.running_var", _put(0, -1.0), "running_var must be >= 0"),
        ("buffer.2.running_mean", _put(1, np.inf), "running_mean holds NaN"),
        ("buffer.0.std", _put(0, 0.0), "std must be positive"),
        ("optimizer.0.exp_avg", _put(0, np.nan), "'exp_avg' holds NaN"),
        ("optimizer.0.exp_avg_sq", _put(0, -1.0), "'exp_avg_sq' must be >= 0"),
        ("optimizer.0.exp_avg", lambda a: a.astype(np.int32), "int32"),
        ("optimizer.0.exp_avg", lambda a: np.array([str(v) for v in a]), "shape"),
    ],
)
def test_out_of_range_arrays_are_refused(tmp_path, good, key, change, fragment):
    path = write(tmp_path, _array_member(good, key, change))
    if fragment is None:
        assert snn.load(path).epochs_trained == 3
    else:
        refused(path, fragment)


@pytest.mark.parametrize("key", ["parameters", "buffer.2.running_var", "optimizer.0.exp_avg"])
def test_a_missing_array_is_refused(tmp_path, good, key):
    refused(write(tmp_path, with_member(good, key, None)), repr(key))


def test_a_pickled_object_in_an_array_the_model_needs_is_refused(tmp_path, good):
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    path = write(tmp_path, with_member(good, "optimizer.0.exp_avg", buffer.getvalue()))
    refused(path, "pickled Python object")


def test_every_exception_type_becomes_a_data_file_error(tmp_path, good, monkeypatch):
    """Whatever a constructor or NumPy raises while restoring (here: every type the issue
    lists, raised from inside the restore), load raises a DataFileError that names it."""
    from scratchnn import io as snn_io

    for error in (
        OverflowError("overflow"),
        RecursionError("deep"),
        AttributeError("attr"),
        MemoryError(),
        RuntimeError("runtime"),
        NotImplementedError("not implemented"),
        KeyError("key"),
        IndexError("index"),
        ZeroDivisionError("zero"),
    ):

        def broken(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(snn_io, "_restore_history", broken)
        message = refused(write(tmp_path, good))
        assert type(error).__name__ in message
    monkeypatch.undo()


def test_a_model_without_optional_sections_still_loads(tmp_path, good):
    def edit(meta):
        for key in ("optimizer", "schedule", "rng", "history", "loss", "metadata"):
            del meta[key]
        del meta["epochs_trained"]

    loaded = snn.load(write(tmp_path, with_metadata(good, edit)))
    assert loaded.epochs_trained == 0 and loaded.optimizer is None


def _specimens():
    """One or two of every built-in layer, each with the shape of one input sample."""
    rows, image, sequence = (3,), (3, 6, 6), (5, 4)
    return [
        (snn.Standardize(3), rows),
        (snn.Dense(3, 5), rows),
        (snn.Dense(3, 5, activation="tanh", bias=False), rows),
        (snn.Dense(4, 6), sequence),
        (snn.BatchNorm1d(3), rows),
        (snn.BatchNorm1d(3, affine=False), rows),
        (snn.LayerNorm(4), sequence),
        (snn.LayerNorm(3, affine=False), rows),
        *((cls(), rows) for cls in (snn.ReLU, snn.Tanh, snn.Sigmoid, snn.SiLU, snn.GELU, snn.ELU)),
        (snn.LeakyReLU(0.1), rows),
        (snn.Identity(), rows),
        (snn.Dropout(0.2), rows),
        (snn.Softmax(), rows),
        (snn.Conv2D(3, 4, 3, padding="same", groups=1), image),
        (snn.Conv2D(3, 3, 3, groups=3, bias=False), image),
        (snn.Conv1D(4, 2, 3), (4, 9)),
        (snn.MaxPool2D(2), image),
        (snn.AvgPool2D(3, stride=1), image),
        (snn.GlobalAvgPool2D(), image),
        (snn.BatchNorm2d(3), image),
        (snn.BatchNorm2d(3, affine=False), image),
        (snn.Dropout2d(0.1), image),
        (snn.Flatten(), image),
        (snn.Reshape((9, 12)), image),
        (snn.ToChannelsFirst(), (6, 6, 3)),
        (snn.RandomShift(1), image),
        (snn.PeriodicEmbedding(3, numeric=2, frequencies=4), rows),
        (snn.PiecewiseLinearEncoding(3, numeric=2, bins=4), rows),
        (snn.layers.PackedDense(3, 4, members=2, shared_input=True), rows),
        (snn.layers.PackedDense(3, 4, members=2), (2, 3)),
        (snn.layers.PackedPeriodicEmbedding(3, numeric=2, frequencies=4, members=2), rows),
        (snn.Embedding(10, 4), (5,)),
        (snn.PositionalEmbedding(8, 4), sequence),
        (snn.SinusoidalEncoding(4), sequence),
        (snn.RNN(4, 3), sequence),
        (snn.LSTM(4, 3, return_sequences=True), sequence),
        (snn.GRU(4, 3), sequence),
        (snn.MultiHeadAttention(4, 2), sequence),
        (snn.Residual([snn.LayerNorm(4), snn.Dense(4, 4), snn.BatchNorm1d(4)]), (4,)),
        (snn.layers.Chain([snn.Dense(3, 4), snn.BatchNorm1d(4)]), rows),
        (
            snn.layers.Average(
                [snn.Dense(3, 2), snn.layers.Chain([snn.Dense(3, 4), snn.Dense(4, 2)])]
            ),
            rows,
        ),
    ]


def test_the_predicted_sizes_match_what_every_built_in_layer_allocates():
    """The loader predicts each layer's arrays from its configuration and the shape it
    receives (before building); this must stay in step with the layers' build methods."""
    specimens = _specimens()
    registry = snn.layers.layers
    registered = {  # the built-in layers (other tests register layers of their own)
        name.lower()
        for name in registry.names()
        if registry.lookup(name).__module__.startswith("scratchnn.")
    }
    covered = {type(layer).__name__.lower() for layer, _ in specimens}
    assert registered <= covered | {"activation"}, registered - covered
    for layer, shape in specimens:
        total, buffers = _load_checks.predicted_arrays([layer], 10**6, shape)
        model = snn.Sequential([layer], seed=0, input_shape=shape)
        assert total == model.parameters().flat.value.size, layer
        assert buffers == [dict(named_buffers_of(layer))], layer


def named_buffers_of(layer):
    from scratchnn.layers.base import named_buffers

    return [(name, array.shape) for name, array in named_buffers(layer)]


def test_a_custom_layer_is_built_only_when_the_file_could_hold_it(tmp_path):
    @snn.layers.layers.register()
    class Widen(snn.Layer):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.width = width

        def output_features(self, in_features: int) -> int:
            return self.width

        def forward(self, x, training=False):
            return np.repeat(x[:, :1], self.width, axis=1)

        def get_config(self):
            return {"width": self.width}

    try:
        model = snn.Sequential([snn.Dense(3, 2), Widen(4)], seed=0)
        path = tmp_path / "custom.npz"
        model.save(path)
        assert snn.load(path).layers[1].width == 4
        data = with_metadata(
            path.read_bytes(), _set(["model", "layers", 1, "config", "width"], 10**12)
        )
        refused(write(tmp_path, data, "wide.npz"), "Widen", "could hold")
    finally:
        snn.layers.layers._entries.pop("widen")
        snn.layers.layers._canonical.pop("Widen")
