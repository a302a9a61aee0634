"""Faults in scale-out, on a LocalCluster of two worker processes: a worker killed in the
middle of data-parallel training, and a worker killed in the middle of a set of trials (what
``scratchnn search`` and ``compare`` run). Each completes with the result of a run without
the fault."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

pytest.importorskip("distributed", reason="Dask is the optional 'dask' extra")

from dask.distributed import Client, LocalCluster

import scratchnn as snn
from scratchnn.distributed import map_trials

pytestmark = pytest.mark.slow


@pytest.fixture
def client():
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=50,
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _model():
    return snn.Sequential([snn.Dense(4, 8), snn.Tanh(), snn.Dense(8, 2)], seed=1, dtype=np.float64)


class _KillAWorker(snn.callbacks.Callback):
    """Ends one worker's process after the given batch (its replica is lost)."""

    def __init__(self, client, batch: int) -> None:
        self.client, self.batch, self.done = client, batch, False

    def on_batch_end(self, batch, logs):
        if batch == self.batch and not self.done:
            self.done = True
            victim = sorted(self.client.scheduler_info()["workers"])[0]
            pid = self.client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)


def test_a_worker_killed_mid_data_parallel_fit_is_replaced_and_the_result_is_unchanged(client):
    X, y = _data()
    options = dict(loss="cross_entropy", optimizer="adam", epochs=2, batch_size=32)
    expected = _model()
    expected.fit(X, y, verbose=0, **options)
    model = _model()
    history = snn.distributed.fit(
        model, X, y, client, callbacks=[_KillAWorker(client, batch=3)], **options
    )
    assert len(history) == 2 and model.epochs_trained == 2
    np.testing.assert_allclose(model.get_weights(), expected.get_weights(), rtol=1e-9, atol=1e-12)
    assert history.data_parallel.replicas_replaced >= 1  # the fault happened
    assert history.data_parallel.max_replica_difference < 1e-9


def _kill_once(item, marker):
    """A trial whose first attempt on item 2 ends its worker's process."""
    if item == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return item * item


def test_a_worker_killed_mid_trials_leaves_the_results_unchanged(client, tmp_path):
    marker = str(tmp_path / "killed")
    results = map_trials(_kill_once, list(range(6)), marker, client=client)
    assert os.path.exists(marker)  # the fault happened
    assert results == [i * i for i in range(6)]


def test_data_parallel_on_a_cluster_without_workers_says_so():
    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=None, silence_logs=50) as cl,
        Client(cl) as empty,
    ):
        X, y = _data(n=32)
        with pytest.raises(ValueError, match="no workers to hold the model's replicas"):
            snn.distributed.fit(_model(), X, y, empty, loss="cross_entropy", optimizer="adam")
