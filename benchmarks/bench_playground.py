"""How smoothly the Playground redraws while it trains: heatmap updates per second in a real
browser.

``scratchnn playground --no-browser`` runs as its own process (as a user starts it); headless
Chromium (Debian's ``chromium``, driven by Playwright) opens the page with a configuration in
the URL, presses play, and reads the page's own counter of heatmap redraws in the last second
(the ``fps`` figure under the heatmap: canvases actually painted, not frames received) once a
second for ``--seconds`` seconds. The epochs trained per second come from the epoch counter
the page shows. The target, for every network: at least 20 heatmap updates per second (the
median over the seconds) while training, on 2 cores.

The browser and the server share the machine's cores with each other (and with anything else
running), so the machine's load during the run is reported beside the figures.

    python benchmarks/bench_playground.py            # 3 networks, 8 s each
    python benchmarks/bench_playground.py --quick    # one network, 2 s
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

from common import Targets, cpu_model, markdown_table, parse_args, say

NETWORKS = {
    "default: circle, x1 and x2, 4-2 tanh, batch 10": {},
    "spiral, 7 features, 8-8-8 with batch norm, Adam": {
        "problem": "spiral",
        "features": "x1,x2,x1sq,x2sq,x1x2,sinx1,sinx2",
        "hidden": "8,8,8",
        "batch_norm": "1",
        "optimizer": "adam",
    },
    "spiral, 7 features, six layers of 8, batch 1": {
        "problem": "spiral",
        "features": "x1,x2,x1sq,x2sq,x1x2,sinx1,sinx2",
        "hidden": "8,8,8,8,8,8",
        "batch_size": "1",
    },
}
DEFAULT = next(iter(NETWORKS))
TIMEOUT_MS = 60_000


def start_server() -> tuple[subprocess.Popen, str]:
    """``scratchnn playground --no-browser --port 0`` as a child process; returns it and its
    URL (read from the line it prints)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scratchnn", "playground", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"http://127\.0\.0\.1:\d+/?", line)
        if found:
            return process, found.group(0)
    process.kill()
    raise RuntimeError("scratchnn playground did not print its address within 60 s")


def measure(page, url: str, config: dict[str, str], seconds: float) -> tuple[list[int], float]:
    """Open the page with ``config``, play for ``seconds``; return the per-second redraw
    counts the page showed and the epochs trained per second."""
    if config:
        url += "#" + "&".join(f"{k}={v}" for k, v in config.items())
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)
    page.click("#play")
    page.wait_for_function("state.frame && state.frame.epoch >= 1", timeout=TIMEOUT_MS)
    time.sleep(1.5)  # let the first second's window fill
    counts: list[int] = []
    epoch_start, start = page.evaluate("state.frame.epoch"), time.perf_counter()
    for _ in range(round(seconds)):
        time.sleep(1.0)
        counts.append(int(page.locator("#fps").text_content()))
    epochs = page.evaluate("state.frame.epoch") - epoch_start
    elapsed = time.perf_counter() - start
    page.click("#play")
    page.wait_for_function("!state.playing && !state.busy", timeout=TIMEOUT_MS)
    return counts, epochs / elapsed


def main() -> None:
    def options(parser) -> None:
        parser.add_argument("--seconds", type=float, default=8.0, help="seconds per network (8)")

    args = parse_args(__doc__.splitlines()[0], options)
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        say(
            "## Playground\n\nSkipped: needs Debian's `chromium` (apt-get install chromium) and "
            "Playwright (the dev extra).\n"
        )
        return
    networks = {DEFAULT: NETWORKS[DEFAULT]} if args.quick else NETWORKS
    seconds = 2.0 if args.quick else args.seconds
    targets = Targets()
    rows = []
    process, url = start_server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            # bypass_csp: Playwright's wait_for_function evaluates its text, which the page's
            # Content-Security-Policy (no eval) would refuse.
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
            for name, config in networks.items():
                counts, epochs_per_second = measure(page, url, config, seconds)
                rows.append(
                    [
                        name,
                        f"{statistics.median(counts):.0f}",
                        f"{min(counts)} to {max(counts)}",
                        f"{epochs_per_second:.1f}",
                    ]
                )
                targets.at_least(
                    f"Playground ({cpu_model()}): heatmap updates per second, {name}",
                    statistics.median(counts),
                    20,
                    unit="/s",
                )
            browser.close()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    say(f"## Playground: heatmap updates per second while training ({cpu_model()})\n")
    say(
        markdown_table(
            ["network", "updates/s (median)", "range over the seconds", "epochs/s"], rows
        )
    )
    say(
        f"\n- `scratchnn playground` in its own process, headless Chromium, {seconds:.0f} s of "
        f"playing per network, {os.cpu_count()} cores; load average over the last minute "
        f"at the end: {os.getloadavg()[0]:.2f} (the server and the browser count in it)\n"
    )
    say(targets.markdown())


if __name__ == "__main__":
    main()
