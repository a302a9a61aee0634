"""One piece of work run in a forked copy of this process while this process goes on.

``train --numeric-embedding auto`` fits its packed ensemble twice, without and with the
embedding; on a machine with two cores the second fit runs here, in a child process forked
from the first, so the two take the wall time of the longer one instead of their sum. A thread
would not do: each step of these small networks is a few dozen short NumPy calls that hold
the GIL, and two fits in two threads measured slower than one after the other.

The child starts as an exact copy (the data, the models, the random generators), so its fit
is the one this process would have run: the same seed gives the same model either way. It
talks to its parent through two channels:

- a pipe from the parent: numbers the parent sends as its own work goes on (the plain fit's
  validation loss each epoch), read by the child when it needs them (:class:`Incoming`);
  closing it says that no more will come;
- a private temporary folder for the result: whatever the work returns (JSON), arrays in the
  library's own ``.npz`` format, and what the work printed, to be printed by the parent.

Nothing is pickled. Ctrl-C, which a terminal sends to both processes, is the parent's to
handle: the child ignores it, and the parent stops the child. Linux kills the child when the
parent dies. Anything that goes wrong in the child comes back as :class:`ChildError`,
so that the caller can run the work itself instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import struct
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

_DOUBLE = struct.Struct("<d")


class ChildError(RuntimeError):
    """The child process ended without a result (an error in the work, or killed)."""


def unavailable() -> str:
    """Why this process cannot fork a second worker now ("" when it can): it needs Linux's
    ``fork`` (macOS's system libraries are not safe to use in a forked child), two cores this
    process may run on, and no other Python thread (a forked child holds a copy of every
    lock, and a lock that another thread held stays locked in it: in a notebook's kernel, for
    one)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return "a second process needs Linux's fork"
    if len(os.sched_getaffinity(0)) < 2:
        return "this process may use one core"
    if threading.active_count() > 1:
        return "this process runs other threads (a notebook kernel, a server)"
    return ""


class Incoming:
    """The numbers the parent sends, in the child: ``upto(i)`` is the list of them, read from
    the pipe until it holds ``i + 1`` of them or the parent has closed it (then it may be
    shorter). Reads block: a child that needs the parent's epoch ``i`` waits for it."""

    def __init__(self, fd: int) -> None:
        self._fd, self._values, self._closed = fd, [], False

    def upto(self, i: int) -> list[float]:
        while len(self._values) <= i and not self._closed:
            data = b""
            while len(data) < _DOUBLE.size:
                chunk = os.read(self._fd, _DOUBLE.size - len(data))
                if not chunk:  # the parent closed its end: nothing more will come
                    self._closed = True
                    break
                data += chunk
            if len(data) == _DOUBLE.size:
                self._values.append(_DOUBLE.unpack(data)[0])
        return self._values


class Child:
    """``work(incoming, folder)`` run in a forked child from construction on.

    ``work`` returns a JSON-able dict (its result) and may write files into ``folder``; what
    it prints (stdout and stderr) is kept and given back with the result. The parent sends
    numbers with :meth:`send`, ends them with :meth:`done_sending`, and collects the result
    with :meth:`result` (which waits), or stops the child with :meth:`stop`. Use as a context
    manager, so that the child is stopped and its folder removed whatever happens.
    """

    def __init__(self, work: Callable[[Incoming, Path], dict[str, Any]]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="scratchnn-child-"))
        read_end, self._write_end = os.pipe()
        sys.stdout.flush()  # text the parent has not written yet must not be written twice
        sys.stderr.flush()
        parent = os.getpid()
        # Ctrl-C held back until the child ignores it: caught in between, its KeyboardInterrupt
        # would run the parent's code on in the child.
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns on fork while the process has other threads. The only
                # ones left here (unavailable() refused Python threads) are the BLAS library's
                # workers, and OpenBLAS re-creates its pool in a forked child (its own fork
                # handlers).
                warnings.simplefilter("ignore", DeprecationWarning)
                self.pid = os.fork()
        except OSError:  # no process to be had (EAGAIN, ENOMEM): nothing left behind
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            os.close(read_end)
            os.close(self._write_end)
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        if self.pid == 0:  # the child: never returns
            self._run(work, read_end, parent)
        signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)  # (a Ctrl-C held back: now)
        os.close(read_end)
        self._sending = True
        self._status: int | None = None

    def _run(
        self, work: Callable[[Incoming, Path], dict[str, Any]], read_end: int, parent: int
    ) -> None:
        code = 1
        try:  # nothing may escape into the parent's code, which this process also holds
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C: the parent's
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            _die_with(parent)
            os.close(self._write_end)
            out, err = io.StringIO(), io.StringIO()
            sys.stdout, sys.stderr = out, err
            null = os.open(os.devnull, os.O_WRONLY)  # the parent's stdout and stderr stay its own
            os.dup2(null, 1)
            os.dup2(null, 2)
            result = work(Incoming(read_end), self.folder)
            result = {"result": result, "stdout": out.getvalue(), "stderr": err.getvalue()}
            part = self.folder / "result.json.part"
            part.write_text(json.dumps(result))
            part.rename(self.folder / "result.json")  # whole, or not there at all
            code = 0
        except BaseException:  # anything: the parent is told, and runs the work itself
            with contextlib.suppress(BaseException):
                (self.folder / "error.txt").write_text(traceback.format_exc())
        finally:
            os._exit(code)  # no atexit handlers, no buffers of the parent's flushed twice

    def send(self, value: float) -> None:
        """Send one number to the child (dropped once the child has ended)."""
        if not self._sending:
            return
        try:
            os.write(self._write_end, _DOUBLE.pack(value))
        except BrokenPipeError:  # the child has ended; result() says how
            self.done_sending()

    def done_sending(self) -> None:
        """Tell the child that no more numbers will come."""
        if self._sending:
            self._sending = False
            os.close(self._write_end)

    def result(self) -> dict[str, Any]:
        """Wait for the child and return its result: ``{"result": ..., "stdout": ...,
        "stderr": ...}``; files it wrote are in :attr:`folder` until :meth:`stop`.

        Raises:
            ChildError: the child ended without one (the error's last line, when known).
        """
        self.done_sending()
        if self._status is None:
            _, self._status = os.waitpid(self.pid, 0)
        done = self.folder / "result.json"
        if os.waitstatus_to_exitcode(self._status) == 0 and done.is_file():
            return json.loads(done.read_text())
        error = self.folder / "error.txt"
        lines = error.read_text().strip().splitlines() if error.is_file() else []
        code = os.waitstatus_to_exitcode(self._status)
        ended = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        why = lines[-1] if lines else ended
        raise ChildError(why)

    def stop(self) -> None:
        """Stop the child if it still runs, and remove its folder."""
        self.done_sending()
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):  # (it has ended)
                os.kill(self.pid, signal.SIGKILL)
            _, self._status = os.waitpid(self.pid, 0)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _die_with(parent: int) -> None:
    """Have Linux kill this process when its parent dies (``PR_SET_PDEATHSIG``), so that a
    parent killed outright (SIGKILL, or SIGTERM from ``timeout`` or a CI runner) leaves no
    child fitting on; and end now if the parent is already gone."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:
        os._exit(1)
