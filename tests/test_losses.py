"""losses.py against PyTorch: ``reduction="sum"`` equals PyTorch's and ``"mean"`` is unchanged;
sample weights give ``sum(w·l) / sum(w)`` in value and gradient; class weights."""

import numpy as np
import pytest

import scratchnn as snn

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)
pytestmark = pytest.mark.usefixtures("single_threaded_torch")


def regression(rng):
    return rng.normal(size=(6, 3)), rng.normal(size=(6, 3))


def probabilities(rng):
    return rng.uniform(0.05, 0.95, size=(6, 3)), rng.integers(0, 2, size=(6, 3)).astype(float)


def logits_and_bits(rng):
    return rng.normal(size=(6, 3)) * 3, rng.integers(0, 2, size=(6, 3)).astype(float)


def logits_and_labels(rng):
    return rng.normal(size=(6, 4)) * 3, rng.integers(0, 4, size=6)


def log_rates_and_counts(rng):
    return rng.normal(size=(6, 3)), rng.poisson(2.0, size=(6, 3)).astype(float)


CASES = [
    (snn.losses.MSE, {}, regression, torch.nn.MSELoss, {}),
    (snn.losses.MAE, {}, regression, torch.nn.L1Loss, {}),
    (snn.losses.Huber, {"delta": 0.7}, regression, torch.nn.HuberLoss, {"delta": 0.7}),
    (snn.losses.BinaryCrossEntropy, {}, probabilities, torch.nn.BCELoss, {}),
    (
        snn.losses.BinaryCrossEntropy,
        {"from_logits": True},
        logits_and_bits,
        torch.nn.BCEWithLogitsLoss,
        {},
    ),
    (snn.losses.CrossEntropy, {}, logits_and_labels, torch.nn.CrossEntropyLoss, {}),
    (
        snn.losses.Poisson,
        {},
        log_rates_and_counts,
        torch.nn.PoissonNLLLoss,
        {"log_input": True, "full": False},
    ),
]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(("ours", "kwargs", "make_data", "theirs", "torch_kwargs"), CASES)
def test_reduction_matches_torch(ours, kwargs, make_data, theirs, torch_kwargs, reduction, rng):
    prediction, target = make_data(rng)
    loss = ours(**kwargs, reduction=reduction)
    value = loss(prediction, target)
    grad = loss.backward()
    p = torch.tensor(prediction, requires_grad=True)
    t = torch.tensor(target)
    expected = theirs(**torch_kwargs, reduction=reduction)(p, t)
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_summed_cross_entropy_with_class_weights_matches_torch(rng):
    logits, labels = logits_and_labels(rng)
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    loss = snn.losses.CrossEntropy(reduction="sum")
    value = loss(logits, labels, sample_weight=weight[labels])
    grad = loss.backward()
    z = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.CrossEntropyLoss(weight=torch.tensor(weight), reduction="sum")(
        z, torch.tensor(labels)
    )
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10)


def test_sum_is_mean_times_n_and_configs_round_trip(rng):
    prediction, target = regression(rng)
    mean, total = snn.losses.MSE(), snn.losses.MSE(reduction="sum")
    assert total(prediction, target) == pytest.approx(prediction.size * mean(prediction, target))
    np.testing.assert_allclose(total.backward(), prediction.size * mean.backward(), rtol=1e-14)
    assert mean.get_config().get("reduction", "mean") == "mean"
    assert total.get_config()["reduction"] == "sum"
    for loss in (mean, total, snn.losses.CrossEntropy(reduction="sum"), snn.losses.Huber(0.5)):
        again = snn.losses.get({"class_name": type(loss).__name__, "config": loss.get_config()})
        assert again.get_config() == loss.get_config()
    # A config written before reduction existed (files of older versions) means the mean.
    assert snn.losses.get({"class_name": "MSE", "config": {}}).reduction == "mean"
    assert (
        snn.losses.get({"class_name": "CrossEntropy", "config": {"from_logits": True}}).reduction
        == "mean"
    )


def test_saved_model_keeps_the_reduction(tmp_path):
    X, y = snn.datasets.xor(np.float64)
    model = snn.Sequential([snn.Dense(2, 4), snn.Sigmoid(), snn.Dense(4, 1)], seed=0)
    model.fit(X, y, loss=snn.losses.MSE(reduction="sum"), optimizer="sgd", epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    assert snn.load(tmp_path / "m.npz").loss.reduction == "sum"


def test_unknown_reduction_is_refused():
    message = r"reduction must be one of 'mean', 'sum'. Received: reduction='none'"
    with pytest.raises(ValueError, match=message):
        snn.losses.MSE(reduction="none")


# Sample weights: sum(w·l) / sum(w), in value and gradient, as PyTorch computes it


def _torch_weighted(per_element, weights):
    per_sample = per_element.reshape(len(per_element), -1).mean(dim=1)
    return (weights * per_sample).sum() / weights.sum()


LOSS_CASES = {
    "mse": (snn.losses.MSE(), "regression", lambda p, y: (p - y) ** 2),
    "mae": (snn.losses.MAE(), "regression", lambda p, y: (p - y).abs()),
    "huber": (
        snn.losses.Huber(delta=0.7),
        "regression",
        lambda p, y: torch.nn.functional.huber_loss(p, y, reduction="none", delta=0.7),
    ),
    "bce": (
        snn.losses.BinaryCrossEntropy(),
        "probabilities",
        lambda p, y: torch.nn.functional.binary_cross_entropy(p, y, reduction="none"),
    ),
    "bce_logits": (
        snn.losses.BinaryCrossEntropy(from_logits=True),
        "binary",
        lambda p, y: torch.nn.functional.binary_cross_entropy_with_logits(p, y, reduction="none"),
    ),
    "ce_labels": (
        snn.losses.CrossEntropy(),
        "labels",
        lambda p, y: torch.nn.functional.cross_entropy(p, y, reduction="none"),
    ),
    "ce_soft": (
        snn.losses.CrossEntropy(),
        "soft",
        lambda p, y: torch.nn.functional.cross_entropy(p, y, reduction="none"),
    ),
    "ce_probabilities": (
        snn.losses.CrossEntropy(from_logits=False),
        "softmax_labels",
        lambda p, y: torch.nn.functional.nll_loss(p.log(), y, reduction="none"),
    ),
    "poisson": (
        snn.losses.Poisson(),
        "counts",
        lambda p, y: torch.nn.functional.poisson_nll_loss(p, y, log_input=True, reduction="none"),
    ),
}


@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_weighted_loss_is_sum_w_l_over_sum_w_in_value_and_gradient(case):
    loss, kind, per_element = LOSS_CASES[case]
    rng = np.random.default_rng(3)
    n, k = 13, 4
    if kind == "regression":
        prediction, target = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    elif kind == "probabilities":
        prediction, target = rng.uniform(0.05, 0.95, (n, k)), rng.integers(0, 2, (n, k)) * 1.0
    elif kind == "binary":
        prediction, target = rng.normal(size=(n, k)), rng.uniform(0, 1, (n, k))
    elif kind == "labels":
        prediction, target = rng.normal(size=(n, k)), rng.integers(0, k, n)
    elif kind == "counts":
        prediction, target = rng.normal(size=(n, k)), rng.poisson(1.5, (n, k)) * 1.0
    elif kind == "soft":
        prediction, target = rng.normal(size=(n, k)), rng.dirichlet(np.ones(k), n)
    else:
        prediction, target = rng.dirichlet(np.ones(k), n), rng.integers(0, k, n)
    weights = rng.uniform(0, 3, n)
    weights[[2, 5]] = 0.0
    value = loss.forward(prediction, target, weights)
    grad = loss.backward()
    p = torch.tensor(prediction, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(target)
    expected = _torch_weighted(per_element(p, t), torch.tensor(weights))
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-10, atol=1e-14)
    # Weights of 1 are the plain mean; scaling all weights changes nothing.
    assert loss.forward(prediction, target, np.ones(n)) == pytest.approx(
        loss.forward(prediction, target), rel=1e-12
    )
    assert loss.forward(prediction, target, 7.5 * weights) == pytest.approx(value, rel=1e-12)


def test_cross_entropy_with_class_weights_equals_torch():
    rng = np.random.default_rng(7)
    n, k = 17, 5
    logits = rng.normal(size=(n, k)) * 2
    labels = rng.integers(0, k, n)
    table = rng.uniform(0.2, 3.0, k)
    loss = snn.losses.CrossEntropy()
    value = loss.forward(logits, labels, table[labels])
    grad = loss.backward()
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(
        z, torch.tensor(labels), weight=torch.tensor(table)
    )
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_poisson_predicts_rates_refuses_negative_counts_and_trains_to_the_mean():
    loss = snn.losses.Poisson()
    np.testing.assert_allclose(loss.output_transform(np.log([[3.0]])), [[3.0]])
    with pytest.raises(ValueError, match=r"targets >= 0.*minimum of -1"):
        loss.prepare_targets(np.array([1.0, -1.0]), 1, np.dtype("float64"))
    # one group of rows: the Poisson fit's rate is the group's mean count, as for its MLE
    rng = np.random.default_rng(0)
    X = np.ones((200, 1))
    y = rng.poisson(4.0, size=(200, 1)).astype(float)
    model = snn.Sequential([snn.Dense(1, 1)], seed=0, dtype="float64")
    model.fit(X, y, loss=loss, optimizer=snn.optim.Adam(lr=0.05), epochs=300, batch_size=None,
              verbose=0)  # fmt: skip
    rate = loss.output_transform(model.predict(X[:1]))[0, 0]
    assert rate == pytest.approx(y.mean(), rel=1e-3)
