"""TableEncoder: imputation, standardization, one-hot encoding, unseen and rare categories,
input kinds, and its saved state; checked against scikit-learn's ColumnTransformer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchnn.tables import MISSING_CATEGORY, OTHER_CATEGORY, TableEncoder, tabular_mlp


def mixed_table(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    size = rng.normal(50, 10, n).round(2).astype(object)
    size[rng.random(n) < 0.2] = None
    weight = rng.exponential(3, n).round(3).astype(str).astype(object)
    weight[rng.random(n) < 0.1] = "NA"
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    colour[rng.random(n) < 0.15] = ""
    return {"size": size, "weight": weight, "colour": colour}


def test_matches_scikit_learn_impute_scale_and_one_hot():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    assert sklearn
    train, test = mixed_table(200, 0), mixed_table(50, 1)
    test["colour"][:3] = "purple"  # unseen in training
    encoder = TableEncoder().fit(train)
    assert encoder.roles.numeric == ["size", "weight"]
    assert encoder.roles.categorical == ["colour"]

    def numeric(table):
        return np.column_stack(
            [
                np.array([np.nan if v is None else float(v) for v in table["size"]]),
                np.array([np.nan if v == "NA" else float(v) for v in table["weight"]]),
            ]
        )

    def category(table):
        return np.array([[MISSING_CATEGORY if v == "" else v] for v in table["colour"]])

    reference = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), [0, 1]),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [2]),
        ]
    )

    def stacked(table):
        return np.column_stack([numeric(table).astype(object), category(table)])

    reference.fit(stacked(train))
    np.testing.assert_allclose(encoder.transform(test), reference.transform(stacked(test)))
    assert encoder.unseen_ == {"colour": 3}
    np.testing.assert_allclose(encoder.transform(train), reference.transform(stacked(train)))
    assert encoder.unseen_ == {}


def test_categories_missing_as_own_category_or_most_frequent():
    X = {"c": ["a", "a", None, "b"], "x": [1, 2, 3, 4]}
    own = TableEncoder().fit(X)
    assert own.feature_names_out() == ["x", f"c={MISSING_CATEGORY}", "c=a", "c=b"]
    frequent = TableEncoder(categorical_missing="most_frequent").fit(X)
    assert frequent.feature_names_out() == ["x", "c=a", "c=b"]
    np.testing.assert_array_equal(frequent.transform({"c": [None], "x": [1]})[0, 1:], [1, 0])
    with pytest.raises(ValueError, match="categorical_missing"):
        TableEncoder(categorical_missing="drop")


def test_numbers_spelled_differently_are_one_category():
    encoder = TableEncoder(numeric=[], categorical=["grade"]).fit({"grade": ["1", "2.0", 2, 3]})
    assert encoder.categories["grade"] == ["1", "2", "3"]
    np.testing.assert_array_equal(
        encoder.transform({"grade": [2.0, "1.0"]}), [[0, 1, 0], [1, 0, 0]]
    )


def test_rare_categories_are_pooled_with_a_notice():
    values = ["a"] * 10 + ["b"] * 8 + ["c"] * 2 + ["d"] + ["e"]
    encoder = TableEncoder(max_categories=3).fit({"k": values, "x": np.arange(len(values)) % 5})
    assert encoder.categories["k"] == [OTHER_CATEGORY, "a", "b"]
    assert "pooled" in encoder.notices[0]
    out = encoder.transform({"k": ["d", "zzz", "a"], "x": [0, 0, 0]})
    np.testing.assert_array_equal(out[:, 1:], [[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match="max_categories"):
        TableEncoder(max_categories=1)


def test_missing_indicator_and_configured_tokens():
    X = {"x": ["1", "-", "3", "5"], "y": ["2", "4", "6", "8"]}
    encoder = TableEncoder(missing_tokens=["-"], missing_indicator=True).fit(X)
    assert encoder.feature_names_out() == ["x", "y", "x_missing"]
    out = encoder.transform(X)
    np.testing.assert_array_equal(out[:, 2], [0, 1, 0, 0])
    assert out[1, 0] == pytest.approx((3 - 3) / np.std([1, 3, 3, 5]))
    # "NA" is not a missing token here, so x is text: a categorical column
    assert TableEncoder(missing_tokens=["-"]).fit({"x": ["NA", "1", "2"]}).roles.categorical == [
        "x"
    ]


def test_dataframe_dict_and_positional_array_give_the_same_matrix():
    pd = pytest.importorskip("pandas")
    table = mixed_table(40, 3)
    frame = pd.DataFrame(table)
    encoder = TableEncoder().fit(frame)
    from_dict = TableEncoder().fit(table).transform(table)
    np.testing.assert_array_equal(encoder.transform(frame), from_dict)
    rows = np.column_stack([table[name] for name in encoder.input_columns])
    np.testing.assert_array_equal(encoder.transform(rows), from_dict)
    # pandas' own missing markers and a column order of its own
    frame2 = frame[["colour", "weight", "size"]].astype({"size": "Float64"})
    np.testing.assert_array_equal(encoder.transform(frame2), from_dict)


def test_state_round_trips_through_json():
    train = mixed_table(60, 4)
    encoder = TableEncoder(missing_indicator=True).fit(train)
    config, arrays = encoder.get_state()
    config = json.loads(json.dumps(config))
    again = TableEncoder.from_state(config, arrays)
    np.testing.assert_array_equal(again.transform(train), encoder.transform(train))
    assert again.feature_names_out() == encoder.feature_names_out()
    arrays["mean"] = arrays["mean"][:1]
    with pytest.raises(ValueError, match="mean"):
        TableEncoder.from_state(config, arrays)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        ({"size": [1.0]}, "lacks the column"),
        ({"size": ["big"], "weight": ["1"], "colour": ["red"]}, "was numeric in training"),
        ([[1.0, 2.0]], "3 are expected"),
        ("size", "DataFrame"),
        ({"size": [1, 2], "weight": [1], "colour": ["a"]}, "different lengths"),
    ],
)
def test_bad_input_is_explained(X, message):
    encoder = TableEncoder().fit(mixed_table(30, 5))
    with pytest.raises((ValueError, TypeError), match=message):
        encoder.transform(X)


def test_unfitted_encoder_and_empty_fit():
    with pytest.raises(ValueError, match="not fitted"):
        TableEncoder().transform({"a": [1]})
    with pytest.raises(ValueError, match="at least one row"):
        TableEncoder(numeric=["a"]).fit({"a": []})


def test_python_users_fit_and_predict_on_raw_columns():
    rng = np.random.default_rng(0)
    n = 300
    colour = rng.choice(["red", "blue"], n)
    size = rng.normal(0, 1, n)
    price = 1000 + 300 * size + 500 * (colour == "red") + rng.normal(0, 20, n)
    X = {"size": size.astype(object), "colour": colour.astype(object)}
    X["size"][:10] = None
    model = tabular_mlp(X, price, hidden=[16], seed=0)
    assert model.target_transform is not None
    model.fit(X, price, loss="mse", optimizer="adam", epochs=60, batch_size=32, verbose=0)
    predicted = model.predict({"size": [0.0, 0.0], "colour": ["red", "blue"]})
    np.testing.assert_allclose(predicted.ravel(), [1500, 1000], atol=60)
    labels = (colour == "red").astype(int)
    classifier = tabular_mlp(X, labels, hidden=[8], seed=0)
    assert classifier.target_transform is None and classifier.out_features == 2
    with pytest.raises(ValueError, match="task"):
        tabular_mlp(X, labels, task="ranking")


def test_robust_scaling_is_median_and_iqr_then_smooth_clip():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.normal(10, 2, 97), [1e6, -1e5, 300.0]])  # three outliers
    b = np.r_[np.full(90, 5.0), np.arange(10.0)]  # interquartile range 0: the std instead
    X = {"a": a, "b": b, "c": np.full(100, 7.0)}  # c constant: scale 1
    encoder = TableEncoder(numeric=["a", "b", "c"], scaling="robust").fit(X)
    q25, q75 = np.percentile(a, [25, 75])
    np.testing.assert_allclose(encoder.mean_, [np.median(a), 5.0, 7.0])
    np.testing.assert_allclose(encoder.scale_, [q75 - q25, b.std(), 1.0])
    z = (a - np.median(a)) / (q75 - q25)
    out = encoder.transform(X)
    np.testing.assert_allclose(out[:, 0], z / np.sqrt(1 + (z / 3) ** 2))
    assert np.abs(out).max() < 3 and out[97, 0] > 2.99  # the outlier lands near 3, not 1e5
    # far beyond float64's square (and beyond the training range): ±3, no warning, no NaN
    with np.errstate(all="raise"):
        far = encoder.transform({"a": [1e308, -1e308], "b": [5.0, 5.0], "c": [7.0, 7.0]})
    np.testing.assert_allclose(far[:, 0], [3.0, -3.0])
    config, arrays = encoder.get_state()
    assert config["scaling"] == "robust"
    again = TableEncoder.from_state(json.loads(json.dumps(config)), arrays)
    np.testing.assert_array_equal(again.transform(X), out)
    config.pop("scaling")  # a file from before robust scaling: standard
    assert TableEncoder.from_state(config, arrays).scaling == "standard"
    with pytest.raises(ValueError, match=r"scaling must be 'standard' or 'robust'\. Received: 'x'"):
        TableEncoder(scaling="x")
