"""Shared settings and value strategies of the fuzz tests (hypothesis; no pytest here).

``make test`` runs a bounded, reproducible number of examples per test (derandomized: the
same examples on every run). Set ``SCRATCHNN_FUZZ_EXAMPLES=2000`` to run that many random
examples per test instead, e.g. before a release::

    SCRATCHNN_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz_*.py
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_FLAG = os.environ.get("SCRATCHNN_FUZZ_EXAMPLES")


def fuzz_settings(examples: int) -> settings:
    """``examples`` reproducible examples, or ``$SCRATCHNN_FUZZ_EXAMPLES`` random ones."""
    return settings(
        max_examples=int(_FLAG) if _FLAG else examples,
        derandomize=not _FLAG,
        deadline=None,  # no timing assertions; hangs are caught by the tests' own guards
        database=None,
        suppress_health_check=list(HealthCheck),
    )


#: Values a user (or a hostile caller) might pass for any argument.
HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.sampled_from([10**30, -(10**30), 2**63, 2**64 + 1, 10**100]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 5e-324, 1e308]),
    st.sampled_from(
        [
            np.float32(0.5),
            np.float64(0.1),
            np.int64(2),
            np.int8(-1),
            np.uint64(2**64 - 1),
            np.bool_(True),
            np.float16(0.1),
            np.float64("nan"),
            np.float32("inf"),
            np.longdouble(0.5),
        ]
    ),
    st.text(max_size=6),
    st.sampled_from(["relu", "auto", "min", "max", "rel", "abs", "none", "adam", "mean", "1"]),
    st.lists(st.floats(0, 1), max_size=3).map(tuple),
    st.lists(st.integers(-1, 3), max_size=3),
    st.sampled_from(
        [
            1j,
            1 + 0j,
            object(),
            {},
            {"a": 1},
            b"x",
            slice(1),
            print,
            np.array([1.0]),
            np.array(0.5),
            np.array([[1]]),
            [],
            (),
            range(3),
            Ellipsis,
        ]
    ),
)

#: Values of the right kind, so that constructors with required arguments get built.
PLAUSIBLE = st.one_of(
    st.integers(0, 5),
    st.floats(0, 2, allow_nan=False),
    st.sampled_from([1e-3, 0.5, 0.9, 0.999, 10, 100]),
)


def as_numpy(value):
    """The NumPy scalar that equals a Python bool, int or float (other values unchanged)."""
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, int):
        return np.int64(value)
    if isinstance(value, float):
        return np.float64(value)
    return value
