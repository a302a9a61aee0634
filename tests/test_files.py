"""atomic_write: permissions kept, temporary files removed on SIGTERM and after killed saves."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

import scratchnn as snn
from scratchnn import _files

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and signals")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o700])
def test_a_save_keeps_the_mode_of_the_file_it_replaces(tmp_path, mode):
    path = tmp_path / "model.npz"
    model = snn.MLP([2, 2], seed=0)
    model.save(path)
    os.chmod(path, mode)
    model.save(path)
    assert _mode(path) == mode
    with _files.atomic_write(path, "w") as handle:  # any file written through it
        handle.write("text")
    assert _mode(path) == mode


@posix_only
def test_a_new_file_gets_the_mode_of_an_ordinary_open(tmp_path):
    umask = os.umask(0o027)
    try:
        snn.MLP([2, 2], seed=0).save(tmp_path / "new.npz")
        (tmp_path / "plain").write_bytes(b"")
    finally:
        os.umask(umask)
    assert _mode(tmp_path / "new.npz") == _mode(tmp_path / "plain") == 0o640


_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import scratchnn as snn
    from scratchnn import io as snn_io

    def slow_savez(handle, **arrays):
        handle.write(b"PK\\x03\\x04 half a model")
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)

    snn_io.np.savez = slow_savez
    snn.MLP([2, 2], seed=1).save(sys.argv[1])
    """
)


def _start_a_save_and_wait(path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "writing"
    return child


def _temporaries(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


@posix_only
def test_sigterm_during_a_save_removes_the_temporary_file_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "model.npz"
    snn.MLP([2, 2], seed=0).save(path)
    original = path.read_bytes()
    child = _start_a_save_and_wait(path)
    assert len(_temporaries(tmp_path)) == 1
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == -signal.SIGTERM  # it still ends as SIGTERM ends it
    child.stdout.close()
    assert _temporaries(tmp_path) == []
    assert path.read_bytes() == original


@posix_only
def test_the_next_save_removes_the_temporary_file_of_a_killed_save(tmp_path):
    path = tmp_path / "model.npz"
    snn.MLP([2, 2], seed=0).save(path)
    original = path.read_bytes()
    child = _start_a_save_and_wait(path)
    child.kill()
    child.wait(timeout=30)
    child.stdout.close()
    [left] = _temporaries(tmp_path)
    assert path.read_bytes() == original  # the killed save changed nothing
    # While it might still be written (changed recently), it is left alone ...
    snn.MLP([2, 2], seed=0).save(path)
    assert _temporaries(tmp_path) == [left]
    # ... once it has not changed for a minute and its writer is gone, it is removed.
    old = time.time() - _files.STALE_SECONDS - 1
    os.utime(tmp_path / left, (old, old))
    snn.MLP([2, 2], seed=0).save(path)
    assert _temporaries(tmp_path) == []
    assert snn.load(path).in_features == 2


@posix_only
def test_temporary_files_of_live_writers_and_other_files_are_kept(tmp_path):
    path = tmp_path / "model.npz"
    old = time.time() - 10 * _files.STALE_UNTAGGED_SECONDS
    keep = [
        f".model.npz.{os.getpid()}.abcd1234.tmp",  # a live process (this one)
        f".model.npz.{os.getppid()}.abcd1234.tmp",
        ".other.npz.999999999.abcd1234.tmp",  # another target
        "model.npz.tmp",  # not one of ours
    ]
    gone = [".model.npz.999999999.abcd1234.tmp", ".model.npz.abcd1234.tmp"]
    for name in keep + gone:
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (old, old))
    snn.MLP([2, 2], seed=0).save(path)
    assert sorted(os.listdir(tmp_path)) == sorted([*keep, "model.npz"])


@posix_only
def test_a_python_sigterm_handler_still_runs_and_the_save_is_cleaned_up(tmp_path):
    """With a handler installed (here one raising SystemExit), SIGTERM runs it; the exception
    unwinds the save, which removes its temporary file."""
    path = tmp_path / "model.npz"

    def handler(signum, frame):
        sys.exit(3)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(SystemExit), _files.atomic_write(path) as handle:
            handle.write(b"partial")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs before this ends
        assert signal.getsignal(signal.SIGTERM) is handler  # restored after the save
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert os.listdir(tmp_path) == []
