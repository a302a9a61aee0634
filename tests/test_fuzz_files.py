"""Fuzzing snn.load with random and mutated model files (hypothesis).

Every file (bit flips, truncations, overwritten ranges, swapped, dropped, renamed and
duplicated members, members replaced by random arrays, random edits of the JSON metadata,
random zips and random bytes) must either load as a valid model or raise DataFileError:
never another exception, never a hang, never more than 200 MB of memory.

See tests/_fuzz.py for the number of examples (``SCRATCHNN_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnn as snn
from _fuzz import fuzz_settings
from _model_files import MEMORY_BOUND, load_cost, members, npy, small_model, zip_bytes
from scratchnn import io as snn_io

GOOD = snn_io.dumps(small_model())
NAMES = sorted(members(GOOD))


def check(data: bytes) -> None:
    """The property: a valid model or a DataFileError, cheaply."""
    outcome, _, peak = load_cost(lambda: snn_io.loads(data))
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"
    if isinstance(outcome, snn.DataFileError):
        assert str(outcome) and "\n" not in str(outcome)
        return
    assert isinstance(outcome, snn.Sequential), repr(outcome)
    model = outcome
    assert np.isfinite(model.get_weights()).all()
    if model.optimizer is not None:
        for state in model.optimizer.state:
            assert all(np.isfinite(array).all() for array in state.values())
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model.predict(np.zeros((2, model.in_features)))
    again = snn_io.loads(snn_io.dumps(model))
    assert again.get_weights().tobytes() == model.get_weights().tobytes()


def test_the_unmutated_file_loads():
    check(GOOD)
    assert isinstance(snn_io.loads(GOOD), snn.Sequential)


# Byte-level damage (CRC-32 catches most of it inside members; headers and directory are not
# covered by it)


@fuzz_settings(40)
@given(
    st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 7)), min_size=1, max_size=8)
)
def test_bit_flips(flips):
    data = bytearray(GOOD)
    for position, bit in flips:
        data[position] ^= 1 << bit
    check(bytes(data))


@fuzz_settings(20)
@given(st.integers(0, len(GOOD) - 1))
def test_truncation(length):
    check(GOOD[:length])


@fuzz_settings(25)
@given(st.integers(0, len(GOOD) - 1), st.binary(min_size=1, max_size=64))
def test_overwritten_ranges(start, junk):
    check(GOOD[:start] + junk + GOOD[start + len(junk) :])


@fuzz_settings(20)
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    check(data)
    check(b"PK\x03\x04" + data)


# Member-level damage (valid zips, valid CRCs)


@fuzz_settings(20)
@given(st.sampled_from(NAMES), st.sampled_from(NAMES))
def test_swapped_members(first, second):
    entries = members(GOOD)
    entries[first], entries[second] = entries[second], entries[first]
    check(zip_bytes(entries))


@fuzz_settings(25)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["drop", "duplicate", "rename", "deflate"]),
            st.sampled_from(NAMES),
            st.sampled_from([*NAMES, "x.npy", "parameters", "__metadata__.npy/"]),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_dropped_duplicated_renamed_and_compressed_members(edits):
    entries = list(members(GOOD).items())
    deflate = set()
    for action, name, other in edits:
        index = next((i for i, (n, _) in enumerate(entries) if n == name), None)
        if index is None:
            continue
        if action == "drop":
            entries.pop(index)
        elif action == "duplicate":
            entries.append((other, entries[index][1]))
        elif action == "rename":
            entries[index] = (other, entries[index][1])
        else:
            deflate.add(name)
    check(zip_bytes(entries, deflate=deflate))


_DTYPES = st.sampled_from(["<f4", "<f8", ">f4", "<f2", "<i4", "|u1", "|b1", "<c8", "<U3", "|S2"])
_SHAPES = st.lists(st.integers(0, 40), max_size=3).map(tuple)


@fuzz_settings(25)
@given(st.sampled_from(NAMES), _DTYPES, _SHAPES, st.booleans(), st.data())
def test_members_replaced_by_random_arrays(name, dtype, shape, fortran, data):
    size = int(np.prod(shape))
    raw = data.draw(st.binary(min_size=size * np.dtype(dtype).itemsize, max_size=size * 16))
    array = np.frombuffer(raw[: size * np.dtype(dtype).itemsize], dtype=dtype).reshape(shape)
    array = np.asfortranarray(array) if fortran else array
    entries = members(GOOD)
    entries[name] = npy(array)
    check(zip_bytes(entries))


# JSON mutations


_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10),
    st.sampled_from([-1, 2**31, 2**64, 10**18, -(10**30), 10**300]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["Dense", "ReLU", "Adam", "SGD", "CosineAnnealing", "float64", "PCG64"]),
)
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value, prefix=()):
    """Every path into the JSON document (a tuple of keys and indices)."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


META = json.loads(np.load(__import__("io").BytesIO(members(GOOD)["__metadata__.npy"])).tobytes())
PATHS = [path for path in _paths(META) if path]


@fuzz_settings(60)
@given(
    st.lists(
        st.tuples(st.sampled_from(PATHS), st.sampled_from(["set", "delete", "add"]), _JSON_VALUES),
        min_size=1,
        max_size=4,
    )
)
def test_json_mutations(edits):
    meta = json.loads(json.dumps(META))
    for path, action, value in edits:
        parent = meta
        try:
            for key in path[:-1]:
                parent = parent[key]
            key = path[-1]
            if action == "set":
                parent[key] = value
            elif action == "delete":
                del parent[key]
            elif isinstance(parent, dict):
                parent[f"{key}_extra"] = value
            else:
                parent.insert(key, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    raw = json.dumps(meta).encode("utf-8")
    entries = members(GOOD)
    entries["__metadata__.npy"] = npy(np.frombuffer(raw, dtype=np.uint8))
    check(zip_bytes(entries))


@fuzz_settings(20)
@given(_JSON_VALUES)
def test_metadata_replaced_by_random_json(value):
    raw = json.dumps({"format": "scratchnn", "format_version": 1, "model": value}).encode()
    entries = members(GOOD)
    entries["__metadata__.npy"] = npy(np.frombuffer(raw, dtype=np.uint8))
    check(zip_bytes(entries))


@pytest.mark.parametrize("name", NAMES)
def test_each_member_alone_and_each_member_missing(name):
    entries = members(GOOD)
    check(zip_bytes({name: entries[name]}))
    del entries[name]
    check(zip_bytes(entries))
