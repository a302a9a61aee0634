"""Import time and import footprint of ``scratchnn``.

What a user waits for: the wall time of ``python -c "import scratchnn"`` in a fresh process
(measured from the parent, so it includes the interpreter's start-up, printed on its own line as
``python -c pass`` for reference), next to NumPy alone, PyTorch and scikit-learn's neural
networks. The commands take turns, and each is repeated; the median is reported. The
operating system's file cache is warm for all of them alike (the first round is not counted).
The target is what ``import scratchnn`` adds to ``import numpy`` (<= 20 ms; NumPy's own import
time varies 3x between hosts): the ``import scratchnn`` statement timed inside a fresh process
right after ``import numpy``, median of 30 processes. (The difference of the two wall times,
median over paired rounds, is reported too: it also carries both processes' start-up and exit,
whose noise on a shared host is larger than the target.)

scratchnn's modules are byte-compiled first, as ``pip install`` does for a regular install:
an editable install compiles them on first import, which this machine's environment
(``PYTHONDONTWRITEBYTECODE=1``) would otherwise repeat in every process. The installed
NumPy, PyTorch and scikit-learn come compiled already.

It also checks what ``import scratchnn`` drags in: in a fresh process, every module that the
import adds to ``sys.modules`` must belong to NumPy, scratchnn or the standard library (no
PyTorch, scikit-learn, matplotlib, tqdm or SciPy).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from common import (
    MachineLoad,
    Targets,
    markdown_table,
    median,
    numpy_kernel_line,
    parse_args,
    say,
    timed,
)

STARTUP = "pass"  # the interpreter's start-up alone
STATEMENTS = (
    STARTUP,
    "import numpy",
    "import scratchnn",
    "import torch",
    "import sklearn.neural_network",
)
REFERENCES = ("import torch", "import sklearn.neural_network")
REFERENCE_REPEATS = 3
FORBIDDEN = ("torch", "sklearn", "matplotlib", "tqdm", "scipy")
# scratchnn itself, NumPy's submodules (scratchnn uses numpy.random, which ``import numpy``
# loads lazily), and the shared runtime modules that NumPy's Cython-compiled extensions create
# ("cython_runtime", "_cython_3_2_4").
ALLOWED = {"scratchnn", "numpy", "cython_runtime"}
CYTHON = "_cython_"

# In a fresh process: what ``import numpy`` adds to sys.modules, then what ``import scratchnn``
# adds on top of that.
FOOTPRINT = """
import json, sys
before = set(sys.modules)
import numpy
with_numpy = set(sys.modules)
import scratchnn
print(json.dumps({
    "numpy": sorted(with_numpy - before),
    "scratchnn": sorted(set(sys.modules) - with_numpy),
    "stdlib": sorted(sys.stdlib_module_names),
}))
"""


IN_PROCESS_RUNS = 30
IN_PROCESS = (
    "import numpy, time; start = time.perf_counter(); import scratchnn; "
    "print(time.perf_counter() - start)"
)


def in_process_import() -> float:
    """Seconds of ``import scratchnn`` after ``import numpy``, inside a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", IN_PROCESS], check=True, capture_output=True, text=True
    )
    return float(result.stdout)


def run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def footprint() -> tuple[list[str], list[str], list[str]]:
    """The modules that ``import scratchnn`` adds beyond NumPy's own, the top-level packages
    among them that are neither scratchnn nor the standard library, and the FORBIDDEN packages
    present after the import (NumPy's own included)."""
    result = subprocess.run(
        [sys.executable, "-c", FOOTPRINT], check=True, capture_output=True, text=True
    )
    data = json.loads(result.stdout)
    stdlib = set(data["stdlib"])
    added = data["scratchnn"]
    tops = {name.split(".")[0] for name in added}
    foreign = sorted(tops - stdlib - ALLOWED - {t for t in tops if t.startswith(CYTHON)})
    present = {name.split(".")[0] for name in data["numpy"] + added}
    forbidden = sorted(present & set(FORBIDDEN))
    return added, foreign, forbidden


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    load = MachineLoad()
    repeats = 1 if args.quick else 10
    statements = [
        code
        for code in STATEMENTS
        if code == STARTUP or importlib.util.find_spec(code.split()[1].split(".")[0]) is not None
    ]
    import compileall
    from pathlib import Path

    import scratchnn

    compileall.compile_dir(str(Path(scratchnn.__file__).parent), quiet=1)
    if not args.quick:
        for code in statements:  # warm the file cache, untimed
            run(code)
    times: dict[str, list[float]] = {code: [] for code in statements}
    for r in range(repeats):  # in turn, so that a busy moment hits all of them
        for code in statements:
            if code in REFERENCES and r >= REFERENCE_REPEATS:
                continue  # a second or more each: a few runs are enough for a reference
            times[code].append(timed(lambda code=code: run(code)))
    medians = {label: median(values) for label, values in times.items()}
    startup = medians[STARTUP]

    say("## Import time (bench_import.py)\n")
    say(numpy_kernel_line() + "  ")
    say(
        f'Wall time of `python -c "<statement>"` in a fresh process, median of {repeats} '
        f"(of {min(repeats, REFERENCE_REPEATS)} for PyTorch and scikit-learn)"
        f"{'' if args.quick else ', after an untimed round'}.\n"
    )
    rows = [
        [
            f"`{label}`",
            f"{1000 * t:.1f}",
            "—" if label == STARTUP else f"{1000 * (t - startup):.1f}",
        ]
        for label, t in medians.items()
    ]
    say(markdown_table(["python -c", "wall ms (median)", "ms beyond start-up"], rows))
    missing = sorted(set(STATEMENTS) - set(statements))
    if missing:
        say(f"\n- not installed, not measured: {', '.join(missing)}")

    added, foreign, forbidden = footprint()
    own = sum(name.split(".")[0] == "scratchnn" for name in added)
    say(
        f"\n- `import scratchnn` adds {len(added)} modules to those of `import numpy`: {own} of "
        f"its own, {len(added) - own - len(foreign)} from the standard library, "
        f"{len(foreign)} others{': ' + ', '.join(foreign) if foreign else ''}"
    )

    # The target is relative (issue 16): NumPy's own import time varies 3x between hosts, so
    # what scratchnn answers for is what it adds to `import numpy`, as the median over rounds of
    # the difference of two runs of the same round.
    wall_ms = 1000 * median(
        [s - n for s, n in zip(times["import scratchnn"], times["import numpy"], strict=True)]
    )
    # The wall-time difference of two processes carries both processes' start-up and exit
    # noise (on a shared host its quartiles span 0-40 ms); the import statement timed inside a
    # fresh process, after `import numpy`, is the same cost without that noise.
    inside = [in_process_import() for _ in range(3 if args.quick else IN_PROCESS_RUNS)]
    added_ms = 1000 * median(inside)
    say(
        f"- `import scratchnn` adds {added_ms:.1f} ms to `import numpy`: the statement timed "
        f"inside a fresh process after `import numpy`, median of {len(inside)} processes "
        f"(range {1000 * min(inside):.1f} to {1000 * max(inside):.1f} ms); the difference of "
        f"the wall times above, median of paired rounds: {wall_ms:.1f} ms"
    )
    say(load.report())
    targets = Targets()
    targets.at_most("import scratchnn: time added to `import numpy`", added_ms, 20, " ms")
    unwanted = sorted(set(foreign) | set(forbidden))
    targets.require(
        "import scratchnn imports only NumPy and the standard library",
        not unwanted,
        f"also imported: {', '.join(unwanted)}" if unwanted else f"none of {', '.join(FORBIDDEN)}",
    )
    say("\n### Targets\n")
    say(targets.markdown())


if __name__ == "__main__":
    main()
