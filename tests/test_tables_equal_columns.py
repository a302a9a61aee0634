"""Equal numeric columns (``a==b`` features): which pairs the rule finds, checked against a
plain counting of the same rule, independent of row order; the features in ``transform``, the
model file, ``scratchnn train``'s header, ``info``, ``predict`` and ONNX."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _tables import write_csv
from scratchnn.cli.main import main
from scratchnn.io import load
from scratchnn.tables import TableEncoder
from scratchnn.tables.equal_columns import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_PAIRS,
    MIN_ROWS,
    MIN_SHARE,
    MIN_VALUES,
    TIMES_CHANCE,
    find_equal_columns,
    not_searched,
)


def choice_table(n: int, seed: int) -> dict[str, np.ndarray]:
    """Who chose which of three options, given each one's price; ``price`` is the price paid
    (the chosen option's), as in a choice table (Ecdat's Fishing, Train)."""
    rng = np.random.default_rng(seed)
    prices = rng.uniform(10, 100, (n, 3)).round(2)
    chosen = np.argmin(prices + rng.normal(0, 25, (n, 3)), axis=1)
    return {
        "price": prices[np.arange(n), chosen],
        "p_bus": prices[:, 0],
        "p_train": prices[:, 1],
        "p_car": prices[:, 2],
        "income": rng.normal(50, 10, n).round(1),
        "mode": np.array(["bus", "train", "car"])[chosen],
    }


def counted(columns: dict[str, list[float | None]]) -> set[tuple[str, str]]:
    """The rule of :mod:`scratchnn.tables.equal_columns` by plain counting (no arrays)."""
    names = list(columns)
    if len(names) > MAX_COLUMNS:
        return set()
    found = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            rows = [(x, y) for x, y in zip(columns[a], columns[b], strict=True)]
            both = [(x, y) for x, y in rows if x is not None and y is not None]
            if not both:
                continue
            equal = [x for x, y in both if x == y]
            share = len(equal) / len(both)
            seen_a = Counter(x for x in columns[a] if x is not None)
            seen_b = Counter(y for y in columns[b] if y is not None)
            total_a, total_b = sum(seen_a.values()), sum(seen_b.values())
            chance = sum(seen_a[v] / total_a * seen_b[v] / total_b for v in seen_a)
            if (
                len(equal) >= MIN_ROWS
                and MIN_SHARE <= share <= 1 - MIN_SHARE
                and share >= TIMES_CHANCE * chance
                and len(set(equal)) >= MIN_VALUES
            ):
                found.append((-(share / chance), a, b))
    return {(a, b) for _, a, b in sorted(found)[:MAX_PAIRS]}


def as_arrays(columns: dict[str, list[float | None]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        name: (
            np.array([np.nan if v is None else v for v in values], dtype=np.float64),
            np.array([v is None for v in values]),
        )
        for name, values in columns.items()
    }


def test_a_choice_tables_price_paid_equals_the_chosen_options_price():
    data = choice_table(400, 0)
    X = {k: v for k, v in data.items() if k != "mode"}
    encoder = TableEncoder(equal_columns=True).fit(X)
    pairs = [(p.first, p.second) for p in encoder.equalities]
    assert pairs == [("price", "p_bus"), ("price", "p_train"), ("price", "p_car")]
    for pair in encoder.equalities:  # chosen about a third of the time each, never by chance
        assert 0.2 < pair.share < 0.5 and pair.times_chance > 50
    names = encoder.feature_names_out()
    assert names[5:] == ["price==p_bus", "price==p_train", "price==p_car"]
    out = encoder.transform(X)
    chosen = {"bus": 5, "train": 6, "car": 7}
    expected = np.zeros((400, 3))
    expected[np.arange(400), [chosen[m] - 5 for m in data["mode"]]] = 1.0
    np.testing.assert_array_equal(out[:, 5:], expected)
    assert TableEncoder().fit(X).n_features_out == 5  # off by default in Python


def test_a_missing_value_is_never_equal():
    X = {k: v.astype(object) for k, v in choice_table(200, 1).items() if k != "mode"}
    X["p_bus"] = X["price"].copy()  # the same values, so one median for both
    X["p_bus"][::3] = X["price"][::3][::-1]  # equal in the other two thirds of the rows
    encoder = TableEncoder(equal_columns=True).fit(X)
    assert encoder.feature_names_out()[5] == "price==p_bus"
    assert encoder.median_[0] == encoder.median_[1]
    row = {k: v[:3].copy() for k, v in X.items()}
    row["price"][0], row["p_bus"][0], row["p_train"][0] = None, None, None
    row["price"][1], row["p_bus"][1] = 7.0, 7.0
    row["price"][2], row["p_bus"][2] = None, encoder.median_[0]  # the median itself
    out = encoder.transform(row)  # both missing: both filled with the one median, yet 0
    np.testing.assert_array_equal(out[:, 5], [0, 1, 0])


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ([0, 1] * 50, [0, 1, 1, 0] * 25, "two yes/no columns agree in half the rows by chance"),
        ([0] * 60 + list(range(1, 41)), [0] * 60 + list(range(41, 81)), "one value alone"),
        (list(range(100)), [*range(99), 5], "equal in 99% of the rows"),
        (list(range(100)), [0, *range(200, 299)], "equal in 1% of the rows"),
        ([1, 2, 3, 4, 5] + [0] * 45, [1, 2, 3, 4, 5] + [9] * 45, "equal in 5 rows only"),
        ([*range(12), *range(100, 1088)], [*range(12), *range(2000, 2988)], "in 1.2%, 12 rows"),
        ([7] * 20 + list(range(100, 280)), [7] * 20 + list(range(500, 680)), "on one value"),
    ],
)
def test_pairs_the_rule_leaves_out(a, b, why):
    no = np.zeros(len(a), dtype=bool)
    pairs = find_equal_columns(
        {"a": (np.array(a, dtype=float), no), "b": (np.array(b, dtype=float), no)}
    )
    assert pairs == [], why


def test_at_most_max_pairs_the_farthest_beyond_chance_and_wide_tables_not_searched():
    rng = np.random.default_rng(2)
    base = rng.integers(0, 1000, 500).astype(float)
    columns = {}
    for k in range(12):  # 66 pairs, each equal where both copied base
        copy = rng.random(500) < 0.3 + 0.05 * k
        other = rng.integers(2000, 9000, 500)
        columns[f"c{k}"] = (np.where(copy, base, other), np.zeros(500, bool))
    pairs = find_equal_columns(columns)
    assert len(pairs) == MAX_PAIRS
    every = counted({name: v[0].tolist() for name, v in columns.items()})
    assert {(p.first, p.second) for p in pairs} == every
    order = list(columns)
    assert pairs == sorted(pairs, key=lambda p: (order.index(p.first), order.index(p.second)))
    wide = {f"c{k}": columns[f"c{k % 12}"] for k in range(MAX_COLUMNS + 1)}
    assert find_equal_columns(wide) == []
    assert not_searched(500, MAX_COLUMNS + 1) == f"more than {MAX_COLUMNS} numeric columns"
    assert len(find_equal_columns(dict(list(wide.items())[:MAX_COLUMNS]))) == MAX_PAIRS
    assert not_searched(MAX_CELLS // 10 + 1, 10) == f"more than {MAX_CELLS:,} numeric cells"


cells = st.one_of(st.none(), st.integers(0, 6).map(float))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda k: st.lists(st.lists(cells, min_size=k, max_size=k), min_size=8, max_size=90)
    ),
    st.randoms(use_true_random=False),
)
def test_the_rule_matches_plain_counting_in_any_row_order(rows, random):
    columns = {f"c{j}": [row[j] for row in rows] for j in range(len(rows[0]))}
    found = find_equal_columns(as_arrays(columns))
    assert {(p.first, p.second) for p in found} == counted(columns)
    order = list(range(len(rows)))
    random.shuffle(order)
    shuffled = {name: [values[i] for i in order] for name, values in columns.items()}
    assert find_equal_columns(as_arrays(shuffled)) == found


def test_the_pairs_are_saved_given_and_checked_on_loading():
    X = {k: v for k, v in choice_table(300, 3).items() if k != "mode"}
    encoder = TableEncoder(equal_columns=True).fit(X)
    config, arrays = encoder.get_state()
    config = json.loads(json.dumps(config))
    again = TableEncoder.from_state(config, arrays)
    assert again.equalities == encoder.equalities
    np.testing.assert_array_equal(again.transform(X), encoder.transform(X))
    older = {k: v for k, v in config.items() if k != "equal_columns"}  # files from before
    assert TableEncoder.from_state(older, arrays).n_features_out == 5
    for bad in (
        [["price", "nowhere", 0.3, 50.0]],
        [["price", "price", 0.3, 50.0]],
        [["price", "p_bus", float("nan"), 50.0]],
        [["price", "p_bus"]],
        "price==p_bus",
    ):
        with pytest.raises(ValueError, match="equal_columns"):
            TableEncoder.from_state({**config, "equal_columns": bad}, arrays)
    for bad in (
        [["price", "p_bus", True, 50.0]],
        [["price", "p_bus", 10**400, 50.0]],
        [["price", "p_bus", -0.1, 50.0]],
        [["price", "p_bus", 0.3, 50.0], ["p_bus", "price", 0.3, 50.0]],
    ):
        with pytest.raises(ValueError, match="equal_columns entry"):
            TableEncoder.from_state({**config, "equal_columns": bad}, arrays)
    given = TableEncoder(equal_columns=[("p_bus", "p_car"), encoder.equalities[0]]).fit(X)
    assert given.feature_names_out()[-2:] == ["p_bus==p_car", "price==p_bus"]
    assert given.equalities[0].share == 0.0  # measured on these rows: never equal
    assert given.equalities[1] == encoder.equalities[0]
    config, arrays = given.get_state()
    again = TableEncoder.from_state(json.loads(json.dumps(config)), arrays)
    assert again.equalities == given.equalities
    assert again.fit(X).equalities == given.equalities  # a loaded encoder refits its pairs
    assert TableEncoder(equal_columns=np.True_).fit(X).equalities == encoder.equalities
    for pairs, message in (
        ([("price", "p_boat")], "'p_boat', which is not a numeric column"),
        ([("price", "price")], "one column twice"),
        ([("price", "p_bus"), ("p_bus", "price")], "a pair already listed"),
        ([("price",)], "not a pair of column names"),
        ("price==p_bus", "True, False or a list of column pairs"),
    ):
        with pytest.raises(ValueError, match=message):
            TableEncoder(equal_columns=pairs).fit(X)


@pytest.fixture(scope="module")
def choices(tmp_path_factory):
    folder = tmp_path_factory.mktemp("choices")
    data = choice_table(500, 4)
    path = write_csv(folder / "choices.csv", list(data), zip(*data.values(), strict=True))
    return folder, path


def test_train_shows_the_pairs_and_saves_them(choices, capsys):
    folder, path = choices
    out = folder / "m.npz"
    args = ["train", str(path), "--target", "mode", "--layers", "16", "--epochs", "30",
            "--out", str(out), "--force"]  # fmt: skip
    assert main(args) == 0
    header = capsys.readouterr().out
    assert (
        "Equal columns (3 pairs, a 0/1 feature a==b each): price = p_bus in 3" in header
        and "% of the rows (" in header
        and "(auto; --equal-columns off)." in header
    )
    model = load(out)
    assert [p.name for p in model.preprocessor.equalities] == [
        "price==p_bus", "price==p_train", "price==p_car",
    ]  # fmt: skip
    assert model.metadata["metrics"]["test"]["accuracy"] > 0.95
    assert model.metadata["training"]["equal_columns"] == "auto"
    assert main(["info", str(out)]) == 0
    assert "Equal columns (3): price==p_bus, price==p_train, price==p_car" in (
        capsys.readouterr().out
    )
    assert main(["predict", str(out), str(path)]) == 0
    predicted = capsys.readouterr().out.splitlines()[1:]
    assert len(predicted) == 500


def test_off_and_a_refit_keep_what_the_header_says(choices, capsys, monkeypatch):
    import scratchnn.tables.encoder as encoder_module

    searches = []
    search = encoder_module.find_equal_columns
    monkeypatch.setattr(
        encoder_module, "find_equal_columns", lambda read: searches.append(1) or search(read)
    )
    folder, path = choices
    common = ["train", str(path), "--target", "mode", "--layers", "8", "--epochs", "3",
              "--force"]  # fmt: skip
    assert main([*common, "--equal-columns", "off", "--out", str(folder / "off.npz")]) == 0
    assert "Equal columns: not looked for (--equal-columns off)." in capsys.readouterr().out
    assert load(folder / "off.npz").preprocessor.equalities == []
    assert main([*common, "--ensemble", "1", "--out", str(folder / "one.npz")]) == 0
    header = capsys.readouterr().out
    assert "refitting on all" in header and "Equal columns (3 pairs" in header
    assert len(load(folder / "one.npz").preprocessor.equalities) == 3
    assert len(searches) == 1  # the refit keeps the pairs the header named
    data = choice_table(200, 5)
    rows = zip(data["income"], data["mode"], strict=True)
    plain = write_csv(folder / "plain.csv", ["x", "y"], rows)
    args = ["train", str(plain), "--target", "y", "--layers", "8", "--epochs", "2",
            "--equal-columns", "auto", "--out", str(folder / "p.npz"), "--force"]  # fmt: skip
    assert main(args) == 0
    assert "Equal columns: no two numeric columns are often equal (--equal-columns)." in (
        capsys.readouterr().out
    )
    rng = np.random.default_rng(7)
    wide = rng.normal(size=(100, 66)).round(3)
    wide[::3, 1] = wide[::3, 0]
    labels = np.where(wide[:, 0] > 0, "yes", "no")
    rows = [[*r, label] for r, label in zip(wide.tolist(), labels, strict=True)]
    path = write_csv(folder / "wide.csv", [*(f"x{k}" for k in range(66)), "y"], rows)
    args = ["train", str(path), "--target", "y", "--layers", "8", "--epochs", "2",
            "--out", str(folder / "w.npz"), "--force"]  # fmt: skip
    assert main(args) == 0
    assert (
        "Equal columns: not looked for, more than 64 numeric columns (auto; --equal-columns off)."
        in capsys.readouterr().out
    )


def test_the_exported_pipeline_computes_the_pairs_with_missing_values(choices, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from scratchnn.tables.export import raw_feeds

    folder, path = choices
    out = folder / "x.npz"
    assert main(["train", str(path), "--target", "mode", "--layers", "8", "--epochs", "5",
                 "--out", str(out), "--force", "--quiet"]) == 0  # fmt: skip
    assert main(["export", str(out), str(folder / "x.onnx"), "--force"]) == 0
    capsys.readouterr()
    model = load(out)
    new = {k: v.astype(object) for k, v in choice_table(40, 6).items() if k != "mode"}
    new["price"][0], new["p_bus"][1] = None, None
    new["price"][2] = new["p_car"][2]
    session = ort.InferenceSession(str(folder / "x.onnx"))
    got = session.run(None, raw_feeds(model.preprocessor, new))[0]
    np.testing.assert_allclose(got, model.predict(new), rtol=1e-5, atol=1e-6)
