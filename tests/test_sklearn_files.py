"""The scikit-learn estimators' files, tampered with: ``MLPClassifier.load`` and
``MLPRegressor.load`` refuse every damaged or inconsistent file with a DataFileError that names
the file, the problem and what to do (never a KeyError, an IndexError or a NumPy traceback),
and leave the file as it was; an intact file loads back predicting the same."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6", reason="scikit-learn >= 1.6 is the sklearn extra")

from sklearn.datasets import make_blobs

import scratchnn as snn
from _model_files import members, npy, with_member, with_metadata, write, zip_bytes
from scratchnn.errors import DataFileError
from scratchnn.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: What every refusal of the wrapper says to do (besides the problem).
WAY_OUT = r"save\(path\) writes: save the fitted estimator again, or use an undamaged copy"


def _classifier_data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=90, centers=3, n_features=4, random_state=0)
    return X, np.array(["cat", "dog", "emu"])[y]


def _regressor_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(80, 3))
    return X, X[:, 0] - 2 * X[:, 1]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> dict[str, tuple[Any, bytes, np.ndarray]]:
    """``{kind: (estimator, the bytes of its file, X)}`` for a fitted classifier (string
    classes, batch norm, dropout, class weights) and a regressor (two tanh layers, early
    stopping)."""
    X, y = _classifier_data()
    clf = MLPClassifier(
        (6,), batch_norm=True, dropout=0.1, class_weight={"cat": 2.0}, max_iter=5, random_state=0
    ).fit(X, y)
    Xr, yr = _regressor_data()
    reg = MLPRegressor(
        hidden_layer_sizes=(5, 4),
        activation="tanh",
        early_stopping=True,
        max_iter=8,
        random_state=0,
    ).fit(Xr, yr)
    folder = tmp_path_factory.mktemp("sklearn-files")
    out = {}
    for kind, est, data in (("classifier", clf, X), ("regressor", reg, Xr)):
        est.save(folder / f"{kind}.npz")
        out[kind] = (est, (folder / f"{kind}.npz").read_bytes(), data)
    return out


def _state(edit: Callable[[dict], Any]) -> Callable[[dict], Any]:
    """An edit of the file's JSON that edits the estimator's section."""
    return lambda meta: edit(meta["metadata"]["sklearn"])


def _params(edit: Callable[[dict], Any]) -> Callable[[dict], Any]:
    """An edit of the file's JSON that edits the estimator's saved parameters."""
    return lambda meta: edit(meta["metadata"]["sklearn"]["params"])


def _set(key: str, value: Any) -> Callable[[dict], Any]:
    return lambda section: section.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict], Any]:
    return lambda section: section.pop(key)


def _layer(index: int, key: str, value: Any) -> Callable[[dict], Any]:
    """An edit of the network's architecture: layer ``index``'s config ``key``."""
    return lambda meta: meta["model"]["layers"][index]["config"].__setitem__(key, value)


def _edited(edit: Callable[[dict], Any]) -> Callable[[bytes], bytes]:
    return lambda data: with_metadata(data, edit)


def _parameters(transform: Callable[[np.ndarray], np.ndarray]) -> Callable[[bytes], bytes]:
    """The file with its flat parameter vector replaced by ``transform`` of it."""

    def tamper(data: bytes) -> bytes:
        with np.load(_io(data), allow_pickle=False) as archive:
            values = archive["parameters"]
        return with_member(data, "parameters", npy(transform(values)))

    return tamper


def _io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def _with_nan(values: np.ndarray) -> np.ndarray:
    values = values.copy()
    values[3] = np.nan
    return values


#: ``(estimator kind, what is tampered, how, what the message says)``: each refused.
CASES = [
    ("classifier", "no classes", _edited(_state(_drop("classes"))), r"lacks 'classes'"),
    (
        "classifier",
        "an extra key",
        _edited(_state(_set("hidden", 1))),
        r"has keys that save never writes: \['hidden'\]",
    ),
    (
        "classifier",
        "classes not a list",
        _edited(_state(_set("classes", "cat,dog,emu"))),
        r"classes must be a JSON list",
    ),
    (
        "classifier",
        "classes of two kinds",
        _edited(_state(_set("classes", ["cat", 1, "emu"]))),
        r"labels of one kind",
    ),
    (
        "classifier",
        "classes unsorted",
        _edited(_state(_set("classes", ["emu", "dog", "cat"]))),
        r"distinct and sorted",
    ),
    (
        "classifier",
        "more classes than outputs",
        _edited(_state(_set("classes", ["a", "b", "c", "d"]))),
        r"classes lists 4 labels, which need 4 network output\(s\), but the network has 3",
    ),
    (
        "classifier",
        "multilabel not a flag",
        _edited(_state(_set("multilabel", "no"))),
        r"multilabel must be bool",
    ),
    (
        "classifier",
        "n_features_in wrong",
        _edited(_state(_set("n_features_in", 5))),
        r"n_features_in is 5, but the network's first layer takes 4 features",
    ),
    (
        "classifier",
        "n_features_in ill-typed",
        _edited(_state(_set("n_features_in", "4"))),
        r"n_features_in must be a whole number",
    ),
    (
        "classifier",
        "feature_names_in too short",
        _edited(_state(_set("feature_names_in", ["a", "b"]))),
        r"feature_names_in must list 4 column names",
    ),
    (
        "classifier",
        "hidden_layer_sizes of another network",
        _edited(_params(_set("hidden_layer_sizes", [7]))),
        r"hidden_layer_sizes is \(7,\), but the network's hidden layers have \(6,\) units",
    ),
    (
        "classifier",
        "a huge declared hidden size",
        _edited(_params(_set("hidden_layer_sizes", [10**15]))),
        r"hidden_layer_sizes is \(1000000000000000,\)",
    ),
    (
        "classifier",
        "another activation",
        _edited(_params(_set("activation", "tanh"))),
        r"layer 2 of the network is \{'class_name': 'ReLU'.*build \{'class_name': 'Tanh'",
    ),
    (
        "classifier",
        "an unknown activation",
        _edited(_params(_set("activation", "swish2"))),
        r"saved parameters are refused \(.*swish2",
    ),
    (
        "classifier",
        "batch_norm off for a network that has it",
        _edited(_params(_set("batch_norm", False))),
        r"layer 1 of the network is \{'class_name': 'BatchNorm1d'",
    ),
    (
        "classifier",
        "batch_norm ill-typed",
        _edited(_params(_set("batch_norm", "yes"))),
        r"params\['batch_norm'\] must be bool",
    ),
    ("classifier", "a missing parameter", _edited(_params(_drop("alpha"))), r"lacks 'alpha'"),
    (
        "classifier",
        "a parameter out of range",
        _edited(_params(_set("alpha", -1.0))),
        r"The 'alpha' parameter of MLPClassifier must be a number >= 0",
    ),
    (
        "classifier",
        "class weights of an unknown class",
        _edited(_params(_set("class_weight", [["wolf", 2.0]]))),
        r"class_weight'\] weighs \['wolf'\]",
    ),
    (
        "classifier",
        "the estimator section not an object",
        _edited(lambda meta: meta["metadata"].__setitem__("sklearn", 5)),
        r"estimator section names None",
    ),
    (
        "classifier",
        "the parameters not an object",
        _edited(_state(_set("params", [1, 2]))),
        r"the estimator's params must be a JSON object",
    ),
    (
        "regressor",
        "an unknown loss",
        _edited(_params(_set("loss", "hinge"))),
        r"params\['loss'\] must be one of squared_error",
    ),
    (
        "regressor",
        "a loss of another output activation",
        _edited(_params(_set("loss", "poisson"))),
        r"out_activation is 'identity', but this MLPRegressor needs 'exp'",
    ),
    (
        "regressor",
        "out_activation ill-typed",
        _edited(_state(_set("out_activation", 3))),
        r"out_activation is 3",
    ),
    (
        "regressor",
        "a loss curve holding text",
        _edited(_state(_set("loss_curve", [0.5, "low"]))),
        r"loss_curve must be a list of finite numbers; it holds 'low'",
    ),
    (
        "regressor",
        "a negative iteration count",
        _edited(_state(_set("n_iter", -3))),
        r"n_iter must be a whole number in \[0, ",
    ),
    (
        "regressor",
        "a best loss that is text",
        _edited(_state(_set("best_validation_score", "high"))),
        r"best_validation_score must be null or a number",
    ),
    (
        "regressor",
        "the classifier's keys",
        _edited(_state(_set("classes", [0, 1]))),
        r"has keys that save never writes: \['classes'\]",
    ),
    (
        "regressor",
        "parameters of the wrong shape",
        _parameters(lambda values: values[:-1]),
        r"'parameters' holds float64 values of shape \(\d+,\), but the architecture needs",
    ),
    (
        "regressor",
        "parameters of the wrong dtype",
        _parameters(lambda values: values.astype(np.float16)),
        r"'parameters' holds float16 values",
    ),
    ("regressor", "non-finite parameters", _parameters(_with_nan), r"NaN or infinite"),
    (
        "regressor",
        "a huge declared layer",
        _edited(_layer(4, "out_features", 10**12)),
        r"layer 4's array 'W' size must be a whole number in \[0, \d+\]; it is 1000000000000",
    ),
    (
        "regressor",
        "a truncated file",
        lambda data: data[: len(data) // 2],
        r"or it is truncated: it has no zip directory",
    ),
    (
        "regressor",
        "a foreign .npz",
        lambda data: zip_bytes({"x.npy": npy(np.arange(4.0))}),
        r"not a scratchnn model",
    ),
    (
        "regressor",
        "metadata that is not JSON",
        lambda data: with_metadata(data, raw=b"{not json"),
        r"the model metadata is corrupt",
    ),
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("kind", "case", "tamper", "says"), CASES, ids=[c[1] for c in CASES])
def test_a_tampered_file_is_refused_clearly_and_left_as_it_was(
    fitted, tmp_path, kind, case, tamper, says
):
    est, data, _ = fitted[kind]
    path = write(tmp_path, tamper(data), f"{kind}.npz")
    before = _digest(path)
    with pytest.raises(DataFileError) as refused:
        type(est).load(path)
    message = str(refused.value)
    assert str(path) in message
    assert re_search(says, message), message
    assert re_search(WAY_OUT, message), message
    for raw in ("KeyError", "IndexError", "Traceback", "TypeError:"):
        assert raw not in message
    assert _digest(path) == before


def re_search(pattern: str, text: str) -> bool:
    return re.search(pattern, text, flags=re.DOTALL) is not None


def test_the_tampering_covers_the_issue(fitted):
    """At least 11 ways for each estimator's loader or in all; every case differs from the
    intact file."""
    assert len(CASES) >= 11
    assert {kind for kind, *_ in CASES} == {"classifier", "regressor"}
    for kind, _, tamper, _ in CASES:
        assert tamper(fitted[kind][1]) != fitted[kind][1]


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_an_intact_file_loads_back_predicting_the_same(fitted, tmp_path, kind):
    est, data, X = fitted[kind]
    path = write(tmp_path, data, f"{kind}.npz")
    loaded = type(est).load(path)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    if kind == "classifier":
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert loaded.get_params()["hidden_layer_sizes"] == est.get_params()["hidden_layer_sizes"]
    assert loaded.n_features_in_ == est.n_features_in_
    assert loaded.loss_curve_ == est.loss_curve_


def test_a_plain_model_file_is_refused_by_the_wrapper(tmp_path):
    path = tmp_path / "plain.npz"
    snn.MLP([4, 6, 3], seed=0).save(path)
    before = _digest(path)
    for cls in (MLPClassifier, MLPRegressor):
        with pytest.raises(DataFileError, match=r"plain scratchnn model.*scratchnn\.load\(path\)"):
            cls.load(path)
    assert _digest(path) == before


def test_one_estimator_refuses_the_others_file(fitted, tmp_path):
    path = write(tmp_path, fitted["regressor"][1], "regressor.npz")
    with pytest.raises(
        DataFileError,
        match=r"holds an MLPRegressor, not an MLPClassifier: load it with "
        r"scratchnn\.sklearn\.MLPRegressor\.load\(path\)",
    ):
        MLPClassifier.load(path)


def test_snn_load_reads_the_network_of_the_wrappers_file(fitted, tmp_path):
    """The wrapper's file is a model file with the estimator in its metadata: ``snn.load``
    gives its network (the estimator's ``model_``), whose raw outputs the estimator turns into
    probabilities; nothing is refused or lost."""
    est, data, X = fitted["classifier"]
    path = write(tmp_path, data, "classifier.npz")
    network = snn.load(path)
    assert isinstance(network, snn.Sequential)
    np.testing.assert_allclose(network.predict(X), est.model_.predict(X))
    assert est.classes_[network.predict(X).argmax(axis=1)].tolist() == est.predict(X).tolist()
    assert network.metadata["sklearn"]["estimator"] == "MLPClassifier"


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        MLPClassifier.load(tmp_path / "absent.npz")


def test_members_are_those_save_writes(fitted):
    """The tampering above starts from what save writes: the network's members only."""
    names = set(members(fitted["classifier"][1]))
    assert "__metadata__.npy" in names and "parameters.npy" in names
    meta = json.loads(np.load(_io(fitted["classifier"][1]))["__metadata__"].tobytes())
    assert set(meta["metadata"]["sklearn"]) >= {"classes", "params", "n_features_in"}
