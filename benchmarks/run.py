"""Run every benchmark under both OpenBLAS settings and collect the results (``make bench``).

This machine's environment sets ``OPENBLAS_CORETYPE=Haswell`` and ``OPENBLAS_L2_SIZE=512``,
which make OpenBLAS use its AVX2 kernels and a small cache blocking instead of its own choice
for the CPU (AVX-512 "SkylakeX" here). Both settings are real: the first is what users of
this machine get, the second what OpenBLAS picks by itself. So every script runs twice, as a
subprocess: once in the default environment, once with both variables removed from the
subprocess's environment (this process and its caller keep theirs). The two runs of a script
follow each other, so that a change in the machine's load affects both alike. Where neither
variable is set, the two settings are the same environment and each script runs once.

Before each script the runner waits (up to ``--max-wait`` seconds) until other processes
leave the CPU idle; each script also reports how busy the machine was while it ran.

The scripts' markdown is collected into ``benchmarks/results/latest.md`` (or ``--output``),
preceded by the date, the machine, the BLAS kernel in use under each setting, and a summary of
all target checks whose columns name the CPU and the kernel. The same report, and a JSON file
of every table, target and note, is also kept under a name that says when and on which CPU it
ran: ``results/<date>-<cpu>.md`` and ``.json``, and ``results/latest-<cpu>.md`` and ``.json``
(the latest run on each CPU; the results folder is not in git). The whole report is printed.
The exit status is non-zero only when a script fails; a missed target is a FAIL line, not an
error.

    python benchmarks/run.py            # everything, a few minutes on 2 cores
    python benchmarks/run.py --quick    # tiny sizes: a smoke test of every script
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH_DIR, BLAS_ENV_VARS, RESULTS_DIR, MachineLoad, cpu_model, cpu_slug

SCRIPTS = (
    "bench_import.py",
    "bench_xor.py",
    "bench_memory.py",
    "bench_mnist.py",
    "bench_inference.py",
    "bench_optimizer.py",
    "bench_scaling.py",
    "bench_playground.py",
    "bench_csv.py",
)
BUSY_RETRY_PERCENT = 10  # rerun a script if other processes took more of the CPU than this
SETTINGS = {
    "default": "default environment",
    "unset": f"{' and '.join(BLAS_ENV_VARS)} unset",
}


def environment(setting: str) -> dict[str, str]:
    """The environment of a benchmark subprocess: ours, minus the OpenBLAS variables for
    ``unset``."""
    env = dict(os.environ)
    if setting == "unset":
        for name in BLAS_ENV_VARS:
            env.pop(name, None)
    return env


def wait_for_quiet(max_wait: float, threshold: float = 0.10) -> str:
    """Wait until other processes use less than ``threshold`` of the CPU over one second, for
    at most ``max_wait`` seconds. Returns a note when the machine stayed busy, else ''."""
    deadline = time.monotonic() + max_wait
    while True:
        probe = MachineLoad()
        time.sleep(1.0)
        share = probe.others_share()
        if share is None or share < threshold:
            return ""
        if time.monotonic() >= deadline:
            return f"the machine stayed busy ({100 * share:.0f}% used by others) before this ran"


def run_script(
    script: str, setting: str, quick: bool, extra: list[str], timeout: float
) -> tuple[int, str, str, float]:
    command = [sys.executable, str(BENCH_DIR / script), *extra]
    if quick:
        command.append("--quick")
    start = time.perf_counter()
    try:
        result = subprocess.run(
            command,
            env=environment(setting),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=BENCH_DIR.parent,
        )
        code, out, err = result.returncode, result.stdout, result.stderr
    except subprocess.TimeoutExpired as expired:
        code = -1
        out = expired.stdout if isinstance(expired.stdout, str) else ""
        err = f"timed out after {timeout:.0f} s"
    return code, out, err, time.perf_counter() - start


def attempt_path(path: Path, attempt: int) -> Path:
    """Where attempt ``attempt`` writes a file that the kept attempt's copy replaces."""
    return path.with_name(f"{path.stem}.attempt{attempt}{path.suffix}")


def others_share(output: str) -> float | None:
    """The percentage of CPU time that other processes took while a script ran (as the
    script reports it), or None."""
    match = re.search(r"other processes used (\d+)% of the CPU time", output)
    return float(match.group(1)) if match else None


def target_checks(text: str) -> list[dict[str, str]]:
    """Every ``- PASS: ...`` / ``- FAIL: ...`` line of a script's output, as
    ``{"check", "status", "value"}``."""
    checks = []
    for line in text.splitlines():
        match = re.match(r"- (PASS|FAIL): (.*)$", line)
        if not match:
            continue
        status, body = match.groups()
        separator = " = " if " = " in body else " — "
        name, _, value = body.partition(separator)
        checks.append({"check": name, "status": status, "value": value})
    return checks


def parse_tables(text: str) -> list[dict[str, object]]:
    """The markdown tables of a script's output: ``{"title", "caption", "headers", "rows"}``,
    the title being the nearest heading above the table and the caption the italic line
    (CPU model and BLAS kernel) that heads it."""
    lines = text.splitlines()
    tables: list[dict[str, object]] = []
    title = caption = ""
    i = 0

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            title = line.lstrip("#").strip()
        elif line.startswith("*") and line.endswith("*") and len(line) > 2:
            caption = line.strip("*")
        elif (
            line.startswith("|")
            and i + 1 < len(lines)
            and re.match(r"^\|[\s:|-]+\|$", lines[i + 1])
        ):
            headers, rows = cells(line), []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            tables.append({"title": title, "caption": caption, "headers": headers, "rows": rows})
            caption = ""
            continue
        i += 1
    return tables


def targets_summary(
    outputs: dict[tuple[str, str], str], settings: list[str], captions: dict[str, str]
) -> str:
    """A table of every PASS/FAIL line, one column per setting, each column headed by the
    setting, the CPU model and the BLAS kernel it ran with."""
    found: dict[str, dict[str, str]] = {}
    for (_, setting), text in outputs.items():
        for check in target_checks(text):
            cell = f"**{check['status']}** {check['value']}"
            found.setdefault(check["check"], {})[setting] = cell
    columns = [f"{SETTINGS[s]} ({captions.get(s, cpu_model())})" for s in settings]
    header = "| check | " + " | ".join(columns) + " |"
    rule = "| --- | " + " | ".join("---" for _ in settings) + " |"
    rows = [
        f"| {name} | " + " | ".join(cells.get(s, "—") for s in settings) + " |"
        for name, cells in found.items()
    ]
    return "\n".join([header, rule, *rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "latest.md", help="the markdown report"
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(SETTINGS),
        default=list(SETTINGS),
        help="BLAS settings to run (both by default)",
    )
    parser.add_argument("--scripts", nargs="+", choices=SCRIPTS, default=list(SCRIPTS))
    parser.add_argument(
        "--max-wait",
        type=float,
        default=30.0,
        help="seconds to wait for an idle machine before each script (30; 0 to skip)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help=f"reruns of a script during which others used > {BUSY_RETRY_PERCENT}%% of the CPU",
    )
    args = parser.parse_args()
    same_settings = ""
    if "unset" in args.settings and not any(name in os.environ for name in BLAS_ENV_VARS):
        # Without either variable the two settings are one environment: run it once.
        args.settings = [s for s in args.settings if s != "unset"] or ["default"]
        same_settings = (
            f"{' and '.join(BLAS_ENV_VARS)} are not set here, so the default environment is "
            "already the one with both unset: each script ran once"
        )
        print(f"[run.py] {same_settings}", file=sys.stderr, flush=True)
    timeout = 300.0 if args.quick else 1200.0
    began = time.perf_counter()
    now = datetime.datetime.now().astimezone()

    machine, captions = {}, {}
    for setting in args.settings:
        code, out, err, _ = run_script("common.py", setting, False, [], 120)
        machine[setting] = out.strip() if code == 0 else f"(machine description failed: {err})"
        code, out, err, _ = run_script("common.py", setting, False, ["--caption"], 120)
        captions[setting] = out.strip() if code == 0 else f"CPU: {cpu_model()}"

    outputs: dict[tuple[str, str], str] = {}
    runs_info: dict[tuple[str, str], dict[str, object]] = {}
    failures: list[str] = []
    for script in args.scripts:
        for setting in args.settings:
            plot = None
            if script == "bench_scaling.py":
                name = "scaling.png" if setting == "default" else "scaling-openblas-unset.png"
                plot = args.output.parent / name
            # A run during which other processes took much of the CPU is repeated (after
            # waiting for quiet again), up to --retries times; the quietest run is kept.
            runs = []
            for attempt in range(1 + max(args.retries, 0)):
                note = wait_for_quiet(args.max_wait) if args.max_wait > 0 else ""
                print(f"[run.py] {script} ({SETTINGS[setting]}) ...", file=sys.stderr, flush=True)
                extra = [] if plot is None else ["--plot", str(attempt_path(plot, attempt))]
                code, out, err, seconds = run_script(script, setting, args.quick, extra, timeout)
                busy = others_share(out)
                print(
                    f"[run.py]   done in {seconds:.1f} s, exit {code}, others used "
                    f"{'?' if busy is None else f'{busy:.0f}%'} of the CPU",
                    file=sys.stderr,
                    flush=True,
                )
                runs.append(
                    (busy if busy is not None else 0.0, attempt, code, out, err, seconds, note)
                )
                if code != 0 or busy is None or busy <= BUSY_RETRY_PERCENT:
                    break
            failed = [r for r in runs if r[2] != 0]
            kept = failed[0] if failed else min(runs, key=lambda r: r[:2])
            busy, attempt, code, out, err, seconds, note = kept
            if plot is not None:
                for r in runs:
                    path = attempt_path(plot, r[1])
                    if r is kept and path.exists():
                        path.replace(plot)
                        out = out.replace(str(path), str(plot))
                    else:
                        path.unlink(missing_ok=True)
            text = out.rstrip()
            if note:
                text += f"\n- runner: {note}"
            if len(runs) > 1:
                shares = ", ".join(f"{r[0]:.0f}%" for r in runs)
                text += (
                    f"\n- runner: ran {len(runs)} times because the machine was busy (others "
                    f"used {shares}); this is run {attempt + 1}, the quietest"
                )
            text += f"\n- runner: {script} took {seconds:.1f} s"
            runs_info[(script, setting)] = {"exit": code, "seconds": seconds, "runs": len(runs)}
            if code != 0:
                failures.append(f"{script} ({SETTINGS[setting]}): exit {code}")
                tail = "\n".join(err.strip().splitlines()[-30:])
                text += f"\n\n**{script} FAILED (exit {code})**\n\n```\n{tail}\n```"
            elif err.strip():
                print(err.rstrip(), file=sys.stderr)
            outputs[(script, setting)] = text

    parts = [
        "# scratchnn benchmarks",
        "",
        f"- date: {now:%Y-%m-%d %H:%M %Z}",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`"
        + (" (quick: tiny sizes, not representative)" if args.quick else ""),
        f"- total time: {time.perf_counter() - began:.0f} s",
        "",
        *([f"- note: {same_settings}"] if same_settings else []),
        "",
        "## Machine",
        "",
    ]
    for setting in args.settings:
        parts += [f"### {SETTINGS[setting]}", "", machine[setting], ""]
    parts += ["## Targets", "", targets_summary(outputs, args.settings, captions), ""]
    if failures:
        parts += ["## Failed scripts", "", *(f"- {f}" for f in failures), ""]
    for setting in args.settings:
        parts += [f"# Results: {SETTINGS[setting]}", ""]
        parts += [outputs[(script, setting)] + "\n" for script in args.scripts]
    report = "\n".join(parts)

    record = {
        "date": now.isoformat(timespec="seconds"),
        "command": [Path(sys.executable).name, *sys.argv],
        "quick": args.quick,
        "cpu": cpu_model(),
        "settings": {
            s: {"name": SETTINGS[s], "caption": captions[s], "machine": machine[s]}
            for s in args.settings
        },
        "failed_scripts": failures,
        "results": [
            {
                "script": script,
                "setting": setting,
                **runs_info.get((script, setting), {}),
                "targets": target_checks(outputs[(script, setting)]),
                "tables": parse_tables(outputs[(script, setting)]),
                "notes": [
                    line[2:]
                    for line in outputs[(script, setting)].splitlines()
                    if line.startswith("- ") and not line.startswith(("- PASS: ", "- FAIL: "))
                ],
            }
            for script in args.scripts
            for setting in args.settings
        ],
    }
    # The report under the names it is kept by: latest, this run on this CPU, and the latest
    # run on this CPU (the README's performance section shows the latest run on each CPU).
    stamped = f"{now:%Y%m%d-%H%M}-{cpu_slug()}"
    written = []
    for path in (
        args.output,
        args.output.parent / f"{stamped}.md",
        args.output.parent / f"latest-{cpu_slug()}.md",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report, encoding="utf-8")
        path.with_suffix(".json").write_text(json.dumps(record, indent=1), encoding="utf-8")
        written.append(str(path))
    print(report)
    print(f"[run.py] report written to {', '.join(written)} (and .json)", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
