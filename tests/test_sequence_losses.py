"""SequenceCrossEntropy against torch's cross_entropy with ignore_index, and the sequence
metrics (perplexity, bits per character, token and exact-sequence accuracy)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oracles import to_numpy, to_torch
from scratchnn import losses, metrics
from scratchnn.functional import softmax

torch = pytest.importorskip(
    "torch", minversion="2.13", reason="PyTorch is the oracle here: the dev extra (torch==2.13.0)"
)
pytestmark = pytest.mark.usefixtures("single_threaded_torch")
F = torch.nn.functional


def batch(seed: int = 0, shape=(3, 5, 7)):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=shape)
    target = rng.integers(0, shape[-1], size=shape[:-1])
    target[0, 3:] = target[2, 1] = -100  # padding
    return logits, target


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_torch_cross_entropy_with_ignore_index(reduction):
    logits, target = batch()
    loss = losses.SequenceCrossEntropy(reduction=reduction)
    value = loss(logits, target)
    grad = loss.backward()
    z = to_torch(logits, requires_grad=True)
    expected = F.cross_entropy(
        z.reshape(-1, 7), to_torch(target).reshape(-1), ignore_index=-100, reduction=reduction
    )
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, to_numpy(z.grad), rtol=1e-10, atol=1e-15)
    assert np.all(grad[0, 3:] == 0) and np.all(grad[2, 1] == 0)


def test_sample_weight_weighs_every_position_of_a_sequence():
    logits, target = batch()
    w = np.array([1.0, 0.5, 2.0])
    loss = losses.SequenceCrossEntropy()
    value = loss(logits, target, w)
    grad = loss.backward()
    z = to_torch(logits, requires_grad=True)
    per = F.cross_entropy(
        z.reshape(-1, 7), to_torch(target).reshape(-1), ignore_index=-100, reduction="none"
    )
    weights = to_torch(np.repeat(w, 5) * (target.reshape(-1) != -100))
    expected = (per * weights).sum() / weights.sum()
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, to_numpy(z.grad), rtol=1e-10, atol=1e-15)


def test_a_batch_of_padding_only_adds_nothing():
    logits, _ = batch()
    loss = losses.SequenceCrossEntropy()
    assert loss(logits, np.full((3, 5), -100)) == 0.0
    assert np.all(loss.backward() == 0)


def test_prepare_targets_checks_token_ids():
    loss = losses.get("sequence_cross_entropy")
    np.testing.assert_array_equal(
        loss.prepare_targets([[1.0, 2.0], [0.0, -100.0]], 3, np.dtype(np.float32)),
        [[1, 2], [0, -100]],
    )
    with pytest.raises(ValueError, match=r"token ids in \[0, 3\) or the ignore_index -100"):
        loss.prepare_targets([[1, 3]], 3, np.dtype(np.float32))
    with pytest.raises(ValueError, match="integer token ids"):
        loss.prepare_targets([[0.5]], 3, np.dtype(np.float32))
    with pytest.raises(ValueError, match="ignore_index must be an integer <= -1"):
        losses.SequenceCrossEntropy(ignore_index=0)
    with pytest.raises(ValueError, match=r"need targets of shape \(3, 5\)"):
        loss(batch()[0], np.zeros((3, 4), dtype=int))


def test_perplexity_and_bits_per_character_are_the_exponentiated_loss():
    logits, target = batch()
    value = losses.SequenceCrossEntropy()(logits, target)
    p = softmax(logits)
    assert metrics.perplexity(p, target) == pytest.approx(math.exp(value), rel=1e-12)
    assert metrics.get("bpc")[1](p, target) == pytest.approx(value / math.log(2), rel=1e-12)
    uniform = np.full((2, 4, 7), 1 / 7)
    assert metrics.perplexity(uniform, np.zeros((2, 4), int)) == pytest.approx(7)


def test_token_and_sequence_accuracy_skip_padding():
    target = np.array([[1, 2, -100], [0, 0, 0]])
    predicted = np.array([[1, 2, 0], [0, 1, 0]])
    p = np.eye(3)[predicted]
    assert metrics.token_accuracy(p, target) == pytest.approx(4 / 5)
    assert metrics.sequence_accuracy(p, target) == 0.5
    assert metrics.get("exact_match")[0] == "sequence_accuracy"
