"""Faults in scale-out, on a LocalCluster of two worker processes: a worker killed in the
middle of data-parallel training, and a worker killed in the middle of a set of trials (what
``scratchnn search`` and ``compare`` run). Each completes with the result of a run without
the fault."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed", reason="Dask is the optional 'dask' extra")

from dask.distributed import Client, LocalCluster

import scratchnn as snn
from scratchnn.distributed import TrialsLostError, map_trials

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


# Faults for good: every worker lost, the scheduler lost, the cluster closed. The trials that
# finished before the loss are kept, and the error says in one line what was lost.


class _Processes:
    """A Dask scheduler and workers, each a process of its own and without a nanny, as on
    machines of their own: a worker killed stays dead, and so does the scheduler."""

    def __init__(self, folder, workers: int = 2) -> None:
        paths = [os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
        env["OPENBLAS_NUM_THREADS"] = "1"
        file = folder / "scheduler.json"
        quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
            **quiet,
        )  # fmt: skip
        self.workers = []
        try:
            deadline = time.monotonic() + 30
            while not file.exists() or not file.read_text().strip():
                assert time.monotonic() < deadline, "the scheduler did not start in 30 s"
                time.sleep(0.1)
            time.sleep(0.1)  # (the file is written whole)
            self.address = json.loads(file.read_text())["address"]
            worker = [sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                      "--nthreads", "1", "--no-nanny", "--no-dashboard"]  # fmt: skip
            self.workers = [subprocess.Popen(worker, **quiet) for _ in range(workers)]
            with Client(self.address, timeout=30) as client:
                client.wait_for_workers(workers, timeout=30)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@pytest.fixture
def processes(tmp_path):
    cluster = _Processes(tmp_path)
    yield cluster
    cluster.close()


def _finish_two(item, folder) -> bool:
    """Trials 0 and 1 finish (True), and say so with a file; any other waits until both
    results are back at the driver (False)."""
    if item < 2:
        open(os.path.join(folder, f"finished-{item}"), "w").close()
        return True
    deadline = time.monotonic() + 15
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # (the driver fetches a result within 0.1 s of its trial's end)
    return False


def _finish_two_then_kill_the_worker(item, folder):
    """Trials 0 and 1 finish; any other ends its worker's process (which no nanny restarts)."""
    if _finish_two(item, folder):
        return item * item
    os.kill(os.getpid(), signal.SIGKILL)


def test_trials_keep_what_finished_when_every_worker_is_lost(processes, tmp_path):
    folder = tmp_path / "finished"
    folder.mkdir()
    start = time.monotonic()
    with pytest.raises(TrialsLostError) as lost:
        map_trials(
            _finish_two_then_kill_the_worker, list(range(6)), str(folder),
            scheduler=processes.address, no_workers_timeout=1,
        )  # fmt: skip
    error = lost.value
    assert error.reason == "workers lost"
    assert error.finished == {0: 0, 1: 1} and error.lost == [2, 3, 4, 5] and error.total == 6
    assert str(error).startswith("workers lost: 2 of 6 trials finished, 4 were lost (")
    assert "no worker for 1 s" in str(error) and "\n" not in str(error)
    assert isinstance(error, snn.errors.ScratchnnError) and isinstance(error, RuntimeError)
    assert time.monotonic() - start < 15  # given up after a second without workers, no hang


def _finish_two_then_kill_the_scheduler(item, shared):
    """Trials 0 and 1 finish; the others end the scheduler's process, then wait."""
    folder, scheduler_pid = shared
    if _finish_two(item, folder):
        return item * item
    os.kill(scheduler_pid, signal.SIGKILL)
    time.sleep(10)


def test_trials_keep_what_finished_when_the_scheduler_is_lost(processes, tmp_path):
    shared = (str(tmp_path / "finished"), processes.scheduler.pid)
    os.mkdir(shared[0])
    with pytest.raises(TrialsLostError) as lost:
        map_trials(
            _finish_two_then_kill_the_scheduler, list(range(5)), shared,
            scheduler=processes.address,
        )  # fmt: skip
    error = lost.value
    assert error.reason == "scheduler lost"
    assert error.finished == {0: 0, 1: 1} and error.lost == [2, 3, 4]
    assert str(error).startswith("scheduler lost: 2 of 5 trials finished, 3 were lost (")
    assert "scheduler" in str(error) and "\n" not in str(error)


def _finish_two_then_wait(item, folder):
    """Trials 0 and 1 finish; the others take long."""
    if _finish_two(item, folder):
        return item * item
    time.sleep(20)


def test_trials_keep_what_finished_when_the_cluster_is_closed(tmp_path):
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=50,
    )  # fmt: skip

    def close_after_two():
        deadline = time.monotonic() + 30
        while len(os.listdir(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # (their results are back at the driver by then)
        cluster.close(timeout=5)

    closer = threading.Thread(target=close_after_two)
    with cluster, Client(cluster) as client:
        closer.start()
        with pytest.raises(TrialsLostError) as lost:
            map_trials(_finish_two_then_wait, list(range(4)), str(tmp_path), client=client)
        closer.join()
    error = lost.value
    assert error.reason == "cluster closed", str(error)
    assert error.finished == {0: 0, 1: 1} and error.lost == [2, 3]
    assert str(error).startswith("cluster closed: 2 of 4 trials finished, 2 were lost (")
