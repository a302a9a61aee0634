"""The whole pipeline in ONNX: raw columns in (numbers with NaN, strings), imputation, one-hot
encoding, scaling, the network and the inverse target scaling, checked against
``model.predict`` and ``scratchnn predict`` on raw rows."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from scratchnn.cli.main import main
from scratchnn.io import load
from scratchnn.layers import PeriodicEmbedding, PiecewiseLinearEncoding
from scratchnn.tables import TableEncoder, read_table, tabular_mlp
from scratchnn.tables.export import raw_feeds

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def table(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    size = rng.normal(100, 30, n).round(1).astype(str)
    size[rng.random(n) < 0.1] = "NA"
    towns = ["north", "south", "east", "west", "x1", "x2", "x3"]
    town = rng.choice(towns, n, p=[0.3, 0.3, 0.2, 0.1, 0.04, 0.03, 0.03])
    town[rng.random(n) < 0.1] = ""
    rooms = rng.integers(1, 6, n).astype(str)
    numbers = np.where(size == "NA", "100", size).astype(float)
    price = 1000 * numbers + 20000 * (town == "north") + 5000 * rooms.astype(int)
    return {"size": size, "town": town, "rooms": rooms, "price": price.round(0).astype(str)}


@pytest.mark.parametrize(
    ("task", "scaling", "embedding"),
    [
        ("regression", "standard", "none"),
        ("classification", "standard", "none"),
        ("regression", "robust", "none"),
        ("classification", "robust", "periodic"),
        ("regression", "standard", "piecewise"),
    ],
)
def test_exported_pipeline_matches_predict_on_raw_rows(tmp_path, capsys, task, scaling, embedding):
    data = table(300, 0)
    target = "price" if task == "regression" else "town"
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(data))
        writer.writerows(zip(*data.values(), strict=True))
    args = ["train", path, "--target", target, "--layers", "16", "--epochs", "5", "--quiet",
            "--categorical", "rooms", "--max-categories", "5", "--missing-indicator",
            "--numeric-scaling", scaling, "--numeric-embedding", embedding,
            "--out", tmp_path / "m.npz"]  # fmt: skip
    if embedding == "periodic":
        args += ["--embedding-frequencies", 3, "--embedding-sigma", 0.3]
    if embedding == "piecewise":
        args += ["--embedding-bins", 5]
    assert main([str(a) for a in args]) == 0
    header = capsys.readouterr().out  # the decision, and how to make the other one
    other = "robust" if scaling == "standard" else "standard"
    assert f"Numeric columns: {scaling} scaling" in header
    assert f"(--numeric-scaling {other})." in header
    assert ("Numeric embedding: periodic, 3 learned frequencies c ~ N(0, 0.3²)" in header) == (
        embedding == "periodic"
    )
    assert ("Numeric embedding: piecewise-linear, 5 bins per numeric column between the "
            "quantiles of its training values" in header) == (embedding == "piecewise")  # fmt: skip
    assert main(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx")]) == 0
    model = load(tmp_path / "m.npz")
    assert model.preprocessor.scaling == scaling
    assert model.metadata["training"]["numeric_embedding"] == embedding
    if embedding == "periodic":  # in front of each of the ensemble's networks
        members = model.layers[0].sublayers()
        assert len(members) == 3
        assert all(isinstance(m.layers[0], PeriodicEmbedding) for m in members)
        assert members[0].layers[0].numeric == len(model.preprocessor.roles.numeric) == 2
        assert (members[0].layers[0].frequencies, members[0].layers[0].sigma) == (3, 0.3)
    if embedding == "piecewise":  # one encoding in front of the ensemble, which shares it
        encode = model.layers[0]
        assert isinstance(encode, PiecewiseLinearEncoding) and encode.bins == 5
        assert encode.numeric == len(model.preprocessor.roles.numeric) == 1  # size
        assert encode.keep_inputs and encode.buffers["edges"].shape == (1, 6)
    new = table(50, 1)
    new["town"][:4] = ["atlantis", "NA", "north", "x3"]  # unseen, missing, known, pooled
    new["rooms"][:2] = ["9", "2.0"]  # unseen, and a number spelled another way
    if scaling == "robust":  # far beyond the training range: clipped to about ±3
        new["size"][4:6] = ["1e308", "-5000"]
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    assert [i.name for i in session.get_inputs()] == model.preprocessor.input_columns
    got = session.run(None, raw_feeds(model.preprocessor, new))[0]
    expected = model.predict(new)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    capsys.readouterr()
    if task == "regression":
        with open(tmp_path / "new.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(list(new))
            writer.writerows(zip(*new.values(), strict=True))
        assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "new.csv")]) == 0
        printed = [float(r[0]) for r in list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]]
        np.testing.assert_allclose(got.ravel(), printed, rtol=1e-5)


def test_python_model_with_an_encoder_exports(tmp_path):
    from scratchnn import export_onnx

    X = {"a": [1.0, None, 3.0, 4.0] * 5, "c": ["u", "v", None, "u"] * 5}
    model = tabular_mlp(X, np.arange(20.0), hidden=[4], task="regression", seed=0)
    export_onnx(model, tmp_path / "p.onnx")
    session = ort.InferenceSession(str(tmp_path / "p.onnx"))
    got = session.run(None, raw_feeds(model.preprocessor, X))[0]
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-5, atol=1e-6)


def test_raw_feeds_of_a_file(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("x,c\n1,a\nNA,b\n3,a\n")
    raw = read_table(path)
    encoder = TableEncoder().fit(raw)
    feeds = raw_feeds(encoder, raw)
    assert feeds["x"].dtype == np.float64 and np.isnan(feeds["x"][1, 0])
    assert feeds["c"].tolist() == [["a"], ["b"], ["a"]]
