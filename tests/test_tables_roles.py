"""Column roles and the target: row numbers, identifiers, constants, the task, target scaling."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.tables import ColumnRoles, TargetScaler, detect_task, infer_roles, present_rows


def text(values) -> np.ndarray:
    return np.array([str(v) for v in values])


def test_row_counters_unnamed_indexes_identifiers_and_constants_are_dropped():
    n = 30
    rng = np.random.default_rng(0)
    columns = {
        "": text(range(1, n + 1)),
        "index0": text(range(n)),
        "Unnamed: 0": text(rng.permutation(n) + 100),
        "name": text(f"person {i}" for i in range(n)),
        "same": text(["x"] * n),
        "empty": text(["NA"] * n),
        "age": text(rng.integers(20, 60, n)),
        "town": text(rng.choice(["a", "b", "c"], n)),
        "y": text(rng.integers(0, 2, n)),
    }
    roles = infer_roles(columns, target="y")
    assert roles.numeric == ["age"]
    assert roles.categorical == ["town"]
    assert roles.dropped == {
        "": "row number 1..30",
        "index0": "row number 0..29",
        "Unnamed: 0": "unnamed index column",
        "name": "identifier (a different text in every row)",
        "same": "constant",
        "empty": "every value missing",
    }
    header = roles.describe()
    assert header[0] == "Numeric (1): age"
    assert header[2].startswith("Dropped (6): '' (row number 1..30), index0 (row number 0..29)")


def test_a_shuffled_rank_and_a_counter_with_gaps_are_kept():
    # issue 28: a shuffled counter named like an index ("id") is a row number too (see
    # tests/test_tables_defaults.py); one named otherwise ("rank") is informative and kept
    n = 20
    columns = {
        "rank": text(np.random.default_rng(1).permutation(n) + 1),
        "step": text(np.arange(n) * 2),
        "year": text(range(1990, 1990 + n)),
    }
    assert infer_roles(columns).numeric == ["rank", "step", "year"]


def test_a_balanced_panels_unit_codes_are_categorical_in_any_split():
    """Rule 7 (issue 28, Cigar: state codes over years): whole numbers with 10-200 codes, each in
    about as many rows, are a panel's units; numbers with unequal counts (ages) stay numbers.
    A shuffled file and a random 64% part of it get the same roles."""
    rng = np.random.default_rng(2)
    states, years = np.repeat(np.arange(1, 47), 30), np.tile(np.arange(63, 93), 46)
    n = len(states)
    columns = {
        "state": text(states),
        "year": text(years),
        "age": text(np.clip(rng.normal(40, 12, n), 18, 90).round()),
        "few": text(np.arange(n) % 4),  # 4 codes: too few to be units
        "price": text(rng.normal(size=n).round(3)),
        "y": text(rng.normal(size=n)),
    }
    for rows in (np.arange(n), rng.permutation(n), rng.permutation(n)[: int(0.64 * n)]):
        part = {name: values[rows] for name, values in columns.items()}
        roles = infer_roles(part, target="y")
        assert roles.categorical == ["state", "year"] and roles.numeric == ["age", "few", "price"]
        assert roles.codes["state"] == "46 codes, each in about as many rows"
    line = roles.describe()[2]
    assert line.startswith("Numbers read as categories (2): state (46 codes")
    assert "--features" in line
    kept = infer_roles(columns, target="y", features=["state", "price"])  # the override
    assert kept.numeric == ["state", "price"] and not kept.codes


def test_unbalanced_or_rare_codes_stay_numbers():
    rng = np.random.default_rng(3)
    skewed = np.concatenate([np.repeat(np.arange(10), 5), np.repeat(10, 200)])  # one dominates
    rare = np.repeat(np.arange(100), 3)  # 100 codes, 3 rows each: too rare
    columns = {"skewed": text(skewed), "rare": text(rare[: len(skewed)])}
    roles = infer_roles(columns)
    assert roles.numeric == ["skewed", "rare"] and not roles.codes
    assert infer_roles({"x": text(rng.integers(0, 20, 5))}).numeric == ["x"]  # too few rows


def test_few_rows_of_unique_text_stay_categorical():
    columns = {"city": text(["a", "b", "c"]), "x": text([1, 2, 4])}
    assert infer_roles(columns).categorical == ["city"]


def test_overrides_drop_features_and_categorical():
    n = 12
    columns = {
        "": text(range(1, n + 1)),
        "a": text(np.arange(n) % 3),
        "b": text(np.arange(n) % 4 * 1.5),
        "y": text(np.arange(n) % 2),
    }
    roles = infer_roles(columns, target="y", drop=["b"], categorical=["a"])
    assert (roles.numeric, roles.categorical) == ([], ["a"])
    assert roles.dropped["b"] == "--drop"
    roles = infer_roles(columns, target="y", features=["", "b"])
    assert roles.numeric == ["", "b"]  # named features are kept whatever they look like
    assert roles.dropped == {"a": "not in --features"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drop": ["nope"]}, "--drop names 'nope'"),
        ({"features": ["y"], "target": "y"}, "cannot also be a feature"),
        ({"categorical": ["zz"]}, "--categorical names 'zz'"),
        ({"drop": ["a", "b"], "target": "y"}, "No feature column is left"),
    ],
)
def test_bad_overrides_say_what_is_wrong(kwargs, message):
    columns = {"a": text([1, 2, 3]), "b": text([3, 1, 2]), "y": text([0, 1, 0])}
    with pytest.raises(ValueError, match=message):
        infer_roles(columns, **kwargs)


def test_describe_of_empty_roles():
    assert ColumnRoles().describe() == ["Numeric (0): none", "Categorical (0): none"]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["cat", "dog", "cat"], "classification"),
        (["1", "2", "NA", "1"], "classification"),
        ([str(v) for v in range(25)], "regression"),
        (["1.5", "2", "NA", ""], "regression"),
        ([0.5, 1.5, np.nan], "regression"),
        (["yes", "no", "?"], "classification"),
    ],
)
def test_task_detection_ignores_missing_tokens(values, task):
    assert detect_task(np.array(values, dtype=object))[0] == task


def test_every_target_missing_is_an_error():
    with pytest.raises(ValueError, match="Every value"):
        detect_task(np.array(["NA", ""], dtype=object))


def test_present_rows_with_configured_tokens():
    values = np.array(["1", "NA", "-", "", "4"], dtype=object)
    assert present_rows(values).tolist() == [True, False, True, False, True]
    assert present_rows(values, tokens=["-"]).tolist() == [True, True, False, True, True]


def test_target_scaler_round_trip_and_state():
    y = np.array([1000.0, 2500.0, 4000.0, 10000.0])
    scaler = TargetScaler().fit(y)
    t = scaler.transform(y)
    assert t.shape == (4, 1)
    np.testing.assert_allclose(t.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(t.std(), 1)
    back = scaler.inverse_transform(t.astype(np.float32))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back.ravel(), y, rtol=1e-6)
    config, arrays = scaler.get_state()
    again = TargetScaler.from_state(config, arrays)
    np.testing.assert_array_equal(again.transform(y), t)
    with pytest.raises(ValueError, match="inconsistent"):
        TargetScaler.from_state({}, {"mean": np.zeros(1), "scale": np.zeros(1)})
    with pytest.raises(ValueError, match="not fitted"):
        TargetScaler().transform(y)
    constant = TargetScaler().fit(np.ones(3))
    np.testing.assert_array_equal(constant.transform(np.ones(3)), np.zeros((3, 1)))


def test_a_panel_of_many_units_keeps_a_column_for_each():
    """Sitka (79 trees measured 5 times), Crime (90 counties over 7 years): up to MAX_CODES
    balanced codes are a panel's units, and the encoder keeps every unit's column, where a
    text column of as many categories is pooled at a max_categories below their number (here
    50); at the default (MAX_CATEGORIES, as many as MAX_CODES) it keeps them too."""
    from scratchnn.tables import TableEncoder
    from scratchnn.tables.roles import MAX_CODES

    rng = np.random.default_rng(4)
    trees = np.repeat(np.arange(1, 80), 5)
    columns = {
        "tree": text(trees),
        "name": np.array([f"t{t}" for t in trees], dtype=object),  # the same units, as text
        "y": text(rng.normal(size=len(trees))),
    }
    roles = infer_roles(columns, target="y")
    assert roles.codes["tree"] == "79 codes, each in about as many rows"
    encoder = TableEncoder(max_categories=50).fit(columns, roles)
    assert len(encoder.categories["tree"]) == 79  # every tree its own level
    assert len(encoder.categories["name"]) == 50  # 49 names and (other)
    assert not any("'tree'" in notice for notice in encoder.notices)
    default = TableEncoder().fit(columns, roles)
    assert len(default.categories["name"]) == 79 == len(default.categories["tree"])
    assert default.max_categories == MAX_CODES
    units = np.repeat(np.arange(MAX_CODES + 1), 5)  # more codes than MAX_CODES: numbers
    assert infer_roles({"unit": text(units), "y": text(units)}, target="y").numeric == ["unit"]


def test_a_text_column_keeps_up_to_max_categories_and_pools_the_rarest_beyond():
    """The default keeps 200 text categories (a panel's 125 countries written as names, each
    in 26 rows); beyond 200, the rarest share (other), with a notice."""
    from scratchnn.tables import TableEncoder
    from scratchnn.tables.encoder import MAX_CATEGORIES

    assert MAX_CATEGORIES == 200
    countries = np.repeat([f"country {i:03d}" for i in range(125)], 26)
    fitted = TableEncoder().fit({"country": countries, "y": text(np.arange(len(countries)))})
    assert len(fitted.categories["country"]) == 125 and not fitted.notices
    many = np.array([f"c{i}" for i in range(230)] * 2 + ["c0"] * 3, dtype=object)
    fitted = TableEncoder().fit({"c": many, "y": text(np.arange(len(many)))})
    assert len(fitted.categories["c"]) == 200 and "(other)" in fitted.categories["c"]
    assert "'c' has 230 categories; the 31 rarest are pooled" in fitted.notices[0]
    assert "c0" in fitted.categories["c"]  # the commonest is kept
