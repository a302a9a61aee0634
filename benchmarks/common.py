"""Helpers shared by the benchmark scripts: the machine description, a timing helper, markdown
tables and target checks.

Run on its own (``python benchmarks/common.py``) it prints the machine description as markdown,
including the BLAS kernel that OpenBLAS picked under the current environment (with
``--caption``: the one line that heads every table); ``run.py`` calls it once per BLAS setting.

Timing rules, used by every script: wall-clock ``time.perf_counter``, warm-up runs first (they
pay for first-touch page faults, BLAS thread start-up and lazy initialisation, which no
steady-state measurement should include), then the median of the timed repeats (robust to the
odd slow repeat caused by another process).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

#: The variables that make OpenBLAS use its Haswell kernels and a smaller L2 blocking on this
#: machine. The benchmark runner reports results with them as set and with both unset.
BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None):
    """The common command line: ``--quick`` (tiny sizes, one repeat: a smoke test)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and one repeat (a smoke test, seconds)"
    )
    if extra is not None:
        extra(parser)
    return parser.parse_args()


# The machine.


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_slug() -> str:
    """The CPU model as a file-name part: ``Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz`` ->
    ``intel-xeon-platinum-8375c-cpu-2-90ghz`` (result files are named by the CPU they ran on)."""
    name = re.sub(r"\((R|TM|tm|r)\)", "", cpu_model())
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown-cpu"


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def blas_env_setting() -> str:
    """How the OpenBLAS variables are set in this process, e.g. ``OPENBLAS_CORETYPE=Haswell``."""
    parts = [f"{name}={os.environ[name]}" for name in BLAS_ENV_VARS if name in os.environ]
    return " ".join(parts) if parts else "both unset"


def blas_libraries() -> list[dict[str, Any]]:
    """threadpoolctl's description of every BLAS library loaded in this process."""
    from threadpoolctl import threadpool_info

    return [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]


def _owner(filepath: str) -> str:
    """The package a shared library ships with: ``numpy.libs/...`` -> ``numpy``."""
    for part in Path(filepath).parts:
        if part.endswith(".libs"):
            return part[: -len(".libs")]
    return Path(filepath).name


def numpy_blas() -> dict[str, Any]:
    """The BLAS that NumPy's matrix products call (the first loaded one bundled with NumPy)."""
    import numpy  # noqa: F401  (loads the library)

    libraries = blas_libraries()
    for lib in libraries:
        if _owner(lib["filepath"]) == "numpy":
            return lib
    return libraries[0] if libraries else {}


def describe_blas(lib: dict[str, Any]) -> str:
    """``openblas 0.3.31 (numpy), kernel SkylakeX, 2 threads``."""
    if not lib:
        return "no BLAS found by threadpoolctl"
    kernel = lib.get("architecture") or "?"
    return (
        f"{lib.get('internal_api')} {lib.get('version')} ({_owner(lib['filepath'])}), "
        f"kernel {kernel}, {lib.get('num_threads')} threads"
    )


def blas_threads() -> int:
    return int(numpy_blas().get("num_threads") or 1)


def numpy_kernel_line() -> str:
    """One line naming the BLAS setting and NumPy's kernel, printed at the top of each result."""
    return f"BLAS environment: {blas_env_setting()}; NumPy's BLAS: {describe_blas(numpy_blas())}"


_CAPTION: list[str] = []


def machine_caption() -> str:
    """One line naming the CPU model and NumPy's BLAS kernel, printed above every table: a
    timing means little without the CPU it ran on (the same code meets its targets on one
    host and misses them on another), and OpenBLAS picks its kernel per CPU and environment.
    Computed once per process."""
    if not _CAPTION:
        try:
            blas = describe_blas(numpy_blas())
        except ImportError:  # threadpoolctl is in the bench extra
            blas = "unknown (threadpoolctl is not installed)"
        _CAPTION.append(
            f"CPU: {cpu_model()} ({usable_cores()} usable cores); NumPy's BLAS: {blas}; "
            f"BLAS environment: {blas_env_setting()}"
        )
    return _CAPTION[0]


def torch_description(torch: Any) -> str:
    """PyTorch's matrix-product library, CPU capability and thread count."""
    config = torch.__config__.show()
    blas = next(
        (
            part.split("=", 1)[1]
            for part in config.replace(",", " ").split()
            if "BLAS_INFO=" in part
        ),
        "?",
    )
    capability = torch.backends.cpu.get_cpu_capability()
    return (
        f"torch {torch.__version__}: BLAS {blas} (statically linked, not affected by the "
        f"OPENBLAS variables), oneDNN {torch.backends.mkldnn.is_available()}, "
        f"CPU capability {capability}, {torch.get_num_threads()} threads"
    )


def versions(with_torch: bool = True, with_sklearn: bool = True) -> dict[str, str]:
    import numpy

    result = {"python": platform.python_version(), "numpy": numpy.__version__}
    if with_torch:
        try:
            import torch

            result["torch"] = torch.__version__
        except ImportError:
            result["torch"] = "not installed"
    if with_sklearn:
        try:
            import sklearn

            result["scikit-learn"] = sklearn.__version__
        except ImportError:
            result["scikit-learn"] = "not installed"
    try:
        import threadpoolctl

        result["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        result["threadpoolctl"] = "not installed"
    return result


def machine_markdown(with_torch: bool = True, with_sklearn: bool = True) -> str:
    """The machine, the library versions and every loaded BLAS with its kernel, as markdown."""
    flags = cpu_flags()
    simd = [name for name in ("avx512f", "avx2", "fma") if name in flags]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    lines = [
        f"- CPU: {cpu_model()} ({usable_cores()} usable cores, {os.cpu_count()} online; "
        f"{', '.join(simd) or 'no AVX flags found'})",
        f"- OS: {platform.system()} {platform.release()}; load average at start: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "- Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions(with_torch, with_sklearn).items()),
        f"- BLAS environment: {blas_env_setting()}",
    ]
    if with_torch:
        try:
            import torch

            lines.append(f"- PyTorch: {torch_description(torch)}")
        except ImportError:
            pass
    if with_sklearn:
        with contextlib.suppress(ImportError):
            import sklearn.neural_network  # noqa: F401  (loads SciPy's OpenBLAS as well)
    for lib in blas_libraries():
        lines.append(f"- BLAS loaded: {describe_blas(lib)}")
    return "\n".join(lines)


class MachineLoad:
    """How much CPU other processes took while a benchmark ran.

    On a 2-core machine one busy neighbour halves a measurement, so every script ends with
    this line: the CPU time that the whole machine used (``/proc/stat``) minus what this
    process and its waited-for children used, as a share of the cores' time. A few percent is
    the background noise of an idle system."""

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="ascii") as file:
                fields = [int(v) for v in file.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        busy = (user + nice + system + irq + softirq + steal) / ticks
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        return time.monotonic(), busy, own

    def others_share(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None:
            return None
        wall = end[0] - self.start[0]
        others = (end[1] - self.start[1]) - (end[2] - self.start[2])
        return max(others, 0.0) / (wall * usable_cores()) if wall > 0 else None

    def report(self) -> str:
        share = self.others_share()
        if share is None:
            return "- machine load: unknown (no /proc/stat)"
        line = f"- other processes used {100 * share:.0f}% of the CPU time while this ran"
        if share > 0.05:
            line += " — WARNING: the machine was busy; these timings are pessimistic, rerun"
        return line


# Timing.


def measure(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed; return the median and
    all timed durations, in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


#: Seconds to let idle thread pools go to sleep before a timed run (see ``settle``).
SETTLE_SECONDS = 0.25


def settle() -> None:
    """Pause so that no library's worker threads are still spinning from a previous call.

    After a product, OpenBLAS's threads spin-wait for about 0.1 s before sleeping, and so do
    OpenMP's (PyTorch) for a shorter while. On 2 cores, a PyTorch call made right after a NumPy
    product runs about 2x slower because OpenBLAS's spinning thread holds a core (and NumPy
    after PyTorch about 1.4x). A real program does not alternate libraries like this, so the
    scripts that compare them in one process pause before every timed run."""
    time.sleep(SETTLE_SECONDS)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds taken by one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# Output.


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: bool = True
) -> str:
    """A GitHub-flavoured markdown table; the first column is left-aligned, the rest right.

    With ``caption`` (the default) the table is headed by an italic line naming the CPU model
    and NumPy's BLAS kernel (:func:`machine_caption`), so that every table of every report says
    where it was measured, even when copied out of the report on its own."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * widths[0]] + ["-" * (w - 1) + ":" for w in widths[1:]]
    table = "\n".join([line(cells[0]), "| " + " | ".join(rule) + " |", *map(line, cells[1:])])
    return f"*{machine_caption()}*\n\n{table}" if caption else table


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, or an em dash for a missing value."""
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"


class Targets:
    """Collects target checks and prints them as ``- PASS`` / ``- FAIL`` lines.

    A missed target is reported, never raised: the scripts exit 0 so that the runner can
    distinguish a slow library (FAIL lines) from a broken benchmark (non-zero exit)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def at_most(self, what: str, value: float | None, limit: float, unit: str = "x") -> None:
        self._check(what, value, limit, value is not None and value <= limit, "<=", unit)

    def less_than(self, what: str, value: float | None, limit: float, unit: str = "x") -> None:
        self._check(what, value, limit, value is not None and value < limit, "<", unit)

    def at_least(self, what: str, value: float | None, limit: float, unit: str = "x") -> None:
        self._check(what, value, limit, value is not None and value >= limit, ">=", unit)

    def require(self, what: str, ok: bool, detail: str) -> None:
        self.lines.append(f"- {'PASS' if ok else 'FAIL'}: {what} — {detail}")

    def _check(self, what, value, limit, ok, op, unit) -> None:
        shown = "not measured" if value is None else f"{value:.3g}{unit}"
        self.lines.append(
            f"- {'PASS' if ok else 'FAIL'}: {what} = {shown} (target {op} {limit:g}{unit})"
        )

    def markdown(self) -> str:
        return "\n".join(self.lines)


def say(*parts: Any) -> None:
    """Print and flush at once (the runner reads the output through a pipe)."""
    print(*parts, flush=True)


if __name__ == "__main__":
    # ``--caption``: the one line that heads every table (run.py asks each BLAS setting for it).
    say(machine_caption() if "--caption" in sys.argv[1:] else machine_markdown())
    sys.exit(0)
