"""Peak memory of one MNIST training epoch: scratchnn's ``fit`` against the hand-written loop.

Each implementation runs in a fresh Python process that loads MNIST the same way
(``snn.datasets.load_mnist()``: 60,000 x 784 float32, 188 MB), then trains the 784-256-128-10
ReLU MLP for one epoch (Adam, batch 128, float32). The peak is the process's ``ru_maxrss``
after the epoch. Loading briefly needs more memory than training (it converts the uint8 images
to float32 through a temporary), which would hide any difference between the two loops, so the
child resets its high-water mark after loading (``/proc/self/clear_refs``, Linux): the peak
reported is the largest resident size reached while building the model and training, data
included. The table also shows how far that peak rises above the loaded data, which is where
the two implementations differ.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

from common import MachineLoad, Targets, markdown_table, numpy_kernel_line, parse_args, say

MB = 1024 * 1024
IMPLEMENTATIONS = ("hand-written NumPy", "scratchnn")


def rss_bytes() -> int:
    """The current resident set size (VmRSS), in bytes."""
    with open("/proc/self/status", encoding="ascii") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_bytes() -> int:
    """ru_maxrss: the peak resident set size (KiB on Linux), in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak() -> bool:
    """Reset the high-water mark that ru_maxrss reports (Linux 4.0+); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as file:
            file.write("5")
    except OSError:
        return False
    return True


def child(implementation: str, quick: bool) -> None:
    """Load MNIST, reset the peak, train one epoch, print the measurements as JSON."""
    import gc

    from bench_mnist import SIZES, HandLoop, initial_weights  # imported by both: same footprint

    import scratchnn as snn

    (X, y), _ = snn.datasets.load_mnist()
    if quick:
        X, y = X[:2048].copy(), y[:2048].copy()
    # The hand loop starts from scratchnn's initial weights: make them before the window.
    weights = initial_weights(SIZES, X.dtype) if implementation != "scratchnn" else None
    gc.collect()
    loaded = rss_bytes()
    reset = reset_peak()
    if implementation == "scratchnn":
        model = snn.MLP([784, 256, 128, 10], seed=0)
        model.fit(
            X,
            y,
            loss="cross_entropy",
            optimizer=snn.optim.Adam(lr=1e-3),
            epochs=1,
            batch_size=128,
            verbose=0,
        )
    else:
        HandLoop(X, y, weights).epoch()
    print(json.dumps({"loaded": loaded, "peak": peak_bytes(), "reset": reset}))


def measure_in_child(implementation: str, quick: bool) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", implementation]
    if quick:
        command.append("--quick")
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        lambda p: p.add_argument("--child", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS),
    )
    if args.child:
        child(args.child, args.quick)
        return
    load = MachineLoad()
    results = {name: measure_in_child(name, args.quick) for name in IMPLEMENTATIONS}

    say("## Peak memory of one MNIST epoch (bench_memory.py)\n")
    say(numpy_kernel_line() + "  ")
    samples = 2048 if args.quick else 60000
    say(
        f"Fresh process each; {samples} samples, float32, batch 128, Adam. Peak: ru_maxrss "
        "after the epoch, reset after loading the data.\n"
    )
    rows = [
        [
            name,
            f"{r['loaded'] / MB:.1f}",
            f"{r['peak'] / MB:.1f}",
            f"{(r['peak'] - r['loaded']) / MB:.1f}",
        ]
        for name, r in results.items()
    ]
    headers = ["implementation", "RSS, data loaded (MB)", "peak (MB)", "peak above loaded (MB)"]
    say(markdown_table(headers, rows))
    hand, scratch = results["hand-written NumPy"], results["scratchnn"]
    if not (hand["reset"] and scratch["reset"]):
        say("\n- the peak could not be reset after loading: peaks include data loading")
    extra_hand, extra_scratch = hand["peak"] - hand["loaded"], scratch["peak"] - scratch["loaded"]
    say(
        f"\n- above the loaded data, scratchnn peaks at {extra_scratch / MB:.1f} MB and the "
        f"hand-written loop at {extra_hand / MB:.1f} MB"
    )
    say(load.report())
    targets = Targets()
    targets.at_most(
        "peak memory of one epoch: scratchnn / hand loop", scratch["peak"] / hand["peak"], 1.2
    )
    say("\n### Targets\n")
    say(targets.markdown())


if __name__ == "__main__":
    main()
