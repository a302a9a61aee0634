"""The second process of ``train --numeric-embedding auto`` (``--jobs``,
:mod:`scratchnn.cli.forked`): the child's result, output and errors, Ctrl-C, and the same
model and output as one fit after the other."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from _cli import run
from scratchnn.callbacks import EarlyStoppingEachMember
from scratchnn.cli import forked, tabular

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="a second process is forked on Linux with two cores only (elsewhere the two fits "
    "run one after the other, which the rest of the suite tests)",
)


def reaped(pid: int) -> bool:
    """Whether child ``pid`` has ended and been waited for (no zombie left)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.fixture
def children(monkeypatch) -> list[int]:
    """The pids of the second processes that train forks in the test. Other tests in this
    worker may have left daemon threads behind (Dask's, tqdm's monitor), beside which
    ``forked.unavailable`` refuses to fork; these runs fork regardless (their output is not a
    terminal: no tqdm bar, whose lock the monitor could hold). A fresh command has no such
    threads: ``test_a_fresh_command_fits_in_two_processes_by_default`` runs one."""
    pids: list[int] = []
    start = forked.Child.__init__

    def recording(self, work):
        start(self, work)
        pids.append(self.pid)  # (the child never returns from start)

    monkeypatch.setattr(forked.Child, "__init__", recording)
    monkeypatch.setattr(forked, "unavailable", lambda: "")
    return pids


# --- forked.Child -----------------------------------------------------------------------------


def test_child_gives_back_its_result_files_and_output():
    def work(incoming: forked.Incoming, folder) -> dict:
        print("from the child")
        print("a warning", file=sys.stderr)
        (folder / "arrays.npy").write_bytes(b"x")
        return {"sum": sum(incoming.upto(2)), "pid": os.getpid()}

    with forked.Child(work) as child:
        for value in (1.0, 2.5, 3.0):
            child.send(value)
        done = child.result()
        assert done["result"]["sum"] == 6.5 and done["result"]["pid"] != os.getpid()
        assert done["stdout"] == "from the child\n" and done["stderr"] == "a warning\n"
        assert (child.folder / "arrays.npy").read_bytes() == b"x"
        folder = child.folder
    assert not folder.exists() and reaped(child.pid)


def test_incoming_stops_waiting_when_the_parent_stops_sending():
    """upto(i) blocks for value i until it comes or the parent closes its end; then it holds
    what came (bit for bit: the numbers travel as 8-byte doubles)."""
    sent = [0.1, 1 / 3, float("inf")]

    def work(incoming, folder):
        return {"values": incoming.upto(10)}

    with forked.Child(work) as child:
        time.sleep(0.05)  # the child is now waiting for its first value
        for value in sent:
            child.send(value)
        child.done_sending()
        assert child.result()["result"]["values"] == sent


def test_an_error_in_the_child_comes_back_with_its_last_line():
    def work(incoming, folder):
        raise ValueError("the work failed")

    with forked.Child(work) as child, pytest.raises(forked.ChildError, match="ValueError: "):
        child.result()
    assert reaped(child.pid)


def test_stop_ends_a_child_that_still_runs_and_sending_to_it_is_harmless():
    def work(incoming, folder):
        time.sleep(60)
        return {}

    child = forked.Child(work)
    start = time.perf_counter()
    child.stop()
    assert time.perf_counter() - start < 5 and reaped(child.pid)
    assert not child.folder.exists()
    child.send(1.0)  # ignored: the pipe is closed


def test_the_child_ignores_ctrl_c_which_is_the_parents_to_handle():
    def work(incoming, folder):
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C reaches every process of the terminal
        return {"alive": True}

    with forked.Child(work) as child:
        assert child.result()["result"] == {"alive": True}


def test_unavailable_with_other_python_threads():
    import threading

    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert (
            forked.unavailable() == "this process runs other threads (a notebook kernel, a server)"
        )
    finally:
        release.set()
        thread.join()


def test_a_fresh_command_fits_in_two_processes_by_default(tmp_path):
    """``scratchnn train`` as a user runs it, in a process of its own with one BLAS thread:
    auto's embedded fit in a second process, to the model of --jobs 1."""
    import subprocess

    path = table(tmp_path, "ring", rows=120)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    outs = []
    for name, jobs in (("default", []), ("one", ["--jobs", "1"])):
        done = subprocess.run(
            [sys.executable, "-m", "scratchnn", "train", str(path), "--target", "y", "--out",
             str(tmp_path / f"{name}.npz"), "--quiet", *jobs],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outs.append(done.stdout)
    assert (
        "Jobs: the fit with the embedding runs in a second process beside the one without "
        "(auto: two cores, one BLAS thread each" in outs[0]
    )
    assert "Jobs: " not in outs[1]
    same_models(tmp_path / "default.npz", tmp_path / "one.npz")


# --- train --jobs -----------------------------------------------------------------------------


def table(tmp_path, kind: str, rows: int = 300):
    """A classification table: "ring", whose class is a ring in one column (the periodic
    embedding's fit is kept), or "line", a linear boundary (the plain fit is kept, and the
    embedded one stops early, trailing it: the plain fit's losses must reach the child)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 3))
    signal_ = np.sin(3 * X[:, 0]) if kind == "ring" else X[:, 0] + 0.5 * X[:, 1]
    y = np.where(signal_ + 0.3 * rng.normal(size=rows) > 0, "yes", "no")
    colour = rng.choice(["red", "blue"], rows)
    lines = ["a,b,c,colour,y"] + [
        f"{a:.4f},{b:.4f},{c:.4f},{d},{t}" for (a, b, c), d, t in zip(X, colour, y, strict=True)
    ]
    path = tmp_path / f"{kind}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def varying(line: str) -> bool:
    return line.startswith(("Jobs: ", "Trained ", "Model saved"))


def same_models(first, second) -> None:
    a, b = np.load(first), np.load(second)
    assert a.files == b.files
    for name in a.files:
        if name != "__metadata__":
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    meta_a, meta_b = snn.load(first).metadata, snn.load(second).metadata
    meta_a["training"].pop("seconds"), meta_b["training"].pop("seconds")
    assert meta_a == meta_b


def jobs_2_as_jobs_1(tmp_path, path) -> str:
    """``train --jobs 2`` and ``--jobs 1`` on ``path``: the same model, asserted; the output
    of ``--jobs 2``."""
    outs = []
    for jobs in (1, 2):
        code, out, err = run("train", path, "--target", "y", "--jobs", jobs, "--out",
                             tmp_path / f"{jobs}.npz")  # fmt: skip
        assert code == 0, err
        outs.append(out)
    same_models(tmp_path / "1.npz", tmp_path / "2.npz")
    return outs[1]


@pytest.mark.parametrize("kind", ["ring", "line"])
def test_jobs_2_trains_the_same_model_with_the_same_output_as_jobs_1(tmp_path, kind, children):
    path = table(tmp_path, kind)
    outs = {}
    for jobs in (1, 2):
        code, out, err = run("train", path, "--target", "y", "--jobs", jobs, "--out",
                             tmp_path / f"{jobs}.npz")  # fmt: skip
        assert code == 0, err
        outs[jobs] = out
    assert "Jobs: the fit with the embedding runs in a second process" in outs[2]
    assert "Jobs: " not in outs[1] and "did not finish" not in outs[2]
    kept = "periodic" if kind == "ring" else "none"
    assert f"Numeric embedding kept: {kept} (" in outs[2]
    if kind == "line":
        assert "the embedded fit stopped at epoch" in outs[2]
    assert [li for li in outs[1].splitlines() if not varying(li)] == [
        li for li in outs[2].splitlines() if not varying(li)
    ]
    same_models(tmp_path / "1.npz", tmp_path / "2.npz")
    assert len(children) == 1 and reaped(children[0])


def test_the_default_uses_a_second_process_where_the_blas_has_no_worker_threads(
    tmp_path, monkeypatch, children
):
    path = table(tmp_path, "ring", rows=120)
    monkeypatch.setattr(tabular, "_one_blas_thread", lambda: True)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run("train", path, "--target", "y", "--out", tmp_path / "a.npz")
    assert code == 0, err
    assert "Jobs: one fit after the other (OPENBLAS_NUM_THREADS=1 lets the two run at once " in out
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    code, out, err = run("train", path, "--target", "y", "--out", tmp_path / "b.npz")
    assert code == 0, err
    assert (
        "Jobs: the fit with the embedding runs in a second process beside the one without "
        "(auto: two cores, one BLAS thread each; --jobs 1: one after the other)." in out
    )
    same_models(tmp_path / "a.npz", tmp_path / "b.npz")


def test_jobs_2_says_why_it_cannot(tmp_path, monkeypatch):
    path = table(tmp_path, "ring", rows=120)
    monkeypatch.setattr(forked, "unavailable", lambda: "a second process needs Linux's fork")
    code, out, err = run("train", path, "--target", "y", "--jobs", 2, "--out", tmp_path / "a.npz")
    assert code == 0, err
    assert "Jobs: one fit after the other (a second process needs Linux's fork; --jobs 2)." in out
    code, out, err = run("train", path, "--target", "y", "--jobs", 2, "--numeric-embedding",
                         "none", "--out", tmp_path / "b.npz")  # fmt: skip
    assert code == 0, err
    assert "Jobs: one fit (--jobs 2 runs --numeric-embedding auto's two fits at once)." in out


def test_jobs_2_fits_here_what_the_second_process_could_not(tmp_path, monkeypatch, children):
    """An error in the child (here: its model file cannot be written) is not the run's: the
    embedded fit runs again in this process, to the same model."""
    parent = os.getpid()
    dumps = tabular.dumps

    def failing(*args, **kwargs):
        if os.getpid() != parent:
            raise OSError("No space left on device")
        return dumps(*args, **kwargs)

    monkeypatch.setattr(tabular, "dumps", failing)
    out = jobs_2_as_jobs_1(tmp_path, table(tmp_path, "ring", rows=120))
    assert (
        "(The second process did not finish this fit: OSError: No space left on device. "
        "Fitting it here.)" in out
    )
    assert len(children) == 1 and reaped(children[0])


def test_jobs_2_ctrl_c_in_the_plain_fit_stops_the_second_process(tmp_path, monkeypatch, children):
    parent = os.getpid()
    original = EarlyStoppingEachMember.on_epoch_logs

    def interrupting(self, epoch, logs):
        original(self, epoch, logs)
        if epoch == 1 and os.getpid() == parent:
            os.kill(parent, signal.SIGINT)

    monkeypatch.setattr(EarlyStoppingEachMember, "on_epoch_logs", interrupting)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    code, out, err = run("train", table(tmp_path, "ring", rows=120), "--target", "y", "--jobs",
                         2, "--out", tmp_path / "i.npz")  # fmt: skip
    assert code == 0, err
    assert "Numeric embedding kept: none (interrupted before the embedded fit)." in out
    assert snn.load(tmp_path / "i.npz").metadata["training"]["numeric_embedding"] == "none"
    assert len(children) == 1 and reaped(children[0])
    assert not list(tmp_path.glob("scratchnn-child-*"))


def test_jobs_2_ctrl_c_while_waiting_keeps_the_plain_fit(tmp_path, monkeypatch, children):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(forked.Child, "result", interrupted)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    code, out, err = run("train", table(tmp_path, "ring", rows=120), "--target", "y", "--jobs",
                         2, "--out", tmp_path / "i.npz")  # fmt: skip
    assert code == 0, err
    assert "Numeric embedding kept: none (interrupted during the embedded fit)." in out
    assert "Interrupted: evaluating and saving the model as it is now." in out
    assert len(children) == 1 and reaped(children[0])
    assert not list(tmp_path.glob("scratchnn-child-*"))


def test_jobs_2_ctrl_c_sent_to_the_second_process_alone_is_ignored(tmp_path, monkeypatch, children):
    """The child ignores SIGINT, also while its fit runs (fit's own Ctrl-C handler leaves an
    ignored SIGINT ignored): a signal to it alone cuts nothing short."""
    parent = os.getpid()
    original = EarlyStoppingEachMember.on_epoch_logs

    def interrupting(self, epoch, logs):
        original(self, epoch, logs)
        if epoch == 1 and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(EarlyStoppingEachMember, "on_epoch_logs", interrupting)
    out = jobs_2_as_jobs_1(tmp_path, table(tmp_path, "ring", rows=120))
    assert "did not finish" not in out and "nterrupted" not in out
    assert len(children) == 1 and reaped(children[0])


def test_jobs_2_without_a_process_to_fork_fits_one_after_the_other(tmp_path, monkeypatch):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(forked, "unavailable", lambda: "")
    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    out = jobs_2_as_jobs_1(tmp_path, table(tmp_path, "ring", rows=120))
    assert (
        "(No second process: [Errno 11] Resource temporarily unavailable. The two fits run "
        "one after the other.)" in out
    )
    assert not list(tmp_path.glob("scratchnn-child-*"))


def test_a_second_process_whose_parent_dies_ends_too(tmp_path):
    """A parent killed outright (SIGKILL: no finally runs) takes its child with it."""
    import subprocess

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from scratchnn.cli import forked\n"
        "child = forked.Child(lambda incoming, folder: time.sleep(60) or {})\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 30  # (a loaded CI machine)
        while time.monotonic() < deadline:
            try:  # gone, or ended and waiting for init to reap it (state Z)
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                break
            if state in ("Z", "X"):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the child outlived its killed parent")
    finally:
        parent.kill()
        parent.stdout.close()
