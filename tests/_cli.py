"""Running the ``scratchnn`` command in this process, and what it left on disk (for the tests of
the command line that check its files)."""

from __future__ import annotations

import importlib
import io
import os
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

cli_main = importlib.import_module("scratchnn.cli.main")


def run(*args: object) -> tuple[int, str, str]:
    """``scratchnn ARGS`` in this process, with the warning filters a user has (not pytest's
    "error"): ``(exit status, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(out), redirect_stderr(err):
        warnings.simplefilter("default")
        try:
            status = cli_main.main([str(arg) for arg in args])
        except SystemExit as exit:  # argparse's usage errors
            status = exit.code
    return status, out.getvalue(), err.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links as the path they point to), by relative path."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root, name)
            key = str(path.relative_to(folder))
            files[key] = (
                b"-> " + os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            )
    return files


def error_line(status: int, stderr: str) -> str:
    """The one error line of a failed run (other lines may only be warnings)."""
    assert status not in (0, None), stderr
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, stderr
    others = [line for line in stderr.splitlines() if line not in errors]
    assert all(
        ": warning: " in line or line.startswith(("Values ", "Missing ")) for line in others
    ), stderr
    return errors[0]
