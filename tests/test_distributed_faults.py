"""Faults in scale-out. On a LocalCluster of two worker processes: a worker killed in the
middle of data-parallel training, and a worker killed in the middle of a set of trials (what
``scratchnn search`` and ``compare`` run); each completes with the result of a run without
the fault. Then faults for good, on a scheduler and workers that are processes of their own
(no nanny to restart them), and on a LocalCluster closed mid-run: every worker killed, the
scheduler killed, the cluster closed, under ``map_trials``, ``scratchnn search`` and
``compare`` (through tests/_cli.run) and ``distributed.fit``; each ends with one line that
says what was lost, and keeps the trials that finished or the model's last step."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed", reason="Dask is the optional 'dask' extra")

import dask
from dask.distributed import Client, LocalCluster, get_client, get_worker

import scratchnn as snn
from _cli import error_line, run
from scratchnn.cli import compare, search
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
    machines of their own: a worker killed stays dead, and so does the scheduler. Six threads
    a worker, so that every trial of a test runs at once: none waits behind one that waits
    for it."""

    def __init__(self, folder, workers: int = 2) -> None:
        paths = [os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
        env["OPENBLAS_NUM_THREADS"] = "1"
        self.finished = folder / "finished"  # where the command line's trials say they finished
        self.finished.mkdir()
        env["SCRATCHNN_TEST_FINISHED"] = str(self.finished)
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
            env["SCRATCHNN_TEST_SCHEDULER"] = str(self.scheduler.pid)
            worker = [sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                      "--nthreads", "6", "--no-nanny", "--no-dashboard"]  # fmt: skip
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
    """Trials 0 and 1 finish (True), and leave a file named by their task's key; any other
    (False) waits until both have finished and the driver has fetched their results (the
    scheduler has forgotten their keys)."""
    if item < 2:
        _say_finished(folder)
        return True
    _wait_until_two_fetched(folder)
    return False


def _say_finished(folder) -> None:
    open(os.path.join(folder, get_worker().get_current_task()), "w").close()


def _wait_until_two_fetched(folder) -> None:
    def known(dask_scheduler, keys):
        return [key for key in keys if key in dask_scheduler.tasks]

    deadline = time.monotonic() + 15
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    client, keys = get_client(), os.listdir(folder)
    while client.run_on_scheduler(known, keys=keys) and time.monotonic() < deadline:
        time.sleep(0.05)


def _finish_two_then_kill_the_worker(item, folder):
    """Trials 0 and 1 finish; any other ends its worker's process (which no nanny restarts)."""
    if _finish_two(item, folder):
        return item * item
    os.kill(os.getpid(), signal.SIGKILL)


def test_trials_keep_what_finished_when_every_worker_is_lost(processes):
    folder = processes.finished
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


def test_trials_keep_what_finished_when_the_scheduler_is_lost(processes):
    shared = (str(processes.finished), processes.scheduler.pid)
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
        keys = os.listdir(tmp_path)
        while any(key in cluster.scheduler.tasks for key in keys) and time.monotonic() < deadline:
            time.sleep(0.05)  # (until the driver has fetched both results)
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


def _finish_or_kill(finishes: bool, work):
    """For the command line's trials and rows: ``work()``, then a file saying it finished,
    where ``finishes``; otherwise end this worker's process once two that finish have been
    fetched (the folder is in ``SCRATCHNN_TEST_FINISHED``)."""
    folder = os.environ["SCRATCHNN_TEST_FINISHED"]
    if finishes:
        result = work()
        _say_finished(folder)
        return result
    _wait_until_two_fetched(folder)
    os.kill(os.getpid(), signal.SIGKILL)


def _search_trial_or_kill(config, shared):
    """``scratchnn search``'s trial, for the configurations of width 4; those of width 8 end
    their worker's process once two trials have finished."""
    return _finish_or_kill(config["width"] == 4, lambda: _real_run_trial(config, shared))


_real_run_trial = search.run_trial


def test_search_losing_every_worker_prints_and_saves_the_finished_trials(
    processes, tmp_path, monkeypatch
):
    monkeypatch.setattr(search, "run_trial", _search_trial_or_kill)
    out, table = tmp_path / "best.npz", tmp_path / "trials.csv"
    with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
        status, stdout, stderr = run(
            "search", "blobs", "--method", "grid", "--depths", "1", "--widths", "4,8",
            "--activations", "tanh", "--lrs", "0.01,0.1", "--batch-sizes", "64", "--epochs", "3",
            "--scheduler", processes.address, "--out", out, "--results", table,
        )  # fmt: skip
    line = error_line(status, stderr)
    assert line.startswith(
        "scratchnn search: error: workers lost: 2 of 4 trials finished, 2 were lost (the Dask "
        "cluster had no worker for 1 s); the table ranks the finished trials, and the best of "
        f"them was retrained here and saved to {out}."
    ), line
    assert status == 1 and "2 of 4 trials finished in" in stdout
    rows = stdout[stdout.index("rank") : stdout.index("2 of 4 trials")].splitlines()[2:]
    assert [row.split()[:3] for row in rows if row] == [["1", "1", "4"], ["2", "1", "4"]]
    assert len(table.read_text().splitlines()) == 3
    best = snn.load(out)
    assert best.metadata["search"]["trials"] == 2 and best.metadata["search"]["trials_lost"] == 2
    assert best.metadata["training"]["width"] == 4


def _search_trial_kills_the_scheduler(config, shared):
    """A trial of ``scratchnn search`` that ends the scheduler's process, then waits."""
    os.kill(int(os.environ["SCRATCHNN_TEST_SCHEDULER"]), signal.SIGKILL)
    time.sleep(10)


def test_search_losing_the_scheduler_before_any_trial_finished_saves_nothing(
    processes, tmp_path, monkeypatch
):
    monkeypatch.setattr(search, "run_trial", _search_trial_kills_the_scheduler)
    out = tmp_path / "best.npz"
    status, stdout, stderr = run(
        "search", "blobs", "--widths", "4", "--trials", "3", "--epochs", "1",
        "--scheduler", processes.address, "--out", out,
    )  # fmt: skip
    line = error_line(status, stderr)
    assert line == (
        "scratchnn search: error: scheduler lost: 0 of 3 trials finished, 3 were lost (the "
        "connection to the Dask scheduler broke); nothing to rank or save. Run the search "
        "again on a cluster with workers (or --workers 0)."
    ), line
    assert "rank" not in stdout and not out.exists()


def _compare_row_or_kill(row, context):
    """``scratchnn compare``'s row, for sgd and adam; the others end their worker's process
    once those two have finished."""
    return _finish_or_kill(row.value in ("sgd", "adam"), lambda: _real_trained_row(row, context))


_real_trained_row = compare._trained_row


def test_compare_losing_every_worker_shows_the_finished_rows(processes, monkeypatch):
    monkeypatch.setattr(compare, "_trained_row", _compare_row_or_kill)
    with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
        status, stdout, stderr = run(
            "compare", "--optimizers", "sgd,adam,rmsprop", "--epochs", "5", "--seeds", "1",
            "--scheduler", processes.address,
        )  # fmt: skip
    line = error_line(status, stderr)
    assert line == (
        "scratchnn compare: error: workers lost: 2 of 3 rows finished, 1 was lost (the Dask "
        "cluster had no worker for 1 s); the table shows the finished rows. Run the comparison "
        "again on a cluster with workers."
    ), line
    shown = [row.split()[0] for row in stdout.splitlines() if row.split()[:1]]
    assert "sgd" in shown and "adam" in shown and "rmsprop" not in shown, stdout


class _Kill(snn.callbacks.Callback):
    """Ends these processes (workers, or the scheduler) after batch 3: the 5th step fails."""

    def __init__(self, processes) -> None:
        self.processes = processes

    def on_batch_end(self, batch, logs):
        if batch == 3:
            for process in self.processes:
                os.kill(process.pid, signal.SIGKILL)


class _StopError(Exception):
    pass


class _StopAfter4Steps(snn.callbacks.Callback):
    def on_batch_end(self, batch, logs):
        if batch == 3:
            raise _StopError


@pytest.mark.parametrize("lost", ["workers", "scheduler"])
def test_data_parallel_fit_losing_the_cluster_says_what_and_keeps_the_last_step(processes, lost):
    X, y = _data()
    options = dict(loss="cross_entropy", optimizer="adam", epochs=2, batch_size=32)
    expected = _model()
    with pytest.raises(_StopError):
        expected.fit(X, y, verbose=0, callbacks=[_StopAfter4Steps()], **options)
    victims = processes.workers if lost == "workers" else [processes.scheduler]
    model = _model()
    with pytest.raises(snn.distributed.ClusterLostError) as error:
        snn.distributed.fit(
            model, X, y, scheduler=processes.address, callbacks=[_Kill(victims)],
            no_workers_timeout=1, **options,
        )  # fmt: skip
    what = {
        "workers": "workers lost: data-parallel training lost every worker (none for 1 s)",
        "scheduler": "scheduler lost: data-parallel training lost its connection to the Dask "
        "scheduler",
    }[lost]
    assert str(error.value) == (
        f"{what} during epoch 1; the model keeps the weights and optimizer state of its last "
        "completed step (step 4; epochs_trained 0 and the history count complete epochs only). "
        "Save it and resume with model.fit or on a cluster with workers."
    )
    assert error.value.reason == f"{lost} lost" and isinstance(error.value, RuntimeError)
    np.testing.assert_allclose(model.get_weights(), expected.get_weights(), rtol=1e-9, atol=1e-12)
    assert model.epochs_trained == 0


def test_no_workers_timeout_is_checked_before_any_cluster_is_reached():
    with pytest.raises(ValueError, match=r"no_workers_timeout must be a number of seconds > 0"):
        map_trials(pow, [1], scheduler="tcp://127.0.0.1:1", no_workers_timeout=0)


def _search_trial_diverges_or_kills(config, shared):
    """Width 4 diverges (a NaN score); width 8 ends its worker's process after those."""
    diverged = {**config, "scores": [math.nan], "seconds": 0.0}
    return _finish_or_kill(config["width"] == 4, lambda: diverged)


def test_search_losing_every_worker_after_trials_that_diverged_says_both(
    processes, tmp_path, monkeypatch
):
    monkeypatch.setattr(search, "run_trial", _search_trial_diverges_or_kills)
    out = tmp_path / "best.npz"
    with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
        status, stdout, stderr = run(
            "search", "blobs", "--method", "grid", "--depths", "1", "--widths", "4,8",
            "--activations", "tanh", "--lrs", "0.01,0.1", "--batch-sizes", "64",
            "--scheduler", processes.address, "--out", out,
        )  # fmt: skip
    line = error_line(status, stderr)
    assert "workers lost: 2 of 4 trials finished, 2 were lost" in line
    assert "every finished trial diverged, so nothing was saved" in line and not out.exists()
    assert "2 of 4 trials finished in" in stdout  # the table of what finished, still
